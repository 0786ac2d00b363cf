//! Memory for blob bytes, and what every blob must be: the hub-wide and
//! per-department budget that uploads, downloads and the check of a
//! payload by reference hold their bytes in (a department past its share
//! gets `BUSY`, never a wait), and the JSON-only rule.

use tongban_proto::ops::is_json_media_type;
use tongban_proto::{ErrorCode, ProtoError};
use tongban_store::StoreError;

use crate::base::shares::{Share, Shares};

/// How many blob bytes may be in memory at once: hub-wide, and for one
/// department.
pub(crate) struct BlobMemory {
    max_blob: u64,
    shares: Shares,
}

impl BlobMemory {
    /// `buffer` bytes hub-wide, `per_department` for one department; both
    /// at least `max_blob`, so that the largest upload fits.
    pub fn new(max_blob: u64, buffer: u64, per_department: u64) -> BlobMemory {
        BlobMemory {
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
    pub(crate) fn hold(&self, department: &str, size: u64) -> Result<Share, ProtoError> {
        self.shares.try_acquire(department, size.max(1))
    }

    pub(crate) fn check_size(&self, size: u64) -> Result<(), ProtoError> {
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

pub(crate) fn json_only(media_type: &str) -> Result<(), ProtoError> {
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

pub(crate) fn store_failed(e: StoreError) -> ProtoError {
    crate::base::failures::store(&e, "the hub's blob store failed")
}
