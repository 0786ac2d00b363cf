//! Checks that more than one capability makes: a payload against its
//! schema (the exchange, blobs by reference, requests across regions), and
//! a refusal of the catalogue's access rule as a protocol error (the
//! exchange, deliveries, `records`).

use serde_json::Value;
use tongban_proto::{ErrorCode, ProtoError};

/// A refusal of the catalogue's access rules as a protocol error: the code
/// names the rule.
pub(crate) fn refusal(r: tongban_service::Refusal) -> ProtoError {
    let code = crate::base::failures::protocol_code(r.code).unwrap_or(ErrorCode::Internal);
    ProtoError::new(code, r.message)
}

/// Checks a payload against its schema; the error lists the first violations.
pub(crate) fn validate(
    validator: &jsonschema::Validator,
    schema: &str,
    payload: &Value,
) -> Result<(), ProtoError> {
    if validator.is_valid(payload) {
        return Ok(());
    }
    let errors: Vec<String> = validator
        .iter_errors(payload)
        .take(8)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    Err(ProtoError::new(
        ErrorCode::PayloadInvalid,
        format!("payload violates {schema}: {}", errors.join("; ")),
    ))
}
