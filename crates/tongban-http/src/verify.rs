//! Public verification: `POST /v1/verify` (the answer of `tongban licence
//! verify` online) and `POST /credentials/verify` (the W3C CCG VC API's
//! shape, which also accepts `did:key` issuers).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tongban_licence::Verification;
use tongban_service::OnlineVerify;

use crate::body::{self, Kind};
use crate::identity::Anyone;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .post("/v1/verify", verify)
        .post("/credentials/verify", credentials_verify)
}

/// Verifies a licence online, as `tongban licence verify FILE --json`
/// answers: the body is the licence (JSON), or a form with the parts
/// `licence` and `attachment` (the file whose digest the licence binds).
/// A licence that is not valid is still a 200: the verification says why.
#[utoipa::path(post, path = "/v1/verify", tag = "verification",
    request_body(content(
        (Object = "application/json"),
        (Object = "multipart/form-data")),
        description = "the licence; or a form with `licence` (JSON) and `attachment` (file)"),
    responses(
        (status = 200, description = "the verification: `valid`, `problems` (each with its code), `unchecked`, `status`, `summary`", body = Object),
        (status = 400, description = "MALFORMED_JSON, DUPLICATE_MEMBER, REQUEST_INVALID", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "CONTENT_TYPE_UNSUPPORTED", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn verify(
    State(state): State<HttpState>,
    who: Anyone,
    request: Request,
) -> Result<Json<Verification>, Problem> {
    who.may(tongban_service::Action::Verify)?;
    let presented = presented(&state, request).await?;
    let how = OnlineVerify {
        attachment: presented.attachment.as_deref(),
        ..OnlineVerify::default()
    };
    let verification = state.hub.verify_online_with(presented.licence, how).await?;
    state.metrics.licence_verified(verification.valid);
    tracing::debug!(
        caller = who.name(),
        valid = verification.valid,
        "licence verified"
    );
    Ok(Json(verification))
}

/// A licence as presented: the document, and the attachment file if any.
struct Presented {
    licence: Value,
    attachment: Option<Bytes>,
}

async fn presented(state: &HttpState, request: Request) -> Result<Presented, Problem> {
    let limit = state.config.body_limit;
    match body::kind(request.headers(), &[Kind::Json, Kind::Form])? {
        Kind::Json => {
            let bytes = body::bytes(request.into_body(), limit).await?;
            Ok(Presented {
                licence: body::json(&bytes)?,
                attachment: None,
            })
        }
        Kind::Form => form(request, limit).await,
    }
}

/// The parts `licence` and `attachment`, each at most once; nothing else.
async fn form(request: Request, limit: usize) -> Result<Presented, Problem> {
    let mut parts = body::form(request, limit, &["licence", "attachment"]).await?;
    let attachment = parts.pop().flatten().map(|p| p.bytes);
    let licence = parts
        .pop()
        .flatten()
        .ok_or_else(|| body::invalid("the form has no licence part"))?;
    Ok(Presented {
        licence: body::json(&licence.bytes)?,
        attachment,
    })
}

/// A VC API verification request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyCredentialRequest {
    /// The credential (VC API).
    #[schema(value_type = Object)]
    pub verifiable_credential: Option<Value>,
    /// The credential (the name some tools use).
    #[schema(value_type = Object)]
    pub credential: Option<Value>,
    /// Options.
    #[serde(default)]
    pub options: VerifyOptions,
}

/// Options of a VC API verification.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyOptions {
    /// Checks the caller asks for; every check is always made.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Must be `assertionMethod` when given.
    pub expected_proof_purpose: Option<String>,
}

/// A VC API verification result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyCredentialResult {
    /// Whether every check passed.
    pub verified: bool,
    /// The checks made.
    pub checks: Vec<&'static str>,
    /// Checks that could not be made.
    pub warnings: Vec<Message>,
    /// Every problem found, with its stable code.
    pub errors: Vec<Message>,
}

/// One warning or error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// Stable code.
    pub code: String,
    /// What, for people.
    pub message: String,
}

/// Verifies a credential in the W3C CCG VC API's shape: the region's own
/// licences as `POST /v1/verify` does, `eddsa-jcs-2022` credentials of
/// `did:key` issuers with the key the DID names, and of the issuers whose
/// keys the hub was given. Verified: 200; not verified: 400 with the same
/// shape (as the VC API's test suites expect).
#[utoipa::path(post, path = "/credentials/verify", tag = "verification",
    request_body = VerifyCredentialRequest,
    responses(
        (status = 200, description = "verified", body = VerifyCredentialResult),
        (status = 400, description = "not verified (a `VerifyCredentialResult` with `verified: false`), or a malformed request (a problem: MALFORMED_JSON, DUPLICATE_MEMBER, REQUEST_INVALID)", body = VerifyCredentialResult),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "CONTENT_TYPE_UNSUPPORTED", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn credentials_verify(
    State(state): State<HttpState>,
    who: Anyone,
    request: Request<Body>,
) -> Result<Response, Problem> {
    who.may(tongban_service::Action::Verify)?;
    body::kind(request.headers(), &[Kind::Json])?;
    let bytes = body::bytes(request.into_body(), state.config.body_limit).await?;
    let asked: VerifyCredentialRequest = body::typed(&body::json(&bytes)?)?;
    let credential = match (asked.verifiable_credential, asked.credential) {
        (Some(c), None) | (None, Some(c)) => c,
        (None, None) => return Err(body::invalid("give verifiableCredential")),
        (Some(_), Some(_)) => {
            return Err(body::invalid(
                "give verifiableCredential or credential, not both",
            ));
        }
    };
    if !credential.is_object() {
        return Err(body::invalid("verifiableCredential: not a JSON object"));
    }
    if let Some(purpose) = &asked.options.expected_proof_purpose {
        if purpose != tongban_licence::di::ASSERTION_METHOD {
            return Err(body::invalid(format!(
                "options.expectedProofPurpose: credentials are verified for {}",
                tongban_licence::di::ASSERTION_METHOD
            )));
        }
    }
    let how = OnlineVerify {
        accept_did_key: true,
        extra_keys: &state.config.issuer_keys,
        ..OnlineVerify::default()
    };
    let verification = state.hub.verify_online_with(credential, how).await?;
    state.metrics.licence_verified(verification.valid);
    tracing::debug!(
        caller = who.name(),
        valid = verification.valid,
        "credential verified"
    );
    let result = vc_result(&verification);
    let status = if result.verified {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, Json(result)).into_response())
}

/// The VC API's view of a verification.
fn vc_result(v: &Verification) -> VerifyCredentialResult {
    let mut checks = vec!["proof", "validity"];
    if v.status.is_some() {
        checks.push("credentialStatus");
    }
    VerifyCredentialResult {
        verified: v.valid,
        checks,
        warnings: v
            .unchecked
            .iter()
            .map(|what| Message {
                code: "UNCHECKED".into(),
                message: what.clone(),
            })
            .collect(),
        errors: v
            .problems
            .iter()
            .map(|p| Message {
                code: p.code.as_str().to_owned(),
                message: p.message.clone(),
            })
            .collect(),
    }
}
