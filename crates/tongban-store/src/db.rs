//! The two database backends behind one set of methods.
//!
//! `on_db!` runs the same statement text against whichever pool is open;
//! `in_tx!` does the same inside a write transaction (SQLite: `BEGIN
//! IMMEDIATE`, so the one writer takes its lock up front and never fails to
//! upgrade). The body is compiled once per backend.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};

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
                let mut $tx = db.write.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
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

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "licence store",
        include_str!("../migrations/sqlite/0001_licence_store.sql"),
    ),
    (
        2,
        "audit log",
        include_str!("../migrations/sqlite/0002_audit_log.sql"),
    ),
    (
        3,
        "certificates",
        include_str!("../migrations/sqlite/0003_certificates.sql"),
    ),
    (
        4,
        "exchange",
        include_str!("../migrations/sqlite/0004_exchange.sql"),
    ),
    (
        5,
        "exchange blobs",
        include_str!("../migrations/sqlite/0005_exchange_blobs.sql"),
    ),
    (
        6,
        "catalogue",
        include_str!("../migrations/sqlite/0006_catalogue.sql"),
    ),
    (
        7,
        "access applications",
        include_str!("../migrations/sqlite/0007_access.sql"),
    ),
    (
        8,
        "exchange follows the catalogue's access rules",
        include_str!("../migrations/sqlite/0008_exchange_access.sql"),
    ),
    (
        9,
        "exchange statistics",
        include_str!("../migrations/sqlite/0009_exchange_statistics.sql"),
    ),
    (
        10,
        "service items and cases",
        include_str!("../migrations/sqlite/0010_items_and_cases.sql"),
    ),
    (
        11,
        "peer hubs",
        include_str!("../migrations/sqlite/0011_peers.sql"),
    ),
    (
        12,
        "peer trust lists",
        include_str!("../migrations/sqlite/0012_peer_trust.sql"),
    ),
    (
        13,
        "peer resources",
        include_str!("../migrations/sqlite/0013_peer_resources.sql"),
    ),
    (
        14,
        "peer envelopes seen",
        include_str!("../migrations/sqlite/0014_peer_envelopes_seen.sql"),
    ),
    (
        15,
        "licence status index",
        include_str!("../migrations/sqlite/0015_licence_status_index.sql"),
    ),
    (
        16,
        "peer crls",
        include_str!("../migrations/sqlite/0016_peer_crls.sql"),
    ),
    (
        17,
        "audit anchors",
        include_str!("../migrations/sqlite/0017_audit_anchors.sql"),
    ),
    (
        19,
        "exchange quotas",
        include_str!("../migrations/sqlite/0019_exchange_quotas.sql"),
    ),
    (
        22,
        "key purposes",
        include_str!("../migrations/sqlite/0022_key_purposes.sql"),
    ),
];

const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "licence store",
        include_str!("../migrations/postgres/0001_licence_store.sql"),
    ),
    (
        2,
        "audit log",
        include_str!("../migrations/postgres/0002_audit_log.sql"),
    ),
    (
        3,
        "certificates",
        include_str!("../migrations/postgres/0003_certificates.sql"),
    ),
    (
        4,
        "exchange",
        include_str!("../migrations/postgres/0004_exchange.sql"),
    ),
    (
        5,
        "exchange blobs",
        include_str!("../migrations/postgres/0005_exchange_blobs.sql"),
    ),
    (
        6,
        "catalogue",
        include_str!("../migrations/postgres/0006_catalogue.sql"),
    ),
    (
        7,
        "access applications",
        include_str!("../migrations/postgres/0007_access.sql"),
    ),
    (
        8,
        "exchange follows the catalogue's access rules",
        include_str!("../migrations/postgres/0008_exchange_access.sql"),
    ),
    (
        9,
        "exchange statistics",
        include_str!("../migrations/postgres/0009_exchange_statistics.sql"),
    ),
    (
        10,
        "service items and cases",
        include_str!("../migrations/postgres/0010_items_and_cases.sql"),
    ),
    (
        11,
        "peer hubs",
        include_str!("../migrations/postgres/0011_peers.sql"),
    ),
    (
        12,
        "peer trust lists",
        include_str!("../migrations/postgres/0012_peer_trust.sql"),
    ),
    (
        13,
        "peer resources",
        include_str!("../migrations/postgres/0013_peer_resources.sql"),
    ),
    (
        14,
        "peer envelopes seen",
        include_str!("../migrations/postgres/0014_peer_envelopes_seen.sql"),
    ),
    (
        15,
        "licence status index",
        include_str!("../migrations/postgres/0015_licence_status_index.sql"),
    ),
    (
        16,
        "peer crls",
        include_str!("../migrations/postgres/0016_peer_crls.sql"),
    ),
    (
        17,
        "audit anchors",
        include_str!("../migrations/postgres/0017_audit_anchors.sql"),
    ),
    (
        19,
        "exchange quotas",
        include_str!("../migrations/postgres/0019_exchange_quotas.sql"),
    ),
    (
        22,
        "key purposes",
        include_str!("../migrations/postgres/0022_key_purposes.sql"),
    ),
];

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

    pub(crate) async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Sqlite(db) => migrator(SQLITE_MIGRATIONS).run(&db.write).await,
            Db::Postgres(pool) => migrator(POSTGRES_MIGRATIONS).run(pool).await,
        }
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

/// Which placeholder style a transaction's backend wants in long statements.
pub(crate) trait Dialect {
    /// `$n` (PostgreSQL) rather than `?` (SQLite).
    const NUMBERED: bool;
}

impl Dialect for sqlx::Transaction<'_, sqlx::Sqlite> {
    const NUMBERED: bool = false;
}

impl Dialect for sqlx::Transaction<'_, sqlx::Postgres> {
    const NUMBERED: bool = true;
}

/// Whether `tx` wants numbered placeholders.
pub(crate) fn numbered_placeholders<T: Dialect>(_tx: &T) -> bool {
    T::NUMBERED
}

/// `INSERT INTO {table} ({columns}) VALUES (…), (…)` for `rows` rows.
///
/// SQLite looks numbered parameters up by a linear scan per parameter, which
/// turns long statements quadratic; anonymous `?` ones bind in order.
pub(crate) fn insert_values_sql(
    table: &str,
    columns: &[&str],
    rows: usize,
    numbered: bool,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push(',');
            }
            if numbered {
                n += 1;
                sql.push('$');
                sql.push_str(&n.to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
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
