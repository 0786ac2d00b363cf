//! Sealed secrets (migration 0026): secrets every node of a hub can use,
//! kept encrypted under a key-encryption key that the database never holds.
//! The store only keeps and returns the sealed bytes; sealing and opening
//! are the service's (`tongban_service::keystore`).

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store};

/// A sealed secret as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRow {
    /// `key:<multikey>`, `named:<name>` or `audit-pin`.
    pub name: String,
    /// The key-encryption key it is sealed under.
    pub kek_id: String,
    /// The AEAD nonce.
    pub nonce: Vec<u8>,
    /// The sealed bytes and their tag.
    pub ciphertext: Vec<u8>,
    /// Stored.
    pub created_at: time::OffsetDateTime,
}

impl std::fmt::Debug for SealedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRow")
            .field("name", &self.name)
            .field("kek_id", &self.kek_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "name, kek_id, nonce, ciphertext, created_at";

fn from_row(r: &impl RowExt) -> Result<SealedRow> {
    Ok(SealedRow {
        name: r.text("name")?,
        kek_id: r.text("kek_id")?,
        nonce: r.bytes("nonce")?,
        ciphertext: r.bytes("ciphertext")?,
        created_at: from_unix(r.int("created_at")?)?,
    })
}

impl Store {
    /// Stores a sealed secret; `false` (and nothing written) if one of that
    /// name exists: a secret is never replaced, only resealed.
    pub async fn add_sealed(&self, row: &SealedRow, audit: &[AuditRecord]) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO sealed_secrets (name, kek_id, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING")
                .bind(&row.name)
                .bind(&row.kek_id)
                .bind(&row.nonce)
                .bind(&row.ciphertext)
                .bind(unix(row.created_at)), audit)
        });
        Ok(done == 1)
    }

    /// The sealed secret of `name`, if any.
    pub async fn sealed(&self, name: &str) -> Result<Option<SealedRow>> {
        let sql = format!("SELECT {COLUMNS} FROM sealed_secrets WHERE name = $1");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(name).fetch_optional(pool).await?.as_ref().map(from_row).transpose()
        })
    }

    /// Whether a sealed secret of `name` exists.
    pub async fn has_sealed(&self, name: &str) -> Result<bool> {
        let n: i64 = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM sealed_secrets WHERE name = $1").bind(name).fetch_one(pool).await?
        });
        Ok(n > 0)
    }

    /// Every sealed secret, by name.
    pub async fn all_sealed(&self) -> Result<Vec<SealedRow>> {
        let sql = format!("SELECT {COLUMNS} FROM sealed_secrets ORDER BY name");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    /// Replaces the sealing of secrets (a KEK rotation), each only if it is
    /// still sealed under `from` (the KEK id it was read under), in one
    /// transaction with `audit`. Returns how many were resealed.
    pub async fn reseal(&self, rows: &[(String, SealedRow)], audit: &[AuditRecord]) -> Result<u64> {
        let done = in_tx!(&self.db, tx => {
            let mut done = 0;
            for (from, row) in rows {
                done += sqlx::query("UPDATE sealed_secrets SET kek_id = $1, nonce = $2, ciphertext = $3 WHERE name = $4 AND kek_id = $5")
                    .bind(&row.kek_id)
                    .bind(&row.nonce)
                    .bind(&row.ciphertext)
                    .bind(&row.name)
                    .bind(from)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            if done > 0 {
                append_audit!(tx, audit);
            }
            done
        });
        Ok(done)
    }
}
