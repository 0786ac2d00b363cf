//! Credentials from `did:key` issuers: verified with the key the DID
//! names when the verifier accepts them, unknown otherwise.

use serde_json::{Value, json};
use tongban_licence::{ProblemCode, Trust, di, didkey, verify};
use tongban_seal::SigningKey;

use crate::fixture::{NOW, options};

fn signed_by(key: &SigningKey, issuer: &str, verification_method: &str) -> Value {
    let mut credential = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:0f0e0d0c-0b0a-4908-8706-050403020100",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder", "name": "某某"}
    });
    let map = credential.as_object_mut().unwrap();
    di::add_proof(map, key, verification_method, NOW).unwrap();
    credential
}

fn accepting() -> Trust {
    let mut trust = Trust::new();
    trust.accept_did_key(true);
    trust
}

#[test]
fn a_did_key_credential_verifies_when_did_key_is_accepted() {
    let key = SigningKey::from_seed(&[42; 32]);
    let did = didkey::did_of(&key.public());
    let vm = didkey::verification_method_of(&key.public());
    let credential = signed_by(&key, &did, &vm);
    let result = verify(&accepting(), credential.clone(), options());
    assert!(result.valid, "{:?}", result.problems);
    assert_eq!(result.summary.unwrap().issuer, did);
    // Not accepted: the key is unknown, as any key outside the trust.
    let refused = verify(&Trust::new(), credential, options());
    assert!(
        refused.has(ProblemCode::KeyUnknown),
        "{:?}",
        refused.problems
    );
}

#[test]
fn a_tampered_did_key_credential_is_refused() {
    let key = SigningKey::from_seed(&[42; 32]);
    let did = didkey::did_of(&key.public());
    let vm = didkey::verification_method_of(&key.public());
    let mut credential = signed_by(&key, &did, &vm);
    credential["credentialSubject"]["name"] = json!("另一人");
    let result = verify(&accepting(), credential, options());
    assert!(
        result.has(ProblemCode::ProofInvalid),
        "{:?}",
        result.problems
    );
}

#[test]
fn a_did_key_speaks_only_for_itself() {
    let key = SigningKey::from_seed(&[42; 32]);
    let other = SigningKey::from_seed(&[43; 32]);
    let vm = didkey::verification_method_of(&key.public());
    // Signed with the DID's key, claiming another issuer.
    let claimed = signed_by(&key, "urn:uscc:91440114MA59XXXX0X", &vm);
    let result = verify(&accepting(), claimed, options());
    assert!(
        result.has(ProblemCode::KeyNotIssuers),
        "{:?}",
        result.problems
    );
    // Signed with another key than the one the DID names.
    let did = didkey::did_of(&key.public());
    let forged = signed_by(&other, &did, &vm);
    let result = verify(&accepting(), forged, options());
    assert!(
        result.has(ProblemCode::ProofInvalid),
        "{:?}",
        result.problems
    );
    // A method whose fragment is not the DID's key names nothing.
    let mixed = format!("{did}#{}", other.public().to_multikey());
    let result = verify(&accepting(), signed_by(&other, &did, &mixed), options());
    assert!(result.has(ProblemCode::KeyUnknown), "{:?}", result.problems);
}
