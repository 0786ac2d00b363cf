//! Self-contained audit archives (JSON Lines) and their standalone verifier.
//!
//! Like X-Road's message-log archives: an exported archive verifies without
//! the store, with nothing but the hub's anchor key. Layout, one JSON object
//! per line:
//!
//! 1. header: `{"format": "tongban-audit-archive/1", "hub": "urn:tongban:hub:…",
//!    "exportedAt": "…", "keys": [{"keyId": "z6Mk…", "notBefore": "…",
//!    "notAfter": null, "revokedAt": null}, …]}` — every key of the hub that
//!    signed a checkpoint or the trailer;
//! 2. entries, in order: `{"seq": 1, "atMs": …, "actor": "…", "action": "…",
//!    "subject": "…", "detail": "<canonical JSON text>", "prev": "<hex>",
//!    "hash": "<hex>"}` (hashes as in [`crate::chain`]);
//! 3. after the entry it covers, each checkpoint:
//!    `{"checkpoint": {"seq": …, "hash": "<hex>", "atMs": …, "keyId": "z6Mk…",
//!    "signature": "z…"}}`;
//! 4. trailer: `{"trailer": {"entries": N, "head": "<hex>", "signedBy": "z6Mk…",
//!    "signature": "z…"}}`, the signature by the anchor over
//!    `"tongban-audit-archive-v1\n" ‖ JCS({"entries", "head", "hub", "keys"})`.
//!
//! The trailer binds the count, the last hash and the key list, so entries
//! cannot be dropped from the end, and no key can be slipped into the header.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::chain::{ChainBreak, ChainVerifier, EntryContent, verify_checkpoint};
use crate::key::{PublicKey, Signature, SigningKey};
use crate::timefmt::{format_rfc3339, parse_rfc3339};
use crate::validity::Validity;

/// The format name in the header.
pub const FORMAT: &str = "tongban-audit-archive/1";
const TRAILER_DOMAIN: &[u8] = b"tongban-audit-archive-v1\n";

/// Why an archive does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A line is not what the format says.
    #[error("line {line}: {message}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The hash chain is broken.
    #[error("{0}")]
    Chain(ChainBreak),
    /// A checkpoint does not match its entry or its signature fails.
    #[error("checkpoint at entry {seq}: {message}")]
    Checkpoint {
        /// The entry it claims to cover.
        seq: u64,
        /// What is wrong.
        message: String,
    },
    /// The trailer is missing: the archive was cut short.
    #[error("the archive has no trailer: it was cut short")]
    Truncated,
    /// The trailer is not signed by the anchor, or does not match the entries.
    #[error("trailer: {0}")]
    Untrusted(String),
}

impl ArchiveError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::Malformed { .. } => "AUDIT_ARCHIVE_MALFORMED",
            ArchiveError::Chain(b) => b.code(),
            ArchiveError::Checkpoint { .. } => "AUDIT_CHECKPOINT_INVALID",
            ArchiveError::Truncated => "AUDIT_ARCHIVE_TRUNCATED",
            ArchiveError::Untrusted(_) => "AUDIT_ARCHIVE_UNTRUSTED",
        }
    }
}

/// A hub key as the archive lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveKey {
    /// The key.
    pub public: PublicKey,
    /// Its window.
    pub validity: Validity,
}

impl ArchiveKey {
    fn to_json(&self) -> Value {
        json!({
            "keyId": self.public.to_multikey(),
            "notBefore": format_rfc3339(self.validity.not_before),
            "notAfter": self.validity.not_after.map(format_rfc3339),
            "revokedAt": self.validity.revoked_at.map(format_rfc3339),
        })
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xF) as usize] as char);
    }
    s
}

/// Parses 64 hex digits.
pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// The header line.
pub fn header_line(hub: &str, exported_at: OffsetDateTime, keys: &[ArchiveKey]) -> String {
    let keys: Vec<Value> = keys.iter().map(ArchiveKey::to_json).collect();
    json!({"format": FORMAT, "hub": hub, "exportedAt": format_rfc3339(exported_at), "keys": keys})
        .to_string()
}

/// An entry line.
pub fn entry_line(e: &EntryContent<'_>, prev: &[u8; 32], hash: &[u8; 32]) -> String {
    json!({
        "seq": e.seq, "atMs": e.at_ms, "actor": e.actor, "action": e.action,
        "subject": e.subject, "detail": e.detail, "prev": hex(prev), "hash": hex(hash),
    })
    .to_string()
}

/// A checkpoint line.
pub fn checkpoint_line(
    seq: u64,
    hash: &[u8; 32],
    at_ms: i64,
    key_id: &str,
    signature: &Signature,
) -> String {
    json!({"checkpoint": {"seq": seq, "hash": hex(hash), "atMs": at_ms, "keyId": key_id, "signature": signature.to_multibase()}})
        .to_string()
}

fn trailer_message(entries: u64, head: &[u8; 32], hub: &str, keys: &Value) -> Vec<u8> {
    let body = json!({"entries": entries, "head": hex(head), "hub": hub, "keys": keys});
    let mut m = TRAILER_DOMAIN.to_vec();
    m.extend_from_slice(&crate::jcs::canonicalize(&body));
    m
}

/// The trailer line, signed by `key`.
pub fn trailer_line(
    entries: u64,
    head: &[u8; 32],
    hub: &str,
    keys: &[ArchiveKey],
    key: &SigningKey,
) -> String {
    let keys: Value = Value::Array(keys.iter().map(ArchiveKey::to_json).collect());
    let signature = key.sign(&trailer_message(entries, head, hub, &keys));
    json!({"trailer": {"entries": entries, "head": hex(head), "signedBy": key.public().to_multikey(), "signature": signature.to_multibase()}})
        .to_string()
}

/// What a verified archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// The hub.
    pub hub: String,
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Hash of the last entry.
    pub head: [u8; 32],
}

/// Verifies an archive line by line against the anchor key.
#[derive(Debug)]
pub struct ArchiveVerifier {
    anchor: PublicKey,
    line: u64,
    hub: String,
    keys: Vec<ArchiveKey>,
    keys_json: Value,
    chain: ChainVerifier,
    checkpoints: u64,
    trailer_seen: bool,
}

impl ArchiveVerifier {
    /// A verifier trusting `anchor`.
    pub fn new(anchor: PublicKey) -> Self {
        ArchiveVerifier {
            anchor,
            line: 0,
            hub: String::new(),
            keys: Vec::new(),
            keys_json: Value::Null,
            chain: ChainVerifier::new(),
            checkpoints: 0,
            trailer_seen: false,
        }
    }

    fn malformed(&self, message: impl Into<String>) -> ArchiveError {
        ArchiveError::Malformed {
            line: self.line,
            message: message.into(),
        }
    }

    /// Feeds the next line.
    pub fn line(&mut self, text: &str) -> Result<(), ArchiveError> {
        self.line += 1;
        if self.trailer_seen {
            return Err(self.malformed("content after the trailer"));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| self.malformed(format!("not JSON: {e}")))?;
        if self.line == 1 {
            return self.header(&value);
        }
        if let Some(c) = value.get("checkpoint") {
            return self.checkpoint(c);
        }
        if let Some(t) = value.get("trailer") {
            return self.trailer(t);
        }
        self.entry(&value)
    }

    fn header(&mut self, v: &Value) -> Result<(), ArchiveError> {
        if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(self.malformed(format!("not a {FORMAT} archive")));
        }
        self.hub = v
            .get("hub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let keys = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| self.malformed("header has no keys"))?;
        for k in keys {
            let text = |name: &str| k.get(name).and_then(Value::as_str);
            let public = text("keyId")
                .and_then(|m| PublicKey::from_multikey(m).ok())
                .ok_or_else(|| self.malformed("header key without a valid keyId"))?;
            let time = |name: &str| {
                text(name)
                    .map(parse_rfc3339)
                    .transpose()
                    .map_err(|e| self.malformed(format!("{name}: {e}")))
            };
            let not_before =
                time("notBefore")?.ok_or_else(|| self.malformed("header key without notBefore"))?;
            self.keys.push(ArchiveKey {
                public,
                validity: Validity {
                    not_before,
                    not_after: time("notAfter")?,
                    revoked_at: time("revokedAt")?,
                },
            });
        }
        self.keys_json = Value::Array(keys.clone());
        Ok(())
    }

    fn entry(&mut self, v: &Value) -> Result<(), ArchiveError> {
        let text = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| self.malformed(format!("entry without {name}")))
        };
        let seq = v
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.malformed("entry without seq"))?;
        let at_ms = v
            .get("atMs")
            .and_then(Value::as_i64)
            .ok_or_else(|| self.malformed("entry without atMs"))?;
        let prev =
            unhex32(text("prev")?).ok_or_else(|| self.malformed("prev is not 32 bytes of hex"))?;
        let hash =
            unhex32(text("hash")?).ok_or_else(|| self.malformed("hash is not 32 bytes of hex"))?;
        let content = EntryContent {
            seq,
            at_ms,
            actor: text("actor")?,
            action: text("action")?,
            subject: text("subject")?,
            detail: text("detail")?,
        };
        self.chain
            .push(&content, &prev, &hash)
            .map_err(ArchiveError::Chain)
    }

    fn checkpoint(&mut self, c: &Value) -> Result<(), ArchiveError> {
        let seq = c
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.malformed("checkpoint without seq"))?;
        let bad = |m: &str| ArchiveError::Checkpoint {
            seq,
            message: m.to_owned(),
        };
        let hash = c
            .get("hash")
            .and_then(Value::as_str)
            .and_then(unhex32)
            .ok_or_else(|| bad("hash is not 32 bytes of hex"))?;
        let at_ms = c
            .get("atMs")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad("no atMs"))?;
        let key_id = c.get("keyId").and_then(Value::as_str).unwrap_or_default();
        let signature = c
            .get("signature")
            .and_then(Value::as_str)
            .and_then(|s| Signature::from_multibase(s).ok())
            .ok_or_else(|| bad("signature is not multibase"))?;
        if seq != self.chain.verified() || hash != self.chain.head() {
            return Err(bad("does not match the entry it follows"));
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.public.to_multikey() == key_id)
            .ok_or_else(|| bad("signed by a key the header does not list"))?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
            .map_err(|_| bad("atMs out of range"))?;
        key.validity.check_at(at).map_err(|e| bad(&e.to_string()))?;
        if !verify_checkpoint(&key.public, seq, &hash, at_ms, &signature) {
            return Err(bad("signature does not match"));
        }
        self.checkpoints += 1;
        Ok(())
    }

    fn trailer(&mut self, t: &Value) -> Result<(), ArchiveError> {
        self.trailer_seen = true;
        let untrusted = |m: &str| ArchiveError::Untrusted(m.to_owned());
        let entries = t
            .get("entries")
            .and_then(Value::as_u64)
            .ok_or_else(|| untrusted("no entry count"))?;
        let head = t
            .get("head")
            .and_then(Value::as_str)
            .and_then(unhex32)
            .ok_or_else(|| untrusted("no head hash"))?;
        if entries != self.chain.verified() || head != self.chain.head() {
            return Err(untrusted(&format!(
                "it covers {entries} entries, the archive holds {}",
                self.chain.verified()
            )));
        }
        if t.get("signedBy").and_then(Value::as_str) != Some(self.anchor.to_multikey().as_str()) {
            return Err(untrusted("not signed by the anchor key"));
        }
        let signature = t
            .get("signature")
            .and_then(Value::as_str)
            .and_then(|s| Signature::from_multibase(s).ok())
            .ok_or_else(|| untrusted("signature is not multibase"))?;
        if !self.anchor.verify_strict(
            &trailer_message(entries, &head, &self.hub, &self.keys_json),
            &signature,
        ) {
            return Err(untrusted("signature does not match"));
        }
        Ok(())
    }

    /// Ends the archive.
    pub fn finish(self) -> Result<ArchiveSummary, ArchiveError> {
        if !self.trailer_seen {
            return Err(ArchiveError::Truncated);
        }
        Ok(ArchiveSummary {
            hub: self.hub,
            entries: self.chain.verified(),
            checkpoints: self.checkpoints,
            head: self.chain.head(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{GENESIS, entry_hash, sign_checkpoint};
    use time::macros::datetime;

    fn archive(key: &SigningKey, n: u64) -> Vec<String> {
        let keys = [ArchiveKey {
            public: key.public(),
            validity: Validity::from(datetime!(2026-01-01 0:00 UTC)),
        }];
        let mut lines = vec![header_line(
            "urn:tongban:hub:440114",
            datetime!(2026-11-25 0:00 UTC),
            &keys,
        )];
        let mut prev = GENESIS;
        for seq in 1..=n {
            let detail = format!("{{\"n\":{seq}}}");
            let e = EntryContent {
                seq,
                at_ms: 1_780_000_000_000,
                actor: "admin",
                action: "test",
                subject: "s",
                detail: &detail,
            };
            let hash = entry_hash(&prev, &e);
            lines.push(entry_line(&e, &prev, &hash));
            if seq % 3 == 0 {
                let sig = sign_checkpoint(key, seq, &hash, 1_780_000_000_000);
                lines.push(checkpoint_line(
                    seq,
                    &hash,
                    1_780_000_000_000,
                    &key.public().to_multikey(),
                    &sig,
                ));
            }
            prev = hash;
        }
        lines.push(trailer_line(n, &prev, "urn:tongban:hub:440114", &keys, key));
        lines
    }

    fn verify(anchor: PublicKey, lines: &[String]) -> Result<ArchiveSummary, ArchiveError> {
        let mut v = ArchiveVerifier::new(anchor);
        for l in lines {
            v.line(l)?;
        }
        v.finish()
    }

    #[test]
    fn archive_round_trip_and_every_kind_of_tampering() {
        let key = SigningKey::from_seed(&[4; 32]);
        let lines = archive(&key, 7);
        let summary = verify(key.public(), &lines).unwrap();
        assert_eq!((summary.entries, summary.checkpoints), (7, 2));

        let other = SigningKey::from_seed(&[5; 32]);
        assert_eq!(
            verify(other.public(), &lines).unwrap_err().code(),
            "AUDIT_ARCHIVE_UNTRUSTED"
        );
        assert_eq!(
            verify(key.public(), &lines[..lines.len() - 1])
                .unwrap_err()
                .code(),
            "AUDIT_ARCHIVE_TRUNCATED"
        );
        // Drop the last entry (and its checkpoint) but keep the trailer.
        let mut cut = lines.clone();
        cut.remove(cut.len() - 2);
        assert_eq!(
            verify(key.public(), &cut).unwrap_err().code(),
            "AUDIT_ARCHIVE_UNTRUSTED"
        );
        // Alter an entry's detail.
        let altered: Vec<String> = lines
            .iter()
            .map(|l| l.replace("{\\\"n\\\":2}", "{\\\"n\\\":9}"))
            .collect();
        let err = verify(key.public(), &altered).unwrap_err();
        assert_eq!(
            (
                err.code(),
                matches!(err, ArchiveError::Chain(ref b) if b.seq() == 2)
            ),
            ("AUDIT_ENTRY_ALTERED", true)
        );
        // Remove an entry from the middle.
        let mut gap = lines.clone();
        gap.remove(2);
        assert_eq!(verify(key.public(), &gap).unwrap_err().code(), "AUDIT_GAP");
        // Garbage.
        assert_eq!(
            verify(key.public(), &["{".to_owned()]).unwrap_err().code(),
            "AUDIT_ARCHIVE_MALFORMED"
        );
    }
}
