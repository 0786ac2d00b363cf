//! Bulk import of case events and work orders: a few hundred generated
//! events and a few dozen orders imported give exactly the rows and the
//! reports that recording them one by one gives (two hubs on the same
//! backend, both backends); each refusal has its code, skips its case or
//! order whole, and lets the others in.

use std::future::Future;

use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tongban_service::{
    CaseEventInput, ItemDraft, NewDepartment, NewOrder, OrderImport, Service, StepImport,
};
use tongban_store::PlatformLevel;
use tongban_supervision::hotline::{Category, Step};

use crate::{CIVIL, MARKET, T0, audit_details_are_documented_data, each_backend, hub_on};

/// The hotline office in these tests.
const OFFICE: &str = "11440114MB2C00090F";
const YEAR: (OffsetDateTime, OffsetDateTime) = (
    datetime!(2026-01-01 00:00 +8),
    datetime!(2027-01-01 00:00 +8),
);
/// CIVIL's items: one of each type.
const ITEMS: [(&str, &str, u32, u32); 4] = [
    ("440114-MZ-1001", "即办件", 1, 0),
    ("440114-MZ-1002", "承诺件", 20, 5),
    ("440114-MZ-1003", "联办件", 30, 15),
    ("440114-MZ-1004", "上报件", 60, 20),
];

/// xorshift64*: the same cases on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Two hubs on each backend: one to record one by one, one to import.
async fn two_hubs<F, Fut>(name: &str, test: F)
where
    F: Fn(Service, Service) -> Fut,
    Fut: Future<Output = ()>,
{
    let ones = tongban_tests::backends(&format!("{name}_one")).await;
    let bulks = tongban_tests::backends(&format!("{name}_bulk")).await;
    for (a, b) in ones.into_iter().zip(bulks) {
        eprintln!("{name}: {}", a.name);
        let (one, bulk) = (hub_on(&a).await, hub_on(&b).await);
        for hub in [&one, &bulk] {
            setup(hub).await;
        }
        test(one.clone(), bulk.clone()).await;
        audit_details_are_documented_data(&bulk).await;
        one.close().await;
        bulk.close().await;
        a.cleanup().await;
        b.cleanup().await;
    }
}

/// CIVIL's items, the office named.
async fn setup(hub: &Service) {
    for (code, item_type, legal, promised) in ITEMS {
        let draft: ItemDraft = serde_json::from_value(json!({
            "code": code, "name": format!("民政事项{code}"), "itemType": item_type,
            "legalLimitDays": legal, "promisedLimitDays": promised,
            "materials": [{"name": "申请书"}]
        }))
        .unwrap();
        hub.item_put(CIVIL, draft).await.unwrap();
    }
    hub.add_department(NewDepartment {
        code: OFFICE.into(),
        name: "广州市花都区12345热线办".into(),
        region_code: "440114".into(),
        platform_level: PlatformLevel::District,
        parent_code: None,
        contact: None,
    })
    .await
    .unwrap();
    hub.set_hotline_office(OFFICE).await.unwrap();
}

fn input(
    case_id: &str,
    item: &str,
    channel: &str,
    at: OffsetDateTime,
    event: Value,
) -> CaseEventInput {
    CaseEventInput::parse(
        case_id.into(),
        item.into(),
        channel.into(),
        channel == "online",
        &tongban_seal::timefmt::format_rfc3339(at),
        &event,
    )
    .unwrap()
}

/// Generated cases of 2026 (January to October): refusals, corrections
/// and special procedures, conclusions, withdrawals, open cases,
/// evaluations; events of different cases interleaved.
fn year_of_cases(cases: usize, seed: u64) -> Vec<CaseEventInput> {
    let mut rng = Rng(seed);
    let mut per_case: Vec<Vec<CaseEventInput>> = Vec::new();
    for n in 0..cases {
        let id = format!("SJ-2026-{n:05}");
        let item = ITEMS[rng.below(4) as usize].0;
        let channel = ["online", "window", "mail", "other"][rng.below(4) as usize];
        let mut at = datetime!(2026-01-04 09:00 +8)
            + Duration::days(rng.below(250) as i64)
            + Duration::minutes(rng.below(480) as i64);
        let mut events = Vec::new();
        let mut push = |at: OffsetDateTime, e: Value| events.push(input(&id, item, channel, at, e));
        let step = |rng: &mut Rng| Duration::hours(2 + rng.below(24 * 6) as i64);
        let ended = if rng.chance(5) {
            push(
                at,
                json!({"event": "refused", "reason": "不属于本机关职权范围"}),
            );
            true
        } else {
            push(at, json!({"event": "accepted"}));
            for _ in 0..rng.below(3) {
                at += step(&mut rng);
                if rng.chance(70) {
                    push(
                        at,
                        json!({"event": "correction-asked", "reason": "缺身份证复印件"}),
                    );
                    at += step(&mut rng);
                    push(at, json!({"event": "correction-done"}));
                } else {
                    push(
                        at,
                        json!({"event": "special-started", "reason": "专家评审", "boundDays": 10}),
                    );
                    at += step(&mut rng);
                    push(at, json!({"event": "special-ended"}));
                }
            }
            at += step(&mut rng) + Duration::days(rng.below(12) as i64);
            match rng.below(100) {
                0..=84 => {
                    let result = if rng.chance(90) { "approved" } else { "denied" };
                    push(at, json!({"event": "concluded", "result": result}));
                    true
                }
                85..=94 => {
                    push(at, json!({"event": "withdrawn", "reason": "申请人撤回"}));
                    true
                }
                _ => false,
            }
        };
        if ended && rng.chance(60) {
            at += Duration::hours(1 + rng.below(48) as i64);
            let e = if rng.chance(80) {
                json!({"event": "evaluated", "satisfied": true})
            } else {
                json!({"event": "evaluated", "satisfied": false, "reasons": ["办理时间长"]})
            };
            push(at, e);
        }
        per_case.push(events);
    }
    // Interleave: round-robin over the cases, each case's events in order.
    let mut out = Vec::new();
    let mut cursor = vec![0usize; per_case.len()];
    loop {
        let mut any = false;
        for (c, events) in per_case.iter().enumerate() {
            if let Some(e) = events.get(cursor[c]) {
                out.push(e.clone());
                cursor[c] += 1;
                any = true;
            }
        }
        if !any {
            return out;
        }
    }
}

/// Generated work orders of 2026 with returns, extensions, late sign-fors
/// and replies, call backs and reopenings; every order ends dispatched.
fn year_of_orders(orders: usize, seed: u64) -> Vec<OrderImport> {
    let mut rng = Rng(seed);
    let units = [MARKET, CIVIL];
    (0..orders)
        .map(|n| {
            let category = Category::ALL[rng.below(6) as usize];
            let created_at = datetime!(2026-01-05 08:30 +8)
                + Duration::days(rng.below(280) as i64)
                + Duration::minutes(rng.below(600) as i64);
            let mut at = created_at;
            let mut steps = Vec::new();
            let mut take = |by: &str, at: OffsetDateTime, step: Step| {
                steps.push(StepImport {
                    by: by.to_owned(),
                    at,
                    step,
                });
            };
            let mut unit = units[rng.below(2) as usize];
            at += Duration::minutes(30);
            take(
                "office",
                at,
                Step::Dispatched {
                    unit: unit.into(),
                    manual: None,
                },
            );
            if rng.chance(10) {
                at += Duration::hours(3);
                take(
                    unit,
                    at,
                    Step::Returned {
                        reason: "不属于本单位职责".into(),
                    },
                );
                unit = if unit == MARKET { CIVIL } else { MARKET };
                at += Duration::hours(1);
                take(
                    "office",
                    at,
                    Step::Dispatched {
                        unit: unit.into(),
                        manual: None,
                    },
                );
            }
            at += Duration::hours(1 + rng.below(60) as i64);
            take(unit, at, Step::Signed {});
            if rng.chance(15) {
                at += Duration::days(1);
                take(
                    unit,
                    at,
                    Step::ExtensionAsked {
                        days: 5,
                        reason: "需现场核查".into(),
                    },
                );
                at += Duration::hours(4);
                take(
                    "office",
                    at,
                    Step::ExtensionDecided {
                        granted: rng.chance(70),
                    },
                );
            }
            if rng.chance(90) {
                at += Duration::hours(4 + rng.below(24 * 14) as i64);
                take(
                    unit,
                    at,
                    Step::Replied {
                        content: "已核实处理".into(),
                    },
                );
                if rng.chance(80) {
                    at += Duration::days(1);
                    let satisfied = rng.chance(75);
                    take("office", at, Step::Visited { satisfied });
                    if !satisfied && rng.chance(50) {
                        at += Duration::hours(2);
                        take(
                            "office",
                            at,
                            Step::Reopened {
                                reason: "市民不满意".into(),
                            },
                        );
                        at += Duration::days(1 + rng.below(8) as i64);
                        take(
                            unit,
                            at,
                            Step::Replied {
                                content: "重新处理完毕".into(),
                            },
                        );
                    } else {
                        at += Duration::hours(2);
                        take("office", at, Step::Closed {});
                    }
                }
            }
            OrderImport {
                order: NewOrder {
                    id: format!("12345-2026-{n:05}"),
                    category,
                    content: "反映噪音扰民问题".into(),
                    area: Some("440114".into()),
                    contact: format!("市民 1380000{n:04}"),
                    unit: None,
                },
                created_at,
                steps,
            }
        })
        .collect()
}

/// Everything stored of the cases, and the reports.
async fn case_state(hub: &Service) -> Value {
    let cases = hub
        .store()
        .supervised_cases(None, YEAR.0, YEAR.1, 10_000)
        .await
        .unwrap();
    let mut events = Vec::new();
    for c in &cases {
        events.extend(
            hub.store()
                .case_events(&c.department, &c.case_id)
                .await
                .unwrap(),
        );
    }
    let all = hub.supervision_report(None, YEAR.0, YEAR.1).await.unwrap();
    let civil = hub
        .supervision_report(Some(CIVIL), YEAR.0, YEAR.1)
        .await
        .unwrap();
    // What the sweep reads of open cases: when each clock runs from.
    let open: Vec<Value> = hub
        .store()
        .open_cases(None, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|o| {
            json!([
                o.case.case_id,
                o.clock_from.map(|t| t.unix_timestamp()),
                o.alerted
            ])
        })
        .collect();
    json!({"cases": cases, "events": events, "open": open, "all": all, "civil": civil})
}

/// Everything stored of the work orders (contacts included), and the report.
async fn order_state(hub: &Service) -> Value {
    let orders = hub
        .store()
        .work_orders(None, YEAR.0, YEAR.1, 10_000)
        .await
        .unwrap();
    let mut steps = Vec::new();
    let mut contacts = Vec::new();
    for o in &orders {
        steps.extend(hub.store().work_order_steps(&o.id).await.unwrap());
        contacts.push(o.contact.clone());
    }
    let report = hub.order_report(YEAR.0, YEAR.1).await.unwrap();
    json!({"orders": orders, "contacts": contacts, "steps": steps, "report": report})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_cases_and_orders_equal_those_recorded_one_by_one() {
    two_hubs("svc_import_equal", |one, bulk| async move {
        let events = year_of_cases(70, 0x5eed_2026);
        assert!(events.len() >= 250, "{} events", events.len());
        for e in events.clone() {
            one.case_event(CIVIL, e, true).await.unwrap();
        }
        let outcome = bulk
            .import_case_events(CIVIL, events.clone())
            .await
            .unwrap();
        assert!(outcome.refused.is_empty(), "{:?}", outcome.refused);
        assert_eq!((outcome.imported, outcome.rows), (70, events.len() as u64));
        let (a, b) = (case_state(&one).await, case_state(&bulk).await);
        assert_eq!(a["cases"].as_array().unwrap().len(), 70);
        assert_eq!(a, b);
        assert!(
            b["open"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| !o[1].is_null()),
            "some open case's clock runs: {}",
            b["open"]
        );
        // The report is not trivially equal: it counts every kind of end.
        let total = &b["all"]["total"];
        for member in ["concluded", "refused", "withdrawn", "open", "evaluated"] {
            assert!(total[member].as_u64().unwrap() > 0, "{member}: {total}");
        }

        let orders = year_of_orders(40, 0x1234_5678);
        for o in orders.clone() {
            one.clock().set(o.created_at);
            one.order_create(OFFICE, o.order.clone()).await.unwrap();
            one.clock().set(T0);
            for s in o.steps {
                let by = if s.by == "office" {
                    OFFICE
                } else {
                    s.by.as_str()
                };
                one.order_step(by, &o.order.id, s.step, s.at).await.unwrap();
            }
        }
        let outcome = bulk.import_work_orders(orders.clone()).await.unwrap();
        assert!(outcome.refused.is_empty(), "{:?}", outcome.refused);
        assert_eq!(outcome.imported, 40);
        let (a, b) = (order_state(&one).await, order_state(&bulk).await);
        assert_eq!(a, b);
        let total = &b["report"]["total"];
        for member in ["signed", "replied", "visited", "closed", "yellowCards"] {
            assert!(total[member].as_u64().unwrap() > 0, "{member}: {total}");
        }

        // One audit entry per chunk, with the input's digest.
        let audit = bulk.store().audit_of(CIVIL, 10).await.unwrap();
        let imports: Vec<_> = audit.iter().filter(|e| e.action == "case.import").collect();
        assert_eq!(imports.len(), 1);
        let detail: Value = serde_json::from_str(&imports[0].detail).unwrap();
        assert_eq!(detail["cases"], 70);
        assert_eq!(detail["events"], events.len());
        assert_eq!(detail["sha256"].as_str().unwrap().len(), 64);
        let audit = bulk.store().audit_of(OFFICE, 10).await.unwrap();
        let detail: Value = serde_json::from_str(
            &audit
                .iter()
                .find(|e| e.action == "order.import")
                .unwrap()
                .detail,
        )
        .unwrap();
        assert_eq!(detail["orders"], 40);
        assert!(
            !audit.iter().any(|e| e.detail.contains("1380000")),
            "no contact in the log"
        );
        assert!(bulk.audit_verify(|_| {}).await.unwrap().ok());
    })
    .await;
}

fn refused_codes(outcome: &tongban_service::ImportOutcome) -> Vec<(String, String)> {
    outcome
        .refused
        .iter()
        .map(|r| (r.id.clone(), r.code.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_cases_are_skipped_whole_and_the_others_go_in() {
    each_backend("svc_import_refusals", |hub| async move {
        setup(&hub).await;
        let market_item: ItemDraft = serde_json::from_value(json!({
            "code": "440114-SJ-0001", "name": "食品经营许可", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 10, "materials": [{"name": "申请书"}]
        }))
        .unwrap();
        hub.item_put(MARKET, market_item).await.unwrap();
        let (promised, legal) = (ITEMS[1].0, ITEMS[2].0);
        let t = datetime!(2026-03-02 10:00 +8);
        let day = Duration::days(1);
        // Recorded before: an import never adds to it.
        hub.case_event(
            CIVIL,
            input("OLD-1", promised, "window", t, json!({"event": "accepted"})),
            true,
        )
        .await
        .unwrap();
        let mut bad_channel = input(
            "BAD-CHANNEL",
            promised,
            "window",
            t,
            json!({"event": "accepted"}),
        );
        bad_channel.channel = "fax".into();
        let mut bad_id = input("X", promised, "window", t, json!({"event": "accepted"}));
        bad_id.case_id = "办件 1".into();
        let events = vec![
            input(
                "GOOD-1",
                promised,
                "online",
                t,
                json!({"event": "accepted"}),
            ),
            input(
                "OLD-1",
                promised,
                "window",
                t + day,
                json!({"event": "concluded", "result": "approved"}),
            ),
            input(
                "ORDER",
                promised,
                "window",
                t,
                json!({"event": "concluded", "result": "approved"}),
            ),
            bad_channel,
            bad_id,
            input(
                "FUTURE",
                promised,
                "window",
                T0 + day,
                json!({"event": "accepted"}),
            ),
            input(
                "OTHER-ITEM",
                promised,
                "window",
                t,
                json!({"event": "accepted"}),
            ),
            input(
                "NO-ITEM",
                "440114-MZ-9999",
                "window",
                t,
                json!({"event": "accepted"}),
            ),
            input(
                "NOT-OURS",
                "440114-SJ-0001",
                "window",
                t,
                json!({"event": "accepted"}),
            ),
            input(
                "OLD-YEAR",
                promised,
                "window",
                datetime!(2024-03-01 10:00 +8),
                json!({"event": "accepted"}),
            ),
            input(
                "OLD-YEAR",
                promised,
                "window",
                datetime!(2024-03-05 10:00 +8),
                json!({"event": "concluded", "result": "approved"}),
            ),
            input(
                "GOOD-1",
                promised,
                "online",
                t + day * 3,
                json!({"event": "concluded", "result": "approved"}),
            ),
            input(
                "OTHER-ITEM",
                legal,
                "window",
                t + day,
                json!({"event": "concluded", "result": "approved"}),
            ),
            input(
                "GOOD-2",
                legal,
                "mail",
                t,
                json!({"event": "refused", "reason": "材料不全"}),
            ),
        ];
        let outcome = hub.import_case_events(CIVIL, events.clone()).await.unwrap();
        let expected: Vec<(String, String)> = [
            ("OLD-1", "CASE_ALREADY_REPORTED"),
            ("ORDER", "CASE_EVENT_OUT_OF_ORDER"),
            ("BAD-CHANNEL", "CASE_EVENT_INVALID"),
            ("办件 1", "CASE_ID_INVALID"),
            ("FUTURE", "CASE_EVENT_INVALID"),
            ("OTHER-ITEM", "CASE_EVENT_INVALID"),
            ("NO-ITEM", "ITEM_UNKNOWN"),
            ("NOT-OURS", "ITEM_NOT_HANDLER"),
            ("OLD-YEAR", "CALENDAR_YEAR_MISSING"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(refused_codes(&outcome), expected);
        assert!(
            outcome.refused[5].message.starts_with("event 1: "),
            "{:?}",
            outcome.refused[5]
        );
        assert_eq!((outcome.imported, outcome.rows, outcome.chunks), (2, 3, 1));
        assert_eq!(outcome.refused_by_code()["CASE_EVENT_INVALID"], 3);
        let good = hub.case_supervision(CIVIL, "GOOD-1").await.unwrap();
        assert_eq!(
            (good.case.phase.as_str(), good.events.len()),
            ("concluded", 2)
        );
        for refused in ["ORDER", "OTHER-ITEM", "OLD-YEAR", "FUTURE"] {
            assert_eq!(
                hub.case_supervision(CIVIL, refused)
                    .await
                    .unwrap_err()
                    .code(),
                "CASE_UNKNOWN"
            );
        }
        let old = hub.case_supervision(CIVIL, "OLD-1").await.unwrap();
        assert_eq!(old.events.len(), 1, "nothing merged into a stored case");

        // The same file again: every case is now reported.
        let again = hub.import_case_events(CIVIL, events).await.unwrap();
        assert_eq!((again.imported, again.chunks), (0, 0));
        assert_eq!(again.refused_by_code()["CASE_ALREADY_REPORTED"], 3);

        // A retired item opens no new case.
        hub.item_retire(CIVIL, legal).await.unwrap();
        let retired = hub
            .import_case_events(
                CIVIL,
                vec![input(
                    "NEW-1",
                    legal,
                    "window",
                    t,
                    json!({"event": "accepted"}),
                )],
            )
            .await
            .unwrap();
        assert_eq!(
            refused_codes(&retired),
            vec![("NEW-1".into(), "ITEM_RETIRED".into())]
        );

        // Refused whole: an unknown department.
        assert_eq!(
            hub.import_case_events("11440114MB2C00031C", Vec::new())
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_UNKNOWN"
        );
        // Nothing refused left an audit entry; the one chunk left one.
        let imports = hub.store().audit_of(CIVIL, 20).await.unwrap();
        assert_eq!(
            imports.iter().filter(|e| e.action == "case.import").count(),
            1
        );
    })
    .await;
}

fn order(id: &str, steps: Vec<(&str, OffsetDateTime, Step)>) -> OrderImport {
    OrderImport {
        order: NewOrder {
            id: id.into(),
            category: Category::Appeal,
            content: "路灯不亮".into(),
            area: None,
            contact: "李先生 13900000000".into(),
            unit: None,
        },
        created_at: datetime!(2026-04-01 09:00 +8),
        steps: steps
            .into_iter()
            .map(|(by, at, step)| StepImport {
                by: by.into(),
                at,
                step,
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_work_orders_are_skipped_whole_and_the_others_go_in() {
    each_backend("svc_import_order_refusals", |hub| async move {
        let t = datetime!(2026-04-01 10:00 +8);
        let h = Duration::hours(1);
        let dispatch = || Step::Dispatched { unit: MARKET.into(), manual: None };
        assert_eq!(
            hub.import_work_orders(vec![order("O-1", vec![])]).await.unwrap_err().code(),
            "HOTLINE_OFFICE_MISSING"
        );
        setup(&hub).await;
        hub.clock().set(datetime!(2026-03-01 09:00 +8));
        hub.order_create(OFFICE, order("O-OLD", vec![]).order).await.unwrap();
        hub.clock().set(T0);
        let mut bad_id = order("x", vec![]);
        bad_id.order.id = "工单 1".into();
        let mut future = order("O-FUTURE", vec![]);
        future.created_at = T0 + Duration::days(2);
        let orders = vec![
            order("O-GOOD", vec![("office", t, dispatch()), (MARKET, t + h, Step::Signed {})]),
            order("O-OLD", vec![]),
            order("O-GOOD", vec![]),
            order("O-FORBIDDEN", vec![("office", t, dispatch()), (CIVIL, t + h, Step::Signed {})]),
            order(
                "O-RETURNED",
                vec![
                    ("office", t, dispatch()),
                    (MARKET, t + h, Step::Returned { reason: "非本单位职责".into() }),
                    ("office", t + h * 2, Step::Closed {}),
                ],
            ),
            order(
                "O-EXTENSION",
                vec![
                    ("office", t, dispatch()),
                    (MARKET, t + h, Step::Signed {}),
                    (MARKET, t + h * 2, Step::ExtensionAsked { days: 0, reason: "核查".into() }),
                ],
            ),
            bad_id,
            future,
            order("O-NOBODY", vec![("office", t, Step::Dispatched { unit: "11440114MB2C00031C".into(), manual: None })]),
            order("O-LATER", vec![("office", T0 + Duration::days(1), dispatch())]),
        ];
        let outcome = hub.import_work_orders(orders).await.unwrap();
        let expected: Vec<(String, String)> = [
            ("O-OLD", "ORDER_EXISTS"),
            ("O-GOOD", "ORDER_EXISTS"),
            ("O-FORBIDDEN", "ORDER_STEP_FORBIDDEN"),
            ("O-RETURNED", "ORDER_STEP_OUT_OF_ORDER"),
            ("O-EXTENSION", "ORDER_STEP_INVALID"),
            ("工单 1", "ORDER_STEP_INVALID"),
            ("O-FUTURE", "ORDER_STEP_INVALID"),
            ("O-NOBODY", "DEPARTMENT_UNKNOWN"),
            ("O-LATER", "ORDER_STEP_INVALID"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(refused_codes(&outcome), expected);
        assert_eq!((outcome.imported, outcome.rows), (1, 2));
        let good = hub.store().work_order("O-GOOD").await.unwrap().unwrap();
        assert_eq!((good.phase.as_str(), good.unit.as_deref()), ("handling", Some(MARKET)));
        assert_eq!(good.signed_on_time, Some(true));
        for refused in ["O-FORBIDDEN", "O-RETURNED", "O-NOBODY"] {
            assert!(hub.store().work_order(refused).await.unwrap().is_none());
        }
        assert!(hub.store().work_order_steps("O-OLD").await.unwrap().is_empty());

        // A line with a member it does not know.
        let line = json!({"id": "O-2", "category": "appeal", "content": "x", "contact": "y",
            "createdAt": "2026-04-01T09:00:00+08:00", "steps": [], "priority": 1});
        assert_eq!(OrderImport::from_json(line).unwrap_err().code(), "ORDER_STEP_INVALID");
        let line = json!({"id": "O-2", "category": "appeal", "content": "x", "contact": "y",
            "createdAt": "2026-04-01T09:00:00+08:00",
            "steps": [{"by": "office", "at": "2026-04-01T10:00:00+08:00", "step": {"step": "dispatched", "unit": MARKET}}]});
        let parsed = OrderImport::from_json(line).unwrap();
        assert_eq!(parsed.steps.len(), 1);
    })
    .await;
}
