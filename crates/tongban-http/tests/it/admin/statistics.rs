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
    vec![
        Call::get("/v1/statistics", "/v1/statistics?since=2026-01-01"),
        Call::get(
            "/v1/statistics/licences",
            "/v1/statistics/licences?since=2026-01-01T00:00:00%2B08:00",
        ),
    ]
}

/// Licences issued and read since an instant (China time in, any offset):
/// earlier ones are not counted; a bad instant is refused.
#[tokio::test]
async fn licence_activity_is_counted_from_an_instant() {
    each_served(
        "http_admin_statistics_licences",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let before = served.hub.now() - time::Duration::seconds(2);
            let licence = crate::business_licence(&served.hub, None).await;
            let id = licence["licence"]["identifier"].as_str().unwrap();
            let read = tongban_service::Query {
                requester: samples::CIVIL_AFFAIRS.into(),
                use_cause: "核验".into(),
                case_ref: None,
            };
            served.hub.show(id, &read).await.unwrap();
            served.hub.revoke(id, "admin", "测试").await.unwrap();
            // Written in China time (+08:00), as the console asks.
            let china = |t: time::OffsetDateTime| {
                let t = t.to_offset(time::macros::offset!(+8));
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}%2B08:00",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            };
            let since = china(before);
            let counted = served
                .read(
                    &tokens.auditor,
                    &format!("/v1/statistics/licences?since={since}"),
                )
                .await;
            assert_eq!(counted["issued"], 1, "{counted}");
            assert_eq!(counted["used"], 1, "{counted}");
            assert_eq!(counted["byStatus"]["revoked"], 1, "{counted}");
            let later = china(served.hub.now() + time::Duration::minutes(1));
            let none = served
                .read(
                    &tokens.auditor,
                    &format!("/v1/statistics/licences?since={later}"),
                )
                .await;
            assert_eq!(
                (none["issued"].as_i64(), none["used"].as_i64()),
                (Some(0), Some(0))
            );
            served
                .refused_each(&[
                    asking(&tokens.auditor)
                        .get("/v1/statistics/licences?since=2026-05-20")
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.auditor)
                        .get("/v1/statistics/licences")
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.market)
                        .get("/v1/statistics/licences?since=2026-01-01T00:00:00Z")
                        .refused(403, "FORBIDDEN"),
                ])
                .await;
            served
        },
    )
    .await;
}
