//! The test vector of docs/PROTOCOL.md §4.3 (also `docs/vectors/envelope-1.json`):
//! both are read here and checked against the code, so that what other
//! implementations check themselves against cannot drift from it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tongban_proto::envelope::{self, DOMAIN};
use tongban_proto::{Draft, Kind, PayloadRef};
use tongban_seal::timefmt::parse_rfc3339;
use tongban_seal::{KeyRecord, SigningKey, Validity, jcs};

const NAME: &str = "envelope-1";

fn repo_file(path: &str) -> String {
    let full = format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn vector() -> Value {
    serde_json::from_str(&repo_file(&format!("docs/vectors/{NAME}.json"))).unwrap()
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("the vector has no string {name}"))
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The fenced blocks of the document marked `<!-- vector:{NAME} {field} -->`
/// on the line before the fence, by field.
fn doc_blocks(doc: &str) -> BTreeMap<String, String> {
    let marker = format!("<!-- vector:{NAME} ");
    let mut blocks = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(field) = line
            .strip_prefix(&marker)
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "{field}: no fenced block after the marker"
        );
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let previous = blocks.insert(field.to_owned(), body.join("\n"));
        assert!(previous.is_none(), "{field} is marked twice");
    }
    blocks
}

/// The vector's key, envelope, canonical text, signed bytes, digest and
/// signature are what the code computes.
#[test]
fn the_vector_file_is_what_the_code_computes() {
    let v = vector();
    let seed: [u8; 32] = unhex(text(&v, "seed")).try_into().unwrap();
    let key = SigningKey::from_seed(&seed);
    assert_eq!(
        tongban_seal::hex(key.public().as_bytes()),
        text(&v, "publicKey")
    );
    assert_eq!(key.public().to_multikey(), text(&v, "keyId"));
    assert_eq!(key.to_secret_multikey().as_str(), text(&v, "secretKey"));
    let from_file = SigningKey::from_secret_multikey(text(&v, "secretKey")).unwrap();
    assert_eq!(*from_file.seed(), seed);

    let envelope = v["envelope"].clone();
    assert_eq!(envelope["keyId"], v["keyId"]);
    assert_eq!(envelope["signature"], v["signature"]);
    let mut unsigned: Map<String, Value> = envelope.as_object().unwrap().clone();
    unsigned.remove("signature");
    let canonical = jcs::canonicalize(&Value::Object(unsigned));
    assert_eq!(
        String::from_utf8(canonical.clone()).unwrap(),
        text(&v, "canonical")
    );
    let signed = [DOMAIN, &canonical].concat();
    assert_eq!(tongban_seal::hex(&signed), text(&v, "signedBytes"));
    assert_eq!(
        tongban_seal::hex(&tongban_seal::sha256(&signed)),
        text(&v, "signedBytesSha256")
    );
    assert_eq!(key.sign(&signed).to_multibase(), text(&v, "signature"));

    // The hub's reading of it: it parses and verifies, with that digest.
    let record = KeyRecord {
        controller: format!("urn:uscc:{}", text(&envelope, "sender")),
        public: key.public(),
        validity: Validity::from(parse_rfc3339("2026-01-01T00:00:00Z").unwrap()),
        purpose: tongban_seal::KeyPurpose::Exchange,
    };
    let verified = envelope::parse(envelope.clone())
        .unwrap()
        .verify(&record)
        .unwrap();
    assert_eq!(verified.digest(), text(&v, "signedBytesSha256"));

    // And the reference client's Draft::sign writes exactly this envelope.
    let field = |name: &str| envelope[name].as_str().map(str::to_owned);
    let draft = Draft {
        id: field("id").unwrap(),
        sender: field("sender").unwrap(),
        recipient: field("recipient"),
        topic: field("topic"),
        resource: field("resource").unwrap(),
        schema: field("schema").unwrap(),
        kind: Kind::Message,
        correlation_id: field("correlationId"),
        time: parse_rfc3339(text(&envelope, "time")).unwrap(),
        payload: Some(envelope["payload"].clone()),
        payload_ref: None::<PayloadRef>,
    };
    assert_eq!(envelope["kind"], "message");
    assert_eq!(draft.sign(&key).unwrap(), envelope);
}

/// docs/PROTOCOL.md §4.3 shows the vector's values, as they are in the file.
#[test]
fn the_protocol_document_shows_the_vector() {
    let v = vector();
    let doc = repo_file("docs/PROTOCOL.md");
    let blocks = doc_blocks(&doc);
    let fields = [
        "seed",
        "publicKey",
        "secretKey",
        "keyId",
        "envelope",
        "canonical",
        "signedBytesSha256",
        "signature",
    ];
    assert_eq!(
        blocks.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut sorted = fields.to_vec();
            sorted.sort_unstable();
            sorted
        },
        "the document marks exactly these blocks"
    );
    for field in fields {
        let shown = &blocks[field];
        if field == "envelope" {
            let parsed: Value = serde_json::from_str(shown).unwrap();
            assert_eq!(parsed, v["envelope"], "the envelope shown");
        } else {
            assert_eq!(shown, text(&v, field), "{field}");
        }
    }
    let canonical_len = text(&v, "canonical").len();
    for sentence in [
        format!("That is {canonical_len} bytes of UTF-8"),
        format!(
            "the signed bytes are {} bytes",
            canonical_len + DOMAIN.len()
        ),
    ] {
        let flat = doc.replace('\n', " ");
        assert!(flat.contains(&sentence), "the document says {sentence:?}");
    }
}
