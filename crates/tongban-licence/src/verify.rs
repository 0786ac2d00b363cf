//! Verifying licences, online or offline, one at a time or in batches.
//!
//! Everything a verifier relies on is in a [`Trust`]: issuers' keys with
//! their windows, verified status lists, licence types. The store fills one
//! for online verification; an exported trust file fills one offline. The
//! result is a [`Verification`]: valid, or every problem found, each with a
//! stable code. Only a valid verification yields a [`VerifiedLicence`].

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use time::{Date, Duration, OffsetDateTime};
use tongban_codes::{HolderCode, HolderCodeType, LicenceIdentifier};
use tongban_seal::batch::{self, BatchItem};
use tongban_seal::json::StrictJsonError;
use tongban_seal::timefmt::{format_rfc3339, parse_rfc3339};
use tongban_seal::{KeyRecord, KeyUseError, PublicKey, Signature};

pub use crate::di::KeyLookup;
use crate::di::{self, controller_of};
use crate::problem::{Problem, ProblemCode};
use crate::rules::Facts;
use crate::status::{LicenceStatus, StatusPurpose, VerifiedStatusList};
use crate::types::LicenceTypes;
use crate::vocab::{LICENCE_CREDENTIAL_TYPE, digest_sri, issuer_id_of};

/// How far a proof's `created` may lie ahead of the verifier's clock.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// What a verifier trusts: keys, status lists, licence types.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    keys: HashMap<String, KeyRecord>,
    lists: HashMap<String, VerifiedStatusList>,
    /// Licence types known to the verifier.
    pub types: LicenceTypes,
    /// Whether `did:key` issuers are verified with the key their identifier
    /// names ([`crate::didkey`]).
    did_key: bool,
}

impl KeyLookup for Trust {
    fn key(&self, verification_method: &str) -> Option<&KeyRecord> {
        self.keys.get(verification_method)
    }
}

impl Trust {
    /// An empty trust.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts a key (replacing an earlier record of it).
    pub fn add_key(&mut self, record: KeyRecord) {
        self.keys.insert(record.verification_method(), record);
    }

    /// Adds a verified status list (replacing an older copy).
    pub fn add_status_list(&mut self, list: VerifiedStatusList) {
        self.lists.insert(list.id.clone(), list);
    }

    /// A status list by id.
    pub fn status_list(&self, id: &str) -> Option<&VerifiedStatusList> {
        self.lists.get(id)
    }

    /// Every trusted key.
    pub fn keys(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.values()
    }

    /// Every status list.
    pub fn status_lists(&self) -> impl Iterator<Item = &VerifiedStatusList> {
        self.lists.values()
    }

    /// Also verify credentials from `did:key` issuers, with the key each
    /// one's identifier names (off unless set: a region's licences are
    /// verified with the keys its registry holds).
    pub fn accept_did_key(&mut self, accept: bool) {
        self.did_key = accept;
    }

    /// The key a credential's proof names: a trusted one, or (when
    /// accepted) the key of a `did:key` method.
    fn resolve(&self, verification_method: &str) -> Option<Cow<'_, KeyRecord>> {
        if let Some(record) = self.keys.get(verification_method) {
            return Some(Cow::Borrowed(record));
        }
        if self.did_key {
            return crate::didkey::record(verification_method).map(Cow::Owned);
        }
        None
    }
}

/// Options for one verification run.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The verifier's clock.
    pub now: OffsetDateTime,
    /// SHA-256 of attachments the verifier holds, by resource id. `None`:
    /// attachments are not checked (reported in [`Verification::unchecked`]).
    pub attachments: Option<&'a HashMap<String, [u8; 32]>>,
}

/// The key facts of a licence, for display and for find results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceSummary {
    /// Credential id.
    pub id: String,
    /// 证照名称 (or the credential's `name`).
    pub name: Option<String>,
    /// Issuer id.
    pub issuer: String,
    /// Issuer name.
    pub issuer_name: Option<String>,
    /// 证照标识, for licences.
    pub identifier: Option<String>,
    /// 证照类型代码, for licences.
    pub type_code: Option<String>,
    /// 证照编号, for licences.
    pub number: Option<String>,
    /// Holder name.
    pub holder_name: Option<String>,
    /// Holder code.
    pub holder_code: Option<String>,
    /// Holder code type.
    pub holder_code_type: Option<String>,
    /// Start of validity.
    pub valid_from: Option<String>,
    /// End of validity.
    pub valid_until: Option<String>,
}

/// The result of verifying one credential.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// True when there are no problems: for reading and printing only.
    /// [`Verification::into_verified`] does not trust it (a caller may
    /// change it); it goes by the verdict the checks reached, kept private.
    pub valid: bool,
    /// Every problem found, in the order checked.
    pub problems: Vec<Problem>,
    /// Checks that could not be made (e.g. no attachment at hand).
    pub unchecked: Vec<String>,
    /// Status from the issuer's lists, when they were available.
    pub status: Option<LicenceStatus>,
    /// Key facts, when the credential was well-formed enough to read them.
    pub summary: Option<LicenceSummary>,
    #[serde(skip)]
    credential: Option<Value>,
    /// Whether the checks found no problem, set only where they end.
    #[serde(skip)]
    passed: bool,
}

impl Verification {
    fn failed(problem: Problem) -> Self {
        Verification {
            valid: false,
            passed: false,
            problems: vec![problem],
            unchecked: Vec::new(),
            status: None,
            summary: None,
            credential: None,
        }
    }

    /// Whether a problem with `code` was found.
    pub fn has(&self, code: ProblemCode) -> bool {
        self.problems.iter().any(|p| p.code == code)
    }

    /// The verified licence, if valid.
    pub fn into_verified(self) -> Result<VerifiedLicence, Vec<Problem>> {
        match (self.passed, self.credential, self.summary) {
            (true, Some(credential), Some(summary)) => Ok(VerifiedLicence {
                credential,
                summary,
            }),
            _ => Err(self.problems),
        }
    }
}

/// A credential that passed every check. Only [`Verification::into_verified`] builds one.
#[derive(Debug, Clone)]
pub struct VerifiedLicence {
    credential: Value,
    summary: LicenceSummary,
}

impl VerifiedLicence {
    /// The credential as verified.
    pub fn credential(&self) -> &Value {
        &self.credential
    }

    /// Its key facts.
    pub fn summary(&self) -> &LicenceSummary {
        &self.summary
    }
}

/// Parses bytes as a credential and verifies it.
///
/// The bytes are read strictly (`tongban_seal::json`): an object that
/// repeats a member name is `DUPLICATE_MEMBER`, whatever the signature
/// says, because another tool reading the same file could show the other
/// value of the member.
pub fn verify_bytes(trust: &Trust, bytes: &[u8], options: VerifyOptions<'_>) -> Verification {
    match tongban_seal::json::from_slice_strict(bytes) {
        Ok(value) => verify(trust, value, options),
        Err(e @ StrictJsonError::DuplicateMember { .. }) => {
            Verification::failed(Problem::new(ProblemCode::DuplicateMember, e.to_string()))
        }
        Err(e) => Verification::failed(Problem::new(
            ProblemCode::MalformedJson,
            format!("not JSON: {e}"),
        )),
    }
}

/// The attachment digests a verifier holds when it is handed the
/// attachment file itself: the file stands for every resource the
/// credential binds (`relatedResource` ids), so a file that is not the one
/// bound fails `ATTACHMENT_DIGEST_MISMATCH` on each.
pub fn presented_attachment(credential: &Value, file: &[u8]) -> HashMap<String, [u8; 32]> {
    let digest = tongban_seal::sha256(file);
    credential
        .get("relatedResource")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str))
        .map(|id| (id.to_owned(), digest))
        .collect()
}

/// Verifies one credential with strict signature verification.
pub fn verify(trust: &Trust, credential: Value, options: VerifyOptions<'_>) -> Verification {
    let mut pending = precheck(trust, credential, options);
    if let Some(job) = pending.signature.take() {
        if !job.key.verify_strict(&job.hash_data, &job.signature) {
            pending.problems.insert(0, invalid_signature());
        }
    }
    pending.finish()
}

/// Verifies many credentials, checking their signatures in one batch.
///
/// The outcome is the same as calling [`verify`] on each (see
/// `tongban_seal::batch` for how the batch path keeps to strict rules).
pub fn verify_many(
    trust: &Trust,
    credentials: Vec<Value>,
    options: VerifyOptions<'_>,
) -> Vec<Verification> {
    let mut pending: Vec<Pending> = credentials
        .into_iter()
        .map(|c| precheck(trust, c, options))
        .collect();
    let jobs: Vec<(usize, SignatureJob)> = pending
        .iter_mut()
        .enumerate()
        .filter_map(|(i, p)| p.signature.take().map(|job| (i, job)))
        .collect();
    let items: Vec<BatchItem<'_>> = jobs
        .iter()
        .map(|(_, job)| BatchItem {
            key: &job.key,
            message: &job.hash_data,
            signature: &job.signature,
        })
        .collect();
    let results = batch::verify_batch(&items);
    for ((i, _), ok) in jobs.iter().zip(results) {
        if !ok {
            pending[*i].problems.insert(0, invalid_signature());
        }
    }
    pending.into_iter().map(Pending::finish).collect()
}

fn invalid_signature() -> Problem {
    Problem::new(
        ProblemCode::ProofInvalid,
        "the signature does not match the credential: it was altered after signing, or signed with another key",
    )
}

struct SignatureJob {
    key: PublicKey,
    hash_data: [u8; 64],
    signature: Signature,
}

struct Pending {
    problems: Vec<Problem>,
    unchecked: Vec<String>,
    status: Option<LicenceStatus>,
    summary: Option<LicenceSummary>,
    credential: Option<Value>,
    signature: Option<SignatureJob>,
}

impl Pending {
    fn finish(self) -> Verification {
        Verification {
            valid: self.problems.is_empty(),
            passed: self.problems.is_empty(),
            problems: self.problems,
            unchecked: self.unchecked,
            status: self.status,
            summary: self.summary,
            credential: self.credential,
        }
    }
}

/// Every check except the signature equation.
fn precheck(trust: &Trust, credential: Value, options: VerifyOptions<'_>) -> Pending {
    let mut pending = Pending {
        problems: Vec::new(),
        unchecked: Vec::new(),
        status: None,
        summary: None,
        credential: None,
        signature: None,
    };
    let Value::Object(map) = &credential else {
        pending.problems.push(Problem::new(
            ProblemCode::MalformedCredential,
            "a credential must be a JSON object",
        ));
        return pending;
    };
    let problems = &mut pending.problems;
    let Some(issuer) = issuer_id_of(map) else {
        problems.push(Problem::new(
            ProblemCode::MalformedCredential,
            "the credential has no issuer",
        ));
        return pending;
    };

    // Proof and key.
    match di::parse_proof(map) {
        Err(p) => problems.push(p),
        Ok(proof) => {
            let signed_at = proof
                .created
                .or_else(|| date_field(map, "validFrom").ok().flatten())
                .unwrap_or(options.now);
            if signed_at > options.now + CLOCK_SKEW {
                problems.push(Problem::new(
                    ProblemCode::ProofFromFuture,
                    format!(
                        "proof created {} is in the future",
                        format_rfc3339(signed_at)
                    ),
                ));
            }
            match trust.resolve(&proof.verification_method) {
                None => problems.push(Problem::new(
                    ProblemCode::KeyUnknown,
                    format!(
                        "key {} is not known to this verifier",
                        proof.verification_method
                    ),
                )),
                Some(record) => {
                    if record.controller != issuer
                        || controller_of(&proof.verification_method) != issuer
                    {
                        problems.push(Problem::new(
                            ProblemCode::KeyNotIssuers,
                            format!(
                                "key belongs to {}, but the credential's issuer is {issuer}",
                                record.controller
                            ),
                        ));
                    }
                    if !record.purpose.covers(tongban_seal::KeyPurpose::Issue) {
                        problems.push(Problem::new(
                            ProblemCode::KeyWrongPurpose,
                            format!(
                                "key {} signs {} messages, not licences",
                                record.key_id(),
                                record.purpose
                            ),
                        ));
                    }
                    if let Err(e) = record.validity.check_at(signed_at) {
                        let code = match e {
                            KeyUseError::Revoked { .. } => ProblemCode::KeyRevoked,
                            KeyUseError::Expired { .. } => ProblemCode::KeyExpired,
                            _ => ProblemCode::KeyNotYetValid,
                        };
                        problems.push(Problem::new(code, e.to_string()));
                    }
                    pending.signature = Some(SignatureJob {
                        key: record.public,
                        hash_data: proof.hash_data,
                        signature: proof.signature,
                    });
                }
            }
        }
    }

    // Validity period.
    let valid_from = date_field(map, "validFrom");
    let valid_until = date_field(map, "validUntil");
    match (&valid_from, &valid_until) {
        (Err(p), _) | (_, Err(p)) => problems.push(p.clone()),
        (Ok(from), Ok(until)) => {
            if let Some(from) = from {
                if options.now < *from {
                    problems.push(Problem::new(
                        ProblemCode::LicenceNotYetValid,
                        format!("valid from {}", format_rfc3339(*from)),
                    ));
                }
            }
            if let Some(until) = until {
                if options.now > *until {
                    problems.push(Problem::new(
                        ProblemCode::LicenceExpired,
                        format!("expired at {}", format_rfc3339(*until)),
                    ));
                }
            }
        }
    }

    let is_licence = map
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|v| v == LICENCE_CREDENTIAL_TYPE));
    if is_licence {
        check_licence(trust, map, issuer, problems);
    }
    pending.status = check_status(trust, map, issuer, options.now, problems);
    check_attachments(map, options, problems, &mut pending.unchecked);
    pending.summary = Some(summary(map, issuer));
    pending.credential = Some(credential);
    pending
}

fn date_field(map: &Map<String, Value>, name: &str) -> Result<Option<OffsetDateTime>, Problem> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => parse_rfc3339(s).map(Some).map_err(|e| {
            Problem::new(
                ProblemCode::MalformedCredential,
                format!("{name} {s:?}: {e}"),
            )
        }),
        Some(_) => Err(Problem::new(
            ProblemCode::MalformedCredential,
            format!("{name} is not a string"),
        )),
    }
}

/// GB/T 36903 / 36904 checks: identifier, holder code, type and schema.
fn check_licence(
    trust: &Trust,
    map: &Map<String, Value>,
    issuer: &str,
    problems: &mut Vec<Problem>,
) {
    let malformed = |m: &str| Problem::new(ProblemCode::MalformedCredential, m.to_owned());
    let Some(meta) = map.get("licence").and_then(Value::as_object) else {
        problems.push(malformed("a licence must carry a licence metadata object"));
        return;
    };
    let Some(subject) = map.get("credentialSubject").and_then(Value::as_object) else {
        problems.push(malformed("a licence must carry a credentialSubject object"));
        return;
    };
    let type_code = meta.get("typeCode").and_then(Value::as_str);

    // Identifier (证照标识) and its agreement with the metadata.
    match meta.get("identifier").and_then(Value::as_str) {
        None => problems.push(malformed("licence.identifier is missing")),
        Some(id) => match LicenceIdentifier::parse(id) {
            Err(e) => problems.push(Problem::new(
                ProblemCode::IdentifierInvalid,
                format!("{id}: {e} ({})", e.code()),
            )),
            Ok(identifier) => {
                let type_ok = type_code == Some(identifier.type_code().as_str());
                let issuer_code = identifier.issuer().as_str();
                let issuer_ok = meta.get("issuerCode").and_then(Value::as_str) == Some(issuer_code)
                    && issuer.strip_prefix("urn:uscc:") == Some(issuer_code);
                let id_ok = map
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|v| v.strip_prefix("urn:licence:"))
                    == Some(id);
                if !(type_ok && issuer_ok && id_ok) {
                    problems.push(Problem::new(
                        ProblemCode::IdentifierMismatch,
                        format!(
                            "identifier {id} disagrees with the credential id, type code or issuer"
                        ),
                    ));
                }
            }
        },
    }

    // Holder code (持证主体代码).
    let code_type = subject.get("holderCodeType").and_then(Value::as_str);
    let code = subject.get("holderCode").and_then(Value::as_str);
    let mut holder = None;
    let holder_type = match (code_type, code) {
        (Some(t), Some(c)) => match HolderCodeType::parse(t) {
            Err(e) => {
                problems.push(Problem::new(ProblemCode::HolderCodeInvalid, e.to_string()));
                None
            }
            Ok(kind) => {
                // Licences already issued may carry legacy USCCs that fail the checksum.
                match HolderCode::parse_with(kind, c, true) {
                    Ok(code) => holder = Some(code),
                    Err(e) => problems.push(Problem::new(
                        ProblemCode::HolderCodeInvalid,
                        format!("{e} ({})", e.code()),
                    )),
                }
                Some(kind)
            }
        },
        _ => {
            problems.push(malformed(
                "credentialSubject.holderCode / holderCodeType missing",
            ));
            None
        }
    };

    // Type and subject data.
    let type_code = type_code.unwrap_or_default();
    let type_version = meta
        .get("typeVersion")
        .and_then(Value::as_str)
        .unwrap_or("1");
    match trust.types.get(type_code, type_version) {
        None => problems.push(Problem::new(
            ProblemCode::LicenceTypeUnknown,
            format!("licence type {type_code}@{type_version} is not known to this verifier"),
        )),
        Some(licence_type) => {
            if let Some(kind) = holder_type {
                if !licence_type.holder_code_types.contains(&kind) {
                    problems.push(Problem::new(
                        ProblemCode::HolderCodeTypeNotAllowed,
                        format!(
                            "{} is not issued to holder code type {}",
                            licence_type.name,
                            kind.as_str()
                        ),
                    ));
                }
            }
            match subject.get("licenceData") {
                None => problems.push(malformed("credentialSubject.licenceData is missing")),
                Some(data) => match licence_type.validate(data) {
                    Err(p) => problems.push(p),
                    // The rules read data the schema admitted, and need a holder.
                    Ok(()) => {
                        if let Some(holder_code) = &holder {
                            let facts = Facts {
                                holder_name: subject
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default(),
                                holder_code,
                                issue_date: meta
                                    .get("issueDate")
                                    .and_then(Value::as_str)
                                    .and_then(parse_date),
                            };
                            if let Err(found) = licence_type.check_rules(data, &facts) {
                                problems.extend(found);
                            }
                        }
                    }
                },
            }
        }
    }
}

/// A `YYYY-MM-DD` date, as `licence.issueDate` is written.
fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).ok()
}

/// Status list checks; returns the status when every list was available.
fn check_status(
    trust: &Trust,
    map: &Map<String, Value>,
    issuer: &str,
    now: OffsetDateTime,
    problems: &mut Vec<Problem>,
) -> Option<LicenceStatus> {
    let entries: Vec<&Value> = match map.get("credentialStatus") {
        None => return Some(LicenceStatus::Valid),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single) => vec![single],
    };
    let mut status = LicenceStatus::Valid;
    let mut complete = true;
    for entry in entries {
        let invalid = |m: String| Problem::new(ProblemCode::StatusListInvalid, m);
        let Some(entry) = entry.as_object() else {
            problems.push(invalid("credentialStatus entry is not an object".into()));
            complete = false;
            continue;
        };
        let text = |k: &str| entry.get(k).and_then(Value::as_str);
        let (Some(purpose), Some(index), Some(list_id)) = (
            text("statusPurpose").and_then(StatusPurpose::parse),
            text("statusListIndex").and_then(|s| s.parse::<usize>().ok()),
            text("statusListCredential"),
        ) else {
            problems.push(invalid(
                "credentialStatus entry lacks purpose, index or list".into(),
            ));
            complete = false;
            continue;
        };
        let Some(list) = trust.status_list(list_id) else {
            problems.push(Problem::new(
                ProblemCode::StatusListUnavailable,
                format!("status list {list_id} is not available: cannot tell whether the licence was {}", match purpose {
                    StatusPurpose::Revocation => "revoked",
                    StatusPurpose::Suspension => "suspended",
                }),
            ));
            complete = false;
            continue;
        };
        if list.issuer_id != issuer || list.purpose != purpose {
            problems.push(invalid(format!(
                "status list {list_id} is not the issuer's {} list",
                purpose.as_str()
            )));
            complete = false;
            continue;
        }
        if let Some(until) = list.valid_until {
            if now > until {
                problems.push(Problem::new(
                    ProblemCode::StatusListStale,
                    format!(
                        "status list {list_id} expired at {}; fetch a fresh one",
                        format_rfc3339(until)
                    ),
                ));
                complete = false;
                continue;
            }
        }
        match list.bits.get(index) {
            None => {
                problems.push(invalid(format!(
                    "index {index} is beyond status list {list_id}"
                )));
                complete = false;
            }
            Some(false) => {}
            Some(true) => match purpose {
                StatusPurpose::Revocation => {
                    status = LicenceStatus::Revoked;
                    problems.push(Problem::new(
                        ProblemCode::LicenceRevoked,
                        "revoked (注销) by its issuer",
                    ));
                }
                StatusPurpose::Suspension => {
                    if status != LicenceStatus::Revoked {
                        status = LicenceStatus::Suspended;
                    }
                    problems.push(Problem::new(
                        ProblemCode::LicenceSuspended,
                        "suspended (中止) by its issuer",
                    ));
                }
            },
        }
    }
    complete.then_some(status)
}

fn check_attachments(
    map: &Map<String, Value>,
    options: VerifyOptions<'_>,
    problems: &mut Vec<Problem>,
    unchecked: &mut Vec<String>,
) {
    let Some(Value::Array(resources)) = map.get("relatedResource") else {
        return;
    };
    for resource in resources {
        let id = resource.get("id").and_then(Value::as_str).unwrap_or("?");
        let Some(sri) = resource.get("digestSRI").and_then(Value::as_str) else {
            continue;
        };
        let Some(held) = options.attachments else {
            unchecked.push(format!("attachment {id} (no attachment supplied)"));
            continue;
        };
        match held.get(id) {
            None => problems.push(Problem::new(
                ProblemCode::AttachmentUnavailable,
                format!("attachment {id} is not available"),
            )),
            Some(digest) => {
                if digest_sri(digest) != sri {
                    problems.push(Problem::new(
                        ProblemCode::AttachmentDigestMismatch,
                        format!(
                            "attachment {id}: digest {} does not match {sri}",
                            digest_sri(digest)
                        ),
                    ));
                }
            }
        }
    }
}

fn summary(map: &Map<String, Value>, issuer: &str) -> LicenceSummary {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let meta = map.get("licence");
    let subject = map.get("credentialSubject");
    LicenceSummary {
        id: text(map.get("id")).unwrap_or_default(),
        name: text(map.get("name")),
        issuer: issuer.to_owned(),
        issuer_name: text(map.get("issuer").and_then(|i| i.get("name"))),
        identifier: text(meta.and_then(|m| m.get("identifier"))),
        type_code: text(meta.and_then(|m| m.get("typeCode"))),
        number: text(meta.and_then(|m| m.get("number"))),
        holder_name: text(subject.and_then(|s| s.get("name"))),
        holder_code: text(subject.and_then(|s| s.get("holderCode"))),
        holder_code_type: text(subject.and_then(|s| s.get("holderCodeType"))),
        valid_from: text(map.get("validFrom")),
        valid_until: text(map.get("validUntil")),
    }
}
