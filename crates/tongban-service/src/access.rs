//! Access to catalogue resources: unconditional ones are open to every
//! registered department, conditional ones need an approved application
//! for the time of use, not-shared ones are never served.
//!
//! `access_apply` takes conditional resources only, with a purpose and a
//! period; `access_decide`/`access_withdraw` are the provider's; `access_check`
//! names the rule that allows or refuses (provider, unconditional, an approval
//! covering the instant; `ACCESS_NOT_SHARED`, `ACCESS_NOT_GRANTED`,
//! `ACCESS_EXPIRED`, `CATALOGUE_RETIRED`); `access_rules` loads the whole
//! catalogue's rules into memory (`AccessRules`), which the hub applies to
//! every envelope and subscription.

use std::collections::HashMap;

use serde_json::json;
use tongban_store::{
    AccessApplication, AccessGrant, CatalogueEntry, DepartmentStatus, ExchangeResource,
};

use crate::error::Code;
use crate::text::{self, MAX_REASON_CHARS};
use crate::{Error, Result, Service};

/// Longest stated purpose.
const MAX_PURPOSE: usize = 500;
/// Longest period an approval may cover.
const MAX_PERIOD: time::Duration = time::Duration::days(3 * 366);

fn rejected(code: Code, message: impl Into<String>) -> Error {
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

impl AccessBasis {
    /// As the audit log records it: `{"kind": "provider" | "unconditional"
    /// | "approved", "application": id}` (the application only when approved).
    pub fn to_detail(&self) -> serde_json::Value {
        match self {
            AccessBasis::Provider => json!({"kind": "provider"}),
            AccessBasis::Unconditional => json!({"kind": "unconditional"}),
            AccessBasis::Approved(id) => json!({"kind": "approved", "application": id}),
        }
    }
}

impl Code {
    /// Whether this code is an access check's "no" (the rule that refuses
    /// a department a resource), as against a resource or department that
    /// does not exist or a fault.
    pub fn is_access_denial(self) -> bool {
        matches!(
            self,
            Code::AccessNotGranted
                | Code::AccessExpired
                | Code::AccessNotShared
                | Code::CatalogueRetired
                | Code::DepartmentSuspended
        )
    }
}

impl Service {
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
        // Kept exactly as stated, like a licence query's purpose.
        if purpose.trim().is_empty() {
            return Err(rejected(
                Code::UseCauseRequired,
                format!("state the purpose of the application (1 to {MAX_PURPOSE} characters)"),
            ));
        }
        if purpose.chars().count() > MAX_PURPOSE {
            return Err(rejected(
                Code::UseCauseTooLong,
                format!("the purpose is limited to {MAX_PURPOSE} characters"),
            ));
        }
        text::prose(Code::UseCauseInvalid, "purpose", purpose, MAX_PURPOSE)?;
        if valid_until <= valid_from || valid_until - valid_from > MAX_PERIOD {
            return Err(rejected(
                Code::AccessPeriodInvalid,
                "the period must end after it starts and last at most 3 years",
            ));
        }
        let d = self.department(consumer).await?;
        if d.status != DepartmentStatus::Active {
            return Err(rejected(
                Code::DepartmentSuspended,
                format!("{consumer} is not active"),
            ));
        }
        let r = self.catalogue_show(resource).await?;
        if r.status != "published" {
            return Err(rejected(
                Code::CatalogueRetired,
                format!("{resource} is retired"),
            ));
        }
        match r.sharing_type.as_str() {
            "not-shared" => {
                return Err(rejected(
                    Code::AccessNotShared,
                    format!("{resource} is not shared (不予共享); no application can open it"),
                ));
            }
            "unconditional" => {
                return Err(rejected(
                    Code::AccessNotRequired,
                    format!(
                        "{resource} is shared unconditionally (无条件共享); no application is needed"
                    ),
                ));
            }
            _ => {}
        }
        if r.provider == consumer {
            return Err(rejected(
                Code::AccessNotRequired,
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
                    self.asked_by(json!({"application": id, "purpose": purpose})),
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
        if let Some(reason) = reason {
            text::prose(Code::ReasonInvalid, "reason", reason, MAX_REASON_CHARS)?;
        }
        let a = self.access_application(id).await?;
        let r = self.catalogue_show(&a.resource).await?;
        if r.provider != provider {
            return Err(rejected(
                Code::AccessNotProvider,
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
            self.asked_by(json!({"application": id, "consumer": a.consumer, "reason": reason})),
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
                Code::AccessNotPending,
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
            .ok_or_else(|| rejected(Code::AccessUnknown, format!("no application {id}")))
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

    /// Applications `department` is party to (its own, and those on the
    /// resources it provides), newest first; every application when
    /// `department` is `None`.
    pub async fn access_list_involving(
        &self,
        department: Option<&str>,
        resource: Option<&str>,
        consumer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AccessApplication>> {
        match department {
            Some(d) => Ok(self
                .store
                .access_applications_involving(d, resource, consumer, limit)
                .await?),
            None => self.access_list(resource, consumer, limit).await,
        }
    }

    /// One application with the department that provides its resource:
    /// the two parties to it (consumer and provider).
    pub async fn access_parties(&self, id: u64) -> Result<(AccessApplication, String)> {
        let a = self.access_application(id).await?;
        let provider = self.catalogue_show(&a.resource).await?.provider;
        Ok((a, provider))
    }

    /// Whether `consumer` may use `resource` at `at`, and why; a refusal
    /// names the rule (`ACCESS_NOT_SHARED`, `ACCESS_NOT_GRANTED`,
    /// `ACCESS_EXPIRED`, `CATALOGUE_RETIRED`, …). The exchange applies the
    /// same [`AccessRules`] to every message.
    pub async fn access_check(
        &self,
        consumer: &str,
        resource: &str,
        at: time::OffsetDateTime,
    ) -> Result<AccessBasis> {
        let r: CatalogueEntry = self.catalogue_show(resource).await?;
        if r.provider != consumer {
            let d = self.department(consumer).await?;
            if d.status != DepartmentStatus::Active {
                return Err(rejected(
                    Code::DepartmentSuspended,
                    format!("{consumer} is not active"),
                ));
            }
        }
        let grants = self
            .store
            .access_applications(Some(resource), Some(consumer), 1_000)
            .await?
            .into_iter()
            .filter(|a| a.status == "approved")
            .map(|a| AccessGrant {
                id: a.id,
                resource: a.resource,
                consumer: a.consumer,
                valid_from: a.valid_from,
                valid_until: a.valid_until,
            })
            .collect();
        let rules = AccessRules::new(
            vec![ExchangeResource {
                id: r.id,
                provider: r.provider,
                schema: r.schema,
                sharing_type: r.sharing_type,
                status: r.status,
            }],
            grants,
        );
        rules
            .check(consumer, resource, at)
            .map_err(|r| rejected(r.code, r.message))
    }

    /// The access rules of the whole catalogue, as the exchange applies them.
    pub async fn access_rules(&self) -> Result<AccessRules> {
        Ok(AccessRules::new(
            self.store.exchange_resources().await?,
            self.store.access_grants().await?,
        ))
    }
}

/// Why a use was refused: a stable code naming the rule, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `CATALOGUE_UNKNOWN`, `CATALOGUE_RETIRED`, `ACCESS_NOT_SHARED`,
    /// `ACCESS_NOT_GRANTED` or `ACCESS_EXPIRED`.
    pub code: Code,
    /// For people.
    pub message: String,
}

/// The catalogue's access rules in memory: resources and approved grants.
/// Whether the consumer is an active department is the caller's check.
#[derive(Debug, Default)]
pub struct AccessRules {
    resources: HashMap<String, ExchangeResource>,
    /// By resource, then consumer.
    grants: HashMap<String, HashMap<String, Vec<AccessGrant>>>,
}

impl AccessRules {
    /// Indexes resources and grants.
    pub fn new(resources: Vec<ExchangeResource>, grants: Vec<AccessGrant>) -> Self {
        let mut by_resource: HashMap<String, HashMap<String, Vec<AccessGrant>>> = HashMap::new();
        for g in grants {
            by_resource
                .entry(g.resource.clone())
                .or_default()
                .entry(g.consumer.clone())
                .or_default()
                .push(g);
        }
        AccessRules {
            resources: resources.into_iter().map(|r| (r.id.clone(), r)).collect(),
            grants: by_resource,
        }
    }

    /// A resource, published or retired.
    pub fn resource(&self, id: &str) -> Option<&ExchangeResource> {
        self.resources.get(id)
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether there are no resources.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Who besides the provider may receive what `resource` publishes at
    /// `at`: `None` for everyone (unconditional), else the consumers whose
    /// approval covers `at` (none for a not-shared, retired or unknown
    /// resource).
    pub fn audience(&self, resource: &str, at: time::OffsetDateTime) -> Option<Vec<String>> {
        let Some(r) = self.resources.get(resource) else {
            return Some(Vec::new());
        };
        if r.status == "published" && r.sharing_type == "unconditional" {
            return None;
        }
        let mut who = vec![r.provider.clone()];
        if r.status == "published" && r.sharing_type == "conditional" {
            who.extend(
                self.grants
                    .get(resource)
                    .into_iter()
                    .flatten()
                    .filter(|(_, grants)| {
                        grants
                            .iter()
                            .any(|g| g.valid_from <= at && at < g.valid_until)
                    })
                    .map(|(consumer, _)| consumer.clone()),
            );
        }
        Some(who)
    }

    /// Whether `consumer` may use `resource` at `at`, and on what basis.
    pub fn check(
        &self,
        consumer: &str,
        resource: &str,
        at: time::OffsetDateTime,
    ) -> std::result::Result<AccessBasis, Refusal> {
        let refuse = |code, message: String| Err(Refusal { code, message });
        let Some(r) = self.resources.get(resource) else {
            return refuse(
                Code::CatalogueUnknown,
                format!("{resource} is not in the catalogue"),
            );
        };
        if r.status != "published" {
            return refuse(Code::CatalogueRetired, format!("{resource} is retired"));
        }
        if r.provider == consumer {
            return Ok(AccessBasis::Provider);
        }
        match r.sharing_type.as_str() {
            "unconditional" => return Ok(AccessBasis::Unconditional),
            "not-shared" => {
                return refuse(
                    Code::AccessNotShared,
                    format!("{resource} is not shared (不予共享)"),
                );
            }
            _ => {}
        }
        let grants = self
            .grants
            .get(resource)
            .and_then(|by_consumer| by_consumer.get(consumer))
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(g) = grants
            .iter()
            .filter(|g| g.valid_from <= at && at < g.valid_until)
            .max_by_key(|g| g.id)
        {
            return Ok(AccessBasis::Approved(g.id));
        }
        if let Some(g) = grants
            .iter()
            .filter(|g| g.valid_until <= at)
            .max_by_key(|g| g.valid_until)
        {
            return refuse(
                Code::AccessExpired,
                format!(
                    "{consumer}'s approval #{} for {resource} ended at {}",
                    g.id,
                    tongban_seal::timefmt::format_rfc3339(g.valid_until)
                ),
            );
        }
        refuse(
            Code::AccessNotGranted,
            format!(
                "{resource} is shared on conditions (有条件共享): {consumer} has no approval covering this time"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn resource(id: &str, sharing: &str, status: &str) -> ExchangeResource {
        ExchangeResource {
            id: id.into(),
            provider: "P".into(),
            schema: "s@1".into(),
            sharing_type: sharing.into(),
            status: status.into(),
        }
    }

    fn grant(id: u64, resource: &str, consumer: &str, from: u32, until: u32) -> AccessGrant {
        let day = |d: u32| datetime!(2026-11-01 00:00 UTC) + time::Duration::days(d.into());
        AccessGrant {
            id,
            resource: resource.into(),
            consumer: consumer.into(),
            valid_from: day(from),
            valid_until: day(until),
        }
    }

    #[test]
    fn rules_and_audiences() {
        let rules = AccessRules::new(
            vec![
                resource("open", "unconditional", "published"),
                resource("cond", "conditional", "published"),
                resource("closed", "not-shared", "published"),
                resource("old", "unconditional", "retired"),
            ],
            vec![
                grant(1, "cond", "A", 0, 10),
                grant(2, "cond", "B", 20, 30),
                grant(3, "cond", "C", 0, 5),
                grant(4, "cond", "C", 6, 9),
            ],
        );
        let at = datetime!(2026-11-08 00:00 UTC);
        let code = |c: &str, r: &str| rules.check(c, r, at).map_err(|e| e.code.as_str());
        assert_eq!(code("X", "open"), Ok(AccessBasis::Unconditional));
        assert_eq!(code("P", "closed"), Ok(AccessBasis::Provider));
        assert_eq!(code("X", "closed"), Err("ACCESS_NOT_SHARED"));
        assert_eq!(code("P", "old"), Err("CATALOGUE_RETIRED"));
        assert_eq!(code("X", "nothing"), Err("CATALOGUE_UNKNOWN"));
        assert_eq!(code("A", "cond"), Ok(AccessBasis::Approved(1)));
        assert_eq!(code("B", "cond"), Err("ACCESS_NOT_GRANTED"), "not yet");
        assert_eq!(code("C", "cond"), Ok(AccessBasis::Approved(4)));
        assert_eq!(
            rules
                .check("C", "cond", datetime!(2026-11-12 00:00 UTC))
                .map_err(|e| e.code.as_str()),
            Err("ACCESS_EXPIRED")
        );
        assert_eq!(code("X", "cond"), Err("ACCESS_NOT_GRANTED"));

        assert_eq!(rules.audience("open", at), None);
        let mut cond = rules.audience("cond", at).unwrap();
        cond.sort();
        assert_eq!(cond, ["A", "C", "P"]);
        assert_eq!(rules.audience("closed", at).unwrap(), ["P"]);
        assert_eq!(rules.audience("old", at).unwrap(), ["P"]);
        assert_eq!(rules.audience("nothing", at), Some(Vec::new()));
    }
}
