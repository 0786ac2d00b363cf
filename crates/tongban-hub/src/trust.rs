//! The region's trust list served over the exchange (the `trust` op) to
//! departments and peer hubs: the hub's signed trust file, valid for
//! `trust_valid_for` and rebuilt at most once per `trust_rebuild_after`
//! (15 s by default) whoever asks.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;
use tongban_proto::{ErrorCode, ProtoError};

use crate::Shared;

/// The last trust list built.
#[derive(Default)]
pub(crate) struct Cached {
    slot: Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

/// The current trust list's bytes (canonical JSON).
pub(crate) async fn current(shared: &Shared) -> Result<Arc<Vec<u8>>, ProtoError> {
    // One builder at a time: others wait and take its result.
    let mut slot = shared.trust.slot.lock().await;
    if let Some((built, bytes)) = slot.as_ref() {
        if built.elapsed() < shared.config.trust_rebuild_after {
            return Ok(Arc::clone(bytes));
        }
    }
    let file = shared
        .hub
        .trust_list(shared.config.trust_valid_for)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "building the trust list failed");
            ProtoError::new(
                ErrorCode::Internal,
                "the hub could not build its trust list",
            )
        })?;
    let bytes = Arc::new(tongban_seal::jcs::canonicalize(&file));
    *slot = Some((Instant::now(), Arc::clone(&bytes)));
    Ok(bytes)
}
