//! Payloads by reference: `upload` and `download` streams, and the check
//! an envelope with a `payloadRef` passes before it is accepted.
//!
//! A department may reference only a blob it uploaded itself (it proved it
//! holds the bytes); it may download one it uploaded or one referenced by a
//! message it sent, received, or (as provider) was asked in a request.
//! Blob bytes held in memory are bounded hub-wide by a [`Budget`].

use std::sync::Arc;

use tokio::sync::{Semaphore, SemaphorePermit};
use tongban_proto::ops::is_json_media_type;
use tongban_proto::{ErrorCode, ProtoError, Verified};
use tongban_store::{AuditRecord, BlobInfo};

use crate::Shared;

/// Permits are KiB of blob bytes in memory.
const UNIT: u64 = 1024;

/// How many blob bytes may be in memory at once, hub-wide.
pub(crate) struct Budget {
    max_blob: u64,
    permits: Semaphore,
    total: u32,
}

impl Budget {
    pub fn new(max_blob: u64, buffer: u64) -> Budget {
        let total = u32::try_from(buffer.max(max_blob).div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Budget {
            max_blob,
            permits: Semaphore::new(total as usize),
            total,
        }
    }

    /// Waits until `size` bytes may be held; the permit returns them.
    async fn hold(&self, size: u64) -> Result<SemaphorePermit<'_>, ProtoError> {
        let n = u32::try_from(size.div_ceil(UNIT).max(1))
            .unwrap_or(u32::MAX)
            .min(self.total);
        self.permits
            .acquire_many(n)
            .await
            .map_err(|_| ProtoError::new(ErrorCode::ShuttingDown, "the hub is shutting down"))
    }

    fn check_size(&self, size: u64) -> Result<(), ProtoError> {
        if size > self.max_blob {
            return Err(ProtoError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "a blob of {size} bytes exceeds the hub's limit of {} bytes",
                    self.max_blob
                ),
            ));
        }
        Ok(())
    }
}

fn json_only(media_type: &str) -> Result<(), ProtoError> {
    if is_json_media_type(media_type) {
        Ok(())
    } else {
        Err(ProtoError::new(
            ErrorCode::PayloadInvalid,
            format!(
                "payload blobs are JSON (application/json or application/…+json), not {media_type:?}; \
                 put binary content in a JSON document (e.g. base64) or a licence attachment"
            ),
        ))
    }
}

fn internal(e: impl std::fmt::Display) -> ProtoError {
    tracing::error!(error = %e, "blob store failed");
    ProtoError::new(ErrorCode::Internal, "the hub's blob store failed")
}

/// Where the bytes of an upload come from: what the frame decoder had
/// already buffered, then the stream.
pub(crate) struct Incoming<'a> {
    pub buffered: Vec<u8>,
    pub recv: &'a mut quinn::RecvStream,
}

/// Receives an upload's bytes, checks size and digest, stores them durably
/// and records that `department` holds them (with an audit entry).
pub(crate) async fn upload(
    shared: &Arc<Shared>,
    department: &str,
    announced: BlobInfo,
    incoming: Incoming<'_>,
) -> Result<(), ProtoError> {
    shared.blobs.check_size(announced.size)?;
    json_only(&announced.media_type)?;
    let _permit = shared.blobs.hold(announced.size).await?;
    let size = usize::try_from(announced.size).map_err(|_| {
        ProtoError::new(ErrorCode::PayloadTooLarge, "blob size beyond this platform")
    })?;
    let mismatch = |m: String| ProtoError::new(ErrorCode::BlobMismatch, m);
    let mut bytes = incoming.buffered;
    if bytes.len() > size {
        return Err(mismatch(format!(
            "more than the announced {size} bytes were sent"
        )));
    }
    bytes.reserve_exact(size - bytes.len());
    loop {
        let want = (size - bytes.len()).clamp(1, 64 * 1024);
        match incoming.recv.read_chunk(want, true).await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.bytes.len() > size {
                    return Err(mismatch(format!(
                        "more than the announced {size} bytes were sent"
                    )));
                }
                bytes.extend_from_slice(&chunk.bytes);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(ProtoError::new(
                    ErrorCode::FrameTruncated,
                    format!(
                        "the upload ended after {} of {size} bytes: {e}",
                        bytes.len()
                    ),
                ));
            }
        }
    }
    if bytes.len() < size {
        return Err(ProtoError::new(
            ErrorCode::FrameTruncated,
            format!("the upload ended after {} of {size} bytes", bytes.len()),
        ));
    }
    let store = shared.hub.store();
    if let Err(digest) = store
        .blobs()
        .put_expecting(bytes, &announced.sha256)
        .await
        .map_err(internal)?
    {
        return Err(mismatch(format!(
            "the bytes hash to {digest}, not the announced {}",
            announced.sha256
        )));
    }
    let now = shared.hub.now();
    let audit = AuditRecord::new(
        now,
        department,
        "exchange.upload",
        announced.sha256.clone(),
        serde_json::json!({"size": announced.size, "mediaType": announced.media_type}),
    );
    store
        .record_upload(&announced, department, now, &[audit])
        .await
        .map_err(internal)?;
    Ok(())
}

/// A blob `department` may read, with its bytes (digest checked).
pub(crate) async fn download<'a>(
    shared: &'a Arc<Shared>,
    department: &str,
    sha256: &str,
) -> Result<(BlobInfo, Vec<u8>, SemaphorePermit<'a>), ProtoError> {
    let store = shared.hub.store();
    let info = match store
        .blob_readable(sha256, department)
        .await
        .map_err(internal)?
    {
        Some(info) => info,
        // A reader of records: the blob is the payload of a record of a
        // resource the catalogue's rule admits the department to now.
        None => {
            let (info, resources) = store
                .published_blob(sha256)
                .await
                .map_err(internal)?
                .ok_or_else(|| missing(sha256, department))?;
            let view = shared.snapshot.view();
            let now = shared.hub.now();
            if !resources
                .iter()
                .any(|r| view.access.check(department, r, now).is_ok())
            {
                return Err(missing(sha256, department));
            }
            info
        }
    };
    let permit = shared.blobs.hold(info.size).await?;
    let bytes = store
        .blobs()
        .get(sha256)
        .await
        .map_err(internal)?
        .ok_or_else(|| internal(format!("blob {sha256} is recorded but its bytes are gone")))?;
    Ok((info, bytes, permit))
}

fn missing(sha256: &str, department: &str) -> ProtoError {
    // Absent and not readable look the same: no oracle for other
    // departments' blobs.
    ProtoError::new(
        ErrorCode::BlobMissing,
        format!("no blob {sha256} that {department} may read"),
    )
}

/// The check for an envelope whose payload is a blob: the sender uploaded
/// it, size and media type match, and the JSON in it satisfies the schema.
pub(crate) async fn check_reference(shared: &Arc<Shared>, v: &Verified) -> Result<(), ProtoError> {
    let h = &v.header;
    let Some(r) = &h.payload_ref else {
        return Ok(());
    };
    json_only(&r.media_type)?;
    let store = shared.hub.store();
    let info = store
        .blob_held(&r.sha256, &h.sender)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ProtoError::new(
                ErrorCode::BlobMissing,
                format!(
                    "{} has not uploaded blob {}; upload it before sending the envelope",
                    h.sender, r.sha256
                ),
            )
        })?;
    if info.size != r.size {
        return Err(ProtoError::new(
            ErrorCode::BlobMismatch,
            format!(
                "blob {} has {} bytes; the reference says {}",
                r.sha256, info.size, r.size
            ),
        ));
    }
    let validator = shared
        .snapshot
        .view()
        .validators
        .get(&h.schema)
        .cloned()
        .ok_or_else(|| {
            ProtoError::new(
                ErrorCode::SchemaUnknown,
                format!("schema {} is not registered", h.schema),
            )
        })?;
    // Parsed JSON takes several times the bytes: hold twice the size.
    let _permit = shared.blobs.hold(info.size.saturating_mul(2)).await?;
    let bytes = store
        .blobs()
        .get(&r.sha256)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            internal(format!(
                "blob {} is recorded but its bytes are gone",
                r.sha256
            ))
        })?;
    let schema = h.schema.clone();
    tokio::task::spawn_blocking(move || {
        let payload: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ProtoError::new(
                ErrorCode::PayloadInvalid,
                format!("the payload blob is not JSON: {e}"),
            )
        })?;
        crate::ingest::validate(&validator, &schema, &payload)
    })
    .await
    .map_err(internal)?
}
