//! Step 2 of §4.4, a payload by reference: checked before the envelope
//! enters the pipeline, so that its ordered stages never wait on one
//! department's blob I/O (a stream's next envelopes wait instead).
//!
//! The check: the sender uploaded that blob itself, the size matches, the JSON
//! satisfies the schema. The pipeline accepts the envelope only if its verified
//! reference and schema are the ones checked.

use std::sync::Arc;

use serde_json::Value;
use tongban_proto::{ErrorCode, PayloadRef, ProtoError};
use tongban_store::StoreError;

use crate::Shared;
use crate::base::blobs::{json_only, store_failed};
use crate::base::checks::validate;

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
/// trusted once its signature is (`exchange::admission::as_checked`).
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
    let info = held_blob(shared, department, &r).await?;
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
    let bytes = shared
        .hub
        .store()
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
        // Strictly, as inline payloads are read: a repeated member name
        // is refused (PROTOCOL §4.4 step 2).
        let payload = tongban_seal::json::from_slice_strict(&bytes).map_err(|e| {
            ProtoError::new(
                ErrorCode::PayloadInvalid,
                format!("the payload blob is not strict JSON: {e}"),
            )
        })?;
        validate(&validator, &schema, &payload)
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

/// The blob a reference names, if `department` uploaded it and it has the
/// size the reference says.
async fn held_blob(
    shared: &Shared,
    department: &str,
    r: &PayloadRef,
) -> Result<tongban_store::BlobInfo, ProtoError> {
    let info = shared
        .hub
        .store()
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
    Ok(info)
}
