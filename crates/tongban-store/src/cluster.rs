//! The nodes of one hub (migration 0027): several `tongban serve` nodes on
//! one PostgreSQL database are one hub. Each node has a row with a
//! heartbeat, counts its listeners of each provider, and relays requests
//! for providers that listen on another node through `node_relays`;
//! notifications (PostgreSQL `NOTIFY`) wake the nodes concerned at once.
//!
//! Times here are the database's clock (unix milliseconds), never a node's:
//! whether a node is live does not depend on the nodes' clocks agreeing.
//! A SQLite hub is one node; the tables exist there too (the migration list
//! is shared) and these calls work, but [`Store::notify`] does nothing and
//! [`Store::listen`] has nothing to listen to.

use std::time::Duration;

use sqlx::AssertSqlSafe;

use crate::db::{Db, RowExt};
use crate::{Result, Store, StoreError};

/// Largest `NOTIFY` payload PostgreSQL takes is 8,000 bytes; longer ones
/// are refused here with `STORE_CONFIG` (callers split theirs).
pub const MAX_NOTIFY_PAYLOAD: usize = 7_900;

/// Nodes unseen this long are forgotten when a node starts, with their
/// listener counts and relays.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// The database clock in unix milliseconds, as SQL.
fn now_ms(db: &Db) -> &'static str {
    match db {
        Db::Sqlite(_) => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        Db::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// A request to relay to the node its provider listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayRequest {
    /// The node the requester is connected to.
    pub from_node: String,
    /// The node the provider listens on.
    pub to_node: String,
    /// The requesting department.
    pub requester: String,
    /// The request's id.
    pub request_id: String,
    /// The provider.
    pub provider: String,
    /// The resource asked.
    pub resource: String,
    /// The stored request's delivery number.
    pub delivery: u64,
    /// The stored request (JSON).
    pub envelope: String,
    /// How long the requester waits.
    pub timeout_ms: u64,
}

/// What a relayed request was answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayAnswer {
    /// The provider's (stored) response, JSON.
    Response(String),
    /// Refused or failed: the code and sentence the requester gets.
    Refused {
        /// Stable code.
        code: String,
        /// For people.
        message: String,
    },
}

const RELAY_COLUMNS: &str = "id, from_node, to_node, requester, request_id, provider, resource, delivery, envelope, timeout_ms";

fn relay_from_row(r: &impl RowExt) -> Result<(i64, RelayRequest)> {
    let count =
        |v: i64| u64::try_from(v).map_err(|_| StoreError::Corrupt("a negative count".into()));
    Ok((
        r.int("id")?,
        RelayRequest {
            from_node: r.text("from_node")?,
            to_node: r.text("to_node")?,
            requester: r.text("requester")?,
            request_id: r.text("request_id")?,
            provider: r.text("provider")?,
            resource: r.text("resource")?,
            delivery: count(r.int("delivery")?)?,
            envelope: r.text("envelope")?,
            timeout_ms: count(r.int("timeout_ms")?)?,
        },
    ))
}

fn answer_from_row(r: &impl RowExt) -> Result<Option<RelayAnswer>> {
    if r.int("answered")? == 0 {
        return Ok(None);
    }
    Ok(Some(match r.opt_text("response")? {
        Some(response) => RelayAnswer::Response(response),
        None => RelayAnswer::Refused {
            code: r.opt_text("error_code")?.unwrap_or_default(),
            message: r.opt_text("error_message")?.unwrap_or_default(),
        },
    }))
}

impl Store {
    /// A node starts: its row (seen now), and the rows of nodes unseen for
    /// an hour forgotten (their listener counts and relays with them).
    pub async fn node_join(&self, node_id: &str) -> Result<()> {
        let now = now_ms(&self.db);
        let stale =
            format!("SELECT node_id FROM hub_nodes WHERE seen_at < {now} - {FORGET_AFTER_MS}");
        let forget = [
            format!("DELETE FROM node_listeners WHERE node_id = $1 OR node_id IN ({stale})"),
            format!(
                "DELETE FROM node_relays WHERE from_node = $1 OR to_node = $1 OR from_node IN ({stale}) OR to_node IN ({stale}) OR created_at < {now} - {FORGET_AFTER_MS}"
            ),
            format!(
                "DELETE FROM hub_nodes WHERE node_id = $1 OR seen_at < {now} - {FORGET_AFTER_MS}"
            ),
            format!(
                "INSERT INTO hub_nodes (node_id, started_at, seen_at) VALUES ($1, {now}, {now})"
            ),
        ];
        in_tx!(&self.db, tx => {
            for sql in &forget {
                sqlx::query(AssertSqlSafe(sql.clone())).bind(node_id).execute(&mut *tx).await?;
            }
        });
        Ok(())
    }

    /// A node's heartbeat: seen now (its row made again if it was forgotten).
    pub async fn node_heartbeat(&self, node_id: &str) -> Result<()> {
        let now = now_ms(&self.db);
        let sql = format!(
            "INSERT INTO hub_nodes (node_id, started_at, seen_at) VALUES ($1, {now}, {now}) ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at"
        );
        on_writer!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone())).bind(node_id).execute(pool).await?;
        });
        Ok(())
    }

    /// A node stops cleanly: its row, listener counts and relays go.
    pub async fn node_leave(&self, node_id: &str) -> Result<()> {
        in_tx!(&self.db, tx => {
            for sql in [
                "DELETE FROM node_listeners WHERE node_id = $1",
                "DELETE FROM node_relays WHERE from_node = $1 OR to_node = $1",
                "DELETE FROM hub_nodes WHERE node_id = $1",
            ] {
                sqlx::query(sql).bind(node_id).execute(&mut *tx).await?;
            }
        });
        Ok(())
    }

    /// Sets how many listen streams of each department `node_id` has
    /// (each pair given; a count of 0 removes the department's row).
    pub async fn node_listeners_set(&self, node_id: &str, counts: &[(String, u64)]) -> Result<()> {
        in_tx!(&self.db, tx => {
            for (department, n) in counts {
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                sqlx::query("INSERT INTO node_listeners (department, node_id, listeners) VALUES ($1, $2, $3) ON CONFLICT (department, node_id) DO UPDATE SET listeners = excluded.listeners")
                    .bind(department).bind(node_id).bind(n).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM node_listeners WHERE node_id = $1 AND listeners <= 0")
                .bind(node_id).execute(&mut *tx).await?;
        });
        Ok(())
    }

    /// Every (department, node) with listeners on a node seen within
    /// `gone_after`: the nodes not seen for longer count as gone.
    pub async fn live_listeners(&self, gone_after: Duration) -> Result<Vec<(String, String)>> {
        let bound = i64::try_from(gone_after.as_millis()).unwrap_or(i64::MAX / 2);
        let sql = format!(
            "SELECT l.department, l.node_id FROM node_listeners l JOIN hub_nodes n ON n.node_id = l.node_id WHERE l.listeners > 0 AND n.seen_at >= {} - $1 ORDER BY l.department, l.node_id",
            now_ms(&self.db)
        );
        let rows = on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone())).bind(bound).fetch_all(pool).await?
                .iter().map(|r| Ok((r.text("department")?, r.text("node_id")?))).collect::<Result<Vec<_>>>()?
        });
        Ok(rows)
    }

    /// Opens a relay of a request to the node its provider listens on; its id.
    pub async fn relay_open(&self, r: &RelayRequest) -> Result<i64> {
        let count =
            |v: u64| i64::try_from(v).map_err(|_| StoreError::Config(format!("{v} is too large")));
        let sql = format!(
            "INSERT INTO node_relays (from_node, to_node, requester, request_id, provider, resource, delivery, envelope, timeout_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {}) RETURNING id",
            now_ms(&self.db)
        );
        let id: i64 = on_writer!(&self.db, pool => {
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .bind(&r.from_node).bind(&r.to_node).bind(&r.requester).bind(&r.request_id)
                .bind(&r.provider).bind(&r.resource).bind(count(r.delivery)?).bind(&r.envelope)
                .bind(count(r.timeout_ms)?)
                .fetch_one(pool).await?
        });
        Ok(id)
    }

    /// Takes relay `id` addressed to `node_id`, once: `None` if it is not
    /// there (closed, timed out) or was taken already.
    pub async fn relay_claim(&self, id: i64, node_id: &str) -> Result<Option<RelayRequest>> {
        let sql = format!(
            "UPDATE node_relays SET claimed = 1 WHERE id = $1 AND to_node = $2 AND claimed = 0 RETURNING {RELAY_COLUMNS}"
        );
        let row = on_writer!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone())).bind(id).bind(node_id).fetch_optional(pool).await?
                .as_ref().map(relay_from_row).transpose()?
        });
        Ok(row.map(|(_, r)| r))
    }

    /// The relays addressed to `node_id` not yet taken (a notification lost).
    pub async fn relays_unclaimed(&self, node_id: &str) -> Result<Vec<i64>> {
        let ids = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM node_relays WHERE to_node = $1 AND claimed = 0 ORDER BY id LIMIT 1000")
                .bind(node_id).fetch_all(pool).await?
        });
        Ok(ids)
    }

    /// Answers relay `id`; false if it is gone (the requester's node
    /// stopped waiting) or was answered already.
    pub async fn relay_answer(&self, id: i64, answer: &RelayAnswer) -> Result<bool> {
        let (response, code, message) = match answer {
            RelayAnswer::Response(r) => (Some(r.as_str()), None, None),
            RelayAnswer::Refused { code, message } => {
                (None, Some(code.as_str()), Some(message.as_str()))
            }
        };
        let done = on_writer!(&self.db, pool => {
            sqlx::query("UPDATE node_relays SET answered = 1, response = $2, error_code = $3, error_message = $4 WHERE id = $1 AND answered = 0")
                .bind(id).bind(response).bind(code).bind(message).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Relay `id`'s answer, if it has one (`None` also when it is gone).
    pub async fn relay_answered(&self, id: i64) -> Result<Option<RelayAnswer>> {
        let answer = on_db!(&self.db, pool => {
            sqlx::query("SELECT answered, response, error_code, error_message FROM node_relays WHERE id = $1")
                .bind(id).fetch_optional(pool).await?
                .as_ref().map(answer_from_row).transpose()?.flatten()
        });
        Ok(answer)
    }

    /// Removes relay `id` (answered, or its requester stopped waiting).
    pub async fn relay_close(&self, id: i64) -> Result<()> {
        on_writer!(&self.db, pool => {
            sqlx::query("DELETE FROM node_relays WHERE id = $1").bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Sends a notification on `channel` to every node listening
    /// (PostgreSQL `NOTIFY`; nothing on SQLite, whose hub is one node).
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        if payload.len() > MAX_NOTIFY_PAYLOAD {
            return Err(StoreError::Config(format!(
                "a notification of {} bytes is over {MAX_NOTIFY_PAYLOAD}",
                payload.len()
            )));
        }
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Listens on `channels` (one connection of the pool, kept), or `None`
    /// on SQLite.
    pub async fn listen(&self, channels: &[&str]) -> Result<Option<Notifications>> {
        let Db::Postgres(pool) = &self.db else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen_all(channels.iter().copied()).await?;
        Ok(Some(Notifications(listener)))
    }
}

/// Notifications on the channels of [`Store::listen`].
pub struct Notifications(sqlx::postgres::PgListener);

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifications")
    }
}

impl Notifications {
    /// The next notification, (channel, payload); `None` when the
    /// connection was lost and made again (notifications sent meanwhile
    /// are lost: look again at what they would have said).
    pub async fn next(&mut self) -> Result<Option<(String, String)>> {
        Ok(self
            .0
            .try_recv()
            .await?
            .map(|n| (n.channel().to_owned(), n.payload().to_owned())))
    }
}
