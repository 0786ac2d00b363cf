//! 12345 work orders (工单) — `tongban hotline`: the hotline office named
//! (region administrator), routing rules read (orders-read) and changed by
//! the office's operator or a region administrator (routes-write), orders
//! created (dispatched by the rules or to the unit named) and their steps taken by the
//! office's or a unit's operator for its own department, orders shown
//! (the citizen's contact only on request, for the office and the handling
//! unit, audited) and listed (never with contacts).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tongban_service::{Action, NewOrder, NewRoute};
use tongban_store::{OrderRouteRow, WorkOrderRow, WorkOrderStepRow};
use tongban_supervision::hotline::{Category, Step};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused, created};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .put("/v1/hotline/office", office)
        .needs(Action::DepartmentsWrite)
        .get("/v1/hotline/routes", routes_list)
        .needs(Action::OrdersRead)
        .post("/v1/hotline/routes", route_add)
        .needs(Action::RoutesWrite)
        .delete("/v1/hotline/routes", route_remove)
        .needs(Action::RoutesWrite)
        .get("/v1/orders", list)
        .needs(Action::OrdersRead)
        .post("/v1/orders", create)
        .needs(Action::OrdersWrite)
        .get("/v1/orders/{id}", show)
        .needs(Action::OrdersRead)
        .post("/v1/orders/{id}/steps", step)
        .needs(Action::OrdersWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(office, routes_list, route_add, route_remove, list, create, show, step),
    components(schemas(Office, RouteBody, NewOrderBody, StepBody))
)]
pub(crate) struct Doc;

/// The hotline office.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Office {
    /// The department that runs the 12345 hotline.
    department: String,
}

/// Names the hub's hotline office; audited (`hotline.office`).
#[utoipa::path(put, path = "/v1/hotline/office", tag = "hotline",
    request_body = Office,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the office named", body = Object), Refused))]
pub(crate) async fn office(
    State(state): State<HttpState>,
    caller: Caller,
    Body(o): Body<Office>,
) -> Result<Json<Office>, Problem> {
    caller.may(Action::DepartmentsWrite)?;
    caller.hub(&state).set_hotline_office(&o.department).await?;
    Ok(Json(o))
}

/// The routing rules (派单规则), by category and area.
#[utoipa::path(get, path = "/v1/hotline/routes", tag = "hotline",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "every routing rule", body = Object), Refused))]
pub(crate) async fn routes_list(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<Vec<OrderRouteRow>>, Problem> {
    caller.may(Action::OrdersRead)?;
    Ok(Json(caller.hub(&state).routes().await?))
}

/// A routing rule.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RouteBody {
    /// Its category (default: every category).
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    category: Option<Category>,
    /// The start of the areas it covers (default: every area).
    area: Option<String>,
    /// The member unit (when set).
    unit: Option<String>,
}

/// Who may change the routing rules: the hotline office's operator or a
/// region administrator (`routes-write` for the office).
async fn may_route(state: &HttpState, caller: &Caller) -> Result<(), Problem> {
    match state.hub.hotline_office().await? {
        Some(office) => caller.may_for(Action::RoutesWrite, &office),
        None => caller.may(Action::RoutesWrite),
    }
}

/// Sets the rule for a category and an area (replacing its unit);
/// audited (`hotline.route`).
#[utoipa::path(post, path = "/v1/hotline/routes", tag = "hotline",
    request_body = RouteBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the rule", body = Object), Refused))]
pub(crate) async fn route_add(
    State(state): State<HttpState>,
    caller: Caller,
    Body(r): Body<RouteBody>,
) -> Result<(StatusCode, Json<OrderRouteRow>), Problem> {
    may_route(&state, &caller).await?;
    let unit = r
        .unit
        .ok_or_else(|| body::invalid("a rule names its unit"))?;
    let new = NewRoute {
        category: r.category,
        area: r.area,
        unit,
    };
    Ok(created(caller.hub(&state).route_add(new).await?))
}

/// Removes the rule for a category and an area (query `category`, `area`;
/// each default: every); audited (`hotline.route`).
#[utoipa::path(delete, path = "/v1/hotline/routes", tag = "hotline",
    params(RouteBody),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "removed", body = Object), Refused))]
pub(crate) async fn route_remove(
    State(state): State<HttpState>,
    caller: Caller,
    Params(r): Params<RouteBody>,
) -> Result<Json<Value>, Problem> {
    may_route(&state, &caller).await?;
    caller
        .hub(&state)
        .route_remove(r.category, r.area.as_deref())
        .await?;
    Ok(Json(
        serde_json::json!({"removed": {"category": r.category, "area": r.area}}),
    ))
}

/// The query of `GET /v1/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The department asking (an operator's own; a region administrator
    /// sees every order unless it names one).
    department: Option<String>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Work orders, newest first: the office's operator sees every order, a
/// unit's those dispatched to it now; never the citizens' contacts.
#[utoipa::path(get, path = "/v1/orders", tag = "hotline",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of work orders", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<WorkOrderRow>>, Problem> {
    let page = Page::of(q.limit, q.offset)?;
    let department = caller.narrowed(Action::OrdersRead, q.department.as_deref())?;
    let orders = state
        .hub
        .order_list_for(department.as_deref(), page.wanted())
        .await?;
    Ok(Json(page.of_list(orders)))
}

/// A call taken as a work order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrderBody {
    /// The hotline office (an operator's own department by default).
    office: Option<String>,
    /// 工单编号.
    id: String,
    /// `consultation`, `suggestion`, `appeal`, `consumer-complaint`,
    /// `economic-report` or `administrative-complaint`.
    #[schema(value_type = String)]
    category: Category,
    /// What the citizen said.
    content: String,
    /// Where.
    area: Option<String>,
    /// The citizen's contact (personal data).
    contact: String,
    /// The member unit to dispatch it to at once, overriding the routing
    /// rules (default: the most specific rule's unit; none: it stays new).
    unit: Option<String>,
}

/// The office creates a work order; audited (`order.create`, without the
/// contact).
#[utoipa::path(post, path = "/v1/orders", tag = "hotline",
    request_body = NewOrderBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the order (without the contact)", body = Object), Refused))]
pub(crate) async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    Body(o): Body<NewOrderBody>,
) -> Result<(StatusCode, Json<WorkOrderRow>), Problem> {
    let office = caller.department(Action::OrdersWrite, o.office.as_deref())?;
    let new = NewOrder {
        id: o.id,
        category: o.category,
        content: o.content,
        area: o.area,
        contact: o.contact,
        unit: o.unit,
    };
    Ok(created(
        caller.hub(&state).order_create(&office, new).await?,
    ))
}

/// The query of `GET /v1/orders/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// The department asking (an operator's own by default).
    department: Option<String>,
    /// Also the citizen's contact (audited as `order.contact`).
    contact: Option<bool>,
}

/// An order with its steps.
#[derive(Debug, Serialize)]
pub struct OrderWithSteps {
    /// The order.
    pub order: WorkOrderRow,
    /// Its steps in order.
    pub steps: Vec<WorkOrderStepRow>,
    /// The citizen's contact, when asked for.
    pub contact: Option<String>,
}

/// A work order with its steps, for the office or a unit it was dispatched
/// to; the contact with `?contact=true`, for the office and the handling
/// unit only.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "hotline",
    params(("id" = String, Path, description = "工单编号"), ShowQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`order`, `steps`, `contact`", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ShowQuery>,
) -> Result<Json<OrderWithSteps>, Problem> {
    let department = caller.department(Action::OrdersRead, q.department.as_deref())?;
    let hub = caller.hub(&state);
    let (order, steps) = hub.order_show(&department, &id).await?;
    let contact = match q.contact {
        Some(true) => Some(hub.order_contact(&department, &id).await?),
        _ => None,
    };
    Ok(Json(OrderWithSteps {
        order,
        steps,
        contact,
    }))
}

/// A step on a work order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepBody {
    /// Who takes it: the office or a unit (an operator's own department by
    /// default).
    department: Option<String>,
    /// The step: `{"step": "dispatched", "unit"}`, `{"step": "signed"}`,
    /// `{"step": "returned", "reason"}`, `{"step": "extension-asked",
    /// "days", "reason"}`, `{"step": "extension-decided", "granted"}`,
    /// `{"step": "replied", "content"}`, `{"step": "visited",
    /// "satisfied"}`, `{"step": "reopened", "reason"}`, `{"step":
    /// "closed"}`.
    #[schema(value_type = Object)]
    step: Value,
    /// When (RFC 3339; default now).
    at: Option<String>,
}

/// Takes a step on a work order, as the office or the unit it is
/// dispatched to; audited (`order.step`).
#[utoipa::path(post, path = "/v1/orders/{id}/steps", tag = "hotline",
    params(("id" = String, Path, description = "工单编号")),
    request_body = StepBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the order as it now stands, with its cards", body = Object), Refused))]
pub(crate) async fn step(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(s): Body<StepBody>,
) -> Result<Json<WorkOrderRow>, Problem> {
    let department = caller.department(Action::OrdersWrite, s.department.as_deref())?;
    let step: Step = serde_json::from_value(s.step).map_err(|e| {
        Problem::coded(
            StatusCode::BAD_REQUEST,
            tongban_service::Code::OrderStepInvalid,
            format!("step: {e}"),
        )
    })?;
    let hub = caller.hub(&state);
    let at = match s.at {
        Some(t) => tongban_seal::timefmt::parse_rfc3339(&t)
            .map_err(|e| body::invalid(format!("at {t:?}: {e}")))?,
        None => hub.now(),
    };
    Ok(Json(hub.order_step(&department, &id, step, at).await?))
}
