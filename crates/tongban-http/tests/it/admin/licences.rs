//! `/v1/licences`: issue (JSON, or a form with an attachment), find and
//! show with a stated purpose (each leaving a use record naming the
//! department), status changes by the issuer only, use records.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::samples;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, business_licence, each_served};

/// The sample calls of this area, for the role matrix.
pub async fn calls(served: &Served) -> Vec<Call> {
    let licence = business_licence(&served.hub, None).await;
    let id = licence["licence"]["identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let market = samples::MARKET;
    let why = json!({"reason": "核查"});
    vec![
        Call::post(
            "/v1/licences",
            format!("/v1/licences?issuer={market}"),
            samples::business_licence_request(),
        )
        .about(market),
        Call::get(
            "/v1/licences",
            format!(
                "/v1/licences?holder={}&useCause=%E6%A0%B8%E9%AA%8C",
                samples::COMPANY_CODE
            ),
        ),
        Call::get(
            "/v1/licences/{identifier}",
            format!("/v1/licences/{id}?useCause=%E6%A0%B8%E9%AA%8C"),
        ),
        Call::post(
            "/v1/licences/{identifier}/suspend",
            format!("/v1/licences/{id}/suspend"),
            why.clone(),
        )
        .about(market),
        Call::post(
            "/v1/licences/{identifier}/reinstate",
            format!("/v1/licences/{id}/reinstate"),
            why.clone(),
        )
        .about(market),
        Call::post(
            "/v1/licences/{identifier}/revoke",
            format!("/v1/licences/{id}/revoke"),
            why,
        )
        .about(market),
        Call::get(
            "/v1/licences/{identifier}/uses",
            format!("/v1/licences/{id}/uses"),
        )
        .about(market),
        Call::get(
            "/v1/licences/{identifier}/history",
            format!("/v1/licences/{id}/history"),
        )
        .about(market),
        Call::get("/v1/licence-uses", "/v1/licence-uses?limit=10"),
    ]
}

#[tokio::test]
async fn an_operator_issues_its_departments_licences_with_their_attachments() {
    each_served(
        "http_admin_licence_issue",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let request = samples::business_licence_request();
            // As JSON: the operator's own department issues.
            let issued = served
                .call(&tokens.market, Method::POST, "/v1/licences", Some(&request))
                .await;
            assert_eq!(issued.status(), 201);
            let issued: Value = issued.json().await.unwrap();
            assert_eq!(
                issued["credential"]["issuer"]["id"],
                format!("urn:uscc:{}", samples::MARKET),
                "{issued}"
            );
            let entries = served
                .hub
                .store()
                .audit_of(issued["identifier"].as_str().unwrap(), 5)
                .await
                .unwrap();
            // Issued under the department's name, by the token that asked.
            assert_eq!(entries[0].actor, samples::MARKET);
            let detail: Value = serde_json::from_str(&entries[0].detail).unwrap();
            assert_eq!(detail["by"], format!("token:{}", &tokens.market[4..24]));

            // As a form with its attachment, bound by digest.
            let pdf = b"%PDF-1.7 business licence printout".to_vec();
            let form = reqwest::multipart::Form::new()
                .part(
                    "request",
                    reqwest::multipart::Part::text(request.to_string())
                        .mime_str("application/json")
                        .unwrap(),
                )
                .part(
                    "attachment",
                    reqwest::multipart::Part::bytes(pdf.clone())
                        .file_name("licence.pdf")
                        .mime_str("application/pdf")
                        .unwrap(),
                );
            let with = served
                .client
                .post(served.url("/v1/licences"))
                .bearer_auth(&tokens.market)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(with.status(), 201);
            let with: Value = with.json().await.unwrap();
            let form = reqwest::multipart::Form::new()
                .part(
                    "licence",
                    reqwest::multipart::Part::text(with["credential"].to_string()),
                )
                .part("attachment", reqwest::multipart::Part::bytes(pdf));
            let verified: Value = served
                .client
                .post(served.url("/v1/verify"))
                .multipart(form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(verified["valid"], true, "{verified}");
            assert!(
                verified["unchecked"].as_array().unwrap().is_empty(),
                "{verified}"
            );

            // Not for another department; an administrator names the issuer.
            let mut misspelt = request.clone();
            misspelt["vaildUntil"] = json!("2030-01-01T00:00:00Z");
            served
                .refused_each(&[
                    asking(&tokens.market)
                        .post(
                            format!("/v1/licences?issuer={}", samples::CIVIL_AFFAIRS),
                            request.clone(),
                        )
                        .refused(403, "FORBIDDEN"),
                    asking(&tokens.admin)
                        .post("/v1/licences", request.clone())
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.market)
                        .post("/v1/licences", misspelt)
                        .refused(400, "REQUEST_INVALID"),
                ])
                .await;
            let by_admin = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    &format!("/v1/licences?issuer={}", samples::MARKET),
                    Some(&request),
                )
                .await;
            assert_eq!(by_admin.status(), 201);
            served
        },
    )
    .await;
}

#[tokio::test]
async fn reads_state_their_purpose_and_only_the_issuer_changes_status() {
    each_served(
        "http_admin_licence_status",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let licence = business_licence(&served.hub, None).await;
            let id = licence["licence"]["identifier"]
                .as_str()
                .unwrap()
                .to_owned();

            // Civil affairs reads the market bureau's licence, for a stated purpose.
            let shown = served
                .read(
                    &tokens.civil,
                    &format!("/v1/licences/{id}?useCause=%E5%A9%9A%E5%A7%BB%E7%99%BB%E8%AE%B0"),
                )
                .await;
            assert_eq!(shown["verification"]["valid"], true, "{shown}");
            let found = served
                .read(
                    &tokens.civil,
                    &format!(
                        "/v1/licences?holder={}&useCause=%E6%A0%B8%E9%AA%8C&limit=1",
                        samples::COMPANY_CODE
                    ),
                )
                .await;
            assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
            // Its reads are its department's, with the purpose as stated.
            let mine = served.read(&tokens.civil, "/v1/licence-uses").await;
            let mine = mine["items"].as_array().unwrap();
            assert_eq!(mine.len(), 2, "{mine:?}");
            for u in mine {
                assert_eq!(u["requester"], samples::CIVIL_AFFAIRS);
            }
            assert_eq!(mine[1]["useCause"], "婚姻登记");
            // No purpose, no read.
            let civil = asking(&tokens.civil);
            served
                .refused_each(&[
                    civil
                        .get(format!("/v1/licences/{id}"))
                        .refused(400, "REQUEST_INVALID"),
                    civil
                        .get(format!("/v1/licences/{id}?useCause="))
                        .refused(400, "USE_CAUSE_REQUIRED"),
                ])
                .await;
            // Who read the market bureau's licence is the market bureau's to see.
            let uses = served
                .read(&tokens.market, &format!("/v1/licences/{id}/uses"))
                .await;
            // The show and the find.
            assert_eq!(uses["items"].as_array().unwrap().len(), 2, "{uses}");
            served
                .refuses(
                    civil
                        .get(format!("/v1/licences/{id}/uses"))
                        .refused(403, "FORBIDDEN"),
                )
                .await;

            let why = json!({"reason": "经营异常"});
            served
                .refuses(
                    civil
                        .post(format!("/v1/licences/{id}/suspend"), why.clone())
                        .refused(403, "FORBIDDEN"),
                )
                .await;
            for (step, status) in [
                ("suspend", "suspended"),
                ("reinstate", "valid"),
                ("revoke", "revoked"),
            ] {
                let changed: Value = served
                    .call(
                        &tokens.market,
                        Method::POST,
                        &format!("/v1/licences/{id}/{step}"),
                        Some(&why),
                    )
                    .await
                    .json()
                    .await
                    .unwrap();
                assert_eq!(changed["status"], status, "{step}: {changed}");
            }
            served
                .refuses(
                    asking(&tokens.market)
                        .post(format!("/v1/licences/{id}/revoke"), why.clone())
                        .refused(400, "LICENCE_ALREADY_REVOKED"),
                )
                .await;
            let entries = served.hub.store().audit_of(&id, 10).await.unwrap();
            let market = format!("token:{}", &tokens.market[4..24]);
            let changes: Vec<_> = entries
                .iter()
                .filter(|e| e.action.starts_with("licence.") && e.action != "licence.issue")
                .collect();
            assert_eq!(changes.len(), 3, "{entries:?}");
            assert!(changes.iter().all(|e| e.actor == market), "{changes:?}");
            // The status history: each change with its reason and actor,
            // oldest first; its issuer's to see, not another department's.
            let history = served
                .read(&tokens.market, &format!("/v1/licences/{id}/history"))
                .await;
            let steps: Vec<&str> = history["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap())
                .collect();
            assert_eq!(steps, ["suspend", "reinstate", "revoke"], "{history}");
            assert_eq!(history["items"][0]["reason"], "经营异常");
            assert_eq!(history["items"][0]["actor"], market);
            served
                .refuses(
                    civil
                        .get(format!("/v1/licences/{id}/history"))
                        .refused(403, "FORBIDDEN"),
                )
                .await;
            served
                .refuses(
                    asking(&tokens.market)
                        .post("/v1/licences/not-an-id/revoke", why.clone())
                        .refused(400, "IDENTIFIER_INVALID"),
                )
                .await;
            served
        },
    )
    .await;
}
