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
use tongban_service::{AuditReport, AuditVerifyOptions, CHECKPOINT_INTERVAL, Service};

use crate::output::{Coded, Exit, print_json};
use crate::table::Table;
use crate::{Context, progress};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain and its signed checkpoints against the pinned
    /// anchor; names the first broken entry. Exits 3 when the log does not
    /// verify.
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
    /// Verify an exported archive against the hub's anchor key. Needs no
    /// hub. Exits 3 when the archive does not verify.
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
            let pin = hub.audit_pin().await?.ok_or_else(unpinned)?;
            if ctx.json {
                print_json(&json!({"anchor": pin.anchor.to_multikey()}))?;
            } else {
                println!("{}", pin.anchor.to_multikey());
            }
            ExitCode::SUCCESS
        }
        AuditCommand::Pin { anchor, interval } => {
            let anchor = anchor.as_deref().map(parse_anchor).transpose()?;
            let pin = hub.pin_audit(anchor, interval).await?;
            if ctx.json {
                print_json(
                    &json!({"anchor": pin.anchor.to_multikey(), "interval": pin.schedule.interval(), "from": pin.schedule.from()}),
                )?;
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
        AuditCommand::VerifyArchive { .. } => unreachable!("handled above"),
    };
    hub.close().await;
    Ok(code)
}

/// A bar over the log's entries, up to the head as it is now; `progress`
/// hears the last entry done after each page.
async fn entries_bar(ctx: &Context, hub: &Service) -> anyhow::Result<indicatif::ProgressBar> {
    let (head, _) = hub.store().audit_head().await?;
    Ok(progress::bar(ctx.json, head, "entries"))
}

async fn verify(
    ctx: &Context,
    hub: &Service,
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
    let bar = entries_bar(ctx, hub).await?;
    let report = hub
        .audit_verify_with(&options, |n| bar.set_position(n))
        .await;
    bar.finish_and_clear();
    let report = report?;
    let secs = started.elapsed().as_secs_f64();
    if ctx.json {
        print_json(&report)?;
    } else {
        print_report(&report, secs);
    }
    Ok(Exit::checked(report.ok()))
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

async fn checkpoint(
    ctx: &Context,
    hub: &Service,
    publish: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let signed = hub.audit_checkpoint().await?;
    let published = match publish {
        Some(path) => Some(hub.audit_publish(path).await?),
        None => None,
    };
    if ctx.json {
        print_json(&json!({
            "signed": signed.as_ref().map(|c| json!({"seq": c.seq, "hash": hex(&c.hash), "keyId": c.key_id})),
            "published": published,
        }))?;
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

async fn export(ctx: &Context, hub: &Service, out: &Path) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::create(out)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", out.display())))?;
    let mut writer = BufWriter::new(file);
    let bar = entries_bar(ctx, hub).await?;
    let n = hub.audit_export(&mut writer, |n| bar.set_position(n)).await;
    bar.finish_and_clear();
    let n = n?;
    writer
        .into_inner()
        .map_err(|e| Coded::new("IO", format!("{}: {}", out.display(), e.error())))?
        .sync_all()
        .map_err(|e| Coded::new("IO", format!("{}: {e}", out.display())))?;
    if ctx.json {
        print_json(&json!({"entries": n, "file": out.display().to_string()}))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("wrote {} entries to {}", n, out.display());
    match hub.audit_pin().await? {
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

async fn show(
    ctx: &Context,
    hub: &Service,
    subject: Option<&str>,
    limit: usize,
) -> anyhow::Result<()> {
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
        return print_json(&list);
    }
    let mut table = Table::new();
    for e in entries {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.at_ms) * 1_000_000)
            .map(tongban_seal::timefmt::format_rfc3339)
            .unwrap_or_default();
        table.row([
            format!("#{}", e.seq),
            at,
            e.actor,
            e.action,
            e.subject,
            e.detail,
        ]);
    }
    table.print();
    Ok(())
}

fn parse_anchor(text: &str) -> anyhow::Result<PublicKey> {
    Ok(PublicKey::from_multikey(text.trim())
        .map_err(|e| Coded::usage("ANCHOR_INVALID", format!("--anchor: {e}")))?)
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
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let bar = progress::bytes_bar(ctx.json, size);
    let mut failed: Option<ArchiveError> = None;
    let read = tongban_service::for_each_line(file, |line| {
        bar.inc(line.len() as u64 + 1);
        failed = verifier.line(line).err();
        Ok(match failed {
            Some(_) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        })
    });
    bar.finish_and_clear();
    read?;
    let result = match failed {
        Some(e) => Err(e),
        None => verifier.finish(),
    };
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(summary) => {
            if ctx.json {
                print_json(
                    &json!({"valid": true, "hub": summary.hub, "entries": summary.entries, "checkpoints": summary.checkpoints, "published": summary.published, "head": hex(&summary.head)}),
                )?;
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
                print_json(&json!({"valid": false, "code": e.code(), "message": e.to_string()}))?;
            } else {
                println!("✘ archive does NOT verify: [{}] {e}", e.code());
            }
            Ok(Exit::NotValid.into())
        }
    }
}
