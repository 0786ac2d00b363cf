//! Electronic supervision over HTTP: the working-day calendar (read, a
//! deadline, a year loaded by the administrator only), a case's standing
//! for its department, and a period's report for auditors; refusals with
//! their codes, writing nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::{CaseEventInput, ItemDraft, samples};

use super::areas::Call;
use super::{Tokens, asking};
use crate::{Served, each_served, refused};

pub const ITEM: &str = "440114-MZ-0999";

/// A made-up 2027 (not the national one).
pub fn year_2027() -> Value {
    json!({"year": 2027, "source": "test calendar",
           "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}],
           "workdays": []})
}

/// Civil affairs' case `id`, accepted on 2 March 2026 and concluded on
/// Saturday the 7th: 4 working days of a promised 5.
pub async fn supervised(served: &Served, id: &str) {
    let hub = &served.hub;
    if hub.item_show(ITEM).await.is_err() {
        let draft: ItemDraft = serde_json::from_value(json!({
            "code": ITEM, "name": "社会团体成立登记", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 5,
            "materials": [{"name": "章程草案"}]
        }))
        .unwrap();
        hub.item_put(samples::CIVIL_AFFAIRS, draft).await.unwrap();
    }
    for (at, event) in [
        ("2026-03-02T10:00:00+08:00", json!({"event": "accepted"})),
        (
            "2026-03-07T00:00:00+08:00",
            json!({"event": "concluded", "result": "approved"}),
        ),
    ] {
        let input =
            CaseEventInput::parse(id.into(), ITEM.into(), "online".into(), true, at, &event)
                .unwrap();
        hub.case_event(samples::CIVIL_AFFAIRS, input, false)
            .await
            .unwrap();
    }
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(served: &Served) -> Vec<Call> {
    supervised(served, "MATRIX-SJ-1").await;
    let civil = samples::CIVIL_AFFAIRS;
    vec![
        Call::get("/v1/calendar", "/v1/calendar"),
        Call::post("/v1/calendar", "/v1/calendar", year_2027()),
        Call::get(
            "/v1/calendar/deadline",
            "/v1/calendar/deadline?from=2026-02-13&days=2",
        ),
        Call::get(
            "/v1/cases/{department}/{id}/supervision",
            format!("/v1/cases/{civil}/MATRIX-SJ-1/supervision"),
        )
        .about(civil),
        Call::get(
            "/v1/supervision/report",
            "/v1/supervision/report?from=2026-03-01&to=2026-04-01",
        ),
        Call::get(
            "/v1/supervision/orders",
            "/v1/supervision/orders?from=2026-01-01&to=2100-01-01",
        ),
    ]
}

#[tokio::test]
async fn calendar_standing_and_report_over_http() {
    each_served(
        "http_admin_supervision",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            supervised(&served, "SJ-1").await;
            let civil = samples::CIVIL_AFFAIRS;

            // The calendar in force, and a deadline over 春节.
            let years = served.read(&tokens.civil, "/v1/calendar").await;
            assert_eq!(years[1]["year"], 2026, "{years}");
            let due = served
                .read(&tokens.market, "/v1/calendar/deadline?from=2026-02-13&days=2")
                .await;
            assert_eq!(due["lastDay"], "2026-02-24");
            let past = "/v1/calendar/deadline?from=2026-12-28&days=5";
            served
                .refuses(
                    asking(&tokens.admin)
                        .get(past)
                        .refused(400, "CALENDAR_YEAR_MISSING"),
                )
                .await;

            // A year is the administrator's to load; refusals write nothing.
            let before = served.audit_head().await;
            let mut overlap = year_2027();
            overlap["holidays"] = json!([
                {"name": "a", "from": "2027-01-01", "to": "2027-01-02"},
                {"name": "b", "from": "2027-01-02", "to": "2027-01-02"}]);
            served
                .refused_each(&[
                    asking(&tokens.admin)
                        .post("/v1/calendar", overlap)
                        .refused(400, "CALENDAR_OVERLAP"),
                    asking(&tokens.market)
                        .post("/v1/calendar", year_2027())
                        .refused(403, "FORBIDDEN"),
                ])
                .await;
            let repeated = served
                .client
                .post(served.url("/v1/calendar"))
                .bearer_auth(&tokens.admin)
                .header("content-type", "application/json")
                .body(r#"{"year": 2027, "year": 2028, "source": "x", "holidays": [], "workdays": []}"#)
                .send()
                .await
                .unwrap();
            refused(repeated, 400, "DUPLICATE_MEMBER").await;
            assert_eq!(served.audit_head().await, before, "a refusal wrote");
            let loaded = served
                .call(&tokens.admin, Method::POST, "/v1/calendar", Some(&year_2027()))
                .await;
            assert_eq!(loaded.status(), 201);
            let due = served.read(&tokens.civil, past).await;
            assert_eq!(due["lastDay"], "2027-01-05");

            // A case's standing is its department's to read.
            let path = format!("/v1/cases/{civil}/SJ-1/supervision");
            let case = served.read(&tokens.civil, &path).await;
            assert_eq!(case["case"]["standing"], "warned", "{case}");
            assert_eq!(case["now"]["elapsedMinutes"], 4 * 24 * 60);
            assert_eq!(case["events"].as_array().unwrap().len(), 2);
            served
                .refused_each(&[
                    asking(&tokens.market).get(&path).refused(403, "FORBIDDEN"),
                    asking(&tokens.civil)
                        .get(format!("/v1/cases/{civil}/SJ-404/supervision"))
                        .refused(404, "CASE_UNKNOWN"),
                ])
                .await;

            // The month's report, for the auditor.
            let report = served
                .read(&tokens.auditor, "/v1/supervision/report?from=2026-03-01&to=2026-04-01")
                .await;
            assert_eq!(report["total"]["cases"], 1, "{report}");
            assert_eq!(report["total"]["onTimeRate"], 1.0);
            assert_eq!(report["total"]["zeroVisitRate"], 1.0);
            // No work orders yet: counted as none, rates null.
            let orders = served
                .read(&tokens.auditor, "/v1/supervision/orders?from=2026-01-01&to=2027-01-01")
                .await;
            assert_eq!(orders["total"]["orders"], 0, "{orders}");
            assert_eq!(orders["total"]["signOnTimeRate"], Value::Null);
            let reports = "/v1/supervision/report";
            served
                .refused_each(&[
                    asking(&tokens.auditor)
                        .get(format!("{reports}?from=March&to=2026-04-01"))
                        .refused(400, "REQUEST_INVALID"),
                    asking(&tokens.civil)
                        .get(format!("{reports}?from=2026-03-01&to=2026-04-01"))
                        .refused(403, "FORBIDDEN"),
                ])
                .await;
            served
        },
    )
    .await;
}
