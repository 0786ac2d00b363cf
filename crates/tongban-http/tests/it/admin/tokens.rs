//! `/v1/tokens`: a token made over HTTP is shown once (not cached), works,
//! is listed without its secret, and once revoked is refused; only a
//! region administrator makes tokens.

use reqwest::Method;
use serde_json::json;
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

#[tokio::test]
async fn tokens_are_made_listed_and_revoked() {
    each_served(
        "http_admin_tokens_area",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let made = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/tokens",
                    Some(&json!({"name": "市场局审批系统", "role": "department-operator", "department": samples::MARKET, "expiresInDays": 30})),
                )
                .await;
            assert_eq!(made.status(), 201);
            assert_eq!(made.headers()["cache-control"], "no-store");
            let made: serde_json::Value = made.json().await.unwrap();
            let token = made["token"].as_str().unwrap().to_owned();
            let id = made["id"].as_str().unwrap().to_owned();
            assert!(token.starts_with(&format!("tbk_{id}_")), "{made}");
            assert_eq!(made["role"], "department-operator");
            assert_eq!(made["department"], samples::MARKET);
            // The new token works, with its role.
            let own = served
                .read(&token, &format!("/v1/departments/{}", samples::MARKET))
                .await;
            assert_eq!(own["department"]["code"], samples::MARKET);
            served
                .refuses(asking(&token).get("/v1/tokens").refused(403, "FORBIDDEN"))
                .await;

            // Listed, never with a secret.
            let listed = served.read(&tokens.admin, "/v1/tokens").await;
            let items = listed["items"].as_array().unwrap();
            assert_eq!(items.len(), 6, "{listed}");
            let row = items.iter().find(|t| t["id"] == id.as_str()).unwrap();
            assert_eq!(row["name"], "市场局审批系统");
            assert_eq!(row["createdBy"], format!("token:{}", &tokens.admin[4..24]));
            assert!(!listed.to_string().contains(&token[25..]), "a secret listed");
            for item in items {
                assert!(item.get("token").is_none() && item.get("secretSha256").is_none());
            }
            let page = served.read(&tokens.admin, "/v1/tokens?limit=4&offset=4").await;
            assert_eq!(page["items"].as_array().unwrap().len(), 2);
            assert_eq!(page["next"], serde_json::Value::Null);

            // Audited with the token that made it.
            let admin_id = &tokens.admin[4..24];
            let entries = served.hub.store().audit_of(&id, 10).await.unwrap();
            assert_eq!(entries.len(), 1, "{entries:?}");
            assert_eq!(entries[0].action, "token.create");
            assert_eq!(entries[0].actor, format!("token:{admin_id}"));

            let revoked = served
                .call(&tokens.admin, Method::POST, &format!("/v1/tokens/{id}/revoke"), None)
                .await;
            assert_eq!(revoked.status(), 200);
            let revoked: serde_json::Value = revoked.json().await.unwrap();
            assert!(revoked["revokedAt"].is_string(), "{revoked}");
            served
                .refuses(
                    asking(&token)
                        .get("/v1/departments")
                        .refused(401, "TOKEN_REVOKED"),
                )
                .await;
            let entries = served.hub.store().audit_of(&id, 10).await.unwrap();
            assert_eq!(entries.len(), 2);
            let revocation = entries.iter().find(|e| e.action == "token.revoke").unwrap();
            assert_eq!(revocation.actor, format!("token:{admin_id}"));
            served
        },
    )
    .await;
}

#[tokio::test]
async fn bad_tokens_are_refused_and_nothing_is_written() {
    each_served(
        "http_admin_tokens_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let admin = asking(&tokens.admin);
            let create = |body: serde_json::Value| admin.post("/v1/tokens", body);
            let operator = |department: &str| {
                json!({"name": "x", "role": "department-operator", "department": department})
            };
            let mut refusals = vec![
                create(json!({"name": "x", "role": "root"})).refused(400, "ROLE_UNKNOWN"),
                create(json!({"name": "x", "role": "department-operator"}))
                    .refused(400, "ROLE_DEPARTMENT_MISMATCH"),
                create(json!({"name": "x", "role": "auditor", "department": samples::MARKET}))
                    .refused(400, "ROLE_DEPARTMENT_MISMATCH"),
                create(operator("11440114MB2C0010XM"))
                    .refused(404, "DEPARTMENT_UNKNOWN"),
            ];
            refusals.extend([0, 367, -5, i64::MAX].map(|days| {
                create(json!({"name": "x", "role": "auditor", "expiresInDays": days}))
                    .refused(400, "TOKEN_EXPIRY_INVALID")
            }));
            refusals.extend([
                create(json!({"name": "", "role": "auditor"})).refused(400, "TOKEN_NAME_INVALID"),
                create(json!({"name": "x", "role": "auditor", "secret": "mine"}))
                    .refused(400, "REQUEST_INVALID"),
                admin
                    .send(Method::POST, "/v1/tokens/tok_0000000000000000/revoke", None)
                    .refused(404, "TOKEN_UNKNOWN"),
            ]);
            // No role below region-admin makes a token, not even an auditor's.
            refusals.extend([&tokens.auditor, &tokens.market, &tokens.verifier].map(|token| {
                asking(token)
                    .post("/v1/tokens", json!({"name": "x", "role": "auditor"}))
                    .refused(403, "FORBIDDEN")
            }));
            let auditor_id = &tokens.auditor[4..24];
            refusals.push(
                asking(&tokens.market)
                    .send(Method::POST, format!("/v1/tokens/{auditor_id}/revoke"), None)
                    .refused(403, "FORBIDDEN"),
            );
            served.refused_each(&refusals).await;
            assert_eq!(served.hub.token_list().await.unwrap().len(), 5);
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(served: &Served) -> Vec<Call> {
    let spare = served
        .hub
        .token_create(
            "matrix",
            tongban_service::Role::Verifier,
            None,
            time::Duration::days(1),
        )
        .await
        .unwrap();
    vec![
        Call::get("/v1/tokens", "/v1/tokens?limit=5"),
        Call::post(
            "/v1/tokens",
            "/v1/tokens",
            json!({"name": "matrix", "role": "auditor", "expiresInDays": 1}),
        ),
        Call::post(
            "/v1/tokens/{id}/revoke",
            format!("/v1/tokens/{}/revoke", spare.row.id),
            json!({}),
        ),
    ]
}
