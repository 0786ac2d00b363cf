//! 12345 routing rules (派单规则): which member unit an order of a category
//! from an area goes to when the office creates it without naming one.
//! The rules are the hub's (one set, for its hotline office); the HTTP side
//! lets the office's operator or a region administrator change them, the
//! CLI the administrator. Which rule wins is
//! `tongban_supervision::hotline::route_for`'s decision: the longest area
//! prefix, then a category's own rule before an any-category one. A rule
//! whose unit is no longer active is passed over when orders are routed.
//! Every change is audited (`hotline.route`).

use serde_json::json;
use tongban_store::{DepartmentStatus, OrderRouteRow};
use tongban_supervision::hotline::{Category, Route, route_for};

use crate::error::{Code, Error, Result};
use crate::hotline::category_name;
use crate::{Service, text};

/// Most routing rules a hub keeps.
pub const MAX_ORDER_ROUTES: usize = 1000;
/// Longest area prefix of a rule, in characters.
pub const MAX_ROUTE_AREA_CHARS: usize = 64;
/// How the store names "every category".
const ANY_CATEGORY: &str = "*";

/// A routing rule as it is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoute {
    /// The category it is for; `None`: every category.
    pub category: Option<Category>,
    /// The start of the areas it covers; `None`: every area.
    pub area: Option<String>,
    /// The member unit (an active department, not the office).
    pub unit: String,
}

/// The dispatch a new order gets from the rules, if one covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routed {
    /// The unit.
    pub unit: String,
    /// The rule's category (`*`: every category) and area.
    pub category: String,
    pub area: String,
}

fn stored_category(category: Option<Category>) -> String {
    category.map_or_else(|| ANY_CATEGORY.to_owned(), category_name)
}

fn check_area(area: Option<&str>) -> Result<String> {
    match area {
        None => Ok(String::new()),
        Some(a) => {
            text::name(
                Code::OrderRouteInvalid,
                "a rule's area",
                a,
                MAX_ROUTE_AREA_CHARS,
            )?;
            Ok(a.to_owned())
        }
    }
}

fn as_route(row: &OrderRouteRow) -> Result<Route> {
    let category = match row.category.as_str() {
        ANY_CATEGORY => None,
        c => Some(serde_json::from_value(json!(c)).map_err(|e| {
            Error::Store(tongban_store::StoreError::Corrupt(format!(
                "routing rule category {c:?}: {e}"
            )))
        })?),
    };
    Ok(Route {
        category,
        area: row.area.clone(),
        unit: row.unit.clone(),
    })
}

impl Service {
    /// Sets a routing rule (replacing the unit of the rule for the same
    /// category and area, if there was one); audited (`hotline.route`).
    /// `HOTLINE_OFFICE_MISSING`; `DEPARTMENT_UNKNOWN`,
    /// `DEPARTMENT_SUSPENDED`, `DEPARTMENT_RETIRED` for the unit;
    /// `ORDER_ROUTE_INVALID`: the area is not a name, the unit is the
    /// office itself, or the hub has [`MAX_ORDER_ROUTES`] rules.
    pub async fn route_add(&self, route: NewRoute) -> Result<OrderRouteRow> {
        let office = self.office().await?;
        let area = check_area(route.area.as_deref())?;
        self.active_department(&route.unit).await?;
        if route.unit == office {
            return Err(Error::rejected(
                Code::OrderRouteInvalid,
                "a rule dispatches to a member unit, not to the hotline office",
            ));
        }
        let category = stored_category(route.category);
        let existing = self.store.order_routes().await?;
        let replaced = existing
            .iter()
            .find(|r| r.category == category && r.area == area);
        if replaced.is_none() && existing.len() >= MAX_ORDER_ROUTES {
            return Err(Error::rejected(
                Code::OrderRouteInvalid,
                format!("a hub keeps at most {MAX_ORDER_ROUTES} routing rules"),
            ));
        }
        let row = OrderRouteRow {
            category,
            area,
            unit: route.unit,
            created_at: self.now(),
        };
        let detail = json!({
            "op": "set", "category": row.category, "area": row.area, "unit": row.unit,
            "replaced": replaced.map(|r| r.unit.clone()),
        });
        let audit = [self.audit("hotline.route", &office, detail)];
        self.store.put_order_route(&row, &audit).await?;
        Ok(row)
    }

    /// Removes the rule for `category` (`None`: the any-category rule) and
    /// `area` (`None`: the every-area rule); audited (`hotline.route`).
    /// `ORDER_ROUTE_UNKNOWN` when there is none.
    pub async fn route_remove(&self, category: Option<Category>, area: Option<&str>) -> Result<()> {
        let office = self.office().await?;
        let area = check_area(area)?;
        let category = stored_category(category);
        let detail = json!({"op": "remove", "category": category, "area": area});
        let audit = [self.audit("hotline.route", &office, detail)];
        if !self
            .store
            .remove_order_route(&category, &area, &audit)
            .await?
        {
            return Err(Error::rejected(
                Code::OrderRouteUnknown,
                format!("no routing rule for category {category} and area {area:?}"),
            ));
        }
        Ok(())
    }

    /// Every routing rule, by category and area.
    pub async fn routes(&self) -> Result<Vec<OrderRouteRow>> {
        Ok(self.store.order_routes().await?)
    }

    /// The unit the most specific rule covering an order of `category`
    /// from `area` dispatches it to, passing over rules whose unit is not
    /// active; `None` when no rule covers it.
    pub(crate) async fn route_of(
        &self,
        category: Category,
        area: Option<&str>,
    ) -> Result<Option<Routed>> {
        let rows = self.store.order_routes().await?;
        let mut routes = rows.iter().map(as_route).collect::<Result<Vec<_>>>()?;
        while let Some(route) = route_for(&routes, category, area) {
            let chosen = route.clone();
            let active = matches!(
                self.store.department(&chosen.unit).await?,
                Some(d) if d.status == DepartmentStatus::Active
            );
            if active {
                return Ok(Some(Routed {
                    category: stored_category(chosen.category),
                    area: chosen.area,
                    unit: chosen.unit,
                }));
            }
            routes.retain(|r| *r != chosen);
        }
        Ok(None)
    }
}
