//! `tongban-bench idle`: the memory a `tongban serve` process holds for
//! idle department connections. One node on the embedded default (a
//! SQLite file and a local blob directory); N connections, each with a
//! listen stream open and nothing to deliver; the node's resident set
//! (`VmRSS`) read from /proc before and after, and per connection.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use tongban_client::Connector;

use crate::cluster::{CONSUMER, Hub, cpu_seconds, tongban_binary};
use crate::measure::{round2, say, warn_if_debug};
use crate::output::print_json;

/// The target: a node with 1,000 idle department connections stays under
/// this resident set.
const TARGET_MIB: f64 = 150.0;

#[derive(Debug, Args)]
pub struct IdleBenchArgs {
    /// Idle connections to open (each listening).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Seconds to hold them before the resident set is read (keep-alives
    /// flow meanwhile).
    #[arg(long, default_value_t = 5)]
    hold: u64,
    /// Seconds over which the idle node's CPU time is measured, after the
    /// resident set is read.
    #[arg(long, default_value_t = 5.0)]
    sample: f64,
    /// The `tongban` binary (default: beside this one).
    #[arg(long)]
    tongban: Option<PathBuf>,
}

/// The resident set of process `pid` in KiB (`VmRSS` in /proc/PID/status).
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/status has no VmRSS"))
}

fn mib(kib: u64) -> f64 {
    round2(kib as f64 / 1024.0)
}

/// Connections held open, each with its listen stream.
type Held = Vec<(tongban_client::Client, tongban_client::Listener)>;

/// Opens `n` more listening connections of [`CONSUMER`] to `addr`.
async fn open_listeners(hub: &Hub, addr: std::net::SocketAddr, n: usize) -> anyhow::Result<Held> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let client = Connector::new(hub.client_config(CONSUMER, addr)?)?
            .connect()
            .await?;
        let listener = client.listen(16).await?;
        held.push((client, listener));
    }
    Ok(held)
}

fn print_text(report: &serde_json::Value) {
    let all = &report["rssMiB"]["all"];
    println!(
        "node RSS: {} MiB with 1 listening connection, {all} MiB with {} ({} KiB per connection)",
        report["rssMiB"]["oneConnection"], report["connections"], report["perConnectionKiB"],
    );
    println!(
        "at 1,000 connections: {} MiB (target < {TARGET_MIB} MiB)",
        report["projectedRssMiBAt1000"]
    );
    println!(
        "idle CPU of the node: {} cores (keep-alives, each listener's tick)",
        report["idleCpuCores"]
    );
    println!("(one department's connections, the limit per department raised to 1,000)");
}

pub async fn run(args: IdleBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("idle");
    anyhow::ensure!(args.connections >= 1, "--connections: at least one");
    let dir = tempfile::tempdir()?;
    let mut hub = Hub {
        tongban: tongban_binary(args.tongban.as_deref())?,
        database: dir.path().join("hub.db").to_string_lossy().into_owned(),
        dir,
        nodes: Vec::new(),
    };
    say(json, "initialising a hub on SQLite, starting one node ...");
    hub.initialise()?;
    hub.serve(1)?;
    let (pid, addr) = match hub.nodes.first() {
        Some((child, addr)) => (child.id(), *addr),
        None => anyhow::bail!("the node did not start"),
    };
    // One connection first, so that what the first one sets up once
    // (TLS, the listener registry) is not counted per connection.
    let mut held = open_listeners(&hub, addr, 1).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid)?;
    let more = args.connections - 1;
    say(
        json,
        &format!("opening {more} idle listening connections ..."),
    );
    held.extend(open_listeners(&hub, addr, more).await?);
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    let after = rss_kib(pid)?;
    let closed = held
        .iter()
        .filter(|(c, _)| c.close_reason().is_some())
        .count();
    anyhow::ensure!(
        closed == 0,
        "{closed} of {} connections closed while idle",
        args.connections
    );
    let cpu = || cpu_seconds(|p, _| p == pid);
    let (cpu_before, sampled) = (cpu(), std::time::Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(args.sample.max(0.0))).await;
    let idle_cpu = (cpu() - cpu_before) / sampled.elapsed().as_secs_f64();
    let per = (after.saturating_sub(before)) as f64 / more.max(1) as f64;
    // What the target is about: the node with 1,000 connections.
    let projected = before as f64 + per * 999.0;
    let report = json!({
        "connections": args.connections,
        "rssMiB": {"oneConnection": mib(before), "all": mib(after)},
        "perConnectionKiB": round2(per),
        "projectedRssMiBAt1000": round2(projected / 1024.0),
        "idleCpuCores": round2(idle_cpu),
        "targetMiB": TARGET_MIB,
    });
    if json {
        print_json(&report)?;
    } else {
        print_text(&report);
    }
    for (client, _) in &held {
        client.close().await;
    }
    Ok(())
}
