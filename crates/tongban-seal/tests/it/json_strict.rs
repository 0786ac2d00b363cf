//! The strict reader against serde_json: the same value wherever no object
//! repeats a member, a refusal naming the repeated member wherever one does.

use proptest::prelude::*;
use serde_json::{Map, Value};
use tongban_seal::json::{StrictJsonError, from_slice_strict, from_str_strict};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = crate::arb_json_leaf();
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|entries| {
                Value::Object(entries.into_iter().collect::<Map<String, Value>>())
            }),
        ]
    })
}

/// Few distinct names, so that generated lists of names often repeat one.
fn key() -> impl Strategy<Value = String> {
    "[ab~/\\u{e9}\\u{1f600}\"\\\\]{0,2}"
}

/// `value` as JSON text with every member name written with `\u` escapes,
/// so that names compare equal only once unescaped.
fn escaped_names(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", escape_all(k), escaped_names(v)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(escaped_names).collect();
            format!("[{}]", items.join(" , "))
        }
        other => other.to_string(),
    }
}

fn escape_all(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

/// An object written member by member, names possibly repeated.
fn object_text(members: &[(String, Value)]) -> String {
    let members: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// The first name that occurs a second time, in reading order.
fn first_repeated(members: &[(String, Value)]) -> Option<&str> {
    members.iter().enumerate().find_map(|(i, (k, _))| {
        members[..i]
            .iter()
            .any(|(seen, _)| seen == k)
            .then_some(k.as_str())
    })
}

fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

/// Both refuse: the reader names the first problem in reading order. Not
/// JSON, where serde_json says; or a name repeated before that point (a
/// damaged byte can make a repeat and, further on, a syntax error).
fn first_problem(theirs: &serde_json::Error, ours: &StrictJsonError) -> Result<(), TestCaseError> {
    match ours {
        StrictJsonError::Malformed(e) => {
            prop_assert_eq!((e.line(), e.column()), (theirs.line(), theirs.column()));
        }
        StrictJsonError::DuplicateMember { line, column, .. } => {
            prop_assert!(
                (*line, *column) <= (theirs.line(), theirs.column()),
                "repeat at {line}:{column}, after serde_json's error: {theirs}"
            );
        }
        other => prop_assert!(false, "{other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn same_value_as_serde_json_without_repeats(value in arb_json()) {
        for text in [
            serde_json::to_string(&value).unwrap(),
            serde_json::to_string_pretty(&value).unwrap(),
            escaped_names(&value),
        ] {
            let theirs: Value = serde_json::from_str(&text).unwrap();
            let ours = from_str_strict(&text).unwrap();
            prop_assert_eq!(&ours, &theirs);
            prop_assert_eq!(from_slice_strict(text.as_bytes()).unwrap(), theirs);
        }
    }

    #[test]
    fn repeated_names_are_refused_where_they_are(
        members in prop::collection::vec((key(), arb_json()), 0..6),
        outer in prop::collection::vec(key(), 0..3),
    ) {
        // The object, nested under `outer` member names.
        let mut text = object_text(&members);
        for name in outer.iter().rev() {
            text = format!("{{\"x\":[1],{}:[{text}]}}", Value::String(name.clone()));
        }
        prop_assert!(serde_json::from_str::<Value>(&text).is_ok());
        match (first_repeated(&members), from_str_strict(&text)) {
            (None, Ok(ours)) => {
                prop_assert_eq!(ours, serde_json::from_str::<Value>(&text).unwrap());
            }
            (Some(name), Err(StrictJsonError::DuplicateMember { pointer, name: got, .. })) => {
                let mut expected: String = outer
                    .iter()
                    .map(|o| format!("/{}/0", escape_token(o)))
                    .collect();
                expected.push_str(&format!("/{}", escape_token(name)));
                prop_assert_eq!(pointer, expected);
                prop_assert_eq!(got, name);
            }
            (expected, got) => prop_assert!(false, "{text}: expected {expected:?}, got {got:?}"),
        }
    }

    #[test]
    fn never_accepts_what_serde_json_refuses(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match (serde_json::from_slice::<Value>(&bytes), from_slice_strict(&bytes)) {
            (Ok(theirs), Ok(ours)) => prop_assert_eq!(ours, theirs),
            (Err(theirs), Err(ours)) => first_problem(&theirs, &ours)?,
            // Repeats are the one thing refused beyond serde_json.
            (Ok(_), Err(e)) => prop_assert!(e.is_duplicate(), "{e}"),
            (Err(e), Ok(v)) => prop_assert!(false, "accepted {v} that serde_json refuses: {e}"),
        }
    }

    #[test]
    fn damaged_documents_are_treated_alike(value in arb_json(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = serde_json::to_vec(&value).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        match (serde_json::from_slice::<Value>(&bytes), from_slice_strict(&bytes)) {
            (Ok(theirs), Ok(ours)) => prop_assert_eq!(ours, theirs),
            (Err(theirs), Err(ours)) => first_problem(&theirs, &ours)?,
            (Ok(_), Err(e)) => prop_assert!(e.is_duplicate(), "{e}"),
            (Err(e), Ok(v)) => prop_assert!(false, "accepted {v} that serde_json refuses: {e}"),
        }
    }
}
