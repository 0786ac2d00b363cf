//! `tongban schema …`: the schema registry.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use tongban_service::Service;

use crate::Context;
use crate::output::read_json;

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Publish a JSON Schema as id@version (checked against the previous version).
    #[command(disable_version_flag = true)]
    Publish {
        /// The schema file.
        file: PathBuf,
        /// `licence-type` or `message`; guessed from the annotation when omitted.
        #[arg(long, value_parser = ["licence-type", "message"])]
        kind: Option<String>,
        /// Schema id (default: from the x-message-type / x-licence-type annotation).
        #[arg(long)]
        id: Option<String>,
        /// Version (default: from the annotation).
        #[arg(long = "version", id = "schema_version")]
        version: Option<String>,
        /// Publish even if data valid under the previous version would be refused.
        #[arg(long)]
        allow_breaking: bool,
    },
    /// List published schemas.
    List {
        /// Only this kind.
        #[arg(long, value_parser = ["licence-type", "message"])]
        kind: Option<String>,
    },
    /// Print a published schema.
    #[command(disable_version_flag = true)]
    Show {
        /// Schema id.
        id: String,
        /// Version (latest when omitted).
        #[arg(long = "version", id = "schema_version")]
        version: Option<String>,
    },
    /// What changed between two versions, breaking changes flagged.
    Diff {
        /// Schema id.
        id: String,
        /// The older version.
        from: String,
        /// The newer version.
        to: String,
    },
}

pub async fn run(ctx: &Context, cmd: SchemaCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        SchemaCommand::Publish {
            file,
            kind,
            id,
            version,
            allow_breaking,
        } => {
            let options = (id.as_deref(), version.as_deref(), allow_breaking);
            publish(ctx, &hub, &file, kind, options).await?;
        }
        SchemaCommand::List { kind } => list(ctx, &hub, kind.as_deref()).await?,
        SchemaCommand::Show { id, version } => {
            let row = hub.schema(&id, version.as_deref()).await?;
            let doc: serde_json::Value = serde_json::from_str(&row.content)?;
            crate::output::print_json(&doc)?;
        }
        SchemaCommand::Diff { id, from, to } => {
            let changes = hub.schema_diff(&id, &from, &to).await?;
            if ctx.json {
                crate::output::print_json(&changes)?;
            } else if changes.is_empty() {
                println!("{id}: no changes from {from} to {to}");
            } else {
                for c in &changes {
                    println!("{c}");
                }
                let breaking = changes.iter().filter(|c| c.breaking).count();
                println!("{} change(s), {breaking} breaking", changes.len());
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `schema publish`: its kind (a licence type when it says so, else a
/// message), published with the changes since the previous version.
async fn publish(
    ctx: &Context,
    hub: &Service,
    file: &Path,
    kind: Option<String>,
    (id, version, allow_breaking): (Option<&str>, Option<&str>, bool),
) -> anyhow::Result<()> {
    let schema = read_json(file)?;
    let kind = kind.unwrap_or_else(|| {
        if schema.get("x-licence-type").is_some() {
            "licence-type".into()
        } else {
            "message".into()
        }
    });
    let published = hub
        .publish_schema(&kind, id, version, schema, allow_breaking)
        .await?;
    if ctx.json {
        crate::output::print_json(&published)?;
    } else {
        let what = match published.outcome {
            tongban_store::SchemaInsert::AlreadyPresent => "already published (same content)",
            _ => "published",
        };
        println!(
            "{}@{} ({}) {what}",
            published.id, published.version, published.kind
        );
        if let Some(prev) = &published.previous {
            println!("  changes since {prev}:");
            for c in &published.changes {
                println!("    {c}");
            }
        }
    }
    Ok(())
}

/// `schema list`: every schema, or those of one kind.
async fn list(ctx: &Context, hub: &Service, kind: Option<&str>) -> anyhow::Result<()> {
    let rows = hub.store().schemas(kind).await?;
    if ctx.json {
        let list: Vec<_> = rows
            .iter()
            .map(|r| json!({"id": r.id, "version": r.version, "kind": r.kind, "title": r.title, "sha256": r.sha256, "publishedAt": tongban_seal::timefmt::format_rfc3339(r.created_at)}))
            .collect();
        crate::output::print_json(&list)?;
    } else {
        let mut table = crate::table::Table::new();
        for r in rows {
            table.row([
                r.kind,
                format!("{}@{}", r.id, r.version),
                r.title,
                format!("({}…)", r.sha256.get(..12).unwrap_or(&r.sha256)),
            ]);
        }
        table.print();
    }
    Ok(())
}
