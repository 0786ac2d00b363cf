//! The resource catalogue (政务信息资源目录) and its search.
//!
//! Chinese has no spaces, so the searchable text is split here, the same
//! way on both backends and independent of the database's locale: every
//! run of CJK characters becomes its overlapping bigrams plus its last
//! character, every run of letters and digits a lower-case word. A search
//! term of two or more CJK characters is then the phrase of its bigrams (an
//! exact substring); a single character matches tokens that start with it.
//! SQLite indexes the token text with FTS5 (ranked by bm25 with the name
//! weighted highest); PostgreSQL keeps the set of characters, bigrams and
//! words in a GIN-indexed array, narrows by containment and checks
//! substrings, ranked by where the terms occur.

use std::collections::BTreeSet;

use sqlx::AssertSqlSafe;

use crate::db::{Db, Marks, Placeholders, RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store, StoreError};

/// A catalogue field: a payload member with its Chinese label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogueField {
    /// The member's name in the payload.
    pub name: String,
    /// Its label (e.g. 统一社会信用代码).
    pub label: String,
}

/// A catalogue resource (one version of it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogueEntry {
    /// Resource id (also the exchange resource and topic).
    pub id: String,
    /// Version, from 1.
    pub version: u64,
    /// Name (资源名称).
    pub name: String,
    /// Description (资源摘要).
    pub description: String,
    /// Providing department.
    pub provider: String,
    /// Region code of the provider's area.
    pub region_code: String,
    /// Payload schema `id@version`.
    pub schema: String,
    /// Fields with labels.
    pub fields: Vec<CatalogueField>,
    /// `unconditional` (无条件共享), `conditional` (有条件共享) or `not-shared` (不予共享).
    pub sharing_type: String,
    /// Update frequency (e.g. `real-time`, `daily`, `monthly`).
    pub update_frequency: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `published` or `retired`.
    pub status: String,
    /// First publication.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// This version's publication.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

/// What a search may be narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogueFilter {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this region code.
    pub region_code: Option<String>,
    /// Only this sharing type.
    pub sharing_type: Option<String>,
    /// Retired resources too.
    pub include_retired: bool,
}

/// Most results one search or listing returns.
pub const MAX_CATALOGUE_RESULTS: usize = 500;
/// Most terms in one search.
pub const MAX_SEARCH_TERMS: usize = 8;

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{3040}'..='\u{30FF}' | '\u{AC00}'..='\u{D7AF}' | '\u{20000}'..='\u{3134F}')
}

/// Runs of one script in `text`: (is CJK, characters), lower-cased.
fn runs(text: &str) -> Vec<(bool, Vec<char>)> {
    let mut out: Vec<(bool, Vec<char>)> = Vec::new();
    for c in text.chars() {
        let kind = if is_cjk(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (kind, out.last_mut()) {
            (Some(k), Some((last, chars))) if *last == k && !chars.is_empty() => {
                chars.extend(c.to_lowercase());
            }
            (Some(k), _) => out.push((k, c.to_lowercase().collect())),
            (None, Some((_, chars))) if !chars.is_empty() => out.push((false, Vec::new())),
            (None, _) => {}
        }
    }
    out.retain(|(_, chars)| !chars.is_empty());
    out
}

/// The token text FTS5 indexes: bigrams and the run's last character for
/// CJK runs, words otherwise, separated by spaces.
pub fn index_tokens(text: &str) -> String {
    let mut out = String::new();
    for (cjk, chars) in runs(text) {
        if cjk {
            for pair in chars.windows(2) {
                out.extend(pair);
                out.push(' ');
            }
            if let Some(last) = chars.last() {
                out.push(*last);
                out.push(' ');
            }
        } else {
            out.extend(chars);
            out.push(' ');
        }
    }
    out
}

/// Every CJK character and bigram and every word of `text` (PostgreSQL's
/// GIN-indexed array).
fn gram_set(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (cjk, chars) in runs(text) {
        if cjk {
            for c in &chars {
                out.insert(c.to_string());
            }
            for pair in chars.windows(2) {
                out.insert(pair.iter().collect());
            }
        } else {
            out.insert(chars.iter().collect());
        }
    }
    out
}

/// Search terms: split on whitespace, lower-cased, empty ones dropped.
fn terms(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|t| !runs(t).is_empty())
        .take(MAX_SEARCH_TERMS)
        .collect()
}

/// The FTS5 query for `terms`: each term's runs as phrases (bigrams) or
/// prefixes (one character, words), all required.
fn fts_query(terms: &[String]) -> String {
    let mut parts = Vec::new();
    for t in terms {
        for (cjk, chars) in runs(t) {
            if cjk && chars.len() >= 2 {
                let grams: Vec<String> = chars.windows(2).map(|p| p.iter().collect()).collect();
                parts.push(format!("\"{}\"", grams.join(" ")));
            } else {
                let s: String = chars.iter().collect();
                parts.push(format!("\"{s}\"*"));
            }
        }
    }
    parts.join(" AND ")
}

/// The lower-case text substring checks run against.
fn search_text(e: &CatalogueEntry) -> String {
    let labels: Vec<&str> = e.fields.iter().map(|f| f.label.as_str()).collect();
    format!(
        "{}\n{}\n{}\n{}",
        e.name,
        e.tags.join(" "),
        labels.join(" "),
        e.description
    )
    .to_lowercase()
}

fn from_row(row: &impl RowExt) -> Result<CatalogueEntry> {
    Ok(CatalogueEntry {
        id: row.text("id")?,
        version: row.int("version")? as u64,
        name: row.text("name")?,
        description: row.text("description")?,
        provider: row.text("provider")?,
        region_code: row.text("region_code")?,
        schema: row.text("schema")?,
        fields: serde_json::from_str(&row.text("fields")?)
            .map_err(|e| StoreError::Corrupt(format!("catalogue fields: {e}")))?,
        sharing_type: row.text("sharing_type")?,
        update_frequency: row.text("update_frequency")?,
        tags: serde_json::from_str(&row.text("tags")?)
            .map_err(|e| StoreError::Corrupt(format!("catalogue tags: {e}")))?,
        status: row.text("status")?,
        created_at: from_unix(row.int("created_at")?)?,
        updated_at: from_unix(row.int("updated_at")?)?,
    })
}

const COLUMNS: &str = "c.id AS id, c.version AS version, c.name AS name, c.description AS description, \
    c.provider AS provider, c.region_code AS region_code, c.schema AS schema, c.fields AS fields, \
    c.sharing_type AS sharing_type, c.update_frequency AS update_frequency, c.tags AS tags, \
    c.status AS status, c.created_at AS created_at, c.updated_at AS updated_at";

/// `AND …` conditions of a filter, with their values in bind order.
fn filter_sql(f: &CatalogueFilter, marks: &mut Placeholders) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    if !f.include_retired {
        sql.push_str(" AND c.status = 'published'");
    }
    for (col, v) in [
        ("provider", &f.provider),
        ("region_code", &f.region_code),
        ("sharing_type", &f.sharing_type),
    ] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND c.{col} = {}", marks.next_mark()));
            binds.push(v.clone());
        }
    }
    (sql, binds)
}

/// Binds a catalogue row's columns from `id` to `updated_at`, in table order.
macro_rules! bind_columns {
    ($q:expr, $e:expr, $r:expr) => {
        $q.bind(&$e.id)
            .bind($r.version)
            .bind(&$e.name)
            .bind(&$e.description)
            .bind(&$e.provider)
            .bind(&$e.region_code)
            .bind(&$e.schema)
            .bind(&$r.fields)
            .bind(&$e.sharing_type)
            .bind(&$e.update_frequency)
            .bind(&$r.tags)
            .bind(&$e.status)
            .bind(&$r.text)
            .bind(unix($e.created_at))
            .bind(unix($e.updated_at))
    };
}

/// A catalogue entry's derived columns.
struct Row {
    fields: String,
    tags: String,
    content: String,
    text: String,
    labels: String,
    version: i64,
}

impl Row {
    fn of(e: &CatalogueEntry) -> Row {
        Row {
            fields: serde_json::to_string(&e.fields).unwrap_or_else(|_| "[]".into()),
            tags: serde_json::to_string(&e.tags).unwrap_or_else(|_| "[]".into()),
            content: serde_json::to_string(e).unwrap_or_else(|_| "{}".into()),
            text: search_text(e),
            labels: e
                .fields
                .iter()
                .map(|f| f.label.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            version: i64::try_from(e.version).unwrap_or(i64::MAX),
        }
    }
}

impl Store {
    /// Writes a resource's version (new, or the next version of an existing
    /// one: the caller sets `version`) with its audit entry.
    pub async fn put_catalogue_entry(
        &self,
        e: &CatalogueEntry,
        audit: &[AuditRecord],
    ) -> Result<()> {
        self.put_catalogue_entries(std::slice::from_ref(e), audit)
            .await
    }

    /// Writes resource versions (e.g. a department's existing catalogue,
    /// imported) in one transaction with the audit entries.
    pub async fn put_catalogue_entries(
        &self,
        entries: &[CatalogueEntry],
        audit: &[AuditRecord],
    ) -> Result<()> {
        const UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET version = excluded.version, name = excluded.name, description = excluded.description, \
            region_code = excluded.region_code, schema = excluded.schema, fields = excluded.fields, sharing_type = excluded.sharing_type, \
            update_frequency = excluded.update_frequency, tags = excluded.tags, status = excluded.status, search_text = excluded.search_text, \
            updated_at = excluded.updated_at";
        in_tx!(&self.db, tx => {
            // PostgreSQL keeps the gram array in the row; SQLite keeps the
            // token text in the FTS5 table under the row's rowid.
            let pg = crate::db::is_postgres(&tx);
            for e in entries {
                let r = Row::of(e);
                if pg {
                    let sql = format!(
                        "INSERT INTO catalogue (id, version, name, description, provider, region_code, schema, fields, sharing_type, update_frequency, tags, status, search_text, created_at, updated_at, grams) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, string_to_array($16, ' ')) {UPSERT}, grams = excluded.grams"
                    );
                    let grams: Vec<String> = gram_set(&r.text).into_iter().collect();
                    bind_columns!(sqlx::query(AssertSqlSafe(sql)), e, r)
                        .bind(grams.join(" "))
                        .execute(&mut *tx)
                        .await?;
                } else {
                    sqlx::query("DELETE FROM catalogue_search WHERE rowid = (SELECT rowid FROM catalogue WHERE id = $1)")
                        .bind(&e.id)
                        .execute(&mut *tx)
                        .await?;
                    let sql = format!(
                        "INSERT INTO catalogue (id, version, name, description, provider, region_code, schema, fields, sharing_type, update_frequency, tags, status, search_text, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) {UPSERT} RETURNING rowid"
                    );
                    let rowid: i64 = bind_columns!(sqlx::query(AssertSqlSafe(sql)), e, r)
                        .fetch_one(&mut *tx)
                        .await?
                        .int("rowid")?;
                    sqlx::query("INSERT INTO catalogue_search (rowid, name, tags, labels, description) VALUES ($1, $2, $3, $4, $5)")
                        .bind(rowid)
                        .bind(index_tokens(&e.name))
                        .bind(index_tokens(&e.tags.join(" ")))
                        .bind(index_tokens(&r.labels))
                        .bind(index_tokens(&e.description))
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("INSERT INTO catalogue_versions (id, version, content, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id, version) DO UPDATE SET content = excluded.content")
                    .bind(&e.id)
                    .bind(r.version)
                    .bind(&r.content)
                    .bind(unix(e.updated_at))
                    .execute(&mut *tx)
                    .await?;
            }
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// A resource's current version.
    pub async fn catalogue_entry(&self, id: &str) -> Result<Option<CatalogueEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM catalogue c WHERE c.id = $1");
        on_db!(&self.db, pool => {
            sqlx::query(AssertSqlSafe(sql.clone())).bind(id).fetch_optional(pool).await?.as_ref().map(from_row).transpose()
        })
    }

    /// A resource's versions, oldest first (as published, JSON).
    pub async fn catalogue_versions(&self, id: &str) -> Result<Vec<(u64, String)>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT version, content FROM catalogue_versions WHERE id = $1 ORDER BY version")
                .bind(id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.int("version")? as u64, r.text("content")?)))
                .collect()
        })
    }

    /// Resources matching a filter, by id.
    pub async fn catalogue_list(
        &self,
        filter: &CatalogueFilter,
        limit: usize,
    ) -> Result<Vec<CatalogueEntry>> {
        let limit = i64::try_from(limit.min(MAX_CATALOGUE_RESULTS)).unwrap_or(0);
        let mut marks = Placeholders::new(self.db.marks());
        let (cond, binds) = filter_sql(filter, &mut marks);
        let lim = marks.next_mark();
        let sql = format!(
            "SELECT {COLUMNS} FROM catalogue c WHERE 1 = 1{cond} ORDER BY c.id LIMIT {lim}"
        );
        on_db!(&self.db, pool => {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
            for b in &binds {
                q = q.bind(b);
            }
            q.bind(limit).fetch_all(pool).await?.iter().map(from_row).collect()
        })
    }

    /// Searches names, descriptions, field labels and tags: every term
    /// (whitespace-separated) must occur; best matches first.
    pub async fn catalogue_search(
        &self,
        query: &str,
        filter: &CatalogueFilter,
        limit: usize,
    ) -> Result<Vec<CatalogueEntry>> {
        let terms = terms(query);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit.min(MAX_CATALOGUE_RESULTS)).unwrap_or(0);
        match &self.db {
            Db::Sqlite(db) => search_sqlite(db, &terms, filter, limit).await,
            Db::Postgres(pool) => search_postgres(pool, &terms, filter, limit).await,
        }
    }
}

/// SQLite: the FTS5 table ranks (bm25 over name, description, field
/// labels, tags).
async fn search_sqlite(
    db: &crate::db::SqliteDb,
    terms: &[String],
    filter: &CatalogueFilter,
    limit: i64,
) -> Result<Vec<CatalogueEntry>> {
    let (cond, binds) = filter_sql(filter, &mut Placeholders::new(Marks::Anonymous));
    let unfiltered = filter == &CatalogueFilter::default();
    let inner = if unfiltered {
        "SELECT rowid AS rid, rank AS score FROM catalogue_search \
         WHERE catalogue_search MATCH ? AND rank MATCH 'bm25(10.0, 4.0, 2.0, 1.0)' ORDER BY rank LIMIT ?"
    } else {
        "SELECT rowid AS rid, bm25(catalogue_search, 10.0, 4.0, 2.0, 1.0) AS score \
         FROM catalogue_search WHERE catalogue_search MATCH ?"
    };
    let sql = format!(
        // The full-text match first, materialised: left to itself the
        // planner may walk the provider index and re-run the match for
        // every row (0.4 s at 10,000 resources). Without a filter, FTS5
        // ranks and cuts by itself (`ORDER BY rank LIMIT`), which is
        // several times faster.
        "WITH m AS MATERIALIZED ({inner}) \
         SELECT {COLUMNS} FROM m JOIN catalogue c ON c.rowid = m.rid \
         WHERE 1 = 1{cond} ORDER BY m.score, c.updated_at DESC LIMIT ?"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(fts_query(terms));
    if unfiltered {
        q = q.bind(limit);
    }
    for b in &binds {
        q = q.bind(b);
    }
    q.bind(limit)
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// PostgreSQL: narrow by the gram index (CJK grams only; words are matched
/// by prefix and checked below), then check substrings, rank by where the
/// terms occur.
async fn search_postgres(
    pool: &sqlx::PgPool,
    terms: &[String],
    filter: &CatalogueFilter,
    limit: i64,
) -> Result<Vec<CatalogueEntry>> {
    let grams = cjk_grams(terms);
    // $1 is the gram array.
    let mut marks = Placeholders::after(Marks::Numbered, 1);
    let mut like = Vec::new();
    let mut rank = Vec::new();
    for _ in terms {
        let p = marks.next_mark();
        like.push(format!("strpos(c.search_text, {p}) > 0"));
        rank.push(format!(
            "(CASE WHEN strpos(lower(c.name), {p}) > 0 THEN 10 ELSE 0 END + CASE WHEN strpos(lower(c.tags), {p}) > 0 THEN 4 ELSE 0 END + CASE WHEN strpos(c.search_text, {p}) > 0 THEN 1 ELSE 0 END)"
        ));
    }
    let (cond, binds) = filter_sql(filter, &mut marks);
    let lim = marks.next_mark();
    let gram_cond = if grams.is_empty() {
        "$1::text[] IS NOT NULL AND "
    } else {
        "c.grams @> $1 AND "
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM catalogue c WHERE {gram_cond}{}{cond} \
         ORDER BY ({}) DESC, c.updated_at DESC LIMIT {lim}",
        like.join(" AND "),
        rank.join(" + ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(&grams);
    for b in terms.iter().chain(&binds) {
        q = q.bind(b);
    }
    q.bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The CJK bigrams (single characters for one-character runs) of `terms`.
fn cjk_grams(terms: &[String]) -> Vec<String> {
    let mut grams: BTreeSet<String> = BTreeSet::new();
    for t in terms {
        for (cjk, chars) in runs(t) {
            if cjk && chars.len() >= 2 {
                grams.extend(chars.windows(2).map(|p| p.iter().collect::<String>()));
            } else if cjk {
                grams.extend(chars.iter().map(char::to_string));
            }
        }
    }
    grams.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_splits_into_bigrams() {
        assert_eq!(index_tokens("营业执照"), "营业 业执 执照 照 ");
        assert_eq!(
            index_tokens("老年人优待证，GB/T 36903"),
            "老年 年人 人优 优待 待证 证 gb t 36903 "
        );
        assert_eq!(fts_query(&terms("婚姻 登记")), "\"婚姻\" AND \"登记\"");
        assert_eq!(fts_query(&terms("证 GB")), "\"证\"* AND \"gb\"*");
        assert_eq!(fts_query(&terms("营业执照")), "\"营业 业执 执照\"");
        assert!(terms("  ，。 ").is_empty());
        let g = gram_set("出生医学证明");
        assert!(g.contains("出") && g.contains("医学") && !g.contains("出医"));
    }
}
