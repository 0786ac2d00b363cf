//! `tongban item` (service items, 事项) and `tongban case` (cases, 办件).
//!
//! `item put|retire|show|list` and `case show|list|standing|import` are the operator's
//! side, on the store; `case licences|result|pull|event` are a department's case system, over
//! QUIC: `pull` asks `hub.region.licences` and prints each licence with its
//! origin region and verdict, then each region's outcome; a refusal exits with
//! the service's code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use tongban_proto::services::{
    CaseEvent, CaseLicenceQuery, CaseLicences, CaseResult, Holder, MaterialStatus, Outcome,
    RegionLicenceQuery, RegionLicences,
};
use tongban_service::{ItemDraft, ServiceItem};

use crate::Context;
use crate::exchange::{ClientArgs, connect, refused};
use crate::output::{Coded, read_json};

#[derive(Debug, Subcommand)]
pub enum ItemCommand {
    /// Register a service item for a department, or its next version (a JSON
    /// file: code, name, itemType 即办件/承诺件/联办件/上报件, legalLimitDays,
    /// promisedLimitDays, materials [{name, licenceType, required}], resultType).
    Put {
        /// The handling department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// The item (JSON file).
        file: PathBuf,
    },
    /// Retire a service item: no new cases open under it.
    Retire {
        /// The handling department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// 事项编码.
        code: String,
    },
    /// Show a service item.
    Show {
        /// 事项编码.
        code: String,
    },
    /// List service items.
    List {
        /// Only this department's.
        #[arg(long)]
        dept: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// (Department side) ask the hub for the licences a holder has for a
    /// service item's materials, stating the purpose; opens the case.
    Licences {
        #[command(flatten)]
        client: ClientArgs,
        /// 办件编号.
        #[arg(long = "case")]
        case_id: String,
        /// 事项编码.
        #[arg(long)]
        item: String,
        /// Holder as TYPE:CODE (001 for a USCC, 111 for a citizen id).
        #[arg(long)]
        holder: String,
        /// 申请事由: why the licences are needed (required).
        #[arg(long)]
        use_cause: String,
    },
    /// (Department side) pull a holder's licences from this region and its
    /// peer regions (全域通办) through the hub, for a case of an item the
    /// department handles, stating the purpose; each licence comes back
    /// verified, with the region it was issued in.
    Pull {
        #[command(flatten)]
        client: ClientArgs,
        /// Holder as TYPE:CODE (001 for a USCC, 111 for a citizen id).
        #[arg(long)]
        holder: String,
        /// 申请事由: why the licences are needed (required).
        #[arg(long)]
        use_cause: String,
        /// 办件编号 the pull is for: the department's own case (opened on
        /// first use, as by `case licences`).
        #[arg(long = "case")]
        case_id: String,
        /// 事项编码 of the case: an item the department handles. Only the
        /// licence types among its materials are read.
        #[arg(long)]
        item: String,
        /// Only licences of this type, one of the item's (repeatable).
        #[arg(long = "type", value_name = "TYPE_CODE")]
        types: Vec<String>,
        /// Only these regions (repeatable; this hub's own region included
        /// only when named). Default: this region and every peer.
        #[arg(long = "region", value_name = "REGION_CODE")]
        regions: Vec<String>,
        /// Wait at most this long for peers, in milliseconds (100 to 10000).
        #[arg(long, default_value_t = 3000)]
        wait_ms: u64,
    },
    /// (Department side) send an approved case's result for the hub to issue
    /// as a licence (a JSON issue request: type, holder, data, validity).
    Result {
        #[command(flatten)]
        client: ClientArgs,
        /// 办件编号.
        #[arg(long = "case")]
        case_id: String,
        /// The licence to issue (JSON file).
        file: PathBuf,
    },
    /// (Department side) report what happened to a case for electronic
    /// supervision (电子监察): accepted, refused, correction-asked,
    /// correction-done, special-started, special-ended, concluded,
    /// withdrawn, evaluated. Prints where the case stands against its
    /// item's time limits.
    Event(EventArgs),
    /// Import a department's case events in bulk (a year backfilled from
    /// its case system): a JSON Lines file, each line a `case-event@1`
    /// payload (PROTOCOL.md §5.8), cases in any order, each case's events
    /// in order. Each case is checked as `case event` checks each event; a
    /// refused case is skipped whole and listed with its code, the others
    /// go in; a case that already has events is refused
    /// (CASE_ALREADY_REPORTED). Audited as `case.import`, one entry per
    /// chunk of 5,000 cases.
    Import {
        /// The handling department (whose case system the events are from).
        #[arg(long)]
        dept: String,
        /// The events (JSON Lines).
        file: PathBuf,
    },
    /// A case under supervision: its events and where it stands now
    /// against its time limits (in working days).
    Standing {
        /// 办件编号.
        id: String,
        /// The handling department.
        #[arg(long)]
        dept: String,
    },
    /// Show a case with its licence-use records.
    Show {
        /// 办件编号.
        id: String,
        /// The handling department (needed when several use the number).
        #[arg(long)]
        dept: Option<String>,
    },
    /// List cases, newest first.
    List {
        /// Only this department's.
        #[arg(long)]
        dept: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// What `case event` reports.
#[derive(Debug, clap::Args)]
pub struct EventArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// 办件编号.
    #[arg(long = "case")]
    case_id: String,
    /// 事项编码: the department's item the case is handled under.
    #[arg(long)]
    item: String,
    /// How the application came in: online, window, mail or other.
    #[arg(long, default_value = "window")]
    channel: String,
    /// 零跑动: the applicant never came in person.
    #[arg(long)]
    zero_visit: bool,
    /// When it happened (RFC 3339; default now).
    #[arg(long)]
    at: Option<String>,
    /// The event as JSON, e.g. '{"event": "accepted"}',
    /// '{"event": "correction-asked", "reason": "缺身份证复印件"}',
    /// '{"event": "concluded", "result": "approved"}'.
    event: String,
}

fn print_item(i: &ServiceItem) {
    println!(
        "{}  {}  [{} {}]  by {}  v{}  {}",
        i.code,
        i.name,
        i.type_name(),
        i.item_type,
        i.department,
        i.version,
        i.status
    );
    println!(
        "  时限: legal {} working days, promised {}",
        i.legal_limit_days, i.promised_limit_days
    );
    for m in &i.materials {
        println!(
            "  material: {}{}{}",
            m.name,
            m.licence_type
                .as_ref()
                .map(|t| format!("  (licence {t})"))
                .unwrap_or_default(),
            if m.required { "" } else { "  optional" }
        );
    }
    if let Some(t) = &i.result_type {
        println!("  result issued as licence type {t}");
    }
}

pub async fn item(ctx: &Context, cmd: ItemCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    let items = match cmd {
        ItemCommand::Put { department, file } => {
            let draft: ItemDraft = serde_json::from_value(read_json(&file)?)
                .map_err(|e| Coded::new("ITEM_INVALID", format!("{}: {e}", file.display())))?;
            vec![hub.item_put(&department, draft).await?]
        }
        ItemCommand::Retire { department, code } => {
            vec![hub.item_retire(&department, &code).await?]
        }
        ItemCommand::Show { code } => vec![hub.item_show(&code).await?],
        ItemCommand::List { dept } => hub.item_list(dept.as_deref()).await?,
    };
    hub.close().await;
    if ctx.json {
        crate::output::print_json(&items)?;
    } else {
        for i in &items {
            print_item(i);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn case(ctx: &Context, cmd: CaseCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CaseCommand::Licences {
            client,
            case_id,
            item,
            holder,
            use_cause,
        } => {
            let query = CaseLicenceQuery {
                case_id,
                service_item: item,
                holder: holder_arg(&holder)?,
                use_cause,
            };
            let client = connect(&client).await?;
            let answer = client.case_licences(&query).await.map_err(refused)?;
            client.close().await;
            if ctx.json {
                crate::output::print_json(&answer.envelope)?;
            } else {
                print_case_licences(&answer.payload);
            }
        }
        CaseCommand::Pull {
            client,
            holder,
            use_cause,
            case_id,
            item,
            types,
            regions,
            wait_ms,
        } => {
            let case = (case_id, item, use_cause);
            let query = region_query(&holder, case, types, regions, wait_ms)?;
            let client = connect(&client).await?;
            let answer = client.region_licences(&query).await.map_err(refused)?;
            client.close().await;
            if ctx.json {
                crate::output::print_json(&answer.envelope)?;
            } else {
                print_region_licences(&answer.payload, "");
            }
        }
        CaseCommand::Result {
            client,
            case_id,
            file,
        } => {
            let licence = read_json(&file)?;
            let client = connect(&client).await?;
            let answer = client
                .case_result(&CaseResult { case_id, licence })
                .await
                .map_err(refused)?;
            client.close().await;
            if ctx.json {
                crate::output::print_json(&answer.envelope)?;
            } else {
                let p = &answer.payload;
                println!("case {} concluded; issued {}", p.case_id, p.identifier);
            }
        }
        CaseCommand::Event(args) => report_event(ctx, args).await?,
        CaseCommand::Import { dept, file } => crate::import::cases(ctx, &dept, &file).await?,
        CaseCommand::Standing { id, dept } => show_standing(ctx, &id, &dept).await?,
        CaseCommand::Show { id, dept } => show_case(ctx, &id, dept.as_deref()).await?,
        CaseCommand::List { dept, limit } => list_cases(ctx, dept.as_deref(), limit).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `case pull`'s query: a holder's licences for a case of an item, from
/// the named regions (default all) and licence types (default the item's).
fn region_query(
    holder: &str,
    (case_id, item, use_cause): (String, String, String),
    types: Vec<String>,
    regions: Vec<String>,
    wait_ms: u64,
) -> anyhow::Result<RegionLicenceQuery> {
    let named = |list: Vec<String>| (!list.is_empty()).then_some(list);
    Ok(RegionLicenceQuery {
        holder: holder_arg(holder)?,
        use_cause,
        case_id,
        service_item: item,
        licence_types: named(types),
        regions: named(regions),
        wait_ms: Some(wait_ms),
    })
}

/// `case show`: a case and the licence uses recorded against it.
async fn show_case(ctx: &Context, id: &str, dept: Option<&str>) -> anyhow::Result<()> {
    let hub = ctx.open().await?;
    let (case, uses) = hub.case_show(dept, id).await?;
    hub.close().await;
    if ctx.json {
        crate::output::print_json(&json!({"case": case, "uses": uses}))?;
    } else {
        println!(
            "case {}  item {}  by {}  holder {}:{}  {}{}",
            case.id,
            case.item,
            case.department,
            case.holder_code_type,
            case.holder_code,
            case.status,
            case.result_licence
                .as_ref()
                .map(|l| format!("  result {l}"))
                .unwrap_or_default()
        );
        println!("  申请事由: {}", case.use_cause);
        for u in uses {
            println!(
                "  use #{} {}  {}  → {}",
                u.id,
                tongban_seal::timefmt::format_rfc3339(u.at),
                u.query,
                if u.returned.is_empty() {
                    "nothing returned".to_owned()
                } else {
                    u.returned.join(", ")
                }
            );
        }
    }
    Ok(())
}

/// `case list`: the latest cases, of one department or all.
async fn list_cases(ctx: &Context, dept: Option<&str>, limit: usize) -> anyhow::Result<()> {
    let hub = ctx.open().await?;
    let cases = hub.case_list(dept, limit).await?;
    hub.close().await;
    if ctx.json {
        crate::output::print_json(&cases)?;
    } else {
        let mut table = crate::table::Table::new();
        for c in cases {
            table.row([
                c.id,
                c.item,
                c.department,
                format!("{}:{}", c.holder_code_type, c.holder_code),
                c.status,
            ]);
        }
        table.print();
    }
    Ok(())
}

/// One line per material of a `case-licences@1` answer.
pub fn print_case_licences(p: &CaseLicences) {
    println!(
        "  case {}  {} {}  {}",
        p.case_id,
        p.service_item,
        p.service_item_name,
        if p.complete {
            "complete: no paper needed for licences"
        } else {
            "incomplete"
        }
    );
    let mut table = crate::table::Table::new().indented(4);
    for m in &p.materials {
        let what = match m.status {
            MaterialStatus::Found => format!(
                "✓ {} (issued by {})",
                m.identifier.as_deref().unwrap_or_default(),
                m.issuer.as_deref().unwrap_or_default()
            ),
            MaterialStatus::NotALicence => "— the applicant provides it".to_owned(),
            other => format!(
                "✗ {}{}",
                other.as_str(),
                m.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        };
        table.row([m.name.clone(), what]);
    }
    table.print();
}

/// The licences of a `region-licences@1` answer, then what each region
/// answered.
pub(crate) fn print_region_licences(p: &RegionLicences, indent: &str) {
    let text = |v: &Option<String>| v.as_deref().unwrap_or("-").to_owned();
    for l in &p.licences {
        let verdict = if l.valid {
            "verified".to_owned()
        } else {
            format!("NOT VALID ({})", l.problems.join(", "))
        };
        println!(
            "{indent}{}  {}  {}  from {} {}  {}",
            text(&l.identifier),
            text(&l.name),
            text(&l.status),
            l.origin.region,
            l.origin.name,
            verdict
        );
    }
    for r in &p.regions {
        match r.outcome {
            Outcome::Answered => println!(
                "{indent}region {} {}: {} licence(s)",
                r.region,
                r.name,
                r.licences.unwrap_or_default()
            ),
            Outcome::Failed => println!(
                "{indent}region {} {}: {}: {}",
                r.region,
                r.name,
                text(&r.code),
                text(&r.message)
            ),
        }
    }
}

/// `--holder TYPE:CODE`.
fn holder_arg(holder: &str) -> anyhow::Result<Holder> {
    let (code_type, code) = holder.split_once(':').ok_or_else(|| {
        Coded::usage(
            "HOLDER_INVALID",
            "--holder is TYPE:CODE, e.g. 001:91440114MA5TB0A01K",
        )
    })?;
    Ok(Holder {
        code_type: code_type.to_owned(),
        code: code.to_owned(),
    })
}

/// `case event`: the event reported over QUIC, the case's standing printed.
async fn report_event(ctx: &Context, args: EventArgs) -> anyhow::Result<()> {
    let event: serde_json::Value = tongban_seal::json::from_slice_strict(args.event.as_bytes())
        .map_err(|e| Coded::usage(e.code(), format!("the event: {e}")))?;
    let at = args
        .at
        .unwrap_or_else(|| tongban_seal::timefmt::format_rfc3339(time::OffsetDateTime::now_utc()));
    let report = CaseEvent {
        case_id: args.case_id,
        service_item: args.item,
        channel: args.channel,
        zero_visit: args.zero_visit,
        at,
        event,
    };
    let client = connect(&args.client).await?;
    let answer = client.case_event(&report).await.map_err(refused)?;
    client.close().await;
    if ctx.json {
        return crate::output::print_json(&answer.envelope);
    }
    let p = &answer.payload;
    println!(
        "case {}: {}, {} of working time (promised {} days, legal {}): {}",
        p.case_id,
        p.phase,
        working_time(p.elapsed_minutes),
        p.promised_days,
        p.legal_days,
        p.standing
    );
    Ok(())
}

/// `case standing`: a case under supervision, from the store.
async fn show_standing(ctx: &Context, id: &str, dept: &str) -> anyhow::Result<()> {
    let hub = ctx.open().await?;
    let found = hub.case_supervision(dept, id).await?;
    hub.close().await;
    if ctx.json {
        return crate::output::print_json(&found);
    }
    let c = &found.case;
    println!(
        "case {}  item {}  by {}  {}  {}{}",
        c.case_id,
        c.item,
        c.department,
        c.phase,
        c.channel,
        if c.zero_visit { "  零跑动" } else { "" }
    );
    println!(
        "  {} of working time, promised {} days, legal {}: {:?}",
        working_time(found.now.elapsed_minutes),
        c.promised_days,
        c.legal_days,
        found.now.standing
    );
    for e in &found.events {
        println!(
            "  #{} {}  {}",
            e.seq,
            tongban_seal::timefmt::format_rfc3339(e.at),
            e.event
        );
    }
    Ok(())
}

/// Working time as days and hours (a day is 24 hours of working time).
fn working_time(minutes: i64) -> String {
    let hours = minutes / 60;
    format!("{}d {}h", hours / 24, hours % 24)
}
