//! Shared helpers.

use std::fmt::Display;

use tongban_codes::CodeError;

/// Data-driven check: `expected` is `Ok(canonical form)` or `Err(error code)`.
#[track_caller]
pub fn check<T, F>(parse: F, input: &str, expected: Result<&str, &str>)
where
    T: Display,
    F: Fn(&str) -> Result<T, CodeError>,
{
    let got = parse(input).map(|v| v.to_string()).map_err(|e| e.code());
    assert_eq!(got.as_deref().map_err(|e| *e), expected, "input {input:?}");
}

/// Asserts the error code and that the message mentions every fragment.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(
    result: Result<T, CodeError>,
    code: &str,
    fragments: &[&str],
) -> CodeError {
    let err = result.unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    let msg = err.to_string();
    for f in fragments {
        assert!(msg.contains(f), "message {msg:?} lacks {f:?}");
    }
    err
}
