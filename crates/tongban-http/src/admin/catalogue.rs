//! The resource catalogue (政务信息资源目录): list and search in Chinese,
//! publish, next version, retire, show with history — `tongban catalogue …`.
//!
//! A resource is published for a department, which becomes its provider
//! (a department operator's own; a region administrator names it); only
//! the provider publishes its next versions and retires it
//! (`CATALOGUE_NOT_PROVIDER`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tongban_service::{Action, CatalogueDraft};
use tongban_store::{CatalogueEntry, CatalogueField, CatalogueFilter, MAX_CATALOGUE_RESULTS};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, Page, Params, Refused, created};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/catalogue", list)
        .needs(Action::CatalogueRead)
        .post("/v1/catalogue", publish)
        .needs(Action::CatalogueWrite)
        .get("/v1/catalogue/{id}", show)
        .needs(Action::CatalogueRead)
        .put("/v1/catalogue/{id}", update)
        .needs(Action::CatalogueWrite)
        .post("/v1/catalogue/{id}/retire", retire)
        .needs(Action::CatalogueWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(list, publish, show, update, retire),
    components(schemas(Resource, Field, Provider))
)]
pub(crate) struct Doc;

/// The search and filters of `GET /v1/catalogue`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Search names, descriptions, field labels and tags in Chinese: every
    /// space-separated term must occur, best matches first (as `catalogue
    /// search`). Without it, resources by id.
    q: Option<String>,
    /// Only this provider (统一社会信用代码).
    provider: Option<String>,
    /// Only this region code.
    region: Option<String>,
    /// Only this sharing type: `unconditional` (无条件共享), `conditional`
    /// (有条件共享), `not-shared` (不予共享), in English or Chinese.
    sharing: Option<String>,
    /// Retired resources too (default false).
    include_retired: Option<bool>,
    /// Items per page (1 to 1000, default 100; offset + limit below 500).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Resources by id, or the matches of a search in Chinese.
#[utoipa::path(get, path = "/v1/catalogue", tag = "catalogue",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of resources (`items`, `offset`, `limit`, `next`); CATALOGUE_QUERY_EMPTY for a search without a term, CATALOGUE_SHARING_TYPE_INVALID", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<CatalogueEntry>>, Problem> {
    caller.may(Action::CatalogueRead)?;
    let page = Page::of(q.limit, q.offset)?;
    let wanted = page.wanted_within(MAX_CATALOGUE_RESULTS)?;
    let filter = CatalogueFilter {
        provider: q.provider,
        region_code: q.region,
        sharing_type: q.sharing,
        include_retired: q.include_retired.unwrap_or(false),
    };
    let found = match q.q.as_deref() {
        Some(terms) => state.hub.catalogue_search(terms, &filter, wanted).await?,
        None => state.hub.catalogue_list(&filter, wanted).await?,
    };
    Ok(Json(page.of_list(found)))
}

/// A field of a resource: a payload member with its Chinese label.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Field {
    /// The member's name in the payload (a property of the schema).
    name: String,
    /// Its label, e.g. 统一社会信用代码.
    label: String,
}

/// A resource to publish (`tongban catalogue publish`), or its next
/// version (`tongban catalogue update`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Resource {
    /// The providing department: a department operator's own (default),
    /// named by a region administrator.
    department: Option<String>,
    /// Resource id: 1–100 of A-Z a-z 0-9 . _ - (not starting `hub.`).
    /// Required to publish; for a next version the path names it (and
    /// this, if given, must be the same).
    id: Option<String>,
    /// Name (资源名称).
    name: String,
    /// Description (资源摘要).
    #[serde(default)]
    description: String,
    /// Payload schema `id@version` (a published message schema).
    schema: String,
    /// Fields with their Chinese labels.
    #[serde(default)]
    fields: Vec<Field>,
    /// `unconditional`, `conditional`, `not-shared`, or 无条件共享, 有条件共享, 不予共享.
    sharing_type: String,
    /// Update frequency (更新周期), default `real-time`.
    update_frequency: Option<String>,
    /// Tags.
    #[serde(default)]
    tags: Vec<String>,
    /// Region code (default: the provider's).
    region_code: Option<String>,
}

impl Resource {
    fn draft(self, id: String) -> CatalogueDraft {
        CatalogueDraft {
            id,
            name: self.name,
            description: self.description,
            schema: self.schema,
            fields: self
                .fields
                .into_iter()
                .map(|f| CatalogueField {
                    name: f.name,
                    label: f.label,
                })
                .collect(),
            sharing_type: self.sharing_type,
            update_frequency: self
                .update_frequency
                .unwrap_or_else(|| "real-time".to_owned()),
            tags: self.tags,
            region_code: self.region_code,
        }
    }
}

/// Publishes a new resource for a department, its provider; audited
/// (`catalogue.publish`).
#[utoipa::path(post, path = "/v1/catalogue", tag = "catalogue",
    request_body = Resource,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the resource, version 1; CATALOGUE_EXISTS, CATALOGUE_INVALID, CATALOGUE_FIELD_UNKNOWN, SCHEMA_UNKNOWN, …", body = Object), Refused))]
pub(crate) async fn publish(
    State(state): State<HttpState>,
    caller: Caller,
    Body(mut r): Body<Resource>,
) -> Result<(StatusCode, Json<CatalogueEntry>), Problem> {
    let department = caller.department(Action::CatalogueWrite, r.department.as_deref())?;
    let id =
        r.id.take()
            .ok_or_else(|| body::invalid("name the resource (`id`)"))?;
    let entry = caller
        .hub(&state)
        .catalogue_publish(&department, r.draft(id), false)
        .await?;
    Ok(created(entry))
}

/// The query of `GET /v1/catalogue/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// Every version as published, oldest first, instead of the current one.
    history: Option<bool>,
}

/// A resource as it is now, or with `history=true` every version of it
/// (`tongban catalogue show [--history]`).
#[utoipa::path(get, path = "/v1/catalogue/{id}", tag = "catalogue",
    params(("id" = String, Path, description = "resource id"), ShowQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the resource; with `history=true` the list of its versions", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ShowQuery>,
) -> Result<Json<Shown>, Problem> {
    caller.may(Action::CatalogueRead)?;
    let shown = if q.history.unwrap_or(false) {
        Shown::History(state.hub.catalogue_history(&id).await?)
    } else {
        Shown::Current(Box::new(state.hub.catalogue_show(&id).await?))
    };
    Ok(Json(shown))
}

/// A resource as it is now, or every version of it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Shown {
    /// The current version.
    Current(Box<CatalogueEntry>),
    /// Every version as published, oldest first.
    History(Vec<serde_json::Value>),
}

/// Publishes the next version of a resource (its provider only:
/// `CATALOGUE_NOT_PROVIDER`); audited (`catalogue.update`).
#[utoipa::path(put, path = "/v1/catalogue/{id}", tag = "catalogue",
    params(("id" = String, Path, description = "resource id")),
    request_body = Resource,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the resource, next version", body = Object), Refused))]
pub(crate) async fn update(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(r): Body<Resource>,
) -> Result<Json<CatalogueEntry>, Problem> {
    let department = caller.department(Action::CatalogueWrite, r.department.as_deref())?;
    if r.id.as_ref().is_some_and(|named| *named != id) {
        return Err(body::invalid("`id` is the path's resource, or left out"));
    }
    let entry = caller
        .hub(&state)
        .catalogue_publish(&department, r.draft(id), true)
        .await?;
    Ok(Json(entry))
}

/// The department acting on a resource.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Provider {
    /// The providing department: a department operator's own (default),
    /// named by a region administrator.
    department: Option<String>,
}

/// Retires a resource (its provider only): it leaves searches and
/// listings, its history stays; audited (`catalogue.retire`).
#[utoipa::path(post, path = "/v1/catalogue/{id}/retire", tag = "catalogue",
    params(("id" = String, Path, description = "resource id")),
    request_body = Provider,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the resource, retired; CATALOGUE_RETIRED if it was", body = Object), Refused))]
pub(crate) async fn retire(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(p): Body<Provider>,
) -> Result<Json<CatalogueEntry>, Problem> {
    let department = caller.department(Action::CatalogueWrite, p.department.as_deref())?;
    let entry = caller
        .hub(&state)
        .catalogue_retire(&department, &id)
        .await?;
    Ok(Json(entry))
}
