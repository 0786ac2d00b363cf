//! Persistence for Tongban: one storage contract, two backends.
//!
//! * embedded default: one SQLite file (WAL, one writer) and a local blob
//!   directory, no external service;
//! * scale-out: PostgreSQL and an S3-compatible object store, shared by
//!   several hub nodes.
//!
//! The same SQL (with `$n` placeholders, which both drivers understand) runs
//! on both where the dialects agree; DDL and the few statements where they
//! differ are kept per backend. Every multi-row change is one transaction.
//!
//! Invariant: a blob is durable (file and directory synced) before any row
//! that names it commits; a licence row and everything that must accompany
//! it commit together or not at all.
//!
//! Tables, by area: departments, signing_keys (public halves), schemas,
//! issuer_counters, licences, licence_status_events, licence_uses +
//! licence_use_items (用证记录), blobs, settings, audit_head + audit_log +
//! audit_checkpoints + audit_key_endorsements, certificates, catalogue +
//! catalogue_versions, access_applications + access_generation, messages +
//! message_head + deliveries + subscriptions, blob_holders, exchange_refusals,
//! service_items + cases, peers + peer_trust + peer_resources +
//! peer_envelopes_seen + peer_crls, api_tokens. (`status_lists`, created by
//! migration 0001, is read by nothing: status lists are built from
//! `licences.status`.) The
//! migrations are per backend (`migrations/sqlite`, `migrations/postgres`),
//! listed once in `db`, embedded and run on open. How SQLite's single writer
//! and its WAL checkpoints are run, and the measurements behind them, are in
//! `docs/NOTES.md`.
#![forbid(unsafe_code)]

#[macro_use]
mod db;
#[macro_use]
mod audit;
#[macro_use]
mod outbox;
mod access;
mod alerts;
mod blobs;
mod bulk;
mod calendar;
mod cases;
mod catalogue;
mod certificates;
mod cluster;
mod commit;
mod departments;
mod exchange;
mod hotline;
mod integrity;
mod keys;
mod licences;
mod peers;
mod schemas;
mod secrets;
mod statistics;
mod supervision;
mod tokens;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use access::{
    AccessApplication, AccessDecision, AccessGrant, ExchangeResource, MAX_ACCESS_RESULTS,
};
pub use alerts::{MAX_OPEN_CASES_PAGE, NoticeRow, OpenCase};
pub use audit::{AuditEntry, AuditRecord, AuditSnapshot, Checkpoint, KeyEndorsement};
pub use blobs::{BlobStore, MAX_BLOB_BYTES, S3Config, S3Credentials, sha256_hex};
pub use calendar::CalendarRow;
pub use cases::{CaseRow, MAX_CASE_RESULTS, ServiceItemRow};
pub use catalogue::{
    CatalogueEntry, CatalogueField, CatalogueFilter, MAX_CATALOGUE_RESULTS, MAX_SEARCH_TERMS,
    index_tokens,
};
pub use certificates::CertificateRow;
pub use cluster::{MAX_NOTIFY_PAYLOAD, Notifications, RelayAnswer, RelayRequest};
pub use departments::{DepartmentRow, DepartmentStatus, PlatformLevel};
pub use exchange::{Accepted, AckSet, BlobInfo, BlobReach, MAX_ACCEPT_BATCH, NewMessage};
pub use hotline::{OrderCounts, OrderRouteRow, WorkOrderRow, WorkOrderStepRow};
pub use integrity::{DatabaseCheck, MAX_BLOB_PAGE, MAX_DATABASE_PROBLEMS};
pub use keys::KeyRow;
pub use licences::{LicenceRow, LicenceState, StatusEvent, StatusEventRow, UseRecord, UseRow};
pub use outbox::{MAX_OUTBOX_BATCH, OutboxRow};
pub use peers::{PeerRow, PeerTrustRow};
pub use schemas::{SchemaInsert, SchemaRow};
pub use secrets::SealedRow;
pub use statistics::{
    DepartmentStats, ExchangeStats, MAX_RECORDS_PAGE, RefusalCount, ResourceStats,
};
pub use supervision::{CaseCounts, CaseEventRow, SupervisedCaseRow};
pub use tokens::TokenRow;

use db::Db;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A database statement failed for a reason of its own (a constraint,
    /// a value that would not encode): the store itself is sound.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// The store cannot take or give data now: its disk is full or
    /// read-only, an I/O error, a lost or refused database connection, no
    /// connection in time, the database locked by another process. Nothing
    /// was written; the same call can succeed once the fault is cleared,
    /// without reopening the store.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migration(sqlx::migrate::MigrateError),
    /// The blob store refused a value (not a digest, over the size limit).
    #[error("blob store: {0}")]
    Blob(String),
    /// Stored data could not be read back: a damaged database page or file,
    /// a blob whose bytes changed, a value in a newer format.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A configuration value is not usable.
    #[error("store configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Database(_) => "STORE_DATABASE",
            StoreError::Unavailable(_) => "STORE_UNAVAILABLE",
            StoreError::Migration(_) => "STORE_MIGRATION",
            StoreError::Blob(_) => "STORE_BLOB",
            StoreError::Corrupt(_) => "STORE_CORRUPT",
            StoreError::Config(_) => "STORE_CONFIG",
        }
    }

    /// Whether the storage itself failed (unavailable or damaged), as
    /// opposed to a refused value or a fault in the caller.
    pub fn is_storage_fault(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Corrupt(_))
    }
}

/// A migration that failed because the store did (a damaged page, a full
/// disk) says so; other failures are the migration's.
impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        match e {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _)
                if db::fault_of(&e) != db::Fault::None =>
            {
                e.into()
            }
            other => StoreError::Migration(other),
        }
    }
}

/// Database errors are sorted by what they say about the store: see
/// [`db::fault_of`].
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match db::fault_of(&e) {
            db::Fault::Unavailable => StoreError::Unavailable(Box::new(e)),
            db::Fault::Corrupt => StoreError::Corrupt(format!("database: {e}")),
            db::Fault::None => StoreError::Database(e),
        }
    }
}

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How hard commits push to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives power loss: every commit is fsynced (SQLite `synchronous=FULL`).
    #[default]
    PowerLoss,
    /// Survives a killed process, not power loss (SQLite WAL `synchronous=NORMAL`).
    ProcessCrash,
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL, e.g. `postgres://tongban@127.0.0.1/tongban`.
    Postgres(String),
}

impl DatabaseConfig {
    /// Parses `sqlite:PATH`, a plain path, or a `postgres://` URL.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            DatabaseConfig::Postgres(s.to_owned())
        } else {
            DatabaseConfig::Sqlite(PathBuf::from(s.strip_prefix("sqlite:").unwrap_or(s)))
        }
    }
}

/// Where blobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    /// A local directory (created if missing).
    Local(PathBuf),
    /// An S3-compatible bucket (it must exist).
    S3(S3Config),
}

/// Everything needed to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The database.
    pub database: DatabaseConfig,
    /// The blobs.
    pub blobs: BlobConfig,
    /// Commit durability.
    pub durability: Durability,
    /// Largest number of pooled connections (PostgreSQL; SQLite readers).
    pub max_connections: u32,
    /// SQLite: WAL frames (pages) beyond which the background checkpointer
    /// restarts the WAL, waiting for the writer (default [`WAL_RESTART_FRAMES`]:
    /// 4,096 frames, 16 MiB at SQLite's 4 KiB pages).
    pub wal_restart_frames: i64,
    /// Local blobs: a staging file nothing has written to for this long is
    /// left by a write that never finished, and is removed when the store
    /// opens and once more this long after (default 60 s).
    pub blob_staging_grace: Duration,
}

impl StoreConfig {
    /// A database and a blob store, with the default settings.
    pub fn new(database: DatabaseConfig, blobs: BlobConfig) -> Self {
        StoreConfig {
            database,
            blobs,
            durability: Durability::default(),
            max_connections: 8,
            wal_restart_frames: WAL_RESTART_FRAMES,
            blob_staging_grace: BLOB_STAGING_GRACE,
        }
    }

    /// The embedded default under a data directory: `tongban.db` and `blobs/`.
    pub fn embedded(data_dir: &Path) -> Self {
        StoreConfig::new(
            DatabaseConfig::Sqlite(data_dir.join("tongban.db")),
            BlobConfig::Local(data_dir.join("blobs")),
        )
    }
}

/// The store: database and blobs.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    blobs: BlobStore,
}

/// The SQLite file at `path`: one writer, a pool of `query_only` readers,
/// and the background checkpointer.
async fn open_sqlite(path: &Path, config: &StoreConfig) -> Result<db::SqliteDb> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Config(format!("{}: {e}", parent.display())))?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match config.durability {
            Durability::PowerLoss => SqliteSynchronous::Full,
            Durability::ProcessCrash => SqliteSynchronous::Normal,
        })
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        // Page caches: see READ_CACHE, WRITE_CACHE. Commits never
        // checkpoint the WAL (that would stall the committer for the whole
        // copy and its fsync): a background task does, see `checkpointer`.
        .pragma("cache_size", READ_CACHE)
        .pragma("wal_autocheckpoint", "0")
        .pragma("temp_store", "memory");
    // The writer first: it creates the file and the WAL.
    let writer_failed = Arc::new(AtomicBool::new(false));
    let failed = Arc::clone(&writer_failed);
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .before_acquire(move |conn, _| {
            let usable = db::writer_usable(conn, &failed);
            Box::pin(async move { Ok(usable) })
        })
        .connect_with(options.clone().pragma("cache_size", WRITE_CACHE))
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .before_acquire(|conn, _| {
            let usable = db::reader_usable(conn);
            Box::pin(async move { Ok(usable) })
        })
        .connect_with(options.pragma("query_only", "true"))
        .await?;
    restrict_permissions(path);
    let db = db::SqliteDb {
        read,
        write,
        writer_failed,
    };
    tokio::spawn(checkpointer(db.clone(), config.wal_restart_frames));
    Ok(db)
}

/// A pool on the PostgreSQL database at `url`.
async fn open_postgres(url: &str, config: &StoreConfig) -> Result<sqlx::postgres::PgPool> {
    let options = PgConnectOptions::from_str(url)?;
    let options = match config.durability {
        Durability::PowerLoss => options,
        Durability::ProcessCrash => options.options([("synchronous_commit", "off")]),
    };
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .acquire_timeout(Duration::from_secs(30))
        // `pg_usable` is the ping, with a read-only check.
        .test_before_acquire(false)
        .before_acquire(|conn, _| Box::pin(async move { Ok(db::pg_usable(conn).await) }))
        .connect_with(options)
        .await?)
}

impl Store {
    /// Opens (creating and migrating if needed) the store.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let db = match &config.database {
            DatabaseConfig::Sqlite(path) => Db::Sqlite(open_sqlite(path, config).await?),
            DatabaseConfig::Postgres(url) => Db::Postgres(open_postgres(url, config).await?),
        };
        db.migrate().await?;
        let blobs = BlobStore::open(&config.blobs).await?;
        // Staging files younger than the grace may belong to a process that
        // died just before this one started: look again once it has passed.
        let grace = config.blob_staging_grace;
        sweep_staging(&blobs, grace).await;
        let later = blobs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            sweep_staging(&later, grace).await;
        });
        Ok(Store { db, blobs })
    }

    /// Reads one setting without opening the store: nothing is created or
    /// migrated. `None` when the database, its settings or the setting do
    /// not exist (e.g. to tell a hub's database from a new or empty one).
    pub async fn peek_setting(database: &DatabaseConfig, name: &str) -> Result<Option<String>> {
        use sqlx::Connection;
        const HAS_SETTINGS_SQLITE: &str =
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'settings'";
        const HAS_SETTINGS_POSTGRES: &str = "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = 'settings'";
        const READ: &str = "SELECT value FROM settings WHERE name = $1";
        match database {
            DatabaseConfig::Sqlite(path) => {
                if !path.exists() {
                    return Ok(None);
                }
                let options = SqliteConnectOptions::new().filename(path).read_only(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
                let tables: i64 = sqlx::query_scalar(HAS_SETTINGS_SQLITE)
                    .fetch_one(&mut conn)
                    .await?;
                let value = match tables {
                    0 => None,
                    _ => {
                        sqlx::query_scalar(READ)
                            .bind(name)
                            .fetch_optional(&mut conn)
                            .await?
                    }
                };
                conn.close().await?;
                Ok(value)
            }
            DatabaseConfig::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                let tables: i64 = sqlx::query_scalar(HAS_SETTINGS_POSTGRES)
                    .fetch_one(&mut conn)
                    .await?;
                let value = match tables {
                    0 => None,
                    _ => {
                        sqlx::query_scalar(READ)
                            .bind(name)
                            .fetch_optional(&mut conn)
                            .await?
                    }
                };
                conn.close().await?;
                Ok(value)
            }
        }
    }

    /// Whether the store can serve: the database answers a query and has
    /// applied every migration this build carries (`StoreError::Unavailable`
    /// when it does not answer, `StoreError::Config` naming the missing
    /// migrations).
    pub async fn ready(&self) -> Result<()> {
        let missing = self.db.migrations_missing().await?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Config(format!(
                "migrations not applied: {missing:?}"
            )))
        }
    }

    /// Which backend this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.db.name()
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Reads a setting.
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        let value: Option<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(value)
    }

    /// Writes a setting.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        on_writer!(&self.db, pool => {
            sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
                .bind(name)
                .bind(value)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Closes the pools, waiting for checked-out connections.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(db) => {
                db.read.close().await;
                db.write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Page cache of each reading connection: 64 MiB.
const READ_CACHE: &str = "-65536";

/// Page cache of the writing connection: 8 MiB. Every commit ends by
/// trimming the connection's page cache, at a cost that grows with it: at
/// 4,000 messages/s a 64 MiB writer cache spent about a tenth of the
/// writer's time there, and the median commit took 9–10 ms against
/// 6.5–7.5 ms with 8 MiB (same runs, same machine).
const WRITE_CACHE: &str = "-8192";

/// How often the WAL is checkpointed in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The default [`StoreConfig::wal_restart_frames`]: 4 Ki frames, 16 MiB
/// with 4 KiB pages. Under light or bursty load the WAL restarts by itself
/// (the writer starts over once a passive checkpoint has caught up and no
/// reader still uses it); under sustained load some reader nearly always
/// does, and the WAL grows until this bound. The restart then holds the
/// writer while it waits for readers and syncs: measured at 4,300
/// messages/s, a 64 Ki-frame bound stalled commits for 0.2–0.3 s every few
/// seconds (accept p99 ≈ 240 ms), 4 Ki frames for less (p99 ≈ 135 ms), and
/// 1 Ki frames restarted so often that the median doubled. What stalls is
/// the restart's own copy and fsync of the database file under the
/// writer's lock, not waiting for readers: at 4,000 messages/s, restart
/// attempts that refused to wait for readers all succeeded at once and the
/// commits around them still took 60–85 ms.
pub const WAL_RESTART_FRAMES: i64 = 4_096;

/// The default [`StoreConfig::blob_staging_grace`]: a live write renames
/// its staging file within moments of its last byte (one write, one sync).
pub const BLOB_STAGING_GRACE: Duration = Duration::from_secs(60);

/// [`BlobStore::sweep_staging`] on a blocking thread (it lists every
/// blob). A failure is only logged: the files cost space, not correctness.
async fn sweep_staging(blobs: &BlobStore, grace: Duration) {
    let blobs = blobs.clone();
    match tokio::task::spawn_blocking(move || blobs.sweep_staging(grace)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, code = e.code(), "removing blob staging files failed")
        }
        Err(e) => tracing::warn!(error = %e, "removing blob staging files failed"),
    }
}

/// Copies the WAL back into the database in the background, away from the
/// committing connection. A passive checkpoint never blocks the writer; when
/// the WAL has grown past `restart_frames` anyway (writes outpacing the
/// copy), one checkpoint takes the writer's turn and restarts it. Ends when
/// the store is closed.
async fn checkpointer(db: db::SqliteDb, restart_frames: i64) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut restarted_at = 0;
    loop {
        tick.tick().await;
        if db.write.is_closed() || db.read.is_closed() {
            return;
        }
        // (busy, frames in the WAL, frames checkpointed)
        let passive: std::result::Result<(i64, i64, i64), sqlx::Error> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&db.read)
                .await;
        if let Ok((busy, frames, done)) = &passive {
            tracing::debug!(busy, frames, done, "WAL checkpoint");
        }
        match passive {
            Ok((_, frames, _)) if frames > restart_frames && frames != restarted_at => {
                // (The WAL starts over with the next write; until then
                // the count stays where it was and needs no second restart.)
                restarted_at = frames;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                    .execute(&db.write)
                    .await
                {
                    tracing::warn!(error = %e, "WAL checkpoint (restart) failed");
                }
            }
            Ok(_) => {}
            Err(_) if db.read.is_closed() => return,
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// The database file and its WAL are readable by the owner only.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
