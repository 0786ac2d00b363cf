//! `tongban blobs copy --from DIR|s3 --to DIR|s3`: every blob of one blob
//! store copied to another, how a hub moves its blobs from its data
//! directory to an S3-compatible bucket and how a backup copies the object
//! store. `s3` is the bucket the global `--s3-*` options name; anything
//! else is a directory laid out as `<data-dir>/blobs` is.
//!
//! Each blob is read with its digest checked and written only if its bytes
//! still hash to its name; blobs already at the destination are skipped,
//! so a copy that was stopped is finished by running it again. A source
//! blob whose bytes changed is named (`STORE_CORRUPT`), not copied, and
//! makes the command exit 3 once the rest is copied.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde::Serialize;
use tokio::task::JoinSet;
use tongban_store::{BlobConfig, BlobStore, StoreError};

use crate::output::{Coded, Exit, print_json};
use crate::{Context, progress};

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Copy every blob from one blob store to another, checking each
    /// digest and skipping those already there. DIR is a blob directory
    /// (a hub's is <data-dir>/blobs); `s3` is the bucket named by
    /// --s3-bucket and the other --s3-* options. E.g. `--from
    /// .tongban/blobs --to s3` moves an embedded hub's blobs to S3, `--from
    /// s3 --to /backup/blobs` backs the bucket up.
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Where the blobs are read: a blob directory, or `s3`.
    #[arg(long, value_name = "DIR|s3")]
    from: String,
    /// Where they are written: a blob directory (created if missing), or `s3`.
    #[arg(long, value_name = "DIR|s3")]
    to: String,
}

/// Blobs read and written at once: S3 answers each request in
/// milliseconds, so one at a time would leave the link idle; at most this
/// many blobs (64 MiB each at worst) are in memory.
const IN_FLIGHT: usize = 4;

/// Most problems listed; beyond, they are only counted.
const MAX_LISTED: usize = 1_000;

/// What a copy did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct CopyReport {
    from: String,
    to: String,
    /// Blobs at the source.
    found: u64,
    copied: u64,
    /// Bytes of the blobs copied.
    copied_bytes: u64,
    /// Already at the destination.
    skipped: u64,
    /// Listed at the source but gone when read (removed meanwhile).
    vanished: u64,
    /// Not copied because their bytes do not hash to their name.
    corrupt: u64,
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct Problem {
    code: &'static str,
    message: String,
}

/// What became of one blob.
enum Outcome {
    Copied(u64),
    Vanished,
    Corrupt(String),
}

pub async fn run(ctx: &Context, cmd: BlobsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BlobsCommand::Copy(args) => copy(ctx, args).await,
    }
}

/// `--from`/`--to` as a blob store's configuration.
fn endpoint(ctx: &Context, option: &str, value: &str) -> anyhow::Result<BlobConfig> {
    if value == "s3" {
        return match &ctx.s3 {
            Some(s3) => Ok(BlobConfig::S3(s3.clone())),
            None => Err(Coded::usage(
                "USAGE",
                format!(
                    "{option} s3 needs the bucket: --s3-bucket (TONGBAN_S3_BUCKET), and --s3-endpoint for a server other than AWS"
                ),
            )
            .into()),
        };
    }
    if value.is_empty() {
        return Err(Coded::usage("USAGE", format!("{option} needs a directory or s3")).into());
    }
    Ok(BlobConfig::Local(PathBuf::from(value)))
}

async fn copy(ctx: &Context, args: CopyArgs) -> anyhow::Result<ExitCode> {
    let from = endpoint(ctx, "--from", &args.from)?;
    let to = endpoint(ctx, "--to", &args.to)?;
    if same_store(&from, &to) {
        return Err(Coded::usage("USAGE", "--from and --to name the same blob store").into());
    }
    if let BlobConfig::Local(dir) = &from {
        if !dir.is_dir() {
            return Err(Coded::usage(
                "BLOBS_SOURCE_MISSING",
                format!("no blob directory at {}", dir.display()),
            )
            .into());
        }
    }
    let source = BlobStore::open(&from).await?;
    let destination = BlobStore::open(&to).await?;
    let mut report = CopyReport {
        from: source.description().to_owned(),
        to: destination.description().to_owned(),
        ..CopyReport::default()
    };
    let digests = source.list().await?;
    let present: HashSet<String> = destination.list().await?.into_iter().collect();
    report.found = digests.len() as u64;
    if !ctx.json {
        eprintln!(
            "copying {} blobs from {} to {} ({} there already)",
            digests.len(),
            report.from,
            report.to,
            digests.iter().filter(|d| present.contains(*d)).count()
        );
    }
    let bar = progress::bar(ctx.json, digests.len() as u64, "blobs");
    let (source, destination) = (Arc::new(source), Arc::new(destination));
    let mut running = JoinSet::new();
    for digest in digests {
        if present.contains(&digest) {
            report.skipped += 1;
            bar.inc(1);
            continue;
        }
        if running.len() >= IN_FLIGHT {
            settle(&mut running, &mut report, &bar).await?;
        }
        let (source, destination) = (Arc::clone(&source), Arc::clone(&destination));
        running.spawn(async move { copy_one(&source, &destination, digest).await });
    }
    while !running.is_empty() {
        settle(&mut running, &mut report, &bar).await?;
    }
    bar.finish_and_clear();
    finish(ctx, &report)
}

/// Waits for one copy and counts it; a failure other than a corrupt blob
/// (the destination unavailable, a refused write) ends the command.
async fn settle(
    running: &mut JoinSet<Result<(String, Outcome), StoreError>>,
    report: &mut CopyReport,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let Some(done) = running.join_next().await else {
        return Ok(());
    };
    let (digest, outcome) = done??;
    bar.inc(1);
    match outcome {
        Outcome::Copied(bytes) => {
            report.copied += 1;
            report.copied_bytes += bytes;
        }
        Outcome::Vanished => report.vanished += 1,
        Outcome::Corrupt(message) => {
            report.corrupt += 1;
            bar.suspend(|| eprintln!("not copied: blob {digest}: {message}"));
            if report.problems.len() < MAX_LISTED {
                report.problems.push(Problem {
                    code: "STORE_CORRUPT",
                    message,
                });
            }
        }
    }
    Ok(())
}

async fn copy_one(
    source: &BlobStore,
    destination: &BlobStore,
    digest: String,
) -> Result<(String, Outcome), StoreError> {
    let bytes = match source.get(&digest).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok((digest, Outcome::Vanished)),
        Err(e @ StoreError::Corrupt(_)) => return Ok((digest, Outcome::Corrupt(e.to_string()))),
        Err(e) => return Err(e),
    };
    let len = bytes.len() as u64;
    match destination.put_expecting(bytes, &digest).await? {
        Ok(()) => Ok((digest, Outcome::Copied(len))),
        // Read back checked already: only a change between the two reads.
        Err(actual) => Ok((
            digest.clone(),
            Outcome::Corrupt(format!("blob {digest} holds bytes hashing to {actual}")),
        )),
    }
}

fn same_store(a: &BlobConfig, b: &BlobConfig) -> bool {
    match (a, b) {
        (BlobConfig::Local(a), BlobConfig::Local(b)) => {
            a == b
                || matches!(
                    (a.canonicalize(), b.canonicalize()),
                    (Ok(a), Ok(b)) if a == b
                )
        }
        (a, b) => a == b,
    }
}

fn finish(ctx: &Context, report: &CopyReport) -> anyhow::Result<ExitCode> {
    if ctx.json {
        print_json(report)?;
    } else {
        println!(
            "copied {} blobs ({} bytes) from {} to {}; {} there already",
            report.copied, report.copied_bytes, report.from, report.to, report.skipped
        );
        if report.vanished > 0 {
            println!(
                "{} blobs were removed at the source meanwhile",
                report.vanished
            );
        }
        if report.corrupt > 0 {
            println!(
                "{} corrupt blobs NOT copied (named above): restore them from a backup",
                report.corrupt
            );
        }
    }
    Ok(if report.corrupt > 0 {
        Exit::NotValid.into()
    } else {
        Exit::Done.into()
    })
}
