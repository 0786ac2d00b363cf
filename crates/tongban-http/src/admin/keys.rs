//! Signing keys: list, make, register a department's own exchange key,
//! rotate, revoke — `tongban key …`. `key export-secret` is not here: it
//! hands out a secret, and stays on the hub's own machine (the CLI).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tongban_seal::KeyPurpose;
use tongban_service::Action;
use tongban_store::KeyRow;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused, created};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

/// How long both keys are valid after a rotation unless the request says
/// (as the CLI's).
const DEFAULT_OVERLAP_DAYS: i64 = 7;

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/keys", list)
        .needs(Action::DepartmentsRead)
        .post("/v1/keys", add)
        .needs(Action::DepartmentsWrite)
        .post("/v1/keys/register", register)
        .needs(Action::DepartmentsWrite)
        .post("/v1/keys/{keyId}/rotate", rotate)
        .needs(Action::DepartmentsWrite)
        .post("/v1/keys/{keyId}/revoke", revoke)
        .needs(Action::DepartmentsWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(list, add, register, rotate, revoke),
    components(schemas(NewKeyBody, RotateBody, RevokeBody))
)]
pub(crate) struct Doc;

/// The filters of `GET /v1/keys`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this owner's keys (a department's code, or `hub`).
    owner: Option<String>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Signing keys with their windows (`tongban key list`).
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of keys (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<KeyRow>>, Problem> {
    caller.may(Action::DepartmentsRead)?;
    let page = Page::of(q.limit, q.offset)?;
    Ok(Json(
        page.of_list(state.hub.keys(q.owner.as_deref()).await?),
    ))
}

/// A key to make (`tongban key new`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NewKeyBody {
    /// A department's code, or `hub`.
    owner: String,
    /// What it signs: `issue` (licences, the default) or `exchange`
    /// (envelopes). The hub's own keys sign both.
    purpose: Option<String>,
}

/// Makes a signing key, its secret kept by this hub; audited (`key.new`).
#[utoipa::path(post, path = "/v1/keys", tag = "keys",
    request_body = NewKeyBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the key as registered", body = Object), Refused))]
pub(crate) async fn add(
    State(state): State<HttpState>,
    caller: Caller,
    Body(k): Body<NewKeyBody>,
) -> Result<(StatusCode, Json<KeyRow>), Problem> {
    caller.may(Action::DepartmentsWrite)?;
    let purpose = match k.purpose.as_deref() {
        None | Some("issue") => KeyPurpose::Issue,
        Some("exchange") => KeyPurpose::Exchange,
        Some(_) => return Err(body::invalid("purpose is issue or exchange")),
    };
    let row = caller
        .hub(&state)
        .new_signing_key(&k.owner, purpose, None)
        .await?;
    Ok(created(row))
}

/// Registers a department's own exchange key from its registration
/// request (`tongban key generate` makes it; the body is that request, as
/// signed by the key): only the public half is kept; audited
/// (`key.register`).
#[utoipa::path(post, path = "/v1/keys/register", tag = "keys",
    request_body(content = Object, description = "the registration request, as `tongban key generate` writes it"),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the key as registered; `KEY_REGISTRATION_INVALID`, `KEY_POSSESSION_UNPROVEN`, `KEY_REGISTRATION_STALE`, `KEY_EXISTS` refused", body = Object), Refused))]
pub(crate) async fn register(
    State(state): State<HttpState>,
    caller: Caller,
    Body(request): Body<Value>,
) -> Result<(StatusCode, Json<KeyRow>), Problem> {
    caller.may(Action::DepartmentsWrite)?;
    let row = caller.hub(&state).register_exchange_key(&request).await?;
    Ok(created(row))
}

/// How a key is rotated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RotateBody {
    /// How many days the old key stays valid beside its successor (0 to
    /// 365, default 7).
    overlap_days: Option<i64>,
}

/// The old key and its successor.
#[derive(Debug, Serialize)]
pub struct Rotated {
    /// The key rotated, its window closing after the overlap.
    pub old: KeyRow,
    /// Its successor, valid from now.
    pub new: KeyRow,
}

/// Rotates a key: a successor valid from now, the old key valid for the
/// overlap; audited (`key.rotate`, `key.new`).
#[utoipa::path(post, path = "/v1/keys/{keyId}/rotate", tag = "keys",
    params(("keyId" = String, Path, description = "the key's Multikey (`z6Mk…`)")),
    request_body = RotateBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`old` and `new`; `KEY_REVOKED`, `KEY_EXPIRED`, `OVERLAP_INVALID`, `KEY_NOT_HELD` refused", body = Object), Refused))]
pub(crate) async fn rotate(
    State(state): State<HttpState>,
    caller: Caller,
    Path(key_id): Path<String>,
    Body(r): Body<RotateBody>,
) -> Result<Json<Rotated>, Problem> {
    caller.may(Action::DepartmentsWrite)?;
    let days = r.overlap_days.unwrap_or(DEFAULT_OVERLAP_DAYS);
    // Out of range is the service's refusal; only keep the multiplication sane.
    let overlap = time::Duration::days(days.clamp(-1, 10_000));
    let (old, new) = caller.hub(&state).rotate_key(&key_id, overlap).await?;
    Ok(Json(Rotated { old, new }))
}

/// How a key is revoked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RevokeBody {
    /// The compromise instant (RFC 3339): signatures from then on fail,
    /// earlier ones still verify. Now when omitted.
    at: Option<String>,
    /// Why (1 to 500 characters).
    reason: String,
}

/// Revokes a key as of an instant; audited (`key.revoke`).
#[utoipa::path(post, path = "/v1/keys/{keyId}/revoke", tag = "keys",
    params(("keyId" = String, Path, description = "the key's Multikey (`z6Mk…`)")),
    request_body = RevokeBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the key, revoked; `KEY_ALREADY_REVOKED`, `REASON_REQUIRED` refused", body = Object), Refused))]
pub(crate) async fn revoke(
    State(state): State<HttpState>,
    caller: Caller,
    Path(key_id): Path<String>,
    Body(r): Body<RevokeBody>,
) -> Result<Json<KeyRow>, Problem> {
    caller.may(Action::DepartmentsWrite)?;
    let at =
        r.at.as_deref()
            .map(|t| {
                tongban_seal::timefmt::parse_rfc3339(t)
                    .map_err(|e| body::invalid(format!("at is an RFC 3339 instant: {e}")))
            })
            .transpose()?;
    let row = caller
        .hub(&state)
        .revoke_signing_key(&key_id, at, &r.reason)
        .await?;
    Ok(Json(row))
}
