//! Service items (事项) and cases (办件).
//!
//! Service items: code, version, type, time limits, materials as JSON, result
//! licence type; one row per code, replaced by each new version. Cases: the id
//! as the case system numbers it, item, handling department, holder, purpose,
//! `open` or `concluded`, the result licence (migration 0010). `open_case`
//! inserts a case unless its id exists and returns the stored one either way
//! (the caller compares department, item and holder); `conclude_case` concludes
//! only an open case and says whether it did. A case's licence-use records are
//! `licence_uses` rows whose `case_ref` is its id (indexed by migration 0010).

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store, UseRow};

/// A service item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceItemRow {
    /// 事项编码.
    pub code: String,
    /// Version, from 1.
    pub version: u64,
    /// 事项名称.
    pub name: String,
    /// `immediate`, `promised`, `joint` or `referred`.
    pub item_type: String,
    /// The department that handles it.
    pub department: String,
    /// Region code.
    pub region_code: String,
    /// Legal time limit, working days.
    pub legal_limit_days: u32,
    /// Promised time limit, working days.
    pub promised_limit_days: u32,
    /// Required materials, JSON.
    pub materials: String,
    /// Licence type the approval result is issued as, if any.
    pub result_type: Option<String>,
    /// `active` or `retired`.
    pub status: String,
    /// First registration.
    pub created_at: time::OffsetDateTime,
    /// This version.
    pub updated_at: time::OffsetDateTime,
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseRow {
    /// 办件编号.
    pub id: String,
    /// Service item code.
    pub item: String,
    /// Handling department.
    pub department: String,
    /// Holder's code type (`001` USCC, `111` citizen id).
    pub holder_code_type: String,
    /// Holder's code.
    pub holder_code: String,
    /// 申请事由 the case stated.
    pub use_cause: String,
    /// `open` or `concluded`.
    pub status: String,
    /// The licence issued as its result.
    pub result_licence: Option<String>,
    /// Opened.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: time::OffsetDateTime,
    /// Concluded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub concluded_at: Option<time::OffsetDateTime>,
}

fn item_from_row(r: &impl RowExt) -> Result<ServiceItemRow> {
    Ok(ServiceItemRow {
        code: r.text("code")?,
        version: u64::try_from(r.int("version")?).unwrap_or(0),
        name: r.text("name")?,
        item_type: r.text("item_type")?,
        department: r.text("department")?,
        region_code: r.text("region_code")?,
        legal_limit_days: u32::try_from(r.int("legal_limit_days")?).unwrap_or(0),
        promised_limit_days: u32::try_from(r.int("promised_limit_days")?).unwrap_or(0),
        materials: r.text("materials")?,
        result_type: r.opt_text("result_type")?,
        status: r.text("status")?,
        created_at: from_unix(r.int("created_at")?)?,
        updated_at: from_unix(r.int("updated_at")?)?,
    })
}

fn case_from_row(r: &impl RowExt) -> Result<CaseRow> {
    Ok(CaseRow {
        id: r.text("id")?,
        item: r.text("item")?,
        department: r.text("department")?,
        holder_code_type: r.text("holder_code_type")?,
        holder_code: r.text("holder_code")?,
        use_cause: r.text("use_cause")?,
        status: r.text("status")?,
        result_licence: r.opt_text("result_licence")?,
        opened_at: from_unix(r.int("opened_at")?)?,
        concluded_at: r.opt_int("concluded_at")?.map(from_unix).transpose()?,
    })
}

/// Most cases one listing returns.
pub const MAX_CASE_RESULTS: usize = 1_000;

const ITEM_COLUMNS: &str = "code, version, name, item_type, department, region_code, legal_limit_days, promised_limit_days, materials, result_type, status, created_at, updated_at";
const CASE_COLUMNS: &str = "id, item, department, holder_code_type, holder_code, use_cause, status, result_licence, opened_at, concluded_at";

impl Store {
    /// Registers a service item or replaces it with its next version.
    pub async fn put_service_item(&self, i: &ServiceItemRow, audit: &[AuditRecord]) -> Result<()> {
        in_tx!(&self.db, tx => {
            sqlx::query("INSERT INTO service_items (code, version, name, item_type, department, region_code, legal_limit_days, promised_limit_days, materials, result_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (code) DO UPDATE SET version = excluded.version, name = excluded.name, item_type = excluded.item_type, region_code = excluded.region_code, legal_limit_days = excluded.legal_limit_days, promised_limit_days = excluded.promised_limit_days, materials = excluded.materials, result_type = excluded.result_type, status = excluded.status, updated_at = excluded.updated_at")
                .bind(&i.code)
                .bind(i64::try_from(i.version).unwrap_or(i64::MAX))
                .bind(&i.name)
                .bind(&i.item_type)
                .bind(&i.department)
                .bind(&i.region_code)
                .bind(i64::from(i.legal_limit_days))
                .bind(i64::from(i.promised_limit_days))
                .bind(&i.materials)
                .bind(&i.result_type)
                .bind(&i.status)
                .bind(unix(i.created_at))
                .bind(unix(i.updated_at))
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// One service item.
    pub async fn service_item(&self, code: &str) -> Result<Option<ServiceItemRow>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM service_items WHERE code = $1");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(code).fetch_optional(pool).await?.as_ref().map(item_from_row).transpose()
        })
    }

    /// Service items, optionally of one department, by code.
    pub async fn service_items(&self, department: Option<&str>) -> Result<Vec<ServiceItemRow>> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM service_items WHERE ($1 IS NULL OR department = $1) ORDER BY code"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(department).fetch_all(pool).await?.iter().map(item_from_row).collect()
        })
    }

    /// Opens a case unless one with its id exists; returns the stored case
    /// either way (the caller compares).
    pub async fn open_case(&self, c: &CaseRow, audit: &[AuditRecord]) -> Result<CaseRow> {
        in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO cases (id, item, department, holder_code_type, holder_code, use_cause, status, result_licence, opened_at, concluded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, NULL) ON CONFLICT (department, id) DO NOTHING")
                .bind(&c.id)
                .bind(&c.item)
                .bind(&c.department)
                .bind(&c.holder_code_type)
                .bind(&c.holder_code)
                .bind(&c.use_cause)
                .bind(&c.status)
                .bind(unix(c.opened_at)), audit)
        });
        self.case(&c.department, &c.id)
            .await?
            .ok_or_else(|| crate::StoreError::Corrupt(format!("case {} vanished", c.id)))
    }

    /// One department's case.
    pub async fn case(&self, department: &str, id: &str) -> Result<Option<CaseRow>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE department = $1 AND id = $2");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(department).bind(id).fetch_optional(pool).await?.as_ref().map(case_from_row).transpose()
        })
    }

    /// The cases of any department with this number.
    pub async fn cases_numbered(&self, id: &str) -> Result<Vec<CaseRow>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1 ORDER BY department");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_all(pool).await?.iter().map(case_from_row).collect()
        })
    }

    /// Cases, newest first, optionally of one department.
    pub async fn cases(&self, department: Option<&str>, limit: usize) -> Result<Vec<CaseRow>> {
        let limit = i64::try_from(limit.min(MAX_CASE_RESULTS)).unwrap_or(0);
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE ($1 IS NULL OR department = $1) ORDER BY opened_at DESC, id DESC LIMIT $2"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(department).bind(limit).fetch_all(pool).await?.iter().map(case_from_row).collect()
        })
    }

    /// Concludes an open case with the licence issued as its result;
    /// `false` if it was not open.
    pub async fn conclude_case(
        &self,
        department: &str,
        id: &str,
        licence: &str,
        at: time::OffsetDateTime,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE cases SET status = 'concluded', result_licence = $1, concluded_at = $2 WHERE department = $3 AND id = $4 AND status = 'open'")
                .bind(licence)
                .bind(unix(at))
                .bind(department)
                .bind(id), audit)
        });
        Ok(done == 1)
    }

    /// The licence-use records of a department's case, oldest first.
    pub async fn uses_of_case(&self, department: &str, case: &str) -> Result<Vec<UseRow>> {
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM licence_uses WHERE case_ref = $1 AND requester = $2 ORDER BY id LIMIT 1000")
                .bind(case)
                .bind(department)
                .fetch_all(pool)
                .await?
        });
        self.uses_by_id(&ids).await
    }
}
