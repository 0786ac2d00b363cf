//! The hub's exchange server: departments' systems connect over QUIC with
//! mutual TLS (client certificates from the hub's CA, CRL enforced at the
//! handshake), send signed envelopes that the hub verifies, validates,
//! authorises, stores and logs before acknowledging, and receive what is
//! addressed to them, even after being offline.
//!
//! The server is a library call: [`run`] takes a bound endpoint, the hub,
//! a configuration and a shutdown future; tests start it on port 0.
#![forbid(unsafe_code)]
//!
//! The crate is cut by capability, each layer importing only those below
//! it (`tests/it/layers.rs` holds the rule table):
//!
//! - `server`: `run`'s steps, the background tasks;
//! - `conn`: TLS, who connects, a stream's dispatch;
//! - `ops`: a department's operations (send, request, listen, records,
//!   blobs, subscriptions);
//! - `services`: the hub's own services;
//! - `federation`: peer links, pulls, answering peers, crossing requests;
//! - `exchange`: the pipeline (admission, verification, commit) and the
//!   listener registry;
//! - `base`: what they all share (snapshot, shares, quotas, failures,
//!   frames, names).

mod base;
mod conn;
mod exchange;
mod federation;
mod ops;
mod server;
mod services;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tongban_service::Service;

pub use base::metrics::{CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics};
pub use conn::tls::{bind, quic_server_config};
pub use exchange::Outcome;

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
    /// Look for supervision's thresholds and deadlines passed this often
    /// (and once at the start).
    pub supervision_every: Duration,
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
    /// How often a node of a hub on PostgreSQL says it is alive (and reads
    /// which other nodes have listeners of which provider); a node unseen
    /// for three of them counts as gone, and requests are no longer
    /// relayed to it. Unused on SQLite (one node).
    pub node_heartbeat: Duration,
    /// What the hub counts for `/metrics`: share a clone with whatever
    /// serves them (the HTTP side).
    pub metrics: Metrics,
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
            supervision_every: Duration::from_secs(60),
            trust_valid_for: time::Duration::days(1),
            trust_rebuild_after: Duration::from_secs(15),
            licence_reads_per_minute: 120,
            licence_read_burst: 30,
            node_heartbeat: Duration::from_secs(1),
            metrics: Metrics::default(),
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// How often a listen stream records acknowledgements, redelivers, checks
/// that its department is still active, and reads the store again if it
/// has not found it drained (see [`LISTEN_IDLE_READ`]).
pub const LISTEN_TICK: Duration = Duration::from_millis(250);

/// How often a listen stream that found nothing pending reads the store
/// again without being woken (a commit on its node, or another node's
/// database notification, wakes it at once): the bound for a wake-up that
/// was lost. Reading on every tick instead cost an idle node half a core
/// at 1,000 listeners (`tongban-bench idle`).
pub const LISTEN_IDLE_READ: Duration = Duration::from_secs(2);

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
    Service(#[from] tongban_service::Error),
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

/// What the server's tasks share.
pub(crate) struct Shared {
    pub hub: Service,
    pub config: ServeConfig,
    pub snapshot: Arc<base::snapshot::Snapshot>,
    /// Refused exchanges not yet added to the store's statistics.
    pub refusals: base::refusals::Refusals,
    /// The trust list last built, and when.
    pub trust: base::trust::ServedList,
    /// Records pages being read at once (each at most a frame).
    pub records_budget: base::shares::Shares,
    /// Requests to the hub's own services being answered at once.
    pub services_budget: base::shares::Shares,
    /// Pulls across regions in progress at once.
    pub pulls_budget: base::shares::Shares,
    /// Peer hubs' licence and catalogue requests being answered at once.
    pub peer_budget: base::shares::Shares,
    /// Other regions' requests waiting on providers here at once.
    pub forwards_budget: base::shares::Shares,
    /// Open connections.
    pub connections: base::shares::Shares,
    /// Bytes of frames being read.
    pub frames: base::shares::Shares,
    /// Undelivered deliveries by sender (a quota).
    pub undelivered: base::usage::Undelivered,
    pub registry: exchange::listeners::Registry,
    pub blobs: base::blobs::BlobMemory,
    /// Whose client certificates are accepted, and as what.
    pub verifiers: std::sync::RwLock<conn::tls::Verifiers>,
    /// Links to peer hubs and their trust lists.
    pub peering: federation::Peering,
    /// Licence reads per department (this region's, and peers' by region).
    pub licence_reads: base::ratelimit::RateLimit,
    /// This node among the hub's nodes (PostgreSQL; `None` on SQLite).
    pub cluster: Option<exchange::cluster::Cluster>,
}

/// Runs the exchange on `endpoint` until `shutdown` resolves, then drains:
/// no new connections or streams, in-flight envelopes finish (up to
/// `drain_timeout`), connections close with `SHUTTING_DOWN`.
pub async fn run(
    endpoint: quinn::Endpoint,
    hub: Service,
    tls: TlsMaterial,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let shared = Arc::new(server::start(&endpoint, hub, &tls, config).await?);
    let (pipeline, pipeline_tasks) = exchange::Pipeline::start(Arc::clone(&shared));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    server::spawn_background(&mut tasks, &shared, &endpoint, &tls, &stop_rx);
    server::accept(
        &endpoint, &shared, &pipeline, &stop_rx, &mut tasks, shutdown,
    )
    .await;
    tracing::info!("shutting down: draining in-flight work");
    endpoint.set_server_config(None);
    let _ = stop_tx.send(true);
    drop(pipeline);
    server::drain(&shared, tasks, pipeline_tasks).await;
    exchange::nodes::leave(&shared).await;
    endpoint.close(
        tongban_proto::error::close::SHUTTING_DOWN.into(),
        b"SHUTTING_DOWN",
    );
    endpoint.wait_idle().await;
    Ok(())
}
