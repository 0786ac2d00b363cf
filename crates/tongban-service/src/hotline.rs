//! 12345 work orders (工单) on the hub: the hotline office (a department
//! named by the administrator) creates orders and takes the office's steps,
//! member units take theirs; each step is checked by
//! `tongban_supervision::hotline` against who takes it and where the order
//! stands, and stored with the order's cards as of that step. The
//! citizen's contact is personal data: never in a list, a log or the audit
//! log; shown only to the office and the unit the order is dispatched to,
//! and each reading is audited (`order.contact`).

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use tongban_store::{OrderCounts, WorkOrderRow, WorkOrderStepRow};
use tongban_supervision::WorkCalendar;
use tongban_supervision::hotline::{
    Actor, Card, Category, Limits, OrderError, OrderPhase, Step, Taken, WorkOrder,
};

use crate::error::{Code, Error, Result};
use crate::supervision::{ratio, roll_up};
use crate::{Service, text};

/// The setting naming the hotline office.
const OFFICE_SETTING: &str = "hotline_office";
/// Longest text of an order (content, contact, area), in characters.
const MAX_ORDER_TEXT: usize = 2000;
/// Most steps one order may have.
pub(crate) const MAX_ORDER_STEPS: usize = 200;

impl From<OrderError> for Error {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Calendar(c) => c.into(),
            OrderError::OutOfOrder(m) => Error::rejected(Code::OrderStepOutOfOrder, m),
            OrderError::Forbidden(m) => Error::rejected(Code::OrderStepForbidden, m),
            other => Error::rejected(Code::OrderStepInvalid, other.to_string()),
        }
    }
}

/// A work order as the office takes the call.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// 工单编号.
    pub id: String,
    /// Its category.
    pub category: Category,
    /// What the citizen said.
    pub content: String,
    /// Where (a region code or a place), if said.
    pub area: Option<String>,
    /// The citizen's contact (personal data).
    pub contact: String,
    /// The member unit to dispatch it to at once, overriding the routing
    /// rules (`None`: the most specific rule's unit, or none).
    pub unit: Option<String>,
}

pub(crate) fn phase_name(p: OrderPhase) -> &'static str {
    match p {
        OrderPhase::New => "new",
        OrderPhase::Dispatched => "dispatched",
        OrderPhase::Handling => "handling",
        OrderPhase::Replied => "replied",
        OrderPhase::Visited => "visited",
        OrderPhase::Closed => "closed",
    }
}

pub(crate) fn category_name(c: Category) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn check_order_text(what: &str, s: &str) -> Result<()> {
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_ORDER_TEXT || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::rejected(
            Code::OrderStepInvalid,
            format!("{what} is 1 to {MAX_ORDER_TEXT} characters"),
        ));
    }
    Ok(())
}

/// What the other side of `step` is told, if anybody.
fn notices(
    order: &WorkOrderRow,
    step: Option<&WorkOrderStepRow>,
    now: OffsetDateTime,
) -> Vec<tongban_store::OutboxRow> {
    step.and_then(|s| crate::order_notices::order_notice(order, s, now))
        .into_iter()
        .collect()
}

/// A new order's id and texts, checked.
fn check_new_order(new: &NewOrder) -> Result<()> {
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
    Ok(())
}

/// An order replayed from its stored steps.
pub(crate) fn replay(o: &WorkOrderRow, rows: &[WorkOrderStepRow]) -> Result<WorkOrder> {
    let corrupt = |m: String| Error::Store(tongban_store::StoreError::Corrupt(m));
    let category: Category = serde_json::from_value(json!(o.category))
        .map_err(|e| corrupt(format!("work order {}: {e}", o.id)))?;
    let limits = Limits {
        sign_days: o.sign_days,
        reply_days: o.reply_days,
    };
    let mut order = WorkOrder::new(category, o.created_at, limits);
    for r in rows {
        let step: Step = serde_json::from_str(&r.step)
            .map_err(|e| corrupt(format!("work order {} step {}: {e}", o.id, r.seq)))?;
        let by = if r.actor == "office" {
            Actor::Office
        } else {
            Actor::Unit(r.actor.clone())
        };
        order
            .apply(Taken { at: r.at, by, step })
            .map_err(|e| corrupt(format!("work order {} no longer replays: {e}", o.id)))?;
    }
    Ok(order)
}

/// The row after `order` took its last step at `at`.
pub(crate) fn next_row(
    before: &WorkOrderRow,
    order: &WorkOrder,
    calendar: &WorkCalendar,
    at: OffsetDateTime,
) -> Result<WorkOrderRow> {
    let cards = order.cards(calendar, at)?;
    let count = |card: Card| cards.iter().filter(|c| **c == card).count() as u32;
    let satisfied = order.steps().iter().rev().find_map(|t| match t.step {
        Step::Visited { satisfied } => Some(satisfied),
        _ => None,
    });
    Ok(WorkOrderRow {
        unit: order.unit().map(str::to_owned),
        phase: phase_name(order.phase()).to_owned(),
        closed_at: (order.phase() == OrderPhase::Closed).then_some(at),
        satisfied,
        signed_on_time: order.signed_on_time(calendar)?,
        replied_on_time: order.replied_on_time(calendar)?,
        yellow_cards: count(Card::Yellow),
        red_cards: count(Card::Red),
        steps: order.steps().len() as u64,
        ..before.clone()
    })
}

impl Service {
    /// The department that is this hub's hotline office, if one is named.
    pub async fn hotline_office(&self) -> Result<Option<String>> {
        Ok(self.store.setting(OFFICE_SETTING).await?)
    }

    /// Names the hotline office (an active department); audited
    /// (`hotline.office`).
    pub async fn set_hotline_office(&self, department: &str) -> Result<()> {
        self.active_department(department).await?;
        self.store.set_setting(OFFICE_SETTING, department).await?;
        self.record_audit(&[self.audit("hotline.office", department, json!({}))])
            .await?;
        Ok(())
    }

    pub(crate) async fn office(&self) -> Result<String> {
        self.hotline_office().await?.ok_or_else(|| {
            Error::rejected(
                Code::HotlineOfficeMissing,
                "no hotline office is named: tongban hotline office DEPT",
            )
        })
    }

    /// The office `department` creates a work order; audited
    /// (`order.create`, without the contact). With a unit named, the order
    /// is dispatched to it at once (`manual: true`, overriding the routing
    /// rules); without, to the unit of the most specific routing rule that
    /// covers it (`manual: false`, the rule in the audit entry); with
    /// neither, it stays `new` for the office to dispatch.
    pub async fn order_create(&self, department: &str, new: NewOrder) -> Result<WorkOrderRow> {
        let office = self.office().await?;
        if department != office {
            return Err(Error::rejected(
                Code::OrderStepForbidden,
                format!("only the hotline office ({office}) creates work orders"),
            ));
        }
        check_new_order(&new)?;
        let routed = match &new.unit {
            Some(unit) => {
                self.dispatchable(unit, &office).await?;
                None
            }
            None => self.route_of(new.category, new.area.as_deref()).await?,
        };
        let dispatch = match (&new.unit, &routed) {
            (Some(unit), _) => Some((unit.clone(), true)),
            (None, Some(r)) => Some((r.unit.clone(), false)),
            (None, None) => None,
        };
        let created = self.new_order_row(office, new);
        let (row, first) = match dispatch {
            Some((unit, manual)) => self.dispatched_at_once(&created, unit, manual).await?,
            None => (created, None),
        };
        let detail = json!({
            "category": row.category, "area": row.area, "unit": row.unit,
            "manual": first.as_ref().map(|_| routed.is_none()),
            "route": routed.map(|r| json!({"category": r.category, "area": r.area})),
        });
        let audit = [self.audit("order.create", &row.id, detail)];
        if !self
            .store
            .add_work_order_with(
                &row,
                first.as_ref(),
                &audit,
                &notices(&row, first.as_ref(), self.now()),
            )
            .await?
        {
            return Err(Error::rejected(
                Code::OrderExists,
                format!("work order {} exists", row.id),
            ));
        }
        self.wake_outbox();
        Ok(row)
    }

    /// A new order's row, before any step.
    fn new_order_row(&self, office: String, new: NewOrder) -> WorkOrderRow {
        let limits = Limits::default_for(new.category);
        WorkOrderRow {
            id: new.id,
            office,
            category: category_name(new.category),
            content: new.content,
            area: new.area,
            contact: new.contact,
            unit: None,
            phase: phase_name(OrderPhase::New).to_owned(),
            sign_days: limits.sign_days,
            reply_days: limits.reply_days,
            created_at: self.now(),
            closed_at: None,
            satisfied: None,
            signed_on_time: None,
            replied_on_time: None,
            yellow_cards: 0,
            red_cards: 0,
            steps: 0,
        }
    }

    /// `created` dispatched to `unit` as it is created, by the office
    /// (`manual`) or by a routing rule: the row after that first step, and
    /// the step.
    async fn dispatched_at_once(
        &self,
        created: &WorkOrderRow,
        unit: String,
        manual: bool,
    ) -> Result<(WorkOrderRow, Option<WorkOrderStepRow>)> {
        let mut order = replay(created, &[])?;
        let step = Step::Dispatched {
            unit,
            manual: Some(manual),
        };
        let step_json = serde_json::to_string(&step)
            .map_err(|e| Error::rejected(Code::Internal, e.to_string()))?;
        let at = created.created_at;
        order.apply(Taken {
            at,
            by: Actor::Office,
            step,
        })?;
        let after = next_row(created, &order, &self.calendar().await?, at)?;
        let record = WorkOrderStepRow {
            order_id: created.id.clone(),
            seq: 0,
            at,
            actor: "office".to_owned(),
            step: step_json,
        };
        Ok((after, Some(record)))
    }

    /// A work order and its steps (no contact), for the office or a unit
    /// it was ever dispatched to. `ORDER_UNKNOWN`, `ORDER_STEP_FORBIDDEN`.
    pub async fn order_show(
        &self,
        department: &str,
        id: &str,
    ) -> Result<(WorkOrderRow, Vec<WorkOrderStepRow>)> {
        let order = self.order_row(id).await?;
        let steps = self.store.work_order_steps(id).await?;
        let dispatched_to = |s: &WorkOrderStepRow| matches!(serde_json::from_str::<Step>(&s.step), Ok(Step::Dispatched { unit, .. }) if unit == department);
        let involved = department == order.office || steps.iter().any(dispatched_to);
        if !involved {
            return Err(Error::rejected(
                Code::OrderStepForbidden,
                format!("work order {id} is not {department}'s"),
            ));
        }
        Ok((order, steps))
    }

    /// The citizen's contact on order `id`, for the office or the unit the
    /// order is dispatched to now; audited (`order.contact`: who read it).
    pub async fn order_contact(&self, department: &str, id: &str) -> Result<String> {
        let order = self.order_row(id).await?;
        if department != order.office && order.unit.as_deref() != Some(department) {
            return Err(Error::rejected(
                Code::OrderStepForbidden,
                format!("the contact on work order {id} is for the office and its handling unit"),
            ));
        }
        self.record_audit(&[self.audit("order.contact", id, json!({"department": department}))])
            .await?;
        Ok(order.contact)
    }

    async fn order_row(&self, id: &str) -> Result<WorkOrderRow> {
        self.store
            .work_order(id)
            .await?
            .ok_or_else(|| Error::rejected(Code::OrderUnknown, format!("no work order {id}")))
    }

    /// `department` takes `step` on order `id` at `at`: the office's steps
    /// by the hotline office, a unit's by the unit the order is dispatched
    /// to, in order; answers the order as it now stands, its cards as of
    /// the step. Audited (`order.step`).
    pub async fn order_step(
        &self,
        department: &str,
        id: &str,
        step: Step,
        at: OffsetDateTime,
    ) -> Result<WorkOrderRow> {
        if at > self.now() + time::Duration::minutes(5) {
            return Err(Error::rejected(
                Code::OrderStepInvalid,
                format!("a step at {at} is in the future"),
            ));
        }
        let before = self.order_row(id).await?;
        let rows = self.store.work_order_steps(id).await?;
        if rows.len() >= MAX_ORDER_STEPS {
            return Err(Error::rejected(
                Code::OrderStepInvalid,
                format!("a work order has at most {MAX_ORDER_STEPS} steps"),
            ));
        }
        let step = self.office_dispatch(step, &before.office).await?;
        let mut order = replay(&before, &rows)?;
        let by = if department == before.office {
            Actor::Office
        } else {
            Actor::Unit(department.to_owned())
        };
        let step_json = serde_json::to_string(&step)
            .map_err(|e| Error::rejected(Code::Internal, e.to_string()))?;
        order.apply(Taken {
            at,
            by: by.clone(),
            step,
        })?;
        let after = next_row(&before, &order, &self.calendar().await?, at)?;
        let actor = match by {
            Actor::Office => "office".to_owned(),
            Actor::Unit(u) => u,
        };
        let record = WorkOrderStepRow {
            order_id: id.to_owned(),
            seq: rows.len() as u64,
            at,
            actor: actor.clone(),
            step: step_json,
        };
        let audit = [self.audit(
            "order.step",
            id,
            json!({"seq": record.seq, "actor": actor, "phase": after.phase}),
        )];
        if !self
            .store
            .record_work_order_step(&record, &after, &audit, &notices(&after, Some(&record), at))
            .await?
        {
            return Err(Error::rejected(
                Code::OrderStepOutOfOrder,
                format!("another step of work order {id} was recorded at the same time"),
            ));
        }
        self.wake_outbox();
        self.maybe_checkpoint().await?;
        Ok(after)
    }

    /// A dispatch the office takes as a step: to a unit that may take it,
    /// marked `manual` (a routing rule dispatches only as an order is
    /// created). Other steps as they are.
    async fn office_dispatch(&self, step: Step, office: &str) -> Result<Step> {
        match step {
            Step::Dispatched { unit, manual } => {
                if manual == Some(false) {
                    return Err(Error::rejected(
                        Code::OrderStepInvalid,
                        "a dispatch is by a routing rule only when the order is created",
                    ));
                }
                self.dispatchable(&unit, office).await?;
                Ok(Step::Dispatched {
                    unit,
                    manual: Some(true),
                })
            }
            other => Ok(other),
        }
    }

    /// `unit` may be dispatched to: an active department other than the
    /// office.
    async fn dispatchable(&self, unit: &str, office: &str) -> Result<()> {
        self.active_department(unit).await?;
        if unit == office {
            return Err(Error::rejected(
                Code::OrderStepInvalid,
                "an order is dispatched to a member unit, not to the hotline office",
            ));
        }
        Ok(())
    }

    /// Work orders created in `[from, to)` (dispatched to `unit` only, when
    /// given), newest first, at most `limit`; never their contacts.
    pub async fn order_list(
        &self,
        unit: Option<&str>,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<WorkOrderRow>> {
        Ok(self.store.work_orders(unit, from, to, limit).await?)
    }

    /// The work orders `department` sees, newest first, at most `limit`:
    /// the office (or, with `None`, the administrator) every order, a unit
    /// those dispatched to it now.
    pub async fn order_list_for(
        &self,
        department: Option<&str>,
        limit: usize,
    ) -> Result<Vec<WorkOrderRow>> {
        let office = self.hotline_office().await?;
        let unit = department.filter(|d| Some(*d) != office.as_deref());
        let to = self.now() + time::Duration::days(1);
        self.order_list(unit, OffsetDateTime::UNIX_EPOCH, to, limit)
            .await
    }

    /// The 12345 report of the work orders created in `[from, to)`: per
    /// member unit and category, per unit, and in total.
    /// `REQUEST_INVALID` when `to` is not after `from`.
    pub async fn order_report(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<OrderReport> {
        if to <= from {
            return Err(Error::rejected(
                Code::RequestInvalid,
                "a report's period ends after it starts",
            ));
        }
        let counts = self.store.order_counts(from, to).await?;
        let group = |name: &str| OrderCounts {
            unit: name.to_owned(),
            category: "*".into(),
            ..OrderCounts::default()
        };
        let (units, total) = roll_up(&counts, |c| c.unit.as_str(), group, "*", add);
        Ok(OrderReport {
            from,
            to,
            lines: counts.into_iter().map(OrderLine::of).collect(),
            units: units.into_iter().map(OrderLine::of).collect(),
            total: OrderLine::of(total),
        })
    }
}

fn add(into: &mut OrderCounts, c: &OrderCounts) {
    into.orders += c.orders;
    into.signed += c.signed;
    into.signed_on_time += c.signed_on_time;
    into.replied += c.replied;
    into.replied_on_time += c.replied_on_time;
    into.visited += c.visited;
    into.satisfied += c.satisfied;
    into.closed += c.closed;
    into.yellow_cards += c.yellow_cards;
    into.red_cards += c.red_cards;
}

/// A line of the 12345 report: counts, and rates from them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// What was counted.
    #[serde(flatten)]
    pub counts: OrderCounts,
    /// 按时签收率: signed for within the deadline, of those signed.
    pub sign_on_time_rate: Option<f64>,
    /// 按时办结率: replied within the deadline, of those replied.
    pub reply_on_time_rate: Option<f64>,
    /// 满意率: satisfied, of those called back.
    pub satisfaction_rate: Option<f64>,
}

impl OrderLine {
    fn of(counts: OrderCounts) -> OrderLine {
        OrderLine {
            sign_on_time_rate: ratio(counts.signed_on_time, counts.signed),
            reply_on_time_rate: ratio(counts.replied_on_time, counts.replied),
            satisfaction_rate: ratio(counts.satisfied, counts.visited),
            counts,
        }
    }
}

/// The 12345 report over a period.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderReport {
    /// Orders created from this instant…
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// …until this one (excluded).
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// Per member unit and category.
    pub lines: Vec<OrderLine>,
    /// Per member unit.
    pub units: Vec<OrderLine>,
    /// Everything.
    pub total: OrderLine,
}
