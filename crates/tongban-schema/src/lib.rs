//! The schema registry's rules, without IO: what a schema id and version
//! look like, whether a document is a usable JSON Schema, and what changed
//! between two versions — and whether the change breaks data that was valid
//! before (a new required field, a removed field, a narrowed type or enum).
#![forbid(unsafe_code)]

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// Why a schema, id or version is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Not a valid schema id.
    #[error(
        "schema id {0:?} is not valid: 1 to 100 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
    )]
    Id(String),
    /// Not a valid version.
    #[error("version {0:?} is not valid: 1 to 3 dot-separated numbers, e.g. 1 or 2.1")]
    Version(String),
    /// The document is not a valid JSON Schema.
    #[error("not a valid JSON Schema: {0}")]
    Invalid(String),
}

impl SchemaError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SchemaError::Id(_) => "SCHEMA_ID_INVALID",
            SchemaError::Version(_) => "SCHEMA_VERSION_INVALID",
            SchemaError::Invalid(_) => "SCHEMA_INVALID",
        }
    }
}

/// Checks a schema id.
pub fn check_id(id: &str) -> Result<(), SchemaError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SchemaError::Id(id.to_owned()))
    }
}

/// A version: up to three dot-separated numbers, ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(Vec<u32>);

impl Version {
    /// Parses `1`, `2.1`, `1.0.3`.
    pub fn parse(s: &str) -> Result<Self, SchemaError> {
        let parts: Result<Vec<u32>, _> = s.split('.').map(str::parse::<u32>).collect();
        match parts {
            Ok(p) if !p.is_empty() && p.len() <= 3 && !s.contains('+') => Ok(Version(p)),
            _ => Err(SchemaError::Version(s.to_owned())),
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.0.len().max(other.0.len());
        let at = |v: &Version, i: usize| v.0.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|i| at(self, i).cmp(&at(other, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// Checks that `schema` is a JSON Schema that validates against its
/// metaschema and compiles (references resolve, patterns are valid).
pub fn check_schema(schema: &Value) -> Result<(), SchemaError> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err(SchemaError::Invalid(
            "a schema is a JSON object (or a boolean)".into(),
        ));
    }
    jsonschema::meta::validate(schema).map_err(|e| SchemaError::Invalid(e.to_string()))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| SchemaError::Invalid(e.to_string()))?;
    Ok(())
}

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A property became required.
    RequiredAdded,
    /// A property is no longer required.
    RequiredRemoved,
    /// A property was removed.
    PropertyRemoved,
    /// A property was added.
    PropertyAdded,
    /// The allowed types changed.
    TypeChanged,
    /// Values were removed from an enum.
    EnumNarrowed,
    /// Values were added to an enum.
    EnumWidened,
    /// Additional properties are no longer allowed.
    AdditionalPropertiesClosed,
    /// Additional properties are now allowed.
    AdditionalPropertiesOpened,
    /// A constraint (length, pattern, format, bounds, items) changed.
    ConstraintChanged,
}

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// JSON pointer into the data (`/spouses/items/idNumber`), `/` for the root.
    pub path: String,
    /// What changed.
    pub kind: ChangeKind,
    /// Whether data valid under the old version may be invalid under the new.
    pub breaking: bool,
    /// A sentence.
    pub detail: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.breaking {
            "BREAKING"
        } else {
            "compatible"
        };
        write!(f, "{mark:<10} {}  {}", self.path, self.detail)
    }
}

/// The changes from `old` to `new`, breaking ones included and flagged.
///
/// Compares the structural keywords data depends on: `type`, `properties`,
/// `required`, `enum`/`const`, `additionalProperties`, `items`, and the
/// common constraints. Constraint changes are flagged breaking when they
/// tighten (`maxLength` lower, `minLength` higher, a new `pattern`/`format`).
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(old, new, "", &mut out);
    out
}

/// Only the breaking changes.
pub fn breaking(old: &Value, new: &Value) -> Vec<Change> {
    diff(old, new).into_iter().filter(|c| c.breaking).collect()
}

fn push(out: &mut Vec<Change>, path: &str, kind: ChangeKind, breaking: bool, detail: String) {
    out.push(Change {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        kind,
        breaking,
        detail,
    });
}

fn types(v: &Value) -> Option<BTreeSet<String>> {
    match v.get("type")? {
        Value::String(s) => Some(std::iter::once(s.clone()).collect()),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

fn string_set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default()
}

fn walk(old: &Value, new: &Value, path: &str, out: &mut Vec<Change>) {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        if old != new {
            push(
                out,
                path,
                ChangeKind::ConstraintChanged,
                true,
                "the schema changed shape".into(),
            );
        }
        return;
    };
    type_changes(old, new, path, out);
    enum_changes(o, n, path, out);
    constraints(o, n, path, out);
    property_changes(o, n, path, out);
    required_changes(o, n, path, out);
    additional_property_changes(o, n, path, out);
    item_changes(o, n, path, out);
}

/// `type`: integer → number widens; anything that drops a type narrows.
fn type_changes(old: &Value, new: &Value, path: &str, out: &mut Vec<Change>) {
    match (types(old), types(new)) {
        (Some(a), Some(b)) if a != b => {
            let widened_integer = a.contains("integer") && b.contains("number");
            let narrowed = !(a.is_subset(&b) || widened_integer);
            push(
                out,
                path,
                ChangeKind::TypeChanged,
                narrowed,
                format!("type {a:?} → {b:?}"),
            );
        }
        (None, Some(b)) => push(
            out,
            path,
            ChangeKind::TypeChanged,
            true,
            format!("type restricted to {b:?}"),
        ),
        (Some(a), None) => push(
            out,
            path,
            ChangeKind::TypeChanged,
            false,
            format!("type {a:?} no longer restricted"),
        ),
        _ => {}
    }
}

/// `enum` and `const`.
fn enum_changes(o: &Map<String, Value>, n: &Map<String, Value>, path: &str, out: &mut Vec<Change>) {
    for key in ["enum", "const"] {
        let (a, b) = (o.get(key), n.get(key));
        if a == b {
            continue;
        }
        let (sa, sb) = if key == "enum" {
            (string_set(a), string_set(b))
        } else {
            (
                a.map(Value::to_string).into_iter().collect(),
                b.map(Value::to_string).into_iter().collect(),
            )
        };
        let removed: Vec<&String> = sa.difference(&sb).collect();
        let added: Vec<&String> = sb.difference(&sa).collect();
        if b.is_some() && (!removed.is_empty() || a.is_none()) {
            push(
                out,
                path,
                ChangeKind::EnumNarrowed,
                true,
                format!("{key} no longer allows {removed:?}"),
            );
        }
        if !added.is_empty() && a.is_some() {
            push(
                out,
                path,
                ChangeKind::EnumWidened,
                false,
                format!("{key} now also allows {added:?}"),
            );
        }
        if b.is_none() {
            push(
                out,
                path,
                ChangeKind::EnumWidened,
                false,
                format!("{key} removed"),
            );
        }
    }
}

/// Properties removed (narrows), changed (walked into) or added.
fn property_changes(
    o: &Map<String, Value>,
    n: &Map<String, Value>,
    path: &str,
    out: &mut Vec<Change>,
) {
    let empty = Map::new();
    let op = o
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let np = n
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, schema) in op {
        let child = format!("{path}/{name}");
        match np.get(name) {
            None => push(
                out,
                &child,
                ChangeKind::PropertyRemoved,
                true,
                format!("property {name} removed"),
            ),
            Some(new_schema) => walk(schema, new_schema, &child, out),
        }
    }
    let new_required = string_set(n.get("required"));
    for name in np.keys() {
        if !op.contains_key(name) {
            let required = new_required.contains(&Value::from(name.as_str()).to_string());
            push(
                out,
                &format!("{path}/{name}"),
                ChangeKind::PropertyAdded,
                false,
                format!(
                    "property {name} added{}",
                    if required { " (required)" } else { "" }
                ),
            );
        }
    }
}

/// Properties that became required (narrows) or optional.
fn required_changes(
    o: &Map<String, Value>,
    n: &Map<String, Value>,
    path: &str,
    out: &mut Vec<Change>,
) {
    let old_required = string_set(o.get("required"));
    let new_required = string_set(n.get("required"));
    for name in new_required.difference(&old_required) {
        push(
            out,
            &format!("{path}/{}", name.trim_matches('"')),
            ChangeKind::RequiredAdded,
            true,
            format!("{name} is now required"),
        );
    }
    for name in old_required.difference(&new_required) {
        push(
            out,
            &format!("{path}/{}", name.trim_matches('"')),
            ChangeKind::RequiredRemoved,
            false,
            format!("{name} is no longer required"),
        );
    }
}

/// `additionalProperties: false` set or lifted.
fn additional_property_changes(
    o: &Map<String, Value>,
    n: &Map<String, Value>,
    path: &str,
    out: &mut Vec<Change>,
) {
    let closed =
        |m: &Map<String, Value>| m.get("additionalProperties") == Some(&Value::Bool(false));
    if !closed(o) && closed(n) {
        push(
            out,
            path,
            ChangeKind::AdditionalPropertiesClosed,
            true,
            "additional properties no longer allowed".into(),
        );
    } else if closed(o) && !closed(n) {
        push(
            out,
            path,
            ChangeKind::AdditionalPropertiesOpened,
            false,
            "additional properties now allowed".into(),
        );
    }
}

/// Array items: walked into, or newly constrained.
fn item_changes(o: &Map<String, Value>, n: &Map<String, Value>, path: &str, out: &mut Vec<Change>) {
    if let (Some(a), Some(b)) = (o.get("items"), n.get("items")) {
        walk(a, b, &format!("{path}/items"), out);
    } else if o.get("items").is_none() && n.get("items").is_some() {
        push(
            out,
            &format!("{path}/items"),
            ChangeKind::ConstraintChanged,
            true,
            "items now constrained".into(),
        );
    }
}

fn constraints(o: &Map<String, Value>, n: &Map<String, Value>, path: &str, out: &mut Vec<Change>) {
    // (keyword, true when a larger value is looser)
    for (key, larger_is_looser) in [
        ("maxLength", true),
        ("maximum", true),
        ("maxItems", true),
        ("maxProperties", true),
        ("minLength", false),
        ("minimum", false),
        ("minItems", false),
        ("minProperties", false),
    ] {
        let (a, b) = (
            o.get(key).and_then(Value::as_f64),
            n.get(key).and_then(Value::as_f64),
        );
        if a == b {
            continue;
        }
        let tighter = match (a, b) {
            (Some(a), Some(b)) => (b > a) != larger_is_looser,
            (None, Some(_)) => true,
            _ => false,
        };
        push(
            out,
            path,
            ChangeKind::ConstraintChanged,
            tighter,
            format!("{key} {} → {}", fmt_opt(a), fmt_opt(b)),
        );
    }
    for key in ["pattern", "format"] {
        let (a, b) = (o.get(key), n.get(key));
        if a != b {
            push(
                out,
                path,
                ChangeKind::ConstraintChanged,
                b.is_some(),
                format!(
                    "{key} {} → {}",
                    a.map_or("none".into(), Value::to_string),
                    b.map_or("none".into(), Value::to_string)
                ),
            );
        }
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "none".into(), |x| x.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "maxLength": 100},
                "level": {"type": "string", "enum": ["一级", "二级"]},
                "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}
            }
        })
    }

    fn kinds(changes: &[Change]) -> Vec<(String, ChangeKind, bool)> {
        changes
            .iter()
            .map(|c| (c.path.clone(), c.kind, c.breaking))
            .collect()
    }

    #[test]
    fn identical_versions_have_no_changes() {
        assert!(diff(&base(), &base()).is_empty());
    }

    #[test]
    fn new_required_field_removed_field_and_changed_type_are_breaking() {
        let mut new = base();
        new["required"] = json!(["name", "code"]);
        new["properties"]["code"] = json!({"type": "string"});
        new["properties"].as_object_mut().unwrap().remove("level");
        new["properties"]["name"]["type"] = json!("integer");
        let changes = diff(&base(), &new);
        let k = kinds(&changes);
        assert!(
            k.contains(&("/code".into(), ChangeKind::RequiredAdded, true)),
            "{k:?}"
        );
        assert!(
            k.contains(&("/code".into(), ChangeKind::PropertyAdded, false)),
            "{k:?}"
        );
        assert!(
            k.contains(&("/level".into(), ChangeKind::PropertyRemoved, true)),
            "{k:?}"
        );
        assert!(
            k.contains(&("/name".into(), ChangeKind::TypeChanged, true)),
            "{k:?}"
        );
        assert_eq!(breaking(&base(), &new).len(), 3);
    }

    #[test]
    fn widening_is_compatible_and_narrowing_is_not() {
        let mut wider = base();
        wider["properties"]["level"]["enum"] = json!(["一级", "二级", "三级"]);
        wider["properties"]["name"]["maxLength"] = json!(200);
        wider["properties"]["extra"] = json!({"type": "string"});
        wider["required"] = json!([]);
        assert!(
            breaking(&base(), &wider).is_empty(),
            "{:?}",
            diff(&base(), &wider)
        );
        assert_eq!(diff(&base(), &wider).len(), 4);
        let narrower = {
            let mut n = base();
            n["properties"]["level"]["enum"] = json!(["一级"]);
            n["properties"]["name"]["maxLength"] = json!(50);
            n["properties"]["items"]["items"]["properties"]["a"]["pattern"] = json!("^[0-9]+$");
            n["additionalProperties"] = json!(false);
            n
        };
        let k = kinds(&breaking(&base(), &narrower));
        assert_eq!(k.len(), 4, "{k:?}");
        assert!(k.contains(&("/items/items/a".into(), ChangeKind::ConstraintChanged, true)));
    }

    /// Every kind of change, one schema pair each: (case, old, new, the
    /// exact changes in the order they are reported).
    #[test]
    fn each_kind_of_change_is_reported_with_its_path_and_verdict() {
        use ChangeKind::*;
        let obj = |p: Value| json!({"type": "object", "properties": p});
        type Case = (
            &'static str,
            Value,
            Value,
            Vec<(&'static str, ChangeKind, bool)>,
        );
        let cases: Vec<Case> = vec![
            (
                "shape",
                json!(true),
                json!(false),
                vec![("/", ConstraintChanged, true)],
            ),
            (
                "integer widens to number",
                json!({"type": "integer"}),
                json!({"type": "number"}),
                vec![("/", TypeChanged, false)],
            ),
            (
                "type restricted",
                json!({}),
                json!({"type": "string"}),
                vec![("/", TypeChanged, true)],
            ),
            (
                "type lifted",
                json!({"type": "string"}),
                json!({}),
                vec![("/", TypeChanged, false)],
            ),
            (
                "enum narrowed",
                json!({"enum": ["a", "b"]}),
                json!({"enum": ["a"]}),
                vec![("/", EnumNarrowed, true)],
            ),
            (
                "enum widened",
                json!({"enum": ["a"]}),
                json!({"enum": ["a", "b"]}),
                vec![("/", EnumWidened, false)],
            ),
            (
                "enum removed",
                json!({"enum": ["a"]}),
                json!({}),
                vec![("/", EnumWidened, false)],
            ),
            (
                "const added",
                json!({}),
                json!({"const": "a"}),
                vec![("/", EnumNarrowed, true)],
            ),
            (
                "maxLength lowered",
                json!({"maxLength": 9}),
                json!({"maxLength": 5}),
                vec![("/", ConstraintChanged, true)],
            ),
            (
                "property removed",
                obj(json!({"a": {}})),
                obj(json!({})),
                vec![("/a", PropertyRemoved, true)],
            ),
            (
                "property added",
                obj(json!({})),
                obj(json!({"a": {}})),
                vec![("/a", PropertyAdded, false)],
            ),
            (
                "nested change",
                obj(json!({"a": {"type": "string"}})),
                obj(json!({"a": {"type": "integer"}})),
                vec![("/a", TypeChanged, true)],
            ),
            (
                "required added",
                json!({"required": []}),
                json!({"required": ["a"]}),
                vec![("/a", RequiredAdded, true)],
            ),
            (
                "required removed",
                json!({"required": ["a"]}),
                json!({}),
                vec![("/a", RequiredRemoved, false)],
            ),
            (
                "closed",
                json!({}),
                json!({"additionalProperties": false}),
                vec![("/", AdditionalPropertiesClosed, true)],
            ),
            (
                "opened",
                json!({"additionalProperties": false}),
                json!({}),
                vec![("/", AdditionalPropertiesOpened, false)],
            ),
            (
                "items walked",
                json!({"items": {"type": "string"}}),
                json!({"items": {"type": "integer"}}),
                vec![("/items", TypeChanged, true)],
            ),
            (
                "items constrained",
                json!({}),
                json!({"items": {"type": "string"}}),
                vec![("/items", ConstraintChanged, true)],
            ),
        ];
        for (name, old, new, expected) in cases {
            let expected: Vec<(String, ChangeKind, bool)> = expected
                .into_iter()
                .map(|(p, k, b)| (p.to_owned(), k, b))
                .collect();
            assert_eq!(kinds(&diff(&old, &new)), expected, "{name}");
        }
    }

    #[test]
    fn ids_versions_and_schemas() {
        assert!(check_id("business-registration").is_ok());
        assert!(check_id("11100000TB0000001K001").is_ok());
        assert_eq!(check_id("../x").unwrap_err().code(), "SCHEMA_ID_INVALID");
        assert!(Version::parse("2").unwrap() > Version::parse("1.9").unwrap());
        assert_eq!(
            Version::parse("1.0")
                .unwrap()
                .cmp(&Version::parse("1").unwrap()),
            Ordering::Equal
        );
        assert_eq!(
            Version::parse("v1").unwrap_err().code(),
            "SCHEMA_VERSION_INVALID"
        );
        assert!(check_schema(&base()).is_ok());
        assert_eq!(
            check_schema(&json!({"type": "objekt"})).unwrap_err().code(),
            "SCHEMA_INVALID"
        );
        assert_eq!(
            check_schema(&json!({"type": "string", "pattern": "(unclosed"}))
                .unwrap_err()
                .code(),
            "SCHEMA_INVALID"
        );
        assert_eq!(
            check_schema(&json!(3)).unwrap_err().code(),
            "SCHEMA_INVALID"
        );
    }
}
