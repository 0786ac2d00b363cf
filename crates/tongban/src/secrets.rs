//! `tongban kek` and `tongban secrets`: the key-encryption keys a node
//! reads, and the secrets sealed under them in the database, which every
//! node of a hub uses (signing keys, the CA's key, peer-link keys, the
//! audit pin).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use tongban_service::kek::Keks;
use zeroize::Zeroizing;

use crate::Context;

#[derive(Debug, Subcommand)]
pub enum KekCommand {
    /// Make a key-encryption key and write it first in FILE (created
    /// owner-only; an existing file keeps its KEKs after the new one, which
    /// then seals while they still open). Copy the file to every node.
    New {
        /// The KEK file.
        file: PathBuf,
    },
    /// List the KEK ids of a file (never the keys), the sealing one first.
    List {
        /// The KEK file (default: TONGBAN_KEK_FILE).
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Where the secrets are, and how many each KEK seals.
    Status,
    /// Seal a node's key files (a key store directory) into the database,
    /// so that every node can use them; those already sealed are skipped.
    /// Audited as `secrets.import`.
    Import {
        /// The key store directory (default: <data-dir>/keys).
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Reseal every secret under the first KEK of the file (after `tongban
    /// kek new`); then the old KEK's line can go. Audited as
    /// `secrets.reseal`.
    Reseal,
}

pub fn run_kek(ctx: &Context, cmd: KekCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KekCommand::New { file } => {
            let (id, line) = Keks::generate_line()?;
            let previous = read_existing(&file)?;
            let mut text = Zeroizing::new(String::from(
                "# tongban key-encryption keys: the first line seals, every line opens\n",
            ));
            text.push_str(&line);
            text.push('\n');
            if let Some(previous) = &previous {
                for l in previous
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                {
                    text.push_str(l);
                    text.push('\n');
                }
            }
            // Checked before anything is written: the file must parse.
            let keks = Keks::parse(&text)?;
            replace_owner_only(&file, text.as_bytes())?;
            let held: Vec<&str> = keks.ids().collect();
            if ctx.json {
                crate::output::print_json(&serde_json::json!({
                    "file": file.display().to_string(), "current": id, "held": held,
                }))?;
            } else {
                println!("{id}");
                eprintln!(
                    "{} now seals with {id}{}; copy it to every node (owner-only), then `tongban secrets reseal`",
                    file.display(),
                    if held.len() > 1 {
                        format!(" (and still opens {})", held[1..].join(", "))
                    } else {
                        String::new()
                    }
                );
            }
        }
        KekCommand::List { file } => {
            let file =
                match file.or_else(|| std::env::var_os("TONGBAN_KEK_FILE").map(PathBuf::from)) {
                    Some(f) => f,
                    None => anyhow::bail!("name the KEK file (or set TONGBAN_KEK_FILE)"),
                };
            let keks = Keks::load(&file)?;
            let ids: Vec<&str> = keks.ids().collect();
            if ctx.json {
                crate::output::print_json(&serde_json::json!({"current": ids[0], "held": ids}))?;
            } else {
                for (i, id) in ids.iter().enumerate() {
                    println!("{id}{}", if i == 0 { "  (seals)" } else { "" });
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_secrets(ctx: &Context, cmd: SecretsCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    let result = secrets(ctx, &hub, cmd).await;
    hub.close().await;
    result
}

async fn secrets(
    ctx: &Context,
    hub: &tongban_service::Service,
    cmd: SecretsCommand,
) -> anyhow::Result<ExitCode> {
    match cmd {
        SecretsCommand::Status => {
            let status = hub.secrets_status().await?;
            if ctx.json {
                crate::output::print_json(&serde_json::json!({
                    "place": hub.secrets_place(), "sealed": status,
                }))?;
            } else {
                println!("secrets: {}", hub.secrets_place());
                if let Some(s) = status {
                    println!("KEKs held: {}", s.held.join(", "));
                    for (kek, n) in &s.by_kek {
                        let mark = if *kek == s.current {
                            ""
                        } else if s.held.contains(kek) {
                            "  (reseal: `tongban secrets reseal`)"
                        } else {
                            "  (NOT HELD on this node: these do not open)"
                        };
                        println!("  {kek}: {n} secrets{mark}");
                    }
                }
            }
        }
        SecretsCommand::Import { from } => {
            let dir = from.unwrap_or_else(|| ctx.data_dir.join("keys"));
            let (sealed, there) = hub.secrets_import(&dir).await?;
            if ctx.json {
                crate::output::print_json(&serde_json::json!({
                    "from": dir.display().to_string(), "sealed": sealed, "alreadySealed": there,
                }))?;
            } else {
                println!(
                    "sealed {sealed} secrets from {} ({there} were sealed already); the files can now be removed from every node once a backup holds them",
                    dir.display()
                );
            }
        }
        SecretsCommand::Reseal => {
            let n = hub.secrets_reseal().await?;
            if ctx.json {
                crate::output::print_json(&serde_json::json!({"resealed": n}))?;
            } else {
                println!("resealed {n} secrets under the current KEK");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_existing(file: &Path) -> anyhow::Result<Option<Zeroizing<String>>> {
    if !file.exists() {
        return Ok(None);
    }
    // Loading checks the file is owner-only and well-formed.
    Keks::load(file)?;
    Ok(Some(Zeroizing::new(
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
    )))
}

/// Writes `bytes` to `file` through an owner-only temporary file renamed
/// into place, so that a crash leaves the old file or the new one.
fn replace_owner_only(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = file.with_extension("kek-new");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let io = |e: std::io::Error| anyhow::anyhow!("{}: {e}", tmp.display());
    let mut f = options.open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
