//! `/v1/schemas`: listed by kind and in pages, published (checked against
//! the previous version, the same content again answered as such),
//! versions, one version's document, the changes between two; refusals
//! with their codes write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

const MESSAGE: &str = "business-registration";

/// The sample message schema as version `version`, with `change` made.
fn message_schema(version: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut schema: Value = serde_json::from_str(samples::MESSAGE_TYPES[0].1).unwrap();
    schema["x-message-type"]["version"] = version.into();
    schema["$id"] = format!("https://schemas.tongban.dev/messages/{MESSAGE}/{version}").into();
    change(&mut schema);
    schema
}

/// Adds an optional member: nothing valid before is refused after.
fn add_optional(schema: &mut Value) {
    schema["properties"]["website"] = json!({"type": "string", "maxLength": 200});
}

#[tokio::test]
async fn schemas_are_listed_published_shown_and_compared() {
    each_served(
        "http_admin_schemas",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let all = served.read(&tokens.market, "/v1/schemas").await;
            let count = served.hub.schemas(None).await.unwrap().len();
            assert_eq!(all["items"].as_array().unwrap().len(), count, "{all}");
            let messages = served.read(&tokens.admin, "/v1/schemas?kind=message").await;
            let messages = messages["items"].as_array().unwrap();
            assert!(messages.len() < count);
            assert!(messages.iter().all(|m| m["kind"] == "message"));
            let ours = messages.iter().find(|m| m["id"] == MESSAGE).unwrap();
            assert_eq!(ours["version"], "1");
            assert_eq!(ours["sha256"].as_str().unwrap().len(), 64);
            let page = served
                .read(&tokens.admin, "/v1/schemas?kind=licence-type&limit=2")
                .await;
            assert_eq!(page["items"].as_array().unwrap().len(), 2);
            assert_eq!(page["next"], 2);

            let v2 = message_schema("2", add_optional);
            let published = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/schemas",
                    Some(&json!({"schema": v2})),
                )
                .await;
            assert_eq!(published.status(), 201);
            let published: Value = published.json().await.unwrap();
            assert_eq!(published["kind"], "message");
            assert_eq!(published["outcome"], "published");
            assert_eq!(published["previous"], "1");
            let changes = published["changes"].as_array().unwrap();
            assert_eq!(changes.len(), 1, "{published}");
            assert_eq!(changes[0]["path"], "/website");
            assert_eq!(changes[0]["breaking"], false);
            let entries = served
                .hub
                .store()
                .audit_of(&format!("{MESSAGE}@2"), 5)
                .await
                .unwrap();
            assert_eq!(entries[0].action, "schema.publish");
            assert_eq!(entries[0].actor, format!("token:{}", &tokens.admin[4..24]));
            // The same content again changes nothing.
            let before = served.audit_head().await;
            let again = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/schemas",
                    Some(&json!({"schema": v2, "kind": "message"})),
                )
                .await;
            assert_eq!(again.status(), 200);
            let again: Value = again.json().await.unwrap();
            assert_eq!(again["outcome"], "already-published");
            assert_eq!(served.audit_head().await, before);

            let versions = served
                .read(&tokens.market, &format!("/v1/schemas/{MESSAGE}"))
                .await;
            let versions: Vec<&str> = versions
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["version"].as_str().unwrap())
                .collect();
            assert_eq!(versions.len(), 2);
            assert!(versions.contains(&"1") && versions.contains(&"2"));
            let latest = served
                .read(&tokens.market, &format!("/v1/schemas/{MESSAGE}/latest"))
                .await;
            assert_eq!(latest, v2);
            let first = served
                .read(&tokens.market, &format!("/v1/schemas/{MESSAGE}/1"))
                .await;
            assert_eq!(first["x-message-type"]["version"], "1");
            assert!(first["properties"].get("website").is_none());
            let diff = served
                .read(
                    &tokens.market,
                    &format!("/v1/schemas/{MESSAGE}/diff?from=1&to=2"),
                )
                .await;
            assert_eq!(diff.as_array().unwrap().len(), 1);
            assert_eq!(diff[0]["path"], "/website");

            // A breaking version, when allowed.
            let v3 = message_schema("3", |s| {
                s["required"].as_array_mut().unwrap().push("website".into());
                add_optional(s);
            });
            let forced = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/schemas",
                    Some(&json!({"schema": v3, "allowBreaking": true})),
                )
                .await;
            assert_eq!(forced.status(), 201);
            let forced: Value = forced.json().await.unwrap();
            assert!(
                forced["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["breaking"] == true),
                "{forced}"
            );
            served
        },
    )
    .await;
}

#[tokio::test]
async fn bad_schemas_are_refused_and_write_nothing() {
    each_served(
        "http_admin_schemas_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let admin = asking(&tokens.admin);
            let publish = |body: Value| admin.post("/v1/schemas", body);
            let breaking = message_schema("2", |s| {
                s["required"].as_array_mut().unwrap().push("website".into());
                add_optional(s);
            });
            let changed = message_schema("1", add_optional);
            served
                .refused_each(&[
                    publish(json!({"schema": breaking})).refused(400, "SCHEMA_INCOMPATIBLE"),
                    publish(json!({"schema": changed})).refused(400, "SCHEMA_VERSION_CONFLICT"),
                    publish(json!({"schema": message_schema("0.9", add_optional)}))
                        .refused(400, "SCHEMA_VERSION_NOT_NEWER"),
                    publish(json!({"schema": {"type": "object"}}))
                        .refused(400, "SCHEMA_ID_MISSING"),
                    publish(json!({"schema": {"type": 7}, "id": "x", "version": "1"}))
                        .refused(400, "SCHEMA_INVALID"),
                    publish(json!({"schema": {"type": "object"}, "id": "x y", "version": "1"}))
                        .refused(400, "SCHEMA_ID_INVALID"),
                    publish(json!({"schema": message_schema("2", add_optional), "kind": "form"}))
                        .refused(400, "SCHEMA_KIND_INVALID"),
                    publish(json!({"schema": message_schema("2", add_optional), "force": true}))
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.market)
                        .post(
                            "/v1/schemas",
                            json!({"schema": message_schema("2", add_optional)}),
                        )
                        .refused(403, "FORBIDDEN"),
                ])
                .await;

            served
                .refused_each(&[
                    admin
                        .get("/v1/schemas/nothing")
                        .refused(404, "SCHEMA_UNKNOWN"),
                    admin
                        .get("/v1/schemas/nothing/1")
                        .refused(404, "SCHEMA_UNKNOWN"),
                    admin
                        .get("/v1/schemas/business-registration/7")
                        .refused(404, "SCHEMA_UNKNOWN"),
                    admin
                        .get("/v1/schemas/business-registration/diff?from=1&to=7")
                        .refused(404, "SCHEMA_UNKNOWN"),
                    admin
                        .get("/v1/schemas/business-registration/diff?from=1")
                        .refused(400, "REQUEST_INVALID"),
                    admin
                        .get("/v1/schemas?kind=form")
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.auditor)
                        .get("/v1/schemas")
                        .refused(403, "FORBIDDEN"),
                ])
                .await;
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(_served: &Served) -> Vec<Call> {
    vec![
        Call::get("/v1/schemas", "/v1/schemas?kind=message"),
        Call::post(
            "/v1/schemas",
            "/v1/schemas",
            json!({"schema": message_schema("2", add_optional)}),
        ),
        Call::get("/v1/schemas/{id}", format!("/v1/schemas/{MESSAGE}")),
        Call::get(
            "/v1/schemas/{id}/diff",
            format!("/v1/schemas/{MESSAGE}/diff?from=1&to=1"),
        ),
        Call::get(
            "/v1/schemas/{id}/{version}",
            format!("/v1/schemas/{MESSAGE}/1"),
        ),
    ]
}
