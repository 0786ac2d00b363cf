//! The trust file and status lists at stable URLs, with ETag,
//! Cache-Control and 304.

use std::time::Duration;

use serde_json::Value;
use tongban_seal::PublicKey;
use tongban_service::samples;

use crate::{Served, business_licence, each_served, problem};

fn etag(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

fn cache_control(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("cache-control")
        .expect("Cache-Control")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn get_if(served: &Served, path: &str, tag: &str) -> reqwest::Response {
    served
        .client
        .get(served.url(path))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_trust_file_is_served_with_a_strong_etag() {
    each_served(
        "http_trust",
        |c| c.recheck = Duration::ZERO,
        |served| async move {
            business_licence(&served.hub, None).await;
            let response = served.get("/v1/trust").await;
            assert_eq!(response.status(), 200);
            let tag = etag(&response);
            assert!(tag.starts_with('"') && tag.len() == 66, "{tag}");
            assert_eq!(cache_control(&response), "public, max-age=60");
            let body = response.bytes().await.unwrap();
            let digest: String = tongban_seal::sha256(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(tag, format!("\"{digest}\""));
            // It is the hub-signed trust file: it loads against the anchor.
            let anchor = served.hub.identity().await.unwrap().anchor;
            let anchor = PublicKey::from_multikey(&anchor).unwrap();
            let document: Value = serde_json::from_slice(&body).unwrap();
            tongban_licence::trustfile::load(&document, &anchor, time::OffsetDateTime::now_utc())
                .unwrap();

            // Built again (recheck 0), unchanged: the same body, and 304 to the tag.
            let again = served.get("/v1/trust").await;
            assert_eq!(etag(&again), tag);
            assert_eq!(again.bytes().await.unwrap(), body);
            let not_modified = get_if(&served, "/v1/trust", &tag).await;
            assert_eq!(not_modified.status(), 304);
            assert_eq!(etag(&not_modified), tag);
            assert_eq!(cache_control(&not_modified), "public, max-age=60");
            assert!(not_modified.bytes().await.unwrap().is_empty());
            assert_eq!(
                get_if(&served, "/v1/trust", "W/\"x\", \"y\"")
                    .await
                    .status(),
                200
            );

            // A new key changes what verifiers rely on: a new body and tag.
            served
                .hub
                .new_signing_key(
                    samples::CIVIL_AFFAIRS,
                    tongban_seal::KeyPurpose::Issue,
                    None,
                )
                .await
                .unwrap();
            let changed = get_if(&served, "/v1/trust", &tag).await;
            assert_eq!(changed.status(), 200);
            assert_ne!(etag(&changed), tag);
            served
        },
    )
    .await;
}

#[tokio::test]
async fn status_lists_follow_revocations() {
    each_served(
        "http_status_list",
        |c| c.recheck = Duration::ZERO,
        |served| async move {
            let licence = business_licence(&served.hub, None).await;
            let path = format!("/v1/status/{}:revocation:0", samples::MARKET);
            let response = served.get(&path).await;
            assert_eq!(response.status(), 200);
            assert_eq!(cache_control(&response), "public, max-age=60");
            let tag = etag(&response);
            let list: Value = response.json().await.unwrap();
            assert_eq!(
                list["id"],
                format!("urn:tongban:status:{}:revocation:0", samples::MARKET)
            );
            assert_eq!(get_if(&served, &path, &tag).await.status(), 304);

            served.revoke(&licence).await;
            let changed = get_if(&served, &path, &tag).await;
            assert_eq!(changed.status(), 200);
            assert_ne!(etag(&changed), tag);

            let p = problem(
                served
                    .get(&format!("/v1/status/{}:revocation:7", samples::MARKET))
                    .await,
                404,
            )
            .await;
            assert_eq!(p["code"], "STATUS_LIST_UNKNOWN");
            let p = problem(served.get("/v1/status/nonsense").await, 400).await;
            assert_eq!(p["code"], "REQUEST_INVALID");
            served
        },
    )
    .await;
}
