//! Service errors, each with a stable code.

use tongban_licence::IssueError;
use tongban_store::StoreError;

use crate::keystore::KeyStoreError;

/// Why a service call failed. Nothing is half-written when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused: bad input or a state that does not allow it.
    #[error("{message}")]
    Rejected {
        /// Stable code, e.g. `DEPARTMENT_UNKNOWN`.
        code: &'static str,
        /// What was wrong, for people.
        message: String,
    },
    /// Issuance refused the request.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key store failed.
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Rejected { code, .. } => code,
            Error::Issue(e) => e.code(),
            Error::Store(e) => e.code(),
            Error::KeyStore(KeyStoreError::Missing(..)) => "SIGNING_KEY_NOT_ON_NODE",
            Error::KeyStore(KeyStoreError::Damaged(_)) => "SIGNING_KEY_DAMAGED",
            Error::KeyStore(_) => "KEY_STORE_IO",
        }
    }

    pub(crate) fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        Error::Rejected {
            code,
            message: message.into(),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
