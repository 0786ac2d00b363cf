//! The region's trust list served over the exchange (the `trust` op) to
//! departments and peer hubs: the hub's signed trust file, valid for
//! `trust_valid_for` and rebuilt at most once per `trust_rebuild_after`
//! (15 s by default) whoever asks, or at the next request after this hub
//! answered a peer with a licence signed since the list was built.

use std::sync::Arc;
use std::time::Instant;

use time::OffsetDateTime;
use tokio::sync::Mutex;
use tongban_proto::ProtoError;

use crate::Shared;

/// The last trust list built.
#[derive(Default)]
pub(crate) struct ServedList {
    slot: Mutex<Option<Built>>,
}

struct Built {
    /// When, on this node's monotonic clock (for `trust_rebuild_after`).
    at: Instant,
    /// When, on the hub's clock: licences signed since may need a key or a
    /// status list the list lacks.
    hub_time: OffsetDateTime,
    bytes: Arc<Vec<u8>>,
}

/// Makes the next request for the list rebuild it if it may not vouch for a
/// licence signed at `signed` (a key rotated, a status list started since
/// it was built). A proof's time is to the second: a list built within
/// the same second counts as older.
pub(crate) async fn cover(shared: &Shared, signed: OffsetDateTime) {
    let mut slot = shared.trust.slot.lock().await;
    if slot
        .as_ref()
        .is_some_and(|b| signed + time::Duration::SECOND > b.hub_time)
    {
        *slot = None;
    }
}

/// The current trust list's bytes (canonical JSON).
pub(crate) async fn current(shared: &Shared) -> Result<Arc<Vec<u8>>, ProtoError> {
    // One builder at a time: others wait and take its result.
    let mut slot = shared.trust.slot.lock().await;
    if let Some(built) = slot.as_ref() {
        if built.at.elapsed() < shared.config.trust_rebuild_after {
            return Ok(Arc::clone(&built.bytes));
        }
    }
    let hub_time = shared.hub.now();
    let file = shared
        .hub
        .trust_list(shared.config.trust_valid_for)
        .await
        .map_err(|e| {
            crate::base::failures::told(
                &e,
                crate::base::failures::Through::Service,
                "the hub could not build its trust list",
            )
        })?;
    let bytes = Arc::new(tongban_seal::jcs::canonicalize(&file));
    *slot = Some(Built {
        at: Instant::now(),
        hub_time,
        bytes: Arc::clone(&bytes),
    });
    Ok(bytes)
}
