//! Frames are read strictly: a repeated member name is refused, with
//! `ENVELOPE_MALFORMED` inside the envelope and `FRAME_MALFORMED` elsewhere.

use serde_json::json;
use time::macros::datetime;
use tongban_proto::{Decoder, Draft, ErrorCode, Kind, envelope, frame};
use tongban_seal::SigningKey;

fn framed(body: &str) -> Vec<u8> {
    let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// The decoder's answer to one frame body: `None` when it is a frame.
fn decode(body: &str) -> Option<ErrorCode> {
    let mut d = Decoder::new(frame::DEFAULT_MAX_FRAME);
    d.push(&framed(body));
    match d.next_frame() {
        Ok(Some(_)) => None,
        Ok(None) => panic!("{body}: the frame is whole"),
        Err(e) => Some(e.code),
    }
}

#[test]
fn repeated_members_in_frames() {
    use ErrorCode::{EnvelopeMalformed as E, FrameMalformed as F};
    let cases: &[(&str, Option<ErrorCode>)] = &[
        (r#"{"op":"send","envelope":{"id":"a"}}"#, None),
        (r#"{"op":"send","op":"listen"}"#, Some(F)),
        (
            r#"{"op":"listen","maxInFlight":1,"maxInFlight":1024}"#,
            Some(F),
        ),
        (r#"{"op":"send","envelope":{},"envelope":{}}"#, Some(F)),
        (
            r#"{"op":"subscribe","topics":["a"],"\u0074opics":["b"]}"#,
            Some(F),
        ),
        (r#"{"op":"send","envelope":{"id":"a","id":"b"}}"#, Some(E)),
        (
            r#"{"op":"send","envelope":{"id":"a","\u0069d":"b"}}"#,
            Some(E),
        ),
        (
            r#"{"op":"send","envelope":{"payload":{"name":"甲","name":"乙"}}}"#,
            Some(E),
        ),
        (
            r#"{"op":"request","envelope":{"payload":{"a":[{"b":1,"b":1}]}}}"#,
            Some(E),
        ),
        (
            r#"{"op":"send","envelope":{"payloadRef":{"size":1,"size":2}}}"#,
            Some(E),
        ),
        (
            r#"{"op":"respond","envelope":{"signature":"z1","signature":"z2"}}"#,
            Some(E),
        ),
        // Elsewhere in the frame, not the envelope's.
        (r#"{"op":"send","envelopes":{"a":1,"a":1}}"#, Some(F)),
        (r#"{"op":"send","x":{"envelope":{"a":1,"a":1}}}"#, Some(F)),
        // Not JSON at all stays FRAME_MALFORMED.
        (r#"{"op":"send","envelope":{"id":"\ud800"}}"#, Some(F)),
        (r#"{"op":"send"} {}"#, Some(F)),
    ];
    for (body, expected) in cases {
        assert_eq!(decode(body), *expected, "{body}");
    }
}

#[test]
fn a_refused_frame_is_consumed_and_the_next_one_reads() {
    let mut d = Decoder::new(frame::DEFAULT_MAX_FRAME);
    d.push(&framed(r#"{"op":"send","envelope":{"id":"a","id":"b"}}"#));
    d.push(&framed(r#"{"op":"ack","delivery":7}"#));
    let e = d.next_frame().unwrap_err();
    assert_eq!(e.code, ErrorCode::EnvelopeMalformed);
    assert!(e.message.contains("/envelope/id"), "{}", e.message);
    assert_eq!(d.next_frame().unwrap().unwrap()["delivery"], 7);
    d.finish().unwrap();
}

/// A signed envelope whose text gains a second `payload` member: a reader
/// that keeps the first would see the signed payload, one that keeps the
/// last another. It never reaches the signature check.
#[test]
fn a_signed_envelope_with_a_second_payload_is_refused() {
    let key = SigningKey::from_seed(&[1; 32]);
    let signed = crate::registration_message(
        "m-1",
        datetime!(2026-11-25 03:00 UTC),
        json!({"entityName": "甲公司"}),
    )
    .sign(&key)
    .unwrap();
    let text = json!({"op": "send", "envelope": signed}).to_string();
    // As signed, it decodes and parses.
    let mut d = Decoder::new(frame::DEFAULT_MAX_FRAME);
    d.push(&framed(&text));
    let f = d.next_frame().unwrap().unwrap();
    envelope::parse(f["envelope"].clone()).unwrap();
    // With a second payload after the signed one, and before it.
    for forged in [
        text.replacen(
            r#""payload":{"entityName":"甲公司"}"#,
            r#""payload":{"entityName":"甲公司"},"payload":{"entityName":"乙公司"}"#,
            1,
        ),
        text.replacen(
            r#""payload":{"entityName":"甲公司"}"#,
            r#""payload":{"entityName":"乙公司"},"payload":{"entityName":"甲公司"}"#,
            1,
        ),
    ] {
        assert_ne!(forged, text);
        let e = decode(&forged).unwrap();
        assert_eq!(e, ErrorCode::EnvelopeMalformed, "{forged}");
    }
}

/// Every string of an envelope has a limit: the members the hub looks
/// up are no longer than what they name may be.
#[test]
fn envelope_strings_have_limits() {
    let key = SigningKey::from_seed(&[1; 32]);
    let base = Draft {
        id: "m-1".into(),
        sender: "11440114MB2C00007U".into(),
        recipient: None,
        topic: None,
        resource: "business-registration".into(),
        schema: "business-registration@1".into(),
        kind: Kind::Response,
        correlation_id: Some("r-1".into()),
        time: datetime!(2026-11-25 03:00 UTC),
        payload: None,
        payload_ref: None,
    }
    .sign(&key)
    .unwrap();
    let long = |n: usize| json!("a".repeat(n));
    let reference = |media: serde_json::Value| json!({"sha256": "ab".repeat(32), "size": 1, "mediaType": media});
    let cases = [
        ("recipient", long(64), None),
        ("recipient", long(65), Some(ErrorCode::EnvelopeMalformed)),
        ("topic", long(100), None),
        ("topic", long(101), Some(ErrorCode::EnvelopeMalformed)),
        ("correlationId", long(128), None),
        (
            "correlationId",
            long(129),
            Some(ErrorCode::EnvelopeMalformed),
        ),
        ("payloadRef", reference(long(100)), None),
        (
            "payloadRef",
            reference(long(101)),
            Some(ErrorCode::EnvelopeMalformed),
        ),
        (
            "payloadRef",
            reference(json!(7)),
            Some(ErrorCode::EnvelopeMalformed),
        ),
        ("payloadRef", reference(json!(null)), None),
    ];
    for (member, value, expected) in cases {
        let mut e = base.clone();
        e[member] = value.clone();
        let got = envelope::parse(e).err().map(|e| e.code);
        assert_eq!(got, expected, "{member} = {value}");
    }
}
