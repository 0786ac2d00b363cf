//! Access to catalogue resources: unconditional ones are open to every
//! registered department, conditional ones need an approved application
//! for the time of use, not-shared ones are never served.

use serde_json::json;
use tongban_store::{AccessApplication, CatalogueEntry, DepartmentStatus};

use crate::{Error, Hub, Result};

/// Longest stated purpose.
const MAX_PURPOSE: usize = 500;
/// Longest period an approval may cover.
const MAX_PERIOD: time::Duration = time::Duration::days(3 * 366);

fn rejected(code: &'static str, message: impl Into<String>) -> Error {
    Error::rejected(code, message)
}

/// Why a department may use a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessBasis {
    /// The department provides it.
    Provider,
    /// 无条件共享: open to every registered department.
    Unconditional,
    /// 有条件共享: this approved application covers the time of use.
    Approved(u64),
}

impl Hub {
    /// `consumer` applies for a conditional resource with a stated purpose
    /// and period; the provider decides.
    pub async fn access_apply(
        &self,
        consumer: &str,
        resource: &str,
        purpose: &str,
        valid_from: time::OffsetDateTime,
        valid_until: time::OffsetDateTime,
    ) -> Result<AccessApplication> {
        let purpose = purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > MAX_PURPOSE {
            return Err(rejected(
                "USE_CAUSE_REQUIRED",
                format!("state the purpose of the application (1 to {MAX_PURPOSE} characters)"),
            ));
        }
        if valid_until <= valid_from || valid_until - valid_from > MAX_PERIOD {
            return Err(rejected(
                "ACCESS_PERIOD_INVALID",
                "the period must end after it starts and last at most 3 years",
            ));
        }
        let d = self.department(consumer).await?;
        if d.status != DepartmentStatus::Active {
            return Err(rejected(
                "DEPARTMENT_SUSPENDED",
                format!("{consumer} is not active"),
            ));
        }
        let r = self.catalogue_show(resource).await?;
        if r.status != "published" {
            return Err(rejected(
                "CATALOGUE_RETIRED",
                format!("{resource} is retired"),
            ));
        }
        match r.sharing_type.as_str() {
            "not-shared" => {
                return Err(rejected(
                    "ACCESS_NOT_SHARED",
                    format!("{resource} is not shared (不予共享); no application can open it"),
                ));
            }
            "unconditional" => {
                return Err(rejected(
                    "ACCESS_NOT_REQUIRED",
                    format!(
                        "{resource} is shared unconditionally (无条件共享); no application is needed"
                    ),
                ));
            }
            _ => {}
        }
        if r.provider == consumer {
            return Err(rejected(
                "ACCESS_NOT_REQUIRED",
                format!("{consumer} provides {resource}"),
            ));
        }
        let now = self.now();
        let mut a = AccessApplication {
            id: 0,
            resource: resource.to_owned(),
            consumer: consumer.to_owned(),
            purpose: purpose.to_owned(),
            valid_from,
            valid_until,
            status: "pending".into(),
            decided_by: None,
            decided_at: None,
            reason: None,
            created_at: now,
        };
        a.id = self
            .store
            .insert_access_application(&a, |id| {
                vec![tongban_store::AuditRecord::new(
                    now,
                    consumer,
                    "access.apply",
                    resource,
                    json!({"application": id, "purpose": purpose}),
                )]
            })
            .await?;
        self.maybe_checkpoint().await?;
        Ok(a)
    }

    /// The provider approves (`approve = true`) or rejects a pending application.
    pub async fn access_decide(
        &self,
        provider: &str,
        id: u64,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<AccessApplication> {
        let (to, action) = if approve {
            ("approved", "access.approve")
        } else {
            ("rejected", "access.reject")
        };
        self.access_transition(provider, id, "pending", to, action, reason)
            .await
    }

    /// The provider withdraws an approval.
    pub async fn access_withdraw(
        &self,
        provider: &str,
        id: u64,
        reason: Option<&str>,
    ) -> Result<AccessApplication> {
        self.access_transition(
            provider,
            id,
            "approved",
            "withdrawn",
            "access.withdraw",
            reason,
        )
        .await
    }

    async fn access_transition(
        &self,
        provider: &str,
        id: u64,
        from: &str,
        to: &str,
        action: &str,
        reason: Option<&str>,
    ) -> Result<AccessApplication> {
        let a = self.access_application(id).await?;
        let r = self.catalogue_show(&a.resource).await?;
        if r.provider != provider {
            return Err(rejected(
                "ACCESS_NOT_PROVIDER",
                format!(
                    "{} is provided by {}; {provider} may not decide on it",
                    a.resource, r.provider
                ),
            ));
        }
        let now = self.now();
        let audit = [tongban_store::AuditRecord::new(
            now,
            provider,
            action,
            &a.resource,
            json!({"application": id, "consumer": a.consumer, "reason": reason}),
        )];
        if !self
            .store
            .decide_access_application(
                &tongban_store::AccessDecision {
                    id,
                    from,
                    to,
                    by: provider,
                    reason,
                    at: now,
                },
                &audit,
            )
            .await?
        {
            return Err(rejected(
                "ACCESS_NOT_PENDING",
                format!("application {id} is {}, not {from}", a.status),
            ));
        }
        self.maybe_checkpoint().await?;
        self.access_application(id).await
    }

    /// One application.
    pub async fn access_application(&self, id: u64) -> Result<AccessApplication> {
        self.store
            .access_application(id)
            .await?
            .ok_or_else(|| rejected("ACCESS_UNKNOWN", format!("no application {id}")))
    }

    /// Applications, newest first.
    pub async fn access_list(
        &self,
        resource: Option<&str>,
        consumer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AccessApplication>> {
        Ok(self
            .store
            .access_applications(resource, consumer, limit)
            .await?)
    }

    /// Whether `consumer` may use `resource` at `at`, and why; a refusal
    /// names the rule (`ACCESS_NOT_SHARED`, `ACCESS_NOT_GRANTED`,
    /// `ACCESS_EXPIRED`, `CATALOGUE_RETIRED`, …).
    pub async fn access_check(
        &self,
        consumer: &str,
        resource: &str,
        at: time::OffsetDateTime,
    ) -> Result<AccessBasis> {
        let r: CatalogueEntry = self.catalogue_show(resource).await?;
        if r.status != "published" {
            return Err(rejected(
                "CATALOGUE_RETIRED",
                format!("{resource} is retired"),
            ));
        }
        if r.provider == consumer {
            return Ok(AccessBasis::Provider);
        }
        let d = self.department(consumer).await?;
        if d.status != DepartmentStatus::Active {
            return Err(rejected(
                "DEPARTMENT_SUSPENDED",
                format!("{consumer} is not active"),
            ));
        }
        match r.sharing_type.as_str() {
            "unconditional" => return Ok(AccessBasis::Unconditional),
            "not-shared" => {
                return Err(rejected(
                    "ACCESS_NOT_SHARED",
                    format!("{resource} is not shared (不予共享)"),
                ));
            }
            _ => {}
        }
        let apps = self
            .store
            .access_applications(Some(resource), Some(consumer), 1_000)
            .await?;
        let approved: Vec<&AccessApplication> =
            apps.iter().filter(|a| a.status == "approved").collect();
        if let Some(a) = approved
            .iter()
            .find(|a| a.valid_from <= at && at < a.valid_until)
        {
            return Ok(AccessBasis::Approved(a.id));
        }
        if let Some(a) = approved.iter().find(|a| a.valid_until <= at) {
            return Err(rejected(
                "ACCESS_EXPIRED",
                format!(
                    "{consumer}'s approval #{} for {resource} ended at {}",
                    a.id,
                    tongban_seal::timefmt::format_rfc3339(a.valid_until)
                ),
            ));
        }
        Err(rejected(
            "ACCESS_NOT_GRANTED",
            format!(
                "{resource} is shared on conditions (有条件共享): {consumer} has no approval covering this time"
            ),
        ))
    }
}
