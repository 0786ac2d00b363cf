//! What the hub counts for its operators, in Prometheus's text format
//! (OpenMetrics, `prometheus-client`): counters and histograms the
//! exchange updates as it works, and gauges read from the store when they
//! are scraped (pending deliveries, licences, peers' trust lists, the
//! audit log's head), so that every node of a hub reports the same state.
//!
//! Metric names start `tongban_`; labels carry department codes, region
//! codes and stable error codes only, never payload data.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tongban_proto::Kind;
use tongban_service::Service;

type Labels = Vec<(&'static str, String)>;

/// The hub's metrics: cheap to clone (one registry behind an `Arc`), so the
/// exchange and the HTTP side share one.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    connections_open: Family<Labels, Gauge>,
    connections: Family<Labels, Counter>,
    streams: Counter,
    accepted: Family<Labels, Counter>,
    /// The children of `accepted` for each kind, resolved once: the commit
    /// path counts every envelope without a lookup or an allocation.
    accepted_by_kind: [Counter; 3],
    refused: Family<Labels, Counter>,
    batch_size: Histogram,
    verify_seconds: Histogram,
    commit_seconds: Histogram,
    licences_verified: Family<Labels, Counter>,
    /// `licences_verified`'s `valid` and `invalid` children.
    verified_by_outcome: [Counter; 2],
    pending: Family<Labels, Gauge>,
    licences: Family<Labels, Gauge>,
    peer_trust_age: Family<Labels, Gauge<f64, AtomicU64>>,
    peer_trust_left: Family<Labels, Gauge<f64, AtomicU64>>,
    peer_failures: Family<Labels, Gauge>,
    audit_head: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn latency() -> Histogram {
    // 50 µs to about 6.5 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl Metrics {
    /// A fresh set of metrics, all zero.
    pub fn new() -> Metrics {
        let accepted: Family<Labels, Counter> = Family::default();
        let licences_verified: Family<Labels, Counter> = Family::default();
        let child = |family: &Family<Labels, Counter>, name: &'static str, value: &str| {
            family
                .get_or_create(&vec![(name, value.to_owned())])
                .clone()
        };
        let mut inner = Inner {
            registry: Registry::with_prefix("tongban"),
            accepted_by_kind: [Kind::Message, Kind::Request, Kind::Response]
                .map(|k| child(&accepted, "kind", k.as_str())),
            verified_by_outcome: ["valid", "invalid"]
                .map(|o| child(&licences_verified, "outcome", o)),
            connections_open: Family::default(),
            connections: Family::default(),
            streams: Counter::default(),
            accepted,
            refused: Family::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            verify_seconds: latency(),
            commit_seconds: latency(),
            licences_verified,
            pending: Family::default(),
            licences: Family::default(),
            peer_trust_age: Family::default(),
            peer_trust_left: Family::default(),
            peer_failures: Family::default(),
            audit_head: Gauge::default(),
        };
        inner.register();
        Metrics {
            inner: Arc::new(inner),
        }
    }

    /// A connection of `kind` (`department`, `peer`) was admitted; the
    /// guard counts it open until dropped.
    pub(crate) fn connection(&self, kind: &'static str) -> OpenConnection {
        let labels = vec![("kind", kind.to_owned())];
        self.inner.connections.get_or_create(&labels).inc();
        let open = self.inner.connections_open.get_or_create(&labels).clone();
        open.inc();
        OpenConnection(open)
    }

    /// A stream was opened.
    pub(crate) fn stream(&self) {
        self.inner.streams.inc();
    }

    /// An envelope of `kind` was stored.
    pub(crate) fn accepted(&self, kind: Kind) {
        let i = match kind {
            Kind::Message => 0,
            Kind::Request => 1,
            Kind::Response => 2,
        };
        self.inner.accepted_by_kind[i].inc();
    }

    /// Something was refused with `code`.
    pub(crate) fn refused(&self, code: &str) {
        self.inner
            .refused
            .get_or_create(&vec![("code", code.to_owned())])
            .inc();
    }

    /// A batch of `size` envelopes was checked and verified in `took`.
    pub(crate) fn verified_batch(&self, size: usize, took: Duration) {
        self.inner.batch_size.observe(size as f64);
        self.inner.verify_seconds.observe(took.as_secs_f64());
    }

    /// A batch was committed in `took`.
    pub(crate) fn committed(&self, took: Duration) {
        self.inner.commit_seconds.observe(took.as_secs_f64());
    }

    /// A licence was verified, valid or not.
    pub fn licence_verified(&self, valid: bool) {
        self.inner.verified_by_outcome[usize::from(!valid)].inc();
    }

    /// The metrics as Prometheus scrapes them (OpenMetrics text, content
    /// type [`CONTENT_TYPE`]), with the gauges read from the store now.
    /// A store that does not answer leaves its gauges as last read; the
    /// failure is logged.
    pub async fn render(&self, hub: &Service) -> String {
        if let Err(e) = self.read_store(hub).await {
            tracing::warn!(error = %e, code = e.code(), "metrics: the store did not answer");
        }
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.inner.registry) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        out
    }

    async fn read_store(&self, hub: &Service) -> tongban_service::Result<()> {
        let store = hub.store();
        let inner = &self.inner;
        let pending = store.pending_by_recipient().await?;
        inner.pending.clear();
        for (department, n) in pending {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            inner
                .pending
                .get_or_create(&vec![("department", department)])
                .set(n);
        }
        let licences = store.licence_counts().await?;
        inner.licences.clear();
        for (status, n) in licences {
            inner
                .licences
                .get_or_create(&vec![("status", status)])
                .set(n);
        }
        let now = hub.now();
        let trusts = hub.peer_trust_states().await?;
        inner.peer_trust_age.clear();
        inner.peer_trust_left.clear();
        inner.peer_failures.clear();
        for t in trusts {
            let labels = vec![("region", t.region_code.clone())];
            if let Some(at) = t.fetched_at {
                inner
                    .peer_trust_age
                    .get_or_create(&labels)
                    .set((now - at).as_seconds_f64());
            }
            if let Some(until) = t.valid_until {
                inner
                    .peer_trust_left
                    .get_or_create(&labels)
                    .set((until - now).as_seconds_f64());
            }
            inner.peer_failures.get_or_create(&labels).set(t.failures);
        }
        let (head, _) = store.audit_head().await?;
        inner
            .audit_head
            .set(i64::try_from(head).unwrap_or(i64::MAX));
        Ok(())
    }
}

impl Inner {
    /// Names and describes every metric in the registry.
    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "connections_open",
            "QUIC connections open now, by kind (department or peer)",
            self.connections_open.clone(),
        );
        registry.register(
            "connections",
            "QUIC connections accepted, by kind",
            self.connections.clone(),
        );
        registry.register("streams", "QUIC streams opened", self.streams.clone());
        registry.register(
            "envelopes_accepted",
            "Envelopes stored, by kind (message, request, response)",
            self.accepted.clone(),
        );
        registry.register(
            "envelopes_refused",
            "Envelopes and operations refused, by stable code",
            self.refused.clone(),
        );
        registry.register(
            "batch_size",
            "Envelopes verified together in one batch",
            self.batch_size.clone(),
        );
        registry.register_with_unit(
            "verify",
            "Checking and verifying one batch of envelopes",
            Unit::Seconds,
            self.verify_seconds.clone(),
        );
        registry.register_with_unit(
            "commit",
            "Storing one batch of envelopes (one transaction)",
            Unit::Seconds,
            self.commit_seconds.clone(),
        );
        registry.register(
            "licences_verified",
            "Licences verified by the hub (peers' in pulls, and over HTTP), by outcome",
            self.licences_verified.clone(),
        );
        registry.register(
            "deliveries_pending",
            "Deliveries not yet acknowledged, by recipient department",
            self.pending.clone(),
        );
        registry.register(
            "licences",
            "Licences issued by this hub, by status",
            self.licences.clone(),
        );
        registry.register_with_unit(
            "peer_trust_list_age",
            "Time since a peer region's trust list was fetched",
            Unit::Seconds,
            self.peer_trust_age.clone(),
        );
        registry.register_with_unit(
            "peer_trust_list_valid",
            "Time left until a peer region's trust list expires (negative: stale)",
            Unit::Seconds,
            self.peer_trust_left.clone(),
        );
        registry.register(
            "peer_refresh_failures",
            "Failed refreshes of a peer's trust list since its last success",
            self.peer_failures.clone(),
        );
        registry.register(
            "audit_head",
            "Sequence number of the audit log's newest entry",
            self.audit_head.clone(),
        );
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An open connection, counted until dropped.
pub(crate) struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}
