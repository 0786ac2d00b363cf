//! Exchange statistics: records exchanged, requests served and refusals,
//! per resource and per department, and the records of a resource.
//!
//! `add_refusals` adds the hub's refusal counts to `exchange_refusals`
//! (migration 0009; one row per day, department, resource and code, summed on
//! conflict, one transaction). Accepted exchanges are never counted separately:
//! `exchange_statistics` counts them from `messages` (by resource, sender and
//! kind) and `deliveries` (by resource and recipient) themselves, and adds the
//! refusals, from a day on. `resource_records` reads a page of the messages
//! published on a resource's topic after `after`, in `seq` order, and appends
//! the read's audit entry (`exchange.records`) before returning it.

use std::collections::BTreeMap;

use crate::db::{Db, RowExt};
use crate::{AuditRecord, Result, Store};

/// Most records one query returns.
pub const MAX_RECORDS_PAGE: usize = 500;

/// Refusals to add: one count per (day, department, resource, code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The department whose exchange was refused.
    pub department: String,
    /// The resource its envelope named (`""` if none).
    pub resource: String,
    /// The refusal's code.
    pub code: String,
    /// How many.
    pub count: u64,
}

/// Counts for one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStats {
    /// Resource id.
    pub resource: String,
    /// Records exchanged (messages: published or sent to a recipient).
    pub records: u64,
    /// Deliveries of those records to consumers.
    pub deliveries: u64,
    /// Requests asked.
    pub requests: u64,
    /// Requests served (answered by the provider).
    pub served: u64,
    /// Exchanges refused.
    pub refusals: u64,
}

/// Counts for one department.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentStats {
    /// Department code.
    pub department: String,
    /// Records it provided (messages it sent).
    pub records_sent: u64,
    /// Records delivered to it.
    pub records_received: u64,
    /// Requests it asked.
    pub requests_made: u64,
    /// Requests it served (responses it sent).
    pub requests_served: u64,
    /// Its exchanges the hub refused.
    pub refusals: u64,
}

/// The statistics a service centre reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeStats {
    /// By resource, ordered by id.
    pub resources: Vec<ResourceStats>,
    /// By department, ordered by code.
    pub departments: Vec<DepartmentStats>,
    /// Refusals by code.
    pub refusal_codes: BTreeMap<String, u64>,
}

fn count(row: &impl RowExt) -> Result<u64> {
    Ok(u64::try_from(row.int("n")?).unwrap_or(0))
}

impl Store {
    /// Adds refusal counts, in one transaction.
    pub async fn add_refusals(&self, counts: &[RefusalCount]) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        in_tx!(&self.db, tx => {
            for c in counts {
                sqlx::query("INSERT INTO exchange_refusals (day, department, resource, code, count) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, department, resource, code) DO UPDATE SET count = exchange_refusals.count + excluded.count")
                    .bind(&c.day)
                    .bind(&c.department)
                    .bind(&c.resource)
                    .bind(&c.code)
                    .bind(i64::try_from(c.count).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
            }
        });
        Ok(())
    }

    /// Statistics of exchanges since `since` (all if `None`).
    pub async fn exchange_statistics(
        &self,
        since: Option<time::OffsetDateTime>,
    ) -> Result<ExchangeStats> {
        let since_ms = since.map_or(i64::MIN, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
        let since_day = since.map_or_else(String::new, |t| t.date().to_string());
        let mut resources: BTreeMap<String, ResourceStats> = BTreeMap::new();
        let mut departments: BTreeMap<String, DepartmentStats> = BTreeMap::new();
        let mut codes: BTreeMap<String, u64> = BTreeMap::new();
        on_db!(&self.db, pool => {
            for r in sqlx::query("SELECT resource, sender, kind, COUNT(*) AS n FROM messages WHERE received_at_ms >= $1 GROUP BY resource, sender, kind")
                .bind(since_ms)
                .fetch_all(pool)
                .await?
            {
                let n = count(&r)?;
                let resource = r.text("resource")?;
                let sender = r.text("sender")?;
                let res = resources.entry(resource.clone()).or_insert_with(|| ResourceStats { resource, ..Default::default() });
                let dep = departments.entry(sender.clone()).or_insert_with(|| DepartmentStats { department: sender, ..Default::default() });
                match r.text("kind")?.as_str() {
                    "message" => {
                        res.records += n;
                        dep.records_sent += n;
                    }
                    "request" => {
                        res.requests += n;
                        dep.requests_made += n;
                    }
                    "response" => {
                        res.served += n;
                        dep.requests_served += n;
                    }
                    _ => {}
                }
            }
            for r in sqlx::query("SELECT m.resource AS resource, d.recipient AS recipient, COUNT(*) AS n FROM deliveries d JOIN messages m ON m.seq = d.seq WHERE m.kind = 'message' AND m.received_at_ms >= $1 GROUP BY m.resource, d.recipient")
                .bind(since_ms)
                .fetch_all(pool)
                .await?
            {
                let n = count(&r)?;
                let resource = r.text("resource")?;
                let recipient = r.text("recipient")?;
                resources.entry(resource.clone()).or_insert_with(|| ResourceStats { resource, ..Default::default() }).deliveries += n;
                departments.entry(recipient.clone()).or_insert_with(|| DepartmentStats { department: recipient, ..Default::default() }).records_received += n;
            }
            for r in sqlx::query("SELECT resource, department, code, CAST(SUM(count) AS BIGINT) AS n FROM exchange_refusals WHERE day >= $1 GROUP BY resource, department, code")
                .bind(&since_day)
                .fetch_all(pool)
                .await?
            {
                let n = count(&r)?;
                let resource = r.text("resource")?;
                let department = r.text("department")?;
                if !resource.is_empty() {
                    resources.entry(resource.clone()).or_insert_with(|| ResourceStats { resource, ..Default::default() }).refusals += n;
                }
                departments.entry(department.clone()).or_insert_with(|| DepartmentStats { department, ..Default::default() }).refusals += n;
                *codes.entry(r.text("code")?).or_default() += n;
            }
        });
        Ok(ExchangeStats {
            resources: resources.into_values().collect(),
            departments: departments.into_values().collect(),
            refusal_codes: codes,
        })
    }

    /// Records of a resource (messages published on its topic) after `after`
    /// in arrival order: `(seq, envelope as signed)`, at most `limit` of them
    /// and at most `max_bytes` of envelopes (but at least one), and whether
    /// the page was cut short by size. The audit entries are written before
    /// anything is returned.
    pub async fn resource_records(
        &self,
        resource: &str,
        after: u64,
        limit: usize,
        max_bytes: usize,
        audit: &[AuditRecord],
    ) -> Result<(Vec<(u64, String)>, bool)> {
        let limit = i64::try_from(limit.clamp(1, MAX_RECORDS_PAGE)).unwrap_or(1);
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        // Sizes first, so that no more envelopes are read than fit.
        let bytes = if matches!(self.db, Db::Postgres(_)) {
            "CAST(octet_length(envelope) AS BIGINT)"
        } else {
            "length(CAST(envelope AS BLOB))"
        };
        let sql = format!(
            "SELECT seq, {bytes} AS n FROM messages WHERE topic = $1 AND kind = 'message' AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let sizes: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(resource)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.int("seq")?, r.int("n")?)))
                .collect::<Result<Vec<_>>>()?
        });
        let mut used = 0usize;
        let mut last = None;
        let mut cut = false;
        for (seq, n) in &sizes {
            used = used.saturating_add(usize::try_from(*n).unwrap_or(usize::MAX));
            if used > max_bytes && last.is_some() {
                cut = true;
                break;
            }
            last = Some(*seq);
        }
        let Some(last) = last else {
            self.append_audit(audit).await?;
            return Ok((Vec::new(), false));
        };
        let rows = on_db!(&self.db, pool => {
            sqlx::query("SELECT seq, envelope FROM messages WHERE topic = $1 AND kind = 'message' AND seq > $2 AND seq <= $3 ORDER BY seq")
                .bind(resource)
                .bind(after)
                .bind(last)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((u64::try_from(r.int("seq")?).unwrap_or(0), r.text("envelope")?)))
                .collect::<Result<Vec<_>>>()?
        });
        self.append_audit(audit).await?;
        Ok((rows, cut))
    }
}
