//! `tongban case import` and `tongban hotline import`: a year of case
//! events or work orders from a JSON Lines file into the store, through
//! the service's bulk import. Every line is read (strictly) before
//! anything is written: a line that does not parse stops the command with
//! its line number, nothing imported. Progress on standard error (at a
//! terminal), then a summary: imported, and refused by code.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;
use tongban_proto::services::CaseEvent;
use tongban_service::{CaseEventInput, ImportOutcome, OrderImport};

use crate::Context;
use crate::output::{Coded, print_json};

/// Longest line, in bytes (a case event is a few hundred; a work order
/// with its steps and texts a few thousand).
const MAX_LINE_BYTES: u64 = 256 * 1024;
/// Refusals listed one by one in the text summary.
const REFUSALS_SHOWN: usize = 20;

/// Each non-blank line of `path` as strict JSON, with its line number.
fn for_each_line(
    path: &Path,
    mut each: impl FnMut(usize, Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!(e).context(format!("cannot read {}", path.display())))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if n as u64 > MAX_LINE_BYTES {
            return Err(Coded::new(
                "PAYLOAD_TOO_LARGE",
                format!(
                    "{}:{number}: a line is at most {MAX_LINE_BYTES} bytes",
                    path.display()
                ),
            )
            .into());
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value = tongban_seal::json::from_slice_strict(&buf)
            .map_err(|e| Coded::new(e.code(), format!("{}:{number}: {e}", path.display())))?;
        each(number, value)?;
    }
}

/// `case import --dept D FILE`: each line a `case-event@1` payload.
pub async fn cases(ctx: &Context, department: &str, path: &Path) -> anyhow::Result<()> {
    let mut events = Vec::new();
    for_each_line(path, |number, value| {
        let at_line = |code: &'static str, e: &dyn std::fmt::Display| {
            Coded::new(code, format!("{}:{number}: {e}", path.display()))
        };
        let wire: CaseEvent =
            tongban_seal::json::decode(&value).map_err(|e| at_line("CASE_EVENT_INVALID", &e))?;
        let input = CaseEventInput::parse(
            wire.case_id,
            wire.service_item,
            wire.channel,
            wire.zero_visit,
            &wire.at,
            &wire.event,
        )
        .map_err(|e| at_line(e.code(), &e))?;
        events.push(input);
        Ok(())
    })?;
    let hub = ctx.open().await?;
    let bar = crate::progress::bar(ctx.json, 0, "cases");
    let outcome = hub
        .import_case_events_with(department, events, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    hub.close().await;
    summary(ctx, &outcome?, ("cases", "events"))
}

/// `hotline import FILE`: each line a work order with its steps.
pub async fn orders(ctx: &Context, path: &Path) -> anyhow::Result<()> {
    let mut orders = Vec::new();
    for_each_line(path, |number, value| {
        let order = OrderImport::from_json(value)
            .map_err(|e| Coded::new(e.code(), format!("{}:{number}: {e}", path.display())))?;
        orders.push(order);
        Ok(())
    })?;
    let hub = ctx.open().await?;
    let bar = crate::progress::bar(ctx.json, 0, "work orders");
    let outcome = hub
        .import_work_orders_with(orders, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    hub.close().await;
    summary(ctx, &outcome?, ("work orders", "steps"))
}

/// What was imported and what refused, by code; with `--json` the outcome.
fn summary(ctx: &Context, o: &ImportOutcome, (what, rows): (&str, &str)) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(o);
    }
    println!(
        "imported {} {what} ({} {rows}) in {} transaction(s)",
        o.imported, o.rows, o.chunks
    );
    if o.refused.is_empty() {
        return Ok(());
    }
    let by_code: Vec<String> = o
        .refused_by_code()
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect();
    println!("refused {} {what}: {}", o.refused.len(), by_code.join(", "));
    for r in o.refused.iter().take(REFUSALS_SHOWN) {
        println!("  {}  {}  {}", r.id, r.code, r.message);
    }
    if o.refused.len() > REFUSALS_SHOWN {
        println!(
            "  … and {} more (--json lists all)",
            o.refused.len() - REFUSALS_SHOWN
        );
    }
    Ok(())
}
