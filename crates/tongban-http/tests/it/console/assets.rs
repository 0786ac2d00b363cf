//! The console as any client sees it: `/` leads to it, every asset has its
//! type, the strict CSP, an ETag that answers 304; an unknown asset is the
//! API's 404. And `GET /v1/whoami`, which the console asks who signed in.

use reqwest::Method;
use serde_json::Value;
use tongban_service::samples;

use crate::admin::Tokens;
use crate::{each_served, refused};

#[tokio::test]
async fn assets_are_served_with_their_types_a_strict_csp_and_etags() {
    each_served(
        "http_console_assets",
        |_| {},
        |served| async move {
            let no_redirects = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            for path in ["/", "/console"] {
                let response = no_redirects.get(served.url(path)).send().await.unwrap();
                assert!(response.status().is_redirection(), "{path}");
                assert_eq!(response.headers()["location"], "/console/");
            }
            for asset in tongban_http::console::ASSETS {
                let path = if asset.path == "index.html" {
                    "/console/".to_owned()
                } else {
                    format!("/console/{}", asset.path)
                };
                let response = served.get(&path).await;
                assert_eq!(response.status(), 200, "{path}");
                let headers = response.headers().clone();
                assert_eq!(headers["content-type"], asset.content_type, "{path}");
                assert_eq!(
                    headers["content-security-policy"],
                    tongban_http::console::CONTENT_SECURITY_POLICY
                );
                assert_eq!(headers["x-content-type-options"], "nosniff");
                assert_eq!(headers["cache-control"], "no-cache");
                let etag = headers["etag"].to_str().unwrap().to_owned();
                assert!(etag.starts_with('"') && etag.len() == 26, "{etag}");
                assert_eq!(response.bytes().await.unwrap(), asset.bytes, "{path}");
                // The browser's copy is current: nothing sent again.
                let again = served
                    .client
                    .get(served.url(&path))
                    .header("if-none-match", &etag)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(again.status(), 304, "{path}");
                assert_eq!(again.headers()["etag"], etag.as_str());
                assert!(again.bytes().await.unwrap().is_empty());
                // An old copy is sent the new one.
                let stale = served
                    .client
                    .get(served.url(&path))
                    .header("if-none-match", "\"0000\"")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(stale.status(), 200, "{path}");
            }
            // The policy allows no inline script, nothing from elsewhere.
            let csp = tongban_http::console::CONTENT_SECURITY_POLICY;
            assert!(csp.contains("script-src 'self';"), "{csp}");
            assert!(
                !csp.contains("unsafe-inline") && !csp.contains("http"),
                "{csp}"
            );
            for path in [
                "/console/nothing.js",
                "/console/../Cargo.toml",
                "/console/pages/",
            ] {
                refused(served.get(path).await, 404, "ROUTE_UNKNOWN").await;
            }
            served
        },
    )
    .await;
}

#[tokio::test]
async fn whoami_names_the_caller_and_what_its_role_may_do() {
    each_served(
        "http_console_whoami",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let market: Value = served.read(&tokens.market, "/v1/whoami").await;
            assert_eq!(market["role"], "department-operator");
            assert_eq!(market["department"], samples::MARKET);
            assert_eq!(market["departmentName"], "广州市花都区市场监督管理局");
            assert_eq!(market["may"]["licences-issue"], "own-department");
            assert_eq!(market["may"]["catalogue-read"], "any");
            assert_eq!(market["may"]["audit-read"], "none");
            assert!(market["name"].as_str().unwrap().starts_with("token:tok_"));

            let verifier: Value = served.read(&tokens.verifier, "/v1/whoami").await;
            assert_eq!(verifier["role"], "verifier");
            assert_eq!(verifier["department"], Value::Null);
            let may = verifier["may"].as_object().unwrap();
            assert_eq!(may.len(), tongban_service::Action::ALL.len());
            let allowed: Vec<&String> = may
                .iter()
                .filter(|(_, r)| *r != "none")
                .map(|(a, _)| a)
                .collect();
            assert_eq!(allowed, ["verify"]);

            let admin: Value = served.read(&tokens.admin, "/v1/whoami").await;
            assert!(
                admin["may"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(|r| r == "any")
            );

            refused(
                served.get("/v1/whoami").await,
                401,
                "AUTHENTICATION_REQUIRED",
            )
            .await;
            let bad = served
                .call("tbk_nothing", Method::GET, "/v1/whoami", None)
                .await;
            refused(bad, 401, "TOKEN_INVALID").await;
            served
        },
    )
    .await;
}
