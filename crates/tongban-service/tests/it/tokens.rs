//! API tokens: made once and shown once, kept hashed, presented, expired,
//! revoked; each refusal with its code and nothing written.

use time::Duration;
use tongban_service::{Action, Role};

use crate::{CIVIL, MARKET, T0, each_backend};

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    match r {
        Err(e) => e.code().to_owned(),
        Ok(v) => format!("accepted {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_made_presented_expired_and_revoked() {
    each_backend("tokens", |hub| async move {
        let before = hub.store().audit_head().await.unwrap().0;
        // Refusals write nothing.
        let day = Duration::days(1);
        let create = |name: &'static str, role, dept: Option<&'static str>, life| {
            let hub = hub.clone();
            async move { hub.token_create(name, role, dept, life).await }
        };
        assert_eq!(
            code(create("ops", Role::DepartmentOperator, None, day).await),
            "ROLE_DEPARTMENT_MISMATCH"
        );
        assert_eq!(
            code(create("audit", Role::Auditor, Some(MARKET), day).await),
            "ROLE_DEPARTMENT_MISMATCH"
        );
        assert_eq!(
            code(
                create(
                    "ops",
                    Role::DepartmentOperator,
                    Some("91440114MA5TB0A01K"),
                    day
                )
                .await
            ),
            "DEPARTMENT_UNKNOWN"
        );
        assert_eq!(
            code(create(" ops", Role::Auditor, None, day).await),
            "TOKEN_NAME_INVALID"
        );
        for life in [Duration::seconds(59), Duration::days(367), -day] {
            assert_eq!(
                code(create("ops", Role::Auditor, None, life).await),
                "TOKEN_EXPIRY_INVALID"
            );
        }
        assert_eq!(hub.store().audit_head().await.unwrap().0, before);
        assert!(hub.token_list().await.unwrap().is_empty());

        // A department operator's token: kept hashed, audited, presented.
        let made = hub
            .token_create(
                "市场监管局办证系统",
                Role::DepartmentOperator,
                Some(MARKET),
                day,
            )
            .await
            .unwrap();
        assert!(made.token.starts_with("tbk_tok_"), "{}", made.token);
        let secret = made.token.rsplit('_').next().unwrap();
        assert_eq!(secret.len(), 64);
        let listed = hub.token_list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_ne!(
            listed[0].secret_sha256, secret,
            "the secret is never stored"
        );
        assert_eq!(listed[0].expires_at, T0 + day);
        assert_eq!(listed[0].created_by, hub.operator());
        let entries = hub.store().audit_page(0, 100_000).await.unwrap();
        let created = entries
            .iter()
            .rfind(|e| e.action == "token.create")
            .unwrap();
        assert_eq!(created.subject, made.row.id);
        assert!(
            !created.detail.to_string().contains(secret),
            "the audit log never holds the secret"
        );
        let who = hub.token_authenticate(&made.token).await.unwrap();
        assert_eq!(who.role, Role::DepartmentOperator);
        assert_eq!(who.department.as_deref(), Some(MARKET));
        assert_eq!(who.name, format!("token:{}", made.row.id));
        who.authorise(Action::LicencesIssue, Some(MARKET)).unwrap();
        assert_eq!(
            code(who.authorise(Action::LicencesIssue, Some(CIVIL))),
            "FORBIDDEN"
        );
        // What it does is audited as it.
        let acting = who.acting(&hub);
        assert_eq!(acting.operator(), who.name);

        // Wrong, mistyped or foreign tokens are all TOKEN_INVALID.
        let mut wrong_secret = made.token.clone();
        wrong_secret.pop();
        wrong_secret.push('A');
        for bad in [
            "",
            "tbk_",
            "Bearer x",
            wrong_secret.as_str(),
            &made.token.replace("tbk_tok_", "tbk_tok_f"),
            &format!("{}x", made.token),
        ] {
            assert_eq!(
                code(hub.token_authenticate(bad).await),
                "TOKEN_INVALID",
                "{bad}"
            );
        }

        // Expired: refused from the instant it ends.
        hub.clock().set(T0 + day);
        assert_eq!(
            code(hub.token_authenticate(&made.token).await),
            "TOKEN_EXPIRED"
        );
        hub.clock().set(T0);

        // Revoked: refused, and revoking again is TOKEN_UNKNOWN.
        let revoked = hub.token_revoke(&made.row.id).await.unwrap();
        assert_eq!(revoked.revoked_at, Some(T0));
        assert_eq!(
            code(hub.token_authenticate(&made.token).await),
            "TOKEN_REVOKED"
        );
        assert_eq!(code(hub.token_revoke(&made.row.id).await), "TOKEN_UNKNOWN");
        assert_eq!(
            code(hub.token_revoke("tok_0000000000000000").await),
            "TOKEN_UNKNOWN"
        );
        let entries = hub.store().audit_page(0, 100_000).await.unwrap();
        assert!(
            entries
                .iter()
                .any(|e| e.action == "token.revoke" && e.subject == made.row.id)
        );

        // Other roles carry no department.
        let auditor = hub
            .token_create("审计", Role::Auditor, None, day)
            .await
            .unwrap();
        let who = hub.token_authenticate(&auditor.token).await.unwrap();
        assert_eq!((who.role, who.department.as_deref()), (Role::Auditor, None));
        who.authorise(Action::AuditRead, None).unwrap();
        assert_eq!(code(who.authorise(Action::AuditWrite, None)), "FORBIDDEN");
    })
    .await;
}
