//! Licences, their status changes, and licence-use records (用证记录).

use crate::db::{RowExt, from_unix, unix};
use crate::{Result, Store, StoreError};

/// Status of a stored licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenceState {
    /// 现势.
    Valid,
    /// 中止 (reversible).
    Suspended,
    /// 注销 (irreversible).
    Revoked,
}

impl LicenceState {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceState::Valid => "valid",
            LicenceState::Suspended => "suspended",
            LicenceState::Revoked => "revoked",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "valid" => Some(LicenceState::Valid),
            "suspended" => Some(LicenceState::Suspended),
            "revoked" => Some(LicenceState::Revoked),
            _ => None,
        }
    }
}

/// A stored licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceRow {
    /// 证照标识.
    pub identifier: String,
    /// Issuer's USCC.
    pub issuer_code: String,
    /// 证照类型代码.
    pub type_code: String,
    /// Type version.
    pub type_version: String,
    /// 证照编号.
    pub number: String,
    /// `111` or `001`.
    pub holder_code_type: String,
    /// Holder's code.
    pub holder_code: String,
    /// Holder's name.
    pub holder_name: String,
    /// Validity start.
    pub valid_from: time::OffsetDateTime,
    /// Validity end.
    pub valid_until: Option<time::OffsetDateTime>,
    /// Current status.
    pub status: LicenceState,
    /// Status list sequence.
    pub list_sequence: i64,
    /// Index in the issuer's status lists.
    pub status_index: i64,
    /// The signed credential (JSON text).
    pub credential: String,
    /// Hex SHA-256 of the attachment, if any.
    pub attachment_sha256: Option<String>,
    /// Issue instant.
    pub issued_at: time::OffsetDateTime,
}

fn from_row(row: &impl RowExt) -> Result<LicenceRow> {
    let status = row.text("status")?;
    Ok(LicenceRow {
        identifier: row.text("identifier")?,
        issuer_code: row.text("issuer_code")?,
        type_code: row.text("type_code")?,
        type_version: row.text("type_version")?,
        number: row.text("number")?,
        holder_code_type: row.text("holder_code_type")?,
        holder_code: row.text("holder_code")?,
        holder_name: row.text("holder_name")?,
        valid_from: from_unix(row.int("valid_from")?)?,
        valid_until: row.opt_int("valid_until")?.map(from_unix).transpose()?,
        status: LicenceState::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("licence status {status:?}")))?,
        list_sequence: row.int("list_sequence")?,
        status_index: row.int("status_index")?,
        credential: row.text("credential")?,
        attachment_sha256: row.opt_text("attachment_sha256")?,
        issued_at: from_unix(row.int("issued_at")?)?,
    })
}

const COLUMNS: &str = "identifier, issuer_code, type_code, type_version, number, holder_code_type, holder_code, holder_name, valid_from, valid_until, status, list_sequence, status_index, credential, attachment_sha256, issued_at";

/// A status change to record.
#[derive(Debug, Clone)]
pub struct StatusEvent {
    /// Who changed it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: time::OffsetDateTime,
}

/// A status change as recorded (注销 / 中止 / 恢复).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEventRow {
    /// `suspend`, `reinstate` or `revoke`.
    pub action: String,
    /// Why.
    pub reason: String,
    /// Who changed it.
    pub actor: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
}

/// A licence-use record to write (用证记录).
#[derive(Debug, Clone)]
pub struct UseRecord {
    /// Who asked (department code or operator).
    pub requester: String,
    /// 申请事由.
    pub use_cause: String,
    /// `identifier` or `holder`.
    pub query_kind: String,
    /// The query as asked.
    pub query: String,
    /// The case (办件) that asked, if any.
    pub case_ref: Option<String>,
    /// When.
    pub at: time::OffsetDateTime,
}

/// A stored licence-use record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UseRow {
    /// Record id.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    /// Who asked.
    pub requester: String,
    /// 申请事由.
    pub use_cause: String,
    /// Query kind.
    pub query_kind: String,
    /// The query.
    pub query: String,
    /// The case, if any.
    pub case_ref: Option<String>,
    /// Identifiers returned.
    pub returned: Vec<String>,
}

/// Columns of a licence insert, in bind order.
const LICENCE_INSERT_COLUMNS: &[&str] = &[
    "identifier",
    "issuer_code",
    "type_code",
    "type_version",
    "number",
    "holder_code_type",
    "holder_code",
    "holder_name",
    "valid_from",
    "valid_until",
    "status",
    "list_sequence",
    "status_index",
    "credential",
    "attachment_sha256",
    "issued_at",
    "updated_at",
];
/// Licence rows per INSERT statement (17 parameters each).
const LICENCE_INSERT_CHUNK: usize = 100;

/// Most rows one status-change or find call touches.
pub const MAX_BATCH: usize = 10_000;

impl Store {
    /// Reserves `count` consecutive indices of `issuer`'s counter and returns the first.
    ///
    /// Committed on its own: a crash after it leaves a gap, never a half-issued licence.
    pub async fn allocate_indices(&self, issuer: &str, count: u32) -> Result<i64> {
        let next: i64 = in_tx!(&self.db, tx => {
            sqlx::query_scalar("INSERT INTO issuer_counters (issuer_code, next_index) VALUES ($1, $2) ON CONFLICT (issuer_code) DO UPDATE SET next_index = issuer_counters.next_index + $2 RETURNING next_index")
                .bind(issuer)
                .bind(i64::from(count))
                .fetch_one(&mut *tx)
                .await?
        });
        Ok(next - i64::from(count))
    }

    /// Writes licences in one transaction: all or none.
    pub async fn insert_licences(
        &self,
        rows: &[LicenceRow],
        audit: &[crate::AuditRecord],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        in_tx!(&self.db, tx => {
            let marks = crate::db::marks_of(&tx);
            // One statement per chunk: each statement is a round trip to the
            // database's worker, which costs more than the row itself.
            for chunk in rows.chunks(LICENCE_INSERT_CHUNK) {
                let sql = crate::db::insert_values_sql("licences", LICENCE_INSERT_COLUMNS, chunk.len(), marks);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    q = q
                        .bind(&r.identifier)
                        .bind(&r.issuer_code)
                        .bind(&r.type_code)
                        .bind(&r.type_version)
                        .bind(&r.number)
                        .bind(&r.holder_code_type)
                        .bind(&r.holder_code)
                        .bind(&r.holder_name)
                        .bind(unix(r.valid_from))
                        .bind(r.valid_until.map(unix))
                        .bind(r.status.as_str())
                        .bind(r.list_sequence)
                        .bind(r.status_index)
                        .bind(&r.credential)
                        .bind(&r.attachment_sha256)
                        .bind(unix(r.issued_at))
                        .bind(unix(r.issued_at));
                }
                q.execute(&mut *tx).await?;
            }
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// Records that a blob is held (after the bytes are durable).
    pub async fn record_blob(
        &self,
        sha256: &str,
        size: u64,
        media_type: &str,
        at: time::OffsetDateTime,
    ) -> Result<()> {
        on_writer!(&self.db, pool => {
            sqlx::query("INSERT INTO blobs (sha256, size, media_type, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING")
                .bind(sha256)
                .bind(i64::try_from(size).unwrap_or(i64::MAX))
                .bind(media_type)
                .bind(unix(at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Media type of a recorded blob.
    pub async fn blob_media_type(&self, sha256: &str) -> Result<Option<String>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar("SELECT media_type FROM blobs WHERE sha256 = $1").bind(sha256).fetch_optional(pool).await?)
        })
    }

    /// A licence by identifier.
    pub async fn licence(&self, identifier: &str) -> Result<Option<LicenceRow>> {
        let sql = format!("SELECT {COLUMNS} FROM licences WHERE identifier = $1");
        on_db!(&self.db, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(identifier).fetch_optional(pool).await? {
                Some(row) => Ok(Some(from_row(&row)?)),
                None => Ok(None),
            }
        })
    }

    /// A holder's licences (optionally of one type), newest first, at most `limit`.
    pub async fn licences_of_holder(
        &self,
        code_type: &str,
        code: &str,
        type_code: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LicenceRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM licences WHERE holder_code_type = $1 AND holder_code = $2 AND ($3 IS NULL OR type_code = $3) ORDER BY issued_at DESC, identifier LIMIT $4"
        );
        let limit = i64::try_from(limit.min(MAX_BATCH)).unwrap_or(0);
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(code_type)
                .bind(code)
                .bind(type_code)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    /// Licences of an issuer, newest first.
    pub async fn licences_of_issuer(&self, issuer: &str, limit: usize) -> Result<Vec<LicenceRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM licences WHERE issuer_code = $1 ORDER BY issued_at DESC, identifier LIMIT $2"
        );
        let limit = i64::try_from(limit.min(MAX_BATCH)).unwrap_or(0);
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(issuer).bind(limit).fetch_all(pool).await?.iter().map(from_row).collect()
        })
    }

    /// Licences of an issuer in identifier order, after `after` (a page of a full scan).
    pub async fn licences_of_issuer_page(
        &self,
        issuer: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LicenceRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM licences WHERE issuer_code = $1 AND ($2 IS NULL OR identifier > $2) ORDER BY identifier LIMIT $3"
        );
        let limit = i64::try_from(limit.min(MAX_BATCH)).unwrap_or(0);
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(issuer).bind(after).bind(limit).fetch_all(pool).await?.iter().map(from_row).collect()
        })
    }

    /// Number of licences, by status.
    pub async fn licence_counts(&self) -> Result<Vec<(String, i64)>> {
        on_db!(&self.db, pool => {
            let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM licences GROUP BY status ORDER BY status").fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.text("status")?, r.int("n")?))).collect()
        })
    }

    /// Licences issued, and licence-use records (用证记录) written, at or
    /// after `since`.
    pub async fn licence_activity_since(&self, since: time::OffsetDateTime) -> Result<(i64, i64)> {
        on_db!(&self.db, pool => {
            let issued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM licences WHERE issued_at >= $1")
                .bind(unix(since))
                .fetch_one(pool)
                .await?;
            let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM licence_uses WHERE at >= $1")
                .bind(unix(since))
                .fetch_one(pool)
                .await?;
            Ok((issued, used))
        })
    }

    /// Changes a licence's status if it is currently in one of `from`, and
    /// records the event, in one transaction. Returns the previous status,
    /// or `None` when the licence does not exist.
    pub async fn change_licence_status(
        &self,
        identifier: &str,
        from: &[LicenceState],
        to: LicenceState,
        action: &str,
        event: &StatusEvent,
        audit: &[crate::AuditRecord],
    ) -> Result<Option<(LicenceState, bool)>> {
        let outcome = in_tx!(&self.db, tx => {
            let current: Option<String> = sqlx::query_scalar("SELECT status FROM licences WHERE identifier = $1")
                .bind(identifier)
                .fetch_optional(&mut *tx)
                .await?;
            match current {
                None => None,
                Some(current) => {
                    let current = LicenceState::parse(&current)
                        .ok_or_else(|| StoreError::Corrupt(format!("licence status {current:?}")))?;
                    if from.contains(&current) {
                        sqlx::query("UPDATE licences SET status = $2, updated_at = $3 WHERE identifier = $1 AND status = $4")
                            .bind(identifier)
                            .bind(to.as_str())
                            .bind(unix(event.at))
                            .bind(current.as_str())
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("INSERT INTO licence_status_events (identifier, action, reason, actor, at) VALUES ($1, $2, $3, $4, $5)")
                            .bind(identifier)
                            .bind(action)
                            .bind(&event.reason)
                            .bind(&event.actor)
                            .bind(unix(event.at))
                            .execute(&mut *tx)
                            .await?;
                        append_audit!(tx, audit);
                        Some((current, true))
                    } else {
                        Some((current, false))
                    }
                }
            }
        });
        Ok(outcome)
    }

    /// Status indices of `issuer`'s licences on list `sequence` that are in `state`.
    pub async fn status_indices(
        &self,
        issuer: &str,
        sequence: i64,
        state: LicenceState,
    ) -> Result<Vec<i64>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar("SELECT status_index FROM licences WHERE issuer_code = $1 AND list_sequence = $2 AND status = $3 ORDER BY status_index")
                .bind(issuer)
                .bind(sequence)
                .bind(state.as_str())
                .fetch_all(pool)
                .await?)
        })
    }

    /// Status list sequences in use by `issuer`.
    pub async fn list_sequences(&self, issuer: &str) -> Result<Vec<i64>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar("SELECT DISTINCT list_sequence FROM licences WHERE issuer_code = $1 ORDER BY list_sequence")
                .bind(issuer)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Issuers that have issued licences.
    pub async fn issuers_with_licences(&self) -> Result<Vec<String>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar("SELECT DISTINCT issuer_code FROM licences ORDER BY issuer_code").fetch_all(pool).await?)
        })
    }

    /// Writes a licence-use record with the identifiers returned; returns its id.
    pub async fn record_use(
        &self,
        record: &UseRecord,
        identifiers: &[String],
        audit: &[crate::AuditRecord],
    ) -> Result<i64> {
        let id: i64 = in_tx!(&self.db, tx => {
            let id: i64 = sqlx::query_scalar("INSERT INTO licence_uses (at, requester, use_cause, query_kind, query, case_ref, returned) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(unix(record.at))
                .bind(&record.requester)
                .bind(&record.use_cause)
                .bind(&record.query_kind)
                .bind(&record.query)
                .bind(&record.case_ref)
                .bind(i64::try_from(identifiers.len()).unwrap_or(i64::MAX))
                .fetch_one(&mut *tx)
                .await?;
            for identifier in identifiers {
                sqlx::query("INSERT INTO licence_use_items (use_id, identifier) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(identifier)
                    .execute(&mut *tx)
                    .await?;
            }
            append_audit!(tx, audit);
            id
        });
        Ok(id)
    }

    /// Use records that returned `identifier`, newest first.
    pub async fn uses_of_licence(&self, identifier: &str, limit: usize) -> Result<Vec<UseRow>> {
        let limit = i64::try_from(limit.min(MAX_BATCH)).unwrap_or(0);
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT use_id FROM licence_use_items WHERE identifier = $1 ORDER BY use_id DESC LIMIT $2")
                .bind(identifier)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        self.uses_by_id(&ids).await
    }

    /// A licence's status changes, oldest first, at most `limit`.
    pub async fn licence_status_events(
        &self,
        identifier: &str,
        limit: usize,
    ) -> Result<Vec<StatusEventRow>> {
        let limit = i64::try_from(limit.min(MAX_BATCH)).unwrap_or(0);
        on_db!(&self.db, pool => {
            sqlx::query("SELECT action, reason, actor, at FROM licence_status_events WHERE identifier = $1 ORDER BY id LIMIT $2")
                .bind(identifier)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok(StatusEventRow {
                    action: r.text("action")?,
                    reason: r.text("reason")?,
                    actor: r.text("actor")?,
                    at: from_unix(r.int("at")?)?,
                }))
                .collect()
        })
    }

    /// The most recent use records (optionally of one requester).
    pub async fn recent_uses(&self, requester: Option<&str>, limit: usize) -> Result<Vec<UseRow>> {
        let limit = i64::try_from(limit.min(MAX_BATCH)).unwrap_or(0);
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM licence_uses WHERE ($1 IS NULL OR requester = $1) ORDER BY id DESC LIMIT $2")
                .bind(requester)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        self.uses_by_id(&ids).await
    }

    pub(crate) async fn uses_by_id(&self, ids: &[i64]) -> Result<Vec<UseRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = on_db!(&self.db, pool => {
                let row = sqlx::query("SELECT id, at, requester, use_cause, query_kind, query, case_ref FROM licence_uses WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
                let items: Vec<String> = sqlx::query_scalar("SELECT identifier FROM licence_use_items WHERE use_id = $1 ORDER BY identifier")
                    .bind(id)
                    .fetch_all(pool)
                    .await?;
                match row {
                    None => None,
                    Some(r) => Some(UseRow {
                        id: r.int("id")?,
                        at: from_unix(r.int("at")?)?,
                        requester: r.text("requester")?,
                        use_cause: r.text("use_cause")?,
                        query_kind: r.text("query_kind")?,
                        query: r.text("query")?,
                        case_ref: r.opt_text("case_ref")?,
                        returned: items,
                    }),
                }
            });
            out.extend(row);
        }
        Ok(out)
    }
}
