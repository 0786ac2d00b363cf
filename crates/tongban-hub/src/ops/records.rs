//! `records` streams: pages of a resource's published messages, for a
//! department the catalogue's rule admits, each read audited.
//!
//! The access rule is the node's `AccessRules` for the asking department (a
//! refusal is counted); then `Store::resource_records` reads the resource's
//! published messages after `after`, in `seq` order, at most `MAX_RECORDS`
//! (100), and appends the `exchange.records` entry; the page is cut to stay
//! within `max_frame` − 64 KiB and answered with its `next`.

use serde_json::Value;
use tongban_proto::{ProtoError, ServerOp};

use crate::base::checks::refusal;
use crate::base::wire::write;
use crate::ops::DepartmentStream;

/// Answers a `records` stream with a page, or the refusal (counted).
pub(crate) async fn serve_records(
    ctx: &DepartmentStream,
    send: &mut quinn::SendStream,
    (resource, after, limit): (String, u64, u32),
) {
    let reply = match records(ctx, &resource, after, limit).await {
        Ok(op) => op,
        Err(e) => {
            ctx.shared
                .refusals
                .count(&ctx.shared, &ctx.department, &resource, e.code);
            ServerOp::error(None, &e)
        }
    };
    write(send, &reply).await;
}

/// A page of a resource's records, if the catalogue's rule admits the
/// department; the read is in the audit log.
async fn records(
    ctx: &DepartmentStream,
    resource: &str,
    after: u64,
    limit: u32,
) -> Result<ServerOp, ProtoError> {
    let hub = &ctx.shared.hub;
    let now = hub.now();
    let mut view = ctx.shared.snapshot.view();
    if view.access.resource(resource).is_none() {
        ctx.shared.snapshot.refresh_on_miss().await;
        view = ctx.shared.snapshot.view();
    }
    let basis = view
        .access
        .check(&ctx.department, resource, now)
        .map_err(refusal)?;
    let audit = [tongban_store::AuditRecord::new(
        now,
        &ctx.department,
        "exchange.records",
        resource,
        serde_json::json!({"after": after, "limit": limit, "basis": basis.to_detail()}),
    )];
    // A page stays well inside one frame; at most a few pages are read at
    // once hub-wide.
    let budget = ctx.shared.config.max_frame.saturating_sub(64 * 1024);
    let _share = ctx.shared.records_budget.try_acquire(&ctx.department, 1)?;
    let (rows, cut) = hub
        .store()
        .resource_records(resource, after, limit as usize, budget, &audit)
        .await
        .map_err(|e| crate::base::failures::store(&e, "the hub could not read the records"))?;
    let full = rows.len() == limit as usize;
    let mut records = Vec::with_capacity(rows.len());
    for (seq, text) in rows {
        let envelope: Value = serde_json::from_str(&text).map_err(|e| {
            crate::base::failures::store(
                &tongban_store::StoreError::Corrupt(format!("record {seq}: {e}")),
                "the hub could not read the records",
            )
        })?;
        records.push((seq, envelope));
    }
    let next = if full || cut {
        records.last().map(|(seq, _)| *seq)
    } else {
        None
    };
    Ok(ServerOp::Records { records, next })
}
