//! The payloads of the hub's own services, as they travel: a department's
//! case system asks `hub.case.licences`, `hub.case.result`,
//! `hub.case.event` and `hub.region.licences`, the 12345 hotline office and
//! its member units `hub.hotline.create` and `hub.hotline.order`, and one
//! hub asks another `hub.peer.licences`.
//! The hub, the client library and the command line read and write these
//! structs instead of indexing JSON; the schemas under
//! `schemas/messages/` say the same (the hub checks every request against
//! its schema before it reaches a service, and these structs refuse what
//! they do not know).
//!
//! Wire types only: the hub converts them to and from the service layer's
//! domain types by hand.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A request to one of the hub's services: where it goes, the schema it
/// carries and what the hub answers.
pub trait HubRequest: Serialize {
    /// The service's resource id.
    const RESOURCE: &'static str;
    /// The schema requests carry.
    const SCHEMA: &'static str;
    /// The schema of the hub's answer.
    const ANSWER_SCHEMA: &'static str;
    /// The answer's payload.
    type Answer: DeserializeOwned + Serialize;
}

/// A holder (持证主体) as requests name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Holder {
    /// 持证主体代码类型: `001` unified social credit code, `111` citizen ID.
    pub code_type: String,
    /// 持证主体代码.
    pub code: String,
}

impl Holder {
    /// The holder of `code` of `code_type`.
    pub fn new(code_type: impl Into<String>, code: impl Into<String>) -> Holder {
        Holder {
            code_type: code_type.into(),
            code: code.into(),
        }
    }

    /// `TYPE:CODE`, as the command line and licence-use records write it.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.code_type, self.code)
    }
}

/// `case-licence-query@1` to `hub.case.licences`: the licences of a holder
/// that satisfy a service item's required materials, for a case (办件),
/// stating the purpose (申请事由).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseLicenceQuery {
    /// 办件编号 (opens the case on first use).
    pub case_id: String,
    /// 事项编码.
    pub service_item: String,
    /// Whose licences.
    pub holder: Holder,
    /// 申请事由, recorded with every licence returned.
    pub use_cause: String,
}

impl CaseLicenceQuery {
    /// The licences of `holder` for case `case_id` of `service_item`.
    pub fn new(
        case_id: impl Into<String>,
        service_item: impl Into<String>,
        holder: Holder,
        use_cause: impl Into<String>,
    ) -> CaseLicenceQuery {
        CaseLicenceQuery {
            case_id: case_id.into(),
            service_item: service_item.into(),
            holder,
            use_cause: use_cause.into(),
        }
    }
}

impl HubRequest for CaseLicenceQuery {
    const RESOURCE: &'static str = "hub.case.licences";
    const SCHEMA: &'static str = "case-licence-query@1";
    const ANSWER_SCHEMA: &'static str = "case-licences@1";
    type Answer = CaseLicences;
}

/// `case-licences@1`: per required material, the holder's verified
/// licence or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseLicences {
    /// 办件编号.
    pub case_id: String,
    /// 事项编码.
    pub service_item: String,
    /// 事项名称.
    #[serde(default)]
    pub service_item_name: String,
    /// Every required material a licence can satisfy was found.
    pub complete: bool,
    /// Per material, in the item's order.
    pub materials: Vec<MaterialResult>,
}

/// What one material of a case found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MaterialResult {
    /// 材料名称.
    pub name: String,
    /// The licence type that satisfies it.
    #[serde(default)]
    pub licence_type: Option<String>,
    /// Whether the case needs it.
    #[serde(default)]
    pub required: bool,
    /// What was found.
    pub status: MaterialStatus,
    /// The licence's identifier (found, or the one that explains the status).
    #[serde(default)]
    pub identifier: Option<String>,
    /// Its issuer.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Why not, in words.
    #[serde(default)]
    pub detail: Option<String>,
    /// The verified credential, when found.
    #[serde(default)]
    pub licence: Option<Value>,
}

/// The outcome for one material (`status` in `case-licences@1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaterialStatus {
    /// A valid licence was found and verified.
    Found,
    /// The holder has no licence of the type.
    NoneIssued,
    /// The holder's licence has expired.
    Expired,
    /// The holder's licence was revoked.
    Revoked,
    /// The holder's licence is suspended.
    Suspended,
    /// The holder's licence fails verification.
    Invalid,
    /// No licence can satisfy it: the applicant provides it.
    NotALicence,
}

impl MaterialStatus {
    /// The status as the wire writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MaterialStatus::Found => "found",
            MaterialStatus::NoneIssued => "none-issued",
            MaterialStatus::Expired => "expired",
            MaterialStatus::Revoked => "revoked",
            MaterialStatus::Suspended => "suspended",
            MaterialStatus::Invalid => "invalid",
            MaterialStatus::NotALicence => "not-a-licence",
        }
    }
}

/// `case-result@1` to `hub.case.result`: an approved case's result, for
/// the hub to issue as a licence and conclude the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseResult {
    /// 办件编号.
    pub case_id: String,
    /// An issue request as `tongban licence issue` reads it (type,
    /// typeVersion, holder, data, validFrom, validUntil); the service
    /// layer reads it strictly.
    pub licence: Value,
}

impl HubRequest for CaseResult {
    const RESOURCE: &'static str = "hub.case.result";
    const SCHEMA: &'static str = "case-result@1";
    const ANSWER_SCHEMA: &'static str = "case-result-issued@1";
    type Answer = CaseResultIssued;
}

/// `case-result-issued@1`: the licence issued and the concluded case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResultIssued {
    /// 办件编号.
    pub case_id: String,
    /// The licence's identifier.
    pub identifier: String,
    /// The licence (a verifiable credential).
    pub licence: Value,
    /// The concluded case as the hub keeps it.
    #[serde(default)]
    pub case: Option<Value>,
}

/// `case-event@1` to `hub.case.event`: what happened to a case (办件), as
/// the handling department's case system reports it for electronic
/// supervision (电子监察): 受理, 不予受理, 补正 asked and done, 特别程序
/// started and ended, 办结, 退回/撤回, the applicant's 评价.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseEvent {
    /// 办件编号, the department's own.
    pub case_id: String,
    /// 事项编码: the department's item the case is handled under.
    pub service_item: String,
    /// How the application came in: `online`, `window`, `mail` or `other`.
    pub channel: String,
    /// 零跑动: the applicant never came in person.
    #[serde(default)]
    pub zero_visit: bool,
    /// When it happened (RFC 3339).
    pub at: String,
    /// The event: `{"event": "accepted"}`, `{"event": "correction-asked",
    /// "reason": …}`, `{"event": "concluded", "result": "approved"}`, …
    pub event: Value,
}

impl HubRequest for CaseEvent {
    const RESOURCE: &'static str = "hub.case.event";
    const SCHEMA: &'static str = "case-event@1";
    const ANSWER_SCHEMA: &'static str = "case-standing@1";
    type Answer = CaseStanding;
}

/// `case-standing@1`: where a case stands after an event, against its
/// item's time limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseStanding {
    /// 办件编号.
    pub case_id: String,
    /// `received`, `running`, `correcting`, `special`, `concluded`,
    /// `refused` or `withdrawn`.
    pub phase: String,
    /// Working time the clock ran, in minutes.
    pub elapsed_minutes: i64,
    /// 承诺时限, working days.
    pub promised_days: u32,
    /// 法定时限, working days.
    pub legal_days: u32,
    /// `in-time`, `warned`, `overdue` or `over-legal`.
    pub standing: String,
    /// Events recorded so far.
    pub events: u64,
}

/// `notice-answer@1` to `hub.supervision.answer`: a unit answers a
/// supervision notice (督办) addressed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoticeAnswer {
    /// The notice's id (as pushed in `supervision-notice@1`).
    pub notice_id: String,
    /// The answer, 1–2000 characters.
    pub answer: String,
}

impl HubRequest for NoticeAnswer {
    const RESOURCE: &'static str = "hub.supervision.answer";
    const SCHEMA: &'static str = "notice-answer@1";
    const ANSWER_SCHEMA: &'static str = "notice-state@1";
    type Answer = NoticeState;
}

/// `notice-state@1` (and `supervision-notice@1`, pushed on
/// `hub.supervision`): a supervision notice as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeState {
    /// `issued` or `answered`.
    pub state: String,
    /// Its id.
    pub notice_id: String,
    /// The unit that must answer.
    pub department: String,
    /// `case` or `order`.
    pub subject_kind: String,
    /// The case id (the unit's own) or the work order id.
    pub subject: String,
    /// What the office asks.
    pub text: String,
    /// Who issued it.
    pub issued_by: String,
    /// When (RFC 3339).
    pub issued: String,
    /// The answer is due by then (RFC 3339).
    pub due: String,
    /// The answer, once given.
    pub answer: Option<String>,
    /// When it was given (RFC 3339).
    pub answered: Option<String>,
}

/// `order-new@1` to `hub.hotline.create`: the hotline office (12345 热线办)
/// takes a citizen's call as a work order (工单); without a `unit` the
/// hub's routing rules dispatch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderNew {
    /// 工单编号.
    pub order_id: String,
    /// `consultation`, `suggestion`, `appeal`, `consumer-complaint`,
    /// `economic-report` or `administrative-complaint`.
    pub category: String,
    /// What the citizen said.
    pub content: String,
    /// Where (a region code or a place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// The citizen's contact (personal data).
    pub contact: String,
    /// The member unit to dispatch it to, overriding the routing rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl HubRequest for OrderNew {
    const RESOURCE: &'static str = "hub.hotline.create";
    const SCHEMA: &'static str = "order-new@1";
    const ANSWER_SCHEMA: &'static str = "order-state@1";
    type Answer = OrderState;
}

/// `order-step@1` to `hub.hotline.order`: a step on a work order, taken by
/// the sender: the hotline office's steps (dispatch, extension decided,
/// call back, reopen, close) or the unit's it is dispatched to (sign-for,
/// return, extension asked, reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderStep {
    /// 工单编号.
    pub order_id: String,
    /// When it was taken (RFC 3339).
    pub at: String,
    /// The step: `{"step": "signed"}`, `{"step": "replied", "content": …}`, …
    pub step: Value,
    /// Also answer the citizen's contact (the office and the unit the
    /// order is dispatched to only; each reading audited).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_contact: bool,
}

impl HubRequest for OrderStep {
    const RESOURCE: &'static str = "hub.hotline.order";
    const SCHEMA: &'static str = "order-step@1";
    const ANSWER_SCHEMA: &'static str = "order-state@1";
    type Answer = OrderState;
}

/// `order-state@1`: where a work order stands after a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderState {
    /// 工单编号.
    pub order_id: String,
    /// Its category.
    pub category: String,
    /// `new`, `dispatched`, `handling`, `replied`, `visited` or `closed`.
    pub phase: String,
    /// The member unit it is dispatched to.
    pub unit: Option<String>,
    /// The sign-for deadline of the current dispatch (RFC 3339).
    pub sign_deadline: Option<String>,
    /// The reply deadline, extensions granted included (RFC 3339).
    pub reply_deadline: Option<String>,
    /// Yellow cards (黄牌) as of the last step.
    pub yellow_cards: u32,
    /// Red cards (红牌) as of the last step.
    pub red_cards: u32,
    /// Steps so far.
    pub steps: u64,
    /// The citizen's contact, when asked for by the office or the unit the
    /// order is dispatched to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// `region-licence-query@2` to `hub.region.licences`: a holder's licences
/// here and in peer regions (全域通办), for a case of the asking
/// department's own item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegionLicenceQuery {
    /// Whose licences.
    pub holder: Holder,
    /// 申请事由, carried to every peer.
    pub use_cause: String,
    /// 办件编号.
    pub case_id: String,
    /// 事项编码.
    pub service_item: String,
    /// Some of the item's licence types; absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_types: Option<Vec<String>>,
    /// The regions to ask (this one and peers); absent: this and every peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// How long the hub waits for peers, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

impl RegionLicenceQuery {
    /// The licences of `holder` for case `case_id` of `service_item`, of
    /// all the item's types, from this region and every peer, waiting as
    /// long as the hub does by default.
    pub fn new(
        holder: Holder,
        use_cause: impl Into<String>,
        case_id: impl Into<String>,
        service_item: impl Into<String>,
    ) -> RegionLicenceQuery {
        RegionLicenceQuery {
            holder,
            use_cause: use_cause.into(),
            case_id: case_id.into(),
            service_item: service_item.into(),
            licence_types: None,
            regions: None,
            wait_ms: None,
        }
    }
}

impl HubRequest for RegionLicenceQuery {
    const RESOURCE: &'static str = "hub.region.licences";
    const SCHEMA: &'static str = "region-licence-query@2";
    const ANSWER_SCHEMA: &'static str = "region-licences@1";
    type Answer = RegionLicences;
}

/// `region-licences@1`: every licence found, each with its origin and the
/// outcome of verifying it, and what each region asked answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionLicences {
    /// Whose licences.
    pub holder: Holder,
    /// What was found, this region's first.
    pub licences: Vec<RegionLicence>,
    /// What each region asked answered.
    pub regions: Vec<RegionOutcome>,
}

/// One licence of a [`RegionLicences`] answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionLicence {
    /// The region it comes from.
    pub origin: Origin,
    /// Its identifier, when it could be read.
    pub identifier: Option<String>,
    /// Its licence type code.
    pub licence_type: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Its issuer.
    pub issuer: Option<String>,
    /// It verified with its region's trust list.
    pub valid: bool,
    /// Its status (有效, 已注销, ...), when known.
    pub status: Option<String>,
    /// The problems' codes, when not valid.
    #[serde(default)]
    pub problems: Vec<String>,
    /// The licence (a verifiable credential).
    pub licence: Value,
}

/// Where a licence comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// 行政区划代码.
    pub region: String,
    /// The region's name.
    #[serde(default)]
    pub name: String,
    /// The hub's id.
    pub hub: String,
}

/// What one region asked answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionOutcome {
    /// 行政区划代码.
    pub region: String,
    /// The region's name.
    #[serde(default)]
    pub name: String,
    /// Answered or failed.
    pub outcome: Outcome,
    /// How many licences it returned (answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licences: Option<usize>,
    /// It had more than it returns at once.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// Until when the trust list its licences were checked with is valid
    /// (peers; RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_list_valid_until: Option<String>,
    /// Why it failed: a stable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Whether a region answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It answered (possibly with no licence).
    Answered,
    /// It could not be asked or did not answer; `code` says why.
    Failed,
}

/// `peer-licence-query@2` to `hub.peer.licences`: one hub asks another,
/// for one of its departments, a holder's licences of some types for a
/// case, carrying the department's own signed request (`origin`). Read
/// leniently (a peer may run another version): the answering hub refuses
/// a read bound to no case, item or type itself (`READ_UNBOUND`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerLicenceQuery {
    /// Whose licences.
    pub holder: Holder,
    /// 申请事由, as the department stated it.
    #[serde(default)]
    pub use_cause: String,
    /// The department's case (办件编号) in the asking region.
    #[serde(default)]
    pub case_id: String,
    /// The case's service item (事项编码).
    #[serde(default)]
    pub service_item: String,
    /// The licence types the item names (some of them).
    #[serde(default)]
    pub licence_types: Vec<String>,
    /// The department that asked (its code in the asking region).
    #[serde(default)]
    pub requester: String,
    /// The department's own signed `region-licence-query@2` envelope.
    #[serde(default)]
    pub origin: Option<Value>,
}

impl HubRequest for PeerLicenceQuery {
    const RESOURCE: &'static str = "hub.peer.licences";
    const SCHEMA: &'static str = "peer-licence-query@2";
    const ANSWER_SCHEMA: &'static str = "peer-licences@1";
    type Answer = PeerLicences;
}

/// `peer-licences@1`: the answering region's licences of the holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerLicences {
    /// The answering region (行政区划代码).
    pub region: String,
    /// The licences (verifiable credentials), at most 100.
    pub licences: Vec<Value>,
    /// The holder has more than one answer carries.
    #[serde(default)]
    pub truncated: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A service's answer: the hub's signed envelope as received, and its
/// payload read.
#[derive(Debug, Clone)]
pub struct HubAnswer<T> {
    /// The `response` envelope, signed by the hub.
    pub envelope: Value,
    /// Its payload.
    pub payload: T,
}

impl<T: DeserializeOwned> HubAnswer<T> {
    /// Reads the payload of a signed answer; `Err` names what does not fit.
    pub fn read(envelope: Value) -> Result<HubAnswer<T>, serde_json::Error> {
        let payload = match envelope.get("payload") {
            Some(p) => T::deserialize(p)?,
            None => T::deserialize(&Value::Null)?,
        };
        Ok(HubAnswer { envelope, payload })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn queries_write_what_their_schemas_name() {
        let q = RegionLicenceQuery {
            holder: Holder {
                code_type: "001".into(),
                code: "X".into(),
            },
            use_cause: "u".into(),
            case_id: "c".into(),
            service_item: "i".into(),
            licence_types: None,
            regions: Some(vec!["440100".into()]),
            wait_ms: Some(500),
        };
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            json!({"holder": {"codeType": "001", "code": "X"}, "useCause": "u",
                   "caseId": "c", "serviceItem": "i", "regions": ["440100"], "waitMs": 500})
        );
        let misspelt = json!({"holder": {"codeType": "001", "code": "X"}, "useCause": "u",
                              "caseId": "c", "serviceItem": "i", "waitMS": 500});
        assert!(serde_json::from_value::<RegionLicenceQuery>(misspelt).is_err());
    }

    #[test]
    fn material_statuses_are_the_schemas_words() {
        for (status, word) in [
            (MaterialStatus::Found, "found"),
            (MaterialStatus::NoneIssued, "none-issued"),
            (MaterialStatus::Expired, "expired"),
            (MaterialStatus::Revoked, "revoked"),
            (MaterialStatus::Suspended, "suspended"),
            (MaterialStatus::Invalid, "invalid"),
            (MaterialStatus::NotALicence, "not-a-licence"),
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(word));
            assert_eq!(status.as_str(), word);
        }
    }

    #[test]
    fn an_answer_reads_its_payload_or_says_what_does_not_fit() {
        let envelope = json!({"payload": {"caseId": "c", "identifier": "L1", "licence": {}}});
        let a = HubAnswer::<CaseResultIssued>::read(envelope).unwrap();
        assert_eq!(a.payload.identifier, "L1");
        assert_eq!(a.envelope["payload"]["caseId"], "c");
        let e = HubAnswer::<CaseResultIssued>::read(json!({"payload": {"caseId": "c"}}));
        assert!(e.unwrap_err().to_string().contains("identifier"));
    }
}
