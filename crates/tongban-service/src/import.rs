//! Bulk import of supervision data: a centre backfilling a year of case
//! events from its case system, a hotline office its work orders with
//! their steps.
//!
//! Every case (every order) is checked exactly as one event at a time
//! would be (`case_event`; `order_create` and `order_step`), with the same
//! codes, and replayed in memory; a refused case or order is reported with
//! its code and skipped whole, the others go in. Nothing merges with the
//! store: a case that already has events (`CASE_ALREADY_REPORTED`) or an
//! order that exists (`ORDER_EXISTS`) is refused. Rows are written in
//! chunks through `Store::import_cases` / `Store::import_work_orders`
//! (multi-row INSERTs, one transaction per chunk), each chunk with one
//! audit entry (`case.import`, `order.import`) carrying its counts and the
//! SHA-256 of its input. A chunk is all or nothing; an import that fails
//! midway (the store) leaves the chunks before it written, each whole.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tongban_store::{CaseEventRow, SupervisedCaseRow, WorkOrderRow, WorkOrderStepRow};
use tongban_supervision::hotline::{Actor, Category, Limits, OrderPhase, Step, Taken, WorkOrder};
use tongban_supervision::{Lifecycle, Thresholds, WorkCalendar};

use crate::error::{Code, Error, Result};
use crate::hotline::{MAX_ORDER_STEPS, category_name, check_order_text, next_row, phase_name};
use crate::supervision::next_in_memory;
use crate::{CaseEventInput, NewOrder, Service, ServiceItem, text};

/// Most case events one import takes (a large centre's year is a few
/// million: import it in parts).
pub const MAX_IMPORT_EVENTS: usize = 2_000_000;
/// Most work orders one import takes.
pub const MAX_IMPORT_ORDERS: usize = 500_000;
/// Cases per chunk (one transaction, one `case.import` entry).
const CASES_PER_CHUNK: usize = 5_000;
/// Work orders per chunk (one transaction, one `order.import` entry).
const ORDERS_PER_CHUNK: usize = 2_000;
/// How far in the future a step may be dated (clocks differ), as for
/// `order_step`.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// A case or work order an import refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRefusal {
    /// The case's or order's id.
    pub id: String,
    /// The refusal's stable code.
    pub code: String,
    /// What was wrong (with the event's or step's place, from 0).
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportOutcome {
    /// Cases (or work orders) written.
    pub imported: u64,
    /// Their events (or steps).
    pub rows: u64,
    /// Transactions (and audit entries) they took.
    pub chunks: u64,
    /// Those refused, in input order.
    pub refused: Vec<ImportRefusal>,
}

impl ImportOutcome {
    /// Refusals counted by code.
    pub fn refused_by_code(&self) -> BTreeMap<String, u64> {
        let mut by = BTreeMap::new();
        for r in &self.refused {
            *by.entry(r.code.clone()).or_insert(0) += 1;
        }
        by
    }
}

/// A refusal for the import's report, or the error itself when it is
/// not a refusal (the store failed: the import stops).
fn refusal(id: &str, place: &str, e: Error) -> Result<ImportRefusal> {
    if !e.is_refusal() {
        return Err(e);
    }
    Ok(ImportRefusal {
        id: id.to_owned(),
        code: e.code().to_owned(),
        message: format!("{place}{e}"),
    })
}

/// A case's events, in input order, and where each came in.
struct CaseInput {
    id: String,
    events: Vec<CaseEventInput>,
}

/// Groups events by case, cases in the order they first appear.
fn by_case(events: Vec<CaseEventInput>) -> Vec<CaseInput> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut cases: Vec<CaseInput> = Vec::new();
    for e in events {
        match index.get(&e.case_id) {
            Some(&i) => cases[i].events.push(e),
            None => {
                index.insert(e.case_id.clone(), cases.len());
                cases.push(CaseInput {
                    id: e.case_id.clone(),
                    events: vec![e],
                });
            }
        }
    }
    cases
}

/// A case event as a `case-event@1` payload, for the import's digest.
fn wire_event(e: &CaseEventInput, kind: &str) -> Value {
    json!({
        "caseId": e.case_id,
        "serviceItem": e.service_item,
        "channel": e.channel,
        "zeroVisit": e.zero_visit,
        "at": tongban_seal::timefmt::format_rfc3339(e.event.at),
        "event": serde_json::from_str::<Value>(kind).unwrap_or(Value::Null),
    })
}

/// Rows of one chunk, and its digest's input.
#[derive(Default)]
struct CaseChunk {
    /// Each case's row and the instant its clock runs from (`None` while it stands).
    cases: Vec<(SupervisedCaseRow, Option<OffsetDateTime>)>,
    events: Vec<CaseEventRow>,
    digest_input: Vec<u8>,
}

impl Service {
    /// Imports `events` of `department`'s case system (any order of cases,
    /// each case's events in order): see the module's documentation.
    /// The whole import is refused only for the department
    /// (`DEPARTMENT_UNKNOWN`, `DEPARTMENT_SUSPENDED`, …) or its size
    /// (`BATCH_TOO_LARGE`); a case is refused with the codes of
    /// `case_event`, or `CASE_ALREADY_REPORTED`.
    pub async fn import_case_events(
        &self,
        department: &str,
        events: Vec<CaseEventInput>,
    ) -> Result<ImportOutcome> {
        self.import_case_events_with(department, events, |_, _| {})
            .await
    }

    /// [`Service::import_case_events`], calling `progress(cases done,
    /// cases)` after each chunk.
    pub async fn import_case_events_with(
        &self,
        department: &str,
        events: Vec<CaseEventInput>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ImportOutcome> {
        if events.len() > MAX_IMPORT_EVENTS {
            return Err(Error::rejected(
                Code::BatchTooLarge,
                format!("an import takes at most {MAX_IMPORT_EVENTS} case events: import in parts"),
            ));
        }
        self.active_department(department).await?;
        let cases = by_case(events);
        let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
        let reported: HashSet<String> = self
            .store
            .cases_reported(department, &ids)
            .await?
            .into_iter()
            .collect();
        let calendar = self.calendar().await?;
        let thresholds = self.supervision_thresholds().await?;
        let now = self.now();
        let mut items: HashMap<String, Result<ServiceItem>> = HashMap::new();
        let mut outcome = ImportOutcome::default();
        let mut chunk = CaseChunk::default();
        let total = cases.len() as u64;
        let mut done = 0u64;
        for case in cases {
            done += 1;
            if reported.contains(&case.id) {
                outcome.refused.push(ImportRefusal {
                    id: case.id.clone(),
                    code: Code::CaseAlreadyReported.as_str().to_owned(),
                    message: format!(
                        "case {} already has events on the hub: an import never adds to a case",
                        case.id
                    ),
                });
                continue;
            }
            match self
                .replay_case(department, &case, &mut items, (&calendar, thresholds, now))
                .await?
            {
                Ok((row, rows)) => {
                    for (e, r) in case.events.iter().zip(&rows) {
                        let line = wire_event(e, &r.event).to_string();
                        chunk.digest_input.extend_from_slice(line.as_bytes());
                        chunk.digest_input.push(b'\n');
                    }
                    chunk.cases.push(row);
                    chunk.events.extend(rows);
                }
                Err(refused) => outcome.refused.push(refused),
            }
            if chunk.cases.len() >= CASES_PER_CHUNK {
                self.write_case_chunk(department, std::mem::take(&mut chunk), &mut outcome)
                    .await?;
                progress(done, total);
            }
        }
        if !chunk.cases.is_empty() {
            self.write_case_chunk(department, chunk, &mut outcome)
                .await?;
        }
        progress(done, total);
        if outcome.chunks > 0 {
            self.maybe_checkpoint().await?;
        }
        Ok(outcome)
    }

    /// One case's events checked and replayed: its row as of its last
    /// event and its event rows, or why it is refused (outer `Err`: the
    /// hub failed).
    async fn replay_case(
        &self,
        department: &str,
        case: &CaseInput,
        items: &mut HashMap<String, Result<ServiceItem>>,
        (calendar, thresholds, now): (&WorkCalendar, Thresholds, OffsetDateTime),
    ) -> Result<
        std::result::Result<
            (
                (SupervisedCaseRow, Option<OffsetDateTime>),
                Vec<CaseEventRow>,
            ),
            ImportRefusal,
        >,
    > {
        let mut life = Lifecycle::new();
        let mut row: Option<SupervisedCaseRow> = None;
        let mut rows = Vec::with_capacity(case.events.len());
        for (seq, input) in case.events.iter().enumerate() {
            let place = format!("event {seq}: ");
            let item = match self
                .handled_item(department, &input.service_item, items)
                .await
            {
                Ok(item) => item,
                Err(e) => return refusal(&case.id, &place, e).map(Err),
            };
            let next = match next_in_memory(
                department,
                &item,
                input,
                row.as_ref(),
                &mut life,
                (calendar, thresholds, now),
            ) {
                Ok(next) => next,
                Err(e) => return refusal(&case.id, &place, e).map(Err),
            };
            rows.push(CaseEventRow {
                department: department.to_owned(),
                case_id: case.id.clone(),
                seq: seq as u64,
                at: input.event.at,
                event: serde_json::to_string(&input.event.kind)
                    .map_err(|e| Error::rejected(Code::Internal, e.to_string()))?,
                recorded_at: now,
                recorded_by: self.operator().to_owned(),
            });
            row = Some(next);
        }
        match row {
            Some(row) => Ok(Ok(((row, life.clock_from()), rows))),
            None => Err(Error::rejected(Code::Internal, "a case without events")),
        }
    }

    /// The item `code`, handled by `department` (`ITEM_UNKNOWN`,
    /// `ITEM_NOT_HANDLER`), read once per import.
    async fn handled_item(
        &self,
        department: &str,
        code: &str,
        items: &mut HashMap<String, Result<ServiceItem>>,
    ) -> Result<ServiceItem> {
        if !items.contains_key(code) {
            let item = match self.item_show(code).await {
                Ok(item) if item.department != department => Err(Error::rejected(
                    Code::ItemNotHandler,
                    format!(
                        "{} is handled by {}; {department} reports no cases under it",
                        item.code, item.department
                    ),
                )),
                Err(e) if !e.is_refusal() => return Err(e),
                other => other,
            };
            items.insert(code.to_owned(), item);
        }
        match items.get(code) {
            Some(Ok(item)) => Ok(item.clone()),
            Some(Err(e)) => Err(Error::rejected(
                e.rejection().unwrap_or(Code::ItemUnknown),
                e.to_string(),
            )),
            None => Err(Error::rejected(Code::Internal, "item cache")),
        }
    }

    async fn write_case_chunk(
        &self,
        department: &str,
        chunk: CaseChunk,
        outcome: &mut ImportOutcome,
    ) -> Result<()> {
        let audit = [self.audit(
            "case.import",
            department,
            json!({
                "cases": chunk.cases.len(),
                "events": chunk.events.len(),
                "sha256": tongban_store::sha256_hex(&chunk.digest_input),
            }),
        )];
        self.store
            .import_cases(&chunk.cases, &chunk.events, &audit)
            .await?;
        outcome.imported += chunk.cases.len() as u64;
        outcome.rows += chunk.events.len() as u64;
        outcome.chunks += 1;
        Ok(())
    }
}

/// A work order to import: the call as the office took it, when, and its
/// steps in order.
#[derive(Debug, Clone)]
pub struct OrderImport {
    /// The order as `order_create` takes it.
    pub order: NewOrder,
    /// When the office created it.
    pub created_at: OffsetDateTime,
    /// Its steps, in order.
    pub steps: Vec<StepImport>,
}

/// A step of an imported order.
#[derive(Debug, Clone)]
pub struct StepImport {
    /// Who took it: `office` (or the office's code) or a member unit's code.
    pub by: String,
    /// When.
    pub at: OffsetDateTime,
    /// The step.
    pub step: Step,
}

/// A line of `tongban hotline import`: an order with its steps.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrderLineWire {
    id: String,
    category: Category,
    content: String,
    #[serde(default)]
    area: Option<String>,
    contact: String,
    created_at: String,
    #[serde(default)]
    steps: Vec<StepWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepWire {
    by: String,
    at: String,
    step: Step,
}

fn instant(what: &str, t: &str) -> Result<OffsetDateTime> {
    tongban_seal::timefmt::parse_rfc3339(t)
        .map_err(|e| Error::rejected(Code::OrderStepInvalid, format!("{what} {t:?}: {e}")))
}

impl OrderImport {
    /// From one line's JSON (`{"id", "category", "content", "area"?,
    /// "contact", "createdAt", "steps": [{"by", "at", "step"}]}`), exactly
    /// its members (`ORDER_STEP_INVALID` otherwise).
    pub fn from_json(value: Value) -> Result<OrderImport> {
        let wire: OrderLineWire = serde_json::from_value(value)
            .map_err(|e| Error::rejected(Code::OrderStepInvalid, format!("a work order: {e}")))?;
        let mut steps = Vec::with_capacity(wire.steps.len());
        for (i, s) in wire.steps.into_iter().enumerate() {
            steps.push(StepImport {
                by: s.by,
                at: instant(&format!("step {i}: at"), &s.at)?,
                step: s.step,
            });
        }
        Ok(OrderImport {
            created_at: instant("createdAt", &wire.created_at)?,
            order: NewOrder {
                id: wire.id,
                category: wire.category,
                content: wire.content,
                area: wire.area,
                contact: wire.contact,
                unit: None,
            },
            steps,
        })
    }

    /// The line's JSON again (the import's digest is over these).
    fn to_wire(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "by": s.by,
                    "at": tongban_seal::timefmt::format_rfc3339(s.at),
                    "step": s.step,
                })
            })
            .collect();
        json!({
            "id": self.order.id,
            "category": self.order.category,
            "content": self.order.content,
            "area": self.order.area,
            "contact": self.order.contact,
            "createdAt": tongban_seal::timefmt::format_rfc3339(self.created_at),
            "steps": steps,
        })
    }
}

#[derive(Default)]
struct OrderChunk {
    orders: Vec<WorkOrderRow>,
    steps: Vec<WorkOrderStepRow>,
    digest_input: Vec<u8>,
}

impl Service {
    /// Imports work orders with their steps for the hub's hotline office
    /// (`HOTLINE_OFFICE_MISSING` when none is named): each order checked as
    /// `order_create` and each step as `order_step` would, with their codes,
    /// or `ORDER_EXISTS`; see the module's documentation.
    pub async fn import_work_orders(&self, orders: Vec<OrderImport>) -> Result<ImportOutcome> {
        self.import_work_orders_with(orders, |_, _| {}).await
    }

    /// [`Service::import_work_orders`], calling `progress(orders done,
    /// orders)` after each chunk.
    pub async fn import_work_orders_with(
        &self,
        orders: Vec<OrderImport>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ImportOutcome> {
        if orders.len() > MAX_IMPORT_ORDERS {
            return Err(Error::rejected(
                Code::BatchTooLarge,
                format!("an import takes at most {MAX_IMPORT_ORDERS} work orders: import in parts"),
            ));
        }
        let office = self.hotline_office().await?.ok_or_else(|| {
            Error::rejected(
                Code::HotlineOfficeMissing,
                "no hotline office is named: tongban hotline office DEPT",
            )
        })?;
        let ids: Vec<String> = orders.iter().map(|o| o.order.id.clone()).collect();
        let mut present: HashSet<String> = self
            .store
            .work_orders_present(&ids)
            .await?
            .into_iter()
            .collect();
        let calendar = self.calendar().await?;
        let now = self.now();
        let mut units: HashMap<String, Option<Error>> = HashMap::new();
        let mut outcome = ImportOutcome::default();
        let mut chunk = OrderChunk::default();
        let total = orders.len() as u64;
        for (i, import) in orders.into_iter().enumerate() {
            let id = import.order.id.clone();
            if !present.insert(id.clone()) {
                outcome.refused.push(ImportRefusal {
                    message: format!("work order {id} exists"),
                    id,
                    code: Code::OrderExists.as_str().to_owned(),
                });
                continue;
            }
            match self
                .replay_order(&office, &import, &mut units, (&calendar, now))
                .await?
            {
                Ok((row, steps)) => {
                    chunk
                        .digest_input
                        .extend_from_slice(import.to_wire().to_string().as_bytes());
                    chunk.digest_input.push(b'\n');
                    chunk.orders.push(row);
                    chunk.steps.extend(steps);
                }
                Err(refused) => outcome.refused.push(refused),
            }
            if chunk.orders.len() >= ORDERS_PER_CHUNK {
                self.write_order_chunk(&office, std::mem::take(&mut chunk), &mut outcome)
                    .await?;
                progress(i as u64 + 1, total);
            }
        }
        if !chunk.orders.is_empty() {
            self.write_order_chunk(&office, chunk, &mut outcome).await?;
        }
        progress(total, total);
        if outcome.chunks > 0 {
            self.maybe_checkpoint().await?;
        }
        Ok(outcome)
    }

    /// One order checked and replayed: its row as of its last step and its
    /// step rows, or why it is refused (outer `Err`: the hub failed).
    async fn replay_order(
        &self,
        office: &str,
        import: &OrderImport,
        units: &mut HashMap<String, Option<Error>>,
        (calendar, now): (&WorkCalendar, OffsetDateTime),
    ) -> Result<std::result::Result<(WorkOrderRow, Vec<WorkOrderStepRow>), ImportRefusal>> {
        let id = &import.order.id;
        let mut row = match created(office, import, now) {
            Ok(row) => row,
            Err(e) => return refusal(id, "", e).map(Err),
        };
        let limits = Limits {
            sign_days: row.sign_days,
            reply_days: row.reply_days,
        };
        let mut order = WorkOrder::new(import.order.category, import.created_at, limits);
        let mut steps = Vec::with_capacity(import.steps.len());
        for (seq, s) in import.steps.iter().enumerate() {
            let place = format!("step {seq}: ");
            match self
                .take_step(office, &mut order, s, units, (calendar, now))
                .await
            {
                Ok(step_json) => {
                    let actor = if s.by == "office" || s.by == office {
                        "office".to_owned()
                    } else {
                        s.by.clone()
                    };
                    match next_row(&row, &order, calendar, s.at) {
                        Ok(next) => row = next,
                        Err(e) => return refusal(id, &place, e).map(Err),
                    }
                    steps.push(WorkOrderStepRow {
                        order_id: id.clone(),
                        seq: seq as u64,
                        at: s.at,
                        actor,
                        step: step_json,
                    });
                }
                Err(e) => return refusal(id, &place, e).map(Err),
            }
        }
        Ok(Ok((row, steps)))
    }

    /// `s` checked as `order_step` checks it and applied to `order`; its
    /// JSON as stored.
    async fn take_step(
        &self,
        office: &str,
        order: &mut WorkOrder,
        s: &StepImport,
        units: &mut HashMap<String, Option<Error>>,
        (_, now): (&WorkCalendar, OffsetDateTime),
    ) -> Result<String> {
        if s.at > now + CLOCK_SKEW {
            return Err(Error::rejected(
                Code::OrderStepInvalid,
                format!("a step at {} is in the future", s.at),
            ));
        }
        if order.steps().len() >= MAX_ORDER_STEPS {
            return Err(Error::rejected(
                Code::OrderStepInvalid,
                format!("a work order has at most {MAX_ORDER_STEPS} steps"),
            ));
        }
        if let Step::Dispatched { unit, .. } = &s.step {
            if !units.contains_key(unit) {
                let checked = match self.active_department(unit).await {
                    Ok(_) => None,
                    Err(e) if e.is_refusal() => Some(e),
                    Err(e) => return Err(e),
                };
                units.insert(unit.clone(), checked);
            }
            if let Some(Some(e)) = units.get(unit) {
                return Err(Error::rejected(
                    e.rejection().unwrap_or(Code::DepartmentUnknown),
                    e.to_string(),
                ));
            }
        }
        let by = if s.by == "office" || s.by == office {
            Actor::Office
        } else {
            Actor::Unit(s.by.clone())
        };
        // A dispatch the office took is its own choice, as `order_step`
        // records it: routing rules dispatch only as an order is created.
        let step = match (&by, &s.step) {
            (
                _,
                Step::Dispatched {
                    manual: Some(false),
                    ..
                },
            ) => {
                return Err(Error::rejected(
                    Code::OrderStepInvalid,
                    "a dispatch is by a routing rule only when the order is created",
                ));
            }
            (Actor::Office, Step::Dispatched { unit, .. }) => Step::Dispatched {
                unit: unit.clone(),
                manual: Some(true),
            },
            (_, other) => other.clone(),
        };
        let step_json = serde_json::to_string(&step)
            .map_err(|e| Error::rejected(Code::Internal, e.to_string()))?;
        order.apply(Taken { at: s.at, by, step })?;
        Ok(step_json)
    }

    async fn write_order_chunk(
        &self,
        office: &str,
        chunk: OrderChunk,
        outcome: &mut ImportOutcome,
    ) -> Result<()> {
        let audit = [self.audit(
            "order.import",
            office,
            json!({
                "orders": chunk.orders.len(),
                "steps": chunk.steps.len(),
                "sha256": tongban_store::sha256_hex(&chunk.digest_input),
            }),
        )];
        self.store
            .import_work_orders(&chunk.orders, &chunk.steps, &audit)
            .await?;
        outcome.imported += chunk.orders.len() as u64;
        outcome.rows += chunk.steps.len() as u64;
        outcome.chunks += 1;
        Ok(())
    }
}

/// The order's row as `order_create` stores it, created at its own
/// instant; checked as `order_create` checks it.
fn created(office: &str, import: &OrderImport, now: OffsetDateTime) -> Result<WorkOrderRow> {
    let new = &import.order;
    if !text::is_code(&new.id) {
        return Err(Error::rejected(
            Code::OrderStepInvalid,
            format!("work order id {:?}: {}", new.id, text::CODE_RULE),
        ));
    }
    check_order_text("the content", &new.content)?;
    check_order_text("the contact", &new.contact)?;
    if let Some(area) = &new.area {
        check_order_text("the area", area)?;
    }
    if import.created_at > now + CLOCK_SKEW {
        return Err(Error::rejected(
            Code::OrderStepInvalid,
            format!("an order created at {} is in the future", import.created_at),
        ));
    }
    let limits = Limits::default_for(new.category);
    Ok(WorkOrderRow {
        id: new.id.clone(),
        office: office.to_owned(),
        category: category_name(new.category),
        content: new.content.clone(),
        area: new.area.clone(),
        contact: new.contact.clone(),
        unit: None,
        phase: phase_name(OrderPhase::New).to_owned(),
        sign_days: limits.sign_days,
        reply_days: limits.reply_days,
        created_at: import.created_at,
        closed_at: None,
        satisfied: None,
        signed_on_time: None,
        replied_on_time: None,
        yellow_cards: 0,
        red_cards: 0,
        steps: 0,
    })
}
