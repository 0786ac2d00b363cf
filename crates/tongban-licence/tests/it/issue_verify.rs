//! Issue every shipped licence type, verify, and every kind of bad input
//! with its distinct problem code.

use std::collections::HashMap;

use serde_json::{Value, json};
use time::{Duration, macros::datetime};
use tongban_codes::{HolderCode, HolderCodeType};
use tongban_licence::credential::{blob_urn, organisation_urn};
use tongban_licence::{
    AttachmentRef, Holder, LicenceStatus, ProblemCode, VerifyOptions, verify, verify_bytes,
    verify_many,
};
use tongban_seal::{KeyRecord, SigningKey};

use crate::fixture::{NOW, World, example, options};

fn citizen(name: &str, id: &str) -> Holder {
    Holder {
        name: name.into(),
        code: HolderCode::parse(HolderCodeType::CitizenId, id).unwrap(),
    }
}

#[test]
fn every_shipped_type_issues_and_verifies() {
    let mut world = World::new();
    let cases = [
        ("business-licence", "11100000TB0000001K001", None),
        (
            "marriage-certificate",
            "11100000TB0000002N001",
            Some(citizen("陈晓雯", "440117199711212428")),
        ),
        (
            "senior-citizen-card",
            "11100000TB0000002N002",
            Some(citizen("刘桂英", "430921195809120028")),
        ),
        (
            "construction-planning-permit",
            "11100000TB0000003R001",
            None,
        ),
        (
            "disability-certificate",
            "51100000TB0000004Q001",
            Some(citizen("周振华", "441802200807160810")),
        ),
    ];
    assert_eq!(world.types.len(), 5);
    let mut issued = Vec::new();
    for (stem, code, holder) in cases {
        let mut request = world.business_request();
        request.type_code = code.into();
        request.data = example(stem);
        if let Some(h) = holder {
            request.holder = h;
        }
        let licence = world
            .issue(&request, true, NOW)
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(licence.identifier.type_code().as_str(), code);
        assert!(
            licence
                .identifier
                .to_string()
                .starts_with("1.2.156.3005.2.")
        );
        issued.push(licence);
    }
    let trust = world.trust();
    for licence in &issued {
        let result = verify(&trust, licence.credential.clone(), options());
        assert!(
            result.valid,
            "{}: {:?}",
            licence.identifier, result.problems
        );
        assert_eq!(result.status, Some(LicenceStatus::Valid));
    }
    // Type-specific numbers become the licence number (证照编号).
    assert_eq!(issued[0].number, "91440114MA5TB0A01K");
    assert_eq!(issued[4].number, "44180220080716081052");
    // The disability certificate's default 10-year validity.
    assert_eq!(issued[4].credential["validUntil"], "2036-11-24T15:59:59Z");
    // Metadata after GB/T 36903.
    let c = &issued[0].credential;
    assert_eq!(c["licence"]["issueDate"], "2026-11-25");
    assert_eq!(c["licence"]["serviceItem"]["name"], "企业设立登记");
    assert_eq!(c["credentialSubject"]["holderCodeType"], "001");
    assert_eq!(c["issuer"]["id"], organisation_urn(&world.market.code));
}

#[test]
fn batch_verification_agrees_with_single() {
    let mut world = World::new();
    let request = world.business_request();
    let mut credentials: Vec<Value> = (0..80)
        .map(|_| world.issue(&request, true, NOW).unwrap().credential)
        .collect();
    credentials[5]["credentialSubject"]["name"] = "另一家公司".into();
    credentials[40]["validFrom"] = "2026-11-25T02:00:01Z".into();
    world.revocation.set(60, true);
    let trust = world.trust();
    let many = verify_many(&trust, credentials.clone(), options());
    for (i, (batch, credential)) in many.iter().zip(credentials).enumerate() {
        let single = verify(&trust, credential, options());
        assert_eq!(batch.valid, single.valid, "licence {i}");
        assert_eq!(batch.problems, single.problems, "licence {i}");
        assert_eq!(batch.valid, ![5, 40, 60].contains(&i), "licence {i}");
    }
}

#[test]
fn malformed_json() {
    let world = World::new();
    let result = verify_bytes(&world.trust(), b"{\"@context\": [", options());
    assert!(result.has(ProblemCode::MalformedJson));
    let result = verify_bytes(&world.trust(), b"[1, 2]", options());
    assert!(result.has(ProblemCode::MalformedCredential));
}

#[test]
fn unknown_licence_type_is_refused_at_issue_and_at_verify() {
    let mut world = World::new();
    let mut request = world.business_request();
    request.type_code = "11100000TB0000001K099".into();
    let err = world.issue(&request, true, NOW).unwrap_err();
    assert_eq!(err.code(), "LICENCE_TYPE_UNKNOWN");

    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let mut trust = world.trust();
    trust.types = tongban_licence::LicenceTypes::new();
    let result = verify(&trust, licence.credential, options());
    assert!(result.has(ProblemCode::LicenceTypeUnknown));
    assert_eq!(result.problems.len(), 1, "{:?}", result.problems);
}

#[test]
fn subject_data_violating_the_schema() {
    let mut world = World::new();
    let mut request = world.business_request();
    request
        .data
        .as_object_mut()
        .unwrap()
        .remove("legalRepresentative");
    let err = world.issue(&request, true, NOW).unwrap_err();
    assert_eq!(err.code(), "SUBJECT_SCHEMA_VIOLATION");
    assert!(err.to_string().contains("legalRepresentative"), "{err}");

    let mut request = world.business_request();
    request.data["registeredCapital"] = json!(1.5);
    assert_eq!(
        world.issue(&request, true, NOW).unwrap_err().code(),
        "SUBJECT_SCHEMA_VIOLATION"
    );

    let mut request = world.business_request();
    request.data = example("business-licence.invalid");
    assert_eq!(
        world.issue(&request, true, NOW).unwrap_err().code(),
        "SUBJECT_SCHEMA_VIOLATION"
    );
}

#[test]
fn holder_code_checks() {
    // An invalid code never becomes a HolderCode ...
    let err = HolderCode::parse(HolderCodeType::Uscc, "91440114MA5TB0A01X").unwrap_err();
    assert_eq!(err.code(), "USCC_BAD_CHECKSUM");
    // ... a citizen cannot hold a business licence ...
    let mut world = World::new();
    let mut request = world.business_request();
    request.holder = citizen("李建华", "441802199503081237");
    assert_eq!(
        world.issue(&request, true, NOW).unwrap_err().code(),
        "HOLDER_CODE_TYPE_NOT_ALLOWED"
    );
    // ... and a credential carrying a bad holder code is reported.
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let mut bad = licence.credential.clone();
    bad["credentialSubject"]["holderCode"] = "91440114MA5TB0A01".into();
    let result = verify(&world.trust(), bad, options());
    assert!(result.has(ProblemCode::HolderCodeInvalid));
    assert!(result.has(ProblemCode::ProofInvalid));
}

#[test]
fn wrong_identifier_check_character() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let id = licence.identifier.to_string();
    let (head, check) = id.split_at(id.len() - 1);
    let wrong = format!("{head}{}", if check == "0" { "1" } else { "0" });
    let err = tongban_codes::LicenceIdentifier::parse(&wrong).unwrap_err();
    assert_eq!(err.code(), "IDENTIFIER_BAD_CHECK");
    let mut bad = licence.credential.clone();
    bad["licence"]["identifier"] = wrong.into();
    let result = verify(&world.trust(), bad, options());
    assert!(
        result.has(ProblemCode::IdentifierInvalid),
        "{:?}",
        result.problems
    );
}

#[test]
fn tampered_field() {
    let mut world = World::new();
    let mut request = world.business_request();
    request.valid_until = Some(NOW + Duration::days(365));
    let licence = world.issue(&request, true, NOW).unwrap();
    let trust = world.trust();
    // A signed member changed: the signature no longer matches. The proof's
    // own `created` changed to something that is no time: the proof is
    // malformed before any signature is checked.
    for (pointer, code) in [
        (
            "/credentialSubject/licenceData/registeredCapital",
            ProblemCode::ProofInvalid,
        ),
        ("/validUntil", ProblemCode::ProofInvalid),
        ("/licence/issueDate", ProblemCode::ProofInvalid),
        ("/credentialSubject/name", ProblemCode::ProofInvalid),
        ("/proof/created", ProblemCode::ProofMalformed),
    ] {
        let mut bad = licence.credential.clone();
        let value = bad
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer} is not in the licence"));
        *value = if pointer.ends_with("Until") || pointer.ends_with("Date") {
            "2099-01-01T00:00:00Z".into()
        } else {
            "5000万元人民币".into()
        };
        let result = verify(&trust, bad, options());
        let codes: Vec<ProblemCode> = result.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, [code], "{pointer}");
        assert!(!result.valid);
    }
}

#[test]
fn wrong_key_and_unknown_key() {
    let mut world = World::new();
    // Signed by the 残联's key but claiming the market regulator as issuer.
    let mut request = world.business_request();
    request.valid_until = None;
    let market_record = world.market.record.clone();
    world.market.record = world.disabled.record.clone();
    world.market.key = SigningKey::from_seed(&[2; 32]);
    let forged = world.issue(&request, true, NOW).unwrap();
    world.market.record = market_record;
    world.market.key = SigningKey::from_seed(&[1; 32]);
    let result = verify(&world.trust(), forged.credential, options());
    assert!(
        result.has(ProblemCode::KeyNotIssuers),
        "{:?}",
        result.problems
    );

    // A key the verifier has never heard of.
    let stranger = SigningKey::from_seed(&[77; 32]);
    world.market.record = KeyRecord {
        controller: world.market.record.controller.clone(),
        public: stranger.public(),
        validity: world.market.record.validity,
        purpose: tongban_seal::KeyPurpose::Issue,
    };
    world.market.key = stranger;
    let licence = world.issue(&request, true, NOW).unwrap();
    let mut fresh = World::new();
    fresh.revocation = world.revocation.clone();
    let result = verify(&fresh.trust(), licence.credential, options());
    assert!(result.has(ProblemCode::KeyUnknown), "{:?}", result.problems);
}

/// A department's exchange key signs its envelopes, never its licences: a
/// licence it signed is refused by the key's purpose, whoever built it; a key
/// of before purposes (`both`) still verifies what it signed.
#[test]
fn a_licence_signed_with_an_exchange_key_is_refused() {
    for (purpose, refused) in [
        (tongban_seal::KeyPurpose::Exchange, true),
        (tongban_seal::KeyPurpose::Both, false),
        (tongban_seal::KeyPurpose::Issue, false),
    ] {
        let mut world = World::new();
        let mut request = world.business_request();
        request.valid_until = None;
        world.market.record.purpose = purpose;
        let licence = world.issue(&request, true, NOW).unwrap();
        // The status lists come from the issuing key, as a hub signs them.
        world.market.record.purpose = tongban_seal::KeyPurpose::Issue;
        let mut trust = world.trust();
        let mut record = world.market.record.clone();
        record.purpose = purpose;
        trust.add_key(record);
        let result = verify(&trust, licence.credential, options());
        assert_eq!(
            result.has(ProblemCode::KeyWrongPurpose),
            refused,
            "{purpose}: {:?}",
            result.problems
        );
        assert_eq!(result.valid, !refused, "{purpose}: {:?}", result.problems);
    }
}

#[test]
fn key_revoked_before_signing_time_and_after() {
    let mut world = World::new();
    let before = world
        .issue(&world.business_request(), true, NOW - Duration::days(2))
        .unwrap();
    let after = world.issue(&world.business_request(), true, NOW).unwrap();
    // Compromise discovered: the key is revoked as of yesterday.
    let mut trust = world.trust();
    let mut record = world.market.record.clone();
    record.validity.revoked_at = Some(NOW - Duration::days(1));
    trust.add_key(record);
    let result = verify(&trust, after.credential, options());
    assert!(result.has(ProblemCode::KeyRevoked), "{:?}", result.problems);
    let result = verify(&trust, before.credential, options());
    assert!(
        result.valid,
        "signed before the revocation: {:?}",
        result.problems
    );
}

#[test]
fn key_window_closed_by_rotation() {
    let mut world = World::new();
    let old = world
        .issue(&world.business_request(), true, NOW - Duration::days(30))
        .unwrap();
    let mut trust = world.trust();
    let mut record = world.market.record.clone();
    record.validity.not_after = Some(NOW - Duration::days(10));
    trust.add_key(record.clone());
    // Signed while the key was current: still valid after rotation.
    assert!(verify(&trust, old.credential, options()).valid);
    // Issuing with a rotated-out key is refused outright.
    world.market.record = record;
    assert_eq!(
        world
            .issue(&world.business_request(), true, NOW)
            .unwrap_err()
            .code(),
        "ISSUER_KEY_NOT_USABLE"
    );
}

#[test]
fn expired_and_not_yet_valid() {
    let mut world = World::new();
    let mut request = world.business_request();
    request.valid_from = Some(datetime!(2016-01-01 0:00 UTC));
    request.valid_until = Some(datetime!(2026-01-01 0:00 UTC));
    let expired = world.issue(&request, true, NOW).unwrap();
    request.valid_from = Some(datetime!(2027-01-01 0:00 UTC));
    request.valid_until = None;
    let future = world.issue(&request, true, NOW).unwrap();
    let trust = world.trust();
    let result = verify(&trust, expired.credential, options());
    assert_eq!(
        result.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
        vec![ProblemCode::LicenceExpired]
    );
    let result = verify(&trust, future.credential, options());
    assert_eq!(
        result.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
        vec![ProblemCode::LicenceNotYetValid]
    );
    request.valid_from = Some(datetime!(2027-01-01 0:00 UTC));
    request.valid_until = Some(datetime!(2026-12-01 0:00 UTC));
    assert_eq!(
        world.issue(&request, true, NOW).unwrap_err().code(),
        "VALIDITY_RANGE_INVALID"
    );
}

#[test]
fn revoked_suspended_and_reinstated() {
    let mut world = World::new();
    let a = world.issue(&world.business_request(), true, NOW).unwrap();
    let b = world.issue(&world.business_request(), true, NOW).unwrap();
    world.revocation.set(0, true);
    world.suspension.set(1, true);
    let trust = world.trust();
    let ra = verify(&trust, a.credential.clone(), options());
    assert!(ra.has(ProblemCode::LicenceRevoked));
    assert_eq!(ra.status, Some(LicenceStatus::Revoked));
    let rb = verify(&trust, b.credential.clone(), options());
    assert!(rb.has(ProblemCode::LicenceSuspended));
    assert_eq!(rb.status, Some(LicenceStatus::Suspended));
    world.suspension.set(1, false);
    let trust = world.trust();
    assert!(verify(&trust, b.credential, options()).valid);
}

#[test]
fn status_list_missing_stale_or_forged() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    // Missing.
    let mut trust = tongban_licence::Trust::new();
    trust.types = world.types.clone();
    trust.add_key(world.market.record.clone());
    let result = verify(&trust, licence.credential.clone(), options());
    assert!(result.has(ProblemCode::StatusListUnavailable));
    assert_eq!(result.status, None);
    // Stale: the lists were valid for a day.
    let later = VerifyOptions {
        now: NOW + Duration::days(2),
        attachments: None,
    };
    let result = verify(&world.trust(), licence.credential.clone(), later);
    assert!(
        result.has(ProblemCode::StatusListStale),
        "{:?}",
        result.problems
    );
    // A list signed by another department's key is refused.
    let id = tongban_licence::status::list_id(
        world.market.code.as_str(),
        tongban_licence::StatusPurpose::Revocation,
        0,
    );
    let forged = tongban_licence::status::sign_list(
        &id,
        &world.market.record.controller,
        "x",
        tongban_licence::StatusPurpose::Revocation,
        &world.revocation,
        &world.disabled.key,
        &world.disabled.record,
        NOW,
        Duration::days(1),
    )
    .unwrap();
    let err = tongban_licence::status::verify_list(&forged, &world.trust()).unwrap_err();
    assert_eq!(err.code, ProblemCode::StatusListInvalid);
}

#[test]
fn attachment_digest_bound_and_checked() {
    let mut world = World::new();
    let pdf = b"%PDF-1.7 licence rendering".to_vec();
    let digest = tongban_seal::sha256(&pdf);
    let mut request = world.business_request();
    request.attachment = Some(AttachmentRef {
        sha256: digest,
        media_type: "application/pdf".into(),
    });
    let licence = world.issue(&request, true, NOW).unwrap();
    let id = blob_urn(&digest);
    assert_eq!(licence.credential["relatedResource"][0]["id"], id.as_str());
    let trust = world.trust();
    let mut held = HashMap::new();
    held.insert(id.clone(), digest);
    let ok = verify(
        &trust,
        licence.credential.clone(),
        VerifyOptions {
            now: NOW,
            attachments: Some(&held),
        },
    );
    assert!(ok.valid && ok.unchecked.is_empty(), "{:?}", ok.problems);
    held.insert(
        id.clone(),
        tongban_seal::sha256(b"%PDF-1.7 a different document"),
    );
    let bad = verify(
        &trust,
        licence.credential.clone(),
        VerifyOptions {
            now: NOW,
            attachments: Some(&held),
        },
    );
    assert!(bad.has(ProblemCode::AttachmentDigestMismatch));
    let none = verify(&trust, licence.credential.clone(), options());
    assert!(none.valid);
    assert_eq!(none.unchecked.len(), 1);
    let empty = HashMap::new();
    let missing = verify(
        &trust,
        licence.credential,
        VerifyOptions {
            now: NOW,
            attachments: Some(&empty),
        },
    );
    assert!(missing.has(ProblemCode::AttachmentUnavailable));
}

/// The shipped types hold strings only, so a float never passes their
/// schemas; a type whose schema allows numbers still never gets one signed.
#[test]
fn floats_are_never_signed() {
    let mut world = World::new();
    let mut schema = example_schema("business-licence");
    schema["x-licence-type"]["version"] = json!("99");
    schema["properties"]["shareRatio"] = json!({"type": "number"});
    world
        .types
        .insert(tongban_licence::LicenceType::from_schema(schema).unwrap());
    let mut request = world.business_request();
    request.type_version = Some("99".into());
    for unsafe_number in [json!(0.1), json!(1.5e3), json!(9_007_199_254_740_993_u64)] {
        request.data["shareRatio"] = unsafe_number.clone();
        assert_eq!(
            world.issue(&request, true, NOW).unwrap_err().code(),
            "UNSAFE_NUMBER",
            "{unsafe_number}"
        );
    }
    // An integer within 2^53 is signed as it is.
    request.data["shareRatio"] = json!(9_007_199_254_740_991_u64);
    let licence = world.issue(&request, true, NOW).unwrap();
    assert_eq!(
        licence.credential["credentialSubject"]["licenceData"]["shareRatio"],
        json!(9_007_199_254_740_991_u64)
    );
}

fn example_schema(stem: &str) -> Value {
    let path = crate::fixture::schemas_dir().join(format!("{stem}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A caller cannot turn a failed verification into a verified licence by
/// changing what it reads: `into_verified` goes by the checks' verdict.
#[test]
fn a_failed_verification_cannot_be_promoted_to_a_verified_licence() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    let trust = world.trust();
    let mut bad = licence.credential.clone();
    bad["credentialSubject"]["name"] = "冒名商行".into();
    let mut result = verify(&trust, bad, options());
    assert!(
        result.has(ProblemCode::ProofInvalid),
        "{:?}",
        result.problems
    );
    assert!(result.summary.is_some(), "the forged name is readable");
    result.valid = true;
    result.problems.clear();
    let Err(problems) = result.into_verified() else {
        panic!("a tampered licence became a VerifiedLicence");
    };
    assert!(problems.is_empty(), "the caller cleared them");

    let good = verify(&trust, licence.credential, options());
    assert!(good.into_verified().is_ok());
}
