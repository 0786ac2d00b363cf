//! Keys and certificates: a region administrator rotates a department's
//! key, revokes the old one from an instant it gives (China time), issues
//! a department's client certificate (its private key offered once),
//! revokes it with an RFC 5280 reason, and fetches the CRL; an operator
//! reads the keys without a button.

use super::Console;
use crate::admin::Tokens;
use crate::each_served;
use tongban_service::samples;

#[tokio::test]
async fn keys_rotate_and_revoke_and_certificates_are_issued_and_revoked() {
    each_served(
        "http_console_keys",
        |_| {},
        |served| async move {
            let test = "keys_rotate_and_revoke_and_certificates_are_issued_and_revoked";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            served.hub.ca_init("花都区政务 CA").await.unwrap();
            let tokens = Tokens::make(&served).await;
            let keys = served.hub.keys(Some(samples::CIVIL_AFFAIRS)).await.unwrap();
            let old = keys
                .iter()
                .find(|k| k.revoked_at.is_none())
                .unwrap()
                .key_id
                .clone();

            console.sign_in(&tokens.admin).await;
            console
                .go(&format!("/keys?owner={}", samples::CIVIL_AFFAIRS))
                .await;
            console.click(&format!("[data-rotate='{old}']")).await;
            let asked = console.text("dialog.confirm[open] p").await;
            assert!(asked.contains(&old) && asked.contains("重叠期"), "{asked}");
            console
                .type_into("dialog.confirm [name='overlapDays']", "3")
                .await;
            console.confirm(None).await;
            console.text_with("main .notice", "已轮换").await;
            let after = served.hub.keys(Some(samples::CIVIL_AFFAIRS)).await.unwrap();
            assert_eq!(after.len(), keys.len() + 1, "no new key");
            let rotated = after.iter().find(|k| k.key_id == old).unwrap();
            assert!(rotated.not_after.is_some(), "the old key has no end");

            // Revoke the old one from an instant in China time.
            console.click(&format!("[data-revoke='{old}']")).await;
            let asked = console.text("dialog.confirm[open] p").await;
            assert!(asked.contains("不可撤销"), "{asked}");
            // Without a reason: refused in the dialog, next to the field.
            console.click("#confirm-yes").await;
            console
                .text_with(
                    "dialog.confirm [data-error-for='reason']",
                    "REASON_REQUIRED",
                )
                .await;
            let at = served.hub.now() - time::Duration::hours(1);
            let china = at.to_offset(time::macros::offset!(+8));
            let local = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                china.year(),
                u8::from(china.month()),
                china.day(),
                china.hour(),
                china.minute(),
                china.second()
            );
            // A datetime-local input takes its value by script: typing
            // into one depends on the browser's locale.
            console
                .client
                .execute(
                    "document.querySelector(\"dialog.confirm [name='at']\").value = arguments[0];",
                    vec![serde_json::json!(local)],
                )
                .await
                .unwrap();
            console
                .type_into("dialog.confirm [name='reason']", "私钥保管人离职")
                .await;
            console.click("#confirm-yes").await;
            console.text_with("main .notice", "已自").await;
            let revoked = served.hub.keys(Some(samples::CIVIL_AFFAIRS)).await.unwrap();
            let revoked = revoked.iter().find(|k| k.key_id == old).unwrap();
            assert_eq!(
                revoked.revoked_at.map(|t| t.unix_timestamp()),
                Some(at.unix_timestamp())
            );
            assert_eq!(revoked.revoked_reason.as_deref(), Some("私钥保管人离职"));
            console.screenshot("keys").await;

            // A department's client certificate, its key offered once.
            console
                .wait("#cert-form [name='kind']")
                .await
                .select_by_value("client")
                .await
                .unwrap();
            console
                .type_into("#cert-form [name='department']", samples::MARKET)
                .await;
            console.click("#cert-submit").await;
            console
                .text_with("dialog.confirm[open] p", samples::MARKET)
                .await;
            console.confirm(None).await;
            let issued = console.text_with("#cert-issued", "只显示这一次").await;
            assert!(issued.contains(".key.pem"), "{issued}");
            let certs = served.hub.ca_list().await.unwrap();
            let client = certs
                .iter()
                .find(|c| c.kind == "client")
                .unwrap()
                .serial
                .clone();
            console.go("/keys").await;
            console
                .click(&format!("[data-cert-revoke='{client}']"))
                .await;
            console
                .wait("dialog.confirm [name='reason']")
                .await
                .select_by_value("keyCompromise")
                .await
                .unwrap();
            console.confirm(None).await;
            console
                .wait(&format!("[data-cert-revoked='{client}']"))
                .await;
            let row = served
                .hub
                .ca_list()
                .await
                .unwrap()
                .into_iter()
                .find(|c| c.serial == client)
                .unwrap();
            assert_eq!(row.revoked_reason.as_deref(), Some("keyCompromise"));
            console.click("#crl-get").await;
            console.text_with("#crl", "region-ca.crl.pem").await;
            console.screenshot("certificates").await;
            console.sign_out().await;

            // An operator reads keys; no buttons, no certificates.
            console.sign_in(&tokens.market).await;
            console.go("/keys").await;
            console.text_with("main table", samples::MARKET).await;
            assert!(!console.has("[data-rotate]").await && !console.has("#cert-form").await);
            console.close().await;
            served
        },
    )
    .await;
}
