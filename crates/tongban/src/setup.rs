//! `tongban init`, `dept`, `key`, `trust`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tongban_service::{Hub, NewDepartment};
use tongban_store::PlatformLevel;

use crate::output::{Coded, write_json};
use crate::{Context, samples};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// GB/T 2260 region code the hub serves.
    #[arg(long, default_value = samples::REGION)]
    region: String,
    /// Name of the hub.
    #[arg(long, default_value = samples::HUB_NAME)]
    name: String,
    /// Skip the sample departments (and their keys).
    #[arg(long)]
    no_samples: bool,
}

/// Sets up a hub; safe to run again (nothing is duplicated).
pub async fn init(ctx: &Context, args: InitArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&ctx.data_dir)?;
    restrict_dir(&ctx.data_dir);
    let hub = Hub::open(&ctx.hub_config()).await?;
    let report = initialise(&hub, &args.region, &args.name, !args.no_samples).await?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
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
        println!(
            "\nnext: tongban licence issue --issuer {} --request <file.json>   (see --help)",
            samples::MARKET
        );
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Region, hub key, shipped licence types and (optionally) sample departments with keys.
pub async fn initialise(
    hub: &Hub,
    region: &str,
    name: &str,
    samples: bool,
) -> anyhow::Result<Value> {
    let identity = hub.init_region(region, name).await?;
    for (stem, text) in samples::LICENCE_TYPES {
        let schema: Value = serde_json::from_str(text)
            .map_err(|e| Coded::new("SCHEMA_INVALID", format!("{stem}: {e}")))?;
        hub.publish_licence_type(schema).await?;
    }
    if samples {
        for d in samples::DEPARTMENTS {
            if hub.store().department(d.code).await?.is_none() {
                hub.add_department(NewDepartment {
                    code: d.code.into(),
                    name: d.name.into(),
                    region_code: region.into(),
                    platform_level: d.level,
                    parent_code: d.parent.map(Into::into),
                    contact: Some(d.contact.into()),
                })
                .await?;
            }
            if d.issues && hub.current_key(d.code).await.is_err() {
                hub.new_signing_key(d.code, None).await?;
            }
        }
    }
    Ok(json!({
        "id": identity.id,
        "name": identity.name,
        "region": identity.region,
        "anchor": identity.anchor,
        "licenceTypes": hub.licence_types().len(),
        "departments": hub.store().departments().await?.len(),
    }))
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
                println!("{}", serde_json::to_string_pretty(&row)?);
            } else {
                println!("registered {} {}", row.code, row.name);
            }
        }
        DeptCommand::List => {
            let rows = hub.store().departments().await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for d in rows {
                    println!(
                        "{}  {:<8} {:<9} {}  {}",
                        d.code,
                        d.platform_level.as_str(),
                        d.status.as_str(),
                        d.region_code,
                        d.name
                    );
                }
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a signing key for a department (or `hub`).
    New {
        /// Department code, or `hub`.
        #[arg(long)]
        owner: String,
    },
    /// List keys with their windows.
    List {
        /// Only this owner's keys.
        #[arg(long)]
        owner: Option<String>,
    },
}

pub async fn key(ctx: &Context, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        KeyCommand::New { owner } => {
            let row = hub.new_signing_key(&owner, None).await?;
            if ctx.json {
                println!(
                    "{}",
                    json!({"keyId": row.key_id, "owner": row.owner, "controller": row.controller})
                );
            } else {
                println!("new key {} for {}", row.key_id, row.owner);
            }
        }
        KeyCommand::List { owner } => {
            let rows = match owner {
                Some(o) => hub.store().keys_of(&o).await?,
                None => hub.store().all_keys().await?,
            };
            let fmt = |t: Option<time::OffsetDateTime>| {
                t.map(tongban_seal::timefmt::format_rfc3339)
                    .unwrap_or_else(|| "-".into())
            };
            if ctx.json {
                let list: Vec<Value> = rows
                    .iter()
                    .map(|k| json!({"keyId": k.key_id, "owner": k.owner, "controller": k.controller, "notBefore": fmt(Some(k.not_before)), "notAfter": k.not_after.map(tongban_seal::timefmt::format_rfc3339), "revokedAt": k.revoked_at.map(tongban_seal::timefmt::format_rfc3339)}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for k in rows {
                    println!(
                        "{:<20} {}  from {}  until {}  revoked {}",
                        k.owner,
                        k.key_id,
                        fmt(Some(k.not_before)),
                        fmt(k.not_after),
                        fmt(k.revoked_at)
                    );
                }
            }
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
    },
    /// Print the hub's anchor key (what offline verifiers check trust files against).
    Anchor,
}

pub async fn trust(ctx: &Context, cmd: TrustCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        TrustCommand::Export { out } => {
            let file = hub.trust_file().await?;
            write_json(&out, &file)?;
            if !ctx.json {
                println!(
                    "wrote {} (valid until {})",
                    out.display(),
                    file["validUntil"].as_str().unwrap_or("?")
                );
            }
        }
        TrustCommand::Anchor => println!("{}", hub.identity().await?.anchor),
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}
