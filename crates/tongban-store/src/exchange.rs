//! The exchange's tables: messages, deliveries, subscriptions (resources
//! and their access rules are the catalogue's).

use std::collections::{HashMap, HashSet};

use crate::db::{RowExt, unix};
use crate::{AuditRecord, Result, Store, StoreError};

/// Most messages one acceptance batch may hold.
pub const MAX_ACCEPT_BATCH: usize = 2_000;
/// Message rows per INSERT statement (13 parameters each).
pub(crate) const MESSAGE_CHUNK: usize = 200;
/// Delivery rows per INSERT statement (3 parameters each).
pub(crate) const DELIVERY_CHUNK: usize = 500;

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
pub(crate) fn ack_sql(n: usize, numbered: bool) -> String {
    let marks: Vec<String> = (0..n)
        .map(|i| {
            if numbered {
                format!("${}", i + 3)
            } else {
                "?".into()
            }
        })
        .collect();
    let (p1, p2) = if numbered { ("$1", "$2") } else { ("?", "?") };
    format!(
        "UPDATE deliveries SET state = 'delivered', acked_at_ms = {p1} WHERE recipient = {p2} AND state = 'pending' AND seq IN ({})",
        marks.join(",")
    )
}

/// Marks `$seqs` of `$recipient` delivered inside the open transaction
/// `$tx`; evaluates to how many were pending.
macro_rules! ack_in_tx {
    ($tx:ident, $numbered:expr, $recipient:expr, $seqs:expr, $at_ms:expr) => {{
        let mut done = 0;
        for chunk in $seqs.chunks(ACK_CHUNK) {
            let sql = $crate::exchange::ack_sql(chunk.len(), $numbered);
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

/// The messages to store (neither stored before, i.e. in `existing`, nor
/// earlier in the batch) and, for each message of the batch, its slot among
/// them (`None`: a replay).
pub(crate) fn split_fresh(
    batch: &[NewMessage],
    mut existing: HashSet<(String, String)>,
) -> (Vec<&NewMessage>, Vec<Option<usize>>) {
    let mut fresh = Vec::new();
    let mut slots = Vec::with_capacity(batch.len());
    for m in batch {
        if existing.insert((m.sender.clone(), m.id.clone())) {
            slots.push(Some(fresh.len()));
            fresh.push(m);
        } else {
            slots.push(None);
        }
    }
    (fresh, slots)
}

/// Each message's outcome: its slot among the stored ones, or a replay.
pub(crate) fn outcomes(slots: Vec<Option<usize>>, stored: &[(u64, Vec<String>)]) -> Vec<Accepted> {
    slots
        .into_iter()
        .map(|slot| match slot.and_then(|i| stored.get(i)) {
            Some((seq, recipients)) => Accepted::Stored {
                seq: *seq,
                recipients: recipients.clone(),
            },
            None => Accepted::Replay,
        })
        .collect()
}

/// Who a stored message is delivered to: its recipient, or the subscribers
/// of its topic (not the sender, and within its audience); nobody for
/// requests and responses.
pub(crate) fn recipients_of(
    m: &NewMessage,
    subscribers: &HashMap<String, Vec<String>>,
) -> Vec<String> {
    if m.kind != "message" {
        Vec::new()
    } else if let Some(r) = &m.recipient {
        vec![r.clone()]
    } else {
        m.topic
            .as_ref()
            .and_then(|t| subscribers.get(t))
            .map(|s| {
                s.iter()
                    .filter(|d| **d != m.sender)
                    .filter(|d| m.audience.as_ref().is_none_or(|a| a.contains(d)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
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
pub(crate) fn pair_list(n: usize, numbered: bool) -> String {
    let mut s = String::from("(sender, id) IN (VALUES ");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        if numbered {
            s.push_str(&format!("(${},${})", 2 * i + 1, 2 * i + 2));
        } else {
            s.push_str("(?,?)");
        }
    }
    s.push(')');
    s
}

pub(crate) const MESSAGE_COLUMNS: &[&str] = &[
    "seq",
    "sender",
    "id",
    "kind",
    "recipient",
    "topic",
    "resource",
    "schema",
    "envelope",
    "digest",
    "sent_at_ms",
    "received_at_ms",
    "payload_sha256",
];

impl Store {
    /// Accepts a batch of verified messages in one transaction: duplicates
    /// (same sender and id, earlier or within the batch) are reported as
    /// [`Accepted::Replay`]; the others are stored with their deliveries and
    /// audit entries, all or nothing.
    pub async fn accept_messages(&self, batch: &[NewMessage]) -> Result<Vec<Accepted>> {
        self.commit_exchange(batch, &[]).await
    }

    /// [`Store::accept_messages`] and acknowledgements
    /// ([`Store::ack_deliveries`]) in one transaction: the hub's writer
    /// commits what has arrived of both at once.
    pub async fn commit_exchange(
        &self,
        batch: &[NewMessage],
        acks: &[AckSet],
    ) -> Result<Vec<Accepted>> {
        if batch.len() > MAX_ACCEPT_BATCH {
            return Err(StoreError::Config(format!(
                "at most {MAX_ACCEPT_BATCH} messages per batch"
            )));
        }
        if batch.is_empty() && acks.iter().all(|a| a.seqs.is_empty()) {
            return Ok(Vec::new());
        }
        if let crate::db::Db::Sqlite(db) = &self.db {
            match crate::exchange_sqlite::commit(db, batch, acks).await {
                // A duplicate that arrived after the pre-read: the portable
                // path sorts it out inside its transaction.
                Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    tracing::info!(error = %e, "a duplicate raced the fast commit; committing the portable way");
                }
                other => return other,
            }
        }
        let outcomes = in_tx!(&self.db, tx => {
            let numbered = crate::db::numbered_placeholders(&tx);
            for a in acks {
                ack_in_tx!(tx, numbered, &a.recipient, &a.seqs, a.at_ms);
            }
            // Which (sender, id) pairs exist already?
            let mut existing: HashSet<(String, String)> = HashSet::new();
            for chunk in batch.chunks(400) {
                let sql = format!("SELECT sender, id FROM messages WHERE {}", pair_list(chunk.len(), numbered));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for m in chunk {
                    q = q.bind(&m.sender).bind(&m.id);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    existing.insert((row.text("sender")?, row.text("id")?));
                }
            }
            let (fresh, outcome_slots) = split_fresh(batch, existing);
            let mut stored: Vec<(u64, Vec<String>)> = Vec::with_capacity(fresh.len());
            if !fresh.is_empty() {
                let last: i64 = sqlx::query_scalar("UPDATE message_head SET seq = seq + $1 WHERE id = 1 RETURNING seq")
                    .bind(fresh.len() as i64)
                    .fetch_one(&mut *tx)
                    .await?;
                let first = last as u64 + 1 - fresh.len() as u64;
                for (i, chunk) in fresh.chunks(MESSAGE_CHUNK).enumerate() {
                    let sql = crate::db::insert_values_sql("messages", MESSAGE_COLUMNS, chunk.len(), numbered);
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (j, m) in chunk.iter().enumerate() {
                        let seq = first + (i * MESSAGE_CHUNK + j) as u64;
                        q = q
                            .bind(seq as i64)
                            .bind(&m.sender)
                            .bind(&m.id)
                            .bind(&m.kind)
                            .bind(&m.recipient)
                            .bind(&m.topic)
                            .bind(&m.resource)
                            .bind(&m.schema)
                            .bind(&m.envelope)
                            .bind(&m.digest)
                            .bind(m.sent_at_ms)
                            .bind(m.received_at_ms)
                            .bind(&m.payload_sha256);
                    }
                    q.execute(&mut *tx).await?;
                }
                // Subscribers of the topics in this batch.
                let topics: HashSet<&str> = fresh.iter().filter_map(|m| m.topic.as_deref()).collect();
                let mut subscribers: HashMap<String, Vec<String>> = HashMap::new();
                for topic in topics {
                    let rows: Vec<String> = sqlx::query_scalar("SELECT department FROM subscriptions WHERE topic = $1 ORDER BY department")
                        .bind(topic)
                        .fetch_all(&mut *tx)
                        .await?;
                    subscribers.insert(topic.to_owned(), rows);
                }
                let mut deliveries: Vec<(String, u64)> = Vec::new();
                for (i, m) in fresh.iter().enumerate() {
                    let seq = first + i as u64;
                    let recipients = recipients_of(m, &subscribers);
                    for r in &recipients {
                        deliveries.push((r.clone(), seq));
                    }
                    stored.push((seq, recipients));
                }
                for chunk in deliveries.chunks(DELIVERY_CHUNK) {
                    let sql = crate::db::insert_values_sql("deliveries", &["recipient", "seq", "state"], chunk.len(), numbered);
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (r, seq) in chunk {
                        q = q.bind(r).bind(*seq as i64).bind("pending");
                    }
                    q.execute(&mut *tx).await?;
                }
                let audit: Vec<AuditRecord> = fresh.iter().map(|m| m.audit.clone()).collect();
                append_audit!(tx, &audit);
            }
            outcomes(outcome_slots, &stored)
        });
        Ok(outcomes)
    }

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
            let numbered = crate::db::numbered_placeholders(&tx);
            ack_in_tx!(tx, numbered, recipient, seqs, at_ms)
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
