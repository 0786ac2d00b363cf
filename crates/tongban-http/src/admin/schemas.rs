//! The schema registry: list, publish (checked against the previous
//! version), a schema's versions, one version's document, the changes
//! between two versions — `tongban schema …`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tongban_schema::Change;
use tongban_service::{Action, Published, SCHEMA_KINDS};
use tongban_store::{SchemaInsert, SchemaRow};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/schemas", list)
        .needs(Action::SchemasRead)
        .post("/v1/schemas", publish)
        .needs(Action::SchemasWrite)
        .get("/v1/schemas/{id}", versions)
        .needs(Action::SchemasRead)
        .get("/v1/schemas/{id}/diff", diff)
        .needs(Action::SchemasRead)
        .get("/v1/schemas/{id}/{version}", show)
        .needs(Action::SchemasRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(list, publish, versions, diff, show),
    components(schemas(PublishBody))
)]
pub(crate) struct Doc;

/// A published schema version, without its document (as `tongban schema
/// list --json` prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaEntry {
    /// Schema id (a licence type's: its type code).
    pub id: String,
    /// Version.
    pub version: String,
    /// `licence-type` or `message`.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Hex SHA-256 of the document's canonical JSON.
    pub sha256: String,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: time::OffsetDateTime,
}

impl From<SchemaRow> for SchemaEntry {
    fn from(r: SchemaRow) -> Self {
        SchemaEntry {
            id: r.id,
            version: r.version,
            kind: r.kind,
            title: r.title,
            sha256: r.sha256,
            published_at: r.created_at,
        }
    }
}

/// The filters of `GET /v1/schemas`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this kind: `licence-type` or `message`.
    kind: Option<String>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Published schemas, every version (`tongban schema list`).
#[utoipa::path(get, path = "/v1/schemas", tag = "schemas",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of schema versions (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<SchemaEntry>>, Problem> {
    caller.may(Action::SchemasRead)?;
    let page = Page::of(q.limit, q.offset)?;
    if let Some(kind) = q.kind.as_deref()
        && !SCHEMA_KINDS.contains(&kind)
    {
        return Err(body::invalid("kind is licence-type or message"));
    }
    let rows = state.hub.schemas(q.kind.as_deref()).await?;
    Ok(Json(page.of_list(
        rows.into_iter().map(SchemaEntry::from).collect(),
    )))
}

/// A schema to publish (`tongban schema publish`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PublishBody {
    /// The JSON Schema document.
    #[schema(value_type = Object)]
    schema: Value,
    /// `licence-type` or `message`; a document with an `x-licence-type`
    /// annotation is a licence type, any other a message, when omitted.
    kind: Option<String>,
    /// Schema id (default: from the annotation).
    id: Option<String>,
    /// Version (default: from the annotation).
    version: Option<String>,
    /// Publish even if data valid under the previous version would be
    /// refused (default false).
    #[serde(default)]
    allow_breaking: bool,
}

/// Publishes a schema as id@version, checked against the previous version
/// (breaking changes refused unless allowed); audited (`schema.publish`).
/// The same content again is `200` with `outcome: already-published`.
#[utoipa::path(post, path = "/v1/schemas", tag = "schemas",
    request_body = PublishBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses(
        (status = 201, description = "published: `id`, `version`, `kind`, `outcome`, `previous`, `changes`", body = Object),
        (status = 200, description = "already published with the same content", body = Object),
        Refused))]
pub(crate) async fn publish(
    State(state): State<HttpState>,
    caller: Caller,
    Body(b): Body<PublishBody>,
) -> Result<(StatusCode, Json<Published>), Problem> {
    caller.may(Action::SchemasWrite)?;
    // The CLI's guess, so that both publish a document alike.
    let kind = b.kind.unwrap_or_else(|| {
        if b.schema.get("x-licence-type").is_some() {
            "licence-type".into()
        } else {
            "message".into()
        }
    });
    let published = caller
        .hub(&state)
        .publish_schema(
            &kind,
            b.id.as_deref(),
            b.version.as_deref(),
            b.schema,
            b.allow_breaking,
        )
        .await?;
    let status = match published.outcome {
        SchemaInsert::Inserted => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(published)))
}

/// Every published version of one schema.
#[utoipa::path(get, path = "/v1/schemas/{id}", tag = "schemas",
    params(("id" = String, Path, description = "schema id")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "its versions", body = Object), Refused))]
pub(crate) async fn versions(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<SchemaEntry>>, Problem> {
    caller.may(Action::SchemasRead)?;
    let rows = state.hub.schema_versions(&id).await?;
    if rows.is_empty() {
        // The service's own refusal, with its words.
        state.hub.schema(&id, None).await?;
    }
    Ok(Json(rows.into_iter().map(SchemaEntry::from).collect()))
}

/// One published version's document (`tongban schema show`).
#[utoipa::path(get, path = "/v1/schemas/{id}/{version}", tag = "schemas",
    params(
        ("id" = String, Path, description = "schema id"),
        ("version" = String, Path, description = "version, or `latest`")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the JSON Schema document", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<Value>, Problem> {
    caller.may(Action::SchemasRead)?;
    let version = (version != "latest").then_some(version.as_str());
    let row = state.hub.schema(&id, version).await?;
    let document = serde_json::from_str(&row.content).map_err(|e| {
        Problem::from(tongban_service::Error::Rejected {
            code: tongban_service::Code::Internal,
            message: format!("schema {id}@{} does not read back: {e}", row.version),
        })
    })?;
    Ok(Json(document))
}

/// The two versions of `GET /v1/schemas/{id}/diff`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffQuery {
    /// The older version.
    from: String,
    /// The newer version.
    to: String,
}

/// What changed between two published versions, breaking changes flagged
/// (`tongban schema diff`).
#[utoipa::path(get, path = "/v1/schemas/{id}/diff", tag = "schemas",
    params(("id" = String, Path, description = "schema id"), DiffQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the changes (`path`, `kind`, `breaking`, `detail`)", body = Object), Refused))]
pub(crate) async fn diff(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<DiffQuery>,
) -> Result<Json<Vec<Change>>, Problem> {
    caller.may(Action::SchemasRead)?;
    Ok(Json(state.hub.schema_diff(&id, &q.from, &q.to).await?))
}
