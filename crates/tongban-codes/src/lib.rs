//! Parse-don't-validate types for Chinese administrative codes.
//!
//! Every type in this crate can only be obtained by parsing (or by a
//! constructor that computes the check character), so holding a value is proof
//! that its shape and check character have been verified. All types display as
//! their canonical string, implement [`std::str::FromStr`], and serialise with
//! serde as that canonical string; deserialisation runs the parser.
//!
//! | Type | Standard | Notes |
//! |------|----------|-------|
//! | [`Uscc`] | GB 32100-2015 统一社会信用代码 | strict and lenient (legacy) parsing |
//! | [`CitizenId`] | GB 11643-1999 公民身份号码 | check character and birth date |
//! | [`RegionCode`] | GB/T 2260 行政区划代码 | shape and hierarchy only |
//! | [`LicenceTypeCode`] | 证照类型代码 | authority USCC + 3-digit sequence |
//! | [`LicenceIdentifier`] | GB/T 36904 证照标识 | OID form with ISO/IEC 7064 MOD 37,36 check |
//! | [`HolderCodeType`], [`HolderCode`] | GB/T 36903 持证主体代码 | citizen or organisation |
//!
//! The crate performs no IO and never reads the clock. Failures are reported
//! as [`CodeError`], whose [`CodeError::code`] gives a stable identifier.
//!
//! ```
//! use tongban_codes::{LicenceIdentifier, Uscc};
//!
//! let id: LicenceIdentifier =
//!     "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0".parse()?;
//! assert_eq!(id.issuer().as_str(), "11330105002500287C");
//! assert_eq!(id.version(), 2);
//!
//! let issuer = Uscc::parse("11330105002500287c")?;
//! assert_eq!(issuer.region_code(), "330105");
//! # Ok::<(), tongban_codes::CodeError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The text forms of a code type that has `as_str`: `Display` writes the
/// canonical string, `FromStr` is the strict parser, `Serialize` writes the
/// canonical string and `Deserialize` reads through the given parser (the
/// strict one, or a lenient one where input may vary in case), expecting
/// what the literal says.
macro_rules! text_forms {
    ($ty:ty, $parse:path, $deserialize:path, $expecting:literal) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::CodeError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $parse(s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                struct Visitor;

                impl ::serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        $deserialize(v).map_err(E::custom)
                    }
                }

                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

mod citizen_id;
mod error;
mod holder;
mod identifier;
pub mod iso7064;
mod region;
pub mod synth;
mod uscc;

pub use citizen_id::{CitizenId, Sex};
pub use error::CodeError;
pub use holder::{HolderCode, HolderCodeType};
pub use identifier::{LICENCE_IDENTIFIER_OID_PREFIX, LicenceIdentifier, LicenceTypeCode};
pub use iso7064::{mod37_36_check_char, mod37_36_is_valid};
pub use region::{RegionCode, RegionLevel};
pub use uscc::Uscc;

/// Parses a run of ASCII digits into a number; callers guarantee the input is
/// short and all digits.
pub(crate) fn ascii_digits_value(s: &str) -> u32 {
    s.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(u32::from(b.saturating_sub(b'0')))
    })
}
