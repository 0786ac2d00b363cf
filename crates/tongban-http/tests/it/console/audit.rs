//! The audit log in the console: an auditor browses it a page at a time
//! and by subject, and verifies the chain; an entry changed in the
//! database behind the hub's back is found, with its code and sequence
//! number. A region administrator signs a checkpoint; an auditor cannot.

use super::Console;
use crate::admin::Tokens;
use crate::{Served, business_licence, each_backend};

#[tokio::test]
async fn the_audit_log_is_browsed_and_verified_and_a_change_is_found() {
    each_backend("http_console_audit", |backend| async move {
        let served = Served::start(&backend).await;
        let test = "the_audit_log_is_browsed_and_verified_and_a_change_is_found";
        let Some(console) = Console::open(&served, test).await else {
            served.stop().await;
            return backend;
        };
        let tokens = Tokens::make(&served).await;
        let licence = business_licence(&served.hub, None).await;
        let identifier = licence["licence"]["identifier"]
            .as_str()
            .unwrap()
            .to_owned();
        // Enough entries for more than a page of 50.
        for n in 0..30 {
            let name = format!("核验终端 {n}");
            let role = tongban_service::Role::Verifier;
            let lifetime = time::Duration::days(1);
            served
                .hub
                .token_create(&name, role, None, lifetime)
                .await
                .unwrap();
        }
        assert!(served.audit_head().await > 60);

        console.sign_in(&tokens.auditor).await;
        console.go("/audit").await;
        assert!(
            !console.has("#audit-checkpoint").await,
            "an auditor may not sign"
        );
        console.text_with("main table", "token.create").await;
        // More than a page (50): the next page starts after the last shown.
        console.click("#audit-next").await;
        console.text_with("main table tbody tr td", "51").await;
        // By subject: the licence's entries only.
        console.go("/audit").await;
        console
            .type_into("#audit-filter [name='subject']", &identifier)
            .await;
        console.click("#audit-filter button[type='submit']").await;
        let shown = console.text_with("main table", "licence.issue").await;
        assert!(!shown.contains("token.create"), "{shown}");

        console.click("#audit-verify").await;
        let verdict = console.text_with("#audit-verdict", "日志链完整").await;
        assert!(
            verdict.contains(&served.audit_head().await.to_string()),
            "{verdict}"
        );
        console.screenshot("audit").await;

        // Changed behind the hub's back: found, where.
        let changed = tongban_tests::execute_sql(
            &backend.database_url,
            "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3",
        )
        .await;
        assert_eq!(changed, 1);
        console.go("/audit").await;
        console.click("#audit-verify").await;
        let verdict = console.text_with("#audit-verdict", "日志链被破坏").await;
        assert!(verdict.contains("3"), "{verdict}");
        let valid = console
            .wait("#audit-verdict")
            .await
            .attr("data-valid")
            .await
            .unwrap();
        assert_eq!(valid.as_deref(), Some("false"));
        console.screenshot("audit-broken").await;
        console.sign_out().await;

        // The administrator signs a checkpoint (of the log as it is).
        console.sign_in(&tokens.admin).await;
        console.go("/audit").await;
        let before = served.hub.store().audit_head().await.unwrap().0;
        console.click("#audit-checkpoint").await;
        console.confirm(None).await;
        let said = console.text_with("main .notice", "检查点").await;
        assert!(
            said.contains(&before.to_string()) || said.contains("已被检查点覆盖"),
            "{said}"
        );
        console.close().await;
        served.stop().await;
        backend
    })
    .await;
}
