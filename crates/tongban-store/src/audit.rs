//! The audit log: appended in the same transaction as the action it records.

use serde_json::Value;
use tongban_seal::chain::{EntryContent, entry_hash};

use crate::db::RowExt;
use crate::{KeyRow, Result, Store, StoreError};

/// Rows per multi-row INSERT when appending.
pub(crate) const INSERT_CHUNK: usize = 500;

/// An action to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// When.
    pub at: time::OffsetDateTime,
    /// Who (department code, operator, `hub`).
    pub actor: String,
    /// What, e.g. `licence.issue`, `dept.add`, `key.revoke`.
    pub action: String,
    /// On what (licence identifier, department code, key id, ...).
    pub subject: String,
    /// Details (stored as canonical JSON).
    pub detail: Value,
}

impl AuditRecord {
    /// Builds a record.
    pub fn new(
        at: time::OffsetDateTime,
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        detail: Value,
    ) -> Self {
        AuditRecord {
            at,
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail,
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// Canonical JSON details.
    pub detail: String,
    /// The previous entry's hash.
    pub prev_hash: [u8; 32],
    /// This entry's hash.
    pub hash: [u8; 32],
}

impl AuditEntry {
    /// The hashed content.
    pub fn content(&self) -> EntryContent<'_> {
        EntryContent {
            seq: self.seq,
            at_ms: self.at_ms,
            actor: &self.actor,
            action: &self.action,
            subject: &self.subject,
            detail: &self.detail,
        }
    }
}

/// A signed checkpoint over the chain up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The entry covered.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// When signed (Unix milliseconds).
    pub at_ms: i64,
    /// The checkpoint interval it was signed under (0: signed before the
    /// interval was part of the message).
    pub interval: u64,
    /// The hub key that signed (Multikey).
    pub key_id: String,
    /// Ed25519 signature.
    pub signature: Vec<u8>,
}

/// A hub key's endorsement by an earlier hub key (see
/// `tongban_seal::chain::Endorsement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEndorsement {
    /// The endorsed key (Multikey).
    pub key_id: String,
    /// The key that signed (Multikey).
    pub endorsed_by: String,
    /// When (Unix milliseconds).
    pub at_ms: i64,
    /// Ed25519 signature.
    pub signature: Vec<u8>,
}

pub(crate) fn hash32(bytes: Vec<u8>, what: &str) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

/// Entries with their hashes, chained after `prev` from `first`.
pub(crate) fn chain_records(
    records: &[AuditRecord],
    first: u64,
    mut prev: [u8; 32],
) -> Vec<AuditEntry> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let detail =
                String::from_utf8(tongban_seal::jcs::canonicalize(&r.detail)).unwrap_or_default();
            let mut entry = AuditEntry {
                seq: first + i as u64,
                at_ms: (r.at.unix_timestamp_nanos() / 1_000_000) as i64,
                actor: r.actor.clone(),
                action: r.action.clone(),
                subject: r.subject.clone(),
                detail,
                prev_hash: prev,
                hash: [0; 32],
            };
            entry.hash = entry_hash(&prev, &entry.content());
            prev = entry.hash;
            entry
        })
        .collect()
}

/// Columns of an audit insert, in bind order.
pub(crate) const AUDIT_COLUMNS: &[&str] = &[
    "seq",
    "at_ms",
    "actor",
    "action",
    "subject",
    "detail",
    "prev_hash",
    "hash",
];

/// Appending to the chain inside an open transaction, per backend.
pub(crate) trait AuditAppend {
    /// Appends `records`; returns the last sequence number (0 when empty).
    ///
    /// Updating the head row first serialises appenders on both backends
    /// (the row lock is held until commit), so the chain never forks.
    async fn append_audit(&mut self, records: &[AuditRecord]) -> Result<u64>;
}

macro_rules! impl_audit_append {
    ($db:ty) => {
        impl AuditAppend for sqlx::Transaction<'_, $db> {
            async fn append_audit(&mut self, records: &[AuditRecord]) -> Result<u64> {
                if records.is_empty() {
                    return Ok(0);
                }
                let row = sqlx::query(
                    "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
                )
                .bind(records.len() as i64)
                .fetch_one(&mut **self)
                .await?;
                let last = row.int("seq")? as u64;
                let prev = hash32(row.bytes("hash")?, "audit head")?;
                let first = last + 1 - records.len() as u64;
                let entries = chain_records(records, first, prev);
                for chunk in entries.chunks(INSERT_CHUNK) {
                    let sql = crate::db::insert_values_sql(
                        "audit_log",
                        AUDIT_COLUMNS,
                        chunk.len(),
                        crate::db::marks_of(self),
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for e in chunk {
                        q = q
                            .bind(e.seq as i64)
                            .bind(e.at_ms)
                            .bind(&e.actor)
                            .bind(&e.action)
                            .bind(&e.subject)
                            .bind(&e.detail)
                            .bind(&e.prev_hash[..])
                            .bind(&e.hash[..]);
                    }
                    q.execute(&mut **self).await?;
                }
                let head = entries.last().map_or(prev, |e| e.hash);
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&head[..])
                    .execute(&mut **self)
                    .await?;
                Ok(last)
            }
        }
    };
}

impl_audit_append!(sqlx::Sqlite);
impl_audit_append!(sqlx::Postgres);

/// Executes `$query` in `$tx` and, when it changed exactly one row, appends
/// `$audit`; evaluates to the number of rows changed.
macro_rules! execute_audited {
    ($tx:ident, $query:expr, $audit:expr) => {{
        let done = $query.execute(&mut *$tx).await?.rows_affected();
        if done == 1 {
            append_audit!($tx, $audit);
        }
        done
    }};
}

/// Appends `$records` to the chain inside the open transaction `$tx`.
macro_rules! append_audit {
    ($tx:ident, $records:expr) => {
        $crate::audit::AuditAppend::append_audit(&mut $tx, $records).await?
    };
}

fn entry_from_row(row: &impl RowExt) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.int("seq")? as u64,
        at_ms: row.int("at_ms")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        subject: row.text("subject")?,
        detail: row.text("detail")?,
        prev_hash: hash32(row.bytes("prev_hash")?, "prev_hash")?,
        hash: hash32(row.bytes("hash")?, "hash")?,
    })
}

fn checkpoint_from_row(row: &impl RowExt) -> Result<Checkpoint> {
    Ok(Checkpoint {
        seq: row.int("seq")? as u64,
        hash: hash32(row.bytes("hash")?, "checkpoint hash")?,
        at_ms: row.int("at_ms")?,
        interval: row.int("interval_entries")? as u64,
        key_id: row.text("key_id")?,
        signature: row.bytes("signature")?,
    })
}

fn key_with_endorsement(row: &impl RowExt) -> Result<(KeyRow, Option<KeyEndorsement>)> {
    let key = crate::keys::from_row(row)?;
    let endorsement = match row.opt_text("endorsed_by")? {
        Some(endorsed_by) => Some(KeyEndorsement {
            key_id: key.key_id.clone(),
            endorsed_by,
            at_ms: row.int("endorsed_at_ms")?,
            signature: row.bytes("endorsement")?,
        }),
        None => None,
    };
    Ok((key, endorsement))
}

const ENTRY_COLUMNS: &str = "seq, at_ms, actor, action, subject, detail, prev_hash, hash";
const CHECKPOINT_COLUMNS: &str = "seq, hash, at_ms, interval_entries, key_id, signature";

impl Store {
    /// Appends records in their own transaction; returns the last sequence number.
    pub async fn append_audit(&self, records: &[AuditRecord]) -> Result<u64> {
        let last = in_tx!(&self.db, tx => append_audit!(tx, records));
        Ok(last)
    }

    /// The chain's head: last sequence number and its hash.
    pub async fn audit_head(&self) -> Result<(u64, [u8; 32])> {
        on_db!(&self.db, pool => {
            let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await?;
            Ok((row.int("seq")? as u64, hash32(row.bytes("hash")?, "audit head")?))
        })
    }

    /// Entries after `after_seq`, in order, at most `limit` (a page of a full walk).
    pub async fn audit_page(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = i64::try_from(limit.min(100_000)).unwrap_or(0);
        on_db!(&self.db, pool => {
            sqlx::query("SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after_seq as i64)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(entry_from_row)
                .collect()
        })
    }

    /// The most recent entries about `subject`.
    pub async fn audit_of(&self, subject: &str, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = i64::try_from(limit.min(10_000)).unwrap_or(0);
        on_db!(&self.db, pool => {
            sqlx::query("SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE subject = $1 ORDER BY seq DESC LIMIT $2")
                .bind(subject)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(entry_from_row)
                .collect()
        })
    }

    /// Entries about `subject` after `after_seq`, in order, at most `limit`
    /// (a page of one subject's history).
    pub async fn audit_of_after(
        &self,
        subject: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>> {
        let limit = i64::try_from(limit.min(10_000)).unwrap_or(0);
        on_db!(&self.db, pool => {
            sqlx::query("SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE subject = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .bind(subject)
                .bind(after_seq as i64)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(entry_from_row)
                .collect()
        })
    }

    /// Stores a signed checkpoint (idempotent per sequence number).
    pub async fn insert_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        on_writer!(&self.db, pool => {
            sqlx::query("INSERT INTO audit_checkpoints (seq, hash, at_ms, interval_entries, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq) DO NOTHING")
                .bind(c.seq as i64)
                .bind(&c.hash[..])
                .bind(c.at_ms)
                .bind(c.interval as i64)
                .bind(&c.key_id)
                .bind(&c.signature)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Every checkpoint, in order.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
                .iter()
                .map(checkpoint_from_row)
                .collect()
        })
    }

    /// Whether a checkpoint covers entry `seq`.
    pub async fn has_checkpoint(&self, seq: u64) -> Result<bool> {
        on_db!(&self.db, pool => {
            let found: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_checkpoints WHERE seq = $1")
                .bind(seq as i64)
                .fetch_optional(pool)
                .await?;
            Ok(found.is_some())
        })
    }

    /// The sequence number of the last checkpoint (0 if none).
    pub async fn last_checkpoint_seq(&self) -> Result<u64> {
        on_db!(&self.db, pool => {
            let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_checkpoints").fetch_one(pool).await?;
            Ok(seq.unwrap_or(0) as u64)
        })
    }

    /// One entry.
    pub async fn audit_entry(&self, seq: u64) -> Result<Option<AuditEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = $1");
        on_db!(&self.db, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(seq as i64).fetch_optional(pool).await? {
                Some(row) => Ok(Some(entry_from_row(&row)?)),
                None => Ok(None),
            }
        })
    }

    /// Stores a hub key's endorsement (idempotent per key).
    pub async fn insert_key_endorsement(&self, e: &KeyEndorsement) -> Result<()> {
        on_writer!(&self.db, pool => {
            sqlx::query("INSERT INTO audit_key_endorsements (key_id, endorsed_by, at_ms, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING")
                .bind(&e.key_id)
                .bind(&e.endorsed_by)
                .bind(e.at_ms)
                .bind(&e.signature)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Opens a consistent read of the audit log.
    ///
    /// Every read through it sees the database as of its first read: a
    /// PostgreSQL `REPEATABLE READ READ ONLY` transaction, on SQLite one
    /// read transaction (WAL keeps its snapshot while writers go on).
    /// Appends committed meanwhile are invisible to it, so a head read after
    /// the entries still names exactly the entries read.
    pub async fn audit_snapshot(&self) -> Result<AuditSnapshot> {
        let tx = match &self.db {
            crate::db::Db::Sqlite(db) => SnapshotTx::Sqlite(db.read.begin().await?),
            crate::db::Db::Postgres(pool) => SnapshotTx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        };
        Ok(AuditSnapshot { tx })
    }
}

/// A consistent read of the audit log (see [`Store::audit_snapshot`]).
pub struct AuditSnapshot {
    tx: SnapshotTx,
}

enum SnapshotTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl std::fmt::Debug for AuditSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSnapshot").finish_non_exhaustive()
    }
}

/// Runs `$body` with `$conn` bound to the snapshot's connection.
macro_rules! on_snapshot {
    ($snapshot:expr, $conn:ident => $body:expr) => {
        match &mut $snapshot.tx {
            SnapshotTx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            SnapshotTx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl AuditSnapshot {
    /// The chain's head: last sequence number and its hash.
    pub async fn head(&mut self) -> Result<(u64, [u8; 32])> {
        on_snapshot!(self, conn => {
            let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(conn).await?;
            Ok((row.int("seq")? as u64, hash32(row.bytes("hash")?, "audit head")?))
        })
    }

    /// Entries after `after_seq`, in order, at most `limit`.
    pub async fn page(&mut self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = i64::try_from(limit.min(100_000)).unwrap_or(0);
        let sql =
            format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        on_snapshot!(self, conn => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after_seq as i64)
                .bind(limit)
                .fetch_all(conn)
                .await?
                .iter()
                .map(entry_from_row)
                .collect()
        })
    }

    /// Every checkpoint, in order.
    pub async fn checkpoints(&mut self) -> Result<Vec<Checkpoint>> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq");
        on_snapshot!(self, conn => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(conn)
                .await?
                .iter()
                .map(checkpoint_from_row)
                .collect()
        })
    }

    /// The keys of `owner`, oldest first, each with its endorsement if any.
    pub async fn keys_with_endorsements(
        &mut self,
        owner: &str,
    ) -> Result<Vec<(KeyRow, Option<KeyEndorsement>)>> {
        let columns = crate::keys::COLUMNS
            .split(", ")
            .map(|c| format!("k.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, e.endorsed_by, e.at_ms AS endorsed_at_ms, e.signature AS endorsement \
             FROM signing_keys k LEFT JOIN audit_key_endorsements e ON e.key_id = k.key_id \
             WHERE k.owner = $1 ORDER BY k.not_before, k.key_id"
        );
        on_snapshot!(self, conn => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .fetch_all(conn)
                .await?
                .iter()
                .map(key_with_endorsement)
                .collect()
        })
    }

    /// Ends the read.
    pub async fn finish(self) -> Result<()> {
        match self.tx {
            SnapshotTx::Sqlite(tx) => tx.rollback().await?,
            SnapshotTx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}
