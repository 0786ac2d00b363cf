//! Durable topic subscriptions. A topic is a catalogue resource, and who
//! may exchange what follows the catalogue's access rules (`access.rs`);
//! the hub server (`tongban-hub`) enforces them on every message.

use serde_json::json;

use crate::{Result, Service};

impl Service {
    /// What a service centre reports of the exchange since `since` (all if
    /// `None`): records, deliveries, requests served and refusals, per
    /// resource and per department, and refusals by code. Read from the
    /// store, so every node answers alike (what `tongban stats` prints).
    pub async fn exchange_statistics(
        &self,
        since: Option<time::OffsetDateTime>,
    ) -> Result<tongban_store::ExchangeStats> {
        Ok(self.store.exchange_statistics(since).await?)
    }

    /// Subscribes a department to topics (each topic is a resource it may consume).
    pub async fn subscribe(&self, department: &str, topics: &[String]) -> Result<Vec<String>> {
        let now = self.now();
        for t in topics {
            if crate::alerts::is_hub_topic(t) {
                // The hub's own: what goes out on it names its audience.
                self.active_department(department).await?;
                continue;
            }
            // The rule is checked again at every delivery: an approval that
            // ends or is withdrawn stops the flow.
            self.access_check(department, t, now).await?;
        }
        let audit = [tongban_store::AuditRecord::new(
            self.now(),
            department,
            "exchange.subscribe",
            department,
            json!({"topics": topics}),
        )];
        self.store
            .subscribe(department, topics, self.now(), &audit)
            .await?;
        Ok(self.store.subscriptions(department).await?)
    }

    /// Ends subscriptions.
    pub async fn unsubscribe(&self, department: &str, topics: &[String]) -> Result<Vec<String>> {
        let audit = [tongban_store::AuditRecord::new(
            self.now(),
            department,
            "exchange.unsubscribe",
            department,
            json!({"topics": topics}),
        )];
        self.store.unsubscribe(department, topics, &audit).await?;
        Ok(self.store.subscriptions(department).await?)
    }

    /// The node's secret exchange key of a department (the hub's own key
    /// for `hub`), for local tools that send on its behalf (development and
    /// tests). DANGER: hands out a secret; not audited (see
    /// [`Service::export_exchange_secret`], which is).
    pub async fn danger_signing_key(&self, department: &str) -> Result<tongban_seal::SigningKey> {
        let purpose = if department == crate::HUB_OWNER {
            tongban_seal::KeyPurpose::Both
        } else {
            tongban_seal::KeyPurpose::Exchange
        };
        Ok(self.current_key(department, purpose).await?.0)
    }
}
