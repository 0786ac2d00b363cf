//! One connection: who it is (from the client certificate), then one task
//! per stream, each serving the operation its first frame names.
//!
//! What a party may hold is bounded: its connections, the bytes of frames
//! being read on all its streams (`frame_buffer_per_department`), and how
//! long the hub waits for a stream's first frame and for the rest of a
//! frame (`read_timeout`). Past a bound the party gets `BUSY` or
//! `READ_TIMEOUT` and the stream (or connection) ends; other parties are
//! not held up.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{oneshot, watch};
use tongban_proto::error::close;
use tongban_proto::{ClientOp, Decoder, ErrorCode, Kind, ProtoError, ServerOp};
use tongban_store::DepartmentStatus;

use crate::Shared;
use crate::ingest::{Ingest, Outcome};
use crate::shares::Share;

/// Bytes read off a stream at once.
const READ_CHUNK: usize = 64 * 1024;

/// The least share of frame memory a party has: one frame of `max_frame`
/// and one read beyond it.
pub(crate) fn frame_share_floor(max_frame: usize) -> u64 {
    (max_frame + 4 + READ_CHUNK) as u64
}

/// A peer hub as a party of the hub's shares.
fn peer_party(region: &str) -> String {
    format!("urn:tongban:hub:{region}")
}

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
    ingest: Ingest,
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
            tracing::debug!(%remote, peer = %region, "peer hub connected");
            serve_peer(conn, region, shared, stop).await;
            return;
        }
        Err(reason) => {
            tracing::info!(%remote, %reason, "connection refused");
            conn.close(close::DEPARTMENT_REFUSED.into(), reason.as_bytes());
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
                    let ctx = StreamCtx { department: department.clone(), shared: Arc::clone(&shared), ingest: ingest.clone(), stop: stop.clone() };
                    streams.spawn(serve_stream(send, recv, ctx));
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

/// The client certificate's serial number, lower-case hex.
fn certificate_serial(conn: &quinn::Connection) -> Option<String> {
    let identity = conn.peer_identity()?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs.first()?.as_ref()).ok()?;
    Some(
        cert.raw_serial()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Who connected: a department (certificate from this hub's CA) or a peer
/// hub (certificate from the CA of the peer it names).
enum Party {
    Department(String),
    Peer(String),
}

/// The certificate chain a client presented, non-empty; a refusal starts
/// with `who` (`DEPARTMENT_UNKNOWN`, `PEER_UNKNOWN`).
fn client_chain(
    conn: &quinn::Connection,
    who: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let identity = conn
        .peer_identity()
        .ok_or_else(|| format!("{who}: no client certificate"))?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .map_err(|_| format!("{who}: unreadable client certificate"))?;
    if certs.is_empty() {
        return Err(format!("{who}: empty certificate chain"));
    }
    Ok(*certs)
}

fn party_of(conn: &quinn::Connection, shared: &Shared) -> Result<Party, String> {
    let certs = client_chain(conn, "DEPARTMENT_UNKNOWN")?;
    let (first, rest) = certs
        .split_first()
        .ok_or("DEPARTMENT_UNKNOWN: empty certificate chain")?;
    let verifiers = shared
        .verifiers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let now = rustls::pki_types::UnixTime::now();
    if verifiers.own.verify_client_cert(first, rest, now).is_ok() {
        return department_named(first).map(Party::Department);
    }
    // Not ours: only a peer hub's own certificate, from that peer's CA.
    let region = first_common_name(first)?
        .and_then(|cn| cn.strip_prefix("urn:tongban:hub:").map(str::to_owned))
        .ok_or("PEER_UNKNOWN: a certificate from another CA must name a peer hub")?;
    match verifiers.peers.get(&region) {
        Some(v) if v.verify_client_cert(first, rest, now).is_ok() => Ok(Party::Peer(region)),
        _ => Err(format!(
            "PEER_UNKNOWN: region {region} is not an active peer, or its CA did not issue this certificate"
        )),
    }
}

/// Whether a peer's connection would still be admitted: the region is an
/// active peer, and its CA's current verifier (with the CRL its hub last
/// served) accepts the certificate the connection was opened with.
fn still_admitted(conn: &quinn::Connection, shared: &Shared, region: &str) -> Result<(), String> {
    let verifier = shared
        .verifiers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .peers
        .get(region)
        .cloned()
        .ok_or("PEER_UNKNOWN: no longer a peer of this hub")?;
    let certs = client_chain(conn, "PEER_UNKNOWN")?;
    let (first, rest) = certs
        .split_first()
        .ok_or("PEER_UNKNOWN: empty certificate chain")?;
    verifier
        .verify_client_cert(first, rest, rustls::pki_types::UnixTime::now())
        .map(|_| ())
        .map_err(|e| format!("PEER_UNKNOWN: the certificate is no longer admitted: {e}"))
}

/// A peer hub's connection: it may fetch the trust list and ask the
/// `hub.peer.*` services, nothing else; it ends when the peer is removed or
/// its certificate is no longer admitted (e.g. revoked by its CA).
async fn serve_peer(
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
                    conn.close(close::DEPARTMENT_REFUSED.into(), why.as_bytes());
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
                    == Some(crate::peering::PEER_REQUEST);
                let permit = if forwarded {
                    shared.forwards_budget.try_acquire(&party, 1)
                } else {
                    shared.peer_budget.try_acquire(&party, 1)
                };
                match permit {
                    Ok(_permit) => {
                        match crate::peering::answer_peer(&shared, &region, envelope, timeout_ms)
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

/// Writes the region's trust list as a blob.
async fn serve_trust(shared: &Shared, send: &mut quinn::SendStream) {
    match crate::trust::current(shared).await {
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

/// The department code a client certificate names (its subject CN).
fn department_named(cert: &rustls::pki_types::CertificateDer<'_>) -> Result<String, String> {
    first_common_name(cert)?
        .ok_or_else(|| "DEPARTMENT_UNKNOWN: the certificate names no department".to_owned())
}

/// A certificate's first subject CN, if it has one.
fn first_common_name(
    cert: &rustls::pki_types::CertificateDer<'_>,
) -> Result<Option<String>, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| "DEPARTMENT_UNKNOWN: unparsable client certificate".to_owned())?;
    Ok(cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned))
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

struct StreamCtx {
    department: String,
    shared: Arc<Shared>,
    ingest: Ingest,
    stop: watch::Receiver<bool>,
}

/// Reads frames off a stream, holding the party's share of frame memory
/// for what it has buffered, within the read deadline.
struct Reader {
    recv: quinn::RecvStream,
    decoder: Decoder,
    max_frame: usize,
    done: bool,
    /// The most bytes buffered since the buffer was last empty (its memory
    /// stays allocated until then).
    held: Share,
    read_timeout: Duration,
    /// Whether a frame was read: the first one has a deadline; between
    /// frames a stream may be quiet (a listener waiting for deliveries).
    started: bool,
    /// When the wait in progress for bytes (the first frame's, or the rest
    /// of a frame's) ends; kept when `next` is cancelled and called again.
    deadline: Option<tokio::time::Instant>,
}

impl Reader {
    fn new(recv: quinn::RecvStream, shared: &Shared, party: &str) -> Reader {
        Reader {
            recv,
            decoder: Decoder::new(shared.config.max_frame),
            max_frame: shared.config.max_frame,
            done: false,
            held: shared.frames.empty(party),
            read_timeout: shared.config.read_timeout,
            started: false,
            deadline: None,
        }
    }

    /// The next frame; `None` at the end of the stream. Cancel-safe.
    async fn next(&mut self) -> Result<Option<Value>, ProtoError> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                self.started = true;
                self.release();
                return Ok(Some(f));
            }
            if self.done {
                return Ok(None);
            }
            let waiting = !self.started || self.decoder.pending() > 0;
            let deadline = if waiting {
                Some(
                    *self
                        .deadline
                        .get_or_insert_with(|| tokio::time::Instant::now() + self.read_timeout),
                )
            } else {
                None
            };
            let read = self.recv.read_chunk(READ_CHUNK, true);
            let read = match deadline {
                Some(at) => tokio::time::timeout_at(at, read)
                    .await
                    .map_err(|_| self.timed_out())?,
                None => read.await,
            };
            match read {
                Ok(Some(chunk)) => {
                    self.deadline = None;
                    self.hold(self.decoder.pending() + chunk.bytes.len())?;
                    self.decoder.push(&chunk.bytes);
                }
                Ok(None) => {
                    self.done = true;
                    self.decoder.finish()?;
                }
                Err(e) => {
                    self.done = true;
                    return Err(ProtoError::new(
                        ErrorCode::FrameTruncated,
                        format!("stream ended: {e}"),
                    ));
                }
            }
        }
    }

    fn timed_out(&mut self) -> ProtoError {
        self.done = true;
        let waited = self.read_timeout.as_secs_f32();
        let message = if self.started {
            format!(
                "the rest of a frame did not come within {waited} s ({} bytes of it came)",
                self.decoder.pending()
            )
        } else {
            format!("no frame came on the stream within {waited} s")
        };
        ProtoError::new(ErrorCode::ReadTimeout, message)
    }

    /// Holds `buffered` bytes of frame memory, if more than held.
    fn hold(&mut self, buffered: usize) -> Result<(), ProtoError> {
        let buffered = buffered as u64;
        if buffered > self.held.held() {
            self.held
                .resize(buffered)
                .inspect_err(|_| self.done = true)?;
        }
        Ok(())
    }

    /// Gives the frame memory back once nothing is buffered, with the
    /// buffer itself.
    fn release(&mut self) {
        if self.decoder.pending() == 0 && self.held.held() > 0 {
            self.decoder = Decoder::new(self.max_frame);
            let _ = self.held.resize(0);
        }
    }

    /// The bytes buffered after the last frame (an upload's first bytes),
    /// which then count against the upload's share instead.
    fn take_rest(&mut self) -> Vec<u8> {
        let rest = self.decoder.take_rest();
        self.release();
        rest
    }
}

/// Writes `bytes`, each piece taken by the client within `deadline`;
/// false when it was not (or the stream is gone).
async fn write_within(send: &mut quinn::SendStream, bytes: &[u8], deadline: Duration) -> bool {
    for piece in bytes.chunks(READ_CHUNK) {
        match tokio::time::timeout(deadline, send.write_all(piece)).await {
            Ok(Ok(())) => {}
            _ => return false,
        }
    }
    true
}

async fn write(send: &mut quinn::SendStream, op: &ServerOp) -> bool {
    send.write_all(&tongban_proto::encode(&op.to_value()))
        .await
        .is_ok()
}

/// A `deliver` frame around stored envelope text (no re-serialisation).
fn deliver_frame(delivery: u64, envelope_json: &str) -> Vec<u8> {
    let body =
        format!("{{\"op\":\"deliver\",\"delivery\":{delivery},\"envelope\":{envelope_json}}}");
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(body.as_bytes());
    out
}

fn envelope_id(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_owned)
}

fn service_error(e: &tongban_service::Error) -> ProtoError {
    if !matches!(e, tongban_service::Error::Rejected { .. }) {
        return crate::failures::service(e, "the hub could not change the subscriptions");
    }
    let code = match e.code() {
        "CATALOGUE_UNKNOWN" => ErrorCode::ResourceUnknown,
        "DEPARTMENT_SUSPENDED" => ErrorCode::DepartmentInactive,
        other => ErrorCode::parse(other),
    };
    ProtoError::new(code, e.to_string())
}

async fn serve_stream(mut send: quinn::SendStream, recv: quinn::RecvStream, ctx: StreamCtx) {
    let mut reader = Reader::new(recv, &ctx.shared, &ctx.department);
    if *ctx.stop.borrow() {
        write(
            &mut send,
            &ServerOp::error(
                None,
                &ProtoError::new(ErrorCode::ShuttingDown, "the hub is shutting down"),
            ),
        )
        .await;
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
    match ClientOp::parse(first) {
        Ok(ClientOp::Send { envelope }) => send_loop(envelope, reader, &mut send, &ctx).await,
        Ok(ClientOp::Request {
            envelope,
            timeout_ms,
        }) => request(envelope, timeout_ms, &mut send, &ctx).await,
        Ok(ClientOp::Listen { max_in_flight }) => {
            listen(max_in_flight, reader, &mut send, ctx).await
        }
        Ok(ClientOp::Subscribe { topics }) => {
            let r = ctx.shared.hub.subscribe(&ctx.department, &topics).await;
            reply_subscriptions(r, &mut send).await;
        }
        Ok(ClientOp::Unsubscribe { topics }) => {
            let r = ctx.shared.hub.unsubscribe(&ctx.department, &topics).await;
            reply_subscriptions(r, &mut send).await;
        }
        Ok(ClientOp::Records {
            resource,
            after,
            limit,
        }) => {
            let reply = match records(&ctx, &resource, after, limit).await {
                Ok(op) => op,
                Err(e) => {
                    ctx.shared
                        .refusals
                        .count(&ctx.shared, &ctx.department, &resource, e.code);
                    ServerOp::error(None, &e)
                }
            };
            write(&mut send, &reply).await;
        }
        Ok(ClientOp::Upload {
            sha256,
            size,
            media_type,
        }) => {
            let announced = tongban_store::BlobInfo {
                sha256: sha256.clone(),
                size,
                media_type,
            };
            let incoming = crate::blobs::Incoming {
                buffered: reader.take_rest(),
                recv: &mut reader.recv,
            };
            let reply =
                match crate::blobs::upload(&ctx.shared, &ctx.department, announced, incoming).await
                {
                    Ok(()) => ServerOp::Uploaded { sha256, size },
                    Err(e) => {
                        // Stop the rest of a refused upload at once.
                        let _ = reader.recv.stop(0u32.into());
                        ServerOp::error(None, &e)
                    }
                };
            write(&mut send, &reply).await;
        }
        Ok(ClientOp::Trust) => serve_trust(&ctx.shared, &mut send).await,
        Ok(ClientOp::Download { sha256 }) => {
            match crate::blobs::download(&ctx.shared, &ctx.department, &sha256).await {
                Ok((info, bytes, _share)) => {
                    let header = ServerOp::Blob {
                        sha256: info.sha256,
                        size: info.size,
                        media_type: info.media_type,
                    };
                    if write(&mut send, &header).await
                        && !write_within(&mut send, &bytes, ctx.shared.config.read_timeout).await
                    {
                        // A client that stopped taking the bytes gives back
                        // the memory they hold.
                        tracing::info!(department = %ctx.department, %sha256, "download cut: the client stopped reading");
                        let _ = send.reset(0u32.into());
                        return;
                    }
                }
                Err(e) => {
                    write(&mut send, &ServerOp::error(None, &e)).await;
                }
            }
        }
        Ok(_) => {
            let e = ProtoError::new(
                ErrorCode::FrameMalformed,
                "a stream starts with send, request, listen, subscribe, unsubscribe, upload, download, records or trust",
            );
            write(&mut send, &ServerOp::error(None, &e)).await;
        }
        Err(e) => {
            write(&mut send, &ServerOp::error(None, &e)).await;
        }
    }
    let _ = send.finish();
}

async fn reply_subscriptions(
    r: tongban_service::Result<Vec<String>>,
    send: &mut quinn::SendStream,
) {
    match r {
        Ok(topics) => write(send, &ServerOp::Subscribed { topics }).await,
        Err(e) => write(send, &ServerOp::error(None, &service_error(&e))).await,
    };
}

fn reply_for(id: Option<String>, result: Result<Outcome, ProtoError>) -> ServerOp {
    match result {
        Ok(o) => ServerOp::Accepted {
            id: o.verified.header.id.clone(),
            seq: o.seq,
        },
        Err(e) => ServerOp::error(id, &e),
    }
}

/// `send` frames, pipelined: up to `window_per_stream` in flight, answered in order.
async fn send_loop(
    first: Value,
    mut reader: Reader,
    send: &mut quinn::SendStream,
    ctx: &StreamCtx,
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
        ctx.ingest
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
                            inflight.push_back((id, ctx.ingest.enqueue(&ctx.department, envelope, Kind::Message).await));
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

/// A page of a resource's records, if the catalogue's rule admits the
/// department; the read is in the audit log.
async fn records(
    ctx: &StreamCtx,
    resource: &str,
    after: u64,
    limit: u32,
) -> Result<ServerOp, ProtoError> {
    let hub = &ctx.shared.hub;
    let now = hub.now();
    let mut view = ctx.shared.snapshot.view();
    if view.access.resource(resource).is_none() {
        ctx.shared.snapshot.refresh_on_miss().await;
        view = ctx.shared.snapshot.view();
    }
    let basis = view
        .access
        .check(&ctx.department, resource, now)
        .map_err(crate::ingest::refusal)?;
    let audit = [tongban_store::AuditRecord::new(
        now,
        &ctx.department,
        "exchange.records",
        resource,
        serde_json::json!({"after": after, "limit": limit, "basis": basis.to_detail()}),
    )];
    // A page stays well inside one frame; at most a few pages are read at
    // once hub-wide.
    let budget = ctx.shared.config.max_frame.saturating_sub(64 * 1024);
    let _share = ctx.shared.records_budget.try_acquire(&ctx.department, 1)?;
    let (rows, cut) = hub
        .store()
        .resource_records(resource, after, limit as usize, budget, &audit)
        .await
        .map_err(|e| crate::failures::store(&e, "the hub could not read the records"))?;
    let full = rows.len() == limit as usize;
    let mut records = Vec::with_capacity(rows.len());
    for (seq, text) in rows {
        let envelope: Value = serde_json::from_str(&text).map_err(|e| {
            crate::failures::store(
                &tongban_store::StoreError::Corrupt(format!("record {seq}: {e}")),
                "the hub could not read the records",
            )
        })?;
        records.push((seq, envelope));
    }
    let next = if full || cut {
        records.last().map(|(seq, _)| *seq)
    } else {
        None
    };
    Ok(ServerOp::Records { records, next })
}

async fn request(envelope: Value, timeout_ms: u64, send: &mut quinn::SendStream, ctx: &StreamCtx) {
    let id = envelope_id(&envelope);
    // Another region's resource (`{region}:{id}`): through the two hubs.
    let elsewhere = envelope
        .get("resource")
        .and_then(Value::as_str)
        .is_some_and(|r| crate::crossing::split(r).is_some());
    if elsewhere {
        let forwarded = match ctx.shared.pulls_budget.try_acquire(&ctx.department, 1) {
            Ok(_share) => {
                crate::crossing::forward(&ctx.shared, &ctx.department, envelope, timeout_ms).await
            }
            Err(e) => Err(e),
        };
        let reply = match forwarded {
            Ok(envelope) => ServerOp::Response { envelope },
            Err(e) => ServerOp::error(id, &e),
        };
        write(send, &reply).await;
        return;
    }
    // A request to one of the hub's services takes its slot before it is
    // stored: one refused for want of a slot leaves nothing behind.
    let service = envelope
        .get("resource")
        .and_then(Value::as_str)
        .and_then(crate::services::by_resource);
    let slot = match service.map(|s| service_slot(ctx, s)).transpose() {
        Ok(slot) => slot,
        Err(e) => {
            let resource = crate::refusals::resource_of(&envelope);
            ctx.shared
                .refusals
                .count(&ctx.shared, &ctx.department, &resource, e.code);
            write(send, &ServerOp::error(id, &e)).await;
            return;
        }
    };
    let outcome = match ctx
        .ingest
        .submit(&ctx.department, envelope, Kind::Request)
        .await
    {
        Ok(o) => o,
        Err(e) => {
            write(send, &ServerOp::error(id, &e)).await;
            return;
        }
    };
    let h = &outcome.verified.header;
    if let Some(service) = service.filter(|s| s.resource == h.resource) {
        let answered = crate::services::answer(&ctx.shared, service, &outcome.verified).await;
        drop(slot);
        let reply = match answered {
            Ok(envelope) => ServerOp::Response { envelope },
            Err(e) => {
                ctx.shared
                    .refusals
                    .count(&ctx.shared, &ctx.department, &h.resource, e.code);
                ServerOp::error(id, &e)
            }
        };
        write(send, &reply).await;
        return;
    }
    let provider = match ctx.shared.snapshot.view().access.resource(&h.resource) {
        Some(r) => r.provider.clone(),
        None => {
            write(
                send,
                &ServerOp::error(
                    id,
                    &ProtoError::new(ErrorCode::ResourceUnknown, "the resource disappeared"),
                ),
            )
            .await;
            return;
        }
    };
    let rx = match ctx.shared.registry.route_request(
        &h.sender,
        &h.id,
        &provider,
        &h.resource,
        (outcome.seq, outcome.verified.to_value()),
    ) {
        Ok(rx) => rx,
        Err(e) => {
            write(send, &ServerOp::error(id, &e)).await;
            return;
        }
    };
    let answered = ctx
        .shared
        .registry
        .wait_answer(
            rx,
            (&h.sender, &h.id),
            &provider,
            Duration::from_millis(timeout_ms),
        )
        .await;
    let reply = match answered {
        Ok(envelope) => ServerOp::Response { envelope },
        Err(e) => ServerOp::error(id, &e),
    };
    write(send, &reply).await;
}

/// A slot to answer a request to one of the hub's services: a pull across
/// regions (`hub.region.licences`) or another service.
fn service_slot(ctx: &StreamCtx, service: &crate::services::Service) -> Result<Share, ProtoError> {
    let budget = if service.resource == crate::peering::REGION_LICENCES {
        &ctx.shared.pulls_budget
    } else {
        &ctx.shared.services_budget
    };
    budget.try_acquire(&ctx.department, 1)
}

/// Deliveries out (stored ones, in order, within the window; requests as
/// they come), acknowledgements and responses in.
async fn listen(
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
                shared.refusals.count(
                    shared,
                    dept,
                    &resource,
                    crate::ingest::refusal(refusal).code,
                );
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
