//! Building a licence: a W3C Verifiable Credential 2.0 that carries the
//! GB/T 36903 metadata and an `eddsa-jcs-2022` proof.
//!
//! Layout (field names are part of the format; see `docs/LICENCE-FORMAT.md`):
//!
//! ```json
//! {
//!   "@context": ["https://www.w3.org/ns/credentials/v2", "https://schemas.tongban.dev/licence/v1"],
//!   "id": "urn:licence:1.2.156.3005.2.…",            // 证照标识
//!   "type": ["VerifiableCredential", "ElectronicLicence"],
//!   "name": "营业执照",                                // 证照名称
//!   "issuer": {"id": "urn:uscc:…", "name": "…"},        // 颁发机构 (+ 代码)
//!   "validFrom": "…", "validUntil": "…",              // 有效期
//!   "credentialSubject": {                             // 持证主体
//!     "id": "urn:holder:001:…", "name": "…", "holderCode": "…", "holderCodeType": "001",
//!     "licenceData": { … }                             // 照面信息, checked against the type's schema
//!   },
//!   "licence": {"typeCode": "…", "typeVersion": "1", "number": "…", "identifier": "…",
//!               "issuerCode": "…", "issueDate": "2026-11-25", "serviceItem": {"code": "…", "name": "…"}},
//!   "relatedResource": [{"id": "urn:tongban:blob:sha256:…", "mediaType": "application/pdf", "digestSRI": "sha256-…"}],
//!   "credentialStatus": [ {revocation entry}, {suspension entry} ],
//!   "proof": { eddsa-jcs-2022 }
//! }
//! ```
//!
//! The status (现势 / 中止 / 注销) is not a signed field: it changes after
//! issue, so it lives in the issuer's status lists and verifiers report it.

use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime, UtcOffset};
use tongban_codes::{HolderCode, LicenceIdentifier, Uscc};
use tongban_seal::jcs::JcsError;
use tongban_seal::timefmt::format_rfc3339;
use tongban_seal::{KeyRecord, KeyUseError, SigningKey};

use crate::di;
use crate::problem::{Problem, ProblemCode};
use crate::rules::Facts;
use crate::status::{self, StatusPurpose};
use crate::types::{LicenceType, LicenceTypes};
pub use crate::vocab::{LICENCE_CREDENTIAL_TYPE, VC_CONTEXT, digest_sri, issuer_id_of};

/// Tongban's licence vocabulary (shipped in `schemas/context/licence-v1.jsonld`).
pub const LICENCE_CONTEXT: &str = "https://schemas.tongban.dev/licence/v1";
/// China Standard Time, in which issue dates are counted.
pub const CHINA_STANDARD_TIME: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// `urn:uscc:{code}`: how an organisation is named in credentials.
pub fn organisation_urn(code: &Uscc) -> String {
    format!("urn:uscc:{code}")
}

/// `urn:holder:{code type}:{code}`: the subject id of a holder.
pub fn holder_urn(code: &HolderCode) -> String {
    format!("urn:holder:{}:{}", code.code_type().as_str(), code.as_str())
}

/// `urn:licence:{identifier}`: the credential id of a licence.
pub fn licence_urn(identifier: &LicenceIdentifier) -> String {
    format!("urn:licence:{identifier}")
}

/// `urn:tongban:blob:sha256:{hex}`: the id of a stored attachment.
pub fn blob_urn(sha256: &[u8; 32]) -> String {
    format!("urn:tongban:blob:sha256:{}", hex(sha256))
}

pub use tongban_seal::hex;

/// The issuing department and the key it signs with.
#[derive(Debug)]
pub struct Issuer<'a> {
    /// The department's unified social credit code.
    pub code: &'a Uscc,
    /// Its name, e.g. 广州市花都区市场监督管理局.
    pub name: &'a str,
    /// Its current signing key.
    pub key: &'a SigningKey,
    /// The key's record (controller, validity window).
    pub key_record: &'a KeyRecord,
}

/// The holder (持证主体).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Name of the person or organisation.
    pub name: String,
    /// Citizen ID or USCC.
    pub code: HolderCode,
}

/// The service item (事项) whose approval produced the licence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceItemRef {
    /// Service item code.
    pub code: String,
    /// Service item name.
    pub name: String,
}

/// An attachment (the PDF/OFD rendering), bound by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRef {
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Media type, e.g. `application/pdf` or `application/ofd`.
    pub media_type: String,
}

/// What the issuing department asks for.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// 证照类型代码.
    pub type_code: String,
    /// Version of the type; latest when `None`.
    pub type_version: Option<String>,
    /// The holder.
    pub holder: Holder,
    /// Subject data (照面信息).
    pub data: Value,
    /// Start of validity; the issue instant when `None`.
    pub valid_from: Option<OffsetDateTime>,
    /// End of validity; from the type's default when `None`.
    pub valid_until: Option<OffsetDateTime>,
    /// The related service item, if any.
    pub service_item: Option<ServiceItemRef>,
    /// Attachment, if any.
    pub attachment: Option<AttachmentRef>,
}

/// Numbers the store hands out for one licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Serial part of the identifier ([0-9A-Z]+).
    pub serial: String,
    /// Version part of the identifier (1 for a first issue).
    pub version: u16,
    /// Sequence of the issuer's status lists this licence is on.
    pub list_sequence: u32,
    /// Index in both of the issuer's status lists.
    pub status_index: u32,
}

/// A freshly issued licence.
#[derive(Debug, Clone)]
pub struct IssuedLicence {
    /// 证照标识.
    pub identifier: LicenceIdentifier,
    /// 证照编号.
    pub number: String,
    /// The signed credential.
    pub credential: Value,
    /// The licence type it was checked against.
    pub type_code: String,
    /// Its version.
    pub type_version: String,
    /// Validity.
    pub valid_from: OffsetDateTime,
    /// Validity end, if any.
    pub valid_until: Option<OffsetDateTime>,
}

/// Why a licence could not be issued. Nothing is written when this is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// No such licence type (or version).
    #[error("unknown licence type {0}")]
    LicenceTypeUnknown(String),
    /// The subject data violates the type's schema.
    #[error("{}", .0.message)]
    SubjectSchemaViolation(Problem),
    /// The subject data breaks one of the type's cross-field rules: the code
    /// is the first violation's (`DATA_…`), the message names every one.
    #[error("{}", .0.message)]
    DataRule(Problem),
    /// The type does not allow this kind of holder.
    #[error("licence type {type_code} cannot be issued to holder code type {code_type}")]
    HolderCodeTypeNotAllowed {
        /// The type.
        type_code: String,
        /// The holder's code type.
        code_type: String,
    },
    /// `validUntil` is not after `validFrom`.
    #[error("validity ends ({until}) before it starts ({from})")]
    ValidityRange {
        /// Start.
        from: String,
        /// End.
        until: String,
    },
    /// The issuer's key may not sign now.
    #[error("issuer key cannot sign now: {0}")]
    IssuerKeyNotUsable(KeyUseError),
    /// The data holds numbers that cannot be signed safely.
    #[error("{0}")]
    UnsafeNumber(JcsError),
    /// The identifier could not be built from the allocation.
    #[error("cannot build licence identifier: {0}")]
    Identifier(tongban_codes::CodeError),
}

impl IssueError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IssueError::LicenceTypeUnknown(_) => "LICENCE_TYPE_UNKNOWN",
            IssueError::SubjectSchemaViolation(_) => "SUBJECT_SCHEMA_VIOLATION",
            IssueError::DataRule(problem) => problem.code.as_str(),
            IssueError::HolderCodeTypeNotAllowed { .. } => "HOLDER_CODE_TYPE_NOT_ALLOWED",
            IssueError::ValidityRange { .. } => "VALIDITY_RANGE_INVALID",
            IssueError::IssuerKeyNotUsable(_) => "ISSUER_KEY_NOT_USABLE",
            IssueError::UnsafeNumber(_) => "UNSAFE_NUMBER",
            IssueError::Identifier(_) => "IDENTIFIER_INVALID",
        }
    }
}

/// Resolves the licence type of a request and checks everything that does
/// not need the store: type, holder kind, schema, the type's cross-field
/// rules (on the issue date of `now`), validity, key.
///
/// Run before allocating numbers so that bad requests cost nothing.
pub fn check_request<'t>(
    types: &'t LicenceTypes,
    request: &IssueRequest,
    issuer: &Issuer<'_>,
    now: OffsetDateTime,
) -> Result<&'t LicenceType, IssueError> {
    let licence_type = match &request.type_version {
        Some(v) => types.get(&request.type_code, v),
        None => types.latest(&request.type_code),
    }
    .ok_or_else(|| {
        IssueError::LicenceTypeUnknown(match &request.type_version {
            Some(v) => format!("{}@{v}", request.type_code),
            None => request.type_code.clone(),
        })
    })?;
    let code_type = request.holder.code.code_type();
    if !licence_type.holder_code_types.contains(&code_type) {
        return Err(IssueError::HolderCodeTypeNotAllowed {
            type_code: licence_type.code.to_string(),
            code_type: code_type.as_str().to_owned(),
        });
    }
    licence_type
        .validate(&request.data)
        .map_err(IssueError::SubjectSchemaViolation)?;
    tongban_seal::jcs::check_signable(&request.data, &mut "/licenceData".to_owned())
        .map_err(IssueError::UnsafeNumber)?;
    let facts = Facts {
        holder_name: &request.holder.name,
        holder_code: &request.holder.code,
        issue_date: Some(now.to_offset(CHINA_STANDARD_TIME).date()),
    };
    licence_type
        .check_rules(&request.data, &facts)
        .map_err(|problems| IssueError::DataRule(summary(problems)))?;
    let (from, until) = validity(licence_type, request, now);
    if let Some(until) = until {
        if until <= from {
            return Err(IssueError::ValidityRange {
                from: format_rfc3339(from),
                until: format_rfc3339(until),
            });
        }
    }
    issuer
        .key_record
        .validity
        .check_at(now)
        .map_err(IssueError::IssuerKeyNotUsable)?;
    Ok(licence_type)
}

/// One problem standing for several: the first one's code, every message.
fn summary(problems: Vec<Problem>) -> Problem {
    let mut all = problems.into_iter();
    let Some(first) = all.next() else {
        return Problem::new(ProblemCode::SubjectSchemaViolation, "no problem");
    };
    let mut message = first.message;
    for more in all {
        message.push_str(&format!("; {} ({})", more.message, more.code));
    }
    Problem::new(first.code, message)
}

/// Builds and signs a licence. Call [`check_request`] first.
pub fn issue(
    licence_type: &LicenceType,
    request: &IssueRequest,
    issuer: &Issuer<'_>,
    allocation: &Allocation,
    now: OffsetDateTime,
) -> Result<IssuedLicence, IssueError> {
    let now = tongban_seal::timefmt::truncate_to_seconds(now);
    let identifier = LicenceIdentifier::new(
        licence_type.code.clone(),
        issuer.code.clone(),
        &allocation.serial,
        allocation.version,
    )
    .map_err(IssueError::Identifier)?;
    let number = licence_type
        .number_in(&request.data)
        .map_or_else(|| allocation.serial.clone(), str::to_owned);
    let (valid_from, valid_until) = validity(licence_type, request, now);
    let issuer_code = issuer.code.to_string();

    let mut meta = Map::new();
    meta.insert("typeCode".into(), licence_type.code.to_string().into());
    meta.insert("typeVersion".into(), licence_type.version.clone().into());
    meta.insert("number".into(), number.clone().into());
    meta.insert("identifier".into(), identifier.to_string().into());
    meta.insert("issuerCode".into(), issuer_code.clone().into());
    meta.insert("issueDate".into(), china_date(now).into());
    if let Some(item) = &request.service_item {
        meta.insert(
            "serviceItem".into(),
            json!({"code": item.code, "name": item.name}),
        );
    }

    let mut credential = Map::new();
    credential.insert("@context".into(), json!([VC_CONTEXT, LICENCE_CONTEXT]));
    credential.insert("id".into(), licence_urn(&identifier).into());
    credential.insert(
        "type".into(),
        json!(["VerifiableCredential", LICENCE_CREDENTIAL_TYPE]),
    );
    credential.insert("name".into(), licence_type.name.clone().into());
    credential.insert(
        "issuer".into(),
        json!({"id": organisation_urn(issuer.code), "name": issuer.name}),
    );
    credential.insert("validFrom".into(), format_rfc3339(valid_from).into());
    if let Some(until) = valid_until {
        credential.insert("validUntil".into(), format_rfc3339(until).into());
    }
    credential.insert(
        "credentialSubject".into(),
        json!({
            "id": holder_urn(&request.holder.code),
            "name": request.holder.name,
            "holderCode": request.holder.code.as_str(),
            "holderCodeType": request.holder.code.code_type().as_str(),
            "licenceData": request.data,
        }),
    );
    credential.insert("licence".into(), Value::Object(meta));
    if let Some(attachment) = &request.attachment {
        credential.insert(
            "relatedResource".into(),
            json!([{
                "id": blob_urn(&attachment.sha256),
                "mediaType": attachment.media_type,
                "digestSRI": digest_sri(&attachment.sha256),
            }]),
        );
    }
    let entries: Vec<Value> = [StatusPurpose::Revocation, StatusPurpose::Suspension]
        .into_iter()
        .map(|purpose| {
            let list = status::list_id(&issuer_code, purpose, allocation.list_sequence);
            status::entry(&list, purpose, allocation.status_index)
        })
        .collect();
    credential.insert("credentialStatus".into(), Value::Array(entries));

    di::add_proof(
        &mut credential,
        issuer.key,
        &issuer.key_record.verification_method(),
        now,
    )
    .map_err(IssueError::UnsafeNumber)?;
    Ok(IssuedLicence {
        identifier,
        number,
        credential: Value::Object(credential),
        type_code: licence_type.code.to_string(),
        type_version: licence_type.version.clone(),
        valid_from,
        valid_until,
    })
}

fn validity(
    licence_type: &LicenceType,
    request: &IssueRequest,
    now: OffsetDateTime,
) -> (OffsetDateTime, Option<OffsetDateTime>) {
    let from = tongban_seal::timefmt::truncate_to_seconds(request.valid_from.unwrap_or(now));
    let until = request
        .valid_until
        .map(tongban_seal::timefmt::truncate_to_seconds)
        .or_else(|| {
            licence_type
                .default_validity_years
                .and_then(|years| add_years(from, years))
        });
    (from, until)
}

/// `from` plus whole years, ending the day before the anniversary at 23:59:59 CST,
/// as printed validity periods read (e.g. 2026-11-25 to 2036-11-24).
fn add_years(from: OffsetDateTime, years: u16) -> Option<OffsetDateTime> {
    let local = from.to_offset(CHINA_STANDARD_TIME);
    let year = local.year() + i32::from(years);
    let day = local
        .day()
        .min(time::util::days_in_month(local.month(), year));
    let anniversary = Date::from_calendar_date(year, local.month(), day).ok()?;
    let last_day = anniversary.previous_day()?;
    Some(
        last_day
            .with_hms(23, 59, 59)
            .ok()?
            .assume_offset(CHINA_STANDARD_TIME)
            .to_offset(UtcOffset::UTC),
    )
}

/// The calendar date of `t` in China Standard Time, `YYYY-MM-DD`.
pub fn china_date(t: OffsetDateTime) -> String {
    let d = t.to_offset(CHINA_STANDARD_TIME).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}
