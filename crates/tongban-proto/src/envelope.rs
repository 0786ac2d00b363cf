//! Signed envelopes: every message, request and response that crosses the
//! hub is one, signed by its sender's department key.
//!
//! ```json
//! {"id": "7f3a…", "sender": "11440114MB2C00007U", "recipient": "11440114MB2C00015N",
//!  "topic": null, "resource": "business-registration", "schema": "business-registration@1",
//!  "kind": "message", "correlationId": null, "time": "2026-11-25T03:00:00Z",
//!  "payload": {…}, "payloadRef": null, "keyId": "z6Mk…", "signature": "z…"}
//! ```
//!
//! The signature is Ed25519 over `"tongban-envelope-v1\n" ‖ JCS(envelope
//! without "signature")` (RFC 8785). The hub checks it against the key named
//! by `keyId`, which must belong to the sender and be valid at `time`.

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};
use tongban_seal::batch::{self, BatchItem};
use tongban_seal::timefmt::{format_rfc3339, parse_rfc3339};
use tongban_seal::{KeyRecord, KeyUseError, Signature, SigningKey, jcs};

use crate::error::{ErrorCode, ProtoError};
use crate::ops::MAX_MEDIA_TYPE_LEN;

/// Domain separation for envelope signatures.
pub const DOMAIN: &[u8] = b"tongban-envelope-v1\n";
/// Longest envelope id (and `correlationId`, which names one).
pub const MAX_ID_LEN: usize = 128;
/// Longest `sender` (and `recipient`).
pub const MAX_SENDER_LEN: usize = 64;
/// Longest `resource` (and `topic`).
pub const MAX_RESOURCE_LEN: usize = 100;
/// Longest `schema`.
pub const MAX_SCHEMA_LEN: usize = 120;
/// How far an envelope's time may be from the hub's clock, either way.
pub const DEFAULT_TIME_WINDOW: Duration = Duration::minutes(5);

/// What an envelope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Stored and forwarded to a recipient, or published on a topic.
    Message,
    /// A question to a provider, answered by a `response`.
    Request,
    /// A provider's answer to a request (`correlationId` = the request's id).
    Response,
}

impl Kind {
    /// As it travels.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Request => "request",
            Kind::Response => "response",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "message" => Some(Kind::Message),
            "request" => Some(Kind::Request),
            "response" => Some(Kind::Response),
            _ => None,
        }
    }
}

/// A payload kept in the hub's blob store, named by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRef {
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
}

/// An envelope to sign.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Unique per sender (1–128 of A-Z a-z 0-9 . _ : -).
    pub id: String,
    /// Sender's department code.
    pub sender: String,
    /// Recipient department (messages to one department; requests are routed by resource).
    pub recipient: Option<String>,
    /// Topic (published messages).
    pub topic: Option<String>,
    /// The resource this exchange concerns (authorisation).
    pub resource: String,
    /// Payload schema, `id@version`.
    pub schema: String,
    /// What it is.
    pub kind: Kind,
    /// For responses: the request's id.
    pub correlation_id: Option<String>,
    /// When it was made.
    pub time: OffsetDateTime,
    /// Inline payload.
    pub payload: Option<Value>,
    /// Or a reference to a blob.
    pub payload_ref: Option<PayloadRef>,
}

impl Draft {
    /// The JSON object, signed with `key` (whose Multikey becomes `keyId`).
    pub fn sign(&self, key: &SigningKey) -> Result<Value, ProtoError> {
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("sender".into(), self.sender.clone().into());
        m.insert(
            "recipient".into(),
            self.recipient.clone().map_or(Value::Null, Value::from),
        );
        m.insert(
            "topic".into(),
            self.topic.clone().map_or(Value::Null, Value::from),
        );
        m.insert("resource".into(), self.resource.clone().into());
        m.insert("schema".into(), self.schema.clone().into());
        m.insert("kind".into(), self.kind.as_str().into());
        m.insert(
            "correlationId".into(),
            self.correlation_id.clone().map_or(Value::Null, Value::from),
        );
        m.insert("time".into(), format_rfc3339(self.time).into());
        m.insert(
            "payload".into(),
            self.payload.clone().unwrap_or(Value::Null),
        );
        m.insert(
            "payloadRef".into(),
            match &self.payload_ref {
                None => Value::Null,
                Some(r) => serde_json::json!({"sha256": r.sha256, "size": r.size, "mediaType": r.media_type}),
            },
        );
        m.insert("keyId".into(), key.public().to_multikey().into());
        for (name, value) in &m {
            jcs::check_signable(value, &mut format!("/{name}"))
                .map_err(|e| ProtoError::new(ErrorCode::EnvelopeMalformed, e.to_string()))?;
        }
        let signed = signed_bytes(&m);
        let signature = key.sign(&signed);
        m.insert("signature".into(), signature.to_multibase().into());
        Ok(Value::Object(m))
    }
}

fn signed_bytes(m: &Map<String, Value>) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    out.extend_from_slice(&jcs::canonicalize_object_with(m, &["signature"], &[]));
    out
}

/// The header fields of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Envelope id.
    pub id: String,
    /// Sender's department code.
    pub sender: String,
    /// Recipient, if any.
    pub recipient: Option<String>,
    /// Topic, if any.
    pub topic: Option<String>,
    /// Resource.
    pub resource: String,
    /// Schema `id@version`.
    pub schema: String,
    /// Kind.
    pub kind: Kind,
    /// Correlation id (responses).
    pub correlation_id: Option<String>,
    /// Envelope time.
    pub time: OffsetDateTime,
    /// Signing key (Multikey).
    pub key_id: String,
    /// Payload reference, if the payload is in the blob store.
    pub payload_ref: Option<PayloadRef>,
}

impl Header {
    /// The schema split into id and version.
    pub fn schema_parts(&self) -> (&str, &str) {
        self.schema.split_once('@').unwrap_or((&self.schema, ""))
    }
}

/// An envelope whose shape is right, not yet verified.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// Header.
    pub header: Header,
    value: Map<String, Value>,
    signature: Signature,
    signed: Vec<u8>,
}

/// An envelope whose signature, key and sender verified. Only [`Parsed::verify`]
/// and [`verify_batch`] build one.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Header.
    pub header: Header,
    value: Map<String, Value>,
    digest: String,
}

impl Verified {
    /// The payload (`null` when it is by reference).
    pub fn payload(&self) -> &Value {
        self.value.get("payload").unwrap_or(&Value::Null)
    }

    /// The whole envelope, as signed.
    pub fn to_value(&self) -> Value {
        Value::Object(self.value.clone())
    }

    /// The whole envelope as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.value).unwrap_or_default()
    }

    /// Hex SHA-256 of the signed bytes (for the audit log).
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

fn malformed(m: impl Into<String>) -> ProtoError {
    ProtoError::new(ErrorCode::EnvelopeMalformed, m)
}

fn check_token(what: &str, s: &str, max: usize) -> Result<(), ProtoError> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(malformed(format!(
            "{what} must be 1 to {max} of A-Z a-z 0-9 . _ : - @"
        )))
    }
}

/// Parses an envelope object and computes the bytes its signature covers.
pub fn parse(value: Value) -> Result<Parsed, ProtoError> {
    let Value::Object(map) = value else {
        return Err(malformed("an envelope is a JSON object"));
    };
    for (name, v) in &map {
        jcs::check_signable(v, &mut format!("/{name}")).map_err(|e| malformed(e.to_string()))?;
    }
    let text = |k: &str| -> Result<String, ProtoError> {
        map.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| malformed(format!("envelope field {k:?} must be a string")))
    };
    // Each names something the hub looks up (a department, a resource, a
    // request's id): never longer than what it names may be.
    let opt_text = |k: &str, max: usize| -> Result<Option<String>, ProtoError> {
        match map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(malformed(format!(
                "envelope field {k:?} is at most {max} bytes"
            ))),
            Some(_) => Err(malformed(format!(
                "envelope field {k:?} must be a string or null"
            ))),
        }
    };
    let id = text("id")?;
    check_token("id", &id, MAX_ID_LEN)?;
    let sender = text("sender")?;
    check_token("sender", &sender, MAX_SENDER_LEN)?;
    let recipient = opt_text("recipient", MAX_SENDER_LEN)?;
    let topic = opt_text("topic", MAX_RESOURCE_LEN)?;
    let resource = text("resource")?;
    check_token("resource", &resource, MAX_RESOURCE_LEN)?;
    let schema = text("schema")?;
    check_token("schema", &schema, MAX_SCHEMA_LEN)?;
    if !schema.contains('@') {
        return Err(malformed("schema is id@version"));
    }
    let kind = Kind::parse(&text("kind")?)
        .ok_or_else(|| malformed("kind is message, request or response"))?;
    let correlation_id = opt_text("correlationId", MAX_ID_LEN)?;
    let time_text = text("time")?;
    let time =
        parse_rfc3339(&time_text).map_err(|e| malformed(format!("time {time_text:?}: {e}")))?;
    let key_id = text("keyId")?;
    let signature = Signature::from_multibase(&text("signature")?)
        .map_err(|e| ProtoError::new(ErrorCode::SignatureInvalid, format!("signature: {e}")))?;
    let payload_ref = match map.get("payloadRef") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => Some(PayloadRef {
            sha256: r
                .get("sha256")
                .and_then(Value::as_str)
                .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| malformed("payloadRef.sha256 must be 64 hex digits"))?
                .to_ascii_lowercase(),
            size: r
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| malformed("payloadRef.size"))?,
            media_type: match r.get("mediaType") {
                None | Some(Value::Null) => "application/octet-stream".to_owned(),
                Some(Value::String(m)) if m.len() <= MAX_MEDIA_TYPE_LEN => m.clone(),
                Some(_) => {
                    return Err(malformed(format!(
                        "payloadRef.mediaType is a string of at most {MAX_MEDIA_TYPE_LEN} bytes"
                    )));
                }
            },
        }),
        Some(_) => return Err(malformed("payloadRef must be an object or null")),
    };
    match kind {
        Kind::Message if recipient.is_none() == topic.is_none() => {
            return Err(malformed(
                "a message names exactly one of recipient and topic",
            ));
        }
        Kind::Response if correlation_id.is_none() => {
            return Err(malformed("a response names the request in correlationId"));
        }
        _ => {}
    }
    let has_payload = !matches!(map.get("payload"), None | Some(Value::Null));
    if has_payload && payload_ref.is_some() {
        return Err(malformed("payload and payloadRef are exclusive"));
    }
    let signed = signed_bytes(&map);
    Ok(Parsed {
        header: Header {
            id,
            sender,
            recipient,
            topic,
            resource,
            schema,
            kind,
            correlation_id,
            time,
            key_id,
            payload_ref,
        },
        value: map,
        signature,
        signed,
    })
}

impl Parsed {
    /// Checks the envelope's time against the hub's clock.
    pub fn check_time(&self, now: OffsetDateTime, window: Duration) -> Result<(), ProtoError> {
        let t = self.header.time;
        if t < now - window || t > now + window {
            return Err(ProtoError::new(
                ErrorCode::StaleMessage,
                format!(
                    "envelope time {} is more than {} s from the hub's clock {}",
                    format_rfc3339(t),
                    window.whole_seconds(),
                    format_rfc3339(now)
                ),
            ));
        }
        Ok(())
    }

    /// Checks that `key` may sign for the sender at the envelope's time.
    /// A department's sender is its code (controller `urn:uscc:{code}`);
    /// the hub's own answers name the hub's id (`urn:tongban:hub:{region}`).
    pub fn check_key(&self, key: &KeyRecord) -> Result<(), ProtoError> {
        let sender = &self.header.sender;
        let controls = if sender.starts_with("urn:") {
            key.controller == *sender
        } else {
            key.controller.strip_prefix("urn:uscc:") == Some(sender.as_str())
        };
        if !controls {
            return Err(ProtoError::new(
                ErrorCode::KeyNotSenders,
                format!(
                    "key {} belongs to {}, not to the sender {}",
                    self.header.key_id, key.controller, self.header.sender
                ),
            ));
        }
        if !key.purpose.covers(tongban_seal::KeyPurpose::Exchange) {
            return Err(ProtoError::new(
                ErrorCode::KeyWrongPurpose,
                format!(
                    "key {} has purpose {}, not exchange: envelopes are signed with the department's exchange key",
                    self.header.key_id, key.purpose
                ),
            ));
        }
        key.validity.check_at(self.header.time).map_err(|e| {
            let code = match e {
                KeyUseError::Revoked { .. } => ErrorCode::KeyRevoked,
                KeyUseError::Expired { .. } => ErrorCode::KeyExpired,
                _ => ErrorCode::KeyNotYetValid,
            };
            ProtoError::new(code, e.to_string())
        })
    }

    /// Verifies the signature (strictly) with `key`, after [`Parsed::check_key`].
    pub fn verify(self, key: &KeyRecord) -> Result<Verified, ProtoError> {
        self.check_key(key)?;
        if !key.public.verify_strict(&self.signed, &self.signature) {
            return Err(invalid_signature());
        }
        Ok(self.into_verified())
    }

    fn into_verified(self) -> Verified {
        Verified {
            header: self.header,
            digest: tongban_seal::hex(&tongban_seal::sha256(&self.signed)),
            value: self.value,
        }
    }
}

fn invalid_signature() -> ProtoError {
    ProtoError::new(
        ErrorCode::SignatureInvalid,
        "the signature does not match the envelope and its key",
    )
}

/// Verifies many envelopes with one batch equation (same outcome as
/// [`Parsed::verify`] on each; see `tongban_seal::batch`).
pub fn verify_batch(items: Vec<(Parsed, KeyRecord)>) -> Vec<Result<Verified, ProtoError>> {
    let checks: Vec<Result<(), ProtoError>> = items.iter().map(|(p, k)| p.check_key(k)).collect();
    let batch_items: Vec<BatchItem<'_>> = items
        .iter()
        .zip(&checks)
        .filter(|(_, c)| c.is_ok())
        .map(|((p, k), _)| BatchItem {
            key: &k.public,
            message: &p.signed,
            signature: &p.signature,
        })
        .collect();
    let mut outcomes = batch::verify_batch(&batch_items).into_iter();
    items
        .into_iter()
        .zip(checks)
        .map(|((p, _), check)| {
            check?;
            if outcomes.next().unwrap_or(false) {
                Ok(p.into_verified())
            } else {
                Err(invalid_signature())
            }
        })
        .collect()
}

/// A fresh envelope id: 128 random bits, hex.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // Fall back to the clock; ids need only be unique per sender.
        let t = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        b = t.to_be_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}
