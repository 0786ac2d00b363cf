//! The path every envelope takes before it is acknowledged, batched across
//! concurrent arrivals:
//!
//! 1. **check** (per envelope): shape, kind, sender = the authenticated
//!    department, time window, key known;
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

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tongban_proto::envelope::{self, Parsed};
use tongban_proto::{ErrorCode, Kind, ProtoError, Verified};
use tongban_seal::KeyRecord;
use tongban_store::{Accepted, AckSet, AuditRecord, DepartmentStatus, NewMessage};

use crate::Shared;
use crate::services;
use crate::snapshot::View;

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

struct Job {
    enqueued: std::time::Instant,
    department: String,
    /// The resource the envelope names, for the refusal counts.
    resource: String,
    envelope: Value,
    expect: Kind,
    /// Its payload by reference, checked before it was queued.
    checked: Option<crate::blobs::Checked>,
    reply: oneshot::Sender<Result<Outcome, ProtoError>>,
}

/// Handle to the pipeline.
#[derive(Clone)]
pub struct Ingest {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Job>,
    acks: mpsc::Sender<AckSet>,
}

impl Ingest {
    /// Starts the pipeline's two tasks.
    pub fn start(shared: Arc<Shared>) -> (Ingest, tokio::task::JoinHandle<()>) {
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
            Ingest {
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
        let resource = crate::refusals::resource_of(&envelope);
        let checked = match crate::blobs::check_reference(&self.shared, department, &envelope).await
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
            Err(e) => {
                refuse(shared, job, e);
            }
        }
    }
    if pending.is_empty() {
        return Vec::new();
    }
    let (jobs, items): (Vec<Job>, Vec<(Parsed, KeyRecord)>) =
        pending.into_iter().map(|(j, p, k)| (j, (p, k))).unzip();
    let verified = match tokio::task::spawn_blocking(move || envelope::verify_batch(items)).await {
        Ok(v) => v,
        Err(_) => {
            for job in jobs {
                refuse(
                    shared,
                    job,
                    ProtoError::new(ErrorCode::Internal, "verification failed"),
                );
            }
            return Vec::new();
        }
    };
    let mut survivors = Vec::with_capacity(jobs.len());
    for (job, result) in jobs.into_iter().zip(verified) {
        let result = result
            .and_then(|v| as_checked(v, job.checked.as_ref()))
            .and_then(|v| authorise_and_validate(shared, &view, v));
        match result {
            Ok(v) => survivors.push((job, v)),
            Err(e) => {
                refuse(shared, job, e);
            }
        }
    }
    survivors
}

/// The verified envelope if its payload by reference, if any, is the one
/// checked before it was queued (`blobs::check_reference`), with the same
/// schema.
fn as_checked(
    v: Verified,
    checked: Option<&crate::blobs::Checked>,
) -> Result<Verified, ProtoError> {
    let h = &v.header;
    let Some(r) = &h.payload_ref else {
        return Ok(v);
    };
    match checked {
        Some(c) if c.reference == *r && c.schema == h.schema => Ok(v),
        _ => Err(ProtoError::new(
            ErrorCode::Internal,
            "the payload reference was not checked; nothing was accepted",
        )),
    }
}

/// The catalogue id in a resource name: `{region}:{id}` → `id`.
fn local_id(resource: &str) -> &str {
    crate::crossing::split(resource).map_or(resource, |(_, id)| id)
}

fn names_unknown(view: &View, envelope: &Value) -> bool {
    let text = |k: &str| envelope.get(k).and_then(Value::as_str);
    text("keyId").is_some_and(|k| !view.keys.contains_key(k))
        || text("schema").is_some_and(|s| !view.validators.contains_key(s))
        || text("resource").is_some_and(|r| {
            view.access.resource(local_id(r)).is_none() && services::by_resource(r).is_none()
        })
}

fn precheck(
    shared: &Shared,
    view: &View,
    job: &mut Job,
    now: time::OffsetDateTime,
) -> Result<(Parsed, KeyRecord), ProtoError> {
    let parsed = envelope::parse(std::mem::take(&mut job.envelope))?;
    let key = sender_key(shared, view, &parsed, job.expect, &job.department, now)?;
    Ok((parsed, key))
}

/// What is checked of a department's envelope before its signature: its
/// kind, its sender (the connection's `department`), active, its time, and
/// the key it names, which is returned to verify it with.
pub(crate) fn sender_key(
    shared: &Shared,
    view: &View,
    parsed: &Parsed,
    expect: Kind,
    department: &str,
    now: time::OffsetDateTime,
) -> Result<KeyRecord, ProtoError> {
    let h = &parsed.header;
    if h.kind != expect {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            format!(
                "this operation takes a {} envelope, not a {}",
                expect.as_str(),
                h.kind.as_str()
            ),
        ));
    }
    if h.sender != department {
        return Err(ProtoError::new(
            ErrorCode::SenderMismatch,
            format!(
                "the connection is {}, the envelope says it is from {}",
                department, h.sender
            ),
        ));
    }
    match view.departments.get(&h.sender) {
        Some(DepartmentStatus::Active) => {}
        Some(_) => {
            return Err(ProtoError::new(
                ErrorCode::DepartmentInactive,
                format!("department {} is suspended or retired", h.sender),
            ));
        }
        None => {
            return Err(ProtoError::new(
                ErrorCode::DepartmentUnknown,
                format!("department {} is not registered", h.sender),
            ));
        }
    }
    parsed.check_time(now, shared.config.time_window)?;
    let key = view.keys.get(&h.key_id).cloned().ok_or_else(|| {
        ProtoError::new(
            ErrorCode::KeyUnknown,
            format!("no key {} is registered", h.key_id),
        )
    })?;
    Ok(key)
}

fn authorise_and_validate(
    shared: &Shared,
    view: &View,
    v: Verified,
) -> Result<Verified, ProtoError> {
    let h = &v.header;
    if let Some(service) = services::by_resource(&h.resource) {
        return validate_for_service(view, service, v);
    }
    // A provider answers a request another region's department sent
    // through the two hubs on the resource as that department named it,
    // `{region}:{id}`; only a response may, and only to an open request.
    let id = if h.kind == Kind::Response {
        local_id(&h.resource)
    } else {
        h.resource.as_str()
    };
    let resource = view.access.resource(id).ok_or_else(|| {
        ProtoError::new(
            ErrorCode::ResourceUnknown,
            format!("no resource {} in the catalogue", h.resource),
        )
    })?;
    if id != h.resource && h.payload_ref.is_some() {
        // The other region's department could not download it from here.
        return Err(ProtoError::new(
            ErrorCode::PayloadTooLarge,
            "a response to another region carries its payload inline",
        ));
    }
    if resource.status != "published" {
        return Err(ProtoError::new(
            ErrorCode::CatalogueRetired,
            format!("{} is retired from the catalogue", h.resource),
        ));
    }
    if h.kind != Kind::Message && h.topic.is_some() {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            "only messages are published on a topic; requests and responses name none",
        ));
    }
    let now = shared.hub.now();
    let may_use = |consumer: &str| {
        view.access
            .check(consumer, &h.resource, now)
            .map_err(refusal)
    };
    let forbidden = |m: String| ProtoError::new(ErrorCode::ResourceForbidden, m);
    match h.kind {
        Kind::Message => {
            if resource.provider != h.sender {
                return Err(forbidden(format!(
                    "only {} provides {}; {} may not send it",
                    resource.provider, resource.id, h.sender
                )));
            }
            if h.schema != resource.schema {
                return Err(forbidden(format!(
                    "{} carries {}, not {}",
                    resource.id, resource.schema, h.schema
                )));
            }
            if let Some(r) = &h.recipient {
                match view.departments.get(r) {
                    Some(DepartmentStatus::Active) => {}
                    _ => {
                        return Err(ProtoError::new(
                            ErrorCode::RecipientUnknown,
                            format!("{r} is not an active department"),
                        ));
                    }
                }
                may_use(r)?;
            }
            if let Some(t) = &h.topic {
                if t != &resource.id {
                    return Err(forbidden(format!(
                        "messages of {} are published on topic {}, not {t}",
                        resource.id, resource.id
                    )));
                }
            }
        }
        Kind::Request => {
            may_use(&h.sender)?;
            if h.recipient
                .as_deref()
                .is_some_and(|r| r != resource.provider)
            {
                return Err(forbidden(format!(
                    "requests for {} go to its provider {}",
                    resource.id, resource.provider
                )));
            }
        }
        Kind::Response => {
            if resource.provider != h.sender {
                return Err(forbidden(format!(
                    "only {} answers for {}",
                    resource.provider, resource.id
                )));
            }
            if h.schema != resource.schema {
                return Err(forbidden(format!(
                    "answers for {} carry {}, not {}",
                    resource.id, resource.schema, h.schema
                )));
            }
            let requester = h.recipient.as_deref().ok_or_else(|| {
                ProtoError::new(
                    ErrorCode::EnvelopeMalformed,
                    "a response names the requester as recipient",
                )
            })?;
            shared.registry.check_answer(
                requester,
                h.correlation_id.as_deref().unwrap_or_default(),
                &h.sender,
                &h.resource,
            )?;
        }
    }
    let validator = view.validators.get(&h.schema).ok_or_else(|| {
        ProtoError::new(
            ErrorCode::SchemaUnknown,
            format!("schema {} is not registered", h.schema),
        )
    })?;
    // A payload by reference was validated before the envelope was queued
    // (`blobs::check_reference`).
    if h.payload_ref.is_none() {
        validate(validator, &h.schema, v.payload())?;
    }
    if h.kind == Kind::Message {
        shared
            .usage
            .check_pending(&h.sender, shared.config.pending_quota)?;
    }
    // Last, so that every other refusal takes precedence: a request that
    // nobody can answer is refused before anything is stored.
    if h.kind == Kind::Request {
        if !shared.registry.is_listening(&resource.provider) {
            return Err(ProtoError::new(
                ErrorCode::ProviderUnavailable,
                format!(
                    "{} has no system connected to answer {}",
                    resource.provider, resource.id
                ),
            ));
        }
        shared.registry.check_room(&h.sender, &resource.provider)?;
    }
    Ok(v)
}

/// A request to one of the hub's own services: any active department may
/// ask (the service applies its own rules); the payload is inline and
/// satisfies the service's schema.
fn validate_for_service(
    view: &View,
    service: &services::Service,
    v: Verified,
) -> Result<Verified, ProtoError> {
    let h = &v.header;
    if h.kind != Kind::Request {
        return Err(ProtoError::new(
            ErrorCode::ResourceForbidden,
            format!("{} is the hub's service: send it requests", h.resource),
        ));
    }
    if h.schema != service.request_schema {
        return Err(ProtoError::new(
            ErrorCode::ResourceForbidden,
            format!(
                "{} takes {}, not {}",
                h.resource, service.request_schema, h.schema
            ),
        ));
    }
    if h.payload_ref.is_some() || h.recipient.is_some() || h.topic.is_some() {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            "a request to the hub's service carries its payload inline and names no recipient or topic",
        ));
    }
    let validator = view.validators.get(&h.schema).ok_or_else(|| {
        ProtoError::new(
            ErrorCode::SchemaUnknown,
            format!("schema {} is not registered (run `tongban init`)", h.schema),
        )
    })?;
    validate(validator, &h.schema, v.payload())?;
    Ok(v)
}

/// Answers a job with a refusal, and counts it for the statistics.
fn refuse(shared: &Shared, job: Job, e: ProtoError) {
    shared
        .refusals
        .count(shared, &job.department, &job.resource, e.code);
    let _ = job.reply.send(Err(e));
}

/// A refusal of the catalogue's access rules as a protocol error: the code
/// names the rule.
pub(crate) fn refusal(r: tongban_service::Refusal) -> ProtoError {
    let code = match r.code {
        "CATALOGUE_UNKNOWN" => ErrorCode::ResourceUnknown,
        other => ErrorCode::parse(other),
    };
    ProtoError::new(code, r.message)
}

/// Checks a payload against its schema; the error lists the first violations.
pub(crate) fn validate(
    validator: &jsonschema::Validator,
    schema: &str,
    payload: &Value,
) -> Result<(), ProtoError> {
    if validator.is_valid(payload) {
        return Ok(());
    }
    let errors: Vec<String> = validator
        .iter_errors(payload)
        .take(8)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    Err(ProtoError::new(
        ErrorCode::PayloadInvalid,
        format!("payload violates {schema}: {}", errors.join("; ")),
    ))
}

/// Commits what has arrived, in one transaction: batches of verified
/// envelopes (in order) and listeners' acknowledgements.
async fn writer(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Vec<(Job, Verified)>>,
    mut arx: mpsc::Receiver<AckSet>,
) {
    let mut acks_open = true;
    loop {
        let mut acks: Vec<AckSet> = Vec::new();
        let mut batch = tokio::select! {
            biased;
            b = rx.recv() => match b {
                Some(b) => b,
                None => break,
            },
            a = arx.recv(), if acks_open => match a {
                Some(a) => {
                    acks.push(a);
                    Vec::new()
                }
                None => {
                    acks_open = false;
                    continue;
                }
            },
        };
        while batch.len() < tongban_store::MAX_ACCEPT_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        while let Ok(a) = arx.try_recv() {
            acks.push(a);
        }
        commit(&shared, batch, &acks).await;
    }
    // Acknowledgements sent while the last envelopes were committed.
    let mut acks = Vec::new();
    while let Ok(a) = arx.try_recv() {
        acks.push(a);
    }
    commit(&shared, Vec::new(), &acks).await;
}

async fn commit(shared: &Shared, batch: Vec<(Job, Verified)>, acks: &[AckSet]) {
    let commit_started = std::time::Instant::now();
    let oldest = batch
        .iter()
        .map(|(j, _)| commit_started.duration_since(j.enqueued))
        .max()
        .unwrap_or_default();
    let now = shared.hub.now();
    let received_at_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let view = shared.snapshot.view();
    let rows: Vec<NewMessage> = batch
        .iter()
        .map(|(_, v)| {
            let h = &v.header;
            let audience = h
                .topic
                .as_ref()
                .and_then(|_| view.access.audience(&h.resource, now));
            NewMessage {
                sender: h.sender.clone(),
                id: h.id.clone(),
                kind: h.kind.as_str().to_owned(),
                recipient: h.recipient.clone(),
                topic: h.topic.clone(),
                resource: h.resource.clone(),
                schema: h.schema.clone(),
                envelope: v.to_json(),
                digest: v.digest().to_owned(),
                payload_sha256: h.payload_ref.as_ref().map(|r| r.sha256.clone()),
                sent_at_ms: (h.time.unix_timestamp_nanos() / 1_000_000) as i64,
                received_at_ms,
                audit: AuditRecord::new(
                    now,
                    &h.sender,
                    format!("exchange.{}", h.kind.as_str()),
                    format!("{}/{}", h.sender, h.id),
                    json!({"recipient": h.recipient, "topic": h.topic, "resource": h.resource, "schema": h.schema, "digest": v.digest(), "correlationId": h.correlation_id}),
                ),
                audience,
            }
        })
        .collect();
    let result = shared.hub.store().commit_exchange(&rows, acks).await;
    tracing::debug!(
        count = rows.len(),
        acks = acks.iter().map(|a| a.seqs.len()).sum::<usize>(),
        oldest_us = oldest.as_micros() as u64,
        commit_us = commit_started.elapsed().as_micros() as u64,
        "batch committed"
    );
    match result {
        Ok(outcomes) => {
            for ((job, verified), outcome) in batch.into_iter().zip(outcomes) {
                match outcome {
                    Accepted::Stored { seq, recipients } => {
                        for r in &recipients {
                            shared.registry.notify(r);
                        }
                        shared
                            .usage
                            .add_pending(&verified.header.sender, recipients.len());
                        let _ = job.reply.send(Ok(Outcome {
                            seq,
                            recipients,
                            verified,
                        }));
                    }
                    Accepted::Replay => {
                        let e = ProtoError::new(
                            ErrorCode::Replay,
                            format!(
                                "{} already sent an envelope with id {}",
                                verified.header.sender, verified.header.id
                            ),
                        );
                        refuse(shared, job, e);
                    }
                }
            }
        }
        Err(e) => {
            tracing::error!(
                count = batch.len(),
                "storing a batch of messages failed (acknowledgements in it will be redelivered)"
            );
            let refusal = crate::failures::store(
                &e,
                "the hub could not store the envelope; nothing was accepted",
            );
            for (job, _) in batch {
                refuse(shared, job, refusal.clone());
            }
        }
    }
}
