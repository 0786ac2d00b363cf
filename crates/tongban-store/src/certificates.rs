//! Certificates issued by the hub's certificate authority.

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store};

/// An issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRow {
    /// Serial number, hex.
    pub serial: String,
    /// `ca`, `server` or `client`.
    pub kind: String,
    /// Department code, server name, or the CA's name.
    pub subject: String,
    /// Subject alternative names (JSON array text).
    pub sans: String,
    /// Validity start.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: time::OffsetDateTime,
    /// Validity end.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: time::OffsetDateTime,
    /// The certificate (PEM).
    pub pem: String,
    /// Revocation instant.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<time::OffsetDateTime>,
    /// RFC 5280 reason name.
    pub revoked_reason: Option<String>,
    /// Issue instant.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

fn from_row(row: &impl RowExt) -> Result<CertificateRow> {
    Ok(CertificateRow {
        serial: row.text("serial")?,
        kind: row.text("kind")?,
        subject: row.text("subject")?,
        sans: row.text("sans")?,
        not_before: from_unix(row.int("not_before")?)?,
        not_after: from_unix(row.int("not_after")?)?,
        pem: row.text("pem")?,
        revoked_at: row.opt_int("revoked_at")?.map(from_unix).transpose()?,
        revoked_reason: row.opt_text("revoked_reason")?,
        created_at: from_unix(row.int("created_at")?)?,
    })
}

const COLUMNS: &str = "serial, kind, subject, sans, not_before, not_after, pem, revoked_at, revoked_reason, created_at";

impl Store {
    /// Records an issued certificate with its audit entry.
    pub async fn insert_certificate(
        &self,
        c: &CertificateRow,
        audit: &[AuditRecord],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            sqlx::query("INSERT INTO certificates (serial, kind, subject, sans, not_before, not_after, pem, revoked_at, revoked_reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(&c.serial)
                .bind(&c.kind)
                .bind(&c.subject)
                .bind(&c.sans)
                .bind(unix(c.not_before))
                .bind(unix(c.not_after))
                .bind(&c.pem)
                .bind(c.revoked_at.map(unix))
                .bind(&c.revoked_reason)
                .bind(unix(c.created_at))
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// One certificate by serial.
    pub async fn certificate(&self, serial: &str) -> Result<Option<CertificateRow>> {
        let sql = format!("SELECT {COLUMNS} FROM certificates WHERE serial = $1");
        on_db!(&self.db, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(serial).fetch_optional(pool).await? {
                Some(row) => Ok(Some(from_row(&row)?)),
                None => Ok(None),
            }
        })
    }

    /// Certificates, newest first (optionally of one kind).
    pub async fn certificates(&self, kind: Option<&str>) -> Result<Vec<CertificateRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM certificates WHERE ($1 IS NULL OR kind = $1) ORDER BY created_at DESC, serial"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_all(pool).await?.iter().map(from_row).collect()
        })
    }

    /// Revokes a certificate; `false` if unknown or already revoked.
    pub async fn revoke_certificate(
        &self,
        serial: &str,
        at: time::OffsetDateTime,
        reason: &str,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE certificates SET revoked_at = $2, revoked_reason = $3 WHERE serial = $1 AND revoked_at IS NULL")
                .bind(serial)
                .bind(unix(at))
                .bind(reason), audit)
        });
        Ok(done == 1)
    }
}
