//! The administrative API (`/v1/...`): every administrative action of the
//! CLI, for an authenticated caller.
//!
//! A caller is a [`Caller`] ([`crate::identity`]): an API token (`Authorization: Bearer tbk_…`)
//! or a department's client certificate of this hub's CA (over TLS), each
//! yielding the service layer's [`Principal`] with its role. Whether it may
//! take an action, and for which department, is the service layer's one rule
//! ([`tongban_service::tokens::reach`]); handlers ask it before anything is
//! read or written, then call the service as the principal
//! ([`Principal::acting`]), so that every audit entry names who acted.
//!
//! Each area has its module with its routes and its part of the OpenAPI
//! document; routes are recorded with the action they need
//! ([`crate::admin_routes`]), which the role matrix test walks.

mod access;
mod audit;
mod ca;
mod cases;
mod catalogue;
mod departments;
mod hotline;
mod items;
mod keys;
mod licences;
mod notices;
mod peers;
mod schemas;
mod statistics;
mod supervision;
mod tokens;
mod whoami;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::identity::Caller;

use crate::body::{self, Kind};
use crate::problem::Problem;
use crate::{Api, HttpState};

/// Every area's routes.
pub(crate) fn routes() -> Api {
    Api::new()
        .merge(departments::routes())
        .merge(keys::routes())
        .merge(ca::routes())
        .merge(schemas::routes())
        .merge(catalogue::routes())
        .merge(access::routes())
        .merge(items::routes())
        .merge(cases::routes())
        .merge(licences::routes())
        .merge(audit::routes())
        .merge(peers::routes())
        .merge(statistics::routes())
        .merge(supervision::routes())
        .merge(hotline::routes())
        .merge(tokens::routes())
        .merge(notices::routes())
        .merge(whoami::routes())
}

/// Every area's part of the OpenAPI document.
pub(crate) fn documents() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        departments::Doc::openapi(),
        keys::Doc::openapi(),
        ca::Doc::openapi(),
        schemas::Doc::openapi(),
        catalogue::Doc::openapi(),
        access::Doc::openapi(),
        items::Doc::openapi(),
        cases::Doc::openapi(),
        licences::Doc::openapi(),
        audit::Doc::openapi(),
        peers::Doc::openapi(),
        statistics::Doc::openapi(),
        supervision::Doc::openapi(),
        hotline::Doc::openapi(),
        tokens::Doc::openapi(),
        notices::Doc::openapi(),
        whoami::Doc::openapi(),
    ]
}

/// A JSON body read strictly: the content type checked, the size bounded,
/// a repeated member `DUPLICATE_MEMBER`, an unknown or missing one
/// `REQUEST_INVALID`.
#[derive(Debug)]
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<HttpState> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &HttpState) -> Result<Self, Self::Rejection> {
        body::kind(request.headers(), &[Kind::Json])?;
        let bytes = body::bytes(request.into_body(), state.config.body_limit).await?;
        Ok(Body(body::typed(&body::json(&bytes)?)?))
    }
}

/// A query string read as `T`; a parameter that is not `T`'s, or not of
/// its type, is `REQUEST_INVALID`.
#[derive(Debug)]
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(t)| Params(t))
            .map_err(|e| body::invalid(format!("query: {}", e.body_text())))
    }
}

/// The most items a page holds.
pub const MAX_PAGE: usize = 1000;
/// Items per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 100;

/// Which part of a list: `offset` items skipped, at most `limit` given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    offset: usize,
    limit: usize,
}

impl Page {
    /// From the query's `limit` (1 to [`MAX_PAGE`], default
    /// [`DEFAULT_PAGE`]) and `offset` (default 0).
    pub(crate) fn of(limit: Option<usize>, offset: Option<usize>) -> Result<Page, Problem> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(body::invalid(format!("limit is between 1 and {MAX_PAGE}")));
        }
        let offset = offset.unwrap_or(0);
        if offset > 1_000_000 {
            return Err(body::invalid("offset is at most 1000000"));
        }
        Ok(Page { offset, limit })
    }

    /// How many items to ask the store for: this page, what it skips,
    /// and one more to know whether another page follows.
    pub(crate) fn wanted(self) -> usize {
        self.offset + self.limit + 1
    }

    /// [`Page::wanted`] from a store that gives at most `cap` items of a
    /// list: a page reaching past them is `REQUEST_INVALID` (narrow the
    /// list with its filters), never a last page that is not the last.
    pub(crate) fn wanted_within(self, cap: usize) -> Result<usize, Problem> {
        let wanted = self.wanted();
        if wanted > cap {
            return Err(body::invalid(format!(
                "this list shows its first {} items at most (offset + limit): narrow it with its filters",
                cap.saturating_sub(1)
            )));
        }
        Ok(wanted)
    }

    /// `(limit, offset)` for a store that skips `offset` itself and gives
    /// at most `cap` items: this page and one more to know whether another
    /// follows. A page longer than the store gives is `REQUEST_INVALID`.
    pub(crate) fn window_within(self, cap: usize) -> Result<(usize, usize), Problem> {
        if self.limit >= cap {
            return Err(body::invalid(format!(
                "limit is between 1 and {} for this list",
                cap.saturating_sub(1)
            )));
        }
        Ok((self.limit + 1, self.offset))
    }

    /// This page of `window`, the list from `offset` on (as
    /// [`Page::window_within`] asked for it).
    pub(crate) fn of_window<T>(self, mut window: Vec<T>) -> Listed<T> {
        let more = window.len() > self.limit;
        window.truncate(self.limit);
        Listed {
            next: more.then_some(self.offset + self.limit),
            offset: self.offset,
            limit: self.limit,
            items: window,
        }
    }

    /// This page of `all` (the list from its start).
    pub(crate) fn of_list<T>(self, all: Vec<T>) -> Listed<T> {
        let more = all.len() > self.offset + self.limit;
        let items: Vec<T> = all.into_iter().skip(self.offset).take(self.limit).collect();
        Listed {
            next: more.then_some(self.offset + self.limit),
            offset: self.offset,
            limit: self.limit,
            items,
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Listed<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many were skipped.
    pub offset: usize,
    /// The most this page holds.
    pub limit: usize,
    /// The `offset` of the next page, when there is one.
    pub next: Option<usize>,
}

/// `201 Created` with `what`.
pub(crate) fn created<T: Serialize>(what: T) -> (StatusCode, axum::Json<T>) {
    (StatusCode::CREATED, axum::Json(what))
}

/// The refusals every administrative endpoint may answer with, for the
/// OpenAPI document (`responses(..., Refused)`).
#[derive(Debug, utoipa::IntoResponses)]
#[allow(dead_code)] // never built: it only describes responses to utoipa
pub(crate) enum Refused {
    /// The request is not of the documented shape, or the action refused.
    #[response(
        status = 400,
        description = "REQUEST_INVALID, MALFORMED_JSON, DUPLICATE_MEMBER, or the action's own code (as the CLI's)",
        content_type = "application/problem+json"
    )]
    BadRequest(#[to_schema] Problem),
    /// No credentials, or not good ones.
    #[response(
        status = 401,
        description = "AUTHENTICATION_REQUIRED, TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_REVOKED, CERT_NOT_CLIENT, CERT_REVOKED",
        content_type = "application/problem+json"
    )]
    Unauthenticated(#[to_schema] Problem),
    /// The caller's role may not, or not for this department.
    #[response(
        status = 403,
        description = "FORBIDDEN, or the owner's rule (e.g. CATALOGUE_NOT_PROVIDER)",
        content_type = "application/problem+json"
    )]
    Forbidden(#[to_schema] Problem),
    /// What the request names does not exist.
    #[response(
        status = 404,
        description = "the thing named is unknown (e.g. DEPARTMENT_UNKNOWN)",
        content_type = "application/problem+json"
    )]
    NotFound(#[to_schema] Problem),
}
