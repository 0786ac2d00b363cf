//! A licence whose text repeats a member name does not verify: a tool
//! keeping the first value and one keeping the last would show different
//! licences under one signature.

use tongban_licence::{ProblemCode, verify_bytes};

use crate::fixture::{NOW, World, options};

/// The licence as issued, compact, and the holder's name in it.
fn issued() -> (World, String, String) {
    let mut world = World::new();
    let request = world.business_request();
    let credential = world.issue(&request, true, NOW).unwrap().credential;
    let name = credential["credentialSubject"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    (world, serde_json::to_string(&credential).unwrap(), name)
}

#[test]
fn a_second_member_of_any_name_is_refused_wherever_it_is() {
    let (world, text, holder) = issued();
    let trust = world.trust();
    let as_issued = verify_bytes(&trust, text.as_bytes(), options());
    assert!(as_issued.valid, "{:?}", as_issued.problems);

    let signed_name = format!("\"name\":{}", serde_json::Value::from(holder.as_str()));
    let forged_name = "\"name\":\"另一家公司\"";
    assert!(text.contains(&signed_name), "{text}");
    let cases = [
        // After the signed holder name: tools keeping the last show the forgery.
        (
            "credentialSubject/name, forged second",
            text.replacen(&signed_name, &format!("{signed_name},{forged_name}"), 1),
            "/credentialSubject/name",
        ),
        // Before it: tools keeping the first show the forgery.
        (
            "credentialSubject/name, forged first",
            text.replacen(&signed_name, &format!("{forged_name},{signed_name}"), 1),
            "/credentialSubject/name",
        ),
        // The same name written with an escape.
        (
            "escaped",
            text.replacen(
                &signed_name,
                &format!("{signed_name},\"n\\u0061me\":\"另一家公司\""),
                1,
            ),
            "/credentialSubject/name",
        ),
        // The licence's own name (证照名称), at the top.
        (
            "top-level name",
            text.replacen('{', "{\"name\":\"营业执照\",", 1),
            "/name",
        ),
        // Inside the proof.
        (
            "proof",
            text.replacen(
                "\"proofValue\":",
                "\"proofValue\":\"z1\",\"proofValue\":",
                1,
            ),
            "/proof/proofValue",
        ),
    ];
    for (what, forged, pointer) in cases {
        assert_ne!(forged, text, "{what}: the forgery changed nothing");
        let v = verify_bytes(&trust, forged.as_bytes(), options());
        assert!(!v.valid, "{what}");
        let codes: Vec<ProblemCode> = v.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, [ProblemCode::DuplicateMember], "{what}");
        assert!(
            v.problems[0].message.contains(pointer),
            "{what}: {}",
            v.problems[0].message
        );
    }
}

#[test]
fn not_json_stays_malformed_json() {
    let (world, text, _) = issued();
    let trust = world.trust();
    for bad in [
        text.replacen('{', "{\"x\":\"\\ud800\",", 1),
        format!("{text} {{}}"),
        text[..text.len() - 1].to_owned(),
    ] {
        let v = verify_bytes(&trust, bad.as_bytes(), options());
        let codes: Vec<ProblemCode> = v.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, [ProblemCode::MalformedJson], "{bad}");
    }
}
