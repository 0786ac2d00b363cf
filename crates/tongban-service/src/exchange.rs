//! Administration of the exchange: resources (who may exchange what) and
//! durable topic subscriptions. The hub server (`tongban-hub`) enforces them.

use serde_json::json;
use tongban_store::{DepartmentStatus, ResourceRow};

use crate::{Error, Hub, Result};

/// Longest resource id.
const MAX_RESOURCE_ID: usize = 100;

impl Hub {
    /// Registers (or replaces) a resource: its provider, its payload schema,
    /// and the departments allowed to consume it (`*` for all).
    pub async fn put_resource(
        &self,
        id: &str,
        provider: &str,
        schema: &str,
        allowed: &[String],
        description: &str,
    ) -> Result<ResourceRow> {
        let id_ok = !id.is_empty()
            && id.len() <= MAX_RESOURCE_ID
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(Error::rejected(
                "RESOURCE_ID_INVALID",
                format!("resource id {id:?}: 1 to {MAX_RESOURCE_ID} of A-Z a-z 0-9 . _ -"),
            ));
        }
        let p = self.department(provider).await?;
        if p.status != DepartmentStatus::Active {
            return Err(Error::rejected(
                "DEPARTMENT_SUSPENDED",
                format!("provider {provider} is not active"),
            ));
        }
        let (schema_id, version) = schema.split_once('@').ok_or_else(|| {
            Error::rejected(
                "SCHEMA_UNKNOWN",
                format!("{schema}: name the schema as id@version"),
            )
        })?;
        let row = self.schema(schema_id, Some(version)).await?;
        if row.kind != "message" {
            return Err(Error::rejected(
                "SCHEMA_KIND_CONFLICT",
                format!("{schema} is a {} schema, not a message schema", row.kind),
            ));
        }
        if allowed.is_empty() {
            return Err(Error::rejected(
                "RESOURCE_ALLOWED_EMPTY",
                "name the consumers allowed (department codes, or *)",
            ));
        }
        for a in allowed {
            if a != "*" {
                self.department(a).await?;
            }
        }
        let resource = ResourceRow {
            id: id.to_owned(),
            provider: provider.to_owned(),
            schema: schema.to_owned(),
            allowed: allowed.to_vec(),
            description: description.trim().to_owned(),
            created_at: self.now(),
        };
        let audit = [self.audit(
            "resource.put",
            id,
            json!({"provider": provider, "schema": schema, "allowed": allowed}),
        )];
        self.store.put_resource(&resource, &audit).await?;
        self.maybe_checkpoint().await?;
        Ok(resource)
    }

    /// Subscribes a department to topics (each topic is a resource it may consume).
    pub async fn subscribe(&self, department: &str, topics: &[String]) -> Result<Vec<String>> {
        let resources = self.store.resources().await?;
        for t in topics {
            let r = resources.iter().find(|r| &r.id == t).ok_or_else(|| {
                Error::rejected("RESOURCE_UNKNOWN", format!("no resource (topic) {t}"))
            })?;
            if !r.allows(department) {
                return Err(Error::rejected(
                    "RESOURCE_FORBIDDEN",
                    format!("{department} may not consume {t}"),
                ));
            }
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

    /// The node's secret signing key of a department, for local tools that
    /// send on its behalf (development and tests). DANGER: hands out a secret.
    pub async fn danger_signing_key(&self, department: &str) -> Result<tongban_seal::SigningKey> {
        Ok(self.current_key(department).await?.0)
    }
}
