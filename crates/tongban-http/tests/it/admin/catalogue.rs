//! `/v1/catalogue`: publish for the department acted for, list and search
//! in Chinese with filters and pages, next versions and retirement by the
//! provider only, history; audited with the caller; refusals write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

/// A resource of `id` as its body for `POST /v1/catalogue`.
fn resource(id: &str, name: &str, sharing: &str, tags: &[&str]) -> Value {
    json!({
        "id": id,
        "name": name,
        "description": "测试用资源",
        "schema": "business-registration@1",
        "fields": [{"name": "uscc", "label": "统一社会信用代码"}],
        "sharingType": sharing,
        "tags": tags,
    })
}

/// An audit entry's detail.
pub fn detail(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Who asked, as the audit log records a token: `token:tok_…`.
pub fn by(token: &str) -> String {
    format!("token:{}", &token[4..24])
}

#[tokio::test]
async fn resources_are_published_searched_versioned_and_retired() {
    each_served(
        "http_admin_catalogue",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            // An operator publishes for its own department.
            let published = served
                .call(
                    &tokens.market,
                    Method::POST,
                    "/v1/catalogue",
                    Some(&resource(
                        "market-registrations",
                        "新设市场主体登记信息",
                        "无条件共享",
                        &["市场主体"],
                    )),
                )
                .await;
            assert_eq!(published.status(), 201);
            let published: Value = published.json().await.unwrap();
            assert_eq!(published["provider"], samples::MARKET);
            assert_eq!(published["version"], 1);
            assert_eq!(published["sharingType"], "unconditional");
            assert_eq!(published["updateFrequency"], "real-time");
            // The administrator publishes for the department it names.
            let mut marriages = resource(
                "civil-marriages",
                "婚姻登记信息",
                "conditional",
                &["婚姻", "民政"],
            );
            marriages["department"] = json!(samples::CIVIL_AFFAIRS);
            let civil = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/catalogue",
                    Some(&marriages),
                )
                .await;
            assert_eq!(civil.status(), 201);
            let civil: Value = civil.json().await.unwrap();
            assert_eq!(civil["provider"], samples::CIVIL_AFFAIRS);
            let mut elderly = resource(
                "civil-elderly",
                "老年人优待证发放信息",
                "unconditional",
                &["老年"],
            );
            elderly["department"] = json!(samples::CIVIL_AFFAIRS);
            let response = served
                .call(&tokens.admin, Method::POST, "/v1/catalogue", Some(&elderly))
                .await;
            assert_eq!(response.status(), 201);

            // Lists by id, with filters and pages; anyone reading reads all.
            let all = served.read(&tokens.civil, "/v1/catalogue").await;
            let ids: Vec<&str> = all["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap())
                .collect();
            assert_eq!(
                ids,
                ["civil-elderly", "civil-marriages", "market-registrations"]
            );
            let first = served.read(&tokens.admin, "/v1/catalogue?limit=2").await;
            assert_eq!(first["items"].as_array().unwrap().len(), 2);
            assert_eq!(first["next"], 2);
            let rest = served
                .read(&tokens.admin, "/v1/catalogue?limit=2&offset=2")
                .await;
            assert_eq!(rest["items"][0]["id"], "market-registrations");
            assert_eq!(rest["next"], Value::Null);
            let by_provider = served
                .read(
                    &tokens.admin,
                    &format!("/v1/catalogue?provider={}", samples::CIVIL_AFFAIRS),
                )
                .await;
            assert_eq!(by_provider["items"].as_array().unwrap().len(), 2);
            let conditional = served
                .read(
                    &tokens.admin,
                    "/v1/catalogue?sharing=%E6%9C%89%E6%9D%A1%E4%BB%B6%E5%85%B1%E4%BA%AB",
                )
                .await;
            assert_eq!(conditional["items"].as_array().unwrap().len(), 1);
            assert_eq!(conditional["items"][0]["id"], "civil-marriages");
            // Searches in Chinese: every term must occur.
            let found = served
                .read(
                    &tokens.market,
                    "/v1/catalogue?q=%E5%A9%9A%E5%A7%BB%20%E7%99%BB%E8%AE%B0",
                )
                .await;
            let found: Vec<&str> = found["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap())
                .collect();
            assert_eq!(found, ["civil-marriages"]);
            let found = served
                .read(&tokens.market, "/v1/catalogue?q=%E8%80%81%E5%B9%B4")
                .await;
            assert_eq!(found["items"][0]["id"], "civil-elderly");

            // The provider publishes the next version; the history keeps both.
            let mut next = resource(
                "market-registrations",
                "新设市场主体登记信息（含个体户）",
                "unconditional",
                &["市场主体", "个体户"],
            );
            next.as_object_mut().unwrap().remove("id");
            next["updateFrequency"] = json!("daily");
            let updated = served
                .call(
                    &tokens.market,
                    Method::PUT,
                    "/v1/catalogue/market-registrations",
                    Some(&next),
                )
                .await;
            assert_eq!(updated.status(), 200);
            let updated: Value = updated.json().await.unwrap();
            assert_eq!(updated["version"], 2);
            assert_eq!(updated["updateFrequency"], "daily");
            let shown = served
                .read(&tokens.civil, "/v1/catalogue/market-registrations")
                .await;
            assert_eq!(shown["name"], "新设市场主体登记信息（含个体户）");
            let history = served
                .read(
                    &tokens.civil,
                    "/v1/catalogue/market-registrations?history=true",
                )
                .await;
            let versions = history.as_array().unwrap();
            assert_eq!(versions.len(), 2);
            assert_eq!(versions[0]["name"], "新设市场主体登记信息");
            assert_eq!(versions[1]["version"], 2);

            // Retired: out of lists, unless asked for; its history stays.
            let retired = served
                .call(
                    &tokens.market,
                    Method::POST,
                    "/v1/catalogue/market-registrations/retire",
                    Some(&json!({})),
                )
                .await;
            assert_eq!(retired.status(), 200);
            let retired: Value = retired.json().await.unwrap();
            assert_eq!(retired["status"], "retired");
            assert_eq!(retired["version"], 3);
            let listed = served.read(&tokens.admin, "/v1/catalogue").await;
            assert_eq!(listed["items"].as_array().unwrap().len(), 2);
            let listed = served
                .read(&tokens.admin, "/v1/catalogue?includeRetired=true")
                .await;
            assert_eq!(listed["items"].as_array().unwrap().len(), 3);

            // Every change is the provider's, and names the token that asked.
            let (market, asked) = (samples::MARKET, by(&tokens.market));
            let asked = asked.as_str();
            assert_eq!(
                served.audit_trail("market-registrations").await,
                [
                    ["catalogue.retire", market, asked],
                    ["catalogue.update", market, asked],
                    ["catalogue.publish", market, asked],
                ]
            );
            let civil = served.audit_trail("civil-marriages").await;
            assert_eq!(
                civil[0][1..],
                [samples::CIVIL_AFFAIRS, by(&tokens.admin).as_str()]
            );
            served
        },
    )
    .await;
}

#[tokio::test]
async fn catalogue_refusals_have_their_codes_and_write_nothing() {
    each_served(
        "http_admin_catalogue_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let draft = serde_json::from_value(resource(
                "market-registrations",
                "新设市场主体登记信息",
                "unconditional",
                &[],
            ))
            .unwrap();
            served
                .hub
                .catalogue_publish(samples::MARKET, draft, false)
                .await
                .unwrap();
            let (market, civil) = (asking(&tokens.market), asking(&tokens.civil));
            let fresh = || resource("new-one", "新资源", "unconditional", &[]);
            let with = |member: &str, value: Value| {
                let mut body = fresh();
                body[member] = value;
                body
            };
            let mut no_id = resource("x", "新资源", "unconditional", &[]);
            no_id.as_object_mut().unwrap().remove("id");
            let theirs = "/v1/catalogue/market-registrations";
            let next = resource("market-registrations", "改个名字", "unconditional", &[]);
            let mut named = next.clone();
            named["department"] = json!(samples::MARKET);
            served
                .refused_each(&[
                    // Another department's resource: not its provider, and not its to name.
                    civil
                        .put(theirs, next)
                        .refused(403, "CATALOGUE_NOT_PROVIDER"),
                    civil
                        .post(format!("{theirs}/retire"), json!({}))
                        .refused(403, "CATALOGUE_NOT_PROVIDER"),
                    civil.put(theirs, named.clone()).refused(403, "FORBIDDEN"),
                    // The path names the resource; a body naming another is refused.
                    market
                        .put("/v1/catalogue/other", named)
                        .refused(400, "REQUEST_INVALID"),
                    market
                        .put(
                            "/v1/catalogue/unknown",
                            resource("unknown", "x", "unconditional", &[]),
                        )
                        .refused(404, "CATALOGUE_UNKNOWN"),
                    // An administrator names the department it publishes for.
                    asking(&tokens.admin)
                        .post("/v1/catalogue", fresh())
                        .refused(400, "REQUEST_INVALID"),
                    // Read-only roles publish nothing.
                    asking(&tokens.auditor)
                        .post("/v1/catalogue", fresh())
                        .refused(403, "FORBIDDEN"),
                    asking(&tokens.verifier)
                        .post("/v1/catalogue", fresh())
                        .refused(403, "FORBIDDEN"),
                    // The service's own codes.
                    market
                        .post(
                            "/v1/catalogue",
                            resource("market-registrations", "重复", "unconditional", &[]),
                        )
                        .refused(400, "CATALOGUE_EXISTS"),
                    market
                        .post(
                            "/v1/catalogue",
                            resource("new-one", "新资源", "sometimes", &[]),
                        )
                        .refused(400, "CATALOGUE_SHARING_TYPE_INVALID"),
                    market
                        .post(
                            "/v1/catalogue",
                            resource("hub.case.licences", "保留", "unconditional", &[]),
                        )
                        .refused(400, "CATALOGUE_ID_RESERVED"),
                    market
                        .post(
                            "/v1/catalogue",
                            with("fields", json!([{"name": "colour", "label": "颜色"}])),
                        )
                        .refused(400, "CATALOGUE_FIELD_UNKNOWN"),
                    market
                        .post(
                            "/v1/catalogue",
                            with("fields", json!([{"name": "uscc", "lable": "拼错"}])),
                        )
                        .refused(400, "REQUEST_INVALID"),
                    market
                        .post("/v1/catalogue", with("colour", json!("red")))
                        .refused(400, "REQUEST_INVALID")
                        .naming("colour"),
                    market
                        .post("/v1/catalogue", no_id)
                        .refused(400, "REQUEST_INVALID"),
                    // Reads: unknown resources, empty searches, bad filters and pages.
                    market
                        .get("/v1/catalogue/unknown")
                        .refused(404, "CATALOGUE_UNKNOWN"),
                    market
                        .get("/v1/catalogue?q=%20%2C")
                        .refused(400, "CATALOGUE_QUERY_EMPTY"),
                    market
                        .get("/v1/catalogue?sharing=sometimes")
                        .refused(400, "CATALOGUE_SHARING_TYPE_INVALID"),
                    market
                        .get("/v1/catalogue?colour=red")
                        .refused(400, "REQUEST_INVALID"),
                    market
                        .get("/v1/catalogue?offset=450&limit=100")
                        .refused(400, "REQUEST_INVALID"),
                    market
                        .get(format!("{theirs}?history=maybe"))
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.verifier)
                        .get("/v1/catalogue")
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
    let market = samples::MARKET;
    for id in ["matrix-resource", "matrix-retired"] {
        let draft =
            serde_json::from_value(resource(id, "矩阵测试资源", "conditional", &["矩阵"])).unwrap();
        served
            .hub
            .catalogue_publish(market, draft, false)
            .await
            .unwrap();
    }
    let with = |mut body: Value| {
        body["department"] = json!(market);
        body
    };
    vec![
        Call::get(
            "/v1/catalogue",
            "/v1/catalogue?q=%E7%9F%A9%E9%98%B5&limit=5",
        ),
        Call::post(
            "/v1/catalogue",
            "/v1/catalogue",
            with(resource("matrix-new", "矩阵新资源", "unconditional", &[])),
        )
        .about(market),
        Call::get(
            "/v1/catalogue/{id}",
            "/v1/catalogue/matrix-resource?history=true",
        ),
        Call::post(
            "/v1/catalogue/{id}",
            "/v1/catalogue/matrix-resource",
            with(resource(
                "matrix-resource",
                "矩阵测试资源（新版）",
                "conditional",
                &[],
            )),
        )
        .with_method(Method::PUT)
        .about(market),
        Call::post(
            "/v1/catalogue/{id}/retire",
            "/v1/catalogue/matrix-retired/retire",
            with(json!({})),
        )
        .about(market),
    ]
}
