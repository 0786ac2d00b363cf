//! `/v1/items`: service items registered for the department acted for,
//! next versions and retirement by that department only, lists with
//! filters and pages; audited with the caller; refusals write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::samples;

use super::areas::Call;
use super::catalogue::by;
use super::{Tokens, asking};
use crate::{Served, each_served};

/// A service item of `code` whose material is a business licence.
pub fn item(code: &str, name: &str) -> Value {
    json!({
        "code": code,
        "name": name,
        "itemType": "承诺件",
        "legalLimitDays": 20,
        "promisedLimitDays": 5,
        "materials": [
            {"name": "营业执照", "licenceType": samples::BUSINESS_LICENCE_TYPE},
            {"name": "食品安全管理制度"},
        ],
    })
}

#[tokio::test]
async fn items_are_registered_versioned_listed_and_retired() {
    each_served(
        "http_admin_items",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let post = |token: &str, body: Value| {
                let token = token.to_owned();
                let served = &served;
                async move {
                    served
                        .call(&token, Method::POST, "/v1/items", Some(&body))
                        .await
                }
            };
            // An operator registers for its own department: created.
            let made = post(
                &tokens.market,
                item("440114-SCJG-0305", "食品经营许可（新办）"),
            )
            .await;
            assert_eq!(made.status(), 201);
            let made: Value = made.json().await.unwrap();
            assert_eq!(made["department"], samples::MARKET);
            assert_eq!(made["version"], 1);
            assert_eq!(made["itemType"], "promised");
            assert_eq!(made["materials"][1]["required"], true);
            // Its next version: the same code, 200.
            let mut next = item("440114-SCJG-0305", "食品经营许可（新办）");
            next["promisedLimitDays"] = json!(3);
            let again = post(&tokens.market, next).await;
            assert_eq!(again.status(), 200);
            let again: Value = again.json().await.unwrap();
            assert_eq!(
                (
                    again["version"].as_u64(),
                    again["promisedLimitDays"].as_u64()
                ),
                (Some(2), Some(3))
            );
            // The administrator registers for the department it names.
            let mut planning = item("440114-GZ-0201", "建设工程规划许可证核发");
            planning["department"] = json!(samples::PLANNING);
            let response = post(&tokens.admin, planning).await;
            assert_eq!(response.status(), 201);

            // Lists by code, filtered and paged; every operator reads them.
            let all = served.read(&tokens.civil, "/v1/items").await;
            let codes: Vec<&str> = all["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["code"].as_str().unwrap())
                .collect();
            assert_eq!(codes, ["440114-GZ-0201", "440114-SCJG-0305"]);
            let market = served
                .read(
                    &tokens.admin,
                    &format!("/v1/items?department={}", samples::MARKET),
                )
                .await;
            assert_eq!(market["items"].as_array().unwrap().len(), 1);
            let first = served.read(&tokens.admin, "/v1/items?limit=1").await;
            assert_eq!(first["items"][0]["code"], "440114-GZ-0201");
            assert_eq!(first["next"], 1);
            let one = served
                .read(&tokens.civil, "/v1/items/440114-SCJG-0305")
                .await;
            assert_eq!(one["promisedLimitDays"], 3);

            // Retired by its department, once.
            let retired = served
                .call(
                    &tokens.market,
                    Method::POST,
                    "/v1/items/440114-SCJG-0305/retire",
                    Some(&json!({})),
                )
                .await;
            assert_eq!(retired.status(), 200);
            let retired: Value = retired.json().await.unwrap();
            assert_eq!(
                (retired["status"].as_str(), retired["version"].as_u64()),
                (Some("retired"), Some(3))
            );
            served
                .refuses(
                    asking(&tokens.market)
                        .post("/v1/items/440114-SCJG-0305/retire", json!({}))
                        .refused(400, "ITEM_RETIRED"),
                )
                .await;

            // Each change is the department's, and names the token that asked.
            let (market, asked) = (samples::MARKET, by(&tokens.market));
            let asked = asked.as_str();
            assert_eq!(
                served.audit_trail("440114-SCJG-0305").await,
                [
                    ["item.retire", market, asked],
                    ["item.put", market, asked],
                    ["item.put", market, asked],
                ]
            );
            let planning = served.audit_trail("440114-GZ-0201").await;
            assert_eq!(
                planning[0][1..],
                [samples::PLANNING, by(&tokens.admin).as_str()]
            );
            served
        },
    )
    .await;
}

#[tokio::test]
async fn item_refusals_have_their_codes_and_write_nothing() {
    each_served(
        "http_admin_items_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let draft =
                serde_json::from_value(item("440114-SCJG-0305", "食品经营许可（新办）")).unwrap();
            served.hub.item_put(samples::MARKET, draft).await.unwrap();
            let (market, civil) = (asking(&tokens.market), asking(&tokens.civil));
            let with = |member: &str, value: Value| {
                let mut body = item("X-1", "测试");
                body[member] = value;
                body
            };
            let theirs = item("440114-SCJG-0305", "改个名字");
            let mut named = theirs.clone();
            named["department"] = json!(samples::MARKET);
            let retire = "/v1/items/440114-SCJG-0305/retire";
            served
                .refused_each(&[
                    // Another department's item: not its owner, not its to name.
                    civil
                        .post("/v1/items", theirs)
                        .refused(403, "ITEM_NOT_OWNER"),
                    civil.post(retire, json!({})).refused(403, "ITEM_NOT_OWNER"),
                    civil
                        .post(retire, json!({"department": samples::MARKET}))
                        .refused(403, "FORBIDDEN"),
                    civil.post("/v1/items", named).refused(403, "FORBIDDEN"),
                    asking(&tokens.auditor)
                        .post("/v1/items", item("X-1", "审计"))
                        .refused(403, "FORBIDDEN"),
                    asking(&tokens.admin)
                        .post("/v1/items", item("X-1", "未指定部门"))
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.admin)
                        .post(
                            "/v1/items/X-1/retire",
                            json!({"department": samples::MARKET}),
                        )
                        .refused(404, "ITEM_UNKNOWN"),
                    // The service's own codes, and bodies not of the shape.
                    market
                        .post("/v1/items", with("itemType", json!("随便件")))
                        .refused(400, "ITEM_TYPE_INVALID"),
                    market
                        .post("/v1/items", with("promisedLimitDays", json!(30)))
                        .refused(400, "ITEM_TIME_LIMIT_INVALID"),
                    market
                        .post(
                            "/v1/items",
                            with(
                                "materials",
                                json!([{"name": "证", "licenceType": "11100000TB0000999Z001"}]),
                            ),
                        )
                        .refused(400, "LICENCE_TYPE_UNKNOWN"),
                    market
                        .post(
                            "/v1/items",
                            with("materials", json!([{"name": "证", "colour": "red"}])),
                        )
                        .refused(400, "REQUEST_INVALID"),
                    market
                        .post("/v1/items", with("legalLimitDays", json!(-1)))
                        .refused(400, "REQUEST_INVALID"),
                    market
                        .post("/v1/items", item("bad code!", "测试"))
                        .refused(400, "ITEM_CODE_INVALID"),
                    // Reads.
                    market.get("/v1/items/X-1").refused(404, "ITEM_UNKNOWN"),
                    asking(&tokens.verifier)
                        .get("/v1/items")
                        .refused(403, "FORBIDDEN"),
                    market
                        .get("/v1/items?type=promised")
                        .refused(400, "REQUEST_INVALID"),
                ])
                .await;
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(served: &Served) -> Vec<Call> {
    let market = samples::MARKET;
    let draft = serde_json::from_value(item("MATRIX-RETIRE", "矩阵测试事项")).unwrap();
    served.hub.item_put(market, draft).await.unwrap();
    let mut put = item("MATRIX-PUT", "矩阵测试事项");
    put["department"] = json!(market);
    vec![
        Call::get("/v1/items", "/v1/items?limit=5"),
        Call::post("/v1/items", "/v1/items", put).about(market),
        Call::get("/v1/items/{code}", "/v1/items/MATRIX-RETIRE"),
        Call::post(
            "/v1/items/{code}/retire",
            "/v1/items/MATRIX-RETIRE/retire",
            json!({"department": market}),
        )
        .about(market),
    ]
}
