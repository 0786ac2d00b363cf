//! The hub's exchange server: departments' systems connect over QUIC with
//! mutual TLS (client certificates from the hub's CA, CRL enforced at the
//! handshake), send signed envelopes that the hub verifies, validates,
//! authorises, stores and logs before acknowledging, and receive what is
//! addressed to them, even after being offline.
//!
//! The server is a library call: [`run`] takes a bound endpoint, the hub,
//! a configuration and a shutdown future; tests start it on port 0.
#![forbid(unsafe_code)]

mod blobs;
mod conn;
mod crossing;
mod failures;
mod ingest;
mod listeners;
mod peering;
mod ratelimit;
mod refusals;
mod services;
mod shares;
mod snapshot;
mod trust;
mod usage;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use tongban_service::Hub;

pub use ingest::Outcome;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Largest frame accepted.
    pub max_frame: usize,
    /// How far an envelope's time may be from the hub's clock.
    pub time_window: time::Duration,
    /// Resend an unacknowledged delivery after this long.
    pub redelivery_after: Duration,
    /// Re-read keys, departments, resources and schemas this often.
    pub refresh_every: Duration,
    /// Rebuild the TLS configuration (CRL) this often.
    pub crl_refresh_every: Duration,
    /// Most envelopes verified and committed together.
    pub batch_max: usize,
    /// Most concurrent bidirectional streams per connection.
    pub max_streams_per_connection: u32,
    /// Most envelopes in flight on one send stream.
    pub window_per_stream: usize,
    /// Close a connection from which nothing (not even a keep-alive or an
    /// acknowledgement of one) arrived for this long: how soon a party
    /// that vanished without closing (killed, cut off) is noticed, its
    /// listen streams end and requests waiting on it are answered
    /// `PROVIDER_UNAVAILABLE`. QUIC takes the smaller of the two sides'
    /// values.
    pub idle_timeout: Duration,
    /// Send a keep-alive PING on a connection quiet for this long, so that
    /// a live party is never taken for a vanished one, whatever its own
    /// keep-alive; well under `idle_timeout`.
    pub keep_alive: Duration,
    /// On shutdown, wait this long for in-flight work.
    pub drain_timeout: Duration,
    /// Largest blob (payload by reference) a department may upload.
    pub max_blob: u64,
    /// Most blob bytes held in memory at once, hub-wide (uploads,
    /// downloads, validation); at least `max_blob`.
    pub blob_buffer: u64,
    /// Most of `blob_buffer` one department holds at once, at least
    /// `max_blob`; one more upload, download or check of a payload by
    /// reference is refused with `BUSY`. A check of a blob larger than half
    /// the share takes the whole share.
    pub blob_buffer_per_department: u64,
    /// Most bytes of frames being read held in memory at once, hub-wide.
    pub frame_buffer: u64,
    /// Most of `frame_buffer` one department (or peer hub) holds at once,
    /// over all its streams; at least `max_frame`. A stream whose frame
    /// would go beyond it gets `BUSY` and ends.
    pub frame_buffer_per_department: u64,
    /// How long the hub waits for a stream's first frame, for the rest of a
    /// frame it has begun to read, for an upload's next bytes, and for a
    /// client to take the next bytes of a download (`READ_TIMEOUT`).
    pub read_timeout: Duration,
    /// Most connections open at once, hub-wide (departments and peer hubs).
    pub max_connections: u32,
    /// Most connections one department (or peer hub) has open at once; one
    /// more is closed with code 4 `BUSY`.
    pub connections_per_department: u32,
    /// Bytes a client may send on a connection before the hub has read
    /// them (QUIC connection flow-control window).
    pub receive_window: u64,
    /// Bytes a client may send on one stream before the hub has read them
    /// (QUIC stream flow-control window).
    pub stream_receive_window: u64,
    /// Bytes the hub sends on a connection that the client has not yet
    /// acknowledged, at most.
    pub send_window: u64,
    /// Most requests of one department waiting on one provider at once;
    /// one more is refused with `BUSY`.
    pub requests_per_requester: usize,
    /// Most deliveries of the messages a department sent that may wait
    /// undelivered (`QUOTA_EXCEEDED` beyond).
    pub pending_quota: u64,
    /// Most blob bytes a department may hold (`QUOTA_EXCEEDED` beyond).
    pub blob_quota: u64,
    /// Recount the undelivered deliveries of each sender from the store
    /// this often (each node counts what it accepts in between).
    pub quota_recount_every: Duration,
    /// Fetch each peer hub's trust list this often (a failed fetch is
    /// retried sooner).
    pub peer_refresh_every: Duration,
    /// How long the trust list this hub serves stays valid: peers stop
    /// using it this long after they last reached this hub.
    pub trust_valid_for: time::Duration,
    /// Rebuild the served trust list after this long (keys rotated and
    /// licences revoked are served within it).
    pub trust_rebuild_after: Duration,
    /// Reads of a holder's licences (`hub.case.licences`,
    /// `hub.region.licences`) one department may make a minute, and a peer
    /// region's department through its hub (`hub.peer.licences`); 0: no
    /// limit. Per node.
    pub licence_reads_per_minute: u32,
    /// How many of those reads may come at once, before the rate applies.
    pub licence_read_burst: u32,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_frame: tongban_proto::DEFAULT_MAX_FRAME,
            time_window: tongban_proto::envelope::DEFAULT_TIME_WINDOW,
            redelivery_after: Duration::from_secs(30),
            refresh_every: Duration::from_secs(2),
            crl_refresh_every: Duration::from_secs(60),
            batch_max: 256,
            max_streams_per_connection: 256,
            window_per_stream: 128,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keep_alive: DEFAULT_KEEP_ALIVE,
            drain_timeout: Duration::from_secs(10),
            max_blob: tongban_store::MAX_BLOB_BYTES as u64,
            blob_buffer: 4 * tongban_store::MAX_BLOB_BYTES as u64,
            blob_buffer_per_department: tongban_store::MAX_BLOB_BYTES as u64,
            frame_buffer: 256 * MIB,
            frame_buffer_per_department: 16 * MIB,
            read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            connections_per_department: 16,
            receive_window: 4 * MIB,
            stream_receive_window: MIB,
            send_window: 4 * MIB,
            requests_per_requester: 16,
            pending_quota: 1_000_000,
            blob_quota: 8 * 1024 * MIB,
            quota_recount_every: Duration::from_secs(10),
            peer_refresh_every: Duration::from_secs(300),
            trust_valid_for: time::Duration::days(1),
            trust_rebuild_after: Duration::from_secs(15),
            licence_reads_per_minute: 120,
            licence_read_burst: 30,
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// The hub's default idle timeout: a party that vanished without closing
/// is noticed 8 s after its last packet (on loopback, a provider killed
/// outright was answered `PROVIDER_UNAVAILABLE` 8.0 s later), before a
/// request's default 10 s timeout runs out.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(8);
/// The hub's default keep-alive interval: four PINGs fit in an idle
/// timeout, so a live party survives three lost in a row.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(2);

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The TLS material is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// Binding or running the endpoint failed.
    #[error("endpoint: {0}")]
    Io(#[from] std::io::Error),
    /// The hub's services failed.
    #[error(transparent)]
    Hub(#[from] tongban_service::Error),
}

/// The server's TLS material, PEM.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The hub CA's certificate (client certificates must chain to it).
    pub ca_pem: String,
    /// The server certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMaterial { key: <redacted> }")
    }
}

/// The QUIC server configuration: TLS 1.3, ALPN `tongban/1`, client
/// certificates required and checked against the CA and the CRL.
pub fn quic_server_config(
    tls: &TlsMaterial,
    crl_pem: &str,
    config: &ServeConfig,
) -> Result<quinn::ServerConfig, ServeError> {
    Ok(server_config(tls, crl_pem, &[], config)?.0)
}

/// Who may connect: departments with certificates from this hub's CA (CRL
/// enforced), and peer hubs with certificates from their own CAs.
#[derive(Clone)]
pub(crate) struct Verifiers {
    /// This hub's CA, with its CRL.
    pub own: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    /// Each active peer's CA, by region.
    pub peers:
        std::collections::HashMap<String, Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

/// Accepts a chain that this hub's CA or any peer's CA vouches for; which
/// one (and so whether the connection is a department or a peer hub) is
/// decided after the handshake, with [`Verifiers`].
#[derive(Debug)]
struct EitherVerifier {
    own: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    peers: Vec<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    hints: Vec<rustls::DistinguishedName>,
}

impl rustls::server::danger::ClientCertVerifier for EitherVerifier {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        let unknown_issuer = |e: &rustls::Error| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            )
        };
        match self.own.verify_client_cert(end_entity, intermediates, now) {
            Ok(v) => Ok(v),
            Err(mut refused) => {
                for p in &self.peers {
                    match p.verify_client_cert(end_entity, intermediates, now) {
                        Ok(v) => return Ok(v),
                        // The CA that knows the certificate says why (e.g.
                        // revoked), rather than the others' "unknown issuer".
                        Err(e) if unknown_issuer(&refused) && !unknown_issuer(&e) => refused = e,
                        Err(_) => {}
                    }
                }
                Err(refused)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.own.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.own.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.own.supported_verify_schemes()
    }
}

/// A verifier of client certificates from the CA in `ca_pem`, with its CRL.
/// For a peer's CA (`peer`), only the certificate itself is looked up in
/// the CRL its hub served, and a certificate the CRL does not cover (one
/// from an intermediate CA) is not refused for that alone.
fn ca_verifier(
    ca_pem: &str,
    crl_pem: Option<&str>,
    peer: bool,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, ServeError> {
    let bad = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| bad(&e))?)
        .map_err(|e| bad(&e))?;
    let crls: Vec<CertificateRevocationListDer<'static>> = match crl_pem {
        Some(pem) => CertificateRevocationListDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e))?,
        None => Vec::new(),
    };
    let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(provider),
    )
    .with_crls(crls);
    let builder = if peer {
        builder
            .only_check_end_entity_revocation()
            .allow_unknown_revocation_status()
    } else {
        builder
    };
    builder.build().map_err(|e| bad(&e))
}

/// The server configuration and the verifiers it admits clients with;
/// `peers` are active peers' (region, CA PEM, its CRL if served).
pub(crate) fn server_config(
    tls: &TlsMaterial,
    crl_pem: &str,
    peers: &[PeerCa],
    config: &ServeConfig,
) -> Result<(quinn::ServerConfig, Verifiers), ServeError> {
    let bad = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let own = ca_verifier(&tls.ca_pem, Some(crl_pem), false, &provider)?;
    let mut verifiers = Verifiers {
        own: Arc::clone(&own),
        peers: std::collections::HashMap::new(),
    };
    for (region, ca_pem, crl) in peers {
        match ca_verifier(ca_pem, crl.as_deref(), true, &provider) {
            Ok(v) => {
                verifiers.peers.insert(region.clone(), v);
            }
            Err(e) => tracing::warn!(peer = %region, error = %e, "the peer's CA is unusable"),
        }
    }
    let mut hints = own.root_hint_subjects().to_vec();
    for v in verifiers.peers.values() {
        hints.extend_from_slice(v.root_hint_subjects());
    }
    let verifier = Arc::new(EitherVerifier {
        own,
        peers: verifiers.peers.values().cloned().collect(),
        hints,
    });
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).map_err(|e| bad(&e))?;
    let mut rustls_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| bad(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| bad(&e))?;
    rustls_config.alpn_protocols = vec![tongban_proto::ALPN.to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(rustls_config).map_err(|e| bad(&e))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    // What a client may make the hub buffer is bounded: unread bytes per
    // connection and per stream by these windows, bytes read into frames
    // by `frame_buffer`, unacknowledged bytes sent by `send_window`.
    let window = |n: u64| quinn::VarInt::from_u64(n).map_err(|e| bad(&e));
    transport
        .max_concurrent_bidi_streams(config.max_streams_per_connection.into())
        .max_concurrent_uni_streams(0u32.into())
        .receive_window(window(config.receive_window)?)
        .stream_receive_window(window(
            config.stream_receive_window.min(config.receive_window),
        )?)
        .send_window(config.send_window)
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(config.idle_timeout).map_err(|e| bad(&e))?,
        ))
        // The hub's own keep-alive keeps a live client's connection up
        // even when the client sends none (its acknowledgements count).
        .keep_alive_interval(Some(
            config
                .keep_alive
                .min(config.idle_timeout / 2)
                .max(Duration::from_millis(100)),
        ));
    server.transport_config(Arc::new(transport));
    Ok((server, verifiers))
}

/// Active peers' (region, CA PEM), by region.
async fn peer_cas(hub: &Hub) -> Result<Vec<PeerCa>, ServeError> {
    Ok(hub.peer_cas().await?)
}

/// An active peer's region, CA certificate and CRL (PEM).
type PeerCa = (String, String, Option<String>);

/// Rebuilds the TLS configuration (CRL, peers' CAs) and installs it.
async fn rebuild_tls(
    shared: &Shared,
    tls: &TlsMaterial,
    endpoint: &quinn::Endpoint,
) -> Result<(), ServeError> {
    let crl = shared.hub.ca_crl().await?;
    let peers = peer_cas(&shared.hub).await?;
    let (server, verifiers) = server_config(tls, &crl, &peers, &shared.config)?;
    *shared
        .verifiers
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = verifiers;
    endpoint.set_server_config(Some(server));
    Ok(())
}

/// Binds a QUIC endpoint for the hub.
pub async fn bind(
    addr: SocketAddr,
    hub: &Hub,
    tls: &TlsMaterial,
    config: &ServeConfig,
) -> Result<quinn::Endpoint, ServeError> {
    let crl = hub.ca_crl().await?;
    // Peers' CAs too: a peer may connect before `run` installs its own.
    let (server, _) = server_config(tls, &crl, &peer_cas(hub).await?, config)?;
    Ok(quinn::Endpoint::server(server, addr)?)
}

/// How often the server checks whether an audit checkpoint is due.
const AUDIT_CHECKPOINT_CHECK: Duration = Duration::from_secs(1);

/// Records pages read at once: hub-wide, and by one department.
const RECORDS_AT_ONCE: (u64, u64) = (8, 2);
/// Requests to the hub's services answered at once: hub-wide, and for one
/// department.
const SERVICES_AT_ONCE: (u64, u64) = (4, 2);
/// Pulls across regions (and requests of other regions' resources) in
/// progress at once, each mostly waiting on peers: hub-wide, and for one
/// department.
const PULLS_AT_ONCE: (u64, u64) = (16, 4);
/// Peer hubs' licence and catalogue requests answered at once: apart from
/// the departments' own services and pulls, so that two hubs pulling from
/// each other cannot starve each other's answers; hub-wide, and for one
/// peer.
const PEER_REQUESTS_AT_ONCE: (u64, u64) = (4, 2);
/// Requests of other regions' departments waiting on providers here at
/// once: all peers together, and one peer's.
const PEER_FORWARDS_AT_ONCE: (u64, u64) = (16, 8);

fn budget(
    name: &'static str,
    unit: &'static str,
    (total, per_party): (u64, u64),
) -> shares::Shares {
    shares::Shares::new(name, unit, total, per_party)
}

/// What the server's tasks share.
pub(crate) struct Shared {
    pub hub: Hub,
    pub config: ServeConfig,
    pub snapshot: Arc<snapshot::Snapshot>,
    /// Refused exchanges not yet added to the store's statistics.
    pub refusals: refusals::Refusals,
    /// The trust list last built, and when.
    pub trust: trust::Cached,
    /// Records pages being read at once (each at most a frame).
    pub records_budget: shares::Shares,
    /// Requests to the hub's own services being answered at once.
    pub services_budget: shares::Shares,
    /// Pulls across regions in progress at once.
    pub pulls_budget: shares::Shares,
    /// Peer hubs' licence and catalogue requests being answered at once.
    pub peer_budget: shares::Shares,
    /// Other regions' requests waiting on providers here at once.
    pub forwards_budget: shares::Shares,
    /// Open connections.
    pub connections: shares::Shares,
    /// Bytes of frames being read.
    pub frames: shares::Shares,
    /// Undelivered deliveries by sender (a quota).
    pub usage: usage::Usage,
    pub registry: listeners::Registry,
    pub blobs: blobs::Budget,
    /// Whose client certificates are accepted, and as what.
    pub verifiers: std::sync::RwLock<Verifiers>,
    /// Links to peer hubs and their trust lists.
    pub peering: peering::Peering,
    /// Licence reads per department (this region's, and peers' by region).
    pub licence_reads: ratelimit::RateLimit,
}

/// Runs the exchange on `endpoint` until `shutdown` resolves, then drains:
/// no new connections or streams, in-flight envelopes finish (up to
/// `drain_timeout`), connections close with `SHUTTING_DOWN`.
pub async fn run(
    endpoint: quinn::Endpoint,
    hub: Hub,
    tls: TlsMaterial,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    // The schemas this version's services expect, on a hub set up by an
    // earlier one.
    if hub.identity().await.is_ok() {
        hub.register_service_schemas().await?;
    }
    let snapshot = snapshot::Snapshot::load(hub.clone()).await?;
    let (server, verifiers) =
        server_config(&tls, &hub.ca_crl().await?, &peer_cas(&hub).await?, &config)?;
    endpoint.set_server_config(Some(server));
    let shared = Arc::new(Shared {
        hub: hub.clone(),
        config: config.clone(),
        snapshot,
        refusals: refusals::Refusals::default(),
        trust: trust::Cached::default(),
        records_budget: budget("records pages", "pages read at once", RECORDS_AT_ONCE),
        services_budget: budget("hub services", "answers at once", SERVICES_AT_ONCE),
        pulls_budget: budget("pulls across regions", "pulls at once", PULLS_AT_ONCE),
        peer_budget: budget(
            "answers to peer hubs",
            "answers at once",
            PEER_REQUESTS_AT_ONCE,
        ),
        forwards_budget: budget(
            "other regions' requests waiting on providers",
            "requests",
            PEER_FORWARDS_AT_ONCE,
        ),
        connections: shares::Shares::new(
            "connections",
            "connections",
            config.max_connections.into(),
            config.connections_per_department.into(),
        ),
        frames: shares::Shares::new(
            "memory for frames being read",
            "bytes",
            config.frame_buffer,
            config
                .frame_buffer_per_department
                .max(conn::frame_share_floor(config.max_frame)),
        ),
        usage: usage::Usage::default(),
        registry: listeners::Registry::new(config.requests_per_requester),
        blobs: blobs::Budget::new(
            config.max_blob,
            config.blob_buffer,
            config.blob_buffer_per_department,
        ),
        verifiers: std::sync::RwLock::new(verifiers),
        peering: peering::Peering::default(),
        licence_reads: ratelimit::RateLimit::new(
            config.licence_reads_per_minute,
            config.licence_read_burst,
        ),
    });
    let (ingest, pipeline) = ingest::Ingest::start(Arc::clone(&shared));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    // Keep the registry and the CRL fresh.
    {
        let shared = Arc::clone(&shared);
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(shared.config.refresh_every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = shared.snapshot.refresh().await {
                            tracing::warn!(error = %e, "registry refresh failed");
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }
    // Count each sender's undelivered deliveries again (quotas).
    {
        let shared = Arc::clone(&shared);
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(shared.config.quota_recount_every);
            loop {
                tokio::select! {
                    _ = tick.tick() => shared.usage.recount(&shared.hub).await,
                    _ = stop.changed() => break,
                }
            }
        });
    }
    // Sign an audit checkpoint when enough entries have accrued (off the
    // writer's path: a check per commit would cost the writer a round trip).
    {
        let shared = Arc::clone(&shared);
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(AUDIT_CHECKPOINT_CHECK);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = shared.hub.maybe_checkpoint().await {
                            tracing::warn!(error = %e, "audit checkpoint failed");
                        }
                        shared.refusals.flush(&shared.hub).await;
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }
    {
        let endpoint = endpoint.clone();
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(shared.config.crl_refresh_every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = rebuild_tls(&shared, &tls, &endpoint).await {
                            tracing::warn!(error = %e, "CRL refresh failed; keeping the previous one");
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }

    // Peers: admit their CAs when added, drop them when removed, and keep
    // their trust lists fresh.
    {
        let endpoint = endpoint.clone();
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(shared.config.refresh_every);
            let mut known: Option<Vec<PeerCa>> = None;
            let mut refreshing = tokio::task::JoinSet::new();
            let mut in_flight = std::collections::HashMap::new();
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let peers = match shared.hub.peers().await {
                            Ok(p) => p.into_iter().filter(|p| p.status == "active").collect::<Vec<_>>(),
                            Err(e) => {
                                tracing::warn!(error = %e, "reading peers failed");
                                continue;
                            }
                        };
                        // Peers' envelopes whose time is up, forgotten.
                        if !peers.is_empty() {
                            if let Err(e) = shared.hub.store().forget_peer_envelopes(shared.hub.now()).await {
                                tracing::warn!(error = %e, "forgetting old peer envelopes failed");
                            }
                        }
                        // Their CAs and CRLs: a change rebuilds the TLS
                        // configuration (and closes links it no longer admits).
                        let cas = match peer_cas(&shared.hub).await {
                            Ok(cas) => cas,
                            Err(e) => {
                                tracing::warn!(error = %e, "reading peers' CAs failed");
                                continue;
                            }
                        };
                        if known.as_ref() != Some(&cas) {
                            match rebuild_tls(&shared, &tls, &endpoint).await {
                                Ok(()) => {
                                    shared.peering.retain(&peers).await;
                                    known = Some(cas);
                                }
                                Err(e) => tracing::warn!(error = %e, "admitting peers' CAs failed; retrying"),
                            }
                        }
                        for peer in shared.peering.due(&peers, shared.config.peer_refresh_every) {
                            if !in_flight.values().any(|r| *r == peer.region_code) {
                                let shared = Arc::clone(&shared);
                                let region = peer.region_code.clone();
                                let task = refreshing.spawn(async move {
                                    let _ = peering::refresh(&shared, &peer, true).await;
                                });
                                in_flight.insert(task.id(), region);
                            }
                        }
                    }
                    Some(done) = refreshing.join_next_with_id(), if !refreshing.is_empty() => {
                        // Finished or failed (even by panicking): the peer is due again.
                        let id = match done {
                            Ok((id, ())) => id,
                            Err(e) => e.id(),
                        };
                        in_flight.remove(&id);
                    }
                    _ = stop.changed() => break,
                }
            }
            refreshing.abort_all();
        });
    }

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let shared = Arc::clone(&shared);
                let ingest = ingest.clone();
                let stop = stop_rx.clone();
                tasks.spawn(async move { conn::handle(incoming, shared, ingest, stop).await });
            }
            () = &mut shutdown => break,
        }
    }

    tracing::info!("shutting down: draining in-flight work");
    endpoint.set_server_config(None);
    let _ = stop_tx.send(true);
    drop(ingest);
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while tasks.join_next().await.is_some() {}
        let _ = pipeline.await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("drain timed out; closing remaining connections");
    }
    shared.refusals.flush(&shared.hub).await;
    endpoint.close(
        tongban_proto::error::close::SHUTTING_DOWN.into(),
        b"SHUTTING_DOWN",
    );
    endpoint.wait_idle().await;
    Ok(())
}
