//! A licence's printout: `GET /v1/licences/{identifier}/qr` gives the
//! compact URL its QR code carries (`…/qr.svg` the code itself, drawn),
//! `GET /v1/check/{identifier}` (where that URL leads) its current status,
//! with nothing about its holder.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tongban_service::LicenceCheck;

use crate::problem::Problem;
use crate::{Api, HttpState};

/// The longest QR payload served, in bytes: a URL of this length fits a
/// version 8 QR code at error correction level M (152 bytes in byte mode).
pub const MAX_QR_PAYLOAD: usize = 152;

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/licences/{identifier}/qr", qr)
        .get("/v1/licences/{identifier}/qr.svg", qr_svg)
        .get("/v1/check/{identifier}", check)
}

/// What a printout's QR code carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QrPayload {
    /// `{public URL}/v1/check/{identifier}`.
    pub payload: String,
    /// Its length in bytes (at most 152).
    pub bytes: usize,
}

/// The QR payload of a licence: the URL of its check.
#[utoipa::path(get, path = "/v1/licences/{identifier}/qr", tag = "printout",
    params(("identifier" = String, Path, description = "证照标识 (GB/T 36904)")),
    responses(
        (status = 200, description = "the payload", body = QrPayload),
        (status = 400, description = "IDENTIFIER_INVALID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "LICENCE_NOT_FOUND", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn qr(
    State(state): State<HttpState>,
    Path(identifier): Path<String>,
) -> Result<Json<QrPayload>, Problem> {
    // Only licences of this region get a payload.
    let checked = state.hub.licence_check(&identifier).await?;
    let payload = format!(
        "{}/v1/check/{}",
        state.config.public_url, checked.identifier
    );
    Ok(Json(QrPayload {
        bytes: payload.len(),
        payload,
    }))
}

/// The QR code of a licence's printout, carrying its payload (as
/// `GET /v1/licences/{identifier}/qr` answers it), at error correction
/// level M, as SVG.
#[utoipa::path(get, path = "/v1/licences/{identifier}/qr.svg", tag = "printout",
    params(("identifier" = String, Path, description = "证照标识 (GB/T 36904)")),
    responses(
        (status = 200, description = "the QR code", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "IDENTIFIER_INVALID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "LICENCE_NOT_FOUND", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn qr_svg(
    state: State<HttpState>,
    identifier: Path<String>,
) -> Result<Response, Problem> {
    let Json(QrPayload { payload, .. }) = qr(state, identifier).await?;
    let svg = qr_code_svg(&payload).map_err(|e| {
        Problem::from(tongban_service::Error::Rejected {
            code: tongban_service::Code::Internal,
            message: format!("no QR code for a payload of {} bytes: {e}", payload.len()),
        })
    })?;
    let mut response = svg.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `payload` as a QR code at level M, drawn as SVG.
pub fn qr_code_svg(payload: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// A licence's current status for whoever holds its printout: name, type,
/// issuer, validity and status; never the holder's name, code or the
/// licence's number.
#[utoipa::path(get, path = "/v1/check/{identifier}", tag = "printout",
    params(("identifier" = String, Path, description = "证照标识 (GB/T 36904)")),
    responses(
        (status = 200, description = "the status (`valid`, `suspended`, `revoked`, `expired`, `not-yet-valid`), not cached", body = Object),
        (status = 400, description = "IDENTIFIER_INVALID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "LICENCE_NOT_FOUND", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn check(
    State(state): State<HttpState>,
    Path(identifier): Path<String>,
) -> Result<Response, Problem> {
    let checked: LicenceCheck = state.hub.licence_check(&identifier).await?;
    let mut response = Json(checked).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
