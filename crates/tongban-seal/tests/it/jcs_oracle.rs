//! Our RFC 8785 canonicaliser against an independent implementation.

use proptest::prelude::*;
use serde_json::{Map, Value};
use tongban_seal::jcs;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = crate::arb_json_leaf();
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                ("[a-c\\u{e000}\\u{ff00}\\u{10000}\\u{1f600}é]{0,3}", inner),
                0..6
            )
            .prop_map(|entries| {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k, v);
                }
                Value::Object(map)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matches_independent_implementation(value in arb_json()) {
        let ours = jcs::canonicalize(&value);
        let theirs = serde_json_canonicalizer::to_vec(&value).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
    }

    #[test]
    fn canonical_form_is_a_fixed_point(value in arb_json()) {
        let once = jcs::canonicalize(&value);
        let reparsed: Value = serde_json::from_slice(&once).unwrap();
        prop_assert_eq!(jcs::canonicalize(&reparsed), once);
    }
}
