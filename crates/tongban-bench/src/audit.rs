//! `tongban-bench audit`: the audit log at scale. Appends entries in
//! durable batches, then times verifying the chain in the store, exporting
//! the archive and verifying the archive with no store.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::json;
use tongban_service::{Service, ServiceConfig, samples};
use tongban_store::AuditRecord;

use crate::measure::{say, warn_if_debug};
use crate::output::print_json;
use crate::progress;

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
    dir: Option<PathBuf>,
}

/// What was measured, in seconds per step.
struct Figures {
    entries: u64,
    checkpoints: u64,
    archived: u64,
    append_secs: f64,
    verify_secs: f64,
    export_secs: f64,
    archive_secs: f64,
    database_bytes: u64,
}

pub async fn run(args: AuditBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("audit");
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let hub = Service::open(&ServiceConfig::embedded(&dir)).await?;
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, false).await?;
    say(
        json,
        &format!(
            "appending {} audit entries in batches of {} (durable commits) ...",
            args.entries, args.batch
        ),
    );
    let append_secs = append(&hub, &args, json).await?;
    hub.audit_checkpoint().await?;
    say(json, "verifying the whole chain ...");
    let started = Instant::now();
    let bar = progress::bar(json, args.entries, "entries");
    let report = hub.audit_verify(|n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    let verify_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.ok(),
        "the chain did not verify: {:?}",
        report.problem
    );
    say(json, "exporting and verifying the archive ...");
    let (export_secs, archived, archive_secs) = export_and_verify(&hub, &dir).await?;
    let database_bytes = std::fs::metadata(dir.join("tongban.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    hub.close().await;
    let figures = Figures {
        entries: report.entries,
        checkpoints: report.checkpoints,
        archived,
        append_secs,
        verify_secs,
        export_secs,
        archive_secs,
        database_bytes,
    };
    if json {
        print_json(&figures.to_json(&args))
    } else {
        figures.print(&args);
        Ok(())
    }
}

/// Appends `args.entries` entries, `args.batch` per transaction; the seconds it took.
async fn append(hub: &Service, args: &AuditBenchArgs, json: bool) -> anyhow::Result<f64> {
    let now = hub.now();
    let started = Instant::now();
    let bar = progress::bar(json, args.entries, "entries");
    let mut appended = 0u64;
    while appended < args.entries {
        let n = args.batch.min(args.entries - appended);
        let records: Vec<AuditRecord> = (appended..appended + n)
            .map(|i| {
                AuditRecord::new(
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
    Ok(started.elapsed().as_secs_f64())
}

/// Exports the archive into `dir` and verifies it against the pinned
/// anchor with no store: (export seconds, entries verified, verify seconds).
async fn export_and_verify(hub: &Service, dir: &Path) -> anyhow::Result<(f64, u64, f64)> {
    let archive_path = dir.join("audit-archive.jsonl");
    let started = Instant::now();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&archive_path)?);
        hub.audit_export(&mut w, |_| {}).await?;
    }
    let export_secs = started.elapsed().as_secs_f64();
    let anchor = hub
        .audit_pin()
        .await?
        .ok_or_else(|| anyhow::anyhow!("init pins the audit anchor"))?
        .anchor;
    let started = Instant::now();
    let mut verifier = tongban_seal::archive::ArchiveVerifier::new(anchor);
    for line in std::io::BufReader::new(std::fs::File::open(&archive_path)?).lines() {
        verifier.line(&line?)?;
    }
    let summary = verifier.finish()?;
    Ok((
        export_secs,
        summary.entries,
        started.elapsed().as_secs_f64(),
    ))
}

impl Figures {
    fn to_json(&self, args: &AuditBenchArgs) -> serde_json::Value {
        let total = self.entries as f64;
        json!({
            "entries": self.entries,
            "appendPerSec": (args.entries as f64 / self.append_secs).round(),
            "verifyPerSec": (total / self.verify_secs).round(),
            "exportPerSec": (total / self.export_secs).round(),
            "archiveVerifyPerSec": (self.archived as f64 / self.archive_secs).round(),
            "databaseBytes": self.database_bytes,
            "seconds": {"append": self.append_secs, "verify": self.verify_secs, "export": self.export_secs, "archiveVerify": self.archive_secs},
        })
    }

    fn print(&self, args: &AuditBenchArgs) {
        let total = self.entries as f64;
        println!();
        println!("entries                  {}", self.entries);
        println!(
            "append                   {:>9.0} /s  ({:.1} s, batches of {}, durable commits)",
            args.entries as f64 / self.append_secs,
            self.append_secs,
            args.batch
        );
        println!(
            "audit verify (store)     {:>9.0} /s  ({:.1} s, {} checkpoints)",
            total / self.verify_secs,
            self.verify_secs,
            self.checkpoints
        );
        println!(
            "export archive           {:>9.0} /s  ({:.1} s)",
            total / self.export_secs,
            self.export_secs
        );
        println!(
            "verify archive           {:>9.0} /s  ({:.1} s, no store)",
            self.archived as f64 / self.archive_secs,
            self.archive_secs
        );
        println!(
            "database size            {:.0} MiB",
            self.database_bytes as f64 / 1048576.0
        );
    }
}
