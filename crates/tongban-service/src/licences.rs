//! The licence store: issue, verify, change status, find (with licence-use
//! records), publish status lists and trust files, export.
//!
//! Issue requests are read with exactly their members (`IssueInput::from_json`,
//! `REQUEST_INVALID` naming the member); `issue`/`issue_batch` check them fully
//! (`check_request`) before numbers are allocated in their own transaction,
//! sign on a blocking thread, make attachments durable, then write the rows and
//! `licence.issue` in one transaction. `verify_online` builds the `Trust` from
//! the store (all keys, the live status of the issuers involved, the types) and
//! adds the stored-copy check. `show` and `find_by_holder` check the query
//! (requester, stated purpose 申请事由, case), read the rows by identifier or
//! holder, write the licence-use record and verify the rows in one batch.
//! `trust_file`/`trust_file_for` are valid 7 days (`TRUST_FILE_VALIDITY`);
//! `trust_list` is the list served over the exchange, with the validity the
//! server is configured with.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tongban_codes::{HolderCode, HolderCodeType, LicenceIdentifier, Uscc};
use tongban_licence::credential::{self, organisation_urn};
use tongban_licence::status::{self, Bitstring, LIST_BITS, StatusPurpose, VerifiedStatusList};
use tongban_licence::trustfile::{self, IssuerEntry};
use tongban_licence::{
    Allocation, AttachmentRef, Holder, IssueRequest, IssuedLicence, Issuer, ProblemCode,
    ServiceItemRef, Trust, Verification, VerifyOptions,
};
use tongban_seal::timefmt::parse_rfc3339;
use tongban_store::{AuditRecord, LicenceRow, LicenceState, StatusEvent, UseRecord, UseRow};

use crate::HUB_OWNER;
use crate::error::Code;
use crate::text::{self, MAX_NAME_CHARS};
use crate::{Error, Result, Service};

/// How long a published status list may be relied on.
pub const STATUS_LIST_VALIDITY: Duration = Duration::hours(24);
/// How long a trust file may be relied on.
pub const TRUST_FILE_VALIDITY: Duration = Duration::days(7);
/// Most licences one issue batch may hold.
pub const MAX_ISSUE_BATCH: usize = 5_000;
/// Most licences one find returns.
pub const MAX_FIND_RESULTS: usize = 200;
/// Longest stated purpose (申请事由), in characters.
pub const MAX_USE_CAUSE_CHARS: usize = 500;
/// Longest case reference (办件编号, or `{region}:{caseId}` across regions).
pub const MAX_CASE_REF_CHARS: usize = 100;

/// An attachment to store with a licence.
#[derive(Debug, Clone)]
pub struct AttachmentInput {
    /// The bytes (PDF/OFD rendering).
    pub bytes: Vec<u8>,
    /// Media type.
    pub media_type: String,
}

/// A licence to issue, as a department submits it.
#[derive(Debug, Clone)]
pub struct IssueInput {
    /// 证照类型代码.
    pub type_code: String,
    /// Type version (latest if `None`).
    pub type_version: Option<String>,
    /// Holder name.
    pub holder_name: String,
    /// Holder code type (`111` / `001`).
    pub holder_code_type: String,
    /// Holder code.
    pub holder_code: String,
    /// Accept a USCC that fails the GB 32100 checksum (legally issued early codes).
    pub allow_legacy_uscc: bool,
    /// Subject data (照面信息).
    pub data: Value,
    /// Validity start.
    pub valid_from: Option<OffsetDateTime>,
    /// Validity end.
    pub valid_until: Option<OffsetDateTime>,
    /// Related service item.
    pub service_item: Option<ServiceItemRef>,
    /// Attachment.
    pub attachment: Option<AttachmentInput>,
}

impl IssueInput {
    /// Reads an issue request document:
    ///
    /// ```json
    /// {"type": "11100000TB0000001K001", "typeVersion": "1",
    ///  "holder": {"name": "…", "codeType": "001", "code": "…", "allowLegacyCode": false},
    ///  "data": {…}, "validFrom": "…", "validUntil": "…",
    ///  "serviceItem": {"code": "…", "name": "…"}}
    /// ```
    ///
    /// Exactly these members: an unknown one (a misspelt `vaildUntil`
    /// would otherwise issue a licence without an end) or a mistyped one is
    /// `REQUEST_INVALID`, naming it. Strings are taken as given, never
    /// trimmed; the holder's name is checked when the licence is issued.
    pub fn from_json(doc: &Value) -> Result<Self> {
        let request: RequestDoc = tongban_seal::json::decode(doc)
            .map_err(|e| Error::rejected(Code::RequestInvalid, format!("issue request: {e}")))?;
        let bad = |m: String| Error::rejected(Code::RequestInvalid, m);
        check_length("type", &request.r#type, MAX_TYPE_CODE_CHARS).map_err(bad)?;
        if let Some(v) = &request.type_version {
            check_length("typeVersion", v, MAX_TYPE_VERSION_CHARS).map_err(bad)?;
        }
        let time = |name: &str, text: Option<&String>| -> Result<Option<OffsetDateTime>> {
            text.map(|s| parse_rfc3339(s).map_err(|e| bad(format!("{name} {s:?}: {e}"))))
                .transpose()
        };
        let service_item = match request.service_item {
            None => None,
            Some(item) => {
                check_item_code(&item.code).map_err(bad)?;
                text::name(
                    Code::RequestInvalid,
                    "serviceItem.name",
                    &item.name,
                    MAX_NAME_CHARS,
                )?;
                Some(ServiceItemRef {
                    code: item.code,
                    name: item.name,
                })
            }
        };
        Ok(IssueInput {
            valid_from: time("validFrom", request.valid_from.as_ref())?,
            valid_until: time("validUntil", request.valid_until.as_ref())?,
            type_code: request.r#type,
            type_version: request.type_version,
            holder_name: request.holder.name,
            holder_code_type: request.holder.code_type,
            holder_code: request.holder.code,
            allow_legacy_uscc: request.holder.allow_legacy_code,
            data: request.data,
            service_item,
            attachment: None,
        })
    }

    fn holder(&self) -> Result<Holder> {
        let code_type = HolderCodeType::parse(&self.holder_code_type)
            .map_err(|e| Error::rejected(Code::HolderCodeTypeUnknown, e.to_string()))?;
        let code = HolderCode::parse_with(code_type, &self.holder_code, self.allow_legacy_uscc)
            .map_err(|e| Error::rejected(Code::HolderCodeInvalid, format!("{e} ({})", e.code())))?;
        // Signed as given, and compared exactly with the names in the data
        // (a type's rules): padding is refused, never trimmed away.
        text::name(
            Code::HolderNameInvalid,
            "holder.name",
            &self.holder_name,
            MAX_NAME_CHARS,
        )?;
        Ok(Holder {
            name: self.holder_name.clone(),
            code,
        })
    }
}

/// Longest licence type code in a request (a registered one has 21).
pub const MAX_TYPE_CODE_CHARS: usize = 64;
/// Longest licence type version in a request.
pub const MAX_TYPE_VERSION_CHARS: usize = 16;

/// An issue request as it travels: exactly these members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestDoc {
    r#type: String,
    #[serde(default)]
    type_version: Option<String>,
    holder: HolderDoc,
    data: Value,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    service_item: Option<ServiceItemDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HolderDoc {
    name: String,
    code_type: String,
    code: String,
    #[serde(default)]
    allow_legacy_code: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceItemDoc {
    code: String,
    name: String,
}

/// 1 to `max` characters.
fn check_length(name: &str, s: &str, max: usize) -> std::result::Result<(), String> {
    if s.is_empty() || s.chars().count() > max {
        return Err(format!("{name}: 1 to {max} characters"));
    }
    Ok(())
}

/// A service item code as items are registered: 1 to 64 of A-Z a-z 0-9 . _ -
fn check_item_code(s: &str) -> std::result::Result<(), String> {
    if crate::text::is_code(s) {
        Ok(())
    } else {
        Err(format!(
            "serviceItem.code {s:?}: {}",
            crate::text::CODE_RULE
        ))
    }
}

/// Who asks, and why: every query of the licence store states a purpose
/// (申请事由) and leaves a licence-use record (用证记录).
#[derive(Debug, Clone)]
pub struct Query {
    /// Department code or operator.
    pub requester: String,
    /// 申请事由.
    pub use_cause: String,
    /// The case (办件) on whose behalf, if any.
    pub case_ref: Option<String>,
}

/// Licences issued and read since an instant (the console's overview).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceActivity {
    /// From when.
    #[serde(with = "time::serde::rfc3339")]
    pub since: time::OffsetDateTime,
    /// Licences issued since then.
    pub issued: i64,
    /// Licence-use records (用证记录) written since then: reads with a
    /// stated purpose.
    pub used: i64,
    /// Licences of this hub by status, now.
    pub by_status: std::collections::BTreeMap<String, i64>,
}

impl Query {
    pub(crate) fn check(&self) -> Result<()> {
        if self.use_cause.trim().is_empty() {
            return Err(Error::rejected(
                Code::UseCauseRequired,
                "every licence query states its purpose (useCause, 申请事由)",
            ));
        }
        if self.use_cause.chars().count() > MAX_USE_CAUSE_CHARS {
            return Err(Error::rejected(
                Code::UseCauseTooLong,
                format!("useCause is limited to {MAX_USE_CAUSE_CHARS} characters"),
            ));
        }
        // Recorded exactly as stated, never trimmed.
        text::prose(
            Code::UseCauseInvalid,
            "useCause",
            &self.use_cause,
            MAX_USE_CAUSE_CHARS,
        )?;
        if self.requester.trim().is_empty() {
            return Err(Error::rejected(
                Code::RequesterRequired,
                "every licence query names who asks",
            ));
        }
        text::name(
            Code::RequesterInvalid,
            "requester",
            &self.requester,
            MAX_NAME_CHARS,
        )?;
        if let Some(case) = &self.case_ref {
            text::name(Code::CaseRefInvalid, "case", case, MAX_CASE_REF_CHARS)?;
        }
        Ok(())
    }
}

/// A licence found by a query, with its verification.
#[derive(Debug, Clone)]
pub struct Found {
    /// The stored row.
    pub row: LicenceRow,
    /// The credential as stored.
    pub credential: Value,
    /// Verification against the store (signature, keys, status, attachment).
    pub verification: Verification,
}

/// What a public verifier may add to [`Service::verify_online`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OnlineVerify<'a> {
    /// The attachment file presented with the credential: checked against
    /// the digest the credential binds, instead of the stored copy.
    pub attachment: Option<&'a [u8]>,
    /// Accept `did:key` issuers, with the key each one's identifier names.
    pub accept_did_key: bool,
    /// Keys of issuers outside the region, trusted as given (never in place
    /// of a key of the region).
    pub extra_keys: &'a [tongban_seal::KeyRecord],
}

/// What an offline verifier needs for one licence.
#[derive(Debug, Clone)]
pub struct Export {
    /// The licence.
    pub credential: Value,
    /// The attachment: id, bytes, media type.
    pub attachment: Option<(String, Vec<u8>, String)>,
    /// A trust file signed by the hub.
    pub trust_file: Value,
    /// The hub's anchor key (Multikey) to check the trust file against.
    pub anchor: String,
}

impl Service {
    /// Issues one licence for `issuer_code`.
    pub async fn issue(&self, issuer_code: &str, input: IssueInput) -> Result<IssuedLicence> {
        let mut issued = self.issue_batch(issuer_code, vec![input]).await?;
        issued
            .pop()
            .ok_or_else(|| Error::rejected(Code::Internal, "empty issue result"))
    }

    /// Issues many licences for one issuer: all or none.
    ///
    /// Every request is checked before anything is written; numbers are
    /// allocated in one short transaction, the licences are signed, their
    /// attachments made durable, and the rows written in one transaction.
    pub async fn issue_batch(
        &self,
        issuer_code: &str,
        inputs: Vec<IssueInput>,
    ) -> Result<Vec<IssuedLicence>> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        if inputs.len() > MAX_ISSUE_BATCH {
            return Err(Error::rejected(
                Code::BatchTooLarge,
                format!("at most {MAX_ISSUE_BATCH} licences per batch"),
            ));
        }
        let started = std::time::Instant::now();
        let department = self.active_department(issuer_code).await?;
        let code = Uscc::parse_lenient(&department.code)
            .map_err(|e| Error::rejected(Code::DepartmentCodeInvalid, e.to_string()))?;
        let (key, record) = self
            .current_key(issuer_code, tongban_seal::KeyPurpose::Issue)
            .await?;
        let types = self.licence_types();
        let now = tongban_seal::timefmt::truncate_to_seconds(self.now());

        // Check everything before touching the store.
        let mut requests = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let holder = input.holder().map_err(|e| at_index(e, i, inputs.len()))?;
            let attachment = input.attachment.as_ref().map(|a| AttachmentRef {
                sha256: tongban_seal::sha256(&a.bytes),
                media_type: a.media_type.clone(),
            });
            let request = IssueRequest {
                type_code: input.type_code.clone(),
                type_version: input.type_version.clone(),
                holder,
                data: input.data.clone(),
                valid_from: input.valid_from,
                valid_until: input.valid_until,
                service_item: input.service_item.clone(),
                attachment,
            };
            let issuer = Issuer {
                code: &code,
                name: &department.name,
                key: &key,
                key_record: &record,
            };
            credential::check_request(&types, &request, &issuer, now)
                .map_err(|e| at_index(e.into(), i, inputs.len()))?;
            requests.push(request);
        }

        let checked = started.elapsed();
        let count = u32::try_from(requests.len()).unwrap_or(u32::MAX);
        let first = self.store.allocate_indices(issuer_code, count).await?;

        // Sign off the async threads: it is pure CPU.
        let signed = {
            let types = Arc::clone(&types);
            let name = department.name.clone();
            tokio::task::spawn_blocking(move || -> Result<Vec<IssuedLicence>> {
                let issuer = Issuer {
                    code: &code,
                    name: &name,
                    key: &key,
                    key_record: &record,
                };
                let date = credential::china_date(now).replace('-', "");
                let sign_one = |i: usize, request: &IssueRequest| -> Result<IssuedLicence> {
                    let index = first + i as i64;
                    let allocation = Allocation {
                        serial: format!("{date}{index:08}"),
                        version: 1,
                        list_sequence: u32::try_from(index / LIST_BITS as i64).unwrap_or(u32::MAX),
                        status_index: u32::try_from(index % LIST_BITS as i64).unwrap_or(0),
                    };
                    let licence_type = match &request.type_version {
                        Some(v) => types.get(&request.type_code, v),
                        None => types.latest(&request.type_code),
                    }
                    .ok_or_else(|| {
                        Error::rejected(Code::LicenceTypeUnknown, request.type_code.clone())
                    })?;
                    Ok(credential::issue(
                        licence_type,
                        request,
                        &issuer,
                        &allocation,
                        now,
                    )?)
                };
                // Signing is pure CPU: spread large batches over the cores.
                let threads = std::thread::available_parallelism().map_or(1, usize::from);
                if requests.len() < 64 || threads < 2 {
                    return requests
                        .iter()
                        .enumerate()
                        .map(|(i, r)| sign_one(i, r))
                        .collect();
                }
                let chunk = requests.len().div_ceil(threads);
                std::thread::scope(|scope| {
                    let handles: Vec<_> = requests
                        .chunks(chunk)
                        .enumerate()
                        .map(|(c, part)| {
                            let sign_one = &sign_one;
                            scope.spawn(move || {
                                part.iter()
                                    .enumerate()
                                    .map(|(j, r)| sign_one(c * chunk + j, r))
                                    .collect::<Result<Vec<_>>>()
                            })
                        })
                        .collect();
                    let mut all = Vec::with_capacity(requests.len());
                    for h in handles {
                        let part = h.join().map_err(|_| {
                            Error::rejected(Code::Internal, "a signing thread panicked")
                        })??;
                        all.extend(part);
                    }
                    Ok(all)
                })
            })
            .await
            .map_err(|e| Error::rejected(Code::Internal, format!("signing task failed: {e}")))??
        };

        let signed_at = started.elapsed();
        // Attachments first: durable before the rows that name them commit.
        for input in &inputs {
            if let Some(a) = &input.attachment {
                let digest = self.store.blobs().put(a.bytes.clone()).await?;
                self.store
                    .record_blob(&digest, a.bytes.len() as u64, &a.media_type, now)
                    .await?;
            }
        }
        let rows: Vec<LicenceRow> = signed
            .iter()
            .zip(&inputs)
            .enumerate()
            .map(|(i, (licence, input))| LicenceRow {
                identifier: licence.identifier.to_string(),
                issuer_code: issuer_code.to_owned(),
                type_code: licence.type_code.clone(),
                type_version: licence.type_version.clone(),
                number: licence.number.clone(),
                holder_code_type: input.holder_code_type.clone(),
                holder_code: licence.credential["credentialSubject"]["holderCode"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                holder_name: licence.credential["credentialSubject"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                valid_from: licence.valid_from,
                valid_until: licence.valid_until,
                status: LicenceState::Valid,
                list_sequence: (first + i as i64) / LIST_BITS as i64,
                status_index: (first + i as i64) % LIST_BITS as i64,
                credential: licence.credential.to_string(),
                attachment_sha256: input
                    .attachment
                    .as_ref()
                    .map(|a| tongban_store::sha256_hex(&a.bytes)),
                issued_at: now,
            })
            .collect();
        let audit: Vec<AuditRecord> = rows
            .iter()
            .map(|r| {
                let mut detail = json!({"type": r.type_code, "number": r.number, "holderCodeType": r.holder_code_type});
                if let Some(by) = self.named_operator() {
                    detail["by"] = json!(by);
                }
                AuditRecord::new(now, issuer_code, "licence.issue", &r.identifier, detail)
            })
            .collect();
        self.store.insert_licences(&rows, &audit).await?;
        self.maybe_checkpoint().await?;
        tracing::info!(
            issuer = issuer_code,
            count = rows.len(),
            check_ms = checked.as_millis() as u64,
            sign_ms = (signed_at - checked).as_millis() as u64,
            store_ms = (started.elapsed() - signed_at).as_millis() as u64,
            "licences issued"
        );
        Ok(signed)
    }

    /// Verifies a credential against the store: keys, live status, licence
    /// types, attachments; and, for licences of this hub's departments, that
    /// the store issued exactly this credential.
    pub async fn verify_online(&self, credential: Value) -> Result<Verification> {
        self.verify_online_with(credential, OnlineVerify::default())
            .await
    }

    /// [`Service::verify_online`], with what a public verifier may add: the
    /// attachment file presented with the credential, `did:key` issuers,
    /// keys of issuers outside the region. Nothing added changes how a
    /// licence of this region is judged, except that a presented file is
    /// checked instead of the stored copy of its attachment.
    pub async fn verify_online_with(
        &self,
        credential: Value,
        how: OnlineVerify<'_>,
    ) -> Result<Verification> {
        let mut trust = self
            .trust_for_issuers(&issuer_codes(std::slice::from_ref(&credential)))
            .await?;
        trust.types = (*self.licence_types()).clone();
        for record in how.extra_keys {
            // The region's own keys are never replaced by a given one.
            if tongban_licence::KeyLookup::key(&trust, &record.verification_method()).is_none() {
                trust.add_key(record.clone());
            }
        }
        trust.accept_did_key(how.accept_did_key);
        let attachments = match how.attachment {
            Some(file) => tongban_licence::presented_attachment(&credential, file),
            None => self.attachment_digests(&credential).await?,
        };
        let stored = self.stored_copy_matches(&credential).await?;
        let mut result = tongban_licence::verify(
            &trust,
            credential,
            VerifyOptions {
                now: self.now(),
                attachments: Some(&attachments),
            },
        );
        if let Some(problem) = stored {
            result.problems.push(problem);
            result.valid = false;
        }
        Ok(result)
    }

    /// A trust holding every key, the licence types and the live status
    /// lists of `issuers` (USCCs), for verifying many licences at once.
    pub async fn trust_for_issuers(&self, issuers: &[String]) -> Result<Trust> {
        let mut trust = Trust::new();
        for record in self.key_records().await? {
            trust.add_key(record);
        }
        trust.types = (*self.licence_types()).clone();
        for issuer in issuers {
            for sequence in self.store.list_sequences(issuer).await? {
                for purpose in [StatusPurpose::Revocation, StatusPurpose::Suspension] {
                    let bits = self.status_bits(issuer, sequence, purpose).await?;
                    trust.add_status_list(VerifiedStatusList {
                        id: status::list_id(issuer, purpose, u32::try_from(sequence).unwrap_or(0)),
                        issuer_id: format!("urn:uscc:{issuer}"),
                        purpose,
                        bits,
                        valid_until: None,
                    });
                }
            }
        }
        Ok(trust)
    }

    async fn status_bits(
        &self,
        issuer: &str,
        sequence: i64,
        purpose: StatusPurpose,
    ) -> Result<Bitstring> {
        let state = match purpose {
            StatusPurpose::Revocation => LicenceState::Revoked,
            StatusPurpose::Suspension => LicenceState::Suspended,
        };
        let mut bits = Bitstring::new();
        for index in self.store.status_indices(issuer, sequence, state).await? {
            bits.set(usize::try_from(index).unwrap_or(usize::MAX), true);
        }
        Ok(bits)
    }

    async fn attachment_digests(&self, credential: &Value) -> Result<HashMap<String, [u8; 32]>> {
        let mut held = HashMap::new();
        let Some(resources) = credential.get("relatedResource").and_then(Value::as_array) else {
            return Ok(held);
        };
        for resource in resources.iter().take(16) {
            let Some(id) = resource.get("id").and_then(Value::as_str) else {
                continue;
            };
            let Some(hex) = id.strip_prefix("urn:tongban:blob:sha256:") else {
                continue;
            };
            if let Ok(Some(bytes)) = self.store.blobs().get(hex).await {
                held.insert(id.to_owned(), tongban_seal::sha256(&bytes));
            }
        }
        Ok(held)
    }

    /// For a licence claiming one of this hub's departments as issuer: is
    /// exactly this credential in the store?
    async fn stored_copy_matches(
        &self,
        credential: &Value,
    ) -> Result<Option<tongban_licence::Problem>> {
        let Some(identifier) = credential
            .pointer("/licence/identifier")
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let Some(issuer) = credential
            .pointer("/licence/issuerCode")
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        if self.store.department(issuer).await?.is_none() {
            return Ok(None);
        }
        let unknown = || {
            Some(tongban_licence::Problem::new(
                ProblemCode::LicenceUnknown,
                format!("licence {identifier} was not issued through this hub in this form"),
            ))
        };
        match self.store.licence(identifier).await? {
            None => Ok(unknown()),
            Some(row) => {
                let stored: Value = serde_json::from_str(&row.credential).map_err(|e| {
                    Error::Store(tongban_store::StoreError::Corrupt(format!(
                        "licence {identifier}: {e}"
                    )))
                })?;
                if &stored == credential {
                    Ok(None)
                } else {
                    Ok(unknown())
                }
            }
        }
    }

    /// One licence by identifier, verified; leaves a licence-use record.
    pub async fn show(&self, identifier: &str, query: &Query) -> Result<Found> {
        query.check()?;
        let parsed = LicenceIdentifier::parse(identifier).map_err(|e| {
            Error::rejected(
                Code::IdentifierInvalid,
                format!("{identifier}: {e} ({})", e.code()),
            )
        })?;
        let row = self.store.licence(parsed.as_str()).await?;
        let returned: Vec<String> = row.iter().map(|r| r.identifier.clone()).collect();
        self.record_use(query, "identifier", parsed.as_str(), &returned)
            .await?;
        let row = row.ok_or_else(|| {
            Error::rejected(Code::LicenceNotFound, format!("no licence {identifier}"))
        })?;
        let mut found = self.verify_rows(vec![row]).await?;
        found
            .pop()
            .ok_or_else(|| Error::rejected(Code::Internal, "verification lost a licence"))
    }

    /// A holder's licences (optionally of one type), each verified; leaves
    /// one licence-use record naming every licence returned.
    ///
    /// A USCC that fails its checksum is refused unless `allow_legacy_uscc`
    /// (some legally issued early codes do).
    pub async fn find_by_holder(
        &self,
        code_type: &str,
        code: &str,
        type_code: Option<&str>,
        allow_legacy_uscc: bool,
        query: &Query,
    ) -> Result<Vec<Found>> {
        query.check()?;
        let kind = HolderCodeType::parse(code_type)
            .map_err(|e| Error::rejected(Code::HolderCodeTypeUnknown, e.to_string()))?;
        let holder = HolderCode::parse_with(kind, code, allow_legacy_uscc)
            .map_err(|e| Error::rejected(Code::HolderCodeInvalid, format!("{e} ({})", e.code())))?;
        let rows = self
            .store
            .licences_of_holder(kind.as_str(), holder.as_str(), type_code, MAX_FIND_RESULTS)
            .await?;
        let returned: Vec<String> = rows.iter().map(|r| r.identifier.clone()).collect();
        let description = match type_code {
            Some(t) => format!("{}:{} type {t}", kind.as_str(), holder.as_str()),
            None => format!("{}:{}", kind.as_str(), holder.as_str()),
        };
        self.record_use(query, "holder", &description, &returned)
            .await?;
        self.verify_rows(rows).await
    }

    pub(crate) async fn record_use(
        &self,
        query: &Query,
        kind: &str,
        text: &str,
        returned: &[String],
    ) -> Result<i64> {
        Ok(self
            .store
            .record_use(
                &UseRecord {
                    requester: query.requester.clone(),
                    use_cause: query.use_cause.clone(),
                    query_kind: kind.to_owned(),
                    query: text.to_owned(),
                    case_ref: query.case_ref.clone(),
                    at: self.now(),
                },
                returned,
                &[AuditRecord::new(
                    self.now(),
                    &query.requester,
                    "licence.use",
                    format!("{kind}:{text}"),
                    json!({"useCause": query.use_cause, "case": query.case_ref, "returned": returned}),
                )],
            )
            .await?)
    }

    pub(crate) async fn verify_rows(&self, rows: Vec<LicenceRow>) -> Result<Vec<Found>> {
        let mut issuers: Vec<String> = rows.iter().map(|r| r.issuer_code.clone()).collect();
        issuers.sort();
        issuers.dedup();
        let trust = self.trust_for_issuers(&issuers).await?;
        let mut credentials = Vec::with_capacity(rows.len());
        let mut digests = HashMap::new();
        for row in &rows {
            let credential: Value = serde_json::from_str(&row.credential).map_err(|e| {
                Error::Store(tongban_store::StoreError::Corrupt(format!(
                    "licence {}: {e}",
                    row.identifier
                )))
            })?;
            digests.extend(self.attachment_digests(&credential).await?);
            credentials.push(credential);
        }
        // Signature checks are CPU work: off the async runtime.
        let now = self.now();
        let to_verify = credentials.clone();
        let results = tokio::task::spawn_blocking(move || {
            let options = VerifyOptions {
                now,
                attachments: Some(&digests),
            };
            tongban_licence::verify_many(&trust, to_verify, options)
        })
        .await
        .map_err(|e| Error::rejected(Code::Internal, format!("verification failed: {e}")))?;
        Ok(rows
            .into_iter()
            .zip(credentials)
            .zip(results)
            .map(|((row, credential), verification)| Found {
                row,
                credential,
                verification,
            })
            .collect())
    }

    /// Revokes (注销) a licence: irreversible.
    pub async fn revoke(&self, identifier: &str, actor: &str, reason: &str) -> Result<()> {
        self.change_status(
            identifier,
            actor,
            reason,
            "revoke",
            &[LicenceState::Valid, LicenceState::Suspended],
            LicenceState::Revoked,
        )
        .await
    }

    /// Suspends (中止) a licence until reinstated.
    pub async fn suspend(&self, identifier: &str, actor: &str, reason: &str) -> Result<()> {
        self.change_status(
            identifier,
            actor,
            reason,
            "suspend",
            &[LicenceState::Valid],
            LicenceState::Suspended,
        )
        .await
    }

    /// Reinstates a suspended licence.
    pub async fn reinstate(&self, identifier: &str, actor: &str, reason: &str) -> Result<()> {
        self.change_status(
            identifier,
            actor,
            reason,
            "reinstate",
            &[LicenceState::Suspended],
            LicenceState::Valid,
        )
        .await
    }

    async fn change_status(
        &self,
        identifier: &str,
        actor: &str,
        reason: &str,
        action: &str,
        from: &[LicenceState],
        to: LicenceState,
    ) -> Result<()> {
        let parsed = LicenceIdentifier::parse(identifier).map_err(|e| {
            Error::rejected(
                Code::IdentifierInvalid,
                format!("{identifier}: {e} ({})", e.code()),
            )
        })?;
        text::reason(action, reason)?;
        let event = StatusEvent {
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            at: self.now(),
        };
        match self
            .store
            .change_licence_status(
                parsed.as_str(),
                from,
                to,
                action,
                &event,
                &[AuditRecord::new(
                    event.at,
                    actor,
                    format!("licence.{action}"),
                    parsed.as_str(),
                    json!({"reason": event.reason, "to": to.as_str()}),
                )],
            )
            .await?
        {
            None => Err(Error::rejected(
                Code::LicenceNotFound,
                format!("no licence {identifier}"),
            )),
            Some((_, true)) => {
                self.maybe_checkpoint().await?;
                tracing::info!(identifier, action, actor, "licence status changed");
                Ok(())
            }
            Some((LicenceState::Revoked, false)) => Err(Error::rejected(
                Code::LicenceAlreadyRevoked,
                format!("licence {identifier} is revoked; revocation is final"),
            )),
            Some((current, false)) => Err(Error::rejected(
                Code::LicenceStatusConflict,
                format!(
                    "cannot {action} licence {identifier}: it is {}",
                    current.as_str()
                ),
            )),
        }
    }

    /// The licence-use records of one licence, newest first, at most `limit`.
    pub async fn uses_of_licence(&self, identifier: &str, limit: usize) -> Result<Vec<UseRow>> {
        Ok(self.store.uses_of_licence(identifier, limit).await?)
    }

    /// Licences issued and licence-use records written since `since`, and
    /// the licences of this hub by status now.
    pub async fn licence_activity(&self, since: time::OffsetDateTime) -> Result<LicenceActivity> {
        let (issued, used) = self.store.licence_activity_since(since).await?;
        let by_status = self.store.licence_counts().await?.into_iter().collect();
        Ok(LicenceActivity {
            since,
            issued,
            used,
            by_status,
        })
    }

    /// A licence's status changes (suspend, reinstate, revoke, each with
    /// its reason, actor and time), oldest first, at most `limit`.
    pub async fn licence_status_history(
        &self,
        identifier: &str,
        limit: usize,
    ) -> Result<Vec<tongban_store::StatusEventRow>> {
        Ok(self.store.licence_status_events(identifier, limit).await?)
    }

    /// The most recent licence-use records (of `requester`'s reads only,
    /// when given), newest first, at most `limit`.
    pub async fn recent_uses(&self, requester: Option<&str>, limit: usize) -> Result<Vec<UseRow>> {
        Ok(self.store.recent_uses(requester, limit).await?)
    }

    /// The department that issued the licence `identifier`, read without
    /// leaving a licence-use record (who may change its status is decided
    /// by it). `IDENTIFIER_INVALID`, `LICENCE_NOT_FOUND`.
    pub async fn licence_issuer(&self, identifier: &str) -> Result<String> {
        let parsed = LicenceIdentifier::parse(identifier).map_err(|e| {
            Error::rejected(
                Code::IdentifierInvalid,
                format!("{identifier}: {e} ({})", e.code()),
            )
        })?;
        match self.store.licence(parsed.as_str()).await? {
            Some(row) => Ok(row.issuer_code),
            None => Err(Error::rejected(
                Code::LicenceNotFound,
                format!("no licence {identifier}"),
            )),
        }
    }

    /// The signed status list credential of an issuer (W3C Bitstring Status List).
    pub async fn status_list_credential(
        &self,
        issuer: &str,
        purpose: StatusPurpose,
        sequence: u32,
    ) -> Result<Value> {
        let department = self.department(issuer).await?;
        let (key, record) = self
            .current_key(issuer, tongban_seal::KeyPurpose::Issue)
            .await?;
        let bits = self
            .status_bits(issuer, i64::from(sequence), purpose)
            .await?;
        let id = status::list_id(issuer, purpose, sequence);
        status::sign_list(
            &id,
            &record.controller,
            &department.name,
            purpose,
            &bits,
            &key,
            &record,
            self.now(),
            STATUS_LIST_VALIDITY,
        )
        .map_err(|e| Error::rejected(Code::Internal, e.to_string()))
    }

    /// A trust file for offline verifiers: every department's keys and
    /// status lists and every licence type, signed by the hub.
    pub async fn trust_file(&self) -> Result<Value> {
        self.trust_file_for(None).await
    }

    /// A trust file limited to one department's keys and status lists
    /// (all departments when `None`).
    pub async fn trust_file_for(&self, department: Option<&str>) -> Result<Value> {
        self.trust_file_valid_for(department, TRUST_FILE_VALIDITY)
            .await
    }

    /// The region's trust list served to peer hubs, valid for `valid_for`
    /// (a short validity makes peers notice sooner that this hub is gone).
    pub async fn trust_list(&self, valid_for: Duration) -> Result<Value> {
        if valid_for <= Duration::ZERO || valid_for > TRUST_FILE_VALIDITY * 4 {
            return Err(Error::rejected(
                Code::TrustValidityInvalid,
                "a trust list is valid for more than 0 s and at most 28 days",
            ));
        }
        self.trust_file_valid_for(None, valid_for).await
    }

    async fn trust_file_valid_for(
        &self,
        department: Option<&str>,
        valid_for: Duration,
    ) -> Result<Value> {
        if let Some(code) = department {
            self.department(code).await?;
        }
        let identity = self.identity().await?;
        let (hub_key, hub_record) = self
            .current_key(HUB_OWNER, tongban_seal::KeyPurpose::Both)
            .await?;
        let mut by_owner: HashMap<String, Vec<tongban_seal::KeyRecord>> = HashMap::new();
        for row in self.store.all_keys().await? {
            if row.owner != HUB_OWNER {
                by_owner
                    .entry(row.owner.clone())
                    .or_default()
                    .push(crate::admin::key_record(&row)?);
            }
        }
        let mut issuers = Vec::new();
        for row in self.store.departments().await? {
            if department.is_some_and(|d| d != row.code) {
                continue;
            }
            if let Some(keys) = by_owner.remove(&row.code) {
                let code = Uscc::parse_lenient(&row.code)
                    .map_err(|e| Error::rejected(Code::DepartmentCodeInvalid, e.to_string()))?;
                issuers.push(IssuerEntry {
                    id: organisation_urn(&code),
                    name: row.name,
                    keys,
                });
            }
        }
        let mut lists = Vec::new();
        for issuer in self.store.issuers_with_licences().await? {
            if department.is_some_and(|d| d != issuer) {
                continue;
            }
            for sequence in self.store.list_sequences(&issuer).await? {
                for purpose in [StatusPurpose::Revocation, StatusPurpose::Suspension] {
                    let sequence = u32::try_from(sequence).unwrap_or(0);
                    lists.push(
                        self.status_list_credential(&issuer, purpose, sequence)
                            .await?,
                    );
                }
            }
        }
        let types = self.licence_types();
        let schemas: Vec<&Value> = types.iter().map(|t| t.schema.as_ref()).collect();
        trustfile::sign(
            &identity.id,
            &issuers,
            &lists,
            &schemas,
            &hub_key,
            &hub_record,
            self.now(),
            valid_for,
        )
        .map_err(|e| Error::rejected(Code::Internal, e.to_string()))
    }

    /// Everything needed to verify one licence offline; leaves a licence-use record.
    pub async fn export(&self, identifier: &str, query: &Query) -> Result<Export> {
        let found = self.show(identifier, query).await?;
        let attachment = match &found.row.attachment_sha256 {
            None => None,
            Some(sha) => {
                let bytes = self.store.blobs().get(sha).await?.ok_or_else(|| {
                    Error::rejected(
                        Code::AttachmentUnavailable,
                        format!("attachment {sha} is missing from the blob store"),
                    )
                })?;
                let media = self
                    .store
                    .blob_media_type(sha)
                    .await?
                    .unwrap_or_else(|| "application/octet-stream".into());
                Some((format!("urn:tongban:blob:sha256:{sha}"), bytes, media))
            }
        };
        Ok(Export {
            credential: found.credential,
            attachment,
            trust_file: self.trust_file().await?,
            anchor: self.identity().await?.anchor,
        })
    }
}

fn issuer_codes(credentials: &[Value]) -> Vec<String> {
    let mut codes: Vec<String> = credentials
        .iter()
        .filter_map(|c| {
            c.pointer("/licence/issuerCode")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

fn at_index(e: Error, index: usize, total: usize) -> Error {
    if total == 1 {
        return e;
    }
    match e {
        refusal if refusal.is_refusal() => Error::InRequest {
            index,
            source: Box::new(refusal),
        },
        other => other,
    }
}
