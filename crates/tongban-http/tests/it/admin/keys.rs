//! `/v1/keys`: list by owner and in pages, make, register a department's
//! own exchange key from its signed request, rotate with an overlap,
//! revoke as of an instant; each audited with the token; refusals with
//! their codes write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_seal::SigningKey;
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

#[tokio::test]
async fn keys_are_listed_made_registered_rotated_and_revoked() {
    each_served(
        "http_admin_keys",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let admin = format!("token:{}", &tokens.admin[4..24]);
            let all = served.read(&tokens.admin, "/v1/keys").await;
            let count = all["items"].as_array().unwrap().len();
            assert!(count > samples::DEPARTMENTS.len(), "{all}");
            let market = served
                .read(
                    &tokens.market,
                    &format!("/v1/keys?owner={}", samples::MARKET),
                )
                .await;
            let market = market["items"].as_array().unwrap().clone();
            assert!(!market.is_empty());
            assert!(market.iter().all(|k| k["owner"] == samples::MARKET));
            let page = served
                .read(&tokens.admin, "/v1/keys?limit=2&offset=1")
                .await;
            assert_eq!(page["items"].as_array().unwrap().len(), 2);
            assert_eq!(page["items"][0], all["items"][1]);
            assert_eq!(page["next"], 3);

            let made = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/keys",
                    Some(&json!({"owner": samples::CIVIL_AFFAIRS, "purpose": "exchange"})),
                )
                .await;
            assert_eq!(made.status(), 201);
            let made: Value = made.json().await.unwrap();
            let exchange = made["keyId"].as_str().unwrap().to_owned();
            assert!(exchange.starts_with("z6Mk"), "{made}");
            assert_eq!(made["purpose"], "exchange");
            assert_eq!(made["owner"], samples::CIVIL_AFFAIRS);
            let entries = served.hub.store().audit_of(&exchange, 5).await.unwrap();
            assert_eq!(
                (entries[0].action.as_str(), entries[0].actor.as_str()),
                ("key.new", admin.as_str())
            );

            // A department's own key: the hub never sees its secret.
            let own = SigningKey::generate().unwrap();
            let request =
                tongban_seal::keyreg::sign(&own, samples::XINHUA_STREET, served.hub.now());
            let registered = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/keys/register",
                    Some(&request),
                )
                .await;
            assert_eq!(registered.status(), 201);
            let registered: Value = registered.json().await.unwrap();
            assert_eq!(registered["keyId"], own.public().to_multikey());
            assert_eq!(registered["owner"], samples::XINHUA_STREET);
            let entries = served
                .hub
                .store()
                .audit_of(&own.public().to_multikey(), 5)
                .await
                .unwrap();
            assert_eq!(
                (entries[0].action.as_str(), entries[0].actor.as_str()),
                ("key.register", admin.as_str())
            );
            served
                .refuses(
                    asking(&tokens.admin)
                        .post("/v1/keys/register", request.clone())
                        .refused(400, "KEY_EXISTS"),
                )
                .await;

            let issuing = market
                .iter()
                .find(|k| k["purpose"] == "issue" && k["revokedAt"].is_null())
                .unwrap()["keyId"]
                .as_str()
                .unwrap()
                .to_owned();
            let rotated = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    &format!("/v1/keys/{issuing}/rotate"),
                    Some(&json!({"overlapDays": 2})),
                )
                .await;
            assert_eq!(rotated.status(), 200);
            let rotated: Value = rotated.json().await.unwrap();
            assert_eq!(rotated["old"]["keyId"], issuing.as_str());
            let closes =
                tongban_seal::timefmt::parse_rfc3339(rotated["old"]["notAfter"].as_str().unwrap())
                    .unwrap();
            let opens =
                tongban_seal::timefmt::parse_rfc3339(rotated["new"]["notBefore"].as_str().unwrap())
                    .unwrap();
            // The store keeps whole seconds; the successor's row is answered as made.
            let overlap = closes - opens;
            assert!(
                (overlap - time::Duration::days(2)).abs() < time::Duration::seconds(1),
                "{rotated}"
            );
            assert_eq!(rotated["new"]["owner"], samples::MARKET);
            assert_eq!(rotated["new"]["purpose"], "issue");
            let entries = served.hub.store().audit_of(&issuing, 5).await.unwrap();
            assert!(
                entries
                    .iter()
                    .any(|e| e.action == "key.rotate" && e.actor == admin),
                "{entries:?}"
            );

            let revoked = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    &format!("/v1/keys/{exchange}/revoke"),
                    Some(&json!({"at": "2026-01-01T00:00:00Z", "reason": "密钥泄露"})),
                )
                .await;
            assert_eq!(revoked.status(), 200);
            let revoked: Value = revoked.json().await.unwrap();
            assert_eq!(revoked["revokedAt"], "2026-01-01T00:00:00Z");
            assert_eq!(revoked["revokedReason"], "密钥泄露");
            let listed = served
                .read(
                    &tokens.admin,
                    &format!("/v1/keys?owner={}", samples::CIVIL_AFFAIRS),
                )
                .await;
            let back = listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["keyId"] == exchange.as_str())
                .unwrap();
            assert_eq!(back["revokedReason"], "密钥泄露");
            let entries = served.hub.store().audit_of(&exchange, 5).await.unwrap();
            assert!(
                entries
                    .iter()
                    .any(|e| e.action == "key.revoke" && e.actor == admin)
            );
            served
        },
    )
    .await;
}

#[tokio::test]
async fn bad_key_requests_are_refused_and_write_nothing() {
    each_served(
        "http_admin_keys_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let key = served.hub.keys_of(samples::MARKET).await.unwrap()[0]
                .key_id
                .clone();
            let admin = asking(&tokens.admin);
            let rotate = format!("/v1/keys/{key}/rotate");
            let revoke = format!("/v1/keys/{key}/revoke");
            // A request the key did not sign, one for a stranger, one that is not one.
            let own = SigningKey::generate().unwrap();
            let mut moved =
                tongban_seal::keyreg::sign(&own, samples::XINHUA_STREET, served.hub.now());
            moved["owner"] = samples::MARKET.into();
            let stranger = tongban_seal::keyreg::sign(&own, "11440114MB2C0010XM", served.hub.now());
            served
                .refused_each(&[
                    admin
                        .post(
                            "/v1/keys",
                            json!({"owner": samples::MARKET, "purpose": "both"}),
                        )
                        .refused(400, "REQUEST_INVALID"),
                    admin
                        .post("/v1/keys", json!({"owner": "11440114MB2C0010XM"}))
                        .refused(404, "DEPARTMENT_UNKNOWN"),
                    admin
                        .post("/v1/keys/z6MkNothing/rotate", json!({}))
                        .refused(404, "KEY_UNKNOWN"),
                    admin
                        .post(&rotate, json!({"overlapDays": 366}))
                        .refused(400, "OVERLAP_INVALID"),
                    admin
                        .post(&rotate, json!({"overlapDays": i64::MIN}))
                        .refused(400, "OVERLAP_INVALID"),
                    admin
                        .post(&revoke, json!({"reason": " "}))
                        .refused(400, "REASON_REQUIRED"),
                    admin
                        .post(&revoke, json!({"reason": "x", "at": "yesterday"}))
                        .refused(400, "REQUEST_INVALID"),
                    admin
                        .post("/v1/keys/register", moved)
                        .refused(400, "KEY_POSSESSION_UNPROVEN"),
                    admin
                        .post("/v1/keys/register", stranger)
                        .refused(404, "DEPARTMENT_UNKNOWN"),
                    admin
                        .post("/v1/keys/register", json!({"owner": samples::MARKET}))
                        .refused(400, "KEY_REGISTRATION_INVALID"),
                    // Operators read keys but make none.
                    asking(&tokens.market)
                        .post("/v1/keys", json!({"owner": samples::MARKET}))
                        .refused(403, "FORBIDDEN"),
                    asking(&tokens.market)
                        .post(&revoke, json!({"reason": "x"}))
                        .refused(403, "FORBIDDEN"),
                    asking(&tokens.auditor)
                        .get("/v1/keys")
                        .refused(403, "FORBIDDEN"),
                ])
                .await;
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(served: &Served) -> Vec<Call> {
    let keys = served.hub.keys_of(samples::DATA_BUREAU).await.unwrap();
    let key = &keys[0].key_id;
    let own = SigningKey::generate().unwrap();
    let request = tongban_seal::keyreg::sign(&own, samples::CIVIL_AFFAIRS, served.hub.now());
    vec![
        Call::get("/v1/keys", format!("/v1/keys?owner={}", samples::MARKET)),
        Call::post(
            "/v1/keys",
            "/v1/keys",
            json!({"owner": samples::DATA_BUREAU}),
        ),
        Call::post("/v1/keys/register", "/v1/keys/register", request),
        Call::post(
            "/v1/keys/{keyId}/rotate",
            format!("/v1/keys/{key}/rotate"),
            json!({"overlapDays": 1}),
        ),
        Call::post(
            "/v1/keys/{keyId}/revoke",
            format!("/v1/keys/{key}/revoke"),
            json!({"reason": "matrix"}),
        ),
    ]
}
