//! Storage quotas of departments (`QUOTA_EXCEEDED`):
//!
//! - **undelivered messages**: the deliveries of the messages a department
//!   sent that are still pending. Checked for every message in the
//!   pipeline against counts in memory, so the ordered stages never wait
//!   on the store: the store's counts, read every `quota_recount_every`,
//!   plus what this node accepted since. A sender may go past its quota by
//!   what is accepted before the counts show it (one batch, and what other
//!   nodes accepted since the last recount); acknowledgements lower the
//!   count at the next recount.
//! - **blob bytes held**: the sizes of the blobs a department uploaded,
//!   read from the store when an upload begins. Concurrent uploads of one
//!   department may go past it by at most its share of blob memory.
//!
//! Migration 0018 indexes both counts.

use std::collections::HashMap;
use std::sync::Mutex;

use tongban_proto::{ErrorCode, ProtoError};
use tongban_store::BlobInfo;

use crate::Shared;

/// Undelivered deliveries by sender.
#[derive(Default)]
pub(crate) struct Undelivered {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    /// As the store last counted them.
    counted: HashMap<String, u64>,
    /// Accepted by this node since that count began (some may be in it
    /// too: counted twice until the next recount, never missed).
    added: HashMap<String, u64>,
}

impl Undelivered {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses a message of `sender` when its undelivered deliveries have
    /// reached `quota`.
    pub fn check_pending(&self, sender: &str, quota: u64) -> Result<(), ProtoError> {
        let counts = self.lock();
        let pending = counts.counted.get(sender).copied().unwrap_or(0)
            + counts.added.get(sender).copied().unwrap_or(0);
        if pending >= quota {
            return Err(ProtoError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "{sender} has {pending} deliveries of its messages waiting for recipients, its quota is {quota}: send again once they have been collected"
                ),
            ));
        }
        Ok(())
    }

    /// Counts deliveries this node has just stored for `sender`.
    pub fn add_pending(&self, sender: &str, n: usize) {
        if n > 0 {
            *self.lock().added.entry(sender.to_owned()).or_default() += n as u64;
        }
    }

    /// Reads every sender's undelivered deliveries from the store.
    pub async fn recount(&self, hub: &tongban_service::Service) {
        // What is added from here on may or may not be in the store's count.
        self.lock().added.clear();
        match hub.store().pending_by_sender().await {
            Ok(rows) => self.lock().counted = rows.into_iter().collect(),
            Err(e) => tracing::warn!(error = %e, "counting undelivered deliveries failed"),
        }
    }
}

/// Refuses an upload that would take `department` past its blob quota;
/// bytes it holds already cost nothing more.
pub(crate) async fn check_blob_quota(
    shared: &Shared,
    department: &str,
    blob: &BlobInfo,
) -> Result<(), ProtoError> {
    let store = shared.hub.store();
    let failed = |e: tongban_store::StoreError| {
        crate::base::failures::store(&e, "the hub could not check the blob quota")
    };
    if store
        .blob_held(&blob.sha256, department)
        .await
        .map_err(failed)?
        .is_some()
    {
        return Ok(());
    }
    let held = store.blob_bytes_held(department).await.map_err(failed)?;
    let quota = shared.config.blob_quota;
    if held.saturating_add(blob.size) > quota {
        return Err(ProtoError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "{department} holds {held} bytes of blobs; {} more would pass its quota of {quota} bytes",
                blob.size
            ),
        ));
    }
    Ok(())
}
