//! The hub's lowest layer: what every capability shares and none owns:
//! the registry snapshot, fair shares of capacities, quotas, rate limits,
//! refusal counts and metrics, failures as codes, the served trust list, frames on a
//! stream, the meaning of resource names and the typed payloads of the
//! hub's own services. Nothing here imports a
//! module above it (`tests/it/layers.rs`).

pub(crate) mod blobs;
pub(crate) mod checks;
pub(crate) mod failures;
pub mod metrics;
pub(crate) mod names;
pub(crate) mod payloads;
pub(crate) mod ratelimit;
pub(crate) mod refusals;
pub(crate) mod shares;
pub(crate) mod snapshot;
pub(crate) mod trust;
pub(crate) mod usage;
pub(crate) mod wire;
