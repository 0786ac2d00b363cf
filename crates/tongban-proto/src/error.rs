//! Error codes of the exchange protocol. They travel in `error` frames and
//! are part of the protocol: never rename one (`docs/PROTOCOL.md`).

tongban_seal::stable_codes! {
    /// A protocol error code.
    pub enum ErrorCode {
        /// A frame announced more bytes than the limit.
        FrameTooLarge => "FRAME_TOO_LARGE",
        /// The stream ended inside a frame.
        FrameTruncated => "FRAME_TRUNCATED",
        /// A frame is not one JSON object, or not a known operation.
        FrameMalformed => "FRAME_MALFORMED",
        /// The envelope lacks a field or has one of the wrong type.
        EnvelopeMalformed => "ENVELOPE_MALFORMED",
        /// The envelope's signature does not match its content and key.
        SignatureInvalid => "SIGNATURE_INVALID",
        /// The key id names no key of the hub's registry.
        KeyUnknown => "KEY_UNKNOWN",
        /// The key belongs to another department than the sender.
        KeyNotSenders => "KEY_NOT_SENDERS",
        /// The key is not one for signing envelopes (a department's issuing
        /// key signs licences only).
        KeyWrongPurpose => "KEY_WRONG_PURPOSE",
        /// The key was revoked at or before the envelope's time.
        KeyRevoked => "KEY_REVOKED",
        /// The key's window had closed at the envelope's time.
        KeyExpired => "KEY_EXPIRED",
        /// The key's window had not opened at the envelope's time.
        KeyNotYetValid => "KEY_NOT_YET_VALID",
        /// The envelope's sender is not the department the connection authenticated as.
        SenderMismatch => "SENDER_MISMATCH",
        /// The envelope's `time` is outside the accepted window around the hub's clock.
        StaleMessage => "STALE_MESSAGE",
        /// An envelope with this sender and id was already accepted.
        Replay => "REPLAY",
        /// The schema `id@version` is not registered.
        SchemaUnknown => "SCHEMA_UNKNOWN",
        /// The payload violates its schema.
        PayloadInvalid => "PAYLOAD_INVALID",
        /// The payload is larger than inline payloads may be; use the blob store.
        PayloadTooLarge => "PAYLOAD_TOO_LARGE",
        /// A payload reference names a blob the hub does not hold.
        BlobMissing => "BLOB_MISSING",
        /// Uploaded bytes do not match the announced size or SHA-256.
        BlobMismatch => "BLOB_MISMATCH",
        /// The resource is not registered.
        ResourceUnknown => "RESOURCE_UNKNOWN",
        /// The sender is not in this role on the resource (only its provider
        /// publishes and answers; a message carries the resource's schema).
        ResourceForbidden => "RESOURCE_FORBIDDEN",
        /// The resource is retired from the catalogue.
        CatalogueRetired => "CATALOGUE_RETIRED",
        /// The resource is not shared (不予共享): only its provider uses it.
        AccessNotShared => "ACCESS_NOT_SHARED",
        /// The resource is shared on conditions (有条件共享) and the consumer
        /// has no approval covering this time (none, rejected or withdrawn).
        AccessNotGranted => "ACCESS_NOT_GRANTED",
        /// The consumer's approval for the resource has ended.
        AccessExpired => "ACCESS_EXPIRED",
        /// The recipient is not a registered, active department.
        RecipientUnknown => "RECIPIENT_UNKNOWN",
        /// The provider has no system connected to answer requests.
        ProviderUnavailable => "PROVIDER_UNAVAILABLE",
        /// The provider did not answer in time.
        RequestTimeout => "REQUEST_TIMEOUT",
        /// The response does not answer an open request of this provider.
        ResponseUnexpected => "RESPONSE_UNEXPECTED",
        /// The department is suspended or retired.
        DepartmentInactive => "DEPARTMENT_INACTIVE",
        /// The client certificate does not name a registered department.
        DepartmentUnknown => "DEPARTMENT_UNKNOWN",
        /// A limit of the hub is reached: the party's share of a hub-wide
        /// capacity (connections, memory for frames or blobs, records pages,
        /// service answers, pulls, requests waiting on a provider), or the
        /// capacity itself. Nothing was done; the message names the limit.
        Busy => "BUSY",
        /// The department has reached one of its storage quotas: undelivered
        /// deliveries of messages it sent, or blob bytes it holds.
        QuotaExceeded => "QUOTA_EXCEEDED",
        /// The hub waited longer than its read deadline for a stream's first
        /// frame, for the rest of a frame, or for an upload's next bytes.
        ReadTimeout => "READ_TIMEOUT",
        /// The hub is shutting down; retry elsewhere or later.
        ShuttingDown => "SHUTTING_DOWN",
        /// One of the hub's own services (`hub.case.*`) refused the request;
        /// the error's `reason` is the service's stable code (e.g.
        /// `USE_CAUSE_REQUIRED`, `ITEM_UNKNOWN`).
        ServiceRefused => "SERVICE_REFUSED",
        /// The protocol version is not supported.
        VersionUnsupported => "VERSION_UNSUPPORTED",
        /// The hub's store failed (its disk full or read-only, an I/O error,
        /// its database lost or damaged); nothing was accepted. Retry later.
        StoreUnavailable => "STORE_UNAVAILABLE",
        /// Something failed inside the hub; nothing was accepted.
        Internal => "INTERNAL",
    }
}

impl ErrorCode {
    /// Parses a code (unknown codes from newer peers become `Internal`).
    pub fn parse(s: &str) -> ErrorCode {
        ErrorCode::from_code(s).unwrap_or(ErrorCode::Internal)
    }
}

/// An error with its code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtoError {
    /// Stable code.
    pub code: ErrorCode,
    /// Detail.
    pub message: String,
    /// For `SERVICE_REFUSED`: the service's own stable code.
    pub reason: Option<String>,
}

impl ProtoError {
    /// Builds an error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ProtoError {
            code,
            message: message.into(),
            reason: None,
        }
    }

    /// A refusal of one of the hub's services, with the service's code.
    pub fn service(reason: impl Into<String>, message: impl Into<String>) -> Self {
        ProtoError {
            code: ErrorCode::ServiceRefused,
            message: message.into(),
            reason: Some(reason.into()),
        }
    }

    /// The most specific code: the service's reason if any, else the code.
    pub fn most_specific(&self) -> &str {
        self.reason.as_deref().unwrap_or(self.code.as_str())
    }
}

/// QUIC application close codes.
pub mod close {
    /// Normal close.
    pub const DONE: u32 = 0;
    /// The department is suspended, retired or unknown.
    pub const DEPARTMENT_REFUSED: u32 = 1;
    /// The hub is shutting down.
    pub const SHUTTING_DOWN: u32 = 2;
    /// A protocol violation on the connection.
    pub const PROTOCOL: u32 = 3;
    /// The department (or peer hub) has as many connections open as it
    /// may, or the hub as many as it takes; reconnect later.
    pub const BUSY: u32 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), *c);
            assert!(seen.insert(c.as_str()));
        }
        assert_eq!(ErrorCode::parse("SOMETHING_NEW"), ErrorCode::Internal);
    }
}
