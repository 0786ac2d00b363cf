//! `listen` streams: stored deliveries out within the listener's window
//! (redelivered when not acknowledged in time), requests as they come;
//! acknowledgements and responses in. What goes out when is decided by
//! `exchange::window::Window`; this module reads the store and the stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tongban_proto::{ClientOp, ErrorCode, Kind, ProtoError, ServerOp};
use tongban_store::DepartmentStatus;

use crate::Shared;
use crate::base::checks;
use crate::base::wire::{Reader, deliver_frame, envelope_id, write};
use crate::exchange::Pipeline;
use crate::exchange::listeners::RequestDelivery;
use crate::exchange::window::Window;
use crate::ops::{DepartmentStream, reply_for};

/// How often a listen stream with work in its window records
/// acknowledgements, checks that its department is still active,
/// redelivers, and reads the store again unless it found it drained less
/// than [`IDLE_READ`] ago. An idle stream ticks every [`IDLE_READ`].
const TICK: Duration = crate::LISTEN_TICK;

/// How often a drained listen stream reads the store without a wake-up.
const IDLE_READ: Duration = crate::LISTEN_IDLE_READ;

/// Deliveries out (stored ones, in order, within the window; requests as
/// they come), acknowledgements and responses in.
pub(crate) async fn listen(
    max_in_flight: u32,
    mut reader: Reader,
    send: &mut quinn::SendStream,
    mut ctx: DepartmentStream,
) {
    let shared = Arc::clone(&ctx.shared);
    let mut reg = shared.registry.register(&ctx.department);
    // Registered: requests sent from now on find this stream.
    if !write(send, &ServerOp::Listening { max_in_flight }).await {
        shared.registry.unregister(&ctx.department, reg.id);
        return;
    }
    let mut listener = Listener {
        shared: Arc::clone(&shared),
        department: ctx.department.clone(),
        pipeline: ctx.pipeline.clone(),
        window: Window::new(max_in_flight),
        read_at: Instant::now(),
        send,
    };
    let mut open = listener.fill().await;
    let mut ticked = Instant::now();
    while open {
        // Every TICK while there is work in the window; an idle stream
        // (nothing pending, in flight or to record) ticks every IDLE_READ,
        // which is also how often it reads the store unwoken.
        let every = if listener.window.is_idle() {
            IDLE_READ
        } else {
            TICK
        };
        let tick = tokio::time::sleep_until((ticked + every).into());
        open = tokio::select! {
            frame = reader.next() => listener.on_frame(frame).await,
            _ = reg.notify.notified() => listener.fill().await,
            req = reg.requests.recv() => listener.on_request(req).await,
            () = tick => {
                ticked = Instant::now();
                listener.on_tick().await
            }
            _ = ctx.stop.changed() => false,
        };
    }
    listener.flush_acks().await;
    shared.registry.unregister(&ctx.department, reg.id);
}

/// A listen stream's state; each `on_` method answers one event and says
/// whether the stream stays open.
struct Listener<'s> {
    shared: Arc<Shared>,
    department: String,
    pipeline: Pipeline,
    window: Window,
    /// When the store was last read for this stream.
    read_at: Instant,
    send: &'s mut quinn::SendStream,
}

impl Listener<'_> {
    async fn on_frame(&mut self, frame: Result<Option<Value>, ProtoError>) -> bool {
        let op = match frame {
            Ok(Some(v)) => ClientOp::parse(v),
            Ok(None) => return false,
            Err(e) => {
                write(self.send, &ServerOp::error(None, &e)).await;
                return false;
            }
        };
        match op {
            Ok(ClientOp::Ack { delivery }) => self.on_ack(delivery).await,
            Ok(ClientOp::Respond { envelope }) => self.on_respond(envelope).await,
            Ok(_) => {
                let e = ProtoError::new(
                    ErrorCode::FrameMalformed,
                    "a listen stream carries ack and respond frames",
                );
                write(self.send, &ServerOp::error(None, &e)).await
            }
            Err(e) => write(self.send, &ServerOp::error(None, &e)).await,
        }
    }

    async fn on_ack(&mut self, delivery: u64) -> bool {
        let next = self.window.ack(delivery);
        // Acknowledgements are recorded in batches (and on every tick): one
        // that is lost with the hub only means a redelivery, which
        // recipients must expect.
        if next.flush {
            self.flush_acks().await;
        }
        if next.refill {
            return self.fill().await;
        }
        true
    }

    /// A provider's response to a request handed to this stream: through
    /// the pipeline, then to the requester waiting for it.
    async fn on_respond(&mut self, envelope: Value) -> bool {
        let id = envelope_id(&envelope);
        let result = self
            .pipeline
            .submit(&self.department, envelope, Kind::Response)
            .await;
        if let Ok(o) = &result {
            let h = &o.verified.header;
            self.shared.registry.answer(
                h.recipient.as_deref().unwrap_or_default(),
                h.correlation_id.as_deref().unwrap_or_default(),
                o.verified.to_value(),
            );
        }
        write(self.send, &reply_for(id, result)).await
    }

    async fn on_request(&mut self, request: Option<RequestDelivery>) -> bool {
        let Some((delivery, envelope)) = request else {
            return false;
        };
        let text = serde_json::to_string(&envelope).unwrap_or_default();
        self.send
            .write_all(&deliver_frame(delivery, &text))
            .await
            .is_ok()
    }

    async fn on_tick(&mut self) -> bool {
        self.flush_acks().await;
        let view = self.shared.snapshot.view();
        if view.departments.get(&self.department) != Some(&DepartmentStatus::Active) {
            let e = ProtoError::new(
                ErrorCode::DepartmentInactive,
                format!("department {} is no longer active", self.department),
            );
            write(self.send, &ServerOp::error(None, &e)).await;
            return false;
        }
        let after = self.shared.config.redelivery_after;
        for seq in self.window.redeliver(Instant::now(), after) {
            let Some(text) = self.window.envelope(seq) else {
                continue;
            };
            if self
                .send
                .write_all(&deliver_frame(seq, text))
                .await
                .is_err()
            {
                return false;
            }
        }
        // Drained and not woken: nothing new unless a wake-up was lost.
        if self.window.is_drained() && self.read_at.elapsed() < IDLE_READ {
            return true;
        }
        self.fill().await
    }

    async fn flush_acks(&mut self) {
        let seqs = self.window.take_acks();
        if seqs.is_empty() {
            return;
        }
        let at_ms = (self.shared.hub.now().unix_timestamp_nanos() / 1_000_000) as i64;
        self.pipeline
            .acknowledge(tongban_store::AckSet {
                recipient: self.department.clone(),
                seqs,
                at_ms,
            })
            .await;
    }

    /// Sends pending deliveries up to the window; false when the stream is
    /// gone. The catalogue's access rule is applied again at delivery: a
    /// delivery the rule no longer admits (an approval that ended or was
    /// withdrawn, a resource retired since) is withheld, settled as if
    /// acknowledged, and counted as a refusal.
    async fn fill(&mut self) -> bool {
        let shared = Arc::clone(&self.shared);
        let dept = self.department.as_str();
        self.read_at = Instant::now();
        self.window.reading();
        while self.window.room() > 0 {
            let rows = match shared
                .hub
                .store()
                .pending_deliveries(dept, self.window.cursor(), self.window.room())
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "reading deliveries failed");
                    return true;
                }
            };
            if rows.is_empty() {
                self.window.drained();
                return true;
            }
            let mut view = shared.snapshot.view();
            let mut current = false;
            let now = shared.hub.now();
            for (seq, text, resource) in rows {
                // The hub's own topics name their audience when stored.
                let ruled = !tongban_service::alerts::is_hub_topic(&resource);
                let mut checked = ruled.then(|| view.access.check(dept, &resource, now));
                if matches!(checked, Some(Err(_))) && !current {
                    // Withhold only on the rules as they are now: another
                    // node may have admitted the message under a grant
                    // this node's view (a tick old) has not seen yet.
                    view = shared.snapshot.with_current_access().await;
                    current = true;
                    checked = Some(view.access.check(dept, &resource, now));
                }
                if let Some(Err(refusal)) = checked {
                    tracing::info!(seq, department = dept, %resource, code = refusal.code.as_str(), "delivery withheld by the access rule");
                    let code = checks::refusal(refusal).code;
                    shared.refusals.count(&shared, dept, &resource, code);
                    self.window.withheld(seq);
                    continue;
                }
                if self
                    .send
                    .write_all(&deliver_frame(seq, &text))
                    .await
                    .is_err()
                {
                    return false;
                }
                self.window.sent(seq, text, Instant::now());
            }
        }
        true
    }
}
