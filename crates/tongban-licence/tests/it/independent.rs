//! A second, independent eddsa-jcs-2022 verifier written from the
//! specification's steps (W3C vc-di-eddsa §3.3.2) with another JCS
//! implementation and the raw Ed25519 library: our licences must verify
//! there, and the W3C vector must verify in both.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fixture::World;

/// Returns Ok(()) when `secured` verifies with the Ed25519 key `public`.
fn spec_verify(secured: &Value, public: &[u8; 32]) -> Result<(), String> {
    // 1. unsecuredDocument = securedDocument without proof.
    let mut unsecured = secured.clone();
    let proof = unsecured
        .as_object_mut()
        .unwrap()
        .remove("proof")
        .ok_or("no proof")?;
    // 2. proofOptions = proof without proofValue.
    let mut options = proof.clone();
    let proof_value = options
        .as_object_mut()
        .unwrap()
        .remove("proofValue")
        .ok_or("no proofValue")?;
    // 3. proofBytes = multibase-decode(proofValue).
    let proof_value = proof_value.as_str().ok_or("proofValue not a string")?;
    let proof_bytes = bs58::decode(proof_value.strip_prefix('z').ok_or("not base58btc")?)
        .into_vec()
        .map_err(|e| e.to_string())?;
    // 4. @context handling.
    if let Some(ctx) = options.get("@context") {
        let doc_ctx = unsecured
            .get("@context")
            .ok_or("document has no @context")?;
        let (p, d) = (
            ctx.as_array().ok_or("ctx")?,
            doc_ctx.as_array().ok_or("ctx")?,
        );
        if p.len() > d.len() || p.iter().zip(d).any(|(a, b)| a != b) {
            return Err("context mismatch".into());
        }
        unsecured["@context"] = ctx.clone();
    }
    // 5. transformation: JCS.
    let transformed = serde_json_canonicalizer::to_vec(&unsecured).map_err(|e| e.to_string())?;
    // 6. proof configuration.
    if options["type"] != "DataIntegrityProof" || options["cryptosuite"] != "eddsa-jcs-2022" {
        return Err("not eddsa-jcs-2022".into());
    }
    let mut config = options.clone();
    if let Some(ctx) = unsecured.get("@context") {
        config["@context"] = ctx.clone();
    }
    let canonical_config = serde_json_canonicalizer::to_vec(&config).map_err(|e| e.to_string())?;
    // 7. hashing.
    let mut hash_data = Sha256::digest(&canonical_config).to_vec();
    hash_data.extend_from_slice(&Sha256::digest(&transformed));
    // 8. verify.
    let key = ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|e| e.to_string())?;
    let sig = ed25519_dalek::Signature::from_slice(&proof_bytes).map_err(|e| e.to_string())?;
    key.verify_strict(&hash_data, &sig)
        .map_err(|e| e.to_string())
}

#[test]
fn the_w3c_vector_verifies_in_the_independent_verifier() {
    let (credential, key) = crate::w3c_vector::vector();
    spec_verify(&credential, key.as_bytes()).unwrap();
    let mut tampered = credential.clone();
    tampered["validFrom"] = "2023-01-01T00:00:01Z".into();
    assert!(spec_verify(&tampered, key.as_bytes()).is_err());
}

#[test]
fn our_licences_verify_in_the_independent_verifier() {
    let mut world = World::new();
    let mut requests = vec![world.business_request()];
    let mut disability = world.business_request();
    disability.type_code = crate::fixture::DISABILITY_CERTIFICATE.into();
    disability.holder = tongban_licence::Holder {
        name: "周振华".into(),
        code: tongban_codes::HolderCode::parse(
            tongban_codes::HolderCodeType::CitizenId,
            "441802200807160810",
        )
        .unwrap(),
    };
    disability.data = crate::fixture::example("disability-certificate");
    requests.push(disability);
    for (i, request) in requests.iter().enumerate() {
        let issued = world.issue(request, i == 0, crate::fixture::NOW).unwrap();
        let key = if i == 0 {
            world.market.key.public()
        } else {
            world.disabled.key.public()
        };
        spec_verify(&issued.credential, key.as_bytes()).unwrap();
        // And what we write to files (pretty JSON) verifies there too.
        let text = serde_json::to_string_pretty(&issued.credential).unwrap();
        spec_verify(&serde_json::from_str(&text).unwrap(), key.as_bytes()).unwrap();
    }
}
