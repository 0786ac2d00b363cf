//! Issuance a licence type's cross-field rules refuse writes nothing —
//! through `issue`, `issue_batch` and a case's result — and uses no number.
//! Both backends.

use serde_json::json;
use tongban_service::{AttachmentInput, CaseQuery, ItemDraft, Service};

use crate::{BUSINESS_LICENCE, COMPANY, MARKET, business_licence, each_backend, licence_count};

/// Another company's valid code.
const OTHER_COMPANY: &str = "91440114MA5TB0A02N";

/// Licences, audit entries and case states: what a refusal must leave as it was.
async fn written(hub: &Service) -> (i64, u64, Vec<String>) {
    let cases = hub.case_list(None, 100).await.unwrap();
    (
        licence_count(hub).await,
        hub.store().audit_head().await.unwrap().0,
        cases
            .iter()
            .map(|c| format!("{} {}", c.id, c.status))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuance_a_rule_refuses_writes_nothing() {
    each_backend("rule_refusals", |hub| async move {
        let before = written(&hub).await;

        let mut other = business_licence();
        other.data["uscc"] = json!(OTHER_COMPANY);
        let err = hub.issue(MARKET, other).await.unwrap_err();
        assert_eq!(err.code(), "DATA_HOLDER_MISMATCH", "{err}");
        assert!(err.to_string().contains("/uscc"), "{err}");

        // A batch: one request breaks a rule, the others (one with an
        // attachment) are fine; none is written, not even the attachment.
        let attachment = b"%PDF-1.7 rendering of a licence never issued".to_vec();
        let digest = tongban_store::sha256_hex(&attachment);
        let mut batch = vec![business_licence(), business_licence(), business_licence()];
        batch[0].attachment = Some(AttachmentInput {
            bytes: attachment,
            media_type: "application/pdf".into(),
        });
        batch[2].data["uscc"] = json!("91440114MA5TB0A01X");
        let err = hub.issue_batch(MARKET, batch).await.unwrap_err();
        assert_eq!(err.code(), "DATA_CODE_INVALID", "{err}");
        assert!(err.to_string().contains("request 2: /uscc"), "{err}");
        assert!(hub.store().blobs().get(&digest).await.unwrap().is_none());

        // The holder's name is signed as given: padding is refused, not trimmed.
        let mut padded = business_licence();
        padded.holder_name = format!("{} ", padded.holder_name);
        let err = hub.issue(MARKET, padded).await.unwrap_err();
        assert_eq!(err.code(), "HOLDER_NAME_INVALID", "{err}");

        assert_eq!(written(&hub).await, before);
        // No number was used: the first licence issued has the first serial
        // and the first status index.
        let first = hub.issue(MARKET, business_licence()).await.unwrap();
        assert_eq!(first.identifier.serial(), "2026112500000000");
        assert_eq!(
            first.credential["credentialStatus"][0]["statusListIndex"],
            "0"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_result_a_rule_refuses_leaves_the_case_open() {
    each_backend("rule_case_result", |hub| async move {
        let item: ItemDraft = serde_json::from_value(json!({
            "code": "440114-SCJG-0001",
            "name": "有限责任公司设立登记",
            "itemType": "承诺件",
            "legalLimitDays": 15,
            "promisedLimitDays": 3,
            "resultType": BUSINESS_LICENCE
        }))
        .unwrap();
        hub.item_put(MARKET, item).await.unwrap();
        hub.case_licences(
            MARKET,
            &CaseQuery {
                case_id: "HD-2026-000300".into(),
                item: "440114-SCJG-0001".into(),
                holder_code_type: "001".into(),
                holder_code: COMPANY.into(),
                use_cause: "办理有限责任公司设立登记".into(),
            },
        )
        .await
        .unwrap();
        let before = written(&hub).await;
        assert_eq!(before.2, vec!["HD-2026-000300 open".to_owned()]);

        let mut wrong = business_licence();
        wrong.data["uscc"] = json!(OTHER_COMPANY);
        let err = hub
            .case_result(MARKET, "HD-2026-000300", wrong)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "DATA_HOLDER_MISMATCH", "{err}");
        assert_eq!(written(&hub).await, before);

        let (issued, case) = hub
            .case_result(MARKET, "HD-2026-000300", business_licence())
            .await
            .unwrap();
        assert_eq!(case.status, "concluded");
        assert_eq!(issued.identifier.serial(), "2026112500000000");
    })
    .await;
}

/// A hub that published the shipped licence types before they declared
/// their rules (version "1") takes the ruled ones beside them (version "2",
/// as `tongban init` does when run again after an upgrade): published
/// versions never change, new licences are issued under the newest, and the
/// old ones keep verifying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ruled_licence_types_arrive_beside_the_versions_before_them() {
    for backend in tongban_tests::backends("rules_upgrade").await {
        eprintln!("rules_upgrade: {}", backend.name);
        let shipped: serde_json::Value = serde_json::from_slice(
            &std::fs::read(crate::schemas_dir().join("business-licence.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(shipped["x-licence-type"]["version"], "2");
        // A store set up before the shipped types had rules.
        let old_hub = Service::open(&crate::hub_config(&backend, backend.dir().join("keys")))
            .await
            .unwrap();
        old_hub
            .init_region("440114", "广州市花都区政务数据共享交换平台")
            .await
            .unwrap();
        old_hub
            .add_department(crate::department(
                MARKET,
                "广州市花都区市场监督管理局",
                tongban_store::PlatformLevel::District,
            ))
            .await
            .unwrap();
        old_hub
            .new_signing_key(MARKET, tongban_seal::KeyPurpose::Issue, None)
            .await
            .unwrap();
        let mut before_rules = shipped.clone();
        before_rules
            .as_object_mut()
            .unwrap()
            .remove("x-licence-rules");
        before_rules["x-licence-type"]["version"] = json!("1");
        before_rules["$id"] = json!("https://schemas.tongban.dev/licence-types/business-licence/1");
        old_hub.publish_licence_type(before_rules).await.unwrap();
        let old = old_hub.issue(MARKET, business_licence()).await.unwrap();
        assert_eq!(old.credential["licence"]["typeVersion"], "1");
        // The upgrade: the shipped type is taken (not refused as a changed
        // version), and is the one new licences follow.
        old_hub.publish_licence_type(shipped).await.unwrap();
        let new = old_hub.issue(MARKET, business_licence()).await.unwrap();
        assert_eq!(new.credential["licence"]["typeVersion"], "2");
        for credential in [old.credential, new.credential] {
            let v = old_hub.verify_online(credential).await.unwrap();
            assert!(v.valid, "{:?}", v.problems);
        }
        old_hub.close().await;
        backend.cleanup().await;
    }
}
