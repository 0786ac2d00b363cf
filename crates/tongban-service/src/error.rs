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
            Error::KeyStore(e) => e.code(),
        }
    }

    pub(crate) fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        Error::Rejected {
            code,
            message: message.into(),
        }
    }
}

/// The stable code of an error from any of the libraries a front end
/// (the CLI, the benchmarks) calls: the service, the store, the key store,
/// trust files, the licence issuer. `None` for anything else (the caller
/// names its own: `IO`, `MALFORMED_JSON`, …). One map, so that front ends
/// cannot drift apart.
pub fn code_of(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if let Some(e) = e.downcast_ref::<Error>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<StoreError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<KeyStoreError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<IssueError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<tongban_licence::trustfile::TrustFileError>() {
        return Some(e.code());
    }
    None
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every library error a front end meets has its code in one map,
    /// wrapped or not (the CLI once lost `SIGNING_KEY_DAMAGED` this way).
    #[test]
    fn one_map_names_the_code_of_every_library_error() {
        let cases: Vec<(Box<dyn std::error::Error + Send + Sync>, &str)> = vec![
            (
                Box::new(KeyStoreError::Damaged("k".into())),
                "SIGNING_KEY_DAMAGED",
            ),
            (
                Box::new(KeyStoreError::Missing("k".into(), "d".into())),
                "SIGNING_KEY_NOT_ON_NODE",
            ),
            (
                Box::new(Error::KeyStore(KeyStoreError::Damaged("k".into()))),
                "SIGNING_KEY_DAMAGED",
            ),
            (
                Box::new(Error::rejected("KEY_UNKNOWN", "no key")),
                "KEY_UNKNOWN",
            ),
            (
                Box::new(StoreError::Config("bad".into())),
                StoreError::Config("bad".into()).code(),
            ),
        ];
        for (e, expected) in cases {
            assert_eq!(code_of(e.as_ref()), Some(expected), "{e}");
        }
        let io = std::io::Error::other("disk");
        assert_eq!(code_of(&io), None);
    }
}
