//! Answering a peer hub (connected with its hub certificate): its
//! envelope checked here, the `hub.peer.*` service its resource names, the
//! answer signed by this hub.
//!
//! The walk of `answer_peer`: parse, sender = the connection's hub, resource,
//! kind and schema, time → the peer still active → signature with the card's
//! anchor → replay guard (`federation::origin`, in the store) → then by
//! service: for `hub.peer.licences`, holder and types → `origin` parsed, in the
//! time window → the asking region's stored trust list (fresh) → `origin`
//! verified with its key from that list → `origin` compared with the forwarded
//! requester, holder, purpose and case → `find_by_holder` per type (use records
//! with requester `urn:tongban:hub:{region}/{department}`, case
//! `{region}:{caseId}`) → `peer-licences@1` (at most 100 credentials) signed
//! with the hub's key. Nothing else is stored. `hub.peer.catalogue` answers
//! this region's unconditional resources with their schemas
//! (`Service::shared_catalogue`), `hub.peer.request` goes to
//! `federation::crossing`, and `hub.peer.crl` answers this hub's CA's CRL.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use time::OffsetDateTime;
use tongban_proto::services::{PeerLicenceQuery, PeerLicences, RegionLicenceQuery};
use tongban_proto::{Draft, ErrorCode, Kind, ProtoError, Verified};
use tongban_service::Query;

use crate::Shared;
use crate::base::names::REGION_LICENCES;
use crate::base::payloads::{read, read_value, written};
use crate::federation::licences::{check_holder, check_types, local_licences};
use crate::federation::origin::{origin_replayed, remember, replayed, verified_origin};
use crate::federation::{
    CATALOGUE, CRL, LICENCES, MAX_PEER_LICENCES, PEER_SERVICES, PeerService, REGION_QUERY_SCHEMA,
    REQUEST, SERVED_CRL_FOR, refused,
};

/// Answers a peer hub's request (the peer connected with its hub
/// certificate as `region`): its envelope is checked here, the service
/// named by its resource answers, and the answer is signed by this hub.
pub(crate) async fn answer_peer(
    shared: &Shared,
    region: &str,
    envelope: Value,
    timeout_ms: u64,
) -> Result<Value, ProtoError> {
    let hub = &shared.hub;
    let (request, service) = verified_peer_request(shared, region, envelope).await?;
    let identity = hub.identity().await.map_err(refused)?;
    // Licences and requests only for a peer whose certificates this hub
    // can check: its CA's CRL stored and fresh (the trust list, CRL and
    // open catalogue are public, and are how a new link gets that CRL).
    if service == LICENCES || service == REQUEST {
        hub.peer_crl_check(region, None).await.map_err(refused)?;
    }
    let payload = if service == LICENCES {
        peer_licences(shared, region, &identity, &request).await?
    } else if service == CATALOGUE {
        let resources = hub.shared_catalogue().await.map_err(refused)?;
        json!({"region": identity.region, "resources": resources})
    } else if service == CRL {
        let crl = served_crl(shared).await.map_err(refused)?;
        json!({"region": identity.region, "crl": crl.as_str()})
    } else {
        crate::federation::crossing::answer_request(shared, region, &identity, &request, timeout_ms)
            .await?
    };
    let (key, _) = hub
        .current_key("hub", tongban_seal::KeyPurpose::Both)
        .await
        .map_err(refused)?;
    Draft {
        id: tongban_proto::new_id(),
        sender: identity.id,
        recipient: Some(request.header.sender.clone()),
        topic: None,
        resource: service.resource.to_owned(),
        schema: service.answer.to_owned(),
        kind: Kind::Response,
        correlation_id: Some(request.header.id.clone()),
        // Signed now, not when the request came: an answer may have waited
        // for a provider.
        time: hub.now(),
        payload: Some(payload),
        payload_ref: None,
    }
    .sign(&key)
}

/// A peer hub's envelope, checked: from the peer the connection is, a
/// request of one of the `hub.peer.*` services in its schema, within the
/// time window, signed with the anchor on the peer's card, never seen
/// before by any node; returned with the service it asks.
async fn verified_peer_request(
    shared: &Shared,
    region: &str,
    envelope: Value,
) -> Result<(Verified, PeerService), ProtoError> {
    let hub = &shared.hub;
    let parsed = tongban_proto::envelope::parse(envelope)?;
    let peer_id = format!("urn:tongban:hub:{region}");
    let h = &parsed.header;
    if h.sender != peer_id {
        return Err(ProtoError::new(
            ErrorCode::SenderMismatch,
            format!(
                "the connection is {peer_id}'s, the envelope names {}",
                h.sender
            ),
        ));
    }
    let Some(&service) = PEER_SERVICES
        .iter()
        .find(|s| s.resource == h.resource && s.query == h.schema && h.kind == Kind::Request)
    else {
        return Err(ProtoError::new(
            ErrorCode::ResourceForbidden,
            format!(
                "a peer hub asks {}, {}, {} or {} with their schemas, nothing else",
                LICENCES.resource, CATALOGUE.resource, REQUEST.resource, CRL.resource
            ),
        ));
    };
    parsed.check_time(hub.now(), shared.config.time_window)?;
    let peer = hub.peer(region).await.map_err(refused)?;
    let anchor = tongban_service::anchor_record(&peer).map_err(refused)?;
    if h.key_id != anchor.key_id() {
        return Err(ProtoError::new(
            ErrorCode::KeyUnknown,
            format!(
                "{peer_id} signs with its anchor {}, not {}",
                anchor.key_id(),
                h.key_id
            ),
        ));
    }
    let request = parsed.verify(&anchor)?;
    remember(shared, None, &request.header, replayed).await?;
    Ok((request, service))
}

/// The payload of the answer to `hub.peer.licences`.
pub(super) async fn peer_licences(
    shared: &Shared,
    region: &str,
    identity: &tongban_service::HubIdentity,
    request: &Verified,
) -> Result<Value, ProtoError> {
    let hub = &shared.hub;
    let now = hub.now();
    let peer_id = format!("urn:tongban:hub:{region}");
    let q: PeerLicenceQuery = read(request)?;
    check_holder(&q.holder)?;
    check_types(&q.licence_types)?;
    // A read is bound to a case of a service item and to licence types;
    // the asking hub checked that the case is its department's own, of its
    // own item, and that the types are the item's.
    if q.case_id.is_empty() || q.service_item.is_empty() || q.licence_types.is_empty() {
        return Err(ProtoError::service(
            "READ_UNBOUND",
            "a pull names its case (caseId), the service item (serviceItem) and the licence types it needs",
        ));
    }
    // The department's own request, signed with its key from the peer
    // region's trust list: the peer hub forwards, it does not speak for it.
    let origin = verified_origin(shared, region, q.origin.as_ref()).await?;
    origin_matches(&origin, &q, &identity.region)?;
    let requester = &q.requester;
    crate::base::ratelimit::licence_read(&shared.licence_reads, &format!("{peer_id}/{requester}"))?;
    // The department's request is used once, whatever envelope carries it.
    remember(shared, Some(region), &origin.header, origin_replayed).await?;
    let query = Query {
        requester: format!("{peer_id}/{requester}"),
        use_cause: q.use_cause.clone(),
        case_ref: Some(format!("{region}:{}", q.case_id)),
    };
    let started = Instant::now();
    let found = local_licences(shared, &q.holder, &q.licence_types, &query).await?;
    tracing::debug!(peer = %region, elapsed = ?started.elapsed(), "answered a peer's licence query");
    let truncated = found.len() > MAX_PEER_LICENCES;
    let licences: Vec<Value> = found
        .into_iter()
        .take(MAX_PEER_LICENCES)
        .map(|f| f.credential)
        .collect();
    // The peer verifies them with the list this hub serves: a licence
    // signed since it was built makes the next fetch rebuild it, so the
    // peer's out-of-schedule fetch finds the key or status list it lacks.
    // (Never later than now: a licence dated ahead must not make every
    // answer rebuild the list.)
    if let Some(newest) = licences.iter().filter_map(signed_at).max() {
        crate::base::trust::cover(shared, newest.min(now)).await;
    }
    written(&PeerLicences {
        region: identity.region.clone(),
        licences,
        truncated,
    })
}

/// This hub's CRL for a peer: signed anew at most once per
/// [`SERVED_CRL_FOR`], so a peer asking often costs no more signatures.
pub(super) async fn served_crl(shared: &Shared) -> Result<Arc<String>, tongban_service::Error> {
    let mut slot = shared.peering.served_crl.lock().await;
    if let Some((at, crl)) = slot.as_ref() {
        if at.elapsed() < SERVED_CRL_FOR {
            return Ok(Arc::clone(crl));
        }
    }
    let crl = Arc::new(shared.hub.ca_crl().await?);
    *slot = Some((Instant::now(), Arc::clone(&crl)));
    Ok(crl)
}

/// When a credential's proof was created.
pub(super) fn signed_at(credential: &Value) -> Option<OffsetDateTime> {
    credential
        .pointer("/proof/created")
        .and_then(Value::as_str)
        .and_then(|t| tongban_seal::timefmt::parse_rfc3339(t).ok())
}

/// Whether the department's own request says what the peer hub forwards:
/// the same requester, service, holder, use, case and item, the types the
/// peer hub forwards (or none: its item's, which only that hub can know),
/// and this region among those asked (or every region).
fn origin_matches(origin: &Verified, q: &PeerLicenceQuery, here: &str) -> Result<(), ProtoError> {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let matches = |own: &RegionLicenceQuery| {
        let asked_here = own
            .regions
            .as_ref()
            .is_none_or(|rs| rs.iter().any(|r| r == here));
        let types_agree = match &own.licence_types {
            None => true,
            Some(named) if named.is_empty() => true,
            Some(named) => sorted(named.clone()) == sorted(q.licence_types.clone()),
        };
        own.holder == q.holder
            && own.use_cause == q.use_cause
            && own.case_id == q.case_id
            && own.service_item == q.service_item
            && types_agree
            && asked_here
    };
    let own: Option<RegionLicenceQuery> = read_value(origin.payload()).ok();
    if origin.header.sender != q.requester
        || origin.header.resource != REGION_LICENCES
        || origin.header.schema != REGION_QUERY_SCHEMA
        || !own.as_ref().is_some_and(matches)
    {
        return Err(ProtoError::service(
            "ORIGIN_MISMATCH",
            "the forwarded request does not match the department's own",
        ));
    }
    Ok(())
}
