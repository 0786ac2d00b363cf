//! Departments: register, list, show (with their keys), suspend, activate,
//! retire — `tongban dept …`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tongban_service::{Action, NewDepartment};
use tongban_store::{DepartmentRow, DepartmentStatus, KeyRow, PlatformLevel};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused, created};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/departments", list)
        .needs(Action::DepartmentsRead)
        .post("/v1/departments", add)
        .needs(Action::DepartmentsWrite)
        .get("/v1/departments/{code}", show)
        .needs(Action::DepartmentsRead)
        .post("/v1/departments/{code}/suspend", suspend)
        .needs(Action::DepartmentsWrite)
        .post("/v1/departments/{code}/activate", activate)
        .needs(Action::DepartmentsWrite)
        .post("/v1/departments/{code}/retire", retire)
        .needs(Action::DepartmentsWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(list, add, show, suspend, activate, retire),
    components(schemas(NewDepartmentBody, Reason))
)]
pub(crate) struct Doc;

/// The filters of `GET /v1/departments`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only departments in this state: `active`, `suspended` or `retired`.
    status: Option<String>,
    /// Only those of this region code.
    region: Option<String>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Departments, by code.
#[utoipa::path(get, path = "/v1/departments", tag = "departments",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of departments (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<DepartmentRow>>, Problem> {
    caller.may(Action::DepartmentsRead)?;
    let page = Page::of(q.limit, q.offset)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            DepartmentStatus::parse(s)
                .ok_or_else(|| body::invalid("status is active, suspended or retired"))
        })
        .transpose()?;
    let all: Vec<DepartmentRow> = state
        .hub
        .departments()
        .await?
        .into_iter()
        .filter(|d| status.is_none_or(|s| d.status == s))
        .filter(|d| q.region.as_deref().is_none_or(|r| d.region_code == r))
        .collect();
    Ok(Json(page.of_list(all)))
}

/// A department to register (`tongban dept add`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NewDepartmentBody {
    /// 统一社会信用代码 (18 characters, check digit verified).
    code: String,
    /// Its name, signed into its licences as their issuer's.
    name: String,
    /// GB/T 2260 region code.
    region_code: String,
    /// `province`, `city`, `district`, `town` or `village` (default `district`).
    platform_level: Option<String>,
    /// The code of its parent department.
    parent_code: Option<String>,
    /// Contact person and phone.
    contact: Option<String>,
}

/// Registers a department; audited (`dept.add`).
#[utoipa::path(post, path = "/v1/departments", tag = "departments",
    request_body = NewDepartmentBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the department as registered", body = Object), Refused))]
pub(crate) async fn add(
    State(state): State<HttpState>,
    caller: Caller,
    Body(d): Body<NewDepartmentBody>,
) -> Result<(StatusCode, Json<DepartmentRow>), Problem> {
    caller.may(Action::DepartmentsWrite)?;
    let platform_level = match d.platform_level.as_deref() {
        None => PlatformLevel::District,
        Some(l) => PlatformLevel::parse(l).ok_or_else(|| {
            body::invalid("platformLevel is province, city, district, town or village")
        })?,
    };
    let row = caller
        .hub(&state)
        .add_department(NewDepartment {
            code: d.code,
            name: d.name,
            region_code: d.region_code,
            platform_level,
            parent_code: d.parent_code,
            contact: d.contact,
        })
        .await?;
    Ok(created(row))
}

/// A department with its keys.
#[derive(Debug, Serialize)]
pub struct DepartmentWithKeys {
    /// The department.
    pub department: DepartmentRow,
    /// Its signing keys, with their windows.
    pub keys: Vec<KeyRow>,
}

/// One department with its keys (`tongban dept show`).
#[utoipa::path(get, path = "/v1/departments/{code}", tag = "departments",
    params(("code" = String, Path, description = "统一社会信用代码")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`department` and its `keys`", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<DepartmentWithKeys>, Problem> {
    caller.may(Action::DepartmentsRead)?;
    let department = state.hub.department(&code).await?;
    let keys = state.hub.keys_of(&code).await?;
    Ok(Json(DepartmentWithKeys { department, keys }))
}

/// Why a state changes: every change says why, in the audit log.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reason {
    /// Why (1 to 500 characters).
    reason: String,
}

/// Suspends a department: it can neither send nor issue until activated;
/// audited.
#[utoipa::path(post, path = "/v1/departments/{code}/suspend", tag = "departments",
    params(("code" = String, Path, description = "统一社会信用代码")),
    request_body = Reason,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the department, suspended", body = Object), Refused))]
pub(crate) async fn suspend(
    state: State<HttpState>,
    caller: Caller,
    code: Path<String>,
    body: Body<Reason>,
) -> Result<Json<DepartmentRow>, Problem> {
    change(state, caller, code, body, DepartmentStatus::Suspended).await
}

/// Activates a suspended department; audited.
#[utoipa::path(post, path = "/v1/departments/{code}/activate", tag = "departments",
    params(("code" = String, Path, description = "统一社会信用代码")),
    request_body = Reason,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the department, active", body = Object), Refused))]
pub(crate) async fn activate(
    state: State<HttpState>,
    caller: Caller,
    code: Path<String>,
    body: Body<Reason>,
) -> Result<Json<DepartmentRow>, Problem> {
    change(state, caller, code, body, DepartmentStatus::Active).await
}

/// Retires a department for good (kept for history); audited.
#[utoipa::path(post, path = "/v1/departments/{code}/retire", tag = "departments",
    params(("code" = String, Path, description = "统一社会信用代码")),
    request_body = Reason,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the department, retired", body = Object), Refused))]
pub(crate) async fn retire(
    state: State<HttpState>,
    caller: Caller,
    code: Path<String>,
    body: Body<Reason>,
) -> Result<Json<DepartmentRow>, Problem> {
    change(state, caller, code, body, DepartmentStatus::Retired).await
}

async fn change(
    State(state): State<HttpState>,
    caller: Caller,
    Path(code): Path<String>,
    Body(why): Body<Reason>,
    to: DepartmentStatus,
) -> Result<Json<DepartmentRow>, Problem> {
    caller.may(Action::DepartmentsWrite)?;
    let row = caller
        .hub(&state)
        .set_department_status(&code, to, &why.reason)
        .await?;
    Ok(Json(row))
}
