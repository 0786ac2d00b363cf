//! Licences: issue (with an attachment), find a holder's and show one
//! (each with its stated purpose, leaving a licence-use record), suspend,
//! reinstate, revoke, and the use records — `tongban licence …`.
//!
//! An operator issues and changes the status of its own department's
//! licences only; it reads any licence (that is what sharing is for), as
//! its department, with a stated purpose that the use record keeps. A
//! region administrator reads as itself unless it names a department.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tongban_licence::Verification;
use tongban_service::{Action, AttachmentInput, Found, IssueInput, Query};
use tongban_store::{StatusEventRow, UseRow};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused, created};
use crate::body::{self, Kind};
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .post("/v1/licences", issue)
        .needs(Action::LicencesIssue)
        .get("/v1/licences", find)
        .needs(Action::LicencesRead)
        .get("/v1/licences/{identifier}", show)
        .needs(Action::LicencesRead)
        .post("/v1/licences/{identifier}/suspend", suspend)
        .needs(Action::LicencesStatus)
        .post("/v1/licences/{identifier}/reinstate", reinstate)
        .needs(Action::LicencesStatus)
        .post("/v1/licences/{identifier}/revoke", revoke)
        .needs(Action::LicencesStatus)
        .get("/v1/licences/{identifier}/uses", uses_of)
        .needs(Action::LicencesRead)
        .get("/v1/licences/{identifier}/history", history)
        .needs(Action::LicencesRead)
        .get("/v1/licence-uses", recent_uses)
        .needs(Action::LicencesRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        issue,
        find,
        show,
        suspend,
        reinstate,
        revoke,
        uses_of,
        history,
        recent_uses
    ),
    components(schemas(StatusChange))
)]
pub(crate) struct Doc;

/// Who issues: `issuer` (an operator's own department by default).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct IssueQuery {
    /// The issuing department's code (USCC); an operator's own by default,
    /// a region administrator names it.
    issuer: Option<String>,
}

/// A licence just issued.
#[derive(Debug, Serialize)]
pub struct Issued {
    /// 证照标识.
    pub identifier: String,
    /// 证照编号.
    pub number: String,
    /// The signed licence.
    pub credential: Value,
}

/// Issues a licence from an issue request (`schemas/README.md`): the
/// request as JSON, or a form with the parts `request` (JSON) and
/// `attachment` (the PDF/OFD rendering, its `Content-Type` its media type),
/// bound into the licence by digest. Audited (`licence.issue`).
#[utoipa::path(post, path = "/v1/licences", tag = "licences",
    params(IssueQuery),
    request_body(content(
        (Object = "application/json"),
        (Object = "multipart/form-data")),
        description = "the issue request; or a form with `request` (JSON) and `attachment` (file)"),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "`identifier`, `number` and the signed `credential`", body = Object), Refused))]
pub(crate) async fn issue(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<IssueQuery>,
    request: Request,
) -> Result<(StatusCode, Json<Issued>), Problem> {
    let issuer = caller.department(Action::LicencesIssue, q.issuer.as_deref())?;
    let limit = state.config.body_limit;
    let input = match body::kind(request.headers(), &[Kind::Json, Kind::Form])? {
        Kind::Json => {
            let bytes = body::bytes(request.into_body(), limit).await?;
            IssueInput::from_json(&body::json(&bytes)?)?
        }
        Kind::Form => {
            let mut parts = body::form(request, limit, &["request", "attachment"]).await?;
            let attachment = parts.pop().flatten();
            let doc = parts
                .pop()
                .flatten()
                .ok_or_else(|| body::invalid("the form has no request part"))?;
            let mut input = IssueInput::from_json(&body::json(&doc.bytes)?)?;
            input.attachment = match attachment {
                None => None,
                Some(part) => Some(AttachmentInput {
                    media_type: part.media_type.ok_or_else(|| {
                        body::invalid("the attachment part names its Content-Type")
                    })?,
                    bytes: part.bytes.to_vec(),
                }),
            };
            input
        }
    };
    let issued = caller.hub(&state).issue(&issuer, input).await?;
    Ok(created(Issued {
        identifier: issued.identifier.to_string(),
        number: issued.number,
        credential: issued.credential,
    }))
}

/// Why a licence is read: every read states its purpose.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// 申请事由: why it is read (kept in the licence-use record).
    use_cause: String,
    /// The case (办件) the read serves.
    case: Option<String>,
    /// The department reading (an operator's own by default; a region
    /// administrator reads as itself unless it names one).
    department: Option<String>,
}

/// A licence found, with its verification against this hub.
#[derive(Debug, Serialize)]
pub struct FoundLicence {
    /// 证照标识.
    pub identifier: String,
    /// Signature, keys, status and attachment checked now.
    pub verification: Verification,
    /// The licence as issued.
    pub credential: Value,
}

impl From<Found> for FoundLicence {
    fn from(f: Found) -> Self {
        FoundLicence {
            identifier: f.row.identifier,
            verification: f.verification,
            credential: f.credential,
        }
    }
}

/// Who reads, and why.
fn query(
    caller: &Caller,
    department: Option<&str>,
    use_cause: String,
    case_ref: Option<String>,
) -> Result<Query, Problem> {
    let requester = match caller.narrowed(Action::LicencesRead, department)? {
        Some(d) => d,
        None => caller.principal().name.clone(),
    };
    Ok(Query {
        requester,
        use_cause,
        case_ref,
    })
}

/// One licence by its identifier, verified; leaves a licence-use record
/// (`tongban licence show`).
#[utoipa::path(get, path = "/v1/licences/{identifier}", tag = "licences",
    params(("identifier" = String, Path, description = "证照标识 (GB/T 36904)"), ShowQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`identifier`, `verification`, `credential`", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(identifier): Path<String>,
    Params(q): Params<ShowQuery>,
) -> Result<Json<FoundLicence>, Problem> {
    let query = query(&caller, q.department.as_deref(), q.use_cause, q.case)?;
    let found = caller.hub(&state).show(&identifier, &query).await?;
    Ok(Json(found.into()))
}

/// Whose licences, and why.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct FindQuery {
    /// The holder's code: a USCC or a citizen ID number.
    holder: String,
    /// `001` (USCC, the default) or `111` (citizen ID).
    holder_type: Option<String>,
    /// Only licences of this type code.
    r#type: Option<String>,
    /// Accept a USCC that fails its checksum (some early codes do).
    allow_legacy_code: Option<bool>,
    /// 申请事由: why they are read (kept in the licence-use record).
    use_cause: String,
    /// The case (办件) the read serves.
    case: Option<String>,
    /// The department reading.
    department: Option<String>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// A holder's licences, each verified; leaves a licence-use record
/// (`tongban licence find`).
#[utoipa::path(get, path = "/v1/licences", tag = "licences",
    params(FindQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`items`: each with `identifier`, `verification`, `credential`", body = Object), Refused))]
pub(crate) async fn find(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<FindQuery>,
) -> Result<Json<Listed<FoundLicence>>, Problem> {
    let page = Page::of(q.limit, q.offset)?;
    let query = query(&caller, q.department.as_deref(), q.use_cause, q.case)?;
    let found = caller
        .hub(&state)
        .find_by_holder(
            q.holder_type.as_deref().unwrap_or("001"),
            &q.holder,
            q.r#type.as_deref(),
            q.allow_legacy_code.unwrap_or(false),
            &query,
        )
        .await?;
    let all: Vec<FoundLicence> = found.into_iter().map(Into::into).collect();
    Ok(Json(page.of_list(all)))
}

/// Why a licence's status changes (kept with the change and in the audit log).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusChange {
    /// Why (1 to 500 characters).
    reason: String,
}

/// The licence's status after a change.
#[derive(Debug, Serialize)]
pub struct Changed {
    /// 证照标识.
    pub identifier: String,
    /// `suspended`, `valid` or `revoked`.
    pub status: &'static str,
}

/// Suspends (中止) a licence of the caller's department until reinstated.
#[utoipa::path(post, path = "/v1/licences/{identifier}/suspend", tag = "licences",
    params(("identifier" = String, Path, description = "证照标识")),
    request_body = StatusChange,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`identifier` and its `status`", body = Object), Refused))]
pub(crate) async fn suspend(
    state: State<HttpState>,
    caller: Caller,
    identifier: Path<String>,
    why: Body<StatusChange>,
) -> Result<Json<Changed>, Problem> {
    change(state, caller, identifier, why, Change::Suspend).await
}

/// Reinstates a suspended licence of the caller's department.
#[utoipa::path(post, path = "/v1/licences/{identifier}/reinstate", tag = "licences",
    params(("identifier" = String, Path, description = "证照标识")),
    request_body = StatusChange,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`identifier` and its `status`", body = Object), Refused))]
pub(crate) async fn reinstate(
    state: State<HttpState>,
    caller: Caller,
    identifier: Path<String>,
    why: Body<StatusChange>,
) -> Result<Json<Changed>, Problem> {
    change(state, caller, identifier, why, Change::Reinstate).await
}

/// Revokes (注销) a licence of the caller's department: final.
#[utoipa::path(post, path = "/v1/licences/{identifier}/revoke", tag = "licences",
    params(("identifier" = String, Path, description = "证照标识")),
    request_body = StatusChange,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`identifier` and its `status`", body = Object), Refused))]
pub(crate) async fn revoke(
    state: State<HttpState>,
    caller: Caller,
    identifier: Path<String>,
    why: Body<StatusChange>,
) -> Result<Json<Changed>, Problem> {
    change(state, caller, identifier, why, Change::Revoke).await
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Suspend,
    Reinstate,
    Revoke,
}

async fn change(
    State(state): State<HttpState>,
    caller: Caller,
    Path(identifier): Path<String>,
    Body(why): Body<StatusChange>,
    how: Change,
) -> Result<Json<Changed>, Problem> {
    // Only the issuer changes its licence's status.
    let issuer = state.hub.licence_issuer(&identifier).await?;
    caller.may_for(Action::LicencesStatus, &issuer)?;
    let hub = caller.hub(&state);
    let actor = &caller.principal().name;
    let status = match how {
        Change::Suspend => {
            hub.suspend(&identifier, actor, &why.reason).await?;
            "suspended"
        }
        Change::Reinstate => {
            hub.reinstate(&identifier, actor, &why.reason).await?;
            "valid"
        }
        Change::Revoke => {
            hub.revoke(&identifier, actor, &why.reason).await?;
            "revoked"
        }
    };
    Ok(Json(Changed { identifier, status }))
}

/// A page of use records.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsesQuery {
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// The licence-use records (用证记录) of one licence, newest first: who
/// read it, when, why. An operator sees those of its department's
/// licences.
#[utoipa::path(get, path = "/v1/licences/{identifier}/uses", tag = "licences",
    params(("identifier" = String, Path, description = "证照标识"), UsesQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of use records", body = Object), Refused))]
pub(crate) async fn uses_of(
    State(state): State<HttpState>,
    caller: Caller,
    Path(identifier): Path<String>,
    Params(q): Params<UsesQuery>,
) -> Result<Json<Listed<UseRow>>, Problem> {
    let page = Page::of(q.limit, q.offset)?;
    let issuer = state.hub.licence_issuer(&identifier).await?;
    caller.may_for(Action::LicencesRead, &issuer)?;
    let uses = state
        .hub
        .uses_of_licence(&identifier, page.wanted())
        .await?;
    Ok(Json(page.of_list(uses)))
}

/// A licence's status history, oldest first: each suspension,
/// reinstatement and revocation with its reason, who made it and when.
/// Its issuer's operators see it (and a region administrator), as they
/// see its use records.
#[utoipa::path(get, path = "/v1/licences/{identifier}/history", tag = "licences",
    params(("identifier" = String, Path, description = "证照标识"), UsesQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of status changes (`action`, `reason`, `actor`, `at`)", body = Object), Refused))]
pub(crate) async fn history(
    State(state): State<HttpState>,
    caller: Caller,
    Path(identifier): Path<String>,
    Params(q): Params<UsesQuery>,
) -> Result<Json<Listed<StatusEventRow>>, Problem> {
    let page = Page::of(q.limit, q.offset)?;
    let issuer = state.hub.licence_issuer(&identifier).await?;
    caller.may_for(Action::LicencesRead, &issuer)?;
    let events = state
        .hub
        .licence_status_history(&identifier, page.wanted())
        .await?;
    Ok(Json(page.of_list(events)))
}

/// The most recent licence-use records, newest first: an operator's
/// department's own reads, or (region administrator) everyone's.
#[utoipa::path(get, path = "/v1/licence-uses", tag = "licences",
    params(UsesQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of use records", body = Object), Refused))]
pub(crate) async fn recent_uses(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<UsesQuery>,
) -> Result<Json<Listed<UseRow>>, Problem> {
    let page = Page::of(q.limit, q.offset)?;
    let requester = caller.narrowed(Action::LicencesRead, None)?;
    let uses = state
        .hub
        .recent_uses(requester.as_deref(), page.wanted())
        .await?;
    Ok(Json(page.of_list(uses)))
}
