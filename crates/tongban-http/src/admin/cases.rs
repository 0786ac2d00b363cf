//! Cases (办件): list, and one case with its licence-use records — `tongban
//! case list|show`.
//!
//! Cases are opened and concluded by the departments' case systems over
//! QUIC (`hub.case.licences`, `hub.case.result`); here they are only read.
//! Case numbers are each department's own, so a case is named by its
//! department and number. A department operator reads its own
//! department's cases only.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tongban_service::Action;
use tongban_store::{CaseRow, MAX_CASE_RESULTS, UseRow};
use utoipa::{IntoParams, OpenApi};

use super::{Caller, Listed, Page, Params, Refused};
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/cases", list)
        .needs(Action::CasesRead)
        .get("/v1/cases/{department}/{id}", show)
        .needs(Action::CasesRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(list, show))]
pub(crate) struct Doc;

/// The filters of `GET /v1/cases`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this department's; a department operator's are always its own
    /// department's.
    department: Option<String>,
    /// Items per page (1 to 1000, default 100; offset + limit below 1000).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Cases, newest first (`tongban case list`).
#[utoipa::path(get, path = "/v1/cases", tag = "cases",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of cases (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<CaseRow>>, Problem> {
    let department = caller.narrowed(Action::CasesRead, q.department.as_deref())?;
    let page = Page::of(q.limit, q.offset)?;
    let wanted = page.wanted_within(MAX_CASE_RESULTS)?;
    let found = state.hub.case_list(department.as_deref(), wanted).await?;
    Ok(Json(page.of_list(found)))
}

/// A case with the licence uses recorded against it.
#[derive(Debug, Serialize)]
pub struct CaseWithUses {
    /// The case.
    pub case: CaseRow,
    /// Its licence-use records (用证记录), oldest first.
    pub uses: Vec<UseRow>,
}

/// One case of a department, with its licence-use records (`tongban case
/// show --dept`).
#[utoipa::path(get, path = "/v1/cases/{department}/{id}", tag = "cases",
    params(
        ("department" = String, Path, description = "the handling department (统一社会信用代码)"),
        ("id" = String, Path, description = "办件编号")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`case` and its `uses`", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path((department, id)): Path<(String, String)>,
) -> Result<Json<CaseWithUses>, Problem> {
    caller.may_for(Action::CasesRead, &department)?;
    let (case, uses) = state.hub.case_show(Some(&department), &id).await?;
    Ok(Json(CaseWithUses { case, uses }))
}
