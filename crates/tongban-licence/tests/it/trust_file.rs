//! Offline verification from a trust file signed by the hub.

use time::Duration;
use tongban_licence::trustfile::{self, IssuerEntry};
use tongban_licence::{ProblemCode, verify};
use tongban_seal::{KeyRecord, SigningKey, Validity};

use crate::fixture::{NOW, World, options};

fn hub() -> (SigningKey, KeyRecord) {
    let key = SigningKey::from_seed(&[200; 32]);
    let record = KeyRecord {
        controller: "urn:tongban:hub:440114".into(),
        public: key.public(),
        validity: Validity::from(NOW - Duration::days(100)),
        purpose: tongban_seal::KeyPurpose::Issue,
    };
    (key, record)
}

#[test]
fn trust_file_round_trip_and_refusals() {
    let mut world = World::new();
    let licence = world.issue(&world.business_request(), true, NOW).unwrap();
    world.suspension.set(0, true);
    let online = world.trust();
    let lists: Vec<serde_json::Value> = [
        tongban_licence::StatusPurpose::Revocation,
        tongban_licence::StatusPurpose::Suspension,
    ]
    .into_iter()
    .map(|p| {
        let id = tongban_licence::status::list_id(world.market.code.as_str(), p, 0);
        let bits = if p == tongban_licence::StatusPurpose::Revocation {
            &world.revocation
        } else {
            &world.suspension
        };
        tongban_licence::status::sign_list(
            &id,
            &world.market.record.controller,
            world.market.name,
            p,
            bits,
            &world.market.key,
            &world.market.record,
            NOW,
            Duration::days(1),
        )
        .unwrap()
    })
    .collect();
    let schemas: Vec<&serde_json::Value> = world.types.iter().map(|t| t.schema.as_ref()).collect();
    let (hub_key, hub_record) = hub();
    let issuers = [IssuerEntry {
        id: world.market.record.controller.clone(),
        name: world.market.name.into(),
        keys: vec![world.market.record.clone()],
    }];
    let file = trustfile::sign(
        "urn:tongban:hub:440114",
        &issuers,
        &lists,
        &schemas,
        &hub_key,
        &hub_record,
        NOW,
        Duration::days(7),
    )
    .unwrap();

    let offline = trustfile::load(&file, &hub_key.public(), NOW).unwrap();
    let result = verify(&offline, licence.credential.clone(), options());
    assert!(
        result.has(ProblemCode::LicenceSuspended),
        "{:?}",
        result.problems
    );
    assert_eq!(result.problems.len(), 1);
    assert_eq!(
        verify(&online, licence.credential.clone(), options()).problems,
        result.problems
    );

    // Stale.
    let err = trustfile::load(&file, &hub_key.public(), NOW + Duration::days(8)).unwrap_err();
    assert_eq!(err.code(), "TRUST_FILE_STALE");
    // Another anchor.
    let err = trustfile::load(&file, &SigningKey::from_seed(&[201; 32]).public(), NOW).unwrap_err();
    assert_eq!(err.code(), "TRUST_FILE_UNTRUSTED");
    // Tampered: a key's revocation removed.
    let mut tampered = file.clone();
    tampered["credentialSubject"]["issuers"][0]["name"] = "假冒机关".into();
    let err = trustfile::load(&tampered, &hub_key.public(), NOW).unwrap_err();
    assert_eq!(err.code(), "TRUST_FILE_UNTRUSTED");

    // Read from its bytes: as signed it loads; a second issuer name, after
    // or before the signed one, is refused whatever the signature says.
    let text = serde_json::to_string(&file).unwrap();
    let loaded = trustfile::load_bytes(text.as_bytes(), &hub_key.public(), NOW).unwrap();
    assert!(
        verify(&loaded, licence.credential.clone(), options()).has(ProblemCode::LicenceSuspended)
    );
    let signed = format!("\"name\":\"{}\"", world.market.name);
    assert!(text.contains(&signed), "{text}");
    for forged in [
        text.replacen(&signed, &format!("{signed},\"name\":\"假冒机关\""), 1),
        text.replacen(&signed, &format!("\"name\":\"假冒机关\",{signed}"), 1),
    ] {
        assert_ne!(forged, text);
        let err = trustfile::load_bytes(forged.as_bytes(), &hub_key.public(), NOW).unwrap_err();
        assert_eq!(err.code(), "DUPLICATE_MEMBER", "{err}");
        assert!(
            err.to_string()
                .contains("/credentialSubject/issuers/0/name"),
            "{err}"
        );
    }
    let err = trustfile::load_bytes(&text.as_bytes()[1..], &hub_key.public(), NOW).unwrap_err();
    assert_eq!(err.code(), "TRUST_FILE_INVALID");

    // Not a trust file, or one whose signed content is malformed.
    let mut bare = file.clone();
    bare.as_object_mut().unwrap().remove("proof");
    let mut not_listed = file.clone();
    not_listed["credentialSubject"]["issuers"] = "all of them".into();
    let mut not_listed = not_listed.as_object().unwrap().clone();
    tongban_licence::di::add_proof(
        &mut not_listed,
        &hub_key,
        &hub_record.verification_method(),
        NOW,
    )
    .unwrap();
    for (what, bad) in [
        ("an array", serde_json::json!([file.clone()])),
        ("a licence", licence.credential.clone()),
        ("no proof", bare),
        ("issuers not a list", serde_json::Value::Object(not_listed)),
    ] {
        let err = trustfile::load(&bad, &hub_key.public(), NOW).unwrap_err();
        assert_eq!(err.code(), "TRUST_FILE_INVALID", "{what}: {err}");
    }
}
