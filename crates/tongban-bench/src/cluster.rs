//! `tongban-bench cluster`: the exchange through `tongban serve` processes
//! on one PostgreSQL, with 1 node and with 3 (by default). For each, a
//! fresh database and a hub initialised with a KEK file (every node holds
//! the hub's keys), N sending connections spread over the nodes pipelining
//! pre-signed 1 KiB messages, one consumer on the first node; accept
//! throughput, accept latency, the time until the consumer had them all,
//! and the CPU seconds the nodes and the PostgreSQL server spent (from
//! /proc), for the per-node costs in docs/NOTES.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tongban_client::{ClientConfig, Connector, Event, Timeouts};
use tongban_proto::ClientOp;
use tongban_seal::SigningKey;
use tongban_service::samples;

use crate::exchange::{payload, pipeline};
use crate::measure::{percentile, round2, say, warn_if_debug};
use crate::output::print_json;

pub(crate) const PROVIDER: &str = samples::MARKET;
pub(crate) const CONSUMER: &str = samples::CIVIL_AFFAIRS;

#[derive(Debug, Args)]
pub struct ClusterBenchArgs {
    /// PostgreSQL URL of a user who may create databases (one per run is
    /// made and dropped).
    #[arg(long, env = "TONGBAN_TEST_POSTGRES")]
    postgres: String,
    /// The `tongban` binary (default: beside this one).
    #[arg(long)]
    tongban: Option<PathBuf>,
    /// Node counts to measure, in turn.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    nodes: Vec<usize>,
    /// Sending connections, spread evenly over the nodes.
    #[arg(long, default_value_t = 24)]
    connections: usize,
    /// Messages per run.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Unacknowledged messages per connection.
    #[arg(long, default_value_t = 32)]
    window: usize,
}

/// CPU seconds (user + system) of the processes named `comm`, or of `pid`.
pub(crate) fn cpu_seconds(filter: impl Fn(u32, &str) -> bool) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0u64;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !filter(pid, &stat[open + 1..close]) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime: fields 14 and 15 of stat, 11 and 12 after the name.
        let parse = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        total += parse(11) + parse(12);
    }
    total as f64 / ticks
}

/// One hub for one run: its database, directory and nodes.
pub(crate) struct Hub {
    pub(crate) tongban: PathBuf,
    pub(crate) dir: tempfile::TempDir,
    /// A PostgreSQL URL, or a SQLite file's path.
    pub(crate) database: String,
    pub(crate) nodes: Vec<(Child, SocketAddr)>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        for (child, _) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Hub {
    fn cmd(&self, data: &Path) -> Command {
        let mut c = Command::new(&self.tongban);
        c.arg("--data-dir")
            .arg(data)
            .env("TONGBAN_DATABASE", &self.database)
            .env("TONGBAN_KEK_FILE", self.dir.path().join("hub.kek"))
            .env_remove("TONGBAN_S3_BUCKET")
            .env_remove("TONGBAN_KEK");
        c
    }

    fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.cmd(&self.dir.path().join("hub")).args(args).output()?;
        anyhow::ensure!(
            out.status.success(),
            "tongban {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub(crate) fn initialise(&self) -> anyhow::Result<()> {
        let kek = self.dir.path().join("hub.kek");
        self.run(&["kek", "new", kek.to_str().unwrap_or_default()])?;
        self.run(&["init"])?;
        self.run(&["ca", "init"])?;
        let resource = self.dir.path().join("resource.json");
        std::fs::write(
            &resource,
            serde_json::to_vec(
                &json!({"id": "business-registration", "name": "负载测试资源",
                "schema": "business-registration@1", "sharingType": "有条件共享"}),
            )?,
        )?;
        let file = resource.to_str().unwrap_or_default();
        self.run(&["catalogue", "publish", "--as", PROVIDER, file])?;
        let applied: Value = serde_json::from_str(&self.run(&[
            "--json",
            "access",
            "apply",
            "--as",
            CONSUMER,
            "business-registration",
            "--purpose",
            "负载测试",
            "--days",
            "1",
        ])?)?;
        let number = applied["id"].to_string();
        self.run(&["access", "approve", "--as", PROVIDER, &number])?;
        for dept in [PROVIDER, CONSUMER] {
            let out = self.dir.path().join(dept);
            let out = out.to_str().unwrap_or_default();
            self.run(&["ca", "issue", "client", "--dept", dept, "--out", out])?;
            let key = format!("{out}/signing.key");
            self.run(&["key", "export-secret", "--owner", dept, "--out", &key])?;
        }
        Ok(())
    }

    /// Starts `n` nodes, each once `/readyz` answers 200.
    pub(crate) fn serve(&mut self, n: usize) -> anyhow::Result<()> {
        for i in 0..n {
            let quic = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
            let http = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
            let child = self
                .cmd(&self.dir.path().join(format!("node-{i}")))
                .args(["--durability", "process", "serve"])
                .args(["--listen", &quic.to_string(), "--http", &http.to_string()])
                .args(["--connections-per-department", "1000"])
                .env("TONGBAN_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()?;
            self.nodes.push((child, quic));
            let until = Instant::now() + Duration::from_secs(60);
            while !ready(http) {
                anyhow::ensure!(Instant::now() < until, "node {i} did not become ready");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    pub(crate) fn client_config(
        &self,
        dept: &str,
        hub: SocketAddr,
    ) -> anyhow::Result<ClientConfig> {
        let dir = self.dir.path().join(dept);
        let read = |n: &str| std::fs::read_to_string(dir.join(n));
        Ok(ClientConfig {
            hubs: vec![hub],
            server_name: "localhost".into(),
            ca_pem: read("ca.pem")?,
            cert_pem: read("cert.pem")?,
            key_pem: read("key.pem")?,
            department: dept.into(),
            signing_key: SigningKey::from_secret_multikey(read("signing.key")?.trim())?,
            timeouts: Timeouts::default(),
        })
    }
}

/// The `tongban` binary: `given`, or the one beside this one.
pub(crate) fn tongban_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let tongban = match given {
        Some(p) => p.to_owned(),
        None => std::env::current_exe()?.with_file_name("tongban"),
    };
    anyhow::ensure!(
        tongban.exists(),
        "{}: no tongban binary (build it, or give --tongban)",
        tongban.display()
    );
    Ok(tongban)
}

/// `GET /readyz` answers 200.
fn ready(http: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(http) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let ask = format!("GET /readyz HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    s.write_all(ask.as_bytes()).is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// Creates (or drops) database `name` on the server of `admin`.
async fn database(admin: &str, sql: String) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// `admin`'s URL naming database `name` instead.
fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// One measured run with `n` nodes.
async fn measure(
    args: &ClusterBenchArgs,
    tongban: &Path,
    n: usize,
    json: bool,
) -> anyhow::Result<Value> {
    let name = format!("tongban_bench_cluster_{}_{n}", std::process::id());
    database(&args.postgres, format!("CREATE DATABASE \"{name}\"")).await?;
    let result = measure_on(args, tongban, n, &database_url(&args.postgres, &name), json).await;
    let _ = database(
        &args.postgres,
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await;
    result
}

/// `count` pre-signed 1 KiB messages from [`PROVIDER`] to [`CONSUMER`],
/// as `send` frames, dealt out over `connections`.
fn signed_frames(
    key: &SigningKey,
    count: usize,
    connections: usize,
) -> anyhow::Result<Vec<Vec<Vec<u8>>>> {
    let per = count.div_ceil(connections);
    let mut frames = Vec::new();
    for c in 0..connections {
        let mut mine = Vec::new();
        for i in 0..per.min(count.saturating_sub(c * per)) {
            let draft = tongban_proto::Draft {
                id: tongban_client::new_id(),
                sender: PROVIDER.into(),
                recipient: Some(CONSUMER.into()),
                topic: None,
                resource: "business-registration".into(),
                schema: "business-registration@1".into(),
                kind: tongban_proto::Kind::Message,
                correlation_id: None,
                time: time::OffsetDateTime::now_utc(),
                payload: Some(payload(1024, c * per + i)),
                payload_ref: None,
            };
            let envelope = draft.sign(key)?;
            mine.push(tongban_proto::encode(
                &ClientOp::Send { envelope }.to_value(),
            ));
        }
        frames.push(mine);
    }
    Ok(frames)
}

/// What one phase of sending measured.
struct Phase {
    latencies: Vec<Duration>,
    refused: usize,
    seconds: f64,
    /// CPU seconds of the nodes and of PostgreSQL during the phase.
    cpu: (f64, f64),
}

impl Phase {
    fn to_json(&self) -> Value {
        let accepted = self.latencies.len();
        let per_thousand = |cpu: f64| round2(cpu * 1000.0 / accepted.max(1) as f64);
        json!({
            "accepted": accepted,
            "refused": self.refused,
            "acceptedPerSecond": round2(accepted as f64 / self.seconds),
            "acceptLatencyMs": {
                "p50": round2(percentile(&self.latencies, 0.5)),
                "p99": round2(percentile(&self.latencies, 0.99)),
            },
            "cpuSeconds": {"nodes": round2(self.cpu.0), "postgres": round2(self.cpu.1)},
            "cpuSecondsPer1000": {"nodes": per_thousand(self.cpu.0), "postgres": per_thousand(self.cpu.1)},
        })
    }
}

/// Sends `frames` over `senders` (one list per connection), `window`
/// unacknowledged per connection, all at once or paced at `rate` messages
/// a second in all.
async fn send_phase(
    senders: &[tongban_client::Client],
    frames: Vec<Vec<Vec<u8>>>,
    window: usize,
    rate: Option<f64>,
    node_pids: &[u32],
) -> anyhow::Result<Phase> {
    let nodes_cpu = || cpu_seconds(|pid, _| node_pids.contains(&pid));
    let pg_cpu = || cpu_seconds(|_, comm| comm == "postgres");
    let (nodes_before, pg_before) = (nodes_cpu(), pg_cpu());
    let connections = senders.len().max(1);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (c, (client, mine)) in senders.iter().zip(frames).enumerate() {
        // Paced: each connection sends every `connections / rate` seconds,
        // the connections staggered by `1 / rate`.
        let pace = rate.map(|r| {
            let gap = Duration::from_secs_f64(1.0 / r.max(1.0));
            (gap * c as u32, gap * connections as u32)
        });
        tasks.spawn(pipeline(client.clone(), mine, window, pace));
    }
    let mut latencies = Vec::new();
    let mut refused = 0;
    while let Some(r) = tasks.join_next().await {
        let (l, f) = r??;
        latencies.extend(l);
        refused += f;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(Phase {
        latencies,
        refused,
        seconds,
        cpu: (nodes_cpu() - nodes_before, pg_cpu() - pg_before),
    })
}

/// One consumer on the first node taking `total` deliveries: how many it
/// got, and when it had the first `mark` of them.
fn consume(
    mut listener: tongban_client::Listener,
    total: usize,
    mark: usize,
    started: Instant,
) -> tokio::task::JoinHandle<(usize, Duration)> {
    tokio::spawn(async move {
        let mut got = 0usize;
        let mut marked = Duration::ZERO;
        while got < total {
            match tokio::time::timeout(Duration::from_secs(30), listener.next()).await {
                Ok(Ok(Some(Event::Delivery(d)))) => {
                    got += 1;
                    if got == mark {
                        marked = started.elapsed();
                    }
                    if listener.ack(d.delivery).await.is_err() {
                        break;
                    }
                }
                Ok(Ok(Some(_))) => {}
                _ => break,
            }
        }
        (got, marked)
    })
}

async fn measure_on(
    args: &ClusterBenchArgs,
    tongban: &Path,
    n: usize,
    url: &str,
    json: bool,
) -> anyhow::Result<Value> {
    let mut hub = Hub {
        tongban: tongban.to_owned(),
        dir: tempfile::tempdir()?,
        database: url.to_owned(),
        nodes: Vec::new(),
    };
    say(
        json,
        &format!("{n} node(s): initialising a hub, starting the nodes ..."),
    );
    hub.initialise()?;
    hub.serve(n)?;
    let addrs: Vec<SocketAddr> = hub.nodes.iter().map(|(_, a)| *a).collect();
    let key = SigningKey::from_secret_multikey(
        std::fs::read_to_string(hub.dir.path().join(PROVIDER).join("signing.key"))?.trim(),
    )?;
    let connections = args.connections.max(1);
    let (peak_count, paced_count) = (args.messages, args.messages / 2);
    let peak_frames = signed_frames(&key, peak_count, connections)?;
    let consumer = Connector::new(hub.client_config(CONSUMER, addrs[0])?)?
        .connect()
        .await?;
    let listener = consumer.listen(1024).await?;
    let mut senders = Vec::new();
    for c in 0..connections {
        let config = hub.client_config(PROVIDER, addrs[c % n])?;
        senders.push(Connector::new(config)?.connect().await?);
    }
    let node_pids: Vec<u32> = hub.nodes.iter().map(|(c, _)| c.id()).collect();
    say(
        json,
        &format!(
            "{n} node(s): {peak_count} messages over {connections} connections, at full speed ..."
        ),
    );
    let started = Instant::now();
    let consumed = consume(listener, peak_count + paced_count, peak_count, started);
    let peak = send_phase(&senders, peak_frames, args.window, None, &node_pids).await?;
    let rate = peak.latencies.len() as f64 / peak.seconds / 2.0;
    say(
        json,
        &format!("{n} node(s): {paced_count} messages paced at half the peak ({rate:.0}/s) ..."),
    );
    let paced_frames = signed_frames(&key, paced_count, connections)?;
    let paced = send_phase(&senders, paced_frames, args.window, Some(rate), &node_pids).await?;
    let (delivered, delivered_in) = consumed.await?;
    consumer.close().await;
    let mut run = peak.to_json();
    run["nodes"] = json!(n);
    run["connections"] = json!(connections);
    run["messages"] = json!(peak_count);
    run["delivered"] = json!(delivered);
    // The first `peak_count` were delivered while the peak phase ran.
    run["deliveredPerSecond"] = json!(round2(
        peak_count.min(delivered) as f64 / delivered_in.as_secs_f64().max(1e-9)
    ));
    run["halfPeak"] = paced.to_json();
    run["halfPeak"]["rate"] = json!(round2(rate));
    Ok(run)
}

pub async fn run(args: ClusterBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("cluster");
    let tongban = tongban_binary(args.tongban.as_deref())?;
    let mut runs = Vec::new();
    for &n in &args.nodes {
        anyhow::ensure!(n >= 1, "--nodes: at least one node");
        let run = measure(&args, &tongban, n, json).await?;
        if !json {
            println!(
                "{n} node(s): peak {} accepted/s (p50 {} ms, p99 {} ms), {} delivered/s; CPU s per 1000: nodes {}, PostgreSQL {}",
                run["acceptedPerSecond"],
                run["acceptLatencyMs"]["p50"],
                run["acceptLatencyMs"]["p99"],
                run["deliveredPerSecond"],
                run["cpuSecondsPer1000"]["nodes"],
                run["cpuSecondsPer1000"]["postgres"]
            );
            let half = &run["halfPeak"];
            println!(
                "{n} node(s): at half the peak ({}/s): {} accepted/s, p50 {} ms, p99 {} ms; CPU s per 1000: nodes {}, PostgreSQL {}",
                half["rate"],
                half["acceptedPerSecond"],
                half["acceptLatencyMs"]["p50"],
                half["acceptLatencyMs"]["p99"],
                half["cpuSecondsPer1000"]["nodes"],
                half["cpuSecondsPer1000"]["postgres"]
            );
        }
        runs.push(run);
    }
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    if json {
        print_json(&json!({"cores": cores, "runs": runs}))?;
    } else {
        println!(
            "(every node, PostgreSQL and this load generator share this machine's {cores} cores)"
        );
    }
    Ok(())
}
