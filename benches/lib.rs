//! Benchmarks only; see `licence.rs` and the README in this folder.
#![forbid(unsafe_code)]
