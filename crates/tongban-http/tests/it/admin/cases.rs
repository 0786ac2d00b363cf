//! `/v1/cases`: cases the case systems opened, listed newest first and
//! narrowed to an operator's department, one case with its licence-use
//! records; another department's are forbidden.

use serde_json::Value;
use tongban_service::{CaseQuery, samples};

use super::areas::Call;
use super::items::item;
use super::{Tokens, asking};
use crate::{Served, business_licence, each_served};

/// Registers `code` for `department` and opens case `case` of it for the
/// sample company, as a case system would (the business licence is read
/// and its use recorded against the case).
async fn opened(served: &Served, department: &str, code: &str, case: &str) {
    if served.hub.item_show(code).await.is_err() {
        let draft = serde_json::from_value(item(code, "测试事项")).unwrap();
        served.hub.item_put(department, draft).await.unwrap();
    }
    let query = CaseQuery {
        case_id: case.to_owned(),
        item: code.to_owned(),
        holder_code_type: "001".to_owned(),
        holder_code: samples::COMPANY_CODE.to_owned(),
        use_cause: "办理食品经营许可".to_owned(),
    };
    served.hub.case_licences(department, &query).await.unwrap();
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn cases_are_listed_for_their_department_and_shown_with_their_uses() {
    each_served(
        "http_admin_cases",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let licence = business_licence(&served.hub, None).await;
            let identifier = licence["licence"]["identifier"]
                .as_str()
                .unwrap()
                .to_owned();
            opened(&served, samples::MARKET, "440114-SCJG-0305", "SC-1").await;
            opened(&served, samples::MARKET, "440114-SCJG-0305", "SC-2").await;
            opened(&served, samples::CIVIL_AFFAIRS, "440114-MZ-0101", "MZ-1").await;

            // An operator lists its own department's; the administrator all,
            // or one department's, in pages.
            let mut mine = ids(&served.read(&tokens.market, "/v1/cases").await)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>();
            mine.sort();
            assert_eq!(mine, ["SC-1", "SC-2"]);
            assert_eq!(
                ids(&served.read(&tokens.civil, "/v1/cases").await),
                ["MZ-1"]
            );
            assert_eq!(
                served.read(&tokens.admin, "/v1/cases").await["items"]
                    .as_array()
                    .unwrap()
                    .len(),
                3
            );
            let civil = format!("/v1/cases?department={}", samples::CIVIL_AFFAIRS);
            assert_eq!(ids(&served.read(&tokens.admin, &civil).await), ["MZ-1"]);
            let first = served.read(&tokens.admin, "/v1/cases?limit=2").await;
            assert_eq!(first["items"].as_array().unwrap().len(), 2);
            assert_eq!(first["next"], 2);

            // One case with the uses recorded against it: the licence it read.
            let shown = served
                .read(
                    &tokens.market,
                    &format!("/v1/cases/{}/SC-1", samples::MARKET),
                )
                .await;
            assert_eq!(shown["case"]["item"], "440114-SCJG-0305");
            assert_eq!(shown["case"]["department"], samples::MARKET);
            assert_eq!(shown["case"]["useCause"], "办理食品经营许可");
            let uses = shown["uses"].as_array().unwrap();
            assert_eq!(uses.len(), 1, "{shown}");
            assert_eq!(uses[0]["returned"][0], identifier.as_str());
            let by_admin = served
                .read(
                    &tokens.admin,
                    &format!("/v1/cases/{}/MZ-1", samples::CIVIL_AFFAIRS),
                )
                .await;
            assert_eq!(by_admin["case"]["holderCode"], samples::COMPANY_CODE);
            served
        },
    )
    .await;
}

#[tokio::test]
async fn another_departments_cases_are_forbidden() {
    each_served(
        "http_admin_cases_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            business_licence(&served.hub, None).await;
            opened(&served, samples::MARKET, "440114-SCJG-0305", "SC-1").await;
            let case = format!("/v1/cases/{}/SC-1", samples::MARKET);
            let admin = asking(&tokens.admin);
            served
                .refused_each(&[
                    asking(&tokens.civil).get(&case).refused(403, "FORBIDDEN"),
                    asking(&tokens.auditor).get(&case).refused(403, "FORBIDDEN"),
                    asking(&tokens.verifier)
                        .get("/v1/cases")
                        .refused(403, "FORBIDDEN"),
                    asking(&tokens.civil)
                        .get(format!("/v1/cases?department={}", samples::MARKET))
                        .refused(403, "FORBIDDEN"),
                    asking(&tokens.market)
                        .get(format!("/v1/cases/{}/SC-9", samples::MARKET))
                        .refused(404, "CASE_UNKNOWN"),
                    admin
                        .get(format!("/v1/cases/{}/SC-1", samples::CIVIL_AFFAIRS))
                        .refused(404, "CASE_UNKNOWN"),
                    admin
                        .get("/v1/cases?offset=999&limit=1")
                        .refused(400, "REQUEST_INVALID"),
                    admin
                        .get("/v1/cases?item=x")
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
    business_licence(&served.hub, None).await;
    opened(served, market, "MATRIX-CASES", "MATRIX-1").await;
    vec![
        Call::get("/v1/cases", "/v1/cases?limit=5"),
        Call::get(
            "/v1/cases/{department}/{id}",
            format!("/v1/cases/{market}/MATRIX-1"),
        )
        .about(market),
    ]
}
