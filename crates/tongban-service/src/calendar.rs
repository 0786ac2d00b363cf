//! The working-day calendar (工作日历): the national calendars shipped
//! with this build, and the years an administrator loads (a new year's
//! calendar when the State Council publishes it, or a correction), which
//! replace the shipped ones. Counting over it is `tongban-supervision`'s.

use serde::Serialize;
use serde_json::json;
use tongban_store::CalendarRow;
use tongban_supervision::{CalendarError, CalendarYear, WorkCalendar};

use crate::Service;
use crate::error::{Code, Error, Result};

impl From<CalendarError> for Error {
    fn from(e: CalendarError) -> Self {
        let code = match e {
            CalendarError::YearMissing(_) => Code::CalendarYearMissing,
            CalendarError::Overlap(_) => Code::CalendarOverlap,
            _ => Code::CalendarInvalid,
        };
        Error::rejected(code, e.to_string())
    }
}

/// The largest calendar document, in bytes (a year with every day named
/// is far smaller).
pub const MAX_CALENDAR_BYTES: usize = 256 * 1024;

/// One year of the calendar in force, and where it comes from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEntry {
    /// The year.
    pub year: i32,
    /// `shipped` (with this build) or `loaded` (by an administrator).
    pub origin: &'static str,
    /// Who loaded it, and when (loaded years).
    pub loaded: Option<CalendarRow>,
    /// The year itself.
    pub calendar: CalendarYear,
}

impl Service {
    /// Loads one year of the working-day calendar from its JSON document,
    /// replacing the year shipped or loaded before; audited
    /// (`calendar.load`). `CALENDAR_INVALID`, `CALENDAR_OVERLAP`.
    pub async fn calendar_load(&self, document: &str) -> Result<CalendarYear> {
        if document.len() > MAX_CALENDAR_BYTES {
            return Err(Error::rejected(
                Code::CalendarInvalid,
                format!("a calendar document is at most {MAX_CALENDAR_BYTES} bytes"),
            ));
        }
        let year = CalendarYear::from_json(document)?;
        let row = CalendarRow {
            year: year.year,
            document: serde_json::to_string(&year)
                .map_err(|e| Error::rejected(Code::Internal, e.to_string()))?,
            loaded_at: self.now(),
            loaded_by: self.operator().to_owned(),
        };
        let audit = [self.audit(
            "calendar.load",
            &year.year.to_string(),
            json!({"source": year.source, "holidays": year.holidays.len(), "workdays": year.workdays.len()}),
        )];
        self.store.put_calendar_year(&row, &audit).await?;
        self.maybe_checkpoint().await?;
        tracing::info!(year = year.year, "calendar year loaded");
        Ok(year)
    }

    /// The years in force, oldest first: those loaded, and those shipped
    /// with this build for the other years.
    pub async fn calendar_years(&self) -> Result<Vec<CalendarEntry>> {
        let mut entries: Vec<CalendarEntry> = Vec::new();
        for row in self.store.calendar_years().await? {
            let calendar = CalendarYear::from_json(&row.document).map_err(|e| {
                Error::Store(tongban_store::StoreError::Corrupt(format!(
                    "calendar year {}: {e}",
                    row.year
                )))
            })?;
            entries.push(CalendarEntry {
                year: row.year,
                origin: "loaded",
                loaded: Some(row),
                calendar,
            });
        }
        for calendar in CalendarYear::shipped() {
            if !entries.iter().any(|e| e.year == calendar.year) {
                entries.push(CalendarEntry {
                    year: calendar.year,
                    origin: "shipped",
                    loaded: None,
                    calendar,
                });
            }
        }
        entries.sort_by_key(|e| e.year);
        Ok(entries)
    }

    /// The working-day calendar in force.
    pub async fn calendar(&self) -> Result<WorkCalendar> {
        let mut calendar = WorkCalendar::new();
        for entry in self.calendar_years().await? {
            calendar.load(&entry.calendar);
        }
        Ok(calendar)
    }
}
