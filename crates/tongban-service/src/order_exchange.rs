//! 12345 work orders as the exchange carries them (`hub.hotline.create`,
//! `hub.hotline.order`): the wire's text read into the order's types
//! (`ORDER_STEP_INVALID` for what does not fit), and where an order stands
//! after a step — its deadlines counted over the calendar in force, the
//! citizen's contact only when asked for by the office or the unit the
//! order is dispatched to (each reading audited as `order.contact`).

use serde_json::{Value, json};
use time::OffsetDateTime;
use tongban_store::WorkOrderRow;
use tongban_supervision::hotline::{Category, Step};

use crate::Service;
use crate::error::{Code, Error, Result};

/// A step as a department's system reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStepInput {
    /// 工单编号.
    pub order_id: String,
    /// When it was taken.
    pub at: OffsetDateTime,
    /// The step.
    pub step: Step,
}

impl OrderStepInput {
    /// Reads a reported step: `at` in RFC 3339, `step` as
    /// `tongban_supervision::hotline::Step` takes it. `ORDER_STEP_INVALID`.
    pub fn parse(order_id: String, at: &str, step: &Value) -> Result<OrderStepInput> {
        let at = tongban_seal::timefmt::parse_rfc3339(at)
            .map_err(|e| Error::rejected(Code::OrderStepInvalid, format!("at {at:?}: {e}")))?;
        let step: Step = serde_json::from_value(step.clone())
            .map_err(|e| Error::rejected(Code::OrderStepInvalid, format!("step: {e}")))?;
        Ok(OrderStepInput { order_id, at, step })
    }
}

/// A category by its name (`consumer-complaint`, …). `ORDER_STEP_INVALID`.
pub fn parse_category(name: &str) -> Result<Category> {
    serde_json::from_value(json!(name)).map_err(|_| {
        Error::rejected(
            Code::OrderStepInvalid,
            format!(
                "category {name:?}: consultation, suggestion, appeal, consumer-complaint, economic-report or administrative-complaint"
            ),
        )
    })
}

/// Where a work order stands, as the exchange answers it.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderStanding {
    /// The order as stored (its contact is not in its `Debug`).
    pub order: WorkOrderRow,
    /// The sign-for deadline of the current dispatch.
    pub sign_deadline: Option<OffsetDateTime>,
    /// The reply deadline, extensions granted included.
    pub reply_deadline: Option<OffsetDateTime>,
    /// The citizen's contact, when asked for and allowed.
    pub contact: Option<String>,
}

impl std::fmt::Debug for OrderStanding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderStanding")
            .field("order", &self.order)
            .field("sign_deadline", &self.sign_deadline)
            .field("reply_deadline", &self.reply_deadline)
            .field("contact", &self.contact.as_ref().map(|_| "(personal data)"))
            .finish()
    }
}

impl Service {
    /// Order `id` as it stands, for `department` (the office or a unit it
    /// was ever dispatched to: `ORDER_STEP_FORBIDDEN` otherwise), with its
    /// deadlines; with the contact when `with_contact` and `department` is
    /// the office or the unit it is dispatched to now (audited), left out
    /// otherwise.
    pub async fn order_standing(
        &self,
        department: &str,
        id: &str,
        with_contact: bool,
    ) -> Result<OrderStanding> {
        let (order, steps) = self.order_show(department, id).await?;
        let replayed = crate::hotline::replay(&order, &steps)?;
        let calendar = self.calendar().await?;
        let sign_deadline = replayed.sign_deadline(&calendar)?;
        let reply_deadline = replayed.reply_deadline(&calendar)?;
        let handles = department == order.office || order.unit.as_deref() == Some(department);
        let contact = match with_contact && handles {
            true => Some(self.order_contact(department, id).await?),
            false => None,
        };
        Ok(OrderStanding {
            order,
            sign_deadline,
            reply_deadline,
            contact,
        })
    }
}
