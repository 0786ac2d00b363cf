//! A peer hub's connection: the `trust` operation and the `hub.peer.*`
//! requests, answered by federation; nothing else.
//!
//! Any other resource is `RESOURCE_FORBIDDEN`.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::watch;
use tongban_proto::error::close;
use tongban_proto::{ClientOp, ErrorCode, ProtoError, ServerOp};

use crate::Shared;
use crate::base::wire::{Reader, envelope_id, write};
use crate::conn::identity::{peer_party, still_admitted};
use crate::conn::streams::serve_trust;
use crate::federation;

/// A peer hub's connection: it may fetch the trust list and ask the
/// `hub.peer.*` services, nothing else; it ends when the peer is removed or
/// its certificate is no longer admitted (e.g. revoked by its CA).
pub(super) async fn serve_peer(
    conn: quinn::Connection,
    region: String,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut streams = tokio::task::JoinSet::new();
    let mut check = tokio::time::interval(shared.config.refresh_every);
    loop {
        tokio::select! {
            _ = check.tick() => {
                if let Err(why) = still_admitted(&conn, &shared, &region) {
                    conn.close(close::DEPARTMENT_REFUSED.into(), why.to_string().as_bytes());
                    break;
                }
            }
            s = conn.accept_bi() => match s {
                Ok((send, recv)) => {
                    streams.spawn(serve_peer_stream(send, recv, Arc::clone(&shared), region.clone()));
                }
                Err(_) => break,
            },
            _ = stop.changed() => break,
        }
    }
    while streams.join_next().await.is_some() {}
    if *stop.borrow() {
        conn.close(close::SHUTTING_DOWN.into(), b"SHUTTING_DOWN");
    }
}

async fn serve_peer_stream(
    mut send: quinn::SendStream,
    recv: quinn::RecvStream,
    shared: Arc<Shared>,
    region: String,
) {
    let party = peer_party(&region);
    let mut reader = Reader::new(recv, &shared, &party);
    let reply = match reader.next().await {
        Ok(Some(first)) => match ClientOp::parse(first) {
            Ok(ClientOp::Trust) => {
                serve_trust(&shared, &mut send).await;
                let _ = send.finish();
                return;
            }
            Ok(ClientOp::Request {
                envelope,
                timeout_ms,
            }) => {
                let id = envelope_id(&envelope);
                // Forwarded requests wait on providers: their own slots,
                // refused when full rather than queued past the asking
                // hub's wait.
                let forwarded = envelope.get("resource").and_then(Value::as_str)
                    == Some(federation::REQUEST.resource);
                let permit = if forwarded {
                    shared.forwards_budget.try_acquire(&party, 1)
                } else {
                    shared.peer_budget.try_acquire(&party, 1)
                };
                match permit {
                    Ok(_permit) => {
                        match federation::answer::answer_peer(
                            &shared, &region, envelope, timeout_ms,
                        )
                        .await
                        {
                            Ok(envelope) => ServerOp::Response { envelope },
                            Err(e) => {
                                tracing::info!(peer = %region, code = %e.most_specific(), "peer request refused");
                                ServerOp::error(id, &e)
                            }
                        }
                    }
                    Err(e) => ServerOp::error(id, &e),
                }
            }
            Ok(_) => ServerOp::error(
                None,
                &ProtoError::new(
                    ErrorCode::ResourceForbidden,
                    "a peer hub may fetch the trust list and ask hub.peer.licences, hub.peer.catalogue, hub.peer.request or hub.peer.crl, nothing else",
                ),
            ),
            Err(e) => ServerOp::error(None, &e),
        },
        Ok(None) => return,
        Err(e) => ServerOp::error(None, &e),
    };
    write(&mut send, &reply).await;
    let _ = send.finish();
}
