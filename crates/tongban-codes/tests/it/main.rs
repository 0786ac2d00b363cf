//! Integration tests for `tongban-codes`.
#![allow(clippy::unwrap_used)]

mod citizen_id;
mod common;
mod errors;
mod holder;
mod identifier;
mod iso7064;
mod props;
mod region;
mod serde_roundtrip;
mod synth;
mod uscc;
