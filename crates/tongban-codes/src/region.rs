//! Administrative region codes (行政区划代码), GB/T 2260.

use crate::error::CodeError;

/// Names for the handful of region codes used in project examples.
/// This is not a GB/T 2260 table; most valid codes have no entry.
const KNOWN_NAMES: &[(&str, &str)] = &[
    ("110000", "北京市"),
    ("430000", "湖南省"),
    ("430900", "益阳市"),
    ("430921", "益阳市南县"),
    ("440000", "广东省"),
    ("440100", "广州市"),
    ("440114", "广州市花都区"),
    ("440117", "广州市从化区"),
    ("441800", "清远市"),
    ("441802", "清远市清城区"),
];

/// The level of an administrative region in the GB/T 2260 hierarchy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// Province-level (省级): code `xx0000`.
    Province,
    /// Prefecture-level (地级): code `xxyy00`.
    Prefecture,
    /// County-level (县级): any other code.
    County,
}

/// A six-digit GB/T 2260 administrative region code (行政区划代码).
///
/// Only the shape is checked: six ASCII digits, a province part in `11..=82`,
/// and no county part under a zero prefecture part (`xx00yy` is rejected), so
/// that [`RegionCode::parent`] always yields a code of the level above. Whether
/// the code is currently assigned is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode {
    code: String,
}

impl RegionCode {
    /// Parses a six-digit region code.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let found = input.chars().count();
        if found != 6 {
            return Err(CodeError::RegionCodeInvalid {
                reason: format!("expected 6 digits, found {found} characters"),
            });
        }
        if let Some((i, ch)) = input.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(CodeError::RegionCodeInvalid {
                reason: format!("character {ch:?} at position {} is not a digit", i + 1),
            });
        }
        let province = crate::ascii_digits_value(input.get(0..2).unwrap_or_default());
        if !(11..=82).contains(&province) {
            return Err(CodeError::RegionCodeInvalid {
                reason: format!(
                    "province part (positions 1-2) is {province:02}, must be in 11..=82"
                ),
            });
        }
        if input.get(2..4) == Some("00") && input.get(4..6) != Some("00") {
            return Err(CodeError::RegionCodeInvalid {
                reason:
                    "county part (positions 5-6) is set but prefecture part (positions 3-4) is 00"
                        .to_owned(),
            });
        }
        Ok(Self {
            code: input.to_owned(),
        })
    }

    /// The canonical six-digit code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The level this code denotes.
    pub fn level(&self) -> RegionLevel {
        if self.code.ends_with("0000") {
            RegionLevel::Province
        } else if self.code.ends_with("00") {
            RegionLevel::Prefecture
        } else {
            RegionLevel::County
        }
    }

    /// The code one level up, or `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        let parent = match self.level() {
            RegionLevel::Province => return None,
            RegionLevel::Prefecture => format!("{}0000", self.code.get(0..2)?),
            RegionLevel::County => format!("{}00", self.code.get(0..4)?),
        };
        Some(Self { code: parent })
    }

    /// Whether `other` is this region or lies within it (a province holds
    /// its prefectures and counties, a prefecture its counties).
    pub fn contains(&self, other: &RegionCode) -> bool {
        let prefix = match self.level() {
            RegionLevel::Province => self.code.get(0..2),
            RegionLevel::Prefecture => self.code.get(0..4),
            RegionLevel::County => Some(self.code.as_str()),
        };
        prefix.is_some_and(|p| other.code.starts_with(p))
    }

    /// Whether one of the two regions lies within the other (or they are
    /// the same): the regions a body registered at one of them may act for.
    pub fn related(&self, other: &RegionCode) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The province-level code (`xx0000`) this code belongs to; a province
    /// returns itself.
    pub fn province(&self) -> RegionCode {
        Self {
            code: format!("{}0000", self.code.get(0..2).unwrap_or_default()),
        }
    }

    /// The name of the region if it is one of the few codes this crate knows
    /// (those used in project examples); `None` otherwise.
    pub fn known_name(&self) -> Option<&'static str> {
        KNOWN_NAMES
            .iter()
            .find(|(code, _)| *code == self.code)
            .map(|(_, name)| *name)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> Self {
        code.code
    }
}

text_forms!(
    RegionCode,
    RegionCode::parse,
    RegionCode::parse,
    "a six-digit administrative region code"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_parse_and_are_consistent() {
        for (code, name) in KNOWN_NAMES {
            let r = RegionCode::parse(code).unwrap();
            assert_eq!(r.known_name(), Some(*name));
            if let Some(parent) = r.parent() {
                // every parent in the table is itself in the table
                assert!(parent.known_name().is_some(), "{code}");
            }
        }
    }

    #[test]
    fn hierarchy() {
        let county = RegionCode::parse("441802").unwrap();
        assert_eq!(county.level(), RegionLevel::County);
        let pref = county.parent().unwrap();
        assert_eq!(pref.as_str(), "441800");
        assert_eq!(pref.level(), RegionLevel::Prefecture);
        let prov = pref.parent().unwrap();
        assert_eq!(prov.as_str(), "440000");
        assert_eq!(prov.level(), RegionLevel::Province);
        assert_eq!(prov.parent(), None);
        assert_eq!(county.province(), prov);
        assert_eq!(prov.province(), prov);
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "", "44010", "4401000", "44010A", "000000", "100000", "830000", "440012",
        ] {
            let e = RegionCode::parse(bad).unwrap_err();
            assert_eq!(e.code(), "REGION_CODE_INVALID", "{bad}");
        }
    }
}
