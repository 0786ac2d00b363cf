//! `tongban-bench regions`: 全域通办 between two hubs served in this
//! process, each with its own store and CA. Measures a case system's pull
//! of a holder's licences across regions (latency p50/p99, against the same
//! pull answered by its own region alone), and the rate at which a hub
//! verifies the other region's licences with a warm trust list, against
//! raw Ed25519 `verify_strict` on the same machine in the same run. Build
//! with `--release`.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tongban_client::Client;
use tongban_hub::ServeConfig;
use tongban_licence::{VerifyOptions, verify, verify_many};
use tongban_proto::services::{Holder, RegionLicenceQuery};
use tongban_service::{Clock, IssueInput, samples};
use tongban_testhub::regions::{self, RegionHub};

use crate::measure::{durability, percentile, raw_verify_rate, round2, say, warn_if_debug};
use crate::output::print_json;
use crate::progress;

#[derive(Debug, Args)]
pub struct RegionsBenchArgs {
    /// Holders in the issuing region, one 营业执照 each.
    #[arg(long, default_value_t = 2_000)]
    holders: u32,
    /// Pulls to time (after 50 to warm up).
    #[arg(long, default_value_t = 1_000)]
    pulls: usize,
    /// Pulls in flight at once: 1–4, as many as one department may have
    /// (the hub refuses more with BUSY).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=4))]
    concurrency: u16,
    /// Commit durability of both hubs' stores: power (fsync every commit)
    /// or process.
    #[arg(long, default_value = "power", value_parser = ["power", "process"])]
    durability: String,
    /// Seconds to spend on the raw Ed25519 measurement.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

fn holder_code(i: u32) -> anyhow::Result<String> {
    Ok(
        tongban_codes::synth::uscc('9', '1', samples::REGION, i + 1)?
            .as_str()
            .to_owned(),
    )
}

/// Times `pulls` pulls (`concurrency` at once) of random holders.
async fn time_pulls(
    client: &Client,
    holders: u32,
    pulls: usize,
    concurrency: usize,
    regions: Option<&[&str]>,
    expect: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(pulls);
    let mut next = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    while latencies.len() < pulls {
        while tasks.len() < concurrency.max(1) && next < pulls {
            next += 1;
            // xorshift: a different holder each time, the same sequence each run.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let holder = holder_code(u32::try_from(seed % u64::from(holders)).unwrap_or(0))?;
            let query = RegionLicenceQuery {
                regions: regions.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
                ..RegionLicenceQuery::new(
                    Holder::new("001", holder),
                    "跨区域办理：核验申请单位营业执照",
                    format!("QC-BENCH-{next:06}"),
                    regions::QINGCHENG_ITEM,
                )
            };
            let client = client.clone();
            tasks.spawn(async move {
                let started = Instant::now();
                let answer = client.region_licences(&query).await?;
                Ok::<_, anyhow::Error>((started.elapsed(), answer))
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (elapsed, answer) = done??;
        let found = answer.payload.licences.iter().filter(|l| l.valid).count();
        anyhow::ensure!(
            found == expect,
            "a pull returned {found} verified licences, not {expect}: {:?}",
            answer.payload.regions
        );
        latencies.push(elapsed);
    }
    latencies.sort();
    Ok(latencies)
}

pub async fn run(args: RegionsBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("regions");
    let temp = tempfile::tempdir()?;
    say(
        json,
        "starting 花都区 (440114) and 清城区 (441802), each with its own store and CA ...",
    );
    let (huadu, qingcheng) = start_regions(temp.path(), durability(&args.durability)).await?;
    let service = regions::qingcheng_service(&qingcheng.hub).await?;
    say(
        json,
        &format!(
            "花都区 issues a 营业执照 to each of {} holders ...",
            args.holders
        ),
    );
    let issued = issue_to_holders(&huadu, args.holders, json).await?;
    // Peered after issuance: the first list each fetches is warm and whole.
    regions::link(&qingcheng, &huadu).await?;
    let client = qingcheng.server.client(&qingcheng.hub, &service).await?;
    let pulls = time_both_pulls(&client, &args, json).await?;
    say(
        json,
        "verifying 花都区's licences in 清城区 with the stored trust list ...",
    );
    let (single, batch) = verify_peer_licences(&qingcheng, &issued).await?;
    say(json, "measuring raw Ed25519 verify_strict (1 thread) ...");
    let raw = raw_verify_rate(1, args.seconds, true);

    client.close().await;
    qingcheng.server.stop().await;
    huadu.server.stop().await;
    let figures = Figures {
        pulls,
        single,
        batch,
        raw,
    };
    if json {
        print_json(&figures.to_json(&args))
    } else {
        figures.print(&args);
        Ok(())
    }
}

/// 花都区 with its sample departments and 清城区 with none, in `dir`; one
/// case system pulls as fast as it can: no limit on its reads.
async fn start_regions(
    dir: &Path,
    durability: tongban_store::Durability,
) -> anyhow::Result<(RegionHub, RegionHub)> {
    let clock = Clock::System;
    let serve = ServeConfig {
        licence_reads_per_minute: 0,
        ..ServeConfig::default()
    };
    let huadu = regions::start(
        &dir.join("huadu"),
        samples::REGION,
        samples::HUB_NAME,
        true,
        clock.clone(),
        serve.clone(),
        durability,
    )
    .await?;
    let qingcheng = regions::start(
        &dir.join("qingcheng"),
        regions::QINGCHENG,
        regions::QINGCHENG_HUB,
        false,
        clock,
        serve,
        durability,
    )
    .await?;
    Ok((huadu, qingcheng))
}

/// One 营业执照 to each of `holders` holders, 1,000 per batch: the credentials.
async fn issue_to_holders(
    huadu: &RegionHub,
    holders: u32,
    json: bool,
) -> anyhow::Result<Vec<Value>> {
    let template = samples::business_licence_request();
    let mut issued: Vec<Value> = Vec::with_capacity(holders as usize);
    let bar = progress::bar(json, u64::from(holders), "licences");
    let mut i = 0;
    while i < holders {
        let n = 1_000.min(holders - i);
        let mut batch = Vec::with_capacity(n as usize);
        for k in i..i + n {
            let code = holder_code(k)?;
            let mut request = template.clone();
            request["holder"]["code"] = json!(code);
            request["data"]["uscc"] = json!(code);
            batch.push(IssueInput::from_json(&request)?);
        }
        for l in huadu.hub.issue_batch(samples::MARKET, batch).await? {
            issued.push(l.credential);
        }
        i += n;
        bar.set_position(u64::from(i));
    }
    bar.finish_and_clear();
    Ok(issued)
}

/// The pulls timed: across regions, and the same answered by 清城区 alone.
struct Pulls {
    across: Vec<Duration>,
    across_rate: f64,
    local: Vec<Duration>,
}

/// Warms up, then times the pulls across regions and the same pulls
/// answered by 清城区 alone.
async fn time_both_pulls(
    client: &Client,
    args: &RegionsBenchArgs,
    json: bool,
) -> anyhow::Result<Pulls> {
    say(json, "warming up ...");
    time_pulls(client, args.holders, 50, 1, None, 1).await?;
    say(
        json,
        &format!(
            "timing {} pulls across regions ({} in flight) ...",
            args.pulls, args.concurrency
        ),
    );
    let concurrency = usize::from(args.concurrency);
    let started = Instant::now();
    let across = time_pulls(client, args.holders, args.pulls, concurrency, None, 1).await?;
    let across_rate = across.len() as f64 / started.elapsed().as_secs_f64();
    say(json, "timing the same pulls answered by 清城区 alone ...");
    let own = [regions::QINGCHENG];
    let local = time_pulls(client, args.holders, args.pulls, concurrency, Some(&own), 0).await?;
    Ok(Pulls {
        across,
        across_rate,
        local,
    })
}

/// 花都区's licences verified in 清城区 with the stored trust list, one by
/// one and with `verify_many`: both rates per second.
async fn verify_peer_licences(
    qingcheng: &RegionHub,
    issued: &[Value],
) -> anyhow::Result<(f64, f64)> {
    let peer = qingcheng.hub.peer_trust(samples::REGION).await?;
    let options = VerifyOptions {
        now: qingcheng.hub.now(),
        attachments: None,
    };
    let started = Instant::now();
    let mut valid = 0usize;
    for c in issued {
        valid += usize::from(verify(&peer.trust, c.clone(), options).valid);
    }
    let single_rate = issued.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        valid == issued.len(),
        "{valid} of {} verified",
        issued.len()
    );
    let started = Instant::now();
    let results = verify_many(&peer.trust, issued.to_vec(), options);
    let batch_rate = issued.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(results.iter().all(|v| v.valid), "a batch result failed");
    Ok((single_rate, batch_rate))
}

/// What was measured, against raw Ed25519.
struct Figures {
    pulls: Pulls,
    single: f64,
    batch: f64,
    raw: f64,
}

impl Figures {
    fn to_json(&self, args: &RegionsBenchArgs) -> Value {
        let ms = |d: &[Duration], p: f64| percentile(d, p);
        let (across, local) = (&self.pulls.across, &self.pulls.local);
        json!({
            "holders": args.holders,
            "pulls": args.pulls,
            "concurrency": args.concurrency,
            "durability": args.durability,
            "acrossRegions": {"p50Ms": ms(across, 0.5), "p99Ms": ms(across, 0.99), "maxMs": ms(across, 1.0), "perSec": self.pulls.across_rate.round()},
            "ownRegionOnly": {"p50Ms": ms(local, 0.5), "p99Ms": ms(local, 0.99)},
            "peerLicenceVerifyPerSec": {"oneByOne": self.single.round(), "verifyMany": self.batch.round()},
            "rawVerifyStrictPerSec": self.raw.round(),
            "ratios": {
                "peerVerifyVsRaw": round2(self.single / self.raw),
                "peerVerifyManyVsRaw": round2(self.batch / self.raw),
            },
        })
    }

    fn print(&self, args: &RegionsBenchArgs) {
        let ms = |d: &[Duration], p: f64| percentile(d, p);
        let (across, local) = (&self.pulls.across, &self.pulls.local);
        println!();
        println!(
            "pull across regions       p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   {:.0} pulls/s ({} in flight)",
            ms(across, 0.5),
            ms(across, 0.99),
            ms(across, 1.0),
            self.pulls.across_rate,
            args.concurrency
        );
        println!(
            "own region only           p50 {:>7.2} ms   p99 {:>7.2} ms",
            ms(local, 0.5),
            ms(local, 0.99)
        );
        println!(
            "peer licence verify       {:>9.0} /s one by one   {:.2} × raw",
            self.single,
            self.single / self.raw
        );
        println!(
            "peer licence verify_many  {:>9.0} /s              {:.2} × raw",
            self.batch,
            self.batch / self.raw
        );
        println!("raw verify_strict         {:>9.0} /s (1 thread)", self.raw);
    }
}
