//! Signing in as each role shows that role's pages only, and a page the
//! role may not use says so instead of showing it; a bad token is refused
//! next to its field with the stable code; English is a click away.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};

use super::Console;
use crate::admin::Tokens;
use crate::each_served;

#[tokio::test]
async fn each_role_sees_only_the_pages_it_may_use() {
    each_served(
        "http_console_roles",
        |_| {},
        |served| async move {
            let Some(console) =
                Console::open(&served, "each_role_sees_only_the_pages_it_may_use").await
            else {
                return served;
            };
            let tokens = Tokens::make(&served).await;

            // Signed out: verification and sign-in only.
            console.go("/signin").await;
            assert_eq!(console.nav().await, ["verify", "signin"]);
            console.screenshot("signin").await;
            // A page that needs a role leads to the sign-in.
            console.go("/licences").await;
            console.wait("#signin-form").await;

            // A bad token: refused next to the field, with its code.
            console
                .type_into(
                    "#signin-form input[name='token']",
                    "tbk_tok_0000000000000000_00",
                )
                .await;
            console.click("#signin-form button[type='submit']").await;
            let error = console
                .text_with("[data-error-for='token']", "TOKEN_INVALID")
                .await;
            assert!(error.contains("令牌无效"), "{error}");

            let expected: [(&str, &str, &[&str]); 5] = [
                (
                    "admin",
                    &tokens.admin,
                    &[
                        "overview",
                        "licences",
                        "issue",
                        "catalogue",
                        "access",
                        "items",
                        "cases",
                        "departments",
                        "keys",
                        "schemas",
                        "peers",
                        "audit",
                        "verify",
                    ],
                ),
                (
                    "market",
                    &tokens.market,
                    &[
                        "licences",
                        "issue",
                        "catalogue",
                        "access",
                        "items",
                        "cases",
                        "departments",
                        "keys",
                        "schemas",
                        "verify",
                    ],
                ),
                (
                    "civil",
                    &tokens.civil,
                    &[
                        "licences",
                        "issue",
                        "catalogue",
                        "access",
                        "items",
                        "cases",
                        "departments",
                        "keys",
                        "schemas",
                        "verify",
                    ],
                ),
                ("auditor", &tokens.auditor, &["overview", "audit", "verify"]),
                ("verifier", &tokens.verifier, &["verify"]),
            ];
            for (who, token, pages) in expected {
                console.sign_in(token).await;
                assert_eq!(console.nav().await, pages, "{who}");
                if who == "market" {
                    let shown = console.text("#who").await;
                    assert!(
                        shown.contains("部门操作员") && shown.contains("市场监督管理局"),
                        "{shown}"
                    );
                }
                if who == "admin" {
                    console.go("/overview").await;
                    console.wait("#card-records").await;
                    console.screenshot("overview").await;
                }
                console.sign_out().await;
            }

            // A page the role may not use: said, with the code, and not shown.
            console.sign_in(&tokens.verifier).await;
            console.go("/catalogue").await;
            let said = console.text_with("main", "FORBIDDEN").await;
            assert!(said.contains("无权"), "{said}");
            assert!(!console.has("#search-form").await);

            // Keyboard only: the sign-in page puts the focus on the token
            // field, and Enter signs in.
            console.sign_out().await;
            let active = console.client.active_element().await.unwrap();
            assert_eq!(active.attr("name").await.unwrap().as_deref(), Some("token"));
            active
                .send_keys(&format!("{}\u{E007}", tokens.auditor))
                .await
                .unwrap();
            console.wait("#who[data-role='auditor']").await;
            // Tab from the top reaches the skip link, then every page of
            // the navigation, in order.
            console.go("/verify").await;
            let mut reached = Vec::new();
            for _ in 0..12 {
                let tab = KeyActions::new("keyboard".into())
                    .then(KeyAction::Down { value: '\u{E004}' })
                    .then(KeyAction::Up { value: '\u{E004}' });
                console.client.perform_actions(tab).await.unwrap();
                let active = console.client.active_element().await.unwrap();
                let id = active.attr("id").await.unwrap().unwrap_or_default();
                let class = active.attr("class").await.unwrap().unwrap_or_default();
                reached.push(if id.is_empty() { class } else { id });
            }
            assert_eq!(reached[0], "skip", "{reached:?}");
            let nav: Vec<&String> = reached.iter().filter(|r| r.starts_with("nav-")).collect();
            assert_eq!(
                nav,
                ["nav-overview", "nav-audit", "nav-verify"],
                "{reached:?}"
            );

            // English, kept across pages.
            console.click("#lang").await;
            console.text_with("#nav-verify", "Verify a licence").await;
            console.go("/verify").await;
            console.text_with("main h1", "Verify a licence").await;
            console.click("#lang").await;
            console.text_with("#nav-verify", "证照核验").await;
            console.close().await;
            served
        },
    )
    .await;
}
