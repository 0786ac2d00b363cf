//! `tongban access`: applications for conditionally shared resources.

use std::process::ExitCode;

use clap::Subcommand;
use tongban_store::AccessApplication;

use crate::Context;
use crate::output::Coded;

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Apply for a conditionally shared (有条件共享) resource with a stated purpose.
    Apply {
        /// The applying (consuming) department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// Catalogue resource id.
        resource: String,
        /// Stated purpose (申请事由).
        #[arg(long)]
        purpose: String,
        /// Start of the requested period (RFC 3339; default now).
        #[arg(long)]
        from: Option<String>,
        /// Length of the requested period in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// Approve a pending application (the resource's provider only).
    Approve {
        /// The providing department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// Application number.
        id: u64,
    },
    /// Reject a pending application (the resource's provider only).
    Reject {
        /// The providing department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// Application number.
        id: u64,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Withdraw an approval (the resource's provider only).
    Withdraw {
        /// The providing department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// Application number.
        id: u64,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// List applications, newest first.
    List {
        /// Only for this resource.
        #[arg(long)]
        resource: Option<String>,
        /// Only by this department.
        #[arg(long)]
        consumer: Option<String>,
    },
    /// May a department use a resource now? Names the rule either way.
    Check {
        /// The consuming department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// Catalogue resource id.
        resource: String,
    },
}

fn line(a: &AccessApplication) -> String {
    format!(
        "#{:<5} {:<10} {} → {}  {} … {}  “{}”{}",
        a.id,
        a.status,
        a.consumer,
        a.resource,
        tongban_seal::timefmt::format_rfc3339(a.valid_from),
        tongban_seal::timefmt::format_rfc3339(a.valid_until),
        a.purpose,
        a.reason
            .as_deref()
            .map(|r| format!("  ({r})"))
            .unwrap_or_default()
    )
}

fn show(ctx: &Context, a: &AccessApplication) -> anyhow::Result<()> {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(a)?);
    } else {
        println!("{}", line(a));
    }
    Ok(())
}

pub async fn run(ctx: &Context, cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        AccessCommand::Apply {
            department,
            resource,
            purpose,
            from,
            days,
        } => {
            let from = match from {
                Some(f) => tongban_seal::timefmt::parse_rfc3339(&f).map_err(|e| {
                    Coded::new("ACCESS_PERIOD_INVALID", format!("--from {f:?}: {e}"))
                })?,
                None => hub.now(),
            };
            let until = from + time::Duration::days(days);
            let a = hub
                .access_apply(&department, &resource, &purpose, from, until)
                .await?;
            show(ctx, &a)?;
        }
        AccessCommand::Approve { department, id } => {
            show(ctx, &hub.access_decide(&department, id, true, None).await?)?;
        }
        AccessCommand::Reject {
            department,
            id,
            reason,
        } => {
            show(
                ctx,
                &hub.access_decide(&department, id, false, Some(&reason))
                    .await?,
            )?;
        }
        AccessCommand::Withdraw {
            department,
            id,
            reason,
        } => {
            show(
                ctx,
                &hub.access_withdraw(&department, id, Some(&reason)).await?,
            )?;
        }
        AccessCommand::List { resource, consumer } => {
            let list = hub
                .access_list(resource.as_deref(), consumer.as_deref(), 1_000)
                .await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for a in &list {
                    println!("{}", line(a));
                }
            }
        }
        AccessCommand::Check {
            department,
            resource,
        } => {
            let basis = hub.access_check(&department, &resource, hub.now()).await?;
            let why = match basis {
                tongban_service::AccessBasis::Provider => "it provides the resource".to_owned(),
                tongban_service::AccessBasis::Unconditional => {
                    "the resource is shared unconditionally (无条件共享)".to_owned()
                }
                tongban_service::AccessBasis::Approved(id) => {
                    format!("approved application #{id} covers now")
                }
            };
            if ctx.json {
                println!("{}", serde_json::json!({"allowed": true, "basis": why}));
            } else {
                println!("allowed: {why}");
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}
