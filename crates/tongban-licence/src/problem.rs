//! Stable problem codes for everything that can be wrong with a licence.
//!
//! The codes are part of the public contract (CLI `--json` output, the
//! exchange protocol, other regions' hubs): never renumber or rename one.

use std::fmt;

use serde::Serialize;

tongban_seal::stable_codes! {
    /// What is wrong, as a stable code; `ALL` lists them in the order
    /// `docs/LICENCE-FORMAT.md` does.
    #[derive(Serialize)]
    #[serde(into = "&'static str")]
    pub enum ProblemCode {
        /// The input is not JSON.
        MalformedJson => "MALFORMED_JSON",
        /// An object of the input repeats a member name. Parsers disagree on
        /// which value counts (some keep the first, some the last), so the
        /// document does not say one thing: it is refused before anything else.
        DuplicateMember => "DUPLICATE_MEMBER",
        /// JSON, but not a credential of the expected shape (a field missing or of the wrong type).
        MalformedCredential => "MALFORMED_CREDENTIAL",
        /// The credential carries no proof.
        ProofMissing => "PROOF_MISSING",
        /// The proof is not a `DataIntegrityProof` with `eddsa-jcs-2022` for `assertionMethod`.
        ProofUnsupported => "PROOF_UNSUPPORTED",
        /// The proof is malformed (bad `proofValue`, bad `created`, ...).
        ProofMalformed => "PROOF_MALFORMED",
        /// The proof's `@context` is not a prefix of the credential's.
        ProofContextMismatch => "PROOF_CONTEXT_MISMATCH",
        /// The signature does not match: the credential was changed or signed by another key.
        ProofInvalid => "PROOF_INVALID",
        /// The verification method names a key the verifier does not know.
        KeyUnknown => "KEY_UNKNOWN",
        /// The key belongs to someone other than the credential's issuer.
        KeyNotIssuers => "KEY_NOT_ISSUERS",
        /// The key is not one for signing licences (e.g. a department's
        /// exchange key, which signs envelopes only).
        KeyWrongPurpose => "KEY_WRONG_PURPOSE",
        /// The key was revoked at or before the proof's creation time.
        KeyRevoked => "KEY_REVOKED",
        /// The key's window had closed at the proof's creation time.
        KeyExpired => "KEY_EXPIRED",
        /// The key's window had not opened at the proof's creation time.
        KeyNotYetValid => "KEY_NOT_YET_VALID",
        /// The proof claims a creation time in the future.
        ProofFromFuture => "PROOF_FROM_FUTURE",
        /// `validUntil` has passed.
        LicenceExpired => "LICENCE_EXPIRED",
        /// `validFrom` is in the future.
        LicenceNotYetValid => "LICENCE_NOT_YET_VALID",
        /// Revoked (注销) by its issuer.
        LicenceRevoked => "LICENCE_REVOKED",
        /// Suspended (中止) by its issuer.
        LicenceSuspended => "LICENCE_SUSPENDED",
        /// The status list the licence points at is not available to the verifier.
        StatusListUnavailable => "STATUS_LIST_UNAVAILABLE",
        /// The status list credential failed verification or does not fit the entry.
        StatusListInvalid => "STATUS_LIST_INVALID",
        /// The status list credential has expired: revocations since then are unknown.
        StatusListStale => "STATUS_LIST_STALE",
        /// The licence type (证照类型) is not known to the verifier.
        LicenceTypeUnknown => "LICENCE_TYPE_UNKNOWN",
        /// The subject data (照面信息) violates the licence type's schema.
        SubjectSchemaViolation => "SUBJECT_SCHEMA_VIOLATION",
        /// A field the type's rules declare a code (USCC, citizen ID) is not a
        /// valid one, or not written as printed.
        DataCodeInvalid => "DATA_CODE_INVALID",
        /// The subject data names someone other than the holder (持证主体).
        DataHolderMismatch => "DATA_HOLDER_MISMATCH",
        /// The person is younger on the issue date than the type requires.
        DataAgeBelowMinimum => "DATA_AGE_BELOW_MINIMUM",
        /// A birth date or sex disagrees with the citizen ID it belongs with.
        DataIdInconsistent => "DATA_ID_INCONSISTENT",
        /// The document number is not built from the holder's code as the type requires.
        DataNumberMismatch => "DATA_NUMBER_MISMATCH",
        /// The holder code (持证主体代码) is not a valid code of its declared type.
        HolderCodeInvalid => "HOLDER_CODE_INVALID",
        /// The licence type does not allow holders of this code type.
        HolderCodeTypeNotAllowed => "HOLDER_CODE_TYPE_NOT_ALLOWED",
        /// The licence identifier (证照标识) is malformed or its check character is wrong.
        IdentifierInvalid => "IDENTIFIER_INVALID",
        /// The identifier's type or issuer part disagrees with the licence's metadata.
        IdentifierMismatch => "IDENTIFIER_MISMATCH",
        /// The attachment's digest does not match the one bound into the licence.
        AttachmentDigestMismatch => "ATTACHMENT_DIGEST_MISMATCH",
        /// The attachment is not available, so its digest could not be checked.
        AttachmentUnavailable => "ATTACHMENT_UNAVAILABLE",
        /// The licence is not in the store (online verification only).
        LicenceUnknown => "LICENCE_UNKNOWN",
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
