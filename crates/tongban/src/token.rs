//! `tongban token`: API tokens for the hub's HTTP side. A token carries a
//! role (region-admin, department-operator for one department, auditor,
//! verifier); it is printed once when made and kept only as a hash.

use std::process::ExitCode;

use clap::Subcommand;
use tongban_service::Role;
use tongban_store::TokenRow;

use crate::Context;
use crate::setup::parse_duration;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it once (it is not kept: store it where the
    /// caller will read it). Audited as `token.create`.
    Create {
        /// What it is for, in words (e.g. the calling system's name).
        #[arg(long)]
        name: String,
        /// region-admin, department-operator, auditor or verifier.
        #[arg(long)]
        role: String,
        /// The department a department-operator acts for (its code).
        #[arg(long)]
        dept: Option<String>,
        /// How long it is valid: 1m to 366d (e.g. 90d, 12h).
        #[arg(long, default_value = "90d", value_parser = parse_duration)]
        expires: time::Duration,
    },
    /// List tokens (revoked and expired ones too); never their secrets.
    List,
    /// Revoke a token: refused from now on. Audited as `token.revoke`.
    Revoke {
        /// Its id (`tok_…`).
        id: String,
    },
}

pub async fn run(ctx: &Context, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        TokenCommand::Create {
            name,
            role,
            dept,
            expires,
        } => {
            let role = Role::parse(&role)?;
            let made = hub
                .token_create(&name, role, dept.as_deref(), expires)
                .await?;
            if ctx.json {
                crate::output::print_json(&serde_json::json!({
                    "token": made.token,
                    "id": made.row.id,
                    "role": made.row.role,
                    "department": made.row.department,
                    "expiresAt": tongban_seal::timefmt::format_rfc3339(made.row.expires_at),
                }))?;
            } else {
                println!("{}", made.token);
                eprintln!(
                    "token {} ({}{}) valid until {}: shown once, keep it secret",
                    made.row.id,
                    made.row.role,
                    made.row
                        .department
                        .as_deref()
                        .map(|d| format!(" for {d}"))
                        .unwrap_or_default(),
                    tongban_seal::timefmt::format_rfc3339(made.row.expires_at)
                );
            }
        }
        TokenCommand::List => list(ctx, &hub.token_list().await?)?,
        TokenCommand::Revoke { id } => {
            let row = hub.token_revoke(&id).await?;
            if ctx.json {
                crate::output::print_json(&row)?;
            } else {
                println!("token {} ({}) revoked", row.id, row.name);
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Context, rows: &[TokenRow]) -> anyhow::Result<()> {
    if ctx.json {
        return crate::output::print_json(rows);
    }
    let mut table = crate::table::Table::new();
    table.row(["ID", "ROLE", "DEPARTMENT", "EXPIRES", "STATE", "NAME"]);
    for t in rows {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else {
            "issued"
        };
        table.row([
            t.id.clone(),
            t.role.clone(),
            t.department.clone().unwrap_or_else(|| "-".into()),
            tongban_seal::timefmt::format_rfc3339(t.expires_at),
            state.to_owned(),
            t.name.clone(),
        ]);
    }
    table.print();
    Ok(())
}
