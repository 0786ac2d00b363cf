//! A department's own request that a peer hub carries (`origin`),
//! verified with the asking region's trust list; and the replay guard for
//! peers' envelopes and the requests they carry, kept in the store.

use serde_json::Value;
use tongban_proto::{ErrorCode, Header, ProtoError, Verified};
use tongban_service::PeerTrust;

use crate::Shared;
use crate::federation::links::{refresh, trust};
use crate::federation::{FETCH_TIMEOUT, PeerFailure};

/// The department's own request that a peer hub forwards, checked: a
/// well-formed envelope within the time window, signed with the
/// department's key from the peer region's trust list, not seen before.
pub(crate) async fn verified_origin(
    shared: &Shared,
    region: &str,
    origin: Option<&Value>,
) -> Result<Verified, ProtoError> {
    let now = shared.hub.now();
    let origin = origin.cloned().ok_or_else(|| {
        ProtoError::service("ORIGIN_MISSING", "the department's request is missing")
    })?;
    let origin = tongban_proto::envelope::parse(origin)
        .map_err(|e| ProtoError::service("ORIGIN_INVALID", e.to_string()))?;
    origin
        .check_time(now, shared.config.time_window)
        .map_err(|e| ProtoError::service("ORIGIN_INVALID", e.to_string()))?;
    let peer_trust = trust(shared, region)
        .await
        .map_err(PeerFailure::into_refusal)?;
    let find = |t: &PeerTrust| {
        t.trust
            .keys()
            .find(|k| k.key_id() == origin.header.key_id)
            .cloned()
    };
    let mut key = find(&peer_trust);
    // A key newer than the stored list (a department's rotated key): fetch
    // the asking region's list once, out of schedule, before refusing.
    if key.is_none() && shared.peering.may_refresh_now(region) {
        if let Ok(peer) = shared.hub.peer(region).await {
            let limit = FETCH_TIMEOUT.min(shared.config.time_window.unsigned_abs());
            if let Ok(Ok(())) = tokio::time::timeout(limit, refresh(shared, &peer, false)).await {
                if let Ok(fresh) = trust(shared, region).await {
                    key = find(&fresh);
                }
            }
        }
    }
    let key = key.ok_or_else(|| {
        ProtoError::service(
            "ORIGIN_UNVERIFIED",
            format!(
                "key {} is not in region {region}'s trust list",
                origin.header.key_id
            ),
        )
    })?;
    origin
        .verify(&key)
        .map_err(|e| ProtoError::service("ORIGIN_UNVERIFIED", e.to_string()))
}

/// Remembers an envelope of a peer, or a department's request one carried
/// (`carried_by` that peer's region: each region's departments apart, so
/// that one peer cannot use up another region's request ids), in the store,
/// so that every node refuses it again, restarted or not: `replayed` gives
/// the refusal if it was remembered before. Kept twice the time window past
/// its time, beyond which its time alone refuses it.
pub(crate) async fn remember(
    shared: &Shared,
    carried_by: Option<&str>,
    h: &Header,
    replayed: fn(String) -> ProtoError,
) -> Result<(), ProtoError> {
    let expires_at = h.time + shared.config.time_window * 2;
    let sender = match carried_by {
        Some(region) => format!("{region}/{}", h.sender),
        None => h.sender.clone(),
    };
    let fresh = shared
        .hub
        .store()
        .remember_peer_envelope(&sender, &h.id, expires_at)
        .await
        .map_err(|e| crate::base::failures::store(&e, "the hub could not record the envelope"))?;
    if fresh {
        Ok(())
    } else {
        Err(replayed(format!(
            "envelope {} of {} was already received",
            h.id, h.sender
        )))
    }
}

/// The refusal of a peer hub's envelope received before.
pub(crate) fn replayed(message: String) -> ProtoError {
    ProtoError::new(ErrorCode::Replay, message)
}

/// The refusal of a department's request carried before.
pub(crate) fn origin_replayed(message: String) -> ProtoError {
    ProtoError::service("ORIGIN_REPLAYED", message)
}
