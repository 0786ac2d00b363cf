//! W3C Bitstring Status List v1.0: revocation (注销, irreversible) and
//! suspension (中止, reversible) of licences, published per issuer as signed
//! credentials that offline verifiers can use.
//!
//! The bitstring is GZIP-compressed and written as multibase base64url
//! (`u` prefix, no padding); bit 0 is the most significant bit of byte 0.

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tongban_seal::timefmt::{format_rfc3339, parse_rfc3339};
use tongban_seal::{KeyRecord, SigningKey};

use crate::di::{self, KeyLookup};
use crate::problem::{Problem, ProblemCode};
use crate::vocab::issuer_id_of;

/// Entries per list: 131,072 bits (16 KiB), the minimum the specification
/// asks for so that a list hides which licence a verifier looks at.
pub const LIST_BITS: usize = 131_072;
/// Largest decompressed list accepted from outside (16 × the default).
pub const MAX_LIST_BYTES: usize = 16 * LIST_BITS / 8;

/// Why a licence's status changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusPurpose {
    /// Irreversible cancellation (注销).
    Revocation,
    /// Reversible suspension (中止).
    Suspension,
}

impl StatusPurpose {
    /// The value of `statusPurpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusPurpose::Revocation => "revocation",
            StatusPurpose::Suspension => "suspension",
        }
    }

    /// Parses `statusPurpose`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "revocation" => Some(StatusPurpose::Revocation),
            "suspension" => Some(StatusPurpose::Suspension),
            _ => None,
        }
    }
}

/// A licence's current status as verifiers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenceStatus {
    /// 现势: in force.
    Valid,
    /// 中止: suspended.
    Suspended,
    /// 注销: revoked.
    Revoked,
}

impl LicenceStatus {
    /// The Chinese term as GB/T 36903 uses it.
    pub fn chinese(self) -> &'static str {
        match self {
            LicenceStatus::Valid => "现势",
            LicenceStatus::Suspended => "中止",
            LicenceStatus::Revoked => "注销",
        }
    }
}

/// The id of an issuer's status list: `urn:tongban:status:{issuer code}:{purpose}:{sequence}`.
pub fn list_id(issuer_code: &str, purpose: StatusPurpose, sequence: u32) -> String {
    format!(
        "urn:tongban:status:{issuer_code}:{}:{sequence}",
        purpose.as_str()
    )
}

/// A bitstring.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitstring {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Bitstring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bitstring({} bits, {} set)",
            self.len(),
            self.count_set()
        )
    }
}

impl Default for Bitstring {
    fn default() -> Self {
        Self::new()
    }
}

impl Bitstring {
    /// All zeros, [`LIST_BITS`] long.
    pub fn new() -> Self {
        Bitstring {
            bytes: vec![0; LIST_BITS / 8],
        }
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Bitstring { bytes }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Whether it holds no bits.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bit `index`; `None` beyond the end.
    pub fn get(&self, index: usize) -> Option<bool> {
        let byte = self.bytes.get(index / 8)?;
        Some(byte & (0x80 >> (index % 8)) != 0)
    }

    /// Sets bit `index` to `value`; returns false beyond the end.
    pub fn set(&mut self, index: usize, value: bool) -> bool {
        let Some(byte) = self.bytes.get_mut(index / 8) else {
            return false;
        };
        let mask = 0x80 >> (index % 8);
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        true
    }

    /// Number of set bits.
    pub fn count_set(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// `encodedList`: multibase base64url of the GZIP-compressed bits.
    pub fn encode(&self) -> String {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        let _ = gz.write_all(&self.bytes);
        let compressed = gz.finish().unwrap_or_default();
        let mut out = String::from("u");
        out.push_str(&URL_SAFE_NO_PAD.encode(compressed));
        out
    }

    /// Decodes `encodedList`, refusing anything that inflates beyond [`MAX_LIST_BYTES`].
    pub fn decode(encoded: &str) -> Result<Self, String> {
        let body = encoded
            .strip_prefix('u')
            .ok_or("encodedList must be multibase base64url ('u' prefix)")?;
        let compressed = URL_SAFE_NO_PAD
            .decode(body.trim_end_matches('='))
            .map_err(|e| format!("encodedList is not base64url: {e}"))?;
        let mut bytes = Vec::new();
        GzDecoder::new(compressed.as_slice())
            .take(MAX_LIST_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("encodedList is not GZIP: {e}"))?;
        if bytes.len() > MAX_LIST_BYTES {
            return Err(format!(
                "status list inflates beyond {MAX_LIST_BYTES} bytes"
            ));
        }
        Ok(Bitstring { bytes })
    }
}

/// Builds and signs a status list credential.
#[allow(clippy::too_many_arguments)]
pub fn sign_list(
    id: &str,
    issuer_id: &str,
    issuer_name: &str,
    purpose: StatusPurpose,
    bits: &Bitstring,
    key: &SigningKey,
    key_record: &KeyRecord,
    now: OffsetDateTime,
    valid_for: time::Duration,
) -> Result<Value, tongban_seal::jcs::JcsError> {
    let mut credential = json!({
        "@context": [crate::vocab::VC_CONTEXT],
        "id": id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": issuer_id, "name": issuer_name},
        "validFrom": format_rfc3339(now),
        "validUntil": format_rfc3339(now + valid_for),
        "credentialSubject": {
            "id": format!("{id}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": purpose.as_str(),
            "encodedList": bits.encode(),
        }
    });
    if let Value::Object(map) = &mut credential {
        di::add_proof(map, key, &key_record.verification_method(), now)?;
    }
    Ok(credential)
}

/// A status list whose credential verified.
#[derive(Debug, Clone)]
pub struct VerifiedStatusList {
    /// The list credential's id.
    pub id: String,
    /// Its issuer.
    pub issuer_id: String,
    /// Revocation or suspension.
    pub purpose: StatusPurpose,
    /// The bits.
    pub bits: Bitstring,
    /// Until when the list may be relied upon.
    pub valid_until: Option<OffsetDateTime>,
}

/// Verifies a status list credential (proof, issuer's key, shape).
///
/// Freshness is checked where the list is used, against the verifier's clock.
pub fn verify_list(
    credential: &Value,
    keys: &dyn KeyLookup,
) -> Result<VerifiedStatusList, Problem> {
    let invalid = |m: String| Problem::new(ProblemCode::StatusListInvalid, m);
    let map = credential
        .as_object()
        .ok_or_else(|| invalid("status list credential is not a JSON object".into()))?;
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("status list credential has no id".into()))?;
    let types = map.get("type").and_then(Value::as_array);
    if !types.is_some_and(|t| t.iter().any(|v| v == "BitstringStatusListCredential")) {
        return Err(invalid(format!(
            "{id} is not a BitstringStatusListCredential"
        )));
    }
    let issuer_id = issuer_id_of(map).ok_or_else(|| invalid(format!("{id} has no issuer")))?;
    let proof = di::parse_proof(map).map_err(|p| invalid(format!("{id}: {p}")))?;
    let key = keys.key(&proof.verification_method).ok_or_else(|| {
        invalid(format!(
            "{id}: signing key {} unknown",
            proof.verification_method
        ))
    })?;
    if key.controller != issuer_id {
        return Err(invalid(format!(
            "{id}: signed by a key of {} not of {issuer_id}",
            key.controller
        )));
    }
    if !key.purpose.covers(tongban_seal::KeyPurpose::Issue) {
        return Err(invalid(format!(
            "{id}: signed by an {} key, which does not sign status lists",
            key.purpose
        )));
    }
    if let Some(created) = proof.created {
        key.validity
            .check_at(created)
            .map_err(|e| invalid(format!("{id}: {e}")))?;
    }
    if !key.public.verify_strict(&proof.hash_data, &proof.signature) {
        return Err(invalid(format!("{id}: signature does not match")));
    }
    let subject = map
        .get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(format!("{id}: no credentialSubject")))?;
    let purpose = subject
        .get("statusPurpose")
        .and_then(Value::as_str)
        .and_then(StatusPurpose::parse)
        .ok_or_else(|| invalid(format!("{id}: unknown statusPurpose")))?;
    let encoded = subject
        .get("encodedList")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{id}: no encodedList")))?;
    let bits = Bitstring::decode(encoded).map_err(|e| invalid(format!("{id}: {e}")))?;
    let valid_until = match map.get("validUntil").and_then(Value::as_str) {
        Some(s) => Some(parse_rfc3339(s).map_err(|e| invalid(format!("{id}: validUntil: {e}")))?),
        None => None,
    };
    Ok(VerifiedStatusList {
        id: id.to_owned(),
        issuer_id: issuer_id.to_owned(),
        purpose,
        bits,
        valid_until,
    })
}

/// A `BitstringStatusListEntry` as it appears in a licence.
pub fn entry(list_id: &str, purpose: StatusPurpose, index: u32) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), format!("{list_id}#{index}").into());
    m.insert("type".into(), "BitstringStatusListEntry".into());
    m.insert("statusPurpose".into(), purpose.as_str().into());
    m.insert("statusListIndex".into(), index.to_string().into());
    m.insert("statusListCredential".into(), list_id.into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_through_encoding() {
        let mut bits = Bitstring::new();
        for i in [0usize, 7, 8, 1000, LIST_BITS - 1] {
            assert!(bits.set(i, true));
        }
        assert!(!bits.set(LIST_BITS, true));
        let encoded = bits.encode();
        assert!(
            encoded.starts_with("uH4sI"),
            "GZIP magic in base64url: {encoded:.10}"
        );
        let back = Bitstring::decode(&encoded).unwrap();
        assert_eq!(back, bits);
        assert_eq!(back.get(7), Some(true));
        assert_eq!(back.get(6), Some(false));
        assert_eq!(back.as_bytes()[0], 0b1000_0001);
        assert_eq!(back.count_set(), 5);
    }

    #[test]
    fn gzip_bombs_are_refused() {
        let big = Bitstring::from_bytes(vec![0; MAX_LIST_BYTES + 1]);
        let err = Bitstring::decode(&big.encode()).unwrap_err();
        assert!(err.contains("inflates"), "{err}");
        assert!(Bitstring::decode("zabc").is_err());
        assert!(Bitstring::decode("u!!!").is_err());
    }
}
