//! The region's certificate authority: its certificate, the certificates
//! it issued, issue (the private key answered once), renew, revoke, the
//! CRL — `tongban ca …`. `ca init` and `ca dev-pki` set a hub up and stay
//! on the CLI.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustls::pki_types::CertificateRevocationListDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use tongban_service::Action;
use tongban_service::ca::{CertRequest, IssuedCert};
use tongban_store::CertificateRow;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::tokens::shown_once;
use super::{Body, Caller, Listed, Page, Params, Refused};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

/// The kinds of certificate the CA issues, and its own.
const KINDS: [&str; 4] = ["ca", "server", "client", "peer"];
/// The CRL as PEM.
const PEM: &str = "application/x-pem-file";
/// The CRL as DER (RFC 5280 §4.2.1.13's media type).
const PKIX_CRL: &str = "application/pkix-crl";

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/ca", authority)
        .needs(Action::CaRead)
        .get("/v1/ca/certificates", list)
        .needs(Action::CaRead)
        .post("/v1/ca/certificates", issue)
        .needs(Action::CaWrite)
        .get("/v1/ca/certificates/{serial}", show)
        .needs(Action::CaRead)
        .post("/v1/ca/certificates/{serial}/renew", renew)
        .needs(Action::CaWrite)
        .post("/v1/ca/certificates/{serial}/revoke", revoke)
        .needs(Action::CaWrite)
        .get("/v1/ca/crl", crl)
        .needs(Action::CaRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(authority, list, issue, show, renew, revoke, crl),
    components(schemas(IssueBody, RenewBody, RevokeBody))
)]
pub(crate) struct Doc;

/// The CA's own certificate (PEM in `pem`).
#[utoipa::path(get, path = "/v1/ca", tag = "ca",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the CA certificate's record; `CA_NOT_INITIALISED` refused", body = Object), Refused))]
pub(crate) async fn authority(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<CertificateRow>, Problem> {
    caller.may(Action::CaRead)?;
    Ok(Json(state.hub.ca_certificate().await?))
}

/// The filters of `GET /v1/ca/certificates`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only certificates of this kind: `ca`, `server`, `client` or `peer`.
    kind: Option<String>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Every certificate the CA issued, revoked ones too (`tongban ca list`).
#[utoipa::path(get, path = "/v1/ca/certificates", tag = "ca",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of certificates (`items`, `offset`, `limit`, `next`)", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<CertificateRow>>, Problem> {
    caller.may(Action::CaRead)?;
    let page = Page::of(q.limit, q.offset)?;
    if let Some(kind) = q.kind.as_deref()
        && !KINDS.contains(&kind)
    {
        return Err(body::invalid("kind is ca, server, client or peer"));
    }
    let all: Vec<CertificateRow> = state
        .hub
        .ca_list()
        .await?
        .into_iter()
        .filter(|c| q.kind.as_deref().is_none_or(|k| c.kind == k))
        .collect();
    Ok(Json(page.of_list(all)))
}

/// A certificate to issue (`tongban ca issue server|client`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IssueBody {
    /// `server` (the hub's, for `dns` and `ips`) or `client` (a
    /// department's, for `department`).
    kind: String,
    /// A server certificate's DNS names.
    dns: Option<Vec<String>>,
    /// A server certificate's IP addresses.
    #[schema(value_type = Option<Vec<String>>)]
    ips: Option<Vec<IpAddr>>,
    /// A client certificate's department (its code).
    department: Option<String>,
    /// Validity in days (1 to 825, default 397).
    validity_days: Option<i64>,
}

/// A certificate just issued, with its private key: in this answer only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issued {
    /// As stored (the certificate's PEM in `pem`).
    pub certificate: CertificateRow,
    /// The certificate followed by the CA's, PEM.
    pub chain_pem: String,
    /// The certificate's private key, PEM (PKCS#8): not kept by the hub.
    pub private_key_pem: String,
}

impl From<IssuedCert> for Issued {
    fn from(issued: IssuedCert) -> Self {
        let mut chain_pem = issued.row.pem.clone();
        if !chain_pem.ends_with('\n') {
            chain_pem.push('\n');
        }
        chain_pem.push_str(&issued.ca_pem);
        Issued {
            private_key_pem: issued.key_pem.as_str().to_owned(),
            certificate: issued.row.clone(),
            chain_pem,
        }
    }
}

/// Issues a server or a department's client certificate, answered once
/// with its private key (`Cache-Control: no-store`); audited.
#[utoipa::path(post, path = "/v1/ca/certificates", tag = "ca",
    request_body = IssueBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "`certificate`, `chainPem`, `privateKeyPem` (shown once); `CERT_NAMES_MISSING`, `CERT_NAME_INVALID`, `CERT_VALIDITY_INVALID`, `CA_NOT_INITIALISED` refused", body = Object), Refused))]
pub(crate) async fn issue(
    State(state): State<HttpState>,
    caller: Caller,
    Body(b): Body<IssueBody>,
) -> Result<Response, Problem> {
    caller.may(Action::CaWrite)?;
    let request = match b.kind.as_str() {
        "server" if b.department.is_none() => CertRequest::Server {
            dns: b.dns.unwrap_or_default(),
            ips: b.ips.unwrap_or_default(),
        },
        "client" if b.dns.is_none() && b.ips.is_none() => match b.department {
            Some(d) => CertRequest::client(d),
            None => return Err(body::invalid("a client certificate names its department")),
        },
        "server" | "client" => {
            return Err(body::invalid(
                "a server certificate names dns and ips, a client certificate its department",
            ));
        }
        _ => return Err(body::invalid("kind is server or client")),
    };
    let issued = caller
        .hub(&state)
        .ca_issue(request, days(b.validity_days))
        .await?;
    Ok(shown_once(StatusCode::CREATED, Issued::from(issued)))
}

/// One certificate, by its serial (hex).
#[utoipa::path(get, path = "/v1/ca/certificates/{serial}", tag = "ca",
    params(("serial" = String, Path, description = "serial number, hex")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the certificate's record", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Result<Json<CertificateRow>, Problem> {
    caller.may(Action::CaRead)?;
    Ok(Json(state.hub.certificate(&serial).await?))
}

/// How a certificate is renewed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RenewBody {
    /// Validity in days (1 to 825, default 397).
    validity_days: Option<i64>,
}

/// Renews a certificate: a new key and certificate for the same subject,
/// answered once with its private key (`Cache-Control: no-store`); the old
/// one stays valid until it expires or is revoked.
#[utoipa::path(post, path = "/v1/ca/certificates/{serial}/renew", tag = "ca",
    params(("serial" = String, Path, description = "serial number, hex")),
    request_body = RenewBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "`certificate`, `chainPem`, `privateKeyPem` (shown once); `CERT_REVOKED`, `CERT_NOT_RENEWABLE` refused", body = Object), Refused))]
pub(crate) async fn renew(
    State(state): State<HttpState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(b): Body<RenewBody>,
) -> Result<Response, Problem> {
    caller.may(Action::CaWrite)?;
    let issued = caller
        .hub(&state)
        .ca_renew(&serial, days(b.validity_days))
        .await?;
    Ok(shown_once(StatusCode::CREATED, Issued::from(issued)))
}

/// Why a certificate is revoked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeBody {
    /// RFC 5280's name: `keyCompromise`, `superseded`,
    /// `cessationOfOperation`, `affiliationChanged`, `privilegeWithdrawn`
    /// or `unspecified`.
    reason: String,
}

/// Revokes a certificate: the next CRL lists it, and the hub refuses it at
/// once; audited (`ca.revoke`).
#[utoipa::path(post, path = "/v1/ca/certificates/{serial}/revoke", tag = "ca",
    params(("serial" = String, Path, description = "serial number, hex")),
    request_body = RevokeBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the certificate, revoked; `REVOCATION_REASON_INVALID`, `CERT_ALREADY_REVOKED`, `CERT_NOT_REVOCABLE` refused", body = Object), Refused))]
pub(crate) async fn revoke(
    State(state): State<HttpState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(b): Body<RevokeBody>,
) -> Result<Json<CertificateRow>, Problem> {
    caller.may(Action::CaWrite)?;
    Ok(Json(
        caller.hub(&state).ca_revoke(&serial, &b.reason).await?,
    ))
}

/// The current CRL, signed now and valid for 7 days: PEM
/// (`application/x-pem-file`), or DER when `Accept` asks for
/// `application/pkix-crl`.
#[utoipa::path(get, path = "/v1/ca/crl", tag = "ca",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the CRL", content(
        (String = "application/x-pem-file"),
        (Vec<u8> = "application/pkix-crl"))), Refused))]
pub(crate) async fn crl(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller.may(Action::CaRead)?;
    let pem = state.hub.ca_crl().await?;
    let der_wanted = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains(PKIX_CRL));
    let (media_type, bytes) = if der_wanted {
        let der = CertificateRevocationListDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
            Problem::from(tongban_service::Error::Rejected {
                code: tongban_service::Code::CaError,
                message: format!("the CRL just made does not read back: {e}"),
            })
        })?;
        (PKIX_CRL, der.as_ref().to_vec())
    } else {
        (PEM, pem.into_bytes())
    };
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// A validity in days, bounded before it becomes a duration (the service
/// refuses what is out of its range).
fn days(days: Option<i64>) -> Option<time::Duration> {
    days.map(|d| time::Duration::days(d.clamp(-1, 10_000)))
}
