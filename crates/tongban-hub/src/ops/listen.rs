//! `listen` streams: stored deliveries out within the listener's window
//! (redelivered when not acknowledged in time), requests as they come;
//! acknowledgements and responses in.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tongban_proto::{ClientOp, ErrorCode, Kind, ProtoError, ServerOp};
use tongban_store::DepartmentStatus;

use crate::Shared;
use crate::base::checks;
use crate::base::wire::{Reader, deliver_frame, envelope_id, write};
use crate::exchange::Ingest;
use crate::ops::{StreamCtx, reply_for};

/// Deliveries out (stored ones, in order, within the window; requests as
/// they come), acknowledgements and responses in.
pub(crate) async fn listen(
    max_in_flight: u32,
    mut reader: Reader,
    send: &mut quinn::SendStream,
    mut ctx: StreamCtx,
) {
    let shared = Arc::clone(&ctx.shared);
    let dept = ctx.department.clone();
    let mut reg = shared.registry.register(&dept);
    // Registered: requests sent from now on find this stream.
    if !write(send, &ServerOp::Listening { max_in_flight }).await {
        shared.registry.unregister(&dept, reg.id);
        return;
    }
    let mut cursor = 0u64;
    let mut inflight: BTreeMap<u64, (Instant, String)> = BTreeMap::new();
    let mut acks: Vec<u64> = Vec::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    let max = max_in_flight as usize;
    // Whether the last read found nothing more pending: only a new
    // message (a notification) or the tick can change that.
    let mut drained = false;
    let mut open = fill(
        &shared,
        &dept,
        &mut cursor,
        &mut inflight,
        &mut acks,
        max,
        send,
        &mut drained,
    )
    .await;
    while open {
        tokio::select! {
            frame = reader.next() => match frame {
                Ok(Some(v)) => match ClientOp::parse(v) {
                    Ok(ClientOp::Ack { delivery }) => {
                        if inflight.remove(&delivery).is_some() {
                            acks.push(delivery);
                        }
                        // Acknowledgements are recorded in batches (and on
                        // every tick): one that is lost with the hub only
                        // means a redelivery, which recipients must expect.
                        if acks.len() >= ACK_BATCH {
                            flush_acks(&shared, &ctx.ingest, &dept, &mut acks).await;
                        }
                        if !drained && inflight.len() < max / 2 {
                            open = fill(&shared, &dept, &mut cursor, &mut inflight, &mut acks, max, send, &mut drained).await;
                        }
                    }
                    Ok(ClientOp::Respond { envelope }) => {
                        let id = envelope_id(&envelope);
                        let result = ctx.ingest.submit(&dept, envelope, Kind::Response).await;
                        if let Ok(o) = &result {
                            let h = &o.verified.header;
                            shared.registry.answer(h.recipient.as_deref().unwrap_or_default(), h.correlation_id.as_deref().unwrap_or_default(), o.verified.to_value());
                        }
                        open = write(send, &reply_for(id, result)).await;
                    }
                    Ok(_) => {
                        let e = ProtoError::new(ErrorCode::FrameMalformed, "a listen stream carries ack and respond frames");
                        open = write(send, &ServerOp::error(None, &e)).await;
                    }
                    Err(e) => open = write(send, &ServerOp::error(None, &e)).await,
                },
                Ok(None) => open = false,
                Err(e) => {
                    write(send, &ServerOp::error(None, &e)).await;
                    open = false;
                }
            },
            _ = reg.notify.notified() => {
                open = fill(&shared, &dept, &mut cursor, &mut inflight, &mut acks, max, send, &mut drained).await;
            }
            req = reg.requests.recv() => match req {
                Some((delivery, envelope)) => {
                    let text = serde_json::to_string(&envelope).unwrap_or_default();
                    open = send.write_all(&deliver_frame(delivery, &text)).await.is_ok();
                }
                None => open = false,
            },
            _ = tick.tick() => {
                flush_acks(&shared, &ctx.ingest, &dept, &mut acks).await;
                if shared.snapshot.view().departments.get(&dept) != Some(&DepartmentStatus::Active) {
                    let e = ProtoError::new(ErrorCode::DepartmentInactive, format!("department {dept} is no longer active"));
                    write(send, &ServerOp::error(None, &e)).await;
                    break;
                }
                let late: Vec<u64> = inflight
                    .iter()
                    .filter(|(_, (at, _))| at.elapsed() >= shared.config.redelivery_after)
                    .map(|(seq, _)| *seq)
                    .collect();
                for seq in late {
                    if let Some((at, text)) = inflight.get_mut(&seq) {
                        *at = Instant::now();
                        if send.write_all(&deliver_frame(seq, text)).await.is_err() {
                            open = false;
                            break;
                        }
                    }
                }
                if open {
                    open = fill(&shared, &dept, &mut cursor, &mut inflight, &mut acks, max, send, &mut drained).await;
                }
            }
            _ = ctx.stop.changed() => open = false,
        }
    }
    flush_acks(&shared, &ctx.ingest, &dept, &mut acks).await;
    shared.registry.unregister(&dept, reg.id);
}

/// Acknowledgements handed to the writer together (at the latest on the
/// next tick of the listen loop); it records them with its next commit.
const ACK_BATCH: usize = 256;

async fn flush_acks(shared: &Shared, ingest: &Ingest, dept: &str, acks: &mut Vec<u64>) {
    if acks.is_empty() {
        return;
    }
    let at_ms = (shared.hub.now().unix_timestamp_nanos() / 1_000_000) as i64;
    ingest
        .acknowledge(tongban_store::AckSet {
            recipient: dept.to_owned(),
            seqs: std::mem::take(acks),
            at_ms,
        })
        .await;
}

/// Sends pending deliveries up to the window; false when the stream is gone.
/// The catalogue's access rule is applied again at delivery: a delivery the
/// rule no longer admits (an approval that ended or was withdrawn, a
/// resource retired since) is withheld, acknowledged with `acks`, and
/// counted as a refusal.
#[allow(clippy::too_many_arguments)]
async fn fill(
    shared: &Shared,
    dept: &str,
    cursor: &mut u64,
    inflight: &mut BTreeMap<u64, (Instant, String)>,
    acks: &mut Vec<u64>,
    max: usize,
    send: &mut quinn::SendStream,
    drained: &mut bool,
) -> bool {
    *drained = false;
    while inflight.len() < max {
        let rows = match shared
            .hub
            .store()
            .pending_deliveries(dept, *cursor, max - inflight.len())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "reading deliveries failed");
                return true;
            }
        };
        if rows.is_empty() {
            *drained = true;
            return true;
        }
        let view = shared.snapshot.view();
        let now = shared.hub.now();
        for (seq, text, resource) in rows {
            *cursor = seq;
            if let Err(refusal) = view.access.check(dept, &resource, now) {
                tracing::info!(seq, department = dept, %resource, code = refusal.code, "delivery withheld by the access rule");
                shared
                    .refusals
                    .count(shared, dept, &resource, checks::refusal(refusal).code);
                acks.push(seq);
                continue;
            }
            if send.write_all(&deliver_frame(seq, &text)).await.is_err() {
                return false;
            }
            inflight.insert(seq, (Instant::now(), text));
        }
    }
    true
}
