//! The hub's own failures as a client is told them: a failure of the store
//! (its disk full or read-only, its database lost or damaged) is
//! `STORE_UNAVAILABLE`, which a client retries later; anything else is
//! `INTERNAL`. The detail goes to the log, never to the peer.

use tongban_proto::{ErrorCode, ProtoError};
use tongban_store::StoreError;

/// A store error as a refusal that says `told`.
pub(crate) fn store(e: &StoreError, told: &str) -> ProtoError {
    tracing::error!(error = %e, code = e.code(), "{told}");
    let code = if e.is_storage_fault() {
        ErrorCode::StoreUnavailable
    } else {
        ErrorCode::Internal
    };
    ProtoError::new(code, told)
}

/// A service's failure (not its refusal) as a refusal that says `told`.
pub(crate) fn service(e: &tongban_service::Error, told: &str) -> ProtoError {
    if let tongban_service::Error::Store(s) = e {
        return store(s, told);
    }
    tracing::error!(error = %e, code = e.code(), "{told}");
    ProtoError::new(ErrorCode::Internal, told)
}
