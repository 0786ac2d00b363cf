//! One key, one purpose: a department's issuing key signs its licences and
//! never leaves the hub; its exchange key signs its envelopes, and its
//! system may make that key itself and register only the public half.

use serde_json::json;
use tongban_seal::{KeyPurpose, SigningKey};
use tongban_service::Service;

use crate::{CIVIL, MARKET, T0, each_backend};

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => e.code().to_owned(),
    }
}

/// The audit log's actions and subjects, oldest first.
async fn audit_actions(hub: &Service) -> Vec<(String, String, serde_json::Value)> {
    hub.store()
        .audit_page(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.action,
                e.subject,
                serde_json::from_str(&e.detail).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licences_are_signed_with_the_issuing_key_and_the_trust_file_says_so() {
    each_backend("keys_one_purpose", |hub| async move {
        let (_, issuing) = hub.current_key(MARKET, KeyPurpose::Issue).await.unwrap();
        let (_, exchange_record) = hub.current_key(MARKET, KeyPurpose::Exchange).await.unwrap();
        assert_eq!(issuing.purpose, KeyPurpose::Issue);
        assert_eq!(exchange_record.purpose, KeyPurpose::Exchange);
        assert_ne!(issuing.key_id(), exchange_record.key_id());
        // The licence names the issuing key.
        let issued = hub.issue(MARKET, crate::business_licence()).await.unwrap();
        let method = issued.credential["proof"]["verificationMethod"]
            .as_str()
            .unwrap();
        assert!(method.ends_with(&issuing.key_id()), "{method}");
        // The trust file says what each key signs.
        let file = hub.trust_file().await.unwrap();
        let keys = file["credentialSubject"]["issuers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == format!("urn:uscc:{MARKET}"))
            .unwrap()["keys"]
            .as_array()
            .unwrap()
            .clone();
        let purpose_of = |id: &str| {
            keys.iter()
                .find(|k| k["publicKeyMultibase"] == id)
                .map(|k| k["purpose"].clone())
        };
        assert_eq!(purpose_of(&issuing.key_id()), Some(json!("issue")));
        assert_eq!(
            purpose_of(&exchange_record.key_id()),
            Some(json!("exchange"))
        );
        // A department's key is made for one purpose, never both.
        assert_eq!(
            code(hub.new_signing_key(MARKET, KeyPurpose::Both, None).await),
            "KEY_PURPOSE_INVALID"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_secret_handed_out_is_audited_and_an_issuing_one_never_is() {
    each_backend("keys_export", |hub| async move {
        let (key_id, secret) = hub.export_exchange_secret(CIVIL).await.unwrap();
        let key = SigningKey::from_secret_multikey(&secret).unwrap();
        assert_eq!(key.public().to_multikey(), key_id);
        let (_, record) = hub.current_key(CIVIL, KeyPurpose::Exchange).await.unwrap();
        assert_eq!(record.key_id(), key_id);
        let exported: Vec<_> = audit_actions(&hub)
            .await
            .into_iter()
            .filter(|(action, _, _)| action == "key.export")
            .collect();
        assert_eq!(exported.len(), 1, "{exported:?}");
        assert_eq!(exported[0].1, key_id);
        assert_eq!(exported[0].2["owner"], CIVIL);
        assert_eq!(exported[0].2["purpose"], "exchange");

        // Only exchange keys leave: a department with an issuing key and no
        // exchange key has nothing to hand out.
        let department = add_street(&hub).await;
        let before = hub.store().audit_head().await.unwrap();
        let e = hub.export_exchange_secret(department).await.unwrap_err();
        assert_eq!(e.code(), "SIGNING_KEY_NONE", "{e}");
        hub.new_signing_key(department, KeyPurpose::Issue, None)
            .await
            .unwrap();
        assert_eq!(
            code(hub.export_exchange_secret(department).await),
            "SIGNING_KEY_NONE"
        );
        let after_refusals = hub.store().audit_head().await.unwrap();
        // Only the issuing key's own entry was added: refusals write nothing.
        assert_eq!(after_refusals.0, before.0 + 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_registers_an_exchange_key_it_made_itself() {
    each_backend("keys_register", |hub| async move {
        let department = add_street(&hub).await;
        // Its system makes the key; the request is signed by it.
        let own = SigningKey::generate().unwrap();
        let request = tongban_seal::keyreg::sign(&own, department, T0);
        let before = hub.store().audit_head().await.unwrap().0;
        let row = hub.register_exchange_key(&request).await.unwrap();
        assert_eq!(row.key_id, own.public().to_multikey());
        assert_eq!(row.purpose, "exchange");
        assert_eq!(row.controller, format!("urn:uscc:{department}"));
        let entries = audit_actions(&hub).await;
        let last = entries.last().unwrap();
        assert_eq!(
            (last.0.as_str(), last.1.as_str()),
            ("key.register", row.key_id.as_str())
        );
        assert!(hub.store().audit_head().await.unwrap().0 > before);
        // The hub holds no secret of it: it cannot sign with it, hand it out
        // or rotate it; the department's system does that.
        assert_eq!(
            code(hub.current_key(department, KeyPurpose::Exchange).await),
            "SIGNING_KEY_NONE"
        );
        assert_eq!(
            code(hub.export_exchange_secret(department).await),
            "SIGNING_KEY_NONE"
        );
        assert_eq!(
            code(hub.rotate_key(&row.key_id, time::Duration::days(1)).await),
            "KEY_NOT_HELD"
        );
        // It verifies the department's envelopes like any key of the hub.
        let records = hub.key_records().await.unwrap();
        assert!(
            records
                .iter()
                .any(|r| r.key_id() == row.key_id && r.purpose == KeyPurpose::Exchange)
        );

        // Refused, and nothing written: the same key again, another
        // department's name on it, a forged signature, a stranger.
        let head = hub.store().audit_head().await.unwrap();
        assert_eq!(
            code(hub.register_exchange_key(&request).await),
            "KEY_EXISTS"
        );
        let mut moved = request.clone();
        moved["owner"] = MARKET.into();
        assert_eq!(
            code(hub.register_exchange_key(&moved).await),
            "KEY_POSSESSION_UNPROVEN"
        );
        let stranger = SigningKey::generate().unwrap();
        assert_eq!(
            code(
                hub.register_exchange_key(&tongban_seal::keyreg::sign(
                    &stranger,
                    "11440114MB2C00031C",
                    T0
                ))
                .await
            ),
            "DEPARTMENT_UNKNOWN"
        );
        let old = tongban_seal::keyreg::sign(&stranger, department, T0 - time::Duration::days(31));
        assert_eq!(
            code(hub.register_exchange_key(&old).await),
            "KEY_REGISTRATION_STALE"
        );
        assert_eq!(hub.store().audit_head().await.unwrap(), head);
    })
    .await;
}

/// A key made before purposes were kept apart signed both: it still signs
/// (licences and envelopes) until rotated, but its secret never leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_before_purposes_signs_both_but_never_leaves() {
    for backend in tongban_tests::backends("keys_legacy").await {
        eprintln!("keys_legacy: {}", backend.name);
        let hub = crate::hub_on(&backend).await;
        let department = add_street(&hub).await;
        let row = hub
            .new_signing_key(department, KeyPurpose::Issue, None)
            .await
            .unwrap();
        // As migration 0019 leaves a key made before it.
        tongban_tests::execute_sql(
            &backend.database_url,
            &format!(
                "UPDATE signing_keys SET purpose = 'both' WHERE key_id = '{}'",
                row.key_id
            ),
        )
        .await;
        let (_, for_envelopes) = hub
            .current_key(department, KeyPurpose::Exchange)
            .await
            .unwrap();
        let (_, for_licences) = hub
            .current_key(department, KeyPurpose::Issue)
            .await
            .unwrap();
        assert_eq!(for_envelopes.key_id(), row.key_id);
        assert_eq!(for_licences.key_id(), row.key_id);
        assert_eq!(for_envelopes.purpose, KeyPurpose::Both);
        let head = hub.store().audit_head().await.unwrap();
        assert_eq!(
            code(hub.export_exchange_secret(department).await),
            "KEY_NOT_EXPORTABLE"
        );
        assert_eq!(hub.store().audit_head().await.unwrap(), head);
        // Rotated, it is succeeded by an issuing key; an exchange key is
        // then the department's own or made apart.
        let (_, successor) = hub
            .rotate_key(&row.key_id, time::Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(successor.purpose, "issue");
        hub.close().await;
        backend.cleanup().await;
    }
}

/// Adds 新华街道办事处, a town-level department with no key yet; its code.
async fn add_street(hub: &tongban_service::Service) -> &'static str {
    let department = "11440114MB2C00023H";
    hub.add_department(crate::department(
        department,
        "新华街道办事处",
        tongban_store::PlatformLevel::Town,
    ))
    .await
    .unwrap();
    department
}
