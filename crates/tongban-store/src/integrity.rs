//! The store's own integrity checks, for `tongban doctor`: the database
//! engine's check of every page, and the list of recorded blobs that the
//! caller fetches and checks one by one.
//!
//! SQLite runs `PRAGMA integrity_check` (every page of every table and
//! index: structure, free list, index entries against their rows, `NOT
//! NULL`, `CHECK`) and `PRAGMA foreign_key_check`. PostgreSQL has no single
//! check: with the `amcheck` extension installed in the database every
//! B-tree index is checked (`bt_index_check`) and every table's pages
//! (`verify_heapam`, TOAST included); without it, every table is read end
//! to end by sequential scans, which fails on a page that has to be read
//! from disk and is damaged (and verifies its checksum when the cluster
//! has data checksums on).
//!
//! [`Store::check_database`] keeps what `integrity_check` listed when SQLite
//! then fails itself on the damage; amcheck does not check GIN indexes; the
//! result says which check ran. [`Store::recorded_blobs`] pages through the
//! blobs the database names.

use futures::TryStreamExt;
use serde::Serialize;
use sqlx::Row;

use crate::db::{Db, RowExt};
use crate::{Result, Store, StoreError};

/// Most problems one database check reports (SQLite stops there too).
pub const MAX_DATABASE_PROBLEMS: usize = 100;

/// Largest page of [`Store::recorded_blobs`].
pub const MAX_BLOB_PAGE: usize = 1_000;

/// What [`Store::check_database`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatabaseCheck {
    /// What was checked, in words.
    pub checked: Vec<String>,
    /// What was not, and why.
    pub unchecked: Vec<String>,
    /// Each damage found (at most [`MAX_DATABASE_PROBLEMS`]); empty when
    /// the database is sound. Each is a `STORE_CORRUPT`.
    pub problems: Vec<String>,
}

impl Store {
    /// Runs the database's own integrity checks (see the module's doc).
    /// A damaged page met on the way is a problem found, not an error; the
    /// store being unavailable is an error.
    pub async fn check_database(&self) -> Result<DatabaseCheck> {
        let mut check = DatabaseCheck::default();
        let found = match &self.db {
            Db::Sqlite(db) => sqlite(&db.read, &mut check).await,
            Db::Postgres(pool) => postgres(pool, &mut check).await,
        };
        match found {
            Ok(()) => {}
            Err(e @ StoreError::Corrupt(_)) => check.problems.push(e.to_string()),
            Err(e) => return Err(e),
        }
        check.problems.truncate(MAX_DATABASE_PROBLEMS);
        Ok(check)
    }

    /// How many blobs the database records.
    pub async fn blob_count(&self) -> Result<u64> {
        let n: i64 = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM blobs").fetch_one(pool).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Recorded blobs as `(sha256, size)`, in digest order after `after`
    /// (from the start when empty), at most `limit` (≤ [`MAX_BLOB_PAGE`]).
    pub async fn recorded_blobs(&self, after: &str, limit: usize) -> Result<Vec<(String, u64)>> {
        let limit = i64::try_from(limit.min(MAX_BLOB_PAGE)).unwrap_or(0);
        on_db!(&self.db, pool => {
            let rows = sqlx::query("SELECT sha256, size FROM blobs WHERE sha256 > $1 ORDER BY sha256 LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.text("sha256")?, u64::try_from(r.int("size")?).unwrap_or(0))))
                .collect()
        })
    }
}

async fn sqlite(pool: &sqlx::SqlitePool, check: &mut DatabaseCheck) -> Result<()> {
    let limit = format!("PRAGMA integrity_check({MAX_DATABASE_PROBLEMS})");
    let mut rows = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(limit)).fetch(pool);
    check
        .checked
        .push("every page, table and index (PRAGMA integrity_check)".into());
    // On some damage the check lists what it found, then fails itself.
    while let Some(row) = rows.try_next().await.transpose() {
        match row.map_err(StoreError::from) {
            Ok(r) if r == "ok" => {}
            Ok(r) => check.problems.push(r),
            Err(StoreError::Corrupt(message)) => {
                check.problems.push(message);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    drop(rows);
    let orphans = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(pool)
        .await?;
    check
        .checked
        .push("every reference between tables (PRAGMA foreign_key_check)".into());
    for row in orphans.iter().take(MAX_DATABASE_PROBLEMS) {
        let table: String = row.try_get(0)?;
        let rowid: Option<i64> = row.try_get(1)?;
        let parent: String = row.try_get(2)?;
        check.problems.push(format!(
            "row {} of {table} names a row of {parent} that does not exist",
            rowid.map_or_else(|| "?".to_owned(), |r| r.to_string())
        ));
    }
    Ok(())
}

async fn postgres(pool: &sqlx::PgPool, check: &mut DatabaseCheck) -> Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let amcheck: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'amcheck'")
            .fetch_optional(pool)
            .await?;
    let Some(version) = amcheck else {
        read_every_table(pool, &tables, check).await?;
        check.unchecked.push(
            "index pages and pages already in PostgreSQL's buffers: install amcheck in this \
             database (CREATE EXTENSION amcheck, as a superuser) to check every page"
                .into(),
        );
        return Ok(());
    };
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_am a ON a.oid = c.relam \
         WHERE n.nspname = current_schema() AND c.relkind = 'i' AND a.amname = 'btree' ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    for index in &indexes {
        if let Err(e) = sqlx::query("SELECT bt_index_check($1::regclass)")
            .bind(index)
            .execute(pool)
            .await
        {
            damaged(check, &format!("index {index}"), e)?;
        }
    }
    check.checked.push(format!(
        "{} B-tree indexes (amcheck {version}, bt_index_check); GIN indexes are not checked",
        indexes.len()
    ));
    let heap: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'verify_heapam')")
            .fetch_one(pool)
            .await?;
    if !heap {
        read_every_table(pool, &tables, check).await?;
        check.unchecked.push(format!(
            "table pages by amcheck {version} (verify_heapam needs 1.3)"
        ));
        return Ok(());
    }
    for table in &tables {
        let found = sqlx::query(
            "SELECT blkno, offnum, msg FROM verify_heapam($1::regclass, check_toast => true) LIMIT $2",
        )
        .bind(table)
        .bind(MAX_DATABASE_PROBLEMS as i64)
        .fetch_all(pool)
        .await;
        match found {
            Ok(rows) => {
                for row in rows {
                    let block: i64 = row.try_get("blkno")?;
                    let offset: Option<i32> = row.try_get("offnum")?;
                    let message: String = row.try_get("msg")?;
                    check.problems.push(format!(
                        "table {table}, page {block}, item {}: {message}",
                        offset.map_or_else(|| "-".to_owned(), |o| o.to_string())
                    ));
                }
            }
            Err(e) => damaged(check, &format!("table {table}"), e)?,
        }
    }
    check.checked.push(format!(
        "every page of {} tables, TOAST included (amcheck {version}, verify_heapam)",
        tables.len()
    ));
    Ok(())
}

/// Reads every row of every table by sequential scans, each table in its
/// own read-only transaction (an error ends it).
async fn read_every_table(
    pool: &sqlx::PgPool,
    tables: &[String],
    check: &mut DatabaseCheck,
) -> Result<()> {
    for table in tables {
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(
            "SET TRANSACTION READ ONLY; SET LOCAL enable_indexscan = off; \
             SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_bitmapscan = off",
        )
        .execute(&mut *tx)
        .await?;
        // Names come from the catalogue, quoted by `regclass::text`.
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let read = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *tx)
            .await;
        match read {
            Ok(_) => tx.rollback().await?,
            Err(e) => damaged(check, &format!("table {table}"), e)?,
        }
    }
    check.checked.push(format!(
        "every row of {} tables, read by sequential scans",
        tables.len()
    ));
    Ok(())
}

/// A check that failed: damage found (a problem), or an error to pass on.
fn damaged(check: &mut DatabaseCheck, what: &str, e: sqlx::Error) -> Result<()> {
    match StoreError::from(e) {
        StoreError::Corrupt(message) => {
            check.problems.push(format!("{what}: {message}"));
            Ok(())
        }
        other => Err(other),
    }
}
