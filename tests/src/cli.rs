//! What the tests of the command-line binaries (`tongban`,
//! `tongban-bench`) check of every `--json` run: the exit status, exactly
//! one JSON document on standard output, and camelCase member names.

use std::process::Output;

use serde_json::Value;

/// The JSON document of `program ARGS`'s standard output; fails the test,
/// showing both outputs, when it did not exit with `status` or printed
/// anything but exactly one JSON document.
pub fn json_document(program: &str, args: &[&str], out: &Output, status: i32) -> Value {
    assert_eq!(
        out.status.code(),
        Some(status),
        "{program} {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{program} {}: standard output is not one JSON document ({e}):\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The members named with `_` anywhere in `v`, as JSON pointers.
pub fn snake_members(v: &Value) -> Vec<String> {
    let mut found = Vec::new();
    snake_members_at(v, "", &mut found);
    found
}

fn snake_members_at(v: &Value, at: &str, found: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let here = format!("{at}/{k}");
                if k.contains('_') {
                    found.push(here.clone());
                }
                snake_members_at(child, &here, found);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                snake_members_at(child, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn snake_members_are_found_at_any_depth() {
        let v = json!({"ok": 1, "not_ok": {"deep": [{"a_b": 2}]}, "list": [{"fine": 3}]});
        assert_eq!(
            super::snake_members(&v),
            vec!["/not_ok".to_owned(), "/not_ok/deep/0/a_b".to_owned()]
        );
        assert!(super::snake_members(&json!({"camelCase": [1, {"x": null}]})).is_empty());
    }
}
