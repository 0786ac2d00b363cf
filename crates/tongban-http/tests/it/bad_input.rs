//! Bad input: each a problem with its stable code, and nothing written.

use serde_json::{Value, json};

use crate::{Served, business_licence, each_backend, problem};

async fn written(served: &Served) -> (u64, usize) {
    let (head, _) = served.hub.store().audit_head().await.unwrap();
    let uses = served.hub.store().recent_uses(None, 1000).await.unwrap();
    (head, uses.len())
}

#[tokio::test]
async fn every_refusal_has_its_code_and_writes_nothing() {
    each_backend("http_bad_input", |backend| async move {
        let served = Served::start_with(&backend, |config| config.body_limit = 64 * 1024).await;
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
        for path in ["/v1/verify", "/credentials/verify"] {
            let p = problem(
                post(path, "application/json", b"{\"a\":".to_vec())
                    .await
                    .unwrap(),
                400,
            )
            .await;
            assert_eq!(p["code"], "MALFORMED_JSON", "{path}");
            let p = problem(
                post(path, "application/json", br#"{"a":1,"a":2}"#.to_vec())
                    .await
                    .unwrap(),
                400,
            )
            .await;
            assert_eq!(p["code"], "DUPLICATE_MEMBER", "{path}");
            let p = problem(
                post(path, "text/plain", serde_json::to_vec(&licence).unwrap())
                    .await
                    .unwrap(),
                415,
            )
            .await;
            assert_eq!(p["code"], "CONTENT_TYPE_UNSUPPORTED", "{path}");
            let p = problem(
                served
                    .client
                    .post(served.url(path))
                    .body("{}")
                    .send()
                    .await
                    .unwrap(),
                415,
            )
            .await;
            assert_eq!(p["code"], "CONTENT_TYPE_UNSUPPORTED", "{path}");
            let big = json!({"padding": "x".repeat(65 * 1024)});
            let p = problem(
                post(path, "application/json", serde_json::to_vec(&big).unwrap())
                    .await
                    .unwrap(),
                413,
            )
            .await;
            assert_eq!(p["code"], "PAYLOAD_TOO_LARGE", "{path}");
        }
        // A duplicated member inside the licence of a VC API request too.
        let text = format!(
            r#"{{"verifiableCredential": {}, "options": {{"checks": [], "checks": ["proof"]}}}}"#,
            serde_json::to_string(&licence).unwrap()
        );
        let p = problem(
            post("/credentials/verify", "application/json", text.into_bytes())
                .await
                .unwrap(),
            400,
        )
        .await;
        assert_eq!(p["code"], "DUPLICATE_MEMBER");
        // An oversized form.
        let form = reqwest::multipart::Form::new()
            .text("licence", serde_json::to_string(&licence).unwrap())
            .part(
                "attachment",
                reqwest::multipart::Part::bytes(vec![0u8; 70 * 1024]),
            );
        let p = problem(
            served
                .client
                .post(served.url("/v1/verify"))
                .multipart(form)
                .send()
                .await
                .unwrap(),
            413,
        )
        .await;
        assert_eq!(p["code"], "PAYLOAD_TOO_LARGE");
        // Unknown paths and methods.
        let p = problem(served.get("/v1/nothing-here").await, 404).await;
        assert_eq!(p["code"], "ROUTE_UNKNOWN");
        let p = problem(served.get("/v1/verify").await, 405).await;
        assert_eq!(p["code"], "METHOD_NOT_ALLOWED");
        let p = problem(
            served
                .client
                .delete(served.url("/v1/trust"))
                .send()
                .await
                .unwrap(),
            405,
        )
        .await;
        assert_eq!(p["code"], "METHOD_NOT_ALLOWED");
        assert_eq!(written(&served).await, before, "a refusal wrote something");
        let _: Value = served.get("/healthz").await.json().await.unwrap();
        served.stop().await;
        backend
    })
    .await;
}
