//! `tongban demo`: the whole story on a throw-away hub in 广州市花都区,
//! told in chapters; `tongban demo --regions`: 全域通办 between two
//! regions' hubs ([`regions`]); `tongban demo --supervision`: a month of
//! electronic supervision and 12345 work orders ([`supervision`]).
//!
//! `run` reads as the table of contents, one function per chapter: `licences`
//! (the hub, issuing, suspension, bad input, revocation, use records),
//! `case_reuse` (cases over QUIC), `offline` (offline verification), `keys`
//! (rotation and a stolen key), `catalogue_search`; `regions` is also told in
//! chapters. Both serve hubs with `tongban-testhub`.

mod case_reuse;
mod catalogue_search;
mod keys;
mod licences;
mod offline;
mod regions;
mod supervision;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;
use time::OffsetDateTime;
use tongban_service::samples;
use tongban_service::{Clock, Service, ServiceConfig};

use crate::Context;
use crate::output::print_json;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo hub (and exported files) in this directory instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Show 全域通办 instead: two regions' hubs, a licence issued in one
    /// and reused by a case in the other.
    #[arg(long)]
    regions: bool,
    /// Show electronic supervision instead: a month of a service centre's
    /// cases and 12345 work orders, the warnings, cards and notices the hub
    /// pushes, and the month's report.
    #[arg(long, conflicts_with = "regions")]
    supervision: bool,
}

/// The story goes to standard output, or to standard error with `--json`,
/// which prints a summary instead.
pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    if args.regions {
        regions::run(&dir).await?;
        if ctx.json {
            print_json(&serde_json::json!({
                "dir": args.dir,
                "regions": [samples::REGION, tongban_testhub::regions::QINGCHENG],
            }))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.supervision {
        supervision::run(&dir).await?;
        if ctx.json {
            print_json(&serde_json::json!({"dir": args.dir, "month": "2026-03"}))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let demo = Demo::open(&dir).await?;
    println!("通办 Tongban — electronic licences that every department can reuse");
    println!("a throw-away hub for 广州市花都区 in {}", dir.display());

    licences::the_hub(&demo.hub).await?;
    let issued = licences::issue(&demo.hub).await?;
    case_reuse::reuse_over_quic(&demo.hub).await?;
    offline::verify_offline(&demo.hub, &dir, &issued.business).await?;
    licences::suspend_and_reinstate(&demo.hub, &issued.business).await?;
    let rotated = keys::rotate(&demo, &issued.marriage[0]).await?;
    keys::revoked_key(&demo, &rotated).await?;
    licences::bad_input(&demo.hub).await?;
    licences::revoke(&demo.hub, &issued.disability).await?;
    licences::uses(&demo.hub).await?;
    catalogue_search::publish_and_search(&demo.hub).await?;

    let counts = demo.hub.store().licence_counts().await?;
    println!(
        "\nlicences in the store: {}",
        counts
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if args.dir.is_none() {
        println!("(the demo hub is discarded; pass --dir to keep it)");
    }
    demo.hub.close().await;
    if ctx.json {
        let licences: serde_json::Map<String, Value> = counts
            .iter()
            .map(|(s, n)| (s.to_string(), serde_json::json!(n)))
            .collect();
        print_json(&serde_json::json!({"dir": args.dir, "licences": licences}))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo's hub, on a clock the story moves forward (key rotation and
/// revocation happen days apart).
struct Demo {
    hub: Service,
    clock: Clock,
    /// When the story starts (now, to the second).
    start: OffsetDateTime,
    /// Where the hub keeps its data.
    dir: PathBuf,
}

impl Demo {
    async fn open(dir: &Path) -> anyhow::Result<Demo> {
        let start = tongban_seal::timefmt::truncate_to_seconds(OffsetDateTime::now_utc());
        let clock = Clock::fixed(start);
        let hub = Service::open(&ServiceConfig {
            clock: clock.clone(),
            ..ServiceConfig::embedded(&dir.join("hub"))
        })
        .await?;
        Ok(Demo {
            hub,
            clock,
            start,
            dir: dir.join("hub"),
        })
    }
}

/// A chapter's title.
fn section(n: u32, title: &str) {
    println!("\n━━ {n}. {title} ━━");
}

/// What the hub said to something it must refuse.
fn outcome<T>(what: &str, r: tongban_service::Result<T>) {
    match r {
        Ok(_) => println!("  {what}: accepted (unexpected!)"),
        Err(e) => println!("  {what}: refused  [{}] {e}", e.code()),
    }
}
