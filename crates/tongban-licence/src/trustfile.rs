//! Trust files: what an offline verifier needs, signed by the region's hub.
//!
//! A trust file is a credential of type `TongbanTrustFile` whose subject
//! lists issuers with their keys (and windows), their signed status lists
//! and the licence types. It carries its own `validUntil`: a stale trust
//! file is refused with `TRUST_FILE_STALE`, never silently used. It is
//! checked against the hub's anchor key, obtained out of band.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tongban_seal::timefmt::{format_rfc3339, parse_rfc3339};
use tongban_seal::{KeyPurpose, KeyRecord, PublicKey, SigningKey, Validity};

use crate::di;
use crate::status::verify_list;
use crate::types::LicenceType;
use crate::verify::Trust;
use crate::vocab::VC_CONTEXT;

/// Most issuers, keys, lists or types a trust file may hold.
pub const MAX_ENTRIES: usize = 100_000;

/// Why a trust file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustFileError {
    /// Not a trust file, or a part of it is malformed.
    #[error("trust file invalid: {0}")]
    Invalid(String),
    /// Not signed by the anchor key, or the signature does not match.
    #[error("trust file is not signed by the trusted anchor: {0}")]
    Untrusted(String),
    /// Past its `validUntil`.
    #[error("trust file expired at {0}: get a fresh one from the hub")]
    Stale(String),
    /// Its text repeats a member name ([`load_bytes`]): readers disagree
    /// on which value counts, so it is not used, whatever it is signed by.
    #[error("trust file refused: {0}")]
    DuplicateMember(String),
}

impl TrustFileError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TrustFileError::Invalid(_) => "TRUST_FILE_INVALID",
            TrustFileError::Untrusted(_) => "TRUST_FILE_UNTRUSTED",
            TrustFileError::Stale(_) => "TRUST_FILE_STALE",
            TrustFileError::DuplicateMember(_) => "DUPLICATE_MEMBER",
        }
    }
}

/// An issuer and its keys, as listed in a trust file.
#[derive(Debug, Clone)]
pub struct IssuerEntry {
    /// `urn:uscc:…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Keys with their windows.
    pub keys: Vec<KeyRecord>,
}

/// Builds and signs a trust file.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    hub_id: &str,
    issuers: &[IssuerEntry],
    status_lists: &[Value],
    licence_types: &[&Value],
    hub_key: &SigningKey,
    hub_key_record: &KeyRecord,
    now: OffsetDateTime,
    valid_for: time::Duration,
) -> Result<Value, tongban_seal::jcs::JcsError> {
    let issuers: Vec<Value> = issuers
        .iter()
        .map(|issuer| {
            let keys: Vec<Value> = issuer
                .keys
                .iter()
                .map(|k| {
                    json!({
                        "id": k.verification_method(),
                        "type": "Multikey",
                        "controller": k.controller,
                        "publicKeyMultibase": k.public.to_multikey(),
                        "notBefore": format_rfc3339(k.validity.not_before),
                        "notAfter": k.validity.not_after.map(format_rfc3339),
                        "revokedAt": k.validity.revoked_at.map(format_rfc3339),
                        "purpose": k.purpose.as_str(),
                    })
                })
                .collect();
            json!({"id": issuer.id, "name": issuer.name, "keys": keys})
        })
        .collect();
    let mut credential = json!({
        "@context": [VC_CONTEXT],
        "type": ["VerifiableCredential", "TongbanTrustFile"],
        "issuer": hub_id,
        "validFrom": format_rfc3339(now),
        "validUntil": format_rfc3339(now + valid_for),
        "credentialSubject": {
            "issuers": issuers,
            "statusLists": status_lists,
            "licenceTypes": licence_types,
        }
    });
    if let Value::Object(map) = &mut credential {
        di::add_proof(map, hub_key, &hub_key_record.verification_method(), now)?;
    }
    Ok(credential)
}

/// Reads a trust file's bytes strictly (`tongban_seal::json`) and
/// [`load`]s it: a member name given twice anywhere is `DUPLICATE_MEMBER`,
/// text that is not JSON `TRUST_FILE_INVALID`. Read files with this rather
/// than parsing them yourself.
pub fn load_bytes(
    bytes: &[u8],
    anchor: &PublicKey,
    now: OffsetDateTime,
) -> Result<Trust, TrustFileError> {
    let credential = tongban_seal::json::from_slice_strict(bytes).map_err(|e| {
        if e.is_duplicate() {
            TrustFileError::DuplicateMember(e.to_string())
        } else {
            TrustFileError::Invalid(format!("not JSON: {e}"))
        }
    })?;
    load(&credential, anchor, now)
}

/// Checks a trust file against `anchor` and `now` and builds a [`Trust`].
///
/// Status lists inside are verified with the issuers' keys; licence types are compiled.
pub fn load(
    credential: &Value,
    anchor: &PublicKey,
    now: OffsetDateTime,
) -> Result<Trust, TrustFileError> {
    let invalid = |m: &str| TrustFileError::Invalid(m.to_owned());
    let map = credential
        .as_object()
        .ok_or_else(|| invalid("not a JSON object"))?;
    let is_trust_file = map
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|v| v == "TongbanTrustFile"));
    if !is_trust_file {
        return Err(invalid("not a TongbanTrustFile credential"));
    }
    let proof = di::parse_proof(map).map_err(|p| TrustFileError::Invalid(p.to_string()))?;
    let signer = proof
        .verification_method
        .rsplit_once('#')
        .map(|(_, k)| k)
        .unwrap_or_default();
    if signer != anchor.to_multikey() {
        return Err(TrustFileError::Untrusted(format!(
            "signed by {signer}, anchor is {}",
            anchor.to_multikey()
        )));
    }
    if !anchor.verify_strict(&proof.hash_data, &proof.signature) {
        return Err(TrustFileError::Untrusted("signature does not match".into()));
    }
    let valid_until = map
        .get("validUntil")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no validUntil"))?;
    let valid_until_t = parse_rfc3339(valid_until)
        .map_err(|e| TrustFileError::Invalid(format!("validUntil: {e}")))?;
    if now > valid_until_t {
        return Err(TrustFileError::Stale(valid_until.to_owned()));
    }
    let subject = map
        .get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("no credentialSubject"))?;

    let mut trust = Trust::new();
    for issuer in bounded_array(subject, "issuers")? {
        for key in issuer
            .get("keys")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            trust.add_key(parse_key(key)?);
        }
    }
    for list in bounded_array(subject, "statusLists")? {
        let verified =
            verify_list(list, &trust).map_err(|p| TrustFileError::Invalid(p.to_string()))?;
        trust.add_status_list(verified);
    }
    for schema in bounded_array(subject, "licenceTypes")? {
        let t = LicenceType::from_schema(schema.clone())
            .map_err(|e| TrustFileError::Invalid(e.to_string()))?;
        trust.types.insert(t);
    }
    Ok(trust)
}

fn bounded_array<'a>(
    subject: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a [Value], TrustFileError> {
    let list = match subject.get(name) {
        None => return Ok(&[]),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(TrustFileError::Invalid(format!("{name} is not an array"))),
    };
    if list.len() > MAX_ENTRIES {
        return Err(TrustFileError::Invalid(format!(
            "{name} holds more than {MAX_ENTRIES} entries"
        )));
    }
    Ok(list)
}

/// Parses a key entry (`Multikey` with window) of a trust file.
pub fn parse_key(key: &Value) -> Result<KeyRecord, TrustFileError> {
    let invalid = |m: String| TrustFileError::Invalid(m);
    let text = |k: &str| key.get(k).and_then(Value::as_str);
    let controller = text("controller").ok_or_else(|| invalid("key without controller".into()))?;
    let multikey = text("publicKeyMultibase")
        .ok_or_else(|| invalid("key without publicKeyMultibase".into()))?;
    let public =
        PublicKey::from_multikey(multikey).map_err(|e| invalid(format!("key {multikey}: {e}")))?;
    let time_of = |k: &str| -> Result<Option<OffsetDateTime>, TrustFileError> {
        match text(k) {
            None => Ok(None),
            Some(s) => parse_rfc3339(s)
                .map(Some)
                .map_err(|e| invalid(format!("key {multikey} {k}: {e}"))),
        }
    };
    // Trust files of hubs that predate purposes carry none: their keys
    // signed both.
    let purpose = match key.get("purpose") {
        None => KeyPurpose::Both,
        Some(p) => p.as_str().and_then(KeyPurpose::parse).ok_or_else(|| {
            invalid(format!(
                "key {multikey}: purpose {p} is not issue, exchange or both"
            ))
        })?,
    };
    Ok(KeyRecord {
        controller: controller.to_owned(),
        public,
        validity: Validity {
            not_before: time_of("notBefore")?
                .ok_or_else(|| invalid(format!("key {multikey} without notBefore")))?,
            not_after: time_of("notAfter")?,
            revoked_at: time_of("revokedAt")?,
        },
        purpose,
    })
}
