//! `/v1/audit`: the chain verified against the pinned anchor, a checkpoint
//! signed on demand, the archive exported (and verified without the
//! store), entries browsed by subject and cursor; an auditor reads but
//! signs nothing.

use std::ops::ControlFlow;

use reqwest::Method;
use serde_json::Value;
use tongban_seal::PublicKey;
use tongban_seal::archive::ArchiveVerifier;
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

#[tokio::test]
async fn the_log_is_verified_checkpointed_exported_and_browsed() {
    each_served(
        "http_admin_audit",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let anchor = served.read(&tokens.auditor, "/v1/audit/anchor").await;
            let multikey = anchor["anchor"].as_str().unwrap().to_owned();
            assert!(multikey.starts_with("z6Mk"), "{anchor}");
            assert!(anchor["interval"].as_u64().unwrap() > 0);

            let report = served.read(&tokens.auditor, "/v1/audit/verification").await;
            assert_eq!(report["problem"], Value::Null, "{report}");
            assert_eq!(report["entries"], served.audit_head().await);
            assert_eq!(report["anchor"], multikey.as_str());
            let given = served
                .read(
                    &tokens.auditor,
                    &format!("/v1/audit/verification?anchor={multikey}"),
                )
                .await;
            assert_eq!(given["problem"], Value::Null);
            let head = served.audit_head().await;
            let signed = served
                .call(&tokens.admin, Method::POST, "/v1/audit/checkpoints", None)
                .await;
            assert_eq!(signed.status(), 201);
            let signed: Value = signed.json().await.unwrap();
            assert_eq!(signed["signed"]["seq"], head, "{signed}");
            assert_eq!(signed["signed"]["hash"].as_str().unwrap().len(), 64);
            let again = served
                .call(&tokens.admin, Method::POST, "/v1/audit/checkpoints", None)
                .await;
            assert_eq!(again.status(), 200);
            let again: Value = again.json().await.unwrap();
            assert_eq!(again["signed"], Value::Null);

            let report = served.read(&tokens.auditor, "/v1/audit/verification").await;
            assert_eq!(report["problem"], Value::Null, "{report}");
            assert_eq!(report["checkpoints"], 1);
            // Another anchor does not vouch for this hub's checkpoint.
            let stranger = tongban_seal::SigningKey::generate()
                .unwrap()
                .public()
                .to_multikey();
            let wrong = served
                .read(
                    &tokens.auditor,
                    &format!("/v1/audit/verification?anchor={stranger}"),
                )
                .await;
            assert!(wrong["problem"]["code"].is_string(), "{wrong}");

            // The archive verifies with the anchor alone.
            let export = served
                .client
                .get(served.url("/v1/audit/export"))
                .bearer_auth(&tokens.auditor)
                .send()
                .await
                .unwrap();
            assert_eq!(export.status(), 200);
            assert_eq!(export.headers()["content-type"], "application/x-ndjson");
            let archive = export.text().await.unwrap();
            let mut verifier = ArchiveVerifier::new(PublicKey::from_multikey(&multikey).unwrap());
            for line in archive.lines() {
                verifier.line(line).unwrap();
            }
            let summary = verifier.finish().unwrap();
            assert_eq!(summary.entries, head);
            assert!(summary.checkpoints >= 1);
            // A changed byte does not.
            let forged = archive.replacen("dept.add", "dept.adx", 1);
            let mut verifier = ArchiveVerifier::new(PublicKey::from_multikey(&multikey).unwrap());
            let broken = forged
                .lines()
                .try_for_each(|l| match verifier.line(l) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                })
                .is_break()
                || verifier.finish().is_err();
            assert!(broken);

            // Browsing: in order from a cursor, pages of `limit`.
            let first = served
                .read(&tokens.auditor, "/v1/audit/entries?limit=3")
                .await;
            let items = first["items"].as_array().unwrap();
            assert_eq!(items.len(), 3);
            assert_eq!(items[0]["seq"], 1);
            assert_eq!(items[1]["prevHash"], items[0]["hash"]);
            assert_eq!(first["nextAfter"], 3);
            let second = served
                .read(&tokens.auditor, "/v1/audit/entries?after=3&limit=2")
                .await;
            assert_eq!(second["items"][0]["seq"], 4);
            let tail = served
                .read(
                    &tokens.auditor,
                    &format!("/v1/audit/entries?after={}", head - 1),
                )
                .await;
            assert_eq!(tail["items"].as_array().unwrap().len(), 1);
            assert_eq!(tail["nextAfter"], Value::Null);
            // One subject's history, with what the HTTP side did in it.
            served
                .call(
                    &tokens.admin,
                    Method::POST,
                    &format!("/v1/departments/{}/suspend", samples::PLANNING),
                    Some(&serde_json::json!({"reason": "审计"})),
                )
                .await;
            let about = served
                .read(
                    &tokens.auditor,
                    &format!("/v1/audit/entries?subject={}", samples::PLANNING),
                )
                .await;
            let about = about["items"].as_array().unwrap();
            assert!(about.len() >= 2, "{about:?}");
            assert!(about.iter().all(|e| e["subject"] == samples::PLANNING));
            assert!(
                about
                    .windows(2)
                    .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
            );
            let last = about.last().unwrap();
            assert_eq!(last["action"], "dept.suspend");
            assert_eq!(last["actor"], format!("token:{}", &tokens.admin[4..24]));
            assert_eq!(last["detail"]["reason"], "审计");
            let after = last["seq"].as_u64().unwrap() - 1;
            let cursor = served
                .read(
                    &tokens.auditor,
                    &format!(
                        "/v1/audit/entries?subject={}&after={after}",
                        samples::PLANNING
                    ),
                )
                .await;
            assert_eq!(cursor["items"].as_array().unwrap().len(), 1);
            served
        },
    )
    .await;
}

#[tokio::test]
async fn an_auditor_reads_and_signs_nothing() {
    each_served(
        "http_admin_audit_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let checkpoint = |token| {
                asking(token)
                    .send(Method::POST, "/v1/audit/checkpoints", None)
                    .refused(403, "FORBIDDEN")
            };
            let market = |path| asking(&tokens.market).get(path).refused(403, "FORBIDDEN");
            let auditor = |path| {
                asking(&tokens.auditor)
                    .get(path)
                    .refused(400, "REQUEST_INVALID")
            };
            served
                .refused_each(&[
                    checkpoint(&tokens.auditor),
                    checkpoint(&tokens.market),
                    checkpoint(&tokens.verifier),
                    market("/v1/audit/entries"),
                    market("/v1/audit/export"),
                    market("/v1/audit/verification"),
                    auditor("/v1/audit/verification?anchor=z6MkNotAKey"),
                    auditor("/v1/audit/entries?limit=0"),
                    auditor("/v1/audit/entries?after=-1"),
                    auditor("/v1/audit/entries?subject=x&colour=red"),
                ])
                .await;
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(_served: &Served) -> Vec<Call> {
    vec![
        Call::get("/v1/audit/verification", "/v1/audit/verification"),
        Call::post(
            "/v1/audit/checkpoints",
            "/v1/audit/checkpoints",
            Value::Null,
        ),
        Call::get("/v1/audit/export", "/v1/audit/export"),
        Call::get("/v1/audit/entries", "/v1/audit/entries?after=1&limit=5"),
        Call::get("/v1/audit/anchor", "/v1/audit/anchor"),
    ]
}
