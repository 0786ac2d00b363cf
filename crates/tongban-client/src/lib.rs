//! Client library for department systems: connect to a Tongban hub over
//! QUIC with the department's client certificate, and send, request,
//! subscribe, listen and acknowledge with envelopes signed by the
//! department's key.
//!
//! ```no_run
//! # async fn demo(config: tongban_client::ClientConfig) -> Result<(), tongban_client::ClientError> {
//! let client = tongban_client::Client::connect(config).await?;
//! let draft = client.message_to("11440114MB2C00015N", "business-registration", "business-registration@1",
//!     serde_json::json!({"uscc": "91440114MA5TB0A01K"}));
//! let accepted = client.send(draft).await?;
//! println!("stored by the hub as #{}", accepted.seq);
//! # Ok(()) }
//! ```
//!
//! A hub may be reached at several addresses (the nodes of one hub):
//! [`Connector`] tries them in turn, each within
//! [`Timeouts::connect_timeout`], and [`Client::reconnect`] moves on to the
//! next address after the one whose connection was lost. [`Backoff`] spaces
//! out attempts; [`ClientError::is_transient`] says whether another attempt
//! may succeed. [`Failover`] does all of it for senders: one connection
//! shared by tasks, made again on the next node when it breaks, and an
//! envelope whose acknowledgement was lost sent again until the hub has it
//! (a `REPLAY` of its own resend counts as stored).
//!
//! The keep-alive (2 s) and idle timeout (8 s) are the hub's.
//! `ClientError::Rejected` is a refusal no retry changes: close code 1, or a
//! TLS alert about the certificate. `Listener::finish` ends a listen stream
//! once the hub has taken its acks. `send`, `request` and `respond` offload
//! payloads over [`DEFAULT_INLINE_LIMIT`] (512 KiB) to a blob. `records` reads
//! one page. The hub's own services are asked with `ask_hub` over a
//! `HubRequest`: the answer is a `HubAnswer` with the hub's signed envelope,
//! unverified, and its payload read into the answer's struct
//! (`ClientError::AnswerInvalid` when it does not fit); `ClientError::reason`
//! is a hub service's code. The hub links to peer hubs with this client too:
//! connected as its own id with its peer certificate and its hub key, it
//! fetches a peer's trust list with `trust_list` and asks `hub.peer.licences`
//! with `request_for` and `request`.
#![forbid(unsafe_code)]

mod backoff;
mod failover;

pub use backoff::{Backoff, DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX};
pub use failover::{DEFAULT_RETRY_ATTEMPTS, Failover, Retry, Stored};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use tongban_proto::error::close;
use tongban_proto::services::{
    CaseEvent, CaseLicenceQuery, CaseLicences, CaseResult, CaseResultIssued, CaseStanding,
    HubAnswer, HubRequest, NoticeAnswer, NoticeState, OrderNew, OrderState, OrderStep,
    RegionLicenceQuery, RegionLicences,
};
use tongban_proto::{ClientOp, Decoder, Draft, ErrorCode, Kind, ProtoError, ServerOp};
use tongban_seal::SigningKey;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The hub refused the operation (the code says why).
    #[error("{0}")]
    Refused(ProtoError),
    /// No address of the hub could be connected to; what each one did.
    #[error("connect: {0}")]
    Connect(ConnectError),
    /// The hub turned this client away for good: it closed the connection
    /// with code 1 `DEPARTMENT_REFUSED` (the reason phrase starts with a
    /// code such as `DEPARTMENT_INACTIVE`), or refused its certificate at
    /// the TLS handshake. Reconnecting will not help until an operator
    /// acts.
    #[error("refused by the hub: {0}")]
    Rejected(String),
    /// The connection or stream broke (the hub shut down, the network or
    /// the hub vanished, …); reconnecting may help.
    #[error("connection: {0}")]
    Connection(String),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The hub answered with a payload its service's answer schema does
    /// not describe.
    #[error("answer: {0}")]
    AnswerInvalid(String),
}

impl ClientError {
    /// The hub's error code, when it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused(e) => Some(e.code),
            _ => None,
        }
    }

    /// For `SERVICE_REFUSED`: the hub service's own code (e.g. `ITEM_UNKNOWN`).
    pub fn reason(&self) -> Option<&str> {
        match self {
            ClientError::Refused(e) => e.reason.as_deref(),
            _ => None,
        }
    }

    /// Whether trying again later (on a new connection, perhaps to another
    /// address) may succeed: a lost connection, a hub that did not answer
    /// or is shutting down, a refusal for a passing reason (`BUSY`,
    /// `SHUTTING_DOWN`, `STORE_UNAVAILABLE`, `READ_TIMEOUT`,
    /// `PROVIDER_UNAVAILABLE`, `REQUEST_TIMEOUT`, `INTERNAL`). Not a
    /// rejection of the department or its certificate, an unusable
    /// configuration, or a refusal of what was sent.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Refused(e) => matches!(
                e.code,
                ErrorCode::Busy
                    | ErrorCode::ShuttingDown
                    | ErrorCode::StoreUnavailable
                    | ErrorCode::ReadTimeout
                    | ErrorCode::ProviderUnavailable
                    | ErrorCode::RequestTimeout
                    | ErrorCode::Internal
            ),
            ClientError::Connect(e) => e.is_transient(),
            ClientError::Connection(_) => true,
            ClientError::Rejected(_) | ClientError::Config(_) | ClientError::AnswerInvalid(_) => {
                false
            }
        }
    }
}

/// Why no address of the hub could be connected to: one failure per
/// address, in the order they were tried.
#[derive(Debug, Clone)]
pub struct ConnectError {
    /// What each address did.
    pub failures: Vec<ConnectFailure>,
}

/// What one address of the hub did when connected to.
#[derive(Debug, Clone)]
pub struct ConnectFailure {
    /// The address tried.
    pub addr: SocketAddr,
    /// What happened, for people.
    pub message: String,
    /// Whether the hub there turned the client away for good (TLS refused
    /// a certificate, `DEPARTMENT_REFUSED`) or the configuration is
    /// unusable, rather than not answering.
    pub rejected: bool,
}

impl ConnectError {
    /// Whether another attempt may succeed: some address failed for a
    /// passing reason (no answer, shutting down, busy). A hub that turned
    /// the client away at one address while another did not answer is
    /// tried again, so that a client outlives a node's restart.
    pub fn is_transient(&self) -> bool {
        self.failures.iter().any(|f| !f.rejected)
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", failure.addr, failure.message)?;
        }
        Ok(())
    }
}

/// How long the client waits to connect, and how it keeps a connection
/// alive and notices a dead one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long one address may take to complete the handshake before the
    /// next is tried (QUIC gets no "connection refused": a hub that is
    /// down simply does not answer).
    pub connect_timeout: Duration,
    /// Send a keep-alive PING on a connection quiet for this long.
    pub keep_alive: Duration,
    /// Give the connection up when nothing arrived from the hub for this
    /// long (QUIC takes the smaller of the hub's and this): how soon a hub
    /// that vanished is noticed.
    pub idle_timeout: Duration,
}

/// The default [`Timeouts::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default [`Timeouts::keep_alive`]: the hub's own default.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(2);
/// The default [`Timeouts::idle_timeout`]: the hub's own default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(8);

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keep_alive: DEFAULT_KEEP_ALIVE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// How to reach the hub and who we are.
pub struct ClientConfig {
    /// The hub's addresses (the nodes of one hub), tried in this order;
    /// at least one.
    pub hubs: Vec<SocketAddr>,
    /// The name in the hub's server certificate.
    pub server_name: String,
    /// The hub CA's certificate (PEM).
    pub ca_pem: String,
    /// Our client certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PEM).
    pub key_pem: String,
    /// Our department code (the certificate's subject).
    pub department: String,
    /// The key our envelopes are signed with.
    pub signing_key: SigningKey,
    /// Connect timeout, keep-alive and idle timeout.
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("hubs", &self.hubs)
            .field("department", &self.department)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// Makes connections to a hub with one or several addresses: each
/// [`connect`](Connector::connect) tries the addresses in turn, starting
/// with the first, and after a connection was made, with the address after
/// the one it was made to (so that a client whose node died moves on to
/// the next). Cheap to clone; clones share that position.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Dialer>,
}

struct Dialer {
    hubs: Vec<SocketAddr>,
    server_name: String,
    quic: quinn::ClientConfig,
    connect_timeout: Duration,
    department: String,
    key: Arc<SigningKey>,
    /// Where the next connect starts in `hubs`.
    next: AtomicUsize,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("hubs", &self.inner.hubs)
            .field("department", &self.inner.department)
            .finish_non_exhaustive()
    }
}

/// A connection to the hub.
#[derive(Clone)]
pub struct Client {
    conn: quinn::Connection,
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    connector: Connector,
    department: String,
    key: Arc<SigningKey>,
    max_frame: usize,
    inline_limit: usize,
}

/// Payloads whose JSON text is longer than this go to the hub's blob store
/// and travel by reference (the hub's default frame limit is 1 MiB).
pub const DEFAULT_INLINE_LIMIT: usize = 512 * 1024;

/// Lower-case hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    tongban_seal::hex(&tongban_seal::sha256(bytes))
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("department", &self.department)
            .finish_non_exhaustive()
    }
}

/// The hub's acknowledgement: stored, logged, and will be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Envelope id.
    pub id: String,
    /// The hub's sequence number.
    pub seq: u64,
}

pub use tongban_proto::new_id;

fn quic_client_config(cfg: &ClientConfig) -> Result<quinn::ClientConfig, ClientError> {
    let bad = |e: &dyn std::fmt::Display| ClientError::Config(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cfg.ca_pem.as_bytes()).map_err(|e| bad(&e))?)
        .map_err(|e| bad(&e))?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cfg.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(cfg.key_pem.as_bytes()).map_err(|e| bad(&e))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| bad(&e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad(&e))?;
    tls.alpn_protocols = vec![tongban_proto::ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| bad(&e))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let t = &cfg.timeouts;
    transport
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(t.idle_timeout).map_err(|e| bad(&e))?,
        ))
        .keep_alive_interval(Some(
            t.keep_alive
                .min(t.idle_timeout / 2)
                .max(Duration::from_millis(100)),
        ));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

impl Connector {
    /// Checks the configuration (addresses, certificates, key) once for
    /// every connection to come.
    pub fn new(cfg: ClientConfig) -> Result<Connector, ClientError> {
        if cfg.hubs.is_empty() {
            return Err(ClientError::Config("no hub address".into()));
        }
        if cfg.timeouts.idle_timeout.is_zero() || cfg.timeouts.connect_timeout.is_zero() {
            return Err(ClientError::Config(
                "the idle and connect timeouts must be longer than zero".into(),
            ));
        }
        let quic = quic_client_config(&cfg)?;
        Ok(Connector {
            inner: Arc::new(Dialer {
                hubs: cfg.hubs,
                server_name: cfg.server_name,
                quic,
                connect_timeout: cfg.timeouts.connect_timeout,
                department: cfg.department,
                key: Arc::new(cfg.signing_key),
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// The hub's addresses, in the configured order.
    pub fn hubs(&self) -> &[SocketAddr] {
        &self.inner.hubs
    }

    /// Connects to the first address that answers, trying each once in
    /// turn, each within the connect timeout; the error names every
    /// address and what it did.
    pub async fn connect(&self) -> Result<Client, ClientError> {
        let hubs = &self.inner.hubs;
        let start = self.inner.next.load(Ordering::Relaxed) % hubs.len();
        let mut failures = Vec::with_capacity(hubs.len());
        for i in 0..hubs.len() {
            let at = (start + i) % hubs.len();
            match self.dial(hubs[at]).await {
                Ok((endpoint, conn)) => {
                    self.inner.next.store(at + 1, Ordering::Relaxed);
                    return Ok(self.client(endpoint, conn, hubs[at]));
                }
                Err(failure) => failures.push(failure),
            }
        }
        Err(ClientError::Connect(ConnectError { failures }))
    }

    fn client(
        &self,
        endpoint: quinn::Endpoint,
        conn: quinn::Connection,
        addr: SocketAddr,
    ) -> Client {
        Client {
            conn,
            endpoint,
            addr,
            connector: self.clone(),
            department: self.inner.department.clone(),
            key: Arc::clone(&self.inner.key),
            // What the hub sends may wrap a maximal envelope in a slightly
            // larger frame: accept up to the protocol's ceiling.
            max_frame: tongban_proto::frame::MAX_FRAME_CEILING,
            inline_limit: DEFAULT_INLINE_LIMIT,
        }
    }

    /// One address, on an endpoint of its own (addresses may mix IPv4 and
    /// IPv6, and a failed attempt leaves nothing behind).
    async fn dial(
        &self,
        addr: SocketAddr,
    ) -> Result<(quinn::Endpoint, quinn::Connection), ConnectFailure> {
        let failure = |message: String, rejected: bool| ConnectFailure {
            addr,
            message,
            rejected,
        };
        let bind = if addr.is_ipv6() {
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
        };
        let mut endpoint =
            quinn::Endpoint::client(bind).map_err(|e| failure(e.to_string(), false))?;
        endpoint.set_default_client_config(self.inner.quic.clone());
        let connecting = endpoint
            .connect(addr, &self.inner.server_name)
            .map_err(|e| failure(e.to_string(), true))?;
        let wait = self.inner.connect_timeout;
        match tokio::time::timeout(wait, connecting).await {
            Ok(Ok(conn)) => Ok((endpoint, conn)),
            Ok(Err(e)) => Err(failure(describe(&e), is_rejection(&e))),
            Err(_) => Err(failure(
                format!(
                    "no answer within {} (is the hub running, and is this its address?)",
                    seconds(wait)
                ),
                false,
            )),
        }
    }
}

/// Whether a connection error turns the client away for good: the hub
/// closed with `DEPARTMENT_REFUSED` or `PROTOCOL`, or TLS refused a
/// certificate (ours at the hub, or the hub's here).
fn is_rejection(e: &quinn::ConnectionError) -> bool {
    let crypto = |code: u64| (0x100..0x200).contains(&code);
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => matches!(
            u32::try_from(c.error_code.into_inner()),
            Ok(close::DEPARTMENT_REFUSED | close::PROTOCOL)
        ),
        quinn::ConnectionError::ConnectionClosed(c) => crypto(c.error_code.into()),
        quinn::ConnectionError::TransportError(t) => crypto(t.code.into()),
        quinn::ConnectionError::VersionMismatch => true,
        _ => false,
    }
}

/// A connection error for people: the hub's reason phrase when it closed
/// the connection, else quinn's words.
fn describe(e: &quinn::ConnectionError) -> String {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) if !c.reason.is_empty() => {
            String::from_utf8_lossy(&c.reason).into_owned()
        }
        quinn::ConnectionError::TimedOut => {
            "timed out: nothing came from the hub within the idle timeout".to_owned()
        }
        quinn::ConnectionError::ConnectionClosed(c) => {
            let code = u64::from(c.error_code);
            match u8::try_from(code.wrapping_sub(0x100)) {
                Ok(alert) => {
                    let reason = String::from_utf8_lossy(&c.reason);
                    let detail = if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    };
                    format!(
                        "the hub refused the TLS handshake with alert {} ({alert}, QUIC code {code:#06x}){detail}",
                        tls_alert(alert)
                    )
                }
                Err(_) => c.to_string(),
            }
        }
        other => other.to_string(),
    }
}

/// The name of a TLS alert the hub sends when it refuses a client
/// (docs/PROTOCOL.md §2.1).
fn tls_alert(alert: u8) -> &'static str {
    match alert {
        42 => "bad_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        48 => "unknown_ca",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => "(other)",
    }
}

/// `5 s`, `0.5 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// Reads hub frames off a stream.
struct Reader {
    conn: quinn::Connection,
    recv: quinn::RecvStream,
    decoder: Decoder,
    done: bool,
}

impl Reader {
    async fn read(&mut self) -> Result<Option<ServerOp>, ClientError> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(ClientError::Refused)? {
                return ServerOp::parse(frame)
                    .map(Some)
                    .map_err(ClientError::Refused);
            }
            if self.done {
                return Ok(None);
            }
            match self.recv.read_chunk(64 * 1024, true).await {
                Ok(Some(c)) => self.decoder.push(&c.bytes),
                Ok(None) => self.done = true,
                Err(e) => return Err(connection_error(&self.conn, e.to_string())),
            }
        }
    }

    async fn expect(&mut self) -> Result<ServerOp, ClientError> {
        match self.read().await? {
            Some(op) => op.into_refusal().map_err(ClientError::Refused),
            None => Err(ClientError::Connection("the hub closed the stream".into())),
        }
    }
}

/// A stream's writer and reader.
struct Stream {
    send: quinn::SendStream,
    reader: Reader,
}

impl Stream {
    async fn write(&mut self, op: &ClientOp) -> Result<(), ClientError> {
        self.send
            .write_all(&tongban_proto::encode(&op.to_value()))
            .await
            .map_err(|e| connection_error(&self.reader.conn, e.to_string()))
    }
}

impl Client {
    /// Connects and authenticates, trying the configured addresses in turn
    /// (see [`Connector`]).
    pub async fn connect(cfg: ClientConfig) -> Result<Client, ClientError> {
        Connector::new(cfg)?.connect().await
    }

    /// A new connection with the same settings, trying first the address
    /// after this one's. For a client whose connection was lost: its
    /// listen streams ended with it (listen again; what was delivered and
    /// not acknowledged comes again), and a `send` or `request` whose
    /// answer did not arrive may be sent again — a `send` with the same
    /// envelope, which gets `REPLAY` if the hub had stored it, a `request`
    /// with a new one.
    pub async fn reconnect(&self) -> Result<Client, ClientError> {
        self.connector.connect().await
    }

    /// The address this connection was made to.
    pub fn hub(&self) -> SocketAddr {
        self.addr
    }

    /// What makes this client's connections.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// Our department code.
    pub fn department(&self) -> &str {
        &self.department
    }

    /// The certificate the hub presented (DER), e.g. to look it up in its
    /// CA's CRL.
    pub fn server_certificate(&self) -> Option<Vec<u8>> {
        let identity = self.conn.peer_identity()?;
        let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
        chain.first().map(|c| c.to_vec())
    }

    async fn open(&self) -> Result<Stream, ClientError> {
        let (send, recv) = self
            .conn
            .open_bi()
            .await
            .map_err(|e| connection_error(&self.conn, e.to_string()))?;
        Ok(Stream {
            send,
            reader: Reader {
                conn: self.conn.clone(),
                recv,
                decoder: Decoder::new(self.max_frame),
                done: false,
            },
        })
    }

    fn draft(&self, kind: Kind, resource: &str, schema: &str, payload: Value) -> Draft {
        Draft {
            id: new_id(),
            sender: self.department.clone(),
            recipient: None,
            topic: None,
            resource: resource.to_owned(),
            schema: schema.to_owned(),
            kind,
            correlation_id: None,
            time: time::OffsetDateTime::now_utc(),
            payload: Some(payload),
            payload_ref: None,
        }
    }

    /// A message for one department.
    pub fn message_to(
        &self,
        recipient: &str,
        resource: &str,
        schema: &str,
        payload: Value,
    ) -> Draft {
        Draft {
            recipient: Some(recipient.to_owned()),
            ..self.draft(Kind::Message, resource, schema, payload)
        }
    }

    /// A message published on a resource's topic.
    pub fn publication(&self, resource: &str, schema: &str, payload: Value) -> Draft {
        Draft {
            topic: Some(resource.to_owned()),
            ..self.draft(Kind::Message, resource, schema, payload)
        }
    }

    /// A request to a resource's provider.
    pub fn request_for(&self, resource: &str, schema: &str, payload: Value) -> Draft {
        self.draft(Kind::Request, resource, schema, payload)
    }

    /// Signs a draft with our key.
    pub fn sign(&self, draft: &Draft) -> Result<Value, ClientError> {
        draft.sign(&self.key).map_err(ClientError::Refused)
    }

    /// Payloads longer than `limit` bytes of JSON are uploaded and sent by
    /// reference (default [`DEFAULT_INLINE_LIMIT`]; keep it well under the
    /// hub's frame limit).
    pub fn with_inline_limit(mut self, limit: usize) -> Self {
        self.inline_limit = limit;
        self
    }

    /// Uploads a payload that is too long to travel inline and replaces it
    /// by a reference; other drafts are returned unchanged.
    pub async fn offload(&self, mut draft: Draft) -> Result<Draft, ClientError> {
        let Some(payload) = &draft.payload else {
            return Ok(draft);
        };
        let bytes = serde_json::to_vec(payload)
            .map_err(|e| ClientError::Config(format!("payload: {e}")))?;
        if bytes.len() <= self.inline_limit {
            return Ok(draft);
        }
        draft.payload_ref = Some(self.upload(bytes, "application/json").await?);
        draft.payload = None;
        Ok(draft)
    }

    /// Stores a blob in the hub; envelopes may then reference it. Only the
    /// department that uploaded a blob may reference it.
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> Result<tongban_proto::PayloadRef, ClientError> {
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        let mut s = self.open().await?;
        s.write(&ClientOp::Upload {
            sha256: sha256.clone(),
            size,
            media_type: media_type.to_owned(),
        })
        .await?;
        // A refusal may stop the stream before all bytes are written: the
        // hub's answer says why.
        let written = s.send.write_all(&bytes).await;
        let _ = s.send.finish();
        match s.reader.expect().await {
            Ok(ServerOp::Uploaded { sha256: got, .. }) if got == sha256 => {
                Ok(tongban_proto::PayloadRef {
                    sha256,
                    size,
                    media_type: media_type.to_owned(),
                })
            }
            Ok(other) => Err(ClientError::Connection(format!("unexpected {other:?}"))),
            Err(e) => match (e, written) {
                (e @ ClientError::Refused(_), _) => Err(e),
                (_, Err(w)) => Err(ClientError::Connection(w.to_string())),
                (e, Ok(())) => Err(e),
            },
        }
    }

    /// Fetches a blob we may read; checks its size and digest. Returns the
    /// bytes and their media type.
    pub async fn download(&self, sha256: &str) -> Result<(Vec<u8>, String), ClientError> {
        let (digest, bytes, media_type) = self
            .fetch_blob(&ClientOp::Download {
                sha256: sha256.to_owned(),
            })
            .await?;
        if digest != sha256 {
            return Err(ClientError::Connection(format!(
                "asked for blob {sha256}, the hub sent {digest}"
            )));
        }
        Ok((bytes, media_type))
    }

    /// The region's trust list: the hub's signed trust file (issuers, keys
    /// with validity windows, status lists, licence types). Check it with
    /// the hub's anchor key (`tongban_licence::trustfile::load`) before use.
    pub async fn trust_list(&self) -> Result<Value, ClientError> {
        let (_, bytes, _) = self.fetch_blob(&ClientOp::Trust).await?;
        tongban_seal::json::from_slice_strict(&bytes)
            .map_err(|e| ClientError::Connection(format!("the trust list is not strict JSON: {e}")))
    }

    /// Sends `op` and reads a `blob` header and its bytes, checking their
    /// size and digest: `(sha256, bytes, media type)`.
    async fn fetch_blob(&self, op: &ClientOp) -> Result<(String, Vec<u8>, String), ClientError> {
        let mut s = self.open().await?;
        s.write(op).await?;
        let _ = s.send.finish();
        let (sha256, size, media_type) = match s.reader.expect().await? {
            ServerOp::Blob {
                sha256,
                size,
                media_type,
            } => (sha256, size, media_type),
            other => return Err(ClientError::Connection(format!("unexpected {other:?}"))),
        };
        let size = usize::try_from(size)
            .map_err(|_| ClientError::Connection("blob too large for this platform".into()))?;
        let mut bytes = s.reader.decoder.take_rest();
        while !s.reader.done && bytes.len() <= size {
            match s.reader.recv.read_chunk(64 * 1024, true).await {
                Ok(Some(c)) => bytes.extend_from_slice(&c.bytes),
                Ok(None) => s.reader.done = true,
                Err(e) => return Err(connection_error(&s.reader.conn, e.to_string())),
            }
        }
        if bytes.len() != size || sha256_hex(&bytes) != sha256 {
            return Err(ClientError::Connection(format!(
                "blob {sha256}: received {} bytes that do not match",
                bytes.len()
            )));
        }
        Ok((sha256, bytes, media_type))
    }

    /// An envelope's payload: inline, or downloaded and parsed when it
    /// travels by reference.
    pub async fn payload(&self, envelope: &Value) -> Result<Value, ClientError> {
        match envelope.get("payloadRef") {
            None | Some(Value::Null) => Ok(envelope.get("payload").cloned().unwrap_or(Value::Null)),
            Some(r) => {
                let sha256 = r
                    .get("sha256")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ClientError::Connection("payloadRef without sha256".into()))?;
                let (bytes, _) = self.download(sha256).await?;
                if r.get("size").and_then(Value::as_u64) != Some(bytes.len() as u64) {
                    return Err(ClientError::Connection(format!(
                        "blob {sha256} does not have the referenced size"
                    )));
                }
                tongban_seal::json::from_slice_strict(&bytes).map_err(|e| {
                    ClientError::Connection(format!("blob {sha256} is not strict JSON: {e}"))
                })
            }
        }
    }

    /// Sends one message; returns once the hub has stored and logged it.
    /// A long payload is uploaded first and sent by reference.
    pub async fn send(&self, draft: Draft) -> Result<Accepted, ClientError> {
        let draft = self.offload(draft).await?;
        let envelope = self.sign(&draft)?;
        self.send_envelope(envelope).await
    }

    /// Sends one signed envelope on a stream of its own; returns once the
    /// hub has stored and logged it. Sent again after a lost
    /// acknowledgement, the same envelope gets `REPLAY` if the hub had
    /// stored it ([`Failover`] does this).
    pub async fn send_envelope(&self, envelope: Value) -> Result<Accepted, ClientError> {
        let mut s = self.open().await?;
        s.write(&ClientOp::Send { envelope }).await?;
        let _ = s.send.finish();
        match s.reader.expect().await? {
            ServerOp::Accepted { id, seq } => Ok(Accepted { id, seq }),
            other => Err(ClientError::Connection(format!("unexpected {other:?}"))),
        }
    }

    /// Sends already signed envelopes on one stream, pipelined (written while
    /// the acknowledgements come back); one result each, in order.
    pub async fn send_signed(
        &self,
        envelopes: Vec<Value>,
    ) -> Result<Vec<Result<Accepted, ProtoError>>, ClientError> {
        let Stream {
            mut send,
            mut reader,
        } = self.open().await?;
        let n = envelopes.len();
        let writer = tokio::spawn(async move {
            for envelope in envelopes {
                let frame = tongban_proto::encode(&ClientOp::Send { envelope }.to_value());
                if send.write_all(&frame).await.is_err() {
                    break;
                }
            }
            let _ = send.finish();
        });
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match reader.read().await?.map(ServerOp::into_refusal) {
                Some(Ok(ServerOp::Accepted { id, seq })) => out.push(Ok(Accepted { id, seq })),
                Some(Err(refusal)) => out.push(Err(refusal)),
                Some(Ok(_)) => {
                    return Err(ClientError::Connection(
                        "unexpected frame on a send stream".into(),
                    ));
                }
                None => break,
            }
        }
        let _ = writer.await;
        Ok(out)
    }

    /// Asks a provider and waits for its signed answer.
    pub async fn request(&self, draft: Draft, timeout_ms: u64) -> Result<Value, ClientError> {
        let draft = self.offload(draft).await?;
        let envelope = self.sign(&draft)?;
        let mut s = self.open().await?;
        s.write(&ClientOp::Request {
            envelope,
            timeout_ms,
        })
        .await?;
        let _ = s.send.finish();
        match s.reader.expect().await? {
            ServerOp::Response { envelope } => Ok(envelope),
            other => Err(ClientError::Connection(format!("unexpected {other:?}"))),
        }
    }

    /// Subscribes to topics; returns all our subscriptions.
    pub async fn subscribe(&self, topics: &[&str]) -> Result<Vec<String>, ClientError> {
        self.subscription(ClientOp::Subscribe {
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        })
        .await
    }

    /// Ends subscriptions; returns the remaining ones.
    pub async fn unsubscribe(&self, topics: &[&str]) -> Result<Vec<String>, ClientError> {
        self.subscription(ClientOp::Unsubscribe {
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        })
        .await
    }

    /// Asks one of the hub's own services (`hub.case.licences`,
    /// `hub.case.result`, `hub.region.licences`) and reads its signed
    /// answer, waiting at most `timeout_ms`.
    pub async fn ask_hub<Q: HubRequest>(
        &self,
        query: &Q,
        timeout_ms: u64,
    ) -> Result<HubAnswer<Q::Answer>, ClientError> {
        let payload = serde_json::to_value(query)
            .map_err(|e| ClientError::Config(format!("{}: {e}", Q::SCHEMA)))?;
        let draft = self.request_for(Q::RESOURCE, Q::SCHEMA, payload);
        let envelope = self.request(draft, timeout_ms).await?;
        HubAnswer::read(envelope).map_err(|e| {
            ClientError::AnswerInvalid(format!("{} is not {}: {e}", Q::RESOURCE, Q::ANSWER_SCHEMA))
        })
    }

    /// Asks the hub which licences of a holder satisfy a service item's
    /// required materials for a case (resource `hub.case.licences`), stating
    /// the purpose; every licence returned is recorded against the case.
    pub async fn case_licences(
        &self,
        query: &CaseLicenceQuery,
    ) -> Result<HubAnswer<CaseLicences>, ClientError> {
        self.ask_hub(query, tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS)
            .await
    }

    /// Asks the hub for a holder's licences in its own region and in peer
    /// regions (全域通办, resource `hub.region.licences`) for one of its
    /// cases: each licence with its origin and the outcome of verifying
    /// it, and what each region answered. Waits for the hub's answer a
    /// little longer than the hub waits for its peers (`waitMs`).
    pub async fn region_licences(
        &self,
        query: &RegionLicenceQuery,
    ) -> Result<HubAnswer<RegionLicences>, ClientError> {
        let wait = query.wait_ms.unwrap_or(3_000);
        let timeout = tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS.max(wait + 5_000);
        self.ask_hub(query, timeout).await
    }

    /// Sends an approved case's result for the hub to issue as a licence
    /// (resource `hub.case.result`); the answer carries the licence.
    pub async fn case_result(
        &self,
        result: &CaseResult,
    ) -> Result<HubAnswer<CaseResultIssued>, ClientError> {
        self.ask_hub(result, tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS)
            .await
    }

    /// Reports what happened to a case for electronic supervision
    /// (resource `hub.case.event`); the answer is where the case stands
    /// against its time limits.
    pub async fn case_event(
        &self,
        event: &CaseEvent,
    ) -> Result<HubAnswer<CaseStanding>, ClientError> {
        self.ask_hub(event, tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS)
            .await
    }

    /// Answers a supervision notice (督办) addressed to this department
    /// (resource `hub.supervision.answer`); the answer is the notice as it
    /// now stands.
    pub async fn notice_answer(
        &self,
        answer: &NoticeAnswer,
    ) -> Result<HubAnswer<NoticeState>, ClientError> {
        self.ask_hub(answer, tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS)
            .await
    }

    /// The hotline office takes a call as a 12345 work order (resource
    /// `hub.hotline.create`); the answer is where the order stands.
    pub async fn order_new(&self, order: &OrderNew) -> Result<HubAnswer<OrderState>, ClientError> {
        self.ask_hub(order, tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS)
            .await
    }

    /// Takes a step on a 12345 work order as this department — the
    /// hotline office's steps or a member unit's (resource
    /// `hub.hotline.order`); the answer is where the order now stands.
    pub async fn order_step(&self, step: &OrderStep) -> Result<HubAnswer<OrderState>, ClientError> {
        self.ask_hub(step, tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS)
            .await
    }

    /// A page of a resource's records (what its provider published) after
    /// sequence number `after`, and where the next page starts (`None` at
    /// the end). The hub admits the query by the catalogue's access rule.
    pub async fn records(
        &self,
        resource: &str,
        after: u64,
        limit: u32,
    ) -> Result<(Vec<(u64, Value)>, Option<u64>), ClientError> {
        let mut s = self.open().await?;
        s.write(&ClientOp::Records {
            resource: resource.to_owned(),
            after,
            limit,
        })
        .await?;
        let _ = s.send.finish();
        match s.reader.expect().await? {
            ServerOp::Records { records, next } => Ok((records, next)),
            other => Err(ClientError::Connection(format!("unexpected {other:?}"))),
        }
    }

    async fn subscription(&self, op: ClientOp) -> Result<Vec<String>, ClientError> {
        let mut s = self.open().await?;
        s.write(&op).await?;
        let _ = s.send.finish();
        match s.reader.expect().await? {
            ServerOp::Subscribed { topics } => Ok(topics),
            other => Err(ClientError::Connection(format!("unexpected {other:?}"))),
        }
    }

    /// Starts receiving: stored messages (in order, at least once) and
    /// requests to answer. Returns once the hub has registered the stream,
    /// so that a request sent after this call finds it.
    pub async fn listen(&self, max_in_flight: u32) -> Result<Listener, ClientError> {
        let mut s = self.open().await?;
        s.write(&ClientOp::Listen { max_in_flight }).await?;
        match s.reader.read().await?.map(ServerOp::into_refusal) {
            Some(Ok(ServerOp::Listening { .. })) => Ok(Listener {
                stream: s,
                client: self.clone(),
            }),
            Some(Err(refusal)) => Err(ClientError::Refused(refusal)),
            Some(Ok(other)) => Err(ClientError::Connection(format!(
                "expected listening, got {other:?}"
            ))),
            None => Err(connection_error(
                &self.conn,
                "the hub closed the listen stream".into(),
            )),
        }
    }

    /// A raw bidirectional stream, for tools and tests that write their own
    /// frames (`tongban_proto::encode`).
    pub async fn raw_stream(&self) -> Result<(quinn::SendStream, quinn::RecvStream), ClientError> {
        self.conn
            .open_bi()
            .await
            .map_err(|e| connection_error(&self.conn, e.to_string()))
    }

    /// Why the hub closed the connection, if it did.
    pub fn close_reason(&self) -> Option<String> {
        self.conn.close_reason().map(|e| describe(&e))
    }

    /// Waits until the connection ends, and says why.
    pub async fn closed(&self) -> ClientError {
        let e = self.conn.closed().await;
        connection_error(&self.conn, describe(&e))
    }

    /// Closes the connection with code 0 `DONE` (what the hub logs as a
    /// normal close).
    pub async fn close(&self) {
        self.conn.close(close::DONE.into(), b"");
        self.endpoint.wait_idle().await;
    }
}

/// The error for a connection that broke: a rejection when the hub turned
/// the client away, else `Connection` with the hub's reason phrase (or
/// `fallback` while the connection is still open).
fn connection_error(conn: &quinn::Connection, fallback: String) -> ClientError {
    match conn.close_reason() {
        Some(e) if is_rejection(&e) => ClientError::Rejected(describe(&e)),
        Some(e) => ClientError::Connection(describe(&e)),
        None => ClientError::Connection(fallback),
    }
}

/// Something delivered to a listener.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Acknowledge with this number (messages).
    pub delivery: u64,
    /// The envelope as its sender signed it.
    pub envelope: Value,
}

impl Delivery {
    /// The envelope's kind.
    pub fn kind(&self) -> &str {
        self.envelope
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A listen stream.
pub struct Listener {
    stream: Stream,
    client: Client,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

/// What arrives on a listen stream.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message or request.
    Delivery(Delivery),
    /// The hub accepted a response we sent.
    ResponseAccepted(Accepted),
    /// The hub refused something we sent on this stream.
    Refused(ProtoError),
}

impl Listener {
    /// The next event; `None` when the hub closed the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        Ok(
            match self.stream.reader.read().await?.map(ServerOp::into_refusal) {
                None => None,
                Some(Ok(ServerOp::Deliver { delivery, envelope })) => {
                    Some(Event::Delivery(Delivery { delivery, envelope }))
                }
                Some(Ok(ServerOp::Accepted { id, seq })) => {
                    Some(Event::ResponseAccepted(Accepted { id, seq }))
                }
                Some(Err(refusal)) => Some(Event::Refused(refusal)),
                Some(Ok(other)) => {
                    return Err(ClientError::Connection(format!("unexpected {other:?}")));
                }
            },
        )
    }

    /// Stops listening: finishes our side of the stream and waits, at most
    /// `wait`, for the hub to end its side, by which time it has taken
    /// every `ack` sent on the stream. Deliveries that arrive meanwhile are
    /// left unacknowledged (they come again on the next listen stream);
    /// requests handed to the stream and not answered are answered
    /// `PROVIDER_UNAVAILABLE` by the hub.
    pub async fn finish(mut self, wait: Duration) -> Result<(), ClientError> {
        let _ = self.stream.send.finish();
        let drained = tokio::time::timeout(wait, async {
            while self.stream.reader.read().await?.is_some() {}
            Ok::<(), ClientError>(())
        })
        .await;
        match drained {
            Ok(result) => result,
            Err(_) => Err(ClientError::Connection(format!(
                "the hub did not end the listen stream within {}",
                seconds(wait)
            ))),
        }
    }

    /// Acknowledges a delivery (it will not be delivered again).
    pub async fn ack(&mut self, delivery: u64) -> Result<(), ClientError> {
        self.stream.write(&ClientOp::Ack { delivery }).await
    }

    /// Answers a delivered request; the hub replies with an event.
    pub async fn respond(
        &mut self,
        request: &Delivery,
        schema: &str,
        payload: Value,
    ) -> Result<(), ClientError> {
        let text = |k: &str| {
            request
                .envelope
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let draft = Draft {
            id: new_id(),
            sender: self.client.department.clone(),
            recipient: text("sender"),
            topic: None,
            resource: text("resource").unwrap_or_default(),
            schema: schema.to_owned(),
            kind: Kind::Response,
            correlation_id: text("id"),
            time: time::OffsetDateTime::now_utc(),
            payload: Some(payload),
            payload_ref: None,
        };
        let draft = self.client.offload(draft).await?;
        let envelope = self.client.sign(&draft)?;
        self.stream.write(&ClientOp::Respond { envelope }).await
    }
}
