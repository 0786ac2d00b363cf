//! Who calls: an API token (`Authorization: Bearer tbk_…`) or a
//! department's client certificate of the hub's CA (over TLS), each read
//! by the service layer into a [`Principal`] with its role.
//!
//! Administrative endpoints take a [`Caller`] (credentials required);
//! public ones take [`Anyone`] (credentials optional, checked when
//! given, so that a verifier's token is named in the logs).

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tongban_service::tokens::{Reach, reach};
use tongban_service::{Action, Code, Error, Principal, Service};

use crate::HttpState;
use crate::body;
use crate::problem::Problem;
use crate::serve::Peer;

/// Who presents credentials, if anyone does: `None` when the request
/// carries neither an `Authorization` header nor a client certificate.
async fn authenticate(parts: &Parts, state: &HttpState) -> Option<Result<Principal, Problem>> {
    let certificate = parts
        .extensions
        .get::<ConnectInfo<Peer>>()
        .and_then(|ConnectInfo(peer)| peer.certificate.as_deref());
    let authenticated = match (parts.headers.get(header::AUTHORIZATION), certificate) {
        (Some(value), _) => match bearer(value.as_bytes()) {
            Some(token) => state.hub.token_authenticate(token).await,
            None => Err(Error::Rejected {
                code: Code::TokenInvalid,
                message: "Authorization takes `Bearer tbk_…`".into(),
            }),
        },
        (None, Some(der)) => state.hub.certificate_authenticate(der).await,
        (None, None) => return None,
    };
    Some(match authenticated {
        Ok(principal) => {
            tracing::debug!(
                caller = %principal.name,
                role = principal.role.as_str(),
                path = %parts.uri.path(),
                "authenticated"
            );
            Ok(principal)
        }
        Err(e) if e.is_refusal() => Err(Problem::from(e).unauthenticated()),
        Err(e) => Err(Problem::from(e)),
    })
}

/// The token of `Bearer {token}` (the scheme in any case).
fn bearer(value: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, token) = text.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A caller of a public endpoint: anonymous, or authenticated when it
/// presents credentials (bad ones are refused, `401`), and then allowed
/// the endpoint's action.
#[derive(Debug, Clone)]
pub struct Anyone(Option<Principal>);

impl Anyone {
    /// How the logs name it.
    pub fn name(&self) -> &str {
        self.0.as_ref().map_or("anonymous", |p| p.name.as_str())
    }

    /// Whether it may take `action` (anyone may, when anonymous: the
    /// endpoint is public).
    pub(crate) fn may(&self, action: Action) -> Result<(), Problem> {
        match &self.0 {
            Some(p) => Ok(p.authorise(action, None)?),
            None => Ok(()),
        }
    }
}

impl FromRequestParts<HttpState> for Anyone {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        match authenticate(parts, state).await {
            None => Ok(Anyone(None)),
            Some(who) => Ok(Anyone(Some(who?))),
        }
    }
}

/// The authenticated caller of an administrative endpoint.
#[derive(Debug, Clone)]
pub struct Caller(Principal);

impl Caller {
    /// Who it is.
    pub fn principal(&self) -> &Principal {
        &self.0
    }

    /// May it take `action`, about no department in particular (`403
    /// FORBIDDEN` if not)?
    pub(crate) fn may(&self, action: Action) -> Result<(), Problem> {
        Ok(self.0.authorise(action, None)?)
    }

    /// May it take `action` for `department`?
    pub(crate) fn may_for(&self, action: Action, department: &str) -> Result<(), Problem> {
        Ok(self.0.authorise(action, Some(department))?)
    }

    /// The department it acts as for `action`: a department operator's
    /// own (naming another is `FORBIDDEN`), or the one a region
    /// administrator names (`REQUEST_INVALID` when it names none).
    pub(crate) fn department(
        &self,
        action: Action,
        named: Option<&str>,
    ) -> Result<String, Problem> {
        match named {
            Some(d) => {
                self.may_for(action, d)?;
                Ok(d.to_owned())
            }
            None => {
                self.may(action)?;
                match (reach(self.0.role, action), &self.0.department) {
                    (Reach::OwnDepartment, Some(own)) => Ok(own.clone()),
                    _ => Err(body::invalid(
                        "name the department to act for (`department`)",
                    )),
                }
            }
        }
    }

    /// What a list shows to it: a department operator sees its own
    /// department's (naming another is `FORBIDDEN`), a caller whose reach
    /// is any department sees the one named, or all.
    pub(crate) fn narrowed(
        &self,
        action: Action,
        named: Option<&str>,
    ) -> Result<Option<String>, Problem> {
        match (reach(self.0.role, action), named) {
            (Reach::OwnDepartment, None) => {
                self.may(action)?;
                Ok(self.0.department.clone())
            }
            (_, Some(d)) => {
                self.may_for(action, d)?;
                Ok(Some(d.to_owned()))
            }
            (_, None) => {
                self.may(action)?;
                Ok(None)
            }
        }
    }

    /// The hub acting as this caller: every audit entry names it.
    pub(crate) fn hub(&self, state: &HttpState) -> Service {
        self.0.acting(&state.hub)
    }
}

impl FromRequestParts<HttpState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        match authenticate(parts, state).await {
            Some(who) => Ok(Caller(who?)),
            None => Err(Problem::coded(
                axum::http::StatusCode::UNAUTHORIZED,
                Code::AuthenticationRequired,
                "present an API token (`Authorization: Bearer tbk_…`) or a department's client certificate",
            )
            .unauthenticated()),
        }
    }
}
