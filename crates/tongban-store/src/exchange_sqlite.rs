//! The embedded backend's commit of an exchange batch in few round trips.
//!
//! sqlx runs each SQLite statement on the connection's worker thread and
//! hands the result back to the async side; under load every such hop
//! waits for a busy core, so a commit of ten statements took ten waits.
//! Here the reads that need no lock happen first on a reader connection,
//! and the write transaction is four hops: `BEGIN IMMEDIATE`, one read of
//! both chain heads, one multi-statement write (acknowledgements, messages,
//! deliveries, audit entries, heads), `COMMIT`.
//!
//! The outcome is the same as the portable path's
//! ([`Store::commit_exchange`]), which is used instead whenever this path
//! fails (e.g. a duplicate committed between the pre-read and the write
//! trips the unique index and rolls everything back).

use std::collections::{HashMap, HashSet};

use sqlx::{Arguments, AssertSqlSafe};

use crate::audit::{AUDIT_COLUMNS, chain_records, hash32};
use crate::db::{RowExt, SqliteDb, insert_values_sql};
use crate::exchange::{
    Accepted, AckSet, DELIVERY_CHUNK, MESSAGE_CHUNK, MESSAGE_COLUMNS, NewMessage, pair_list,
};
use crate::{AuditRecord, Result};

/// Commits `batch` and `acks` in one transaction.
pub(crate) async fn commit(
    db: &SqliteDb,
    batch: &[NewMessage],
    acks: &[AckSet],
) -> Result<Vec<Accepted>> {
    // Reads outside the write lock: the only writer of messages is the
    // caller, so what is committed now stays true until its own commit
    // (another process's duplicate would fail the unique index below).
    let mut existing: HashSet<(String, String)> = HashSet::new();
    for chunk in batch.chunks(400) {
        let sql = format!(
            "SELECT sender, id FROM messages WHERE {}",
            pair_list(chunk.len(), false)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for m in chunk {
            q = q.bind(&m.sender).bind(&m.id);
        }
        for row in q.fetch_all(&db.read).await? {
            existing.insert((row.text("sender")?, row.text("id")?));
        }
    }
    let (fresh, slots) = crate::exchange::split_fresh(batch, existing);
    let topics: HashSet<&str> = fresh.iter().filter_map(|m| m.topic.as_deref()).collect();
    let mut subscribers: HashMap<String, Vec<String>> = HashMap::new();
    if !topics.is_empty() {
        let marks = vec!["?"; topics.len()].join(",");
        let sql = format!(
            "SELECT topic, department FROM subscriptions WHERE topic IN ({marks}) ORDER BY topic, department"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for t in &topics {
            q = q.bind(*t);
        }
        for row in q.fetch_all(&db.read).await? {
            subscribers
                .entry(row.text("topic")?)
                .or_default()
                .push(row.text("department")?);
        }
    }
    let recipients: Vec<Vec<String>> = fresh
        .iter()
        .map(|m| crate::exchange::recipients_of(m, &subscribers))
        .collect();

    let mut tx = db.begin().await?;
    let head = sqlx::query(
        "SELECT m.seq AS mseq, a.seq AS aseq, a.hash AS ahash FROM message_head m, audit_head a WHERE m.id = 1 AND a.id = 1",
    )
    .fetch_one(&mut *tx)
    .await?;
    let first = head.int("mseq")? as u64 + 1;
    let audit_first = head.int("aseq")? as u64 + 1;
    let audit_prev = hash32(head.bytes("ahash")?, "audit head")?;

    let mut sql = String::new();
    let mut args = sqlx::sqlite::SqliteArguments::default();
    // Binds values in statement order (one `args` for the whole script).
    macro_rules! bind {
        ($($v:expr),+ $(,)?) => {
            $(args.add($v).map_err(|e| crate::StoreError::Database(sqlx::Error::Encode(e)))?;)+
        };
    }
    for a in acks {
        for chunk in a.seqs.chunks(crate::exchange::ACK_CHUNK) {
            sql.push_str(&crate::exchange::ack_sql(chunk.len(), false));
            sql.push_str(";\n");
            bind!(a.at_ms, &a.recipient);
            for s in chunk {
                bind!(*s as i64);
            }
        }
    }
    let mut stored: Vec<(u64, Vec<String>)> = Vec::with_capacity(fresh.len());
    if !fresh.is_empty() {
        for (i, chunk) in fresh.chunks(MESSAGE_CHUNK).enumerate() {
            sql.push_str(&insert_values_sql(
                "messages",
                MESSAGE_COLUMNS,
                chunk.len(),
                false,
            ));
            sql.push_str(";\n");
            for (j, m) in chunk.iter().enumerate() {
                let seq = first + (i * MESSAGE_CHUNK + j) as u64;
                bind!(
                    seq as i64,
                    &m.sender,
                    &m.id,
                    &m.kind,
                    m.recipient.as_deref(),
                    m.topic.as_deref(),
                    &m.resource,
                    &m.schema,
                    &m.envelope,
                    &m.digest,
                    m.sent_at_ms,
                    m.received_at_ms,
                    m.payload_sha256.as_deref()
                );
            }
        }
        let mut deliveries: Vec<(&str, u64)> = Vec::new();
        for (i, r) in recipients.iter().enumerate() {
            let seq = first + i as u64;
            for d in r {
                deliveries.push((d, seq));
            }
            stored.push((seq, r.clone()));
        }
        for chunk in deliveries.chunks(DELIVERY_CHUNK) {
            sql.push_str(&insert_values_sql(
                "deliveries",
                &["recipient", "seq", "state"],
                chunk.len(),
                false,
            ));
            sql.push_str(";\n");
            for (r, seq) in chunk {
                bind!(r, *seq as i64, "pending");
            }
        }
        let records: Vec<AuditRecord> = fresh.iter().map(|m| m.audit.clone()).collect();
        let entries = chain_records(&records, audit_first, audit_prev);
        for chunk in entries.chunks(crate::audit::INSERT_CHUNK) {
            sql.push_str(&insert_values_sql(
                "audit_log",
                AUDIT_COLUMNS,
                chunk.len(),
                false,
            ));
            sql.push_str(";\n");
            for e in chunk {
                bind!(
                    e.seq as i64,
                    e.at_ms,
                    &e.actor,
                    &e.action,
                    &e.subject,
                    &e.detail,
                    &e.prev_hash[..],
                    &e.hash[..]
                );
            }
        }
        let last = first + fresh.len() as u64 - 1;
        let audit_last = audit_first + entries.len() as u64 - 1;
        let audit_hash = entries.last().map_or(audit_prev, |e| e.hash);
        sql.push_str("UPDATE message_head SET seq = ? WHERE id = 1;\n");
        bind!(last as i64);
        sql.push_str("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1;\n");
        bind!(audit_last as i64, &audit_hash[..]);
    }
    if !sql.is_empty() {
        sqlx::query_with(AssertSqlSafe(sql), args)
            .persistent(false)
            .execute(&mut *tx)
            .await?;
    }
    db.commit(tx).await?;
    Ok(crate::exchange::outcomes(slots, &stored))
}
