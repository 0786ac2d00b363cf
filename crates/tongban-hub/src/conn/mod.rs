//! Connections: the TLS configuration that admits them (`tls`), who each
//! is from its client certificate (`identity`), then one task per stream:
//! a department's streams serve the operation their first frame names
//! (`streams`, `ops`), a peer hub's the `hub.peer.*` requests (`peer`).
//!
//! What a party may hold is bounded: its connections, the bytes of frames
//! being read on all its streams (`frame_buffer_per_department`), and how
//! long the hub waits for a stream's first frame and for the rest of a
//! frame (`read_timeout`). Past a bound the party gets `BUSY` or
//! `READ_TIMEOUT` and the stream (or connection) ends; other parties are
//! not held up.
//!
//! QUIC flow-control windows (`receive_window`, `stream_receive_window`,
//! `send_window`) and the stream limit bound what quinn buffers. How each
//! department's connection ended (the client's close code, a timeout, the hub's
//! own close) is logged at debug.

use std::sync::Arc;

use tokio::sync::watch;
use tongban_proto::error::close;
use tongban_store::DepartmentStatus;

use crate::Shared;
use crate::base::shares::Share;
use crate::exchange::Pipeline;
use crate::ops::DepartmentStream;

mod identity;
mod peer;
mod streams;
pub(crate) mod tls;

use identity::{Party, certificate_serial, party_of, peer_party};

/// Takes one of `party`'s connections, or closes the connection with
/// code 4 `BUSY`.
fn admit_connection(conn: &quinn::Connection, shared: &Shared, party: &str) -> Option<Share> {
    match shared.connections.try_acquire(party, 1) {
        Ok(share) => Some(share),
        Err(e) => {
            let reason = format!("BUSY: {}", e.message);
            tracing::info!(remote = %conn.remote_address(), party, %reason, "connection refused");
            conn.close(close::BUSY.into(), reason.as_bytes());
            None
        }
    }
}

pub(crate) async fn handle(
    incoming: quinn::Incoming,
    shared: Arc<Shared>,
    pipeline: Pipeline,
    mut stop: watch::Receiver<bool>,
) {
    let remote = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(%remote, error = %e, "handshake refused");
            return;
        }
    };
    let department = match party_of(&conn, &shared) {
        Ok(Party::Department(d)) => d,
        Ok(Party::Peer(region)) => {
            let Some(_connection) = admit_connection(&conn, &shared, &peer_party(&region)) else {
                return;
            };
            let _open = shared.config.metrics.connection("peer");
            tracing::debug!(%remote, peer = %region, "peer hub connected");
            peer::serve_peer(conn, region, shared, stop).await;
            return;
        }
        Err(reason) => {
            tracing::info!(%remote, %reason, "connection refused");
            conn.close(
                close::DEPARTMENT_REFUSED.into(),
                reason.to_string().as_bytes(),
            );
            return;
        }
    };
    if let Err(reason) = check_active(&shared, &department).await {
        tracing::info!(%remote, %department, %reason, "connection refused");
        conn.close(close::DEPARTMENT_REFUSED.into(), reason.as_bytes());
        return;
    }
    let Some(_connection) = admit_connection(&conn, &shared, &department) else {
        return;
    };
    let _open = shared.config.metrics.connection("department");
    tracing::debug!(%remote, %department, "connected");
    let serial = certificate_serial(&conn);
    let mut streams = tokio::task::JoinSet::new();
    let mut check = tokio::time::interval(shared.config.refresh_every);
    loop {
        tokio::select! {
            _ = check.tick() => {
                // Suspension, retirement or revocation end live connections too.
                let view = shared.snapshot.view();
                let refused = match view.departments.get(&department) {
                    Some(DepartmentStatus::Active) => serial.as_ref().filter(|s| view.revoked_serials.contains(*s)).map(|_| "CERTIFICATE_REVOKED: the client certificate was revoked".to_owned()),
                    _ => Some(format!("DEPARTMENT_INACTIVE: department {department} is no longer active")),
                };
                if let Some(reason) = refused {
                    tracing::info!(%remote, %department, %reason, "closing connection");
                    conn.close(close::DEPARTMENT_REFUSED.into(), reason.as_bytes());
                    break;
                }
            }
            s = conn.accept_bi() => match s {
                Ok((send, recv)) => {
                    shared.config.metrics.stream();
                    let ctx = DepartmentStream { department: department.clone(), shared: Arc::clone(&shared), pipeline: pipeline.clone(), stop: stop.clone() };
                    streams.spawn(streams::serve_stream(send, recv, ctx));
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
    tracing::debug!(%remote, %department, how = %how_it_ended(&conn), "disconnected");
}

/// How a connection ended, for the log: closed by the client (with its
/// close code's name), by the hub, or timed out (the client vanished).
fn how_it_ended(conn: &quinn::Connection) -> String {
    match conn.close_reason() {
        Some(quinn::ConnectionError::ApplicationClosed(c)) => {
            let name = match u32::try_from(c.error_code.into_inner()) {
                Ok(close::DONE) => "DONE",
                Ok(close::DEPARTMENT_REFUSED) => "DEPARTMENT_REFUSED",
                Ok(close::SHUTTING_DOWN) => "SHUTTING_DOWN",
                Ok(close::PROTOCOL) => "PROTOCOL",
                Ok(close::BUSY) => "BUSY",
                _ => "unknown",
            };
            format!("closed by the client with code {} ({name})", c.error_code)
        }
        Some(quinn::ConnectionError::LocallyClosed) => "closed by the hub".to_owned(),
        Some(quinn::ConnectionError::TimedOut) => {
            "timed out: nothing arrived within the idle timeout".to_owned()
        }
        Some(other) => other.to_string(),
        None => "open".to_owned(),
    }
}

async fn check_active(shared: &Shared, department: &str) -> Result<(), String> {
    let mut status = shared.snapshot.view().departments.get(department).copied();
    if status.is_none() {
        shared.snapshot.refresh_on_miss().await;
        status = shared.snapshot.view().departments.get(department).copied();
    }
    match status {
        Some(DepartmentStatus::Active) => Ok(()),
        Some(s) => Err(format!(
            "DEPARTMENT_INACTIVE: department {department} is {}",
            s.as_str()
        )),
        None => Err(format!(
            "DEPARTMENT_UNKNOWN: {department} is not a registered department"
        )),
    }
}
