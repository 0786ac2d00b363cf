//! What supervision watches between events (migration 0024): the open
//! cases whose clocks may pass a threshold while nobody reports anything,
//! the thresholds already pushed for each (`supervised_cases.alerted`), and
//! supervision notices (督办) with their answers. Pushes go through the
//! outbox in the same transaction as what they record.

use sqlx::AssertSqlSafe;

use crate::db::{RowExt, from_unix, unix};
use crate::hotline::{COLUMNS as ORDER_COLUMNS, order_from_row};
use crate::supervision::{CASE_COLUMNS, case_from_row};
use crate::{AuditRecord, OutboxRow, Result, Store, StoreError, SupervisedCaseRow, WorkOrderRow};

/// Most open cases one page holds.
pub const MAX_OPEN_CASES_PAGE: usize = 1000;

/// An open case as supervision watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCase {
    /// As of its last event.
    pub case: SupervisedCaseRow,
    /// While its clock runs: the instant from which it runs beyond
    /// `case.elapsed_minutes` (`None` while it stands, or when not known:
    /// cases recorded before migration 0024).
    pub clock_from: Option<time::OffsetDateTime>,
    /// The highest threshold pushed: 0 none, 1 warned, 2 overdue,
    /// 3 over-legal.
    pub alerted: u8,
}

/// A supervision notice (督办) and its answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeRow {
    /// Its id.
    pub id: String,
    /// The unit that must answer.
    pub unit: String,
    /// `case` or `order`.
    pub subject_kind: String,
    /// The case id (the unit's own) or the work order id.
    pub subject: String,
    /// What the office asks.
    pub text: String,
    /// Who issued it.
    pub issued_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: time::OffsetDateTime,
    /// The answer is due by then.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: time::OffsetDateTime,
    /// The unit's answer.
    pub answer: Option<String>,
    /// When it answered.
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<time::OffsetDateTime>,
    /// Who answered (the department or an operator).
    pub answered_by: Option<String>,
}

const NOTICE_COLUMNS: &str = "id, unit, subject_kind, subject, text, issued_by, issued_at, due_at, answer, answered_at, answered_by";

fn notice_from_row(r: &impl RowExt) -> Result<NoticeRow> {
    Ok(NoticeRow {
        id: r.text("id")?,
        unit: r.text("unit")?,
        subject_kind: r.text("subject_kind")?,
        subject: r.text("subject")?,
        text: r.text("text")?,
        issued_by: r.text("issued_by")?,
        issued_at: from_unix(r.int("issued_at")?)?,
        due_at: from_unix(r.int("due_at")?)?,
        answer: r.opt_text("answer")?,
        answered_at: r.opt_int("answered_at")?.map(from_unix).transpose()?,
        answered_by: r.opt_text("answered_by")?,
    })
}

impl Store {
    /// Open, accepted cases not yet pushed past every threshold, in
    /// `(department, case_id)` order after `after`, at most `limit`.
    pub async fn open_cases(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<OpenCase>> {
        let (dept, case) = after.unwrap_or(("", ""));
        let sql = format!(
            "SELECT {CASE_COLUMNS}, clock_from, alerted FROM supervised_cases WHERE ended_at IS NULL AND alerted < 3 AND accepted_at IS NOT NULL AND (department > $1 OR (department = $1 AND case_id > $2)) ORDER BY department, case_id LIMIT $3"
        );
        let limit = i64::try_from(limit.min(MAX_OPEN_CASES_PAGE)).unwrap_or(1);
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(dept)
                .bind(case)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(OpenCase {
                        case: case_from_row(r)?,
                        clock_from: r.opt_int("clock_from")?.map(from_unix).transpose()?,
                        alerted: u8::try_from(r.int("alerted")?)
                            .map_err(|_| StoreError::Corrupt("case alerted".into()))?,
                    })
                })
                .collect()
        })
    }

    /// Records the thresholds pushed for cases (`(department, case_id,
    /// level)`, a level never lowered) with the pushes, in one
    /// transaction.
    pub async fn record_case_alerts(
        &self,
        levels: &[(String, String, u8)],
        outbox: &[OutboxRow],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            for (dept, case, level) in levels {
                sqlx::query("UPDATE supervised_cases SET alerted = $1 WHERE department = $2 AND case_id = $3 AND alerted < $1")
                    .bind(i64::from(*level))
                    .bind(dept)
                    .bind(case)
                    .execute(&mut *tx)
                    .await?;
            }
            append_outbox!(tx, outbox);
        });
        Ok(())
    }

    /// Work orders waiting for their unit's sign-for or reply, in id
    /// order after `after`, at most `limit`.
    pub async fn open_work_orders(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<WorkOrderRow>> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM work_orders WHERE phase IN ('dispatched', 'handling') AND id > $1 ORDER BY id LIMIT $2"
        );
        let limit = i64::try_from(limit.min(MAX_OPEN_CASES_PAGE)).unwrap_or(1);
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(order_from_row)
                .collect()
        })
    }

    /// Records the cards work orders earned by now (`(id, yellow, red)`,
    /// counts never lowered) with the pushes of the new ones, in one
    /// transaction; returns how many pushes were new.
    pub async fn record_order_cards(
        &self,
        cards: &[(String, u32, u32)],
        outbox: &[OutboxRow],
    ) -> Result<u64> {
        Ok(in_tx!(&self.db, tx => {
            for (id, yellow, red) in cards {
                sqlx::query("UPDATE work_orders SET yellow_cards = CASE WHEN yellow_cards < $1 THEN $1 ELSE yellow_cards END, red_cards = CASE WHEN red_cards < $2 THEN $2 ELSE red_cards END WHERE id = $3")
                    .bind(i64::from(*yellow))
                    .bind(i64::from(*red))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            append_outbox!(tx, outbox)
        }))
    }

    /// Stores a new notice with its push and audit entry; `false` if its
    /// id exists.
    pub async fn add_notice(
        &self,
        n: &NoticeRow,
        outbox: &[OutboxRow],
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let added = in_tx!(&self.db, tx => {
            let added = sqlx::query("INSERT INTO supervision_notices (id, unit, subject_kind, subject, text, issued_by, issued_at, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING")
                .bind(&n.id)
                .bind(&n.unit)
                .bind(&n.subject_kind)
                .bind(&n.subject)
                .bind(&n.text)
                .bind(&n.issued_by)
                .bind(unix(n.issued_at))
                .bind(unix(n.due_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if added == 1 {
                append_outbox!(tx, outbox);
                append_audit!(tx, audit);
            }
            added
        });
        Ok(added == 1)
    }

    /// Records the answer of a notice not answered yet, with its push and
    /// audit entry; `false` if it was answered already (nothing written).
    pub async fn answer_notice(
        &self,
        id: &str,
        (answer, at, by): (&str, time::OffsetDateTime, &str),
        outbox: &[OutboxRow],
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            let done = sqlx::query("UPDATE supervision_notices SET answer = $1, answered_at = $2, answered_by = $3 WHERE id = $4 AND answer IS NULL")
                .bind(answer)
                .bind(unix(at))
                .bind(by)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 1 {
                append_outbox!(tx, outbox);
                append_audit!(tx, audit);
            }
            done
        });
        Ok(done == 1)
    }

    /// A notice.
    pub async fn notice(&self, id: &str) -> Result<Option<NoticeRow>> {
        let sql = format!("SELECT {NOTICE_COLUMNS} FROM supervision_notices WHERE id = $1");
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(notice_from_row)
                .transpose()
        })
    }

    /// Notices, newest first: to `unit` only when given, unanswered only
    /// when `open`, at most `limit` after `offset`.
    pub async fn notices(
        &self,
        unit: Option<&str>,
        open: bool,
        (limit, offset): (usize, usize),
    ) -> Result<Vec<NoticeRow>> {
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM supervision_notices WHERE ($1 IS NULL OR unit = $1) AND ($2 = 0 OR answer IS NULL) ORDER BY issued_at DESC, id LIMIT $3 OFFSET $4"
        );
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(unit)
                .bind(i64::from(open))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
                .iter()
                .map(notice_from_row)
                .collect()
        })
    }

    /// Unanswered notices due before `now`, oldest first, at most `limit`.
    pub async fn notices_overdue(
        &self,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<NoticeRow>> {
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM supervision_notices WHERE answer IS NULL AND due_at < $1 ORDER BY due_at, id LIMIT $2"
        );
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(unix(now))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
                .iter()
                .map(notice_from_row)
                .collect()
        })
    }
}
