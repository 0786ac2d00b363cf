//! The exchange's tables: messages, deliveries, subscriptions (resources
//! and their access rules are the catalogue's).

use crate::db::{Marks, Placeholders, RowExt, unix};
use crate::{AuditRecord, Result, Store, StoreError};

/// Most messages one acceptance batch may hold.
pub const MAX_ACCEPT_BATCH: usize = 2_000;

/// A message to accept.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Sender's department code.
    pub sender: String,
    /// Envelope id.
    pub id: String,
    /// `message`, `request` or `response`.
    pub kind: String,
    /// Direct recipient.
    pub recipient: Option<String>,
    /// Topic.
    pub topic: Option<String>,
    /// Resource.
    pub resource: String,
    /// Schema `id@version`.
    pub schema: String,
    /// The envelope as signed (JSON text).
    pub envelope: String,
    /// Hex SHA-256 of the signed bytes.
    pub digest: String,
    /// Hex SHA-256 of the referenced blob, when the payload is one.
    pub payload_sha256: Option<String>,
    /// Envelope time (ms).
    pub sent_at_ms: i64,
    /// Arrival time (ms).
    pub received_at_ms: i64,
    /// The audit entry that goes with it.
    pub audit: AuditRecord,
    /// For topic messages: the departments that may receive it (the
    /// resource's allowed consumers), or `None` for every subscriber.
    pub audience: Option<Vec<String>>,
}

/// What became of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored (with its deliveries and audit entry).
    Stored {
        /// Arrival sequence number.
        seq: u64,
        /// Departments it is to be delivered to.
        recipients: Vec<String>,
    },
    /// Already stored earlier (same sender and id): not stored again.
    Replay,
}

/// Acknowledged deliveries of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckSet {
    /// The recipient department.
    pub recipient: String,
    /// The messages' sequence numbers.
    pub seqs: Vec<u64>,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// Acknowledged sequence numbers per UPDATE statement.
pub(crate) const ACK_CHUNK: usize = 500;

/// The UPDATE that marks `n` deliveries of one recipient delivered; binds
/// the time, the recipient, then the `n` sequence numbers.
pub(crate) fn ack_sql(n: usize, marks: Marks) -> String {
    let mut p = Placeholders::new(marks);
    let mut sql = String::from("UPDATE deliveries SET state = 'delivered', acked_at_ms = ");
    p.push(&mut sql);
    sql.push_str(" WHERE recipient = ");
    p.push(&mut sql);
    sql.push_str(" AND state = 'pending' AND seq IN ");
    p.push_tuple(&mut sql, n);
    sql
}

/// Marks `$seqs` of `$recipient` delivered inside the open transaction
/// `$tx`; evaluates to how many were pending.
macro_rules! ack_in_tx {
    ($tx:ident, $recipient:expr, $seqs:expr, $at_ms:expr) => {{
        let mut done = 0;
        for chunk in $seqs.chunks(ACK_CHUNK) {
            let sql = $crate::exchange::ack_sql(chunk.len(), $crate::db::marks_of(&$tx));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind($at_ms)
                .bind($recipient);
            for s in chunk {
                q = q.bind(*s as i64);
            }
            done += q.execute(&mut *$tx).await?.rows_affected();
        }
        done
    }};
}

/// A stored blob's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
}

/// What ties a department to a blob ([`Store::blob_reach`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobReach {
    /// The blob.
    pub info: BlobInfo,
    /// The department uploaded it, or sent a message with it.
    pub own: bool,
    /// Resources of the messages with it that the department received.
    pub received_on: Vec<String>,
}

fn blob_from_row(row: &impl RowExt) -> Result<BlobInfo> {
    Ok(BlobInfo {
        sha256: row.text("sha256")?,
        size: u64::try_from(row.int("size")?)
            .map_err(|_| StoreError::Corrupt("negative blob size".into()))?,
        media_type: row.text("media_type")?,
    })
}

/// `(sender, id) IN (VALUES (…), …)` for `n` pairs.
pub(crate) fn pair_list(n: usize, marks: Marks) -> String {
    let mut p = Placeholders::new(marks);
    let mut s = String::from("(sender, id) IN (VALUES ");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        p.push_tuple(&mut s, 2);
    }
    s.push(')');
    s
}

impl Store {
    /// Pending deliveries of `recipient` after `after_seq`, oldest first:
    /// `(seq, envelope, resource)`.
    pub async fn pending_deliveries(
        &self,
        recipient: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, String)>> {
        let limit = i64::try_from(limit.min(10_000)).unwrap_or(0);
        on_db!(&self.db, pool => {
            let rows = sqlx::query("SELECT d.seq AS seq, m.envelope AS envelope, m.resource AS resource FROM deliveries d JOIN messages m ON m.seq = d.seq WHERE d.recipient = $1 AND d.state = 'pending' AND d.seq > $2 ORDER BY d.seq LIMIT $3")
                .bind(recipient)
                .bind(after_seq as i64)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| Ok((r.int("seq")? as u64, r.text("envelope")?, r.text("resource")?))).collect()
        })
    }

    /// Marks deliveries acknowledged; returns how many were pending.
    pub async fn ack_deliveries(&self, recipient: &str, seqs: &[u64], at_ms: i64) -> Result<u64> {
        if seqs.is_empty() {
            return Ok(0);
        }
        let done = in_tx!(&self.db, tx => {
            ack_in_tx!(tx, recipient, seqs, at_ms)
        });
        Ok(done)
    }

    /// A stored message's envelope by sender and id.
    pub async fn message(&self, sender: &str, id: &str) -> Result<Option<(u64, String)>> {
        on_db!(&self.db, pool => {
            match sqlx::query("SELECT seq, envelope FROM messages WHERE sender = $1 AND id = $2").bind(sender).bind(id).fetch_optional(pool).await? {
                Some(r) => Ok(Some((r.int("seq")? as u64, r.text("envelope")?))),
                None => Ok(None),
            }
        })
    }

    /// Subscribes a department to topics (idempotent).
    pub async fn subscribe(
        &self,
        department: &str,
        topics: &[String],
        at: time::OffsetDateTime,
        audit: &[AuditRecord],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            for t in topics {
                sqlx::query("INSERT INTO subscriptions (department, topic, created_at) VALUES ($1, $2, $3) ON CONFLICT (department, topic) DO NOTHING")
                    .bind(department)
                    .bind(t)
                    .bind(unix(at))
                    .execute(&mut *tx)
                    .await?;
            }
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// Ends subscriptions.
    pub async fn unsubscribe(
        &self,
        department: &str,
        topics: &[String],
        audit: &[AuditRecord],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            for t in topics {
                sqlx::query("DELETE FROM subscriptions WHERE department = $1 AND topic = $2")
                    .bind(department)
                    .bind(t)
                    .execute(&mut *tx)
                    .await?;
            }
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// A department's topics.
    pub async fn subscriptions(&self, department: &str) -> Result<Vec<String>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar("SELECT topic FROM subscriptions WHERE department = $1 ORDER BY topic").bind(department).fetch_all(pool).await?)
        })
    }

    /// Records an uploaded blob (after its bytes are durable) and that
    /// `department` holds it, with the audit entry, in one transaction.
    pub async fn record_upload(
        &self,
        blob: &BlobInfo,
        department: &str,
        at: time::OffsetDateTime,
        audit: &[AuditRecord],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            sqlx::query("INSERT INTO blobs (sha256, size, media_type, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING")
                .bind(&blob.sha256)
                .bind(i64::try_from(blob.size).unwrap_or(i64::MAX))
                .bind(&blob.media_type)
                .bind(unix(at))
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO blob_holders (sha256, department, created_at) VALUES ($1, $2, $3) ON CONFLICT (sha256, department) DO NOTHING")
                .bind(&blob.sha256)
                .bind(department)
                .bind(unix(at))
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// A blob `department` uploaded itself (and so may reference).
    pub async fn blob_held(&self, sha256: &str, department: &str) -> Result<Option<BlobInfo>> {
        on_db!(&self.db, pool => {
            let row = sqlx::query("SELECT b.sha256 AS sha256, b.size AS size, b.media_type AS media_type FROM blobs b JOIN blob_holders h ON h.sha256 = b.sha256 WHERE b.sha256 = $1 AND h.department = $2")
                .bind(sha256)
                .bind(department)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(blob_from_row).transpose()
        })
    }

    /// A blob `department` may read: one it uploaded, or the payload of a
    /// message it sent, was delivered, or (as the resource's provider) was
    /// asked in a request. The exchange also applies the catalogue's rule
    /// to what was received ([`Store::blob_reach`]).
    pub async fn blob_readable(&self, sha256: &str, department: &str) -> Result<Option<BlobInfo>> {
        Ok(self
            .blob_reach(sha256, department)
            .await?
            .filter(|r| r.own || !r.received_on.is_empty())
            .map(|r| r.info))
    }

    /// A blob and what ties `department` to it: whether it uploaded it or
    /// sent a message with it, and the resources of the messages with it
    /// that it received (addressed or delivered to it, or asked of it as
    /// the resource's provider; at most 100). `None` if there is no such blob.
    pub async fn blob_reach(&self, sha256: &str, department: &str) -> Result<Option<BlobReach>> {
        on_db!(&self.db, pool => {
            let Some(row) = sqlx::query("SELECT sha256, size, media_type FROM blobs WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let own = sqlx::query("SELECT 1 AS one FROM blob_holders WHERE sha256 = $1 AND department = $2 \
                UNION ALL SELECT 1 AS one FROM messages WHERE payload_sha256 = $1 AND sender = $2 LIMIT 1")
                .bind(sha256)
                .bind(department)
                .fetch_optional(pool)
                .await?
                .is_some();
            let received_on: Vec<String> = sqlx::query_scalar("SELECT DISTINCT m.resource FROM messages m WHERE m.payload_sha256 = $1 AND (\
                    m.recipient = $2 \
                    OR EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq AND d.recipient = $2) \
                    OR (m.kind = 'request' AND EXISTS (SELECT 1 FROM catalogue c WHERE c.id = m.resource AND c.provider = $2))) \
                ORDER BY m.resource LIMIT 100")
                .bind(sha256)
                .bind(department)
                .fetch_all(pool)
                .await?;
            Ok(Some(BlobReach { info: blob_from_row(&row)?, own, received_on }))
        })
    }

    /// Bytes of the blobs `department` holds (uploaded), for its quota.
    pub async fn blob_bytes_held(&self, department: &str) -> Result<u64> {
        on_db!(&self.db, pool => {
            let n: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blob_holders h JOIN blobs b ON b.sha256 = h.sha256 WHERE h.department = $1")
                .bind(department)
                .fetch_one(pool)
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Undelivered deliveries of the messages each department sent, for
    /// its quota: `(sender, count)`, senders with none left out.
    pub async fn pending_by_sender(&self) -> Result<Vec<(String, u64)>> {
        on_db!(&self.db, pool => {
            let rows = sqlx::query("SELECT m.sender AS sender, COUNT(*) AS n FROM deliveries d JOIN messages m ON m.seq = d.seq WHERE d.state = 'pending' GROUP BY m.sender")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.text("sender")?, u64::try_from(r.int("n")?).unwrap_or(0))))
                .collect()
        })
    }

    /// Deliveries not yet acknowledged, by recipient: `(recipient,
    /// count)`, recipients with none left out.
    pub async fn pending_by_recipient(&self) -> Result<Vec<(String, u64)>> {
        on_db!(&self.db, pool => {
            let rows = sqlx::query("SELECT recipient, COUNT(*) AS n FROM deliveries WHERE state = 'pending' GROUP BY recipient ORDER BY recipient")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.text("recipient")?, u64::try_from(r.int("n")?).unwrap_or(0))))
                .collect()
        })
    }

    /// A blob that a message published on a topic references, with the
    /// resources it was published on (for readers of those records).
    pub async fn published_blob(&self, sha256: &str) -> Result<Option<(BlobInfo, Vec<String>)>> {
        on_db!(&self.db, pool => {
            let Some(row) = sqlx::query("SELECT sha256, size, media_type FROM blobs WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let resources: Vec<String> = sqlx::query_scalar("SELECT DISTINCT resource FROM messages WHERE payload_sha256 = $1 AND kind = 'message' AND topic IS NOT NULL ORDER BY resource LIMIT 100")
                .bind(sha256)
                .fetch_all(pool)
                .await?;
            Ok(Some((blob_from_row(&row)?, resources)))
        })
    }

    /// Counts for operators: messages by kind, deliveries by state.
    pub async fn exchange_counts(&self) -> Result<Vec<(String, i64)>> {
        on_db!(&self.db, pool => {
            let mut out = Vec::new();
            for r in sqlx::query("SELECT kind AS k, COUNT(*) AS n FROM messages GROUP BY kind ORDER BY kind").fetch_all(pool).await? {
                out.push((format!("messages.{}", r.text("k")?), r.int("n")?));
            }
            for r in sqlx::query("SELECT state AS k, COUNT(*) AS n FROM deliveries GROUP BY state ORDER BY state").fetch_all(pool).await? {
                out.push((format!("deliveries.{}", r.text("k")?), r.int("n")?));
            }
            Ok(out)
        })
    }
}
