//! 12345 work orders (工单): the hotline office (12345 热线办) turns a
//! citizen's call into an order and dispatches it to a member unit (成员单位);
//! the unit signs for it (签收) and replies (回复) within deadlines, may return
//! a misrouted order (退单) or ask for more time (延期), which the office
//! grants or refuses; the office calls the citizen back (回访) and reopens an
//! order the citizen is not satisfied with.
//!
//! [`WorkOrder::apply`] checks each step against who takes it and where the
//! order stands (`ORDER_STEP_OUT_OF_ORDER`, `ORDER_STEP_FORBIDDEN`,
//! `ORDER_STEP_INVALID`) and changes nothing on a refusal. Deadlines are
//! counted in working days over the [`WorkCalendar`] from the instant a
//! deadline's clock starts (dispatch for the sign-for, sign-for for the
//! reply); [`WorkOrder::cards`] says which deadlines were missed: a yellow
//! card (黄牌) for each missed deadline, a red card (红牌) for a reply late by
//! more than its whole limit again.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::calendar::{CalendarError, WorkCalendar};

/// A work order's category, as the hotline counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// 咨询.
    Consultation,
    /// 建议.
    Suggestion,
    /// 诉求.
    Appeal,
    /// 消费投诉.
    ConsumerComplaint,
    /// 经济违法举报.
    EconomicReport,
    /// 行政投诉.
    AdministrativeComplaint,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Category::Consultation,
        Category::Suggestion,
        Category::Appeal,
        Category::ConsumerComplaint,
        Category::EconomicReport,
        Category::AdministrativeComplaint,
    ];

    /// Its name on the hotline's reports.
    pub fn name(self) -> &'static str {
        match self {
            Category::Consultation => "咨询",
            Category::Suggestion => "建议",
            Category::Appeal => "诉求",
            Category::ConsumerComplaint => "消费投诉",
            Category::EconomicReport => "经济违法举报",
            Category::AdministrativeComplaint => "行政投诉",
        }
    }
}

/// The deadlines of a category, in working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// From dispatch to sign-for (签收).
    pub sign_days: u32,
    /// From sign-for to reply (回复).
    pub reply_days: u32,
}

impl Limits {
    /// The default deadlines: sign-for within one working day; a reply to
    /// a consultation within one working day more, to a suggestion within
    /// ten, to anything else within five.
    pub fn default_for(category: Category) -> Limits {
        let reply_days = match category {
            Category::Consultation => 1,
            Category::Suggestion => 10,
            _ => 5,
        };
        Limits {
            sign_days: 1,
            reply_days,
        }
    }
}

/// Who takes a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "unit", rename_all = "kebab-case")]
pub enum Actor {
    /// The hotline office.
    Office,
    /// A member unit (its department code).
    Unit(String),
}

/// A step of a work order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// The office dispatches the order to a unit (派单), first or again.
    Dispatched {
        /// The member unit (department code).
        unit: String,
        /// Whether the office chose the unit (`true`) or a routing rule
        /// did when the order was created (`false`); the hub sets it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manual: Option<bool>,
    },
    /// The unit signs for it (签收): the reply's clock starts.
    Signed {},
    /// The unit returns a misrouted order (退单) to the office.
    Returned {
        /// Why.
        reason: String,
    },
    /// The unit asks for more time for its reply (延期).
    ExtensionAsked {
        /// How many working days more.
        days: u32,
        /// Why.
        reason: String,
    },
    /// The office grants or refuses the extension asked.
    ExtensionDecided {
        /// Granted or not.
        granted: bool,
    },
    /// The unit replies (回复): how it was handled.
    Replied {
        /// What was done.
        content: String,
    },
    /// The office called the citizen back (回访).
    Visited {
        /// Satisfied or not.
        satisfied: bool,
    },
    /// The office reopens an order the citizen is not satisfied with; the
    /// unit handles it again (the reply's clock starts again).
    Reopened {
        /// Why.
        reason: String,
    },
    /// The office closes the order (办结).
    Closed {},
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderPhase {
    /// Created, or returned: awaiting dispatch.
    New,
    /// Dispatched, awaiting the unit's sign-for.
    Dispatched,
    /// Signed for: the unit handles it.
    Handling,
    /// Replied, awaiting the call back.
    Replied,
    /// Called back.
    Visited,
    /// Closed.
    Closed,
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    /// The step does not follow from where the order stands, or is earlier
    /// than the last one.
    #[error("{0}")]
    OutOfOrder(String),
    /// The actor may not take this step (a unit that is not the order's,
    /// the office taking a unit's step, or the other way round).
    #[error("{0}")]
    Forbidden(String),
    /// The step is not well formed.
    #[error("{0}")]
    Invalid(String),
    /// Counting needs a calendar year not loaded.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl OrderError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            OrderError::OutOfOrder(_) => "ORDER_STEP_OUT_OF_ORDER",
            OrderError::Forbidden(_) => "ORDER_STEP_FORBIDDEN",
            OrderError::Invalid(_) => "ORDER_STEP_INVALID",
            OrderError::Calendar(e) => e.code(),
        }
    }
}

/// Longest free text of a step, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Most working days one extension adds.
pub const MAX_EXTENSION_DAYS: u32 = 60;

/// A step taken, by whom and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// When.
    pub at: OffsetDateTime,
    /// By whom.
    pub by: Actor,
    /// What.
    pub step: Step,
}

/// A work order's steps, checked in order, and what they imply.
#[derive(Debug, Clone)]
pub struct WorkOrder {
    category: Category,
    created_at: OffsetDateTime,
    limits: Limits,
    steps: Vec<Taken>,
    phase: OrderPhase,
    unit: Option<String>,
    extension_asked: Option<u32>,
    extension_days: u32,
}

/// A deadline passed without its step (see [`WorkOrder::missed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Missed {
    /// `sign` (签收) or `reply` (回复).
    pub deadline: &'static str,
    /// The index of the step that started its clock.
    pub from: usize,
    /// The card it earns.
    pub card: Card,
    /// The instant it was earned.
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
}

/// A deadline missed, and how late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Card {
    /// 黄牌: a sign-for or a reply past its deadline.
    Yellow,
    /// 红牌: a reply later than its whole limit again.
    Red,
}

impl WorkOrder {
    /// An order of `category` created by the office at `at`, with the
    /// category's deadlines.
    pub fn new(category: Category, at: OffsetDateTime, limits: Limits) -> WorkOrder {
        WorkOrder {
            category,
            created_at: at,
            limits,
            steps: Vec::new(),
            phase: OrderPhase::New,
            unit: None,
            extension_asked: None,
            extension_days: 0,
        }
    }

    /// Its category.
    pub fn category(&self) -> Category {
        self.category
    }

    /// Where it stands.
    pub fn phase(&self) -> OrderPhase {
        self.phase
    }

    /// The unit it is dispatched to, if any.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    /// Its steps so far.
    pub fn steps(&self) -> &[Taken] {
        &self.steps
    }

    /// Takes `step` if it may come next from `by`; otherwise nothing
    /// changes.
    pub fn apply(&mut self, taken: Taken) -> Result<OrderPhase, OrderError> {
        check_text(&taken.step)?;
        let last = self.steps.last().map_or(self.created_at, |t| t.at);
        if taken.at < last {
            return Err(OrderError::OutOfOrder(format!(
                "a step at {} comes before the last one, at {last}",
                taken.at
            )));
        }
        let office = taken.by == Actor::Office;
        let its_unit = matches!((&taken.by, &self.unit), (Actor::Unit(u), Some(o)) if u == o);
        let unit_step = matches!(
            taken.step,
            Step::Signed {}
                | Step::Returned { .. }
                | Step::ExtensionAsked { .. }
                | Step::Replied { .. }
        );
        if unit_step && !its_unit {
            return Err(OrderError::Forbidden(
                "only the unit the order is dispatched to takes this step".to_owned(),
            ));
        }
        if !unit_step && !office {
            return Err(OrderError::Forbidden(
                "only the hotline office takes this step".to_owned(),
            ));
        }
        use OrderPhase as P;
        let to = match (self.phase, &taken.step) {
            (P::New, Step::Dispatched { .. }) => P::Dispatched,
            (P::Dispatched, Step::Signed {}) => P::Handling,
            (P::Dispatched | P::Handling, Step::Returned { .. }) => P::New,
            (P::Handling, Step::ExtensionAsked { .. }) if self.extension_asked.is_none() => {
                P::Handling
            }
            (P::Handling, Step::ExtensionDecided { .. }) if self.extension_asked.is_some() => {
                P::Handling
            }
            (P::Handling, Step::Replied { .. }) => P::Replied,
            (P::Replied, Step::Visited { .. }) => P::Visited,
            (P::Visited, Step::Reopened { .. }) if self.last_visit_unsatisfied() => P::Handling,
            (P::Visited, Step::Closed {}) => P::Closed,
            (phase, step) => {
                return Err(OrderError::OutOfOrder(format!(
                    "{} cannot follow while the order is {phase:?}",
                    step_name(step)
                )));
            }
        };
        match &taken.step {
            Step::Dispatched { unit, .. } => self.unit = Some(unit.clone()),
            Step::Returned { .. } => self.unit = None,
            Step::ExtensionAsked { days, .. } => self.extension_asked = Some(*days),
            Step::ExtensionDecided { granted } => {
                if *granted {
                    self.extension_days += self.extension_asked.unwrap_or(0);
                }
                self.extension_asked = None;
            }
            _ => {}
        }
        self.phase = to;
        self.steps.push(taken);
        Ok(to)
    }

    fn last_visit_unsatisfied(&self) -> bool {
        self.steps
            .iter()
            .rev()
            .find_map(|t| match t.step {
                Step::Visited { satisfied } => Some(!satisfied),
                _ => None,
            })
            .unwrap_or(false)
    }

    /// The last instant `step` matching `pick` was taken.
    fn last_at(&self, pick: impl Fn(&Step) -> bool) -> Option<OffsetDateTime> {
        self.steps
            .iter()
            .rev()
            .find(|t| pick(&t.step))
            .map(|t| t.at)
    }

    /// The sign-for deadline of the current dispatch, if one runs.
    pub fn sign_deadline(
        &self,
        calendar: &WorkCalendar,
    ) -> Result<Option<OffsetDateTime>, OrderError> {
        match self.last_at(|s| matches!(s, Step::Dispatched { .. })) {
            Some(at) => Ok(Some(calendar.deadline(at, self.limits.sign_days)?)),
            None => Ok(None),
        }
    }

    /// The reply deadline (extensions granted included), once signed for
    /// (or reopened).
    pub fn reply_deadline(
        &self,
        calendar: &WorkCalendar,
    ) -> Result<Option<OffsetDateTime>, OrderError> {
        let start = self.last_at(|s| matches!(s, Step::Signed {} | Step::Reopened { .. }));
        match start {
            Some(at) => Ok(Some(
                calendar.deadline(at, self.limits.reply_days + self.extension_days)?,
            )),
            None => Ok(None),
        }
    }

    /// When the current dispatch was signed for, if it was.
    fn signed_at(&self) -> Option<OffsetDateTime> {
        let dispatched = self.last_at(|s| matches!(s, Step::Dispatched { .. }))?;
        self.last_at(|s| matches!(s, Step::Signed {}))
            .filter(|&s| s >= dispatched)
    }

    /// When the current handling was replied to, if it was.
    fn replied_at(&self) -> Option<OffsetDateTime> {
        let start = self.last_at(|s| matches!(s, Step::Signed {} | Step::Reopened { .. }))?;
        self.last_at(|s| matches!(s, Step::Replied { .. }))
            .filter(|&r| r >= start)
    }

    /// Whether the current dispatch was signed for within its deadline
    /// (`None` while it is not signed for).
    pub fn signed_on_time(&self, calendar: &WorkCalendar) -> Result<Option<bool>, OrderError> {
        match (self.signed_at(), self.sign_deadline(calendar)?) {
            (Some(at), Some(due)) => Ok(Some(at <= due)),
            _ => Ok(None),
        }
    }

    /// Whether the current handling was replied to within its deadline
    /// (`None` while there is no reply).
    pub fn replied_on_time(&self, calendar: &WorkCalendar) -> Result<Option<bool>, OrderError> {
        match (self.replied_at(), self.reply_deadline(calendar)?) {
            (Some(at), Some(due)) => Ok(Some(at <= due)),
            _ => Ok(None),
        }
    }

    /// The deadlines of the current dispatch and handling that `now` is
    /// past without the step they wait for, each with the card it earns
    /// and the index of the step that started its clock (so that the same
    /// miss is named the same way at every look): the sign-for (yellow),
    /// the reply (yellow, and red once late by its whole limit again).
    pub fn missed(
        &self,
        calendar: &WorkCalendar,
        now: OffsetDateTime,
    ) -> Result<Vec<Missed>, OrderError> {
        let started = |pick: &dyn Fn(&Step) -> bool| self.steps.iter().rposition(|t| pick(&t.step));
        let mut missed = Vec::new();
        if self.phase == OrderPhase::Dispatched {
            if let (Some(due), Some(from)) = (
                self.sign_deadline(calendar)?,
                started(&|s| matches!(s, Step::Dispatched { .. })),
            ) {
                if now > due {
                    missed.push(Missed {
                        deadline: "sign",
                        from,
                        card: Card::Yellow,
                        due,
                    });
                }
            }
        }
        if self.phase == OrderPhase::Handling {
            if let (Some(due), Some(from)) = (
                self.reply_deadline(calendar)?,
                started(&|s| matches!(s, Step::Signed {} | Step::Reopened { .. })),
            ) {
                if now > due {
                    missed.push(Missed {
                        deadline: "reply",
                        from,
                        card: Card::Yellow,
                        due,
                    });
                    let limit = self.limits.reply_days + self.extension_days;
                    let red_from = calendar.deadline(due - Duration::days(1), limit)?;
                    if now > red_from {
                        missed.push(Missed {
                            deadline: "reply",
                            from,
                            card: Card::Red,
                            due: red_from,
                        });
                    }
                }
            }
        }
        Ok(missed)
    }

    /// The cards the order earned by `now`: a yellow card for a sign-for
    /// past its deadline and for a reply past its deadline (still missing
    /// at `now`, or given late); a red card instead of the reply's yellow
    /// when it is late by more than its whole limit again.
    pub fn cards(
        &self,
        calendar: &WorkCalendar,
        now: OffsetDateTime,
    ) -> Result<Vec<Card>, OrderError> {
        let mut cards = Vec::new();
        if let Some(due) = self.sign_deadline(calendar)? {
            if self.signed_at().unwrap_or(now) > due {
                cards.push(Card::Yellow);
            }
        }
        if let Some(due) = self.reply_deadline(calendar)? {
            let answered = self.replied_at().unwrap_or(now);
            if answered > due {
                let limit = self.limits.reply_days + self.extension_days;
                let red_from = calendar.deadline(due - Duration::days(1), limit)?;
                cards.push(if answered > red_from {
                    Card::Red
                } else {
                    Card::Yellow
                });
            }
        }
        Ok(cards)
    }
}

/// A routing rule (派单规则): orders of `category` (any, when `None`) from
/// an area starting with `area` (any area, when empty) go to `unit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// The category it is for; `None`: every category.
    pub category: Option<Category>,
    /// The start of the areas it covers (a region code such as `4401` or
    /// `440114`, or a place's name); empty: every area.
    pub area: String,
    /// The member unit (department code) orders go to.
    pub unit: String,
}

impl Route {
    /// Whether an order of `category` from `area` falls under it.
    fn covers(&self, category: Category, area: Option<&str>) -> bool {
        let category_fits = self.category.is_none_or(|c| c == category);
        let area_fits = self.area.is_empty() || area.is_some_and(|a| a.starts_with(&self.area));
        category_fits && area_fits
    }
}

/// The rule an order of `category` from `area` is dispatched by: of the
/// rules that cover it, the one with the longest area prefix; between two
/// as long, a category's own before an any-category one. `None` when no
/// rule covers it (the order stays new for the office to dispatch).
pub fn route_for<'a>(
    routes: &'a [Route],
    category: Category,
    area: Option<&str>,
) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| r.covers(category, area))
        .max_by_key(|r| (r.area.chars().count(), r.category.is_some()))
}

fn check_text(step: &Step) -> Result<(), OrderError> {
    let text = match step {
        Step::Dispatched { unit, .. } => unit,
        Step::Returned { reason } | Step::Reopened { reason } => reason,
        Step::ExtensionAsked { days, reason } => {
            if *days == 0 || *days > MAX_EXTENSION_DAYS {
                return Err(OrderError::Invalid(format!(
                    "an extension adds 1 to {MAX_EXTENSION_DAYS} working days; a deadline never moves back"
                )));
            }
            reason
        }
        Step::Replied { content } => content,
        _ => return Ok(()),
    };
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TEXT_CHARS || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(OrderError::Invalid(format!(
            "{} takes 1 to {MAX_TEXT_CHARS} characters",
            step_name(step)
        )));
    }
    Ok(())
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Dispatched { .. } => "dispatched (派单)",
        Step::Signed {} => "signed (签收)",
        Step::Returned { .. } => "returned (退单)",
        Step::ExtensionAsked { .. } => "extension-asked (延期申请)",
        Step::ExtensionDecided { .. } => "extension-decided (延期审批)",
        Step::Replied { .. } => "replied (回复)",
        Step::Visited { .. } => "visited (回访)",
        Step::Reopened { .. } => "reopened (重办)",
        Step::Closed {} => "closed (办结)",
    }
}
