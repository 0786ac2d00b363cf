//! Seals: canonical JSON (RFC 8785), Ed25519 keys and signatures, Multikey,
//! keys with validity windows, and batch verification that never accepts
//! what strict verification rejects.
//!
//! No IO and no clock: callers pass keys, bytes and instants in.
#![forbid(unsafe_code)]

pub mod archive;
pub mod batch;
pub mod chain;
pub mod codes;
pub mod jcs;
pub mod json;
pub mod key;
pub mod keyreg;
pub mod timefmt;
pub mod validity;

pub use batch::{BatchItem, verify_batch};
pub use key::{KeyError, PublicKey, Signature, SigningKey, multibase_decode, multibase_encode};
pub use validity::{KeyPurpose, KeyRecord, KeyUseError, Validity};

pub use archive::hex;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
