//! Cases under electronic supervision (migration 0022): the events a case
//! system reports, in order, and one row per case with where it stands,
//! written together.

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store, StoreError};

/// One reported event of a case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseEventRow {
    /// The handling department.
    pub department: String,
    /// 办件编号, the department's own.
    pub case_id: String,
    /// 0, 1, … within the case.
    pub seq: u64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    /// The event as reported (JSON text).
    pub event: String,
    /// When the hub recorded it.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: time::OffsetDateTime,
    /// Who reported it.
    pub recorded_by: String,
}

/// A case under supervision, as of its last event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisedCaseRow {
    /// The handling department.
    pub department: String,
    /// 办件编号.
    pub case_id: String,
    /// Its service item.
    pub item: String,
    /// `immediate`, `promised`, `joint` or `referred`.
    pub item_type: String,
    /// 承诺时限, working days.
    pub promised_days: u32,
    /// 法定时限, working days.
    pub legal_days: u32,
    /// `online`, `window`, `mail` or `other`.
    pub channel: String,
    /// 零跑动: the applicant never came in person.
    pub zero_visit: bool,
    /// Where it stands.
    pub phase: String,
    /// `approved` or `denied`, once concluded.
    pub result: Option<String>,
    /// Its first event.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: time::OffsetDateTime,
    /// Accepted (受理).
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<time::OffsetDateTime>,
    /// Concluded, refused or withdrawn.
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<time::OffsetDateTime>,
    /// Working time its clock ran, up to its last event, in minutes.
    pub elapsed_minutes: i64,
    /// `in-time`, `warned`, `overdue` or `over-legal`, at its last event.
    pub standing: String,
    /// 好评 (true), 差评 (false), or not evaluated.
    pub satisfied: Option<bool>,
    /// How many events.
    pub events: u64,
}

fn event_from_row(r: &impl RowExt) -> Result<CaseEventRow> {
    Ok(CaseEventRow {
        department: r.text("department")?,
        case_id: r.text("case_id")?,
        seq: u64::try_from(r.int("seq")?)
            .map_err(|_| StoreError::Corrupt("case event seq".into()))?,
        at: from_unix(r.int("at")?)?,
        event: r.text("event")?,
        recorded_at: from_unix(r.int("recorded_at")?)?,
        recorded_by: r.text("recorded_by")?,
    })
}

pub(crate) fn case_from_row(r: &impl RowExt) -> Result<SupervisedCaseRow> {
    let days = |name: &str| -> Result<u32> {
        u32::try_from(r.int(name)?).map_err(|_| StoreError::Corrupt(format!("case {name}")))
    };
    Ok(SupervisedCaseRow {
        department: r.text("department")?,
        case_id: r.text("case_id")?,
        item: r.text("item")?,
        item_type: r.text("item_type")?,
        promised_days: days("promised_days")?,
        legal_days: days("legal_days")?,
        channel: r.text("channel")?,
        zero_visit: r.int("zero_visit")? != 0,
        phase: r.text("phase")?,
        result: r.opt_text("result")?,
        opened_at: from_unix(r.int("opened_at")?)?,
        accepted_at: r.opt_int("accepted_at")?.map(from_unix).transpose()?,
        ended_at: r.opt_int("ended_at")?.map(from_unix).transpose()?,
        elapsed_minutes: r.int("elapsed_minutes")?,
        standing: r.text("standing")?,
        satisfied: r.opt_int("satisfied")?.map(|v| v != 0),
        events: u64::try_from(r.int("events")?)
            .map_err(|_| StoreError::Corrupt("case events".into()))?,
    })
}

pub(crate) const CASE_COLUMNS: &str = "department, case_id, item, item_type, promised_days, legal_days, channel, zero_visit, phase, result, opened_at, accepted_at, ended_at, elapsed_minutes, standing, satisfied, events";

impl Store {
    /// Records `event` (its `seq` the case's next) and the case as it now
    /// stands, with `audit`, in one transaction; `clock_from` is the
    /// instant from which a running clock runs beyond the case's
    /// `elapsed_minutes` (`None` while it stands). `false` when another
    /// event took that `seq` first: nothing is written, read the case
    /// again.
    pub async fn record_case_event(
        &self,
        event: &CaseEventRow,
        case: &SupervisedCaseRow,
        clock_from: Option<time::OffsetDateTime>,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let seq = i64::try_from(event.seq).map_err(|_| StoreError::Corrupt("seq".into()))?;
        let events =
            i64::try_from(case.events).map_err(|_| StoreError::Corrupt("events".into()))?;
        let done = in_tx!(&self.db, tx => {
            let inserted = sqlx::query("INSERT INTO case_events (department, case_id, seq, at, event, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (department, case_id, seq) DO NOTHING")
                .bind(&event.department)
                .bind(&event.case_id)
                .bind(seq)
                .bind(unix(event.at))
                .bind(&event.event)
                .bind(unix(event.recorded_at))
                .bind(&event.recorded_by)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 1 {
                sqlx::query("INSERT INTO supervised_cases (department, case_id, item, item_type, promised_days, legal_days, channel, zero_visit, phase, result, opened_at, accepted_at, ended_at, elapsed_minutes, standing, satisfied, events, clock_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (department, case_id) DO UPDATE SET phase = excluded.phase, result = excluded.result, accepted_at = excluded.accepted_at, ended_at = excluded.ended_at, elapsed_minutes = excluded.elapsed_minutes, standing = excluded.standing, satisfied = excluded.satisfied, events = excluded.events, clock_from = excluded.clock_from")
                    .bind(&case.department)
                    .bind(&case.case_id)
                    .bind(&case.item)
                    .bind(&case.item_type)
                    .bind(i64::from(case.promised_days))
                    .bind(i64::from(case.legal_days))
                    .bind(&case.channel)
                    .bind(i64::from(case.zero_visit))
                    .bind(&case.phase)
                    .bind(&case.result)
                    .bind(unix(case.opened_at))
                    .bind(case.accepted_at.map(unix))
                    .bind(case.ended_at.map(unix))
                    .bind(case.elapsed_minutes)
                    .bind(&case.standing)
                    .bind(case.satisfied.map(i64::from))
                    .bind(events)
                    .bind(clock_from.map(unix))
                    .execute(&mut *tx)
                    .await?;
                if !audit.is_empty() {
                    append_audit!(tx, audit);
                }
            }
            inserted
        });
        Ok(done == 1)
    }

    /// A case's events, in order.
    pub async fn case_events(&self, department: &str, case_id: &str) -> Result<Vec<CaseEventRow>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT department, case_id, seq, at, event, recorded_at, recorded_by FROM case_events WHERE department = $1 AND case_id = $2 ORDER BY seq")
                .bind(department)
                .bind(case_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(event_from_row)
                .collect()
        })
    }

    /// A case under supervision, if any event was reported for it.
    pub async fn supervised_case(
        &self,
        department: &str,
        case_id: &str,
    ) -> Result<Option<SupervisedCaseRow>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM supervised_cases WHERE department = $1 AND case_id = $2"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(department)
                .bind(case_id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(case_from_row)
                .transpose()
        })
    }

    /// Cases under supervision opened in `[from, to)` (of `department`
    /// only, when given), oldest first, at most `limit`.
    pub async fn supervised_cases(
        &self,
        department: Option<&str>,
        from: time::OffsetDateTime,
        to: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<SupervisedCaseRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM supervised_cases WHERE ($1 IS NULL OR department = $1) AND opened_at >= $2 AND opened_at < $3 ORDER BY opened_at, department, case_id LIMIT $4"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(department)
                .bind(unix(from))
                .bind(unix(to))
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(case_from_row)
                .collect()
        })
    }
}

/// One department's cases of one item type in a period, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseCounts {
    /// The handling department.
    pub department: String,
    /// `immediate`, `promised`, `joint` or `referred`.
    pub item_type: String,
    /// Cases opened in the period.
    pub cases: u64,
    /// Of them, concluded (办结).
    pub concluded: u64,
    /// Concluded within the promised limit (按时办结).
    pub concluded_in_time: u64,
    /// Concluded past the legal limit.
    pub concluded_over_legal: u64,
    /// Refused (不予受理).
    pub refused: u64,
    /// Returned or withdrawn.
    pub withdrawn: u64,
    /// Still open.
    pub open: u64,
    /// Working minutes of the concluded cases, summed.
    pub concluded_minutes: i64,
    /// Promised limits of the concluded cases, summed (working days).
    pub concluded_promised_days: u64,
    /// Legal limits of the concluded cases, summed (working days).
    pub concluded_legal_days: u64,
    /// Promised limits of all cases, summed.
    pub promised_days: u64,
    /// Legal limits of all cases, summed.
    pub legal_days: u64,
    /// Evaluated by the applicant.
    pub evaluated: u64,
    /// Of them, satisfied (好评).
    pub satisfied: u64,
    /// Applied for online.
    pub online: u64,
    /// 零跑动.
    pub zero_visit: u64,
}

fn counts_from_row(r: &impl RowExt) -> Result<CaseCounts> {
    let n = |name: &str| -> Result<u64> {
        u64::try_from(r.int(name)?).map_err(|_| StoreError::Corrupt(format!("count {name}")))
    };
    Ok(CaseCounts {
        department: r.text("department")?,
        item_type: r.text("item_type")?,
        cases: n("cases")?,
        concluded: n("concluded")?,
        concluded_in_time: n("concluded_in_time")?,
        concluded_over_legal: n("concluded_over_legal")?,
        refused: n("refused")?,
        withdrawn: n("withdrawn")?,
        open: n("open")?,
        concluded_minutes: r.int("concluded_minutes")?,
        concluded_promised_days: n("concluded_promised_days")?,
        concluded_legal_days: n("concluded_legal_days")?,
        promised_days: n("promised_days")?,
        legal_days: n("legal_days")?,
        evaluated: n("evaluated")?,
        satisfied: n("satisfied")?,
        online: n("online")?,
        zero_visit: n("zero_visit")?,
    })
}

impl Store {
    /// Cases opened in `[from, to)` (of `department` only, when given),
    /// counted per department and item type, in one query.
    pub async fn case_counts(
        &self,
        department: Option<&str>,
        from: time::OffsetDateTime,
        to: time::OffsetDateTime,
    ) -> Result<Vec<CaseCounts>> {
        const SQL: &str = "SELECT department, item_type, \
            CAST(COUNT(*) AS BIGINT) AS cases, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'concluded' THEN 1 ELSE 0 END), 0) AS BIGINT) AS concluded, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'concluded' AND standing IN ('in-time', 'warned') THEN 1 ELSE 0 END), 0) AS BIGINT) AS concluded_in_time, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'concluded' AND standing = 'over-legal' THEN 1 ELSE 0 END), 0) AS BIGINT) AS concluded_over_legal, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'refused' THEN 1 ELSE 0 END), 0) AS BIGINT) AS refused, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'withdrawn' THEN 1 ELSE 0 END), 0) AS BIGINT) AS withdrawn, \
            CAST(COALESCE(SUM(CASE WHEN phase IN ('received', 'running', 'correcting', 'special') THEN 1 ELSE 0 END), 0) AS BIGINT) AS open, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'concluded' THEN elapsed_minutes ELSE 0 END), 0) AS BIGINT) AS concluded_minutes, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'concluded' THEN promised_days ELSE 0 END), 0) AS BIGINT) AS concluded_promised_days, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'concluded' THEN legal_days ELSE 0 END), 0) AS BIGINT) AS concluded_legal_days, \
            CAST(COALESCE(SUM(promised_days), 0) AS BIGINT) AS promised_days, \
            CAST(COALESCE(SUM(legal_days), 0) AS BIGINT) AS legal_days, \
            CAST(COALESCE(SUM(CASE WHEN satisfied IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS evaluated, \
            CAST(COALESCE(SUM(CASE WHEN satisfied = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS satisfied, \
            CAST(COALESCE(SUM(CASE WHEN channel = 'online' THEN 1 ELSE 0 END), 0) AS BIGINT) AS online, \
            CAST(COALESCE(SUM(zero_visit), 0) AS BIGINT) AS zero_visit \
            FROM supervised_cases \
            WHERE ($1 IS NULL OR department = $1) AND opened_at >= $2 AND opened_at < $3 \
            GROUP BY department, item_type ORDER BY department, item_type";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(department)
                .bind(unix(from))
                .bind(unix(to))
                .fetch_all(pool)
                .await?
                .iter()
                .map(counts_from_row)
                .collect()
        })
    }
}
