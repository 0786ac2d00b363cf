//! Free text as it enters the hub: checked against a limit, never changed.
//!
//! Two kinds of text, two rules (README, "Free text"):
//! - **names** (of the hub, a department, a resource, an item, a material,
//!   a tag, a field label, a holder, a contact, who asks): 1 to `max`
//!   characters, no white space at either end, no control characters.
//!   Padding is refused, not trimmed: a name is compared and shown, and
//!   `"甲公司 "` would look like `"甲公司"` while being another;
//! - **prose** (descriptions, reasons, stated purposes): at most `max`
//!   characters, stored exactly as given, line breaks and tabs included;
//!   other control characters are refused (PostgreSQL cannot store NUL in
//!   text, SQLite can: the two backends would disagree). Where prose is
//!   required it must hold more than white space.
//!
//! Lengths count Unicode scalar values (characters), not bytes.

use crate::error::Code;
use crate::{Error, Result};

/// Longest name of a department, hub, resource, item or material.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest reason of a status change or revocation.
pub const MAX_REASON_CHARS: usize = 500;

/// Checks a name: 1 to `max` characters, no padding, no control characters.
pub(crate) fn name(code: Code, what: &str, s: &str, max: usize) -> Result<()> {
    match name_problem(what, s, max) {
        Some(message) => Err(Error::rejected(code, message)),
        None => Ok(()),
    }
}

/// What is wrong with a name, if anything (see [`name`]).
pub(crate) fn name_problem(what: &str, s: &str, max: usize) -> Option<String> {
    let count = s.chars().count();
    if count == 0 || count > max {
        return Some(format!("{what}: 1 to {max} characters ({count} given)"));
    }
    if s.trim() != s {
        return Some(format!(
            "{what} {s:?}: no white space at either end (it is not trimmed)"
        ));
    }
    if s.chars().any(char::is_control) {
        return Some(format!("{what}: no control characters"));
    }
    None
}

/// Checks prose: at most `max` characters, no control characters but line
/// breaks and tabs; kept exactly as given.
pub(crate) fn prose(code: Code, what: &str, s: &str, max: usize) -> Result<()> {
    let count = s.chars().count();
    if count > max {
        return Err(Error::rejected(
            code,
            format!("{what}: at most {max} characters ({count} given)"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::rejected(
            code,
            format!("{what}: no control characters but line breaks and tabs"),
        ));
    }
    Ok(())
}

/// Checks the reason of a status change or revocation: `REASON_REQUIRED`
/// when blank, `REASON_INVALID` over [`MAX_REASON_CHARS`] or with control
/// characters.
pub(crate) fn reason(what: &str, s: &str) -> Result<()> {
    if s.trim().is_empty() {
        return Err(Error::rejected(
            Code::ReasonRequired,
            format!("{what} needs a reason"),
        ));
    }
    prose(Code::ReasonInvalid, "reason", s, MAX_REASON_CHARS)
}

/// An identifier as items and cases are written: 1 to 64 of
/// `A-Z a-z 0-9 . _ -` (service item codes, case ids).
pub(crate) fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What [`is_code`] asks, for messages.
pub(crate) const CODE_RULE: &str = "1 to 64 of A-Z a-z 0-9 . _ -";

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<()>) -> Option<&'static str> {
        r.err().map(|e| e.code())
    }

    #[test]
    fn names_are_refused_rather_than_trimmed() {
        let cases: &[(&str, Option<&str>)] = &[
            ("甲公司", None),
            ("a b", None),
            (&"名".repeat(10), None),
            (&"名".repeat(11), Some("ITEM_NAME_INVALID")),
            ("", Some("ITEM_NAME_INVALID")),
            (" 甲公司", Some("ITEM_NAME_INVALID")),
            ("甲公司 ", Some("ITEM_NAME_INVALID")),
            ("甲公司\u{3000}", Some("ITEM_NAME_INVALID")),
            ("甲\n公司", Some("ITEM_NAME_INVALID")),
            ("甲\0公司", Some("ITEM_NAME_INVALID")),
        ];
        for (s, expected) in cases {
            assert_eq!(
                code(name(Code::ItemNameInvalid, "name", s, 10)),
                *expected,
                "{s:?}"
            );
        }
    }

    #[test]
    fn prose_is_kept_with_its_line_breaks() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            (" 见附件\n二行\t。 ", None),
            (&"字".repeat(10), None),
            (&"字".repeat(11), Some("ITEM_NAME_INVALID")),
            ("a\0b", Some("ITEM_NAME_INVALID")),
            ("a\u{1b}[31mb", Some("ITEM_NAME_INVALID")),
        ];
        for (s, expected) in cases {
            assert_eq!(
                code(prose(Code::ItemNameInvalid, "text", s, 10)),
                *expected,
                "{s:?}"
            );
        }
        assert_eq!(code(reason("a change", " \n ")), Some("REASON_REQUIRED"));
        assert_eq!(
            code(reason("a change", &"因".repeat(MAX_REASON_CHARS + 1))),
            Some("REASON_INVALID")
        );
        assert_eq!(code(reason("a change", " 因故 ")), None);
    }
}
