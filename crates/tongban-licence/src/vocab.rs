//! Names and small readers that every part of a licence shares: the
//! contexts and types credentials carry, how an issuer and a digest are
//! written. They live here, below the modules that issue, verify and
//! publish status, so that none of those needs another for them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// The VC 2.0 base context.
pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The credential type of a licence.
pub const LICENCE_CREDENTIAL_TYPE: &str = "ElectronicLicence";

/// `sha256-{base64}` as Subresource Integrity writes it.
pub fn digest_sri(sha256: &[u8; 32]) -> String {
    format!("sha256-{}", STANDARD.encode(sha256))
}

/// The issuer id of a credential: `issuer` as a string or `issuer.id`.
pub fn issuer_id_of(credential: &Map<String, Value>) -> Option<&str> {
    match credential.get("issuer")? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}
