//! Bad input: each a problem with its stable code, and nothing written.

use serde_json::{Value, json};

use crate::{Served, business_licence, each_served, problem, refused};

async fn written(served: &Served) -> (u64, usize) {
    let (head, _) = served.hub.store().audit_head().await.unwrap();
    let uses = served.hub.store().recent_uses(None, 1000).await.unwrap();
    (head, uses.len())
}

#[tokio::test]
async fn every_refusal_has_its_code_and_writes_nothing() {
    each_served("http_bad_input", |config| config.body_limit = 64 * 1024, |served| async move {
        let licence = business_licence(&served.hub, None).await;
        let before = written(&served).await;
        let post = |path: &'static str, content_type: &'static str, body: Vec<u8>| {
            served
                .client
                .post(served.url(path))
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let big = json!({"padding": "x".repeat(65 * 1024)});
        let json = Some("application/json");
        let cases: [(Option<&'static str>, Vec<u8>, u16, &str); 5] = [
            (json, b"{\"a\":".to_vec(), 400, "MALFORMED_JSON"),
            (json, br#"{"a":1,"a":2}"#.to_vec(), 400, "DUPLICATE_MEMBER"),
            (Some("text/plain"), serde_json::to_vec(&licence).unwrap(), 415, "CONTENT_TYPE_UNSUPPORTED"),
            // No content type at all.
            (None, b"{}".to_vec(), 415, "CONTENT_TYPE_UNSUPPORTED"),
            (json, serde_json::to_vec(&big).unwrap(), 413, "PAYLOAD_TOO_LARGE"),
        ];
        for path in ["/v1/verify", "/credentials/verify"] {
            for (content_type, body, status, code) in &cases {
                let request = served.client.post(served.url(path)).body(body.clone());
                let request = match content_type {
                    Some(t) => request.header("content-type", *t),
                    None => request,
                };
                let p = problem(request.send().await.unwrap(), *status).await;
                assert_eq!(p["code"], *code, "{path}");
            }
        }
        // A duplicated member inside the licence of a VC API request too.
        let text = format!(
            r#"{{"verifiableCredential": {}, "options": {{"checks": [], "checks": ["proof"]}}}}"#,
            serde_json::to_string(&licence).unwrap()
        );
        refused(post("/credentials/verify", "application/json", text.into_bytes())
                .await
                .unwrap(), 400, "DUPLICATE_MEMBER").await;
        // An oversized form.
        let form = reqwest::multipart::Form::new()
            .text("licence", serde_json::to_string(&licence).unwrap())
            .part(
                "attachment",
                reqwest::multipart::Part::bytes(vec![0u8; 70 * 1024]),
            );
        refused(served
                .client
                .post(served.url("/v1/verify"))
                .multipart(form)
                .send()
                .await
                .unwrap(), 413, "PAYLOAD_TOO_LARGE").await;
        // Unknown paths and methods.
        refused(served.get("/v1/nothing-here").await, 404, "ROUTE_UNKNOWN").await;
        refused(served.get("/v1/verify").await, 405, "METHOD_NOT_ALLOWED").await;
        refused(served
                .client
                .delete(served.url("/v1/trust"))
                .send()
                .await
                .unwrap(), 405, "METHOD_NOT_ALLOWED").await;
        assert_eq!(written(&served).await, before, "a refusal wrote something");
        let _: Value = served.get("/healthz").await.json().await.unwrap();
        served
    })
    .await;
}
