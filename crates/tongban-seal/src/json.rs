//! Strict JSON reading: the one parser every byte of JSON that enters
//! Tongban goes through (frames and envelopes, licences to verify, trust
//! files, requests, audit archives).
//!
//! `serde_json` accepts an object that repeats a member name and keeps the
//! last value; other parsers keep the first. A document with two `name`
//! members therefore means different things to different readers: a
//! licence could verify here while another tool shows the other name. So
//! a repeated member is refused (I-JSON, RFC 7493 §2.3), wherever it is.
//! Member names are compared after unescaping: `"a"` and `"\u0061"` are
//! the same name.
//!
//! Everything else is `serde_json`'s own grammar and limits, unchanged:
//! UTF-8 only, no lone surrogate in an escape, nesting at most 128 arrays
//! and objects deep, nothing but white space after the value. A document
//! without repeated members gives exactly the `Value` that
//! `serde_json::from_slice` gives.
//!
//! The cost over `serde_json::from_slice` is one map lookup per member,
//! which the insertion makes anyway (the entry is looked up once and
//! filled): in `benches/json.rs` the two differ by less than the runs'
//! own noise, on a `send` frame and on a signed credential alike.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Most arrays and objects nested in one another (serde_json's own limit).
pub const MAX_DEPTH: usize = 128;

/// Why bytes were refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StrictJsonError {
    /// Not JSON: a syntax error, invalid UTF-8, a lone surrogate, nesting
    /// deeper than [`MAX_DEPTH`], or bytes after the value.
    #[error("{0}")]
    Malformed(serde_json::Error),
    /// An object repeats a member name.
    #[error(
        "member {name:?} appears twice in one object (at {pointer}, line {line}, column {column})"
    )]
    DuplicateMember {
        /// JSON pointer (RFC 6901) to the repeated member.
        pointer: String,
        /// The repeated name, unescaped.
        name: String,
        /// Line of the second occurrence (1-based).
        line: usize,
        /// Column just after its name (1-based).
        column: usize,
    },
}

impl StrictJsonError {
    /// Stable machine-readable code: `MALFORMED_JSON` or `DUPLICATE_MEMBER`.
    pub fn code(&self) -> &'static str {
        match self {
            StrictJsonError::Malformed(_) => "MALFORMED_JSON",
            StrictJsonError::DuplicateMember { .. } => "DUPLICATE_MEMBER",
        }
    }

    /// Whether the document repeats a member name.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, StrictJsonError::DuplicateMember { .. })
    }

    /// The JSON pointer of the repeated member, if that is the problem.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            StrictJsonError::DuplicateMember { pointer, .. } => Some(pointer),
            StrictJsonError::Malformed(_) => None,
        }
    }
}

/// Parses `bytes` as one JSON value, refusing repeated member names.
///
/// The refusal names the first problem in reading order: text that is
/// repeats a name and, further on, breaks the grammar is
/// `DuplicateMember`.
pub fn from_slice_strict(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = read(&mut de)?;
    de.end().map_err(StrictJsonError::Malformed)?;
    Ok(value)
}

/// Parses `text` as one JSON value, refusing repeated member names.
pub fn from_str_strict(text: &str) -> Result<Value, StrictJsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = read(&mut de)?;
    de.end().map_err(StrictJsonError::Malformed)?;
    Ok(value)
}

/// A typed document that does not fit its type: a member unknown to it
/// (with `deny_unknown_fields`), missing, or of the wrong type.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ShapeError {
    /// Where, as a dotted path (`holder.codeType`, `materials[2].name`);
    /// `.` for the document itself.
    pub path: String,
    /// What is wrong, naming the path.
    pub message: String,
}

/// Reads a parsed document as `T`, naming the member that does not fit.
///
/// `serde_json::from_value` says "invalid type: integer, expected a
/// string" without saying where; a request's author needs to know which
/// member it is.
pub fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        ShapeError { path, message }
    })
}

fn read<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
) -> Result<Value, StrictJsonError> {
    let mut trail = Trail::default();
    match (ValueSeed { trail: &mut trail }).deserialize(de) {
        Ok(value) => Ok(value),
        Err(e) => Err(match trail.duplicate {
            Some(name) => {
                let mut pointer = String::new();
                for segment in trail.path.iter().rev() {
                    pointer.push('/');
                    push_escaped(&mut pointer, segment);
                }
                pointer.push('/');
                push_escaped(&mut pointer, &name);
                StrictJsonError::DuplicateMember {
                    pointer,
                    name,
                    line: e.line(),
                    column: e.column(),
                }
            }
            None => StrictJsonError::Malformed(e),
        }),
    }
}

/// RFC 6901 escaping of one reference token.
fn push_escaped(out: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Where a refusal happened, filled in only on the way out of a failed
/// parse: the repeated name, then the enclosing members and indices from
/// the innermost outwards. Nothing is recorded while parsing succeeds.
#[derive(Default)]
struct Trail {
    duplicate: Option<String>,
    path: Vec<String>,
}

struct ValueSeed<'a> {
    trail: &'a mut Trail,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As serde_json's own `Value` does (a finite double always maps).
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let index = out.len();
            match seq.next_element_seed(ValueSeed {
                trail: &mut *self.trail,
            }) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(Value::Array(out)),
                Err(e) => {
                    if self.trail.duplicate.is_some() {
                        self.trail.path.push(index.to_string());
                    }
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            match out.entry(name) {
                Entry::Vacant(slot) => {
                    match map.next_value_seed(ValueSeed {
                        trail: &mut *self.trail,
                    }) {
                        Ok(v) => {
                            slot.insert(v);
                        }
                        Err(e) => {
                            if self.trail.duplicate.is_some() {
                                self.trail.path.push(slot.key().clone());
                            }
                            return Err(e);
                        }
                    }
                }
                Entry::Occupied(slot) => {
                    let message = format!("member {:?} appears twice in one object", slot.key());
                    self.trail.duplicate = Some(slot.key().clone());
                    return Err(de::Error::custom(message));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer(text: &str) -> String {
        match from_str_strict(text) {
            Err(StrictJsonError::DuplicateMember { pointer, .. }) => pointer,
            other => panic!("{text}: expected a duplicate, got {other:?}"),
        }
    }

    #[test]
    fn duplicates_are_refused_with_their_pointer() {
        assert_eq!(pointer(r#"{"a":1,"a":2}"#), "/a");
        assert_eq!(pointer(r#"{"x":[0,{"b":1,"b":1}]}"#), "/x/1/b");
        assert_eq!(pointer(r#"{"a/b":{"~":0,"~":0}}"#), "/a~1b/~0");
        assert_eq!(pointer(r#"{"a":1,"\u0061":2}"#), "/a");
        assert_eq!(pointer(r#"[{}, {"k":{},"k":{}}]"#), "/1/k");
    }

    #[test]
    fn the_position_is_that_of_the_second_name() {
        let e = from_str_strict("{\n \"a\": 1,\n \"a\": 2\n}").unwrap_err();
        let StrictJsonError::DuplicateMember { line, name, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!((*line, name.as_str()), (3, "a"));
        assert_eq!(e.code(), "DUPLICATE_MEMBER");
        assert!(e.to_string().contains("\"a\" appears twice"), "{e}");
    }

    #[test]
    fn what_serde_json_refuses_is_refused() {
        for bad in [
            &b"{\"a\":\"\\ud800\"}"[..],
            b"{\"\\udc00\":1}",
            b"\"\xff\"",
            b"{\"a\":1} x",
            b"{\"a\":1,}",
            b"[1,]",
            b"NaN",
            b"1e400",
            b"",
        ] {
            let e = from_slice_strict(bad).unwrap_err();
            assert_eq!(
                e.code(),
                "MALFORMED_JSON",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert!(serde_json::from_slice::<Value>(bad).is_err());
        }
    }

    #[test]
    fn decoding_names_the_member_that_does_not_fit() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        #[allow(dead_code)]
        struct Doc {
            name: String,
            #[serde(default)]
            items: Vec<Item>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        #[allow(dead_code)]
        struct Item {
            code_type: String,
        }
        let cases = [
            (
                r#"{"name": 1}"#,
                "name",
                "invalid type: integer `1`, expected a string",
            ),
            (
                r#"{"name": "a", "nmae": "b"}"#,
                "nmae",
                "unknown field `nmae`",
            ),
            (
                r#"{"name": "a", "items": [{"codeType": "1"}, {"codeType": true}]}"#,
                "items[1].codeType",
                "invalid type: boolean",
            ),
            (r#"{"items": []}"#, ".", "missing field `name`"),
        ];
        for (text, path, message) in cases {
            let value = from_str_strict(text).unwrap();
            let e = decode::<Doc>(&value).unwrap_err();
            assert_eq!(e.path, path, "{text}");
            assert!(e.message.contains(message), "{text}: {e}");
            assert!(
                path == "." || e.message.starts_with(&format!("{path}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn nesting_is_bounded_as_serde_json_bounds_it() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(from_str_strict(&deep(MAX_DEPTH - 1)).is_ok());
        assert!(from_str_strict(&deep(MAX_DEPTH + 1)).is_err());
        for n in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1] {
            assert_eq!(
                from_str_strict(&deep(n)).is_ok(),
                serde_json::from_str::<Value>(&deep(n)).is_ok(),
                "depth {n}"
            );
        }
    }
}
