//! Requests reach their provider on whichever node it listens. A request
//! whose provider has no listener on this node, but has one on another
//! live node, is relayed there through the store: a `node_relays` row and
//! a notification to that node, which hands the request to its local
//! listener exactly as one of its own requests ([`Registry::route_request`]:
//! the same share per requester, the same timeout), so that the provider's
//! response is checked and stored there as any (`check_answer` at
//! admission, one place), and writes the answer (or refusal) back to the
//! row with a notification to this node. The requester gets it as if the
//! provider were connected here.
//!
//! A relay waiting here looks at its row when notified and at least every
//! heartbeat (a notification lost); it ends `PROVIDER_UNAVAILABLE` once the
//! provider's node no longer counts its listener (it stopped listening, or
//! the node is gone), `REQUEST_TIMEOUT` when the requester's time runs out.
//!
//! [`Registry::route_request`]: crate::exchange::listeners::Registry::route_request

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tongban_proto::{ErrorCode, ProtoError};
use tongban_store::{RelayAnswer, RelayRequest};

use crate::Shared;
use crate::exchange::cluster::{Cluster, channel_of};
use crate::exchange::listeners::{RequestDelivery, timed_out};

/// The longest a relayed request waits (a requester's timeout beyond it is
/// cut to it).
const MAX_RELAY_WAIT: Duration = Duration::from_secs(3600);

/// A request to route: who asks what of whom.
#[derive(Clone, Copy)]
pub(crate) struct Route<'a> {
    pub requester: &'a str,
    pub request_id: &'a str,
    pub provider: &'a str,
    pub resource: &'a str,
}

/// Whether `provider` has a listener on this node or another live one.
pub(crate) fn listening(shared: &Shared, provider: &str) -> bool {
    shared.registry.is_listening(provider)
        || shared
            .cluster
            .as_ref()
            .is_some_and(|c| c.is_listening(provider))
}

/// Hands a stored request to a listener of its provider (on this node if
/// it has one, else on another live node) and waits up to `timeout` for
/// the answer.
pub(crate) async fn ask(
    shared: &Shared,
    route: Route<'_>,
    delivery: RequestDelivery,
    timeout: Duration,
) -> Result<Value, ProtoError> {
    let registry = &shared.registry;
    let elsewhere = shared
        .cluster
        .as_ref()
        .filter(|_| !registry.is_listening(route.provider))
        .and_then(|c| Some((c, c.node_for(route.provider)?)));
    if let Some((cluster, node)) = elsewhere {
        return relay(shared, cluster, &node, route, delivery, timeout).await;
    }
    let rx = registry.route_request(
        route.requester,
        route.request_id,
        route.provider,
        route.resource,
        delivery,
    )?;
    registry
        .wait_answer(
            rx,
            (route.requester, route.request_id),
            route.provider,
            timeout,
        )
        .await
}

fn store_failed(e: &tongban_store::StoreError) -> ProtoError {
    tracing::warn!(error = %e, "relaying a request failed");
    ProtoError::new(
        ErrorCode::Internal,
        "the hub could not hand the request to its provider's node",
    )
}

async fn relay(
    shared: &Shared,
    c: &Cluster,
    node: &str,
    route: Route<'_>,
    (seq, envelope): RequestDelivery,
    timeout: Duration,
) -> Result<Value, ProtoError> {
    let timeout = timeout.min(MAX_RELAY_WAIT);
    let request = RelayRequest {
        from_node: c.node_id.clone(),
        to_node: node.to_owned(),
        requester: route.requester.to_owned(),
        request_id: route.request_id.to_owned(),
        provider: route.provider.to_owned(),
        resource: route.resource.to_owned(),
        delivery: seq,
        envelope: envelope.to_string(),
        timeout_ms: timeout.as_millis() as u64,
    };
    let store = shared.hub.store();
    let id = store
        .relay_open(&request)
        .await
        .map_err(|e| store_failed(&e))?;
    let woken = c.expect(id);
    let result = wait_relayed(shared, c, (id, node), route, timeout, woken).await;
    c.forget(id);
    if let Err(e) = store.relay_close(id).await {
        tracing::warn!(error = %e, "removing a relay failed; it is removed when a node starts");
    }
    result
}

async fn wait_relayed(
    shared: &Shared,
    c: &Cluster,
    (id, node): (i64, &str),
    route: Route<'_>,
    timeout: Duration,
    woken: Arc<tokio::sync::Notify>,
) -> Result<Value, ProtoError> {
    let store = shared.hub.store();
    if let Err(e) = store.notify(&channel_of(node), &format!("req:{id}")).await {
        tracing::warn!(error = %e, "telling a node of a relayed request failed; it finds it on its heartbeat");
    }
    let deadline = Instant::now() + timeout;
    loop {
        let look = deadline.min(Instant::now() + c.heartbeat);
        tokio::select! {
            () = woken.notified() => {}
            () = tokio::time::sleep_until(look) => {}
        }
        match store.relay_answered(id).await {
            Ok(Some(answer)) => return answer_of(answer),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading a relay's answer failed"),
        }
        if Instant::now() >= deadline {
            return Err(timed_out(route.provider, timeout));
        }
        if !c.is_live(route.provider, node) {
            return Err(ProtoError::new(
                ErrorCode::ProviderUnavailable,
                format!(
                    "{}'s system stopped listening before it answered {} (its node no longer has it)",
                    route.provider, route.resource
                ),
            ));
        }
    }
}

fn answer_of(answer: RelayAnswer) -> Result<Value, ProtoError> {
    match answer {
        RelayAnswer::Response(text) => serde_json::from_str(&text).map_err(|_| {
            ProtoError::new(ErrorCode::Internal, "a relayed response did not read back")
        }),
        RelayAnswer::Refused { code, message } => {
            Err(ProtoError::new(ErrorCode::parse(&code), message))
        }
    }
}

/// Takes relay `id` if it is addressed here and not taken yet, hands it to
/// a local listener of its provider, and writes the answer back.
pub(crate) async fn serve(shared: &Arc<Shared>, id: i64) {
    let Some(c) = &shared.cluster else { return };
    let store = shared.hub.store();
    let r = match store.relay_claim(id, &c.node_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "taking a relayed request failed");
            return;
        }
    };
    let answer = match answer_here(shared, &r).await {
        Ok(response) => RelayAnswer::Response(response.to_string()),
        Err(e) => RelayAnswer::Refused {
            code: e.code.as_str().to_owned(),
            message: e.message,
        },
    };
    match store.relay_answer(id, &answer).await {
        Ok(true) => {
            let (channel, payload) = (channel_of(&r.from_node), format!("ans:{id}"));
            if let Err(e) = store.notify(&channel, &payload).await {
                tracing::warn!(error = %e, "telling a node of a relay's answer failed; it looks on its heartbeat");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "writing a relay's answer failed"),
    }
}

/// A relayed request answered as one of this node's own.
async fn answer_here(shared: &Shared, r: &RelayRequest) -> Result<Value, ProtoError> {
    let envelope: Value = serde_json::from_str(&r.envelope)
        .map_err(|_| ProtoError::new(ErrorCode::Internal, "a relayed request did not read back"))?;
    let registry = &shared.registry;
    let rx = registry.route_request(
        &r.requester,
        &r.request_id,
        &r.provider,
        &r.resource,
        (r.delivery, envelope),
    )?;
    let timeout = Duration::from_millis(r.timeout_ms).min(MAX_RELAY_WAIT);
    registry
        .wait_answer(rx, (&r.requester, &r.request_id), &r.provider, timeout)
        .await
}

/// Takes the relays addressed here that no notification announced.
pub(crate) async fn take_unclaimed(shared: &Arc<Shared>) {
    let Some(c) = &shared.cluster else { return };
    let ids = match shared.hub.store().relays_unclaimed(&c.node_id).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "looking for relayed requests failed");
            return;
        }
    };
    for id in ids {
        let shared = Arc::clone(shared);
        tokio::spawn(async move { serve(&shared, id).await });
    }
}
