//! The writer: commits what has arrived in one transaction, batches of
//! verified envelopes (in order) with their deliveries and audit entries,
//! and listeners' acknowledgements; then answers each envelope and wakes
//! its recipients' listeners.
//!
//! An acknowledgement lost with the hub (not yet committed) means only a
//! redelivery.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;
use tongban_proto::Verified;
use tongban_store::{AckSet, AuditRecord, NewMessage};

use crate::Shared;
use crate::exchange::admission;
use crate::exchange::job::{Job, Outcome, refuse};

/// Commits what has arrived, in one transaction: batches of verified
/// envelopes (in order) and listeners' acknowledgements.
pub(super) async fn writer(
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
    let rows = rows(shared, &batch);
    let result = shared.hub.store().commit_exchange(&rows, acks).await;
    shared.config.metrics.committed(commit_started.elapsed());
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
                match admission::settle(outcome, &verified.header) {
                    Ok((seq, recipients)) => {
                        shared.config.metrics.accepted(verified.header.kind);
                        deliver(shared, job, verified, seq, recipients)
                    }
                    Err(e) => refuse(shared, job, e),
                }
            }
        }
        Err(e) => {
            tracing::error!(
                count = batch.len(),
                "storing a batch of messages failed (acknowledgements in it will be redelivered)"
            );
            let refusal = crate::base::failures::store(
                &e,
                "the hub could not store the envelope; nothing was accepted",
            );
            for (job, _) in batch {
                refuse(shared, job, refusal.clone());
            }
        }
    }
}

/// The rows a batch stores: each envelope with its audit entry and, for a
/// publication, the subscribers the access rule admits now.
fn rows(shared: &Shared, batch: &[(Job, Verified)]) -> Vec<NewMessage> {
    let now = shared.hub.now();
    let received_at_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let view = shared.snapshot.view();
    batch
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
        .collect()
}

/// Answers a stored envelope's sender, wakes its recipients' listeners and
/// counts the deliveries against the sender's quota.
fn deliver(shared: &Shared, job: Job, verified: Verified, seq: u64, recipients: Vec<String>) {
    for r in &recipients {
        shared.registry.notify(r);
    }
    if let Some(cluster) = &shared.cluster {
        cluster.wake(&recipients);
    }
    shared
        .undelivered
        .add_pending(&verified.header.sender, recipients.len());
    let _ = job.reply.send(Ok(Outcome {
        seq,
        recipients,
        verified,
    }));
}
