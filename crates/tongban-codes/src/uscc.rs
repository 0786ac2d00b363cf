//! Unified social credit code (统一社会信用代码), GB 32100-2015.

use crate::error::CodeError;
use crate::region::RegionCode;

/// The GB 32100 alphabet; a character's value is its index (0..=30).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights 3^(i-1) mod 31 for positions 1..=17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Number of characters in a complete code.
const LEN: usize = 18;

/// A unified social credit code (统一社会信用代码) as defined by GB 32100-2015.
///
/// Layout (1-based positions): 1 registration authority (登记管理部门代码),
/// 2 organisation category (机构类别代码), 3-8 region code (登记管理机关行政区划码),
/// 9-17 organisation code (主体标识码), 18 check character.
///
/// The canonical form is upper case. A value obtained from [`Uscc::parse`]
/// always has a correct check character; [`Uscc::parse_lenient`] also admits
/// codes whose check character is wrong (some legally issued early codes fail
/// it) and records that in [`Uscc::checksum_ok`].
///
/// Deserialisation with serde is lenient in the same way, so that every value
/// this type can hold survives a serialise/deserialise round trip; use
/// [`Uscc::deserialize_strict`] for fields that must reject bad checksums.
/// [`FromStr`] is strict.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc {
    code: String,
    checksum_ok: bool,
}

/// Value of an upper-case character in the GB 32100 alphabet.
fn value_of(b: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|i| u32::try_from(i).ok())
}

/// Alphabet character for a value in 0..=30.
fn char_of(v: u32) -> char {
    usize::try_from(v)
        .ok()
        .and_then(|i| ALPHABET.get(i))
        .map_or('?', |&b| char::from(b))
}

/// Validates length and alphabet; returns the upper-cased text and the values.
fn scan(input: &str, expected_len: usize) -> Result<(String, Vec<u32>), CodeError> {
    let found = input.chars().count();
    if found != expected_len {
        return Err(CodeError::UsccBadLength {
            expected: expected_len,
            found,
        });
    }
    let mut text = String::with_capacity(expected_len);
    let mut values = Vec::with_capacity(expected_len);
    for (i, ch) in input.chars().enumerate() {
        let up = ch.to_ascii_uppercase();
        let value = u8::try_from(up)
            .ok()
            .and_then(value_of)
            .ok_or(CodeError::UsccBadChar {
                position: i + 1,
                ch,
            })?;
        text.push(up);
        values.push(value);
    }
    Ok((text, values))
}

/// Check character for the 17 leading values.
fn check_for(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    char_of((31 - sum % 31) % 31)
}

impl Uscc {
    /// Parses a code, rejecting a wrong check character. Lower case is accepted.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let code = Self::parse_lenient(input)?;
        if code.checksum_ok {
            Ok(code)
        } else {
            Err(CodeError::UsccBadChecksum {
                expected: code.expected_check_char(),
                found: code.check_char(),
            })
        }
    }

    /// Parses a code, accepting a wrong check character but still enforcing
    /// length and alphabet. The result records [`Uscc::checksum_ok`].
    pub fn parse_lenient(input: &str) -> Result<Self, CodeError> {
        let (code, values) = scan(input, LEN)?;
        let expected = check_for(values.get(..LEN - 1).unwrap_or(&[]));
        let checksum_ok = code.ends_with(expected);
        Ok(Self { code, checksum_ok })
    }

    /// Computes the check character for the first 17 characters of a code.
    /// Lower case is accepted.
    pub fn compute_check(first17: &str) -> Result<char, CodeError> {
        let (_, values) = scan(first17, LEN - 1)?;
        Ok(check_for(&values))
    }

    /// Deserialises a code strictly (rejecting a wrong check character), for
    /// use with `#[serde(deserialize_with = "Uscc::deserialize_strict")]`.
    pub fn deserialize_strict<'de, D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }

    /// The canonical (upper-case) 18-character code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Whether the check character is correct. Always `true` for codes from
    /// [`Uscc::parse`].
    pub fn checksum_ok(&self) -> bool {
        self.checksum_ok
    }

    /// Position 1: registration authority code (登记管理部门代码).
    pub fn registration_authority(&self) -> char {
        self.char_at(0)
    }

    /// Position 2: organisation category code (机构类别代码).
    pub fn category(&self) -> char {
        self.char_at(1)
    }

    /// Positions 3-8: the registering authority's region code, as written.
    ///
    /// Not validated against GB/T 2260 (central authorities use `100000`);
    /// see [`Uscc::region`] for a parsed form.
    pub fn region_code(&self) -> &str {
        self.code.get(2..8).unwrap_or_default()
    }

    /// Positions 3-8 parsed as a [`RegionCode`], if they form a valid one.
    pub fn region(&self) -> Option<RegionCode> {
        RegionCode::parse(self.region_code()).ok()
    }

    /// Positions 9-17: the organisation code (主体标识码 / 组织机构代码).
    pub fn organisation_code(&self) -> &str {
        self.code.get(8..17).unwrap_or_default()
    }

    /// Position 18: the check character as written.
    pub fn check_char(&self) -> char {
        self.char_at(17)
    }

    /// The check character that positions 1-17 call for.
    pub fn expected_check_char(&self) -> char {
        let values: Vec<u32> = self
            .code
            .bytes()
            .take(LEN - 1)
            .filter_map(value_of)
            .collect();
        check_for(&values)
    }

    fn char_at(&self, index: usize) -> char {
        self.code
            .as_bytes()
            .get(index)
            .map_or('?', |&b| char::from(b))
    }
}

impl From<Uscc> for String {
    fn from(code: Uscc) -> Self {
        code.code
    }
}

text_forms!(
    Uscc,
    Uscc::parse,
    Uscc::parse_lenient,
    "an 18-character unified social credit code"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1u32;
        for expected in WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn alphabet_has_31_distinct_chars_without_ioszv() {
        let mut seen = std::collections::HashSet::new();
        for &b in ALPHABET {
            assert!(seen.insert(b));
            assert!(!b"IOSZV".contains(&b));
        }
        assert_eq!(seen.len(), 31);
    }

    #[test]
    fn published_codes_pass() {
        for s in ["11330105002500287C", "11100000000013338W"] {
            let c = Uscc::parse(s).unwrap();
            assert!(c.checksum_ok());
            assert_eq!(c.as_str(), s);
        }
    }

    #[test]
    fn accessors() {
        let c = Uscc::parse("11330105002500287C").unwrap();
        assert_eq!(c.registration_authority(), '1');
        assert_eq!(c.category(), '1');
        assert_eq!(c.region_code(), "330105");
        assert_eq!(
            c.region().map(|r| r.as_str().to_owned()),
            Some("330105".into())
        );
        assert_eq!(c.organisation_code(), "002500287");
        assert_eq!(c.check_char(), 'C');
        assert_eq!(c.expected_check_char(), 'C');
    }

    #[test]
    fn central_region_is_not_a_region_code() {
        let c = Uscc::parse("11100000000013338W").unwrap();
        assert_eq!(c.region_code(), "100000");
        assert!(c.region().is_none());
    }

    #[test]
    fn lenient_records_bad_checksum() {
        let c = Uscc::parse_lenient("11330105002500287D").unwrap();
        assert!(!c.checksum_ok());
        assert_eq!(c.expected_check_char(), 'C');
        assert_eq!(
            Uscc::parse("11330105002500287D"),
            Err(CodeError::UsccBadChecksum {
                expected: 'C',
                found: 'D'
            })
        );
    }

    #[test]
    fn compute_check_matches() {
        assert_eq!(Uscc::compute_check("11330105002500287"), Ok('C'));
        assert_eq!(Uscc::compute_check("11100000000013338"), Ok('W'));
        assert_eq!(
            Uscc::compute_check("1133010500250028"),
            Err(CodeError::UsccBadLength {
                expected: 17,
                found: 16
            })
        );
    }
}
