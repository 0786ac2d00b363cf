//! What the hub tells anyone, without authentication: whether it can
//! serve, a licence's current status for whoever holds its printout, and
//! the status lists it publishes. Nothing here writes.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use tongban_codes::LicenceIdentifier;
use tongban_licence::StatusPurpose;
use tongban_seal::timefmt::format_rfc3339;
use tongban_store::LicenceState;

use crate::error::Code;
use crate::{Error, Result, Service};

/// A licence's status as of a moment, with only what its printout shows
/// besides the holder: no holder name, code or number, so that guessing
/// identifiers reveals nothing about people.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceCheck {
    /// 证照标识.
    pub identifier: String,
    /// 证照名称, as signed.
    pub name: Option<String>,
    /// 证照类型代码.
    pub type_code: String,
    /// The issuing department's code.
    pub issuer_code: String,
    /// Its name.
    pub issuer_name: String,
    /// Start of validity (RFC 3339).
    pub valid_from: String,
    /// End of validity, if any.
    pub valid_until: Option<String>,
    /// Current status.
    pub status: CheckedStatus,
    /// When it was checked.
    pub checked_at: String,
}

/// A licence's status as a person checking a printout reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckedStatus {
    /// 现势: in force.
    Valid,
    /// 中止: suspended by its issuer (reversible).
    Suspended,
    /// 注销: revoked by its issuer (final).
    Revoked,
    /// Its validity period has ended.
    Expired,
    /// Its validity period has not begun.
    NotYetValid,
}

impl CheckedStatus {
    /// The status at `now`: the issuer's decision first, then the period.
    pub fn at(
        state: LicenceState,
        valid_from: OffsetDateTime,
        valid_until: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Self {
        match state {
            LicenceState::Revoked => CheckedStatus::Revoked,
            LicenceState::Suspended => CheckedStatus::Suspended,
            LicenceState::Valid if valid_until.is_some_and(|u| now > u) => CheckedStatus::Expired,
            LicenceState::Valid if now < valid_from => CheckedStatus::NotYetValid,
            LicenceState::Valid => CheckedStatus::Valid,
        }
    }
}

impl Service {
    /// Whether this hub can serve: its store answers and has applied every
    /// migration this build carries.
    pub async fn ready(&self) -> Result<()> {
        Ok(self.store.ready().await?)
    }

    /// A licence's current status (no licence-use record: nothing about
    /// its holder is told).
    pub async fn licence_check(&self, identifier: &str) -> Result<LicenceCheck> {
        LicenceIdentifier::parse(identifier)
            .map_err(|e| Error::rejected(Code::IdentifierInvalid, format!("{identifier}: {e}")))?;
        let row = self.store.licence(identifier).await?.ok_or_else(|| {
            Error::rejected(
                Code::LicenceNotFound,
                format!("no licence {identifier} in this region"),
            )
        })?;
        let issuer_name = match self.store.department(&row.issuer_code).await? {
            Some(d) => d.name,
            None => String::new(),
        };
        let name = serde_json::from_str::<Value>(&row.credential)
            .ok()
            .and_then(|c| c.get("name").and_then(Value::as_str).map(str::to_owned));
        let now = self.now();
        Ok(LicenceCheck {
            identifier: row.identifier,
            name,
            type_code: row.type_code,
            issuer_code: row.issuer_code,
            issuer_name,
            valid_from: format_rfc3339(row.valid_from),
            valid_until: row.valid_until.map(format_rfc3339),
            status: CheckedStatus::at(row.status, row.valid_from, row.valid_until, now),
            checked_at: format_rfc3339(now),
        })
    }

    /// An issuer's status list as published: only lists that hold
    /// licences exist (`STATUS_LIST_UNKNOWN` otherwise), so that asking
    /// for made-up sequences costs nothing.
    pub async fn published_status_list(
        &self,
        issuer: &str,
        purpose: StatusPurpose,
        sequence: u32,
    ) -> Result<Value> {
        let sequences = self.store.list_sequences(issuer).await?;
        if !sequences.contains(&i64::from(sequence)) {
            return Err(Error::rejected(
                Code::StatusListUnknown,
                format!("no {} list {sequence} of issuer {issuer}", purpose.as_str()),
            ));
        }
        self.status_list_credential(issuer, purpose, sequence).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_issuers_decision_comes_before_the_period() {
        let from = datetime!(2026-01-01 0:00 UTC);
        let until = Some(datetime!(2027-01-01 0:00 UTC));
        let before = datetime!(2025-06-01 0:00 UTC);
        let during = datetime!(2026-06-01 0:00 UTC);
        let after = datetime!(2027-06-01 0:00 UTC);
        use CheckedStatus::*;
        use LicenceState as S;
        for (state, now, expect) in [
            (S::Valid, during, Valid),
            (S::Valid, before, NotYetValid),
            (S::Valid, after, Expired),
            (S::Suspended, during, Suspended),
            (S::Suspended, after, Suspended),
            (S::Revoked, during, Revoked),
            (S::Revoked, before, Revoked),
        ] {
            assert_eq!(CheckedStatus::at(state, from, until, now), expect);
        }
        assert_eq!(CheckedStatus::at(S::Valid, from, None, after), Valid);
    }
}
