//! Stable codes: an enum whose every variant is written once, with its
//! documentation and the string it travels as. Codes are part of the
//! public contract (the exchange protocol, the CLI's `--json` output and
//! exit codes, other regions' hubs): a code is added, never renamed or
//! removed.

/// Declares an enum of stable codes. Each variant is written once, with
/// its doc comment and its string; the macro derives `as_str`,
/// `from_code` (the exact string, or `None`), `ALL` (every code, in the
/// order written) and `Display`.
///
/// ```
/// tongban_seal::stable_codes! {
///     /// Why a kettle refused.
///     pub enum KettleCode {
///         /// There is no water in it.
///         Empty => "KETTLE_EMPTY",
///     }
/// }
/// assert_eq!(KettleCode::Empty.as_str(), "KETTLE_EMPTY");
/// assert_eq!(KettleCode::from_code("KETTLE_EMPTY"), Some(KettleCode::Empty));
/// assert_eq!(KettleCode::ALL, &[KettleCode::Empty]);
/// ```
#[macro_export]
macro_rules! stable_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$doc:meta])* $variant:ident => $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        $vis enum $name {
            $($(#[$doc])* $variant,)*
        }

        impl $name {
            /// Every code, in the order they are declared.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The code as it travels, e.g. `KEY_UNKNOWN`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The code a string names, if it is one of these.
            pub fn from_code(s: &str) -> ::core::option::Option<$name> {
                match s {
                    $($text => ::core::option::Option::Some($name::$variant),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::convert::From<$name> for &'static str {
            fn from(code: $name) -> &'static str {
                code.as_str()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::stable_codes! {
        /// Codes for the test.
        pub(crate) enum Sample {
            /// The first.
            First => "FIRST_CODE",
            /// The second.
            Second => "SECOND_CODE",
        }
    }

    #[test]
    fn codes_round_trip_in_declared_order() {
        assert_eq!(Sample::ALL, &[Sample::First, Sample::Second]);
        for c in Sample::ALL {
            assert_eq!(Sample::from_code(c.as_str()), Some(*c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(Sample::from_code("first_code"), None);
        assert_eq!(<&str>::from(Sample::Second), "SECOND_CODE");
    }
}
