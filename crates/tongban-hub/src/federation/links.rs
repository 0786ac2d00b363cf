//! Links to peer hubs, and what is fetched over them on a schedule: each
//! peer's trust list (checked with its anchor and stored), its shared
//! catalogue and its CA's CRL; the verified lists kept per node; checking a
//! peer's signed answer.
//!
//! A refresh: link (peer certificate, the card's CA; at most 5 s) → the `trust`
//! operation (bounded by the refresh period, between 2 and 20 s) →
//! `Service::peer_trust_accept` (signed by the card's anchor, not stale, the peer's
//! own, not older than the stored list: `TRUST_LIST_ROLLBACK`) → stored with a
//! `peer.trust` entry if it changed; any failure → `Service::peer_trust_failed`,
//! the stored list kept. With every scheduled refresh it also fetches the
//! peer's catalogue and its CA's CRL and stores them
//! (`Service::peer_catalogue_accept`, `Service::peer_crl_accept`: the CRL must be
//! issued by the CA on the card); `Service::peer_cas` gives the TLS configuration
//! each active peer's CA with its CRL.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tongban_client::{Client, ClientConfig};
use tongban_proto::{Kind, Verified};
use tongban_service::PeerTrust;
use tongban_store::PeerRow;

use crate::Shared;
use crate::federation::{
    CATALOGUE, CONNECT_TIMEOUT, CRL, FETCH_TIMEOUT, PeerFailure, PeerService, failure, lock,
};

/// `host` and a socket address of a peer's `host:port`.
pub(super) async fn resolve(address: &str) -> Result<(String, std::net::SocketAddr), PeerFailure> {
    let host = address
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(address)
        .to_owned();
    let addr = tokio::net::lookup_host(address)
        .await
        .map_err(|e| failure("PEER_UNREACHABLE", format!("{address}: {e}")))?
        .next()
        .ok_or_else(|| failure("PEER_UNREACHABLE", format!("{address}: no address")))?;
    Ok((host, addr))
}

/// The open link to `peer`, or a new one.
pub(crate) async fn link(shared: &Shared, peer: &PeerRow) -> Result<Client, PeerFailure> {
    let linked_to = (peer.address.clone(), peer.ca_pem.clone());
    if let Some((to, c)) = shared.peering.links.lock().await.get(&peer.region_code) {
        if *to == linked_to && c.close_reason().is_none() {
            return Ok(c.clone());
        }
    }
    let hub = &shared.hub;
    let (cert_pem, key_pem) = hub.peer_client_identity().await?;
    let identity = hub.identity().await?;
    let (signing_key, _) = hub
        .current_key("hub", tongban_seal::KeyPurpose::Both)
        .await?;
    let (server_name, addr) = resolve(&peer.address).await?;
    let config = ClientConfig {
        hubs: vec![addr],
        server_name,
        ca_pem: peer.ca_pem.clone(),
        cert_pem,
        key_pem: key_pem.to_string(),
        department: identity.id,
        signing_key,
        timeouts: tongban_client::Timeouts {
            connect_timeout: CONNECT_TIMEOUT,
            ..tongban_client::Timeouts::default()
        },
    };
    let client = tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(config))
        .await
        .map_err(|_| {
            failure(
                "PEER_UNREACHABLE",
                format!("{} did not answer within {CONNECT_TIMEOUT:?}", peer.address),
            )
        })?
        .map_err(|e| {
            let text = e.to_string();
            let hint = if text.contains("certificate") {
                " (has that region's administrator added this hub's card?)"
            } else {
                ""
            };
            failure(
                "PEER_UNREACHABLE",
                format!("{}: {text}{hint}", peer.address),
            )
        })?;
    // The peer's server certificate against its CA's CRL, when one is
    // stored: the first links, which fetch that CRL, cannot wait for it
    // (licences and requests wait for a fresh one: `crl_fresh`).
    let certificate = client.server_certificate();
    match hub
        .peer_crl_check(&peer.region_code, certificate.as_deref())
        .await
    {
        Err(e) if matches!(e.code(), "PEER_CRL_MISSING" | "PEER_CRL_STALE") => {}
        Err(e) => {
            client.close().await;
            return Err(e.into());
        }
        Ok(()) => {}
    }
    shared
        .peering
        .links
        .lock()
        .await
        .insert(peer.region_code.clone(), (linked_to, client.clone()));
    Ok(client)
}

/// Fetches, checks and stores `peer`'s trust list; a failure is recorded
/// (the stored list stays) and returned.
pub(crate) async fn refresh(
    shared: &Shared,
    peer: &PeerRow,
    with_catalogue: bool,
) -> Result<(), PeerFailure> {
    let region = &peer.region_code;
    let result = async {
        let client = link(shared, peer).await?;
        // A fetch never outlasts the refresh period (nor 20 s): a peer that
        // went away without closing is noticed by the next attempt.
        let limit = FETCH_TIMEOUT
            .min(shared.config.peer_refresh_every)
            .max(Duration::from_secs(2));
        let file = match tokio::time::timeout(limit, client.trust_list()).await {
            Ok(Ok(file)) => file,
            Ok(Err(e)) => {
                shared.peering.forget_link(region).await;
                return Err(failure("PEER_UNREACHABLE", format!("trust list: {e}")));
            }
            Err(_) => {
                shared.peering.forget_link(region).await;
                return Err(failure(
                    "PEER_TIMEOUT",
                    format!("no trust list within {limit:?}"),
                ));
            }
        };
        shared.hub.peer_trust_accept(region, &file).await?;
        // With a fresh list, the peer's shared catalogue (its answer is
        // checked with the anchor). A failure here keeps what was stored.
        // (Only on schedule: a pull waiting for a fresh list does not wait
        // for the catalogue.)
        if with_catalogue {
            if let Err(f) = refresh_catalogue(shared, peer, &client, limit).await {
                tracing::warn!(peer = %region, code = %f.code, message = %f.message, "fetching a peer's catalogue failed");
            }
            if let Err(f) = refresh_crl(shared, peer, &client, limit).await {
                tracing::warn!(peer = %region, code = %f.code, message = %f.message, "fetching a peer's CRL failed");
            }
        }
        Ok(())
    }
    .await;
    let first = !lock(&shared.peering.attempts).contains_key(region);
    shared.peering.attempted(region, result.is_err());
    if let Err(f) = &result {
        if first {
            // Usually the other hub has not added this one's card yet.
            tracing::info!(peer = %region, code = %f.code, message = %f.message, "the first fetch of a peer's trust list failed; retrying");
        } else {
            tracing::warn!(peer = %region, code = %f.code, message = %f.message, "refreshing a peer's trust list failed; retrying later");
        }
        if let Err(e) = shared
            .hub
            .peer_trust_failed(region, &f.code, &f.message)
            .await
        {
            tracing::warn!(error = %e, "recording the failed refresh failed");
        }
    } else {
        tracing::debug!(peer = %region, "peer trust list refreshed");
    }
    result
}

/// Asks the peer one of the `hub.peer.*` services with an empty query, on
/// the refresh's link and within its limit, and checks the answer with
/// the peer's anchor.
pub(super) async fn ask_service(
    shared: &Shared,
    peer: &PeerRow,
    client: &Client,
    limit: Duration,
    service: PeerService,
) -> Result<Verified, PeerFailure> {
    let resource = service.resource;
    let peer_trust = trust(shared, &peer.region_code).await?;
    let draft = client.request_for(resource, service.query, json!({}));
    let id = draft.id.clone();
    let ms = u64::try_from(limit.as_millis()).unwrap_or(20_000);
    let answer = tokio::time::timeout(limit, client.request(draft, ms))
        .await
        .map_err(|_| {
            failure(
                "PEER_TIMEOUT",
                format!("no {resource} answer within {limit:?}"),
            )
        })?
        .map_err(|e| failure("PEER_UNREACHABLE", format!("{resource}: {e}")))?;
    check_answer(shared, &peer_trust, answer, &id, service)
}

/// Fetches and stores the peer's unconditional resources.
pub(super) async fn refresh_catalogue(
    shared: &Shared,
    peer: &PeerRow,
    client: &Client,
    limit: Duration,
) -> Result<(), PeerFailure> {
    let region = &peer.region_code;
    let verified = ask_service(shared, peer, client, limit, CATALOGUE).await?;
    let resources = verified
        .payload()
        .get("resources")
        .and_then(Value::as_array)
        .ok_or_else(|| failure("PEER_ANSWER_INVALID", "resources is not a list"))?;
    // Every schema must compile here, or the resource could not be checked.
    for r in resources {
        if let Some(doc) = r.get("schemaDocument") {
            if let Err(e) = jsonschema::options().build(doc) {
                return Err(failure(
                    "PEER_CATALOGUE_INVALID",
                    format!("the schema of {} does not compile: {e}", r["id"]),
                ));
            }
        }
    }
    shared.hub.peer_catalogue_accept(region, resources).await?;
    Ok(())
}

/// Fetches and stores the CRL of the peer's CA: once the TLS configuration
/// is rebuilt with it (within a registry refresh), certificates that CA
/// revoked are refused, and links opened with one are closed.
pub(super) async fn refresh_crl(
    shared: &Shared,
    peer: &PeerRow,
    client: &Client,
    limit: Duration,
) -> Result<(), PeerFailure> {
    let region = &peer.region_code;
    let verified = ask_service(shared, peer, client, limit, CRL).await?;
    let crl = verified
        .payload()
        .get("crl")
        .and_then(Value::as_str)
        .ok_or_else(|| failure("PEER_ANSWER_INVALID", "crl is not a string"))?;
    if shared.hub.peer_crl_accept(region, crl).await? {
        tracing::info!(peer = %region, "the peer's CRL changed");
    }
    Ok(())
}

/// Licences and requests cross only with a peer whose CA's CRL is stored
/// and fresh: unknown revocation status is never taken as fine.
pub(crate) async fn crl_fresh(shared: &Shared, region: &str) -> Result<(), PeerFailure> {
    Ok(shared.hub.peer_crl_check(region, None).await?)
}

/// The peer's trust list, verified, from the cache while the stored list
/// is unchanged and not past its `validUntil`.
pub(crate) async fn trust(shared: &Shared, region: &str) -> Result<Arc<PeerTrust>, PeerFailure> {
    let stored = shared
        .hub
        .store()
        .peer_trust_sha256(region)
        .await
        .map_err(|e| failure("INTERNAL", e.to_string()))?;
    let cached = lock(&shared.peering.trusts).get(region).cloned();
    if let Some(t) = cached.filter(|t| Some(&t.sha256) == stored.as_ref()) {
        if shared.hub.now() > t.valid_until {
            return Err(stale(shared, region, &t).await);
        }
        return Ok(t);
    }
    let t = Arc::new(shared.hub.peer_trust(region).await?);
    lock(&shared.peering.trusts).insert(region.to_owned(), Arc::clone(&t));
    Ok(t)
}

pub(super) async fn stale(shared: &Shared, region: &str, t: &PeerTrust) -> PeerFailure {
    let last = shared
        .hub
        .store()
        .peer_trust(region)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.failure)
        .map(|f| format!("; last refresh: {f}"))
        .unwrap_or_default();
    failure(
        "TRUST_LIST_STALE",
        format!(
            "the trust list of region {region} expired at {}{last}",
            tongban_seal::timefmt::format_rfc3339(t.valid_until)
        ),
    )
}

/// Checks that `answer` is the peer hub's signed answer to request
/// `request_id` of `service` (its resource, its answer schema): sender,
/// kind, correlation, anchor key, time, signature.
pub(crate) fn check_answer(
    shared: &Shared,
    peer_trust: &PeerTrust,
    answer: Value,
    request_id: &str,
    service: PeerService,
) -> Result<Verified, PeerFailure> {
    let parsed = tongban_proto::envelope::parse(answer)
        .map_err(|e| failure("PEER_ANSWER_INVALID", e.to_string()))?;
    let h = &parsed.header;
    if h.sender != peer_trust.anchor.controller
        || h.correlation_id.as_deref() != Some(request_id)
        || h.kind != Kind::Response
        || h.resource != service.resource
        || h.schema != service.answer
        || h.key_id != peer_trust.anchor.key_id()
    {
        return Err(failure(
            "PEER_ANSWER_INVALID",
            "the answer is not the peer hub's answer to this request",
        ));
    }
    parsed
        .check_time(shared.hub.now(), shared.config.time_window)
        .map_err(|e| failure("PEER_ANSWER_INVALID", e.to_string()))?;
    parsed
        .verify(&peer_trust.anchor)
        .map_err(|e| failure("PEER_ANSWER_INVALID", e.to_string()))
}
