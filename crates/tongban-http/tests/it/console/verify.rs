//! The public verify page, without signing in: a valid licence, the same
//! licence changed, and the right file against the wrong attachment, each
//! with its result and every problem in words.

use std::path::Path;

use serde_json::json;
use tongban_service::samples;

use super::Console;
use crate::{business_licence, each_served};

/// Writes `bytes` to `dir/name`: its path, for a file input.
fn file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_verify_page_shows_valid_tampered_and_wrong_attachments() {
    each_served(
        "http_console_verify",
        |_| {},
        |served| async move {
            let Some(console) = Console::open(
                &served,
                "the_verify_page_shows_valid_tampered_and_wrong_attachments",
            )
            .await
            else {
                return served;
            };
            let dir = tempfile::tempdir().unwrap();
            let pdf = samples::sample_pdf("营业执照");
            let licence = business_licence(&served.hub, Some(pdf.clone())).await;
            let valid = file(
                dir.path(),
                "licence.json",
                &serde_json::to_vec(&licence).unwrap(),
            );
            let attachment = file(dir.path(), "licence.pdf", &pdf);
            let mut changed = licence.clone();
            changed["credentialSubject"]["name"] = json!("别的公司");
            let tampered = file(
                dir.path(),
                "tampered.json",
                &serde_json::to_vec(&changed).unwrap(),
            );
            let other = file(dir.path(), "other.pdf", &samples::sample_pdf("别的文件"));

            let verify = |licence: String, attachment: Option<String>| {
                let console = &console;
                async move {
                    console.go("/verify").await;
                    console
                        .wait("#verify-form input[name='licence']")
                        .await
                        .send_keys(&licence)
                        .await
                        .unwrap();
                    if let Some(a) = attachment {
                        console
                            .wait("#verify-form input[name='attachment']")
                            .await
                            .send_keys(&a)
                            .await
                            .unwrap();
                    }
                    console.click("#verify-submit").await;
                    console.wait("#verdict").await;
                    let valid = console
                        .wait("#verdict")
                        .await
                        .attr("data-valid")
                        .await
                        .unwrap();
                    (
                        valid.as_deref() == Some("true"),
                        console.text("#verdict").await,
                    )
                }
            };

            let (ok, text) = verify(valid.clone(), Some(attachment.clone())).await;
            assert!(ok, "{text}");
            assert!(
                text.contains("核验通过") && text.contains(samples::COMPANY_NAME),
                "{text}"
            );
            assert!(text.contains("现势"), "{text}");
            console.screenshot("verify-valid").await;

            let (ok, text) = verify(tampered, None).await;
            assert!(!ok, "{text}");
            assert!(text.contains("PROOF_INVALID"), "{text}");
            assert!(text.contains("证照内容被改动过"), "{text}");
            console.screenshot("verify-tampered").await;

            let (ok, text) = verify(valid.clone(), Some(other)).await;
            assert!(!ok, "{text}");
            assert!(
                text.contains("ATTACHMENT_DIGEST_MISMATCH") && text.contains("附件"),
                "{text}"
            );

            // Dropped on the page rather than chosen: the licence and its
            // attachment go to their fields (a drop event as the browser
            // makes one, with the files in its DataTransfer).
            console.go("/verify").await;
            console
                .client
                .execute(
                    "const dt = new DataTransfer();
                     dt.items.add(new File([arguments[0]], 'licence.json', { type: 'application/json' }));
                     dt.items.add(new File([new Uint8Array(arguments[1])], 'licence.pdf', { type: 'application/pdf' }));
                     document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));",
                    vec![
                        json!(serde_json::to_string(&licence).unwrap()),
                        json!(samples::sample_pdf("别的文件")),
                    ],
                )
                .await
                .unwrap();
            console.click("#verify-submit").await;
            // The dropped attachment was sent: it is not the licence's.
            console
                .text_with("#verdict", "ATTACHMENT_DIGEST_MISMATCH")
                .await;

            // No file: the error is next to the field, nothing is sent.
            console.go("/verify").await;
            console.click("#verify-submit").await;
            let error = console
                .text_with("[data-error-for='licence']", "REQUEST_INVALID")
                .await;
            assert!(error.contains("请选择证照文件"), "{error}");
            console.close().await;
            served
        },
    )
    .await;
}
