//! Cross-field rules of a licence type (`x-licence-rules`): what JSON Schema
//! cannot say about subject data (照面信息) — check characters of codes,
//! agreement with the holder (持证主体), the birth date and sex a citizen ID
//! carries, an age on the issue date, a number built from the holder's code.
//!
//! A type declares its rules beside its schema:
//!
//! ```json
//! "x-licence-rules": [
//!   {"check": "citizenId", "each": "/spouses",
//!    "when": {"field": "/nationality", "equals": "中国"}, "field": "/idNumber"},
//!   {"check": "holderAmong", "each": "/spouses", "field": "/idNumber", "name": "/name"},
//!   {"check": "minAgeAtIssue", "years": 60, "id": "/idNumber"}
//! ]
//! ```
//!
//! Fields are JSON Pointers (RFC 6901) into the subject data, naming object
//! members only; lists are addressed with `each`, after which the rule's
//! pointers are relative to every item of that array. `when` limits a rule to
//! the data (or items) where a field has a given value. A rule whose field is
//! absent does not apply: presence is the schema's business.
//!
//! The rules are read strictly when the type is registered — an unknown kind
//! or member, or a pointer to a property the schema does not declare, refuses
//! the type — and checked without IO or clock: the holder and the issue date
//! are passed in ([`Facts`]).

use serde_json::{Map, Value};
use time::Date;
use tongban_codes::{CitizenId, HolderCode, HolderCodeType, Sex, Uscc};

use crate::problem::{Problem, ProblemCode};

/// Most rules one licence type may declare.
pub const MAX_RULES: usize = 64;
/// Most reference tokens in one pointer.
const MAX_POINTER_TOKENS: usize = 8;
/// Most `$ref` hops followed while finding a pointer's property in the schema.
const MAX_REF_HOPS: usize = 16;
/// Highest minimum age a rule may ask for.
const MAX_YEARS: u64 = 150;
/// Most violations reported for one document.
const MAX_VIOLATIONS: usize = 16;
/// Members every rule may carry besides its kind's own.
const COMMON_MEMBERS: [&str; 3] = ["check", "each", "when"];

/// What the rules compare subject data with.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The holder's name as the licence names it.
    pub holder_name: &'a str,
    /// The holder's code; a USCC with a wrong check character here was
    /// admitted as a legacy code (`allowLegacyCode`).
    pub holder_code: &'a HolderCode,
    /// The issue date (发证日期, China Standard Time), when known.
    pub issue_date: Option<Date>,
}

/// The parsed rules of one licence type, in declared order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// The array whose every item the rule applies to; the data itself if `None`.
    each: Option<Pointer>,
    when: Option<Condition>,
    check: Check,
}

#[derive(Debug, Clone)]
struct Condition {
    field: Pointer,
    equals: String,
}

#[derive(Debug, Clone)]
enum Check {
    /// A valid USCC (GB 32100) in canonical form.
    Uscc(Pointer),
    /// A valid citizen ID (GB 11643) in canonical form.
    CitizenId(Pointer),
    /// The holder's code.
    EqualsHolderCode(Pointer),
    /// The holder's name.
    EqualsHolderName(Pointer),
    /// One item's field is the holder's code (and that item's name the holder's name).
    HolderAmong {
        field: Pointer,
        name: Option<Pointer>,
    },
    /// Birth date and sex agree with a citizen ID.
    IdMatches {
        id: IdSource,
        birth_date: Option<Pointer>,
        sex: Option<Pointer>,
    },
    /// The citizen ID's owner is at least `years` old on the issue date.
    MinAgeAtIssue { years: u8, id: IdSource },
    /// The field begins with the holder's code.
    NumberFromHolderCode(Pointer),
}

/// Where a rule reads a citizen ID.
#[derive(Debug, Clone)]
enum IdSource {
    Holder,
    Field(Pointer),
}

impl Rules {
    /// Reads `x-licence-rules` of a licence type's schema document; no member
    /// means no rules. `holder_code_types` are the type's allowed holders.
    pub(crate) fn from_schema(
        schema: &Value,
        holder_code_types: &[HolderCodeType],
    ) -> Result<Self, String> {
        let list = match schema.get("x-licence-rules") {
            None => return Ok(Rules::default()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err("x-licence-rules must be an array".into()),
        };
        if list.len() > MAX_RULES {
            return Err(format!(
                "x-licence-rules has {} rules, at most {MAX_RULES} are allowed",
                list.len()
            ));
        }
        let citizens_only = holder_code_types
            .iter()
            .all(|t| *t == HolderCodeType::CitizenId);
        let rules = list
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                parse_rule(rule, schema, citizens_only).map_err(|e| format!("rule {i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rules { rules })
    }

    /// Whether the type declares no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Every violation of the rules by `data` (at most 16), in declared order;
    /// empty when the data keeps them all.
    pub fn check(&self, data: &Value, facts: &Facts<'_>) -> Vec<Problem> {
        let mut out = Violations::default();
        for rule in &self.rules {
            rule.check(data, facts, &mut out);
        }
        out.0
    }
}

/// Problems found so far, without repeats (a field checked by two rules is
/// reported once) and bounded.
#[derive(Default)]
struct Violations(Vec<Problem>);

impl Violations {
    fn push(&mut self, problem: Problem) {
        if self.0.len() < MAX_VIOLATIONS && !self.0.contains(&problem) {
            self.0.push(problem);
        }
    }
}

impl Rule {
    fn check(&self, data: &Value, facts: &Facts<'_>, out: &mut Violations) {
        let bases: Vec<Base<'_>> = self
            .bases(data)
            .into_iter()
            .filter(|b| self.applies_to(b))
            .collect();
        if let Check::HolderAmong { field, name } = &self.check {
            holder_among(&bases, field, name.as_ref(), self.each.as_ref(), facts, out);
            return;
        }
        for base in &bases {
            self.check_one(base, facts, out);
        }
    }

    /// The data, or every item of the `each` array with its location.
    fn bases<'d>(&self, data: &'d Value) -> Vec<Base<'d>> {
        let Some(each) = &self.each else {
            return vec![Base {
                at: String::new(),
                value: data,
            }];
        };
        each.get(data)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .map(|(i, value)| Base {
                        at: format!("{each}/{i}"),
                        value,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn applies_to(&self, base: &Base<'_>) -> bool {
        self.when.as_ref().is_none_or(|c| {
            c.field.get(base.value).and_then(Value::as_str) == Some(c.equals.as_str())
        })
    }

    fn check_one(&self, base: &Base<'_>, facts: &Facts<'_>, out: &mut Violations) {
        match &self.check {
            Check::Uscc(field) => {
                if let Some((at, text)) = base.text(field, ProblemCode::DataCodeInvalid, out) {
                    check_uscc(&at, text, facts, out);
                }
            }
            Check::CitizenId(field) => {
                if let Some((at, text)) = base.text(field, ProblemCode::DataCodeInvalid, out) {
                    if let Err(p) = citizen_id(&at, text) {
                        out.push(p);
                    }
                }
            }
            Check::EqualsHolderCode(field) => {
                let code = ProblemCode::DataHolderMismatch;
                if let Some((at, text)) = base.text(field, code, out) {
                    if text != facts.holder_code.as_str() {
                        out.push(Problem::new(
                            code,
                            format!("{at} differs from the holder's code (持证主体代码)"),
                        ));
                    }
                }
            }
            Check::EqualsHolderName(field) => {
                let code = ProblemCode::DataHolderMismatch;
                if let Some((at, text)) = base.text(field, code, out) {
                    if text != facts.holder_name {
                        out.push(name_mismatch(&at, text, facts));
                    }
                }
            }
            Check::HolderAmong { .. } => {}
            Check::IdMatches {
                id,
                birth_date,
                sex,
            } => {
                if let Some((id_at, id)) = base.citizen(id, facts, out) {
                    id_matches(base, &id_at, &id, birth_date.as_ref(), sex.as_ref(), out);
                }
            }
            Check::MinAgeAtIssue { years, id } => {
                if let Some((id_at, id)) = base.citizen(id, facts, out) {
                    min_age(&id_at, &id, *years, facts, out);
                }
            }
            Check::NumberFromHolderCode(field) => {
                let code = ProblemCode::DataNumberMismatch;
                if let Some((at, text)) = base.text(field, code, out) {
                    if !text.starts_with(facts.holder_code.as_str()) {
                        out.push(Problem::new(
                            code,
                            format!("{at} does not begin with the holder's code (持证主体代码)"),
                        ));
                    }
                }
            }
        }
    }
}

/// The data or one item of a list, with its location for messages.
struct Base<'d> {
    /// Pointer to this base in the subject data (`""` for the data itself).
    at: String,
    value: &'d Value,
}

impl<'d> Base<'d> {
    /// The text at `field`, with its full location; `None` when absent (the
    /// rule does not apply) or not a string (reported under `code`).
    fn text(
        &self,
        field: &Pointer,
        code: ProblemCode,
        out: &mut Violations,
    ) -> Option<(String, &'d str)> {
        let at = format!("{}{field}", self.at);
        match field.get(self.value)? {
            Value::String(s) => Some((at, s)),
            _ => {
                out.push(Problem::new(code, format!("{at} is not a string")));
                None
            }
        }
    }

    /// The citizen ID a rule reads, named for messages.
    fn citizen(
        &self,
        source: &IdSource,
        facts: &Facts<'_>,
        out: &mut Violations,
    ) -> Option<(String, CitizenId)> {
        match source {
            IdSource::Holder => match facts.holder_code {
                HolderCode::Citizen(id) => Some(("the holder's code".into(), id.clone())),
                HolderCode::Organisation(_) => {
                    out.push(Problem::new(
                        ProblemCode::DataHolderMismatch,
                        "the holder is an organisation, not a citizen",
                    ));
                    None
                }
            },
            IdSource::Field(field) => {
                let (at, text) = self.text(field, ProblemCode::DataCodeInvalid, out)?;
                match citizen_id(&at, text) {
                    Ok(id) => Some((at, id)),
                    Err(p) => {
                        out.push(p);
                        None
                    }
                }
            }
        }
    }
}

fn check_uscc(at: &str, text: &str, facts: &Facts<'_>, out: &mut Violations) {
    let problem = |m: String| Problem::new(ProblemCode::DataCodeInvalid, m);
    match Uscc::parse(text) {
        Ok(code) if code.as_str() == text => {}
        Ok(_) => out.push(problem(format!(
            "{at} must be written in upper case, as the code is printed"
        ))),
        // A legacy code the holder was admitted with (its check character
        // fails) stands wherever the data repeats exactly that code.
        Err(tongban_codes::CodeError::UsccBadChecksum { .. })
            if legacy_holder_code(facts) == Some(text) => {}
        Err(e) => out.push(problem(format!(
            "{at} is not a valid unified social credit code: {e} ({})",
            e.code()
        ))),
    }
}

/// The holder's USCC when it was admitted although its check character fails.
fn legacy_holder_code<'a>(facts: &Facts<'a>) -> Option<&'a str> {
    match facts.holder_code {
        HolderCode::Organisation(code) if !code.checksum_ok() => Some(code.as_str()),
        _ => None,
    }
}

/// A citizen ID in canonical form; messages never repeat the number.
fn citizen_id(at: &str, text: &str) -> Result<CitizenId, Problem> {
    let problem = |m: String| Problem::new(ProblemCode::DataCodeInvalid, m);
    match CitizenId::parse(text) {
        Ok(id) if id.as_str() == text => Ok(id),
        Ok(_) => Err(problem(format!(
            "{at} must be written with an upper-case X, as the number is printed"
        ))),
        Err(e) => Err(problem(format!(
            "{at} is not a valid citizen identity number: {e} ({})",
            e.code()
        ))),
    }
}

fn name_mismatch(at: &str, text: &str, facts: &Facts<'_>) -> Problem {
    Problem::new(
        ProblemCode::DataHolderMismatch,
        format!("{at} is {text:?} but the holder is {:?}", facts.holder_name),
    )
}

fn holder_among(
    bases: &[Base<'_>],
    field: &Pointer,
    name: Option<&Pointer>,
    each: Option<&Pointer>,
    facts: &Facts<'_>,
    out: &mut Violations,
) {
    let code = ProblemCode::DataHolderMismatch;
    let holder = facts.holder_code.as_str();
    let matching: Vec<&Base<'_>> = bases
        .iter()
        .filter(|b| field.get(b.value).and_then(Value::as_str) == Some(holder))
        .collect();
    let list = each.map_or_else(String::new, ToString::to_string);
    if matching.is_empty() {
        out.push(Problem::new(
            code,
            format!("the holder's code (持证主体代码) is not the {field} of any item of {list}"),
        ));
        return;
    }
    let Some(name) = name else { return };
    for base in matching {
        if let Some((at, text)) = base.text(name, code, out) {
            if text != facts.holder_name {
                out.push(name_mismatch(&at, text, facts));
            }
        }
    }
}

fn id_matches(
    base: &Base<'_>,
    id_at: &str,
    id: &CitizenId,
    birth_date: Option<&Pointer>,
    sex: Option<&Pointer>,
    out: &mut Violations,
) {
    let code = ProblemCode::DataIdInconsistent;
    if let Some((at, text)) = birth_date.and_then(|f| base.text(f, code, out)) {
        let (y, m, d) = id.birth_date();
        let from_id = format!("{y:04}-{m:02}-{d:02}");
        if text != from_id {
            out.push(Problem::new(
                code,
                format!("{at} is {text} but {id_at} gives the birth date {from_id}"),
            ));
        }
    }
    if let Some((at, text)) = sex.and_then(|f| base.text(f, code, out)) {
        let from_id = match id.sex() {
            Sex::Male => "男",
            Sex::Female => "女",
        };
        if text != from_id {
            out.push(Problem::new(
                code,
                format!("{at} is {text:?} but {id_at} gives the sex {from_id:?}"),
            ));
        }
    }
}

fn min_age(id_at: &str, id: &CitizenId, years: u8, facts: &Facts<'_>, out: &mut Violations) {
    let Some(issued) = facts.issue_date else {
        out.push(Problem::new(
            ProblemCode::MalformedCredential,
            "the licence has no issue date, so the age on it cannot be checked",
        ));
        return;
    };
    let age = age_on(id.birth_date(), issued);
    if age < i32::from(years) {
        let (y, m, d) = id.birth_date();
        out.push(Problem::new(
            ProblemCode::DataAgeBelowMinimum,
            format!(
                "{id_at} gives the birth date {y:04}-{m:02}-{d:02}: {age} years old on the issue date {issued}, under the {years} required"
            ),
        ));
    }
}

/// Whole years (周岁) from a birth date to `on`; reached on the anniversary
/// (a 29 February birthday on 1 March in common years). Negative before birth.
fn age_on((year, month, day): (u16, u8, u8), on: Date) -> i32 {
    let before_anniversary = (u8::from(on.month()), on.day()) < (month, day);
    on.year() - i32::from(year) - i32::from(before_anniversary)
}

// ---- Reading rules -------------------------------------------------------

fn parse_rule(rule: &Value, schema: &Value, citizens_only: bool) -> Result<Rule, String> {
    let obj = rule.as_object().ok_or("a rule is a JSON object")?;
    let kind = obj
        .get("check")
        .and_then(Value::as_str)
        .ok_or("\"check\" (the rule's kind) is required")?;
    let own: &[&str] = match kind {
        "uscc" | "citizenId" | "equalsHolderCode" | "equalsHolderName" | "numberFromHolderCode" => {
            &["field"]
        }
        "holderAmong" => &["field", "name"],
        "idMatches" => &["id", "birthDate", "sex"],
        "minAgeAtIssue" => &["years", "id"],
        other => {
            return Err(format!(
                "unknown check {other:?} (known: uscc, citizenId, equalsHolderCode, \
                 equalsHolderName, holderAmong, idMatches, minAgeAtIssue, numberFromHolderCode)"
            ));
        }
    };
    if let Some(unknown) = obj
        .keys()
        .find(|k| !COMMON_MEMBERS.contains(&k.as_str()) && !own.contains(&k.as_str()))
    {
        return Err(format!("{kind}: unknown member {unknown:?}"));
    }
    let each = obj
        .get("each")
        .map(|v| pointer_member("each", v))
        .transpose()?;
    // The schema node the rule's pointers start from: the data, or an item.
    let base = match &each {
        None => schema,
        Some(list) => array_items(schema, list)?,
    };
    let reader = Reader {
        obj,
        schema,
        base,
        kind,
    };
    let when = obj.get("when").map(|v| reader.condition(v)).transpose()?;
    let check = match kind {
        "uscc" => Check::Uscc(reader.field("field")?),
        "citizenId" => Check::CitizenId(reader.field("field")?),
        "equalsHolderCode" => Check::EqualsHolderCode(reader.field("field")?),
        "equalsHolderName" => Check::EqualsHolderName(reader.field("field")?),
        "numberFromHolderCode" => Check::NumberFromHolderCode(reader.field("field")?),
        "holderAmong" => {
            if each.is_none() {
                return Err("holderAmong needs \"each\": the list the holder is one of".into());
            }
            Check::HolderAmong {
                field: reader.field("field")?,
                name: reader.optional_field("name")?,
            }
        }
        "idMatches" => {
            let birth_date = reader.optional_field("birthDate")?;
            let sex = reader.optional_field("sex")?;
            if birth_date.is_none() && sex.is_none() {
                return Err("idMatches needs \"birthDate\" or \"sex\" (or both)".into());
            }
            Check::IdMatches {
                id: reader.id_source(citizens_only)?,
                birth_date,
                sex,
            }
        }
        _ => Check::MinAgeAtIssue {
            years: reader.years()?,
            id: reader.id_source(citizens_only)?,
        },
    };
    Ok(Rule { each, when, check })
}

/// Reads the members of one rule against the schema.
struct Reader<'a> {
    obj: &'a Map<String, Value>,
    schema: &'a Value,
    base: &'a Value,
    kind: &'a str,
}

impl Reader<'_> {
    fn field(&self, member: &str) -> Result<Pointer, String> {
        self.optional_field(member)?
            .ok_or_else(|| format!("{}: \"{member}\" is required", self.kind))
    }

    fn optional_field(&self, member: &str) -> Result<Option<Pointer>, String> {
        let Some(value) = self.obj.get(member) else {
            return Ok(None);
        };
        let pointer = pointer_member(member, value)?;
        declared(self.schema, self.base, &pointer)?;
        Ok(Some(pointer))
    }

    fn condition(&self, value: &Value) -> Result<Condition, String> {
        let obj = value
            .as_object()
            .ok_or("\"when\" is an object {\"field\": …, \"equals\": …}")?;
        if let Some(unknown) = obj.keys().find(|k| *k != "field" && *k != "equals") {
            return Err(format!("when: unknown member {unknown:?}"));
        }
        let field = pointer_member(
            "when.field",
            obj.get("field").ok_or("when: \"field\" is required")?,
        )?;
        declared(self.schema, self.base, &field)?;
        let equals = obj
            .get("equals")
            .and_then(Value::as_str)
            .ok_or("when: \"equals\" (a string) is required")?;
        Ok(Condition {
            field,
            equals: equals.to_owned(),
        })
    }

    /// `"id"`: a pointer to a citizen ID field, or `"holder"` for the
    /// holder's own code when the type is only issued to citizens.
    fn id_source(&self, citizens_only: bool) -> Result<IdSource, String> {
        match self.obj.get("id") {
            None => Err(format!("{}: \"id\" is required", self.kind)),
            Some(Value::String(s)) if s == "holder" => {
                if citizens_only {
                    Ok(IdSource::Holder)
                } else {
                    Err(format!(
                        "{}: \"id\": \"holder\" needs a type issued to citizens (111) only",
                        self.kind
                    ))
                }
            }
            Some(_) => self.field("id").map(IdSource::Field),
        }
    }

    fn years(&self) -> Result<u8, String> {
        self.obj
            .get("years")
            .and_then(Value::as_u64)
            .filter(|y| (1..=MAX_YEARS).contains(y))
            .and_then(|y| u8::try_from(y).ok())
            .ok_or_else(|| {
                format!("minAgeAtIssue: \"years\" is a whole number from 1 to {MAX_YEARS}")
            })
    }
}

/// The item schema of the array `list` declares.
fn array_items<'s>(schema: &'s Value, list: &Pointer) -> Result<&'s Value, String> {
    let node = declared(schema, schema, list)?;
    let is_array = node.get("type").and_then(Value::as_str) == Some("array");
    match node.get("items") {
        Some(items) if is_array => follow_refs(schema, items),
        _ => Err(format!(
            "each: {list} is not declared as an array with items"
        )),
    }
}

/// The schema of the property `pointer` names, starting at `base`.
fn declared<'s>(
    schema: &'s Value,
    base: &'s Value,
    pointer: &Pointer,
) -> Result<&'s Value, String> {
    let mut node = follow_refs(schema, base)?;
    for token in &pointer.tokens {
        let property = node
            .get("properties")
            .and_then(|p| p.get(token))
            .ok_or_else(|| format!("{pointer} is not a property the schema declares"))?;
        node = follow_refs(schema, property)?;
    }
    Ok(node)
}

/// Follows local `$ref`s (`#/…`) to the schema they name.
fn follow_refs<'s>(schema: &'s Value, mut node: &'s Value) -> Result<&'s Value, String> {
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return Ok(node);
        };
        node = reference
            .strip_prefix('#')
            .and_then(|p| schema.pointer(p))
            .ok_or_else(|| format!("$ref {reference:?} names nothing in the schema"))?;
    }
    Err(format!("more than {MAX_REF_HOPS} $ref hops"))
}

/// A JSON Pointer (RFC 6901) to a member of the subject data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl std::fmt::Display for Pointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn pointer_member(member: &str, value: &Value) -> Result<Pointer, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("\"{member}\" is a JSON pointer string"))?;
    Pointer::parse(text).map_err(|e| format!("{member}: {e}"))
}

impl Pointer {
    fn parse(text: &str) -> Result<Self, String> {
        let rest = text.strip_prefix('/').ok_or_else(|| {
            format!("{text:?} is not a JSON pointer to a field (one starts with /)")
        })?;
        let tokens = rest
            .split('/')
            .map(|t| unescape(text, t))
            .collect::<Result<Vec<_>, _>>()?;
        if tokens.len() > MAX_POINTER_TOKENS {
            return Err(format!(
                "{text:?} is deeper than {MAX_POINTER_TOKENS} members"
            ));
        }
        if tokens.iter().any(String::is_empty) {
            return Err(format!("{text:?} has an empty member name"));
        }
        Ok(Pointer {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The value this pointer names in `data`; object members only.
    fn get<'d>(&self, data: &'d Value) -> Option<&'d Value> {
        self.tokens
            .iter()
            .try_fold(data, |v, token| v.as_object()?.get(token))
    }
}

fn unescape(pointer: &str, token: &str) -> Result<String, String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return Err(format!("{pointer:?} has a ~ not followed by 0 or 1")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_is_reached_on_the_anniversary() {
        let on =
            |y, m, d| Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        assert_eq!(age_on((1966, 11, 25), on(2026, 11, 25)), 60);
        assert_eq!(age_on((1966, 11, 26), on(2026, 11, 25)), 59);
        assert_eq!(age_on((1964, 2, 29), on(2025, 2, 28)), 60);
        assert_eq!(age_on((1964, 2, 29), on(2025, 3, 1)), 61);
        assert_eq!(age_on((2027, 1, 1), on(2026, 11, 25)), -1);
    }

    #[test]
    fn pointers() {
        let p = Pointer::parse("/a~1b/c~0d").unwrap();
        assert_eq!(p.tokens, vec!["a/b", "c~d"]);
        for bad in ["", "a", "/", "/a//b", "/a~2", "/a~", "/1/2/3/4/5/6/7/8/9"] {
            assert!(Pointer::parse(bad).is_err(), "{bad:?}");
        }
        let data = serde_json::json!({"a/b": {"c~d": "x"}, "l": ["y"]});
        assert_eq!(p.get(&data), Some(&Value::from("x")));
        assert_eq!(Pointer::parse("/l/0").unwrap().get(&data), None);
    }
}
