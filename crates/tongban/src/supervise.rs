//! `tongban supervise`: electronic supervision (电子监察) from the store —
//! the report of a period's cases per department and item type (按时办结率,
//! elapsed against promised and legal limits, 评价率, 满意度, online and
//! 零跑动 shares), on screen, as JSON, CSV or XLSX.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use time::{Date, OffsetDateTime, Time};
use tongban_service::{ReportLine, SupervisionReport};
use tongban_supervision::calendar::CHINA;

use crate::Context;
use crate::output::{Coded, print_json};

#[derive(Debug, Subcommand)]
pub enum SuperviseCommand {
    /// The report of the cases opened in a period (China time, `--to`
    /// excluded): per department and item type, per department, in total.
    Report {
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Day after the last (YYYY-MM-DD).
        #[arg(long)]
        to: String,
        /// Only this department's cases.
        #[arg(long)]
        dept: Option<String>,
        /// Also write the lines as CSV (UTF-8 with a byte-order mark, for
        /// spreadsheets).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Also write the lines as an Excel workbook (.xlsx).
        #[arg(long)]
        xlsx: Option<PathBuf>,
    },
}

fn day(text: &str, what: &str) -> anyhow::Result<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text, format).map_err(|e| {
        Coded::usage(
            "DATE_INVALID",
            format!("--{what} {text:?} is not YYYY-MM-DD: {e}"),
        )
    })?;
    Ok(date.with_time(Time::MIDNIGHT).assume_offset(CHINA))
}

pub async fn run(ctx: &Context, cmd: SuperviseCommand) -> anyhow::Result<ExitCode> {
    let SuperviseCommand::Report {
        from,
        to,
        dept,
        csv,
        xlsx,
    } = cmd;
    let (from, to) = (day(&from, "from")?, day(&to, "to")?);
    let hub = ctx.open().await?;
    let report = hub.supervision_report(dept.as_deref(), from, to).await?;
    hub.close().await;
    if let Some(path) = &csv {
        write_csv(path, &report)?;
    }
    if let Some(path) = &xlsx {
        write_xlsx(path, &report)?;
    }
    if ctx.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns of a report line: header and cell.
const COLUMNS: &[&str] = &[
    "部门",
    "办件类型",
    "办件数",
    "办结",
    "按时办结",
    "按时办结率",
    "平均用时(工作日)",
    "平均承诺时限",
    "平均法定时限",
    "时限压缩率",
    "不予受理",
    "退回撤回",
    "在办",
    "评价率",
    "满意度",
    "网上办理率",
    "零跑动率",
];

fn type_name(t: &str) -> &str {
    match t {
        "immediate" => "即办件",
        "promised" => "承诺件",
        "joint" => "联办件",
        "referred" => "上报件",
        "*" => "合计",
        other => other,
    }
}

fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn days(d: Option<f64>) -> String {
    d.map(|d| format!("{d:.2}")).unwrap_or_else(|| "-".into())
}

fn cells(l: &ReportLine) -> Vec<String> {
    let c = &l.counts;
    vec![
        if c.department == "*" {
            "全部".into()
        } else {
            c.department.clone()
        },
        type_name(&c.item_type).to_owned(),
        c.cases.to_string(),
        c.concluded.to_string(),
        c.concluded_in_time.to_string(),
        percent(l.on_time_rate),
        days(l.average_elapsed_days),
        days(l.average_promised_days),
        days(l.average_legal_days),
        percent(l.compression_rate),
        c.refused.to_string(),
        c.withdrawn.to_string(),
        c.open.to_string(),
        percent(l.evaluation_rate),
        percent(l.satisfaction_rate),
        percent(l.online_rate),
        percent(l.zero_visit_rate),
    ]
}

/// Every line: per department and type, each department's total after its
/// lines, then the total.
fn all_lines(report: &SupervisionReport) -> Vec<&ReportLine> {
    let mut out = Vec::new();
    for d in &report.departments {
        out.extend(
            report
                .lines
                .iter()
                .filter(|l| l.counts.department == d.counts.department),
        );
        out.push(d);
    }
    out.push(&report.total);
    out
}

fn print_report(report: &SupervisionReport) {
    println!(
        "cases opened {} to {}",
        tongban_seal::timefmt::format_rfc3339(report.from),
        tongban_seal::timefmt::format_rfc3339(report.to)
    );
    let mut table = crate::table::Table::new()
        .right_aligned(&[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    table.row(COLUMNS.iter().copied());
    for l in all_lines(report) {
        table.row(cells(l));
    }
    table.print();
}

fn write_csv(path: &Path, report: &SupervisionReport) -> anyhow::Result<()> {
    let io = |e: std::io::Error| Coded::new("IO", format!("{}: {e}", path.display()));
    let mut file = std::fs::File::create(path).map_err(io)?;
    // A byte-order mark, so that spreadsheet programs read UTF-8.
    std::io::Write::write_all(&mut file, "\u{feff}".as_bytes()).map_err(io)?;
    let mut out = csv::Writer::from_writer(file);
    let csv_err = |e: csv::Error| Coded::new("IO", format!("{}: {e}", path.display()));
    out.write_record(COLUMNS).map_err(csv_err)?;
    for l in all_lines(report) {
        out.write_record(cells(l)).map_err(csv_err)?;
    }
    out.flush().map_err(io)?;
    Ok(())
}

fn write_xlsx(path: &Path, report: &SupervisionReport) -> anyhow::Result<()> {
    let xlsx_err =
        |e: rust_xlsxwriter::XlsxError| Coded::new("IO", format!("{}: {e}", path.display()));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("电子监察").map_err(xlsx_err)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, header) in COLUMNS.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet
            .write_string_with_format(0, col, *header, &bold)
            .map_err(xlsx_err)?;
    }
    for (row, l) in all_lines(report).into_iter().enumerate() {
        let row = u32::try_from(row + 1).unwrap_or(u32::MAX);
        for (col, cell) in cells(l).into_iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            // Counts as numbers, so that the sheet can sum them.
            match cell.parse::<f64>() {
                Ok(n) if col >= 2 => sheet.write_number(row, col, n).map_err(xlsx_err)?,
                _ => sheet.write_string(row, col, cell).map_err(xlsx_err)?,
            };
        }
    }
    book.save(path).map_err(xlsx_err)?;
    Ok(())
}
