//! Electronic supervision (电子监察) of cases: the events a department's
//! case system reports (over the exchange, `hub.case.event`, or by the
//! CLI), checked in order against the case's lifecycle, stored with where
//! the case stands against its item's promised and legal time limits,
//! counted in working days over the calendar in force. The counting is
//! `tongban-supervision`'s; this module keeps the data.

use serde::Serialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tongban_store::{CaseCounts, CaseEventRow, SupervisedCaseRow};
use tongban_supervision::lifecycle::{CaseResult, timing};
use tongban_supervision::{Event, EventKind, Lifecycle, LifecycleError, Phase, Standing, Timing};

use crate::error::{Code, Error, Result};
use crate::{Service, ServiceItem, text};

/// How applications come in (申办渠道).
pub const CHANNELS: &[&str] = &["online", "window", "mail", "other"];

/// How far in the future an event may be dated (clocks differ).
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Most events one case may have.
const MAX_CASE_EVENTS: usize = 200;

impl From<LifecycleError> for Error {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::Calendar(c) => c.into(),
            LifecycleError::OutOfOrder(m) => Error::rejected(Code::CaseEventOutOfOrder, m),
            other => Error::rejected(Code::CaseEventInvalid, other.to_string()),
        }
    }
}

/// A case event as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseEventInput {
    /// 办件编号.
    pub case_id: String,
    /// 事项编码.
    pub service_item: String,
    /// `online`, `window`, `mail` or `other`.
    pub channel: String,
    /// 零跑动.
    pub zero_visit: bool,
    /// The event at its instant.
    pub event: Event,
}

impl CaseEventInput {
    /// From the wire's members (`case-event@1`): `at` is RFC 3339, `event`
    /// one of the documented events with exactly its members
    /// (`CASE_EVENT_INVALID` otherwise).
    pub fn parse(
        case_id: String,
        service_item: String,
        channel: String,
        zero_visit: bool,
        at: &str,
        event: &Value,
    ) -> Result<CaseEventInput> {
        let at = tongban_seal::timefmt::parse_rfc3339(at)
            .map_err(|e| Error::rejected(Code::CaseEventInvalid, format!("at {at:?}: {e}")))?;
        let kind: EventKind = serde_json::from_value(event.clone())
            .map_err(|e| Error::rejected(Code::CaseEventInvalid, format!("event: {e}")))?;
        Ok(CaseEventInput {
            case_id,
            service_item,
            channel,
            zero_visit,
            event: Event { at, kind },
        })
    }
}

/// A case under supervision: as stored, its events, and its timing now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseSupervision {
    /// As of its last event.
    pub case: SupervisedCaseRow,
    /// Its events in order.
    pub events: Vec<CaseEventRow>,
    /// Its timing now (at its end, once ended).
    pub now: Timing,
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Received => "received",
        Phase::Running => "running",
        Phase::Correcting => "correcting",
        Phase::Special => "special",
        Phase::Concluded => "concluded",
        Phase::Refused => "refused",
        Phase::Withdrawn => "withdrawn",
    }
}

fn standing_name(s: Standing) -> &'static str {
    match s {
        Standing::InTime => "in-time",
        Standing::Warned => "warned",
        Standing::Overdue => "overdue",
        Standing::OverLegal => "over-legal",
    }
}

/// A stored case's events, replayed.
pub(crate) fn replay(rows: &[CaseEventRow]) -> Result<Lifecycle> {
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: EventKind = serde_json::from_str(&r.event).map_err(|e| {
            Error::Store(tongban_store::StoreError::Corrupt(format!(
                "case {}/{} event {}: {e}",
                r.department, r.case_id, r.seq
            )))
        })?;
        events.push(Event { at: r.at, kind });
    }
    Lifecycle::replay(events).map_err(|e| {
        Error::Store(tongban_store::StoreError::Corrupt(format!(
            "case events no longer replay: {e}"
        )))
    })
}

/// The report's own checks, before anything is read: its case id, its
/// channel, an instant not ahead of the hub's clock.
fn check_report(input: &CaseEventInput, now: OffsetDateTime) -> Result<()> {
    if !text::is_code(&input.case_id) {
        return Err(Error::rejected(
            Code::CaseIdInvalid,
            format!("case id {:?}: {}", input.case_id, text::CODE_RULE),
        ));
    }
    if !CHANNELS.contains(&input.channel.as_str()) {
        return Err(Error::rejected(
            Code::CaseEventInvalid,
            format!("channel is one of {}", CHANNELS.join(", ")),
        ));
    }
    if input.event.at > now + CLOCK_SKEW {
        return Err(Error::rejected(
            Code::CaseEventInvalid,
            format!("an event at {} is in the future", input.event.at),
        ));
    }
    Ok(())
}

/// A case as stored so far, if any event was reported for it.
struct Known {
    rows: Vec<CaseEventRow>,
    case: Option<SupervisedCaseRow>,
}

/// The case's row after `input` moved it to `phase` with timing `t`: what
/// the first event set is kept (item, type, limits, channel, 零跑动, when
/// it opened), what the event changes is updated.
fn next_case_row(
    department: &str,
    item: &ServiceItem,
    input: &CaseEventInput,
    known: &Known,
    life: &Lifecycle,
    (phase, t): (Phase, &Timing),
) -> SupervisedCaseRow {
    let before = known.case.as_ref();
    let at = input.event.at;
    let ends = matches!(
        input.event.kind,
        EventKind::Concluded { .. } | EventKind::Refused { .. } | EventKind::Withdrawn { .. }
    );
    let result = match &input.event.kind {
        EventKind::Concluded { result } => Some(match result {
            CaseResult::Approved => "approved".to_owned(),
            CaseResult::Denied => "denied".to_owned(),
        }),
        _ => before.and_then(|c| c.result.clone()),
    };
    let satisfied = match &input.event.kind {
        EventKind::Evaluated { satisfied, .. } => Some(*satisfied),
        _ => before.and_then(|c| c.satisfied),
    };
    SupervisedCaseRow {
        department: department.to_owned(),
        case_id: input.case_id.clone(),
        item: item.code.clone(),
        item_type: before.map_or_else(|| item.item_type.clone(), |c| c.item_type.clone()),
        promised_days: t.promised_days,
        legal_days: t.legal_days,
        channel: before.map_or_else(|| input.channel.clone(), |c| c.channel.clone()),
        zero_visit: before.map_or(input.zero_visit, |c| c.zero_visit),
        phase: phase_name(phase).to_owned(),
        result,
        opened_at: before.map_or(at, |c| c.opened_at),
        accepted_at: life.accepted_at(),
        ended_at: before
            .and_then(|c| c.ended_at)
            .or_else(|| ends.then_some(at)),
        elapsed_minutes: t.elapsed_minutes,
        standing: standing_name(t.standing).to_owned(),
        satisfied,
        events: known.rows.len() as u64 + 1,
    }
}

impl Service {
    /// Records a case event of `department`'s case system: the case's
    /// item must be the department's own, the event must follow from where
    /// the case stands; answers the case as it now stands. Audited
    /// (`case.event`) when `audited` (the CLI); over the exchange the
    /// request's own `exchange.request` entry is the record. Refused:
    /// `CASE_ID_INVALID`, `CASE_EVENT_INVALID`, `CASE_EVENT_OUT_OF_ORDER`,
    /// `ITEM_UNKNOWN`, `ITEM_NOT_HANDLER`, `ITEM_RETIRED`,
    /// `CALENDAR_YEAR_MISSING`; nothing is written then.
    pub async fn case_event(
        &self,
        department: &str,
        input: CaseEventInput,
        audited: bool,
    ) -> Result<SupervisedCaseRow> {
        let now = self.now();
        check_report(&input, now)?;
        let (item, known) = self.reported_case(department, &input).await?;
        let mut life = replay(&known.rows)?;
        let phase = life.apply(input.event.clone())?;
        let (promised, legal) = known
            .case
            .as_ref()
            .map_or((item.promised_limit_days, item.legal_limit_days), |c| {
                (c.promised_days, c.legal_days)
            });
        let calendar = self.calendar().await?;
        let t = timing(
            &life,
            &calendar,
            input.event.at,
            promised,
            legal,
            self.supervision_thresholds().await?,
        )?;
        let case = next_case_row(department, &item, &input, &known, &life, (phase, &t));
        let event = CaseEventRow {
            department: department.to_owned(),
            case_id: input.case_id.clone(),
            seq: known.rows.len() as u64,
            at: input.event.at,
            event: serde_json::to_string(&input.event.kind)
                .map_err(|e| Error::rejected(Code::Internal, e.to_string()))?,
            recorded_at: now,
            recorded_by: if audited { self.operator() } else { department }.to_owned(),
        };
        let audit: Vec<_> = if audited {
            let reported: Value = serde_json::from_str(&event.event).unwrap_or(Value::Null);
            vec![self.audit(
                "case.event",
                &format!("{department}/{}", input.case_id),
                json!({"seq": event.seq, "event": reported, "phase": case.phase}),
            )]
        } else {
            Vec::new()
        };
        if !self
            .store
            .record_case_event(&event, &case, life.clock_from(), &audit)
            .await?
        {
            return Err(Error::rejected(
                Code::CaseEventOutOfOrder,
                format!(
                    "another event of case {} was recorded at the same time: report again",
                    input.case_id
                ),
            ));
        }
        if audited {
            self.maybe_checkpoint().await?;
        }
        Ok(case)
    }

    /// The item a report names, checked against the department and the
    /// case, and what is stored of the case.
    async fn reported_case(
        &self,
        department: &str,
        input: &CaseEventInput,
    ) -> Result<(ServiceItem, Known)> {
        self.active_department(department).await?;
        let item = self.item_show(&input.service_item).await?;
        if item.department != department {
            return Err(Error::rejected(
                Code::ItemNotHandler,
                format!(
                    "{} is handled by {}; {department} reports no cases under it",
                    item.code, item.department
                ),
            ));
        }
        let known = Known {
            rows: self.store.case_events(department, &input.case_id).await?,
            case: self
                .store
                .supervised_case(department, &input.case_id)
                .await?,
        };
        match &known.case {
            Some(case) if case.item != item.code => {
                return Err(Error::rejected(
                    Code::CaseEventInvalid,
                    format!(
                        "case {} is handled under {}, not {}",
                        case.case_id, case.item, item.code
                    ),
                ));
            }
            None if item.status != "active" => {
                return Err(Error::rejected(
                    Code::ItemRetired,
                    format!("{} is retired: no new cases open under it", item.code),
                ));
            }
            _ => {}
        }
        if known.rows.len() >= MAX_CASE_EVENTS {
            return Err(Error::rejected(
                Code::CaseEventInvalid,
                format!("a case has at most {MAX_CASE_EVENTS} events"),
            ));
        }
        Ok((item, known))
    }

    /// A case under supervision: as stored, its events, and its timing
    /// now (at its end, once ended). `CASE_UNKNOWN` if no event was
    /// reported for it.
    pub async fn case_supervision(
        &self,
        department: &str,
        case_id: &str,
    ) -> Result<CaseSupervision> {
        let case = self
            .store
            .supervised_case(department, case_id)
            .await?
            .ok_or_else(|| {
                Error::rejected(
                    Code::CaseUnknown,
                    format!("{department} reported no events of case {case_id}"),
                )
            })?;
        let events = self.store.case_events(department, case_id).await?;
        let life = replay(&events)?;
        let at = case.ended_at.unwrap_or_else(|| self.now());
        let now = timing(
            &life,
            &self.calendar().await?,
            at,
            case.promised_days,
            case.legal_days,
            self.supervision_thresholds().await?,
        )?;
        Ok(CaseSupervision { case, events, now })
    }
}

/// The figures of a supervision report (电子监察报表) for one department
/// and item type, or their total: counts from the store, rates from the
/// counts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportLine {
    /// What was counted.
    #[serde(flatten)]
    pub counts: CaseCounts,
    /// 按时办结率: concluded within the promised limit, of those concluded
    /// (`null` when none was).
    pub on_time_rate: Option<f64>,
    /// Average working days a concluded case took.
    pub average_elapsed_days: Option<f64>,
    /// Average promised limit of the concluded cases, in working days.
    pub average_promised_days: Option<f64>,
    /// Average legal limit of the concluded cases, in working days.
    pub average_legal_days: Option<f64>,
    /// How far promised limits undercut legal ones (承诺时限压缩率): 1 −
    /// promised / legal, over all cases.
    pub compression_rate: Option<f64>,
    /// 评价率: evaluated, of the cases that ended.
    pub evaluation_rate: Option<f64>,
    /// 满意度: satisfied, of those evaluated.
    pub satisfaction_rate: Option<f64>,
    /// Applied for online, of all cases.
    pub online_rate: Option<f64>,
    /// 零跑动, of all cases.
    pub zero_visit_rate: Option<f64>,
}

/// Report lines sorted by their group (`key`), summed per group and in
/// total: each group's line made by `group(key)`, the total's by
/// `group(total)`, counts added by `add`.
pub(crate) fn roll_up<C>(
    lines: &[C],
    key: impl Fn(&C) -> &str,
    group: impl Fn(&str) -> C,
    total: &str,
    add: impl Fn(&mut C, &C),
) -> (Vec<C>, C) {
    let mut groups: Vec<C> = Vec::new();
    let mut all = group(total);
    for line in lines {
        match groups.last_mut() {
            Some(g) if key(g) == key(line) => add(g, line),
            _ => {
                let mut g = group(key(line));
                add(&mut g, line);
                groups.push(g);
            }
        }
        add(&mut all, line);
    }
    (groups, all)
}

pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl ReportLine {
    fn of(counts: CaseCounts) -> ReportLine {
        let c = &counts;
        let ended = c.concluded + c.refused + c.withdrawn;
        ReportLine {
            on_time_rate: ratio(c.concluded_in_time, c.concluded),
            average_elapsed_days: (c.concluded > 0)
                .then(|| c.concluded_minutes as f64 / 1440.0 / c.concluded as f64),
            average_promised_days: ratio(c.concluded_promised_days, c.concluded),
            average_legal_days: ratio(c.concluded_legal_days, c.concluded),
            compression_rate: (c.legal_days > 0)
                .then(|| 1.0 - c.promised_days as f64 / c.legal_days as f64),
            evaluation_rate: ratio(c.evaluated, ended),
            satisfaction_rate: ratio(c.satisfied, c.evaluated),
            online_rate: ratio(c.online, c.cases),
            zero_visit_rate: ratio(c.zero_visit, c.cases),
            counts,
        }
    }
}

/// A supervision report over a period.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisionReport {
    /// Cases opened from this instant…
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// …until this one (excluded).
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// Per department and item type.
    pub lines: Vec<ReportLine>,
    /// Per department, all item types.
    pub departments: Vec<ReportLine>,
    /// Everything.
    pub total: ReportLine,
}

fn add(into: &mut CaseCounts, c: &CaseCounts) {
    into.cases += c.cases;
    into.concluded += c.concluded;
    into.concluded_in_time += c.concluded_in_time;
    into.concluded_over_legal += c.concluded_over_legal;
    into.refused += c.refused;
    into.withdrawn += c.withdrawn;
    into.open += c.open;
    into.concluded_minutes += c.concluded_minutes;
    into.concluded_promised_days += c.concluded_promised_days;
    into.concluded_legal_days += c.concluded_legal_days;
    into.promised_days += c.promised_days;
    into.legal_days += c.legal_days;
    into.evaluated += c.evaluated;
    into.satisfied += c.satisfied;
    into.online += c.online;
    into.zero_visit += c.zero_visit;
}

impl Service {
    /// The supervision report of the cases opened in `[from, to)`, of
    /// `department` only when given: per department and item type, per
    /// department, and in total. `REQUEST_INVALID` when `to` is not after
    /// `from`.
    pub async fn supervision_report(
        &self,
        department: Option<&str>,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<SupervisionReport> {
        if to <= from {
            return Err(Error::rejected(
                Code::RequestInvalid,
                "a report's period ends after it starts",
            ));
        }
        let counts = self.store.case_counts(department, from, to).await?;
        let group = |name: &str| CaseCounts {
            department: name.to_owned(),
            item_type: "*".to_owned(),
            ..CaseCounts::default()
        };
        let (departments, total) = roll_up(
            &counts,
            |c| c.department.as_str(),
            group,
            department.unwrap_or("*"),
            add,
        );
        Ok(SupervisionReport {
            from,
            to,
            lines: counts.into_iter().map(ReportLine::of).collect(),
            departments: departments.into_iter().map(ReportLine::of).collect(),
            total: ReportLine::of(total),
        })
    }
}

/// One event of a case the bulk import (`import`) holds in memory,
/// checked and applied exactly as [`Service::case_event`] does: the
/// report's own checks, the case's item, a retired item for a new case,
/// the most events a case may have, the lifecycle, the timing (against
/// the thresholds in force). `before` is
/// the case's row after its previous event (`None` for its first); answers
/// its row after this one, `life` moved on.
pub(crate) fn next_in_memory(
    department: &str,
    item: &ServiceItem,
    input: &CaseEventInput,
    before: Option<&SupervisedCaseRow>,
    life: &mut Lifecycle,
    (calendar, thresholds, now): (
        &tongban_supervision::WorkCalendar,
        tongban_supervision::Thresholds,
        OffsetDateTime,
    ),
) -> Result<SupervisedCaseRow> {
    check_report(input, now)?;
    match before {
        Some(case) if case.item != item.code => {
            return Err(Error::rejected(
                Code::CaseEventInvalid,
                format!(
                    "case {} is handled under {}, not {}",
                    case.case_id, case.item, item.code
                ),
            ));
        }
        None if item.status != "active" => {
            return Err(Error::rejected(
                Code::ItemRetired,
                format!("{} is retired: no new cases open under it", item.code),
            ));
        }
        _ => {}
    }
    let events = before.map_or(0, |c| c.events);
    if events >= MAX_CASE_EVENTS as u64 {
        return Err(Error::rejected(
            Code::CaseEventInvalid,
            format!("a case has at most {MAX_CASE_EVENTS} events"),
        ));
    }
    let phase = life.apply(input.event.clone())?;
    let (promised, legal) = before.map_or((item.promised_limit_days, item.legal_limit_days), |c| {
        (c.promised_days, c.legal_days)
    });
    let t = timing(life, calendar, input.event.at, promised, legal, thresholds)?;
    let known = Known {
        rows: Vec::new(),
        case: before.cloned(),
    };
    let mut case = next_case_row(department, item, input, &known, life, (phase, &t));
    case.events = events + 1;
    Ok(case)
}
