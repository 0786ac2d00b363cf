//! The single error type of the crate.

/// Every way parsing or building a code in this crate can fail.
///
/// Each variant has a stable machine-readable identifier available through
/// [`CodeError::code`]; the `Display` text is meant for humans and may change.
///
/// Messages about citizen identity numbers never repeat the number itself, so
/// they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// A unified social credit code (or its 17-character body) has the wrong length.
    #[error(
        "unified social credit code must be {expected} characters long, found {found} characters"
    )]
    UsccBadLength {
        /// Number of characters required.
        expected: usize,
        /// Number of characters supplied.
        found: usize,
    },

    /// A unified social credit code contains a character outside the GB 32100 alphabet.
    #[error(
        "unified social credit code has invalid character {ch:?} at position {position} \
         (allowed: 0-9 and A-Z except I, O, S, V, Z)"
    )]
    UsccBadChar {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character as supplied.
        ch: char,
    },

    /// A unified social credit code fails the GB 32100 check character.
    #[error(
        "unified social credit code check character (position 18) is wrong: \
         expected {expected:?}, found {found:?}"
    )]
    UsccBadChecksum {
        /// The check character computed from positions 1-17.
        expected: char,
        /// The check character found at position 18.
        found: char,
    },

    /// A citizen identity number (or its 17-digit body) has the wrong length.
    #[error("citizen identity number must be {expected} characters long, found {found} characters")]
    CitizenIdBadLength {
        /// Number of characters required.
        expected: usize,
        /// Number of characters supplied.
        found: usize,
    },

    /// A citizen identity number contains a character that is not allowed at its position.
    #[error(
        "citizen identity number has invalid character {ch:?} at position {position} \
         (positions 1-17 must be digits, position 18 a digit or X)"
    )]
    CitizenIdBadChar {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character as supplied.
        ch: char,
    },

    /// A citizen identity number fails the GB 11643 (ISO 7064 MOD 11-2) check character.
    #[error(
        "citizen identity number check character (position 18) is wrong: \
         expected {expected:?}, found {found:?}"
    )]
    CitizenIdBadChecksum {
        /// The check character computed from positions 1-17.
        expected: char,
        /// The check character found at position 18.
        found: char,
    },

    /// Positions 7-14 of a citizen identity number are not a real calendar date.
    #[error("citizen identity number birth date (positions 7-14) is invalid: {reason}")]
    CitizenIdBadDate {
        /// Which part of the date is wrong.
        reason: &'static str,
    },

    /// A GB/T 2260 administrative region code is malformed.
    #[error("administrative region code is invalid: {reason}")]
    RegionCodeInvalid {
        /// What is wrong, naming the position and character where relevant.
        reason: String,
    },

    /// A character is outside the ISO/IEC 7064 MOD 37,36 alphabet `0-9A-Z`.
    #[error(
        "ISO/IEC 7064 MOD 37,36 input has invalid character {ch:?} at position {position} \
         (allowed: 0-9, A-Z)"
    )]
    Iso7064BadChar {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character as supplied.
        ch: char,
    },

    /// A licence type code has the wrong length.
    #[error("licence type code must be 21 characters long, found {found} characters")]
    LicenceTypeCodeBadLength {
        /// Number of characters supplied.
        found: usize,
    },

    /// The defining authority part (positions 1-18) of a licence type code is not a valid USCC.
    #[error("licence type code authority part (positions 1-18) is invalid: {source}")]
    LicenceTypeCodeBadAuthority {
        /// Why the authority code was rejected.
        #[source]
        source: Box<CodeError>,
    },

    /// The sequence part (positions 19-21) of a licence type code is malformed.
    #[error("licence type code sequence part (positions 19-21) is invalid: {reason}")]
    LicenceTypeCodeBadSequence {
        /// What is wrong, naming the position and character where relevant.
        reason: String,
    },

    /// A licence identifier does not start with the OID arc `1.2.156.3005.2`.
    #[error("licence identifier must start with the OID prefix 1.2.156.3005.2")]
    IdentifierBadPrefix,

    /// A licence identifier does not have exactly five parts after the OID prefix.
    #[error(
        "licence identifier must have 5 dot-separated parts after the OID prefix \
         (type code, issuer, serial, version, check), found {parts}"
    )]
    IdentifierBadShape {
        /// Number of parts found after the prefix.
        parts: usize,
    },

    /// The licence type code part of a licence identifier is invalid.
    #[error("licence identifier type code part is invalid: {source}")]
    IdentifierBadTypeCode {
        /// Why the type code was rejected.
        #[source]
        source: Box<CodeError>,
    },

    /// The issuer USCC part of a licence identifier is invalid.
    #[error("licence identifier issuer code part is invalid: {source}")]
    IdentifierBadIssuer {
        /// Why the issuer code was rejected.
        #[source]
        source: Box<CodeError>,
    },

    /// The serial part of a licence identifier is invalid.
    #[error("licence identifier serial part is invalid: {reason}")]
    IdentifierBadSerial {
        /// What is wrong, naming the position and character where relevant.
        reason: String,
    },

    /// The version part of a licence identifier is invalid.
    #[error("licence identifier version part is invalid: {reason}")]
    IdentifierBadVersion {
        /// What is wrong.
        reason: String,
    },

    /// The check part of a licence identifier is not a single character from `0-9A-Z`.
    #[error("licence identifier check part must be a single character from 0-9, A-Z")]
    IdentifierBadCheckChar,

    /// The check character of a licence identifier does not match its content.
    #[error("licence identifier check character is wrong: expected {expected:?}, found {found:?}")]
    IdentifierBadCheck {
        /// The ISO/IEC 7064 MOD 37,36 check character computed from the other parts.
        expected: char,
        /// The check character found in the identifier.
        found: char,
    },

    /// A holder code type is not one of the supported GB/T 36903 values.
    #[error(
        "unknown holder code type {found:?} (supported: 111 citizen identity number, 001 unified social credit code)"
    )]
    HolderCodeTypeUnknown {
        /// The type value supplied (at most its first 16 characters).
        found: String,
    },

    /// A textual holder code is not written as `<type>:<code>`.
    #[error(
        "holder code must be written as <type>:<code>, for example 001:<unified social credit code>"
    )]
    HolderCodeBadFormat,

    /// A synthetic-code parameter is outside the range the generator supports.
    #[error("synthetic code parameter {what} is {value}, maximum is {max}")]
    SynthOutOfRange {
        /// Which parameter is out of range.
        what: &'static str,
        /// The value supplied.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
}

impl CodeError {
    /// A stable SCREAMING_SNAKE_CASE identifier for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UsccBadLength { .. } => "USCC_BAD_LENGTH",
            Self::UsccBadChar { .. } => "USCC_BAD_CHAR",
            Self::UsccBadChecksum { .. } => "USCC_BAD_CHECKSUM",
            Self::CitizenIdBadLength { .. } => "CITIZEN_ID_BAD_LENGTH",
            Self::CitizenIdBadChar { .. } => "CITIZEN_ID_BAD_CHAR",
            Self::CitizenIdBadChecksum { .. } => "CITIZEN_ID_BAD_CHECKSUM",
            Self::CitizenIdBadDate { .. } => "CITIZEN_ID_BAD_DATE",
            Self::RegionCodeInvalid { .. } => "REGION_CODE_INVALID",
            Self::Iso7064BadChar { .. } => "ISO7064_BAD_CHAR",
            Self::LicenceTypeCodeBadLength { .. } => "LICENCE_TYPE_CODE_BAD_LENGTH",
            Self::LicenceTypeCodeBadAuthority { .. } => "LICENCE_TYPE_CODE_BAD_AUTHORITY",
            Self::LicenceTypeCodeBadSequence { .. } => "LICENCE_TYPE_CODE_BAD_SEQUENCE",
            Self::IdentifierBadPrefix => "IDENTIFIER_BAD_PREFIX",
            Self::IdentifierBadShape { .. } => "IDENTIFIER_BAD_SHAPE",
            Self::IdentifierBadTypeCode { .. } => "IDENTIFIER_BAD_TYPE_CODE",
            Self::IdentifierBadIssuer { .. } => "IDENTIFIER_BAD_ISSUER",
            Self::IdentifierBadSerial { .. } => "IDENTIFIER_BAD_SERIAL",
            Self::IdentifierBadVersion { .. } => "IDENTIFIER_BAD_VERSION",
            Self::IdentifierBadCheckChar => "IDENTIFIER_BAD_CHECK_CHAR",
            Self::IdentifierBadCheck { .. } => "IDENTIFIER_BAD_CHECK",
            Self::HolderCodeTypeUnknown { .. } => "HOLDER_CODE_TYPE_UNKNOWN",
            Self::HolderCodeBadFormat => "HOLDER_CODE_BAD_FORMAT",
            Self::SynthOutOfRange { .. } => "SYNTH_OUT_OF_RANGE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CodeError;

    #[test]
    fn codes_are_screaming_snake_case() {
        let samples = [
            CodeError::UsccBadLength {
                expected: 18,
                found: 3,
            },
            CodeError::IdentifierBadPrefix,
            CodeError::HolderCodeBadFormat,
            CodeError::CitizenIdBadDate { reason: "x" },
        ];
        for e in samples {
            let c = e.code();
            assert!(!c.is_empty());
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{c}"
            );
        }
    }

    #[test]
    fn nested_errors_expose_source() {
        use std::error::Error as _;
        let inner = CodeError::UsccBadChar {
            position: 3,
            ch: 'I',
        };
        let outer = CodeError::IdentifierBadIssuer {
            source: Box::new(inner.clone()),
        };
        assert_eq!(outer.code(), "IDENTIFIER_BAD_ISSUER");
        let src = outer.source().map(ToString::to_string);
        assert_eq!(src, Some(inner.to_string()));
        assert!(outer.to_string().contains("position 3"));
    }
}
