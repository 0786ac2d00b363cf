//! `tongban access`: applications for conditionally shared resources.

use std::process::ExitCode;

use clap::Subcommand;
use tongban_service::Service;
use tongban_store::AccessApplication;

use crate::Context;
use crate::output::{Coded, Exit};
use crate::table::Table;

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
    /// May a department use a resource now? Names the rule either way;
    /// exits 3 when it may not.
    Check {
        /// The consuming department.
        #[arg(long = "as", value_name = "DEPT")]
        department: String,
        /// Catalogue resource id.
        resource: String,
    },
}

/// The cells of one application in a table.
fn cells(a: &AccessApplication) -> [String; 5] {
    [
        format!("#{}", a.id),
        a.status.clone(),
        format!("{} → {}", a.consumer, a.resource),
        format!(
            "{} … {}",
            tongban_seal::timefmt::format_rfc3339(a.valid_from),
            tongban_seal::timefmt::format_rfc3339(a.valid_until)
        ),
        format!(
            "“{}”{}",
            a.purpose,
            a.reason
                .as_deref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default()
        ),
    ]
}

fn print_table(list: &[AccessApplication]) {
    let mut table = Table::new();
    for a in list {
        table.row(cells(a));
    }
    table.print();
}

/// An application the command made or changed, printed: done.
fn show(ctx: &Context, a: &AccessApplication) -> anyhow::Result<ExitCode> {
    if ctx.json {
        crate::output::print_json(a)?;
    } else {
        print_table(std::slice::from_ref(a));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(ctx: &Context, cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    let code = match cmd {
        AccessCommand::Apply {
            department,
            resource,
            purpose,
            from,
            days,
        } => {
            let period = (from, days);
            let a = apply(&hub, &department, &resource, &purpose, period).await?;
            show(ctx, &a)?
        }
        AccessCommand::Approve { department, id } => {
            show(ctx, &hub.access_decide(&department, id, true, None).await?)?
        }
        AccessCommand::Reject {
            department,
            id,
            reason,
        } => {
            let decided = hub.access_decide(&department, id, false, Some(&reason));
            show(ctx, &decided.await?)?
        }
        AccessCommand::Withdraw {
            department,
            id,
            reason,
        } => {
            let withdrawn = hub.access_withdraw(&department, id, Some(&reason));
            show(ctx, &withdrawn.await?)?
        }
        AccessCommand::List { resource, consumer } => {
            let list = hub
                .access_list(resource.as_deref(), consumer.as_deref(), 1_000)
                .await?;
            if ctx.json {
                crate::output::print_json(&list)?;
            } else {
                print_table(&list);
            }
            ExitCode::SUCCESS
        }
        AccessCommand::Check {
            department,
            resource,
        } => check(ctx, &hub, &department, &resource).await?,
    };
    hub.close().await;
    Ok(code)
}

/// `access apply`: an application for `days` days from `--from` (default now).
async fn apply(
    hub: &Service,
    department: &str,
    resource: &str,
    purpose: &str,
    (from, days): (Option<String>, i64),
) -> anyhow::Result<AccessApplication> {
    let from = match from {
        Some(f) => tongban_seal::timefmt::parse_rfc3339(&f)
            .map_err(|e| Coded::usage("ACCESS_PERIOD_INVALID", format!("--from {f:?}: {e}")))?,
        None => hub.now(),
    };
    let until = from + time::Duration::days(days);
    Ok(hub
        .access_apply(department, resource, purpose, from, until)
        .await?)
}

/// `access check`: whether the department may use the resource now, and
/// on what basis; exits 3 when it may not.
async fn check(
    ctx: &Context,
    hub: &Service,
    department: &str,
    resource: &str,
) -> anyhow::Result<ExitCode> {
    let basis = match hub.access_check(department, resource, hub.now()).await {
        Ok(basis) => basis,
        // A "no" exits 3, a resource or department that does not exist 1.
        Err(e)
            if e.rejection()
                .is_some_and(tongban_service::Code::is_access_denial) =>
        {
            if ctx.json {
                crate::output::print_json(&serde_json::json!({
                    "allowed": false, "code": e.code(), "message": e.to_string(),
                }))?;
            } else {
                println!("NOT allowed: [{}] {e}", e.code());
            }
            return Ok(Exit::NotValid.into());
        }
        Err(e) => return Err(e.into()),
    };
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
        crate::output::print_json(&serde_json::json!({"allowed": true, "basis": why}))?;
    } else {
        println!("allowed: {why}");
    }
    Ok(ExitCode::SUCCESS)
}
