//! Trust material at stable URLs: `GET /v1/trust` (the hub-signed trust
//! file `tongban trust export` writes) and `GET /v1/status/{list}` (an
//! issuer's status list), each with a strong `ETag` (SHA-256 of the body),
//! `Cache-Control: public, max-age=…` and `304 Not Modified` on a matching
//! `If-None-Match`.
//!
//! Both are signed when built, so two builds of the same content differ in
//! their signing times. A body is therefore kept and served again as long
//! as what it says is unchanged: it is rebuilt at most every
//! [`RECHECK`] (`HttpConfig::recheck`), and replaced only when its content (everything but proofs
//! and the validity of signed documents) changed or it is older than
//! [`RESIGN_AFTER`]. Offline verifiers polling with `If-None-Match` get
//! `304` until something they rely on changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tongban_licence::StatusPurpose;
use tongban_service::Code;

use crate::problem::Problem;
use crate::{Api, HttpState};

/// How often a kept body is compared with a fresh build, by default.
pub const RECHECK: Duration = Duration::from_secs(5);
/// A kept body is signed again after this long even if nothing changed
/// (a status list is valid 24 hours, a trust file 7 days).
pub const RESIGN_AFTER: Duration = Duration::from_secs(6 * 3600);

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/trust", trust)
        .get("/v1/status/{list}", status_list)
}

/// The hub-signed trust file: every department's keys, status lists and
/// licence types, as `tongban trust export` writes it.
#[utoipa::path(get, path = "/v1/trust", tag = "trust",
    params(("If-None-Match" = Option<String>, Header, description = "an ETag held")),
    responses(
        (status = 200, description = "the trust file, with ETag and Cache-Control", body = Object),
        (status = 304, description = "the held copy is current")))]
pub(crate) async fn trust(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let hub = state.hub.clone();
    let built = state
        .published
        .get("trust".into(), state.config.recheck, async move {
            hub.trust_file().await
        })
        .await;
    respond(&state, &headers, built)
}

/// An issuer's status list, named `{issuer}:{purpose}:{sequence}` (the
/// tail of its id `urn:tongban:status:{issuer}:{purpose}:{sequence}`;
/// purpose `revocation` or `suspension`).
#[utoipa::path(get, path = "/v1/status/{list}", tag = "trust",
    params(
        ("list" = String, Path, description = "`{issuer}:{purpose}:{sequence}`, e.g. `11440114MB2C0000XX:revocation:0`"),
        ("If-None-Match" = Option<String>, Header, description = "an ETag held")),
    responses(
        (status = 200, description = "the signed status list (W3C Bitstring Status List), with ETag and Cache-Control", body = Object),
        (status = 304, description = "the held copy is current"),
        (status = 400, description = "REQUEST_INVALID: not `{issuer}:{purpose}:{sequence}`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "STATUS_LIST_UNKNOWN", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn status_list(
    State(state): State<HttpState>,
    Path(list): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (issuer, purpose, sequence) = match parse_list(&list) {
        Ok(parts) => parts,
        Err(p) => return p.into_response(),
    };
    let hub = state.hub.clone();
    let key = format!("status:{issuer}:{}:{sequence}", purpose.as_str());
    let built = state
        .published
        .get(key, state.config.recheck, async move {
            hub.published_status_list(&issuer, purpose, sequence).await
        })
        .await;
    respond(&state, &headers, built)
}

/// `{issuer}:{purpose}:{sequence}`, or `REQUEST_INVALID`.
fn parse_list(list: &str) -> Result<(String, StatusPurpose, u32), Problem> {
    let invalid = || {
        Problem::coded(
            StatusCode::BAD_REQUEST,
            Code::RequestInvalid,
            format!("{list:?} is not {{issuer}}:{{revocation|suspension}}:{{sequence}}"),
        )
    };
    let mut parts = list.split(':');
    let (Some(issuer), Some(purpose), Some(sequence), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let purpose = StatusPurpose::parse(purpose).ok_or_else(invalid)?;
    let sequence: u32 = sequence.parse().map_err(|_| invalid())?;
    if issuer.is_empty() || issuer.len() > 64 {
        return Err(invalid());
    }
    Ok((issuer.to_owned(), purpose, sequence))
}

fn respond(state: &HttpState, headers: &HeaderMap, built: Result<Kept, Problem>) -> Response {
    let kept = match built {
        Ok(kept) => kept,
        Err(p) => return p.into_response(),
    };
    let cache = format!("public, max-age={}", state.config.cache_max_age.as_secs());
    let mut response = if if_none_match(headers, &kept.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            kept.body,
        )
            .into_response()
    };
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&kept.etag) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(cache) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, cache);
    }
    response
}

/// Whether `If-None-Match` names `etag` (or is `*`). Strong comparison:
/// a weak tag (`W/"…"`) never matches, as every tag served is strong.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag)
}

/// A body kept for serving.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    body: Bytes,
    etag: String,
}

#[derive(Debug)]
struct Entry {
    kept: Kept,
    content: [u8; 32],
    signed: Instant,
    checked: Instant,
}

/// The bodies kept, by resource.
#[derive(Debug, Default)]
pub(crate) struct Published {
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Entry>>>>>,
}

impl Published {
    /// The body of `key`: the kept one while fresh, else built again by
    /// `build` (one build at a time per key) and kept if its content
    /// changed or the kept one is due for signing again.
    pub(crate) async fn get(
        &self,
        key: String,
        recheck: Duration,
        build: impl Future<Output = tongban_service::Result<Value>>,
    ) -> Result<Kept, Problem> {
        let slot = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(entries.entry(key.clone()).or_default())
        };
        let mut entry = slot.lock().await;
        if let Some(e) = entry.as_ref() {
            if e.checked.elapsed() < recheck {
                return Ok(e.kept.clone());
            }
        }
        let document = match build.await {
            Ok(document) => document,
            Err(e) => {
                // Nothing kept for what does not exist: made-up names cost no memory.
                if entry.is_none() {
                    let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                    entries.remove(&key);
                }
                return Err(e.into());
            }
        };
        let content = content_digest(&document);
        let now = Instant::now();
        match entry.as_mut() {
            Some(e) if e.content == content && e.signed.elapsed() < RESIGN_AFTER => {
                e.checked = now;
            }
            _ => {
                let body = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
                let etag = format!("\"{}\"", tongban_seal::archive::hex(&Sha256::digest(&body)));
                *entry = Some(Entry {
                    kept: Kept { body, etag },
                    content,
                    signed: now,
                    checked: now,
                });
            }
        }
        entry
            .as_ref()
            .map(|e| e.kept.clone())
            .ok_or_else(|| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", ""))
    }
}

/// SHA-256 of a document without what signing it again changes: each
/// signed object's (one with a `proof`) proof, `validFrom` and
/// `validUntil`.
fn content_digest(document: &Value) -> [u8; 32] {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.remove("proof").is_some() {
                    map.remove("validFrom");
                    map.remove("validUntil");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut copy = document.clone();
    strip(&mut copy);
    Sha256::digest(serde_json::to_vec(&copy).unwrap_or_default()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signing_again_does_not_change_the_content() {
        let a = json!({"issuers": [{"id": "x"}], "lists": [{"bits": "AA", "validFrom": "1", "proof": {"v": "1"}}], "validUntil": "9", "proof": {"v": "p"}});
        let b = json!({"issuers": [{"id": "x"}], "lists": [{"bits": "AA", "validFrom": "2", "proof": {"v": "2"}}], "validUntil": "10", "proof": {"v": "q"}});
        let c = json!({"issuers": [{"id": "x"}], "lists": [{"bits": "AB", "validFrom": "2", "proof": {"v": "2"}}], "validUntil": "10", "proof": {"v": "q"}});
        assert_eq!(content_digest(&a), content_digest(&b));
        assert_ne!(content_digest(&a), content_digest(&c));
        // An unsigned object keeps its validity members (a schema's properties).
        let d = json!({"properties": {"validFrom": {"type": "string"}}});
        let e = json!({"properties": {"validFrom": {"type": "integer"}}});
        assert_ne!(content_digest(&d), content_digest(&e));
    }

    #[test]
    fn list_names() {
        let ok = parse_list("11440114MB2C12345X:revocation:0").map_err(|p| p.code);
        assert_eq!(
            ok.ok().map(|(i, p, s)| (i, p.as_str(), s)),
            Some(("11440114MB2C12345X".to_owned(), "revocation", 0))
        );
        for bad in [
            "x",
            "x:revocation",
            "x:other:0",
            "x:suspension:-1",
            "x:revocation:0:1",
            ":revocation:0",
        ] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn if_none_match_compares_strongly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", \"b\""),
        );
        assert!(if_none_match(&h, "\"b\""));
        assert!(!if_none_match(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"c\""));
        assert!(!if_none_match(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(if_none_match(&h, "\"c\""));
    }
}
