//! Exchange keys a department holds itself, and the audited way to hand
//! out one the hub made.
//!
//! One key, one purpose: a department's issuing key signs its licences and
//! never leaves the hub (which issues on its behalf); its exchange key
//! signs its envelopes. Its system may generate that key itself and hand
//! the hub only the public half in a registration request signed by the
//! key (`tongban_proto::keyreg`); the hub then holds no secret of it.
//!
//! `register_exchange_key` stores the public half from a department's signed
//! registration request (`key.register`); `export_exchange_secret` hands out an
//! exchange key the hub made, audited as `key.export`; an issuing key never
//! leaves.

use serde_json::{Value, json};
use tongban_licence::credential::organisation_urn;
use tongban_seal::KeyPurpose;
use tongban_store::{DepartmentStatus, KeyRow};
use zeroize::Zeroizing;

use crate::error::Code;
use crate::{Error, Result, Service};

impl Service {
    /// Registers the public half of an exchange key a department's system
    /// generated itself, from its registration request: the request must be
    /// signed by that key (proof that the sender holds the secret), made
    /// within the last 30 days, for an active department of this hub, and
    /// the key not registered before. Valid from now; audited
    /// (`key.register`). The hub holds no secret of it.
    pub async fn register_exchange_key(&self, request: &Value) -> Result<KeyRow> {
        let registration = tongban_seal::keyreg::verify(request, self.now())?;
        let department = self.department(&registration.owner).await?;
        if department.status != DepartmentStatus::Active {
            return Err(Error::rejected(
                Code::DepartmentSuspended,
                format!("{} is not active", department.code),
            ));
        }
        let code = tongban_codes::Uscc::parse_lenient(&department.code)
            .map_err(|e| Error::rejected(Code::DepartmentCodeInvalid, e.to_string()))?;
        let key_id = registration.public.to_multikey();
        if self.store.key(&key_id).await?.is_some() {
            return Err(Error::rejected(
                Code::KeyExists,
                format!("{key_id} is already registered"),
            ));
        }
        let now = self.now();
        let row = KeyRow {
            key_id,
            owner: department.code.clone(),
            controller: organisation_urn(&code),
            not_before: now,
            not_after: None,
            revoked_at: None,
            revoked_reason: None,
            created_at: now,
            purpose: KeyPurpose::Exchange.as_str().to_owned(),
        };
        let audit = [self.audit(
            "key.register",
            &row.key_id,
            json!({
                "owner": row.owner,
                "controller": row.controller,
                "purpose": row.purpose,
                "requestCreated": tongban_seal::timefmt::format_rfc3339(registration.created),
            }),
        )];
        if !self.store.insert_key(&row, &audit).await? {
            return Err(Error::rejected(
                Code::KeyExists,
                format!("{} is already registered", row.key_id),
            ));
        }
        self.maybe_checkpoint().await?;
        Ok(row)
    }

    /// Hands out the secret of `owner`'s current exchange key, which this
    /// hub made (`tongban key new --purpose exchange`), for its system:
    /// audited (`key.export`, naming the key and who exported it). A key
    /// that also signs licences (one made before purposes were kept apart)
    /// is refused with `KEY_NOT_EXPORTABLE`: an issuing key never leaves
    /// the hub. The secret is zeroised when the returned value is dropped.
    pub async fn export_exchange_secret(&self, owner: &str) -> Result<(String, Zeroizing<String>)> {
        let (key, record) = self.current_key(owner, KeyPurpose::Exchange).await?;
        if record.purpose != KeyPurpose::Exchange {
            return Err(Error::rejected(
                Code::KeyNotExportable,
                format!(
                    "{}'s key {} signs licences too, and an issuing key never leaves the hub: give it an exchange key (`tongban key new --owner {owner} --purpose exchange`, or let its system register its own)",
                    owner,
                    record.key_id()
                ),
            ));
        }
        let key_id = record.key_id();
        let audit = [self.audit(
            "key.export",
            &key_id,
            json!({"owner": owner, "purpose": record.purpose.as_str()}),
        )];
        self.store.append_audit(&audit).await?;
        Ok((key_id, key.to_secret_multikey()))
    }
}
