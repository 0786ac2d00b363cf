//! Payloads by reference: `upload` and `download` streams (the check an
//! envelope with a `payloadRef` passes is `exchange::reference`).
//!
//! A department may reference only a blob it uploaded itself (it proved it
//! holds the bytes); it may download one it uploaded or one referenced by a
//! message it sent, and one referenced by a message it received, was asked
//! in a request (as provider) or was answered with, while the catalogue's
//! rule admits it to that message's resource.
//! Blob bytes held in memory are bounded hub-wide, and per department, by
//! a `base::blobs::BlobMemory`; a department past its share gets `BUSY`, never a wait.
//!
//! What a department may read is asked of the store (`Store::blob_reach`) and
//! admitted by the catalogue's rule at the time of the download.

use std::sync::Arc;
use std::time::Duration;

use tongban_proto::{ErrorCode, ProtoError, ServerOp};
use tongban_store::{AuditRecord, BlobInfo, StoreError};

use crate::Shared;
use crate::base::blobs::{json_only, store_failed};
use crate::base::shares::Share;
use crate::base::wire::{Reader, write, write_within};
use crate::ops::DepartmentStream;

/// Answers an `upload` stream: the bytes that follow its first frame are
/// the blob.
pub(crate) async fn serve_upload(
    ctx: &DepartmentStream,
    mut reader: Reader,
    send: &mut quinn::SendStream,
    announced: BlobInfo,
) {
    let (sha256, size) = (announced.sha256.clone(), announced.size);
    let incoming = Incoming {
        buffered: reader.take_rest(),
        recv: &mut reader.recv,
    };
    let reply = match upload(&ctx.shared, &ctx.department, announced, incoming).await {
        Ok(()) => ServerOp::Uploaded { sha256, size },
        Err(e) => {
            // Stop the rest of a refused upload at once.
            let _ = reader.recv.stop(0u32.into());
            ServerOp::error(None, &e)
        }
    };
    write(send, &reply).await;
}

/// Answers a `download` stream with the blob; false when the client
/// stopped taking its bytes and the stream was reset.
pub(crate) async fn serve_download(
    ctx: &DepartmentStream,
    send: &mut quinn::SendStream,
    sha256: &str,
) -> bool {
    match download(&ctx.shared, &ctx.department, sha256).await {
        Ok((info, bytes, _share)) => {
            let header = ServerOp::Blob {
                sha256: info.sha256,
                size: info.size,
                media_type: info.media_type,
            };
            if write(send, &header).await
                && !write_within(send, &bytes, ctx.shared.config.read_timeout).await
            {
                // A client that stopped taking the bytes gives back the
                // memory they hold.
                tracing::info!(department = %ctx.department, %sha256, "download cut: the client stopped reading");
                let _ = send.reset(0u32.into());
                return false;
            }
        }
        Err(e) => {
            write(send, &ServerOp::error(None, &e)).await;
        }
    }
    true
}

/// Where the bytes of an upload come from: what the frame decoder had
/// already buffered, then the stream.
struct Incoming<'a> {
    pub buffered: Vec<u8>,
    pub recv: &'a mut quinn::RecvStream,
}

/// Receives an upload's bytes, checks size and digest, stores them durably
/// and records that `department` holds them (with an audit entry). The
/// upload is cut with `READ_TIMEOUT` when no bytes come for `read_timeout`.
async fn upload(
    shared: &Arc<Shared>,
    department: &str,
    announced: BlobInfo,
    incoming: Incoming<'_>,
) -> Result<(), ProtoError> {
    shared.blobs.check_size(announced.size)?;
    json_only(&announced.media_type)?;
    crate::base::usage::check_blob_quota(shared, department, &announced).await?;
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
async fn download(
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
