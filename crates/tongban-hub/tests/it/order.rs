//! What docs/PROTOCOL.md promises an implementer in another language, over
//! real QUIC: the order of the hub's checks (§4.4), the test vector of §4.3
//! accepted as it is, a recipient verifying a sender's envelope with the
//! trust list (§5.9), and the names of the hub's server certificate (§2).

use std::time::Duration;

use serde_json::{Value, json};
use time::macros::datetime;
use tongban_client::{Client, ClientError, Event};
use tongban_proto::{Draft, ErrorCode, Kind, PayloadRef, ServerOp};
use tongban_seal::SigningKey;
use tongban_store::KeyRow;

use crate::{
    CIVIL, HEALTH, MARKET, TestHub, approve, fast_config, first_answer, registration,
    registration_to,
};

/// The code the hub answers `envelope` with on a `send` or `request`
/// stream, or `None` if it accepted it.
async fn answer_code(client: &Client, op: &str, envelope: Value) -> Option<ErrorCode> {
    let frame = match op {
        "send" => json!({"op": "send", "envelope": envelope}),
        "request" => json!({"op": "request", "envelope": envelope, "timeoutMs": 1000}),
        other => panic!("no op {other}"),
    };
    match first_answer(client, &tongban_proto::encode(&frame), true).await {
        ServerOp::Accepted { .. } => None,
        ServerOp::Error { code, .. } => Some(code),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// A payload by reference to a blob nobody uploaded.
fn missing_blob() -> Option<PayloadRef> {
    Some(PayloadRef {
        sha256: "0".repeat(64),
        size: 10,
        media_type: "application/json".into(),
    })
}

/// Each input breaks two or more rules; the answer names the one §4.4
/// checks first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_failed_check_of_section_4_4_is_the_answer() {
    crate::each_backend(
        "the_first_failed_check_of_section_4_4_is_the_answer",
        fast_config(),
        the_first_failed_check_of_section_4_4_is_the_answer_on,
    )
    .await;
}

async fn the_first_failed_check_of_section_4_4_is_the_answer_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let civil = t.client(CIVIL).await;
    let market_key = t.hub.danger_signing_key(MARKET).await.unwrap();
    let civil_key = t.hub.danger_signing_key(CIVIL).await.unwrap();
    let stranger = SigningKey::from_seed(&[99; 32]);
    let message = || registration_to(&market, CIVIL);
    let request =
        |schema: &str, payload: Value| civil.request_for("business-registration", schema, payload);
    let service = |schema: &str| civil.request_for("hub.case.licences", schema, json!({}));
    let signed = |d: Draft, key: &SigningKey| d.sign(key).unwrap();
    let tampered = |mut e: Value| {
        e["payload"]["entityName"] = "另一家公司".into();
        e
    };
    let stale = |mut d: Draft| {
        d.time -= time::Duration::minutes(10);
        d
    };

    // (what, who sends it, op, envelope, the answer)
    let cases: Vec<(&str, &Client, &str, Value, ErrorCode)> = vec![
        (
            "1. an id outside the alphabet, before an undecodable signature",
            &market,
            "send",
            {
                let mut e = signed(message(), &market_key);
                e["id"] = "not an id!".into();
                e["signature"] = "z0".into();
                e
            },
            ErrorCode::EnvelopeMalformed,
        ),
        (
            "1. an undecodable signature, before the kind's rules (a message to both a recipient and a topic)",
            &market,
            "send",
            {
                let mut e = signed(message(), &market_key);
                e["topic"] = "business-registration".into();
                e["signature"] = "z0".into();
                e
            },
            ErrorCode::SignatureInvalid,
        ),
        (
            "3. a request on a send stream, from another department",
            &market,
            "send",
            signed(request("business-registration@1", json!({})), &civil_key),
            ErrorCode::EnvelopeMalformed,
        ),
        (
            "4. another department as sender, stale",
            &market,
            "send",
            signed(
                stale(Draft {
                    sender: CIVIL.into(),
                    ..message()
                }),
                &civil_key,
            ),
            ErrorCode::SenderMismatch,
        ),
        (
            "6. stale, with an unknown key",
            &market,
            "send",
            signed(stale(message()), &stranger),
            ErrorCode::StaleMessage,
        ),
        (
            "7. an unknown key, the signature broken",
            &market,
            "send",
            tampered(signed(message(), &stranger)),
            ErrorCode::KeyUnknown,
        ),
        (
            "8. another department's key, the signature broken",
            &market,
            "send",
            tampered(signed(message(), &civil_key)),
            ErrorCode::KeyNotSenders,
        ),
        (
            "9. the signature broken, an unknown resource",
            &market,
            "send",
            tampered(signed(
                Draft {
                    resource: "no-such-resource".into(),
                    ..message()
                },
                &market_key,
            )),
            ErrorCode::SignatureInvalid,
        ),
        (
            "10. an unknown resource, an unregistered schema",
            &market,
            "send",
            signed(
                Draft {
                    resource: "no-such-resource".into(),
                    schema: "no-such-schema@1".into(),
                    ..message()
                },
                &market_key,
            ),
            ErrorCode::ResourceUnknown,
        ),
        (
            "11. a message in an unregistered schema: not the resource's",
            &market,
            "send",
            signed(
                Draft {
                    schema: "no-such-schema@1".into(),
                    ..message()
                },
                &market_key,
            ),
            ErrorCode::ResourceForbidden,
        ),
        (
            "11. a recipient without approval, the payload invalid",
            &market,
            "send",
            signed(
                Draft {
                    recipient: Some(HEALTH.into()),
                    payload: Some(json!({"uscc": "not a code"})),
                    ..message()
                },
                &market_key,
            ),
            ErrorCode::AccessNotGranted,
        ),
        (
            "12. a request in an unregistered schema (a request's schema is its own)",
            &civil,
            "request",
            signed(request("no-such-schema@1", json!({})), &civil_key),
            ErrorCode::SchemaUnknown,
        ),
        (
            "13. a request whose payload is invalid, its provider not listening",
            &civil,
            "request",
            signed(request("business-registration@1", json!({})), &civil_key),
            ErrorCode::PayloadInvalid,
        ),
        (
            "2. a request by reference to a blob never uploaded, its provider not listening",
            &civil,
            "request",
            signed(
                Draft {
                    payload: None,
                    payload_ref: missing_blob(),
                    ..request("business-registration@1", json!({}))
                },
                &civil_key,
            ),
            ErrorCode::BlobMissing,
        ),
        (
            "2. a message by reference to a blob never uploaded, with an unknown key, stale",
            &market,
            "send",
            signed(
                stale(Draft {
                    payload: None,
                    payload_ref: missing_blob(),
                    ..message()
                }),
                &stranger,
            ),
            ErrorCode::BlobMissing,
        ),
        (
            "1. a malformed id, before a payload by reference to a blob never uploaded",
            &market,
            "send",
            {
                let mut e = signed(
                    Draft {
                        payload: None,
                        payload_ref: missing_blob(),
                        ..message()
                    },
                    &market_key,
                );
                e["id"] = "not an id!".into();
                e
            },
            ErrorCode::EnvelopeMalformed,
        ),
        (
            "15. a request, its provider not listening",
            &civil,
            "request",
            signed(
                request(
                    "business-registration@1",
                    registration("91440114MA5TB0A01K"),
                ),
                &civil_key,
            ),
            ErrorCode::ProviderUnavailable,
        ),
        (
            "a hub service: a message to it",
            &civil,
            "send",
            signed(
                Draft {
                    kind: Kind::Message,
                    recipient: Some(MARKET.into()),
                    ..service("case-licence-query@1")
                },
                &civil_key,
            ),
            ErrorCode::ResourceForbidden,
        ),
        (
            "a hub service: a request in an unregistered schema",
            &civil,
            "request",
            signed(service("no-such-schema@1"), &civil_key),
            ErrorCode::ResourceForbidden,
        ),
        (
            "a hub service: a request naming a recipient, the payload invalid",
            &civil,
            "request",
            signed(
                Draft {
                    recipient: Some(MARKET.into()),
                    ..service("case-licence-query@1")
                },
                &civil_key,
            ),
            ErrorCode::EnvelopeMalformed,
        ),
        (
            "a hub service: a request whose payload is invalid",
            &civil,
            "request",
            signed(service("case-licence-query@1"), &civil_key),
            ErrorCode::PayloadInvalid,
        ),
    ];
    for (what, client, op, envelope, expect) in cases {
        assert_eq!(
            answer_code(client, op, envelope).await,
            Some(expect),
            "{what}"
        );
    }
    assert_eq!(
        t.hub.store().exchange_counts().await.unwrap(),
        vec![],
        "nothing stored"
    );

    // 16 comes last: an envelope stored before and now out of the time
    // window is stale, not a replay.
    let once = signed(message(), &market_key);
    assert_eq!(answer_code(&market, "send", once.clone()).await, None);
    assert_eq!(
        answer_code(&market, "send", once.clone()).await,
        Some(ErrorCode::Replay)
    );
    t.hub.clock().set(t.hub.now() + time::Duration::minutes(6));
    assert_eq!(
        answer_code(&market, "send", once).await,
        Some(ErrorCode::StaleMessage)
    );
    t.stop().await;
}

fn vector() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/vectors/envelope-1.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The envelope of PROTOCOL §4.3 is accepted as it is, once its key is the
/// sender's and the hub's clock is at its time; its recipient verifies it
/// the way §5.9 describes: the key found by `keyId` in the trust list, its
/// controller and window, then the signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_vector_is_accepted_and_its_recipient_verifies_it_with_the_trust_list() {
    crate::each_backend(
        "the_test_vector_is_accepted",
        fast_config(),
        the_test_vector_is_accepted_on,
    )
    .await;
}

async fn the_test_vector_is_accepted_on(t: TestHub) {
    let v = vector();
    let envelope = v["envelope"].clone();
    let market = t.client(MARKET).await;
    let civil = t.client(CIVIL).await;
    let at = datetime!(2026-11-25 03:00 UTC);
    // Keys are generated by the hub; the vector's is registered directly
    // in the store, as the hub would record one of its own.
    t.hub
        .store()
        .insert_key(
            &KeyRow {
                key_id: v["keyId"].as_str().unwrap().into(),
                owner: MARKET.into(),
                controller: format!("urn:uscc:{MARKET}"),
                not_before: datetime!(2026-11-01 0:00 UTC),
                not_after: None,
                revoked_at: None,
                revoked_reason: None,
                created_at: t.hub.now(),
                purpose: "exchange".into(),
            },
            &[],
        )
        .await
        .unwrap();
    // The recipient's approval of the resource, from before the vector's
    // time until after the test.
    approve(
        &t.hub,
        CIVIL,
        "business-registration",
        MARKET,
        "测试",
        at - time::Duration::days(1),
        t.hub.now() + time::Duration::days(30),
    )
    .await;
    // The hub's clock at the vector's time, for its time window only (the
    // hub's own key, which signs its trust list, is younger).
    let started = t.hub.now();
    t.hub.clock().set(at);
    // Refused envelopes store nothing: send again until the hub's view of
    // the access rules (refreshed every 200 ms) has the approval.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match answer_code(&market, "send", envelope.clone()).await {
            None => break,
            Some(ErrorCode::AccessNotGranted) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Some(other) => panic!("the vector was refused with {other}"),
        }
    }
    t.hub.clock().set(started);

    let mut listener = civil.listen(16).await.unwrap();
    let delivered = match listener.next().await.unwrap() {
        Some(Event::Delivery(d)) => d.envelope,
        other => panic!("expected the vector's delivery, got {other:?}"),
    };
    assert_eq!(delivered, envelope, "delivered as signed");

    // The recipient's check, with nothing but the trust list and the anchor.
    let list = civil.trust_list().await.unwrap();
    let anchor =
        tongban_seal::PublicKey::from_multikey(&t.hub.identity().await.unwrap().anchor).unwrap();
    tongban_licence::trustfile::load(&list, &anchor, started).unwrap();
    let key_id = delivered["keyId"].as_str().unwrap();
    let entries: Vec<&Value> = list["credentialSubject"]["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|issuer| issuer["keys"].as_array().unwrap())
        .filter(|k| k["publicKeyMultibase"] == key_id)
        .collect();
    assert_eq!(entries.len(), 1, "one entry for the key");
    let entry = entries[0];
    assert_eq!(entry["id"], format!("urn:uscc:{MARKET}#{key_id}"));
    assert_eq!(entry["controller"], format!("urn:uscc:{MARKET}"));
    let record = tongban_licence::trustfile::parse_key(entry).unwrap();
    let verified = tongban_proto::envelope::parse(delivered.clone())
        .unwrap()
        .verify(&record)
        .unwrap();
    assert_eq!(verified.digest(), v["signedBytesSha256"]);
    // The same check refuses a key that was not the sender's then: another
    // department's key record, or this one's window moved past the time.
    let civil_entry = list["credentialSubject"]["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == format!("urn:uscc:{CIVIL}"))
        .unwrap()["keys"][0]
        .clone();
    let mut foreign = entry.clone();
    foreign["controller"] = civil_entry["controller"].clone();
    let refused = |key: &Value| {
        let record = tongban_licence::trustfile::parse_key(key).unwrap();
        tongban_proto::envelope::parse(delivered.clone())
            .unwrap()
            .verify(&record)
            .unwrap_err()
            .code
    };
    assert_eq!(refused(&foreign), ErrorCode::KeyNotSenders);
    let mut later = entry.clone();
    later["notBefore"] = "2026-11-26T00:00:00Z".into();
    assert_eq!(refused(&later), ErrorCode::KeyNotYetValid);
    t.stop().await;
}

/// The hub's server certificate names what the client dials: the test
/// hub's names `localhost` and 127.0.0.1, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_checks_the_name_it_dials_against_the_server_certificate() {
    crate::each_backend(
        "a_client_checks_the_name_it_dials_against_the_server_certificate",
        fast_config(),
        a_client_checks_the_name_it_dials_against_the_server_certificate_on,
    )
    .await;
}

async fn a_client_checks_the_name_it_dials_against_the_server_certificate_on(t: TestHub) {
    for name in ["localhost", "127.0.0.1"] {
        let mut config = t.client_config(MARKET).await;
        config.server_name = name.into();
        let client = Client::connect(config).await.unwrap();
        client.trust_list().await.unwrap();
        client.close().await;
    }
    let mut config = t.client_config(MARKET).await;
    config.server_name = "hub.huadu.example".into();
    match Client::connect(config).await {
        Err(ClientError::Connect(e)) => {
            assert!(e.to_string().contains("not valid for name"), "{e}");
            assert!(
                !e.is_transient(),
                "a server name refused is no passing fault"
            );
        }
        other => panic!("expected a refused server name, got {other:?}"),
    }
    t.stop().await;
}
