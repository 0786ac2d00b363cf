//! Stable problem codes for everything that can be wrong with a licence.
//!
//! The codes are part of the public contract (CLI `--json` output, the
//! exchange protocol, other regions' hubs): never renumber or rename one.

use std::fmt;

use serde::Serialize;

/// What is wrong, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
#[non_exhaustive]
pub enum ProblemCode {
    /// The input is not JSON.
    MalformedJson,
    /// An object of the input repeats a member name. Parsers disagree on
    /// which value counts (some keep the first, some the last), so the
    /// document does not say one thing: it is refused before anything else.
    DuplicateMember,
    /// JSON, but not a credential of the expected shape (a field missing or of the wrong type).
    MalformedCredential,
    /// The credential carries no proof.
    ProofMissing,
    /// The proof is not a `DataIntegrityProof` with `eddsa-jcs-2022` for `assertionMethod`.
    ProofUnsupported,
    /// The proof is malformed (bad `proofValue`, bad `created`, ...).
    ProofMalformed,
    /// The proof's `@context` is not a prefix of the credential's.
    ProofContextMismatch,
    /// The signature does not match: the credential was changed or signed by another key.
    ProofInvalid,
    /// The verification method names a key the verifier does not know.
    KeyUnknown,
    /// The key belongs to someone other than the credential's issuer.
    KeyNotIssuers,
    /// The key is not one for signing licences (e.g. a department's
    /// exchange key, which signs envelopes only).
    KeyWrongPurpose,
    /// The key was revoked at or before the proof's creation time.
    KeyRevoked,
    /// The key's window had closed at the proof's creation time.
    KeyExpired,
    /// The key's window had not opened at the proof's creation time.
    KeyNotYetValid,
    /// The proof claims a creation time in the future.
    ProofFromFuture,
    /// `validUntil` has passed.
    LicenceExpired,
    /// `validFrom` is in the future.
    LicenceNotYetValid,
    /// Revoked (注销) by its issuer.
    LicenceRevoked,
    /// Suspended (中止) by its issuer.
    LicenceSuspended,
    /// The status list the licence points at is not available to the verifier.
    StatusListUnavailable,
    /// The status list credential failed verification or does not fit the entry.
    StatusListInvalid,
    /// The status list credential has expired: revocations since then are unknown.
    StatusListStale,
    /// The licence type (证照类型) is not known to the verifier.
    LicenceTypeUnknown,
    /// The subject data (照面信息) violates the licence type's schema.
    SubjectSchemaViolation,
    /// The holder code (持证主体代码) is not a valid code of its declared type.
    HolderCodeInvalid,
    /// The licence type does not allow holders of this code type.
    HolderCodeTypeNotAllowed,
    /// The licence identifier (证照标识) is malformed or its check character is wrong.
    IdentifierInvalid,
    /// The identifier's type or issuer part disagrees with the licence's metadata.
    IdentifierMismatch,
    /// The attachment's digest does not match the one bound into the licence.
    AttachmentDigestMismatch,
    /// The attachment is not available, so its digest could not be checked.
    AttachmentUnavailable,
    /// The licence is not in the store (online verification only).
    LicenceUnknown,
    /// A field the type's rules declare a code (USCC, citizen ID) is not a
    /// valid one, or not written as printed.
    DataCodeInvalid,
    /// The subject data names someone other than the holder (持证主体).
    DataHolderMismatch,
    /// The person is younger on the issue date than the type requires.
    DataAgeBelowMinimum,
    /// A birth date or sex disagrees with the citizen ID it belongs with.
    DataIdInconsistent,
    /// The document number is not built from the holder's code as the type requires.
    DataNumberMismatch,
}

impl ProblemCode {
    /// Every code, in the order `docs/LICENCE-FORMAT.md` lists them.
    pub const ALL: [ProblemCode; 36] = {
        use ProblemCode::*;
        [
            MalformedJson,
            DuplicateMember,
            MalformedCredential,
            ProofMissing,
            ProofUnsupported,
            ProofMalformed,
            ProofContextMismatch,
            ProofInvalid,
            KeyUnknown,
            KeyNotIssuers,
            KeyWrongPurpose,
            KeyRevoked,
            KeyExpired,
            KeyNotYetValid,
            ProofFromFuture,
            LicenceExpired,
            LicenceNotYetValid,
            LicenceRevoked,
            LicenceSuspended,
            StatusListUnavailable,
            StatusListInvalid,
            StatusListStale,
            LicenceTypeUnknown,
            SubjectSchemaViolation,
            DataCodeInvalid,
            DataHolderMismatch,
            DataAgeBelowMinimum,
            DataIdInconsistent,
            DataNumberMismatch,
            HolderCodeInvalid,
            HolderCodeTypeNotAllowed,
            IdentifierInvalid,
            IdentifierMismatch,
            AttachmentDigestMismatch,
            AttachmentUnavailable,
            LicenceUnknown,
        ]
    };

    /// The stable string form, e.g. `PROOF_INVALID`.
    pub fn as_str(self) -> &'static str {
        use ProblemCode::*;
        match self {
            MalformedJson => "MALFORMED_JSON",
            DuplicateMember => "DUPLICATE_MEMBER",
            MalformedCredential => "MALFORMED_CREDENTIAL",
            ProofMissing => "PROOF_MISSING",
            ProofUnsupported => "PROOF_UNSUPPORTED",
            ProofMalformed => "PROOF_MALFORMED",
            ProofContextMismatch => "PROOF_CONTEXT_MISMATCH",
            ProofInvalid => "PROOF_INVALID",
            KeyUnknown => "KEY_UNKNOWN",
            KeyWrongPurpose => "KEY_WRONG_PURPOSE",
            KeyNotIssuers => "KEY_NOT_ISSUERS",
            KeyRevoked => "KEY_REVOKED",
            KeyExpired => "KEY_EXPIRED",
            KeyNotYetValid => "KEY_NOT_YET_VALID",
            ProofFromFuture => "PROOF_FROM_FUTURE",
            LicenceExpired => "LICENCE_EXPIRED",
            LicenceNotYetValid => "LICENCE_NOT_YET_VALID",
            LicenceRevoked => "LICENCE_REVOKED",
            LicenceSuspended => "LICENCE_SUSPENDED",
            StatusListUnavailable => "STATUS_LIST_UNAVAILABLE",
            StatusListInvalid => "STATUS_LIST_INVALID",
            StatusListStale => "STATUS_LIST_STALE",
            LicenceTypeUnknown => "LICENCE_TYPE_UNKNOWN",
            SubjectSchemaViolation => "SUBJECT_SCHEMA_VIOLATION",
            HolderCodeInvalid => "HOLDER_CODE_INVALID",
            HolderCodeTypeNotAllowed => "HOLDER_CODE_TYPE_NOT_ALLOWED",
            IdentifierInvalid => "IDENTIFIER_INVALID",
            IdentifierMismatch => "IDENTIFIER_MISMATCH",
            AttachmentDigestMismatch => "ATTACHMENT_DIGEST_MISMATCH",
            AttachmentUnavailable => "ATTACHMENT_UNAVAILABLE",
            LicenceUnknown => "LICENCE_UNKNOWN",
            DataCodeInvalid => "DATA_CODE_INVALID",
            DataHolderMismatch => "DATA_HOLDER_MISMATCH",
            DataAgeBelowMinimum => "DATA_AGE_BELOW_MINIMUM",
            DataIdInconsistent => "DATA_ID_INCONSISTENT",
            DataNumberMismatch => "DATA_NUMBER_MISMATCH",
        }
    }
}

impl From<ProblemCode> for &'static str {
    fn from(code: ProblemCode) -> Self {
        code.as_str()
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with a licence: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable code.
    pub code: ProblemCode,
    /// Human-readable detail.
    pub message: String,
}

impl Problem {
    /// Builds a problem.
    pub fn new(code: ProblemCode, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Problem {}
