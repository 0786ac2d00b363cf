//! `tongban init`, `dept`, `key`, `trust`.
//!
//! `init` refuses (`INIT_WOULD_REPLACE`, naming what `keys/` holds) when the
//! key store holds keys but the database is missing or holds no hub
//! (`Store::peek_setting`, which creates and migrates nothing): a new hub would
//! silently replace the anchor and CA everyone trusts.
//! `--new-hub-despite-existing-keys` proceeds after renaming `keys/` to
//! `keys.replaced-<time>/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tongban_seal::KeyPurpose;
use tongban_service::{NewDepartment, Service, samples};
use tongban_store::{DepartmentStatus, PlatformLevel, Store};

use crate::Context;
use crate::output::{Coded, print_json, read_json, write_json};
use crate::table::Table;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// GB/T 2260 region code the hub serves.
    #[arg(long, default_value = samples::REGION)]
    region: String,
    /// Name of the hub.
    #[arg(long, default_value = samples::HUB_NAME)]
    name: String,
    /// Skip the sample departments (and their keys). They are 花都区's
    /// (440114) and are only added to a hub of that region.
    #[arg(long)]
    no_samples: bool,
    /// Create a new hub even though the data directory holds the keys of
    /// an earlier one whose database is gone or empty. Its keys are moved
    /// to `keys.replaced-<time>/`, not deleted; the new hub has a new
    /// anchor and CA, which verifiers and departments must be given again.
    /// Without this, init refuses (`INIT_WOULD_REPLACE`).
    #[arg(long)]
    new_hub_despite_existing_keys: bool,
}

/// Sets up a hub; safe to run again (nothing is duplicated).
pub async fn init(ctx: &Context, args: InitArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&ctx.data_dir)?;
    restrict_dir(&ctx.data_dir);
    let config = ctx.hub_config();
    let keys = existing_keys(&config.keystore)?;
    let mut moved_aside = None;
    if !keys.is_empty()
        && Store::peek_setting(&config.store.database, "region")
            .await?
            .is_none()
    {
        if !args.new_hub_despite_existing_keys {
            return Err(would_replace(&config.keystore, &keys).into());
        }
        let aside = set_keys_aside(&config.keystore)?;
        println!("moved the earlier hub's keys to {}", aside.display());
        moved_aside = Some(aside);
    }
    let hub = Service::open(&config).await?.with_operator(&ctx.operator);
    let mut report = samples::initialise(&hub, &args.region, &args.name, !args.no_samples).await?;
    if ctx.json {
        if let Some(aside) = moved_aside {
            report["keysMovedTo"] = json!(aside);
        }
        print_json(&report)?;
    } else {
        println!(
            "hub        {} ({})",
            report["name"].as_str().unwrap_or(""),
            report["id"].as_str().unwrap_or("")
        );
        println!("data       {}", ctx.data_dir.display());
        println!("store      {}", hub.store().backend());
        println!(
            "anchor     {}  (give this to offline verifiers)",
            report["anchor"].as_str().unwrap_or("")
        );
        println!("types      {} licence types", report["licenceTypes"]);
        println!("depts      {} departments", report["departments"]);
        if report["region"] == samples::REGION && !args.no_samples {
            println!(
                "\nnext: tongban licence issue --issuer {} --request <file.json>   (see --help)",
                samples::MARKET
            );
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// What the key store directory holds, in words (empty: nothing).
fn existing_keys(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Coded::new("IO", format!("{}: {e}", dir.display())).into()),
    };
    let (mut ca, mut pin, mut signing, mut peer, mut other) = (false, false, 0, 0, 0);
    for entry in entries {
        let name = entry
            .map_err(|e| Coded::new("IO", format!("{}: {e}", dir.display())))?
            .file_name();
        let name = name.to_string_lossy();
        match name.as_ref() {
            "ca-key.pem" => ca = true,
            "audit-pin.json" => pin = true,
            n if n.ends_with(".key") => signing += 1,
            n if n.starts_with("peer-") && n.ends_with(".pem") => peer += 1,
            _ => other += 1,
        }
    }
    let mut found = Vec::new();
    if ca {
        found.push("the CA's private key (ca-key.pem)".to_owned());
    }
    if pin {
        found.push("the audit log's pinned anchor (audit-pin.json)".to_owned());
    }
    for (n, what) in [
        (signing, "signing key"),
        (peer, "key of a link to a peer hub"),
        (other, "other file"),
    ] {
        match n {
            0 => {}
            1 => found.push(format!("1 {what}")),
            n => found.push(format!("{n} {what}s")),
        }
    }
    Ok(found)
}

fn would_replace(dir: &Path, keys: &[String]) -> Coded {
    Coded::new(
        "INIT_WOULD_REPLACE",
        format!(
            "{} holds the keys of a hub ({}), but the database is gone or holds no hub: \
             a new hub would get a new anchor and CA while verifiers, departments and \
             peers trust the old ones. Restore the database from a backup, or pass \
             --new-hub-despite-existing-keys to start a new hub (the old keys are moved \
             aside, not deleted)",
            dir.display(),
            keys.join(", ")
        ),
    )
}

/// Renames the key store to `keys.replaced-<UTC time>` beside it.
fn set_keys_aside(dir: &Path) -> anyhow::Result<PathBuf> {
    let stamp: String = tongban_seal::timefmt::format_rfc3339(time::OffsetDateTime::now_utc())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let name = format!(
        "{}.replaced-{stamp}",
        dir.file_name()
            .map_or("keys".into(), |n| n.to_string_lossy())
    );
    let aside = dir.with_file_name(name);
    std::fs::rename(dir, &aside).map_err(|e| {
        Coded::new(
            "IO",
            format!("moving {} to {}: {e}", dir.display(), aside.display()),
        )
    })?;
    Ok(aside)
}

fn restrict_dir(dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[derive(Debug, Subcommand)]
pub enum DeptCommand {
    /// Register a department.
    Add {
        /// Unified social credit code (统一社会信用代码).
        #[arg(long)]
        code: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// GB/T 2260 region code.
        #[arg(long)]
        region: String,
        /// Platform level: district, town or village.
        #[arg(long, default_value = "district", value_parser = ["district", "town", "village"])]
        level: String,
        /// Parent department code.
        #[arg(long)]
        parent: Option<String>,
        /// Contact person and phone.
        #[arg(long)]
        contact: Option<String>,
    },
    /// List departments.
    List,
    /// Show one department with its keys.
    Show {
        /// Department code.
        code: String,
    },
    /// Suspend a department: it can neither send nor issue until reactivated.
    Suspend {
        /// Department code.
        code: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Reactivate a suspended department.
    Activate {
        /// Department code.
        code: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Retire a department for good (kept for history).
    Retire {
        /// Department code.
        code: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

pub async fn dept(ctx: &Context, cmd: DeptCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        DeptCommand::Add {
            code,
            name,
            region,
            level,
            parent,
            contact,
        } => {
            let row = hub
                .add_department(NewDepartment {
                    code,
                    name,
                    region_code: region,
                    platform_level: PlatformLevel::parse(&level).unwrap_or(PlatformLevel::District),
                    parent_code: parent,
                    contact,
                })
                .await?;
            if ctx.json {
                print_json(&row)?;
            } else {
                println!("registered {} {}", row.code, row.name);
            }
        }
        DeptCommand::Show { code } => show_department(ctx, &hub, &code).await?,
        DeptCommand::Suspend { code, reason } => status_change(
            ctx,
            hub.set_department_status(&code, DepartmentStatus::Suspended, &reason)
                .await?,
        )?,
        DeptCommand::Activate { code, reason } => status_change(
            ctx,
            hub.set_department_status(&code, DepartmentStatus::Active, &reason)
                .await?,
        )?,
        DeptCommand::Retire { code, reason } => status_change(
            ctx,
            hub.set_department_status(&code, DepartmentStatus::Retired, &reason)
                .await?,
        )?,
        DeptCommand::List => {
            let rows = hub.store().departments().await?;
            if ctx.json {
                print_json(&rows)?;
            } else {
                let mut table = Table::new();
                for d in rows {
                    table.row([
                        d.code,
                        d.platform_level.as_str().to_owned(),
                        d.status.as_str().to_owned(),
                        d.region_code,
                        d.name,
                    ]);
                }
                table.print();
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `dept show`: a department and its keys.
async fn show_department(ctx: &Context, hub: &Service, code: &str) -> anyhow::Result<()> {
    let d = hub.department(code).await?;
    let keys = hub.store().keys_of(code).await?;
    if ctx.json {
        let keys: Vec<Value> = keys.iter().map(key_json).collect();
        print_json(&json!({"department": d, "keys": keys}))?;
    } else {
        println!("{}  {}", d.code, d.name);
        println!(
            "  region {}  level {}  status {}",
            d.region_code,
            d.platform_level.as_str(),
            d.status.as_str()
        );
        if let Some(p) = &d.parent_code {
            println!("  parent {p}");
        }
        if let Some(c) = &d.contact {
            println!("  contact {c}");
        }
        let mut table = Table::new().indented(2);
        for k in &keys {
            let mut cells = vec!["key".to_owned()];
            cells.extend(key_cells(k));
            table.row(cells);
        }
        table.print();
    }
    Ok(())
}

fn status_change(ctx: &Context, d: tongban_store::DepartmentRow) -> anyhow::Result<()> {
    if ctx.json {
        print_json(&d)?;
    } else {
        println!("{} {} is now {}", d.code, d.name, d.status.as_str());
    }
    Ok(())
}

fn fmt_time(t: Option<time::OffsetDateTime>) -> String {
    t.map(tongban_seal::timefmt::format_rfc3339)
        .unwrap_or_else(|| "-".into())
}

fn key_json(k: &tongban_store::KeyRow) -> Value {
    json!({"keyId": k.key_id, "owner": k.owner, "controller": k.controller, "purpose": k.purpose,
           "notBefore": fmt_time(Some(k.not_before)), "notAfter": k.not_after.map(tongban_seal::timefmt::format_rfc3339),
           "revokedAt": k.revoked_at.map(tongban_seal::timefmt::format_rfc3339), "revokedReason": k.revoked_reason})
}

/// The cells of one key in a table: id, purpose, window, revocation.
fn key_cells(k: &tongban_store::KeyRow) -> [String; 4] {
    [
        k.key_id.clone(),
        k.purpose.clone(),
        format!(
            "from {}  until {}",
            fmt_time(Some(k.not_before)),
            fmt_time(k.not_after)
        ),
        k.revoked_at
            .map(|t| {
                format!(
                    "REVOKED at {} ({})",
                    tongban_seal::timefmt::format_rfc3339(t),
                    k.revoked_reason.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_default(),
    ]
}

fn key_line(k: &tongban_store::KeyRow) -> String {
    let mut table = Table::new();
    table.row(key_cells(k));
    table.lines().concat().trim_end().to_owned()
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a signing key for a department (or `hub`), its secret kept by
    /// this hub.
    New {
        /// Department code, or `hub`.
        #[arg(long)]
        owner: String,
        /// What it signs: licences (`issue`) or envelopes (`exchange`). A
        /// hub's own key signs both.
        #[arg(long, value_enum, default_value = "issue")]
        purpose: PurposeArg,
    },
    /// (Department side, no hub needed) generate an exchange key: writes its
    /// secret to an owner-only file and a registration request, signed by
    /// the key, for the region's administrator (`tongban key register`).
    /// The hub never sees the secret.
    Generate {
        /// The department's code.
        #[arg(long)]
        owner: String,
        /// Where to write the secret key (created 0600, never overwritten).
        #[arg(long, short)]
        out: PathBuf,
        /// Where to write the registration request (default: OUT with
        /// `.registration.json` appended).
        #[arg(long)]
        request: Option<PathBuf>,
    },
    /// Register a department's own exchange key from its registration
    /// request (`tongban key generate`): only the public half is kept.
    Register {
        /// The registration request (JSON).
        request: PathBuf,
    },
    /// List keys with their windows.
    List {
        /// Only this owner's keys.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Rotate a key: a successor valid from now; the old key stays valid for the overlap.
    Rotate {
        /// The key to rotate (its Multikey id).
        key_id: String,
        /// How long both keys are valid (0 to 365 days), e.g. 7d, 12h, 0d,
        /// "1d 12h".
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        overlap: time::Duration,
    },
    /// Write a department's current exchange key, made by this hub, for its
    /// own system (owner-only file); audited. DANGER: hands out a secret; for
    /// development and for provisioning a department that does not generate
    /// its own key. Issuing keys never leave the hub.
    ExportSecret {
        /// Department code.
        #[arg(long)]
        owner: String,
        /// Output file (created 0600, never overwritten).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Revoke a key as of an instant (default now): signatures from then on fail,
    /// earlier ones still verify.
    Revoke {
        /// The key (Multikey id).
        key_id: String,
        /// The compromise instant (RFC 3339); now when omitted.
        #[arg(long)]
        at: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// The start (China time) of the day `--{what}` names.
pub(crate) fn day(text: &str, what: &str) -> anyhow::Result<time::OffsetDateTime> {
    let date = tongban_supervision::calendar::parse_day(text)
        .map_err(|e| crate::output::Coded::usage("DATE_INVALID", format!("--{what} {e}")))?;
    Ok(tongban_supervision::calendar::start_of(date))
}

/// A duration as people write it (humantime): `7d`, `12h`, `30m` (minutes),
/// `0d`, `1d 12h`, `2w`.
pub(crate) fn parse_duration(s: &str) -> Result<time::Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?}: {e} (write e.g. 7d, 12h, 30m, 1d 12h)"))?;
    time::Duration::try_from(d).map_err(|e| format!("{s:?}: {e}"))
}

/// What a key signs, as `key new` names it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PurposeArg {
    /// Licences and status lists.
    Issue,
    /// Envelopes of the exchange.
    Exchange,
}

impl From<PurposeArg> for KeyPurpose {
    fn from(p: PurposeArg) -> KeyPurpose {
        match p {
            PurposeArg::Issue => KeyPurpose::Issue,
            PurposeArg::Exchange => KeyPurpose::Exchange,
        }
    }
}

pub async fn key(ctx: &Context, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    // The department's side: no hub, no store.
    if let KeyCommand::Generate {
        owner,
        out,
        request,
    } = cmd
    {
        return generate_key(ctx, &owner, &out, request);
    }
    let hub = ctx.open().await?;
    match cmd {
        KeyCommand::Generate { .. } => unreachable!("handled above"),
        KeyCommand::New { owner, purpose } => {
            let row = hub.new_signing_key(&owner, purpose.into(), None).await?;
            if ctx.json {
                print_json(&key_json(&row))?;
            } else {
                println!("new {} key {} for {}", row.purpose, row.key_id, row.owner);
            }
        }
        KeyCommand::Register { request } => {
            let row = hub.register_exchange_key(&read_json(&request)?).await?;
            if ctx.json {
                print_json(&key_json(&row))?;
            } else {
                println!(
                    "registered exchange key {} of {} (valid from {}; this hub holds no secret of it)",
                    row.key_id,
                    row.owner,
                    fmt_time(Some(row.not_before))
                );
            }
        }
        KeyCommand::List { owner } => list_keys(ctx, &hub, owner.as_deref()).await?,
        KeyCommand::ExportSecret { owner, out } => export_secret(ctx, &hub, &owner, &out).await?,
        KeyCommand::Rotate { key_id, overlap } => {
            let (old, new) = hub.rotate_key(&key_id, overlap).await?;
            if ctx.json {
                print_json(&json!({"old": key_json(&old), "new": key_json(&new)}))?;
            } else {
                println!("rotated {}: successor {}", old.owner, new.key_id);
                println!("  old key valid until {}", fmt_time(old.not_after));
            }
        }
        KeyCommand::Revoke { key_id, at, reason } => {
            revoke_key(ctx, &hub, &key_id, at, &reason).await?;
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Write the hub-signed trust file (issuers' keys, status lists, licence types).
    Export {
        /// Output file.
        #[arg(long, short)]
        out: PathBuf,
        /// Only this department's keys and status lists (the whole region when omitted).
        #[arg(long)]
        dept: Option<String>,
    },
    /// Print the hub's anchor key (what offline verifiers check trust files against).
    Anchor,
}

pub async fn trust(ctx: &Context, cmd: TrustCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        TrustCommand::Export { out, dept } => {
            let file = hub.trust_file_for(dept.as_deref()).await?;
            write_json(&out, &file)?;
            if ctx.json {
                print_json(&json!({"out": out, "validUntil": file["validUntil"]}))?;
            } else {
                println!(
                    "wrote {} (valid until {})",
                    out.display(),
                    file["validUntil"].as_str().unwrap_or("?")
                );
            }
        }
        TrustCommand::Anchor => {
            let anchor = hub.identity().await?.anchor;
            if ctx.json {
                print_json(&json!({"anchor": anchor}))?;
            } else {
                println!("{anchor}");
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `key list`: one owner's keys, or every key.
async fn list_keys(ctx: &Context, hub: &Service, owner: Option<&str>) -> anyhow::Result<()> {
    let rows = match owner {
        Some(o) => hub.store().keys_of(o).await?,
        None => hub.store().all_keys().await?,
    };
    if ctx.json {
        let list: Vec<Value> = rows.iter().map(key_json).collect();
        print_json(&list)?;
    } else {
        let mut table = Table::new();
        for k in rows {
            let mut cells = vec![k.owner.clone()];
            cells.extend(key_cells(&k));
            table.row(cells);
        }
        table.print();
    }
    Ok(())
}

/// `key export-secret`: a department's exchange key the hub made, written
/// owner-only (and recorded in the audit log).
async fn export_secret(
    ctx: &Context,
    hub: &Service,
    owner: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let (key_id, secret) = hub.export_exchange_secret(owner).await?;
    let line = zeroize::Zeroizing::new(format!("{}\n", secret.as_str()));
    tongban_service::keystore::write_owner_only(out, line.as_bytes())?;
    if ctx.json {
        print_json(&json!({"keyId": key_id, "owner": owner, "out": out}))?;
    } else {
        println!(
            "wrote the secret exchange key {key_id} of {owner} to {} (recorded in the audit log)",
            out.display()
        );
    }
    Ok(())
}

/// `key revoke`: a key revoked now or as of `--at` (a stolen key: from
/// when it was stolen).
async fn revoke_key(
    ctx: &Context,
    hub: &Service,
    key_id: &str,
    at: Option<String>,
    reason: &str,
) -> anyhow::Result<()> {
    let at = match at {
        Some(t) => Some(
            tongban_seal::timefmt::parse_rfc3339(&t)
                .map_err(|e| Coded::usage("TIME_INVALID", format!("--at {t}: {e}")))?,
        ),
        None => None,
    };
    let k = hub.revoke_signing_key(key_id, at, reason).await?;
    if ctx.json {
        print_json(&key_json(&k))?;
    } else {
        println!("revoked {}", key_line(&k));
    }
    Ok(())
}

/// `tongban key generate`: the department's system makes its exchange key
/// and a registration request signed by it; the secret stays here.
fn generate_key(
    ctx: &Context,
    owner: &str,
    out: &std::path::Path,
    request: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let request_path = request.unwrap_or_else(|| {
        let mut name = out.as_os_str().to_owned();
        name.push(".registration.json");
        PathBuf::from(name)
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
        restrict_dir(parent);
    }
    let key = tongban_seal::SigningKey::generate()
        .map_err(|e| Coded::new("RNG_FAILED", e.to_string()))?;
    let registration = tongban_seal::keyreg::sign(&key, owner, time::OffsetDateTime::now_utc());
    let secret = key.to_secret_multikey();
    let line = zeroize::Zeroizing::new(format!("{}\n", secret.as_str()));
    tongban_service::keystore::write_owner_only(out, line.as_bytes())?;
    write_json(&request_path, &registration)?;
    let key_id = key.public().to_multikey();
    if ctx.json {
        print_json(&json!({"keyId": key_id, "owner": owner, "out": out, "request": request_path}))?;
    } else {
        println!("generated exchange key {key_id} for {owner}");
        println!("  secret (keep it here, owner-only): {}", out.display());
        println!("  registration request: {}", request_path.display());
        println!(
            "next: the region's administrator runs `tongban key register {}`",
            request_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
