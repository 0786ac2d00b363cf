//! The path every envelope takes before it is acknowledged, batched across
//! concurrent arrivals:
//!
//! 1. **check** (per envelope, `admission`): shape, kind, sender = the
//!    authenticated department, time window, key known;
//! 2. **verify** (one batch equation for the whole batch, on a blocking
//!    thread; same outcome as strict verification);
//! 3. **validate and authorise**: payload against its registered schema,
//!    the resource's rules;
//! 4. **commit** (one transaction for the whole batch): message rows,
//!    deliveries, audit entries; replays refused by sender and id;
//! 5. **acknowledge**, and wake the recipients' listeners.
//!
//! Listeners' acknowledgements of deliveries go to the writer too and are
//! recorded with its next commit.
//!
//! Stages 1–3 of one batch run while stage 4 of the previous one commits.
//!
//! The decisions are plain code in [`admission`] (tested with tables); the
//! modules around it only move envelopes between tasks, the store and the
//! streams. The exchange imports nothing of federation, the connections
//! or the operations above it (`tests/it/layers.rs`).

pub(crate) mod admission;
pub(crate) mod cluster;
mod commit;
mod job;
pub(crate) mod listeners;
pub(crate) mod nodes;
pub(crate) mod outbox;
mod pipeline;
pub(crate) mod reference;
pub(crate) mod relay;
pub(crate) mod window;

pub use job::Outcome;
pub(crate) use pipeline::Pipeline;
