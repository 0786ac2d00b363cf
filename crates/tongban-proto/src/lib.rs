//! The Tongban exchange protocol without IO: frames (length-prefixed JSON
//! on QUIC streams), the operations they carry, signed envelopes, error
//! codes and limits. The hub and the client library drive it; a developer
//! writing a client in another language reads `docs/PROTOCOL.md`.
//!
//! The `Decoder` reads frame bodies strictly (`tongban_seal::json`): a member
//! name repeated inside `envelope` is `ENVELOPE_MALFORMED`, elsewhere
//! `FRAME_MALFORMED`. A cargo-fuzz target for the frame and envelope decoder
//! lives in `fuzz/` (outside the workspace). The test vector of PROTOCOL §4.3
//! (`docs/vectors/envelope-1.json`) is checked against `Draft::sign` and
//! `envelope::parse` by `tests/it/vectors.rs`, which reads the document's
//! marked blocks too.
#![forbid(unsafe_code)]

pub mod envelope;
pub mod error;
pub mod frame;
pub mod ops;
pub mod services;

pub use envelope::{Draft, Header, Kind, Parsed, PayloadRef, Verified, new_id, verify_batch};
pub use error::{ErrorCode, ProtoError};
pub use frame::{DEFAULT_MAX_FRAME, Decoder, encode};
pub use ops::{ClientOp, ServerOp};

/// ALPN protocol id (QUIC/TLS 1.3).
pub const ALPN: &[u8] = b"tongban/1";
/// Protocol version in the ALPN id.
pub const VERSION: u32 = 1;
