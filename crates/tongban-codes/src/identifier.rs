//! Licence type codes (证照类型代码) and licence identifiers (证照标识, GB/T 36904).

use crate::error::CodeError;
use crate::iso7064::mod37_36_check_char;
use crate::uscc::Uscc;

/// The OID arc under which GB/T 36904 licence identifiers are allocated.
pub const LICENCE_IDENTIFIER_OID_PREFIX: &str = "1.2.156.3005.2";

/// The prefix split at its dots.
const PREFIX_PARTS: [&str; 5] = ["1", "2", "156", "3005", "2"];

/// Longest serial accepted.
const MAX_SERIAL_LEN: usize = 32;

/// A licence type code (证照类型代码): the defining authority's 18-character
/// unified social credit code followed by a 3-digit sequence number.
///
/// The authority part is parsed leniently (real authority codes may fail the
/// GB 32100 check); see [`Uscc::checksum_ok`] on [`LicenceTypeCode::authority`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LicenceTypeCode {
    code: String,
    authority: Uscc,
    sequence: u16,
}

impl LicenceTypeCode {
    /// Parses a 21-character licence type code. Lower case is accepted.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let found = input.chars().count();
        if found != 21 {
            return Err(CodeError::LicenceTypeCodeBadLength { found });
        }
        // Split after the 18th character (a char boundary even for non-ASCII input).
        let split = input.char_indices().nth(18).map_or(input.len(), |(i, _)| i);
        let (authority_part, sequence_part) = input.split_at(split);
        let authority = Uscc::parse_lenient(authority_part).map_err(|e| {
            CodeError::LicenceTypeCodeBadAuthority {
                source: Box::new(e),
            }
        })?;
        if let Some((i, ch)) = sequence_part
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_digit())
        {
            return Err(CodeError::LicenceTypeCodeBadSequence {
                reason: format!("character {ch:?} at position {} is not a digit", 19 + i),
            });
        }
        let sequence = u16::try_from(crate::ascii_digits_value(sequence_part)).unwrap_or(u16::MAX);
        Self::new(authority, sequence)
    }

    /// Builds a type code from an authority code and a sequence number in `0..=999`.
    pub fn new(authority: Uscc, sequence: u16) -> Result<Self, CodeError> {
        if sequence > 999 {
            return Err(CodeError::LicenceTypeCodeBadSequence {
                reason: format!("{sequence} does not fit in 3 digits"),
            });
        }
        Ok(Self {
            code: format!("{}{sequence:03}", authority.as_str()),
            authority,
            sequence,
        })
    }

    /// The canonical 21-character code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Positions 1-18: the defining authority's code.
    pub fn authority(&self) -> &Uscc {
        &self.authority
    }

    /// Positions 19-21: the sequence number.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }
}

impl From<LicenceTypeCode> for String {
    fn from(code: LicenceTypeCode) -> Self {
        code.code
    }
}

text_forms!(
    LicenceTypeCode,
    LicenceTypeCode::parse,
    LicenceTypeCode::parse,
    "a 21-character licence type code"
);

/// A GB/T 36904 licence identifier (证照标识):
/// `1.2.156.3005.2.{type code}.{issuer USCC}.{serial}.{version}.{check}`.
///
/// * type code: a [`LicenceTypeCode`] (21 characters);
/// * issuer: the issuing authority's [`Uscc`], parsed leniently;
/// * serial: 1 to 32 characters from `0-9A-Z`;
/// * version: exactly 3 digits;
/// * check: the ISO/IEC 7064 MOD 37,36 check character over type code,
///   issuer, serial and version concatenated without dots.
///
/// Lower-case letters are accepted on input and canonicalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LicenceIdentifier {
    text: String,
    type_code: LicenceTypeCode,
    issuer: Uscc,
    serial: String,
    version: u16,
    check: char,
}

/// Validates and canonicalises a serial number.
fn check_serial(serial: &str) -> Result<String, CodeError> {
    let len = serial.chars().count();
    if len == 0 || len > MAX_SERIAL_LEN {
        return Err(CodeError::IdentifierBadSerial {
            reason: format!("length is {len}, must be 1..={MAX_SERIAL_LEN} characters"),
        });
    }
    let mut out = String::with_capacity(len);
    for (i, ch) in serial.chars().enumerate() {
        let up = ch.to_ascii_uppercase();
        if !(up.is_ascii_digit() || up.is_ascii_uppercase()) {
            return Err(CodeError::IdentifierBadSerial {
                reason: format!("character {ch:?} at position {} is not in 0-9, A-Z", i + 1),
            });
        }
        out.push(up);
    }
    Ok(out)
}

/// Parses a 3-digit version part.
fn parse_version(part: &str) -> Result<u16, CodeError> {
    if part.len() != 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::IdentifierBadVersion {
            reason: "must be exactly 3 digits".to_owned(),
        });
    }
    Ok(u16::try_from(crate::ascii_digits_value(part)).unwrap_or(u16::MAX))
}

impl LicenceIdentifier {
    /// Builds an identifier, computing its check character. The serial is
    /// canonicalised to upper case; `version` must be in `0..=999`.
    pub fn new(
        type_code: LicenceTypeCode,
        issuer: Uscc,
        serial: &str,
        version: u16,
    ) -> Result<Self, CodeError> {
        let serial = check_serial(serial)?;
        if version > 999 {
            return Err(CodeError::IdentifierBadVersion {
                reason: format!("{version} does not fit in 3 digits"),
            });
        }
        let check = mod37_36_check_char(&format!(
            "{}{}{serial}{version:03}",
            type_code.as_str(),
            issuer.as_str()
        ))?;
        let text = format!(
            "{LICENCE_IDENTIFIER_OID_PREFIX}.{}.{}.{serial}.{version:03}.{check}",
            type_code.as_str(),
            issuer.as_str()
        );
        Ok(Self {
            text,
            type_code,
            issuer,
            serial,
            version,
            check,
        })
    }

    /// Parses an identifier, verifying the prefix, every part and the check character.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let parts: Vec<&str> = input.split('.').collect();
        if parts.get(..PREFIX_PARTS.len()) != Some(&PREFIX_PARTS[..]) {
            return Err(CodeError::IdentifierBadPrefix);
        }
        let [
            type_part,
            issuer_part,
            serial_part,
            version_part,
            check_part,
        ] = parts.get(PREFIX_PARTS.len()..).unwrap_or_default()
        else {
            return Err(CodeError::IdentifierBadShape {
                parts: parts.len().saturating_sub(PREFIX_PARTS.len()),
            });
        };
        let type_code =
            LicenceTypeCode::parse(type_part).map_err(|e| CodeError::IdentifierBadTypeCode {
                source: Box::new(e),
            })?;
        let issuer =
            Uscc::parse_lenient(issuer_part).map_err(|e| CodeError::IdentifierBadIssuer {
                source: Box::new(e),
            })?;
        let version = parse_version(version_part)?;
        let mut check_chars = check_part.chars().map(|c| c.to_ascii_uppercase());
        let found = match (check_chars.next(), check_chars.next()) {
            (Some(c), None) if c.is_ascii_digit() || c.is_ascii_uppercase() => c,
            _ => return Err(CodeError::IdentifierBadCheckChar),
        };
        let built = Self::new(type_code, issuer, serial_part, version)?;
        if built.check != found {
            return Err(CodeError::IdentifierBadCheck {
                expected: built.check,
                found,
            });
        }
        Ok(built)
    }

    /// The canonical dotted identifier.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The licence type code part.
    pub fn type_code(&self) -> &LicenceTypeCode {
        &self.type_code
    }

    /// The issuing authority's code. Parsed leniently: check
    /// [`Uscc::checksum_ok`] if it matters.
    pub fn issuer(&self) -> &Uscc {
        &self.issuer
    }

    /// The serial part (upper case).
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The version number (written as 3 digits).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The ISO/IEC 7064 MOD 37,36 check character.
    pub fn check_char(&self) -> char {
        self.check
    }
}

impl From<LicenceIdentifier> for String {
    fn from(id: LicenceIdentifier) -> Self {
        id.text
    }
}

text_forms!(
    LicenceIdentifier,
    LicenceIdentifier::parse,
    LicenceIdentifier::parse,
    "a GB/T 36904 licence identifier"
);

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLISHED: &str =
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0";

    #[test]
    fn published_identifier_parses() {
        let id = LicenceIdentifier::parse(PUBLISHED).unwrap();
        assert_eq!(id.as_str(), PUBLISHED);
        assert_eq!(id.type_code().as_str(), "11100000000013338W009");
        assert_eq!(id.type_code().authority().as_str(), "11100000000013338W");
        assert_eq!(id.type_code().sequence(), 9);
        assert_eq!(id.issuer().as_str(), "11330105002500287C");
        assert!(id.issuer().checksum_ok());
        assert_eq!(id.serial(), "2025052201");
        assert_eq!(id.version(), 2);
        assert_eq!(id.check_char(), '0');
    }

    #[test]
    fn new_reproduces_published_identifier() {
        let tc = LicenceTypeCode::parse("11100000000013338W009").unwrap();
        let issuer = Uscc::parse("11330105002500287C").unwrap();
        let id = LicenceIdentifier::new(tc, issuer, "2025052201", 2).unwrap();
        assert_eq!(id.to_string(), PUBLISHED);
    }

    #[test]
    fn type_code_split_is_safe_for_multibyte_input() {
        let e = LicenceTypeCode::parse("统一社会信用代码统一社会信用代码统一社会信").unwrap_err();
        assert_eq!(e.code(), "LICENCE_TYPE_CODE_BAD_AUTHORITY");
        let e = LicenceTypeCode::parse("11100000000013338W0九9").unwrap_err();
        assert_eq!(e.code(), "LICENCE_TYPE_CODE_BAD_SEQUENCE");
        assert!(e.to_string().contains("position 20"));
    }
}
