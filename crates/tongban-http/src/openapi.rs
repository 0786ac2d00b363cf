//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! served at `/v1/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use crate::Api;

/// The document's source.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tongban hub HTTP API",
        description = "Health, public verification (also as the W3C CCG VC API), trust material and printout checks, and the administrative API (an API token or a department's client certificate; roles region-admin, department-operator, auditor, verifier). Errors are RFC 9457 problems carrying the stable codes of the CLI and the protocol.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::health::healthz,
        crate::health::readyz,
        crate::health::metrics,
        crate::verify::verify,
        crate::verify::credentials_verify,
        crate::publish::trust,
        crate::publish::status_list,
        crate::check::qr,
        crate::check::qr_svg,
        crate::check::check,
        openapi_json,
    ),
    components(schemas(crate::problem::Problem))
)]
#[derive(Debug)]
pub struct ApiDoc;

pub(crate) fn routes() -> Api {
    Api::new().get("/v1/openapi.json", openapi_json)
}

/// The document: the public endpoints', every administrative area's, and
/// how callers authenticate.
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
    let mut document = ApiDoc::openapi();
    for area in crate::admin::documents() {
        document.merge(area);
    }
    let components = document.components.get_or_insert_with(Default::default);
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.bearer_format = Some("tbk_{id}_{secret} (tongban token create)".into());
    components.add_security_scheme("token", SecurityScheme::Http(bearer));
    components.add_security_scheme(
        "clientCertificate",
        SecurityScheme::MutualTls {
            description: Some(
                "a department's client certificate of the hub's CA (tongban ca issue client)"
                    .into(),
            ),
            extensions: None,
        },
    );
    document
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
