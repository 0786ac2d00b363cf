//! The pipeline's tasks: a verifier cuts batches of what has arrived and
//! checks them (admission before the signature, one batch signature
//! equation on a blocking thread, admission after it), an ordering task
//! hands them to the writer (`exchange::commit`) in arrival order.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tongban_proto::envelope::{self, Parsed};
use tongban_proto::{ErrorCode, Header, Kind, ProtoError, Verified};
use tongban_seal::KeyRecord;
use tongban_store::AckSet;

use crate::Shared;
use crate::base::names;
use crate::base::snapshot::View;
use crate::exchange::admission::{self, Live};
use crate::exchange::commit::writer;
use crate::exchange::job::{Job, Outcome, refuse};

/// Handle to the pipeline.
#[derive(Clone)]
pub struct Pipeline {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Job>,
    acks: mpsc::Sender<AckSet>,
}

impl Pipeline {
    /// Starts the pipeline's two tasks.
    pub fn start(shared: Arc<Shared>) -> (Pipeline, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Job>(8 * shared.config.batch_max);
        let (otx, orx) = mpsc::channel::<VerifyTask>(VERIFYING_BATCHES - 1);
        let (wtx, wrx) = mpsc::channel::<Vec<(Job, Verified)>>(4);
        let (atx, arx) = mpsc::channel::<AckSet>(ACK_QUEUE);
        let writer = tokio::spawn(writer(Arc::clone(&shared), wrx, arx));
        let in_order = tokio::spawn(in_order(orx, wtx));
        let verifier = tokio::spawn(verifier(Arc::clone(&shared), rx, otx));
        let handle = tokio::spawn(async move {
            let _ = verifier.await;
            let _ = in_order.await;
            let _ = writer.await;
        });
        (
            Pipeline {
                shared,
                tx,
                acks: atx,
            },
            handle,
        )
    }

    /// Hands acknowledgements to the writer, which records them with the
    /// next commit. Waits only if the writer is far behind.
    pub async fn acknowledge(&self, acks: AckSet) {
        if self.acks.send(acks).await.is_err() {
            tracing::warn!("the hub is stopping; acknowledgements will be redelivered");
        }
    }

    /// Submits an envelope from `department`; resolves once it is stored
    /// and logged, or refused.
    pub async fn submit(
        &self,
        department: &str,
        envelope: Value,
        expect: Kind,
    ) -> Result<Outcome, ProtoError> {
        let rx = self.enqueue(department, envelope, expect).await?;
        rx.await.unwrap_or_else(|_| {
            Err(ProtoError::new(
                ErrorCode::Internal,
                "the hub dropped the envelope",
            ))
        })
    }

    /// Queues an envelope (in the order of calls: a stream's envelopes are
    /// stored in the order they arrived) and returns where its outcome will
    /// come. A payload by reference is checked first, here, so that the
    /// caller waits for it and the pipeline does not.
    pub async fn enqueue(
        &self,
        department: &str,
        envelope: Value,
        expect: Kind,
    ) -> Result<oneshot::Receiver<Result<Outcome, ProtoError>>, ProtoError> {
        let resource = names::resource_of(&envelope);
        let checked =
            match crate::exchange::reference::check_reference(&self.shared, department, &envelope)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    self.shared
                        .refusals
                        .count(&self.shared, department, &resource, e.code);
                    return Err(e);
                }
            };
        let (reply, rx) = oneshot::channel();
        let job = Job {
            enqueued: std::time::Instant::now(),
            department: department.to_owned(),
            resource,
            envelope,
            expect,
            checked,
            reply,
        };
        if self.tx.send(job).await.is_err() {
            return Err(ProtoError::new(
                ErrorCode::ShuttingDown,
                "the hub is shutting down",
            ));
        }
        Ok(rx)
    }
}

/// Acknowledgement sets queued for the writer (each at most a listener's
/// ack batch), before listeners wait.
const ACK_QUEUE: usize = 256;

/// Batches being checked and verified at once (one per core of a small
/// machine); the writer still receives them in arrival order.
const VERIFYING_BATCHES: usize = 2;

type VerifyTask = tokio::task::JoinHandle<Vec<(Job, Verified)>>;

/// Takes what has arrived (up to `batch_max`) as one batch and starts
/// checking it, while up to [`VERIFYING_BATCHES`] batches are in flight.
async fn verifier(shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>, otx: mpsc::Sender<VerifyTask>) {
    // Reserving a slot first bounds the batches in flight: a batch is only
    // cut (and grows meanwhile) when there is room to verify it.
    while let Ok(slot) = otx.reserve().await {
        let Some(first) = rx.recv().await else { break };
        let mut jobs = vec![first];
        while jobs.len() < shared.config.batch_max {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let shared = Arc::clone(&shared);
        slot.send(tokio::spawn(async move {
            check_and_verify(&shared, jobs).await
        }));
    }
}

/// Hands verified batches to the writer in the order they were cut, so
/// that a stream's envelopes are stored in the order they arrived.
async fn in_order(mut orx: mpsc::Receiver<VerifyTask>, wtx: mpsc::Sender<Vec<(Job, Verified)>>) {
    while let Some(task) = orx.recv().await {
        let survivors = match task.await {
            Ok(s) => s,
            // A panic while checking: its jobs' reply senders were dropped,
            // so their submitters get an internal error; nothing is stored.
            Err(e) => {
                tracing::error!(error = %e, "checking a batch failed");
                continue;
            }
        };
        if !survivors.is_empty() && wtx.send(survivors).await.is_err() {
            break;
        }
    }
}

async fn check_and_verify(shared: &Arc<Shared>, jobs: Vec<Job>) -> Vec<(Job, Verified)> {
    let started = std::time::Instant::now();
    let waited = jobs
        .first()
        .map(|j| started.duration_since(j.enqueued))
        .unwrap_or_default();
    let count = jobs.len();
    let survivors = check_and_verify_inner(shared, jobs).await;
    shared
        .config
        .metrics
        .verified_batch(count, started.elapsed());
    tracing::debug!(
        count,
        waited_us = waited.as_micros() as u64,
        checked_us = started.elapsed().as_micros() as u64,
        "batch checked"
    );
    survivors
}

async fn check_and_verify_inner(shared: &Arc<Shared>, jobs: Vec<Job>) -> Vec<(Job, Verified)> {
    let mut view = shared.snapshot.view();
    // One refresh if anything named is unknown (a key, schema or resource
    // registered since the last refresh).
    if jobs.iter().any(|j| names_unknown(&view, &j.envelope)) {
        shared.snapshot.refresh_on_miss().await;
        view = shared.snapshot.view();
    }
    let now = shared.hub.now();
    let mut pending: Vec<(Job, Parsed, KeyRecord)> = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        match precheck(shared, &view, &mut job, now) {
            Ok((parsed, key)) => pending.push((job, parsed, key)),
            Err(e) => refuse(shared, job, e),
        }
    }
    if pending.is_empty() {
        return Vec::new();
    }
    let (jobs, items): (Vec<Job>, Vec<(Parsed, KeyRecord)>) =
        pending.into_iter().map(|(j, p, k)| (j, (p, k))).unzip();
    let Ok(verified) = tokio::task::spawn_blocking(move || envelope::verify_batch(items)).await
    else {
        for job in jobs {
            let e = ProtoError::new(ErrorCode::Internal, "verification failed");
            refuse(shared, job, e);
        }
        return Vec::new();
    };
    let now = shared.hub.now();
    let mut survivors = Vec::with_capacity(jobs.len());
    for (job, result) in jobs.into_iter().zip(verified) {
        let result = result.and_then(|v| {
            admission::as_checked(&v, job.checked.as_ref())?;
            admission::after_signature(&v, &view, shared.as_ref(), now)?;
            Ok(v)
        });
        match result {
            Ok(v) => survivors.push((job, v)),
            Err(e) => refuse(shared, job, e),
        }
    }
    survivors
}

fn names_unknown(view: &View, envelope: &Value) -> bool {
    let text = |k: &str| envelope.get(k).and_then(Value::as_str);
    text("keyId").is_some_and(|k| !view.keys.contains_key(k))
        || text("schema").is_some_and(|s| !view.validators.contains_key(s))
        || text("resource").is_some_and(|r| {
            view.access.resource(names::local_id(r)).is_none() && names::by_resource(r).is_none()
        })
}

fn precheck(
    shared: &Shared,
    view: &View,
    job: &mut Job,
    now: time::OffsetDateTime,
) -> Result<(Parsed, KeyRecord), ProtoError> {
    let parsed = envelope::parse(std::mem::take(&mut job.envelope))?;
    let key = admission::before_signature(
        &parsed,
        job.expect,
        &job.department,
        view,
        now,
        shared.config.time_window,
    )?;
    Ok((parsed, key))
}

/// The live state admission reads: the listener registry and the quota
/// counts, without waiting.
impl Live for Shared {
    fn check_answer(&self, h: &Header) -> Result<(), ProtoError> {
        self.registry.check_answer(
            h.recipient.as_deref().unwrap_or_default(),
            h.correlation_id.as_deref().unwrap_or_default(),
            &h.sender,
            &h.resource,
        )
    }

    fn is_listening(&self, provider: &str) -> bool {
        crate::exchange::relay::listening(self, provider)
    }

    fn check_room(&self, requester: &str, provider: &str) -> Result<(), ProtoError> {
        self.registry.check_room(requester, provider)
    }

    fn check_pending(&self, sender: &str) -> Result<(), ProtoError> {
        self.undelivered
            .check_pending(sender, self.config.pending_quota)
    }
}
