//! The tamper-evident log: verify it, sign a checkpoint, export the
//! archive, browse entries, the pinned anchor — `tongban audit …`.
//! Publishing checkpoints to a file, comparing with published ones,
//! `audit pin` and `audit verify-archive` work on files and stay on the
//! CLI.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tongban_seal::PublicKey;
use tongban_seal::archive::hex;
use tongban_service::{Action, AuditReport, AuditVerifyOptions, Code};
use tongban_store::AuditEntry;
use utoipa::{IntoParams, OpenApi};

use super::{Caller, DEFAULT_PAGE, MAX_PAGE, Params, Refused};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

/// The archive's media type: JSON Lines.
const NDJSON: &str = "application/x-ndjson";

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/audit/verification", verification)
        .needs(Action::AuditRead)
        .post("/v1/audit/checkpoints", checkpoint)
        .needs(Action::AuditWrite)
        .get("/v1/audit/export", export)
        .needs(Action::AuditRead)
        .get("/v1/audit/entries", entries)
        .needs(Action::AuditRead)
        .get("/v1/audit/anchor", anchor)
        .needs(Action::AuditRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(verification, checkpoint, export, entries, anchor))]
pub(crate) struct Doc;

/// The options of `GET /v1/audit/verification`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct VerifyQuery {
    /// Trust this anchor (Multikey) instead of the one pinned on this node.
    anchor: Option<String>,
}

/// Walks the whole chain and its signed checkpoints against the pinned
/// anchor (`tongban audit verify --json`): `problem` names the first
/// broken entry, and is null when the log verifies.
#[utoipa::path(get, path = "/v1/audit/verification", tag = "audit",
    params(VerifyQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the report: `entries`, `checkpoints`, `published`, `head`, `anchor`, `interval`, `problem`", body = Object), Refused))]
pub(crate) async fn verification(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<VerifyQuery>,
) -> Result<Json<AuditReport>, Problem> {
    caller.may(Action::AuditRead)?;
    let anchor = q
        .anchor
        .as_deref()
        .map(|a| {
            PublicKey::from_multikey(a.trim())
                .map_err(|e| body::invalid(format!("anchor is not a Multikey: {e}")))
        })
        .transpose()?;
    let options = AuditVerifyOptions {
        anchor,
        published: Vec::new(),
    };
    Ok(Json(state.hub.audit_verify_with(&options, |_| {}).await?))
}

/// A checkpoint signed now.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signed {
    /// The entry it covers, its hash (hex) and the hub key that signed;
    /// null when the head was covered already.
    pub signed: Option<Value>,
}

/// Signs a checkpoint over the current head now (`tongban audit
/// checkpoint`; one is due every interval anyway).
#[utoipa::path(post, path = "/v1/audit/checkpoints", tag = "audit",
    security(("token" = []), ("clientCertificate" = [])),
    responses(
        (status = 201, description = "`signed`: `seq`, `hash`, `keyId`", body = Object),
        (status = 200, description = "`signed` null: the head was covered already", body = Object),
        Refused))]
pub(crate) async fn checkpoint(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<(StatusCode, Json<Signed>), Problem> {
    caller.may(Action::AuditWrite)?;
    let signed = caller.hub(&state).audit_checkpoint().await?;
    let status = match signed {
        Some(_) => StatusCode::CREATED,
        None => StatusCode::OK,
    };
    let signed =
        signed.map(|c| serde_json::json!({"seq": c.seq, "hash": hex(&c.hash), "keyId": c.key_id}));
    Ok((status, Json(Signed { signed })))
}

/// The self-contained archive of the whole log (JSON Lines, as `tongban
/// audit export` writes it), read in one snapshot and signed with the
/// hub's current key; it verifies without the store (`tongban audit
/// verify-archive`).
#[utoipa::path(get, path = "/v1/audit/export", tag = "audit",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the archive", content_type = "application/x-ndjson", body = String), Refused))]
pub(crate) async fn export(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.may(Action::AuditRead)?;
    let mut archive = Vec::new();
    state.hub.audit_export(&mut archive, |_| {}).await?;
    let mut response = archive.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit.jsonl\""),
    );
    Ok(response)
}

/// The filters and cursor of `GET /v1/audit/entries`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EntriesQuery {
    /// Only entries about this subject (a licence, a department, a key…).
    subject: Option<String>,
    /// Entries after this sequence number (default 0: from the start).
    after: Option<u64>,
    /// Entries per page (1 to 1000, default 100).
    limit: Option<usize>,
}

/// One entry of the log.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When (RFC 3339).
    pub at: String,
    /// When (Unix milliseconds), as hashed.
    pub at_ms: i64,
    /// Who (`token:tok_…`, `cert:{serial}`, or an operator's name).
    pub actor: String,
    /// What (`dept.add`, `key.rotate`, …).
    pub action: String,
    /// On what.
    pub subject: String,
    /// The details.
    pub detail: Value,
    /// The previous entry's hash (hex).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

impl From<AuditEntry> for Entry {
    fn from(e: AuditEntry) -> Self {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.at_ms) * 1_000_000)
            .map(tongban_seal::timefmt::format_rfc3339)
            .unwrap_or_default();
        Entry {
            seq: e.seq,
            at,
            at_ms: e.at_ms,
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            detail: serde_json::from_str(&e.detail).unwrap_or(Value::String(e.detail)),
            prev_hash: hex(&e.prev_hash),
            hash: hex(&e.hash),
        }
    }
}

/// A page of entries.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entries {
    /// The entries, in order.
    pub items: Vec<Entry>,
    /// The `after` of the next page, when this one is full.
    pub next_after: Option<u64>,
}

/// Browses the log in order, from a sequence number on (`tongban audit
/// show`).
#[utoipa::path(get, path = "/v1/audit/entries", tag = "audit",
    params(EntriesQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`items` and `nextAfter`", body = Object), Refused))]
pub(crate) async fn entries(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<EntriesQuery>,
) -> Result<Json<Entries>, Problem> {
    caller.may(Action::AuditRead)?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(body::invalid(format!("limit is between 1 and {MAX_PAGE}")));
    }
    let found = state
        .hub
        .audit_entries(q.subject.as_deref(), q.after.unwrap_or(0), limit)
        .await?;
    let next_after = (found.len() == limit)
        .then(|| found.last().map(|e| e.seq))
        .flatten();
    Ok(Json(Entries {
        items: found.into_iter().map(Entry::from).collect(),
        next_after,
    }))
}

/// The pinned anchor.
#[derive(Debug, Serialize)]
pub struct Anchor {
    /// The anchor (Multikey): what checkpoints and archives verify against.
    pub anchor: String,
    /// Entries between checkpoints.
    pub interval: u64,
    /// The entry checkpoints are counted from.
    pub from: u64,
}

/// The anchor pinned on this node (`tongban audit anchor`), with the
/// checkpoint schedule.
#[utoipa::path(get, path = "/v1/audit/anchor", tag = "audit",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`anchor`, `interval`, `from`; `AUDIT_ANCHOR_UNPINNED` refused", body = Object), Refused))]
pub(crate) async fn anchor(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<Anchor>, Problem> {
    caller.may(Action::AuditRead)?;
    let pin = state.hub.audit_pin().await?.ok_or_else(|| {
        Problem::from(tongban_service::Error::Rejected {
            code: Code::AuditAnchorUnpinned,
            message: "no audit anchor is pinned on this node (`tongban audit pin`)".into(),
        })
    })?;
    Ok(Json(Anchor {
        anchor: pin.anchor.to_multikey(),
        interval: pin.schedule.interval(),
        from: pin.schedule.from(),
    }))
}
