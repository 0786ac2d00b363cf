//! The hub's HTTP face: a thin shell over `tongban-service`.
//!
//! Handlers read a request, call the service, and write what it returns;
//! no business rule lives here. Refusals and failures become RFC 9457
//! problems in one place ([`problem`]). Areas each have their router
//! ([`health`], [`verify`], [`publish`], [`check`]), merged by [`router`],
//! which also records every route it serves so that the OpenAPI document
//! ([`openapi`]) can be held against the routes that exist. The web
//! console ([`console`]) is served beside them, a client of that API.
//!
//! The server is a library call, [`serve`], on a listener the caller binds
//! (tests bind 127.0.0.1:0), and stops on the future it is given.
#![forbid(unsafe_code)]

pub mod admin;
mod body;
pub mod check;
pub mod console;
pub mod health;
pub mod identity;
pub mod openapi;
pub mod problem;
pub mod publish;
mod serve;
pub mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use tongban_seal::KeyRecord;
use tongban_service::{Action, Service};

pub use serve::{HttpListener, Peer, SetupError, check_plaintext, serve, tls_config};

/// The largest request body, in bytes (a licence with its attachment).
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// How long a client or cache may reuse the trust file or a status list
/// before asking again (`Cache-Control: public, max-age=60`).
pub const DEFAULT_CACHE_MAX_AGE: Duration = Duration::from_secs(60);

/// The HTTP side's settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The URL this side is reached at from outside, without a trailing
    /// `/` (e.g. `https://hub.example.gov.cn`): QR payloads point there.
    pub public_url: String,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// `Cache-Control: max-age` of the trust file and status lists.
    pub cache_max_age: Duration,
    /// How often the trust file and status lists are built again to see
    /// whether they changed ([`publish::RECHECK`]).
    pub recheck: Duration,
    /// Keys of issuers outside the region that `POST /credentials/verify`
    /// trusts as given (`{issuer}#{multikey}`).
    pub issuer_keys: Vec<KeyRecord>,
}

impl HttpConfig {
    /// The defaults, reached at `public_url`.
    pub fn new(public_url: impl Into<String>) -> Self {
        HttpConfig {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
            recheck: publish::RECHECK,
            issuer_keys: Vec::new(),
        }
    }
}

/// What `/readyz` reads besides the store: whether the QUIC listener is
/// accepting, and whether the hub is draining. The server sets both.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<ReadinessFlags>,
}

#[derive(Debug, Default)]
struct ReadinessFlags {
    quic_accepting: AtomicBool,
    draining: AtomicBool,
}

impl Readiness {
    /// Not ready: the QUIC listener is not accepting yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The QUIC listener accepts (or stopped accepting).
    pub fn set_quic_accepting(&self, accepting: bool) {
        self.inner.quic_accepting.store(accepting, Ordering::SeqCst);
    }

    /// The hub drains: `/readyz` fails from now on.
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    fn quic_accepting(&self) -> bool {
        self.inner.quic_accepting.load(Ordering::SeqCst)
    }

    fn draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct HttpState {
    hub: Service,
    config: Arc<HttpConfig>,
    readiness: Readiness,
    published: Arc<publish::Published>,
    /// What the hub counts, served at `/metrics`.
    metrics: tongban_hub::Metrics,
}

impl HttpState {
    /// The state over `hub`.
    pub fn new(hub: Service, config: HttpConfig, readiness: Readiness) -> Self {
        HttpState {
            hub,
            config: Arc::new(config),
            readiness,
            published: Arc::new(publish::Published::default()),
            metrics: tongban_hub::Metrics::default(),
        }
    }

    /// Serves `metrics` at `/metrics`: the set the QUIC side counts into
    /// (`ServeConfig::metrics`).
    pub fn with_metrics(mut self, metrics: tongban_hub::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }
}

/// One route: method and path (axum's and OpenAPI's `{name}` syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// `/v1/verify`, …
    pub path: &'static str,
}

/// A router that records what it serves, and what each administrative
/// route needs.
#[derive(Debug)]
pub(crate) struct Api {
    router: Router<HttpState>,
    routes: Vec<Route>,
    needs: Vec<(Route, Action)>,
}

impl Api {
    pub(crate) fn new() -> Self {
        Api {
            router: Router::new(),
            routes: Vec::new(),
            needs: Vec::new(),
        }
    }

    /// The route just added is administrative and needs `action`.
    pub(crate) fn needs(mut self, action: Action) -> Self {
        if let Some(route) = self.routes.last() {
            self.needs.push((*route, action));
        }
        self
    }

    pub(crate) fn put<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, HttpState>,
        T: 'static,
    {
        self.on("PUT", MethodFilter::PUT, path, handler)
    }

    pub(crate) fn delete<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, HttpState>,
        T: 'static,
    {
        self.on("DELETE", MethodFilter::DELETE, path, handler)
    }

    pub(crate) fn get<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, HttpState>,
        T: 'static,
    {
        self.on("GET", MethodFilter::GET, path, handler)
    }

    pub(crate) fn post<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, HttpState>,
        T: 'static,
    {
        self.on("POST", MethodFilter::POST, path, handler)
    }

    fn on<H, T>(
        mut self,
        method: &'static str,
        filter: MethodFilter,
        path: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, HttpState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push(Route { method, path });
        self
    }

    fn merge(mut self, other: Api) -> Self {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self.needs.extend(other.needs);
        self
    }
}

/// Every area's routes, with the routes recorded.
fn api() -> Api {
    Api::new()
        .merge(health::routes())
        .merge(verify::routes())
        .merge(publish::routes())
        .merge(check::routes())
        .merge(openapi::routes())
        .merge(admin::routes())
}

/// The routes [`router`] serves, sorted.
pub fn routes() -> Vec<Route> {
    let mut routes = api().routes;
    routes.sort();
    routes
}

/// The administrative routes, each with the action it needs (what the
/// role matrix is walked over), sorted.
pub fn admin_routes() -> Vec<(Route, Action)> {
    let mut needs = api().needs;
    needs.sort_by_key(|(route, _)| *route);
    needs
}

/// The whole HTTP side over `state`.
pub fn router(state: HttpState) -> Router {
    let limit = state.config.body_limit;
    api()
        .router
        .merge(console::router())
        .fallback(problem::route_unknown)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
