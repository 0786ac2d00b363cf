//! No department can stall or exhaust the hub: what one party holds is
//! bounded by its share, the hub refuses more at once with `BUSY`, cuts
//! quiet streams with `READ_TIMEOUT`, and the other departments carry on.

use std::time::Duration;

use serde_json::Value;
use tongban_client::Event;
use tongban_hub::ServeConfig;
use tongban_proto::{ClientOp, Decoder, ErrorCode, ServerOp};

use crate::blobs::{archive, archive_resource, by_reference};
use crate::flows::next_delivery;
use crate::{
    CIVIL, HEALTH, MARKET, TestHub, approve_health_for_registrations, fast_config, registration,
    registration_to,
};

const MIB: u64 = 1024 * 1024;

/// A raw stream's writer and the hub's answers on it.
struct Raw {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    decoder: Decoder,
}

impl Raw {
    async fn open(client: &tongban_client::Client) -> Raw {
        let (send, recv) = client.raw_stream().await.unwrap();
        Raw {
            send,
            recv,
            decoder: Decoder::new(1 << 20),
        }
    }

    /// The hub's next answer, or `None` if none comes within `within`; a
    /// stream that ends without one fails the test.
    async fn answer_within(&mut self, within: Duration) -> Option<ServerOp> {
        let read = async {
            loop {
                if let Some(f) = self.decoder.next_frame().unwrap() {
                    return ServerOp::parse(f).unwrap();
                }
                match self.recv.read_chunk(65536, true).await {
                    Ok(Some(c)) => self.decoder.push(&c.bytes),
                    other => panic!("the stream ended without an answer: {other:?}"),
                }
            }
        };
        tokio::time::timeout(within, read).await.ok()
    }
}

/// The next request delivered to a provider's listener (other events
/// skipped).
async fn next_request(l: &mut tongban_client::Listener) -> tongban_client::Delivery {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), l.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Event::Delivery(d) if d.kind() == "request" => return d,
            Event::Delivery(d) => panic!("unexpected delivery {d:?}"),
            Event::ResponseAccepted(_) => {}
            Event::Refused(e) => panic!("the hub refused a response: {e}"),
        }
    }
}

fn error_code(op: &ServerOp) -> ErrorCode {
    match op {
        ServerOp::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Waits until the hub accepted a response sent on the listener.
async fn responded(l: &mut tongban_client::Listener) {
    match tokio::time::timeout(Duration::from_secs(10), l.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Event::ResponseAccepted(_) => {}
        other => panic!("expected an accepted response, got {other:?}"),
    }
}

/// Opens a stream and announces an upload of `size` bytes, sending `sent`
/// of them.
async fn upload_stalled(client: &tongban_client::Client, n: u64, size: u64, sent: usize) -> Raw {
    let mut raw = Raw::open(client).await;
    let header = ClientOp::Upload {
        sha256: format!("{n:064x}"),
        size,
        media_type: "application/json".into(),
    };
    raw.send
        .write_all(&tongban_proto::encode(&header.to_value()))
        .await
        .unwrap();
    raw.send.write_all(&vec![b' '; sent]).await.unwrap();
    raw
}

/// Sends `draft`, failing the test if the hub takes longer than 10 s.
async fn send_within(
    client: &tongban_client::Client,
    draft: tongban_proto::Draft,
) -> Result<u64, ErrorCode> {
    tokio::time::timeout(Duration::from_secs(10), client.send(draft))
        .await
        .expect("the hub answered within 10 s")
        .map(|a| a.seq)
        .map_err(|e| e.code().unwrap_or_else(|| panic!("not a refusal: {e}")))
}

/// A registration by reference from MARKET to CIVIL (MARKET uploads it).
async fn registration_by_reference(market: &tongban_client::Client) -> tongban_proto::Draft {
    let bytes = serde_json::to_vec(&registration("91440114MA5TB0A01K")).unwrap();
    let r = market.upload(bytes, "application/json").await.unwrap();
    let mut d = market.message_to(
        CIVIL,
        "business-registration",
        "business-registration@1",
        Value::Null,
    );
    d.payload = None;
    d.payload_ref = Some(r);
    d
}

/// The attack of the security review: four uploads announcing 64 MiB each,
/// no bytes sent, used to take the whole hub-wide blob memory, and the
/// next envelope with a `payloadRef` then blocked inside the ordered
/// pipeline, hanging every department's sends. Now a department holds at
/// most its share (one such upload), the rest are `BUSY` at once, and
/// nobody else waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_one_department_stalls_hold_up_nobody_else() {
    crate::each_backend(
        "uploads_one_department_stalls_hold_up_nobody_else",
        ServeConfig {
            // Long: what is shown below is not the deadline's doing.
            read_timeout: Duration::from_secs(120),
            ..fast_config()
        },
        uploads_one_department_stalls_hold_up_nobody_else_on,
    )
    .await;
}

async fn uploads_one_department_stalls_hold_up_nobody_else_on(t: TestHub) {
    archive_resource(&t).await;
    let civil = t.client(CIVIL).await;
    let market = t.client(MARKET).await;
    let mine = civil
        .upload(serde_json::to_vec(&archive(1)).unwrap(), "application/json")
        .await
        .unwrap();

    let mut stalled = Vec::new();
    for n in 0..4 {
        stalled.push(upload_stalled(&civil, n, 64 * MIB, 0).await);
    }
    let mut busy = 0;
    let mut waiting = Vec::new();
    for mut raw in stalled {
        match raw.answer_within(Duration::from_secs(3)).await {
            Some(op) => {
                assert_eq!(error_code(&op), ErrorCode::Busy, "{op:?}");
                busy += 1;
            }
            None => waiting.push(raw),
        }
    }
    assert_eq!(
        (busy, waiting.len()),
        (3, 1),
        "one upload holds CIVIL's share"
    );

    // CIVIL's own payload by reference is refused at once, not queued.
    assert_eq!(
        send_within(&civil, by_reference(&civil, mine.clone())).await,
        Err(ErrorCode::Busy)
    );
    // Everybody else carries on, payloads by reference included; so do
    // CIVIL's inline messages.
    let by_ref = registration_by_reference(&market).await;
    send_within(&market, by_ref).await.unwrap();
    send_within(&market, registration_to(&market, CIVIL))
        .await
        .unwrap();
    send_within(
        &civil,
        civil.message_to(MARKET, "case-archive", "case-archive@1", archive(0)),
    )
    .await
    .unwrap();
    // What CIVIL receives arrives; fetching a payload would take more of
    // its share, so that waits until it gives up its upload.
    let mut l = civil.listen(8).await.unwrap();
    let d = next_delivery(&mut l).await;
    let fetched = civil.payload(&d.envelope).await.unwrap_err();
    assert_eq!(fetched.code(), Some(ErrorCode::Busy), "{fetched}");

    // Once CIVIL gives up its upload, its share is free again.
    let mut raw = waiting.pop().unwrap();
    raw.send.reset(0u32.into()).unwrap();
    let mut accepted = None;
    for _ in 0..50 {
        match send_within(&civil, by_reference(&civil, mine.clone())).await {
            Err(ErrorCode::Busy) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => {
                accepted = Some(other);
                break;
            }
        }
    }
    assert!(matches!(accepted, Some(Ok(_))), "{accepted:?}");
    assert_eq!(
        civil.payload(&d.envelope).await.unwrap(),
        registration("91440114MA5TB0A01K")
    );
    t.stop().await;
}

/// A stream that goes quiet before its first frame, inside a frame, or
/// inside an upload is cut with `READ_TIMEOUT` and gives back what it held;
/// a listener quiet between frames is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_streams_are_cut_with_read_timeout() {
    crate::each_backend(
        "quiet_streams_are_cut_with_read_timeout",
        ServeConfig {
            read_timeout: Duration::from_secs(1),
            max_blob: 4 * MIB,
            blob_buffer_per_department: 4 * MIB,
            // The listener reads late: no redelivery meanwhile.
            redelivery_after: Duration::from_secs(60),
            ..fast_config()
        },
        quiet_streams_are_cut_with_read_timeout_on,
    )
    .await;
}

async fn quiet_streams_are_cut_with_read_timeout_on(t: TestHub) {
    archive_resource(&t).await;
    let civil = t.client(CIVIL).await;
    let market = t.client(MARKET).await;
    let mut listener = market.listen(8).await.unwrap();

    // An upload holding CIVIL's whole share, then silence.
    let mut raw = upload_stalled(&civil, 1, 4 * MIB, 1000).await;
    let op = raw.answer_within(Duration::from_secs(10)).await.unwrap();
    assert_eq!(error_code(&op), ErrorCode::ReadTimeout, "{op:?}");
    // Its share is back: an upload of the same size goes through.
    let bytes = serde_json::to_vec(&archive(12)).unwrap();
    assert!(bytes.len() as u64 > 3 * MIB);
    let r = civil.upload(bytes, "application/json").await.unwrap();

    // Three bytes of a length, then nothing: no first frame.
    let mut raw = Raw::open(&civil).await;
    raw.send.write_all(&[0, 0, 1]).await.unwrap();
    let op = raw.answer_within(Duration::from_secs(10)).await.unwrap();
    assert_eq!(error_code(&op), ErrorCode::ReadTimeout, "{op:?}");

    // A send stream: one envelope whole, half of the next, then nothing.
    let mut raw = Raw::open(&civil).await;
    let mut frames = Vec::new();
    for payload in [archive(0), archive(0)] {
        let draft = civil.message_to(MARKET, "case-archive", "case-archive@1", payload);
        let envelope = civil.sign(&draft).unwrap();
        frames.push(tongban_proto::encode(
            &ClientOp::Send { envelope }.to_value(),
        ));
    }
    raw.send.write_all(&frames[0]).await.unwrap();
    raw.send
        .write_all(&frames[1][..frames[1].len() / 2])
        .await
        .unwrap();
    let first = raw.answer_within(Duration::from_secs(10)).await.unwrap();
    assert!(matches!(first, ServerOp::Accepted { .. }), "{first:?}");
    let op = raw.answer_within(Duration::from_secs(10)).await.unwrap();
    assert_eq!(error_code(&op), ErrorCode::ReadTimeout, "{op:?}");

    // The listener was quiet for longer than the deadline and still
    // receives (the whole envelope above, and one by reference now).
    let d = next_delivery(&mut listener).await;
    assert_eq!(d.envelope["sender"], CIVIL);
    listener.ack(d.delivery).await.unwrap();
    send_within(&civil, by_reference(&civil, r)).await.unwrap();
    let d = next_delivery(&mut listener).await;
    assert!(d.envelope["payloadRef"].is_object());
    t.stop().await;
}

/// Unfinished frames on many streams: a department holds at most its share
/// of frame memory; the streams beyond get `BUSY`, others are unaffected,
/// and the share is free again once the frames end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_frames_beyond_a_departments_share_are_refused() {
    crate::each_backend(
        "unfinished_frames_beyond_a_departments_share_are_refused",
        ServeConfig {
            frame_buffer_per_department: 3 * MIB,
            read_timeout: Duration::from_secs(120),
            ..fast_config()
        },
        unfinished_frames_beyond_a_departments_share_are_refused_on,
    )
    .await;
}

async fn unfinished_frames_beyond_a_departments_share_are_refused_on(t: TestHub) {
    archive_resource(&t).await;
    let civil = t.client(CIVIL).await;
    let market = t.client(MARKET).await;
    const LEN: usize = 1_000_000;
    const SENT: usize = 900_000;
    let mut streams = Vec::new();
    for _ in 0..8 {
        let mut raw = Raw::open(&civil).await;
        let mut bytes = (LEN as u32).to_be_bytes().to_vec();
        bytes.resize(4 + SENT, b' ');
        // A refused stream is stopped: the write may fail.
        let _ = tokio::time::timeout(Duration::from_secs(10), raw.send.write_all(&bytes)).await;
        streams.push(raw);
    }
    let mut busy = 0;
    let mut held = Vec::new();
    for mut raw in streams {
        match raw.answer_within(Duration::from_secs(3)).await {
            Some(op) => {
                assert_eq!(error_code(&op), ErrorCode::Busy, "{op:?}");
                busy += 1;
            }
            None => held.push(raw),
        }
    }
    // 3 MiB holds three of the 900,004-byte beginnings, not four.
    assert!(
        (1..=3).contains(&held.len()),
        "{} streams held, {busy} refused",
        held.len()
    );
    assert_eq!(busy + held.len(), 8);

    // A frame of CIVIL's that does not fit beside them is refused; other
    // departments are unaffected.
    // Inline, however large (the client would send it by reference).
    let inline = civil.clone().with_inline_limit(4 << 20);
    let large = || inline.message_to(MARKET, "case-archive", "case-archive@1", archive(3));
    if held.len() == 3 {
        assert_eq!(send_within(&inline, large()).await, Err(ErrorCode::Busy));
    }
    send_within(&market, registration_to(&market, CIVIL))
        .await
        .unwrap();

    // The held frames end (as garbage): their memory is given back.
    for raw in &mut held {
        raw.send.write_all(&vec![b' '; LEN - SENT]).await.unwrap();
        let op = raw.answer_within(Duration::from_secs(10)).await.unwrap();
        assert_eq!(error_code(&op), ErrorCode::FrameMalformed, "{op:?}");
    }
    send_within(&inline, large()).await.unwrap();
    t.stop().await;
}

/// A department's connections beyond its cap are closed with code 4 and
/// a reason starting `BUSY`; other departments still connect, and so does
/// the department once one of its connections ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_a_departments_cap_are_closed_busy() {
    crate::each_backend(
        "connections_beyond_a_departments_cap_are_closed_busy",
        ServeConfig {
            connections_per_department: 2,
            ..fast_config()
        },
        connections_beyond_a_departments_cap_are_closed_busy_on,
    )
    .await;
}

async fn connections_beyond_a_departments_cap_are_closed_busy_on(t: TestHub) {
    let first = t.client(CIVIL).await;
    let _second = t.client(CIVIL).await;
    let third = t.client(CIVIL).await;
    let mut reason = None;
    for _ in 0..100 {
        reason = third.close_reason();
        if reason.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = reason.expect("the third connection was closed");
    assert!(reason.starts_with("BUSY: "), "{reason}");
    assert!(reason.contains(CIVIL), "{reason}");

    let market = t.client(MARKET).await;
    send_within(&market, registration_to(&market, CIVIL))
        .await
        .unwrap();

    first.close().await;
    let mut subscribed = None;
    for _ in 0..50 {
        let again = t.client(CIVIL).await;
        match again.subscribe(&["business-registration"]).await {
            Ok(topics) => {
                subscribed = Some(topics);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        subscribed,
        Some(vec!["business-registration".to_owned()]),
        "a connection is free again"
    );
    t.stop().await;
}

/// One requester cannot fill a provider's queue: past its share of
/// requests waiting on the provider it gets `BUSY` (nothing stored), while
/// another requester's request still reaches the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_requester_cannot_fill_a_providers_queue() {
    crate::each_backend(
        "one_requester_cannot_fill_a_providers_queue",
        ServeConfig {
            requests_per_requester: 2,
            ..fast_config()
        },
        one_requester_cannot_fill_a_providers_queue_on,
    )
    .await;
}

async fn one_requester_cannot_fill_a_providers_queue_on(t: TestHub) {
    let now = t.hub.now();
    approve_health_for_registrations(
        &t.hub,
        now - time::Duration::hours(1),
        now + time::Duration::days(1),
    )
    .await;
    let market = t.client(MARKET).await;
    let civil = t.client(CIVIL).await;
    let health = t.client(HEALTH).await;
    // Else HEALTH's request below could be refused ACCESS_NOT_GRANTED on a
    // loaded machine and never reach the provider.
    crate::wait_admitted(&t, HEALTH, "business-registration").await;
    let mut provider = market.listen(16).await.unwrap();
    let query = || registration("91440114MA5TB0A01K");

    let mut waiting = Vec::new();
    for _ in 0..2 {
        let civil = civil.clone();
        let draft = civil.request_for("business-registration", "business-registration@1", query());
        waiting.push(tokio::spawn(
            async move { civil.request(draft, 30_000).await },
        ));
    }
    let mut asked = Vec::new();
    for _ in 0..2 {
        let d = next_request(&mut provider).await;
        assert_eq!(
            (d.kind(), d.envelope["sender"].as_str()),
            ("request", Some(CIVIL))
        );
        asked.push(d);
    }
    let refused = civil
        .request(
            civil.request_for("business-registration", "business-registration@1", query()),
            30_000,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Busy), "{refused}");

    let other = {
        let health = health.clone();
        let draft = health.request_for("business-registration", "business-registration@1", query());
        tokio::spawn(async move { health.request(draft, 30_000).await })
    };
    let d = next_request(&mut provider).await;
    assert_eq!(d.envelope["sender"], HEALTH);
    let counts = t.hub.store().exchange_counts().await.unwrap();
    assert!(
        counts.contains(&("messages.request".to_owned(), 3)),
        "the refused request was not stored: {counts:?}"
    );

    // Once one is answered, CIVIL may ask again.
    provider
        .respond(&d, "business-registration@1", query())
        .await
        .unwrap();
    provider
        .respond(&asked[0], "business-registration@1", query())
        .await
        .unwrap();
    for _ in 0..2 {
        responded(&mut provider).await;
    }
    other.await.unwrap().unwrap();
    let again = {
        let civil = civil.clone();
        let draft = civil.request_for("business-registration", "business-registration@1", query());
        tokio::spawn(async move { civil.request(draft, 30_000).await })
    };
    let d = next_request(&mut provider).await;
    assert_eq!(d.envelope["sender"], CIVIL);
    provider
        .respond(&d, "business-registration@1", query())
        .await
        .unwrap();
    again.await.unwrap().unwrap();
    provider
        .respond(&asked[1], "business-registration@1", query())
        .await
        .unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    t.stop().await;
}
