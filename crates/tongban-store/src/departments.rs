//! Departments (部门) as the registry knows them.

use crate::db::{RowExt, from_unix, unix};
use crate::{Result, Store, StoreError};

/// Level in the three-level platform (district → town/street → village).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformLevel {
    /// 区县级.
    District,
    /// 乡镇（街道）级.
    Town,
    /// 村（社区）级.
    Village,
}

impl PlatformLevel {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformLevel::District => "district",
            PlatformLevel::Town => "town",
            PlatformLevel::Village => "village",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "district" => Some(PlatformLevel::District),
            "town" => Some(PlatformLevel::Town),
            "village" => Some(PlatformLevel::Village),
            _ => None,
        }
    }
}

/// Whether a department may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DepartmentStatus {
    /// May send and issue.
    Active,
    /// May neither send nor issue, until reactivated.
    Suspended,
    /// Gone for good; kept for history.
    Retired,
}

impl DepartmentStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            DepartmentStatus::Active => "active",
            DepartmentStatus::Suspended => "suspended",
            DepartmentStatus::Retired => "retired",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(DepartmentStatus::Active),
            "suspended" => Some(DepartmentStatus::Suspended),
            "retired" => Some(DepartmentStatus::Retired),
            _ => None,
        }
    }
}

/// A department row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentRow {
    /// 统一社会信用代码.
    pub code: String,
    /// Name.
    pub name: String,
    /// GB/T 2260 region code.
    pub region_code: String,
    /// Platform level.
    pub platform_level: PlatformLevel,
    /// Parent department code.
    pub parent_code: Option<String>,
    /// Contact (person and phone), free text.
    pub contact: Option<String>,
    /// Status.
    pub status: DepartmentStatus,
    /// Registration time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

fn from_row(row: &impl RowExt) -> Result<DepartmentRow> {
    let level = row.text("platform_level")?;
    let status = row.text("status")?;
    Ok(DepartmentRow {
        code: row.text("code")?,
        name: row.text("name")?,
        region_code: row.text("region_code")?,
        platform_level: PlatformLevel::parse(&level)
            .ok_or_else(|| StoreError::Corrupt(format!("platform level {level:?}")))?,
        parent_code: row.opt_text("parent_code")?,
        contact: row.opt_text("contact")?,
        status: DepartmentStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("department status {status:?}")))?,
        created_at: from_unix(row.int("created_at")?)?,
    })
}

const COLUMNS: &str =
    "code, name, region_code, platform_level, parent_code, contact, status, created_at";

impl Store {
    /// Registers a department and records `audit`; `false` (and nothing
    /// recorded) if the code is already registered.
    pub async fn insert_department(
        &self,
        d: &DepartmentRow,
        audit: &[crate::AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO departments (code, name, region_code, platform_level, parent_code, contact, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (code) DO NOTHING")
                .bind(&d.code)
                .bind(&d.name)
                .bind(&d.region_code)
                .bind(d.platform_level.as_str())
                .bind(&d.parent_code)
                .bind(&d.contact)
                .bind(d.status.as_str())
                .bind(unix(d.created_at)), audit)
        });
        Ok(done == 1)
    }

    /// A department by code.
    pub async fn department(&self, code: &str) -> Result<Option<DepartmentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM departments WHERE code = $1");
        on_db!(&self.db, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(pool).await? {
                Some(row) => Ok(Some(from_row(&row)?)),
                None => Ok(None),
            }
        })
    }

    /// Every department, by region then code.
    pub async fn departments(&self) -> Result<Vec<DepartmentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM departments ORDER BY region_code, code");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    /// Changes a department's status; `false` if there is no such department.
    pub async fn set_department_status(
        &self,
        code: &str,
        status: DepartmentStatus,
        at: time::OffsetDateTime,
        audit: &[crate::AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE departments SET status = $2, updated_at = $3 WHERE code = $1")
                .bind(code)
                .bind(status.as_str())
                .bind(unix(at)), audit)
        });
        Ok(done == 1)
    }
}
