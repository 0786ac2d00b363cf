#![allow(clippy::unwrap_used)]

mod batch_vs_strict;
mod jcs_oracle;
mod json_strict;
mod sign_verify;

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON leaf: null, booleans, integers of both signs, finite floats,
/// and strings, among them ones full of escapes and astral characters.
fn arb_json_leaf() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
        any::<String>().prop_map(Value::String),
        "[\\u{0}-\\u{1f}\"\\\\a-z\\u{e000}-\\u{ffff}\\u{10000}-\\u{10ffff}]{0,6}"
            .prop_map(Value::String),
    ]
}
