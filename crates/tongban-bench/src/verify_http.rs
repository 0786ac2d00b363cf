//! `tongban-bench verify-http`: online licence verification over real
//! HTTP (the hub's `POST /v1/verify` on loopback, keep-alive connections,
//! `--clients` at once) against the same verification called in this
//! process with the same concurrency, in one run; and this machine's raw
//! Ed25519 rate as the reference every benchmark gives.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tongban_service::{IssueInput, Service, ServiceConfig, samples};

use crate::measure::{contention, raw_verify_rate, round2, say, warn_if_debug};
use crate::output::print_json;

#[derive(Debug, Args)]
pub struct VerifyHttpBenchArgs {
    /// Distinct licences verified (issued first, then verified in turn).
    #[arg(long, default_value_t = 200)]
    licences: usize,
    /// Concurrent clients (each a keep-alive connection), and tasks
    /// calling the service in process.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Seconds to spend on each measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Keep the benchmark hub in this directory instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Rates per second.
struct Figures {
    licences: usize,
    licence_bytes: usize,
    raw_before: f64,
    raw_after: f64,
    in_process: f64,
    http: f64,
}

pub async fn run(args: VerifyHttpBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("verify-http");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds = args.seconds.max(0.01);
    say(json, "measuring raw Ed25519 verify_strict (1 thread) ...");
    let raw_before = raw_verify_rate(1, seconds.min(2.0), true);

    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let mut config = ServiceConfig::embedded(&dir);
    config.store.durability = tongban_store::Durability::ProcessCrash;
    let hub = Service::open(&config).await?;
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
    let count = args.licences.max(1);
    say(json, &format!("issuing {count} licences ..."));
    let request = IssueInput::from_json(&samples::business_licence_request())?;
    let issued = hub
        .issue_batch(samples::MARKET, vec![request; count])
        .await?;
    let licences: Arc<Vec<Value>> = Arc::new(issued.into_iter().map(|l| l.credential).collect());
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new(
        licences
            .iter()
            .map(|l| serde_json::to_vec(l).map(bytes::Bytes::from))
            .collect::<Result<_, _>>()?,
    );
    let clients = args.clients.max(1);

    say(
        json,
        &format!("verifying in process, {clients} tasks, {seconds} s ..."),
    );
    let in_process = in_process_rate(&hub, &licences, clients, seconds).await?;

    let readiness = tongban_http::Readiness::new();
    readiness.set_quic_accepting(true);
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = tcp.local_addr()?;
    let state = tongban_http::HttpState::new(
        hub.clone(),
        tongban_http::HttpConfig::new(format!("http://{addr}")),
        readiness,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tongban_http::serve(
        tongban_http::HttpListener::new(tcp, None),
        state,
        async move {
            let _ = stopped.await;
        },
    ));
    say(
        json,
        &format!(
            "verifying over HTTP (POST /v1/verify), {clients} keep-alive clients, {seconds} s ..."
        ),
    );
    let url = format!("http://{addr}/v1/verify");
    let http = http_rate(&url, &bodies, clients, seconds).await;
    let _ = stop.send(());
    server.await??;
    let http = http?;
    hub.close().await;
    let raw_after = raw_verify_rate(1, seconds.min(2.0), true);

    let figures = Figures {
        licences: count,
        licence_bytes: bodies.first().map_or(0, bytes::Bytes::len),
        raw_before,
        raw_after,
        in_process,
        http,
    };
    if let Some(warning) = contention(raw_before, raw_after) {
        eprintln!("{warning}");
    }
    if json {
        print_json(&figures.to_json(clients))
    } else {
        figures.print(clients);
        Ok(())
    }
}

/// Verifications per second of `hub.verify_online` from `clients` tasks;
/// an error if any licence was not valid.
async fn in_process_rate(
    hub: &Service,
    licences: &Arc<Vec<Value>>,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    rate(clients, seconds, |_| {
        let (hub, licences) = (hub.clone(), Arc::clone(licences));
        move |i: usize| {
            let (hub, licence) = (hub.clone(), licences[i % licences.len()].clone());
            async move {
                let v = hub.verify_online(licence).await?;
                anyhow::ensure!(v.valid, "a licence failed verification: {:?}", v.problems);
                Ok(())
            }
        }
    })
    .await
}

/// Verifications per second over HTTP from `clients` clients, each with
/// its own keep-alive connection; an error if an answer was not a valid
/// verification.
async fn http_rate(
    url: &str,
    bodies: &Arc<Vec<bytes::Bytes>>,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()?,
        );
    }
    rate(clients, seconds, |t| {
        let (client, url, bodies) = (connections[t].clone(), url.to_owned(), Arc::clone(bodies));
        move |i: usize| {
            let (client, url) = (client.clone(), url.clone());
            let body = bodies[i % bodies.len()].clone();
            async move {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(response.status() == 200, "HTTP {}", response.status());
                let answer: Value = response.json().await?;
                anyhow::ensure!(answer["valid"] == true, "not valid over HTTP: {answer}");
                Ok(())
            }
        }
    })
    .await
}

/// Calls per second of `clients` tasks for `seconds`: task `t` makes its
/// caller with `caller(t)` and calls it with `t`, `t + clients`, … until
/// the time is up; the first error ends the run.
async fn rate<C, F, Fut>(clients: usize, seconds: f64, caller: C) -> anyhow::Result<f64>
where
    C: Fn(usize) -> F,
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..clients {
        let (call, done) = (caller(t), Arc::clone(&done));
        tasks.spawn(async move {
            let mut i = t;
            while Instant::now() < deadline {
                call(i).await?;
                done.fetch_add(1, Ordering::Relaxed);
                i += clients;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

impl Figures {
    fn to_json(&self, clients: usize) -> Value {
        json!({
            "licences": self.licences,
            "licenceBytes": self.licence_bytes,
            "clients": clients,
            "rawVerifyStrictPerSec": {"before": self.raw_before.round(), "after": self.raw_after.round()},
            "inProcessVerifyPerSec": self.in_process.round(),
            "httpVerifyPerSec": self.http.round(),
            "ratios": {
                "httpVsInProcess": round2(self.http / self.in_process),
                "inProcessVsRaw": round2(self.in_process / self.raw_before),
            },
            "targets": {"httpVsInProcess": ">= 0.50"},
            "contended": contention(self.raw_before, self.raw_after).is_some(),
        })
    }

    fn print(&self, clients: usize) {
        println!();
        println!(
            "licences                  {} ({} bytes each), {clients} clients",
            self.licences, self.licence_bytes
        );
        println!(
            "raw verify_strict         {:>9.0} /s before   {:>9.0} /s after (1 thread)",
            self.raw_before, self.raw_after
        );
        println!(
            "verify online, in process {:>9.0} /s   {:.2} × raw",
            self.in_process,
            self.in_process / self.raw_before
        );
        println!(
            "verify online, over HTTP  {:>9.0} /s   {:.2} × in process   (target ≥ 0.50)",
            self.http,
            self.http / self.in_process
        );
    }
}
