//! The hub's outbox (migration 0024): what the hub is to push to
//! departments over the exchange, written in the same transaction as the
//! fact it tells (a case passed a threshold, an order earned a card, a
//! notice was issued or answered), drained by the hub into messages it
//! signs (`Store::accept_messages`) and marked with the message's sequence
//! number. A row's id is the message's id: derived from the fact, it makes
//! the push happen at most once however often the fact is found, and the
//! unsent rows make it happen at least once, whenever the hub runs again.

use sqlx::AssertSqlSafe;

use crate::db::{RowExt, from_unix, unix};
use crate::{Result, Store, StoreError};

/// Most outbox rows one call reads or writes.
pub const MAX_OUTBOX_BATCH: usize = 500;

/// Something the hub is to push.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRow {
    /// The message's id (32 lowercase hex), derived from the fact.
    pub id: String,
    /// The hub topic it goes out on (`hub.supervision`, `hub.hotline`).
    pub topic: String,
    /// The departments that receive it (those of them subscribed to the
    /// topic).
    pub audience: Vec<String>,
    /// Its payload's schema, `id@version`.
    pub schema: String,
    /// Its payload (JSON text).
    pub payload: String,
    /// When the fact was found.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// The message's sequence number, once sent.
    pub sent_seq: Option<u64>,
}

impl OutboxRow {
    /// The id of the push that tells `fact` (its parts, e.g. `["notice",
    /// id]`): 32 hex digits of their SHA-256, the same however often the
    /// fact is found.
    pub fn id_for(fact: &[&str]) -> String {
        let mut s = crate::sha256_hex(fact.join("\u{0}").as_bytes());
        s.truncate(32);
        s
    }
}

const COLUMNS: &str = "id, topic, audience, schema, payload, created_at, sent_seq";

fn from_row(r: &impl RowExt) -> Result<OutboxRow> {
    let audience = r.text("audience")?;
    Ok(OutboxRow {
        id: r.text("id")?,
        topic: r.text("topic")?,
        audience: serde_json::from_str(&audience)
            .map_err(|e| StoreError::Corrupt(format!("outbox audience: {e}")))?,
        schema: r.text("schema")?,
        payload: r.text("payload")?,
        created_at: from_unix(r.int("created_at")?)?,
        sent_seq: r
            .opt_int("sent_seq")?
            .map(|s| u64::try_from(s).map_err(|_| StoreError::Corrupt("outbox seq".into())))
            .transpose()?,
    })
}

/// Adding to the outbox inside an open transaction, per backend.
pub(crate) trait OutboxAppend {
    /// Adds `rows` whose id is not there yet; returns how many were new.
    async fn append_outbox(&mut self, rows: &[OutboxRow]) -> Result<u64>;
}

macro_rules! impl_outbox_append {
    ($db:ty) => {
        impl OutboxAppend for sqlx::Transaction<'_, $db> {
            async fn append_outbox(&mut self, rows: &[OutboxRow]) -> Result<u64> {
                let mut added = 0;
                for row in rows {
                    let audience = serde_json::to_string(&row.audience)
                        .map_err(|e| StoreError::Corrupt(format!("outbox audience: {e}")))?;
                    added += sqlx::query("INSERT INTO outbox (id, topic, audience, schema, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
                        .bind(&row.id)
                        .bind(&row.topic)
                        .bind(audience)
                        .bind(&row.schema)
                        .bind(&row.payload)
                        .bind(unix(row.created_at))
                        .execute(&mut **self)
                        .await?
                        .rows_affected();
                }
                Ok(added)
            }
        }
    };
}
impl_outbox_append!(sqlx::Sqlite);
impl_outbox_append!(sqlx::Postgres);

/// Adds outbox rows inside the transaction `$tx` (see [`OutboxAppend`]).
macro_rules! append_outbox {
    ($tx:ident, $rows:expr) => {
        $crate::outbox::OutboxAppend::append_outbox(&mut $tx, $rows).await?
    };
}

impl Store {
    /// Adds `rows` whose id is not there yet, in one transaction; returns
    /// how many were new.
    pub async fn outbox_add(&self, rows: &[OutboxRow]) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        Ok(in_tx!(&self.db, tx => { append_outbox!(tx, rows) }))
    }

    /// The oldest rows not sent yet, at most `limit`.
    pub async fn outbox_unsent(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        let limit = i64::try_from(limit.min(MAX_OUTBOX_BATCH)).unwrap_or(1);
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox WHERE sent_seq IS NULL ORDER BY created_at, id LIMIT $1"
        );
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    /// Marks rows sent, each with its message's sequence number.
    pub async fn outbox_mark_sent(&self, sent: &[(String, u64)]) -> Result<()> {
        if sent.is_empty() {
            return Ok(());
        }
        in_tx!(&self.db, tx => {
            for (id, seq) in sent {
                sqlx::query("UPDATE outbox SET sent_seq = $1 WHERE id = $2")
                    .bind(i64::try_from(*seq).unwrap_or(i64::MAX))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        Ok(())
    }

    /// What went out (or is to go out) on `topic`, newest first (those of
    /// the same second by id): to
    /// `department` only when given, created in `[from, to)`, at most
    /// `limit` after skipping `offset`.
    pub async fn outbox_list(
        &self,
        topic: &str,
        department: Option<&str>,
        (from, to): (time::OffsetDateTime, time::OffsetDateTime),
        (limit, offset): (usize, usize),
    ) -> Result<Vec<OutboxRow>> {
        // The audience is a JSON array of codes (quoted, without quotes
        // inside), so a quoted code is found by LIKE on both backends, its
        // `_` and `%` escaped.
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox WHERE topic = $1 AND ($2 IS NULL OR audience LIKE $2 ESCAPE '!') AND created_at >= $3 AND created_at < $4 ORDER BY created_at DESC, id LIMIT $5 OFFSET $6"
        );
        let pattern = department.map(|d| {
            let d = d.replace('!', "!!").replace('_', "!_").replace('%', "!%");
            format!("%\"{d}\"%")
        });
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(topic)
                .bind(pattern.clone())
                .bind(unix(from))
                .bind(unix(to))
                .bind(i64::try_from(limit.min(MAX_OUTBOX_BATCH)).unwrap_or(1))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }
}
