//! What supervision pushes to departments (电子监察预警): warnings when a
//! case's clock passes a threshold of its limits, cards when a work order
//! misses a deadline, and supervision notices (督办) with their answers.
//!
//! A push is an outbox row (`tongban_store::OutboxRow`) written in the
//! same transaction as what it tells; the hub drains the outbox into
//! messages it signs on the topic `hub.supervision`, delivered to the
//! subscribers among the row's audience: the unit concerned and the
//! supervising office (and, for a work order, the hotline office). A row's
//! id, the message's, is derived from the fact (the case and the threshold,
//! the order, the deadline's start and the card, the notice), so that a
//! fact is pushed at most once, whichever node finds it and however often.
//!
//! Thresholds pass while nobody reports anything, so the hub looks:
//! [`Service::supervision_sweep`] runs at the hub's start (which catches
//! what passed while it was down) and every interval after
//! (`tongban serve --supervision-interval`).

use serde::Serialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tongban_store::{NoticeRow, OpenCase, OutboxRow, WorkOrderRow};
use tongban_supervision::hotline::{Card, Missed};
use tongban_supervision::lifecycle::standing;
use tongban_supervision::{Standing, Thresholds, WorkCalendar};

use crate::Service;
use crate::error::{Code, Error, Result};

/// The hub topic of supervision's pushes.
pub const SUPERVISION_TOPIC: &str = "hub.supervision";
/// The topics the hub itself publishes on: any active department may
/// subscribe; what goes out on them names its audience.
pub const HUB_TOPICS: &[&str] = &[SUPERVISION_TOPIC, "hub.hotline"];

/// Whether `topic` is one the hub itself publishes on.
pub fn is_hub_topic(topic: &str) -> bool {
    HUB_TOPICS.contains(&topic)
}

/// The schema of a warning or a card.
pub const ALERT_SCHEMA: &str = "supervision-alert@1";
/// The schema of a notice issued or answered.
pub const NOTICE_SCHEMA: &str = "supervision-notice@1";

/// The setting naming the supervising office.
const OFFICE_SETTING: &str = "supervision_office";
/// The setting holding the warning threshold (percent).
const WARN_SETTING: &str = "supervision_warn_percent";
/// Longest text of a notice or an answer, in characters.
const MAX_NOTICE_TEXT: usize = 2000;
/// Most working days a notice gives to answer.
const MAX_NOTICE_DAYS: u32 = 30;
/// Cases (or orders) one sweep looks at per page.
const SWEEP_PAGE: usize = 500;

fn push(
    id: String,
    audience: Vec<String>,
    schema: &str,
    payload: &Value,
    now: OffsetDateTime,
) -> OutboxRow {
    OutboxRow {
        id,
        topic: SUPERVISION_TOPIC.to_owned(),
        audience,
        schema: schema.to_owned(),
        payload: payload.to_string(),
        created_at: now,
        sent_seq: None,
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    tongban_seal::timefmt::format_rfc3339(t)
}

/// What one sweep found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Open cases looked at.
    pub cases: u64,
    /// Warnings written (case thresholds passed).
    pub warnings: u64,
    /// Open work orders looked at.
    pub orders: u64,
    /// Cards written (order deadlines missed).
    pub cards: u64,
    /// Notices found past their time to answer (pushed once each).
    pub notices_overdue: u64,
    /// Cases or orders not counted: their time runs into a year whose
    /// calendar is not loaded.
    pub uncounted: u64,
}

/// The level of a standing: 0 in time, 1 warned, 2 overdue, 3 over-legal.
fn level(s: Standing) -> u8 {
    match s {
        Standing::InTime => 0,
        Standing::Warned => 1,
        Standing::Overdue => 2,
        Standing::OverLegal => 3,
    }
}

const LEVELS: [(&str, &str); 4] = [
    ("in-time", ""),
    ("warned", "yellow"),
    ("overdue", "red"),
    ("over-legal", "red"),
];

impl Service {
    /// The warning threshold in force.
    pub async fn supervision_thresholds(&self) -> Result<Thresholds> {
        let warn_percent = match self.store.setting(WARN_SETTING).await? {
            Some(v) => v.parse().map_err(|_| {
                Error::Store(tongban_store::StoreError::Corrupt(format!(
                    "setting {WARN_SETTING}: {v:?}"
                )))
            })?,
            None => Thresholds::default().warn_percent,
        };
        Ok(Thresholds { warn_percent })
    }

    /// Sets the warning threshold (1–99 % of the promised limit;
    /// `THRESHOLDS_INVALID` otherwise); audited (`supervision.thresholds`).
    /// Cases are judged by it from their next event or sweep on.
    pub async fn set_supervision_thresholds(&self, t: Thresholds) -> Result<Thresholds> {
        if !(1..=99).contains(&t.warn_percent) {
            return Err(Error::rejected(
                Code::ThresholdsInvalid,
                "a case is warned at 1 to 99 % of its promised limit",
            ));
        }
        self.store
            .set_setting(WARN_SETTING, &t.warn_percent.to_string())
            .await?;
        self.record_audit(&[self.audit(
            "supervision.thresholds",
            "supervision",
            json!({"warnPercent": t.warn_percent}),
        )])
        .await?;
        Ok(t)
    }

    /// The department that is this hub's supervising office, if named.
    pub async fn supervising_office(&self) -> Result<Option<String>> {
        Ok(self.store.setting(OFFICE_SETTING).await?)
    }

    /// Names the supervising office (an active department), which receives
    /// every warning, card and notice; audited (`supervision.office`).
    pub async fn set_supervising_office(&self, department: &str) -> Result<()> {
        self.active_department(department).await?;
        self.store.set_setting(OFFICE_SETTING, department).await?;
        self.record_audit(&[self.audit("supervision.office", department, json!({}))])
            .await?;
        Ok(())
    }

    /// The unit concerned, then the supervising office and `also` (each
    /// once, when named).
    async fn audience(&self, unit: &str, also: Option<String>) -> Result<Vec<String>> {
        let mut all = vec![unit.to_owned()];
        for d in [self.supervising_office().await?, also]
            .into_iter()
            .flatten()
        {
            if !all.contains(&d) {
                all.push(d);
            }
        }
        Ok(all)
    }

    /// Looks at every open case, open work order and unanswered notice as
    /// of `now`, and writes the pushes of what passed a threshold or a
    /// deadline since it was last looked at (at most once each).
    pub async fn supervision_sweep(&self) -> Result<SweepReport> {
        let now = self.now();
        let calendar = self.calendar().await?;
        let thresholds = self.supervision_thresholds().await?;
        let mut report = SweepReport::default();
        self.sweep_cases(&calendar, thresholds, now, &mut report)
            .await?;
        self.sweep_orders(&calendar, now, &mut report).await?;
        self.sweep_notices(now, &mut report).await?;
        Ok(report)
    }

    async fn sweep_cases(
        &self,
        calendar: &WorkCalendar,
        thresholds: Thresholds,
        now: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<()> {
        let mut after: Option<(String, String)> = None;
        loop {
            let page = self
                .store
                .open_cases(
                    after.as_ref().map(|(d, c)| (d.as_str(), c.as_str())),
                    SWEEP_PAGE,
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.case.department.clone(), last.case.case_id.clone()));
            let (mut levels, mut pushes) = (Vec::new(), Vec::new());
            for open in &page {
                report.cases += 1;
                let Some(elapsed) = self.elapsed_now(open, calendar, now).await? else {
                    report.uncounted += 1;
                    continue;
                };
                let c = &open.case;
                let to = level(standing(elapsed, c.promised_days, c.legal_days, thresholds));
                for l in (open.alerted + 1)..=to {
                    pushes.push(self.case_warning(open, l, elapsed, now).await?);
                }
                if to > open.alerted {
                    levels.push((c.department.clone(), c.case_id.clone(), to));
                }
            }
            report.warnings += pushes.len() as u64;
            self.store.record_case_alerts(&levels, &pushes).await?;
        }
        Ok(())
    }

    /// A case's working time at `now`: its time at its last event plus,
    /// while its clock runs, the working time since; `None` when that runs
    /// into a year whose calendar is not loaded.
    async fn elapsed_now(
        &self,
        open: &OpenCase,
        calendar: &WorkCalendar,
        now: OffsetDateTime,
    ) -> Result<Option<Duration>> {
        let c = &open.case;
        let at_last = Duration::minutes(c.elapsed_minutes);
        let since = match (open.clock_from, c.phase.as_str()) {
            (Some(from), _) if now > from => calendar.working_time_between(from, now),
            (Some(_), _) => Ok(Duration::ZERO),
            (None, "running") => {
                // Recorded without its clock's start (imported): replayed.
                let life = crate::supervision::replay(
                    &self.store.case_events(&c.department, &c.case_id).await?,
                )?;
                return Ok(life.elapsed(calendar, now).ok());
            }
            (None, _) => Ok(Duration::ZERO),
        };
        Ok(since.ok().map(|s| at_last + s))
    }

    async fn case_warning(
        &self,
        open: &OpenCase,
        l: u8,
        elapsed: Duration,
        now: OffsetDateTime,
    ) -> Result<OutboxRow> {
        let c = &open.case;
        let (standing, card) = LEVELS[usize::from(l)];
        let payload = json!({
            "kind": "case", "department": c.department, "caseId": c.case_id,
            "serviceItem": c.item, "standing": standing, "card": card,
            "elapsedMinutes": elapsed.whole_minutes(), "promisedDays": c.promised_days,
            "legalDays": c.legal_days, "at": rfc3339(now),
        });
        let id = OutboxRow::id_for(&["case", &c.department, &c.case_id, standing]);
        Ok(push(
            id,
            self.audience(&c.department, None).await?,
            ALERT_SCHEMA,
            &payload,
            now,
        ))
    }

    async fn sweep_orders(
        &self,
        calendar: &WorkCalendar,
        now: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<()> {
        let office = self.hotline_office().await?;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .open_work_orders(after.as_deref(), SWEEP_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let (mut counts, mut pushes) = (Vec::new(), Vec::new());
            for o in &page {
                report.orders += 1;
                let steps = self.store.work_order_steps(&o.id).await?;
                let order = crate::hotline::replay(o, &steps)?;
                let (Ok(missed), Ok(cards)) =
                    (order.missed(calendar, now), order.cards(calendar, now))
                else {
                    report.uncounted += 1;
                    continue;
                };
                let Some(unit) = order.unit() else { continue };
                for m in missed {
                    pushes.push(self.order_card(o, unit, m, office.clone(), now).await?);
                }
                let count = |k: Card| cards.iter().filter(|c| **c == k).count() as u32;
                counts.push((o.id.clone(), count(Card::Yellow), count(Card::Red)));
            }
            report.cards += self.store.record_order_cards(&counts, &pushes).await?;
        }
        Ok(())
    }

    async fn order_card(
        &self,
        o: &WorkOrderRow,
        unit: &str,
        m: Missed,
        office: Option<String>,
        now: OffsetDateTime,
    ) -> Result<OutboxRow> {
        let card = if m.card == Card::Red { "red" } else { "yellow" };
        let payload = json!({
            "kind": "order", "department": unit, "orderId": o.id, "category": o.category,
            "deadline": m.deadline, "card": card, "due": rfc3339(m.due), "at": rfc3339(now),
        });
        let id = OutboxRow::id_for(&["order", &o.id, m.deadline, &m.from.to_string(), card]);
        Ok(push(
            id,
            self.audience(unit, office).await?,
            ALERT_SCHEMA,
            &payload,
            now,
        ))
    }

    async fn sweep_notices(&self, now: OffsetDateTime, report: &mut SweepReport) -> Result<()> {
        let overdue = self.store.notices_overdue(now, SWEEP_PAGE).await?;
        let mut pushes = Vec::with_capacity(overdue.len());
        for n in &overdue {
            let payload = json!({
                "kind": "notice-overdue", "department": n.unit, "noticeId": n.id,
                "subjectKind": n.subject_kind, "subject": n.subject,
                "due": rfc3339(n.due_at), "at": rfc3339(now),
            });
            let id = OutboxRow::id_for(&["notice-overdue", &n.id]);
            pushes.push(push(
                id,
                self.audience(&n.unit, None).await?,
                ALERT_SCHEMA,
                &payload,
                now,
            ));
        }
        report.notices_overdue += self.store.outbox_add(&pushes).await?;
        Ok(())
    }

    /// What supervision pushed (or is about to push), newest first: to
    /// `department` only when given, found in `[from, to)`.
    pub async fn supervision_pushes(
        &self,
        department: Option<&str>,
        period: (OffsetDateTime, OffsetDateTime),
        page: (usize, usize),
    ) -> Result<Vec<OutboxRow>> {
        Ok(self
            .store
            .outbox_list(SUPERVISION_TOPIC, department, period, page)
            .await?)
    }
}

/// A supervision notice as issued.
#[derive(Debug, Clone)]
pub struct NewNotice {
    /// The unit that must answer.
    pub unit: String,
    /// `case` (one of the unit's cases) or `order` (a work order
    /// dispatched to it).
    pub subject_kind: String,
    /// The case or order id.
    pub subject: String,
    /// What the office asks.
    pub text: String,
    /// Working days to answer (1–30).
    pub answer_days: u32,
}

fn check_notice_text(what: &str, s: &str) -> Result<()> {
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_NOTICE_TEXT || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::rejected(
            Code::NoticeInvalid,
            format!("{what} is 1 to {MAX_NOTICE_TEXT} characters"),
        ));
    }
    Ok(())
}

impl Service {
    /// `issuer` (the supervising office, or `None` for a region
    /// administrator) issues a notice (督办) to a unit about one of its
    /// cases or a work order dispatched to it; pushed to the unit and the
    /// office; audited (`notice.issue`). `NOTICE_FORBIDDEN` when `issuer`
    /// is not the supervising office, `NOTICE_INVALID`, `CASE_UNKNOWN`,
    /// `ORDER_UNKNOWN`.
    pub async fn notice_issue(&self, issuer: Option<&str>, n: NewNotice) -> Result<NoticeRow> {
        let office = self.supervising_office().await?;
        if let Some(d) = issuer {
            if office.as_deref() != Some(d) {
                return Err(Error::rejected(
                    Code::NoticeForbidden,
                    "only the supervising office issues notices (tongban supervise office DEPT)",
                ));
            }
        }
        self.check_notice(&n).await?;
        let now = self.now();
        let due_at = self.calendar().await?.deadline(now, n.answer_days)?;
        let row = NoticeRow {
            id: notice_id(now)?,
            unit: n.unit,
            subject_kind: n.subject_kind,
            subject: n.subject,
            text: n.text,
            issued_by: issuer.unwrap_or(self.operator()).to_owned(),
            issued_at: now,
            due_at,
            answer: None,
            answered_at: None,
            answered_by: None,
        };
        let pushed = push(
            OutboxRow::id_for(&["notice", &row.id]),
            self.audience(&row.unit, None).await?,
            NOTICE_SCHEMA,
            &notice_payload(&row),
            now,
        );
        let audit = self.audit(
            "notice.issue",
            &row.id,
            json!({"unit": row.unit, "subjectKind": row.subject_kind, "subject": row.subject, "due": rfc3339(due_at)}),
        );
        if !self.store.add_notice(&row, &[pushed], &[audit]).await? {
            return Err(Error::rejected(
                Code::NoticeInvalid,
                "a notice with this id exists",
            ));
        }
        self.wake_outbox();
        self.maybe_checkpoint().await?;
        Ok(row)
    }

    async fn check_notice(&self, n: &NewNotice) -> Result<()> {
        check_notice_text("a notice's text", &n.text)?;
        if n.answer_days == 0 || n.answer_days > MAX_NOTICE_DAYS {
            return Err(Error::rejected(
                Code::NoticeInvalid,
                format!("a notice gives 1 to {MAX_NOTICE_DAYS} working days to answer"),
            ));
        }
        self.active_department(&n.unit).await?;
        match n.subject_kind.as_str() {
            "case" => {
                if self
                    .store
                    .supervised_case(&n.unit, &n.subject)
                    .await?
                    .is_none()
                {
                    return Err(Error::rejected(
                        Code::CaseUnknown,
                        format!("{} reported no events of case {}", n.unit, n.subject),
                    ));
                }
            }
            "order" => {
                let o = self.store.work_order(&n.subject).await?;
                if o.as_ref().and_then(|o| o.unit.as_deref()) != Some(n.unit.as_str()) {
                    return Err(Error::rejected(
                        Code::OrderUnknown,
                        format!("no work order {} is dispatched to {}", n.subject, n.unit),
                    ));
                }
            }
            other => {
                return Err(Error::rejected(
                    Code::NoticeInvalid,
                    format!("a notice is about a case or an order, not {other:?}"),
                ));
            }
        }
        Ok(())
    }

    /// A notice. `NOTICE_UNKNOWN`.
    pub async fn notice(&self, id: &str) -> Result<NoticeRow> {
        self.store.notice(id).await?.ok_or_else(|| {
            Error::rejected(Code::NoticeUnknown, format!("no supervision notice {id}"))
        })
    }

    /// Notices, newest first: to `unit` only when given, unanswered only
    /// when `open`.
    pub async fn notices(
        &self,
        unit: Option<&str>,
        open: bool,
        page: (usize, usize),
    ) -> Result<Vec<NoticeRow>> {
        Ok(self.store.notices(unit, open, page).await?)
    }

    /// A notice as `viewer` may see it: any for `None` (an administrator
    /// or an auditor) and for the supervising office, a unit only those it
    /// was asked. `NOTICE_UNKNOWN`, `NOTICE_FORBIDDEN`.
    pub async fn notice_seen_by(&self, viewer: Option<&str>, id: &str) -> Result<NoticeRow> {
        let notice = self.notice(id).await?;
        if let Some(v) = viewer {
            if v != notice.unit && !self.is_supervising_office(v).await? {
                return Err(Error::rejected(
                    Code::NoticeForbidden,
                    format!("notice {id} asks {}, not {v}", notice.unit),
                ));
            }
        }
        Ok(notice)
    }

    /// [`Service::notices`] as `viewer` may see them: all of them (to
    /// `unit` when given) for `None` and for the supervising office, a
    /// unit's own otherwise (naming another unit is `NOTICE_FORBIDDEN`).
    pub async fn notices_seen_by(
        &self,
        viewer: Option<&str>,
        unit: Option<&str>,
        open: bool,
        page: (usize, usize),
    ) -> Result<Vec<NoticeRow>> {
        let unit = match viewer {
            Some(v) if !self.is_supervising_office(v).await? => match unit {
                Some(u) if u != v => {
                    return Err(Error::rejected(
                        Code::NoticeForbidden,
                        format!("{v} sees the notices it was asked, not {u}'s"),
                    ));
                }
                _ => Some(v),
            },
            _ => unit,
        };
        self.notices(unit, open, page).await
    }

    async fn is_supervising_office(&self, department: &str) -> Result<bool> {
        Ok(self.supervising_office().await?.as_deref() == Some(department))
    }

    /// The unit `department` answers a notice to it (once); pushed to the
    /// unit and the office; audited (`notice.answer`) when `audited` (the
    /// CLI and HTTP; over the exchange the request's own entry is the
    /// record). `NOTICE_UNKNOWN`, `NOTICE_FORBIDDEN` (another unit's),
    /// `NOTICE_ANSWERED`, `NOTICE_INVALID`.
    pub async fn notice_answer(
        &self,
        department: &str,
        id: &str,
        answer: &str,
        audited: bool,
    ) -> Result<NoticeRow> {
        let before = self.notice(id).await?;
        if before.unit != department {
            return Err(Error::rejected(
                Code::NoticeForbidden,
                format!("notice {id} asks {}, not {department}", before.unit),
            ));
        }
        check_notice_text("an answer", answer)?;
        if before.answer.is_some() {
            return Err(Error::rejected(
                Code::NoticeAnswered,
                format!("notice {id} was answered"),
            ));
        }
        let now = self.now();
        let by = if audited { self.operator() } else { department };
        let after = NoticeRow {
            answer: Some(answer.to_owned()),
            answered_at: Some(now),
            answered_by: Some(by.to_owned()),
            ..before
        };
        let pushed = push(
            OutboxRow::id_for(&["notice-answered", id]),
            self.audience(department, None).await?,
            NOTICE_SCHEMA,
            &notice_payload(&after),
            now,
        );
        let audit: Vec<_> = audited
            .then(|| self.audit("notice.answer", id, json!({"unit": department})))
            .into_iter()
            .collect();
        if !self
            .store
            .answer_notice(id, (answer, now, by), &[pushed], &audit)
            .await?
        {
            return Err(Error::rejected(
                Code::NoticeAnswered,
                format!("notice {id} was answered"),
            ));
        }
        self.wake_outbox();
        if audited {
            self.maybe_checkpoint().await?;
        }
        Ok(after)
    }
}

/// A notice's id: `DB`, the day it was issued (China time) and 12 random
/// hex digits.
fn notice_id(now: OffsetDateTime) -> Result<String> {
    let day = now.to_offset(tongban_supervision::calendar::CHINA).date();
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| Error::rejected(Code::RngFailed, e.to_string()))?;
    let random: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    Ok(format!(
        "DB{:04}{:02}{:02}{random}",
        day.year(),
        u8::from(day.month()),
        day.day()
    ))
}

/// A notice as pushed (`supervision-notice@1`) and answered
/// (`notice-state@1`).
pub fn notice_payload(n: &NoticeRow) -> Value {
    json!({
        "state": if n.answer.is_some() { "answered" } else { "issued" },
        "noticeId": n.id, "department": n.unit, "subjectKind": n.subject_kind,
        "subject": n.subject, "text": n.text, "issuedBy": n.issued_by,
        "issued": rfc3339(n.issued_at), "due": rfc3339(n.due_at),
        "answer": n.answer, "answered": n.answered_at.map(rfc3339),
    })
}
