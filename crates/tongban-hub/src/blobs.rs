//! Payloads by reference: `upload` and `download` streams, and the check
//! an envelope with a `payloadRef` passes before it is accepted.
//!
//! A department may reference only a blob it uploaded itself (it proved it
//! holds the bytes); it may download one it uploaded or one referenced by a
//! message it sent, and one referenced by a message it received, was asked
//! in a request (as provider) or was answered with, while the catalogue's
//! rule admits it to that message's resource.
//! Blob bytes held in memory are bounded hub-wide, and per department, by
//! a [`Budget`]; a department past its share gets `BUSY`, never a wait.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tongban_proto::ops::is_json_media_type;
use tongban_proto::{ErrorCode, PayloadRef, ProtoError};
use tongban_store::{AuditRecord, BlobInfo, StoreError};

use crate::Shared;
use crate::shares::{Share, Shares};

/// How many blob bytes may be in memory at once: hub-wide, and for one
/// department.
pub(crate) struct Budget {
    max_blob: u64,
    shares: Shares,
}

impl Budget {
    /// `buffer` bytes hub-wide, `per_department` for one department; both
    /// at least `max_blob`, so that the largest upload fits.
    pub fn new(max_blob: u64, buffer: u64, per_department: u64) -> Budget {
        Budget {
            max_blob,
            shares: Shares::new(
                "memory for blobs",
                "bytes",
                buffer.max(max_blob),
                per_department.max(max_blob),
            ),
        }
    }

    /// Takes `size` bytes of `department`'s share (at most the whole
    /// share), or refuses with `BUSY`; the share returns them.
    fn hold(&self, department: &str, size: u64) -> Result<Share, ProtoError> {
        self.shares.try_acquire(department, size.max(1))
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

fn store_failed(e: StoreError) -> ProtoError {
    crate::failures::store(&e, "the hub's blob store failed")
}

/// Where the bytes of an upload come from: what the frame decoder had
/// already buffered, then the stream.
pub(crate) struct Incoming<'a> {
    pub buffered: Vec<u8>,
    pub recv: &'a mut quinn::RecvStream,
}

/// Receives an upload's bytes, checks size and digest, stores them durably
/// and records that `department` holds them (with an audit entry). The
/// upload is cut with `READ_TIMEOUT` when no bytes come for `read_timeout`.
pub(crate) async fn upload(
    shared: &Arc<Shared>,
    department: &str,
    announced: BlobInfo,
    incoming: Incoming<'_>,
) -> Result<(), ProtoError> {
    shared.blobs.check_size(announced.size)?;
    json_only(&announced.media_type)?;
    crate::usage::check_blob_quota(shared, department, &announced).await?;
    let _share = shared.blobs.hold(department, announced.size)?;
    let bytes = receive(incoming, announced.size, shared.config.read_timeout).await?;
    let store = shared.hub.store();
    if let Err(digest) = store
        .blobs()
        .put_expecting(bytes, &announced.sha256)
        .await
        .map_err(store_failed)?
    {
        return Err(ProtoError::new(
            ErrorCode::BlobMismatch,
            format!(
                "the bytes hash to {digest}, not the announced {}",
                announced.sha256
            ),
        ));
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
        .map_err(store_failed)?;
    Ok(())
}

/// Reads exactly `size` bytes of an upload (more is `BLOB_MISMATCH`,
/// fewer `FRAME_TRUNCATED`), each read within `deadline`.
async fn receive(
    incoming: Incoming<'_>,
    size: u64,
    deadline: Duration,
) -> Result<Vec<u8>, ProtoError> {
    let size = usize::try_from(size).map_err(|_| {
        ProtoError::new(ErrorCode::PayloadTooLarge, "blob size beyond this platform")
    })?;
    let too_many = || {
        ProtoError::new(
            ErrorCode::BlobMismatch,
            format!("more than the announced {size} bytes were sent"),
        )
    };
    let mut bytes = incoming.buffered;
    if bytes.len() > size {
        return Err(too_many());
    }
    bytes.reserve_exact(size - bytes.len());
    loop {
        let want = (size - bytes.len()).clamp(1, 64 * 1024);
        let read = tokio::time::timeout(deadline, incoming.recv.read_chunk(want, true))
            .await
            .map_err(|_| {
                ProtoError::new(
                    ErrorCode::ReadTimeout,
                    format!(
                        "no bytes of the upload came for {} s, after {} of {size}",
                        deadline.as_secs_f32(),
                        bytes.len()
                    ),
                )
            })?;
        match read {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.bytes.len() > size {
                    return Err(too_many());
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
    Ok(bytes)
}

/// A blob `department` may read now, with its bytes (digest checked) and
/// the share of blob memory they take.
pub(crate) async fn download(
    shared: &Arc<Shared>,
    department: &str,
    sha256: &str,
) -> Result<(BlobInfo, Vec<u8>, Share), ProtoError> {
    let store = shared.hub.store();
    let reach = store
        .blob_reach(sha256, department)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| missing(sha256, department))?;
    let view = shared.snapshot.view();
    let now = shared.hub.now();
    // What was received is readable while the catalogue's rule admits the
    // department to it: a delivery withheld since (an approval withdrawn or
    // ended, a resource retired) no longer opens its payload.
    let admitted = |resource: &String| view.access.check(department, resource, now).is_ok();
    if !reach.own && !reach.received_on.iter().any(admitted) {
        // A reader of records: the blob is the payload of a record of a
        // resource the catalogue's rule admits the department to now.
        let (_, resources) = store
            .published_blob(sha256)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| missing(sha256, department))?;
        if !resources.iter().any(admitted) {
            return Err(missing(sha256, department));
        }
    }
    let share = shared.blobs.hold(department, reach.info.size)?;
    let bytes = store
        .blobs()
        .get(sha256)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| {
            store_failed(StoreError::Corrupt(format!(
                "blob {sha256} is recorded but its bytes are gone"
            )))
        })?;
    Ok((reach.info, bytes, share))
}

fn missing(sha256: &str, department: &str) -> ProtoError {
    // Absent and not readable look the same: no oracle for other
    // departments' blobs.
    ProtoError::new(
        ErrorCode::BlobMissing,
        format!("no blob {sha256} that {department} may read"),
    )
}

/// What [`check_reference`] found true of an envelope's payload by
/// reference: the pipeline accepts the envelope only if its verified
/// reference and schema are these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub reference: PayloadRef,
    pub schema: String,
}

/// The check of an envelope whose payload is a blob, made before the
/// envelope enters the pipeline so that its ordered stages never wait on
/// one department's blob I/O (a stream's next envelopes wait instead):
/// `department` uploaded the blob, size and media type match, and the JSON
/// in it satisfies the schema the envelope names. `None` when the envelope
/// names no blob. The envelope is not verified yet: what it says is only
/// trusted once its signature is (`ingest`).
pub(crate) async fn check_reference(
    shared: &Arc<Shared>,
    department: &str,
    envelope: &Value,
) -> Result<Option<Checked>, ProtoError> {
    if envelope.get("payloadRef").is_none_or(Value::is_null) {
        return Ok(None);
    }
    let parsed = tongban_proto::envelope::parse(envelope.clone())?;
    let h = parsed.header;
    let Some(r) = h.payload_ref else {
        return Ok(None);
    };
    json_only(&r.media_type)?;
    let store = shared.hub.store();
    let info = store
        .blob_held(&r.sha256, department)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| {
            ProtoError::new(
                ErrorCode::BlobMissing,
                format!(
                    "{department} has not uploaded blob {}; upload it before sending the envelope",
                    r.sha256
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
    let mut validator = shared.snapshot.view().validators.get(&h.schema).cloned();
    if validator.is_none() {
        shared.snapshot.refresh_on_miss().await;
        validator = shared.snapshot.view().validators.get(&h.schema).cloned();
    }
    let validator = validator.ok_or_else(|| {
        ProtoError::new(
            ErrorCode::SchemaUnknown,
            format!("schema {} is not registered", h.schema),
        )
    })?;
    // Parsed JSON takes several times the bytes: hold twice the size.
    let _share = shared.blobs.hold(department, info.size.saturating_mul(2))?;
    let bytes = store
        .blobs()
        .get(&r.sha256)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| {
            store_failed(StoreError::Corrupt(format!(
                "blob {} is recorded but its bytes are gone",
                r.sha256
            )))
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
    .map_err(|e| {
        tracing::error!(error = %e, "checking a payload blob failed");
        ProtoError::new(ErrorCode::Internal, "the hub failed checking the payload")
    })??;
    Ok(Some(Checked {
        reference: r,
        schema: h.schema,
    }))
}
