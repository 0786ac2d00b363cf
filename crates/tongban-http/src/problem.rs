//! Errors as RFC 9457 problem details (`application/problem+json`), the one
//! place where anything that goes wrong becomes a response.
//!
//! Every problem carries `code`, the stable code the CLI and the protocol
//! use for the same thing. A refusal's words are told; for this hub's own
//! failure only a fixed sentence is, and the detail goes to the log.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tongban_service::{Code, Error};

/// The media type of a problem.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What a caller is told when this hub failed (its log has the detail).
const OWN_FAILURE: &str = "the hub failed to answer; its log has the detail";

/// A problem detail.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:tongban:problem:{code}`: a stable URI per code.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the code.
    pub title: Cow<'static, str>,
    /// The HTTP status.
    pub status: u16,
    /// What happened, for people.
    pub detail: String,
    /// The stable code (as the CLI's `--json` and the protocol give it).
    pub code: Cow<'static, str>,
}

impl Problem {
    /// A problem with `code` and `status`.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:tongban:problem:{code}"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status: status.as_u16(),
            detail: detail.into(),
            code: Cow::Borrowed(code),
        }
    }

    /// A refusal of the service layer's vocabulary.
    pub fn coded(status: StatusCode, code: Code, detail: impl Into<String>) -> Self {
        Problem::new(status, code.as_str(), detail)
    }

    /// The same problem as a failed authentication: `401`, with the
    /// challenge (`WWW-Authenticate: Bearer`).
    pub fn unauthenticated(mut self) -> Self {
        self.status = StatusCode::UNAUTHORIZED.as_u16();
        self.title = Cow::Borrowed("Unauthorized");
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        let status = status_of(&e);
        if !e.is_refusal() {
            tracing::warn!(code = e.code(), error = %e, "HTTP request failed inside the hub");
        }
        Problem::new(status, e.code(), e.told(OWN_FAILURE))
    }
}

/// The HTTP status a service error answers with.
fn status_of(e: &Error) -> StatusCode {
    if e.is_storage_fault() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match e.rejection() {
        None if e.is_refusal() => StatusCode::BAD_REQUEST,
        None => StatusCode::INTERNAL_SERVER_ERROR,
        Some(
            Code::LicenceNotFound
            | Code::DepartmentUnknown
            | Code::KeyUnknown
            | Code::CertUnknown
            | Code::SchemaUnknown
            | Code::CatalogueUnknown
            | Code::AccessUnknown
            | Code::ItemUnknown
            | Code::CaseUnknown
            | Code::PeerUnknown
            | Code::OrderUnknown
            | Code::OrderRouteUnknown
            | Code::TokenUnknown
            | Code::StatusListUnknown
            | Code::RouteUnknown
            | Code::NoticeUnknown,
        ) => StatusCode::NOT_FOUND,
        Some(
            Code::Forbidden
            | Code::CatalogueNotProvider
            | Code::AccessNotProvider
            | Code::ItemNotOwner
            | Code::OrderStepForbidden
            | Code::NoticeForbidden,
        ) => StatusCode::FORBIDDEN,
        Some(Code::NoticeAnswered) => StatusCode::CONFLICT,
        Some(Code::PayloadTooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        Some(Code::ContentTypeUnsupported) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Some(Code::MethodNotAllowed) => StatusCode::METHOD_NOT_ALLOWED,
        Some(Code::NotReady | Code::Draining) => StatusCode::SERVICE_UNAVAILABLE,
        Some(_) => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tongban\""),
            );
        }
        response
    }
}

/// A path nothing is served at.
pub(crate) async fn route_unknown() -> Problem {
    unknown_route()
}

/// What [`route_unknown`] answers.
pub(crate) fn unknown_route() -> Problem {
    Problem::coded(
        StatusCode::NOT_FOUND,
        Code::RouteUnknown,
        "no endpoint at this path (GET /v1/openapi.json lists them)",
    )
}

/// A path served, but not with this method.
pub(crate) async fn method_not_allowed() -> Problem {
    Problem::coded(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::MethodNotAllowed,
        "this endpoint does not take this method (GET /v1/openapi.json lists them)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_of_the_hub_tells_nothing_of_itself() {
        let failure = Error::Store(tongban_store_error());
        let problem = Problem::from(failure);
        assert_eq!(problem.status, 503);
        assert_eq!(problem.code, "STORE_UNAVAILABLE");
        assert_eq!(problem.detail, OWN_FAILURE);
    }

    fn tongban_store_error() -> tongban_store::StoreError {
        tongban_store::StoreError::Unavailable(Box::new(std::io::Error::other(
            "secret path /var/lib/tongban/db",
        )))
    }

    #[test]
    fn a_refusal_tells_its_words_and_code() {
        let problem = Problem::from(tongban_service::Error::Rejected {
            code: Code::LicenceNotFound,
            message: "no licence x".into(),
        });
        assert_eq!(problem.status, 404);
        assert_eq!(problem.code, "LICENCE_NOT_FOUND");
        assert_eq!(problem.kind, "urn:tongban:problem:LICENCE_NOT_FOUND");
        assert_eq!(problem.detail, "no licence x");
    }
}
