//! Who calls: the seam where authentication plugs in.
//!
//! Today every endpoint is public and every caller is
//! [`Identity::Anonymous`]; API tokens and client certificates will each
//! yield an identity with a [`Role`], which handlers of restricted areas
//! take as an argument and check with the service layer.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// What a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Verifies licences (the public endpoints need no more).
    Verifier,
}

/// Who calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Identity {
    /// Nobody in particular: a caller of the public endpoints.
    Anonymous,
}

impl Identity {
    /// The caller's role.
    pub fn role(&self) -> Role {
        match self {
            Identity::Anonymous => Role::Verifier,
        }
    }

    /// How the audit log and the logs name the caller.
    pub fn name(&self) -> &str {
        match self {
            Identity::Anonymous => "anonymous",
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Identity::Anonymous)
    }
}
