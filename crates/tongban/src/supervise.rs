//! `tongban supervise`: electronic supervision (电子监察) from the store —
//! the report of a period's cases per department and item type (按时办结率,
//! elapsed against promised and legal limits, 评价率, 满意度, online and
//! 零跑动 shares), and of its 12345 work orders per member unit and
//! category (按时签收率, 按时办结率, 满意率, cards), on screen, as JSON, CSV
//! or XLSX. What supervision pushes, and its notices, are `notices`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use time::OffsetDateTime;
use tongban_service::{OrderLine, OrderReport, ReportLine, SupervisionReport};

use crate::Context;
use crate::output::{Coded, print_json};
use crate::setup::day;

#[derive(Debug, Subcommand)]
pub enum SuperviseCommand {
    #[command(flatten)]
    Pushes(crate::notices::NoticeCommand),
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
    /// The 12345 report of the work orders created in a period, per member
    /// unit and category, per unit and in total: 按时签收率, 按时办结率,
    /// 满意率, yellow and red cards.
    Orders {
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Day after the last (YYYY-MM-DD).
        #[arg(long)]
        to: String,
        /// Also write the lines as CSV.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Also write the lines as an Excel workbook (.xlsx).
        #[arg(long)]
        xlsx: Option<PathBuf>,
    },
}

pub async fn run(ctx: &Context, cmd: SuperviseCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SuperviseCommand::Pushes(cmd) => return crate::notices::run(ctx, cmd).await,
        SuperviseCommand::Report {
            from,
            to,
            dept,
            csv,
            xlsx,
        } => {
            let (from, to) = (day(&from, "from")?, day(&to, "to")?);
            let hub = ctx.open().await?;
            let report = hub.supervision_report(dept.as_deref(), from, to).await?;
            hub.close().await;
            let rows: Vec<Vec<String>> = all_lines(&report).into_iter().map(cells).collect();
            write_files(csv.as_deref(), xlsx.as_deref(), "电子监察", COLUMNS, &rows)?;
            if ctx.json {
                print_json(&report)?;
            } else {
                print_rows((report.from, report.to), COLUMNS, &rows);
            }
        }
        SuperviseCommand::Orders {
            from,
            to,
            csv,
            xlsx,
        } => {
            let (from, to) = (day(&from, "from")?, day(&to, "to")?);
            let hub = ctx.open().await?;
            let report = hub.order_report(from, to).await?;
            hub.close().await;
            let rows: Vec<Vec<String>> =
                order_lines(&report).into_iter().map(order_cells).collect();
            write_files(
                csv.as_deref(),
                xlsx.as_deref(),
                "12345工单",
                ORDER_COLUMNS,
                &rows,
            )?;
            if ctx.json {
                print_json(&report)?;
            } else {
                print_rows((report.from, report.to), ORDER_COLUMNS, &rows);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_files(
    csv: Option<&Path>,
    xlsx: Option<&Path>,
    sheet: &str,
    columns: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    if let Some(path) = csv {
        write_csv(path, columns, rows)?;
    }
    if let Some(path) = xlsx {
        write_xlsx(path, sheet, columns, rows)?;
    }
    Ok(())
}

/// The columns of a 12345 report line.
const ORDER_COLUMNS: &[&str] = &[
    "成员单位",
    "类别",
    "工单数",
    "签收",
    "按时签收",
    "按时签收率",
    "回复",
    "按时办结",
    "按时办结率",
    "回访",
    "满意",
    "满意率",
    "办结",
    "黄牌",
    "红牌",
];

fn category_name(c: &str) -> String {
    if c == "*" {
        return "合计".into();
    }
    serde_json::from_value::<tongban_supervision::hotline::Category>(serde_json::json!(c))
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|_| c.to_owned())
}

fn order_cells(l: &OrderLine) -> Vec<String> {
    let c = &l.counts;
    vec![
        if c.unit == "*" {
            "全部".into()
        } else {
            c.unit.clone()
        },
        category_name(&c.category),
        c.orders.to_string(),
        c.signed.to_string(),
        c.signed_on_time.to_string(),
        percent(l.sign_on_time_rate),
        c.replied.to_string(),
        c.replied_on_time.to_string(),
        percent(l.reply_on_time_rate),
        c.visited.to_string(),
        c.satisfied.to_string(),
        percent(l.satisfaction_rate),
        c.closed.to_string(),
        c.yellow_cards.to_string(),
        c.red_cards.to_string(),
    ]
}

fn order_lines(report: &OrderReport) -> Vec<&OrderLine> {
    in_order(&report.lines, &report.units, &report.total, |l| {
        &l.counts.unit
    })
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

/// Every line of a report in print order: each group's lines, the group's
/// total after them, then the whole total.
fn in_order<'a, L>(
    lines: &'a [L],
    groups: &'a [L],
    total: &'a L,
    key: impl Fn(&L) -> &String,
) -> Vec<&'a L> {
    let mut out = Vec::new();
    for g in groups {
        out.extend(lines.iter().filter(|l| key(l) == key(g)));
        out.push(g);
    }
    out.push(total);
    out
}

fn all_lines(report: &SupervisionReport) -> Vec<&ReportLine> {
    in_order(&report.lines, &report.departments, &report.total, |l| {
        &l.counts.department
    })
}

fn print_rows(
    (from, to): (OffsetDateTime, OffsetDateTime),
    columns: &[&str],
    rows: &[Vec<String>],
) {
    println!(
        "{} to {}",
        tongban_seal::timefmt::format_rfc3339(from),
        tongban_seal::timefmt::format_rfc3339(to)
    );
    let numeric: Vec<usize> = (2..columns.len()).collect();
    let mut table = crate::table::Table::new().right_aligned(&numeric);
    table.row(columns.iter().copied());
    for r in rows {
        table.row(r.iter().cloned());
    }
    table.print();
}

fn write_csv(path: &Path, columns: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let io = |e: std::io::Error| Coded::new("IO", format!("{}: {e}", path.display()));
    let mut file = std::fs::File::create(path).map_err(io)?;
    // A byte-order mark, so that spreadsheet programs read UTF-8.
    std::io::Write::write_all(&mut file, "\u{feff}".as_bytes()).map_err(io)?;
    let mut out = csv::Writer::from_writer(file);
    let csv_err = |e: csv::Error| Coded::new("IO", format!("{}: {e}", path.display()));
    out.write_record(columns).map_err(csv_err)?;
    for r in rows {
        out.write_record(r).map_err(csv_err)?;
    }
    out.flush().map_err(io)?;
    Ok(())
}

fn write_xlsx(
    path: &Path,
    sheet_name: &str,
    columns: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    let xlsx_err =
        |e: rust_xlsxwriter::XlsxError| Coded::new("IO", format!("{}: {e}", path.display()));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name).map_err(xlsx_err)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, header) in columns.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet
            .write_string_with_format(0, col, *header, &bold)
            .map_err(xlsx_err)?;
    }
    for (row, cells) in rows.iter().enumerate() {
        let row = u32::try_from(row + 1).unwrap_or(u32::MAX);
        for (col, cell) in cells.iter().enumerate() {
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

/// Prints a period's case report and 12345 report as tables (the demo's
/// month).
pub(crate) fn print_reports(cases: &SupervisionReport, orders: &OrderReport) {
    let rows: Vec<Vec<String>> = all_lines(cases).into_iter().map(cells).collect();
    print_rows((cases.from, cases.to), COLUMNS, &rows);
    let rows: Vec<Vec<String>> = order_lines(orders).into_iter().map(order_cells).collect();
    print_rows((orders.from, orders.to), ORDER_COLUMNS, &rows);
}
