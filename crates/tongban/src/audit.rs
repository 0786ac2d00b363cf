//! `tongban audit …`: the tamper-evident log.

use std::io::{BufRead, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Subcommand;
use serde_json::json;
use tongban_seal::PublicKey;
use tongban_seal::archive::{ArchiveVerifier, hex};

use crate::Context;
use crate::output::Coded;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain and its signed checkpoints; names the first broken entry.
    Verify,
    /// Sign a checkpoint over the current head now (one is signed every 10,000 entries anyway).
    Checkpoint,
    /// Write a self-contained archive (JSON Lines) that verifies without the store.
    Export {
        /// Output file.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Verify an exported archive against the hub's anchor key. Needs no hub.
    VerifyArchive {
        /// The archive.
        file: PathBuf,
        /// The hub's anchor key (Multikey), from `tongban trust anchor`.
        #[arg(long)]
        anchor: String,
    },
    /// Recent entries, or those about one subject (licence, department, key…).
    Show {
        /// Only entries about this subject.
        #[arg(long)]
        subject: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

pub async fn run(ctx: &Context, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    if let AuditCommand::VerifyArchive { file, anchor } = &cmd {
        return verify_archive(ctx, file, anchor);
    }
    let hub = ctx.open().await?;
    let progress = |n: u64| {
        if !ctx.json && n > 0 && n % 100_000 < 20_000 {
            eprint!("\r  {n} entries …");
        }
    };
    let code = match cmd {
        AuditCommand::Verify => {
            let started = Instant::now();
            let report = hub.audit_verify(progress).await?;
            let secs = started.elapsed().as_secs_f64();
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                eprint!("\r");
                match &report.problem {
                    None => println!(
                        "✔ audit log intact: {} entries, {} signed checkpoints, head {} ({:.1} s, {:.0} entries/s)",
                        report.entries,
                        report.checkpoints,
                        &report.head[..16],
                        secs,
                        report.entries as f64 / secs.max(1e-9)
                    ),
                    Some(p) => {
                        println!(
                            "✘ audit log BROKEN at entry {}: [{}] {}",
                            p.seq, p.code, p.message
                        );
                        println!("  {} entries before it verified", report.entries);
                    }
                }
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        AuditCommand::Checkpoint => {
            match hub.audit_checkpoint().await? {
                Some(c) => {
                    if ctx.json {
                        println!(
                            "{}",
                            json!({"seq": c.seq, "hash": hex(&c.hash), "keyId": c.key_id})
                        );
                    } else {
                        println!(
                            "checkpoint signed over entry {} ({}…)",
                            c.seq,
                            &hex(&c.hash)[..16]
                        );
                    }
                }
                None => println!("nothing to sign: the head is already covered"),
            }
            ExitCode::SUCCESS
        }
        AuditCommand::Export { out } => {
            let file = std::fs::File::create(&out)
                .map_err(|e| Coded::new("IO", format!("{}: {e}", out.display())))?;
            let mut writer = BufWriter::new(file);
            let n = hub.audit_export(&mut writer, progress).await?;
            if !ctx.json {
                eprint!("\r");
                println!("wrote {} entries to {}", n, out.display());
                println!(
                    "verify with: tongban audit verify-archive {} --anchor {}",
                    out.display(),
                    hub.identity().await?.anchor
                );
            } else {
                println!(
                    "{}",
                    json!({"entries": n, "file": out.display().to_string()})
                );
            }
            ExitCode::SUCCESS
        }
        AuditCommand::Show { subject, limit } => {
            let entries = match subject {
                Some(s) => hub.store().audit_of(&s, limit).await?,
                None => {
                    let (head, _) = hub.store().audit_head().await?;
                    let mut page = hub
                        .store()
                        .audit_page(head.saturating_sub(limit as u64), limit)
                        .await?;
                    page.reverse();
                    page
                }
            };
            if ctx.json {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| json!({"seq": e.seq, "atMs": e.at_ms, "actor": e.actor, "action": e.action, "subject": e.subject, "detail": serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default(), "hash": hex(&e.hash)}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in entries {
                    let at = time::OffsetDateTime::from_unix_timestamp_nanos(
                        i128::from(e.at_ms) * 1_000_000,
                    )
                    .map(tongban_seal::timefmt::format_rfc3339)
                    .unwrap_or_default();
                    println!(
                        "#{:<8} {at}  {:<20} {:<18} {}  {}",
                        e.seq, e.actor, e.action, e.subject, e.detail
                    );
                }
            }
            ExitCode::SUCCESS
        }
        AuditCommand::VerifyArchive { .. } => ExitCode::FAILURE,
    };
    hub.close().await;
    Ok(code)
}

fn verify_archive(ctx: &Context, file: &PathBuf, anchor: &str) -> anyhow::Result<ExitCode> {
    let anchor = PublicKey::from_multikey(anchor.trim())
        .map_err(|e| Coded::new("ANCHOR_INVALID", format!("--anchor: {e}")))?;
    let reader = std::io::BufReader::new(
        std::fs::File::open(file)
            .map_err(|e| Coded::new("IO", format!("{}: {e}", file.display())))?,
    );
    let started = Instant::now();
    let mut verifier = ArchiveVerifier::new(anchor);
    let mut outcome = Ok(());
    for line in reader.lines() {
        let line = line.map_err(|e| Coded::new("IO", e.to_string()))?;
        if let Err(e) = verifier.line(&line) {
            outcome = Err(e);
            break;
        }
    }
    let result = outcome.and_then(|()| verifier.finish());
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(summary) => {
            if ctx.json {
                println!(
                    "{}",
                    json!({"valid": true, "hub": summary.hub, "entries": summary.entries, "checkpoints": summary.checkpoints, "head": hex(&summary.head)})
                );
            } else {
                println!(
                    "✔ archive of {} verifies: {} entries, {} signed checkpoints, head {}… ({:.1} s)",
                    summary.hub,
                    summary.entries,
                    summary.checkpoints,
                    &hex(&summary.head)[..16],
                    secs
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if ctx.json {
                println!(
                    "{}",
                    json!({"valid": false, "code": e.code(), "message": e.to_string()})
                );
            } else {
                println!("✘ archive does NOT verify: [{}] {e}", e.code());
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
