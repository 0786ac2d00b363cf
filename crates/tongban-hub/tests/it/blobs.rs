//! Payloads over the frame limit travel through the blob store by digest.

use serde_json::{Value, json};
use tongban_client::Client;
use tongban_proto::{ClientOp, ErrorCode, PayloadRef, ServerOp};

use crate::flows::next_delivery;
use crate::{
    CIVIL, HEALTH, MARKET, TestHub, approve, fast_config, read_answer, share_on_conditions,
};

/// A case archive: many scanned pages (base64), far over 1 MiB in all.
pub(crate) async fn archive_resource(t: &TestHub) {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://schemas.tongban.dev/messages/case-archive/1",
        "title": "办件归档材料",
        "x-message-type": {"id": "case-archive", "version": "1", "name": "办件归档材料", "nameEn": "Case archive"},
        "type": "object",
        "additionalProperties": false,
        "required": ["caseNo", "pages"],
        "properties": {
            "caseNo": {"type": "string", "minLength": 1, "maxLength": 64},
            "pages": {"type": "array", "maxItems": 1000, "items": {"type": "string", "maxLength": 1048576}}
        }
    });
    t.hub
        .publish_schema("message", None, None, schema, false)
        .await
        .unwrap();
    share_on_conditions(
        &t.hub,
        "case-archive",
        CIVIL,
        "case-archive@1",
        &[MARKET],
        "办件归档",
    )
    .await;
    crate::wait_admitted(t, MARKET, "case-archive").await;
}

pub(crate) fn archive(pages: usize) -> Value {
    let page = "QUJD".repeat(64 * 1024); // 256 KiB of base64 per page
    json!({"caseNo": "440114-2026-000123", "pages": vec![page; pages]})
}

pub(crate) fn code(r: Result<impl std::fmt::Debug, tongban_client::ClientError>) -> ErrorCode {
    match r {
        Err(e) => e.code().unwrap_or_else(|| panic!("not a refusal: {e}")),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

pub(crate) fn by_reference(client: &Client, r: PayloadRef) -> tongban_proto::Draft {
    let mut d = client.message_to(MARKET, "case-archive", "case-archive@1", Value::Null);
    d.payload = None;
    d.payload_ref = Some(r);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_payload_goes_by_reference_and_reaches_the_recipient() {
    crate::each_backend(
        "a_large_payload_goes_by_reference_and_reaches_the_recipient",
        fast_config(),
        a_large_payload_goes_by_reference_and_reaches_the_recipient_on,
    )
    .await;
}

async fn a_large_payload_goes_by_reference_and_reaches_the_recipient_on(t: TestHub) {
    archive_resource(&t).await;
    let civil = t.client(CIVIL).await;
    let payload = archive(6); // ≈ 1.5 MiB: over the 1 MiB frame limit
    assert!(serde_json::to_vec(&payload).unwrap().len() > tongban_proto::DEFAULT_MAX_FRAME);
    civil
        .send(civil.message_to(MARKET, "case-archive", "case-archive@1", payload.clone()))
        .await
        .unwrap();

    let market = t.client(MARKET).await;
    let mut l = market.listen(8).await.unwrap();
    let d = next_delivery(&mut l).await;
    assert!(d.envelope["payload"].is_null());
    let sha256 = d.envelope["payloadRef"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(market.payload(&d.envelope).await.unwrap(), payload);
    l.ack(d.delivery).await.unwrap();

    // A department that is party to no message with it cannot read it,
    // and cannot tell whether it exists.
    let health = t.client(HEALTH).await;
    assert_eq!(code(health.download(&sha256).await), ErrorCode::BlobMissing);
    assert_eq!(
        code(health.download(&"00".repeat(32)).await),
        ErrorCode::BlobMissing
    );
    // The sender can.
    assert_eq!(
        civil.download(&sha256).await.unwrap().0.len() as u64,
        d.envelope["payloadRef"]["size"].as_u64().unwrap()
    );

    // A record published by reference: HEALTH cannot read its payload
    // until the catalogue's rule admits it to the resource's records.
    let record = archive(5);
    let published = civil
        .send(civil.publication("case-archive", "case-archive@1", record.clone()))
        .await
        .unwrap();
    let (_, stored) = t
        .hub
        .store()
        .message(CIVIL, &published.id)
        .await
        .unwrap()
        .unwrap();
    let envelope: Value = serde_json::from_str(&stored).unwrap();
    let record_sha = envelope["payloadRef"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        code(health.download(&record_sha).await),
        ErrorCode::BlobMissing
    );
    let now = t.hub.now();
    approve(
        &t.hub,
        HEALTH,
        "case-archive",
        CIVIL,
        "核查办件归档",
        now - time::Duration::hours(1),
        now + time::Duration::days(1),
    )
    .await;
    let mut page = Vec::new();
    for _ in 0..50 {
        if let Ok((records, _)) = health.records("case-archive", 0, 10).await {
            page = records;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(page.len(), 1, "admitted to the records");
    assert_eq!(health.payload(&page[0].1).await.unwrap(), record);
    // The earlier direct message's payload stays out of reach.
    assert_eq!(code(health.download(&sha256).await), ErrorCode::BlobMissing);

    // The upload and the message are in the audit log, which verifies.
    let store = t.hub.store();
    assert_eq!(
        store.audit_of(&sha256, 5).await.unwrap()[0].action,
        "exchange.upload"
    );
    assert!(t.hub.audit_verify(|_| {}).await.unwrap().ok());
    // Small payloads still travel inline.
    let small = civil
        .offload(civil.message_to(MARKET, "case-archive", "case-archive@1", archive(0)))
        .await
        .unwrap();
    assert!(small.payload_ref.is_none());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_blobs_and_references_are_refused_and_store_nothing() {
    crate::each_backend(
        "bad_blobs_and_references_are_refused_and_store_nothing",
        tongban_hub::ServeConfig {
            max_blob: 2 * 1024 * 1024,
            ..fast_config()
        },
        bad_blobs_and_references_are_refused_and_store_nothing_on,
    )
    .await;
}

async fn bad_blobs_and_references_are_refused_and_store_nothing_on(t: TestHub) {
    archive_resource(&t).await;
    let civil = t.client(CIVIL).await;
    let health = t.client(HEALTH).await;
    let bytes = serde_json::to_vec(&archive(1)).unwrap();

    // Over the hub's blob limit: refused before any byte is read.
    let huge = serde_json::to_vec(&archive(9)).unwrap();
    assert_eq!(
        code(civil.upload(huge, "application/json").await),
        ErrorCode::PayloadTooLarge
    );
    // Not JSON by media type.
    assert_eq!(
        code(civil.upload(b"%PDF-1.7".to_vec(), "application/pdf").await),
        ErrorCode::PayloadInvalid
    );
    // The bytes do not hash to the announced digest.
    let (mut send, recv) = civil.raw_stream().await.unwrap();
    let header = ClientOp::Upload {
        sha256: "ab".repeat(32),
        size: 3,
        media_type: "application/json".into(),
    };
    send.write_all(&tongban_proto::encode(&header.to_value()))
        .await
        .unwrap();
    send.write_all(b"{}\n").await.unwrap();
    send.finish().unwrap();
    assert_eq!(first_error(recv).await, ErrorCode::BlobMismatch);
    // More bytes than announced.
    let (mut send, recv) = civil.raw_stream().await.unwrap();
    let header = ClientOp::Upload {
        sha256: tongban_store::sha256_hex(b"{}"),
        size: 2,
        media_type: "application/json".into(),
    };
    send.write_all(&tongban_proto::encode(&header.to_value()))
        .await
        .unwrap();
    send.write_all(b"{}  ").await.unwrap();
    send.finish().unwrap();
    assert_eq!(first_error(recv).await, ErrorCode::BlobMismatch);
    // The stream ends before all bytes arrived.
    let (mut send, recv) = civil.raw_stream().await.unwrap();
    let header = ClientOp::Upload {
        sha256: tongban_store::sha256_hex(&bytes),
        size: bytes.len() as u64,
        media_type: "application/json".into(),
    };
    send.write_all(&tongban_proto::encode(&header.to_value()))
        .await
        .unwrap();
    send.write_all(&bytes[..1000]).await.unwrap();
    send.finish().unwrap();
    assert_eq!(first_error(recv).await, ErrorCode::FrameTruncated);

    // References: to nothing; to a blob another department uploaded; with
    // the wrong size; to JSON violating the schema; to bytes that are not JSON.
    let missing = PayloadRef {
        sha256: "cd".repeat(32),
        size: 10,
        media_type: "application/json".into(),
    };
    assert_eq!(
        code(civil.send(by_reference(&civil, missing)).await),
        ErrorCode::BlobMissing
    );
    let theirs = health
        .upload(bytes.clone(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        code(civil.send(by_reference(&civil, theirs)).await),
        ErrorCode::BlobMissing
    );
    let mine = civil
        .upload(bytes.clone(), "application/json")
        .await
        .unwrap();
    let wrong_size = PayloadRef {
        size: mine.size + 1,
        ..mine.clone()
    };
    assert_eq!(
        code(civil.send(by_reference(&civil, wrong_size)).await),
        ErrorCode::BlobMismatch
    );
    let invalid = civil
        .upload(
            serde_json::to_vec(&json!({"caseNo": ""})).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    assert_eq!(
        code(civil.send(by_reference(&civil, invalid)).await),
        ErrorCode::PayloadInvalid
    );
    let not_json = civil
        .upload(b"{\"caseNo\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        code(civil.send(by_reference(&civil, not_json)).await),
        ErrorCode::PayloadInvalid
    );
    let pdf = PayloadRef {
        media_type: "application/pdf".into(),
        ..mine.clone()
    };
    assert_eq!(
        code(civil.send(by_reference(&civil, pdf)).await),
        ErrorCode::PayloadInvalid
    );
    assert!(
        t.hub.store().exchange_counts().await.unwrap().is_empty(),
        "no message stored"
    );

    // The same reference, well formed, is accepted; the connection still works.
    civil.send(by_reference(&civil, mine)).await.unwrap();
    assert_eq!(
        t.hub.store().exchange_counts().await.unwrap()[0],
        ("messages.message".to_owned(), 1)
    );
    t.stop().await;
}

async fn first_error(mut recv: quinn::RecvStream) -> ErrorCode {
    match read_answer(&mut recv).await {
        ServerOp::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}
