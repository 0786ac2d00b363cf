//! Citizen identity number (公民身份号码), GB 11643-1999.

use crate::error::CodeError;
use crate::region::RegionCode;

/// Weights 2^(18-i) mod 11 for positions 1..=17 (ISO 7064 MOD 11-2).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character indexed by the weighted sum mod 11.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Number of characters in a complete number.
const LEN: usize = 18;

/// Sex encoded by the parity of position 17 of a citizen identity number.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Odd digit at position 17.
    Male,
    /// Even digit at position 17.
    Female,
}

/// An 18-character citizen identity number (公民身份号码) per GB 11643-1999.
///
/// Layout: positions 1-6 address code (region), 7-14 birth date `YYYYMMDD`,
/// 15-17 order code (odd position 17 = male), 18 check character (digit or
/// `X`). Parsing verifies the check character and that the birth date is a
/// real calendar date with year in `1800..=2200`. The region part is not
/// checked against GB/T 2260 (numbers issued under since-abolished regions
/// remain valid). The canonical form uses upper-case `X`.
///
/// `Debug` prints the full number; avoid logging values of this type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CitizenId {
    code: String,
}

/// Validates length and characters; returns the canonical text.
/// `last_may_be_x` allows `X`/`x` in the final position.
fn scan(input: &str, expected_len: usize, last_may_be_x: bool) -> Result<String, CodeError> {
    let found = input.chars().count();
    if found != expected_len {
        return Err(CodeError::CitizenIdBadLength {
            expected: expected_len,
            found,
        });
    }
    let mut text = String::with_capacity(expected_len);
    for (i, ch) in input.chars().enumerate() {
        let is_last = i + 1 == expected_len;
        if ch.is_ascii_digit() {
            text.push(ch);
        } else if is_last && last_may_be_x && (ch == 'X' || ch == 'x') {
            text.push('X');
        } else {
            return Err(CodeError::CitizenIdBadChar {
                position: i + 1,
                ch,
            });
        }
    }
    Ok(text)
}

/// Check character for 17 ASCII digits.
fn check_for(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b.saturating_sub(b'0')) * w)
        .sum();
    usize::try_from(sum % 11)
        .ok()
        .and_then(|i| CHECK_CHARS.get(i))
        .map_or('?', |&b| char::from(b))
}

/// Whether `year` is a Gregorian leap year.
fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Checks that a date is a real calendar date with year in 1800..=2200.
pub(crate) fn check_date(year: u16, month: u8, day: u8) -> Result<(), CodeError> {
    let bad = |reason| Err(CodeError::CitizenIdBadDate { reason });
    if !(1800..=2200).contains(&year) {
        return bad("year must be in 1800..=2200");
    }
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return bad("month must be in 01..=12"),
    };
    if day == 0 || day > days_in_month {
        return bad("day does not exist in that month");
    }
    Ok(())
}

/// Splits `YYYYMMDD` digits into numbers.
fn split_date(yyyymmdd: &str) -> (u16, u8, u8) {
    let part = |range: std::ops::Range<usize>| {
        crate::ascii_digits_value(yyyymmdd.get(range).unwrap_or_default())
    };
    (
        u16::try_from(part(0..4)).unwrap_or(u16::MAX),
        u8::try_from(part(4..6)).unwrap_or(u8::MAX),
        u8::try_from(part(6..8)).unwrap_or(u8::MAX),
    )
}

impl CitizenId {
    /// Parses a citizen identity number. A lower-case `x` check character is
    /// accepted and canonicalised to `X`.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let code = scan(input, LEN, true)?;
        let body = code.get(..LEN - 1).unwrap_or_default();
        let expected = check_for(body);
        let found = code.chars().last().unwrap_or('?');
        if expected != found {
            return Err(CodeError::CitizenIdBadChecksum { expected, found });
        }
        let (y, m, d) = split_date(code.get(6..14).unwrap_or_default());
        check_date(y, m, d)?;
        Ok(Self { code })
    }

    /// Computes the check character for the first 17 digits of a number.
    pub fn compute_check(first17: &str) -> Result<char, CodeError> {
        let body = scan(first17, LEN - 1, false)?;
        Ok(check_for(&body))
    }

    /// The canonical 18-character number.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Positions 1-6: the address (region) code, as written.
    pub fn region_code(&self) -> &str {
        self.code.get(0..6).unwrap_or_default()
    }

    /// Positions 1-6 parsed as a [`RegionCode`], if they form a valid one.
    pub fn region(&self) -> Option<RegionCode> {
        RegionCode::parse(self.region_code()).ok()
    }

    /// Positions 7-14: the birth date as `(year, month, day)`.
    pub fn birth_date(&self) -> (u16, u8, u8) {
        split_date(self.code.get(6..14).unwrap_or_default())
    }

    /// Positions 15-17: the order code (顺序码).
    pub fn order_code(&self) -> &str {
        self.code.get(14..17).unwrap_or_default()
    }

    /// The sex encoded by position 17 (odd = male).
    pub fn sex(&self) -> Sex {
        match self.code.as_bytes().get(16) {
            Some(b) if (b.saturating_sub(b'0')) % 2 == 1 => Sex::Male,
            _ => Sex::Female,
        }
    }

    /// Position 18: the check character (digit or `X`).
    pub fn check_char(&self) -> char {
        self.code.chars().last().unwrap_or('?')
    }
}

impl From<CitizenId> for String {
    fn from(id: CitizenId) -> Self {
        id.code
    }
}

text_forms!(
    CitizenId,
    CitizenId::parse,
    CitizenId::parse,
    "an 18-character citizen identity number"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_two_mod_11() {
        for (i, w) in WEIGHTS.iter().enumerate() {
            let exp = u32::try_from(17 - i).unwrap();
            assert_eq!(2u32.pow(exp) % 11, *w);
        }
    }

    #[test]
    fn gb11643_standard_example() {
        // The worked example printed in GB 11643-1999.
        assert_eq!(CitizenId::compute_check("11010519491231002"), Ok('X'));
        let id = CitizenId::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), (1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.order_code(), "002");
    }

    #[test]
    fn leap_years() {
        assert!(is_leap(2000));
        assert!(is_leap(2024));
        assert!(!is_leap(1900));
        assert!(!is_leap(2100));
        assert!(!is_leap(2023));
        assert!(check_date(2000, 2, 29).is_ok());
        assert!(check_date(1900, 2, 29).is_err());
        assert!(check_date(2024, 2, 29).is_ok());
        assert!(check_date(2023, 2, 29).is_err());
        assert!(check_date(2023, 4, 31).is_err());
        assert!(check_date(2023, 12, 31).is_ok());
        assert!(check_date(2023, 13, 1).is_err());
        assert!(check_date(2023, 0, 1).is_err());
        assert!(check_date(2023, 1, 0).is_err());
        assert!(check_date(1799, 12, 31).is_err());
        assert!(check_date(1800, 1, 1).is_ok());
        assert!(check_date(2200, 12, 31).is_ok());
        assert!(check_date(2201, 1, 1).is_err());
    }

    #[test]
    fn every_day_count_matches_a_reference_walk() {
        // Walk 1800-01-01..=2200-12-31 day by day and compare with check_date.
        let mut valid = 0u32;
        for y in 1800u16..=2200 {
            for m in 1u8..=12 {
                for d in 1u8..=31 {
                    if check_date(y, m, d).is_ok() {
                        valid += 1;
                    }
                }
            }
        }
        // 401 years: 97 leap years in 1800..=2200 (2000 is leap; 1800, 1900, 2100, 2200 are not).
        assert_eq!(valid, 401 * 365 + 97);
    }
}
