//! `/v1/departments`: list with filters and pages, register, show with
//! keys, state changes audited with the caller; bad input refused with
//! its code, and nothing written.

use reqwest::Method;
use serde_json::json;
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served, refused};

const NEW: &str = "11440114MB2C0010XM";

#[tokio::test]
async fn departments_are_listed_registered_and_changed() {
    each_served(
        "http_admin_departments",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let all = served.read(&tokens.admin, "/v1/departments").await;
            let count = all["items"].as_array().unwrap().len();
            assert_eq!(count, samples::DEPARTMENTS.len());
            assert_eq!(all["next"], serde_json::Value::Null);
            // Pages: two at a time, the next offset given until the end.
            let first = served.read(&tokens.admin, "/v1/departments?limit=2").await;
            assert_eq!(first["items"].as_array().unwrap().len(), 2);
            assert_eq!(first["next"], 2);
            let last = served
                .read(
                    &tokens.admin,
                    &format!("/v1/departments?limit=2&offset={}", count - 1),
                )
                .await;
            assert_eq!(last["items"].as_array().unwrap().len(), 1);
            assert_eq!(last["next"], serde_json::Value::Null);
            // An operator reads departments too.
            let one = served
                .read(&tokens.market, &format!("/v1/departments/{}", samples::MARKET))
                .await;
            assert_eq!(one["department"]["code"], samples::MARKET);
            assert!(!one["keys"].as_array().unwrap().is_empty(), "{one}");
            assert!(one["keys"][0]["keyId"].as_str().unwrap().starts_with('z'));

            let added = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/departments",
                    Some(&json!({"code": NEW, "name": "花都区测试局", "regionCode": "440114", "contact": "李工 020-0000"})),
                )
                .await;
            assert_eq!(added.status(), 201);
            let added: serde_json::Value = added.json().await.unwrap();
            assert_eq!(added["status"], "active");
            assert_eq!(added["platformLevel"], "district");

            let suspended = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    &format!("/v1/departments/{NEW}/suspend"),
                    Some(&json!({"reason": "审计整改"})),
                )
                .await;
            assert_eq!(suspended.status(), 200);
            let listed = served
                .read(&tokens.admin, "/v1/departments?status=suspended")
                .await;
            assert_eq!(listed["items"].as_array().unwrap().len(), 1);
            assert_eq!(listed["items"][0]["code"], NEW);

            // The audit log names the token that acted.
            let entries = served.hub.store().audit_of(NEW, 10).await.unwrap();
            assert!(entries.len() >= 2, "{entries:?}");
            let admin_id = &tokens.admin[4..24];
            for e in &entries {
                assert_eq!(e.actor, format!("token:{admin_id}"), "{e:?}");
            }
            served
        },
    )
    .await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_codes_and_write_nothing() {
    each_served(
        "http_admin_departments_bad",
        |config| config.body_limit = 4096,
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let before = served.audit_head().await;
            let post = |body: &'static str, content_type: &'static str| {
                served
                    .client
                    .post(served.url("/v1/departments"))
                    .bearer_auth(&tokens.admin)
                    .header("content-type", content_type)
                    .body(body)
            };
            let ok = r#"{"code":"11440114MB2C0010XM","name":"测试局","regionCode":"440114"}"#;
            refused(post("{", "application/json").send().await.unwrap(), 400, "MALFORMED_JSON").await;
            refused(
                post(
                    r#"{"code":"11440114MB2C0010XM","code":"x","name":"测试局","regionCode":"440114"}"#,
                    "application/json",
                )
                .send()
                .await
                .unwrap(),
                400,
                "DUPLICATE_MEMBER",
            )
            .await;
            let unknown = refused(
                post(
                    r#"{"code":"11440114MB2C0010XM","name":"测试局","regionCode":"440114","colour":"red"}"#,
                    "application/json",
                )
                .send()
                .await
                .unwrap(),
                400,
                "REQUEST_INVALID",
            )
            .await;
            assert!(unknown["detail"].as_str().unwrap().contains("colour"), "{unknown}");
            refused(post(ok, "text/plain").send().await.unwrap(), 415, "CONTENT_TYPE_UNSUPPORTED").await;
            let big = format!(r#"{{"code":"x","name":"{}","regionCode":"440114"}}"#, "名".repeat(4096));
            let response = served
                .client
                .post(served.url("/v1/departments"))
                .bearer_auth(&tokens.admin)
                .header("content-type", "application/json")
                .body(big)
                .send()
                .await
                .unwrap();
            refused(response, 413, "PAYLOAD_TOO_LARGE").await;
            let admin = asking(&tokens.admin);
            served
                .refused_each(&[
                    admin
                        .post("/v1/departments", json!({"code": "123", "name": "x", "regionCode": "440114"}))
                        .refused(400, "DEPARTMENT_CODE_INVALID"),
                    admin.get("/v1/departments?colour=red").refused(400, "REQUEST_INVALID"),
                    admin.get("/v1/departments?limit=0").refused(400, "REQUEST_INVALID"),
                    admin
                        .get(format!("/v1/departments/{NEW}"))
                        .refused(404, "DEPARTMENT_UNKNOWN"),
                    asking(&tokens.market)
                        .post(
                            format!("/v1/departments/{}/suspend", samples::CIVIL_AFFAIRS),
                            json!({"reason": "x"}),
                        )
                        .refused(403, "FORBIDDEN"),
                ])
                .await;
            assert_eq!(served.audit_head().await, before, "a refusal wrote");
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(_served: &Served) -> Vec<Call> {
    let market = samples::MARKET;
    vec![
        Call::get("/v1/departments", "/v1/departments?limit=5"),
        Call::post(
            "/v1/departments",
            "/v1/departments",
            json!({"code": "11440114MB2C0009X9", "name": "矩阵测试局", "regionCode": "440114"}),
        ),
        Call::get(
            "/v1/departments/{code}",
            format!("/v1/departments/{market}"),
        ),
        Call::post(
            "/v1/departments/{code}/suspend",
            format!("/v1/departments/{}/suspend", samples::PLANNING),
            json!({"reason": "matrix"}),
        ),
        Call::post(
            "/v1/departments/{code}/activate",
            format!("/v1/departments/{}/activate", samples::PLANNING),
            json!({"reason": "matrix"}),
        ),
        Call::post(
            "/v1/departments/{code}/retire",
            format!("/v1/departments/{}/retire", samples::SANDONG_VILLAGE),
            json!({"reason": "matrix"}),
        ),
    ]
}
