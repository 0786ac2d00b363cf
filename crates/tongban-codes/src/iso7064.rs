//! ISO/IEC 7064 MOD 37,36 — the hybrid check-character system with M = 36
//! over the alphabet `0-9A-Z` (values 0..=35), used by GB/T 36904 licence
//! identifiers.
//!
//! Recurrence, starting with `p = M`: for each character `c`,
//! `s = (p + value(c)) mod M` (with `s = M` when that is 0), then
//! `p = (2·s) mod (M + 1)`. The check value is `(M + 1 − p) mod M`.
//!
//! A string ending in its check character is valid when the last
//! intermediate `s` — the one computed from the check character — equals 1
//! (equivalently, the final `p` equals 2).
//!
//! Error detection: every single substitution is detected (each step is a
//! bijection in both `p` and the character value). Adjacent transpositions
//! are detected except in a small number of cases, all involving two
//! characters whose values differ by exactly 1 (mod 36), such as `01` ↔ `10`
//! or `IJ` ↔ `JI`.

use crate::error::CodeError;

/// The modulus M.
const M: u32 = 36;

/// The alphabet; a character's value is its index.
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Value of a character, or an error naming its 1-based position.
fn value(position: usize, ch: char) -> Result<u32, CodeError> {
    match ch {
        '0'..='9' => Ok(u32::from(ch) - u32::from('0')),
        'A'..='Z' => Ok(u32::from(ch) - u32::from('A') + 10),
        _ => Err(CodeError::Iso7064BadChar { position, ch }),
    }
}

/// One step of the recurrence: returns `(s, p')`.
fn step(p: u32, v: u32) -> (u32, u32) {
    let s = match (p + v) % M {
        0 => M,
        s => s,
    };
    (s, (s * 2) % (M + 1))
}

/// Computes the MOD 37,36 check character for `s` (upper-case `0-9A-Z` only).
pub fn mod37_36_check_char(s: &str) -> Result<char, CodeError> {
    let mut p = M;
    for (i, ch) in s.chars().enumerate() {
        p = step(p, value(i + 1, ch)?).1;
    }
    let check = (M + 1 - p) % M;
    Ok(usize::try_from(check)
        .ok()
        .and_then(|i| ALPHABET.get(i))
        .map_or('?', |&b| char::from(b)))
}

/// Whether `with_check` (data followed by its check character, upper-case
/// `0-9A-Z` only) satisfies MOD 37,36. Empty or invalid input is not valid.
pub fn mod37_36_is_valid(with_check: &str) -> bool {
    let mut p = M;
    let mut last_s = None;
    for (i, ch) in with_check.chars().enumerate() {
        let Ok(v) = value(i + 1, ch) else {
            return false;
        };
        let (s, next) = step(p, v);
        last_s = Some(s);
        p = next;
    }
    last_s == Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_identifier_check() {
        let body = "11100000000013338W009".to_owned() + "11330105002500287C" + "2025052201" + "002";
        assert_eq!(mod37_36_check_char(&body), Ok('0'));
        assert!(mod37_36_is_valid(&(body.clone() + "0")));
        assert!(!mod37_36_is_valid(&(body + "1")));
    }

    #[test]
    fn appended_check_makes_string_valid() {
        for s in ["", "0", "A", "ZZZZ", "1234567890", "HELLOWORLD", "Z0Z0Z0"] {
            let c = mod37_36_check_char(s).unwrap();
            let full = format!("{s}{c}");
            assert!(mod37_36_is_valid(&full), "{full}");
        }
    }

    #[test]
    fn rejects_characters_outside_alphabet() {
        assert_eq!(
            mod37_36_check_char("AB-C"),
            Err(CodeError::Iso7064BadChar {
                position: 3,
                ch: '-'
            })
        );
        assert_eq!(
            mod37_36_check_char("abc").map_err(|e| e.code()),
            Err("ISO7064_BAD_CHAR")
        );
        assert!(!mod37_36_is_valid(""));
        assert!(!mod37_36_is_valid("a1"));
    }

    /// Exhaustive over every reachable state and every character pair.
    #[test]
    fn error_detection_exhaustive() {
        let states: Vec<u32> = (1..=M).collect();
        let mut undetected = 0u32;
        let mut total = 0u32;
        for &p in &states {
            for a in 0..M {
                for b in 0..M {
                    if a == b {
                        continue;
                    }
                    // substitution: different values from the same state give
                    // different states
                    assert_ne!(step(p, a), step(p, b));
                    // transposition of adjacent data characters a, b
                    total += 1;
                    let ab = step(step(p, a).1, b).1;
                    let ba = step(step(p, b).1, a).1;
                    if ab == ba {
                        undetected += 1;
                        let diff = (a + M - b) % M;
                        assert!(diff == 1 || diff == M - 1, "p={p} a={a} b={b}");
                    }
                }
            }
        }
        assert_eq!(total, 36 * 36 * 35);
        assert_eq!(undetected, 72);
    }
}
