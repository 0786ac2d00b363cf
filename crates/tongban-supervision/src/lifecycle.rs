//! A case's (办件) life as its case system reports it, and its time
//! against the limits of its service item.
//!
//! Events come in order: 受理 (accepted) or 不予受理 (refused); while
//! running, 补正告知 (correction asked: the clock stops) and 补正完成 (it
//! resumes), 特别程序 (special procedure: the clock stops, with a reason
//! and a bound) and its end, 办结 (concluded, with its result) or 退回/撤回
//! (returned or withdrawn); after the end, the applicant's evaluation
//! (好评/差评). An event that does not follow from the state is refused
//! (`CASE_EVENT_OUT_OF_ORDER`) and changes nothing.
//!
//! Time is counted in working time ([`WorkCalendar::working_time_between`])
//! while the clock runs, from the start of the day after acceptance (the
//! day a period starts is not counted); a limit of `n` working days is `n`
//! days of it.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::calendar::{CHINA, CalendarError, WorkCalendar, start_of};

/// What happened to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EventKind {
    /// 受理: the case is accepted; its clock starts (the next day).
    Accepted {},
    /// 不予受理: not accepted, with the reason.
    Refused {
        /// Why.
        reason: String,
    },
    /// 补正告知: the applicant is asked to complete the materials; the clock stops.
    CorrectionAsked {
        /// What is missing.
        reason: String,
    },
    /// 补正完成: the materials are complete; the clock resumes.
    CorrectionDone {},
    /// 特别程序 (hearing, expert review, …): the clock stops, for at most
    /// `bound_days` working days.
    SpecialStarted {
        /// Which procedure, and why.
        reason: String,
        /// Its bound, in working days.
        #[serde(rename = "boundDays")]
        bound_days: u32,
    },
    /// The special procedure ended; the clock resumes.
    SpecialEnded {},
    /// 办结: concluded, approved or not.
    Concluded {
        /// `approved` or `denied`.
        result: CaseResult,
    },
    /// 退回/撤回: returned to the applicant or withdrawn by them.
    Withdrawn {
        /// Why.
        reason: String,
    },
    /// The applicant's evaluation (好评/差评), after the end.
    Evaluated {
        /// Satisfied or not.
        satisfied: bool,
        /// Why (for a 差评 at least).
        #[serde(default)]
        reasons: Vec<String>,
    },
}

/// A concluded case's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseResult {
    /// 准予.
    Approved,
    /// 不予.
    Denied,
}

/// An event at its instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When it happened (as the case system says).
    pub at: OffsetDateTime,
    /// What.
    pub kind: EventKind,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Reported, not yet accepted.
    Received,
    /// Accepted; the clock runs.
    Running,
    /// Waiting for the applicant's correction; the clock stands.
    Correcting,
    /// In a special procedure; the clock stands.
    Special,
    /// Concluded.
    Concluded,
    /// Not accepted.
    Refused,
    /// Returned or withdrawn.
    Withdrawn,
}

impl Phase {
    /// Whether the case is over (concluded, refused, withdrawn).
    pub fn ended(self) -> bool {
        matches!(self, Phase::Concluded | Phase::Refused | Phase::Withdrawn)
    }
}

/// Why an event is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The event does not follow from where the case stands, or is earlier
    /// than the one before it.
    #[error("{0}")]
    OutOfOrder(String),
    /// The event is not well formed (an empty reason, a bound of 0 days).
    #[error("{0}")]
    Invalid(String),
    /// Counting needs a calendar year not loaded.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl LifecycleError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::OutOfOrder(_) => "CASE_EVENT_OUT_OF_ORDER",
            LifecycleError::Invalid(_) => "CASE_EVENT_INVALID",
            LifecycleError::Calendar(e) => e.code(),
        }
    }
}

/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Longest special procedure bound, in working days.
pub const MAX_SPECIAL_DAYS: u32 = 365;

/// A case's events, checked in order.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    events: Vec<Event>,
    phase: Option<Phase>,
    evaluated: bool,
}

impl Lifecycle {
    /// A case just reported: no event yet.
    pub fn new() -> Self {
        Lifecycle {
            events: Vec::new(),
            phase: Some(Phase::Received),
            evaluated: false,
        }
    }

    /// The events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Where the case stands.
    pub fn phase(&self) -> Phase {
        self.phase.unwrap_or(Phase::Received)
    }

    /// Whether `event` may come next: the phase it leads to, or why not.
    pub fn check(&self, event: &Event) -> Result<Phase, LifecycleError> {
        check_text(&event.kind)?;
        if let Some(last) = self.events.last() {
            if event.at < last.at {
                return Err(LifecycleError::OutOfOrder(format!(
                    "an event at {} comes before the last one, at {}",
                    event.at, last.at
                )));
            }
        }
        use EventKind as E;
        use Phase as P;
        let from = self.phase();
        let to = match (from, &event.kind) {
            (P::Received, E::Accepted {}) => P::Running,
            (P::Received, E::Refused { .. }) => P::Refused,
            (P::Running, E::CorrectionAsked { .. }) => P::Correcting,
            (P::Correcting, E::CorrectionDone {}) => P::Running,
            (P::Running, E::SpecialStarted { .. }) => P::Special,
            (P::Special, E::SpecialEnded {}) => P::Running,
            (P::Running, E::Concluded { .. }) => P::Concluded,
            (P::Received | P::Running | P::Correcting | P::Special, E::Withdrawn { .. }) => {
                P::Withdrawn
            }
            (phase, E::Evaluated { .. }) if phase.ended() && !self.evaluated => phase,
            (phase, kind) => {
                return Err(LifecycleError::OutOfOrder(format!(
                    "{} cannot follow while the case is {}",
                    name(kind),
                    phase_name(phase)
                )));
            }
        };
        Ok(to)
    }

    /// Applies `event` if it may come next ([`Lifecycle::check`]);
    /// otherwise nothing changes.
    pub fn apply(&mut self, event: Event) -> Result<Phase, LifecycleError> {
        let to = self.check(&event)?;
        if matches!(event.kind, EventKind::Evaluated { .. }) {
            self.evaluated = true;
        }
        self.phase = Some(to);
        self.events.push(event);
        Ok(to)
    }

    /// A case's events replayed from the start.
    pub fn replay(events: impl IntoIterator<Item = Event>) -> Result<Lifecycle, LifecycleError> {
        let mut life = Lifecycle::new();
        for e in events {
            life.apply(e)?;
        }
        Ok(life)
    }

    /// The instant the case was accepted, if it was.
    pub fn accepted_at(&self) -> Option<OffsetDateTime> {
        self.events
            .iter()
            .find(|e| matches!(e.kind, EventKind::Accepted {}))
            .map(|e| e.at)
    }

    /// While the clock runs: the instant from which it runs past the case's
    /// last event (the start of the day after acceptance, or the last
    /// event, whichever is later); `None` while it stands, before
    /// acceptance and after the end. The time at any later instant is the
    /// time at the last event plus the working time since this one.
    pub fn clock_from(&self) -> Option<OffsetDateTime> {
        if self.phase() != Phase::Running {
            return None;
        }
        let accepted = self.accepted_at()?;
        let clock_start = accepted.to_offset(CHINA).date().next_day().map(start_of)?;
        let last = self.events.last()?.at;
        Some(last.max(clock_start))
    }

    /// The working time the clock ran, up to `now` (or the end): from the
    /// start of the day after acceptance, less the time it stood.
    pub fn elapsed(
        &self,
        calendar: &WorkCalendar,
        now: OffsetDateTime,
    ) -> Result<Duration, LifecycleError> {
        let Some(accepted) = self.accepted_at() else {
            return Ok(Duration::ZERO);
        };
        let clock_start = accepted
            .to_offset(CHINA)
            .date()
            .next_day()
            .map(start_of)
            .ok_or(CalendarError::YearMissing(accepted.year() + 1))?;
        let mut total = Duration::ZERO;
        let mut running_since = Some(clock_start);
        for e in &self.events {
            match e.kind {
                EventKind::CorrectionAsked { .. }
                | EventKind::SpecialStarted { .. }
                | EventKind::Concluded { .. }
                | EventKind::Withdrawn { .. } => {
                    if let Some(since) = running_since.take() {
                        total += calendar.working_time_between(since, e.at)?;
                    }
                }
                EventKind::CorrectionDone {} | EventKind::SpecialEnded {} => {
                    running_since = Some(e.at.max(clock_start));
                }
                _ => {}
            }
        }
        if let Some(since) = running_since {
            total += calendar.working_time_between(since, now)?;
        }
        Ok(total)
    }
}

fn check_text(kind: &EventKind) -> Result<(), LifecycleError> {
    let reason = match kind {
        EventKind::Refused { reason }
        | EventKind::CorrectionAsked { reason }
        | EventKind::Withdrawn { reason } => Some(reason),
        EventKind::SpecialStarted { reason, bound_days } => {
            if *bound_days == 0 || *bound_days > MAX_SPECIAL_DAYS {
                return Err(LifecycleError::Invalid(format!(
                    "a special procedure's bound is 1 to {MAX_SPECIAL_DAYS} working days"
                )));
            }
            Some(reason)
        }
        EventKind::Evaluated { satisfied, reasons } => {
            if !satisfied && reasons.is_empty() {
                return Err(LifecycleError::Invalid(
                    "a 差评 says why (reasons)".to_owned(),
                ));
            }
            for r in reasons {
                check_reason(r)?;
            }
            None
        }
        _ => None,
    };
    match reason {
        Some(r) => check_reason(r),
        None => Ok(()),
    }
}

fn check_reason(r: &str) -> Result<(), LifecycleError> {
    let chars = r.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS || r.chars().any(char::is_control) {
        return Err(LifecycleError::Invalid(format!(
            "a reason is 1 to {MAX_REASON_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

fn name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Accepted {} => "accepted (受理)",
        EventKind::Refused { .. } => "refused (不予受理)",
        EventKind::CorrectionAsked { .. } => "correction-asked (补正告知)",
        EventKind::CorrectionDone {} => "correction-done (补正完成)",
        EventKind::SpecialStarted { .. } => "special-started (特别程序)",
        EventKind::SpecialEnded {} => "special-ended",
        EventKind::Concluded { .. } => "concluded (办结)",
        EventKind::Withdrawn { .. } => "withdrawn (退回/撤回)",
        EventKind::Evaluated { .. } => "evaluated (评价)",
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Received => "received, not accepted",
        Phase::Running => "running",
        Phase::Correcting => "waiting for a correction",
        Phase::Special => "in a special procedure",
        Phase::Concluded => "concluded",
        Phase::Refused => "refused",
        Phase::Withdrawn => "withdrawn",
    }
}

/// Where a case stands against its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Within its promised limit, below the warning threshold.
    InTime,
    /// Past the warning threshold of its promised limit (黄牌 territory).
    Warned,
    /// Past its promised limit (红牌).
    Overdue,
    /// Past its legal limit too.
    OverLegal,
}

/// When a case is warned: the share of its promised limit, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thresholds {
    /// Warned (yellow) from this share of the promised limit, in percent
    /// (default 80).
    pub warn_percent: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { warn_percent: 80 }
    }
}

/// A case's time against its limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    /// Working time the clock ran, in minutes.
    pub elapsed_minutes: i64,
    /// The same in working days (a day is 24 hours of working time).
    pub elapsed_days: f64,
    /// 承诺时限, working days.
    pub promised_days: u32,
    /// 法定时限, working days.
    pub legal_days: u32,
    /// Where it stands.
    pub standing: Standing,
}

/// The standing of a case that ran `elapsed` against its limits. A limit
/// of 0 days (即办件: done the day it is accepted) is in time until its
/// clock runs at all.
pub fn standing(elapsed: Duration, promised_days: u32, legal_days: u32, t: Thresholds) -> Standing {
    let day = Duration::days(1);
    if elapsed > day * legal_days {
        Standing::OverLegal
    } else if elapsed > day * promised_days {
        Standing::Overdue
    } else if promised_days > 0 && elapsed * 100u32 >= day * promised_days * t.warn_percent {
        Standing::Warned
    } else {
        Standing::InTime
    }
}

/// The timing of `life` at `now` (or its end) against its item's limits.
pub fn timing(
    life: &Lifecycle,
    calendar: &WorkCalendar,
    now: OffsetDateTime,
    promised_days: u32,
    legal_days: u32,
    t: Thresholds,
) -> Result<Timing, LifecycleError> {
    let elapsed = life.elapsed(calendar, now)?;
    Ok(Timing {
        elapsed_minutes: elapsed.whole_minutes(),
        elapsed_days: elapsed.as_seconds_f64() / 86_400.0,
        promised_days,
        legal_days,
        standing: standing(elapsed, promised_days, legal_days, t),
    })
}
