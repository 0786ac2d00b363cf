//! 12345 work orders (migration 0023): each order's row and its steps,
//! written together; the routing rules that dispatch new orders (migration
//! 0025).

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, OutboxRow, Result, Store, StoreError};

/// A work order as stored. Its `Debug` leaves the contact out.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkOrderRow {
    /// 工单编号.
    pub id: String,
    /// The hotline office that created it.
    pub office: String,
    /// Its category.
    pub category: String,
    /// What the citizen said.
    pub content: String,
    /// Where.
    pub area: Option<String>,
    /// The citizen's contact: personal data, never serialised.
    #[serde(skip)]
    pub contact: String,
    /// The member unit it is dispatched to.
    pub unit: Option<String>,
    /// Where it stands.
    pub phase: String,
    /// Sign-for deadline, working days.
    pub sign_days: u32,
    /// Reply deadline, working days.
    pub reply_days: u32,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// Closed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<time::OffsetDateTime>,
    /// The last call back: satisfied or not.
    pub satisfied: Option<bool>,
    /// Once signed for: within its deadline or not.
    pub signed_on_time: Option<bool>,
    /// Once replied: within its deadline or not.
    pub replied_on_time: Option<bool>,
    /// Yellow cards, as of its last step.
    pub yellow_cards: u32,
    /// Red cards, as of its last step.
    pub red_cards: u32,
    /// Steps taken.
    pub steps: u64,
}

impl std::fmt::Debug for WorkOrderRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkOrderRow")
            .field("id", &self.id)
            .field("category", &self.category)
            .field("unit", &self.unit)
            .field("phase", &self.phase)
            .field("contact", &"(personal data)")
            .finish_non_exhaustive()
    }
}

/// A step of a work order as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkOrderStepRow {
    /// The order.
    pub order_id: String,
    /// 0, 1, … within the order.
    pub seq: u64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    /// `office` or the unit's code.
    pub actor: String,
    /// The step (JSON).
    pub step: String,
}

pub(crate) const COLUMNS: &str = "id, office, category, content, area, contact, unit, phase, sign_days, reply_days, created_at, closed_at, satisfied, signed_on_time, replied_on_time, yellow_cards, red_cards, steps";

fn small(r: &impl RowExt, name: &str) -> Result<u32> {
    u32::try_from(r.int(name)?).map_err(|_| StoreError::Corrupt(format!("work order {name}")))
}

pub(crate) fn order_from_row(r: &impl RowExt) -> Result<WorkOrderRow> {
    Ok(WorkOrderRow {
        id: r.text("id")?,
        office: r.text("office")?,
        category: r.text("category")?,
        content: r.text("content")?,
        area: r.opt_text("area")?,
        contact: r.text("contact")?,
        unit: r.opt_text("unit")?,
        phase: r.text("phase")?,
        sign_days: small(r, "sign_days")?,
        reply_days: small(r, "reply_days")?,
        created_at: from_unix(r.int("created_at")?)?,
        closed_at: r.opt_int("closed_at")?.map(from_unix).transpose()?,
        satisfied: r.opt_int("satisfied")?.map(|v| v != 0),
        signed_on_time: r.opt_int("signed_on_time")?.map(|v| v != 0),
        replied_on_time: r.opt_int("replied_on_time")?.map(|v| v != 0),
        yellow_cards: small(r, "yellow_cards")?,
        red_cards: small(r, "red_cards")?,
        steps: u64::from(small(r, "steps")?),
    })
}

fn step_from_row(r: &impl RowExt) -> Result<WorkOrderStepRow> {
    Ok(WorkOrderStepRow {
        order_id: r.text("order_id")?,
        seq: u64::try_from(r.int("seq")?).map_err(|_| StoreError::Corrupt("seq".into()))?,
        at: from_unix(r.int("at")?)?,
        actor: r.text("actor")?,
        step: r.text("step")?,
    })
}

/// Inserts a step row in the open transaction `$tx`; the rows inserted
/// (0 when its `seq` was taken).
macro_rules! insert_step {
    ($tx:ident, $step:expr) => {{
        let step: &WorkOrderStepRow = $step;
        let seq = i64::try_from(step.seq).map_err(|_| StoreError::Corrupt("seq".into()))?;
        sqlx::query("INSERT INTO work_order_steps (order_id, seq, at, actor, step) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id, seq) DO NOTHING")
            .bind(&step.order_id)
            .bind(seq)
            .bind(unix(step.at))
            .bind(&step.actor)
            .bind(&step.step)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
    }};
}

impl Store {
    /// Stores a new work order; `false` if its id exists.
    pub async fn add_work_order(&self, o: &WorkOrderRow, audit: &[AuditRecord]) -> Result<bool> {
        self.add_work_order_with(o, None, audit, &[]).await
    }

    /// Stores a new work order as `o` stands after its `first` step (a
    /// dispatch by a routing rule, or as the office named), in one
    /// transaction with `audit` and what the hub is to push (`outbox`);
    /// `false` if its id exists (nothing written).
    pub async fn add_work_order_with(
        &self,
        o: &WorkOrderRow,
        first: Option<&WorkOrderStepRow>,
        audit: &[AuditRecord],
        outbox: &[OutboxRow],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            let inserted = sqlx::query("INSERT INTO work_orders (id, office, category, content, area, contact, unit, phase, sign_days, reply_days, created_at, closed_at, satisfied, signed_on_time, replied_on_time, yellow_cards, red_cards, steps) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (id) DO NOTHING")
                .bind(&o.id)
                .bind(&o.office)
                .bind(&o.category)
                .bind(&o.content)
                .bind(&o.area)
                .bind(&o.contact)
                .bind(&o.unit)
                .bind(&o.phase)
                .bind(i64::from(o.sign_days))
                .bind(i64::from(o.reply_days))
                .bind(unix(o.created_at))
                .bind(o.closed_at.map(unix))
                .bind(o.satisfied.map(i64::from))
                .bind(o.signed_on_time.map(i64::from))
                .bind(o.replied_on_time.map(i64::from))
                .bind(i64::from(o.yellow_cards))
                .bind(i64::from(o.red_cards))
                .bind(i64::try_from(o.steps).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 1 {
                if let Some(step) = first {
                    insert_step!(tx, step);
                }
                append_audit!(tx, audit);
                append_outbox!(tx, outbox);
            }
            inserted
        });
        Ok(done == 1)
    }

    /// Records `step` (its `seq` the order's next) and the order as it now
    /// stands, with `audit` and what the hub is to push (`outbox`), in one
    /// transaction; `false` when another step took that `seq` first
    /// (nothing written).
    pub async fn record_work_order_step(
        &self,
        step: &WorkOrderStepRow,
        o: &WorkOrderRow,
        audit: &[AuditRecord],
        outbox: &[OutboxRow],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            let inserted = insert_step!(tx, step);
            if inserted == 1 {
                sqlx::query("UPDATE work_orders SET unit = $1, phase = $2, closed_at = $3, satisfied = $4, signed_on_time = $9, replied_on_time = $10, yellow_cards = $5, red_cards = $6, steps = $7 WHERE id = $8")
                    .bind(&o.unit)
                    .bind(&o.phase)
                    .bind(o.closed_at.map(unix))
                    .bind(o.satisfied.map(i64::from))
                    .bind(i64::from(o.yellow_cards))
                    .bind(i64::from(o.red_cards))
                    .bind(i64::try_from(o.steps).unwrap_or(i64::MAX))
                    .bind(&o.id)
                    .bind(o.signed_on_time.map(i64::from))
                    .bind(o.replied_on_time.map(i64::from))
                    .execute(&mut *tx)
                    .await?;
                if !audit.is_empty() {
                    append_audit!(tx, audit);
                }
                append_outbox!(tx, outbox);
            }
            inserted
        });
        Ok(done == 1)
    }

    /// A work order, if any.
    pub async fn work_order(&self, id: &str) -> Result<Option<WorkOrderRow>> {
        let sql = format!("SELECT {COLUMNS} FROM work_orders WHERE id = $1");
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(order_from_row)
                .transpose()
        })
    }

    /// A work order's steps, in order.
    pub async fn work_order_steps(&self, id: &str) -> Result<Vec<WorkOrderStepRow>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT order_id, seq, at, actor, step FROM work_order_steps WHERE order_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(step_from_row)
                .collect()
        })
    }

    /// Work orders created in `[from, to)` (dispatched to `unit` only, when
    /// given), newest first, at most `limit`.
    pub async fn work_orders(
        &self,
        unit: Option<&str>,
        from: time::OffsetDateTime,
        to: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<WorkOrderRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {COLUMNS} FROM work_orders WHERE ($1 IS NULL OR unit = $1) AND created_at >= $2 AND created_at < $3 ORDER BY created_at DESC, id LIMIT $4"
        );
        on_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(unit)
                .bind(unix(from))
                .bind(unix(to))
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(order_from_row)
                .collect()
        })
    }

    /// Work orders created in `[from, to)`, counted per unit (`-` for
    /// those not dispatched) and category, in one query.
    pub async fn order_counts(
        &self,
        from: time::OffsetDateTime,
        to: time::OffsetDateTime,
    ) -> Result<Vec<OrderCounts>> {
        const SQL: &str = "SELECT COALESCE(unit, '-') AS unit, category, \
            CAST(COUNT(*) AS BIGINT) AS orders, \
            CAST(COALESCE(SUM(CASE WHEN signed_on_time IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS signed, \
            CAST(COALESCE(SUM(CASE WHEN signed_on_time = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS signed_on_time, \
            CAST(COALESCE(SUM(CASE WHEN replied_on_time IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS replied, \
            CAST(COALESCE(SUM(CASE WHEN replied_on_time = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS replied_on_time, \
            CAST(COALESCE(SUM(CASE WHEN satisfied IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS visited, \
            CAST(COALESCE(SUM(CASE WHEN satisfied = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS satisfied, \
            CAST(COALESCE(SUM(CASE WHEN phase = 'closed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS closed, \
            CAST(COALESCE(SUM(yellow_cards), 0) AS BIGINT) AS yellow_cards, \
            CAST(COALESCE(SUM(red_cards), 0) AS BIGINT) AS red_cards \
            FROM work_orders WHERE created_at >= $1 AND created_at < $2 \
            GROUP BY COALESCE(unit, '-'), category ORDER BY 1, 2";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(unix(from))
                .bind(unix(to))
                .fetch_all(pool)
                .await?
                .iter()
                .map(counts_from_row)
                .collect()
        })
    }
}

/// One member unit's work orders of one category in a period, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCounts {
    /// The member unit (`-`: not dispatched).
    pub unit: String,
    /// The category.
    pub category: String,
    /// Orders created in the period.
    pub orders: u64,
    /// Signed for.
    pub signed: u64,
    /// Signed for within the deadline (按时签收).
    pub signed_on_time: u64,
    /// Replied.
    pub replied: u64,
    /// Replied within the deadline (按时办结).
    pub replied_on_time: u64,
    /// Called back.
    pub visited: u64,
    /// Satisfied at the call back.
    pub satisfied: u64,
    /// Closed.
    pub closed: u64,
    /// Yellow cards.
    pub yellow_cards: u64,
    /// Red cards.
    pub red_cards: u64,
}

fn counts_from_row(r: &impl RowExt) -> Result<OrderCounts> {
    let n = |name: &str| -> Result<u64> {
        u64::try_from(r.int(name)?).map_err(|_| StoreError::Corrupt(format!("count {name}")))
    };
    Ok(OrderCounts {
        unit: r.text("unit")?,
        category: r.text("category")?,
        orders: n("orders")?,
        signed: n("signed")?,
        signed_on_time: n("signed_on_time")?,
        replied: n("replied")?,
        replied_on_time: n("replied_on_time")?,
        visited: n("visited")?,
        satisfied: n("satisfied")?,
        closed: n("closed")?,
        yellow_cards: n("yellow_cards")?,
        red_cards: n("red_cards")?,
    })
}

/// A routing rule as stored (migration 0025).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRouteRow {
    /// The category it is for; `*` for every category.
    pub category: String,
    /// The start of the areas it covers; empty for every area.
    pub area: String,
    /// The member unit orders go to.
    pub unit: String,
    /// When it was set.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

fn route_from_row(r: &impl RowExt) -> Result<OrderRouteRow> {
    Ok(OrderRouteRow {
        category: r.text("category")?,
        area: r.text("area")?,
        unit: r.text("unit")?,
        created_at: from_unix(r.int("created_at")?)?,
    })
}

impl Store {
    /// Sets the rule for its category and area (replacing the unit of one
    /// there was), with `audit`, in one transaction.
    pub async fn put_order_route(
        &self,
        route: &OrderRouteRow,
        audit: &[AuditRecord],
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            sqlx::query("INSERT INTO order_routes (category, area, unit, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (category, area) DO UPDATE SET unit = excluded.unit, created_at = excluded.created_at")
                .bind(&route.category)
                .bind(&route.area)
                .bind(&route.unit)
                .bind(unix(route.created_at))
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, audit);
        });
        Ok(())
    }

    /// Removes the rule for `category` and `area`, with `audit`; `false`
    /// when there was none (nothing written).
    pub async fn remove_order_route(
        &self,
        category: &str,
        area: &str,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("DELETE FROM order_routes WHERE category = $1 AND area = $2")
                .bind(category)
                .bind(area), audit)
        });
        Ok(done == 1)
    }

    /// Every routing rule, by category and area.
    pub async fn order_routes(&self) -> Result<Vec<OrderRouteRow>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT category, area, unit, created_at FROM order_routes ORDER BY category, area")
                .fetch_all(pool)
                .await?
                .iter()
                .map(route_from_row)
                .collect()
        })
    }
}
