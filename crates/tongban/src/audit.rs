//! `tongban audit …`: the tamper-evident log.

use std::io::BufWriter;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Subcommand;
use serde_json::json;
use tongban_seal::PublicKey;
use tongban_seal::archive::{ArchiveError, ArchiveVerifier, hex};
use tongban_service::{AuditReport, AuditVerifyOptions, CHECKPOINT_INTERVAL, Hub};

use crate::Context;
use crate::output::Coded;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain and its signed checkpoints against the pinned
    /// anchor; names the first broken entry.
    Verify {
        /// Trust this anchor (Multikey) instead of the one pinned on this node.
        #[arg(long)]
        anchor: Option<String>,
        /// Also compare the log with checkpoints published earlier
        /// (`audit checkpoint --publish`).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Sign a checkpoint over the current head now (one is due every
    /// interval anyway), and optionally publish the checkpoints.
    Checkpoint {
        /// Append every checkpoint not yet in this file to it; copy the file
        /// off the machine.
        #[arg(long)]
        publish: Option<PathBuf>,
    },
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
        /// The hub's anchor key (Multikey), from `tongban audit anchor`.
        #[arg(long)]
        anchor: String,
        /// Also compare the archive with checkpoints published earlier.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Print the anchor pinned on this node (what archives verify against).
    Anchor,
    /// Pin the anchor of a hub initialised before pins existed (`init` pins new hubs).
    Pin {
        /// The anchor (Multikey); the hub's current key when omitted.
        #[arg(long)]
        anchor: Option<String>,
        /// Entries between checkpoints.
        #[arg(long, default_value_t = CHECKPOINT_INTERVAL)]
        interval: u64,
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
    if let AuditCommand::VerifyArchive {
        file,
        anchor,
        checkpoints,
    } = &cmd
    {
        return verify_archive(ctx, file, anchor, checkpoints.as_deref());
    }
    let hub = ctx.open().await?;
    let code = match cmd {
        AuditCommand::Verify {
            anchor,
            checkpoints,
        } => verify(ctx, &hub, anchor.as_deref(), checkpoints.as_deref()).await?,
        AuditCommand::Checkpoint { publish } => checkpoint(ctx, &hub, publish.as_deref()).await?,
        AuditCommand::Export { out } => export(ctx, &hub, &out).await?,
        AuditCommand::Anchor => {
            let pin = hub.audit_pin()?.ok_or_else(unpinned)?;
            println!("{}", pin.anchor.to_multikey());
            ExitCode::SUCCESS
        }
        AuditCommand::Pin { anchor, interval } => {
            let anchor = anchor.as_deref().map(parse_anchor).transpose()?;
            let pin = hub.pin_audit(anchor, interval).await?;
            if ctx.json {
                println!(
                    "{}",
                    json!({"anchor": pin.anchor.to_multikey(), "interval": pin.schedule.interval(), "from": pin.schedule.from()})
                );
            } else {
                println!(
                    "pinned anchor {} (compare it with the anchor you published); a checkpoint is due every {} entries after entry {}",
                    pin.anchor.to_multikey(),
                    pin.schedule.interval(),
                    pin.schedule.from()
                );
            }
            ExitCode::SUCCESS
        }
        AuditCommand::Show { subject, limit } => {
            show(ctx, &hub, subject.as_deref(), limit).await?;
            ExitCode::SUCCESS
        }
        AuditCommand::VerifyArchive { .. } => ExitCode::FAILURE,
    };
    hub.close().await;
    Ok(code)
}

fn progress(ctx: &Context) -> impl FnMut(u64) + '_ {
    |n: u64| {
        if !ctx.json && n > 0 && n % 100_000 < 20_000 {
            eprint!("\r  {n} entries …");
        }
    }
}

async fn verify(
    ctx: &Context,
    hub: &Hub,
    anchor: Option<&str>,
    checkpoints: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let options = AuditVerifyOptions {
        anchor: anchor.map(parse_anchor).transpose()?,
        published: match checkpoints {
            Some(path) => tongban_service::read_published(path)?.1,
            None => Vec::new(),
        },
    };
    let started = Instant::now();
    let report = hub.audit_verify_with(&options, progress(ctx)).await?;
    let secs = started.elapsed().as_secs_f64();
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        eprint!("\r");
        print_report(&report, secs);
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_report(report: &AuditReport, secs: f64) {
    match &report.problem {
        None => println!(
            "✔ audit log intact: {} entries, {} signed checkpoints (one due every {} entries), {} published checkpoints matched, anchor {}, head {} ({:.1} s, {:.0} entries/s)",
            report.entries,
            report.checkpoints,
            report.interval,
            report.published,
            report.anchor.as_deref().unwrap_or("?"),
            &report.head[..16],
            secs,
            report.entries as f64 / secs.max(1e-9)
        ),
        Some(p) if p.seq == 0 => {
            println!("✘ audit log NOT verified: [{}] {}", p.code, p.message);
            println!("  {} entries hold together", report.entries);
        }
        Some(p) => {
            println!(
                "✘ audit log BROKEN at entry {}: [{}] {}",
                p.seq, p.code, p.message
            );
            println!("  {} entries before it verified", report.entries);
        }
    }
}

async fn checkpoint(ctx: &Context, hub: &Hub, publish: Option<&Path>) -> anyhow::Result<ExitCode> {
    let signed = hub.audit_checkpoint().await?;
    let published = match publish {
        Some(path) => Some(hub.audit_publish(path).await?),
        None => None,
    };
    if ctx.json {
        println!(
            "{}",
            json!({
                "signed": signed.as_ref().map(|c| json!({"seq": c.seq, "hash": hex(&c.hash), "keyId": c.key_id})),
                "published": published,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    match signed {
        Some(c) => println!(
            "checkpoint signed over entry {} ({}…)",
            c.seq,
            &hex(&c.hash)[..16]
        ),
        None => println!("nothing to sign: the head is already covered"),
    }
    if let (Some(path), Some(p)) = (publish, published) {
        println!(
            "published {} checkpoints to {} (last: entry {}); copy it off this machine",
            p.appended,
            path.display(),
            p.last
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(ctx: &Context, hub: &Hub, out: &Path) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::create(out)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", out.display())))?;
    let mut writer = BufWriter::new(file);
    let n = hub.audit_export(&mut writer, progress(ctx)).await?;
    if ctx.json {
        println!(
            "{}",
            json!({"entries": n, "file": out.display().to_string()})
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprint!("\r");
    println!("wrote {} entries to {}", n, out.display());
    match hub.audit_pin()? {
        Some(pin) => println!(
            "verify with: tongban audit verify-archive {} --anchor {}",
            out.display(),
            pin.anchor.to_multikey()
        ),
        None => println!(
            "verify with: tongban audit verify-archive {} --anchor <the hub's anchor>",
            out.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(ctx: &Context, hub: &Hub, subject: Option<&str>, limit: usize) -> anyhow::Result<()> {
    let entries = match subject {
        Some(s) => hub.store().audit_of(s, limit).await?,
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
        return Ok(());
    }
    for e in entries {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.at_ms) * 1_000_000)
            .map(tongban_seal::timefmt::format_rfc3339)
            .unwrap_or_default();
        println!(
            "#{:<8} {at}  {:<20} {:<18} {}  {}",
            e.seq, e.actor, e.action, e.subject, e.detail
        );
    }
    Ok(())
}

fn parse_anchor(text: &str) -> anyhow::Result<PublicKey> {
    Ok(PublicKey::from_multikey(text.trim())
        .map_err(|e| Coded::new("ANCHOR_INVALID", format!("--anchor: {e}")))?)
}

fn unpinned() -> Coded {
    Coded::new(
        "AUDIT_ANCHOR_UNPINNED",
        "no audit anchor is pinned on this node (see `tongban audit pin`)",
    )
}

fn verify_archive(
    ctx: &Context,
    file: &Path,
    anchor: &str,
    checkpoints: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut verifier = ArchiveVerifier::new(parse_anchor(anchor)?);
    if let Some(path) = checkpoints {
        verifier = verifier.with_published(tongban_service::read_published(path)?.1);
    }
    let started = Instant::now();
    let mut failed: Option<ArchiveError> = None;
    tongban_service::for_each_line(file, |line| {
        failed = verifier.line(line).err();
        Ok(match failed {
            Some(_) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        })
    })?;
    let result = match failed {
        Some(e) => Err(e),
        None => verifier.finish(),
    };
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(summary) => {
            if ctx.json {
                println!(
                    "{}",
                    json!({"valid": true, "hub": summary.hub, "entries": summary.entries, "checkpoints": summary.checkpoints, "published": summary.published, "head": hex(&summary.head)})
                );
            } else {
                println!(
                    "✔ archive of {} verifies: {} entries, {} signed checkpoints, {} published checkpoints matched, head {}… ({:.1} s)",
                    summary.hub,
                    summary.entries,
                    summary.checkpoints,
                    summary.published,
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
