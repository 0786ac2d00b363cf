//! Over QUIC, the hub reads frames, envelopes and payload blobs strictly: a
//! member name given twice is refused with its code and nothing is stored.

use serde_json::{Value, json};
use tongban_proto::{ErrorCode, ServerOp};

use crate::blobs::{archive_resource, by_reference, code};
use crate::{CIVIL, MARKET, TestHub, fast_config, first_answer, registration_to};

/// `body` as one frame: its length, then its bytes.
fn framed(body: &str) -> Vec<u8> {
    let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_members_are_refused_and_store_nothing() {
    crate::each_backend(
        "repeated_members_are_refused_and_store_nothing",
        fast_config(),
        repeated_members_are_refused_and_store_nothing_on,
    )
    .await;
}

async fn repeated_members_are_refused_and_store_nothing_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let signed = market.sign(&registration_to(&market, CIVIL)).unwrap();
    let text = json!({"op": "send", "envelope": signed}).to_string();
    let name = "\"entityName\":\"广州花都鸿睿启航电子科技有限公司\"";
    assert!(text.contains(name), "{text}");
    let recipient = format!("\"recipient\":\"{CIVIL}\"");
    let cases = [
        // A second entity name after the signed one, and before it.
        (
            text.replacen(name, &format!("{name},\"entityName\":\"另一家公司\""), 1),
            ErrorCode::EnvelopeMalformed,
        ),
        (
            text.replacen(name, &format!("\"entityName\":\"另一家公司\",{name}"), 1),
            ErrorCode::EnvelopeMalformed,
        ),
        // A second recipient, spelt with an escape.
        (
            text.replacen(
                &recipient,
                &format!("{recipient},\"r\\u0065cipient\":\"11440114MB2C00023H\""),
                1,
            ),
            ErrorCode::EnvelopeMalformed,
        ),
        // The frame's own members.
        (
            text.replacen("\"op\":\"send\"", "\"op\":\"send\",\"op\":\"send\"", 1),
            ErrorCode::FrameMalformed,
        ),
    ];
    for (body, expected) in cases {
        assert_ne!(body, text);
        match first_answer(&market, &framed(&body), true).await {
            ServerOp::Error { id, code, .. } => {
                assert_eq!((code, id), (expected, None), "{body}");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    assert_eq!(
        t.hub.store().exchange_counts().await.unwrap(),
        Vec::<(String, i64)>::new(),
        "nothing was stored"
    );
    // The envelope as signed is accepted on the same connection.
    match first_answer(&market, &framed(&text), true).await {
        ServerOp::Accepted { .. } => {}
        other => panic!("{other:?}"),
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_blob_with_a_repeated_member_is_invalid() {
    crate::each_backend(
        "a_payload_blob_with_a_repeated_member_is_invalid",
        fast_config(),
        a_payload_blob_with_a_repeated_member_is_invalid_on,
    )
    .await;
}

async fn a_payload_blob_with_a_repeated_member_is_invalid_on(t: TestHub) {
    archive_resource(&t).await;
    let civil = t.client(CIVIL).await;
    let blob = r#"{"caseNo":"440114-2026-000123","caseNo":"440114-2026-999999","pages":[]}"#;
    let reference = civil
        .upload(blob.as_bytes().to_vec(), "application/json")
        .await
        .unwrap();
    let refused = civil.send(by_reference(&civil, reference)).await;
    assert_eq!(code(refused), ErrorCode::PayloadInvalid);
    let counts: Vec<(String, i64)> = t.hub.store().exchange_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .all(|(what, _)| !what.starts_with("messages.")),
        "{counts:?}"
    );
    // The same payload written once is accepted.
    let once: Value = json!({"caseNo": "440114-2026-000123", "pages": []});
    let reference = civil
        .upload(serde_json::to_vec(&once).unwrap(), "application/json")
        .await
        .unwrap();
    civil.send(by_reference(&civil, reference)).await.unwrap();
    t.stop().await;
}
