//! Hub identity, departments, signing keys and licence types.
//!
//! `new_signing_key` and `current_key` take the key's purpose.

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;
use tongban_codes::{RegionCode, Uscc};
use tongban_licence::credential::organisation_urn;
use tongban_licence::{LicenceType, LicenceTypes};
use tongban_seal::{KeyPurpose, KeyRecord, PublicKey, SigningKey, Validity};
use tongban_store::{DepartmentRow, DepartmentStatus, KeyRow, PlatformLevel, SchemaInsert};

use crate::error::Code;
use crate::text::{self, MAX_NAME_CHARS};
use crate::{Error, HUB_OWNER, Result, Service};

/// Who this hub is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HubIdentity {
    /// GB/T 2260 region code.
    pub region: String,
    /// `urn:tongban:hub:{region}`.
    pub id: String,
    /// Display name, e.g. 广州市花都区政务数据共享交换平台.
    pub name: String,
    /// The hub's current signing key (its trust anchor), as a Multikey.
    pub anchor: String,
}

/// A department to register.
#[derive(Debug, Clone)]
pub struct NewDepartment {
    /// USCC.
    pub code: String,
    /// Name.
    pub name: String,
    /// Region code.
    pub region_code: String,
    /// Platform level.
    pub platform_level: PlatformLevel,
    /// Parent department code.
    pub parent_code: Option<String>,
    /// Contact.
    pub contact: Option<String>,
}

impl Service {
    /// Sets the hub's region and name and creates its signing key, once.
    ///
    /// Calling again with the same region is harmless and returns the identity.
    pub async fn init_region(&self, region: &str, name: &str) -> Result<HubIdentity> {
        let region = RegionCode::parse(region)
            .map_err(|e| Error::rejected(Code::RegionCodeInvalid, format!("{region}: {e}")))?;
        match self.store.setting("region").await? {
            Some(existing) if existing != region.as_str() => {
                return Err(Error::rejected(
                    Code::HubAlreadyInitialised,
                    format!("this hub already serves region {existing}"),
                ));
            }
            Some(_) => {
                // Re-running init registers built-in schemas added since.
                self.register_service_schemas().await?;
                return self.identity().await;
            }
            None => {}
        }
        text::name(Code::HubNameInvalid, "the hub's name", name, MAX_NAME_CHARS)?;
        // The pin written below is never replaced: a key store that pins
        // another hub's anchor cannot start a new one.
        self.refuse_if_pinned().await?;
        let id = format!("urn:tongban:hub:{region}");
        let now = self.now();
        let key =
            SigningKey::generate().map_err(|e| Error::rejected(Code::RngFailed, e.to_string()))?;
        let key_id = self.keys.save(&key).await?;
        let audit = [self.audit(
            "hub.init",
            &id,
            json!({"region": region.as_str(), "name": name, "key": key_id}),
        )];
        self.store
            .insert_key(
                &KeyRow {
                    key_id: key_id.clone(),
                    owner: HUB_OWNER.into(),
                    controller: id.clone(),
                    not_before: now,
                    not_after: None,
                    revoked_at: None,
                    revoked_reason: None,
                    created_at: now,
                    purpose: KeyPurpose::Both.as_str().to_owned(),
                },
                &audit,
            )
            .await?;
        self.pin_new_anchor(&id, key.public()).await?;
        self.store.set_setting("hub_name", name).await?;
        self.store.set_setting("region", region.as_str()).await?;
        self.register_service_schemas().await?;
        self.identity().await
    }

    /// The hub's identity; `HUB_NOT_INITIALISED` before [`Service::init_region`].
    pub async fn identity(&self) -> Result<HubIdentity> {
        let region = self.store.setting("region").await?.ok_or_else(|| {
            Error::rejected(
                Code::HubNotInitialised,
                "this hub has no region yet: run `tongban init`",
            )
        })?;
        let name = self.store.setting("hub_name").await?.unwrap_or_default();
        let (_, record) = self.current_key(HUB_OWNER, KeyPurpose::Both).await?;
        Ok(HubIdentity {
            id: format!("urn:tongban:hub:{region}"),
            region,
            name,
            anchor: record.public.to_multikey(),
        })
    }

    /// Registers a department.
    pub async fn add_department(&self, d: NewDepartment) -> Result<DepartmentRow> {
        let code = Uscc::parse(&d.code).map_err(|e| {
            Error::rejected(Code::DepartmentCodeInvalid, format!("{}: {e}", d.code))
        })?;
        let region = RegionCode::parse(&d.region_code).map_err(|e| {
            Error::rejected(Code::RegionCodeInvalid, format!("{}: {e}", d.region_code))
        })?;
        // Signed into its licences as their issuer's name: as given.
        text::name(
            Code::DepartmentNameInvalid,
            "a department's name",
            &d.name,
            MAX_NAME_CHARS,
        )?;
        if let Some(contact) = &d.contact {
            text::name(
                Code::DepartmentContactInvalid,
                "a department's contact",
                contact,
                MAX_NAME_CHARS,
            )?;
        }
        if let Some(parent) = &d.parent_code {
            let Some(p) = self.store.department(parent).await? else {
                return Err(Error::rejected(
                    Code::DepartmentParentUnknown,
                    format!("parent department {parent} is not registered"),
                ));
            };
            // The three-level platform: district → town/street → village.
            let rank = |l: PlatformLevel| match l {
                PlatformLevel::District => 0,
                PlatformLevel::Town => 1,
                PlatformLevel::Village => 2,
            };
            if rank(p.platform_level) > rank(d.platform_level) {
                return Err(Error::rejected(
                    Code::DepartmentLevelInvalid,
                    format!(
                        "a {} department cannot sit under a {} department",
                        d.platform_level.as_str(),
                        p.platform_level.as_str()
                    ),
                ));
            }
        }
        let row = DepartmentRow {
            code: code.to_string(),
            name: d.name,
            region_code: region.to_string(),
            platform_level: d.platform_level,
            parent_code: d.parent_code,
            contact: d.contact,
            status: DepartmentStatus::Active,
            created_at: self.now(),
        };
        let audit = [self.audit(
            "dept.add",
            &row.code,
            json!({"name": row.name, "region": row.region_code, "level": row.platform_level.as_str(), "parent": row.parent_code, "contact": row.contact}),
        )];
        if !self.store.insert_department(&row, &audit).await? {
            return Err(Error::rejected(
                Code::DepartmentExists,
                format!("department {code} is already registered"),
            ));
        }
        Ok(row)
    }

    /// Every department, by code.
    pub async fn departments(&self) -> Result<Vec<DepartmentRow>> {
        Ok(self.store.departments().await?)
    }

    /// A department's (or the hub's, `hub`) signing keys, with their windows.
    pub async fn keys_of(&self, owner: &str) -> Result<Vec<KeyRow>> {
        Ok(self.store.keys_of(owner).await?)
    }

    /// Signing keys with their windows: `owner`'s, or every key.
    pub async fn keys(&self, owner: Option<&str>) -> Result<Vec<KeyRow>> {
        Ok(match owner {
            Some(o) => self.store.keys_of(o).await?,
            None => self.store.all_keys().await?,
        })
    }

    /// A registered department, or `DEPARTMENT_UNKNOWN`.
    pub async fn department(&self, code: &str) -> Result<DepartmentRow> {
        self.store.department(code).await?.ok_or_else(|| {
            Error::rejected(
                Code::DepartmentUnknown,
                format!("department {code} is not registered"),
            )
        })
    }

    /// An active department, or why it may not act.
    pub async fn active_department(&self, code: &str) -> Result<DepartmentRow> {
        let d = self.department(code).await?;
        match d.status {
            DepartmentStatus::Active => Ok(d),
            DepartmentStatus::Suspended => Err(Error::rejected(
                Code::DepartmentSuspended,
                format!("department {code} is suspended"),
            )),
            DepartmentStatus::Retired => Err(Error::rejected(
                Code::DepartmentRetired,
                format!("department {code} is retired"),
            )),
        }
    }

    /// Creates a signing key for a department (its secret in this hub's key
    /// store), valid from `not_before` (now if `None`), for one purpose:
    /// licences (`Issue`) or envelopes (`Exchange`). The hub's own keys are
    /// `Both` whatever is asked: its anchor signs trust lists and answers.
    pub async fn new_signing_key(
        &self,
        owner: &str,
        purpose: KeyPurpose,
        not_before: Option<OffsetDateTime>,
    ) -> Result<KeyRow> {
        let purpose = if owner == HUB_OWNER {
            KeyPurpose::Both
        } else if purpose == KeyPurpose::Both {
            return Err(Error::rejected(
                Code::KeyPurposeInvalid,
                "a department's key signs licences (issue) or envelopes (exchange), not both",
            ));
        } else {
            purpose
        };
        let controller = if owner == HUB_OWNER {
            self.identity().await?.id
        } else {
            let dept = self.department(owner).await?;
            let code = Uscc::parse_lenient(&dept.code)
                .map_err(|e| Error::rejected(Code::DepartmentCodeInvalid, e.to_string()))?;
            organisation_urn(&code)
        };
        let now = self.now();
        let key =
            SigningKey::generate().map_err(|e| Error::rejected(Code::RngFailed, e.to_string()))?;
        let key_id = self.keys.save(&key).await?;
        let row = KeyRow {
            key_id,
            owner: owner.to_owned(),
            controller,
            not_before: not_before.unwrap_or(now),
            not_after: None,
            revoked_at: None,
            revoked_reason: None,
            created_at: now,
            purpose: purpose.as_str().to_owned(),
        };
        let audit = [self.audit(
            "key.new",
            &row.key_id,
            json!({"owner": row.owner, "controller": row.controller, "purpose": row.purpose, "notBefore": tongban_seal::timefmt::format_rfc3339(row.not_before)}),
        )];
        if owner == HUB_OWNER {
            self.endorse_hub_key(&row).await?;
        }
        self.store.insert_key(&row, &audit).await?;
        Ok(row)
    }

    /// The key `owner` signs with now for `purpose`: in its window, not
    /// revoked, of that purpose (or a key of before purposes, which signed
    /// both), the most recent such, with its secret on this node.
    pub async fn current_key(
        &self,
        owner: &str,
        purpose: KeyPurpose,
    ) -> Result<(SigningKey, KeyRecord)> {
        let now = self.now();
        let mut candidates: Vec<KeyRow> = Vec::new();
        for k in self.store.keys_of(owner).await? {
            let usable = key_record(&k)
                .is_ok_and(|r| r.validity.check_at(now).is_ok() && r.purpose.covers(purpose));
            if usable && self.keys.has(&k.key_id).await? {
                candidates.push(k);
            }
        }
        // The newest window first; among equals, a key of this very
        // purpose before one of before purposes.
        candidates.sort_by_key(|k| (k.not_before, k.purpose == purpose.as_str()));
        let row = candidates.pop().ok_or_else(|| {
            Error::rejected(
                Code::SigningKeyNone,
                format!(
                    "{owner} has no {purpose} key usable now on this node{}",
                    if purpose == KeyPurpose::Exchange {
                        " (its system may hold its own: `tongban key register`)"
                    } else {
                        ""
                    }
                ),
            )
        })?;
        let key = self.keys.load(&row.key_id).await?;
        Ok((key, key_record(&row)?))
    }

    /// Every key's public record, as verifiers need them.
    pub async fn key_records(&self) -> Result<Vec<KeyRecord>> {
        self.store
            .all_keys()
            .await?
            .iter()
            .map(key_record)
            .collect()
    }

    /// Publishes a licence type from its schema document (a schema of kind
    /// `licence-type` whose id is the type code).
    pub async fn publish_licence_type(&self, schema: Value) -> Result<(LicenceType, SchemaInsert)> {
        let licence_type = LicenceType::from_schema(schema.clone())?;
        let published = self
            .publish_schema("licence-type", None, None, schema, false)
            .await?;
        Ok((licence_type, published.outcome))
    }

    /// The licence types published in the store.
    pub fn licence_types(&self) -> Arc<LicenceTypes> {
        self.types
            .read()
            .map(|t| Arc::clone(&t))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    pub(crate) async fn reload_licence_types(&self) -> Result<()> {
        let mut types = LicenceTypes::new();
        for row in self.store.schemas(Some("licence-type")).await? {
            let schema: Value = serde_json::from_str(&row.content).map_err(|e| {
                Error::Store(tongban_store::StoreError::Corrupt(format!(
                    "schema {}@{}: {e}",
                    row.id, row.version
                )))
            })?;
            let t = LicenceType::from_schema(schema).map_err(|e| {
                Error::Store(tongban_store::StoreError::Corrupt(format!(
                    "schema {}@{}: {e}",
                    row.id, row.version
                )))
            })?;
            types.insert(t);
        }
        let mut slot = self.types.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(types);
        Ok(())
    }
}

/// A stored key row as a verifier's key record.
pub fn key_record(row: &KeyRow) -> Result<KeyRecord> {
    let public = PublicKey::from_multikey(&row.key_id).map_err(|e| {
        Error::Store(tongban_store::StoreError::Corrupt(format!(
            "key {}: {e}",
            row.key_id
        )))
    })?;
    let purpose = KeyPurpose::parse(&row.purpose).ok_or_else(|| {
        Error::Store(tongban_store::StoreError::Corrupt(format!(
            "key {}: purpose {:?}",
            row.key_id, row.purpose
        )))
    })?;
    Ok(KeyRecord {
        controller: row.controller.clone(),
        public,
        validity: Validity {
            not_before: row.not_before,
            not_after: row.not_after,
            revoked_at: row.revoked_at,
        },
        purpose,
    })
}

impl Service {
    /// Suspends, reactivates or retires a department. Retirement is final.
    pub async fn set_department_status(
        &self,
        code: &str,
        status: DepartmentStatus,
        reason: &str,
    ) -> Result<DepartmentRow> {
        let current = self.department(code).await?;
        text::reason("a department status change", reason)?;
        if current.status == DepartmentStatus::Retired {
            return Err(Error::rejected(
                Code::DepartmentRetired,
                format!("department {code} is retired; retirement is final"),
            ));
        }
        if current.status == status {
            return Err(Error::rejected(
                Code::DepartmentStatusUnchanged,
                format!("department {code} is already {}", status.as_str()),
            ));
        }
        let action = match status {
            DepartmentStatus::Active => "dept.activate",
            DepartmentStatus::Suspended => "dept.suspend",
            DepartmentStatus::Retired => "dept.retire",
        };
        let audit = [self.audit(
            action,
            code,
            json!({"from": current.status.as_str(), "to": status.as_str(), "reason": reason}),
        )];
        self.store
            .set_department_status(code, status, self.now(), &audit)
            .await?;
        self.maybe_checkpoint().await?;
        self.department(code).await
    }

    /// Rotates `key_id`: a new key for the same owner, valid from now; the
    /// old one stays valid for `overlap` so that signers can switch over,
    /// and keeps verifying what it signed before.
    pub async fn rotate_key(
        &self,
        key_id: &str,
        overlap: time::Duration,
    ) -> Result<(KeyRow, KeyRow)> {
        let old = self
            .store
            .key(key_id)
            .await?
            .ok_or_else(|| Error::rejected(Code::KeyUnknown, format!("no key {key_id}")))?;
        if let Some(at) = old.revoked_at {
            return Err(Error::rejected(
                Code::KeyRevoked,
                format!(
                    "key {key_id} was revoked at {}; a revoked key cannot be rotated (create a new key instead)",
                    tongban_seal::timefmt::format_rfc3339(at)
                ),
            ));
        }
        let now = self.now();
        if old.not_after.is_some_and(|t| t <= now) {
            return Err(Error::rejected(
                Code::KeyExpired,
                format!("key {key_id} is already out of its window"),
            ));
        }
        if overlap.is_negative() || overlap > time::Duration::days(365) {
            return Err(Error::rejected(
                Code::OverlapInvalid,
                "the overlap is between 0 and 365 days",
            ));
        }
        // A key of before purposes is succeeded by an issuing key: exchange
        // keys are the department's own (`key register`) or made apart.
        let purpose = match KeyPurpose::parse(&old.purpose) {
            Some(KeyPurpose::Exchange) => KeyPurpose::Exchange,
            _ => KeyPurpose::Issue,
        };
        if purpose == KeyPurpose::Exchange && !self.keys.has(key_id).await? {
            return Err(Error::rejected(
                Code::KeyNotHeld,
                format!(
                    "{key_id} is a department's own exchange key: its system makes the successor and registers it (`tongban key register`)"
                ),
            ));
        }
        let new = self.new_signing_key(&old.owner, purpose, Some(now)).await?;
        let closes = now + overlap;
        let audit = [self.audit(
            "key.rotate",
            key_id,
            json!({"owner": old.owner, "successor": new.key_id, "notAfter": tongban_seal::timefmt::format_rfc3339(closes)}),
        )];
        self.store.close_key_window(key_id, closes, &audit).await?;
        self.maybe_checkpoint().await?;
        let old = self.store.key(key_id).await?.unwrap_or(old);
        Ok((old, new))
    }

    /// Revokes a key as of `at` (now if `None`): signatures made at or after
    /// that instant fail, earlier ones still verify.
    pub async fn revoke_signing_key(
        &self,
        key_id: &str,
        at: Option<time::OffsetDateTime>,
        reason: &str,
    ) -> Result<KeyRow> {
        let key = self
            .store
            .key(key_id)
            .await?
            .ok_or_else(|| Error::rejected(Code::KeyUnknown, format!("no key {key_id}")))?;
        if key.revoked_at.is_some() {
            return Err(Error::rejected(
                Code::KeyAlreadyRevoked,
                format!("key {key_id} is already revoked"),
            ));
        }
        text::reason("a key revocation", reason)?;
        let at = at.unwrap_or_else(|| self.now());
        let audit = [self.audit(
            "key.revoke",
            key_id,
            json!({"owner": key.owner, "revokedAt": tongban_seal::timefmt::format_rfc3339(at), "reason": reason}),
        )];
        self.store.revoke_key(key_id, at, reason, &audit).await?;
        self.maybe_checkpoint().await?;
        self.store
            .key(key_id)
            .await?
            .ok_or_else(|| Error::rejected(Code::KeyUnknown, format!("no key {key_id}")))
    }
}
