//! Reading request bodies: the content type checked, the size bounded, the
//! JSON read strictly (a repeated member name is `DUPLICATE_MEMBER`), typed
//! documents with exactly their members. Each refusal has its code, and
//! nothing is done with a body that was refused.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tongban_service::Code;

use crate::problem::Problem;

/// What a body is, by its `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `application/json` or any `…+json`.
    Json,
    /// `multipart/form-data` with its boundary.
    Form,
}

/// The kind of body the headers announce, among those `allowed`.
pub(crate) fn kind(headers: &HeaderMap, allowed: &[Kind]) -> Result<Kind, Problem> {
    let announced = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = announced
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = match essence.as_str() {
        "application/json" => Some(Kind::Json),
        e if e.starts_with("application/") && e.ends_with("+json") => Some(Kind::Json),
        "multipart/form-data" => Some(Kind::Form),
        _ => None,
    };
    match kind {
        Some(k) if allowed.contains(&k) => Ok(k),
        _ => {
            let wanted: Vec<&str> = allowed
                .iter()
                .map(|k| match k {
                    Kind::Json => "application/json",
                    Kind::Form => "multipart/form-data",
                })
                .collect();
            Err(Problem::coded(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::ContentTypeUnsupported,
                format!(
                    "Content-Type {:?} is not taken here; send {}",
                    announced,
                    wanted.join(" or ")
                ),
            ))
        }
    }
}

/// The body, at most `limit` bytes (`PAYLOAD_TOO_LARGE` beyond).
pub(crate) async fn bytes(body: Body, limit: usize) -> Result<Bytes, Problem> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))
}

/// The refusal of a body over `limit` bytes.
pub(crate) fn too_large(limit: usize) -> Problem {
    Problem::coded(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::PayloadTooLarge,
        format!("the body is larger than {limit} bytes"),
    )
}

/// Bytes read as one JSON document, strictly.
pub(crate) fn json(bytes: &[u8]) -> Result<Value, Problem> {
    tongban_seal::json::from_slice_strict(bytes).map_err(|e| {
        let what = if e.is_duplicate() {
            "the body repeats a member name"
        } else {
            "the body is not JSON"
        };
        Problem::new(StatusCode::BAD_REQUEST, e.code(), format!("{what}: {e}"))
    })
}

/// A document read as `T`, naming the member that does not fit
/// (`REQUEST_INVALID`).
pub(crate) fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, Problem> {
    tongban_seal::json::decode(value)
        .map_err(|e| Problem::coded(StatusCode::BAD_REQUEST, Code::RequestInvalid, e.message))
}

/// One part of a form: its bytes and the media type it announced.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) bytes: Bytes,
    pub(crate) media_type: Option<String>,
}

/// The parts of a `multipart/form-data` body, each named in `names` at
/// most once (another name, or one given twice, is `REQUEST_INVALID`),
/// in the order of `names` (`None` where absent); the whole at most
/// `limit` bytes.
pub(crate) async fn form(
    request: Request,
    limit: usize,
    names: &[&str],
) -> Result<Vec<Option<Part>>, Problem> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| invalid(format!("not a form: {}", e.body_text())))?;
    let mut parts: Vec<Option<Part>> = names.iter().map(|_| None).collect();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(form_error(&e, limit)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let Some(slot) = names.iter().position(|n| *n == name) else {
            return Err(invalid(format!(
                "unknown form part {name:?}: the parts are {}",
                names.join(" and ")
            )));
        };
        if parts[slot].is_some() {
            return Err(invalid(format!("form part {name:?} given twice")));
        }
        let media_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| form_error(&e, limit))?;
        parts[slot] = Some(Part { bytes, media_type });
    }
    Ok(parts)
}

fn form_error(e: &axum::extract::multipart::MultipartError, limit: usize) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        invalid(format!("the form is malformed: {}", e.body_text()))
    }
}

/// A request that is not of the documented shape.
pub(crate) fn invalid(detail: impl Into<String>) -> Problem {
    Problem::coded(StatusCode::BAD_REQUEST, Code::RequestInvalid, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("x/x")),
        );
        h
    }

    #[test]
    fn content_types_are_read_by_their_essence() {
        let both = [Kind::Json, Kind::Form];
        for (given, expect) in [
            ("application/json", Some(Kind::Json)),
            ("Application/JSON; charset=utf-8", Some(Kind::Json)),
            ("application/ld+json", Some(Kind::Json)),
            ("multipart/form-data; boundary=x", Some(Kind::Form)),
            ("text/plain", None),
            ("application/x-www-form-urlencoded", None),
            ("", None),
        ] {
            assert_eq!(kind(&headers(given), &both).ok(), expect, "{given}");
        }
        let refused = kind(&headers("multipart/form-data; boundary=x"), &[Kind::Json]);
        assert_eq!(
            refused.map_err(|p| p.code).err().as_deref(),
            Some("CONTENT_TYPE_UNSUPPORTED")
        );
    }

    #[test]
    fn json_is_read_strictly() {
        assert_eq!(
            json(br#"{"a":1,"a":2}"#)
                .map_err(|p| p.code)
                .err()
                .as_deref(),
            Some("DUPLICATE_MEMBER")
        );
        assert_eq!(
            json(b"{").map_err(|p| p.code).err().as_deref(),
            Some("MALFORMED_JSON")
        );
        assert!(json(br#"{"a":1}"#).is_ok());
    }
}
