//! Public records of signing keys with their validity windows.

use crate::db::{RowExt, from_unix, unix};
use crate::{Result, Store};

/// A signing key's public record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRow {
    /// Multikey of the public key (also its id).
    pub key_id: String,
    /// Department code, or `hub`.
    pub owner: String,
    /// Controller URN (`urn:uscc:…`, `urn:tongban:hub:…`).
    pub controller: String,
    /// Window start.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: time::OffsetDateTime,
    /// Window end (rotation), if set.
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<time::OffsetDateTime>,
    /// Revocation instant, if revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<time::OffsetDateTime>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// What it signs: `issue`, `exchange` or `both`.
    pub purpose: String,
}

pub(crate) fn from_row(row: &impl RowExt) -> Result<KeyRow> {
    Ok(KeyRow {
        key_id: row.text("key_id")?,
        owner: row.text("owner")?,
        controller: row.text("controller")?,
        not_before: from_unix(row.int("not_before")?)?,
        not_after: row.opt_int("not_after")?.map(from_unix).transpose()?,
        revoked_at: row.opt_int("revoked_at")?.map(from_unix).transpose()?,
        revoked_reason: row.opt_text("revoked_reason")?,
        created_at: from_unix(row.int("created_at")?)?,
        purpose: row.text("purpose")?,
    })
}

pub(crate) const COLUMNS: &str = "key_id, owner, controller, not_before, not_after, revoked_at, revoked_reason, created_at, purpose";

impl Store {
    /// Registers a key; `false` if the key id is already registered.
    pub async fn insert_key(&self, k: &KeyRow, audit: &[crate::AuditRecord]) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO signing_keys (key_id, owner, controller, not_before, not_after, revoked_at, revoked_reason, created_at, purpose) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key_id) DO NOTHING")
                .bind(&k.key_id)
                .bind(&k.owner)
                .bind(&k.controller)
                .bind(unix(k.not_before))
                .bind(k.not_after.map(unix))
                .bind(k.revoked_at.map(unix))
                .bind(&k.revoked_reason)
                .bind(unix(k.created_at))
                .bind(&k.purpose), audit)
        });
        Ok(done == 1)
    }

    /// Keys of one owner, oldest first.
    pub async fn keys_of(&self, owner: &str) -> Result<Vec<KeyRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE owner = $1 ORDER BY not_before, key_id"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).fetch_all(pool).await?.iter().map(from_row).collect()
        })
    }

    /// Every key.
    pub async fn all_keys(&self) -> Result<Vec<KeyRow>> {
        let sql = format!("SELECT {COLUMNS} FROM signing_keys ORDER BY owner, not_before, key_id");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?.iter().map(from_row).collect()
        })
    }

    /// One key.
    pub async fn key(&self, key_id: &str) -> Result<Option<KeyRow>> {
        let sql = format!("SELECT {COLUMNS} FROM signing_keys WHERE key_id = $1");
        on_db!(&self.db, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key_id).fetch_optional(pool).await? {
                Some(row) => Ok(Some(from_row(&row)?)),
                None => Ok(None),
            }
        })
    }

    /// Sets the end of a key's window (rotation); `false` if unknown or revoked.
    pub async fn close_key_window(
        &self,
        key_id: &str,
        not_after: time::OffsetDateTime,
        audit: &[crate::AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE signing_keys SET not_after = $2 WHERE key_id = $1 AND revoked_at IS NULL AND (not_after IS NULL OR not_after > $2)")
                .bind(key_id)
                .bind(unix(not_after)), audit)
        });
        Ok(done == 1)
    }

    /// Revokes a key as of `at`; `false` if unknown or already revoked.
    pub async fn revoke_key(
        &self,
        key_id: &str,
        at: time::OffsetDateTime,
        reason: &str,
        audit: &[crate::AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE signing_keys SET revoked_at = $2, revoked_reason = $3 WHERE key_id = $1 AND revoked_at IS NULL")
                .bind(key_id)
                .bind(unix(at))
                .bind(reason), audit)
        });
        Ok(done == 1)
    }
}
