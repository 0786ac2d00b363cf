//! RFC 3339 timestamps as licences and envelopes carry them.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Formats `t` in UTC with second precision: `2026-11-25T08:30:00Z`.
///
/// Sub-second digits are dropped so that every party canonicalises the same
/// string (XML Schema `dateTimeStamp`, as VC 2.0 uses).
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Parses an RFC 3339 timestamp with an explicit offset.
pub fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(s, &Rfc3339)
}

/// Truncates `t` to whole seconds (what [`format_rfc3339`] keeps).
pub fn truncate_to_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trip() {
        let t = datetime!(2026-11-25 08:30:00.123 +08:00);
        let s = format_rfc3339(t);
        assert_eq!(s, "2026-11-25T00:30:00Z");
        assert_eq!(parse_rfc3339(&s).unwrap(), truncate_to_seconds(t));
        assert!(parse_rfc3339("2026-11-25").is_err());
    }
}
