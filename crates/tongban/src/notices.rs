//! `tongban supervise office|thresholds|sweep|pushes|notice|notices|answer`:
//! what supervision pushes to departments on `hub.supervision` — the
//! supervising office, the warning threshold, a look for thresholds and
//! deadlines passed (the running hub looks by itself), what was pushed,
//! and supervision notices (督办) with their answers.

use std::process::ExitCode;

use clap::Subcommand;
use tongban_service::alerts::NewNotice;
use tongban_supervision::Thresholds;

use crate::Context;
use crate::output::{Coded, print_json};
use crate::setup::day;

#[derive(Debug, Subcommand)]
pub enum NoticeCommand {
    /// Show or name the supervising office: the department that receives
    /// every warning, card and notice. Audited as `supervision.office`.
    Office {
        /// The department's code (absent: show the one named).
        dept: Option<String>,
    },
    /// Show or set the warning threshold: a case is warned (yellow) from
    /// this share of its promised limit; overdue (red) past it. Audited as
    /// `supervision.thresholds`.
    Thresholds {
        /// Percent of the promised limit, 1–99 (absent: show it).
        #[arg(long)]
        warn_percent: Option<u32>,
    },
    /// Look now for thresholds and deadlines passed and queue their pushes
    /// (a running hub does this at its start and every
    /// `--supervision-interval`, and sends what is queued).
    Sweep,
    /// What supervision pushed (or queued), newest first.
    Pushes {
        /// Only those to this department.
        #[arg(long)]
        dept: Option<String>,
        /// First day (YYYY-MM-DD; default: a year ago).
        #[arg(long)]
        from: Option<String>,
        /// Day after the last (YYYY-MM-DD; default: tomorrow).
        #[arg(long)]
        to: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Issue a supervision notice (督办) to a unit about one of its cases or
    /// a work order dispatched to it; pushed to the unit and the office.
    /// Audited as `notice.issue`.
    Notice {
        /// The supervising office issuing it (absent: the administrator).
        #[arg(long = "as")]
        office: Option<String>,
        /// The unit that must answer.
        #[arg(long)]
        unit: String,
        /// The unit's case (办件编号).
        #[arg(long, conflicts_with = "order", required_unless_present = "order")]
        case: Option<String>,
        /// The work order (工单编号).
        #[arg(long)]
        order: Option<String>,
        /// What the office asks.
        #[arg(long)]
        text: String,
        /// Working days to answer (1–30).
        #[arg(long, default_value_t = 3)]
        days: u32,
    },
    /// List notices, newest first.
    Notices {
        /// Only those to this unit.
        #[arg(long)]
        unit: Option<String>,
        /// Only those not answered.
        #[arg(long)]
        open: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// The unit answers a notice to it (once). Audited as `notice.answer`;
    /// a unit's system answers over the exchange (`hub.supervision.answer`).
    Answer {
        /// The unit answering.
        #[arg(long = "as")]
        unit: String,
        /// The notice's id.
        id: String,
        /// The answer.
        answer: String,
    },
}

pub async fn run(ctx: &Context, cmd: NoticeCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    let out = match cmd {
        NoticeCommand::Office { dept: Some(d) } => {
            hub.set_supervising_office(&d).await?;
            serde_json::json!({"office": d})
        }
        NoticeCommand::Office { dept: None } => {
            serde_json::json!({"office": hub.supervising_office().await?})
        }
        NoticeCommand::Thresholds { warn_percent } => {
            let t = match warn_percent {
                Some(warn_percent) => {
                    hub.set_supervision_thresholds(Thresholds { warn_percent })
                        .await?
                }
                None => hub.supervision_thresholds().await?,
            };
            serde_json::to_value(t)?
        }
        NoticeCommand::Sweep => serde_json::to_value(hub.supervision_sweep().await?)?,
        NoticeCommand::Pushes {
            dept,
            from,
            to,
            limit,
        } => {
            let now = hub.now();
            let from = match from {
                Some(f) => day(&f, "from")?,
                None => now - time::Duration::days(366),
            };
            let to = match to {
                Some(t) => day(&t, "to")?,
                None => now + time::Duration::days(1),
            };
            let rows = hub
                .supervision_pushes(dept.as_deref(), (from, to), (limit, 0))
                .await?;
            pushes_json(&rows)
        }
        NoticeCommand::Notice {
            office,
            unit,
            case,
            order,
            text,
            days,
        } => {
            let (subject_kind, subject) = match (case, order) {
                (Some(c), _) => ("case", c),
                (None, Some(o)) => ("order", o),
                (None, None) => {
                    return Err(Coded::usage("NOTICE_INVALID", "--case or --order").into());
                }
            };
            let new = NewNotice {
                unit,
                subject_kind: subject_kind.to_owned(),
                subject,
                text,
                answer_days: days,
            };
            serde_json::to_value(hub.notice_issue(office.as_deref(), new).await?)?
        }
        NoticeCommand::Notices { unit, open, limit } => {
            serde_json::to_value(hub.notices(unit.as_deref(), open, (limit, 0)).await?)?
        }
        NoticeCommand::Answer { unit, id, answer } => {
            serde_json::to_value(hub.notice_answer(&unit, &id, &answer, true).await?)?
        }
    };
    hub.close().await;
    if ctx.json {
        print_json(&out)?;
    } else {
        print_text(&out);
    }
    Ok(ExitCode::SUCCESS)
}

/// The pushes with their payloads as JSON (not as text).
fn pushes_json(rows: &[tongban_store::OutboxRow]) -> serde_json::Value {
    rows.iter()
        .map(|r| {
            let payload: serde_json::Value =
                serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null);
            serde_json::json!({
                "id": r.id, "schema": r.schema, "audience": r.audience,
                "createdAt": tongban_seal::timefmt::format_rfc3339(r.created_at),
                "sent": r.sent_seq.is_some(), "payload": payload,
            })
        })
        .collect()
}

/// One line per member (objects) or per item (lists).
fn print_text(v: &serde_json::Value) {
    match v {
        serde_json::Value::Array(items) if items.is_empty() => println!("(none)"),
        serde_json::Value::Array(items) => {
            for item in items {
                println!("{item}");
            }
        }
        serde_json::Value::Object(members) => {
            for (k, v) in members {
                match v {
                    serde_json::Value::String(s) => println!("{k:<14} {s}"),
                    serde_json::Value::Null => println!("{k:<14} -"),
                    other => println!("{k:<14} {other}"),
                }
            }
        }
        other => println!("{other}"),
    }
}
