//! The HTTP side over a running hub, with a real client on a real socket,
//! on every store backend.
#![allow(clippy::unwrap_used)]

mod admin;
mod bad_input;
mod console;
mod health;
mod openapi;
mod printout;
mod tls;
mod trust;
mod verify;

use std::future::Future;
use std::net::SocketAddr;

use serde_json::Value;
use tokio::sync::oneshot;
use tongban_http::{HttpConfig, HttpListener, HttpState, Readiness};
use tongban_service::{Clock, IssueInput, Service, ServiceConfig, samples};
use tongban_store::{BlobConfig, DatabaseConfig, StoreConfig};

/// A hub with the sample region and its HTTP side on 127.0.0.1:0.
#[derive(Debug)]
pub struct Served {
    pub hub: Service,
    pub readiness: Readiness,
    /// What `/metrics` serves.
    pub metrics: tongban_hub::Metrics,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    pub async fn start(backend: &tongban_tests::TestBackend) -> Served {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(
        backend: &tongban_tests::TestBackend,
        adjust: impl FnOnce(&mut HttpConfig),
    ) -> Served {
        Self::start_clocked(backend, Clock::System, adjust).await
    }

    /// Served by a hub whose time is `clock`'s.
    pub async fn start_clocked(
        backend: &tongban_tests::TestBackend,
        clock: Clock,
        adjust: impl FnOnce(&mut HttpConfig),
    ) -> Served {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let hub = hub_clocked(backend, clock).await;
        let readiness = Readiness::new();
        readiness.set_quic_accepting(true);
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut config = HttpConfig::new(format!("http://{addr}"));
        adjust(&mut config);
        let metrics = tongban_hub::Metrics::new();
        let state =
            HttpState::new(hub.clone(), config, readiness.clone()).with_metrics(metrics.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tongban_http::serve(
            HttpListener::new(tcp, None),
            state,
            async move {
                let _ = stopped.await;
            },
        ));
        Served {
            hub,
            readiness,
            metrics,
            addr,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Revokes `licence` (as issued by [`business_licence`]) on the hub.
    pub async fn revoke(&self, licence: &Value) {
        let identifier = licence["licence"]["identifier"].as_str().unwrap();
        self.hub.revoke(identifier, "admin", "test").await.unwrap();
    }

    /// `POST /v1/verify` of `licence`: the verification it answers.
    pub async fn verify(&self, licence: &Value) -> Value {
        self.post_json("/v1/verify", licence)
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Stops the server (it finishes what is in flight) and the hub.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
        self.hub.close().await;
    }
}

pub async fn hub_on(backend: &tongban_tests::TestBackend) -> Service {
    hub_clocked(backend, Clock::System).await
}

/// A hub with the sample region whose time is `clock`'s.
pub async fn hub_clocked(backend: &tongban_tests::TestBackend, clock: Clock) -> Service {
    let hub = Service::open(&ServiceConfig {
        store: StoreConfig::new(
            DatabaseConfig::parse(&backend.database_url),
            BlobConfig::Local(backend.blob_dir()),
        ),
        keystore: backend.dir().join("keys"),
        kek: None,
        clock,
    })
    .await
    .unwrap();
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true)
        .await
        .unwrap();
    hub
}

/// A business licence of the sample company, issued by the market bureau.
pub async fn business_licence(hub: &Service, attachment: Option<Vec<u8>>) -> Value {
    let mut input = IssueInput::from_json(&samples::business_licence_request()).unwrap();
    input.attachment = attachment.map(|bytes| tongban_service::AttachmentInput {
        bytes,
        media_type: "application/pdf".into(),
    });
    hub.issue(samples::MARKET, input).await.unwrap().credential
}

/// A problem's code, after checking that it is a problem with `status`.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "{response:?}");
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    for member in ["type", "title", "status", "detail", "code"] {
        assert!(body.get(member).is_some(), "{member} missing: {body}");
    }
    assert_eq!(body["status"], status);
    assert_eq!(
        body["type"],
        format!("urn:tongban:problem:{}", body["code"].as_str().unwrap())
    );
    body
}

/// Runs `test` against a hub served over HTTP on every backend (adjusted
/// by `adjust`), and stops it after.
pub async fn each_served<A, F, Fut>(name: &str, adjust: A, test: F)
where
    A: Fn(&mut HttpConfig),
    F: Fn(Served) -> Fut,
    Fut: Future<Output = Served>,
{
    each_backend(name, |backend| async {
        let served = Served::start_with(&backend, &adjust).await;
        test(served).await.stop().await;
        backend
    })
    .await;
}

/// Checks that `response` is a problem with `status` and `code`.
pub async fn refused(response: reqwest::Response, status: u16, code: &str) -> Value {
    let body = problem(response, status).await;
    assert_eq!(body["code"], code, "{body}");
    body
}

/// Runs `test` on every backend.
pub async fn each_backend<F, Fut>(name: &str, test: F)
where
    F: Fn(tongban_tests::TestBackend) -> Fut,
    Fut: Future<Output = tongban_tests::TestBackend>,
{
    for backend in tongban_tests::backends(name).await {
        let backend = test(backend).await;
        backend.cleanup().await;
    }
}
