//! Envelopes: sign, verify, and every way they can be wrong.

use proptest::prelude::*;
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tongban_proto::envelope::{self, DEFAULT_TIME_WINDOW};
use tongban_proto::{Draft, ErrorCode, Kind};
use tongban_seal::{KeyRecord, SigningKey, Validity};

const NOW: OffsetDateTime = datetime!(2026-11-25 03:00 UTC);
const MARKET: &str = "11440114MB2C00007U";

fn key(seed: u8, owner: &str) -> (SigningKey, KeyRecord) {
    let k = SigningKey::from_seed(&[seed; 32]);
    let r = KeyRecord {
        controller: format!("urn:uscc:{owner}"),
        public: k.public(),
        validity: Validity::from(datetime!(2026-01-01 0:00 UTC)),
        purpose: tongban_seal::KeyPurpose::Exchange,
    };
    (k, r)
}

fn draft(id: &str) -> Draft {
    crate::registration_message(
        id,
        NOW,
        json!({"uscc": "91440114MA5TB0A01K", "entityName": "广州花都鸿睿启航电子科技有限公司"}),
    )
}

/// The code `signed` is refused with when verified against `record`.
fn refusal(signed: &Value, record: &KeyRecord) -> ErrorCode {
    envelope::parse(signed.clone())
        .unwrap()
        .verify(record)
        .unwrap_err()
        .code
}

#[test]
fn signed_envelopes_verify_and_tampering_fails() {
    let (k, r) = key(1, MARKET);
    let signed = draft("m-1").sign(&k).unwrap();
    let parsed = envelope::parse(signed.clone()).unwrap();
    parsed.check_time(NOW, DEFAULT_TIME_WINDOW).unwrap();
    let v = parsed.verify(&r).unwrap();
    assert_eq!(v.header.id, "m-1");
    assert_eq!(
        v.payload()["entityName"],
        "广州花都鸿睿启航电子科技有限公司"
    );
    assert_eq!(v.digest().len(), 64);
    // Member order and whitespace do not matter (canonical form).
    let reparsed: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&signed).unwrap()).unwrap();
    assert!(envelope::parse(reparsed).unwrap().verify(&r).is_ok());
    // Any changed field fails.
    for (field, value) in [
        ("payload", json!({"uscc": "x"})),
        ("recipient", json!("11440114MB2C00023H")),
        ("time", json!("2026-11-25T03:00:01Z")),
        ("id", json!("m-2")),
    ] {
        let mut t = signed.clone();
        t[field] = value;
        let err = envelope::parse(t).unwrap().verify(&r).unwrap_err();
        assert_eq!(err.code, ErrorCode::SignatureInvalid, "{field}");
    }
}

#[test]
fn keys_must_be_the_senders_and_valid_at_the_time() {
    let (k, _) = key(1, MARKET);
    let (_, other) = key(1, "11440114MB2C00015N");
    let signed = draft("m-1").sign(&k).unwrap();
    let err = envelope::parse(signed.clone())
        .unwrap()
        .verify(&other)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::KeyNotSenders);
    let (_, mut r) = key(1, MARKET);
    r.validity.revoked_at = Some(NOW - Duration::hours(1));
    assert_eq!(refusal(&signed, &r), ErrorCode::KeyRevoked);
    r.validity.revoked_at = None;
    r.validity.not_after = Some(NOW - Duration::hours(1));
    assert_eq!(refusal(&signed, &r), ErrorCode::KeyExpired);
    // Signed by another key than the one named.
    let (k2, r2) = key(2, MARKET);
    let mut forged = draft("m-1").sign(&k2).unwrap();
    forged["keyId"] = k.public().to_multikey().into();
    let (_, r1) = key(1, MARKET);
    assert_eq!(refusal(&forged, &r1), ErrorCode::SignatureInvalid);
    let _ = r2;
}

#[test]
fn stale_and_malformed_envelopes() {
    let (k, _) = key(1, MARKET);
    let mut old = draft("m-1");
    old.time = NOW - Duration::minutes(10);
    let p = envelope::parse(old.sign(&k).unwrap()).unwrap();
    assert_eq!(
        p.check_time(NOW, DEFAULT_TIME_WINDOW).unwrap_err().code,
        ErrorCode::StaleMessage
    );
    let good = draft("m-1").sign(&k).unwrap();
    let cases: Vec<(&str, Value)> = vec![
        ("id", json!("")),
        ("id", json!("has space")),
        ("id", json!("x".repeat(200))),
        ("sender", json!(5)),
        ("schema", json!("no-version")),
        ("kind", json!("shout")),
        ("time", json!("yesterday")),
        ("signature", json!("not multibase")),
        ("topic", json!("also-a-topic")),
        ("payloadRef", json!({"sha256": "xyz", "size": 1})),
    ];
    for (field, value) in cases {
        let mut bad = good.clone();
        bad[field] = value;
        let err = envelope::parse(bad).unwrap_err();
        assert!(
            matches!(
                err.code,
                ErrorCode::EnvelopeMalformed | ErrorCode::SignatureInvalid
            ),
            "{field}: {err}"
        );
    }
    assert_eq!(
        envelope::parse(json!([1])).unwrap_err().code,
        ErrorCode::EnvelopeMalformed
    );
    let mut response = draft("r-1");
    response.kind = Kind::Response;
    assert_eq!(
        envelope::parse(response.sign(&k).unwrap())
            .unwrap_err()
            .code,
        ErrorCode::EnvelopeMalformed
    );
    let mut float = draft("f-1");
    float.payload = Some(json!({"capital": 1.5}));
    assert_eq!(
        float.sign(&k).unwrap_err().code,
        ErrorCode::EnvelopeMalformed
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn batch_verification_agrees_with_single(corrupt in prop::collection::vec(0usize..80, 0..6)) {
        let (k, r) = key(3, MARKET);
        let mut envelopes: Vec<Value> = (0..80).map(|i| draft(&format!("m-{i}")).sign(&k).unwrap()).collect();
        for i in &corrupt {
            envelopes[*i]["payload"]["entityName"] = json!("tampered");
        }
        let parsed: Vec<_> = envelopes.iter().map(|e| (envelope::parse(e.clone()).unwrap(), r.clone())).collect();
        let batch = envelope::verify_batch(parsed.clone());
        for ((p, key), b) in parsed.into_iter().zip(batch) {
            let single = p.verify(&key);
            prop_assert_eq!(single.is_ok(), b.is_ok());
        }
    }
}
