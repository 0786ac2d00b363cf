//! What is wrong with a licence's proof or identifier is reported with its
//! own code, and with nothing else: each bad licence below is re-signed
//! after the change where the change does not itself break the proof.

use serde_json::{Value, json};
use time::Duration;
use tongban_licence::{ProblemCode, verify};

use crate::fixture::{NOW, World, options};

/// The codes of what verification found, in order.
fn problems(world: &World, credential: Value) -> Vec<ProblemCode> {
    verify(&world.trust(), credential, options())
        .problems
        .iter()
        .map(|p| p.code)
        .collect()
}

/// `credential` signed afresh by the market regulator's key, at `created`.
fn resigned(world: &World, credential: Value, created: time::OffsetDateTime) -> Value {
    let Value::Object(mut map) = credential else {
        panic!("not an object");
    };
    tongban_licence::di::add_proof(
        &mut map,
        &world.market.key,
        &world.market.record.verification_method(),
        created,
    )
    .unwrap();
    Value::Object(map)
}

#[test]
fn a_licence_without_a_proof_is_proof_missing() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let mut bare = licence.credential.clone();
    bare.as_object_mut().unwrap().remove("proof");
    assert_eq!(problems(&world, bare), [ProblemCode::ProofMissing]);
}

#[test]
fn proofs_of_another_kind_are_unsupported() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let proof = licence.credential["proof"].clone();
    // A list of one proof is the same proof.
    let mut listed = licence.credential.clone();
    listed["proof"] = json!([proof.clone()]);
    assert_eq!(problems(&world, listed), []);

    let mut two = licence.credential.clone();
    two["proof"] = json!([proof.clone(), proof.clone()]);
    let mut other_type = licence.credential.clone();
    other_type["proof"]["type"] = json!("Ed25519Signature2020");
    let mut other_suite = licence.credential.clone();
    other_suite["proof"]["cryptosuite"] = json!("ecdsa-jcs-2019");
    let mut other_purpose = licence.credential.clone();
    other_purpose["proof"]["proofPurpose"] = json!("authentication");
    for (what, credential) in [
        ("two proofs", two),
        ("another proof type", other_type),
        ("another cryptosuite", other_suite),
        ("another purpose", other_purpose),
    ] {
        assert_eq!(
            problems(&world, credential),
            [ProblemCode::ProofUnsupported],
            "{what}"
        );
    }
}

#[test]
fn a_proof_context_that_is_not_a_prefix_of_the_credentials_is_refused() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let context = licence.credential["@context"].clone();
    assert!(
        context.as_array().is_some_and(|c| c.len() >= 2),
        "{context}"
    );
    // The prefix the proof states is fine (vc-di-eddsa §3.3.2 step 4)…
    let mut shorter = licence.credential.clone();
    shorter["proof"]["@context"] = json!([context[0].clone()]);
    let shorter = problems(&world, shorter);
    assert!(
        !shorter.contains(&ProblemCode::ProofContextMismatch),
        "{shorter:?}"
    );
    // …a context the credential does not start with is not.
    let mut other = licence.credential.clone();
    other["proof"]["@context"] = json!(["https://example.org/another/v1"]);
    assert_eq!(problems(&world, other), [ProblemCode::ProofContextMismatch]);
}

#[test]
fn a_proof_made_later_than_the_verifiers_clock_allows_is_refused() {
    let mut world = World::new();
    let mut request = world.business_request();
    request.valid_from = Some(NOW - Duration::days(1));
    let licence = world.issue(&request, true, NOW).unwrap();
    // Five minutes of skew are tolerated; a second more is not.
    let at_the_limit = resigned(
        &world,
        licence.credential.clone(),
        NOW + Duration::minutes(5),
    );
    assert_eq!(problems(&world, at_the_limit), []);
    let ahead = resigned(
        &world,
        licence.credential.clone(),
        NOW + Duration::minutes(5) + Duration::seconds(1),
    );
    assert_eq!(problems(&world, ahead), [ProblemCode::ProofFromFuture]);
}

#[test]
fn an_identifier_that_disagrees_with_the_credential_is_refused() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let other = world.issue(&world.business_request(), true, NOW).unwrap();
    assert_eq!(problems(&world, licence.credential.clone()), []);
    // The credential's id names another licence than its metadata.
    let mut moved = licence.credential.clone();
    moved["id"] = other.credential["id"].clone();
    // The identifier (and the id it makes) names another type than the
    // metadata's type code.
    let another_type = tongban_codes::LicenceIdentifier::new(
        "11100000TB0000002N001".parse().unwrap(),
        licence.identifier.issuer().clone(),
        "2026112500000000",
        1,
    )
    .unwrap();
    let mut retyped = licence.credential.clone();
    retyped["licence"]["identifier"] = json!(another_type.as_str());
    retyped["id"] = json!(format!("urn:licence:{}", another_type.as_str()));
    // The issuer code is another department's.
    let mut reissued = licence.credential.clone();
    reissued["licence"]["issuerCode"] = json!(world.disabled.code.as_str());
    for (what, credential) in [
        ("id", moved),
        ("typeCode", retyped),
        ("issuerCode", reissued),
    ] {
        let signed = resigned(&world, credential, NOW);
        assert_eq!(
            problems(&world, signed),
            [ProblemCode::IdentifierMismatch],
            "{what}"
        );
    }
}
