//! The OpenAPI document and the routes the router serves are the same
//! set, and each route really answers on the running server.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::each_served;

#[tokio::test]
async fn the_document_lists_exactly_the_routes_served() {
    each_served(
        "http_openapi",
        |_| {},
        |served| async move {
            let document: Value = served.get("/v1/openapi.json").await.json().await.unwrap();
            assert!(
                document["openapi"].as_str().unwrap().starts_with("3.1"),
                "{}",
                document["openapi"]
            );
            let mut documented = BTreeSet::new();
            for (path, item) in document["paths"].as_object().unwrap() {
                for method in item.as_object().unwrap().keys() {
                    if ["get", "post", "put", "patch", "delete", "head", "options"]
                        .contains(&method.as_str())
                    {
                        documented.insert((method.to_uppercase(), path.clone()));
                    }
                }
            }
            let routed: BTreeSet<(String, String)> = tongban_http::routes()
                .into_iter()
                .map(|r| (r.method.to_owned(), r.path.to_owned()))
                .collect();
            let undocumented: Vec<_> = routed.difference(&documented).collect();
            let unrouted: Vec<_> = documented.difference(&routed).collect();
            assert!(
                undocumented.is_empty(),
                "served but not documented: {undocumented:?}"
            );
            assert!(
                unrouted.is_empty(),
                "documented but not served: {unrouted:?}"
            );
            assert!(routed.len() >= 9, "{routed:?}");

            // The recorded routes are the router's: each answers with something
            // other than the router's own 404 and 405 on the running server.
            for (method, path) in &routed {
                let concrete = concrete(path);
                let request = served
                    .client
                    .request(method.parse().unwrap(), served.url(&concrete));
                let response = request.send().await.unwrap();
                if response.status() == 404 || response.status() == 405 {
                    let body: Value = response.json().await.unwrap_or_default();
                    assert!(
                        body["code"] != "ROUTE_UNKNOWN" && body["code"] != "METHOD_NOT_ALLOWED",
                        "{method} {path}: {body}"
                    );
                }
            }
            served
        },
    )
    .await;
}

/// `path` with each `{name}` filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(match &rest[open..close] {
            "{identifier}" => "1.2.3",
            "{list}" => "x:revocation:0",
            _ => "x",
        });
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}
