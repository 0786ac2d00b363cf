//! The payloads of the hub's own services (`tongban_proto::services`) read
//! from a verified request and written into an answer: what does not fit
//! the service's struct is the requester's to fix (`REQUEST_INVALID`);
//! what cannot be written is this hub's failure.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tongban_proto::{ErrorCode, ProtoError, Verified};

/// A request's payload as its service reads it.
pub(crate) fn read<T: DeserializeOwned>(request: &Verified) -> Result<T, ProtoError> {
    read_value(request.payload())
}

/// A payload carried inside another (a department's own request inside a
/// peer's), as its service reads it.
pub(crate) fn read_value<T: DeserializeOwned>(payload: &Value) -> Result<T, ProtoError> {
    T::deserialize(payload).map_err(|e| ProtoError::service("REQUEST_INVALID", e.to_string()))
}

/// An answer's payload as it travels.
pub(crate) fn written<T: Serialize>(answer: &T) -> Result<Value, ProtoError> {
    serde_json::to_value(answer).map_err(|e| ProtoError::new(ErrorCode::Internal, e.to_string()))
}
