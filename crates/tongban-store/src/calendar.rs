//! The working-day calendar's years (migration 0021), each kept as the
//! document an administrator loaded.

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store};

/// A year of the calendar as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarRow {
    /// The year.
    pub year: i32,
    /// Its JSON document, as checked when loaded.
    pub document: String,
    /// When it was loaded.
    #[serde(with = "time::serde::rfc3339")]
    pub loaded_at: time::OffsetDateTime,
    /// By whom.
    pub loaded_by: String,
}

fn from_row(r: &impl RowExt) -> Result<CalendarRow> {
    let year = r.int("year")?;
    Ok(CalendarRow {
        year: i32::try_from(year)
            .map_err(|_| crate::StoreError::Corrupt(format!("calendar year {year}")))?,
        document: r.text("document")?,
        loaded_at: from_unix(r.int("loaded_at")?)?,
        loaded_by: r.text("loaded_by")?,
    })
}

impl Store {
    /// Stores a year, replacing the one stored for it.
    pub async fn put_calendar_year(&self, row: &CalendarRow, audit: &[AuditRecord]) -> Result<()> {
        in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO calendar_years (year, document, loaded_at, loaded_by) VALUES ($1, $2, $3, $4) ON CONFLICT (year) DO UPDATE SET document = excluded.document, loaded_at = excluded.loaded_at, loaded_by = excluded.loaded_by")
                .bind(i64::from(row.year))
                .bind(&row.document)
                .bind(unix(row.loaded_at))
                .bind(&row.loaded_by), audit)
        });
        Ok(())
    }

    /// Every year stored, oldest first.
    pub async fn calendar_years(&self) -> Result<Vec<CalendarRow>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT year, document, loaded_at, loaded_by FROM calendar_years ORDER BY year")
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }
}
