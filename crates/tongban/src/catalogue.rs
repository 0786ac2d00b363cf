//! `tongban catalogue`: the resource catalogue (政务信息资源目录).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tongban_service::{CatalogueDraft, Service};
use tongban_store::{CatalogueEntry, CatalogueFilter};

use crate::Context;
use crate::output::{Coded, read_json};
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum CatalogueCommand {
    /// Publish a new resource for a department (a JSON file: id, name,
    /// description, schema, fields [{name, label}], sharingType, updateFrequency, tags).
    Publish {
        /// The publishing (providing) department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// The resource (JSON file).
        file: PathBuf,
    },
    /// Publish the next version of a resource (only its provider may).
    Update {
        /// The providing department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// The new version (JSON file, same id).
        file: PathBuf,
    },
    /// Retire a resource: it leaves searches and listings, its history stays.
    Retire {
        /// The providing department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// Resource id.
        id: String,
    },
    /// Show a resource (with --history, every version).
    Show {
        /// Resource id.
        id: String,
        /// Every version as published.
        #[arg(long)]
        history: bool,
    },
    /// List resources.
    List {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Search names, descriptions, field labels and tags in Chinese (every
    /// term must occur; e.g. `营业执照`, `"婚姻 登记"`, `老年`).
    Search {
        /// Search terms, separated by spaces.
        #[arg(required = true)]
        query: Vec<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Search peer regions' unconditional resources instead (全域通办),
        /// as their hubs last served them; request one as `{region}:{id}`.
        #[arg(long)]
        other_regions: bool,
    },
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only this provider.
    #[arg(long)]
    provider: Option<String>,
    /// Only this region code.
    #[arg(long)]
    region: Option<String>,
    /// Only this sharing type (unconditional/无条件共享, conditional/有条件共享, not-shared/不予共享).
    #[arg(long)]
    sharing: Option<String>,
    /// Retired resources too.
    #[arg(long)]
    include_retired: bool,
    /// At most this many results.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

impl FilterArgs {
    fn filter(&self) -> CatalogueFilter {
        CatalogueFilter {
            provider: self.provider.clone(),
            region_code: self.region.clone(),
            sharing_type: self.sharing.clone(),
            include_retired: self.include_retired,
        }
    }
}

fn draft(file: &std::path::Path) -> anyhow::Result<CatalogueDraft> {
    Ok(serde_json::from_value(read_json(file)?)
        .map_err(|e| Coded::new("CATALOGUE_INVALID", format!("{}: {e}", file.display())))?)
}

fn sharing_zh(s: &str) -> &str {
    tongban_service::SHARING_TYPES
        .iter()
        .find(|(en, _)| *en == s)
        .map_or(s, |(_, zh)| zh)
}

/// The cells of one resource in a table.
fn cells(e: &CatalogueEntry) -> [String; 6] {
    [
        e.id.clone(),
        format!("v{}", e.version),
        e.name.clone(),
        format!("[{}]", sharing_zh(&e.sharing_type)),
        e.provider.clone(),
        format!(
            "{}{}",
            e.region_code,
            if e.status == "retired" {
                "  (retired)"
            } else {
                ""
            }
        ),
    ]
}

fn line(e: &CatalogueEntry) -> String {
    let mut table = Table::new();
    table.row(cells(e));
    table.lines().concat()
}

fn print(ctx: &Context, entries: &[CatalogueEntry]) -> anyhow::Result<()> {
    if ctx.json {
        crate::output::print_json(entries)?;
    } else if entries.is_empty() {
        eprintln!("nothing found");
    } else {
        let mut table = Table::new();
        for e in entries {
            table.row(cells(e));
        }
        table.print();
    }
    Ok(())
}

fn print_one(ctx: &Context, verb: &str, e: &CatalogueEntry) -> anyhow::Result<()> {
    if ctx.json {
        crate::output::print_json(e)?;
    } else {
        println!("{verb} {}", line(e));
    }
    Ok(())
}

pub async fn run(ctx: &Context, cmd: CatalogueCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        CatalogueCommand::Publish { department, file } => {
            let e = hub
                .catalogue_publish(&department, draft(&file)?, false)
                .await?;
            print_one(ctx, "published", &e)?;
        }
        CatalogueCommand::Update { department, file } => {
            let e = hub
                .catalogue_publish(&department, draft(&file)?, true)
                .await?;
            print_one(ctx, "updated", &e)?;
        }
        CatalogueCommand::Retire { department, id } => {
            let e = hub.catalogue_retire(&department, &id).await?;
            print_one(ctx, "retired", &e)?;
        }
        CatalogueCommand::Show { id, history } => show(ctx, &hub, &id, history).await?,
        CatalogueCommand::List { filter } => {
            print(
                ctx,
                &hub.catalogue_list(&filter.filter(), filter.limit).await?,
            )?;
        }
        CatalogueCommand::Search {
            query,
            filter,
            other_regions: true,
        } => search_other_regions(ctx, &hub, &query.join(" "), filter.limit).await?,
        CatalogueCommand::Search { query, filter, .. } => {
            let found = hub
                .catalogue_search(&query.join(" "), &filter.filter(), filter.limit)
                .await?;
            print(ctx, &found)?;
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `catalogue show`: a resource as it is now, or with `--history` every
/// version of it.
async fn show(ctx: &Context, hub: &Service, id: &str, history: bool) -> anyhow::Result<()> {
    if history {
        let versions = hub.catalogue_history(id).await?;
        if ctx.json {
            crate::output::print_json(&versions)?;
        } else {
            for (n, v) in versions.iter().enumerate() {
                let text = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
                println!(
                    "v{:<3} {}  [{}]  schema {}",
                    v["version"].as_u64().unwrap_or(n as u64 + 1),
                    text("name"),
                    sharing_zh(&text("sharingType")),
                    text("schema")
                );
            }
        }
    } else {
        let e = hub.catalogue_show(id).await?;
        if ctx.json {
            crate::output::print_json(&e)?;
        } else {
            println!("{}", line(&e));
            println!("  schema   {}", e.schema);
            println!("  updates  {}", e.update_frequency);
            println!("  tags     {}", e.tags.join(", "));
            for f in &e.fields {
                println!("  field    {} ({})", f.label, f.name);
            }
            if !e.description.is_empty() {
                println!("  {}", e.description);
            }
        }
    }
    Ok(())
}

/// `catalogue search --other-regions`: the open resources of peer regions.
async fn search_other_regions(
    ctx: &Context,
    hub: &Service,
    query: &str,
    limit: usize,
) -> anyhow::Result<()> {
    let found = hub.peer_catalogue_search(query, limit).await?;
    if ctx.json {
        let listed: Vec<serde_json::Value> = found
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["qualifiedId"] = serde_json::json!(r.qualified_id());
                v
            })
            .collect();
        crate::output::print_json(&listed)?;
    } else if found.is_empty() {
        eprintln!("nothing found in other regions");
    } else {
        for r in &found {
            println!(
                "{}  {}  provider {}  schema {}  from region {}  (无条件共享)",
                r.qualified_id(),
                r.name,
                r.provider,
                r.schema,
                r.region
            );
        }
    }
    Ok(())
}
