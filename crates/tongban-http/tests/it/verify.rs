//! `POST /v1/verify` answers what `tongban licence verify` answers online;
//! `POST /credentials/verify` speaks the VC API, with did:key issuers and
//! the W3C test vector.

use serde_json::{Value, json};
use tongban_licence::{di, didkey};
use tongban_seal::{KeyPurpose, KeyRecord, PublicKey, SigningKey, Validity};
use tongban_service::samples;

use crate::{Served, business_licence, each_backend, each_served, problem};

fn vector() -> (Value, PublicKey) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tongban-licence/tests/vectors/eddsa-jcs-2022");
    let credential: Value =
        serde_json::from_slice(&std::fs::read(dir.join("signed-credential.json")).unwrap())
            .unwrap();
    let key: Value =
        serde_json::from_slice(&std::fs::read(dir.join("public-key.json")).unwrap()).unwrap();
    let key = PublicKey::from_multikey(key["publicKeyMultibase"].as_str().unwrap()).unwrap();
    (credential, key)
}

fn problem_codes(verification: &Value) -> Vec<String> {
    verification["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_answer_is_the_online_verification() {
    each_served(
        "http_verify",
        |_| {},
        |served| async move {
            let licence = business_licence(&served.hub, None).await;
            let response = served.post_json("/v1/verify", &licence).await;
            assert_eq!(response.status(), 200);
            let answered: Value = response.json().await.unwrap();
            assert_eq!(answered["valid"], true, "{answered}");
            // Exactly what the service (and so `licence verify --json`) says.
            let direct = served.hub.verify_online(licence.clone()).await.unwrap();
            assert_eq!(answered, serde_json::to_value(&direct).unwrap());

            let mut tampered = licence.clone();
            tampered["credentialSubject"]["name"] = json!("别的公司");
            let response = served.post_json("/v1/verify", &tampered).await;
            assert_eq!(response.status(), 200);
            let answered: Value = response.json().await.unwrap();
            assert_eq!(answered["valid"], false);
            let codes = problem_codes(&answered);
            assert!(codes.contains(&"PROOF_INVALID".to_owned()), "{codes:?}");
            assert!(codes.contains(&"LICENCE_UNKNOWN".to_owned()), "{codes:?}");

            served.revoke(&licence).await;
            let answered = served.verify(&licence).await;
            assert_eq!(answered["valid"], false);
            assert!(problem_codes(&answered).contains(&"LICENCE_REVOKED".to_owned()));
            served
        },
    )
    .await;
}

/// A form with the licence and the attachment file: the file presented is
/// checked against the digest the licence binds.
#[tokio::test]
async fn a_form_checks_the_attachment_presented() {
    each_served(
        "http_verify_form",
        |_| {},
        |served| async move {
            let pdf = samples::sample_pdf("营业执照");
            let licence = business_licence(&served.hub, Some(pdf.clone())).await;
            let form = |file: Vec<u8>| {
                reqwest::multipart::Form::new()
                    .part(
                        "licence",
                        reqwest::multipart::Part::bytes(serde_json::to_vec(&licence).unwrap())
                            .mime_str("application/json")
                            .unwrap(),
                    )
                    .part(
                        "attachment",
                        reqwest::multipart::Part::bytes(file).file_name("licence.pdf"),
                    )
            };
            let post = |form: reqwest::multipart::Form| {
                served
                    .client
                    .post(served.url("/v1/verify"))
                    .multipart(form)
                    .send()
            };
            let answered: Value = post(form(pdf.clone())).await.unwrap().json().await.unwrap();
            assert_eq!(answered["valid"], true, "{answered}");
            let mut other = pdf.clone();
            other.extend_from_slice(b"\n% changed");
            let answered: Value = post(form(other)).await.unwrap().json().await.unwrap();
            assert_eq!(answered["valid"], false);
            assert!(
                problem_codes(&answered).contains(&"ATTACHMENT_DIGEST_MISMATCH".to_owned()),
                "{answered}"
            );
            // Parts other than licence and attachment are refused.
            let extra = reqwest::multipart::Form::new()
                .text("licence", serde_json::to_string(&licence).unwrap())
                .text("note", "x");
            let refused = problem(post(extra).await.unwrap(), 400).await;
            assert_eq!(refused["code"], "REQUEST_INVALID");
            let none = reqwest::multipart::Form::new().text("attachment", "x");
            let refused = problem(post(none).await.unwrap(), 400).await;
            assert_eq!(refused["code"], "REQUEST_INVALID");
            served
        },
    )
    .await;
}

#[tokio::test]
async fn the_vc_api_verifies_the_w3c_vector_did_key_and_the_regions_licences() {
    each_backend("http_vc_api", |backend| async move {
        let (vector, vector_key) = vector();
        let served = Served::start_with(&backend, |config| {
            config.issuer_keys.push(KeyRecord {
                controller: "https://vc.example/issuers/5678".into(),
                public: vector_key,
                validity: Validity::from(time::macros::datetime!(2020-01-01 0:00 UTC)),
                purpose: KeyPurpose::Issue,
            });
        })
        .await;
        let verify = |body: Value| {
            served
                .client
                .post(served.url("/credentials/verify"))
                .json(&body)
                .send()
        };

        // The W3C vector, its issuer's key given to the hub.
        let response = verify(json!({"verifiableCredential": vector, "options": {}})).await.unwrap();
        assert_eq!(response.status(), 200);
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["verified"], true, "{result}");
        assert_eq!(result["errors"], json!([]));
        assert!(result["checks"].as_array().unwrap().contains(&json!("proof")));
        // A tampered copy is not.
        let mut tampered = vector.clone();
        tampered["credentialSubject"]["alumniOf"] = json!("The School of Forgeries");
        let response = verify(json!({"verifiableCredential": tampered})).await.unwrap();
        assert_eq!(response.status(), 400);
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["verified"], false);
        assert_eq!(result["errors"][0]["code"], "PROOF_INVALID");

        // A did:key issuer, under the name `credential` some tools use.
        let key = SigningKey::from_seed(&[9; 32]);
        let did = didkey::did_of(&key.public());
        let mut credential = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": did,
            "credentialSubject": {"id": "did:example:holder"}
        });
        di::add_proof(
            credential.as_object_mut().unwrap(),
            &key,
            &didkey::verification_method_of(&key.public()),
            time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
        )
        .unwrap();
        let response = verify(json!({"credential": credential.clone(), "options": {"checks": ["proof"], "expectedProofPurpose": "assertionMethod"}})).await.unwrap();
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["verified"], true, "{result}");
        // did:key is the VC API's, not the region's: `/v1/verify` does not know the key.
        let answered = served.verify(&credential).await;
        assert!(problem_codes(&answered).contains(&"KEY_UNKNOWN".to_owned()));

        // The region's own licence.
        let licence = business_licence(&served.hub, None).await;
        let result: Value = verify(json!({"verifiableCredential": licence}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(result["verified"], true, "{result}");

        // Requests not of the shape.
        for body in [
            json!({"verifiableCredential": vector, "credential": vector}),
            json!({"options": {}}),
            json!({"verifiableCredential": vector, "extra": 1}),
            json!({"verifiableCredential": vector, "options": {"challenge": "x"}}),
            json!({"verifiableCredential": vector, "options": {"expectedProofPurpose": "authentication"}}),
            json!({"verifiableCredential": "not an object"}),
        ] {
            let refused = problem(verify(body.clone()).await.unwrap(), 400).await;
            assert_eq!(refused["code"], "REQUEST_INVALID", "{body}");
        }
        served.stop().await;
        backend
    })
    .await;
}

/// Without the vector's issuer key, the hub does not know it.
#[tokio::test]
async fn an_unknown_issuer_is_not_verified() {
    each_served(
        "http_vc_unknown",
        |_| {},
        |served| async move {
            let (vector, _) = vector();
            let response = served
                .post_json(
                    "/credentials/verify",
                    &json!({"verifiableCredential": vector}),
                )
                .await;
            assert_eq!(response.status(), 400);
            let result: Value = response.json().await.unwrap();
            assert_eq!(result["verified"], false);
            assert_eq!(result["errors"][0]["code"], "KEY_UNKNOWN");
            served
        },
    )
    .await;
}
