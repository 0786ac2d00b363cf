//! `run`'s steps: the shared state built at start, the background tasks
//! that keep it fresh, the accept loop, and the drain at shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tongban_service::Service;

use crate::base::{blobs, ratelimit, refusals, shares, snapshot, trust, usage};
use crate::conn::tls::{PeerCa, peer_cas, rebuild_tls, server_config};
use crate::exchange::{Pipeline, cluster, listeners, nodes};
use crate::{ServeConfig, ServeError, Shared, TlsMaterial, conn, federation};

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

/// What `run` does before it accepts: the service schemas this version
/// expects (on a hub set up by an earlier one), the first registry view,
/// the TLS configuration, and the shared state.
pub(crate) async fn start(
    endpoint: &quinn::Endpoint,
    hub: Service,
    tls: &TlsMaterial,
    config: ServeConfig,
) -> Result<Shared, ServeError> {
    if hub.identity().await.is_ok() {
        hub.register_service_schemas().await?;
    }
    let snapshot = snapshot::Snapshot::load(hub.clone()).await?;
    let (server, verifiers) =
        server_config(tls, &hub.ca_crl().await?, &peer_cas(&hub).await?, &config)?;
    endpoint.set_server_config(Some(server));
    let cluster = match hub.store().backend() {
        "postgres" => Some(
            cluster::Cluster::join(hub.store(), config.node_heartbeat)
                .await
                .map_err(tongban_service::Error::from)?,
        ),
        _ => None,
    };
    Ok(Shared {
        cluster,
        hub,
        snapshot,
        refusals: refusals::Refusals::default(),
        trust: trust::ServedList::default(),
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
                .max(crate::base::wire::frame_share_floor(config.max_frame)),
        ),
        undelivered: usage::Undelivered::default(),
        registry: listeners::Registry::new(config.requests_per_requester),
        blobs: blobs::BlobMemory::new(
            config.max_blob,
            config.blob_buffer,
            config.blob_buffer_per_department,
        ),
        verifiers: std::sync::RwLock::new(verifiers),
        peering: federation::Peering::default(),
        licence_reads: ratelimit::RateLimit::new(
            config.licence_reads_per_minute,
            config.licence_read_burst,
        ),
        config,
    })
}

/// Starts the tasks that keep the shared state fresh until `stop`.
pub(crate) fn spawn_background(
    tasks: &mut JoinSet<()>,
    shared: &Arc<Shared>,
    endpoint: &quinn::Endpoint,
    tls: &TlsMaterial,
    stop: &watch::Receiver<bool>,
) {
    tasks.spawn(refresh_registry(Arc::clone(shared), stop.clone()));
    tasks.spawn(nodes::keep_presence(Arc::clone(shared), stop.clone()));
    tasks.spawn(nodes::hear(Arc::clone(shared), stop.clone()));
    tasks.spawn(nodes::send_wakes(Arc::clone(shared), stop.clone()));
    tasks.spawn(recount_quotas(Arc::clone(shared), stop.clone()));
    tasks.spawn(checkpoint_audit(Arc::clone(shared), stop.clone()));
    tasks.spawn(push_supervision(Arc::clone(shared), stop.clone()));
    let reload = (endpoint.clone(), tls.clone());
    tasks.spawn(refresh_crl(Arc::clone(shared), reload, stop.clone()));
    tasks.spawn(watch_peers(
        Arc::clone(shared),
        endpoint.clone(),
        tls.clone(),
        stop.clone(),
    ));
}

/// Runs `step` every `period`, the first time after `first`, until `stop`
/// changes.
async fn every<F: Future<Output = ()>>(
    (first, period): (Duration, Duration),
    mut stop: watch::Receiver<bool>,
    mut step: impl FnMut() -> F,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
    loop {
        tokio::select! {
            _ = tick.tick() => step().await,
            _ = stop.changed() => break,
        }
    }
}

/// Keeps the registry view (keys, departments, catalogue, schemas) fresh.
async fn refresh_registry(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    every(
        (Duration::ZERO, shared.config.refresh_every),
        stop,
        || async {
            if let Err(e) = shared.snapshot.refresh().await {
                tracing::warn!(error = %e, "registry refresh failed");
            }
        },
    )
    .await;
}

/// Counts each sender's undelivered deliveries again (quotas).
async fn recount_quotas(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    every(
        (Duration::ZERO, shared.config.quota_recount_every),
        stop,
        || shared.undelivered.recount(&shared.hub),
    )
    .await;
}

/// Signs an audit checkpoint when enough entries have accrued (off the
/// writer's path: a check per commit would cost the writer a round trip),
/// and adds the refusals counted since to the store.
async fn checkpoint_audit(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    every((Duration::ZERO, AUDIT_CHECKPOINT_CHECK), stop, || async {
        if let Err(e) = shared.hub.maybe_checkpoint().await {
            tracing::warn!(error = %e, "audit checkpoint failed");
        }
        shared.refusals.flush(&shared.hub).await;
    })
    .await;
}

/// Supervision's pushes: a sweep for thresholds and deadlines passed at
/// the start (which catches what passed while the hub was down) and every
/// `supervision_every`; the outbox drained after each sweep, whenever this
/// node put something in it, and every `refresh_every` (what other nodes
/// put there).
async fn push_supervision(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut sweep = tokio::time::interval(shared.config.supervision_every);
    let mut poll = tokio::time::interval(shared.config.refresh_every);
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                if let Some(found) = warned(shared.hub.supervision_sweep().await, "supervision sweep") {
                    tracing::debug!(?found, "supervision swept");
                }
            }
            _ = poll.tick() => {}
            _ = shared.hub.outbox_woken() => {}
            _ = stop.changed() => break,
        }
        if let Some(d) = warned(
            crate::exchange::outbox::drain(&shared).await,
            "sending the outbox",
        ) {
            if d.sent + d.replays > 0 {
                tracing::info!(sent = d.sent, replays = d.replays, "hub messages sent");
            }
        }
    }
}

/// Rebuilds the TLS configuration with the CA's current CRL, from one
/// period after the start (`start` built it first).
async fn refresh_crl(
    shared: Arc<Shared>,
    (endpoint, tls): (quinn::Endpoint, TlsMaterial),
    stop: watch::Receiver<bool>,
) {
    let period = shared.config.crl_refresh_every;
    every((period, period), stop, || async {
        if let Err(e) = rebuild_tls(&shared, &tls, &endpoint).await {
            tracing::warn!(error = %e, "CRL refresh failed; keeping the previous one");
        }
    })
    .await;
}

/// Peers: admits their CAs when added, drops them when removed, and keeps
/// their trust lists fresh (one refresh per peer at a time).
async fn watch_peers(
    shared: Arc<Shared>,
    endpoint: quinn::Endpoint,
    tls: TlsMaterial,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(shared.config.refresh_every);
    let mut known: Option<Vec<PeerCa>> = None;
    let mut refreshing = JoinSet::new();
    let mut in_flight = std::collections::HashMap::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let Some(peers) = admit_peers(&shared, &tls, &endpoint, &mut known).await else {
                    continue;
                };
                for peer in shared.peering.due(&peers, shared.config.peer_refresh_every) {
                    if !in_flight.values().any(|r| *r == peer.region_code) {
                        let shared = Arc::clone(&shared);
                        let region = peer.region_code.clone();
                        let task = refreshing.spawn(async move {
                            let _ = federation::links::refresh(&shared, &peer, true).await;
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
}

/// The active peers, after forgetting their envelopes whose time is up and
/// rebuilding the TLS configuration if their CAs or CRLs changed since
/// `known` (which closes links it no longer admits); `None` when they
/// could not be read.
async fn admit_peers(
    shared: &Shared,
    tls: &TlsMaterial,
    endpoint: &quinn::Endpoint,
    known: &mut Option<Vec<PeerCa>>,
) -> Option<Vec<tongban_store::PeerRow>> {
    let peers: Vec<_> = warned(shared.hub.peers().await, "reading peers failed")?
        .into_iter()
        .filter(|p| p.status == "active")
        .collect();
    if !peers.is_empty() {
        let store = shared.hub.store();
        if let Err(e) = store.forget_peer_envelopes(shared.hub.now()).await {
            tracing::warn!(error = %e, "forgetting old peer envelopes failed");
        }
    }
    let cas = warned(peer_cas(&shared.hub).await, "reading peers' CAs failed")?;
    if known.as_ref() != Some(&cas) {
        match rebuild_tls(shared, tls, endpoint).await {
            Ok(()) => {
                shared.peering.retain(&peers).await;
                *known = Some(cas);
            }
            Err(e) => tracing::warn!(error = %e, "admitting peers' CAs failed; retrying"),
        }
    }
    Some(peers)
}

/// The value, or `None` with a warning that says `what` failed.
fn warned<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> Option<T> {
    result
        .inspect_err(|e| tracing::warn!(error = %e, "{what}"))
        .ok()
}

/// Accepts connections until `shutdown`, each served by its own task.
pub(crate) async fn accept(
    endpoint: &quinn::Endpoint,
    shared: &Arc<Shared>,
    pipeline: &Pipeline,
    stop: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let shared = Arc::clone(shared);
                let pipeline = pipeline.clone();
                let stop = stop.clone();
                tasks.spawn(async move { conn::handle(incoming, shared, pipeline, stop).await });
            }
            () = &mut shutdown => break,
        }
    }
}

/// Waits up to `drain_timeout` for the connections' tasks and the
/// pipeline, then adds the last refusal counts to the store.
pub(crate) async fn drain(
    shared: &Shared,
    mut tasks: JoinSet<()>,
    pipeline_tasks: tokio::task::JoinHandle<()>,
) {
    let drained = tokio::time::timeout(shared.config.drain_timeout, async {
        while tasks.join_next().await.is_some() {}
        let _ = pipeline_tasks.await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("drain timed out; closing remaining connections");
    }
    shared.refusals.flush(&shared.hub).await;
}
