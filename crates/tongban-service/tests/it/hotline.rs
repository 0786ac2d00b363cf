//! 12345 work orders on the hub: the office and its units each take their
//! steps, cards as of each step, the contact for the office and the
//! handling unit only (each reading audited, never in a list); refusals
//! record nothing. Both backends.

use time::OffsetDateTime;
use time::macros::datetime;
use tongban_service::{NewDepartment, NewOrder, NewRoute, Service};
use tongban_store::{DepartmentStatus, PlatformLevel};
use tongban_supervision::hotline::{Category, Step};

use crate::{CIVIL, MARKET, each_backend};

/// 民政局 runs the hotline in these tests; 市场监管局 handles the order.
const OFFICE: &str = CIVIL;
/// 数据局: a unit the order is not dispatched to.
const OTHER: &str = "11440114MB2C00090F";

/// Moves the hub's clock to `t` and answers it.
fn at(hub: &Service, t: OffsetDateTime) -> OffsetDateTime {
    hub.clock().set(t);
    t
}

fn call(id: &str) -> NewOrder {
    NewOrder {
        id: id.into(),
        category: Category::ConsumerComplaint,
        content: "商家拒绝退还预付卡余额".into(),
        area: Some("440114".into()),
        contact: "王女士 13800000000".into(),
        unit: None,
    }
}

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    r.map(|_| ()).unwrap_err().code().to_owned()
}

#[tokio::test]
async fn an_order_goes_from_the_office_to_a_unit_and_back() {
    each_backend("svc_hotline", |hub: Service| async move {
        hub.add_department(NewDepartment {
            code: OTHER.into(),
            name: "广州市花都区政务服务数据管理局".into(),
            region_code: "440114".into(),
            platform_level: PlatformLevel::District,
            parent_code: None,
            contact: None,
        })
        .await
        .unwrap();
        at(&hub, datetime!(2026-11-25 09:00 +8));
        let id = "12345-0001";
        assert_eq!(
            code(hub.order_create(OFFICE, call(id)).await),
            "HOTLINE_OFFICE_MISSING"
        );
        hub.set_hotline_office(OFFICE).await.unwrap();
        assert_eq!(
            code(hub.order_create(MARKET, call(id)).await),
            "ORDER_STEP_FORBIDDEN"
        );
        hub.order_create(OFFICE, call(id)).await.unwrap();
        assert_eq!(
            code(hub.order_create(OFFICE, call(id)).await),
            "ORDER_EXISTS"
        );

        // Dispatched on Wednesday 25 November: sign-for due by the end of Thursday.
        let wednesday = at(&hub, datetime!(2026-11-25 10:00 +8));
        let dispatch = Step::Dispatched {
            unit: MARKET.into(),
            manual: None,
        };
        hub.order_step(OFFICE, id, dispatch, wednesday)
            .await
            .unwrap();
        // Another unit does not sign, nor the office; the unit does not close.
        let before = hub.store().audit_head().await.unwrap().0;
        for (who, step, code_expected) in [
            (OTHER, Step::Signed {}, "ORDER_STEP_FORBIDDEN"),
            (OFFICE, Step::Signed {}, "ORDER_STEP_FORBIDDEN"),
            (MARKET, Step::Closed {}, "ORDER_STEP_FORBIDDEN"),
        ] {
            assert_eq!(
                code(hub.order_step(who, id, step, wednesday).await),
                code_expected
            );
        }
        assert_eq!(
            code(
                hub.order_step(MARKET, "12345-0002", Step::Signed {}, wednesday)
                    .await
            ),
            "ORDER_UNKNOWN"
        );
        let ahead = datetime!(2026-12-25 10:00 +8);
        assert_eq!(
            code(hub.order_step(MARKET, id, Step::Signed {}, ahead).await),
            "ORDER_STEP_INVALID"
        );
        assert_eq!(
            hub.store().audit_head().await.unwrap().0,
            before,
            "a refusal wrote"
        );

        // Signed on Friday: a yellow card.
        let friday = at(&hub, datetime!(2026-11-27 10:00 +8));
        let signed = hub
            .order_step(MARKET, id, Step::Signed {}, friday)
            .await
            .unwrap();
        assert_eq!(
            (signed.phase.as_str(), signed.yellow_cards),
            ("handling", 1)
        );
        // The contact: for the office and the handling unit, each read audited.
        assert_eq!(
            hub.order_contact(MARKET, id).await.unwrap(),
            "王女士 13800000000"
        );
        assert_eq!(
            code(hub.order_contact(OTHER, id).await),
            "ORDER_STEP_FORBIDDEN"
        );
        let reads = hub.store().audit_of(id, 20).await.unwrap();
        assert!(
            reads.iter().any(|e| e.action == "order.contact"),
            "{reads:?}"
        );
        assert!(
            reads.iter().all(|e| !e.detail.contains("13800000000")),
            "{reads:?}"
        );

        for (who, step, t) in [
            (
                MARKET,
                Step::Replied {
                    content: "已督促商家退款".into(),
                },
                datetime!(2026-11-30 10:00 +8),
            ),
            (
                OFFICE,
                Step::Visited { satisfied: true },
                datetime!(2026-12-01 10:00 +8),
            ),
            (OFFICE, Step::Closed {}, datetime!(2026-12-01 10:05 +8)),
        ] {
            hub.order_step(who, id, step, at(&hub, t)).await.unwrap();
        }
        let (order, steps) = hub.order_show(MARKET, id).await.unwrap();
        assert_eq!(order.phase, "closed");
        assert_eq!(order.satisfied, Some(true));
        assert_eq!((order.yellow_cards, order.red_cards), (1, 0));
        assert_eq!(steps.len(), 5);
        assert_eq!(
            code(hub.order_show(OTHER, id).await),
            "ORDER_STEP_FORBIDDEN"
        );
        // Lists never carry the contact, not even in Debug.
        let listed = hub
            .order_list(
                None,
                datetime!(2020-01-01 00:00 UTC),
                datetime!(2100-01-01 00:00 UTC),
                10,
            )
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert!(
            !serde_json::to_string(&listed)
                .unwrap()
                .contains("13800000000")
        );
        assert!(!format!("{listed:?}").contains("13800000000"));

        // The month's 12345 report: the market bureau signed late, replied
        // on time, and the citizen was satisfied.
        let report = hub
            .order_report(
                datetime!(2026-11-01 00:00 +8),
                datetime!(2026-12-01 00:00 +8),
            )
            .await
            .unwrap();
        let t = &report.total;
        assert_eq!(
            (
                t.counts.orders,
                t.counts.signed,
                t.counts.signed_on_time,
                t.counts.replied,
                t.counts.replied_on_time
            ),
            (1, 1, 0, 1, 1)
        );
        assert_eq!(
            (t.counts.yellow_cards, t.counts.red_cards, t.counts.closed),
            (1, 0, 1)
        );
        assert_eq!(t.sign_on_time_rate, Some(0.0));
        assert_eq!(t.reply_on_time_rate, Some(1.0));
        assert_eq!(t.satisfaction_rate, Some(1.0));
        assert_eq!(report.units[0].counts.unit, MARKET);
        assert_eq!(report.lines[0].counts.category, "consumer-complaint");
        assert_eq!(
            code(
                hub.order_report(
                    datetime!(2026-12-01 00:00 +8),
                    datetime!(2026-11-01 00:00 +8)
                )
                .await
            ),
            "REQUEST_INVALID"
        );
    })
    .await;
}

/// A department of 440114 that may handle orders.
async fn unit(hub: &Service, code: &str, name: &str) {
    hub.add_department(NewDepartment {
        code: code.into(),
        name: name.into(),
        region_code: "440114".into(),
        platform_level: PlatformLevel::District,
        parent_code: None,
        contact: None,
    })
    .await
    .unwrap();
}

fn route(category: Option<Category>, area: Option<&str>, unit: &str) -> NewRoute {
    NewRoute {
        category,
        area: area.map(str::to_owned),
        unit: unit.into(),
    }
}

/// The order `id` as created: its unit, phase, and its first step if any.
async fn created(hub: &Service, id: &str) -> (Option<String>, String, Vec<String>) {
    let (order, steps) = hub.order_show(OFFICE, id).await.unwrap();
    (
        order.unit,
        order.phase,
        steps.into_iter().map(|s| s.step).collect(),
    )
}

#[tokio::test]
async fn new_orders_are_dispatched_by_the_most_specific_routing_rule() {
    each_backend("svc_hotline_routes", |hub: Service| async move {
        unit(&hub, OTHER, "广州市花都区政务服务数据管理局").await;
        at(&hub, datetime!(2026-11-25 09:00 +8));
        assert_eq!(
            code(hub.route_add(route(None, None, MARKET)).await),
            "HOTLINE_OFFICE_MISSING"
        );
        hub.set_hotline_office(OFFICE).await.unwrap();

        // Refused rules write nothing.
        let before = hub.store().audit_head().await.unwrap().0;
        for (bad, expected) in [
            (
                route(None, Some("4401"), "11440114MB2C00099X"),
                "DEPARTMENT_UNKNOWN",
            ),
            (route(None, Some("4401"), OFFICE), "ORDER_ROUTE_INVALID"),
            (route(None, Some(""), MARKET), "ORDER_ROUTE_INVALID"),
            (route(None, Some(" 4401"), MARKET), "ORDER_ROUTE_INVALID"),
        ] {
            assert_eq!(code(hub.route_add(bad.clone()).await), expected, "{bad:?}");
        }
        assert_eq!(
            code(hub.route_remove(None, Some("4401")).await),
            "ORDER_ROUTE_UNKNOWN"
        );
        assert_eq!(hub.store().audit_head().await.unwrap().0, before);
        assert!(hub.routes().await.unwrap().is_empty());

        // No rule and no unit: the order stays new.
        hub.order_create(OFFICE, call("12345-0100")).await.unwrap();
        assert_eq!(
            created(&hub, "12345-0100").await,
            (None, "new".to_owned(), vec![])
        );

        // Every area to the data bureau; 440114's consumer complaints to
        // the market bureau.
        hub.route_add(route(None, None, MARKET)).await.unwrap();
        hub.route_add(route(None, None, OTHER)).await.unwrap();
        let complaints = Some(Category::ConsumerComplaint);
        hub.route_add(route(complaints, Some("440114"), MARKET))
            .await
            .unwrap();
        let rules = hub.routes().await.unwrap();
        assert_eq!(rules.len(), 2, "{rules:?}");
        let route_entries = hub.store().audit_of(OFFICE, 10).await.unwrap();
        assert_eq!(
            route_entries
                .iter()
                .filter(|e| e.action == "hotline.route")
                .count(),
            3
        );
        assert!(
            route_entries[1]
                .detail
                .contains(&format!("\"replaced\":\"{MARKET}\"")),
            "{route_entries:?}"
        );

        hub.order_create(OFFICE, call("12345-0101")).await.unwrap();
        let by_rule = created(&hub, "12345-0101").await;
        assert_eq!(by_rule.0.as_deref(), Some(MARKET));
        assert_eq!(by_rule.1, "dispatched");
        let step: serde_json::Value = serde_json::from_str(&by_rule.2[0]).unwrap();
        assert_eq!(
            step,
            serde_json::json!({"step": "dispatched", "unit": MARKET, "manual": false})
        );
        let entry = &hub.store().audit_of("12345-0101", 1).await.unwrap()[0];
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["manual"], false);
        assert_eq!(detail["route"]["area"], "440114");

        // Another category of the same area: the any-category rule.
        let mut suggestion = call("12345-0102");
        suggestion.category = Category::Suggestion;
        hub.order_create(OFFICE, suggestion).await.unwrap();
        assert_eq!(created(&hub, "12345-0102").await.0.as_deref(), Some(OTHER));

        // The office names the unit: the rule is overridden, and says so.
        let mut named = call("12345-0103");
        named.unit = Some(OTHER.into());
        hub.order_create(OFFICE, named).await.unwrap();
        let overridden = created(&hub, "12345-0103").await;
        assert_eq!(overridden.0.as_deref(), Some(OTHER));
        assert!(
            overridden.2[0].contains("\"manual\":true"),
            "{overridden:?}"
        );
        let entry = &hub.store().audit_of("12345-0103", 1).await.unwrap()[0];
        assert!(entry.detail.contains("\"manual\":true"), "{entry:?}");
        // Not to the office itself, nor to an unknown department.
        let mut to_office = call("12345-0104");
        to_office.unit = Some(OFFICE.into());
        assert_eq!(
            code(hub.order_create(OFFICE, to_office).await),
            "ORDER_STEP_INVALID"
        );
        // A dispatch step is the office's choice: never claimed as a rule's.
        let claimed = Step::Dispatched {
            unit: MARKET.into(),
            manual: Some(false),
        };
        let now = hub.now();
        assert_eq!(
            code(hub.order_step(OFFICE, "12345-0100", claimed, now).await),
            "ORDER_STEP_INVALID"
        );
        let dispatch = Step::Dispatched {
            unit: MARKET.into(),
            manual: None,
        };
        hub.order_step(OFFICE, "12345-0100", dispatch, now)
            .await
            .unwrap();
        assert!(created(&hub, "12345-0100").await.2[0].contains("\"manual\":true"));

        // A rule whose unit was suspended is passed over.
        hub.set_department_status(MARKET, DepartmentStatus::Suspended, "机构调整")
            .await
            .unwrap();
        hub.order_create(OFFICE, call("12345-0105")).await.unwrap();
        assert_eq!(created(&hub, "12345-0105").await.0.as_deref(), Some(OTHER));

        // Removed: the next order goes by what is left, then stays new.
        hub.route_remove(complaints, Some("440114")).await.unwrap();
        hub.route_remove(None, None).await.unwrap();
        assert!(hub.routes().await.unwrap().is_empty());
        hub.order_create(OFFICE, call("12345-0106")).await.unwrap();
        assert_eq!(created(&hub, "12345-0106").await.1, "new");
    })
    .await;
}
