//! Licence types (证照类型): a JSON Schema for the subject data, the
//! `x-licence-type` annotation (type code, names, allowed holder code types)
//! and the cross-field rules of `x-licence-rules` ([`crate::rules`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tongban_codes::{HolderCodeType, LicenceTypeCode};

use crate::problem::{Problem, ProblemCode};
use crate::rules::{Facts, Rules};

/// Most schema violations reported for one document.
const MAX_VIOLATIONS: usize = 16;

/// Why a schema document is not a usable licence type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TypeError {
    /// The `x-licence-type` annotation is missing or incomplete.
    #[error("licence type annotation: {0}")]
    Annotation(String),
    /// The schema does not compile as JSON Schema.
    #[error("invalid JSON Schema: {0}")]
    InvalidSchema(String),
    /// `x-licence-rules` names an unknown check or member, or a field the
    /// schema does not declare.
    #[error("licence type rules: {0}")]
    Rules(String),
}

impl TypeError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TypeError::Annotation(_) => "LICENCE_TYPE_ANNOTATION_INVALID",
            TypeError::InvalidSchema(_) => "SCHEMA_INVALID",
            TypeError::Rules(_) => "LICENCE_TYPE_RULES_INVALID",
        }
    }
}

/// One licence type, with its compiled validator.
#[derive(Clone)]
pub struct LicenceType {
    /// 证照类型代码.
    pub code: LicenceTypeCode,
    /// Version of the type's schema (`"1"`, ...).
    pub version: String,
    /// Chinese name, e.g. 营业执照.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Holder code types this licence may be issued to.
    pub holder_code_types: Vec<HolderCodeType>,
    /// Property of the subject data that holds the document number (证照编号), if any.
    pub number_field: Option<String>,
    /// Default validity in years, if the type has one.
    pub default_validity_years: Option<u16>,
    /// The schema document as registered.
    pub schema: Arc<Value>,
    validator: Arc<jsonschema::Validator>,
    rules: Arc<Rules>,
}

impl std::fmt::Debug for LicenceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenceType")
            .field("code", &self.code)
            .field("version", &self.version)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LicenceType {
    /// Reads a licence type from its schema document.
    pub fn from_schema(schema: Value) -> Result<Self, TypeError> {
        let annotation = schema
            .get("x-licence-type")
            .and_then(Value::as_object)
            .ok_or_else(|| TypeError::Annotation("no x-licence-type object".into()))?;
        let text = |name: &str| -> Result<String, TypeError> {
            annotation
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| TypeError::Annotation(format!("missing string {name:?}")))
        };
        let code: LicenceTypeCode = text("code")?
            .parse()
            .map_err(|e| TypeError::Annotation(format!("code: {e}")))?;
        let holder_code_types = annotation
            .get("holderCodeTypes")
            .and_then(Value::as_array)
            .ok_or_else(|| TypeError::Annotation("missing holderCodeTypes".into()))?
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| TypeError::Annotation("holderCodeTypes must be strings".into()))?
                    .parse::<HolderCodeType>()
                    .map_err(|e| TypeError::Annotation(format!("holderCodeTypes: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if holder_code_types.is_empty() {
            return Err(TypeError::Annotation("holderCodeTypes is empty".into()));
        }
        let default_validity_years = match annotation.get("defaultValidityYears") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.parse::<u16>().map_err(|_| {
                TypeError::Annotation(format!("defaultValidityYears {s:?} is not a whole number"))
            })?),
            Some(_) => {
                return Err(TypeError::Annotation(
                    "defaultValidityYears must be a string or null".into(),
                ));
            }
        };
        let number_field = annotation
            .get("numberField")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let rules = Rules::from_schema(&schema, &holder_code_types).map_err(TypeError::Rules)?;
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| TypeError::InvalidSchema(e.to_string()))?;
        Ok(LicenceType {
            code,
            version: text("version")?,
            name: text("name")?,
            name_en: text("nameEn").unwrap_or_default(),
            holder_code_types,
            number_field,
            default_validity_years,
            schema: Arc::new(schema),
            validator: Arc::new(validator),
            rules: Arc::new(rules),
        })
    }

    /// Checks subject data against the type's schema.
    pub fn validate(&self, data: &Value) -> Result<(), Problem> {
        if self.validator.is_valid(data) {
            return Ok(());
        }
        let violations: Vec<String> = self
            .validator
            .iter_errors(data)
            .take(MAX_VIOLATIONS)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("{path}: {e}")
            })
            .collect();
        Err(Problem::new(
            ProblemCode::SubjectSchemaViolation,
            format!(
                "subject data violates {} ({}@{}): {}",
                self.name,
                self.code,
                self.version,
                violations.join("; ")
            ),
        ))
    }

    /// The type's cross-field rules (`x-licence-rules`).
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Checks subject data against the type's cross-field rules; every
    /// violation (at most 16) when it breaks any.
    pub fn check_rules(&self, data: &Value, facts: &Facts<'_>) -> Result<(), Vec<Problem>> {
        let problems = self.rules.check(data, facts);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The document number (证照编号) in `data`, if the type names a field for it.
    pub fn number_in<'a>(&self, data: &'a Value) -> Option<&'a str> {
        self.number_field
            .as_deref()
            .and_then(|field| data.get(field))
            .and_then(Value::as_str)
    }
}

/// The set of licence types a party knows, by code and version.
#[derive(Debug, Clone, Default)]
pub struct LicenceTypes {
    /// code → version → type.
    by_code: HashMap<String, HashMap<String, LicenceType>>,
    latest: HashMap<String, String>,
}

impl LicenceTypes {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a type.
    pub fn insert(&mut self, t: LicenceType) {
        let code = t.code.as_str().to_owned();
        let newer = self
            .latest
            .get(&code)
            .is_none_or(|v| version_key(&t.version) >= version_key(v));
        if newer {
            self.latest.insert(code.clone(), t.version.clone());
        }
        self.by_code
            .entry(code)
            .or_default()
            .insert(t.version.clone(), t);
    }

    /// A type by code and version.
    pub fn get(&self, code: &str, version: &str) -> Option<&LicenceType> {
        self.by_code.get(code)?.get(version)
    }

    /// The latest version of a type.
    pub fn latest(&self, code: &str) -> Option<&LicenceType> {
        let version = self.latest.get(code)?;
        self.get(code, version)
    }

    /// Every type, in code then version order.
    pub fn iter(&self) -> impl Iterator<Item = &LicenceType> {
        let mut all: Vec<&LicenceType> = self.by_code.values().flat_map(HashMap::values).collect();
        all.sort_by(|a, b| {
            (a.code.as_str(), version_key(&a.version))
                .cmp(&(b.code.as_str(), version_key(&b.version)))
        });
        all.into_iter()
    }

    /// Number of (code, version) pairs.
    pub fn len(&self) -> usize {
        self.by_code.values().map(HashMap::len).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

fn version_key(v: &str) -> (u64, String) {
    (v.parse().unwrap_or(0), v.to_owned())
}
