//! `/v1/statistics`: the exchange counts the store holds (refusals by day,
//! department, resource and code here), from a day on; an auditor reads
//! them, a department operator does not.

use tongban_service::samples;
use tongban_store::RefusalCount;

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served};

#[tokio::test]
async fn statistics_count_refusals_from_a_day_on() {
    each_served(
        "http_admin_statistics",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let empty = served.read(&tokens.auditor, "/v1/statistics").await;
            assert_eq!(empty["resources"], serde_json::json!([]), "{empty}");
            assert_eq!(empty["refusalCodes"], serde_json::json!({}));

            let refusal = |day: &str, code: &str, count: u64| RefusalCount {
                day: day.into(),
                department: samples::MARKET.into(),
                resource: "business-registration".into(),
                code: code.into(),
                count,
            };
            served
                .hub
                .store()
                .add_refusals(&[
                    refusal("2026-03-01", "SIGNATURE_INVALID", 2),
                    refusal("2026-03-02", "ACCESS_DENIED", 3),
                    refusal("2026-03-02", "SIGNATURE_INVALID", 1),
                ])
                .await
                .unwrap();
            let all = served.read(&tokens.auditor, "/v1/statistics").await;
            assert_eq!(all["refusalCodes"]["SIGNATURE_INVALID"], 3, "{all}");
            assert_eq!(all["refusalCodes"]["ACCESS_DENIED"], 3);
            assert_eq!(all["resources"][0]["resource"], "business-registration");
            assert_eq!(all["resources"][0]["refusals"], 6);
            assert_eq!(all["departments"][0]["department"], samples::MARKET);
            assert_eq!(all["departments"][0]["refusals"], 6);
            // The same as the store answers the CLI.
            let direct = served.hub.store().exchange_statistics(None).await.unwrap();
            assert_eq!(all, serde_json::to_value(&direct).unwrap());

            let later = served
                .read(&tokens.admin, "/v1/statistics?since=2026-03-02")
                .await;
            assert_eq!(later["refusalCodes"]["SIGNATURE_INVALID"], 1, "{later}");
            assert_eq!(later["resources"][0]["refusals"], 4);
            let none = served
                .read(&tokens.admin, "/v1/statistics?since=2026-03-03")
                .await;
            assert_eq!(none["refusalCodes"], serde_json::json!({}));
            served
        },
    )
    .await;
}

#[tokio::test]
async fn a_bad_day_and_an_operator_are_refused() {
    each_served(
        "http_admin_statistics_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let since = |day| {
                asking(&tokens.auditor)
                    .get(format!("/v1/statistics?since={day}"))
                    .refused(400, "REQUEST_INVALID")
            };
            let forbidden = |token| {
                asking(token)
                    .get("/v1/statistics")
                    .refused(403, "FORBIDDEN")
            };
            served
                .refused_each(&[
                    since("2026-13-01"),
                    since("yesterday"),
                    since("2026-3-1"),
                    forbidden(&tokens.market),
                    forbidden(&tokens.verifier),
                ])
                .await;
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(_served: &Served) -> Vec<Call> {
    vec![Call::get(
        "/v1/statistics",
        "/v1/statistics?since=2026-01-01",
    )]
}
