//! The web console (`/console/`): hand-written HTML, CSS and JavaScript
//! modules inside the binary, for region administrators, department
//! operators, auditors and verifiers.
//!
//! The console is a client of the administrative API and nothing more: it
//! calls `/v1/...` with the token the user signs in with (or the client
//! certificate the browser presents), so it can do nothing the API would
//! refuse. Which pages it shows comes from `GET /v1/whoami`, the role rule
//! of the service layer.
//!
//! No build step and nothing from the network: the assets are compiled in
//! with `include_bytes!`, each served with its content type, an `ETag`
//! (its SHA-256, so a changed binary changes it) that browsers revalidate
//! with (`Cache-Control: no-cache`, answered `304` when unchanged), and a
//! Content-Security-Policy that allows scripts, styles, images and
//! requests from this origin only — no inline script or style.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::HttpState;
use crate::problem;

/// Where the console is served.
pub const PREFIX: &str = "/console/";

/// The policy every console response carries: this origin only, no inline
/// script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// One file of the console.
#[derive(Debug)]
pub struct Asset {
    /// Its path under [`PREFIX`].
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json";

/// Every file of the console.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("app.js", JS),
    asset!("lib.js", JS),
    asset!("i18n/zh.json", JSON),
    asset!("i18n/en.json", JSON),
    asset!("pages/signin.js", JS),
    asset!("pages/verify.js", JS),
    asset!("pages/licences.js", JS),
    asset!("pages/catalogue.js", JS),
    asset!("pages/overview.js", JS),
    asset!("pages/departments.js", JS),
    asset!("pages/schemas.js", JS),
    asset!("pages/audit.js", JS),
    asset!("pages/keys.js", JS),
    asset!("pages/items.js", JS),
    asset!("pages/peers.js", JS),
];

/// Each asset's `ETag`, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.bytes);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// The console's routes: `/` and `/console` lead to `/console/`.
pub(crate) fn router() -> Router<HttpState> {
    Router::new()
        .route("/", get(to_console))
        .route("/console", get(to_console))
        .route("/console/", get(index))
        .route("/console/{*path}", get(file))
}

async fn to_console() -> Redirect {
    Redirect::to(PREFIX)
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// `path`'s asset, `304` when the browser's copy is current, or the API's
/// `404 ROUTE_UNKNOWN`.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(at) = ASSETS.iter().position(|a| a.path == path) else {
        return problem::unknown_route().into_response();
    };
    let asset = &ASSETS[at];
    let etag = &etags()[at];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.bytes.into_response()
    };
    let out = response.headers_mut();
    if !fresh {
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
    }
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_distinct_and_typed_by_their_extension() {
        let mut paths: Vec<&str> = ASSETS.iter().map(|a| a.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len(), "a path is listed twice");
        for a in ASSETS {
            let expected = match a.path.rsplit('.').next() {
                Some("html") => HTML,
                Some("js") => JS,
                Some("css") => CSS,
                Some("json") => JSON,
                other => panic!("{}: no type for {other:?}", a.path),
            };
            assert_eq!(a.content_type, expected, "{}", a.path);
            assert!(!a.bytes.is_empty(), "{} is empty", a.path);
        }
    }

    /// The CSP forbids inline script: no page may carry one, nor an
    /// inline event handler or style attribute.
    #[test]
    fn no_asset_relies_on_inline_script_or_style() {
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".html")) {
            let text = std::str::from_utf8(a.bytes).unwrap_or_default();
            for (at, _) in text.match_indices("<script") {
                let tag = &text[at..text[at..].find('>').map_or(text.len(), |e| at + e)];
                assert!(tag.contains("src="), "{}: inline <script>", a.path);
            }
            for bad in [" onclick=", " onload=", " onsubmit=", " style=", "<style"] {
                assert!(!text.contains(bad), "{}: {bad}", a.path);
            }
        }
    }

    fn dictionary(path: &str) -> serde_json::Map<String, serde_json::Value> {
        let asset = ASSETS.iter().find(|a| a.path == path);
        let parsed = asset.and_then(|a| serde_json::from_slice(a.bytes).ok());
        match parsed {
            Some(serde_json::Value::Object(map)) => map,
            _ => panic!("{path} is not a JSON object"),
        }
    }

    /// Both languages say the same things, and every key a script asks
    /// for by name is in them.
    #[test]
    fn dictionaries_cover_every_key_the_scripts_use() {
        let zh = dictionary("i18n/zh.json");
        let en = dictionary("i18n/en.json");
        let zh_keys: Vec<&String> = zh.keys().collect();
        let en_keys: Vec<&String> = en.keys().collect();
        assert_eq!(zh_keys, en_keys, "zh and en differ in their keys");
        let mut used = 0;
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(a.bytes).unwrap_or_default();
            for (at, _) in text.match_indices("t('") {
                if text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                {
                    continue;
                }
                let rest = &text[at + 3..];
                let key = &rest[..rest.find('\'').unwrap_or(0)];
                assert!(
                    zh.contains_key(key),
                    "{}: t('{key}') is in no dictionary",
                    a.path
                );
                used += 1;
            }
        }
        assert!(used > 100, "only {used} keys found: the scan is broken");
    }
}
