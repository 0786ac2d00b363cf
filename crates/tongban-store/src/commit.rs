//! The exchange's commit: a batch of accepted messages and the
//! acknowledgements that arrived with it, written in one transaction.
//!
//! What the commit writes is planned by plain code ([`CommitPlan::new`])
//! from what the store holds ([`CommitView`]): which messages are replays,
//! each new message's sequence number and recipients, the audit entries
//! chained after the head, the heads' new values. Both backends execute
//! the same plan's statements ([`CommitPlan::statements`]); they differ
//! only in how they gather the view and send the statements:
//!
//! - SQLite, the fast path: sqlx runs each statement on the connection's
//!   worker thread and hands the result back; under load every hop waits
//!   for a busy core. So the reads that need no lock happen first on a
//!   reader connection, and the write transaction is four hops:
//!   `BEGIN IMMEDIATE`, one read of both heads, one script of every
//!   statement, `COMMIT`. The only writer of messages is the caller, so what
//!   it read stays true until its commit; a duplicate committed meanwhile by
//!   another process trips the unique index, rolls everything back, and the
//!   portable path runs instead.
//! - The portable path (PostgreSQL, and SQLite's fallback): inside the
//!   transaction, lock both heads first (`FOR UPDATE` on PostgreSQL, where
//!   several hub nodes commit at once; SQLite's `BEGIN IMMEDIATE` already
//!   holds the lock), then read, plan and execute statement by statement.
//!
//! [`Store::accept_messages`] stores a batch of verified envelopes, and
//! [`Store::commit_exchange`] adds listeners' acknowledgements to the same
//! transaction: replays by `(sender, id)` refused, sequence numbers allocated,
//! deliveries fanned out to the recipient or to the topic's subscribers within
//! the resource's audience, one audit entry each.

use std::collections::{HashMap, HashSet};

use sqlx::{Arguments, AssertSqlSafe};

use crate::audit::{AUDIT_COLUMNS, AuditEntry, INSERT_CHUNK, chain_records, hash32};
use crate::db::{Db, Marks, RowExt, SqliteDb, insert_values_sql};
use crate::exchange::{
    ACK_CHUNK, Accepted, AckSet, MAX_ACCEPT_BATCH, NewMessage, ack_sql, pair_list,
};
use crate::{AuditRecord, Result, Store, StoreError};

/// Message rows per INSERT statement (13 parameters each).
const MESSAGE_CHUNK: usize = 200;
/// Delivery rows per INSERT statement (3 parameters each).
const DELIVERY_CHUNK: usize = 500;
/// `(sender, id)` pairs per replay lookup.
const PAIR_CHUNK: usize = 400;

const MESSAGE_COLUMNS: &[&str] = &[
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

const DELIVERY_COLUMNS: &[&str] = &["recipient", "seq", "state"];

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
        if let Db::Sqlite(db) = &self.db {
            match commit_sqlite(db, batch, acks).await {
                // A duplicate that arrived after the pre-read: the portable
                // path sorts it out inside its transaction.
                Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    tracing::info!(error = %e, "a duplicate raced the fast commit; committing the portable way");
                }
                other => return other,
            }
        }
        commit_portable(&self.db, batch, acks).await
    }
}

/// What a commit needs to know of the store.
#[derive(Debug, Clone, Default)]
pub(crate) struct CommitView {
    /// `(sender, id)` of the batch's messages already stored.
    pub existing: HashSet<(String, String)>,
    /// Subscribers of the batch's topics, in department order.
    pub subscribers: HashMap<String, Vec<String>>,
    /// The last message sequence number.
    pub message_head: u64,
    /// The last audit entry's sequence number and hash.
    pub audit_head: (u64, [u8; 32]),
}

/// The rows one commit writes.
#[derive(Debug)]
pub(crate) struct CommitPlan<'a> {
    acks: &'a [AckSet],
    /// New messages with their sequence numbers and recipients.
    stored: Vec<(u64, &'a NewMessage, Vec<String>)>,
    /// Their audit entries, chained after the head.
    audit: Vec<AuditEntry>,
    /// Each message of the batch: its slot in `stored`, or `None` (replay).
    slots: Vec<Option<usize>>,
    message_head: u64,
}

/// One parameter of a planned statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param<'a> {
    Int(i64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bytes(&'a [u8]),
}

/// A planned statement with its parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement<'a> {
    pub sql: String,
    pub params: Vec<Param<'a>>,
}

impl<'a> CommitPlan<'a> {
    /// Plans the commit of `batch` and `acks` on a store that holds `view`.
    pub(crate) fn new(batch: &'a [NewMessage], acks: &'a [AckSet], view: CommitView) -> Self {
        let (fresh, slots) = split_fresh(batch, view.existing);
        let stored: Vec<_> = fresh
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let seq = view.message_head + 1 + i as u64;
                (seq, m, recipients_of(m, &view.subscribers))
            })
            .collect();
        let records: Vec<AuditRecord> = stored.iter().map(|(_, m, _)| m.audit.clone()).collect();
        let (audit_last, audit_prev) = view.audit_head;
        CommitPlan {
            acks,
            audit: chain_records(&records, audit_last + 1, audit_prev),
            slots,
            message_head: view.message_head + stored.len() as u64,
            stored,
        }
    }

    /// Each message's outcome, in batch order.
    pub(crate) fn outcomes(&self) -> Vec<Accepted> {
        self.slots
            .iter()
            .map(|slot| match slot.and_then(|i| self.stored.get(i)) {
                Some((seq, _, recipients)) => Accepted::Stored {
                    seq: *seq,
                    recipients: recipients.clone(),
                },
                None => Accepted::Replay,
            })
            .collect()
    }

    /// The statements, in the order they run: acknowledgements, messages,
    /// deliveries, audit entries, heads.
    pub(crate) fn statements(&self, marks: Marks) -> Vec<Statement<'_>> {
        let mut out = self.ack_statements(marks);
        if self.stored.is_empty() {
            return out;
        }
        out.extend(self.message_statements(marks));
        out.extend(self.delivery_statements(marks));
        out.extend(self.audit_statements(marks));
        out.extend(self.head_statements(marks));
        out
    }

    fn ack_statements(&self, marks: Marks) -> Vec<Statement<'_>> {
        let mut out = Vec::new();
        for a in self.acks {
            for chunk in a.seqs.chunks(ACK_CHUNK) {
                let mut params = vec![Param::Int(a.at_ms), Param::Text(&a.recipient)];
                params.extend(chunk.iter().map(|s| Param::Int(*s as i64)));
                out.push(Statement {
                    sql: ack_sql(chunk.len(), marks),
                    params,
                });
            }
        }
        out
    }

    fn message_statements(&self, marks: Marks) -> Vec<Statement<'_>> {
        self.stored
            .chunks(MESSAGE_CHUNK)
            .map(|chunk| Statement {
                sql: insert_values_sql("messages", MESSAGE_COLUMNS, chunk.len(), marks),
                params: chunk
                    .iter()
                    .flat_map(|(seq, m, _)| message_params(*seq, m))
                    .collect(),
            })
            .collect()
    }

    fn delivery_statements(&self, marks: Marks) -> Vec<Statement<'_>> {
        let deliveries: Vec<(&str, u64)> = self
            .stored
            .iter()
            .flat_map(|(seq, _, recipients)| recipients.iter().map(|r| (r.as_str(), *seq)))
            .collect();
        deliveries
            .chunks(DELIVERY_CHUNK)
            .map(|chunk| Statement {
                sql: insert_values_sql("deliveries", DELIVERY_COLUMNS, chunk.len(), marks),
                params: chunk
                    .iter()
                    .flat_map(|(r, seq)| {
                        [
                            Param::Text(r),
                            Param::Int(*seq as i64),
                            Param::Text("pending"),
                        ]
                    })
                    .collect(),
            })
            .collect()
    }

    fn audit_statements(&self, marks: Marks) -> Vec<Statement<'_>> {
        self.audit
            .chunks(INSERT_CHUNK)
            .map(|chunk| Statement {
                sql: insert_values_sql("audit_log", AUDIT_COLUMNS, chunk.len(), marks),
                params: chunk.iter().flat_map(audit_params).collect(),
            })
            .collect()
    }

    fn head_statements(&self, marks: Marks) -> Vec<Statement<'_>> {
        let mut p = crate::db::Placeholders::new(marks);
        let mut message = String::from("UPDATE message_head SET seq = ");
        p.push(&mut message);
        message.push_str(" WHERE id = 1");
        let mut statements = vec![Statement {
            sql: message,
            params: vec![Param::Int(self.message_head as i64)],
        }];
        if let Some(last) = self.audit.last() {
            let mut p = crate::db::Placeholders::new(marks);
            let mut audit = String::from("UPDATE audit_head SET seq = ");
            p.push(&mut audit);
            audit.push_str(", hash = ");
            p.push(&mut audit);
            audit.push_str(" WHERE id = 1");
            statements.push(Statement {
                sql: audit,
                params: vec![Param::Int(last.seq as i64), Param::Bytes(&last.hash)],
            });
        }
        statements
    }
}

fn message_params(seq: u64, m: &NewMessage) -> [Param<'_>; 13] {
    [
        Param::Int(seq as i64),
        Param::Text(&m.sender),
        Param::Text(&m.id),
        Param::Text(&m.kind),
        Param::OptText(m.recipient.as_deref()),
        Param::OptText(m.topic.as_deref()),
        Param::Text(&m.resource),
        Param::Text(&m.schema),
        Param::Text(&m.envelope),
        Param::Text(&m.digest),
        Param::Int(m.sent_at_ms),
        Param::Int(m.received_at_ms),
        Param::OptText(m.payload_sha256.as_deref()),
    ]
}

fn audit_params(e: &AuditEntry) -> [Param<'_>; 8] {
    [
        Param::Int(e.seq as i64),
        Param::Int(e.at_ms),
        Param::Text(&e.actor),
        Param::Text(&e.action),
        Param::Text(&e.subject),
        Param::Text(&e.detail),
        Param::Bytes(&e.prev_hash),
        Param::Bytes(&e.hash),
    ]
}

/// The messages to store (neither stored before, i.e. in `existing`, nor
/// earlier in the batch) and, for each message of the batch, its slot among
/// them (`None`: a replay).
fn split_fresh(
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

/// Who a stored message is delivered to: its recipient, or the subscribers
/// of its topic (not the sender, and within its audience); nobody for
/// requests and responses.
fn recipients_of(m: &NewMessage, subscribers: &HashMap<String, Vec<String>>) -> Vec<String> {
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

/// The batch's topics (a replay's too: its subscribers are read and unused).
fn topics_of(batch: &[NewMessage]) -> Vec<&str> {
    let topics: HashSet<&str> = batch.iter().filter_map(|m| m.topic.as_deref()).collect();
    let mut topics: Vec<&str> = topics.into_iter().collect();
    topics.sort_unstable();
    topics
}

/// `SELECT sender, id FROM messages WHERE (sender, id) IN (…)`.
fn existing_sql(pairs: usize, marks: Marks) -> String {
    format!(
        "SELECT sender, id FROM messages WHERE {}",
        pair_list(pairs, marks)
    )
}

/// The subscribers of `topics`.
fn subscribers_sql(topics: usize, marks: Marks) -> String {
    let mut sql = String::from("SELECT topic, department FROM subscriptions WHERE topic IN ");
    crate::db::Placeholders::new(marks).push_tuple(&mut sql, topics);
    sql.push_str(" ORDER BY topic, department");
    sql
}

/// Both heads, locked until commit where the backend needs it said.
fn heads_sql(postgres: bool) -> &'static str {
    if postgres {
        "SELECT m.seq AS mseq, a.seq AS aseq, a.hash AS ahash FROM message_head m, audit_head a WHERE m.id = 1 AND a.id = 1 FOR UPDATE"
    } else {
        "SELECT m.seq AS mseq, a.seq AS aseq, a.hash AS ahash FROM message_head m, audit_head a WHERE m.id = 1 AND a.id = 1"
    }
}

fn heads_of(row: &impl RowExt, view: &mut CommitView) -> Result<()> {
    view.message_head = u64::try_from(row.int("mseq")?)
        .map_err(|_| StoreError::Corrupt("negative message head".into()))?;
    let audit = u64::try_from(row.int("aseq")?)
        .map_err(|_| StoreError::Corrupt("negative audit head".into()))?;
    view.audit_head = (audit, hash32(row.bytes("ahash")?, "audit head")?);
    Ok(())
}

/// Reads, with `$executor`, the replays and subscribers of `$batch` into
/// `$view` (one expansion per backend).
macro_rules! read_view {
    ($executor:expr, $marks:expr, $batch:expr, $view:expr) => {{
        for chunk in $batch.chunks(PAIR_CHUNK) {
            let mut q =
                sqlx::query(AssertSqlSafe(existing_sql(chunk.len(), $marks))).persistent(false);
            for m in chunk {
                q = q.bind(&m.sender).bind(&m.id);
            }
            for row in q.fetch_all(&mut *$executor).await? {
                $view
                    .existing
                    .insert((row.text("sender")?, row.text("id")?));
            }
        }
        let topics = topics_of($batch);
        if !topics.is_empty() {
            let mut q =
                sqlx::query(AssertSqlSafe(subscribers_sql(topics.len(), $marks))).persistent(false);
            for t in &topics {
                q = q.bind(*t);
            }
            for row in q.fetch_all(&mut *$executor).await? {
                $view
                    .subscribers
                    .entry(row.text("topic")?)
                    .or_default()
                    .push(row.text("department")?);
            }
        }
    }};
}

/// Binds `$param` to the query `$q`.
macro_rules! bind_param {
    ($q:expr, $param:expr) => {
        match $param {
            Param::Int(v) => $q.bind(*v),
            Param::Text(v) => $q.bind(*v),
            Param::OptText(v) => $q.bind(*v),
            Param::Bytes(v) => $q.bind(*v),
        }
    };
}

/// SQLite's fast path: see the module's documentation.
async fn commit_sqlite(
    db: &SqliteDb,
    batch: &[NewMessage],
    acks: &[AckSet],
) -> Result<Vec<Accepted>> {
    let mut view = CommitView::default();
    let mut reader = db.read.acquire().await?;
    read_view!(reader, Marks::Anonymous, batch, view);
    drop(reader);

    let mut tx = db.begin().await?;
    let heads = sqlx::query(heads_sql(false)).fetch_one(&mut *tx).await?;
    heads_of(&heads, &mut view)?;
    let plan = CommitPlan::new(batch, acks, view);
    let (script, args) = sqlite_script(&plan.statements(Marks::Anonymous))?;
    if !script.is_empty() {
        sqlx::query_with(AssertSqlSafe(script), args)
            .persistent(false)
            .execute(&mut *tx)
            .await?;
    }
    db.commit(tx).await?;
    Ok(plan.outcomes())
}

/// Every statement as one SQLite script with one list of arguments.
fn sqlite_script<'a>(
    statements: &'a [Statement<'a>],
) -> Result<(String, sqlx::sqlite::SqliteArguments)> {
    let mut script = String::new();
    let mut args = sqlx::sqlite::SqliteArguments::default();
    for s in statements {
        script.push_str(&s.sql);
        script.push_str(";\n");
        for p in &s.params {
            let added = match p {
                Param::Int(v) => args.add(*v),
                Param::Text(v) => args.add(*v),
                Param::OptText(v) => args.add(*v),
                Param::Bytes(v) => args.add(*v),
            };
            added.map_err(|e| StoreError::Database(sqlx::Error::Encode(e)))?;
        }
    }
    Ok((script, args))
}

/// The portable path: see the module's documentation.
pub(crate) async fn commit_portable(
    db: &Db,
    batch: &[NewMessage],
    acks: &[AckSet],
) -> Result<Vec<Accepted>> {
    Ok(in_tx!(db, tx => {
        let marks = crate::db::marks_of(&tx);
        let mut view = CommitView::default();
        let heads = sqlx::query(heads_sql(crate::db::is_postgres(&tx)))
            .fetch_one(&mut *tx)
            .await?;
        heads_of(&heads, &mut view)?;
        read_view!(tx, marks, batch, view);
        let plan = CommitPlan::new(batch, acks, view);
        for statement in plan.statements(marks) {
            let mut q = sqlx::query(AssertSqlSafe(statement.sql));
            for p in &statement.params {
                q = bind_param!(q, p);
            }
            q.execute(&mut *tx).await?;
        }
        plan.outcomes()
    }))
}

#[cfg(test)]
mod tests;
