//! Requests for another region's resources, through the two hubs
//! (全域通办). A peer region's unconditional (无条件共享) resources are
//! known here from its catalogue (fetched with its trust list) and named
//! `{region}:{id}`.
//!
//! - **Asking side** ([`forward`]): a department's request for
//!   `{region}:{id}` is verified like any (sender, key, time), checked
//!   against the peer's catalogue entry and schema, logged, and forwarded
//!   inside a `hub.peer.request` this hub signs. The provider's signed
//!   response comes back inside the peer hub's signed answer; both
//!   signatures are checked (the provider's with the peer's trust list) and
//!   the provider's response goes to the department as is.
//! - **Answering side** ([`answer_request`]): the department's request is
//!   checked with the asking region's trust list, must name one of this
//!   region's unconditional, published resources with its schema and a
//!   valid payload, is used once, logged, and handed to the provider's
//!   listener; the provider answers as to any request, through this hub's
//!   pipeline (checked, stored, logged).
//!
//! The asking side logs an `exchange.peer_request` entry before it forwards.
//! The answering side hands the request to the provider with
//! `Registry::route_request`; the provider's `respond` goes through the
//! exchange pipeline (checked, stored, `exchange.response`), which accepts the
//! `{region}:{id}` name for a response to an open request only
//! (`base::names::local_id`), and `Registry::answer` returns it inside a
//! `peer-response@1` signed by this hub.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tongban_client::ClientError;
use tongban_proto::{ErrorCode, Kind, ProtoError, Verified};
use tongban_service::PeerTrust;
use tongban_store::{AuditRecord, ExchangeResource};

use crate::Shared;
use crate::base::checks::validate;
use crate::base::failures::{Through, told};
use crate::base::names::split;
use crate::exchange::admission;
use crate::exchange::relay::{self, Route};
use crate::federation::links::{check_answer, crl_fresh, link, trust};
use crate::federation::origin::{origin_replayed, remember, verified_origin};
use crate::federation::{PeerFailure, REQUEST};

/// Longest wait for a provider in another region.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The peer's refusal as the department gets it: codes about the
/// department's request and the resource go through; codes about the
/// hubs' own envelope (clock skew between hubs, keys, an older peer) become
/// `SERVICE_REFUSED` `PEER_REFUSED`, so that the department does not look
/// for the fault in its own envelope.
fn passed_on(region: &str, e: ProtoError) -> ProtoError {
    let message = format!("region {region}: {}", e.message);
    let about_the_request = matches!(
        e.code,
        ErrorCode::ResourceUnknown
            | ErrorCode::ResourceForbidden
            | ErrorCode::CatalogueRetired
            | ErrorCode::AccessNotShared
            | ErrorCode::AccessNotGranted
            | ErrorCode::AccessExpired
            | ErrorCode::SchemaUnknown
            | ErrorCode::PayloadInvalid
            | ErrorCode::PayloadTooLarge
            | ErrorCode::ProviderUnavailable
            | ErrorCode::RequestTimeout
            | ErrorCode::Busy
    ) || (e.code == ErrorCode::ServiceRefused
        && e.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("ORIGIN_") || r.starts_with("TRUST_LIST_")));
    if about_the_request {
        ProtoError { message, ..e }
    } else {
        ProtoError::service("PEER_REFUSED", format!("{message} ({})", e.most_specific()))
    }
}

fn service_error(e: tongban_service::Error) -> ProtoError {
    told(&e, Through::Protocol, "a request to another region failed")
}

/// A department's request for a peer region's resource: checked, logged,
/// forwarded, and answered with the provider's own signed response.
pub(crate) async fn forward(
    shared: &Arc<Shared>,
    department: &str,
    envelope: Value,
    timeout_ms: u64,
) -> Result<Value, ProtoError> {
    let hub = &shared.hub;
    let request = verified_request(shared, department, envelope).await?;
    let h = &request.header;
    let Some((region, id)) = split(&h.resource) else {
        return Err(ProtoError::new(
            ErrorCode::ResourceUnknown,
            "not another region's resource",
        ));
    };
    let peer = hub.peer(region).await.map_err(service_error)?;
    let resource = hub.peer_resource(region, id).await.map_err(service_error)?;
    check_against_entry(shared, &request, &resource)?;
    hub.record_audit(&[AuditRecord::new(
        hub.now(),
        department,
        "exchange.peer_request",
        &h.resource,
        json!({"id": h.id, "digest": request.digest(), "region": region}),
    )])
    .await
    .map_err(service_error)?;

    let peer_trust = trust(shared, region)
        .await
        .map_err(PeerFailure::into_refusal)?;
    crl_fresh(shared, region)
        .await
        .map_err(PeerFailure::into_refusal)?;
    let client = link(shared, &peer)
        .await
        .map_err(PeerFailure::into_refusal)?;
    let (answer, draft_id) = ask_peer_hub(&client, region, &request, timeout_ms).await?;
    let invalid = |m: String| ProtoError::service("PEER_ANSWER_INVALID", m);
    let outer = check_answer(shared, &peer_trust, answer, &draft_id, REQUEST)
        .map_err(|f| invalid(f.message))?;
    let inner = outer
        .payload()
        .get("response")
        .cloned()
        .ok_or_else(|| invalid("the answer carries no response".into()))?;
    provider_response(shared, &peer_trust, inner, &request, (region, &resource))
}

/// The department's request, verified like any (steps 1 and 3–9 of
/// §4.4), with one refresh of the registry if its key or the department
/// is new since the last one.
async fn verified_request(
    shared: &Shared,
    department: &str,
    envelope: Value,
) -> Result<Verified, ProtoError> {
    let parsed = tongban_proto::envelope::parse(envelope)?;
    let h = &parsed.header;
    let mut view = shared.snapshot.view();
    if !view.keys.contains_key(&h.key_id) || !view.departments.contains_key(department) {
        shared.snapshot.refresh_on_miss().await;
        view = shared.snapshot.view();
    }
    let key = admission::before_signature(
        &parsed,
        Kind::Request,
        department,
        &view,
        shared.hub.now(),
        shared.config.time_window,
    )?;
    parsed.verify(&key)
}

/// The request against the peer's catalogue entry: its schema, inline,
/// and a payload that satisfies it.
fn check_against_entry(
    shared: &Shared,
    request: &Verified,
    resource: &tongban_service::PeerResource,
) -> Result<(), ProtoError> {
    let h = &request.header;
    if h.schema != resource.schema {
        return Err(ProtoError::new(
            ErrorCode::ResourceForbidden,
            format!(
                "requests for {} carry {}, not {}",
                h.resource, resource.schema, h.schema
            ),
        ));
    }
    if h.payload_ref.is_some() {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            "a request to another region carries its payload inline",
        ));
    }
    let validator = shared.peering.validator(resource)?;
    validate(&validator, &h.schema, request.payload())
}

/// Sends the department's request inside a `hub.peer.request` on `client`
/// and waits (at most [`MAX_WAIT`]) for the peer hub's answer, returned
/// with the id of the request it answers.
async fn ask_peer_hub(
    client: &tongban_client::Client,
    region: &str,
    request: &Verified,
    timeout_ms: u64,
) -> Result<(Value, String), ProtoError> {
    let draft = client.request_for(
        REQUEST.resource,
        REQUEST.query,
        json!({"origin": request.to_value()}),
    );
    let draft_id = draft.id.clone();
    let wait = Duration::from_millis(timeout_ms).min(MAX_WAIT);
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(30_000);
    match tokio::time::timeout(
        wait + Duration::from_secs(1),
        client.request(draft, wait_ms),
    )
    .await
    {
        Ok(Ok(answer)) => Ok((answer, draft_id)),
        // The peer's refusal, as it gave it (e.g. PROVIDER_UNAVAILABLE,
        // ACCESS_NOT_SHARED, PAYLOAD_INVALID, REQUEST_TIMEOUT).
        Ok(Err(ClientError::Refused(e))) => Err(passed_on(region, e)),
        Ok(Err(e)) => Err(ProtoError::service(
            "PEER_UNREACHABLE",
            format!("region {region}: {e}"),
        )),
        Err(_) => Err(ProtoError::new(
            ErrorCode::RequestTimeout,
            format!("region {region} did not answer within {wait_ms} ms"),
        )),
    }
}

/// The provider's response the peer hub's answer carries, checked: the
/// provider's answer to this very request, in the entry's schema, inline,
/// within the time window, signed with the provider's key from the peer's
/// trust list.
fn provider_response(
    shared: &Shared,
    peer_trust: &PeerTrust,
    inner: Value,
    request: &Verified,
    (region, resource): (&str, &tongban_service::PeerResource),
) -> Result<Value, ProtoError> {
    let invalid = |m: String| ProtoError::service("PEER_ANSWER_INVALID", m);
    let h = &request.header;
    let inner = tongban_proto::envelope::parse(inner).map_err(|e| invalid(e.to_string()))?;
    let ih = &inner.header;
    if ih.kind != Kind::Response
        || ih.sender != resource.provider
        || ih.correlation_id.as_deref() != Some(h.id.as_str())
        || ih.recipient.as_deref() != Some(h.sender.as_str())
        || ih.resource != h.resource
        || ih.schema != resource.schema
        || ih.payload_ref.is_some()
    {
        return Err(invalid(format!(
            "the response is not {}'s answer to this request",
            resource.provider
        )));
    }
    let provider_key = peer_trust
        .trust
        .keys()
        .find(|k| k.key_id() == ih.key_id)
        .cloned()
        .ok_or_else(|| {
            invalid(format!(
                "key {} is not in region {region}'s trust list",
                ih.key_id
            ))
        })?;
    inner
        .check_time(shared.hub.now(), shared.config.time_window)
        .map_err(|e| invalid(e.to_string()))?;
    let response = inner
        .verify(&provider_key)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(response.to_value())
}

/// The payload of the answer to `hub.peer.request`: the provider's response
/// to the department's request the peer hub forwarded.
pub(crate) async fn answer_request(
    shared: &Shared,
    region: &str,
    me: &tongban_service::HubIdentity,
    request: &Verified,
    timeout_ms: u64,
) -> Result<Value, ProtoError> {
    let hub = &shared.hub;
    let now = hub.now();
    let origin = verified_origin(shared, region, request.payload().get("origin")).await?;
    let h = &origin.header;
    let addressed_right = h.topic.is_none() && h.payload_ref.is_none();
    let id = match split(&h.resource) {
        Some((r, id)) if r == me.region && h.kind == Kind::Request && addressed_right => id,
        _ => {
            return Err(ProtoError::service(
                "ORIGIN_INVALID",
                format!(
                    "the department's request does not ask a resource of region {}",
                    me.region
                ),
            ));
        }
    };
    let resource = open_resource(shared, id, &origin).await?;
    remember(shared, Some(region), h, origin_replayed).await?;
    if !relay::listening(shared, &resource.provider) {
        return Err(ProtoError::new(
            ErrorCode::ProviderUnavailable,
            format!(
                "{} has no system connected to answer {id}",
                resource.provider
            ),
        ));
    }
    shared.registry.check_room(&h.sender, &resource.provider)?;
    hub.record_audit(&[AuditRecord::new(
        now,
        format!("urn:tongban:hub:{region}/{}", h.sender),
        "exchange.peer_request",
        id,
        json!({"id": h.id, "digest": origin.digest(), "region": region}),
    )])
    .await
    .map_err(|e| told(&e, Through::Service, "the hub could not log the request"))?;
    let route = Route {
        requester: &h.sender,
        request_id: &h.id,
        provider: &resource.provider,
        resource: &h.resource,
    };
    let wait = Duration::from_millis(timeout_ms).min(MAX_WAIT);
    let response = relay::ask(shared, route, (0, origin.to_value()), wait).await?;
    Ok(json!({"response": response}))
}

/// This region's resource `id` that another region's department asks,
/// checked as the peer found it in the catalogue this hub served: in the
/// catalogue, published, shared unconditionally, the request in its schema
/// (valid) and addressed to its provider if to anyone. One refresh of the
/// registry first if the resource or its schema is new, or not (yet)
/// published and unconditional, since the last one.
async fn open_resource(
    shared: &Shared,
    id: &str,
    origin: &Verified,
) -> Result<ExchangeResource, ProtoError> {
    let h = &origin.header;
    let mut view = shared.snapshot.view();
    let open = |v: &crate::base::snapshot::View| {
        v.access
            .resource(id)
            .is_some_and(|r| r.status == "published" && r.sharing_type == "unconditional")
            && v.validators.contains_key(&h.schema)
    };
    if !open(&view) {
        shared.snapshot.refresh_on_miss().await;
        view = shared.snapshot.view();
    }
    let resource = view.access.resource(id).cloned().ok_or_else(|| {
        ProtoError::new(
            ErrorCode::ResourceUnknown,
            format!("no resource {id} in the catalogue"),
        )
    })?;
    if resource.status != "published" {
        return Err(ProtoError::new(
            ErrorCode::CatalogueRetired,
            format!("{id} is retired from the catalogue"),
        ));
    }
    if resource.sharing_type != "unconditional" {
        return Err(ProtoError::new(
            ErrorCode::AccessNotShared,
            format!("{id} is not shared unconditionally, so not with other regions"),
        ));
    }
    if h.schema != resource.schema
        || h.recipient
            .as_deref()
            .is_some_and(|r| r != resource.provider)
    {
        return Err(ProtoError::new(
            ErrorCode::ResourceForbidden,
            format!(
                "requests for {id} carry {} and go to its provider {}",
                resource.schema, resource.provider
            ),
        ));
    }
    let validator = view.validators.get(&h.schema).ok_or_else(|| {
        ProtoError::new(
            ErrorCode::SchemaUnknown,
            format!("schema {} is not registered", h.schema),
        )
    })?;
    validate(validator, &h.schema, origin.payload())?;
    Ok(resource)
}
