//! Cases under electronic supervision: events in order, the clock against
//! the item's limits over the working-day calendar, refusals that record
//! nothing. Both backends.

use serde_json::{Value, json};
use tongban_service::{CaseEventInput, ItemDraft, Service};

use crate::{CIVIL, MARKET, each_backend};

const ITEM: &str = "440114-MZ-0301";

async fn register_item(hub: &Service) {
    let draft: ItemDraft = serde_json::from_value(json!({
        "code": ITEM, "name": "社会团体成立登记", "itemType": "承诺件",
        "legalLimitDays": 20, "promisedLimitDays": 5,
        "materials": [{"name": "章程草案"}]
    }))
    .unwrap();
    hub.item_put(CIVIL, draft).await.unwrap();
}

fn report(case_id: &str, at: &str, event: Value) -> CaseEventInput {
    CaseEventInput::parse(
        case_id.into(),
        ITEM.into(),
        "window".into(),
        false,
        at,
        &event,
    )
    .unwrap()
}

#[tokio::test]
async fn cases_are_timed_against_their_limits() {
    each_backend("svc_supervision", |hub| async move {
        register_item(&hub).await;
        // Accepted Monday 2 March 2026 (the day not counted), concluded
        // Saturday the 7th at 00:00: Tuesday to Friday, 4 of 5 promised
        // days, past the 80 % warning.
        let operator = hub.clone().with_operator("王敏");
        for (at, e) in [
            ("2026-03-02T10:00:00+08:00", json!({"event": "accepted"})),
            (
                "2026-03-07T00:00:00+08:00",
                json!({"event": "concluded", "result": "approved"}),
            ),
            (
                "2026-03-08T09:00:00+08:00",
                json!({"event": "evaluated", "satisfied": false, "reasons": ["窗口等候时间长"]}),
            ),
        ] {
            operator
                .case_event(CIVIL, report("SJ-0001", at, e), true)
                .await
                .unwrap();
        }
        let found = hub.case_supervision(CIVIL, "SJ-0001").await.unwrap();
        assert_eq!(found.case.phase, "concluded");
        assert_eq!(found.case.standing, "warned");
        assert_eq!(found.case.elapsed_minutes, 4 * 24 * 60);
        assert_eq!(found.case.satisfied, Some(false));
        assert_eq!(found.case.item_type, "promised");
        assert_eq!(found.events.len(), 3);
        // Ended: its timing no longer moves.
        assert_eq!(found.now.elapsed_minutes, 4 * 24 * 60);
        let audit = hub
            .store()
            .audit_of(&format!("{CIVIL}/SJ-0001"), 10)
            .await
            .unwrap();
        assert_eq!(audit.len(), 3);
        assert!(
            audit
                .iter()
                .all(|e| e.action == "case.event" && e.actor == "王敏"),
            "{audit:?}"
        );

        // Across 春节: accepted Thursday 12 February, concluded at 00:00 on
        // 2 March: the 13th, the 14th (a Saturday worked), 24–27 February
        // and the 28th (a Saturday worked): 7 days, overdue.
        for (at, e) in [
            ("2026-02-12T10:00:00+08:00", json!({"event": "accepted"})),
            (
                "2026-03-02T00:00:00+08:00",
                json!({"event": "concluded", "result": "denied"}),
            ),
        ] {
            hub.case_event(CIVIL, report("SJ-0002", at, e), false)
                .await
                .unwrap();
        }
        let late = hub.case_supervision(CIVIL, "SJ-0002").await.unwrap().case;
        assert_eq!(late.elapsed_minutes, 7 * 24 * 60);
        assert_eq!(late.standing, "overdue");
        assert_eq!(late.result.as_deref(), Some("denied"));
        // Reported over the exchange: the department recorded, no audit entry.
        assert!(
            hub.store()
                .audit_of(&format!("{CIVIL}/SJ-0002"), 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn bad_events_are_refused_and_record_nothing() {
    each_backend("svc_supervision_refusals", |hub| async move {
        register_item(&hub).await;
        let code = |r: tongban_service::Result<tongban_store::SupervisedCaseRow>| {
            r.map(|_| ()).unwrap_err().code().to_owned()
        };
        let before = hub.store().audit_head().await.unwrap().0;
        let concluded = json!({"event": "concluded", "result": "approved"});
        assert_eq!(
            code(
                hub.case_event(
                    CIVIL,
                    report("SJ-0100", "2026-03-02T10:00:00+08:00", concluded.clone()),
                    true
                )
                .await
            ),
            "CASE_EVENT_OUT_OF_ORDER"
        );
        assert_eq!(
            code(
                hub.case_event(
                    MARKET,
                    report(
                        "SJ-0100",
                        "2026-03-02T10:00:00+08:00",
                        json!({"event": "accepted"})
                    ),
                    true
                )
                .await
            ),
            "ITEM_NOT_HANDLER"
        );
        let mut bad_channel = report(
            "SJ-0100",
            "2026-03-02T10:00:00+08:00",
            json!({"event": "accepted"}),
        );
        bad_channel.channel = "fax".into();
        assert_eq!(
            code(hub.case_event(CIVIL, bad_channel, true).await),
            "CASE_EVENT_INVALID"
        );
        let mut bad_id = report(
            "SJ-0100",
            "2026-03-02T10:00:00+08:00",
            json!({"event": "accepted"}),
        );
        bad_id.case_id = "办件 1".into();
        assert_eq!(
            code(hub.case_event(CIVIL, bad_id, true).await),
            "CASE_ID_INVALID"
        );
        assert_eq!(
            code(
                hub.case_event(
                    CIVIL,
                    report(
                        "SJ-0100",
                        "2099-01-01T00:00:00+08:00",
                        json!({"event": "accepted"})
                    ),
                    true
                )
                .await
            ),
            "CASE_EVENT_INVALID"
        );
        for (at, event) in [
            ("2026-03-02T10:00:00+08:00", json!({"event": "teleported"})),
            (
                "2026-03-02T10:00:00+08:00",
                json!({"event": "accepted", "extra": 1}),
            ),
            ("2 March", json!({"event": "accepted"})),
        ] {
            let parsed = CaseEventInput::parse(
                "SJ-0100".into(),
                ITEM.into(),
                "window".into(),
                false,
                at,
                &event,
            );
            assert_eq!(
                parsed.unwrap_err().code(),
                "CASE_EVENT_INVALID",
                "{at} {event}"
            );
        }
        assert!(
            hub.store()
                .supervised_case(CIVIL, "SJ-0100")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            hub.store().audit_head().await.unwrap().0,
            before,
            "a refusal wrote"
        );

        // In order, then an event earlier than the last is refused.
        hub.case_event(
            CIVIL,
            report(
                "SJ-0101",
                "2026-03-03T10:00:00+08:00",
                json!({"event": "accepted"}),
            ),
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            code(
                hub.case_event(
                    CIVIL,
                    report(
                        "SJ-0101",
                        "2026-03-02T10:00:00+08:00",
                        json!({"event": "withdrawn", "reason": "申请人撤回"})
                    ),
                    false
                )
                .await
            ),
            "CASE_EVENT_OUT_OF_ORDER"
        );
        // A case no event was reported for is unknown.
        let unknown = hub.case_supervision(CIVIL, "SJ-0102").await;
        assert_eq!(unknown.map(|_| ()).unwrap_err().code(), "CASE_UNKNOWN");
        assert_eq!(
            hub.store()
                .case_events(CIVIL, "SJ-0101")
                .await
                .unwrap()
                .len(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_months_report_counts_its_cases() {
    each_backend("svc_supervision_report", |hub| async move {
        register_item(&hub).await;
        let at = |day: &str| format!("2026-{day}+08:00");
        let record =
            |case: &'static str, channel: &'static str, zero: bool, steps: Vec<(String, Value)>| {
                let hub = hub.clone();
                async move {
                    for (when, e) in steps {
                        let mut r = report(case, &when, e);
                        r.channel = channel.into();
                        r.zero_visit = zero;
                        hub.case_event(CIVIL, r, false).await.unwrap();
                    }
                }
            };
        let accepted = || json!({"event": "accepted"});
        let approved = || json!({"event": "concluded", "result": "approved"});
        // 1 working day, 好评.
        record(
            "R-1",
            "window",
            false,
            vec![
                (at("03-02T10:00:00"), accepted()),
                (at("03-04T00:00:00"), approved()),
                (
                    at("03-04T10:00:00"),
                    json!({"event": "evaluated", "satisfied": true}),
                ),
            ],
        )
        .await;
        // 4 days, online and 零跑动: warned, still in time.
        record(
            "R-2",
            "online",
            true,
            vec![
                (at("03-02T10:00:00"), accepted()),
                (at("03-07T00:00:00"), approved()),
            ],
        )
        .await;
        // 6 days: past the promised 5.
        record(
            "R-3",
            "online",
            false,
            vec![
                (at("03-02T10:00:00"), accepted()),
                (at("03-11T00:00:00"), approved()),
            ],
        )
        .await;
        // Refused, then a 差评.
        record(
            "R-4",
            "window",
            false,
            vec![
                (
                    at("03-03T10:00:00"),
                    json!({"event": "refused", "reason": "不属于本部门职责"}),
                ),
                (
                    at("03-03T11:00:00"),
                    json!({"event": "evaluated", "satisfied": false, "reasons": ["未一次性告知"]}),
                ),
            ],
        )
        .await;
        // Still open.
        record(
            "R-5",
            "window",
            false,
            vec![(at("03-05T10:00:00"), accepted())],
        )
        .await;
        // April: another period.
        record(
            "R-6",
            "online",
            true,
            vec![(at("04-01T10:00:00"), accepted())],
        )
        .await;

        let from = tongban_seal::timefmt::parse_rfc3339("2026-03-01T00:00:00+08:00").unwrap();
        let to = tongban_seal::timefmt::parse_rfc3339("2026-04-01T00:00:00+08:00").unwrap();
        let march = hub.supervision_report(None, from, to).await.unwrap();
        let t = &march.total;
        assert_eq!(
            (
                t.counts.cases,
                t.counts.concluded,
                t.counts.concluded_in_time,
                t.counts.refused,
                t.counts.open
            ),
            (5, 3, 2, 1, 1)
        );
        let close = |a: Option<f64>, b: f64| assert!((a.unwrap() - b).abs() < 1e-9, "{a:?} vs {b}");
        close(t.on_time_rate, 2.0 / 3.0);
        close(t.average_elapsed_days, (1.0 + 4.0 + 6.0) / 3.0);
        close(t.average_promised_days, 5.0);
        close(t.average_legal_days, 20.0);
        close(t.compression_rate, 0.75);
        close(t.evaluation_rate, 2.0 / 4.0);
        close(t.satisfaction_rate, 0.5);
        close(t.online_rate, 2.0 / 5.0);
        close(t.zero_visit_rate, 1.0 / 5.0);
        assert_eq!(march.lines.len(), 1);
        assert_eq!(march.lines[0].counts.item_type, "promised");
        assert_eq!(march.departments[0].counts.department, CIVIL);
        // Another department's report is empty; a period backwards is refused.
        let market = hub
            .supervision_report(Some(MARKET), from, to)
            .await
            .unwrap();
        assert_eq!(market.total.counts.cases, 0);
        assert_eq!(market.total.on_time_rate, None);
        assert_eq!(
            hub.supervision_report(None, to, from)
                .await
                .map(|_| ())
                .unwrap_err()
                .code(),
            "REQUEST_INVALID"
        );
        let april = hub
            .supervision_report(Some(CIVIL), to, to + time::Duration::days(30))
            .await
            .unwrap();
        assert_eq!(april.total.counts.cases, 1);
        close(april.total.zero_visit_rate, 1.0);
    })
    .await;
}
