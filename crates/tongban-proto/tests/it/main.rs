#![allow(clippy::unwrap_used)]

mod decode_anything;
mod envelopes;
mod strict;
mod vectors;

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
