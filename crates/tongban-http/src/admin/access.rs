//! Applications for access to conditionally shared (有条件共享) resources:
//! list, apply, show, approve, reject, withdraw, and the access check —
//! `tongban access …`.
//!
//! A department is party to an application as its consumer (it applied)
//! or as the provider of its resource (it decides). A department operator
//! lists and reads the applications its department is party to, applies
//! for its own department, and decides as its own department, which must
//! provide the resource (`ACCESS_NOT_PROVIDER`); a region administrator
//! names the department it acts for.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tongban_service::{AccessBasis, Action, Code};
use tongban_store::{AccessApplication, MAX_ACCESS_RESULTS};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused, created};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/access/applications", list)
        .needs(Action::AccessRead)
        .post("/v1/access/applications", apply)
        .needs(Action::AccessApply)
        .get("/v1/access/applications/{id}", show)
        .needs(Action::AccessRead)
        .post("/v1/access/applications/{id}/approve", approve)
        .needs(Action::AccessDecide)
        .post("/v1/access/applications/{id}/reject", reject)
        .needs(Action::AccessDecide)
        .post("/v1/access/applications/{id}/withdraw", withdraw)
        .needs(Action::AccessDecide)
        .get("/v1/access/check", check)
        .needs(Action::AccessRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(list, apply, show, approve, reject, withdraw, check),
    components(schemas(Application, Approval, Decision))
)]
pub(crate) struct Doc;

/// The filters of `GET /v1/access/applications`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only the applications this department is party to (as consumer or
    /// as the resource's provider); a department operator's are always
    /// its own department's.
    department: Option<String>,
    /// Only for this resource.
    resource: Option<String>,
    /// Only by this consuming department.
    consumer: Option<String>,
    /// Items per page (1 to 1000, default 100; offset + limit below 1000).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Applications, newest first (`tongban access list`).
#[utoipa::path(get, path = "/v1/access/applications", tag = "access",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of applications (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<AccessApplication>>, Problem> {
    let party = caller.narrowed(Action::AccessRead, q.department.as_deref())?;
    let page = Page::of(q.limit, q.offset)?;
    let wanted = page.wanted_within(MAX_ACCESS_RESULTS)?;
    let found = state
        .hub
        .access_list_involving(
            party.as_deref(),
            q.resource.as_deref(),
            q.consumer.as_deref(),
            wanted,
        )
        .await?;
    Ok(Json(page.of_list(found)))
}

/// An application for a conditionally shared resource (`tongban access
/// apply`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Application {
    /// The applying (consuming) department: a department operator's own
    /// (default), named by a region administrator.
    department: Option<String>,
    /// Catalogue resource id (有条件共享).
    resource: String,
    /// Stated purpose (申请事由), 1 to 500 characters, kept as stated.
    purpose: String,
    /// Start of the requested period (RFC 3339; default now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    valid_from: Option<time::OffsetDateTime>,
    /// End of the requested period (RFC 3339, exclusive; at most 3 years
    /// after its start).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    valid_until: time::OffsetDateTime,
}

/// Applies for a conditionally shared resource, for the department acted
/// for, with a stated purpose and period; the provider decides. Audited
/// (`access.apply`).
#[utoipa::path(post, path = "/v1/access/applications", tag = "access",
    request_body = Application,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the application, pending; ACCESS_NOT_REQUIRED, ACCESS_NOT_SHARED, ACCESS_PERIOD_INVALID, USE_CAUSE_REQUIRED, CATALOGUE_RETIRED, …", body = Object), Refused))]
pub(crate) async fn apply(
    State(state): State<HttpState>,
    caller: Caller,
    Body(a): Body<Application>,
) -> Result<(StatusCode, Json<AccessApplication>), Problem> {
    let consumer = caller.department(Action::AccessApply, a.department.as_deref())?;
    let hub = caller.hub(&state);
    let from = a.valid_from.unwrap_or_else(|| hub.now());
    let made = hub
        .access_apply(&consumer, &a.resource, &a.purpose, from, a.valid_until)
        .await?;
    Ok(created(made))
}

/// One application (`FORBIDDEN` to an operator of a department not party
/// to it).
#[utoipa::path(get, path = "/v1/access/applications/{id}", tag = "access",
    params(("id" = u64, Path, description = "application number")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the application", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AccessApplication>, Problem> {
    caller.may(Action::AccessRead)?;
    let (application, provider) = state.hub.access_parties(number(&id)?).await?;
    caller
        .may_for(Action::AccessRead, &application.consumer)
        .or_else(|_| caller.may_for(Action::AccessRead, &provider))?;
    Ok(Json(application))
}

/// An approval, by the resource's provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Approval {
    /// The providing department: a department operator's own (default),
    /// named by a region administrator.
    department: Option<String>,
    /// Why (optional; up to 500 characters).
    reason: Option<String>,
}

/// A rejection or a withdrawal, by the resource's provider, saying why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    /// The providing department: a department operator's own (default),
    /// named by a region administrator.
    department: Option<String>,
    /// Why (1 to 500 characters).
    reason: String,
}

/// Approves a pending application (the resource's provider only:
/// `ACCESS_NOT_PROVIDER`); audited (`access.approve`).
#[utoipa::path(post, path = "/v1/access/applications/{id}/approve", tag = "access",
    params(("id" = u64, Path, description = "application number")),
    request_body = Approval,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the application, approved; ACCESS_NOT_PENDING if it was not pending", body = Object), Refused))]
pub(crate) async fn approve(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(d): Body<Approval>,
) -> Result<Json<AccessApplication>, Problem> {
    decide(
        &state,
        &caller,
        &id,
        d.department,
        Decide::Approve(d.reason),
    )
    .await
}

/// Rejects a pending application (the resource's provider only); audited
/// (`access.reject`).
#[utoipa::path(post, path = "/v1/access/applications/{id}/reject", tag = "access",
    params(("id" = u64, Path, description = "application number")),
    request_body = Decision,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the application, rejected; ACCESS_NOT_PENDING if it was not pending", body = Object), Refused))]
pub(crate) async fn reject(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(d): Body<Decision>,
) -> Result<Json<AccessApplication>, Problem> {
    decide(&state, &caller, &id, d.department, Decide::Reject(d.reason)).await
}

/// Withdraws an approval (the resource's provider only); audited
/// (`access.withdraw`).
#[utoipa::path(post, path = "/v1/access/applications/{id}/withdraw", tag = "access",
    params(("id" = u64, Path, description = "application number")),
    request_body = Decision,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the application, withdrawn; ACCESS_NOT_PENDING if it was not approved", body = Object), Refused))]
pub(crate) async fn withdraw(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(d): Body<Decision>,
) -> Result<Json<AccessApplication>, Problem> {
    decide(
        &state,
        &caller,
        &id,
        d.department,
        Decide::Withdraw(d.reason),
    )
    .await
}

/// What the provider decides, with its reason.
#[derive(Debug)]
enum Decide {
    Approve(Option<String>),
    Reject(String),
    Withdraw(String),
}

/// The provider's decision on application `id`, as the department the
/// caller acts for.
async fn decide(
    state: &HttpState,
    caller: &Caller,
    id: &str,
    department: Option<String>,
    how: Decide,
) -> Result<Json<AccessApplication>, Problem> {
    let provider = caller.department(Action::AccessDecide, department.as_deref())?;
    let id = number(id)?;
    let hub = caller.hub(state);
    let decided = match &how {
        Decide::Approve(why) => {
            hub.access_decide(&provider, id, true, why.as_deref())
                .await?
        }
        Decide::Reject(why) => hub.access_decide(&provider, id, false, Some(why)).await?,
        Decide::Withdraw(why) => hub.access_withdraw(&provider, id, Some(why)).await?,
    };
    Ok(Json(decided))
}

/// The query of `GET /v1/access/check`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CheckQuery {
    /// The consuming department: a department operator's own (default),
    /// named by a region administrator.
    consumer: Option<String>,
    /// Catalogue resource id.
    resource: String,
}

/// Whether a department may use a resource now, and why.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    /// Whether it may.
    pub allowed: bool,
    /// When it may: `{"kind": "provider" | "unconditional" | "approved",
    /// "application": id}` (the application only when approved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<serde_json::Value>,
    /// When it may not: the rule that refuses (`ACCESS_NOT_GRANTED`,
    /// `ACCESS_EXPIRED`, `ACCESS_NOT_SHARED`, `CATALOGUE_RETIRED`,
    /// `DEPARTMENT_SUSPENDED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// When it may not: why, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// May a department use a resource now? The same rule as the exchange
/// applies (`tongban access check`): a "no" is an answer (200, `allowed`
/// false with the rule's code), a resource or department that does not
/// exist a problem.
#[utoipa::path(get, path = "/v1/access/check", tag = "access",
    params(CheckQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`allowed`, with its `basis`, or the refusing rule's `code` and `message`", body = Object), Refused))]
pub(crate) async fn check(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<CheckQuery>,
) -> Result<Json<Checked>, Problem> {
    let consumer = caller.department(Action::AccessRead, q.consumer.as_deref())?;
    let checked = match state
        .hub
        .access_check(&consumer, &q.resource, state.hub.now())
        .await
    {
        Ok(basis) => Checked {
            allowed: true,
            basis: Some(AccessBasis::to_detail(&basis)),
            code: None,
            message: None,
        },
        Err(e) if e.rejection().is_some_and(Code::is_access_denial) => Checked {
            allowed: false,
            basis: None,
            code: Some(e.code()),
            message: Some(e.told("").into_owned()),
        },
        Err(e) => return Err(e.into()),
    };
    Ok(Json(checked))
}

/// An application's number from the path (`REQUEST_INVALID` if it is not
/// one).
fn number(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| body::invalid(format!("{id:?} is not an application number")))
}
