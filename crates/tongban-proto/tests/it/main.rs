#![allow(clippy::unwrap_used)]

mod decode_anything;
mod envelopes;
mod strict;
mod vectors;

/// MARKET's message `id` to CIVIL on the business-registration resource,
/// written at `time`, carrying `payload`.
fn registration_message(
    id: &str,
    time: time::OffsetDateTime,
    payload: serde_json::Value,
) -> tongban_proto::Draft {
    tongban_proto::Draft {
        id: id.into(),
        sender: "11440114MB2C00007U".into(),
        recipient: Some("11440114MB2C00015N".into()),
        topic: None,
        resource: "business-registration".into(),
        schema: "business-registration@1".into(),
        kind: tongban_proto::Kind::Message,
        correlation_id: None,
        time,
        payload: Some(payload),
        payload_ref: None,
    }
}

/// Every error code is in the protocol document's table, and the table
/// names no code the library does not know.
#[test]
fn the_protocol_document_lists_every_error_code() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/PROTOCOL.md"
    ))
    .unwrap();
    let table: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
        .collect();
    for code in tongban_proto::ErrorCode::ALL {
        assert!(table.contains(&code.as_str()), "{code} is not documented");
    }
    for name in &table {
        assert_eq!(
            tongban_proto::ErrorCode::parse(name).as_str(),
            *name,
            "the document lists {name}, which the library does not know"
        );
    }
}
