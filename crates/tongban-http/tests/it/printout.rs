//! A printout's QR payload and the check it leads to.

use serde_json::Value;
use tongban_http::check::MAX_QR_PAYLOAD;
use tongban_service::samples;

use crate::{Served, business_licence, each_backend, problem};

#[tokio::test]
async fn the_qr_payload_is_short_and_leads_to_the_status() {
    each_backend("http_printout", |backend| async move {
        let served = Served::start_with(&backend, |c| {
            c.public_url = "https://tongban.huadu.gz.gov.cn".into();
        })
        .await;
        let licence = business_licence(&served.hub, None).await;
        let identifier = licence["licence"]["identifier"].as_str().unwrap();
        let qr: Value = served
            .get(&format!("/v1/licences/{identifier}/qr"))
            .await
            .json()
            .await
            .unwrap();
        let payload = qr["payload"].as_str().unwrap();
        assert_eq!(
            payload,
            format!("https://tongban.huadu.gz.gov.cn/v1/check/{identifier}")
        );
        assert_eq!(qr["bytes"], payload.len());
        assert!(payload.len() <= MAX_QR_PAYLOAD, "{} bytes", payload.len());

        // The code itself, drawn: exactly that payload at level M.
        let svg = served
            .get(&format!("/v1/licences/{identifier}/qr.svg"))
            .await;
        assert_eq!(svg.status(), 200);
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        let svg = svg.text().await.unwrap();
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
        assert_eq!(svg, tongban_http::check::qr_code_svg(payload).unwrap());
        // The longest payload served still fits.
        assert!(tongban_http::check::qr_code_svg(&"x".repeat(MAX_QR_PAYLOAD)).is_ok());

        // The check, at the path of the payload.
        let path = payload.trim_start_matches("https://tongban.huadu.gz.gov.cn");
        let response = served.get(path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let text = response.text().await.unwrap();
        let checked: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(checked["status"], "valid");
        assert_eq!(checked["identifier"], identifier);
        assert_eq!(checked["issuerCode"], samples::MARKET);
        // Nothing of the holder: not the name, not the code, not the number.
        for secret in [
            samples::COMPANY_NAME,
            samples::COMPANY_CODE,
            licence["licence"]["number"].as_str().unwrap(),
        ] {
            assert!(!text.contains(secret), "{secret} told: {text}");
        }

        for status in ["suspended", "revoked"] {
            let hub = &served.hub;
            match status {
                "suspended" => hub.suspend(identifier, "admin", "test").await,
                _ => hub.revoke(identifier, "admin", "test").await,
            }
            .unwrap();
            let checked: Value = served.get(path).await.json().await.unwrap();
            assert_eq!(checked["status"], status);
        }

        let unknown = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0";
        let p = problem(served.get(&format!("/v1/check/{unknown}")).await, 404).await;
        assert_eq!(p["code"], "LICENCE_NOT_FOUND");
        let p = problem(served.get(&format!("/v1/licences/{unknown}/qr")).await, 404).await;
        assert_eq!(p["code"], "LICENCE_NOT_FOUND");
        let p = problem(served.get("/v1/check/1.2.3").await, 400).await;
        assert_eq!(p["code"], "IDENTIFIER_INVALID");
        let p = problem(
            served.get(&format!("/v1/licences/{unknown}/qr.svg")).await,
            404,
        )
        .await;
        assert_eq!(p["code"], "LICENCE_NOT_FOUND");
        let p = problem(served.get("/v1/licences/1.2.3/qr.svg").await, 400).await;
        assert_eq!(p["code"], "IDENTIFIER_INVALID");
        served.stop().await;
        backend
    })
    .await;
}
