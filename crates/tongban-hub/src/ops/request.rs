//! `request` streams: a request to a provider of this region, answered
//! with its response, or to one of the hub's services, answered by the hub.
//! (A request for another region's resource goes to federation instead:
//! `conn::streams`.)

use std::time::Duration;

use serde_json::Value;
use tongban_proto::{ErrorCode, Kind, ProtoError, ServerOp};

use crate::base::names::{self, HubService, REGION_LICENCES};
use crate::base::shares::Share;
use crate::base::wire::{envelope_id, write};
use crate::exchange::Outcome;
use crate::exchange::relay::{self, Route};
use crate::ops::DepartmentStream;

/// Answers a `request` stream with the response, or the refusal.
pub(crate) async fn request(
    envelope: Value,
    timeout_ms: u64,
    send: &mut quinn::SendStream,
    ctx: &DepartmentStream,
) {
    let id = envelope_id(&envelope);
    let reply = match answer(envelope, timeout_ms, ctx).await {
        Ok(envelope) => ServerOp::Response { envelope },
        Err(e) => ServerOp::error(id, &e),
    };
    write(send, &reply).await;
}

async fn answer(
    envelope: Value,
    timeout_ms: u64,
    ctx: &DepartmentStream,
) -> Result<Value, ProtoError> {
    // A request to one of the hub's services takes its slot before it is
    // stored: one refused for want of a slot leaves nothing behind.
    let service = envelope
        .get("resource")
        .and_then(Value::as_str)
        .and_then(names::by_resource);
    let slot = match service.map(|s| service_slot(ctx, s)).transpose() {
        Ok(slot) => slot,
        Err(e) => {
            let resource = names::resource_of(&envelope);
            count(ctx, &resource, &e);
            return Err(e);
        }
    };
    let outcome = ctx
        .pipeline
        .submit(&ctx.department, envelope, Kind::Request)
        .await?;
    let h = &outcome.verified.header;
    if let Some(service) = service.filter(|s| s.resource == h.resource) {
        let answered = crate::services::answer(&ctx.shared, service, &outcome.verified).await;
        drop(slot);
        return answered.inspect_err(|e| count(ctx, &h.resource, e));
    }
    to_provider(ctx, &outcome, timeout_ms).await
}

/// Hands a stored request to its provider's listener and waits for the
/// answer.
async fn to_provider(
    ctx: &DepartmentStream,
    outcome: &Outcome,
    timeout_ms: u64,
) -> Result<Value, ProtoError> {
    let h = &outcome.verified.header;
    let provider = match ctx.shared.snapshot.view().access.resource(&h.resource) {
        Some(r) => r.provider.clone(),
        None => {
            return Err(ProtoError::new(
                ErrorCode::ResourceUnknown,
                "the resource disappeared",
            ));
        }
    };
    let route = Route {
        requester: &h.sender,
        request_id: &h.id,
        provider: &provider,
        resource: &h.resource,
    };
    let delivery = (outcome.seq, outcome.verified.to_value());
    relay::ask(
        &ctx.shared,
        route,
        delivery,
        Duration::from_millis(timeout_ms),
    )
    .await
}

fn count(ctx: &DepartmentStream, resource: &str, e: &ProtoError) {
    ctx.shared
        .refusals
        .count(&ctx.shared, &ctx.department, resource, e.code);
}

/// A slot to answer a request to one of the hub's services: a pull across
/// regions (`hub.region.licences`) or another service.
fn service_slot(ctx: &DepartmentStream, service: &HubService) -> Result<Share, ProtoError> {
    let budget = if service.resource == REGION_LICENCES {
        &ctx.shared.pulls_budget
    } else {
        &ctx.shared.services_budget
    };
    budget.try_acquire(&ctx.department, 1)
}
