//! Bulk writes of supervision data (a centre backfilling a year from its
//! case system, 12345 work orders from the hotline's): rows the service
//! layer already checked and replayed in memory, written with multi-row
//! INSERTs, each call one transaction with its audit entries.
//!
//! The rows are exactly those `record_case_event` and `add_work_order` /
//! `record_work_order_step` would have written one by one; nothing here
//! merges with what is stored: a case or an order already present makes
//! the whole transaction fail (its primary key), and callers ask first
//! which are present ([`Store::cases_reported`], [`Store::work_orders_present`]).

use crate::db::{RowExt, insert_values_sql, marks_of, unix};
use crate::{AuditRecord, Result, Store, StoreError, SupervisedCaseRow, WorkOrderRow};
use crate::{CaseEventRow, WorkOrderStepRow};

/// Rows per INSERT statement: far below both backends' parameter limits
/// (PostgreSQL 65,535; SQLite 32,766), large enough that the statement
/// overhead vanishes.
const ROWS_PER_STATEMENT: usize = 1_000;
/// Ids per `IN (…)` of a presence check.
const IDS_PER_QUERY: usize = 500;

const EVENT_COLUMNS: &[&str] = &[
    "department",
    "case_id",
    "seq",
    "at",
    "event",
    "recorded_at",
    "recorded_by",
];
const CASE_COLUMNS: &[&str] = &[
    "department",
    "case_id",
    "item",
    "item_type",
    "promised_days",
    "legal_days",
    "channel",
    "zero_visit",
    "phase",
    "result",
    "opened_at",
    "accepted_at",
    "ended_at",
    "elapsed_minutes",
    "standing",
    "satisfied",
    "events",
    "clock_from",
];
const ORDER_COLUMNS: &[&str] = &[
    "id",
    "office",
    "category",
    "content",
    "area",
    "contact",
    "unit",
    "phase",
    "sign_days",
    "reply_days",
    "created_at",
    "closed_at",
    "satisfied",
    "signed_on_time",
    "replied_on_time",
    "yellow_cards",
    "red_cards",
    "steps",
];
const STEP_COLUMNS: &[&str] = &["order_id", "seq", "at", "actor", "step"];

fn int(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

/// `SELECT {column} FROM {table} WHERE {filter}{column} IN (…)` for `n` ids,
/// the filter's own parameters (`first`) written before them.
fn presence_sql(table: &str, column: &str, filter: &str, first: usize, n: usize) -> String {
    let mut p = crate::db::Placeholders::after(crate::db::Marks::Numbered, first);
    let mut sql = format!("SELECT {column} FROM {table} WHERE {filter}{column} IN ");
    p.push_tuple(&mut sql, n);
    sql
}

impl Store {
    /// Of `case_ids`, those of `department` that already have events.
    pub async fn cases_reported(
        &self,
        department: &str,
        case_ids: &[String],
    ) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for chunk in case_ids.chunks(IDS_PER_QUERY) {
            let sql = presence_sql(
                "supervised_cases",
                "case_id",
                "department = $1 AND ",
                1,
                chunk.len(),
            );
            let rows = on_db!(&self.db, pool => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(department);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| r.text("case_id"))
                    .collect::<std::result::Result<Vec<String>, sqlx::Error>>()?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Writes cases (their rows as of their last events, each with the
    /// instant its clock runs from, as `record_case_event` takes it) and all
    /// their events, with `audit`, in one transaction. Fails whole, writing
    /// nothing, if one of the cases or events is already stored.
    pub async fn import_cases(
        &self,
        cases: &[(SupervisedCaseRow, Option<time::OffsetDateTime>)],
        events: &[CaseEventRow],
        audit: &[AuditRecord],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            for chunk in cases.chunks(ROWS_PER_STATEMENT / 2) {
                let sql = insert_values_sql("supervised_cases", CASE_COLUMNS, chunk.len(), marks_of(&tx));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (c, clock_from) in chunk {
                    q = q
                        .bind(&c.department)
                        .bind(&c.case_id)
                        .bind(&c.item)
                        .bind(&c.item_type)
                        .bind(i64::from(c.promised_days))
                        .bind(i64::from(c.legal_days))
                        .bind(&c.channel)
                        .bind(i64::from(c.zero_visit))
                        .bind(&c.phase)
                        .bind(&c.result)
                        .bind(unix(c.opened_at))
                        .bind(c.accepted_at.map(unix))
                        .bind(c.ended_at.map(unix))
                        .bind(c.elapsed_minutes)
                        .bind(&c.standing)
                        .bind(c.satisfied.map(i64::from))
                        .bind(int(c.events, "events")?)
                        .bind(clock_from.map(unix));
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in events.chunks(ROWS_PER_STATEMENT) {
                let sql = insert_values_sql("case_events", EVENT_COLUMNS, chunk.len(), marks_of(&tx));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for e in chunk {
                    q = q
                        .bind(&e.department)
                        .bind(&e.case_id)
                        .bind(int(e.seq, "seq")?)
                        .bind(unix(e.at))
                        .bind(&e.event)
                        .bind(unix(e.recorded_at))
                        .bind(&e.recorded_by);
                }
                q.execute(&mut *tx).await?;
            }
            if !audit.is_empty() {
                append_audit!(tx, audit);
            }
        });
        Ok(())
    }

    /// Of `ids`, the work orders already stored.
    pub async fn work_orders_present(&self, ids: &[String]) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = presence_sql("work_orders", "id", "", 0, chunk.len());
            let rows = on_db!(&self.db, pool => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| r.text("id"))
                    .collect::<std::result::Result<Vec<String>, sqlx::Error>>()?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Writes work orders (their rows as of their last steps) and all their
    /// steps, with `audit`, in one transaction. Fails whole, writing
    /// nothing, if one of the orders is already stored.
    pub async fn import_work_orders(
        &self,
        orders: &[WorkOrderRow],
        steps: &[WorkOrderStepRow],
        audit: &[AuditRecord],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            for chunk in orders.chunks(ROWS_PER_STATEMENT / 2) {
                let sql = insert_values_sql("work_orders", ORDER_COLUMNS, chunk.len(), marks_of(&tx));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for o in chunk {
                    q = q
                        .bind(&o.id)
                        .bind(&o.office)
                        .bind(&o.category)
                        .bind(&o.content)
                        .bind(&o.area)
                        .bind(&o.contact)
                        .bind(&o.unit)
                        .bind(&o.phase)
                        .bind(i64::from(o.sign_days))
                        .bind(i64::from(o.reply_days))
                        .bind(unix(o.created_at))
                        .bind(o.closed_at.map(unix))
                        .bind(o.satisfied.map(i64::from))
                        .bind(o.signed_on_time.map(i64::from))
                        .bind(o.replied_on_time.map(i64::from))
                        .bind(i64::from(o.yellow_cards))
                        .bind(i64::from(o.red_cards))
                        .bind(int(o.steps, "steps")?);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in steps.chunks(ROWS_PER_STATEMENT) {
                let sql = insert_values_sql("work_order_steps", STEP_COLUMNS, chunk.len(), marks_of(&tx));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for s in chunk {
                    q = q
                        .bind(&s.order_id)
                        .bind(int(s.seq, "seq")?)
                        .bind(unix(s.at))
                        .bind(&s.actor)
                        .bind(&s.step);
                }
                q.execute(&mut *tx).await?;
            }
            if !audit.is_empty() {
                append_audit!(tx, audit);
            }
        });
        Ok(())
    }
}
