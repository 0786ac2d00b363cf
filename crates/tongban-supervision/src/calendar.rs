//! The working-day calendar (工作日历): which days are working days, year
//! by year, as the State Council publishes them — public holidays
//! (法定节假日, with the days joined to them) and make-up working days
//! (调休上班, a Saturday or Sunday worked) — and time limits counted over
//! it.
//!
//! A year is data an administrator loads ([`CalendarYear::from_json`]); the
//! years published when this build was made ship with it
//! ([`CalendarYear::shipped`]). Counting through a year that is not loaded is
//! refused (`CALENDAR_YEAR_MISSING`) rather than guessed from weekends:
//! a deadline that silently ignores a week of holidays is worse than none.
//!
//! Time limits follow the administrative rule that the day a period starts
//! is not counted (期间开始的当日不计算在内): `n` working days from a case
//! accepted on day `d` end at the close of the `n`-th working day after
//! `d`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, Time, UtcOffset, Weekday};

/// Why a calendar or a count over it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// The document is not of the documented shape, or a date in it is
    /// wrong (outside its year, a range backwards, a make-up working day
    /// that is not a Saturday or Sunday).
    #[error("{0}")]
    Invalid(String),
    /// Two entries claim the same day.
    #[error("{0}")]
    Overlap(String),
    /// A count needs a year that is not loaded.
    #[error("no working-day calendar is loaded for {0}: load the year's national calendar first")]
    YearMissing(i32),
}

impl CalendarError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::Invalid(_) => "CALENDAR_INVALID",
            CalendarError::Overlap(_) => "CALENDAR_OVERLAP",
            CalendarError::YearMissing(_) => "CALENDAR_YEAR_MISSING",
        }
    }
}

/// A public holiday: a name and the days off (`from` to `to`, inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// 元旦, 春节, …
    pub name: String,
    /// First day off (`YYYY-MM-DD`).
    #[serde(with = "day")]
    pub from: Date,
    /// Last day off.
    #[serde(with = "day")]
    pub to: Date,
}

/// A make-up working day (调休上班): a Saturday or Sunday worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workday {
    /// The day.
    #[serde(with = "day")]
    pub date: Date,
    /// The holiday it makes up for.
    pub name: String,
}

/// One year of the national calendar, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// Where it comes from (the notice).
    pub source: String,
    /// Its public holidays.
    pub holidays: Vec<Holiday>,
    /// Its make-up working days.
    pub workdays: Vec<Workday>,
}

/// The years shipped with this build, as published.
const SHIPPED: &[&str] = &[
    include_str!("../calendars/cn-2025.json"),
    include_str!("../calendars/cn-2026.json"),
];

/// Most entries a year may have (a year has 366 days).
const MAX_ENTRIES: usize = 366;
/// Longest name of a holiday, in characters.
const MAX_NAME_CHARS: usize = 50;

impl CalendarYear {
    /// A year read from its JSON document and checked: every date within
    /// the year, ranges forwards, make-up days on weekends, no day claimed
    /// twice.
    pub fn from_json(text: &str) -> Result<CalendarYear, CalendarError> {
        let year: CalendarYear = serde_json::from_str(text)
            .map_err(|e| CalendarError::Invalid(format!("calendar: {e}")))?;
        year.check()?;
        Ok(year)
    }

    /// The national calendars shipped with this build, oldest first (read
    /// once).
    pub fn shipped() -> Vec<CalendarYear> {
        static YEARS: OnceLock<Vec<CalendarYear>> = OnceLock::new();
        YEARS
            .get_or_init(|| {
                SHIPPED
                    .iter()
                    .filter_map(|text| CalendarYear::from_json(text).ok())
                    .collect()
            })
            .clone()
    }

    /// Checks what [`CalendarYear::from_json`] promises.
    pub fn check(&self) -> Result<(), CalendarError> {
        let invalid = |m: String| Err(CalendarError::Invalid(m));
        if !(2000..=2100).contains(&self.year) {
            return invalid(format!("year {} is not between 2000 and 2100", self.year));
        }
        if self.holidays.len() + self.workdays.len() > MAX_ENTRIES {
            return invalid(format!("more than {MAX_ENTRIES} entries"));
        }
        let mut claimed: BTreeMap<Date, String> = BTreeMap::new();
        let mut claim = |day: Date, what: String| -> Result<(), CalendarError> {
            if day.year() != self.year {
                return Err(CalendarError::Invalid(format!(
                    "{what}: {day} is not in {}",
                    self.year
                )));
            }
            match claimed.insert(day, what.clone()) {
                None => Ok(()),
                Some(other) => Err(CalendarError::Overlap(format!(
                    "{day} is claimed by {other} and by {what}"
                ))),
            }
        };
        for h in &self.holidays {
            check_name(&h.name)?;
            if h.to < h.from {
                return invalid(format!("holiday {}: {} is before {}", h.name, h.to, h.from));
            }
            if h.to - h.from > Duration::days(31) {
                return invalid(format!("holiday {}: longer than a month", h.name));
            }
            let mut day = h.from;
            while day <= h.to {
                claim(day, format!("holiday {}", h.name))?;
                day = day.next_day().unwrap_or(Date::MAX);
            }
        }
        for w in &self.workdays {
            check_name(&w.name)?;
            if !is_weekend(w.date) {
                return invalid(format!(
                    "make-up working day {} ({}) is a {}, not a Saturday or Sunday",
                    w.date,
                    w.name,
                    w.date.weekday()
                ));
            }
            claim(w.date, format!("make-up working day for {}", w.name))?;
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), CalendarError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(CalendarError::Invalid(format!(
            "a holiday's name is 1 to {MAX_NAME_CHARS} characters without control characters: {name:?}"
        )));
    }
    Ok(())
}

fn is_weekend(day: Date) -> bool {
    matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The days off and days worked that differ from the week's rhythm.
#[derive(Debug, Clone, Default)]
struct YearDays {
    off: BTreeSet<Date>,
    worked: BTreeSet<Date>,
}

/// The working-day calendar over the years loaded.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    years: BTreeMap<i32, YearDays>,
}

/// China Standard Time: time limits are counted in local days.
pub const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// Most working days a time limit counts (the longest legal limits are a
/// few hundred days).
pub const MAX_LIMIT_DAYS: u32 = 1000;

impl WorkCalendar {
    /// An empty calendar: every count refused until years are loaded.
    pub fn new() -> Self {
        Self::default()
    }

    /// The calendar of the years shipped with this build.
    pub fn shipped() -> Self {
        let mut calendar = Self::new();
        for year in CalendarYear::shipped() {
            calendar.load(&year);
        }
        calendar
    }

    /// Loads (or replaces) one year; it was checked when read.
    pub fn load(&mut self, year: &CalendarYear) {
        let mut days = YearDays::default();
        for h in &year.holidays {
            let mut day = h.from;
            while day <= h.to {
                days.off.insert(day);
                day = day.next_day().unwrap_or(Date::MAX);
            }
        }
        days.worked = year.workdays.iter().map(|w| w.date).collect();
        self.years.insert(year.year, days);
    }

    /// The years loaded.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: Date) -> Result<bool, CalendarError> {
        let year = self
            .years
            .get(&day.year())
            .ok_or(CalendarError::YearMissing(day.year()))?;
        Ok(if year.off.contains(&day) {
            false
        } else if year.worked.contains(&day) {
            true
        } else {
            !is_weekend(day)
        })
    }

    /// The `n`-th working day after `start` (`start` itself not counted):
    /// the last day of a limit of `n` working days from `start`. `n = 0`
    /// is `start`.
    pub fn add_working_days(&self, start: Date, n: u32) -> Result<Date, CalendarError> {
        if n > MAX_LIMIT_DAYS {
            return Err(CalendarError::Invalid(format!(
                "a time limit is at most {MAX_LIMIT_DAYS} working days"
            )));
        }
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = day
                .next_day()
                .ok_or(CalendarError::YearMissing(day.year() + 1))?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// Working days after `from` up to and including `to` (0 when `to` is
    /// not after `from`).
    pub fn working_days_between(&self, from: Date, to: Date) -> Result<u32, CalendarError> {
        let mut count = 0u32;
        let mut day = from;
        while day < to {
            day = day.next_day().unwrap_or(Date::MAX);
            if self.is_working_day(day)? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// The deadline of a limit of `n` working days from the instant
    /// `start`: the end (24:00 China time) of the `n`-th working day after
    /// the day `start` falls on in China.
    pub fn deadline(&self, start: OffsetDateTime, n: u32) -> Result<OffsetDateTime, CalendarError> {
        let day = start.to_offset(CHINA).date();
        let last = self.add_working_days(day, n)?;
        let end = last
            .next_day()
            .ok_or(CalendarError::YearMissing(last.year() + 1))?;
        Ok(start_of(end))
    }

    /// Working time between two instants: the part of `[from, to)` that
    /// falls on working days (China time), e.g. the elapsed time of a case
    /// whose limit is counted in working hours, or whose clock stopped.
    pub fn working_time_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Duration, CalendarError> {
        let (from, to) = (from.to_offset(CHINA), to.to_offset(CHINA));
        let mut total = Duration::ZERO;
        let mut at = from;
        while at < to {
            let day = at.date();
            let next = start_of(
                day.next_day()
                    .ok_or(CalendarError::YearMissing(day.year() + 1))?,
            );
            let end = next.min(to);
            if self.is_working_day(day)? {
                total += end - at;
            }
            at = end;
        }
        Ok(total)
    }
}

/// The day `text` names (`YYYY-MM-DD`), or why it names none.
pub fn parse_day(text: &str) -> Result<Date, String> {
    Date::parse(text, day::FORMAT).map_err(|e| format!("{text:?} is not YYYY-MM-DD: {e}"))
}

/// The instant `day` starts in China (00:00, UTC+8): where periods and
/// reports over days begin.
pub fn start_of(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_offset(CHINA)
}

/// `YYYY-MM-DD`.
mod day {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::macros::format_description;

    pub(super) const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    pub(super) fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        let text = date.format(FORMAT).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_day(&text).map_err(serde::de::Error::custom)
    }
}
