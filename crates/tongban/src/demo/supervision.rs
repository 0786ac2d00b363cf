//! `tongban demo --supervision`: a month (March 2026) of a small service
//! centre on a throw-away hub: three departments' case systems report their
//! cases' events, the 12345 office dispatches work orders to member units,
//! and the hub looks every evening for thresholds and deadlines passed and
//! pushes warnings, cards and a notice (督办) on `hub.supervision`; then
//! the month's report. The clock is the story's: every instant is fixed, so
//! the month plays the same on every run.

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tongban_service::alerts::NewNotice;
use tongban_service::samples::{self, CIVIL_AFFAIRS, DATA_BUREAU, MARKET, PLANNING, XINHUA_STREET};
use tongban_service::{CaseEventInput, Clock, NewOrder, Service, ServiceConfig};
use tongban_supervision::calendar::start_of;
use tongban_supervision::hotline::{Category, Step};

use super::section;

/// The month told.
const FIRST: time::Date = time::macros::date!(2026 - 03 - 01);

/// The three items: department, code, name, type, promised and legal days.
const ITEMS: [(&str, &str, &str, &str, u32, u32); 3] = [
    (
        CIVIL_AFFAIRS,
        "440114-MZ-0302",
        "民办非企业单位成立登记",
        "承诺件",
        5,
        20,
    ),
    (
        MARKET,
        "440114-SCJG-0305",
        "食品经营许可（新办）",
        "承诺件",
        5,
        20,
    ),
    (
        PLANNING,
        "440114-GZ-0105",
        "建设工程规划条件核实",
        "即办件",
        0,
        1,
    ),
];

/// Runs the month in `dir`.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<()> {
    let clock = Clock::fixed(start_of(FIRST) + Duration::hours(9));
    let hub = Service::open(&ServiceConfig {
        clock: clock.clone(),
        ..ServiceConfig::embedded(&dir.join("hub"))
    })
    .await?;
    println!("通办 Tongban — electronic supervision (电子监察) and the 12345 hotline");
    section(
        1,
        "A service centre: items with time limits, a supervising office, a hotline office",
    );
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
    for (dept, code, name, kind, promised, legal) in ITEMS {
        let item = json!({"code": code, "name": name, "itemType": kind,
            "legalLimitDays": legal, "promisedLimitDays": promised, "materials": [{"name": "申请书"}]});
        hub.item_put(dept, serde_json::from_value(item)?).await?;
        println!("  {dept} {code} {name} ({kind}, promised {promised} of {legal} working days)");
    }
    hub.set_supervising_office(DATA_BUREAU).await?;
    hub.set_hotline_office(DATA_BUREAU).await?;
    println!("  {DATA_BUREAU} (数据局) supervises, and runs the 12345 hotline");
    println!(
        "  warnings from {} % of a promised limit",
        hub.supervision_thresholds().await?.warn_percent
    );

    section(
        2,
        "March 2026, day by day: what the hub pushed on hub.supervision each evening",
    );
    let calendar = hub.calendar().await?;
    let mut day = FIRST;
    let mut n = 0;
    while day.month() == time::Month::March {
        if calendar.is_working_day(day)? {
            one_day(&hub, &clock, day, n).await?;
            n += 1;
        }
        day = day.next_day().unwrap_or(day);
    }

    section(3, "The month's report (电子监察报表, 12345工单报表)");
    let from = start_of(FIRST);
    let to = start_of(time::macros::date!(2026 - 04 - 01));
    let cases = hub.supervision_report(None, from, to).await?;
    let orders = hub.order_report(from, to).await?;
    crate::supervise::print_reports(&cases, &orders);
    hub.close().await;
    Ok(())
}

/// At `h` hours into `day` (China time).
fn at(day: time::Date, h: i64) -> OffsetDateTime {
    start_of(day) + Duration::hours(h)
}

/// Something that happens at an instant of the month.
enum Action {
    /// An event of item `.0`'s case `.1`.
    Case(usize, String, Value),
    /// The office takes a call as an order.
    Call(NewOrder),
    /// A step of an order, by a department.
    Step(String, String, Step),
}

/// The `n`-th working day: its cases' events and its orders' steps in
/// time order, then the evening's look.
async fn one_day(hub: &Service, clock: &Clock, day: time::Date, n: u32) -> anyhow::Result<()> {
    let mut actions: Vec<(OffsetDateTime, Action)> = Vec::new();
    for k in 0..ITEMS.len() {
        actions.extend(case_events(day, n, k));
    }
    actions.extend(order_actions(day, n));
    actions.sort_by_key(|(t, _)| *t);
    for (when, action) in actions {
        clock.set(when);
        take(hub, when, action).await?;
    }
    notices(hub, clock, day, n).await?;
    clock.set(at(day, 20));
    hub.supervision_sweep().await?;
    let pushed = hub
        .supervision_pushes(None, (at(day, 0), at(day, 24)), (100, 0))
        .await?;
    if !pushed.is_empty() {
        println!("  {day}:");
    }
    for row in pushed.iter().rev() {
        let p: Value = serde_json::from_str(&row.payload)?;
        println!("    → {}: {}", row.audience.join(", "), describe(&p));
    }
    Ok(())
}

async fn take(hub: &Service, when: OffsetDateTime, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Case(k, case, e) => {
            let (dept, code, ..) = ITEMS[k];
            let n: u32 = case[8..].parse().unwrap_or(0);
            let when = tongban_seal::timefmt::format_rfc3339(when);
            let input = CaseEventInput::parse(
                case,
                code.into(),
                channel(n, k).into(),
                n % 3 != 1,
                &when,
                &e,
            )?;
            hub.case_event(dept, input, false).await?;
        }
        Action::Call(order) => {
            hub.order_create(DATA_BUREAU, order).await?;
        }
        Action::Step(dept, id, step) => {
            hub.order_step(&dept, &id, step, when).await?;
        }
    }
    Ok(())
}

/// On the 17th working day the office asks about the first case running
/// late; the unit answers the next morning.
async fn notices(hub: &Service, clock: &Clock, day: time::Date, n: u32) -> anyhow::Result<()> {
    if n == 17 {
        clock.set(at(day, 17));
        let notice = NewNotice {
            unit: CIVIL_AFFAIRS.into(),
            subject_kind: "case".into(),
            subject: "MZ-2026-010".into(),
            text: "该件已超承诺时限，请说明原因并于两个工作日内办结".into(),
            answer_days: 2,
        };
        hub.notice_issue(Some(DATA_BUREAU), notice).await?;
    }
    if n == 18 {
        clock.set(at(day, 9));
        for open in hub.notices(Some(CIVIL_AFFAIRS), true, (10, 0)).await? {
            hub.notice_answer(CIVIL_AFFAIRS, &open.id, "专家评审延误一日，今日办结", true)
                .await?;
        }
    }
    Ok(())
}

const CATEGORIES: [Category; 8] = [
    Category::Appeal,
    Category::ConsumerComplaint,
    Category::Appeal,
    Category::Consultation,
    Category::Appeal,
    Category::Suggestion,
    Category::EconomicReport,
    Category::AdministrativeComplaint,
];
const UNITS: [&str; 3] = [MARKET, CIVIL_AFFAIRS, XINHUA_STREET];

/// The calls taken on the `n`-th working day and the steps that day of
/// the orders taken on it or the 11 working days before.
fn order_actions(day: time::Date, n: u32) -> Vec<(OffsetDateTime, Action)> {
    let mut out = Vec::new();
    for back in 0..12u32 {
        let Some(first) = n.checked_sub(back) else {
            continue;
        };
        for j in 0..2 {
            let m = first * 2 + j;
            let id = format!("12345-2026-{m:04}");
            if back == 0 {
                out.push((at(day, 9), Action::Call(call(&id, m))));
            }
            for (d, h, dept, step) in order_story(m) {
                if d == back {
                    out.push((at(day, h), Action::Step(dept, id.clone(), step)));
                }
            }
        }
    }
    out
}

fn call(id: &str, m: u32) -> NewOrder {
    NewOrder {
        id: id.into(),
        category: CATEGORIES[(m % 8) as usize],
        content: "市民来电反映的问题".into(),
        area: Some("440114".into()),
        contact: format!("市民{m} 1380000{m:04}"),
        unit: None,
    }
}

/// Order `m`: (working days after the call, hour, who, step).
fn order_story(m: u32) -> Vec<(u32, i64, String, Step)> {
    let office = || DATA_BUREAU.to_owned();
    let unit = UNITS[(m % 3) as usize].to_owned();
    let other = UNITS[((m + 1) % 3) as usize].to_owned();
    let mut s = vec![(
        0,
        10,
        office(),
        Step::Dispatched {
            unit: unit.clone(),
            manual: None,
        },
    )];
    let (handler, signed) = if m % 10 == 7 {
        s.push((
            1,
            9,
            unit,
            Step::Returned {
                reason: "不属本单位职责".into(),
            },
        ));
        s.push((
            1,
            11,
            office(),
            Step::Dispatched {
                unit: other.clone(),
                manual: None,
            },
        ));
        (other, 2)
    } else if m % 5 == 3 {
        (unit, 3)
    } else {
        (unit, 1)
    };
    s.push((signed, 10, handler.clone(), Step::Signed {}));
    let replied = if m % 7 == 5 { signed + 9 } else { signed + 2 };
    let content = "已核实处理并答复市民".to_owned();
    s.push((replied, 15, handler, Step::Replied { content }));
    let satisfied = m % 6 != 1;
    s.push((replied + 1, 10, office(), Step::Visited { satisfied }));
    s.push((replied + 1, 11, office(), Step::Closed {}));
    s
}

/// A push in one line.
fn describe(p: &Value) -> String {
    let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
    match (p["kind"].as_str(), p["state"].as_str()) {
        (Some("case"), _) => format!(
            "case {} {} ({} card): {:.1} of {} promised working days",
            s("caseId"),
            s("standing"),
            s("card"),
            p["elapsedMinutes"].as_i64().unwrap_or(0) as f64 / 1440.0,
            p["promisedDays"]
        ),
        (Some("order"), _) => format!(
            "work order {} missed its {} deadline: {} card",
            s("orderId"),
            s("deadline"),
            s("card")
        ),
        (Some("notice-overdue"), _) => format!("notice {} not answered in time", s("noticeId")),
        (_, Some("issued")) => format!(
            "督办 {} to {}: {}",
            s("noticeId"),
            s("department"),
            s("text")
        ),
        (_, Some("answered")) => format!("督办 {} answered: {}", s("noticeId"), s("answer")),
        _ => p.to_string(),
    }
}

fn channel(n: u32, k: usize) -> &'static str {
    match (n as usize + k) % 4 {
        0 | 1 => "online",
        2 => "window",
        _ => "mail",
    }
}

/// What happens on the `n`-th working day to the cases of item `k`
/// opened on that day or the 11 before it.
fn case_events(day: time::Date, n: u32, k: usize) -> Vec<(OffsetDateTime, Action)> {
    let mut out = Vec::new();
    for back in 0..12u32 {
        let Some(m) = n.checked_sub(back) else {
            continue;
        };
        let id = format!("{}-2026-{m:03}", ["MZ", "SC", "GZ"][k]);
        for (d, h, e) in story(m, k) {
            if d == back {
                out.push((at(day, h), Action::Case(k, id.clone(), e)));
            }
        }
    }
    out
}

/// Case `m` of item `k`: (working days after opening, hour, event).
fn story(m: u32, k: usize) -> Vec<(u32, i64, Value)> {
    let accepted = (0, 10, json!({"event": "accepted"}));
    let done = |d: u32| (d, 16, json!({"event": "concluded", "result": "approved"}));
    let rated = |d: u32| {
        if m % 9 == 4 {
            (
                d,
                18,
                json!({"event": "evaluated", "satisfied": false, "reasons": ["等候时间长"]}),
            )
        } else {
            (
                d,
                18,
                json!({"event": "evaluated", "satisfied": true, "reasons": []}),
            )
        }
    };
    match k {
        2 => vec![
            accepted,
            (0, 11, json!({"event": "concluded", "result": "approved"})),
            rated(0),
        ],
        1 if m % 6 == 0 => vec![(
            0,
            10,
            json!({"event": "refused", "reason": "不属于本部门受理范围"}),
        )],
        1 if m % 8 == 2 => vec![
            accepted,
            (2, 15, json!({"event": "withdrawn", "reason": "申请人撤回"})),
        ],
        _ if m % 7 == 3 => vec![accepted, done(8), rated(9)],
        _ if m % 5 == 1 => vec![
            accepted,
            (
                1,
                9,
                json!({"event": "correction-asked", "reason": "缺章程草案"}),
            ),
            (3, 9, json!({"event": "correction-done"})),
            done(6),
            rated(6),
        ],
        _ => vec![accepted, done(3), rated(4)],
    }
}
