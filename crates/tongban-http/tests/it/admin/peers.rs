//! `/v1/peers`: another region's hub (清城区, on its own store) added from
//! its card, its trust list imported, listed with the list's state,
//! removed; this hub's card; refusals with their codes write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::{Clock, Service, ServiceConfig};

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

const QINGCHENG: &str = "441802";

/// 清城区's hub in `dir`: its card and a trust list valid for a day.
async fn qingcheng(dir: &std::path::Path) -> (Value, Value) {
    let hub = Service::open(&ServiceConfig {
        clock: Clock::System,
        ..ServiceConfig::embedded(dir)
    })
    .await
    .unwrap();
    hub.init_region(QINGCHENG, "清远市清城区政务数据共享交换平台")
        .await
        .unwrap();
    hub.ca_init("清城区政务CA").await.unwrap();
    let card = hub.peer_card("hub.qingcheng.example:4433").await.unwrap();
    let list = hub.trust_list(time::Duration::days(1)).await.unwrap();
    hub.close().await;
    (serde_json::to_value(card).unwrap(), list)
}

#[tokio::test]
async fn peers_are_added_trusted_listed_and_removed() {
    let other = tempfile::tempdir().unwrap();
    let (card, list) = qingcheng(other.path()).await;
    let (card, list) = (&card, &list);
    each_served(
        "http_admin_peers",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let admin = format!("token:{}", &tokens.admin[4..24]);
            served.hub.ca_init("花都区政务CA").await.unwrap();
            let own = served
                .read(
                    &tokens.admin,
                    "/v1/peers/card?address=hub.huadu.example:4433",
                )
                .await;
            assert_eq!(own["region"], tongban_service::samples::REGION);
            assert_eq!(own["address"], "hub.huadu.example:4433");
            assert!(own["caPem"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
            assert_eq!(served.read(&tokens.admin, "/v1/peers").await, json!([]));

            let added = served
                .call(&tokens.admin, Method::POST, "/v1/peers", Some(card))
                .await;
            assert_eq!(added.status(), 201);
            let added: Value = added.json().await.unwrap();
            assert_eq!(added["regionCode"], QINGCHENG);
            assert_eq!(added["status"], "active");
            let listed = served.read(&tokens.admin, "/v1/peers").await;
            assert_eq!(listed[0]["regionCode"], QINGCHENG);
            assert_eq!(listed[0]["trust"], Value::Null);
            assert_eq!(listed[0]["crl"], "PEER_CRL_MISSING");

            let path = format!("/v1/peers/{QINGCHENG}/trust");
            let stored = served
                .call(&tokens.admin, Method::POST, &path, Some(list))
                .await;
            assert_eq!(stored.status(), 200);
            let stored: Value = stored.json().await.unwrap();
            assert_eq!(stored["failures"], 0, "{stored}");
            assert_eq!(stored["sha256"].as_str().unwrap().len(), 64);
            let listed = served.read(&tokens.admin, "/v1/peers").await;
            assert_eq!(listed[0]["trust"]["sha256"], stored["sha256"]);
            assert!(listed[0]["trust"]["validUntil"].is_string());
            // A list changed after signing is refused; the stored one stays.
            let mut tampered = list.clone();
            tampered["validUntil"] = "2099-01-01T00:00:00Z".into();
            served
                .refuses(
                    asking(&tokens.admin)
                        .post(&path, tampered)
                        .refused(400, "TRUST_LIST_UNTRUSTED"),
                )
                .await;
            let listed = served.read(&tokens.admin, "/v1/peers").await;
            assert_eq!(listed[0]["trust"]["sha256"], stored["sha256"]);

            let removed = served
                .call(
                    &tokens.admin,
                    Method::DELETE,
                    &format!("/v1/peers/{QINGCHENG}"),
                    None,
                )
                .await;
            assert_eq!(removed.status(), 200);
            let removed: Value = removed.json().await.unwrap();
            assert_eq!(removed["status"], "removed");
            assert!(removed["removedAt"].is_string());
            let listed = served.read(&tokens.admin, "/v1/peers").await;
            assert_eq!(listed[0]["status"], "removed");
            assert_eq!(listed[0]["crl"], Value::Null);
            let entries = served.hub.store().audit_of(QINGCHENG, 10).await.unwrap();
            for action in ["peer.add", "peer.remove"] {
                assert!(
                    entries
                        .iter()
                        .any(|e| e.action == action && e.actor == admin),
                    "{action}: {entries:?}"
                );
            }
            served
        },
    )
    .await;
}

#[tokio::test]
async fn bad_peers_are_refused_and_write_nothing() {
    let other = tempfile::tempdir().unwrap();
    let (card, list) = qingcheng(other.path()).await;
    let (card, list) = (&card, &list);
    each_served(
        "http_admin_peers_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            served.hub.ca_init("花都区政务CA").await.unwrap();
            let own = served
                .read(
                    &tokens.admin,
                    "/v1/peers/card?address=hub.huadu.example:4433",
                )
                .await;
            served
                .call(&tokens.admin, Method::POST, "/v1/peers", Some(card))
                .await;
            let with = |member: &str, value: Value| {
                let mut c = card.clone();
                // Another region, so that only `member` is wrong.
                c["region"] = "430921".into();
                c[member] = value;
                c
            };
            let admin = asking(&tokens.admin);
            served
                .refused_each(&[
                    admin
                        .post("/v1/peers", card.clone())
                        .refused(400, "PEER_EXISTS"),
                    admin.post("/v1/peers", own).refused(400, "PEER_IS_SELF"),
                    admin
                        .post("/v1/peers", with("address", "nowhere".into()))
                        .refused(400, "PEER_ADDRESS_INVALID"),
                    admin
                        .post("/v1/peers", with("anchor", "z6MkNothing".into()))
                        .refused(400, "PEER_ANCHOR_INVALID"),
                    admin
                        .post(
                            "/v1/peers",
                            with("caPem", "-----BEGIN CERTIFICATE-----".into()),
                        )
                        .refused(400, "PEER_CA_INVALID"),
                    admin
                        .post("/v1/peers", with("region", "999999".into()))
                        .refused(400, "PEER_REGION_INVALID"),
                    admin
                        .post("/v1/peers", with("colour", "red".into()))
                        .refused(400, "REQUEST_INVALID"),
                    admin
                        .get("/v1/peers/card?address=nowhere")
                        .refused(400, "PEER_ADDRESS_INVALID"),
                    admin.get("/v1/peers/card").refused(400, "REQUEST_INVALID"),
                    admin
                        .post("/v1/peers/430921/trust", list.clone())
                        .refused(404, "PEER_UNKNOWN"),
                    admin
                        .delete("/v1/peers/430921")
                        .refused(404, "PEER_UNKNOWN"),
                ])
                .await;
            // Peers are a region administrator's only, reading them too.
            for token in [&tokens.market, &tokens.auditor, &tokens.verifier] {
                served
                    .refused_each(&[
                        asking(token).get("/v1/peers").refused(403, "FORBIDDEN"),
                        asking(token)
                            .delete(format!("/v1/peers/{QINGCHENG}"))
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
pub async fn calls(_served: &Served) -> Vec<Call> {
    // No other hub here: the calls are refused for their reasons (no such
    // peer, a card that is not one), or by role.
    let card = json!({"region": QINGCHENG, "name": "清城区", "address": "hub.qingcheng.example:4433", "anchor": "z6MkNothing", "caPem": ""});
    vec![
        Call::get("/v1/peers", "/v1/peers"),
        Call::post("/v1/peers", "/v1/peers", card),
        Call::get(
            "/v1/peers/card",
            "/v1/peers/card?address=hub.huadu.example:4433",
        ),
        Call::post(
            "/v1/peers/{region}/trust",
            format!("/v1/peers/{QINGCHENG}/trust"),
            json!({}),
        ),
        Call::post(
            "/v1/peers/{region}",
            format!("/v1/peers/{QINGCHENG}"),
            Value::Null,
        )
        .with_method(Method::DELETE),
    ]
}
