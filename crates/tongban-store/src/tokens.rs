//! API tokens of the hub's HTTP side (migration 0020): a name, a role, the
//! department an operator acts for, and the SHA-256 of the secret, never
//! the secret itself.

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store};

/// An API token as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRow {
    /// `tok_` and 16 hex digits: the public half of the token.
    pub id: String,
    /// What it is for, in words.
    pub name: String,
    /// `region-admin`, `department-operator`, `auditor` or `verifier`.
    pub role: String,
    /// The department a `department-operator` acts for.
    pub department: Option<String>,
    /// SHA-256 of the secret, hex.
    #[serde(skip)]
    pub secret_sha256: String,
    /// Made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// By whom.
    pub created_by: String,
    /// Not accepted from then on.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
    /// Revoked, if it was.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<time::OffsetDateTime>,
}

const COLUMNS: &str =
    "id, name, role, department, secret_sha256, created_at, created_by, expires_at, revoked_at";

fn from_row(r: &impl RowExt) -> Result<TokenRow> {
    Ok(TokenRow {
        id: r.text("id")?,
        name: r.text("name")?,
        role: r.text("role")?,
        department: r.opt_text("department")?,
        secret_sha256: r.text("secret_sha256")?,
        created_at: from_unix(r.int("created_at")?)?,
        created_by: r.text("created_by")?,
        expires_at: from_unix(r.int("expires_at")?)?,
        revoked_at: r.opt_int("revoked_at")?.map(from_unix).transpose()?,
    })
}

impl Store {
    /// Stores a new token; `false` if its id exists.
    pub async fn add_token(&self, t: &TokenRow, audit: &[AuditRecord]) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO api_tokens (id, name, role, department, secret_sha256, created_at, created_by, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) ON CONFLICT (id) DO NOTHING")
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.role)
                .bind(&t.department)
                .bind(&t.secret_sha256)
                .bind(unix(t.created_at))
                .bind(&t.created_by)
                .bind(unix(t.expires_at)), audit)
        });
        Ok(done == 1)
    }

    /// Revokes a token not revoked yet; `false` if there is none.
    pub async fn revoke_token(
        &self,
        id: &str,
        at: time::OffsetDateTime,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(unix(at))
                .bind(id), audit)
        });
        Ok(done == 1)
    }

    /// The token of `id`, if any.
    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(pool).await?.as_ref().map(from_row).transpose()
        })
    }

    /// Every token, revoked and expired ones too, newest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at DESC, id");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }
}
