//! Service items (事项): list, show, register or next version, retire —
//! `tongban item …`.
//!
//! An item is registered for the department that handles it (a department
//! operator's own; a region administrator names it); only that department
//! registers its next versions and retires it (`ITEM_NOT_OWNER`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tongban_service::{Action, ItemDraft, Material, ServiceItem};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused};
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/items", list)
        .needs(Action::ItemsRead)
        .post("/v1/items", put)
        .needs(Action::ItemsWrite)
        .get("/v1/items/{code}", show)
        .needs(Action::ItemsRead)
        .post("/v1/items/{code}/retire", retire)
        .needs(Action::ItemsWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(list, put, show, retire), components(schemas(Item, Handler)))]
pub(crate) struct Doc;

/// The filters of `GET /v1/items`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this department's.
    department: Option<String>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Service items, by code (`tongban item list`).
#[utoipa::path(get, path = "/v1/items", tag = "items",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of service items (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<ServiceItem>>, Problem> {
    caller.may(Action::ItemsRead)?;
    let page = Page::of(q.limit, q.offset)?;
    let all = state.hub.item_list(q.department.as_deref()).await?;
    Ok(Json(page.of_list(all)))
}

/// A service item to register, or its next version (`tongban item put`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Item {
    /// The handling department: a department operator's own (default),
    /// named by a region administrator.
    department: Option<String>,
    /// 事项编码.
    code: String,
    /// 事项名称 (signed into the licences its cases' results are issued as).
    name: String,
    /// 即办件, 承诺件, 联办件, 上报件 (or immediate, promised, joint, referred).
    item_type: String,
    /// 法定办结时限, working days (at most 3650).
    legal_limit_days: u32,
    /// 承诺办结时限, working days (at most the legal limit).
    promised_limit_days: u32,
    /// 申请材料 (at most 100): `{"name", "licenceType", "required"}`, the
    /// licence type when a licence satisfies it, `required` true unless
    /// said otherwise.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    materials: Vec<Material>,
    /// The licence type its approval result is issued as.
    result_type: Option<String>,
    /// Region code (the hub's by default).
    region_code: Option<String>,
}

/// Registers a service item for the department that handles it, or its
/// next version (that department only: `ITEM_NOT_OWNER`); audited
/// (`item.put`).
#[utoipa::path(post, path = "/v1/items", tag = "items",
    request_body = Item,
    security(("token" = []), ("clientCertificate" = [])),
    responses(
        (status = 201, description = "the item, registered (version 1)", body = Object),
        (status = 200, description = "the item's next version; ITEM_TYPE_INVALID, ITEM_TIME_LIMIT_INVALID, LICENCE_TYPE_UNKNOWN, … otherwise", body = Object),
        Refused))]
pub(crate) async fn put(
    State(state): State<HttpState>,
    caller: Caller,
    Body(i): Body<Item>,
) -> Result<(StatusCode, Json<ServiceItem>), Problem> {
    let department = caller.department(Action::ItemsWrite, i.department.as_deref())?;
    let draft = ItemDraft {
        code: i.code,
        name: i.name,
        item_type: i.item_type,
        legal_limit_days: i.legal_limit_days,
        promised_limit_days: i.promised_limit_days,
        materials: i.materials,
        result_type: i.result_type,
        region_code: i.region_code,
    };
    let item = caller.hub(&state).item_put(&department, draft).await?;
    let status = if item.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(item)))
}

/// One service item (`tongban item show`).
#[utoipa::path(get, path = "/v1/items/{code}", tag = "items",
    params(("code" = String, Path, description = "事项编码")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the service item", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<ServiceItem>, Problem> {
    caller.may(Action::ItemsRead)?;
    Ok(Json(state.hub.item_show(&code).await?))
}

/// The department acting on an item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Handler {
    /// The handling department: a department operator's own (default),
    /// named by a region administrator.
    department: Option<String>,
}

/// Retires a service item (its department only): no new cases open under
/// it; registering it again makes a new, active version. Audited
/// (`item.retire`).
#[utoipa::path(post, path = "/v1/items/{code}/retire", tag = "items",
    params(("code" = String, Path, description = "事项编码")),
    request_body = Handler,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the item, retired", body = Object), Refused))]
pub(crate) async fn retire(
    State(state): State<HttpState>,
    caller: Caller,
    Path(code): Path<String>,
    Body(h): Body<Handler>,
) -> Result<Json<ServiceItem>, Problem> {
    let department = caller.department(Action::ItemsWrite, h.department.as_deref())?;
    Ok(Json(
        caller.hub(&state).item_retire(&department, &code).await?,
    ))
}
