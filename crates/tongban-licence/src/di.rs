//! W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite
//! (W3C vc-di-eddsa §3.3).
//!
//! hashData = SHA-256(JCS(proof configuration)) ‖ SHA-256(JCS(document
//! without proof)); the signature is Ed25519 over those 64 bytes, written as
//! multibase base58btc in `proofValue`.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tongban_seal::jcs::{self, JcsError};
use tongban_seal::timefmt::{format_rfc3339, parse_rfc3339};
use tongban_seal::{Signature, SigningKey};

use crate::problem::{Problem, ProblemCode};

/// The cryptosuite name.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The proof type.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The only proof purpose Tongban signs and accepts for credentials.
pub const ASSERTION_METHOD: &str = "assertionMethod";

/// Adds an `eddsa-jcs-2022` proof to `document` (which must have no proof yet).
///
/// Numbers unsafe to sign (floats, integers beyond 2^53) are refused.
pub fn add_proof(
    document: &mut Map<String, Value>,
    key: &SigningKey,
    verification_method: &str,
    created: OffsetDateTime,
) -> Result<(), JcsError> {
    document.remove("proof");
    for (name, value) in document.iter() {
        jcs::check_signable(value, &mut format!("/{name}"))?;
    }

    let mut proof = Map::new();
    proof.insert("type".into(), PROOF_TYPE.into());
    proof.insert("cryptosuite".into(), CRYPTOSUITE.into());
    proof.insert("created".into(), format_rfc3339(created).into());
    proof.insert("verificationMethod".into(), verification_method.into());
    proof.insert("proofPurpose".into(), ASSERTION_METHOD.into());
    if let Some(context) = document.get("@context") {
        proof.insert("@context".into(), context.clone());
    }
    let hash = hash_data(
        &jcs::canonicalize_object_with(&proof, &[], &[]),
        &jcs::canonicalize_object_with(document, &["proof"], &[]),
    );
    let signature = key.sign(&hash);
    proof.insert("proofValue".into(), signature.to_multibase().into());
    document.insert("proof".into(), Value::Object(proof));
    Ok(())
}

/// A proof taken apart and the bytes it signs, ready for (batch) verification.
#[derive(Debug, Clone)]
pub struct ParsedProof {
    /// `verificationMethod`: `{controller}#{key id}`.
    pub verification_method: String,
    /// `created`, if the proof states it.
    pub created: Option<OffsetDateTime>,
    /// The signature from `proofValue`.
    pub signature: Signature,
    /// The 64 bytes the signature covers.
    pub hash_data: [u8; 64],
}

/// Parses the proof of `document` and computes what it signs.
pub fn parse_proof(document: &Map<String, Value>) -> Result<ParsedProof, Problem> {
    let proof = match document.get("proof") {
        None => {
            return Err(Problem::new(
                ProblemCode::ProofMissing,
                "the credential has no proof",
            ));
        }
        Some(Value::Object(p)) => p,
        Some(Value::Array(list)) => match list.as_slice() {
            [Value::Object(p)] => p,
            _ => {
                return Err(Problem::new(
                    ProblemCode::ProofUnsupported,
                    "exactly one proof is supported",
                ));
            }
        },
        Some(_) => {
            return Err(Problem::new(
                ProblemCode::ProofMalformed,
                "proof is not an object",
            ));
        }
    };
    let text = |name: &str| proof.get(name).and_then(Value::as_str);
    if text("type") != Some(PROOF_TYPE) || text("cryptosuite") != Some(CRYPTOSUITE) {
        return Err(Problem::new(
            ProblemCode::ProofUnsupported,
            format!(
                "proof type {:?} / cryptosuite {:?} is not {PROOF_TYPE} / {CRYPTOSUITE}",
                text("type").unwrap_or("?"),
                text("cryptosuite").unwrap_or("?")
            ),
        ));
    }
    if text("proofPurpose") != Some(ASSERTION_METHOD) {
        return Err(Problem::new(
            ProblemCode::ProofUnsupported,
            format!("proof purpose must be {ASSERTION_METHOD}"),
        ));
    }
    let verification_method = text("verificationMethod")
        .ok_or_else(|| {
            Problem::new(
                ProblemCode::ProofMalformed,
                "proof has no verificationMethod",
            )
        })?
        .to_owned();
    let proof_value = text("proofValue")
        .ok_or_else(|| Problem::new(ProblemCode::ProofMalformed, "proof has no proofValue"))?;
    let signature = Signature::from_multibase(proof_value)
        .map_err(|e| Problem::new(ProblemCode::ProofMalformed, format!("proofValue: {e}")))?;
    let created = match proof.get("created") {
        None => None,
        Some(Value::String(s)) => Some(parse_rfc3339(s).map_err(|e| {
            Problem::new(
                ProblemCode::ProofMalformed,
                format!("proof created {s:?}: {e}"),
            )
        })?),
        Some(_) => {
            return Err(Problem::new(
                ProblemCode::ProofMalformed,
                "proof created is not a string",
            ));
        }
    };

    // vc-di-eddsa §3.3.2 step 4: the proof's @context must be a prefix of the
    // document's, and then stands in for it.
    let document_context = document.get("@context");
    let context = match (proof.get("@context"), document_context) {
        (None, ctx) => ctx,
        (Some(p), Some(d)) if context_is_prefix(p, d) => Some(p),
        (Some(_), _) => {
            return Err(Problem::new(
                ProblemCode::ProofContextMismatch,
                "the proof's @context is not a prefix of the credential's @context",
            ));
        }
    };
    let proof_config = match context {
        Some(ctx) => jcs::canonicalize_object_with(proof, &["proofValue"], &[("@context", ctx)]),
        None => jcs::canonicalize_object_with(proof, &["proofValue"], &[]),
    };
    let unsecured = match context {
        Some(ctx) => jcs::canonicalize_object_with(document, &["proof"], &[("@context", ctx)]),
        None => jcs::canonicalize_object_with(document, &["proof"], &[]),
    };
    Ok(ParsedProof {
        verification_method,
        created,
        signature,
        hash_data: hash_data(&proof_config, &unsecured),
    })
}

fn context_is_prefix(proof: &Value, document: &Value) -> bool {
    match (proof, document) {
        (Value::Array(p), Value::Array(d)) => {
            p.len() <= d.len() && p.iter().zip(d).all(|(a, b)| a == b)
        }
        (Value::String(p), Value::Array(d)) => {
            d.first().and_then(Value::as_str) == Some(p.as_str())
        }
        (p, d) => p == d,
    }
}

fn hash_data(proof_config: &[u8], document: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(proof_config));
    out[32..].copy_from_slice(&Sha256::digest(document));
    out
}

/// The controller part of a verification method URL (before `#`).
pub fn controller_of(verification_method: &str) -> &str {
    verification_method
        .split_once('#')
        .map_or(verification_method, |(c, _)| c)
}

/// Looks up keys by verification method (`{controller}#{key id}`).
pub trait KeyLookup {
    /// The key named by `verification_method`, if known.
    fn key(&self, verification_method: &str) -> Option<&tongban_seal::KeyRecord>;
}
