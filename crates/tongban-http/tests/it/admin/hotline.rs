//! 12345 work orders over HTTP: the office named by the administrator,
//! orders created by the office's operator, steps by each side for its own
//! department, the contact only on request; refusals with their codes.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::samples;

use super::Tokens;
use super::areas::Call;
use crate::{Served, each_served, refused};

fn order(id: &str) -> Value {
    json!({"id": id, "category": "consumer-complaint", "content": "商家拒绝退还预付卡余额",
           "area": "440114", "contact": "王女士 13800000000"})
}

/// The sample calls of this area, for the role matrix: 民政局 is the office.
pub async fn calls(served: &Served) -> Vec<Call> {
    let civil = samples::CIVIL_AFFAIRS;
    served.hub.set_hotline_office(civil).await.unwrap();
    let mut new = order("MATRIX-ORDER-1");
    new["office"] = json!(civil);
    let dispatch =
        json!({"department": civil, "step": {"step": "dispatched", "unit": samples::MARKET}});
    let rule = json!({"category": "appeal", "area": "4401", "unit": samples::MARKET});
    vec![
        Call::put(
            "/v1/hotline/office",
            "/v1/hotline/office",
            json!({"department": civil}),
        ),
        Call::get("/v1/hotline/routes", "/v1/hotline/routes"),
        Call::post("/v1/hotline/routes", "/v1/hotline/routes", rule).about(civil),
        Call::post(
            "/v1/hotline/routes",
            "/v1/hotline/routes?category=appeal&area=4401",
            Value::Null,
        )
        .with_method(Method::DELETE)
        .about(civil),
        Call::get("/v1/orders", "/v1/orders"),
        Call::post("/v1/orders", "/v1/orders", new).about(civil),
        Call::get(
            "/v1/orders/{id}",
            format!("/v1/orders/MATRIX-ORDER-1?department={civil}"),
        )
        .about(civil),
        Call::post(
            "/v1/orders/{id}/steps",
            "/v1/orders/MATRIX-ORDER-1/steps",
            dispatch,
        )
        .about(civil),
    ]
}

#[tokio::test]
async fn work_orders_over_http() {
    each_served(
        "http_admin_hotline",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let civil = samples::CIVIL_AFFAIRS;
            let post = |token: &str, path: &str, body: Value| {
                let (token, path) = (token.to_owned(), path.to_owned());
                let served = &served;
                async move { served.call(&token, Method::POST, &path, Some(&body)).await }
            };
            refused(
                post(&tokens.civil, "/v1/orders", order("12345-1")).await,
                400,
                "HOTLINE_OFFICE_MISSING",
            )
            .await;
            let office = json!({"department": civil});
            refused(
                served
                    .call(
                        &tokens.market,
                        Method::PUT,
                        "/v1/hotline/office",
                        Some(&office),
                    )
                    .await,
                403,
                "FORBIDDEN",
            )
            .await;
            let named = served
                .call(
                    &tokens.admin,
                    Method::PUT,
                    "/v1/hotline/office",
                    Some(&office),
                )
                .await;
            assert_eq!(named.status(), 200);

            // The office takes the call; the market bureau is not the office.
            let made = post(&tokens.civil, "/v1/orders", order("12345-1")).await;
            assert_eq!(made.status(), 201);
            let made: Value = made.json().await.unwrap();
            assert!(!made.to_string().contains("13800000000"), "{made}");
            refused(
                post(&tokens.market, "/v1/orders", order("12345-2")).await,
                403,
                "ORDER_STEP_FORBIDDEN",
            )
            .await;

            let step = |token: &str, body: Value| post(token, "/v1/orders/12345-1/steps", body);
            let dispatched = step(
                &tokens.civil,
                json!({"step": {"step": "dispatched", "unit": samples::MARKET}}),
            )
            .await;
            assert_eq!(dispatched.status(), 200);
            let before = served.audit_head().await;
            refused(
                step(&tokens.civil, json!({"step": {"step": "signed"}})).await,
                403,
                "ORDER_STEP_FORBIDDEN",
            )
            .await;
            refused(
                step(&tokens.market, json!({"step": {"step": "teleported"}})).await,
                400,
                "ORDER_STEP_INVALID",
            )
            .await;
            refused(
                step(
                    &tokens.market,
                    json!({"step": {"step": "signed"}, "colour": 1}),
                )
                .await,
                400,
                "REQUEST_INVALID",
            )
            .await;
            refused(
                post(
                    &tokens.market,
                    "/v1/orders/12345-9/steps",
                    json!({"step": {"step": "signed"}}),
                )
                .await,
                404,
                "ORDER_UNKNOWN",
            )
            .await;
            assert_eq!(served.audit_head().await, before, "a refusal wrote");
            let signed: Value = step(&tokens.market, json!({"step": {"step": "signed"}}))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(signed["phase"], "handling", "{signed}");

            // The unit reads the order and, on request, the contact.
            let shown = served
                .read(&tokens.market, "/v1/orders/12345-1?contact=true")
                .await;
            assert_eq!(shown["contact"], "王女士 13800000000");
            assert_eq!(shown["steps"].as_array().unwrap().len(), 2);
            let plain = served.read(&tokens.civil, "/v1/orders/12345-1").await;
            assert_eq!(plain["contact"], Value::Null);
            // Each side lists what it sees, without contacts.
            for token in [&tokens.market, &tokens.civil] {
                let listed = served.read(token, "/v1/orders").await;
                assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
                assert!(!listed.to_string().contains("13800000000"));
            }
            refused(
                served
                    .call(&tokens.auditor, Method::GET, "/v1/orders", None)
                    .await,
                403,
                "FORBIDDEN",
            )
            .await;
            served
        },
    )
    .await;
}

#[tokio::test]
async fn routing_rules_over_http() {
    each_served(
        "http_admin_hotline_routes",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let civil = samples::CIVIL_AFFAIRS;
            served.hub.set_hotline_office(civil).await.unwrap();
            let call = |token: &str, method: Method, path: &str, body: Option<Value>| {
                let (token, path) = (token.to_owned(), path.to_owned());
                let served = &served;
                async move { served.call(&token, method, &path, body.as_ref()).await }
            };
            let rule =
                json!({"category": "consumer-complaint", "area": "4401", "unit": samples::MARKET});
            let routes = "/v1/hotline/routes";

            // Only the office's operator (or an administrator) sets rules;
            // refusals write nothing.
            let before = served.audit_head().await;
            refused(
                call(&tokens.market, Method::POST, routes, Some(rule.clone())).await,
                403,
                "FORBIDDEN",
            )
            .await;
            let bad_area = json!({"area": " 4401", "unit": samples::MARKET});
            refused(
                call(&tokens.civil, Method::POST, routes, Some(bad_area)).await,
                400,
                "ORDER_ROUTE_INVALID",
            )
            .await;
            refused(
                call(
                    &tokens.civil,
                    Method::POST,
                    routes,
                    Some(json!({"area": "4401"})),
                )
                .await,
                400,
                "REQUEST_INVALID",
            )
            .await;
            let to_nobody = json!({"unit": "11440114MB2C00099X"});
            refused(
                call(&tokens.admin, Method::POST, routes, Some(to_nobody)).await,
                404,
                "DEPARTMENT_UNKNOWN",
            )
            .await;
            assert_eq!(served.audit_head().await, before, "a refusal wrote");
            let set = call(&tokens.civil, Method::POST, routes, Some(rule)).await;
            assert_eq!(set.status(), 201);
            let listed = served.read(&tokens.market, routes).await;
            assert_eq!(listed[0]["unit"], samples::MARKET, "{listed}");
            assert_eq!(listed[0]["category"], "consumer-complaint", "{listed}");

            // An order without a unit goes by the rule; with one, the rule
            // is overridden.
            let made: Value = call(
                &tokens.civil,
                Method::POST,
                "/v1/orders",
                Some(order("12345-1")),
            )
            .await
            .json()
            .await
            .unwrap();
            assert_eq!(
                (made["unit"].clone(), made["phase"].clone()),
                (json!(samples::MARKET), json!("dispatched")),
                "{made}"
            );
            let mut named = order("12345-2");
            named["unit"] = json!(samples::XINHUA_STREET);
            let made: Value = call(&tokens.civil, Method::POST, "/v1/orders", Some(named))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(made["unit"], samples::XINHUA_STREET, "{made}");

            // Removed by the office's operator; a second time there is none.
            let remove = format!("{routes}?category=consumer-complaint&area=4401");
            refused(
                call(&tokens.market, Method::DELETE, &remove, None).await,
                403,
                "FORBIDDEN",
            )
            .await;
            let removed = call(&tokens.civil, Method::DELETE, &remove, None).await;
            assert_eq!(removed.status(), 200);
            refused(
                call(&tokens.admin, Method::DELETE, &remove, None).await,
                404,
                "ORDER_ROUTE_UNKNOWN",
            )
            .await;
            let listed = served.read(&tokens.civil, routes).await;
            assert_eq!(listed, json!([]));
            served
        },
    )
    .await;
}
