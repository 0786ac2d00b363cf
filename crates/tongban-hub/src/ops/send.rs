//! `send` streams: messages pipelined, answered in the order they came.

use std::collections::VecDeque;

use serde_json::Value;
use tokio::sync::oneshot;
use tongban_proto::{ClientOp, ErrorCode, Kind, ProtoError, ServerOp};

use crate::base::wire::{Reader, envelope_id, write};
use crate::exchange::Outcome;
use crate::ops::{DepartmentStream, reply_for};

/// `send` frames, pipelined: up to `window_per_stream` in flight, answered in order.
pub(crate) async fn send_loop(
    first: Value,
    mut reader: Reader,
    send: &mut quinn::SendStream,
    ctx: &DepartmentStream,
) {
    type Pending = (
        Option<String>,
        Result<oneshot::Receiver<Result<Outcome, ProtoError>>, ProtoError>,
    );
    // Enqueued in arrival order (so stored in that order), answered in that order.
    let mut inflight: VecDeque<Pending> = VecDeque::new();
    let id = envelope_id(&first);
    inflight.push_back((
        id,
        ctx.pipeline
            .enqueue(&ctx.department, first, Kind::Message)
            .await,
    ));
    let mut eof = false;
    loop {
        if inflight.is_empty() && eof {
            break;
        }
        tokio::select! {
            biased;
            done = async {
                match inflight.front_mut() {
                    Some((_, Ok(rx))) => rx.await.unwrap_or_else(|_| Err(ProtoError::new(ErrorCode::Internal, "the hub failed"))),
                    Some((_, Err(e))) => Err(e.clone()),
                    None => std::future::pending().await,
                }
            }, if !inflight.is_empty() => {
                let Some((id, _)) = inflight.pop_front() else { continue };
                if !write(send, &reply_for(id, done)).await {
                    return;
                }
            }
            frame = reader.next(), if !eof && inflight.len() < ctx.shared.config.window_per_stream => {
                match frame {
                    Ok(Some(v)) => match ClientOp::parse(v) {
                        Ok(ClientOp::Send { envelope }) => {
                            let id = envelope_id(&envelope);
                            inflight.push_back((id, ctx.pipeline.enqueue(&ctx.department, envelope, Kind::Message).await));
                        }
                        Ok(_) => inflight.push_back((None, Err(ProtoError::new(ErrorCode::FrameMalformed, "a send stream carries only send frames")))),
                        Err(e) => inflight.push_back((None, Err(e))),
                    },
                    Ok(None) => eof = true,
                    Err(e) => {
                        // Answer what is in flight, then the framing error, then stop.
                        while let Some((id, pending)) = inflight.pop_front() {
                            let result = match pending {
                                Ok(rx) => rx.await.unwrap_or_else(|_| Err(ProtoError::new(ErrorCode::Internal, "the hub failed"))),
                                Err(e) => Err(e),
                            };
                            if !write(send, &reply_for(id, result)).await {
                                return;
                            }
                        }
                        write(send, &ServerOp::error(None, &e)).await;
                        return;
                    }
                }
            }
        }
    }
}
