//! The two database backends behind one set of methods.
//!
//! `on_db!` runs the same statement text against whichever pool is open;
//! `in_tx!` does the same inside a write transaction (SQLite: `BEGIN
//! IMMEDIATE`, so the one writer takes its lock up front and never fails to
//! upgrade). The body is compiled once per backend.
//!
//! A failed write must leave the store usable once its cause is gone (see
//! [`writer_usable`] and [`pg_usable`]); [`fault_of`] sorts database errors
//! into the store's own failures and everything else.
//!
//! Long generated statements (multi-row inserts) take their parameter marks
//! from one builder, [`Placeholders`]: `?` on SQLite, `$n` on PostgreSQL, as
//! the transaction's [`Dialect`] says. SQLite looks numbered parameters up
//! linearly, which made a 4,000-parameter insert quadratic. The migrations are
//! listed once for both backends (`migrations!`); a test checks that the
//! folders hold exactly the listed files.
//!
//! A failed `COMMIT` on PostgreSQL ends the transaction on the server, and
//! sqlx's queued `ROLLBACK` is then harmless; what needs care there is a
//! connection that is lost or read-only ([`pg_usable`]). A blob store's I/O
//! failure counts as the store unavailable too.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Row, SqlSafeStr};

/// An open database.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// SQLite has one writer at a time. Writes go through a pool of exactly one
/// connection, so that they queue in the pool (and are woken the moment the
/// writer is free) instead of colliding on the database lock and sleeping in
/// SQLite's busy handler; reads go through their own pool, whose connections
/// are `query_only`.
#[derive(Debug, Clone)]
pub(crate) struct SqliteDb {
    pub(crate) read: SqlitePool,
    pub(crate) write: SqlitePool,
    /// Set when `BEGIN IMMEDIATE` or `COMMIT` failed on the writer: the
    /// pool replaces the connection before its next use ([`writer_usable`]).
    pub(crate) writer_failed: Arc<AtomicBool>,
}

impl SqliteDb {
    /// Starts a write transaction on the writer: `BEGIN IMMEDIATE`.
    pub(crate) async fn begin(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .inspect_err(|_| self.writer_failed.store(true, Ordering::Release))
    }

    /// Commits a transaction from [`SqliteDb::begin`].
    pub(crate) async fn commit(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    ) -> Result<(), sqlx::Error> {
        tx.commit()
            .await
            .inspect_err(|_| self.writer_failed.store(true, Ordering::Release))
    }
}

/// Whether the SQLite writer connection may be handed out again (the pool's
/// `before_acquire`, after its ping has run what the last user queued).
///
/// When a write fails for want of space or on an I/O error (SQLITE_FULL,
/// SQLITE_IOERR, also inside `COMMIT`), SQLite rolls the transaction back by
/// itself; sqlx's own rollback then finds none, fails, and leaves its count
/// of open transactions at one, so every later `BEGIN IMMEDIATE` was refused
/// ("non-zero transaction depth") until a restart. And a connection opened
/// while the file could not be written is read-only for good: SQLite falls
/// back to read-only silently. So a connection that sqlx still counts in a
/// transaction, or whose `BEGIN` or `COMMIT` failed, is closed and the pool
/// opens a fresh one, which works as soon as the fault is gone.
pub(crate) fn writer_usable(conn: &sqlx::SqliteConnection, failed: &AtomicBool) -> bool {
    let in_transaction = conn.is_in_transaction();
    let failed = failed.swap(false, Ordering::AcqRel);
    if in_transaction || failed {
        tracing::warn!(
            in_transaction,
            "a write failed: the store's writer connection is replaced"
        );
    }
    !(in_transaction || failed)
}

/// Whether a SQLite reader may be handed out again: not if sqlx still
/// counts a read transaction (the audit snapshot) that SQLite ended by
/// itself, as on the writer; its next `BEGIN` would only open a savepoint,
/// and a rollback to that would leave the connection reading an old
/// snapshot for good.
pub(crate) fn reader_usable(conn: &sqlx::SqliteConnection) -> bool {
    let in_transaction = conn.is_in_transaction();
    if in_transaction {
        tracing::warn!("a read transaction failed: a reader connection is replaced");
    }
    !in_transaction
}

/// Whether a pooled PostgreSQL connection may be handed out again, in the
/// one round trip the pool's ping would take: it must answer, and must not
/// be read-only. A session keeps the `default_transaction_read_only` it
/// started with (set on a database, e.g. by a provider whose disk is nearly
/// full) and a server in recovery stays read-only; such a connection would
/// refuse every write after the database is writable again.
pub(crate) async fn pg_usable(conn: &mut sqlx::PgConnection) -> bool {
    let read_only: Result<String, sqlx::Error> =
        sqlx::query_scalar("SELECT current_setting('transaction_read_only')")
            .fetch_one(conn)
            .await;
    match read_only {
        Ok(v) if v == "off" => true,
        Ok(_) => {
            tracing::warn!("a database connection is read-only: it is replaced");
            false
        }
        Err(e) => {
            tracing::info!(error = %e, "a database connection failed: it is replaced");
            false
        }
    }
}

/// What a database error says about the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The store cannot work now (space, I/O, connection, lock, read-only).
    Unavailable,
    /// The database file or a page of it is damaged.
    Corrupt,
    /// Nothing about the store: the statement failed for its own reasons.
    None,
}

/// Sorts a database error by what it says about the store.
pub(crate) fn fault_of(e: &sqlx::Error) -> Fault {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Fault::Unavailable,
        sqlx::Error::Database(d) => {
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                sqlite_fault(d.code().and_then(|c| c.parse().ok()).unwrap_or(0))
            } else if let Some(e) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                pg_fault(e.code())
            } else {
                Fault::None
            }
        }
        _ => Fault::None,
    }
}

/// SQLite's (extended) result codes: <https://www.sqlite.org/rescode.html>.
fn sqlite_fault(code: i32) -> Fault {
    const ABORT_ROLLBACK: i32 = 516;
    match code & 0xff {
        // BUSY, LOCKED (another process holds the database past the busy
        // timeout), NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL
        5 | 6 | 7 | 8 | 10 | 13 | 14 | 15 => Fault::Unavailable,
        // CORRUPT, NOTADB
        11 | 26 => Fault::Corrupt,
        _ if code == ABORT_ROLLBACK => Fault::Unavailable,
        _ => Fault::None,
    }
}

/// PostgreSQL's SQLSTATEs: <https://www.postgresql.org/docs/current/errcodes-appendix.html>.
fn pg_fault(sqlstate: &str) -> Fault {
    match sqlstate {
        // read_only_sql_transaction, lock_not_available
        "25006" | "55P03" => Fault::Unavailable,
        // data_corrupted, index_corrupted
        "XX001" | "XX002" => Fault::Corrupt,
        // connection exception, insufficient resources (disk full, out of
        // memory, too many connections), operator intervention (shutdown,
        // cannot connect now, cancelled), system error (I/O)
        s if ["08", "53", "57", "58"]
            .iter()
            .any(|class| s.starts_with(class)) =>
        {
            Fault::Unavailable
        }
        _ => Fault::None,
    }
}

/// Runs `$body` with `$pool` bound to a pool for reads.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(db) => {
                let $pool = &db.read;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` (one statement that writes, outside a transaction) with
/// `$pool` bound to a pool for writes.
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(db) => {
                let $pool = &db.write;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a write transaction bound to `$tx`; commits when the
/// body finishes, rolls back when it returns early with an error.
macro_rules! in_tx {
    ($db:expr, $tx:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(db) => {
                let mut $tx = db.begin().await?;
                let out = $body;
                db.commit($tx).await?;
                out
            }
            $crate::db::Db::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Every migration, listed once: version, description, and the file of that
/// name under `migrations/sqlite/` and `migrations/postgres/`. The two
/// backends always have the same migrations; a test checks that the folders
/// hold exactly these files.
macro_rules! migrations {
    ($(($version:literal, $description:literal, $file:literal)),+ $(,)?) => {
        /// Version, description, file name: the list both backends share.
        #[cfg(test)]
        pub(crate) const MIGRATION_FILES: &[(i64, &str, &str)] = &[$(($version, $description, $file)),+];
        const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
            $(($version, $description, include_str!(concat!("../migrations/sqlite/", $file)))),+
        ];
        const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
            $(($version, $description, include_str!(concat!("../migrations/postgres/", $file)))),+
        ];
    };
}

migrations! {
    (1, "licence store", "0001_licence_store.sql"),
    (2, "audit log", "0002_audit_log.sql"),
    (3, "certificates", "0003_certificates.sql"),
    (4, "exchange", "0004_exchange.sql"),
    (5, "exchange blobs", "0005_exchange_blobs.sql"),
    (6, "catalogue", "0006_catalogue.sql"),
    (7, "access applications", "0007_access.sql"),
    (8, "exchange follows the catalogue's access rules", "0008_exchange_access.sql"),
    (9, "exchange statistics", "0009_exchange_statistics.sql"),
    (10, "service items and cases", "0010_items_and_cases.sql"),
    (11, "peer hubs", "0011_peers.sql"),
    (12, "peer trust lists", "0012_peer_trust.sql"),
    (13, "peer resources", "0013_peer_resources.sql"),
    (14, "peer envelopes seen", "0014_peer_envelopes_seen.sql"),
    (15, "licence status index", "0015_licence_status_index.sql"),
    (16, "peer crls", "0016_peer_crls.sql"),
    (17, "audit anchors", "0017_audit_anchors.sql"),
    (18, "exchange quotas", "0018_exchange_quotas.sql"),
    (19, "key purposes", "0019_key_purposes.sql"),
    (20, "api tokens", "0020_api_tokens.sql"),
    (21, "working-day calendar", "0021_calendar.sql"),
    (22, "case supervision", "0022_case_supervision.sql"),
    (23, "work orders", "0023_work_orders.sql"),
    (24, "supervision outbox", "0024_supervision_outbox.sql"),
    (25, "work order routes", "0025_order_routes.sql"),
    (26, "sealed secrets", "0026_sealed_secrets.sql"),
    (27, "hub nodes", "0027_hub_nodes.sql"),
}

fn migrator(list: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

impl Db {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// The marks this backend's long statements use.
    pub(crate) fn marks(&self) -> Marks {
        match self {
            Db::Sqlite(_) => Marks::Anonymous,
            Db::Postgres(_) => Marks::Numbered,
        }
    }

    pub(crate) async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Sqlite(db) => migrator(SQLITE_MIGRATIONS).run(&db.write).await,
            Db::Postgres(pool) => migrator(POSTGRES_MIGRATIONS).run(pool).await,
        }
    }
}

impl Db {
    /// The versions of the migrations this build carries that the
    /// database has not applied successfully (a query of the database,
    /// so it also tells whether the database answers).
    pub(crate) async fn migrations_missing(&self) -> Result<Vec<i64>, sqlx::Error> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let applied: Vec<i64> = match self {
            Db::Sqlite(db) => sqlx::query_scalar(APPLIED).fetch_all(&db.read).await?,
            Db::Postgres(pool) => sqlx::query_scalar(APPLIED).fetch_all(pool).await?,
        };
        Ok(SQLITE_MIGRATIONS
            .iter()
            .map(|(version, _, _)| *version)
            .filter(|v| !applied.contains(v))
            .collect())
    }
}

/// Column access that reads the same on both backends.
pub(crate) trait RowExt {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
}

macro_rules! row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
                self.try_get(column)
            }
        }
    };
}

row_ext!(SqliteRow);
row_ext!(PgRow);

/// How a statement marks its parameters.
///
/// Short statements are written once with `$1`, `$2`, … and run on both
/// backends. Long generated ones (multi-row inserts, `IN` lists) use `?` on
/// SQLite, which looks numbered parameters up by a linear scan per
/// parameter and turns long statements quadratic; PostgreSQL only takes
/// numbered ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marks {
    /// `?`, bound in order (SQLite).
    Anonymous,
    /// `$1`, `$2`, … (PostgreSQL).
    Numbered,
}

/// The backend of an open transaction, known at compile time: the one way
/// code generic over `in_tx!`'s two expansions learns which it runs on.
pub(crate) trait Dialect {
    /// The placeholders its long statements use.
    const MARKS: Marks;
    /// Whether it is PostgreSQL (for statements that differ beyond marks).
    const POSTGRES: bool;
}

impl Dialect for sqlx::Transaction<'_, sqlx::Sqlite> {
    const MARKS: Marks = Marks::Anonymous;
    const POSTGRES: bool = false;
}

impl Dialect for sqlx::Transaction<'_, sqlx::Postgres> {
    const MARKS: Marks = Marks::Numbered;
    const POSTGRES: bool = true;
}

/// The marks `tx`'s backend wants.
pub(crate) fn marks_of<T: Dialect>(_tx: &T) -> Marks {
    T::MARKS
}

/// Whether `tx` runs on PostgreSQL.
pub(crate) fn is_postgres<T: Dialect>(_tx: &T) -> bool {
    T::POSTGRES
}

/// Writes one statement's parameter marks in order: the single place that
/// numbers them.
#[derive(Debug)]
pub(crate) struct Placeholders {
    marks: Marks,
    written: usize,
}

impl Placeholders {
    pub(crate) fn new(marks: Marks) -> Self {
        Self::after(marks, 0)
    }

    /// Marks for a statement whose first `written` parameters are written
    /// by hand.
    pub(crate) fn after(marks: Marks, written: usize) -> Self {
        Placeholders { marks, written }
    }

    /// The next parameter's mark.
    pub(crate) fn next_mark(&mut self) -> String {
        self.written += 1;
        match self.marks {
            Marks::Anonymous => "?".to_owned(),
            Marks::Numbered => format!("${}", self.written),
        }
    }

    /// Appends the next parameter's mark.
    pub(crate) fn push(&mut self, sql: &mut String) {
        self.written += 1;
        match self.marks {
            Marks::Anonymous => sql.push('?'),
            Marks::Numbered => {
                sql.push('$');
                sql.push_str(&self.written.to_string());
            }
        }
    }

    /// Appends `(…)` with `n` marks.
    pub(crate) fn push_tuple(&mut self, sql: &mut String, n: usize) {
        sql.push('(');
        for i in 0..n {
            if i > 0 {
                sql.push(',');
            }
            self.push(sql);
        }
        sql.push(')');
    }
}

/// `INSERT INTO {table} ({columns}) VALUES (…), (…)` for `rows` rows.
pub(crate) fn insert_values_sql(
    table: &str,
    columns: &[&str],
    rows: usize,
    marks: Marks,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut p = Placeholders::new(marks);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        p.push_tuple(&mut sql, columns.len());
    }
    sql
}

/// Unix seconds of an instant, as stored.
pub(crate) fn unix(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// An instant from stored unix seconds.
pub(crate) fn from_unix(s: i64) -> Result<time::OffsetDateTime, crate::StoreError> {
    time::OffsetDateTime::from_unix_timestamp(s)
        .map_err(|e| crate::StoreError::Corrupt(format!("timestamp {s}: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The folders hold exactly the listed files, numbered from 1 without
    /// gaps, and each file's name carries its version.
    #[test]
    fn the_migration_list_names_every_file_of_both_folders() {
        let listed: Vec<&str> = MIGRATION_FILES.iter().map(|(_, _, f)| *f).collect();
        for backend in ["sqlite", "postgres"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend);
            let mut found: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            found.sort();
            assert_eq!(found, listed, "{}", dir.display());
        }
        for (i, (version, _, file)) in MIGRATION_FILES.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1, "{file}");
            assert!(file.starts_with(&format!("{version:04}_")), "{file}");
        }
    }
}
