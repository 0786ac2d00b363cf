//! The W3C vc-di-eddsa test vector (eddsa-jcs-2022) must verify, and any
//! tampered copy must not.

use serde_json::Value;
use tongban_licence::{ProblemCode, Trust, verify};
use tongban_seal::{KeyRecord, PublicKey, Validity};

use crate::fixture::{NOW, options};

pub fn vector() -> (Value, PublicKey) {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/eddsa-jcs-2022");
    let credential: Value =
        serde_json::from_slice(&std::fs::read(dir.join("signed-credential.json")).unwrap())
            .unwrap();
    let key: Value =
        serde_json::from_slice(&std::fs::read(dir.join("public-key.json")).unwrap()).unwrap();
    let key = PublicKey::from_multikey(key["publicKeyMultibase"].as_str().unwrap()).unwrap();
    (credential, key)
}

pub fn vector_trust(key: PublicKey) -> Trust {
    let mut trust = Trust::new();
    trust.add_key(KeyRecord {
        controller: "https://vc.example/issuers/5678".into(),
        public: key,
        validity: Validity::from(time::macros::datetime!(2020-01-01 0:00 UTC)),
        purpose: tongban_seal::KeyPurpose::Issue,
    });
    trust
}

#[test]
fn the_published_vector_verifies() {
    let (credential, key) = vector();
    let result = verify(&vector_trust(key), credential, options());
    assert!(result.valid, "{:?}", result.problems);
    assert_eq!(
        result.summary.unwrap().issuer,
        "https://vc.example/issuers/5678"
    );
}

/// Every string in the credential (including the proof's fields), changed in
/// one character, makes verification fail.
#[test]
fn every_tampered_copy_is_rejected() {
    let (credential, key) = vector();
    let trust = vector_trust(key);
    let mut paths = Vec::new();
    collect_strings(&credential, String::new(), &mut paths);
    assert!(paths.len() > 15, "{paths:?}");
    for path in paths {
        let mut tampered = credential.clone();
        let s = tampered.pointer_mut(&path).unwrap();
        let Value::String(text) = s else {
            unreachable!()
        };
        let mut chars: Vec<char> = text.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        *text = chars.into_iter().collect();
        let result = verify(&trust, tampered, options());
        assert!(!result.valid, "tampering {path} went unnoticed");
    }
    // Added and removed members too.
    let mut added = credential.clone();
    added["credentialSubject"]["extra"] = Value::from("x");
    assert!(verify(&trust, added, options()).has(ProblemCode::ProofInvalid));
    let mut removed = credential.clone();
    removed.as_object_mut().unwrap().remove("description");
    assert!(verify(&trust, removed, options()).has(ProblemCode::ProofInvalid));
    let mut reordered_context = credential.clone();
    reordered_context["@context"]
        .as_array_mut()
        .unwrap()
        .reverse();
    assert!(!verify(&trust, reordered_context, options()).valid);
    // Reordering members or whitespace changes nothing (canonical form).
    let text = serde_json::to_string_pretty(&credential).unwrap();
    let reparsed: Value = serde_json::from_str(&text).unwrap();
    assert!(verify(&trust, reparsed, options()).valid);
    let _ = NOW;
}

fn collect_strings(v: &Value, path: String, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() => out.push(path),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| collect_strings(x, format!("{path}/{i}"), out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            collect_strings(
                x,
                format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        _ => {}
    }
}
