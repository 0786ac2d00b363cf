//! `tongban calendar`: the working-day calendar time limits are counted
//! over — the national calendars shipped with this build, and the years an
//! administrator loads when the State Council publishes them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use tongban_service::CalendarEntry;

use crate::Context;
use crate::output::{Coded, print_json};

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Load a year (a JSON file: year, source, holidays [{name, from, to}],
    /// workdays [{date, name}]), replacing the year shipped or loaded
    /// before. Audited as `calendar.load`.
    Load {
        /// The year's document.
        file: PathBuf,
    },
    /// The years in force: shipped with this build or loaded, with their
    /// holidays and make-up working days.
    List,
    /// The deadline of a time limit: the last working day of `--days`
    /// working days from `--from` (that day not counted).
    Deadline {
        /// The day the period starts (YYYY-MM-DD), e.g. a case's acceptance.
        #[arg(long)]
        from: String,
        /// The limit in working days.
        #[arg(long)]
        days: u32,
    },
}

pub async fn run(ctx: &Context, cmd: CalendarCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        CalendarCommand::Load { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Coded::new("IO", format!("{}: {e}", file.display())))?;
            let year = hub.calendar_load(&text).await?;
            if ctx.json {
                print_json(&year)?;
            } else {
                println!(
                    "loaded {}: {} holidays, {} make-up working days ({})",
                    year.year,
                    year.holidays.len(),
                    year.workdays.len(),
                    year.source
                );
            }
        }
        CalendarCommand::List => list(ctx, &hub.calendar_years().await?)?,
        CalendarCommand::Deadline { from, days } => {
            let start = tongban_supervision::calendar::parse_day(&from)
                .map_err(|e| Coded::usage("DATE_INVALID", format!("--from {e}")))?;
            let last = hub
                .calendar()
                .await?
                .add_working_days(start, days)
                .map_err(tongban_service::Error::from)?;
            if ctx.json {
                print_json(&json!({"from": from, "days": days, "lastDay": last.to_string()}))?;
            } else {
                println!("{last} ({})", last.weekday());
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Context, years: &[CalendarEntry]) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(years);
    }
    for y in years {
        println!("{}  {}  {}", y.year, y.origin, y.calendar.source);
        for h in &y.calendar.holidays {
            println!("  off     {} .. {}  {}", h.from, h.to, h.name);
        }
        for w in &y.calendar.workdays {
            println!("  worked  {} ({})  {}", w.date, w.date.weekday(), w.name);
        }
    }
    Ok(())
}
