//! Licence holder codes (持证主体代码) and their types, GB/T 36903.

use std::fmt;
use std::str::FromStr;

use crate::citizen_id::CitizenId;
use crate::error::CodeError;
use crate::uscc::Uscc;

/// The type of a licence holder's code (持证主体代码类型), with its GB/T 36903
/// code value. Serialises as that 3-digit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HolderCodeType {
    /// `111`: citizen identity number (公民身份号码).
    CitizenId,
    /// `001`: unified social credit code (统一社会信用代码).
    Uscc,
}

impl HolderCodeType {
    /// Parses a GB/T 36903 code value (`111` or `001`).
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        match input {
            "111" => Ok(Self::CitizenId),
            "001" => Ok(Self::Uscc),
            other => Err(CodeError::HolderCodeTypeUnknown {
                found: other.chars().take(16).collect(),
            }),
        }
    }

    /// The 3-digit GB/T 36903 code value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CitizenId => "111",
            Self::Uscc => "001",
        }
    }

    /// The Chinese name of the code type.
    pub fn name_zh(&self) -> &'static str {
        match self {
            Self::CitizenId => "公民身份号码",
            Self::Uscc => "统一社会信用代码",
        }
    }
}

impl From<HolderCodeType> for String {
    fn from(t: HolderCodeType) -> Self {
        t.as_str().to_owned()
    }
}

text_forms!(
    HolderCodeType,
    HolderCodeType::parse,
    HolderCodeType::parse,
    "a holder code type (111 or 001)"
);

/// A licence holder's code (持证主体代码): a citizen identity number or an
/// organisation's unified social credit code.
///
/// The canonical text form (used by `Display`, `FromStr` and serde) is
/// `<type>:<code>`, e.g. `001:11330105002500287C`, because the two kinds of
/// code have the same length and cannot be told apart by shape alone.
/// [`HolderCode::as_str`] returns the bare code.
///
/// `FromStr` rejects organisation codes with a wrong check character; serde
/// deserialisation accepts them (as [`HolderCode::parse_with`] with
/// `allow_legacy_uscc = true`) so that every value round-trips.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HolderCode {
    /// A natural person identified by citizen identity number.
    Citizen(CitizenId),
    /// An organisation identified by unified social credit code.
    Organisation(Uscc),
}

impl HolderCode {
    /// Parses a code of the given type; organisation codes must have a
    /// correct check character.
    pub fn parse(code_type: HolderCodeType, code: &str) -> Result<Self, CodeError> {
        Self::parse_with(code_type, code, false)
    }

    /// Parses a code of the given type; with `allow_legacy_uscc`, organisation
    /// codes with a wrong check character are accepted (see [`Uscc::parse_lenient`]).
    pub fn parse_with(
        code_type: HolderCodeType,
        code: &str,
        allow_legacy_uscc: bool,
    ) -> Result<Self, CodeError> {
        match code_type {
            HolderCodeType::CitizenId => CitizenId::parse(code).map(Self::Citizen),
            HolderCodeType::Uscc if allow_legacy_uscc => {
                Uscc::parse_lenient(code).map(Self::Organisation)
            }
            HolderCodeType::Uscc => Uscc::parse(code).map(Self::Organisation),
        }
    }

    /// The type of this code.
    pub fn code_type(&self) -> HolderCodeType {
        match self {
            Self::Citizen(_) => HolderCodeType::CitizenId,
            Self::Organisation(_) => HolderCodeType::Uscc,
        }
    }

    /// The bare code (without the type).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Citizen(id) => id.as_str(),
            Self::Organisation(code) => code.as_str(),
        }
    }

    /// Parses the `<type>:<code>` text form.
    fn parse_text(input: &str, allow_legacy_uscc: bool) -> Result<Self, CodeError> {
        let (code_type, code) = input
            .split_once(':')
            .ok_or(CodeError::HolderCodeBadFormat)?;
        Self::parse_with(HolderCodeType::parse(code_type)?, code, allow_legacy_uscc)
    }

    fn parse_text_lenient(input: &str) -> Result<Self, CodeError> {
        Self::parse_text(input, true)
    }
}

impl fmt::Display for HolderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.code_type(), self.as_str())
    }
}

impl FromStr for HolderCode {
    type Err = CodeError;

    /// Parses `<type>:<code>` strictly.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_text(s, false)
    }
}

impl From<HolderCode> for String {
    fn from(code: HolderCode) -> Self {
        code.to_string()
    }
}

impl serde::Serialize for HolderCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HolderCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = HolderCode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a holder code written as <type>:<code>")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HolderCode, E> {
                HolderCode::parse_text_lenient(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_values() {
        assert_eq!(HolderCodeType::parse("111"), Ok(HolderCodeType::CitizenId));
        assert_eq!(HolderCodeType::parse("001"), Ok(HolderCodeType::Uscc));
        assert_eq!(HolderCodeType::Uscc.to_string(), "001");
        assert_eq!(HolderCodeType::CitizenId.name_zh(), "公民身份号码");
        let e = HolderCodeType::parse("099").unwrap_err();
        assert_eq!(e.code(), "HOLDER_CODE_TYPE_UNKNOWN");
        assert!(e.to_string().contains("\"099\""));
    }

    #[test]
    fn legacy_flag() {
        let bad = "11330105002500287D";
        assert_eq!(
            HolderCode::parse(HolderCodeType::Uscc, bad).map_err(|e| e.code()),
            Err("USCC_BAD_CHECKSUM")
        );
        let h = HolderCode::parse_with(HolderCodeType::Uscc, bad, true).unwrap();
        assert_eq!(h.as_str(), bad);
        assert_eq!(h.code_type(), HolderCodeType::Uscc);
        assert_eq!(h.to_string(), format!("001:{bad}"));
    }
}
