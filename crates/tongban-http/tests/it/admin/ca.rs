//! `/v1/ca`: the CA's certificate, issued certificates listed by kind and
//! in pages, issue and renew (the private key answered once, never
//! cached), revoke with RFC 5280's reasons, the CRL as PEM or DER; only a
//! region administrator; refusals with their codes write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

/// The CRL, as `accept` asks for it: its media type and bytes.
async fn crl(served: &Served, token: &str, accept: Option<&str>) -> (String, Vec<u8>) {
    let mut request = served
        .client
        .get(served.url("/v1/ca/crl"))
        .bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let media_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (media_type, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn certificates_are_issued_listed_renewed_and_revoked() {
    each_served(
        "http_admin_ca",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let admin = format!("token:{}", &tokens.admin[4..24]);
            let ca = served.hub.ca_init("花都区政务 CA").await.unwrap();
            let authority = served.read(&tokens.admin, "/v1/ca").await;
            assert_eq!(authority["serial"], ca.serial.as_str());
            assert_eq!(authority["kind"], "ca");
            assert!(authority["pem"].as_str().unwrap().contains("BEGIN CERTIFICATE"));

            let issued = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/ca/certificates",
                    Some(&json!({"kind": "server", "dns": ["hub.huadu.gov.cn"], "ips": ["10.0.0.7"], "validityDays": 90})),
                )
                .await;
            assert_eq!(issued.status(), 201);
            assert_eq!(issued.headers()["cache-control"], "no-store");
            let issued: Value = issued.json().await.unwrap();
            let server = issued["certificate"]["serial"].as_str().unwrap().to_owned();
            assert_eq!(issued["certificate"]["kind"], "server");
            assert_eq!(issued["certificate"]["subject"], "hub.huadu.gov.cn");
            let chain = issued["chainPem"].as_str().unwrap();
            assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "{chain}");
            assert!(chain.ends_with(&ca.pem));
            // The key answered is the certificate's, and usable as a TLS identity.
            let key = issued["privateKeyPem"].as_str().unwrap();
            assert!(key.contains("BEGIN PRIVATE KEY"));
            rcgen::KeyPair::from_pem(key).unwrap();
            tongban_http::tls_config(chain, key, None).unwrap();
            let days = tongban_seal::timefmt::parse_rfc3339(issued["certificate"]["notAfter"].as_str().unwrap()).unwrap()
                - tongban_seal::timefmt::parse_rfc3339(issued["certificate"]["notBefore"].as_str().unwrap()).unwrap();
            assert!((days - time::Duration::days(90)).abs() < time::Duration::minutes(10), "{days}");
            // Never stored: the hub's record of it has no key.
            let shown = served
                .read(&tokens.admin, &format!("/v1/ca/certificates/{server}"))
                .await;
            assert_eq!(shown["serial"], server.as_str());
            assert!(!shown.to_string().contains("PRIVATE KEY"));
            let entries = served.hub.store().audit_of(&server, 5).await.unwrap();
            assert_eq!((entries[0].action.as_str(), entries[0].actor.as_str()), ("ca.issue.server", admin.as_str()));

            let client = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/ca/certificates",
                    Some(&json!({"kind": "client", "department": samples::MARKET})),
                )
                .await;
            assert_eq!(client.status(), 201);
            let client: Value = client.json().await.unwrap();
            let client = client["certificate"]["serial"].as_str().unwrap().to_owned();

            let all = served.read(&tokens.admin, "/v1/ca/certificates").await;
            assert_eq!(all["items"].as_array().unwrap().len(), 3, "{all}");
            let clients = served.read(&tokens.admin, "/v1/ca/certificates?kind=client").await;
            let clients = clients["items"].as_array().unwrap();
            assert_eq!(clients.len(), 1);
            assert_eq!(clients[0]["serial"], client.as_str());
            assert_eq!(clients[0]["subject"], samples::MARKET);
            let page = served.read(&tokens.admin, "/v1/ca/certificates?limit=2").await;
            assert_eq!(page["items"].as_array().unwrap().len(), 2);
            assert_eq!(page["next"], 2);

            let renewed = served
                .call(&tokens.admin, Method::POST, &format!("/v1/ca/certificates/{client}/renew"), Some(&json!({})))
                .await;
            assert_eq!(renewed.status(), 201);
            assert_eq!(renewed.headers()["cache-control"], "no-store");
            let renewed: Value = renewed.json().await.unwrap();
            assert_ne!(renewed["certificate"]["serial"], client.as_str());
            assert_eq!(renewed["certificate"]["subject"], samples::MARKET);
            assert!(renewed["privateKeyPem"].as_str().unwrap().contains("PRIVATE KEY"));

            let (pem_type, pem) = crl(&served, &tokens.admin, None).await;
            assert_eq!(pem_type, "application/x-pem-file");
            assert!(String::from_utf8(pem).unwrap().starts_with("-----BEGIN X509 CRL-----"));
            let (der_type, before) = crl(&served, &tokens.admin, Some("application/pkix-crl")).await;
            assert_eq!(der_type, "application/pkix-crl");
            assert_eq!(before[0], 0x30, "a DER SEQUENCE");

            let revoked = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    &format!("/v1/ca/certificates/{client}/revoke"),
                    Some(&json!({"reason": "keyCompromise"})),
                )
                .await;
            assert_eq!(revoked.status(), 200);
            let revoked: Value = revoked.json().await.unwrap();
            assert_eq!(revoked["revokedReason"], "keyCompromise");
            assert!(revoked["revokedAt"].is_string());
            let entries = served.hub.store().audit_of(&client, 5).await.unwrap();
            assert!(entries.iter().any(|e| e.action == "ca.revoke" && e.actor == admin), "{entries:?}");
            // The CRL lists it now: its serial's bytes are in it.
            let (_, after) = crl(&served, &tokens.admin, Some("application/pkix-crl")).await;
            let serial_bytes: Vec<u8> = (0..client.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&client[i..i + 2], 16).unwrap())
                .collect();
            let listed = |crl: &[u8]| crl.windows(serial_bytes.len()).any(|w| w == serial_bytes);
            assert!(!listed(&before) && listed(&after));
            served
        },
    )
    .await;
}

#[tokio::test]
async fn bad_certificate_requests_are_refused_and_write_nothing() {
    each_served(
        "http_admin_ca_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let issue = json!({"kind": "client", "department": samples::MARKET});
            let admin = asking(&tokens.admin);
            // Before the CA exists.
            served
                .refused_each(&[
                    admin.get("/v1/ca").refused(400, "CA_NOT_INITIALISED"),
                    admin
                        .post("/v1/ca/certificates", issue.clone())
                        .refused(400, "CA_NOT_INITIALISED"),
                ])
                .await;
            let ca = served.hub.ca_init("花都区政务 CA").await.unwrap();
            let issued = served
                .hub
                .ca_issue(
                    tongban_service::ca::CertRequest::client(samples::MARKET),
                    None,
                )
                .await
                .unwrap();
            let market = samples::MARKET;
            let issuing = |body: Value| admin.post("/v1/ca/certificates", body);
            let authority = format!("/v1/ca/certificates/{}", ca.serial);
            let path = format!("/v1/ca/certificates/{}/revoke", issued.row.serial);
            served
                .refused_each(&[
                    issuing(json!({"kind": "server"})).refused(400, "CERT_NAMES_MISSING"),
                    issuing(json!({"kind": "server", "dns": ["not a name"]}))
                        .refused(400, "CERT_NAME_INVALID"),
                    issuing(json!({"kind": "server", "ips": ["10.0.0.300"]}))
                        .refused(400, "REQUEST_INVALID"),
                    issuing(json!({"kind": "server", "dns": ["a.example"], "department": market}))
                        .refused(400, "REQUEST_INVALID"),
                    issuing(json!({"kind": "client"})).refused(400, "REQUEST_INVALID"),
                    issuing(json!({"kind": "client", "department": market, "dns": ["a.example"]}))
                        .refused(400, "REQUEST_INVALID"),
                    issuing(json!({"kind": "ca", "dns": ["a.example"]}))
                        .refused(400, "REQUEST_INVALID"),
                    issuing(json!({"kind": "client", "department": market, "validityDays": 826}))
                        .refused(400, "CERT_VALIDITY_INVALID"),
                    issuing(
                        json!({"kind": "client", "department": market, "validityDays": i64::MIN}),
                    )
                    .refused(400, "CERT_VALIDITY_INVALID"),
                    issuing(json!({"kind": "client", "department": "11440114MB2C0010XM"}))
                        .refused(404, "DEPARTMENT_UNKNOWN"),
                    admin
                        .post(
                            format!("{authority}/revoke"),
                            json!({"reason": "keyCompromise"}),
                        )
                        .refused(400, "CERT_NOT_REVOCABLE"),
                    admin
                        .post(format!("{authority}/renew"), json!({}))
                        .refused(400, "CERT_NOT_RENEWABLE"),
                    admin
                        .get("/v1/ca/certificates/0123abcd")
                        .refused(404, "CERT_UNKNOWN"),
                    admin
                        .get("/v1/ca/certificates?kind=root")
                        .refused(400, "REQUEST_INVALID"),
                    admin
                        .post(&path, json!({"reason": "lost"}))
                        .refused(400, "REVOCATION_REASON_INVALID"),
                ])
                .await;
            // Nobody but a region administrator touches the CA, nor reads it.
            for token in [&tokens.market, &tokens.auditor, &tokens.verifier] {
                served
                    .refused_each(&[
                        asking(token)
                            .post("/v1/ca/certificates", issue.clone())
                            .refused(403, "FORBIDDEN"),
                        asking(token).get("/v1/ca/crl").refused(403, "FORBIDDEN"),
                        asking(token)
                            .post(&path, json!({"reason": "keyCompromise"}))
                            .refused(403, "FORBIDDEN"),
                    ])
                    .await;
            }
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(served: &Served) -> Vec<Call> {
    served.hub.ca_init("矩阵 CA").await.unwrap();
    let server = served
        .hub
        .ca_issue(
            tongban_service::ca::CertRequest::Server {
                dns: vec!["matrix.example".into()],
                ips: Vec::new(),
            },
            None,
        )
        .await
        .unwrap()
        .row
        .serial;
    vec![
        Call::get("/v1/ca", "/v1/ca"),
        Call::get("/v1/ca/certificates", "/v1/ca/certificates?kind=server"),
        Call::post(
            "/v1/ca/certificates",
            "/v1/ca/certificates",
            json!({"kind": "client", "department": samples::MARKET}),
        ),
        Call::get(
            "/v1/ca/certificates/{serial}",
            format!("/v1/ca/certificates/{server}"),
        ),
        Call::post(
            "/v1/ca/certificates/{serial}/renew",
            format!("/v1/ca/certificates/{server}/renew"),
            json!({"validityDays": 30}),
        ),
        Call::post(
            "/v1/ca/certificates/{serial}/revoke",
            format!("/v1/ca/certificates/{server}/revoke"),
            json!({"reason": "superseded"}),
        ),
        Call::get("/v1/ca/crl", "/v1/ca/crl"),
    ]
}
