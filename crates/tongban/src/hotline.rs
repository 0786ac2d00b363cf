//! `tongban hotline`: 12345 work orders (工单) on the store — the office
//! named, routing rules set, orders created (dispatched by the rules or to
//! the unit named), steps taken by the office or a unit (`--as`), shown
//! (the citizen's contact only with `--contact`, audited), listed,
//! imported in bulk (`import`) — and, on the department side, a step sent
//! over the exchange as a signed request (`send`).

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use tongban_proto::services::OrderStep;
use tongban_service::{NewOrder, NewRoute, Service};
use tongban_supervision::hotline::{Category, Step};

use crate::Context;
use crate::exchange::{ClientArgs, connect, refused};
use crate::output::{Coded, print_json};

#[derive(Debug, Subcommand)]
pub enum HotlineCommand {
    /// Name the department that is the hub's 12345 hotline office.
    /// Audited as `hotline.office`.
    Office {
        /// The department's code.
        dept: String,
    },
    /// The office takes a call as a work order. Audited as `order.create`
    /// (without the contact).
    Create {
        /// The hotline office (its code).
        #[arg(long = "as")]
        office: String,
        /// 工单编号.
        #[arg(long)]
        id: String,
        /// consultation, suggestion, appeal, consumer-complaint,
        /// economic-report or administrative-complaint.
        #[arg(long)]
        category: String,
        /// What the citizen said.
        #[arg(long)]
        content: String,
        /// Where (a region code or a place).
        #[arg(long)]
        area: Option<String>,
        /// The citizen's contact (personal data: shown only to the office
        /// and the handling unit).
        #[arg(long)]
        contact: String,
        /// Dispatch it to this member unit at once, overriding the routing
        /// rules (default: the most specific rule's unit; with no rule the
        /// order stays new).
        #[arg(long)]
        unit: Option<String>,
    },
    /// Routing rules (派单规则): which member unit an order of a category
    /// from an area is dispatched to when it is created without a unit.
    #[command(subcommand)]
    Route(RouteCommand),
    /// (Department side) take a step on an order over the exchange, as the
    /// department of --credentials (the hotline office or a member unit),
    /// in a request the hub checks and answers with where the order stands.
    Send(SendArgs),
    /// Take a step on an order, as the office or a unit: '{"step":
    /// "dispatched", "unit": CODE}', '{"step": "signed"}', '{"step":
    /// "returned", "reason"}', '{"step": "extension-asked", "days",
    /// "reason"}', '{"step": "extension-decided", "granted"}', '{"step":
    /// "replied", "content"}', '{"step": "visited", "satisfied"}',
    /// '{"step": "reopened", "reason"}', '{"step": "closed"}'. Audited as
    /// `order.step`.
    Step {
        /// Who takes it (the office's or the unit's code).
        #[arg(long = "as")]
        dept: String,
        /// 工单编号.
        id: String,
        /// The step as JSON.
        step: String,
        /// When (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Show an order with its steps and cards, to the office or a unit it
    /// was dispatched to.
    Show {
        /// Who asks.
        #[arg(long = "as")]
        dept: String,
        /// 工单编号.
        id: String,
        /// Also show the citizen's contact (the office and the handling
        /// unit only; audited as `order.contact`).
        #[arg(long)]
        contact: bool,
    },
    /// Import the office's work orders with their steps in bulk: a JSON
    /// Lines file, each line one order: {"id", "category", "content",
    /// "area"?, "contact", "createdAt" (RFC 3339), "steps": [{"by":
    /// "office" or the unit's code, "at", "step": {…as for `step`}}]}.
    /// Each order is checked as `create` and `step` check it; a refused
    /// order is skipped whole and listed with its code (ORDER_EXISTS for
    /// one already stored). Audited as `order.import`, one entry per chunk
    /// of 2,000 orders.
    Import {
        /// The orders (JSON Lines).
        file: std::path::PathBuf,
    },
    /// List orders, newest first (never their contacts).
    List {
        /// Only those dispatched to this unit.
        #[arg(long)]
        unit: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// `tongban hotline route`.
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Set the rule for a category and an area (replacing its unit if it
    /// exists). Audited as `hotline.route`.
    Add {
        #[command(flatten)]
        rule: RuleArgs,
        /// The member unit orders go to.
        #[arg(long)]
        unit: String,
    },
    /// Remove the rule for a category and an area. Audited as
    /// `hotline.route`.
    Remove {
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// List the rules.
    List,
}

/// Which rule: its category and area.
#[derive(Debug, clap::Args)]
pub struct RuleArgs {
    /// The category (consultation, suggestion, appeal, consumer-complaint,
    /// economic-report, administrative-complaint); default: every category.
    #[arg(long)]
    category: Option<String>,
    /// The start of the areas it covers (e.g. 4401, 440114, or a place's
    /// name); default: every area.
    #[arg(long)]
    area: Option<String>,
}

/// What `hotline send` sends.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// 工单编号.
    id: String,
    /// The step as JSON (as for `hotline step`).
    step: String,
    /// When (RFC 3339; default now).
    #[arg(long)]
    at: Option<String>,
    /// Also ask for the citizen's contact (the office and the handling
    /// unit only; audited as `order.contact`).
    #[arg(long)]
    contact: bool,
}

pub async fn run(ctx: &Context, cmd: HotlineCommand) -> anyhow::Result<ExitCode> {
    if let HotlineCommand::Import { file } = &cmd {
        crate::import::orders(ctx, file).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let HotlineCommand::Send(args) = cmd {
        send(ctx, args).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let hub = ctx.open().await?;
    match cmd {
        HotlineCommand::Office { dept } => {
            hub.set_hotline_office(&dept).await?;
            if ctx.json {
                print_json(&json!({"office": dept}))?;
            } else {
                println!("{dept} is the hotline office");
            }
        }
        HotlineCommand::Create {
            office,
            id,
            category,
            content,
            area,
            contact,
            unit,
        } => {
            let category = category_arg(&category)?;
            let new = NewOrder {
                id,
                category,
                content,
                area,
                contact,
                unit,
            };
            create(ctx, &hub, &office, new).await?
        }
        HotlineCommand::Route(cmd) => route(ctx, &hub, cmd).await?,
        HotlineCommand::Send(_) => {}
        HotlineCommand::Step { dept, id, step, at } => {
            let step: Step = tongban_seal::json::from_slice_strict(step.as_bytes())
                .map_err(|e| Coded::usage(e.code(), format!("the step: {e}")))
                .and_then(|v| {
                    serde_json::from_value(v)
                        .map_err(|e| Coded::usage("ORDER_STEP_INVALID", format!("the step: {e}")))
                })?;
            let at = match at {
                Some(t) => tongban_seal::timefmt::parse_rfc3339(&t)
                    .map_err(|e| Coded::usage("TIME_INVALID", format!("--at {t}: {e}")))?,
                None => hub.now(),
            };
            let row = hub.order_step(&dept, &id, step, at).await?;
            if ctx.json {
                print_json(&row)?;
            } else {
                println!(
                    "work order {}: {}{}",
                    row.id,
                    row.phase,
                    cards(row.yellow_cards, row.red_cards)
                );
            }
        }
        HotlineCommand::Show { dept, id, contact } => show(ctx, &hub, &dept, &id, contact).await?,
        HotlineCommand::List { unit, limit } => list(ctx, &hub, unit.as_deref(), limit).await?,
        HotlineCommand::Import { .. } => {}
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// A category by its name.
fn category_arg(name: &str) -> anyhow::Result<Category> {
    Ok(serde_json::from_value(json!(name)).map_err(|_| {
        Coded::usage(
            "ORDER_STEP_INVALID",
            "--category is consultation, suggestion, appeal, consumer-complaint, economic-report or administrative-complaint",
        )
    })?)
}

/// `hotline create`: the call taken as an order.
async fn create(ctx: &Context, hub: &Service, office: &str, new: NewOrder) -> anyhow::Result<()> {
    let category = new.category;
    let row = hub.order_create(office, new).await?;
    if ctx.json {
        return print_json(&row);
    }
    match &row.unit {
        Some(unit) => println!(
            "work order {} ({}) dispatched to {unit}",
            row.id,
            category.name()
        ),
        None => println!(
            "work order {} ({}): no rule covers it, to dispatch",
            row.id,
            category.name()
        ),
    }
    Ok(())
}

/// `hotline route`: the routing rules set, removed, listed.
async fn route(ctx: &Context, hub: &Service, cmd: RouteCommand) -> anyhow::Result<()> {
    let category = |r: &RuleArgs| r.category.as_deref().map(category_arg).transpose();
    match cmd {
        RouteCommand::Add { rule, unit } => {
            let new = NewRoute {
                category: category(&rule)?,
                area: rule.area,
                unit,
            };
            let row = hub.route_add(new).await?;
            if ctx.json {
                return print_json(&row);
            }
            println!("{} {:?} → {}", row.category, row.area, row.unit);
        }
        RouteCommand::Remove { rule } => {
            hub.route_remove(category(&rule)?, rule.area.as_deref())
                .await?;
            if ctx.json {
                return print_json(
                    &json!({"removed": {"category": rule.category, "area": rule.area}}),
                );
            }
            println!("rule removed");
        }
        RouteCommand::List => {
            let rows = hub.routes().await?;
            if ctx.json {
                return print_json(&rows);
            }
            let mut table = crate::table::Table::new();
            for r in rows {
                let area = if r.area.is_empty() {
                    "*".to_owned()
                } else {
                    r.area
                };
                table.row([r.category, area, r.unit]);
            }
            table.print();
        }
    }
    Ok(())
}

/// `hotline send`: a step over the exchange, where the order stands printed.
async fn send(ctx: &Context, args: SendArgs) -> anyhow::Result<()> {
    let step: serde_json::Value = tongban_seal::json::from_slice_strict(args.step.as_bytes())
        .map_err(|e| Coded::usage(e.code(), format!("the step: {e}")))?;
    let at = args
        .at
        .unwrap_or_else(|| tongban_seal::timefmt::format_rfc3339(time::OffsetDateTime::now_utc()));
    let request = OrderStep {
        order_id: args.id,
        at,
        step,
        with_contact: args.contact,
    };
    let client = connect(&args.client).await?;
    let answer = client.order_step(&request).await.map_err(refused);
    client.close().await;
    let answer = answer?;
    if ctx.json {
        return print_json(&answer.envelope);
    }
    let o = &answer.payload;
    println!(
        "work order {}: {}, unit {}{}",
        o.order_id,
        o.phase,
        o.unit.as_deref().unwrap_or("-"),
        cards(o.yellow_cards, o.red_cards)
    );
    if let Some(c) = &o.contact {
        println!("  contact: {c}");
    }
    Ok(())
}

/// `hotline show`: an order with its steps, and the contact when asked.
async fn show(
    ctx: &Context,
    hub: &Service,
    dept: &str,
    id: &str,
    contact: bool,
) -> anyhow::Result<()> {
    let (order, steps) = hub.order_show(dept, id).await?;
    let contact = if contact {
        Some(hub.order_contact(dept, id).await?)
    } else {
        None
    };
    if ctx.json {
        return print_json(&json!({"order": order, "steps": steps, "contact": contact}));
    }
    println!(
        "work order {}  {}  {}  unit {}{}",
        order.id,
        order.category,
        order.phase,
        order.unit.as_deref().unwrap_or("-"),
        cards(order.yellow_cards, order.red_cards)
    );
    println!("  {}", order.content);
    if let Some(c) = contact {
        println!("  contact: {c}");
    }
    for s in steps {
        println!(
            "  #{} {}  {}  {}",
            s.seq,
            tongban_seal::timefmt::format_rfc3339(s.at),
            s.actor,
            s.step
        );
    }
    Ok(())
}

/// `hotline list`: orders, newest first, without contacts.
async fn list(
    ctx: &Context,
    hub: &Service,
    unit: Option<&str>,
    limit: usize,
) -> anyhow::Result<()> {
    let from = time::OffsetDateTime::UNIX_EPOCH;
    let to = hub.now() + time::Duration::days(1);
    let rows = hub.order_list(unit, from, to, limit).await?;
    if ctx.json {
        return print_json(&rows);
    }
    let mut table = crate::table::Table::new();
    for o in rows {
        table.row([
            o.id.clone(),
            o.category.clone(),
            o.phase.clone(),
            o.unit.clone().unwrap_or_else(|| "-".into()),
            cards(o.yellow_cards, o.red_cards),
        ]);
    }
    table.print();
    Ok(())
}

fn cards(yellow: u32, red: u32) -> String {
    match (yellow, red) {
        (0, 0) => String::new(),
        _ => format!("  黄牌 {yellow} 红牌 {red}"),
    }
}
