//! The operations frames carry. Each QUIC bidirectional stream serves one
//! purpose, fixed by its first frame (`send`, `request`, `listen`,
//! `subscribe`); `docs/PROTOCOL.md` describes every flow.

use serde_json::{Value, json};

use crate::error::{ErrorCode, ProtoError};

/// Longest topic name.
pub const MAX_TOPIC_LEN: usize = 100;
/// Most topics one subscribe frame may name.
pub const MAX_TOPICS: usize = 64;
/// Most deliveries a listener may have unacknowledged.
pub const MAX_IN_FLIGHT: u32 = 1024;
/// Default unacknowledged deliveries per listener.
pub const DEFAULT_IN_FLIGHT: u32 = 256;
/// Longest request timeout a client may ask for (ms).
pub const MAX_REQUEST_TIMEOUT_MS: u64 = 60_000;
/// Default request timeout (ms).
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// Most records one `records` frame may ask for.
pub const MAX_RECORDS: u32 = 100;

/// A frame from a department's system to the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientOp {
    /// Store and forward a message (to a recipient or a topic).
    Send {
        /// The signed envelope.
        envelope: Value,
    },
    /// Ask a provider; the answer comes back on the same stream.
    Request {
        /// The signed envelope (kind `request`).
        envelope: Value,
        /// How long to wait for the provider.
        timeout_ms: u64,
    },
    /// Receive deliveries (and requests to answer) on this stream.
    Listen {
        /// Most unacknowledged deliveries at a time.
        max_in_flight: u32,
    },
    /// A delivery was processed (on a listen stream).
    Ack {
        /// The delivery number from the `deliver` frame.
        delivery: u64,
    },
    /// Answer a delivered request (on a listen stream).
    Respond {
        /// The signed envelope (kind `response`).
        envelope: Value,
    },
    /// Subscribe to topics (durable: messages published while offline are kept).
    Subscribe {
        /// Topic names.
        topics: Vec<String>,
    },
    /// Stop a subscription.
    Unsubscribe {
        /// Topic names.
        topics: Vec<String>,
    },
    /// Store a blob: exactly `size` raw bytes follow this frame on the
    /// stream, then the stream ends.
    Upload {
        /// Lower-case hex SHA-256 of the bytes.
        sha256: String,
        /// Number of bytes.
        size: u64,
        /// Media type (a JSON type for payloads).
        media_type: String,
    },
    /// Fetch a blob the department may read.
    Download {
        /// Lower-case hex SHA-256.
        sha256: String,
    },
    /// Fetch the region's trust list: the hub's signed trust file (issuers,
    /// their keys with validity windows, status lists, licence types). The
    /// hub answers `blob` and the raw bytes, like a download.
    Trust,
    /// Query the records of a resource (what its provider published on its
    /// topic), in arrival order, after a sequence number.
    Records {
        /// The resource.
        resource: String,
        /// Only records with a greater sequence number (0: from the start).
        after: u64,
        /// At most this many (1 to [`MAX_RECORDS`]).
        limit: u32,
    },
}

/// Longest media type.
pub const MAX_MEDIA_TYPE_LEN: usize = 100;

/// A lower-case hex SHA-256 from a frame member.
fn digest(v: &Value) -> Result<String, ProtoError> {
    v.get("sha256")
        .and_then(Value::as_str)
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| malformed("sha256 must be 64 hex digits"))
}

/// Whether a media type is JSON (`application/json` or `…+json`, parameters ignored).
pub fn is_json_media_type(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn malformed(m: impl Into<String>) -> ProtoError {
    ProtoError::new(ErrorCode::FrameMalformed, m)
}

fn topics(v: &Value) -> Result<Vec<String>, ProtoError> {
    let list = v
        .get("topics")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("topics must be an array"))?;
    if list.is_empty() || list.len() > MAX_TOPICS {
        return Err(malformed(format!("name 1 to {MAX_TOPICS} topics")));
    }
    list.iter()
        .map(|t| {
            let t = t.as_str().ok_or_else(|| malformed("topics are strings"))?;
            let ok = !t.is_empty()
                && t.len() <= MAX_TOPIC_LEN
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if ok {
                Ok(t.to_owned())
            } else {
                Err(malformed(format!(
                    "topic {t:?}: 1 to {MAX_TOPIC_LEN} of A-Z a-z 0-9 . _ -"
                )))
            }
        })
        .collect()
}

impl ClientOp {
    /// Parses a client frame.
    pub fn parse(v: Value) -> Result<ClientOp, ProtoError> {
        let op = v
            .get("op")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| malformed("a frame names its op"))?;
        // Moved out, not cloned: envelopes are the bulk of a frame.
        let mut v = v;
        let envelope = |v: &mut Value| {
            v.as_object_mut()
                .and_then(|m| m.remove("envelope"))
                .ok_or_else(|| malformed("no envelope"))
        };
        Ok(match op.as_str() {
            "send" => ClientOp::Send {
                envelope: envelope(&mut v)?,
            },
            "request" => ClientOp::Request {
                envelope: envelope(&mut v)?,
                timeout_ms: v
                    .get("timeoutMs")
                    .and_then(Value::as_u64)
                    .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS)
                    .clamp(1, MAX_REQUEST_TIMEOUT_MS),
            },
            "listen" => ClientOp::Listen {
                max_in_flight: v
                    .get("maxInFlight")
                    .and_then(Value::as_u64)
                    .map_or(DEFAULT_IN_FLIGHT, |n| {
                        u32::try_from(n).unwrap_or(MAX_IN_FLIGHT)
                    })
                    .clamp(1, MAX_IN_FLIGHT),
            },
            "ack" => ClientOp::Ack {
                delivery: v
                    .get("delivery")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| malformed("ack names a delivery"))?,
            },
            "respond" => ClientOp::Respond {
                envelope: envelope(&mut v)?,
            },
            "subscribe" => ClientOp::Subscribe {
                topics: topics(&v)?,
            },
            "unsubscribe" => ClientOp::Unsubscribe {
                topics: topics(&v)?,
            },
            "upload" => ClientOp::Upload {
                sha256: digest(&v)?,
                size: v
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| malformed("upload names its size"))?,
                media_type: match v.get("mediaType") {
                    None | Some(Value::Null) => "application/json".to_owned(),
                    Some(Value::String(m))
                        if !m.is_empty()
                            && m.len() <= MAX_MEDIA_TYPE_LEN
                            && m.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
                    {
                        m.clone()
                    }
                    Some(_) => {
                        return Err(malformed(format!(
                            "mediaType: 1 to {MAX_MEDIA_TYPE_LEN} printable ASCII characters"
                        )));
                    }
                },
            },
            "download" => ClientOp::Download {
                sha256: digest(&v)?,
            },
            "trust" => ClientOp::Trust,
            "records" => ClientOp::Records {
                resource: {
                    let r = v
                        .get("resource")
                        .and_then(Value::as_str)
                        .ok_or_else(|| malformed("records names a resource"))?;
                    topics(&json!({"topics": [r]}))?.remove(0)
                },
                after: v.get("after").and_then(Value::as_u64).unwrap_or(0),
                limit: v
                    .get("limit")
                    .and_then(Value::as_u64)
                    .map_or(MAX_RECORDS, |n| u32::try_from(n).unwrap_or(MAX_RECORDS))
                    .clamp(1, MAX_RECORDS),
            },
            other => return Err(malformed(format!("unknown op {other:?}"))),
        })
    }

    /// The frame.
    pub fn to_value(&self) -> Value {
        match self {
            ClientOp::Send { envelope } => json!({"op": "send", "envelope": envelope}),
            ClientOp::Request {
                envelope,
                timeout_ms,
            } => {
                json!({"op": "request", "envelope": envelope, "timeoutMs": timeout_ms})
            }
            ClientOp::Listen { max_in_flight } => {
                json!({"op": "listen", "maxInFlight": max_in_flight})
            }
            ClientOp::Ack { delivery } => json!({"op": "ack", "delivery": delivery}),
            ClientOp::Respond { envelope } => json!({"op": "respond", "envelope": envelope}),
            ClientOp::Subscribe { topics } => json!({"op": "subscribe", "topics": topics}),
            ClientOp::Unsubscribe { topics } => json!({"op": "unsubscribe", "topics": topics}),
            ClientOp::Upload {
                sha256,
                size,
                media_type,
            } => json!({"op": "upload", "sha256": sha256, "size": size, "mediaType": media_type}),
            ClientOp::Download { sha256 } => json!({"op": "download", "sha256": sha256}),
            ClientOp::Records {
                resource,
                after,
                limit,
            } => json!({"op": "records", "resource": resource, "after": after, "limit": limit}),
            ClientOp::Trust => json!({"op": "trust"}),
        }
    }
}

/// A frame from the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerOp {
    /// The envelope is verified, validated, stored and logged: it will not be lost.
    Accepted {
        /// Envelope id.
        id: String,
        /// The hub's sequence number for it.
        seq: u64,
    },
    /// Refused (nothing was stored).
    Error {
        /// Envelope id, when the error concerns one.
        id: Option<String>,
        /// Stable code.
        code: ErrorCode,
        /// Detail.
        message: String,
        /// For `SERVICE_REFUSED`: the service's own code.
        reason: Option<String>,
    },
    /// A message or request for the listener.
    Deliver {
        /// Acknowledge with this number.
        delivery: u64,
        /// The signed envelope, as its sender signed it.
        envelope: Value,
    },
    /// The provider's answer to a request.
    Response {
        /// The provider's signed envelope.
        envelope: Value,
    },
    /// The listen stream is registered: from now on requests are routed to
    /// it and deliveries flow.
    Listening {
        /// The window the hub keeps (the requested one, capped).
        max_in_flight: u32,
    },
    /// Subscriptions now in force.
    Subscribed {
        /// All topics the department is subscribed to.
        topics: Vec<String>,
    },
    /// The blob is stored durably; envelopes may now reference it.
    Uploaded {
        /// Its hex SHA-256.
        sha256: String,
        /// Its size.
        size: u64,
    },
    /// A blob follows: exactly `size` raw bytes after this frame, then the
    /// stream ends.
    Blob {
        /// Its hex SHA-256.
        sha256: String,
        /// Its size.
        size: u64,
        /// Its media type.
        media_type: String,
    },
    /// A page of a resource's records.
    Records {
        /// `(seq, envelope as its provider signed it)`, in arrival order.
        records: Vec<(u64, Value)>,
        /// Ask again with `after` = this for more; `None` at the end.
        next: Option<u64>,
    },
}

impl ServerOp {
    /// The refusal an error frame carries as `Err`; any other frame as `Ok`.
    pub fn into_refusal(self) -> Result<ServerOp, ProtoError> {
        match self {
            ServerOp::Error {
                code,
                message,
                reason,
                ..
            } => Err(ProtoError {
                code,
                message,
                reason,
            }),
            other => Ok(other),
        }
    }

    /// An error frame from a [`ProtoError`].
    pub fn error(id: Option<String>, e: &ProtoError) -> Self {
        ServerOp::Error {
            id,
            code: e.code,
            message: e.message.clone(),
            reason: e.reason.clone(),
        }
    }

    /// The frame.
    pub fn to_value(&self) -> Value {
        match self {
            ServerOp::Accepted { id, seq } => json!({"op": "accepted", "id": id, "seq": seq}),
            ServerOp::Error {
                id,
                code,
                message,
                reason,
            } => {
                let mut v =
                    json!({"op": "error", "id": id, "code": code.as_str(), "message": message});
                if let Some(r) = reason {
                    v["reason"] = r.as_str().into();
                }
                v
            }
            ServerOp::Deliver { delivery, envelope } => {
                json!({"op": "deliver", "delivery": delivery, "envelope": envelope})
            }
            ServerOp::Response { envelope } => json!({"op": "response", "envelope": envelope}),
            ServerOp::Listening { max_in_flight } => {
                json!({"op": "listening", "maxInFlight": max_in_flight})
            }
            ServerOp::Subscribed { topics } => json!({"op": "subscribed", "topics": topics}),
            ServerOp::Uploaded { sha256, size } => {
                json!({"op": "uploaded", "sha256": sha256, "size": size})
            }
            ServerOp::Blob {
                sha256,
                size,
                media_type,
            } => json!({"op": "blob", "sha256": sha256, "size": size, "mediaType": media_type}),
            ServerOp::Records { records, next } => json!({
                "op": "records",
                "records": records.iter().map(|(seq, envelope)| json!({"seq": seq, "envelope": envelope})).collect::<Vec<_>>(),
                "next": next,
            }),
        }
    }

    /// Parses a hub frame (client side).
    pub fn parse(v: Value) -> Result<ServerOp, ProtoError> {
        let mut v = v;
        let op = v
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a frame names its op"))?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(match op {
            "accepted" => ServerOp::Accepted {
                id: text("id").ok_or_else(|| malformed("accepted names an id"))?,
                seq: v.get("seq").and_then(Value::as_u64).unwrap_or(0),
            },
            "error" => ServerOp::Error {
                id: text("id"),
                code: ErrorCode::parse(&text("code").unwrap_or_default()),
                message: text("message").unwrap_or_default(),
                reason: text("reason"),
            },
            "deliver" => ServerOp::Deliver {
                delivery: v
                    .get("delivery")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| malformed("deliver names a delivery"))?,
                envelope: v
                    .as_object_mut()
                    .and_then(|m| m.remove("envelope"))
                    .ok_or_else(|| malformed("no envelope"))?,
            },
            "response" => ServerOp::Response {
                envelope: v
                    .as_object_mut()
                    .and_then(|m| m.remove("envelope"))
                    .ok_or_else(|| malformed("no envelope"))?,
            },
            "listening" => ServerOp::Listening {
                max_in_flight: v
                    .get("maxInFlight")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| malformed("listening names maxInFlight"))?,
            },
            "subscribed" => ServerOp::Subscribed {
                topics: v
                    .get("topics")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            "uploaded" => ServerOp::Uploaded {
                sha256: digest(&v)?,
                size: v
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| malformed("uploaded names the size"))?,
            },
            "blob" => ServerOp::Blob {
                sha256: digest(&v)?,
                size: v
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| malformed("blob names its size"))?,
                media_type: text("mediaType").unwrap_or_else(|| "application/octet-stream".into()),
            },
            "records" => ServerOp::Records {
                records: v
                    .as_object_mut()
                    .and_then(|m| m.remove("records"))
                    .and_then(|r| match r {
                        Value::Array(a) => Some(a),
                        _ => None,
                    })
                    .ok_or_else(|| malformed("records lists records"))?
                    .into_iter()
                    .map(|mut r| {
                        let seq = r.get("seq").and_then(Value::as_u64);
                        let envelope = r.as_object_mut().and_then(|m| m.remove("envelope"));
                        seq.zip(envelope)
                            .ok_or_else(|| malformed("a record has a seq and an envelope"))
                    })
                    .collect::<Result<_, _>>()?,
                next: v.get("next").and_then(Value::as_u64),
            },
            other => return Err(malformed(format!("unknown op {other:?}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        let client = [
            ClientOp::Send {
                envelope: json!({"id": "a"}),
            },
            ClientOp::Request {
                envelope: json!({}),
                timeout_ms: 5000,
            },
            ClientOp::Listen { max_in_flight: 10 },
            ClientOp::Ack { delivery: 7 },
            ClientOp::Respond {
                envelope: json!({}),
            },
            ClientOp::Subscribe {
                topics: vec!["business-registration".into()],
            },
            ClientOp::Unsubscribe {
                topics: vec!["x".into()],
            },
            ClientOp::Upload {
                sha256: "ab".repeat(32),
                size: 5,
                media_type: "application/json".into(),
            },
            ClientOp::Download {
                sha256: "0f".repeat(32),
            },
            ClientOp::Records {
                resource: "business-registration".into(),
                after: 41,
                limit: 20,
            },
            ClientOp::Trust,
        ];
        for op in client {
            assert_eq!(ClientOp::parse(op.to_value()).unwrap(), op);
        }
        let server = [
            ServerOp::Accepted {
                id: "a".into(),
                seq: 3,
            },
            ServerOp::Error {
                id: None,
                code: ErrorCode::Replay,
                message: "m".into(),
                reason: None,
            },
            ServerOp::Error {
                id: Some("q".into()),
                code: ErrorCode::ServiceRefused,
                message: "no service item X".into(),
                reason: Some("ITEM_UNKNOWN".into()),
            },
            ServerOp::Deliver {
                delivery: 9,
                envelope: json!({}),
            },
            ServerOp::Response {
                envelope: json!({"x": 1}),
            },
            ServerOp::Listening { max_in_flight: 64 },
            ServerOp::Subscribed {
                topics: vec!["t".into()],
            },
            ServerOp::Uploaded {
                sha256: "cd".repeat(32),
                size: 2,
            },
            ServerOp::Blob {
                sha256: "cd".repeat(32),
                size: 2,
                media_type: "application/json".into(),
            },
            ServerOp::Records {
                records: vec![(42, json!({"id": "r"}))],
                next: Some(42),
            },
            ServerOp::Records {
                records: vec![],
                next: None,
            },
        ];
        for op in server {
            assert_eq!(ServerOp::parse(op.to_value()).unwrap(), op);
        }
    }

    #[test]
    fn bad_frames() {
        assert!(ClientOp::parse(json!({"op": "dance"})).is_err());
        assert!(ClientOp::parse(json!({"nope": 1})).is_err());
        assert!(ClientOp::parse(json!({"op": "subscribe", "topics": []})).is_err());
        assert!(ClientOp::parse(json!({"op": "subscribe", "topics": ["../x"]})).is_err());
        assert!(ClientOp::parse(json!({"op": "ack"})).is_err());
        assert!(ClientOp::parse(json!({"op": "upload", "sha256": "ab", "size": 1})).is_err());
        assert!(ClientOp::parse(json!({"op": "upload", "sha256": "ab".repeat(32)})).is_err());
        assert!(
            ClientOp::parse(
                json!({"op": "upload", "sha256": "ab".repeat(32), "size": 1, "mediaType": "a\nb"})
            )
            .is_err()
        );
        assert!(ClientOp::parse(json!({"op": "download", "sha256": "zz".repeat(32)})).is_err());
        assert!(ClientOp::parse(json!({"op": "records"})).is_err());
        assert!(ClientOp::parse(json!({"op": "records", "resource": "a/b"})).is_err());
        assert_eq!(
            ClientOp::parse(json!({"op": "records", "resource": "r", "limit": 1_000_000})).unwrap(),
            ClientOp::Records {
                resource: "r".into(),
                after: 0,
                limit: MAX_RECORDS
            }
        );
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/ld+json"));
        assert!(!is_json_media_type("application/pdf"));
        assert!(!is_json_media_type("text/json+x"));
        let l = ClientOp::parse(json!({"op": "listen", "maxInFlight": 1_000_000})).unwrap();
        assert_eq!(
            l,
            ClientOp::Listen {
                max_in_flight: MAX_IN_FLIGHT
            }
        );
    }
}
