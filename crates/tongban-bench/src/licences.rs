//! `tongban-bench licences`: this machine's raw Ed25519 rate against our
//! licence verification (single and batch) and issuance into the embedded
//! store, measured in one run so that the ratios mean something on a
//! shared, noisy machine. Build with `--release`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};
use tongban_licence::{Trust, VerifyOptions, verify, verify_bytes, verify_many};
use tongban_service::{IssueInput, Service, ServiceConfig, samples};

use crate::measure::{durability, raw_verify_rate, round2, say, warn_if_debug};
use crate::output::print_json;
use crate::progress;

#[derive(Debug, Args)]
pub struct LicenceBenchArgs {
    /// Licences to issue (and then verify).
    #[arg(long, default_value_t = 20_000)]
    count: usize,
    /// Licences per issue batch (one transaction).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Concurrent issuing tasks.
    #[arg(long, default_value_t = 2)]
    issuers: usize,
    /// Licences per verification batch.
    #[arg(long, default_value_t = 1_000)]
    verify_batch: usize,
    /// Seconds to spend on each raw Ed25519 measurement.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Keep the benchmark hub in this directory instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Commit durability for the benchmark store: power (fsync every commit) or process.
    #[arg(long, default_value = "power", value_parser = ["power", "process"])]
    durability: String,
    /// An empty PostgreSQL database (postgres://…) to issue into instead of
    /// SQLite in the directory.
    #[arg(long)]
    database: Option<String>,
}

/// Rates per second, and the licences they were measured on.
struct Figures {
    licences: usize,
    licence_bytes: usize,
    raw_1: f64,
    raw_2: f64,
    ours_1: f64,
    single: f64,
    from_bytes: f64,
    batch: f64,
    issue: f64,
}

pub async fn run(args: LicenceBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("licences");

    // 1. Raw Ed25519 on this machine, same message size as a licence proof (64 bytes).
    say(
        json,
        "measuring raw Ed25519 verify_strict (1 and 2 threads) ...",
    );
    let raw_1 = raw_verify_rate(1, args.seconds, true);
    let raw_2 = raw_verify_rate(2, args.seconds, true);
    let ours_1 = raw_verify_rate(1, args.seconds, false);

    // 2. Issuance into the embedded store (durable commits).
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let mut config = ServiceConfig::embedded(&dir);
    config.store.durability = durability(&args.durability);
    if let Some(url) = &args.database {
        config.store.database = tongban_store::DatabaseConfig::parse(url);
    }
    let hub = Service::open(&config).await?;
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
    say(
        json,
        &format!(
            "issuing {} licences into {} ({}, durable commits) in batches of {} ...",
            args.count,
            hub.store().backend(),
            dir.display(),
            args.batch
        ),
    );
    let issue = issue_all(&hub, &args, json).await?;

    // 3. Verification of the stored licences, with the hub's trust.
    let texts = stored_licences(&hub, args.count).await?;
    let values: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t))
        .collect::<Result<_, _>>()?;
    let trust = hub.trust_for_issuers(&[samples::MARKET.to_owned()]).await?;
    let options = VerifyOptions {
        now: hub.now(),
        attachments: None,
    };
    let (single, from_bytes, batch) = verify_all(&trust, options, &values, &texts, &args, json)?;
    hub.close().await;

    let figures = Figures {
        licences: values.len(),
        licence_bytes: texts.first().map_or(0, String::len),
        raw_1,
        raw_2,
        ours_1,
        single,
        from_bytes,
        batch,
        issue,
    };
    if json {
        print_json(&figures.to_json(&args))
    } else {
        figures.print(&args);
        Ok(())
    }
}

/// Issues `args.count` licences; licences per second.
///
/// Several issuers at once (as departments are), so that one batch is
/// signed while another is written: SQLite has one writer, signing has
/// every core.
async fn issue_all(hub: &Service, args: &LicenceBenchArgs, json: bool) -> anyhow::Result<f64> {
    let request = IssueInput::from_json(&samples::business_licence_request())?;
    let started = Instant::now();
    let bar = progress::bar(json, args.count as u64, "licences");
    let per_task = args.count.div_ceil(args.issuers.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..args.issuers.max(1) {
        let hub = hub.clone();
        let bar = bar.clone();
        let request = request.clone();
        let mine = per_task.min(args.count.saturating_sub(t * per_task));
        let batch = args.batch;
        tasks.spawn(async move {
            let mut done = 0;
            while done < mine {
                let n = batch.min(mine - done);
                hub.issue_batch(samples::MARKET, vec![request.clone(); n])
                    .await?;
                done += n;
                bar.inc(n as u64);
            }
            Ok::<usize, tongban_service::Error>(done)
        });
    }
    let mut issued = 0;
    while let Some(done) = tasks.join_next().await {
        issued += done??;
    }
    bar.finish_and_clear();
    Ok(issued as f64 / started.elapsed().as_secs_f64())
}

/// The sample issuer's licences as stored (JSON text), a page at a time.
async fn stored_licences(hub: &Service, expected: usize) -> anyhow::Result<Vec<String>> {
    let mut texts: Vec<String> = Vec::with_capacity(expected);
    let mut after: Option<String> = None;
    loop {
        let page = hub
            .store()
            .licences_of_issuer_page(samples::MARKET, after.as_deref(), 5_000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.identifier.clone());
        texts.extend(page.into_iter().map(|r| r.credential));
    }
    Ok(texts)
}

/// Verifies every licence one by one (parsed, then from bytes) and in
/// batches; each rate per second, and an error if any was refused.
fn verify_all(
    trust: &Trust,
    options: VerifyOptions<'_>,
    values: &[Value],
    texts: &[String],
    args: &LicenceBenchArgs,
    json: bool,
) -> anyhow::Result<(f64, f64, f64)> {
    say(
        json,
        "verifying licences one by one (parsed credential) ...",
    );
    let copies = values.to_vec();
    let started = Instant::now();
    let mut ok = 0usize;
    for v in copies {
        ok += usize::from(verify(trust, v, options).valid);
    }
    let single_rate = values.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        ok == values.len(),
        "{} of {} licences failed verification",
        values.len() - ok,
        values.len()
    );

    say(json, "verifying licences one by one (from JSON bytes) ...");
    let started = Instant::now();
    let mut ok_bytes = 0usize;
    for t in texts {
        ok_bytes += usize::from(verify_bytes(trust, t.as_bytes(), options).valid);
    }
    let bytes_rate = texts.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        ok_bytes == texts.len(),
        "verification from bytes rejected valid licences"
    );

    say(
        json,
        &format!("verifying licences in batches of {} ...", args.verify_batch),
    );
    let chunks: Vec<Vec<Value>> = values
        .chunks(args.verify_batch.max(1))
        .map(<[Value]>::to_vec)
        .collect();
    let started = Instant::now();
    let mut batch_ok = 0usize;
    for chunk in chunks {
        batch_ok += verify_many(trust, chunk, options)
            .iter()
            .filter(|v| v.valid)
            .count();
    }
    let batch_rate = values.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        batch_ok == values.len(),
        "batch verification rejected valid licences"
    );
    Ok((single_rate, bytes_rate, batch_rate))
}

impl Figures {
    fn to_json(&self, args: &LicenceBenchArgs) -> Value {
        json!({
            "licences": self.licences,
            "licenceBytes": self.licence_bytes,
            "rawVerifyStrictPerSec": {"threads1": self.raw_1.round(), "threads2": self.raw_2.round()},
            "ourStrictVerifyPerSec": self.ours_1.round(),
            "licenceVerifyPerSec": self.single.round(),
            "licenceVerifyFromBytesPerSec": self.from_bytes.round(),
            "batchVerifyPerSec": self.batch.round(),
            "issuePerSec": self.issue.round(),
            "durability": args.durability,
            "ratios": {
                "licenceVerifyVsRaw": round2(self.single / self.raw_1),
                "licenceVerifyFromBytesVsRaw": round2(self.from_bytes / self.raw_1),
                "batchVerifyVsRaw": round2(self.batch / self.raw_1),
            },
            "targets": {
                "licenceVerifyVsRaw": ">= 0.80",
                "batchVerifyVsRaw": ">= 1.30",
                "issuePerSec": ">= 5000",
            }
        })
    }

    fn print(&self, args: &LicenceBenchArgs) {
        println!();
        println!(
            "licences                    {} ({} bytes each)",
            self.licences, self.licence_bytes
        );
        println!(
            "raw verify_strict           {:>9.0} /s (1 thread)   {:>9.0} /s (2 threads)   ed25519-dalek",
            self.raw_1, self.raw_2
        );
        println!(
            "our strict verify           {:>9.0} /s (1 thread)   {:.2} × raw   same acceptance rule",
            self.ours_1,
            self.ours_1 / self.raw_1
        );
        println!(
            "licence verify              {:>9.0} /s   {:.2} × raw   (target ≥ 0.80)",
            self.single,
            self.single / self.raw_1
        );
        println!(
            "licence verify from bytes   {:>9.0} /s   {:.2} × raw",
            self.from_bytes,
            self.from_bytes / self.raw_1
        );
        println!(
            "batch verify ({:>5})       {:>9.0} /s   {:.2} × raw   (target ≥ 1.30)",
            args.verify_batch,
            self.batch,
            self.batch / self.raw_1
        );
        let commits = if args.durability == "power" {
            "fsync every commit"
        } else {
            "survives a killed process"
        };
        println!(
            "issue into SQLite           {:>9.0} /s   {commits}, batches of {}, {} concurrent (target ≥ 5000)",
            self.issue, args.batch, args.issuers
        );
    }
}
