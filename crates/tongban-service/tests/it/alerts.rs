//! What supervision pushes: warnings as a case's clock passes its
//! thresholds, cards as a work order misses its deadlines, notices (督办)
//! and their answers — each written to the outbox once, whoever looks and
//! however often, with the audience it goes to. Both backends.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tongban_service::alerts::NewNotice;
use tongban_service::{CaseEventInput, ItemDraft, NewDepartment, NewOrder, Service};
use tongban_store::{OutboxRow, PlatformLevel};
use tongban_supervision::Thresholds;
use tongban_supervision::hotline::{Category, Step};

use crate::{CIVIL, MARKET, each_backend};

const ITEM: &str = "440114-MZ-0302";
/// 数据局: the supervising office in these tests.
const OFFICE: &str = "11440114MB2C00090F";

fn at(hub: &Service, t: OffsetDateTime) {
    hub.clock().set(t);
}

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    r.map(|_| ()).unwrap_err().code().to_owned()
}

async fn set_up(hub: &Service) {
    hub.add_department(NewDepartment {
        code: OFFICE.into(),
        name: "广州市花都区政务服务数据管理局".into(),
        region_code: "440114".into(),
        platform_level: PlatformLevel::District,
        parent_code: None,
        contact: None,
    })
    .await
    .unwrap();
    let draft: ItemDraft = serde_json::from_value(json!({
        "code": ITEM, "name": "民办非企业单位成立登记", "itemType": "承诺件",
        "legalLimitDays": 20, "promisedLimitDays": 10,
        "materials": [{"name": "章程草案"}]
    }))
    .unwrap();
    hub.item_put(CIVIL, draft).await.unwrap();
}

async fn event(hub: &Service, case: &str, when: &str, e: Value) {
    let input =
        CaseEventInput::parse(case.into(), ITEM.into(), "online".into(), true, when, &e).unwrap();
    hub.case_event(CIVIL, input, true).await.unwrap();
}

async fn pushes(hub: &Service, department: Option<&str>) -> Vec<OutboxRow> {
    let mut rows = hub
        .supervision_pushes(
            department,
            (
                datetime!(2020-01-01 0:00 UTC),
                datetime!(2100-01-01 0:00 UTC),
            ),
            (100, 0),
        )
        .await
        .unwrap();
    rows.reverse();
    rows
}

fn payload(row: &OutboxRow) -> Value {
    serde_json::from_str(&row.payload).unwrap()
}

#[tokio::test]
async fn a_case_is_warned_once_per_threshold_it_passes() {
    each_backend("svc_alerts_cases", |hub: Service| async move {
        set_up(&hub).await;
        assert_eq!(
            code(
                hub.set_supervision_thresholds(Thresholds { warn_percent: 100 })
                    .await
            ),
            "THRESHOLDS_INVALID"
        );
        hub.set_supervising_office(OFFICE).await.unwrap();
        // Accepted Monday 2 March 2026: the clock runs from Tuesday.
        at(&hub, datetime!(2026-03-02 15:00 +8));
        event(
            &hub,
            "MF-0001",
            "2026-03-02T15:00:00+08:00",
            json!({"event": "accepted"}),
        )
        .await;
        assert_eq!(hub.supervision_sweep().await.unwrap().warnings, 0);
        // Friday the 13th at noon: 8.5 of 10 working days (85 %).
        at(&hub, datetime!(2026-03-13 12:00 +8));
        let found = hub.supervision_sweep().await.unwrap();
        assert_eq!((found.cases, found.warnings), (1, 1));
        // Looking again finds nothing new.
        assert_eq!(hub.supervision_sweep().await.unwrap().warnings, 0);
        // A correction stops the clock over the weekend and Monday; it
        // resumes on Tuesday 17th: still 8.5 days, nothing new.
        event(
            &hub,
            "MF-0001",
            "2026-03-13T12:00:00+08:00",
            json!({"event": "correction-asked", "reason": "缺章程"}),
        )
        .await;
        at(&hub, datetime!(2026-03-17 09:00 +8));
        event(
            &hub,
            "MF-0001",
            "2026-03-17T09:00:00+08:00",
            json!({"event": "correction-done"}),
        )
        .await;
        assert_eq!(hub.supervision_sweep().await.unwrap().warnings, 0);
        // Thursday 19th at 09:00: 8.5 + 2 days since Tuesday 09:00 = 10.5,
        // past the promised limit: overdue, one red warning.
        at(&hub, datetime!(2026-03-19 09:00 +8));
        assert_eq!(hub.supervision_sweep().await.unwrap().warnings, 1);
        let rows = pushes(&hub, Some(CIVIL)).await;
        let told: Vec<_> = rows
            .iter()
            .map(|r| {
                let p = payload(r);
                (
                    p["standing"].as_str().unwrap().to_owned(),
                    p["card"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            told,
            [
                ("warned".into(), "yellow".into()),
                ("overdue".into(), "red".into())
            ]
        );
        let first = payload(&rows[0]);
        assert_eq!(first["caseId"], "MF-0001");
        assert_eq!(first["elapsedMinutes"], 8 * 1440 + 720);
        assert!(
            rows.iter().all(|r| r.audience == [CIVIL, OFFICE]),
            "{rows:?}"
        );
        assert!(
            rows.iter()
                .all(|r| r.schema == "supervision-alert@1" && r.topic == "hub.supervision")
        );
        // Concluded: no more looks at it.
        event(
            &hub,
            "MF-0001",
            "2026-03-19T09:00:00+08:00",
            json!({"event": "concluded", "result": "approved"}),
        )
        .await;
        at(&hub, datetime!(2026-04-30 09:00 +8));
        let found = hub.supervision_sweep().await.unwrap();
        assert_eq!((found.cases, found.warnings), (0, 0));
        assert!(pushes(&hub, Some(MARKET)).await.is_empty());

        // A lower threshold warns earlier: accepted on Monday 6 April (清明,
        // a holiday), the clock runs from Tuesday; by Tuesday 14th at noon
        // it ran 5.5 of 10 days, past 50 % and short of 80 %.
        hub.set_supervision_thresholds(Thresholds { warn_percent: 50 })
            .await
            .unwrap();
        at(&hub, datetime!(2026-04-06 10:00 +8));
        event(
            &hub,
            "MF-0002",
            "2026-04-06T10:00:00+08:00",
            json!({"event": "accepted"}),
        )
        .await;
        at(&hub, datetime!(2026-04-14 12:00 +8));
        assert_eq!(hub.supervision_sweep().await.unwrap().warnings, 1);
        let audit = hub.store().audit_of("supervision", 10).await.unwrap();
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!(audit[0].action, "supervision.thresholds");
    })
    .await;
}

#[tokio::test]
async fn a_work_order_earns_its_cards_once() {
    each_backend("svc_alerts_orders", |hub: Service| async move {
        set_up(&hub).await;
        hub.set_supervising_office(OFFICE).await.unwrap();
        hub.set_hotline_office(CIVIL).await.unwrap();
        // Dispatched Wednesday 25 November 2026, to be signed for within 1
        // working day (a consumer complaint).
        at(&hub, datetime!(2026-11-25 09:00 +8));
        let new = NewOrder {
            id: "12345-0100".into(),
            category: Category::ConsumerComplaint,
            content: "商家拒绝退还预付卡余额".into(),
            area: Some("440114".into()),
            contact: "王女士 13800000000".into(),
            unit: None,
        };
        hub.order_create(CIVIL, new).await.unwrap();
        let dispatch = Step::Dispatched {
            unit: MARKET.into(),
            manual: None,
        };
        hub.order_step(
            CIVIL,
            "12345-0100",
            dispatch,
            datetime!(2026-11-25 09:00 +8),
        )
        .await
        .unwrap();
        assert_eq!(hub.supervision_sweep().await.unwrap().cards, 0);
        at(&hub, datetime!(2026-11-27 09:00 +8));
        let found = hub.supervision_sweep().await.unwrap();
        assert_eq!((found.orders, found.cards), (1, 1));
        assert_eq!(hub.supervision_sweep().await.unwrap().cards, 0);
        let order = hub.store().work_order("12345-0100").await.unwrap().unwrap();
        assert_eq!((order.yellow_cards, order.red_cards), (1, 0));
        let rows = pushes(&hub, Some(MARKET)).await;
        assert_eq!(rows.len(), 1);
        let card = payload(&rows[0]);
        assert_eq!(
            (card["deadline"].as_str(), card["card"].as_str()),
            (Some("sign"), Some("yellow"))
        );
        assert_eq!(rows[0].audience, [MARKET, OFFICE, CIVIL]);
        assert!(
            !rows[0].payload.contains("13800000000"),
            "no contact in a card"
        );
    })
    .await;
}

#[tokio::test]
async fn a_notice_is_issued_answered_once_and_chased_when_late() {
    each_backend("svc_alerts_notices", |hub: Service| async move {
        set_up(&hub).await;
        at(&hub, datetime!(2026-03-02 15:00 +8));
        event(
            &hub,
            "MF-0009",
            "2026-03-02T15:00:00+08:00",
            json!({"event": "accepted"}),
        )
        .await;
        let ask = |subject: &str, days: u32| NewNotice {
            unit: CIVIL.into(),
            subject_kind: "case".into(),
            subject: subject.into(),
            text: "请说明该件超期原因及整改措施".into(),
            answer_days: days,
        };
        // Only the supervising office (or an administrator) issues them.
        assert_eq!(
            code(hub.notice_issue(Some(OFFICE), ask("MF-0009", 3)).await),
            "NOTICE_FORBIDDEN"
        );
        hub.set_supervising_office(OFFICE).await.unwrap();
        assert_eq!(
            code(hub.notice_issue(Some(MARKET), ask("MF-0009", 3)).await),
            "NOTICE_FORBIDDEN"
        );
        assert_eq!(
            code(hub.notice_issue(Some(OFFICE), ask("MF-0404", 3)).await),
            "CASE_UNKNOWN"
        );
        assert_eq!(
            code(hub.notice_issue(Some(OFFICE), ask("MF-0009", 0)).await),
            "NOTICE_INVALID"
        );
        let notice = hub
            .notice_issue(Some(OFFICE), ask("MF-0009", 3))
            .await
            .unwrap();
        // Three working days from Monday: the end of Thursday.
        assert_eq!(notice.due_at, datetime!(2026-03-06 0:00 +8));
        let late = hub.notice_issue(None, ask("MF-0009", 1)).await.unwrap();
        assert_eq!(late.issued_by, "admin");
        assert_eq!(
            hub.notices(Some(CIVIL), true, (10, 0)).await.unwrap().len(),
            2
        );

        assert_eq!(
            code(hub.notice_answer(MARKET, &notice.id, "已整改", true).await),
            "NOTICE_FORBIDDEN"
        );
        assert_eq!(
            code(hub.notice_answer(CIVIL, "DB-NONE", "已整改", true).await),
            "NOTICE_UNKNOWN"
        );
        assert_eq!(
            code(hub.notice_answer(CIVIL, &notice.id, "", true).await),
            "NOTICE_INVALID"
        );
        let answered = hub
            .notice_answer(CIVIL, &notice.id, "材料补正后已办结", true)
            .await
            .unwrap();
        assert_eq!(answered.answer.as_deref(), Some("材料补正后已办结"));
        assert_eq!(
            code(hub.notice_answer(CIVIL, &notice.id, "再答", true).await),
            "NOTICE_ANSWERED"
        );
        assert_eq!(
            hub.notices(Some(CIVIL), true, (10, 0)).await.unwrap().len(),
            1
        );

        // The unanswered one is chased once when its day has passed.
        at(&hub, datetime!(2026-03-04 09:00 +8));
        assert_eq!(hub.supervision_sweep().await.unwrap().notices_overdue, 1);
        assert_eq!(hub.supervision_sweep().await.unwrap().notices_overdue, 0);
        // The first three at the same instant: in no particular order.
        let mut kinds: Vec<String> = pushes(&hub, Some(OFFICE))
            .await
            .iter()
            .map(|r| {
                let p = payload(r);
                format!(
                    "{}:{}",
                    r.schema,
                    p.get("state").or(p.get("kind")).unwrap().as_str().unwrap()
                )
            })
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                "supervision-alert@1:notice-overdue",
                "supervision-notice@1:answered",
                "supervision-notice@1:issued",
                "supervision-notice@1:issued",
            ]
        );
        let audit = hub.store().audit_of(&notice.id, 10).await.unwrap();
        let actions: Vec<_> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["notice.answer", "notice.issue"]);
    })
    .await;
}
