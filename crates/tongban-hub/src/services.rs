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
//!   verified with its region's trust list (see `federation::pull`).
//!
//! Both services that return licences count against the asking
//! department's licence reads (`ServeConfig::licence_reads_per_minute`).

use std::sync::Arc;

use serde_json::{Value, json};
use tongban_proto::{Draft, ErrorCode, Kind, ProtoError, Verified};
use tongban_service::{CaseQuery, Hub, IssueInput};

use crate::Shared;
use crate::base::failures::{Through, told};
use crate::base::names::{REGION_LICENCES, Service};
use crate::federation::pull::region_licences;

fn refused(e: &tongban_service::Error) -> ProtoError {
    told(e, Through::Service, "the hub's service failed")
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Runs the service for a verified request and returns the hub's signed
/// answer (a `response` envelope to the requester).
pub(crate) async fn answer(
    shared: &Arc<Shared>,
    service: &Service,
    request: &Verified,
) -> Result<Value, ProtoError> {
    let hub: &Hub = &shared.hub;
    let h = &request.header;
    let p = request.payload();
    if service.reads_licences {
        crate::base::ratelimit::licence_read(&shared.licence_reads, &h.sender)?;
    }
    let payload = match service.resource {
        "hub.case.licences" => {
            let q = CaseQuery {
                case_id: text(p, "/caseId").to_owned(),
                item: text(p, "/serviceItem").to_owned(),
                holder_code_type: text(p, "/holder/codeType").to_owned(),
                holder_code: text(p, "/holder/code").to_owned(),
                use_cause: text(p, "/useCause").to_owned(),
            };
            let found = hub
                .case_licences(&h.sender, &q)
                .await
                .map_err(|e| refused(&e))?;
            serde_json::to_value(found)
                .map_err(|e| ProtoError::new(ErrorCode::Internal, e.to_string()))?
        }
        "hub.case.result" => {
            let input = p
                .get("licence")
                .ok_or_else(|| ProtoError::service("REQUEST_INVALID", "no licence"))
                .and_then(|doc| IssueInput::from_json(doc).map_err(|e| refused(&e)))?;
            let case_id = text(p, "/caseId");
            let (issued, case) = hub
                .case_result(&h.sender, case_id, input)
                .await
                .map_err(|e| refused(&e))?;
            json!({
                "caseId": case.id,
                "identifier": issued.identifier.as_str(),
                "licence": issued.credential,
                "case": case,
            })
        }
        REGION_LICENCES => region_licences(shared, request).await?,
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
