//! Registered JSON Schemas (`id@version`), immutable once published.

use crate::db::{RowExt, from_unix, unix};
use crate::{Result, Store};

/// A registered schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRow {
    /// Schema id (for licence types: the type code).
    pub id: String,
    /// Version.
    pub version: String,
    /// `licence-type` or `message`.
    pub kind: String,
    /// Title for listings.
    pub title: String,
    /// The schema document (JSON text).
    pub content: String,
    /// Hex SHA-256 of `content`.
    pub sha256: String,
    /// Publication time.
    pub created_at: time::OffsetDateTime,
}

/// Outcome of publishing a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaInsert {
    /// Newly published.
    Inserted,
    /// The same content was already published under this id and version.
    AlreadyPresent,
    /// Different content is already published under this id and version.
    Conflict,
}

fn from_row(row: &impl RowExt) -> Result<SchemaRow> {
    Ok(SchemaRow {
        id: row.text("id")?,
        version: row.text("version")?,
        kind: row.text("kind")?,
        title: row.text("title")?,
        content: row.text("content")?,
        sha256: row.text("sha256")?,
        created_at: from_unix(row.int("created_at")?)?,
    })
}

const COLUMNS: &str = "id, version, kind, title, content, sha256, created_at";

impl Store {
    /// Publishes a schema version; never overwrites.
    pub async fn insert_schema(
        &self,
        s: &SchemaRow,
        audit: &[crate::AuditRecord],
    ) -> Result<SchemaInsert> {
        let inserted = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO schemas (id, version, kind, title, content, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id, version) DO NOTHING")
                .bind(&s.id)
                .bind(&s.version)
                .bind(&s.kind)
                .bind(&s.title)
                .bind(&s.content)
                .bind(&s.sha256)
                .bind(unix(s.created_at)), audit)
        });
        if inserted == 1 {
            return Ok(SchemaInsert::Inserted);
        }
        match self.schema(&s.id, &s.version).await? {
            Some(existing) if existing.sha256 == s.sha256 => Ok(SchemaInsert::AlreadyPresent),
            _ => Ok(SchemaInsert::Conflict),
        }
    }

    /// One schema version.
    pub async fn schema(&self, id: &str, version: &str) -> Result<Option<SchemaRow>> {
        let sql = format!("SELECT {COLUMNS} FROM schemas WHERE id = $1 AND version = $2");
        on_db!(&self.db, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(version).fetch_optional(pool).await? {
                Some(row) => Ok(Some(from_row(&row)?)),
                None => Ok(None),
            }
        })
    }

    /// Every schema of a kind (all kinds when `None`), by id and publication.
    pub async fn schemas(&self, kind: Option<&str>) -> Result<Vec<SchemaRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM schemas WHERE ($1 IS NULL OR kind = $1) ORDER BY id, created_at, version"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_all(pool).await?.iter().map(from_row).collect()
        })
    }
}
