//! API tokens: list, make (the token shown once), revoke — `tongban
//! token …`. Only a region administrator has `TokensWrite`, so no caller
//! can make a token of a role above its own.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::Duration;
use tongban_service::{Action, Role};
use tongban_store::TokenRow;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused};
use crate::problem::Problem;
use crate::{Api, HttpState};

/// A token's lifetime unless the request names one (as the CLI's).
const DEFAULT_DAYS: i64 = 90;

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/tokens", list)
        .needs(Action::TokensWrite)
        .post("/v1/tokens", create)
        .needs(Action::TokensWrite)
        .post("/v1/tokens/{id}/revoke", revoke)
        .needs(Action::TokensWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(list, create, revoke), components(schemas(NewTokenBody)))]
pub(crate) struct Doc;

/// The pages of `GET /v1/tokens`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Tokens, revoked and expired ones too, newest first; never their
/// secrets (`tongban token list`).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of tokens (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<TokenRow>>, Problem> {
    caller.may(Action::TokensWrite)?;
    let page = Page::of(q.limit, q.offset)?;
    Ok(Json(page.of_list(state.hub.token_list().await?)))
}

/// A token to make (`tongban token create`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NewTokenBody {
    /// What it is for, in words (e.g. the calling system's name).
    name: String,
    /// `region-admin`, `department-operator`, `auditor` or `verifier`.
    role: String,
    /// The department a `department-operator` acts for (its code); no
    /// other role names one.
    department: Option<String>,
    /// How many days it is valid (1 to 366, default 90).
    expires_in_days: Option<i64>,
}

/// A token just made: the token itself is in this answer only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MadeToken {
    /// `tbk_{id}_{secret}`: shown once, not kept by the hub.
    pub token: String,
    /// As stored (without the secret).
    #[serde(flatten)]
    pub row: TokenRow,
}

/// Makes a token and answers it once (`Cache-Control: no-store`); audited
/// (`token.create`).
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens",
    request_body = NewTokenBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "`token` (shown once) and the token's row; `ROLE_UNKNOWN`, `ROLE_DEPARTMENT_MISMATCH`, `TOKEN_NAME_INVALID`, `TOKEN_EXPIRY_INVALID` refused", body = Object), Refused))]
pub(crate) async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    Body(t): Body<NewTokenBody>,
) -> Result<Response, Problem> {
    caller.may(Action::TokensWrite)?;
    let role = Role::parse(&t.role)?;
    let days = t.expires_in_days.unwrap_or(DEFAULT_DAYS);
    // Out of range is the service's refusal; only keep the multiplication sane.
    let lifetime = Duration::days(days.clamp(-1, 10_000));
    let made = caller
        .hub(&state)
        .token_create(&t.name, role, t.department.as_deref(), lifetime)
        .await?;
    Ok(shown_once(
        StatusCode::CREATED,
        MadeToken {
            token: made.token,
            row: made.row,
        },
    ))
}

/// Revokes a token: refused (`TOKEN_REVOKED`) from now on; audited
/// (`token.revoke`).
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "tokens",
    params(("id" = String, Path, description = "the token's id (`tok_…`)")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the token, revoked", body = Object), Refused))]
pub(crate) async fn revoke(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenRow>, Problem> {
    caller.may(Action::TokensWrite)?;
    Ok(Json(caller.hub(&state).token_revoke(&id).await?))
}

/// `what` as JSON with `status`, never to be cached (it holds a secret).
pub(crate) fn shown_once<T: Serialize>(status: StatusCode, what: T) -> Response {
    let mut response = (status, Json(what)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
