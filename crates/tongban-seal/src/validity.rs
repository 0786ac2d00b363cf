//! Keys with validity windows.
//!
//! A signature is judged against the key as it stood when the signature was
//! made: a key rotated out later still verifies what it signed while it was
//! current, and a compromised key is invalid from its revocation instant on.

use time::OffsetDateTime;

use crate::key::PublicKey;
use crate::timefmt::format_rfc3339;

/// When a key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First instant at which signatures by the key are accepted.
    pub not_before: OffsetDateTime,
    /// Instant from which signatures are no longer accepted (rotation end); `None` = open.
    pub not_after: Option<OffsetDateTime>,
    /// Compromise or retirement instant: signatures made at or after it are refused.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Why a key cannot vouch for a signature made at a given instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyUseError {
    /// The signature claims a time before the key's window opened.
    #[error("key not yet valid at {signed_at} (valid from {not_before})")]
    NotYetValid {
        /// Claimed signing time (RFC 3339).
        signed_at: String,
        /// Start of the window (RFC 3339).
        not_before: String,
    },
    /// The signature claims a time after the key's window closed.
    #[error("key expired at {not_after}, signature made at {signed_at}")]
    Expired {
        /// Claimed signing time (RFC 3339).
        signed_at: String,
        /// End of the window (RFC 3339).
        not_after: String,
    },
    /// The key was revoked at or before the signing time.
    #[error("key revoked at {revoked_at}, signature made at {signed_at}")]
    Revoked {
        /// Claimed signing time (RFC 3339).
        signed_at: String,
        /// Revocation instant (RFC 3339).
        revoked_at: String,
    },
}

impl KeyUseError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyUseError::NotYetValid { .. } => "KEY_NOT_YET_VALID",
            KeyUseError::Expired { .. } => "KEY_EXPIRED",
            KeyUseError::Revoked { .. } => "KEY_REVOKED",
        }
    }
}

impl Validity {
    /// A window open from `not_before` with no end.
    pub fn from(not_before: OffsetDateTime) -> Self {
        Validity {
            not_before,
            not_after: None,
            revoked_at: None,
        }
    }

    /// Whether a signature made at `signed_at` may be accepted.
    pub fn check_at(&self, signed_at: OffsetDateTime) -> Result<(), KeyUseError> {
        if let Some(revoked_at) = self.revoked_at {
            if signed_at >= revoked_at {
                return Err(KeyUseError::Revoked {
                    signed_at: format_rfc3339(signed_at),
                    revoked_at: format_rfc3339(revoked_at),
                });
            }
        }
        if signed_at < self.not_before {
            return Err(KeyUseError::NotYetValid {
                signed_at: format_rfc3339(signed_at),
                not_before: format_rfc3339(self.not_before),
            });
        }
        if let Some(not_after) = self.not_after {
            if signed_at >= not_after {
                return Err(KeyUseError::Expired {
                    signed_at: format_rfc3339(signed_at),
                    not_after: format_rfc3339(not_after),
                });
            }
        }
        Ok(())
    }
}

/// What a key may sign. One key, one purpose: a department's licences
/// are signed with its issuing key, which the hub keeps, and its envelopes
/// with its exchange key, which its own system may hold alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Licences (证照) and status lists.
    Issue,
    /// Envelopes of the exchange.
    Exchange,
    /// Both: a hub's own key (its anchor signs trust lists and its
    /// answers), and department keys made before purposes were kept apart.
    Both,
}

impl KeyPurpose {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Issue => "issue",
            KeyPurpose::Exchange => "exchange",
            KeyPurpose::Both => "both",
        }
    }

    /// Parses a stored or serialised name.
    pub fn parse(s: &str) -> Option<KeyPurpose> {
        match s {
            "issue" => Some(KeyPurpose::Issue),
            "exchange" => Some(KeyPurpose::Exchange),
            "both" => Some(KeyPurpose::Both),
            _ => None,
        }
    }

    /// Whether a key of this purpose may sign what `wanted` names.
    pub fn covers(self, wanted: KeyPurpose) -> bool {
        self == KeyPurpose::Both || self == wanted
    }
}

impl std::fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key, who controls it, what it may sign, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Controller (e.g. `urn:uscc:…` of the issuing department).
    pub controller: String,
    /// The key.
    pub public: PublicKey,
    /// Its window.
    pub validity: Validity,
    /// What it may sign.
    pub purpose: KeyPurpose,
}

impl KeyRecord {
    /// The key id: the Multikey of the public key (self-certifying).
    pub fn key_id(&self) -> String {
        self.public.to_multikey()
    }

    /// The verification method URL: `{controller}#{multikey}`.
    pub fn verification_method(&self) -> String {
        format!("{}#{}", self.controller, self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn window_and_revocation() {
        let v = Validity {
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after: Some(datetime!(2027-01-01 0:00 UTC)),
            revoked_at: Some(datetime!(2026-06-01 0:00 UTC)),
        };
        assert_eq!(
            v.check_at(datetime!(2025-12-31 23:59:59 UTC))
                .unwrap_err()
                .code(),
            "KEY_NOT_YET_VALID"
        );
        assert!(v.check_at(datetime!(2026-05-31 23:59:59 UTC)).is_ok());
        assert_eq!(
            v.check_at(datetime!(2026-06-01 0:00 UTC))
                .unwrap_err()
                .code(),
            "KEY_REVOKED"
        );
        let v = Validity {
            revoked_at: None,
            ..v
        };
        assert_eq!(
            v.check_at(datetime!(2027-01-01 0:00 UTC))
                .unwrap_err()
                .code(),
            "KEY_EXPIRED"
        );
    }
}
