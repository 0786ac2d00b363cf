//! Applications for access to conditionally shared resources.
//!
//! What the exchange reads of the catalogue and of these applications:
//! `exchange_resources`, `access_grants` (approved applications) and
//! `access_generation`, a counter that database triggers on `catalogue` and
//! `access_applications` bump on every change (migration 0008), so that a hub
//! node can tell with one read whether the access rules changed.

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store};

/// An application (and, once approved, a grant).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessApplication {
    /// Number.
    pub id: u64,
    /// Catalogue resource id.
    pub resource: String,
    /// Applying department.
    pub consumer: String,
    /// Stated purpose (申请事由).
    pub purpose: String,
    /// Requested period: from.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: time::OffsetDateTime,
    /// Requested period: until (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: time::OffsetDateTime,
    /// `pending`, `approved`, `rejected` or `withdrawn`.
    pub status: String,
    /// Who decided (the provider).
    pub decided_by: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<time::OffsetDateTime>,
    /// Why (rejections, withdrawals).
    pub reason: Option<String>,
    /// When applied.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// What the exchange needs of a catalogue resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeResource {
    /// Resource id (also its topic).
    pub id: String,
    /// Providing department.
    pub provider: String,
    /// Payload schema `id@version`.
    pub schema: String,
    /// `unconditional`, `conditional` or `not-shared`.
    pub sharing_type: String,
    /// `published` or `retired`.
    pub status: String,
}

/// An approved application: `consumer` may use `resource` in
/// `[valid_from, valid_until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// Application number.
    pub id: u64,
    /// Catalogue resource id.
    pub resource: String,
    /// Consuming department.
    pub consumer: String,
    /// From.
    pub valid_from: time::OffsetDateTime,
    /// Until (exclusive).
    pub valid_until: time::OffsetDateTime,
}

/// A provider's decision on an application.
#[derive(Debug, Clone, Copy)]
pub struct AccessDecision<'a> {
    /// Application number.
    pub id: u64,
    /// The status it must be in.
    pub from: &'a str,
    /// The status it moves to.
    pub to: &'a str,
    /// Who decides.
    pub by: &'a str,
    /// Why.
    pub reason: Option<&'a str>,
    /// When.
    pub at: time::OffsetDateTime,
}

fn from_row(row: &impl RowExt) -> Result<AccessApplication> {
    Ok(AccessApplication {
        id: row.int("id")? as u64,
        resource: row.text("resource")?,
        consumer: row.text("consumer")?,
        purpose: row.text("purpose")?,
        valid_from: from_unix(row.int("valid_from")?)?,
        valid_until: from_unix(row.int("valid_until")?)?,
        status: row.text("status")?,
        decided_by: row.opt_text("decided_by")?,
        decided_at: row.opt_int("decided_at")?.map(from_unix).transpose()?,
        reason: row.opt_text("reason")?,
        created_at: from_unix(row.int("created_at")?)?,
    })
}

/// Most applications one listing returns.
pub const MAX_ACCESS_RESULTS: usize = 1_000;

const COLUMNS: &str = "id, resource, consumer, purpose, valid_from, valid_until, status, decided_by, decided_at, reason, created_at";

impl Store {
    /// Records a pending application; returns its number.
    pub async fn insert_access_application(
        &self,
        a: &AccessApplication,
        audit: impl Fn(u64) -> Vec<AuditRecord>,
    ) -> Result<u64> {
        let id = in_tx!(&self.db, tx => {
            let id: i64 = sqlx::query_scalar("INSERT INTO access_applications (resource, consumer, purpose, valid_from, valid_until, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(&a.resource)
                .bind(&a.consumer)
                .bind(&a.purpose)
                .bind(unix(a.valid_from))
                .bind(unix(a.valid_until))
                .bind(&a.status)
                .bind(unix(a.created_at))
                .fetch_one(&mut *tx)
                .await?;
            append_audit!(tx, &audit(id as u64));
            id as u64
        });
        Ok(id)
    }

    /// Moves an application from one status to another (approve, reject,
    /// withdraw); false when it was not in the expected status any more.
    pub async fn decide_access_application(
        &self,
        d: &AccessDecision<'_>,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE access_applications SET status = $1, decided_by = $2, decided_at = $3, reason = $4 WHERE id = $5 AND status = $6")
                .bind(d.to)
                .bind(d.by)
                .bind(unix(d.at))
                .bind(d.reason)
                .bind(d.id as i64)
                .bind(d.from), audit)
        });
        Ok(done == 1)
    }

    /// One application.
    pub async fn access_application(&self, id: u64) -> Result<Option<AccessApplication>> {
        let sql = format!("SELECT {COLUMNS} FROM access_applications WHERE id = $1");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id as i64).fetch_optional(pool).await?.as_ref().map(from_row).transpose()
        })
    }

    /// Applications, newest first, by resource and/or consumer.
    pub async fn access_applications(
        &self,
        resource: Option<&str>,
        consumer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AccessApplication>> {
        let limit = i64::try_from(limit.min(MAX_ACCESS_RESULTS)).unwrap_or(0);
        let sql = format!(
            "SELECT {COLUMNS} FROM access_applications WHERE ($1 IS NULL OR resource = $1) AND ($2 IS NULL OR consumer = $2) ORDER BY id DESC LIMIT $3"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(resource)
                .bind(consumer)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    /// Applications `department` is party to, newest first: its own (as
    /// consumer) and those on resources it provides; by resource and/or
    /// consumer too.
    pub async fn access_applications_involving(
        &self,
        department: &str,
        resource: Option<&str>,
        consumer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AccessApplication>> {
        let limit = i64::try_from(limit.min(MAX_ACCESS_RESULTS)).unwrap_or(0);
        let sql = format!(
            "SELECT {COLUMNS} FROM access_applications WHERE (consumer = $1 OR resource IN (SELECT id FROM catalogue WHERE provider = $1)) AND ($2 IS NULL OR resource = $2) AND ($3 IS NULL OR consumer = $3) ORDER BY id DESC LIMIT $4"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(department)
                .bind(resource)
                .bind(consumer)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    /// Counts every change to the catalogue or to applications (a trigger
    /// bumps it), so that a reader reloads the rules only when it moved.
    pub async fn access_generation(&self) -> Result<i64> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar("SELECT value FROM access_generation WHERE id = 1").fetch_one(pool).await?)
        })
    }

    /// Every catalogue resource as the exchange sees it.
    pub async fn exchange_resources(&self) -> Result<Vec<ExchangeResource>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT id, provider, schema, sharing_type, status FROM catalogue")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok(ExchangeResource {
                    id: r.text("id")?,
                    provider: r.text("provider")?,
                    schema: r.text("schema")?,
                    sharing_type: r.text("sharing_type")?,
                    status: r.text("status")?,
                }))
                .collect()
        })
    }

    /// Every approved application (whatever its period).
    pub async fn access_grants(&self) -> Result<Vec<AccessGrant>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT id, resource, consumer, valid_from, valid_until FROM access_applications WHERE status = 'approved'")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok(AccessGrant {
                    id: r.int("id")? as u64,
                    resource: r.text("resource")?,
                    consumer: r.text("consumer")?,
                    valid_from: from_unix(r.int("valid_from")?)?,
                    valid_until: from_unix(r.int("valid_until")?)?,
                }))
                .collect()
        })
    }
}
