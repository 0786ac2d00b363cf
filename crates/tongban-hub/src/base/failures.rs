//! What a department or peer is told when the service layer or the store
//! says no. One conversion: a refusal keeps its stable code and its words;
//! a failure of this hub (its store, its key store, something inside it)
//! is `STORE_UNAVAILABLE` (the storage itself failed: retry later) or
//! `INTERNAL`, saying only what the hub was doing. The detail goes to the
//! log, never to the party told.

use tongban_proto::{ErrorCode, ProtoError};
use tongban_service::{Code, Error};
use tongban_store::StoreError;

/// The way a refusal reaches the party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Through {
    /// One of the hub's services (`hub.case.*`, `hub.region.licences`, a
    /// peer's services): `SERVICE_REFUSED`, the service's code as reason.
    Service,
    /// A protocol operation (`subscribe`, a request across regions): the
    /// protocol's own code where it has one for the refusal, else as
    /// [`Through::Service`].
    Protocol,
}

/// A service error as `through` tells it; `doing` says what the hub was
/// doing, for its own failures.
pub(crate) fn told(e: &Error, through: Through, doing: &str) -> ProtoError {
    if !e.is_refusal() {
        if let Error::Store(s) = e {
            return store(s, doing);
        }
        tracing::error!(error = %e, code = e.code(), "{doing}");
        return ProtoError::new(ErrorCode::Internal, doing);
    }
    let own = match through {
        Through::Protocol => e.rejection().and_then(protocol_code),
        Through::Service => None,
    };
    match own {
        Some(code) => ProtoError::new(code, e.to_string()),
        None => ProtoError::service(e.code(), e.to_string()),
    }
}

/// The protocol code a refusal of the service layer stands for, if the
/// protocol has one: a resource no one here can name is
/// `RESOURCE_UNKNOWN`, an inactive department `DEPARTMENT_INACTIVE`, and
/// codes the two vocabularies share (`CATALOGUE_RETIRED`,
/// `ACCESS_NOT_GRANTED`, …) are themselves.
pub(crate) fn protocol_code(code: Code) -> Option<ErrorCode> {
    match code {
        Code::CatalogueUnknown | Code::PeerUnknown => Some(ErrorCode::ResourceUnknown),
        Code::DepartmentSuspended => Some(ErrorCode::DepartmentInactive),
        other => ErrorCode::from_code(other.as_str()),
    }
}

/// A store error as a refusal that says `doing`.
pub(crate) fn store(e: &StoreError, doing: &str) -> ProtoError {
    tracing::error!(error = %e, code = e.code(), "{doing}");
    let code = if e.is_storage_fault() {
        ErrorCode::StoreUnavailable
    } else {
        ErrorCode::Internal
    };
    ProtoError::new(code, doing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every refusal of the service layer that names a protocol code keeps
    /// it through a protocol operation; the rest go as `SERVICE_REFUSED`
    /// with their own code; failures are told without their words.
    #[test]
    fn one_conversion_keeps_codes_and_hides_failures() {
        let refusal = |code| Error::Rejected {
            code,
            message: "words".into(),
        };
        let cases = [
            (
                Code::CatalogueUnknown,
                Through::Protocol,
                "RESOURCE_UNKNOWN",
                None,
            ),
            (
                Code::PeerUnknown,
                Through::Protocol,
                "RESOURCE_UNKNOWN",
                None,
            ),
            (
                Code::DepartmentSuspended,
                Through::Protocol,
                "DEPARTMENT_INACTIVE",
                None,
            ),
            (
                Code::AccessNotGranted,
                Through::Protocol,
                "ACCESS_NOT_GRANTED",
                None,
            ),
            (
                Code::CatalogueRetired,
                Through::Protocol,
                "CATALOGUE_RETIRED",
                None,
            ),
            (
                Code::DepartmentUnknown,
                Through::Protocol,
                "DEPARTMENT_UNKNOWN",
                None,
            ),
            (
                Code::ItemUnknown,
                Through::Protocol,
                "SERVICE_REFUSED",
                Some("ITEM_UNKNOWN"),
            ),
            (
                Code::CatalogueUnknown,
                Through::Service,
                "SERVICE_REFUSED",
                Some("CATALOGUE_UNKNOWN"),
            ),
            (
                Code::UseCauseRequired,
                Through::Service,
                "SERVICE_REFUSED",
                Some("USE_CAUSE_REQUIRED"),
            ),
        ];
        for (code, through, expected, reason) in cases {
            let told = told(&refusal(code), through, "doing");
            assert_eq!(told.code.as_str(), expected, "{code} {through:?}");
            assert_eq!(told.reason.as_deref(), reason, "{code} {through:?}");
            assert_eq!(told.message, "words");
        }
        let secret = "/srv/tongban/data/tongban.db: unable to open database file";
        let failures = [
            (
                Error::Store(StoreError::Corrupt(secret.into())),
                "STORE_UNAVAILABLE",
            ),
            (Error::Store(StoreError::Config(secret.into())), "INTERNAL"),
            (
                Error::Rejected {
                    code: Code::Internal,
                    message: secret.into(),
                },
                "INTERNAL",
            ),
            (
                Error::KeyStore(tongban_service::KeyStoreError::Damaged(secret.into())),
                "INTERNAL",
            ),
        ];
        for (e, expected) in failures {
            for through in [Through::Service, Through::Protocol] {
                let told = told(&e, through, "the hub failed");
                assert_eq!(told.code.as_str(), expected, "{e}");
                assert_eq!(told.message, "the hub failed");
                assert_eq!(told.reason, None);
            }
        }
    }

    /// The protocol codes a refusal maps to are protocol codes the
    /// refusal's words fit: every shared string maps to itself.
    #[test]
    fn shared_codes_map_to_themselves() {
        for code in Code::ALL {
            if let Some(p) = ErrorCode::from_code(code.as_str()) {
                assert_eq!(protocol_code(*code), Some(p), "{code}");
            }
        }
    }
}
