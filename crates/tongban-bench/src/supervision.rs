//! `tongban-bench supervision`: a small region's year of electronic
//! supervision (电子监察) and 12345 work orders, loaded through the bulk
//! import, then the year's reports timed cold and warm.
//!
//! The year is 2026 (the shipped calendars are 2025 and 2026): every
//! generated event falls within it; a case or order whose next step would
//! fall after 30 December is left open, as real ones are at a year's end.
//! Cards of work orders taken late in December are counted against
//! deadlines in 2027: the benchmark loads a stand-in 2027 calendar
//! (weekends and 元旦) into its own store for that.
//! The hub's clock stands at 15 January 2027, when such a report is made.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration as Span, OffsetDateTime};
use tongban_service::{
    CaseEventInput, Clock, ItemDraft, NewDepartment, NewOrder, OrderImport, Service, ServiceConfig,
    StepImport, samples,
};
use tongban_store::{DatabaseConfig, PlatformLevel};
use tongban_supervision::hotline::{Category, Step};
use tongban_supervision::lifecycle::CaseResult;
use tongban_supervision::{Event, EventKind, WorkCalendar};

use crate::measure::{contention, raw_verify_rate, say, warn_if_debug};
use crate::output::print_json;
use crate::progress;

#[derive(Debug, Args)]
pub struct SupervisionBenchArgs {
    /// Departments handling cases (each also a 12345 member unit).
    #[arg(long, default_value_t = 30)]
    departments: usize,
    /// Service items (事项), spread over the departments and the four item types.
    #[arg(long, default_value_t = 300)]
    items: usize,
    /// Case events of the year (cases are generated until there are this many).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// 12345 work orders of the year.
    #[arg(long, default_value_t = 15_000)]
    orders: usize,
    /// Timed runs of each report, cold and warm (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// An empty PostgreSQL database (postgres://…) instead of a temporary SQLite file.
    #[arg(long)]
    postgres: Option<String>,
    /// Seed of the generated year.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

/// The report's period: the year 2026, China time.
const FROM: OffsetDateTime = datetime!(2026-01-01 00:00 +8);
const TO: OffsetDateTime = datetime!(2027-01-01 00:00 +8);
/// The last instant an event may fall on.
const YEAR_END: OffsetDateTime = datetime!(2026-12-30 18:00 +8);
/// When the report is made.
const NOW: OffsetDateTime = datetime!(2027-01-15 09:00 +8);

/// The benchmark's stand-in for 2027: weekends and 元旦 only.
const CALENDAR_2027: &str = r#"{"year": 2027, "source": "tongban-bench stand-in: weekends and 元旦 only", "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}], "workdays": []}"#;

/// 12345 categories with the field's proportions (one district, eleven
/// months: 咨询 647, 建议 368, 诉求 7,531, 消费投诉 908, 经济违法举报 183,
/// 行政投诉 224).
const CATEGORY_WEIGHTS: [(Category, u64); 6] = [
    (Category::Consultation, 647),
    (Category::Suggestion, 368),
    (Category::Appeal, 7_531),
    (Category::ConsumerComplaint, 908),
    (Category::EconomicReport, 183),
    (Category::AdministrativeComplaint, 224),
];

/// xorshift64*: the same year for the same seed, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn minutes(&mut self, from: u64, to: u64) -> Span {
        Span::minutes((from + self.below(to - from + 1)) as i64)
    }
}

/// A service item of the generated region.
struct Item {
    code: String,
    department: usize,
    item_type: &'static str,
    promised: u32,
}

pub async fn run(args: SupervisionBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("supervision");
    anyhow::ensure!(
        args.departments >= 1 && args.departments <= 999 && args.items >= args.departments,
        "1 to 999 departments, and at least one item each"
    );
    let temp = tempfile::tempdir()?;
    let mut config = ServiceConfig::embedded(temp.path());
    config.clock = Clock::fixed(NOW);
    let backend = match &args.postgres {
        Some(url) => {
            config.store.database = DatabaseConfig::parse(url);
            "postgres"
        }
        None => "sqlite",
    };
    let hub = Service::open(&config).await?;
    anyhow::ensure!(
        hub.store().departments().await?.is_empty(),
        "the database is not empty: give an empty database"
    );
    say(
        json,
        "measuring raw Ed25519 (1 s), then setting up the region ...",
    );
    let raw_before = raw_verify_rate(1, 1.0, true);
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, false).await?;
    // Deadlines of work orders taken in late December run into 2027, whose
    // national calendar is not published yet: a stand-in (weekends and
    // 元旦) loaded for this benchmark only.
    hub.calendar_load(CALENDAR_2027).await?;
    let (departments, office) = add_departments(&hub, args.departments).await?;
    let items = add_items(&hub, &departments, args.items).await?;
    let calendar = WorkCalendar::shipped();

    say(
        json,
        &format!(
            "generating and importing {} case events of 2026 into {backend} ...",
            args.events
        ),
    );
    let load = load_cases(&hub, &calendar, (&departments, &items), &args, json).await?;
    say(
        json,
        &format!("generating and importing {} work orders ...", args.orders),
    );
    let orders = load_orders(&hub, &calendar, (&departments, &office), &args).await?;
    hub.close().await;

    say(
        json,
        &format!("timing the year's reports, {} runs each ...", args.runs),
    );
    let one = departments[0].clone();
    let timings = time_reports(&config, &one, args.runs).await?;
    let hub = Service::open(&config).await?;
    let total = hub.supervision_report(None, FROM, TO).await?.total;
    let order_total = hub.order_report(FROM, TO).await?.total;
    hub.close().await;
    let size = database_size(temp.path());
    let raw_after = raw_verify_rate(1, 1.0, true);
    let contended = contention(raw_before, raw_after);
    if let Some(warning) = &contended {
        say(json, warning);
    }
    let figures = json!({
        "backend": backend,
        "departments": args.departments,
        "items": items.len(),
        "cases": load.cases,
        "caseEvents": load.events,
        "refusedCases": load.refused,
        "caseLoadSeconds": load.seconds,
        "caseEventsPerSec": (load.events as f64 / load.seconds).round(),
        "workOrders": orders.orders,
        "orderSteps": orders.steps,
        "orderLoadSeconds": orders.seconds,
        "databaseBytes": size,
        "reportsMs": timings,
        "rawVerifyPerSec": raw_before.round(),
        "contended": contended.is_some(),
        "year": {"cases": total, "orders": order_total},
    });
    if json {
        print_json(&figures)
    } else {
        print_figures(&figures);
        Ok(())
    }
}

/// `n` departments of 花都区 (synthetic codes) and the 12345 office.
async fn add_departments(hub: &Service, n: usize) -> anyhow::Result<(Vec<String>, String)> {
    let mut codes = Vec::with_capacity(n + 1);
    for i in 0..=n {
        let code =
            tongban_codes::synth::uscc('1', '1', samples::REGION, 7_000 + i as u32)?.to_string();
        let name = if i == n {
            "广州市花都区12345政务服务便民热线办公室".to_owned()
        } else {
            format!("广州市花都区第{}办事部门", i + 1)
        };
        hub.add_department(NewDepartment {
            code: code.clone(),
            name,
            region_code: samples::REGION.into(),
            platform_level: PlatformLevel::District,
            parent_code: None,
            contact: None,
        })
        .await?;
        codes.push(code);
    }
    let office = codes.pop().unwrap_or_default();
    hub.set_hotline_office(&office).await?;
    Ok((codes, office))
}

/// `n` items over the departments: 即办件 35 %, 承诺件 55 %, 联办件 7 %, 上报件 3 %.
async fn add_items(hub: &Service, departments: &[String], n: usize) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let department = i % departments.len();
        let (item_type, legal, promised) = match (i * 37) % 100 {
            0..=34 => ("即办件", 1, 0),
            35..=89 => ("承诺件", 20, 3 + (i % 8) as u32),
            90..=96 => ("联办件", 30, 15),
            _ => ("上报件", 60, 30),
        };
        let code = format!("440114-B{department:03}-{i:04}");
        let draft: ItemDraft = serde_json::from_value(json!({
            "code": code, "name": format!("事项{i:04}"), "itemType": item_type,
            "legalLimitDays": legal, "promisedLimitDays": promised,
            "materials": [{"name": "申请书"}]
        }))?;
        hub.item_put(&departments[department], draft).await?;
        items.push(Item {
            code,
            department,
            item_type,
            promised,
        });
    }
    Ok(items)
}

/// `start` moved on by `days` working days, at a working hour of that
/// day; `None` past the year.
fn after_working_days(
    calendar: &WorkCalendar,
    start: OffsetDateTime,
    days: u32,
    rng: &mut Rng,
) -> Option<OffsetDateTime> {
    let end_of_day = calendar.deadline(start, days).ok()?;
    let at = (end_of_day - Span::hours(15) + rng.minutes(0, 480)).max(start + Span::minutes(5));
    (at <= YEAR_END).then_some(at)
}

/// One case's events: accepted or refused; corrections and special
/// procedures; concluded (mostly within the promised limit), withdrawn,
/// or still open at the year's end; the applicant's evaluation.
fn case_events(
    calendar: &WorkCalendar,
    rng: &mut Rng,
    (id, item): (String, &Item),
) -> Vec<CaseEventInput> {
    let day = 3 + rng.below(350);
    let opened = FROM + Span::days(day as i64) + Span::hours(9) + rng.minutes(0, 480);
    let channel = match rng.below(1000) {
        0..=759 => "online",
        760..=959 => "window",
        960..=979 => "mail",
        _ => "other",
    };
    let zero_visit = channel == "online" && rng.chance(160);
    let mut out = Vec::new();
    let mut push = |at: OffsetDateTime, kind: EventKind| {
        out.push(CaseEventInput {
            case_id: id.clone(),
            service_item: item.code.clone(),
            channel: channel.to_owned(),
            zero_visit,
            event: Event { at, kind },
        });
    };
    if opened > YEAR_END {
        return Vec::new();
    }
    let evaluate =
        |rng: &mut Rng, at: OffsetDateTime, push: &mut dyn FnMut(OffsetDateTime, EventKind)| {
            let at = at + rng.minutes(10, 2 * 24 * 60);
            if rng.chance(850) && at <= YEAR_END {
                let satisfied = rng.chance(985);
                let reasons = if satisfied {
                    Vec::new()
                } else {
                    vec!["等候时间长".to_owned(), "一次性告知不清".to_owned()]
                };
                push(at, EventKind::Evaluated { satisfied, reasons });
            }
        };
    if rng.chance(20) {
        push(
            opened,
            EventKind::Refused {
                reason: "申请事项不属于本部门职权范围".into(),
            },
        );
        evaluate(rng, opened, &mut push);
        return out;
    }
    push(opened, EventKind::Accepted {});
    let mut at = opened;
    if item.promised == 0 {
        // 即办件: done the same day, now and then the next.
        let longest = if rng.chance(30) { 24 * 60 } else { 180 };
        let done = at + rng.minutes(10, longest);
        if done <= YEAR_END {
            push(
                done,
                EventKind::Concluded {
                    result: CaseResult::Approved,
                },
            );
            evaluate(rng, done, &mut push);
        }
        return out;
    }
    let rounds = match rng.below(10) {
        0..=2 => 0,
        3..=6 => 1,
        _ => 2,
    };
    for _ in 0..rounds {
        let special = rng.chance(60);
        let Some(stop) = after_working_days(calendar, at, 1 + rng.below(2) as u32, rng) else {
            return out;
        };
        if special {
            let reason = "组织专家评审".into();
            push(
                stop,
                EventKind::SpecialStarted {
                    reason,
                    bound_days: 20,
                },
            );
        } else {
            let reason = "缺少身份证明复印件".into();
            push(stop, EventKind::CorrectionAsked { reason });
        }
        let resume =
            stop + Span::hours(2) + Span::days(rng.below(if special { 15 } else { 5 }) as i64);
        if resume > YEAR_END {
            return out;
        }
        push(
            resume,
            if special {
                EventKind::SpecialEnded {}
            } else {
                EventKind::CorrectionDone {}
            },
        );
        at = resume;
    }
    if rng.chance(30) {
        let Some(w) = after_working_days(calendar, at, 1, rng) else {
            return out;
        };
        push(
            w,
            EventKind::Withdrawn {
                reason: "申请人主动撤回".into(),
            },
        );
        evaluate(rng, w, &mut push);
        return out;
    }
    // Most within the promised limit; a few past it, fewer past the legal one.
    let share = match rng.below(1000) {
        0..=969 => 20 + rng.below(80),
        970..=994 => 110 + rng.below(80),
        _ => 300 + rng.below(200),
    };
    let days = (u64::from(item.promised) * share / 100).max(1) as u32;
    let Some(done) = after_working_days(calendar, at, days, rng) else {
        return out;
    };
    let result = if rng.chance(960) {
        CaseResult::Approved
    } else {
        CaseResult::Denied
    };
    push(done, EventKind::Concluded { result });
    evaluate(rng, done, &mut push);
    out
}

struct CaseLoad {
    cases: u64,
    events: u64,
    refused: u64,
    seconds: f64,
}

/// Each department's year generated and imported in one call; the time
/// counted is the imports'.
async fn load_cases(
    hub: &Service,
    calendar: &WorkCalendar,
    (departments, items): (&[String], &[Item]),
    args: &SupervisionBenchArgs,
    json: bool,
) -> anyhow::Result<CaseLoad> {
    let per_department = args.events.div_ceil(departments.len());
    let bar = progress::bar(json, args.events as u64, "case events");
    let mut load = CaseLoad {
        cases: 0,
        events: 0,
        refused: 0,
        seconds: 0.0,
    };
    for (d, code) in departments.iter().enumerate() {
        let own: Vec<&Item> = items.iter().filter(|i| i.department == d).collect();
        let mut rng = Rng::new(args.seed ^ ((d as u64 + 1) << 32));
        let mut events: Vec<CaseEventInput> = Vec::with_capacity(per_department + 16);
        let mut n = 0u64;
        while events.len() < per_department {
            // 承诺件 carry most cases, then 即办件.
            let item = own[rng.below(own.len() as u64) as usize];
            let weight = match item.item_type {
                "承诺件" => 1000,
                "即办件" => 700,
                _ => 250,
            };
            if !rng.chance(weight) {
                continue;
            }
            n += 1;
            let id = format!("HD{d:03}-2026-{n:07}");
            events.extend(case_events(calendar, &mut rng, (id, item)));
        }
        let count = events.len() as u64;
        let started = Instant::now();
        let outcome = hub.import_case_events(code, events).await?;
        load.seconds += started.elapsed().as_secs_f64();
        load.cases += outcome.imported;
        load.events += outcome.rows;
        load.refused += outcome.refused.len() as u64;
        if let Some(r) = outcome.refused.first() {
            eprintln!("refused: {} {} {}", r.id, r.code, r.message);
        }
        bar.inc(count);
    }
    bar.finish_and_clear();
    Ok(load)
}

/// A category drawn with the field's proportions.
fn category(rng: &mut Rng) -> Category {
    let total: u64 = CATEGORY_WEIGHTS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.below(total);
    for (c, w) in CATEGORY_WEIGHTS {
        if pick < w {
            return c;
        }
        pick -= w;
    }
    Category::Appeal
}

/// One work order's steps: dispatched (now and then returned and sent on),
/// signed for (mostly in time), an extension asked now and then, replied
/// (mostly in time), called back, reopened when the citizen is not
/// satisfied, closed; whatever would fall after the year stays undone.
fn order_steps(
    calendar: &WorkCalendar,
    rng: &mut Rng,
    units: &[String],
    created_at: OffsetDateTime,
    reply_days: u32,
) -> Vec<StepImport> {
    let mut steps = Vec::new();
    let mut take = |by: &str, at: OffsetDateTime, step: Step| {
        steps.push(StepImport {
            by: by.to_owned(),
            at,
            step,
        });
    };
    let mut unit = units[rng.below(units.len() as u64) as usize].as_str();
    let mut at = created_at + rng.minutes(5, 90);
    take(
        "office",
        at,
        Step::Dispatched {
            unit: unit.into(),
            manual: None,
        },
    );
    if rng.chance(40) {
        at += rng.minutes(30, 600);
        take(
            unit,
            at,
            Step::Returned {
                reason: "不属于本单位职责范围".into(),
            },
        );
        unit = units[rng.below(units.len() as u64) as usize].as_str();
        at += rng.minutes(10, 120);
        take(
            "office",
            at,
            Step::Dispatched {
                unit: unit.into(),
                manual: None,
            },
        );
    }
    let sign = if rng.chance(930) {
        0
    } else {
        1 + rng.below(3) as u32
    };
    let Some(signed) = after_working_days(calendar, at, sign, rng) else {
        return steps;
    };
    at = signed;
    take(unit, at, Step::Signed {});
    let mut limit = reply_days;
    if rng.chance(60) {
        at += rng.minutes(60, 24 * 60);
        take(
            unit,
            at,
            Step::ExtensionAsked {
                days: 5,
                reason: "需联合现场核查".into(),
            },
        );
        at += rng.minutes(30, 600);
        let granted = rng.chance(800);
        take("office", at, Step::ExtensionDecided { granted });
        if granted {
            limit += 5;
        }
    }
    let mut rounds = 0;
    loop {
        rounds += 1;
        let days = if rng.chance(900) {
            rng.below(u64::from(limit)) as u32
        } else {
            limit + 1 + rng.below(u64::from(limit) * 2 + 1) as u32
        };
        let Some(replied) = after_working_days(calendar, at, days, rng) else {
            return steps;
        };
        at = replied;
        take(
            unit,
            at,
            Step::Replied {
                content: "已按规定核实处理并答复市民".into(),
            },
        );
        if !rng.chance(850) {
            return steps;
        }
        at += rng.minutes(60, 3 * 24 * 60);
        if at > YEAR_END {
            return steps;
        }
        let satisfied = rng.chance(880);
        take("office", at, Step::Visited { satisfied });
        if !satisfied && rounds < 2 && rng.chance(500) {
            at += rng.minutes(10, 120);
            take(
                "office",
                at,
                Step::Reopened {
                    reason: "市民对处理结果不满意".into(),
                },
            );
            continue;
        }
        at += rng.minutes(10, 240);
        if at <= YEAR_END {
            take("office", at, Step::Closed {});
        }
        return steps;
    }
}

struct OrderLoad {
    orders: u64,
    steps: u64,
    seconds: f64,
}

async fn load_orders(
    hub: &Service,
    calendar: &WorkCalendar,
    (units, _office): (&[String], &String),
    args: &SupervisionBenchArgs,
) -> anyhow::Result<OrderLoad> {
    let mut rng = Rng::new(args.seed ^ 12345);
    let orders: Vec<OrderImport> = (0..args.orders)
        .map(|n| {
            let category = category(&mut rng);
            let created_at =
                FROM + Span::days(2 + rng.below(355) as i64) + Span::hours(8) + rng.minutes(0, 720);
            let limits = tongban_supervision::hotline::Limits::default_for(category);
            let steps = if created_at <= YEAR_END {
                order_steps(calendar, &mut rng, units, created_at, limits.reply_days)
            } else {
                Vec::new()
            };
            OrderImport {
                order: NewOrder {
                    id: format!("12345-2026-{n:06}"),
                    category,
                    content: format!("市民反映{}相关问题", category.name()),
                    area: Some(samples::REGION.into()),
                    contact: format!("市民 1{:010}", rng.below(10_000_000_000)),
                    unit: None,
                },
                created_at: created_at.min(YEAR_END),
                steps,
            }
        })
        .collect();
    let started = Instant::now();
    let outcome = hub.import_work_orders(orders).await?;
    if let Some(r) = outcome.refused.first() {
        eprintln!("refused: {} {} {}", r.id, r.code, r.message);
    }
    Ok(OrderLoad {
        orders: outcome.imported,
        steps: outcome.rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The median, minimum and maximum of `runs`, in milliseconds.
fn stats(mut runs: Vec<Duration>) -> Value {
    runs.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    json!({
        "median": runs.get(runs.len() / 2).copied().map(ms),
        "min": runs.first().copied().map(ms),
        "max": runs.last().copied().map(ms),
    })
}

/// Each report `runs` times cold (the store opened afresh for each run:
/// new connections, SQLite's page cache empty; the system's file cache
/// stays as it is) and warm (again and again on one open store).
async fn time_reports(config: &ServiceConfig, one: &str, runs: usize) -> anyhow::Result<Value> {
    let runs = runs.max(1);
    let mut out = serde_json::Map::new();
    for (name, which) in [
        ("allDepartments", 0),
        ("oneDepartment", 1),
        ("workOrders", 2),
    ] {
        let call = |hub: Service| async move {
            let t = Instant::now();
            match which {
                0 => drop(hub.supervision_report(None, FROM, TO).await?),
                1 => drop(hub.supervision_report(Some(one), FROM, TO).await?),
                _ => drop(hub.order_report(FROM, TO).await?),
            }
            let took = t.elapsed();
            anyhow::Ok((hub, took))
        };
        let mut cold = Vec::with_capacity(runs);
        for _ in 0..runs {
            let hub = Service::open(config).await?;
            let (hub, took) = call(hub).await?;
            cold.push(took);
            hub.close().await;
        }
        let mut hub = Service::open(config).await?;
        let mut warm = Vec::with_capacity(runs);
        for _ in 0..=runs {
            let (again, took) = call(hub).await?;
            hub = again;
            warm.push(took);
        }
        warm.remove(0);
        hub.close().await;
        out.insert(
            name.into(),
            json!({"cold": stats(cold), "warm": stats(warm)}),
        );
    }
    Ok(Value::Object(out))
}

/// The SQLite files' size (0 for PostgreSQL).
fn database_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(".db"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn print_figures(f: &Value) {
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    println!();
    println!(
        "supervision, {}: {} departments, {} items; 2026: {} cases, {} case events ({} refused), {} work orders ({} steps)",
        f["backend"].as_str().unwrap_or(""),
        f["departments"],
        f["items"],
        f["cases"],
        f["caseEvents"],
        f["refusedCases"],
        f["workOrders"],
        f["orderSteps"]
    );
    println!(
        "bulk import: case events {:.1} s ({:.0} events/s), work orders {:.1} s; database {:.0} MiB",
        n(&f["caseLoadSeconds"]),
        n(&f["caseEventsPerSec"]),
        n(&f["orderLoadSeconds"]),
        n(&f["databaseBytes"]) / 1_048_576.0
    );
    println!(
        "raw Ed25519 verify_strict on one core: {:.0}/s (the year's full report ≈ {:.0} verifications' time)",
        n(&f["rawVerifyPerSec"]),
        n(&f["reportsMs"]["allDepartments"]["warm"]["median"]) / 1000.0 * n(&f["rawVerifyPerSec"])
    );
    println!("the year's reports, ms (median, min–max):");
    for (name, label) in [
        ("allDepartments", "supervision, all departments"),
        ("oneDepartment", "supervision, one department"),
        ("workOrders", "12345 work orders"),
    ] {
        let r = &f["reportsMs"][name];
        println!(
            "  {label:<30} cold {:>8.1} ({:.1}–{:.1})   warm {:>8.1} ({:.1}–{:.1})",
            n(&r["cold"]["median"]),
            n(&r["cold"]["min"]),
            n(&r["cold"]["max"]),
            n(&r["warm"]["median"]),
            n(&r["warm"]["min"]),
            n(&r["warm"]["max"]),
        );
    }
    let c = &f["year"]["cases"];
    let o = &f["year"]["orders"];
    println!(
        "the year: 按时办结率 {:.2} %, 评价率 {:.2} %, 满意度 {:.2} %, 网办 {:.2} %, 零跑动 {:.2} %; 12345 按时签收 {:.2} %, 按时办结 {:.2} %, 满意率 {:.2} %, 黄牌 {}, 红牌 {}",
        n(&c["onTimeRate"]) * 100.0,
        n(&c["evaluationRate"]) * 100.0,
        n(&c["satisfactionRate"]) * 100.0,
        n(&c["onlineRate"]) * 100.0,
        n(&c["zeroVisitRate"]) * 100.0,
        n(&o["signOnTimeRate"]) * 100.0,
        n(&o["replyOnTimeRate"]) * 100.0,
        n(&o["satisfactionRate"]) * 100.0,
        o["yellowCards"],
        o["redCards"],
    );
}
