//! The hub's own services, requested like any provider's resource (signed,
//! schema-checked, stored and logged by the pipeline) but answered by the
//! hub itself, in an envelope signed with the hub's key:
//!
//! - `hub.case.licences` (`case-licence-query@1` → `case-licences@1`): the
//!   licences of a holder for a service item's materials, each use recorded
//!   against the case;
//! - `hub.case.result` (`case-result@1` → `case-result-issued@1`): issue an
//!   approved case's result as a licence and conclude the case;
//! - `hub.region.licences` (`region-licence-query@2` → `region-licences@1`):
//!   a holder's licences here and in peer regions (全域通办) for a case of
//!   the asking department's own item, of that item's licence types, each
//!   verified with its region's trust list (see `federation::pull`);
//! - `hub.case.event` (`case-event@1` → `case-standing@1`): what happened
//!   to a case of the department's own item, for electronic supervision
//!   (`Service::case_event`: checked in order, stored with the case's
//!   standing against its time limits);
//! - `hub.supervision.answer` (`notice-answer@1` → `notice-state@1`): a
//!   unit answers a supervision notice (督办) addressed to it
//!   (`Service::notice_answer`; the answer is pushed to the supervising
//!   office on `hub.supervision`, see `exchange::outbox`);
//! - `hub.hotline.create` (`order-new@1` → `order-state@1`): the 12345
//!   hotline office takes a call as a work order, dispatched at once to
//!   the unit it names or by the routing rules (`Service::order_create`);
//! - `hub.hotline.order` (`order-step@1` → `order-state@1`): a step on a
//!   work order, taken by the sender — the office (`Actor::Office`) or a
//!   member unit (`Actor::Unit`) — and checked by `Service::order_step`
//!   against who may take it and where the order stands.
//!
//! Both services that return licences count against the asking
//! department's licence reads (`ServeConfig::licence_reads_per_minute`).
//!
//! A request to a service is admitted without a catalogue rule
//! (`exchange::admission`: kind `request`, the service's request schema,
//! payload inline, no recipient or topic, payload valid; the table of services
//! is `base::names::SERVICES`) and stored like any request with its
//! `exchange.request` entry; `ops::request` then calls [`answer`] instead of
//! routing to a provider. The payload is read into its
//! `tongban_proto::services` struct (`base::payloads::read`; a misfit is
//! `REQUEST_INVALID`), the service runs (`Service::case_licences`,
//! `Service::case_result`, or `federation::pull::region_licences`), and the answer
//! is a `response` envelope signed with the hub's current key (sender
//! `urn:tongban:hub:{region}`). A refusal is `SERVICE_REFUSED` with the
//! service's code as `reason`; this hub's own failure goes through
//! `base::failures::told`. Only the item's own department opens cases under it,
//! and at most 4 service requests are answered at once (2 of one department's;
//! a request takes its slot before it is stored).

use std::sync::Arc;

use serde_json::Value;
use tongban_proto::services::{
    CaseEvent, CaseLicenceQuery, CaseLicences, CaseResult, CaseResultIssued, CaseStanding,
    HubRequest, MaterialResult, MaterialStatus, NoticeAnswer, NoticeState, OrderNew, OrderState,
    OrderStep,
};
use tongban_proto::{Draft, ErrorCode, Kind, ProtoError, Verified};
use tongban_service::{
    CaseEventInput, CaseQuery, IssueInput, MaterialState, NewOrder, OrderStanding, OrderStepInput,
    Service, parse_category,
};

use crate::Shared;
use crate::base::failures::{Through, told};
use crate::base::names::{HubService, REGION_LICENCES};
use crate::base::payloads::{read, written};
use crate::federation::pull::region_licences;

fn refused(e: &tongban_service::Error) -> ProtoError {
    told(e, Through::Service, "the hub's service failed")
}

/// Runs the service for a verified request and returns the hub's signed
/// answer (a `response` envelope to the requester).
pub(crate) async fn answer(
    shared: &Arc<Shared>,
    service: &HubService,
    request: &Verified,
) -> Result<Value, ProtoError> {
    let hub: &Service = &shared.hub;
    let h = &request.header;
    if service.reads_licences {
        crate::base::ratelimit::licence_read(&shared.licence_reads, &h.sender)?;
    }
    let payload = match service.resource {
        CaseLicenceQuery::RESOURCE => {
            let q: CaseLicenceQuery = read(request)?;
            let found = hub
                .case_licences(&h.sender, &case_query(q))
                .await
                .map_err(|e| refused(&e))?;
            written(&case_licences(found))?
        }
        CaseResult::RESOURCE => {
            let r: CaseResult = read(request)?;
            let input = IssueInput::from_json(&r.licence).map_err(|e| refused(&e))?;
            let (issued, case) = hub
                .case_result(&h.sender, &r.case_id, input)
                .await
                .map_err(|e| refused(&e))?;
            written(&CaseResultIssued {
                case_id: case.id.clone(),
                identifier: issued.identifier.as_str().to_owned(),
                licence: issued.credential,
                case: Some(written(&case)?),
            })?
        }
        REGION_LICENCES => written(&region_licences(shared, request).await?)?,
        CaseEvent::RESOURCE => written(&case_event(hub, &h.sender, read(request)?).await?)?,
        NoticeAnswer::RESOURCE => written(&notice_answer(hub, &h.sender, read(request)?).await?)?,
        OrderNew::RESOURCE => written(&order_new(hub, &h.sender, read(request)?).await?)?,
        OrderStep::RESOURCE => written(&order_step(hub, &h.sender, read(request)?).await?)?,
        other => {
            return Err(ProtoError::new(
                ErrorCode::Internal,
                format!("no hub service {other}"),
            ));
        }
    };
    let identity = hub.identity().await.map_err(|e| refused(&e))?;
    let (key, _) = hub
        .current_key("hub", tongban_seal::KeyPurpose::Both)
        .await
        .map_err(|e| refused(&e))?;
    Draft {
        id: tongban_proto::new_id(),
        sender: identity.id,
        recipient: Some(h.sender.clone()),
        topic: None,
        resource: service.resource.to_owned(),
        schema: service.answer_schema.to_owned(),
        kind: Kind::Response,
        correlation_id: Some(h.id.clone()),
        time: hub.now(),
        payload: Some(payload),
        payload_ref: None,
    }
    .sign(&key)
}

/// `hub.case.event`: the event recorded, the case's standing answered.
async fn case_event(
    hub: &Service,
    department: &str,
    e: CaseEvent,
) -> Result<CaseStanding, ProtoError> {
    let input = CaseEventInput::parse(
        e.case_id,
        e.service_item,
        e.channel,
        e.zero_visit,
        &e.at,
        &e.event,
    )
    .map_err(|e| refused(&e))?;
    let case = hub
        .case_event(department, input, false)
        .await
        .map_err(|e| refused(&e))?;
    Ok(CaseStanding {
        case_id: case.case_id,
        phase: case.phase,
        elapsed_minutes: case.elapsed_minutes,
        promised_days: case.promised_days,
        legal_days: case.legal_days,
        standing: case.standing,
        events: case.events,
    })
}

/// `hub.supervision.answer`: the unit's answer recorded (and pushed to the
/// supervising office), the notice answered as it now stands.
async fn notice_answer(
    hub: &Service,
    department: &str,
    a: NoticeAnswer,
) -> Result<NoticeState, ProtoError> {
    let notice = hub
        .notice_answer(department, &a.notice_id, &a.answer, false)
        .await
        .map_err(|e| refused(&e))?;
    serde_json::from_value(tongban_service::alerts::notice_payload(&notice))
        .map_err(|e| ProtoError::new(ErrorCode::Internal, e.to_string()))
}

/// `hub.hotline.create`: the order created by the sender (the office
/// only), where it stands answered.
async fn order_new(hub: &Service, department: &str, o: OrderNew) -> Result<OrderState, ProtoError> {
    let new = NewOrder {
        id: o.order_id,
        category: parse_category(&o.category).map_err(|e| refused(&e))?,
        content: o.content,
        area: o.area,
        contact: o.contact,
        unit: o.unit,
    };
    let row = hub
        .order_create(department, new)
        .await
        .map_err(|e| refused(&e))?;
    let standing = hub
        .order_standing(department, &row.id, false)
        .await
        .map_err(|e| refused(&e))?;
    Ok(order_state(standing))
}

/// `hub.hotline.order`: the step taken by the sender, where the order now
/// stands answered.
async fn order_step(
    hub: &Service,
    department: &str,
    s: OrderStep,
) -> Result<OrderState, ProtoError> {
    let input = OrderStepInput::parse(s.order_id, &s.at, &s.step).map_err(|e| refused(&e))?;
    hub.order_step(department, &input.order_id, input.step, input.at)
        .await
        .map_err(|e| refused(&e))?;
    let standing = hub
        .order_standing(department, &input.order_id, s.with_contact)
        .await
        .map_err(|e| refused(&e))?;
    Ok(order_state(standing))
}

fn order_state(s: OrderStanding) -> OrderState {
    let rfc3339 = |t: Option<time::OffsetDateTime>| t.map(tongban_seal::timefmt::format_rfc3339);
    OrderState {
        order_id: s.order.id,
        category: s.order.category,
        phase: s.order.phase,
        unit: s.order.unit,
        sign_deadline: rfc3339(s.sign_deadline),
        reply_deadline: rfc3339(s.reply_deadline),
        yellow_cards: s.order.yellow_cards,
        red_cards: s.order.red_cards,
        steps: s.order.steps,
        contact: s.contact,
    }
}

fn case_query(q: CaseLicenceQuery) -> CaseQuery {
    CaseQuery {
        case_id: q.case_id,
        item: q.service_item,
        holder_code_type: q.holder.code_type,
        holder_code: q.holder.code,
        use_cause: q.use_cause,
    }
}

fn case_licences(found: tongban_service::CaseLicences) -> CaseLicences {
    CaseLicences {
        case_id: found.case_id,
        service_item: found.service_item,
        service_item_name: found.service_item_name,
        complete: found.complete,
        materials: found
            .materials
            .into_iter()
            .map(|m| MaterialResult {
                name: m.name,
                licence_type: m.licence_type,
                required: m.required,
                status: material_status(m.status),
                identifier: m.identifier,
                issuer: m.issuer,
                detail: m.detail,
                licence: m.licence,
            })
            .collect(),
    }
}

fn material_status(state: MaterialState) -> MaterialStatus {
    match state {
        MaterialState::Found => MaterialStatus::Found,
        MaterialState::NoneIssued => MaterialStatus::NoneIssued,
        MaterialState::Expired => MaterialStatus::Expired,
        MaterialState::Revoked => MaterialStatus::Revoked,
        MaterialState::Suspended => MaterialStatus::Suspended,
        MaterialState::Invalid => MaterialStatus::Invalid,
        MaterialState::NotALicence => MaterialStatus::NotALicence,
    }
}
