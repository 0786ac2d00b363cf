//! Service items (事项) and cases (办件): a case system asks for the
//! licences an applicant needs for a service item instead of paper copies,
//! every licence returned leaves a licence-use record tied to the case, and
//! the approved result is issued as a licence the next case can reuse.
//!
//! `item_put` checks an item (code, name, type 即办件/承诺件/联办件/上报件, promised limit
//! within the legal one, at most 100 materials, licence types published, the
//! code not another department's) and stores its next version (`item.put`).
//! `case_licences` checks the query (purpose, case id, item active, holder
//! code), opens the case on first use (`case.open`) or finds it (cases are
//! keyed by department and number), refuses it if it is another item's or
//! holder's (`CASE_CONFLICT`) or concluded, then per material with a licence
//! type reads the holder's licences of that type, verifies them in one batch,
//! records the use against the case (`licence.use`, naming the licence
//! returned) and reports the newest valid one or why there is none.
//! `case_result` checks the case (exists, handled by the sender, open), the
//! item's result type and the case's holder, issues the licence through `issue`
//! with the item as its service item, and concludes the case (`case.conclude`).
//! `SERVICE_SCHEMAS` are the sixteen message schemas of the hub's services,
//! registered by `init_region`. Refusals are `Error::Rejected` with a `Code`,
//! which the hub sends as the `reason`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tongban_codes::{HolderCode, HolderCodeType, RegionCode};
use tongban_licence::{IssuedLicence, ProblemCode, ServiceItemRef};
use tongban_schema::SchemaError;
use tongban_store::{CaseRow, DepartmentStatus, LicenceState, ServiceItemRow, UseRow};

use crate::error::Code;
use crate::licences::{IssueInput, Query};
use crate::text::{self, MAX_NAME_CHARS};
use crate::{Error, Result, Service};

/// The message schemas of the hub's own services (`hub.case.*`, `hub.region.*`,
/// `hub.hotline.*`),
/// registered by [`Service::init_region`].
pub const SERVICE_SCHEMAS: &[(&str, &str)] = &[
    (
        "case-licence-query",
        include_str!("../../../schemas/messages/case-licence-query.json"),
    ),
    (
        "case-licences",
        include_str!("../../../schemas/messages/case-licences.json"),
    ),
    (
        "case-result",
        include_str!("../../../schemas/messages/case-result.json"),
    ),
    (
        "case-result-issued",
        include_str!("../../../schemas/messages/case-result-issued.json"),
    ),
    (
        "region-licence-query",
        include_str!("../../../schemas/messages/region-licence-query.json"),
    ),
    (
        "region-licences",
        include_str!("../../../schemas/messages/region-licences.json"),
    ),
    (
        "case-event",
        include_str!("../../../schemas/messages/case-event.json"),
    ),
    (
        "case-standing",
        include_str!("../../../schemas/messages/case-standing.json"),
    ),
    (
        "notice-answer",
        include_str!("../../../schemas/messages/notice-answer.json"),
    ),
    (
        "notice-state",
        include_str!("../../../schemas/messages/notice-state.json"),
    ),
    (
        "supervision-alert",
        include_str!("../../../schemas/messages/supervision-alert.json"),
    ),
    (
        "supervision-notice",
        include_str!("../../../schemas/messages/supervision-notice.json"),
    ),
    (
        "order-new",
        include_str!("../../../schemas/messages/order-new.json"),
    ),
    (
        "order-step",
        include_str!("../../../schemas/messages/order-step.json"),
    ),
    (
        "order-state",
        include_str!("../../../schemas/messages/order-state.json"),
    ),
    (
        "order-notice",
        include_str!("../../../schemas/messages/order-notice.json"),
    ),
];

/// Service item types: stored name and 办件类型.
pub const ITEM_TYPES: &[(&str, &str)] = &[
    ("immediate", "即办件"),
    ("promised", "承诺件"),
    ("joint", "联办件"),
    ("referred", "上报件"),
];
/// Most required materials one item may list.
pub const MAX_MATERIALS: usize = 100;
/// Longest legal time limit, in working days.
pub const MAX_LIMIT_DAYS: u32 = 3_650;

/// The stored name of an item type given either name.
pub fn item_type(s: &str) -> Option<&'static str> {
    ITEM_TYPES
        .iter()
        .find(|(en, zh)| *en == s || *zh == s)
        .map(|(en, _)| *en)
}

fn rejected(code: Code, message: impl Into<String>) -> Error {
    Error::rejected(code, message)
}

fn check_code(what: &'static str, code: Code, s: &str) -> Result<()> {
    if crate::text::is_code(s) {
        Ok(())
    } else {
        Err(rejected(
            code,
            format!("{what} {s:?}: {}", crate::text::CODE_RULE),
        ))
    }
}

/// A required material (申请材料).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Material {
    /// 材料名称.
    pub name: String,
    /// The licence type that satisfies it, if a licence can.
    #[serde(default)]
    pub licence_type: Option<String>,
    /// Whether the case needs it.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// A service item as its department registers it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemDraft {
    /// 事项编码.
    pub code: String,
    /// 事项名称.
    pub name: String,
    /// 即办件 / 承诺件 / 联办件 / 上报件 (or immediate / promised / joint / referred).
    pub item_type: String,
    /// 法定办结时限, working days.
    pub legal_limit_days: u32,
    /// 承诺办结时限, working days (at most the legal limit).
    pub promised_limit_days: u32,
    /// 申请材料.
    #[serde(default)]
    pub materials: Vec<Material>,
    /// The licence type its approval result is issued as.
    #[serde(default)]
    pub result_type: Option<String>,
    /// Region (the hub's by default).
    #[serde(default)]
    pub region_code: Option<String>,
}

/// A service item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceItem {
    /// 事项编码.
    pub code: String,
    /// Version, from 1.
    pub version: u64,
    /// 事项名称.
    pub name: String,
    /// `immediate`, `promised`, `joint` or `referred`.
    pub item_type: String,
    /// Handling department.
    pub department: String,
    /// Region code.
    pub region_code: String,
    /// Legal time limit, working days.
    pub legal_limit_days: u32,
    /// Promised time limit, working days.
    pub promised_limit_days: u32,
    /// Required materials.
    pub materials: Vec<Material>,
    /// The licence type its result is issued as.
    pub result_type: Option<String>,
    /// `active` or `retired`.
    pub status: String,
}

impl ServiceItem {
    fn from_row(r: ServiceItemRow) -> Result<Self> {
        let materials = serde_json::from_str(&r.materials).map_err(|e| {
            Error::Store(tongban_store::StoreError::Corrupt(format!(
                "service item {} materials: {e}",
                r.code
            )))
        })?;
        Ok(ServiceItem {
            code: r.code,
            version: r.version,
            name: r.name,
            item_type: r.item_type,
            department: r.department,
            region_code: r.region_code,
            legal_limit_days: r.legal_limit_days,
            promised_limit_days: r.promised_limit_days,
            materials,
            result_type: r.result_type,
            status: r.status,
        })
    }

    /// 办件类型 in Chinese.
    pub fn type_name(&self) -> &'static str {
        ITEM_TYPES
            .iter()
            .find(|(en, _)| *en == self.item_type)
            .map_or("", |(_, zh)| *zh)
    }
}

/// A case system's question: the licences of a holder for a service item.
#[derive(Debug, Clone)]
pub struct CaseQuery {
    /// 办件编号 (opens the case on first use).
    pub case_id: String,
    /// 事项编码.
    pub item: String,
    /// Holder code type (`001`, `111`).
    pub holder_code_type: String,
    /// Holder code.
    pub holder_code: String,
    /// 申请事由.
    pub use_cause: String,
}

/// What a material of a case found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaterialState {
    /// The holder's valid licence, verified.
    Found,
    /// No licence of the type was issued to the holder.
    NoneIssued,
    /// The holder's newest licence has expired.
    Expired,
    /// The holder's newest licence was revoked.
    Revoked,
    /// The holder's newest licence is suspended.
    Suspended,
    /// The holder's newest licence fails verification.
    Invalid,
    /// No licence type satisfies it: the applicant provides it.
    NotALicence,
}

/// What one required material found.
#[derive(Debug, Clone)]
pub struct MaterialResult {
    /// 材料名称.
    pub name: String,
    /// The licence type that satisfies it.
    pub licence_type: Option<String>,
    /// Whether the case needs it.
    pub required: bool,
    /// What was found.
    pub status: MaterialState,
    /// The licence's identifier (found, or the one that explains the status).
    pub identifier: Option<String>,
    /// Its issuer.
    pub issuer: Option<String>,
    /// Why not, in words.
    pub detail: Option<String>,
    /// The verified credential, when found.
    pub licence: Option<Value>,
}

/// The answer to a [`CaseQuery`].
#[derive(Debug, Clone)]
pub struct CaseLicences {
    /// 办件编号.
    pub case_id: String,
    /// 事项编码.
    pub service_item: String,
    /// 事项名称.
    pub service_item_name: String,
    /// Every required material a licence can satisfy was found.
    pub complete: bool,
    /// Per material, in the item's order.
    pub materials: Vec<MaterialResult>,
}

impl Service {
    /// Registers the message schemas of the hub's own services (idempotent;
    /// the server runs it at start, so an upgraded hub has the versions its
    /// services expect). A new version of a built-in schema may be breaking:
    /// the hub's services changed with it (e.g. `region-licence-query@2`
    /// binds a pull to a case).
    pub async fn register_service_schemas(&self) -> Result<()> {
        for (id, text) in SERVICE_SCHEMAS {
            let schema: Value = serde_json::from_str(text)
                .map_err(|e| SchemaError::Invalid(format!("built-in schema {id}: {e}")))?;
            self.publish_schema("message", None, None, schema, true)
                .await?;
        }
        Ok(())
    }

    /// Registers a service item for `department`, or its next version (only
    /// the department that registered it may).
    pub async fn item_put(&self, department: &str, draft: ItemDraft) -> Result<ServiceItem> {
        check_code("service item code", Code::ItemCodeInvalid, &draft.code)?;
        // Signed into the licences of its cases' results: as given.
        text::name(
            Code::ItemNameInvalid,
            "a service item's name",
            &draft.name,
            MAX_NAME_CHARS,
        )?;
        let item_type = item_type(&draft.item_type).ok_or_else(|| {
            rejected(
                Code::ItemTypeInvalid,
                format!(
                    "{:?}: one of 即办件, 承诺件, 联办件, 上报件 (immediate, promised, joint, referred)",
                    draft.item_type
                ),
            )
        })?;
        if draft.legal_limit_days > MAX_LIMIT_DAYS
            || draft.promised_limit_days > draft.legal_limit_days
        {
            return Err(rejected(
                Code::ItemTimeLimitInvalid,
                format!(
                    "the promised limit ({}) may not exceed the legal limit ({}), at most {MAX_LIMIT_DAYS} working days",
                    draft.promised_limit_days, draft.legal_limit_days
                ),
            ));
        }
        if draft.materials.len() > MAX_MATERIALS {
            return Err(rejected(
                Code::ItemMaterialsInvalid,
                format!("at most {MAX_MATERIALS} materials"),
            ));
        }
        let types = self.licence_types();
        for m in &draft.materials {
            text::name(
                Code::ItemMaterialsInvalid,
                "a material's name",
                &m.name,
                MAX_NAME_CHARS,
            )?;
            if let Some(t) = &m.licence_type {
                if types.latest(t).is_none() {
                    return Err(rejected(
                        Code::LicenceTypeUnknown,
                        format!("material {}: no licence type {t} is published", m.name),
                    ));
                }
            }
        }
        if let Some(t) = &draft.result_type {
            if types.latest(t).is_none() {
                return Err(rejected(
                    Code::LicenceTypeUnknown,
                    format!("result type: no licence type {t} is published"),
                ));
            }
        }
        let d = self.department(department).await?;
        if d.status != DepartmentStatus::Active {
            return Err(rejected(
                Code::DepartmentSuspended,
                format!("{department} is not active"),
            ));
        }
        let now = self.now();
        let existing = self.store.service_item(&draft.code).await?;
        if let Some(e) = &existing {
            if e.department != department {
                return Err(rejected(
                    Code::ItemNotOwner,
                    format!(
                        "{} is registered by {}; {department} may not change it",
                        e.code, e.department
                    ),
                ));
            }
        }
        let region_code = match draft.region_code {
            Some(r) => RegionCode::parse(&r)
                .map_err(|e| rejected(Code::RegionCodeInvalid, format!("{r}: {e}")))?
                .to_string(),
            None => self.identity().await?.region,
        };
        let row = ServiceItemRow {
            code: draft.code.clone(),
            version: existing.as_ref().map_or(1, |e| e.version + 1),
            name: draft.name.clone(),
            item_type: item_type.to_owned(),
            department: department.to_owned(),
            region_code,
            legal_limit_days: draft.legal_limit_days,
            promised_limit_days: draft.promised_limit_days,
            materials: serde_json::to_string(&draft.materials).unwrap_or_else(|_| "[]".into()),
            result_type: draft.result_type.clone(),
            status: "active".into(),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
        };
        let audit = [tongban_store::AuditRecord::new(
            now,
            department,
            "item.put",
            &row.code,
            self.asked_by(json!({"version": row.version, "name": row.name, "type": row.item_type, "materials": draft.materials})),
        )];
        self.store.put_service_item(&row, &audit).await?;
        self.maybe_checkpoint().await?;
        ServiceItem::from_row(row)
    }

    /// Retires a service item (only its department may): no new cases open
    /// under it; registering it again makes a new, active version.
    pub async fn item_retire(&self, department: &str, code: &str) -> Result<ServiceItem> {
        let mut row = self.item_row(code).await?;
        if row.department != department {
            return Err(rejected(
                Code::ItemNotOwner,
                format!(
                    "{code} is registered by {}; {department} may not retire it",
                    row.department
                ),
            ));
        }
        if row.status == "retired" {
            return Err(rejected(
                Code::ItemRetired,
                format!("{code} is already retired"),
            ));
        }
        let now = self.now();
        row.version += 1;
        row.status = "retired".into();
        row.updated_at = now;
        let audit = [tongban_store::AuditRecord::new(
            now,
            department,
            "item.retire",
            code,
            self.asked_by(json!({"version": row.version})),
        )];
        self.store.put_service_item(&row, &audit).await?;
        self.maybe_checkpoint().await?;
        ServiceItem::from_row(row)
    }

    /// One service item; `ITEM_UNKNOWN` if none has the code.
    pub async fn item_show(&self, code: &str) -> Result<ServiceItem> {
        ServiceItem::from_row(self.item_row(code).await?)
    }

    async fn item_row(&self, code: &str) -> Result<ServiceItemRow> {
        self.store
            .service_item(code)
            .await?
            .ok_or_else(|| rejected(Code::ItemUnknown, format!("no service item {code}")))
    }

    async fn case_row(&self, department: &str, id: &str) -> Result<CaseRow> {
        self.store
            .case(department, id)
            .await?
            .ok_or_else(|| rejected(Code::CaseUnknown, format!("{department} has no case {id}")))
    }

    /// Service items, optionally of one department.
    pub async fn item_list(&self, department: Option<&str>) -> Result<Vec<ServiceItem>> {
        self.store
            .service_items(department)
            .await?
            .into_iter()
            .map(ServiceItem::from_row)
            .collect()
    }

    /// For a case of `department`: per required material of the item, the
    /// holder's valid verified licence or the reason there is none. Opens
    /// the case on first use; every query leaves a licence-use record tied
    /// to the case, naming the licence returned.
    pub async fn case_licences(&self, department: &str, q: &CaseQuery) -> Result<CaseLicences> {
        let query = Query {
            requester: department.to_owned(),
            use_cause: q.use_cause.clone(),
            case_ref: Some(q.case_id.clone()),
        };
        let (case, item) = self.bind_case(department, q).await?;
        let mut materials = Vec::with_capacity(item.materials.len());
        for m in &item.materials {
            materials.push(self.material(&case, m, &query).await?);
        }
        self.maybe_checkpoint().await?;
        let complete = materials
            .iter()
            .filter(|m| m.required && m.licence_type.is_some())
            .all(|m| m.status == MaterialState::Found);
        Ok(CaseLicences {
            case_id: case.id,
            service_item: item.code,
            service_item_name: item.name,
            complete,
            materials,
        })
    }

    /// The case a licence read is made for, checked as every read of a
    /// holder's licences over the exchange is: a purpose is stated, the
    /// item is active and handled by `department`, which is active, and the
    /// case is its own, of that item and holder, and open. Opens the case
    /// on first use (`case.open`).
    pub async fn bind_case(
        &self,
        department: &str,
        q: &CaseQuery,
    ) -> Result<(CaseRow, ServiceItem)> {
        // The case id has its own, stricter rule, just below.
        Query {
            requester: department.to_owned(),
            use_cause: q.use_cause.clone(),
            case_ref: None,
        }
        .check()?;
        check_code("case id", Code::CaseIdInvalid, &q.case_id)?;
        let item = self.item_show(&q.item).await?;
        if item.status != "active" {
            return Err(rejected(
                Code::ItemRetired,
                format!("{} is no longer handled", item.code),
            ));
        }
        if item.department != department {
            return Err(rejected(
                Code::ItemNotHandler,
                format!(
                    "{} is handled by {}; {department} may not open cases under it",
                    item.code, item.department
                ),
            ));
        }
        let kind = HolderCodeType::parse(&q.holder_code_type)
            .map_err(|e| rejected(Code::HolderCodeTypeUnknown, e.to_string()))?;
        let holder = HolderCode::parse_with(kind, &q.holder_code, false)
            .map_err(|e| rejected(Code::HolderCodeInvalid, format!("{e} ({})", e.code())))?;
        let d = self.department(department).await?;
        if d.status != DepartmentStatus::Active {
            return Err(rejected(
                Code::DepartmentSuspended,
                format!("{department} is not active"),
            ));
        }
        let now = self.now();
        let wanted = CaseRow {
            id: q.case_id.clone(),
            item: item.code.clone(),
            department: department.to_owned(),
            holder_code_type: kind.as_str().to_owned(),
            holder_code: holder.as_str().to_owned(),
            use_cause: q.use_cause.clone(),
            status: "open".into(),
            result_licence: None,
            opened_at: now,
            concluded_at: None,
        };
        let audit = [tongban_store::AuditRecord::new(
            now,
            department,
            "case.open",
            &wanted.id,
            json!({"item": item.code, "holder": {"codeType": wanted.holder_code_type, "code": wanted.holder_code}}),
        )];
        let case = self.store.open_case(&wanted, &audit).await?;
        if (
            &case.department,
            &case.item,
            &case.holder_code_type,
            &case.holder_code,
        ) != (
            &wanted.department,
            &wanted.item,
            &wanted.holder_code_type,
            &wanted.holder_code,
        ) {
            return Err(rejected(
                Code::CaseConflict,
                format!(
                    "{}'s case {} is of {} for {}:{}",
                    case.department, case.id, case.item, case.holder_code_type, case.holder_code
                ),
            ));
        }
        if case.status != "open" {
            return Err(rejected(
                Code::CaseConcluded,
                format!("case {} is concluded", case.id),
            ));
        }
        Ok((case, item))
    }

    /// What a read of a holder's licences for a case may return: the
    /// licence types the case's item names among its materials, or those of
    /// them `requested` names (`LICENCE_TYPE_NOT_IN_ITEM` for any other).
    /// Binds the read to the case first ([`Service::bind_case`]), so a department
    /// reads licences only for its own open case, of its own item's types.
    pub async fn case_read_types(
        &self,
        department: &str,
        q: &CaseQuery,
        requested: &[String],
    ) -> Result<(CaseRow, Vec<String>)> {
        let (case, item) = self.bind_case(department, q).await?;
        let mut allowed: Vec<String> = item
            .materials
            .iter()
            .filter_map(|m| m.licence_type.clone())
            .collect();
        allowed.sort();
        allowed.dedup();
        if allowed.is_empty() {
            return Err(rejected(
                Code::ItemNoLicenceMaterials,
                format!(
                    "{} names no licence type among its materials: its cases read no licences",
                    item.code
                ),
            ));
        }
        if requested.is_empty() {
            return Ok((case, allowed));
        }
        if let Some(other) = requested.iter().find(|t| !allowed.contains(t)) {
            return Err(rejected(
                Code::LicenceTypeNotInItem,
                format!(
                    "{} names no material of licence type {other}; its cases read {}",
                    item.code,
                    allowed.join(", ")
                ),
            ));
        }
        let mut types = requested.to_vec();
        types.sort();
        types.dedup();
        Ok((case, types))
    }

    async fn material(
        &self,
        case: &CaseRow,
        m: &Material,
        query: &Query,
    ) -> Result<MaterialResult> {
        let mut out = MaterialResult {
            name: m.name.clone(),
            licence_type: m.licence_type.clone(),
            required: m.required,
            status: MaterialState::NotALicence,
            identifier: None,
            issuer: None,
            detail: None,
            licence: None,
        };
        let Some(type_code) = &m.licence_type else {
            return Ok(out);
        };
        let rows = self
            .store
            .licences_of_holder(
                &case.holder_code_type,
                &case.holder_code,
                Some(type_code),
                crate::licences::MAX_FIND_RESULTS,
            )
            .await?;
        let found = self.verify_rows(rows).await?;
        // The newest valid one; else the newest, to say why not. (Issue
        // times are to the second; the identifier's serial breaks ties.)
        let newest = |f: &&crate::Found| (f.row.issued_at, f.row.identifier.clone());
        let valid = found
            .iter()
            .filter(|f| f.verification.valid)
            .max_by_key(newest);
        let pick = valid.or_else(|| found.iter().max_by_key(newest));
        let returned: Vec<String> = valid.iter().map(|f| f.row.identifier.clone()).collect();
        self.record_use(
            query,
            "case",
            &format!(
                "case {} material {}: {}:{} type {type_code}",
                case.id, m.name, case.holder_code_type, case.holder_code
            ),
            &returned,
        )
        .await?;
        let Some(f) = pick else {
            out.status = MaterialState::NoneIssued;
            out.detail = Some(format!(
                "no licence of type {type_code} was issued to the holder"
            ));
            return Ok(out);
        };
        out.identifier = Some(f.row.identifier.clone());
        out.issuer = Some(f.row.issuer_code.clone());
        if f.verification.valid {
            out.status = MaterialState::Found;
            out.licence = Some(f.credential.clone());
            return Ok(out);
        }
        let problems: Vec<String> = f
            .verification
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.code.as_str(), p.message))
            .collect();
        out.detail = Some(problems.join("; "));
        out.status = match f.row.status {
            LicenceState::Revoked => MaterialState::Revoked,
            LicenceState::Suspended => MaterialState::Suspended,
            LicenceState::Valid
                if f.verification
                    .problems
                    .iter()
                    .any(|p| p.code == ProblemCode::LicenceExpired) =>
            {
                MaterialState::Expired
            }
            LicenceState::Valid => MaterialState::Invalid,
        };
        Ok(out)
    }

    /// The handling department issues its approved case's result as a
    /// licence for the case's holder, and the case is concluded.
    pub async fn case_result(
        &self,
        department: &str,
        case_id: &str,
        mut input: IssueInput,
    ) -> Result<(IssuedLicence, CaseRow)> {
        check_code("case id", Code::CaseIdInvalid, case_id)?;
        // Case numbers are the department's own: another department's case
        // with the same number is a different case.
        let case = self.case_row(department, case_id).await?;
        if case.status != "open" {
            return Err(rejected(
                Code::CaseConcluded,
                format!(
                    "case {case_id} is concluded (result {})",
                    case.result_licence.as_deref().unwrap_or("-")
                ),
            ));
        }
        let item = self.item_show(&case.item).await?;
        let Some(result_type) = &item.result_type else {
            return Err(rejected(
                Code::ItemNoResultType,
                format!(
                    "{} names no licence type for its result; register the item with resultType",
                    item.code
                ),
            ));
        };
        if &input.type_code != result_type {
            return Err(rejected(
                Code::ResultTypeMismatch,
                format!(
                    "{} issues its result as licence type {result_type}, not {}",
                    item.code, input.type_code
                ),
            ));
        }
        // Compared as the codes parse (a USCC in capitals, a citizen id's
        // check character X), not as typed.
        let same_holder = HolderCodeType::parse(&input.holder_code_type)
            .ok()
            .filter(|k| k.as_str() == case.holder_code_type)
            .and_then(|k| {
                HolderCode::parse_with(k, input.holder_code.trim(), input.allow_legacy_uscc).ok()
            })
            .is_some_and(|c| c.as_str() == case.holder_code);
        if !same_holder {
            return Err(rejected(
                Code::CaseHolderMismatch,
                format!(
                    "case {case_id} is for {}:{}; the result names {}:{}",
                    case.holder_code_type,
                    case.holder_code,
                    input.holder_code_type,
                    input.holder_code
                ),
            ));
        }
        // Documented (PROTOCOL §5.8): the result names the case's item,
        // whatever the request said.
        input.service_item = Some(ServiceItemRef {
            code: item.code.clone(),
            name: item.name.clone(),
        });
        let issued = self.issue(department, input).await?;
        let now = self.now();
        let audit = [tongban_store::AuditRecord::new(
            now,
            department,
            "case.conclude",
            case_id,
            json!({"item": item.code, "licence": issued.identifier.as_str()}),
        )];
        if !self
            .store
            .conclude_case(department, case_id, issued.identifier.as_str(), now, &audit)
            .await?
        {
            // Another result concluded it meanwhile: this licence stands
            // (it is valid and in the log) but is not the case's result.
            return Err(rejected(
                Code::CaseConcluded,
                format!(
                    "case {case_id} was concluded by another result; licence {} was issued but is not its result",
                    issued.identifier.as_str()
                ),
            ));
        }
        self.maybe_checkpoint().await?;
        let case = self.case_row(department, case_id).await?;
        Ok((issued, case))
    }

    /// A case with its licence-use records. Case numbers are each
    /// department's own: without `department`, the number must be unique
    /// (`CASE_AMBIGUOUS` otherwise).
    pub async fn case_show(
        &self,
        department: Option<&str>,
        id: &str,
    ) -> Result<(CaseRow, Vec<UseRow>)> {
        let case = match department {
            Some(d) => self.case_row(d, id).await?,
            None => {
                let mut found = self.store.cases_numbered(id).await?;
                match found.len() {
                    0 => return Err(rejected(Code::CaseUnknown, format!("no case {id}"))),
                    1 => found.remove(0),
                    n => {
                        return Err(rejected(
                            Code::CaseAmbiguous,
                            format!("{n} departments have a case {id}: name the department"),
                        ));
                    }
                }
            }
        };
        let uses = self.store.uses_of_case(&case.department, id).await?;
        Ok((case, uses))
    }

    /// Cases, newest first.
    pub async fn case_list(&self, department: Option<&str>, limit: usize) -> Result<Vec<CaseRow>> {
        Ok(self.store.cases(department, limit).await?)
    }
}
