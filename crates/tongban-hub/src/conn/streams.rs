//! A department's stream: its first frame names the operation, which
//! `ops` serves; a request for another region's resource goes to
//! federation, and `trust` is answered here for departments and peer hubs
//! alike.

use serde_json::Value;
use tongban_proto::{ClientOp, ErrorCode, ProtoError, ServerOp};

use crate::Shared;
use crate::base::names;
use crate::base::wire::{Reader, envelope_id, write};
use crate::federation;
use crate::ops::{DepartmentStream, blobs, listen, records, request, send, subscriptions};

pub(super) async fn serve_stream(
    mut send: quinn::SendStream,
    recv: quinn::RecvStream,
    ctx: DepartmentStream,
) {
    let mut reader = Reader::new(recv, &ctx.shared, &ctx.department);
    if *ctx.stop.borrow() {
        let e = ProtoError::new(ErrorCode::ShuttingDown, "the hub is shutting down");
        write(&mut send, &ServerOp::error(None, &e)).await;
        let _ = send.finish();
        return;
    }
    let first = match reader.next().await {
        Ok(Some(f)) => f,
        Ok(None) => return,
        Err(e) => {
            write(&mut send, &ServerOp::error(None, &e)).await;
            let _ = send.finish();
            return;
        }
    };
    if dispatch(first, reader, &mut send, ctx).await {
        let _ = send.finish();
    }
}

/// Serves the operation `first` names; false when the stream was reset
/// and must not be finished.
async fn dispatch(
    first: Value,
    reader: Reader,
    send: &mut quinn::SendStream,
    ctx: DepartmentStream,
) -> bool {
    match ClientOp::parse(first) {
        Ok(ClientOp::Send { envelope }) => send::send_loop(envelope, reader, send, &ctx).await,
        Ok(ClientOp::Request {
            envelope,
            timeout_ms,
        }) if elsewhere(&envelope) => forward(envelope, timeout_ms, send, &ctx).await,
        Ok(ClientOp::Request {
            envelope,
            timeout_ms,
        }) => request::request(envelope, timeout_ms, send, &ctx).await,
        Ok(ClientOp::Listen { max_in_flight }) => {
            listen::listen(max_in_flight, reader, send, ctx).await
        }
        Ok(ClientOp::Subscribe { topics }) => {
            subscriptions::serve_subscriptions(&ctx, send, &topics, true).await
        }
        Ok(ClientOp::Unsubscribe { topics }) => {
            subscriptions::serve_subscriptions(&ctx, send, &topics, false).await
        }
        Ok(ClientOp::Records {
            resource,
            after,
            limit,
        }) => records::serve_records(&ctx, send, (resource, after, limit)).await,
        Ok(ClientOp::Upload {
            sha256,
            size,
            media_type,
        }) => {
            let announced = tongban_store::BlobInfo {
                sha256,
                size,
                media_type,
            };
            blobs::serve_upload(&ctx, reader, send, announced).await
        }
        Ok(ClientOp::Trust) => serve_trust(&ctx.shared, send).await,
        Ok(ClientOp::Download { sha256 }) => {
            return blobs::serve_download(&ctx, send, &sha256).await;
        }
        Ok(_) => {
            let e = ProtoError::new(
                ErrorCode::FrameMalformed,
                "a stream starts with send, request, listen, subscribe, unsubscribe, upload, download, records or trust",
            );
            write(send, &ServerOp::error(None, &e)).await;
        }
        Err(e) => {
            write(send, &ServerOp::error(None, &e)).await;
        }
    }
    true
}

/// Whether a request names another region's resource (`{region}:{id}`).
fn elsewhere(envelope: &Value) -> bool {
    envelope
        .get("resource")
        .and_then(Value::as_str)
        .is_some_and(|r| names::split(r).is_some())
}

/// A request for another region's resource: through the two hubs, within
/// the department's share of pulls.
async fn forward(
    envelope: Value,
    timeout_ms: u64,
    send: &mut quinn::SendStream,
    ctx: &DepartmentStream,
) {
    let id = envelope_id(&envelope);
    let forwarded = match ctx.shared.pulls_budget.try_acquire(&ctx.department, 1) {
        Ok(_share) => {
            federation::crossing::forward(&ctx.shared, &ctx.department, envelope, timeout_ms).await
        }
        Err(e) => Err(e),
    };
    let reply = match forwarded {
        Ok(envelope) => ServerOp::Response { envelope },
        Err(e) => ServerOp::error(id, &e),
    };
    write(send, &reply).await;
}

/// Writes the region's trust list as a blob.
pub(super) async fn serve_trust(shared: &Shared, send: &mut quinn::SendStream) {
    match crate::base::trust::current(shared).await {
        Ok(bytes) => {
            let header = ServerOp::Blob {
                sha256: tongban_seal::hex(&tongban_seal::sha256(&bytes)),
                size: bytes.len() as u64,
                media_type: "application/json".into(),
            };
            if write(send, &header).await {
                let _ = send.write_all(&bytes).await;
            }
        }
        Err(e) => {
            write(send, &ServerOp::error(None, &e)).await;
        }
    }
}
