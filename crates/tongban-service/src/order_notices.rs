//! Each step of a 12345 work order told to the other side (`order-notice@1`
//! on the hub topic `hub.hotline`): the unit learns it was dispatched an
//! order, that its extension was decided, that the order was called back,
//! reopened or closed; the office learns that the unit signed, returned,
//! asked for time or replied. The notice is an outbox row written in the
//! same transaction as the step (`Store::record_work_order_step`), drained
//! by the hub into a message it signs; its id is derived from the order and
//! the step's place, so each step is pushed once. It never carries the
//! citizen's contact.

use serde_json::{Value, json};
use time::OffsetDateTime;
use tongban_store::{OutboxRow, WorkOrderRow, WorkOrderStepRow};

/// The hub topic work-order steps go out on.
pub const HOTLINE_TOPIC: &str = "hub.hotline";
/// The schema of a step told to the other side.
pub const ORDER_NOTICE_SCHEMA: &str = "order-notice@1";

/// The push telling `step` of `order` (as it stands after the step) to the
/// other side: the unit the order is dispatched to for the office's steps
/// (none while it is dispatched to nobody), the office for the unit's.
pub(crate) fn order_notice(
    order: &WorkOrderRow,
    step: &WorkOrderStepRow,
    now: OffsetDateTime,
) -> Option<OutboxRow> {
    let audience = if step.actor == "office" {
        order.unit.clone()?
    } else {
        order.office.clone()
    };
    let taken: Value = serde_json::from_str(&step.step).ok()?;
    let payload = json!({
        "orderId": order.id,
        "seq": step.seq,
        "at": tongban_seal::timefmt::format_rfc3339(step.at),
        "by": step.actor,
        "step": taken,
        "category": order.category,
        "phase": order.phase,
        "unit": order.unit,
        "office": order.office,
    });
    Some(OutboxRow {
        id: tongban_store::OutboxRow::id_for(&["order-step", &order.id, &step.seq.to_string()]),
        topic: HOTLINE_TOPIC.to_owned(),
        audience: vec![audience],
        schema: ORDER_NOTICE_SCHEMA.to_owned(),
        payload: payload.to_string(),
        created_at: now,
        sent_seq: None,
    })
}
