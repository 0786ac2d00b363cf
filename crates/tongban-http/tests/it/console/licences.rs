//! A department operator issues a licence through the form (checked
//! against the type's schema first, each error next to its field), finds
//! it by its holder (not without a purpose), reads its page with the
//! verification and the use record its reading left, revokes it with a
//! reason, and the public verify page then refuses it.

use serde_json::{Value, json};
use tongban_service::samples;

use super::Console;
use crate::admin::Tokens;
use crate::each_served;

#[tokio::test]
async fn a_licence_issued_in_the_form_is_found_revoked_and_then_refused() {
    each_served(
        "http_console_licences",
        |_| {},
        |served| async move {
            let test = "a_licence_issued_in_the_form_is_found_revoked_and_then_refused";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            console.sign_in(&tokens.market).await;

            // The issue form, generated from the licence type's schema.
            console.go("/issue").await;
            let select = "select[name='type']";
            console.wait(&format!("{select} option[value^='{}@']", samples::BUSINESS_LICENCE_TYPE)).await;
            console
                .client
                .execute(
                    "const s = document.querySelector(arguments[0]);
                     s.value = [...s.options].find(o => o.value.startsWith(arguments[1] + '@')).value;
                     s.dispatchEvent(new Event('change'));",
                    vec![json!(select), json!(samples::BUSINESS_LICENCE_TYPE)],
                )
                .await
                .unwrap();
            console.wait("#issue-form").await;
            let request = samples::business_licence_request();
            console.type_into("#issue-form [name='holder.name']", request["holder"]["name"].as_str().unwrap()).await;
            console.type_into("#issue-form [name='holder.code']", request["holder"]["code"].as_str().unwrap()).await;

            // A code of the wrong form: refused in the browser, next to the field.
            console.type_into("#issue-form [name='data.uscc']", "91440114MA5TB0A01").await;
            console.click("#issue-submit").await;
            let error = console.text_with("[data-error-for='data.uscc']", "SUBJECT_SCHEMA_VIOLATION").await;
            assert!(error.contains("统一社会信用代码"), "{error}");
            console.screenshot("issue-form-error").await;

            for (name, value) in request["data"].as_object().unwrap() {
                console.type_into(&format!("#issue-form [name='data.{name}']"), value.as_str().unwrap()).await;
            }
            // The hub's own check: the holder named is not the licence's company.
            console.type_into("#issue-form [name='holder.code']", "91440114MA5TB0A02H").await;
            console.click("#issue-submit").await;
            let refused = console.wait("#issue-form [data-error-for]:not([hidden])").await.text().await.unwrap();
            assert!(refused.contains("DATA_HOLDER_MISMATCH") || refused.contains("HOLDER"), "{refused}");
            console.type_into("#issue-form [name='holder.code']", request["holder"]["code"].as_str().unwrap()).await;
            console.click("#issue-submit").await;
            let identifier = console.text("#issued-identifier").await;
            assert!(identifier.contains(samples::MARKET), "{identifier}");
            let stored = served.hub.licence_issuer(&identifier).await.unwrap();
            assert_eq!(stored, samples::MARKET);

            // Find it: not without a purpose.
            console.go("/licences").await;
            console.type_into("#find-form [name='holder']", samples::COMPANY_CODE).await;
            console.click("#find-form button[type='submit']").await;
            console.text_with("[data-error-for='useCause']", "USE_CAUSE_REQUIRED").await;
            let uses_before = served.hub.uses_of_licence(&identifier, 100).await.unwrap().len();
            assert_eq!(uses_before, 0, "a read without a purpose left a record");
            console.type_into("#find-form [name='useCause']", "办理食品经营许可，核验营业执照").await;
            console.type_into("#find-form [name='case']", "HD-XH-2026-001024").await;
            console.click("#find-form button[type='submit']").await;
            console.text_with("#find-results", samples::COMPANY_NAME).await;
            console.screenshot("licences-found").await;
            console.click("#find-results tbody a").await;

            // Its page: verified, with the use record of this reading.
            console.text_with("#verdict", "核验通过").await;
            console.text_with("#uses", "办理食品经营许可，核验营业执照").await;
            console.text_with("#uses", "HD-XH-2026-001024").await;
            // The data under the type's own labels.
            console.text_with("#licence-data", "法定代表人").await;
            console.screenshot("licence-page").await;

            // The printable view, with what its QR code carries.
            console.click("a[href*='/print']").await;
            console.text_with("#printout", "营业执照").await;
            let payload = console.text("#qr-payload").await;
            assert_eq!(payload, format!("{}/v1/check/{identifier}", served.url("").trim_end_matches('/')));
            // The QR code is drawn (an image the CSP allows, from this hub).
            let drawn = console
                .client
                .execute("const i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0;", vec![])
                .await
                .unwrap();
            assert_eq!(drawn, Value::Bool(true), "the QR code did not load");
            console.screenshot("licence-print").await;
            console.client.back().await.unwrap();
            console.text_with("#verdict", "核验通过").await;

            // Suspend, then reinstate, each with its reason.
            console.click("#suspend").await;
            console.confirm(Some("经营异常名录核查")).await;
            console.text_with("#verdict", "LICENCE_SUSPENDED").await;
            console.text_with("#history", "经营异常名录核查").await;
            console.click("#reinstate").await;
            console.confirm(Some("核查完毕")).await;
            console.text_with("#verdict", "核验通过").await;
            console.text_with("#history", "核查完毕").await;

            // Revoke, with a reason, after a confirmation naming what happens.
            console.click("#revoke").await;
            let asked = console.text("dialog.confirm[open] p").await;
            assert!(asked.contains("不可撤销") && asked.contains(&identifier), "{asked}");
            console.confirm(Some("营业执照被吊销")).await;
            console.text_with("main .notice", "已注销").await;
            console.text_with("#verdict", "LICENCE_REVOKED").await;
            // The status history names the change and its reason.
            let history = console.text_with("#history", "营业执照被吊销").await;
            assert!(history.contains("注销"), "{history}");
            assert!(!console.has("#revoke").await, "a revoked licence offers revoke again");

            // The verify page, signed out, refuses the file.
            let credential: Value = served
                .hub
                .show(&identifier, &tongban_service::Query {
                    requester: samples::MARKET.into(),
                    use_cause: "测试读取".into(),
                    case_ref: None,
                })
                .await
                .unwrap()
                .credential;
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("licence.json");
            std::fs::write(&path, serde_json::to_vec(&credential).unwrap()).unwrap();
            console.sign_out().await;
            console.go("/verify").await;
            console.wait("#verify-form input[name='licence']").await.send_keys(path.to_str().unwrap()).await.unwrap();
            console.click("#verify-submit").await;
            let verdict = console.text("#verdict").await;
            assert!(verdict.contains("核验未通过") && verdict.contains("LICENCE_REVOKED"), "{verdict}");
            assert!(verdict.contains("证照已被颁证单位注销"), "{verdict}");
            console.screenshot("verify-revoked").await;
            console.close().await;
            served
        },
    )
    .await;
}

/// An operator of another department finds the licence but gets no
/// status buttons; the API would refuse them anyway.
#[tokio::test]
async fn another_department_reads_but_may_not_change_a_licence() {
    each_served(
        "http_console_licence_other",
        |_| {},
        |served| async move {
            let test = "another_department_reads_but_may_not_change_a_licence";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            let licence = crate::business_licence(&served.hub, None).await;
            let identifier = licence["licence"]["identifier"].as_str().unwrap();
            console.sign_in(&tokens.civil).await;
            console
                .go(&format!("/licences/{identifier}?useCause=核验婚姻登记材料"))
                .await;
            console.text_with("#verdict", "核验通过").await;
            assert!(!console.has("#revoke").await && !console.has("#suspend").await);
            assert!(
                !console.has("#uses table").await,
                "another department's use records"
            );
            // Without a purpose, the page asks for one before reading.
            console.go(&format!("/licences/{identifier}")).await;
            console.wait("#purpose-form").await;
            console.click("#purpose-form button[type='submit']").await;
            console
                .text_with("[data-error-for='useCause']", "USE_CAUSE_REQUIRED")
                .await;
            console.close().await;
            served
        },
    )
    .await;
}
