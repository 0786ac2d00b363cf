//! `tongban bench licences`: this machine's raw Ed25519 rate against our
//! licence verification (single and batch) and issuance into the embedded
//! store, measured in one run so that the ratios mean something on a
//! shared, noisy machine. Build with `--release`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tongban_licence::{VerifyOptions, verify, verify_bytes, verify_many};
use tongban_seal::SigningKey;
use tongban_service::{Hub, HubConfig, IssueInput};

use crate::{Context, progress, samples, setup};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Licence issuance and verification against raw Ed25519.
    Licences(LicenceBenchArgs),
    /// Audit log append and verification rates at scale (default 1,000,000 entries).
    Audit(AuditBenchArgs),
    /// The exchange end to end: the hub against raw Ed25519 and NATS JetStream.
    Exchange(crate::bench_exchange::ExchangeBenchArgs),
    /// Catalogue search latency (p50/p99) over 100,000 resources.
    Catalogue(crate::bench_catalogue::CatalogueBenchArgs),
    /// 全域通办: cross-region pull latency (p50/p99) and the rate of
    /// verifying another region's licences, against raw Ed25519.
    Regions(crate::bench_regions::RegionsBenchArgs),
}

#[derive(Debug, Args)]
pub struct AuditBenchArgs {
    /// Entries to append.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Entries per append (one transaction).
    #[arg(long, default_value_t = 1_000)]
    batch: u64,
    /// Keep the benchmark hub in this directory instead of a temporary one.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// The global `--json`.
    #[arg(skip)]
    pub json: bool,
}

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
    dir: Option<std::path::PathBuf>,
    /// Commit durability for the benchmark store: power (fsync every commit) or process.
    #[arg(long, default_value = "power", value_parser = ["power", "process"])]
    durability: String,
    /// The global `--json`.
    #[arg(skip)]
    pub json: bool,
}

fn durability(s: &str) -> tongban_store::Durability {
    if s == "process" {
        tongban_store::Durability::ProcessCrash
    } else {
        tongban_store::Durability::PowerLoss
    }
}

pub async fn run(ctx: &Context, cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Licences(mut args) => {
            args.json = ctx.json;
            licences(args).await
        }
        BenchCommand::Audit(mut args) => {
            args.json = ctx.json;
            audit(args).await
        }
        BenchCommand::Exchange(mut args) => {
            args.json = ctx.json;
            crate::bench_exchange::run(args).await
        }
        BenchCommand::Catalogue(mut args) => {
            args.json = ctx.json;
            crate::bench_catalogue::run(args).await
        }
        BenchCommand::Regions(mut args) => {
            args.json = ctx.json;
            crate::bench_regions::run(args).await
        }
    }
}

async fn audit(args: AuditBenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; figures are meaningless. Use `cargo run --release -- bench audit`."
        );
    }
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let hub = Hub::open(&HubConfig::embedded(&dir)).await?;
    setup::initialise(&hub, samples::REGION, samples::HUB_NAME, false).await?;
    let say = |s: &str| {
        if !args.json {
            eprintln!("{s}");
        }
    };
    say(&format!(
        "appending {} audit entries in batches of {} (durable commits) ...",
        args.entries, args.batch
    ));
    let now = hub.now();
    let started = Instant::now();
    let bar = progress::bar(args.json, args.entries, "entries");
    let mut appended = 0u64;
    while appended < args.entries {
        let n = args.batch.min(args.entries - appended);
        let records: Vec<tongban_store::AuditRecord> = (appended..appended + n)
            .map(|i| {
                tongban_store::AuditRecord::new(
                    now,
                    samples::MARKET,
                    "licence.issue",
                    format!("1.2.156.3005.2.11100000TB0000001K001.{}.20261125{i:08}.001.X", samples::MARKET),
                    json!({"type": "11100000TB0000001K001", "number": format!("N{i}"), "holderCodeType": "001"}),
                )
            })
            .collect();
        hub.record_audit(&records).await?;
        appended += n;
        bar.set_position(appended);
    }
    bar.finish_and_clear();
    let append_secs = started.elapsed().as_secs_f64();
    hub.audit_checkpoint().await?;
    say("verifying the whole chain ...");
    let started = Instant::now();
    let bar = progress::bar(args.json, appended, "entries");
    let report = hub.audit_verify(|n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    let verify_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.ok(),
        "the chain did not verify: {:?}",
        report.problem
    );
    say("exporting and verifying the archive ...");
    let archive_path = dir.join("audit-archive.jsonl");
    let started = Instant::now();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&archive_path)?);
        hub.audit_export(&mut w, |_| {}).await?;
    }
    let export_secs = started.elapsed().as_secs_f64();
    let anchor = hub
        .audit_pin()?
        .ok_or_else(|| anyhow::anyhow!("init pins the audit anchor"))?
        .anchor;
    let started = Instant::now();
    let mut verifier = tongban_seal::archive::ArchiveVerifier::new(anchor);
    use std::io::BufRead;
    for line in std::io::BufReader::new(std::fs::File::open(&archive_path)?).lines() {
        verifier.line(&line?)?;
    }
    let summary = verifier.finish()?;
    let archive_secs = started.elapsed().as_secs_f64();
    let db_bytes = std::fs::metadata(dir.join("tongban.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    hub.close().await;
    let total = report.entries as f64;
    let out = json!({
        "entries": report.entries,
        "appendPerSec": (args.entries as f64 / append_secs).round(),
        "verifyPerSec": (total / verify_secs).round(),
        "exportPerSec": (total / export_secs).round(),
        "archiveVerifyPerSec": (summary.entries as f64 / archive_secs).round(),
        "databaseBytes": db_bytes,
        "seconds": {"append": append_secs, "verify": verify_secs, "export": export_secs, "archiveVerify": archive_secs},
    });
    if args.json {
        crate::output::print_json(&out)?;
    } else {
        println!();
        println!("entries                  {}", report.entries);
        println!(
            "append                   {:>9.0} /s  ({:.1} s, batches of {}, durable commits)",
            args.entries as f64 / append_secs,
            append_secs,
            args.batch
        );
        println!(
            "audit verify (store)     {:>9.0} /s  ({:.1} s, {} checkpoints)",
            total / verify_secs,
            verify_secs,
            report.checkpoints
        );
        println!(
            "export archive           {:>9.0} /s  ({:.1} s)",
            total / export_secs,
            export_secs
        );
        println!(
            "verify archive           {:>9.0} /s  ({:.1} s, no store)",
            summary.entries as f64 / archive_secs,
            archive_secs
        );
        println!(
            "database size            {:.0} MiB",
            db_bytes as f64 / 1048576.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn licences(args: LicenceBenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; figures are meaningless. Use `cargo run --release -- bench licences`."
        );
    }
    let say = |s: &str| {
        if !args.json {
            eprintln!("{s}");
        }
    };

    // 1. Raw Ed25519 on this machine, same message size as a licence proof (64 bytes).
    say("measuring raw Ed25519 verify_strict (1 and 2 threads) ...");
    let raw_1 = raw_verify_rate(1, args.seconds, true);
    let raw_2 = raw_verify_rate(2, args.seconds, true);
    let ours_1 = raw_verify_rate(1, args.seconds, false);

    // 2. Issuance into the embedded store (durable commits).
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let mut config = HubConfig::embedded(&dir);
    config.store.durability = durability(&args.durability);
    let hub = Hub::open(&config).await?;
    setup::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
    let request = IssueInput::from_json(&samples::business_licence_request())?;
    say(&format!(
        "issuing {} licences into SQLite ({}, durable commits) in batches of {} ...",
        args.count,
        dir.display(),
        args.batch
    ));
    // Several issuers at once (as departments are), so that one batch is
    // signed while another is written: SQLite has one writer, signing has
    // every core.
    let started = Instant::now();
    let bar = progress::bar(args.json, args.count as u64, "licences");
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
    let issue_elapsed = started.elapsed();
    let issue_rate = issued as f64 / issue_elapsed.as_secs_f64();

    // 3. Verification of the stored licences, with the hub's trust.
    let mut texts: Vec<String> = Vec::with_capacity(args.count);
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
    let values: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t))
        .collect::<Result<_, _>>()?;
    let trust = hub.trust_for_issuers(&[samples::MARKET.to_owned()]).await?;
    let options = VerifyOptions {
        now: hub.now(),
        attachments: None,
    };
    let sample_size = texts.first().map_or(0, String::len);

    say("verifying licences one by one (parsed credential) ...");
    let copies = values.clone();
    let started = Instant::now();
    let mut ok = 0usize;
    for v in copies {
        ok += usize::from(verify(&trust, v, options).valid);
    }
    let single_rate = values.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        ok == values.len(),
        "{} of {} licences failed verification",
        values.len() - ok,
        values.len()
    );

    say("verifying licences one by one (from JSON bytes) ...");
    let started = Instant::now();
    let mut ok_bytes = 0usize;
    for t in &texts {
        ok_bytes += usize::from(verify_bytes(&trust, t.as_bytes(), options).valid);
    }
    let bytes_rate = texts.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        ok_bytes == texts.len(),
        "verification from bytes rejected valid licences"
    );

    say(&format!(
        "verifying licences in batches of {} ...",
        args.verify_batch
    ));
    let chunks: Vec<Vec<Value>> = values
        .chunks(args.verify_batch.max(1))
        .map(<[Value]>::to_vec)
        .collect();
    let started = Instant::now();
    let mut batch_ok = 0usize;
    for chunk in chunks {
        batch_ok += verify_many(&trust, chunk, options)
            .iter()
            .filter(|v| v.valid)
            .count();
    }
    let batch_rate = values.len() as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        batch_ok == values.len(),
        "batch verification rejected valid licences"
    );
    hub.close().await;

    let report = json!({
        "licences": values.len(),
        "licenceBytes": sample_size,
        "rawVerifyStrictPerSec": {"threads1": raw_1.round(), "threads2": raw_2.round()},
        "ourStrictVerifyPerSec": ours_1.round(),
        "licenceVerifyPerSec": single_rate.round(),
        "licenceVerifyFromBytesPerSec": bytes_rate.round(),
        "batchVerifyPerSec": batch_rate.round(),
        "issuePerSec": issue_rate.round(),
        "durability": args.durability,
        "ratios": {
            "licenceVerifyVsRaw": round2(single_rate / raw_1),
            "licenceVerifyFromBytesVsRaw": round2(bytes_rate / raw_1),
            "batchVerifyVsRaw": round2(batch_rate / raw_1),
        },
        "targets": {
            "licenceVerifyVsRaw": ">= 0.80",
            "batchVerifyVsRaw": ">= 1.30",
            "issuePerSec": ">= 5000",
        }
    });
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        println!();
        println!(
            "licences                    {} ({} bytes each)",
            values.len(),
            sample_size
        );
        println!(
            "raw verify_strict           {:>9.0} /s (1 thread)   {:>9.0} /s (2 threads)   ed25519-dalek",
            raw_1, raw_2
        );
        println!(
            "our strict verify           {:>9.0} /s (1 thread)   {:.2} × raw   same acceptance rule",
            ours_1,
            ours_1 / raw_1
        );
        println!(
            "licence verify              {:>9.0} /s   {:.2} × raw   (target ≥ 0.80)",
            single_rate,
            single_rate / raw_1
        );
        println!(
            "licence verify from bytes   {:>9.0} /s   {:.2} × raw",
            bytes_rate,
            bytes_rate / raw_1
        );
        println!(
            "batch verify ({:>5})       {:>9.0} /s   {:.2} × raw   (target ≥ 1.30)",
            args.verify_batch,
            batch_rate,
            batch_rate / raw_1
        );
        let commits = if args.durability == "power" {
            "fsync every commit"
        } else {
            "survives a killed process"
        };
        println!(
            "issue into SQLite           {:>9.0} /s   {commits}, batches of {}, {} concurrent (target ≥ 5000)",
            issue_rate, args.batch, args.issuers
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Strict verifications per second over `seconds`, on `threads` threads,
/// with the library's `verify_strict` (`dalek`) or ours (same acceptance rule).
pub(crate) fn raw_verify_rate(threads: usize, seconds: f64, dalek: bool) -> f64 {
    let key = SigningKey::from_seed(&[7; 32]);
    let public = key.public();
    let message = [0x5au8; 64];
    let signature = key.sign(&message);
    let deadline = Duration::from_secs_f64(seconds);
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let started = Instant::now();
                    let mut n = 0u64;
                    while started.elapsed() < deadline {
                        for _ in 0..64 {
                            let m = std::hint::black_box(&message);
                            let ok = if dalek {
                                public.verify_strict_dalek(m, &signature)
                            } else {
                                public.verify_strict(m, &signature)
                            };
                            n += u64::from(ok);
                        }
                    }
                    (n, started.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map(|(n, e)| (n as f64 / e.as_secs_f64()) as u64)
                    .unwrap_or(0)
            })
            .sum()
    });
    total as f64
}
