//! An envelope on its way through the pipeline, and how it is answered:
//! below both the stages that check it (`pipeline`) and the writer that
//! commits it (`commit`).

use serde_json::Value;
use tokio::sync::oneshot;
use tongban_proto::{Kind, ProtoError, Verified};

use crate::Shared;
use crate::exchange::reference::Checked;

/// What happened to an accepted envelope.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The hub's sequence number.
    pub seq: u64,
    /// Departments it will be delivered to.
    pub recipients: Vec<String>,
    /// The envelope.
    pub verified: Verified,
}

/// An envelope queued by a stream, with where its outcome goes.
pub(super) struct Job {
    pub(super) enqueued: std::time::Instant,
    pub(super) department: String,
    /// The resource the envelope names, for the refusal counts.
    pub(super) resource: String,
    pub(super) envelope: Value,
    pub(super) expect: Kind,
    /// Its payload by reference, checked before it was queued.
    pub(super) checked: Option<Checked>,
    pub(super) reply: oneshot::Sender<Result<Outcome, ProtoError>>,
}

/// Answers a job with a refusal, and counts it for the statistics.
pub(super) fn refuse(shared: &Shared, job: Job, e: ProtoError) {
    shared
        .refusals
        .count(shared, &job.department, &job.resource, e.code);
    let _ = job.reply.send(Err(e));
}
