//! Deterministic synthetic but checksum-valid codes for demos and tests.
//!
//! The same arguments always give the same code. The codes are well formed
//! and pass every check this crate performs, but are not known to belong to
//! any real person or organisation — do not treat them as real.

use crate::citizen_id::{CitizenId, Sex, check_date};
use crate::error::CodeError;
use crate::uscc::Uscc;

/// Largest `seq` accepted by [`uscc`] (8 decimal digits).
pub const MAX_USCC_SEQ: u32 = 99_999_999;

/// Largest `seq` accepted by [`citizen_id`] (order codes 000..=999, two per `seq`).
pub const MAX_CITIZEN_SEQ: u16 = 499;

/// GB 11714 weights for the 8-character organisation code body.
const GB11714_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Requires six ASCII digits (not checked against GB/T 2260's province range,
/// so central-authority codes such as `100000` are possible).
fn six_digits(region: &str) -> Result<(), CodeError> {
    let found = region.chars().count();
    if found != 6 {
        return Err(CodeError::RegionCodeInvalid {
            reason: format!("expected 6 digits, found {found} characters"),
        });
    }
    match region
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_digit())
    {
        Some((i, ch)) => Err(CodeError::RegionCodeInvalid {
            reason: format!("character {ch:?} at position {} is not a digit", i + 1),
        }),
        None => Ok(()),
    }
}

/// GB 11714 check character for an 8-digit organisation code body.
fn gb11714_check(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .zip(GB11714_WEIGHTS)
        .map(|(b, w)| u32::from(b.saturating_sub(b'0')) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        c => char::from_digit(c, 10).unwrap_or('0'),
    }
}

/// Builds a valid unified social credit code.
///
/// `authority` and `category` must be GB 32100 alphabet characters (lower case
/// accepted), `region` six ASCII digits, and `seq` at most [`MAX_USCC_SEQ`].
/// Positions 9-17 are `seq` as 8 digits plus its GB 11714 check character, so
/// the embedded organisation code is itself well formed.
pub fn uscc(authority: char, category: char, region: &str, seq: u32) -> Result<Uscc, CodeError> {
    six_digits(region)?;
    if seq > MAX_USCC_SEQ {
        return Err(CodeError::SynthOutOfRange {
            what: "uscc seq",
            value: u64::from(seq),
            max: u64::from(MAX_USCC_SEQ),
        });
    }
    let body = format!("{seq:08}");
    let first17 = format!(
        "{authority}{category}{region}{body}{}",
        gb11714_check(&body)
    );
    let check = Uscc::compute_check(&first17)?;
    Uscc::parse(&format!("{first17}{check}"))
}

/// Builds a valid citizen identity number.
///
/// `region` must be six ASCII digits, `birth` a real date with year in
/// `1800..=2200`, and `seq` at most [`MAX_CITIZEN_SEQ`]. The order code is
/// `2·seq + 1` for [`Sex::Male`] and `2·seq` for [`Sex::Female`].
pub fn citizen_id(
    region: &str,
    birth: (u16, u8, u8),
    seq: u16,
    sex: Sex,
) -> Result<CitizenId, CodeError> {
    six_digits(region)?;
    let (year, month, day) = birth;
    check_date(year, month, day)?;
    if seq > MAX_CITIZEN_SEQ {
        return Err(CodeError::SynthOutOfRange {
            what: "citizen id seq",
            value: u64::from(seq),
            max: u64::from(MAX_CITIZEN_SEQ),
        });
    }
    let order = seq * 2
        + match sex {
            Sex::Male => 1,
            Sex::Female => 0,
        };
    let first17 = format!("{region}{year:04}{month:02}{day:02}{order:03}");
    let check = CitizenId::compute_check(&first17)?;
    CitizenId::parse(&format!("{first17}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb11714_matches_published_codes() {
        // organisation codes embedded in the two published USCCs
        assert_eq!(gb11714_check("00250028"), '7');
        assert_eq!(gb11714_check("00001333"), '8');
    }

    #[test]
    fn deterministic() {
        let a = uscc('9', '1', "440100", 42).unwrap();
        let b = uscc('9', '1', "440100", 42).unwrap();
        assert_eq!(a, b);
        assert!(a.as_str().starts_with("9144010000000042"));
        assert_ne!(a, uscc('9', '1', "440100", 43).unwrap());
    }

    #[test]
    fn citizen_sex_and_date() {
        let m = citizen_id("441802", (1990, 2, 28), 7, Sex::Male).unwrap();
        assert_eq!(m.sex(), Sex::Male);
        assert_eq!(m.birth_date(), (1990, 2, 28));
        assert_eq!(m.order_code(), "015");
        let f = citizen_id("441802", (2000, 2, 29), 499, Sex::Female).unwrap();
        assert_eq!(f.sex(), Sex::Female);
        assert_eq!(f.order_code(), "998");
        let top = citizen_id("441802", (2000, 2, 29), 499, Sex::Male).unwrap();
        assert_eq!(top.order_code(), "999");
    }

    #[test]
    fn errors() {
        let code = |r: Result<_, CodeError>| r.map(|_: Uscc| ()).map_err(|e| e.code());
        assert_eq!(code(uscc('9', '1', "44010", 1)), Err("REGION_CODE_INVALID"));
        assert_eq!(
            code(uscc('9', '1', "4401A0", 1)),
            Err("REGION_CODE_INVALID")
        );
        assert_eq!(code(uscc('I', '1', "440100", 1)), Err("USCC_BAD_CHAR"));
        assert_eq!(
            code(uscc('9', '1', "440100", MAX_USCC_SEQ + 1)),
            Err("SYNTH_OUT_OF_RANGE")
        );
        let cid = |r: Result<CitizenId, CodeError>| r.map(|_| ()).map_err(|e| e.code());
        assert_eq!(
            cid(citizen_id("441802", (2023, 2, 29), 1, Sex::Male)),
            Err("CITIZEN_ID_BAD_DATE")
        );
        assert_eq!(
            cid(citizen_id("441802", (1990, 1, 1), 500, Sex::Male)),
            Err("SYNTH_OUT_OF_RANGE")
        );
    }
}
