//! Key registration requests: how a department's system registers an
//! exchange key it generated itself, handing the hub only the public half
//! (like a certificate signing request). The request is signed by the new
//! key, which proves the sender holds its secret; the region's
//! administrator registers it (`tongban key register`), and the hub never
//! sees the secret. Format in `docs/PROTOCOL.md` §4.5.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::timefmt::{format_rfc3339, parse_rfc3339};
use crate::{KeyPurpose, PublicKey, Signature, SigningKey};

/// The request's `type`.
pub const REGISTRATION_TYPE: &str = "TongbanKeyRegistration";
/// How long a request may be registered after it was made, and how far
/// ahead of the registering hub's clock it may claim to be.
pub const REGISTRATION_VALID_FOR: time::Duration = time::Duration::days(30);
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);
/// The members of a request, all required.
const MEMBERS: [&str; 6] = [
    "type",
    "owner",
    "purpose",
    "publicKeyMultibase",
    "created",
    "signature",
];

/// A registration request whose signature verified with the key it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The department's code.
    pub owner: String,
    /// The key to register.
    pub public: PublicKey,
    /// Always [`KeyPurpose::Exchange`].
    pub purpose: KeyPurpose,
    /// When the department's system made it.
    pub created: OffsetDateTime,
}

/// Why a registration request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// Not a well-formed request (members, types, the key).
    #[error("not a key registration request: {0}")]
    Malformed(String),
    /// The signature does not verify with the key the request names: the
    /// sender did not prove it holds the secret.
    #[error("the request is not signed by the key it registers")]
    Unproven,
    /// Made too long ago, or in the future.
    #[error("{0}")]
    Stale(String),
}

impl RegistrationError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::Malformed(_) => "KEY_REGISTRATION_INVALID",
            RegistrationError::Unproven => "KEY_POSSESSION_UNPROVEN",
            RegistrationError::Stale(_) => "KEY_REGISTRATION_STALE",
        }
    }
}

/// A request to register `key`'s public half as `owner`'s exchange key,
/// signed with `key`.
pub fn sign(key: &SigningKey, owner: &str, created: OffsetDateTime) -> Value {
    let mut request = json!({
        "type": REGISTRATION_TYPE,
        "owner": owner,
        "purpose": KeyPurpose::Exchange.as_str(),
        "publicKeyMultibase": key.public().to_multikey(),
        "created": format_rfc3339(created),
    });
    let signature = key.sign(&crate::jcs::canonicalize(&request));
    request["signature"] = Value::from(signature.to_multibase());
    request
}

/// Checks a request: its shape, that it registers an exchange key, that
/// the key it names signed it, and that it was made within
/// [`REGISTRATION_VALID_FOR`] before `now`.
pub fn verify(request: &Value, now: OffsetDateTime) -> Result<Registration, RegistrationError> {
    let malformed = |m: String| RegistrationError::Malformed(m);
    let map = request
        .as_object()
        .ok_or_else(|| malformed("not a JSON object".into()))?;
    if let Some(other) = map.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(malformed(format!("unknown member {other:?}")));
    }
    let text = |name: &str| {
        map.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(format!("{name} is required, a string")))
    };
    if text("type")? != REGISTRATION_TYPE {
        return Err(malformed(format!("type is not {REGISTRATION_TYPE}")));
    }
    let owner = text("owner")?;
    if owner.is_empty() || owner.len() > 64 {
        return Err(malformed("owner is a department code".into()));
    }
    if text("purpose")? != KeyPurpose::Exchange.as_str() {
        return Err(malformed(
            "purpose is exchange: a department registers only its exchange keys; its issuing keys stay with the hub"
                .into(),
        ));
    }
    let public = PublicKey::from_multikey(text("publicKeyMultibase")?)
        .map_err(|e| malformed(format!("publicKeyMultibase: {e}")))?;
    let created =
        parse_rfc3339(text("created")?).map_err(|e| malformed(format!("created: {e}")))?;
    let signature = Signature::from_multibase(text("signature")?)
        .map_err(|e| malformed(format!("signature: {e}")))?;
    let mut unsigned: Map<String, Value> = map.clone();
    unsigned.remove("signature");
    let message = crate::jcs::canonicalize(&Value::Object(unsigned));
    if !public.verify_strict(&message, &signature) {
        return Err(RegistrationError::Unproven);
    }
    if created > now + CLOCK_SKEW {
        return Err(RegistrationError::Stale(format!(
            "made at {}, after this hub's clock ({})",
            format_rfc3339(created),
            format_rfc3339(now)
        )));
    }
    if created + REGISTRATION_VALID_FOR < now {
        return Err(RegistrationError::Stale(format!(
            "made at {}, more than {} days ago: make a new one",
            format_rfc3339(created),
            REGISTRATION_VALID_FOR.whole_days()
        )));
    }
    Ok(Registration {
        owner: owner.to_owned(),
        public,
        purpose: KeyPurpose::Exchange,
        created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-07 08:00 UTC);
    const OWNER: &str = "11440114MB2C00007U";

    fn check(request: &Value, now: OffsetDateTime) -> Result<(), &'static str> {
        verify(request, now).map(|_| ()).map_err(|e| e.code())
    }

    #[test]
    fn a_request_signed_by_its_key_verifies_and_nothing_else_does() {
        let key = SigningKey::from_seed(&[7; 32]);
        let request = sign(&key, OWNER, T0);
        let registration = verify(&request, T0).unwrap();
        assert_eq!(registration.owner, OWNER);
        assert_eq!(registration.public, key.public());
        assert_eq!(registration.purpose, KeyPurpose::Exchange);

        let other = SigningKey::from_seed(&[8; 32]);
        let mut swapped = request.clone();
        swapped["publicKeyMultibase"] = other.public().to_multikey().into();
        let mut moved = request.clone();
        moved["owner"] = "11440114MB2C00015N".into();
        let mut issuing = sign(&key, OWNER, T0);
        issuing["purpose"] = "issue".into();
        let mut extra = request.clone();
        extra["notAfter"] = "2027-01-01T00:00:00Z".into();
        let mut unsigned = request.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        let table: Vec<(&str, Value, OffsetDateTime, Result<(), &str>)> = vec![
            ("genuine", request.clone(), T0, Ok(())),
            (
                "another key named",
                swapped,
                T0,
                Err("KEY_POSSESSION_UNPROVEN"),
            ),
            ("another owner", moved, T0, Err("KEY_POSSESSION_UNPROVEN")),
            (
                "an issuing key",
                issuing,
                T0,
                Err("KEY_REGISTRATION_INVALID"),
            ),
            (
                "an unknown member",
                extra,
                T0,
                Err("KEY_REGISTRATION_INVALID"),
            ),
            (
                "no signature",
                unsigned,
                T0,
                Err("KEY_REGISTRATION_INVALID"),
            ),
            (
                "not an object",
                json!([1]),
                T0,
                Err("KEY_REGISTRATION_INVALID"),
            ),
            (
                "31 days later",
                request.clone(),
                T0 + time::Duration::days(31),
                Err("KEY_REGISTRATION_STALE"),
            ),
            (
                "made an hour ahead",
                request,
                T0 - time::Duration::hours(1),
                Err("KEY_REGISTRATION_STALE"),
            ),
        ];
        for (what, request, now, expect) in table {
            assert_eq!(check(&request, now), expect, "{what}");
        }
    }
}
