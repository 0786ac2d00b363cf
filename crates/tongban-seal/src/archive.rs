//! Self-contained audit archives (JSON Lines) and their standalone verifier,
//! and the file of checkpoints a hub publishes off the machine.
//!
//! Like X-Road's message-log archives: an exported archive verifies without
//! the store, with nothing but the hub's anchor key. Layout, one JSON object
//! per line:
//!
//! 1. header: `{"format": "tongban-audit-archive/2", "hub": "urn:tongban:hub:…",
//!    "exportedAt": "…", "interval": 10000, "from": 0, "keys": [{"keyId":
//!    "z6Mk…", "notBefore": "…", "notAfter": null, "revokedAt": null,
//!    "endorsement": null | {"by": "z6Mk…", "atMs": …, "signature": "z…"}}, …]}`
//!    — the hub's keys with the endorsements that lead back to the anchor;
//! 2. entries, in order: `{"seq": 1, "atMs": …, "actor": "…", "action": "…",
//!    "subject": "…", "detail": "<canonical JSON text>", "prev": "<hex>",
//!    "hash": "<hex>"}` (hashes as in [`crate::chain`]);
//! 3. after the entry it covers, each checkpoint:
//!    `{"checkpoint": {"seq": …, "hash": "<hex>", "atMs": …, "interval": …,
//!    "keyId": "z6Mk…", "signature": "z…"}}`;
//! 4. trailer: `{"trailer": {"entries": N, "head": "<hex>", "signedBy": "z6Mk…",
//!    "signature": "z…"}}`, signed by a trusted hub key over
//!    `"tongban-audit-archive-v2\n" ‖ JCS({"entries", "exportedAt", "from",
//!    "head", "hub", "interval", "keys"})`.
//!
//! Keys are trusted only back to the anchor the verifier holds: a key the
//! header lists without an endorsement chain to it verifies nothing. The
//! trailer binds the count, the last hash, the key list and the schedule,
//! so entries cannot be dropped from the end unnoticed.
//!
//! The published-checkpoints file is a header `{"format":
//! "tongban-audit-checkpoints/1", "hub": "urn:tongban:hub:…"}` followed by
//! checkpoint lines as above.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::chain::{
    Endorsement, EntryContent, HubKey, LogFault, LogSummary, LogVerifier, MAX_HUB_KEYS, Schedule,
    SignedCheckpoint, TrustedKeys,
};
use crate::key::{PublicKey, Signature, SigningKey};
use crate::timefmt::{format_rfc3339, parse_rfc3339};
use crate::validity::Validity;

/// The format name in the header.
pub const FORMAT: &str = "tongban-audit-archive/2";
const FORMAT_V1: &str = "tongban-audit-archive/1";
/// The format name of a published-checkpoints file.
pub const PUBLISHED_FORMAT: &str = "tongban-audit-checkpoints/1";
const TRAILER_DOMAIN: &[u8] = b"tongban-audit-archive-v2\n";
/// Longest line a verifier reads from an archive or a published file.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

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
    /// The log or its checkpoints do not verify.
    #[error("{0}")]
    Log(LogFault),
    /// The trailer is missing: the archive was cut short.
    #[error("the archive has no trailer: it was cut short")]
    Truncated,
    /// The trailer is not signed by a trusted key, or does not match the entries.
    #[error("trailer: {0}")]
    Untrusted(String),
}

impl ArchiveError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::Malformed { .. } => "AUDIT_ARCHIVE_MALFORMED",
            ArchiveError::Log(f) => f.code(),
            ArchiveError::Truncated => "AUDIT_ARCHIVE_TRUNCATED",
            ArchiveError::Untrusted(_) => "AUDIT_ARCHIVE_UNTRUSTED",
        }
    }
}

/// Why a line was refused by the strict reader: a repeated member name
/// would let two verifiers read one line two ways.
fn not_json(e: &crate::json::StrictJsonError) -> String {
    if e.is_duplicate() {
        format!("a member name is repeated: {e}")
    } else {
        format!("not JSON: {e}")
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

fn key_json(k: &HubKey) -> Value {
    json!({
        "keyId": k.public.to_multikey(),
        "notBefore": format_rfc3339(k.validity.not_before),
        "notAfter": k.validity.not_after.map(format_rfc3339),
        "revokedAt": k.validity.revoked_at.map(format_rfc3339),
        "endorsement": k.endorsement.as_ref().map(|e| json!({
            "by": e.by, "atMs": e.at_ms, "signature": e.signature.to_multibase(),
        })),
    })
}

/// The header line.
pub fn header_line(
    hub: &str,
    exported_at: OffsetDateTime,
    schedule: Schedule,
    keys: &[HubKey],
) -> String {
    let keys: Vec<Value> = keys.iter().map(key_json).collect();
    json!({
        "format": FORMAT, "hub": hub, "exportedAt": format_rfc3339(exported_at),
        "interval": schedule.interval(), "from": schedule.from(), "keys": keys,
    })
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

/// A checkpoint line (in archives and published files alike).
pub fn checkpoint_line(c: &SignedCheckpoint) -> String {
    json!({"checkpoint": {
        "seq": c.seq, "hash": hex(&c.hash), "atMs": c.at_ms, "interval": c.interval,
        "keyId": c.key_id, "signature": c.signature.to_multibase(),
    }})
    .to_string()
}

/// The first line of a published-checkpoints file.
pub fn published_header_line(hub: &str) -> String {
    json!({"format": PUBLISHED_FORMAT, "hub": hub}).to_string()
}

/// Reads the `checkpoint` member of a checkpoint line.
pub fn parse_checkpoint(c: &Value) -> Result<SignedCheckpoint, String> {
    let seq = c
        .get("seq")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .ok_or("checkpoint without a seq from 1")?;
    let hash = c
        .get("hash")
        .and_then(Value::as_str)
        .and_then(unhex32)
        .ok_or("checkpoint hash is not 32 bytes of hex")?;
    let at_ms = c
        .get("atMs")
        .and_then(Value::as_i64)
        .ok_or("checkpoint without atMs")?;
    let interval = match c.get("interval") {
        None => 0,
        Some(v) => v.as_u64().ok_or("checkpoint interval is not a number")?,
    };
    let key_id = c
        .get("keyId")
        .and_then(Value::as_str)
        .ok_or("checkpoint without keyId")?
        .to_owned();
    let signature = c
        .get("signature")
        .and_then(Value::as_str)
        .and_then(|s| Signature::from_multibase(s).ok())
        .ok_or("checkpoint signature is not multibase")?;
    Ok(SignedCheckpoint {
        seq,
        hash,
        at_ms,
        interval,
        key_id,
        signature,
    })
}

fn trailer_message(body: &TrailerBody<'_>) -> Vec<u8> {
    let value = json!({
        "entries": body.entries, "head": hex(&body.head), "hub": body.hub,
        "exportedAt": body.exported_at, "interval": body.schedule.interval(),
        "from": body.schedule.from(), "keys": body.keys,
    });
    let mut m = TRAILER_DOMAIN.to_vec();
    m.extend_from_slice(&crate::jcs::canonicalize(&value));
    m
}

/// What the trailer signs, besides the domain.
struct TrailerBody<'a> {
    entries: u64,
    head: [u8; 32],
    hub: &'a str,
    exported_at: &'a str,
    schedule: Schedule,
    keys: &'a Value,
}

/// The trailer line, signed by `key` (the hub's current key).
pub fn trailer_line(
    summary: (u64, [u8; 32]),
    hub: &str,
    exported_at: OffsetDateTime,
    schedule: Schedule,
    keys: &[HubKey],
    key: &SigningKey,
) -> String {
    let (entries, head) = summary;
    let keys = Value::Array(keys.iter().map(key_json).collect());
    let exported_at = format_rfc3339(exported_at);
    let signature = key.sign(&trailer_message(&TrailerBody {
        entries,
        head,
        hub,
        exported_at: &exported_at,
        schedule,
        keys: &keys,
    }));
    json!({"trailer": {"entries": entries, "head": hex(&head), "signedBy": key.public().to_multikey(), "signature": signature.to_multibase()}})
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
    /// Published checkpoints the archive matched.
    pub published: u64,
    /// Hash of the last entry.
    pub head: [u8; 32],
}

/// The header, once read.
#[derive(Debug)]
struct Header {
    hub: String,
    exported_at: String,
    schedule: Schedule,
    keys_json: Value,
    log: LogVerifier,
}

/// Verifies an archive line by line against the anchor key.
#[derive(Debug)]
pub struct ArchiveVerifier {
    anchor: PublicKey,
    published: Vec<SignedCheckpoint>,
    line: u64,
    header: Option<Header>,
    trailer_seen: bool,
}

impl ArchiveVerifier {
    /// A verifier trusting `anchor` (and the keys endorsed back to it).
    pub fn new(anchor: PublicKey) -> Self {
        ArchiveVerifier {
            anchor,
            published: Vec::new(),
            line: 0,
            header: None,
            trailer_seen: false,
        }
    }

    /// Also compares the archive with checkpoints published earlier.
    pub fn with_published(mut self, published: Vec<SignedCheckpoint>) -> Self {
        self.published = published;
        self
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
        if text.len() > MAX_LINE_BYTES {
            return Err(self.malformed(format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let value = crate::json::from_str_strict(text).map_err(|e| self.malformed(not_json(&e)))?;
        let line = self.line;
        if self.header.is_none() {
            let header = self.header(&value)?;
            self.header = Some(header);
            return Ok(());
        }
        let Some(header) = self.header.as_mut() else {
            return Err(ArchiveError::Malformed {
                line,
                message: "no header".into(),
            });
        };
        if let Some(c) = value.get("checkpoint") {
            let c =
                parse_checkpoint(c).map_err(|message| ArchiveError::Malformed { line, message })?;
            return header.log.checkpoint(&c).map_err(ArchiveError::Log);
        }
        if let Some(t) = value.get("trailer") {
            self.trailer_seen = true;
            return trailer(header, t);
        }
        let text = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| ArchiveError::Malformed {
                    line,
                    message: format!("entry without {name}"),
                })
        };
        let number = |name: &str| ArchiveError::Malformed {
            line,
            message: format!("entry without {name}"),
        };
        let seq = value
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| number("seq"))?;
        let at_ms = value
            .get("atMs")
            .and_then(Value::as_i64)
            .ok_or_else(|| number("atMs"))?;
        let prev = unhex32(text("prev")?).ok_or_else(|| number("a 32-byte hex prev"))?;
        let hash = unhex32(text("hash")?).ok_or_else(|| number("a 32-byte hex hash"))?;
        let content = EntryContent {
            seq,
            at_ms,
            actor: text("actor")?,
            action: text("action")?,
            subject: text("subject")?,
            detail: text("detail")?,
        };
        header
            .log
            .entry(&content, &prev, &hash)
            .map_err(ArchiveError::Log)
    }

    fn header(&mut self, v: &Value) -> Result<Header, ArchiveError> {
        match v.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            Some(FORMAT_V1) => {
                return Err(self.malformed(format!(
                    "{FORMAT_V1} lists hub keys without endorsements and is no longer accepted: export the log again"
                )));
            }
            _ => return Err(self.malformed(format!("not a {FORMAT} archive"))),
        }
        let text = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| self.malformed(format!("header without {name}")))
        };
        let hub = text("hub")?;
        let exported_at = text("exportedAt")?;
        let number = |name: &str| {
            v.get(name)
                .and_then(Value::as_u64)
                .ok_or_else(|| self.malformed(format!("header without {name}")))
        };
        let schedule = Schedule::new(number("interval")?, number("from")?)
            .ok_or_else(|| self.malformed("interval is 0"))?;
        let keys_json = v
            .get("keys")
            .filter(|k| k.as_array().is_some_and(|a| a.len() <= MAX_HUB_KEYS))
            .ok_or_else(|| {
                self.malformed(format!("header has no list of at most {MAX_HUB_KEYS} keys"))
            })?
            .clone();
        let keys = keys_json
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| parse_key(k).map_err(|m| self.malformed(m)))
            .collect::<Result<Vec<HubKey>, _>>()?;
        let log = LogVerifier::new(TrustedKeys::new(&self.anchor, &keys), schedule)
            .with_published(std::mem::take(&mut self.published));
        Ok(Header {
            hub,
            exported_at,
            schedule,
            keys_json,
            log,
        })
    }

    /// Ends the archive.
    pub fn finish(self) -> Result<ArchiveSummary, ArchiveError> {
        let Some(header) = self.header.filter(|_| self.trailer_seen) else {
            return Err(ArchiveError::Truncated);
        };
        let summary: LogSummary = header.log.finish().map_err(ArchiveError::Log)?;
        Ok(ArchiveSummary {
            hub: header.hub,
            entries: summary.entries,
            checkpoints: summary.checkpoints,
            published: summary.published,
            head: summary.head,
        })
    }
}

fn trailer(header: &Header, t: &Value) -> Result<(), ArchiveError> {
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
    if entries != header.log.verified() || head != header.log.head() {
        return Err(untrusted(&format!(
            "it covers {entries} entries, the archive holds {}",
            header.log.verified()
        )));
    }
    let signed_by = t
        .get("signedBy")
        .and_then(Value::as_str)
        .ok_or_else(|| untrusted("no signedBy"))?;
    let signature = t
        .get("signature")
        .and_then(Value::as_str)
        .and_then(|s| Signature::from_multibase(s).ok())
        .ok_or_else(|| untrusted("signature is not multibase"))?;
    let exported_ms = parse_rfc3339(&header.exported_at)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|e| untrusted(&format!("exportedAt: {e}")))?;
    let message = trailer_message(&TrailerBody {
        entries,
        head,
        hub: &header.hub,
        exported_at: &header.exported_at,
        schedule: header.schedule,
        keys: &header.keys_json,
    });
    header
        .log
        .keys()
        .verify(signed_by, exported_ms, &message, &signature)
        .map_err(|e| untrusted(&e.to_string()))
}

fn parse_key(k: &Value) -> Result<HubKey, String> {
    let text = |name: &str| k.get(name).and_then(Value::as_str);
    let public = text("keyId")
        .and_then(|m| PublicKey::from_multikey(m).ok())
        .ok_or("header key without a valid keyId")?;
    let time = |name: &str| {
        text(name)
            .map(parse_rfc3339)
            .transpose()
            .map_err(|e| format!("{name}: {e}"))
    };
    let not_before = time("notBefore")?.ok_or("header key without notBefore")?;
    let endorsement = match k.get("endorsement") {
        None | Some(Value::Null) => None,
        Some(e) => Some(Endorsement {
            by: e
                .get("by")
                .and_then(Value::as_str)
                .ok_or("endorsement without by")?
                .to_owned(),
            at_ms: e
                .get("atMs")
                .and_then(Value::as_i64)
                .ok_or("endorsement without atMs")?,
            signature: e
                .get("signature")
                .and_then(Value::as_str)
                .and_then(|s| Signature::from_multibase(s).ok())
                .ok_or("endorsement signature is not multibase")?,
        }),
    };
    Ok(HubKey {
        public,
        validity: Validity {
            not_before,
            not_after: time("notAfter")?,
            revoked_at: time("revokedAt")?,
        },
        endorsement,
    })
}

/// Why a published-checkpoints file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("published checkpoints, line {line}: {message}")]
pub struct PublishedError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl PublishedError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "AUDIT_PUBLISHED_MALFORMED"
    }
}

/// Reads a published-checkpoints file line by line. Signatures are checked
/// later, against the log and the trusted keys ([`LogVerifier::with_published`]).
#[derive(Debug, Default)]
pub struct PublishedReader {
    line: u64,
    hub: Option<String>,
    checkpoints: Vec<SignedCheckpoint>,
}

impl PublishedReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next line.
    pub fn line(&mut self, text: &str) -> Result<(), PublishedError> {
        self.line += 1;
        let line = self.line;
        let malformed = |message: String| PublishedError { line, message };
        if text.len() > MAX_LINE_BYTES {
            return Err(malformed(format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let value = crate::json::from_str_strict(text).map_err(|e| malformed(not_json(&e)))?;
        if self.hub.is_none() {
            if value.get("format").and_then(Value::as_str) != Some(PUBLISHED_FORMAT) {
                return Err(malformed(format!("not a {PUBLISHED_FORMAT} file")));
            }
            let hub = value.get("hub").and_then(Value::as_str).unwrap_or_default();
            self.hub = Some(hub.to_owned());
            return Ok(());
        }
        let c = value
            .get("checkpoint")
            .ok_or_else(|| malformed("not a checkpoint line".into()))
            .and_then(|c| parse_checkpoint(c).map_err(malformed))?;
        if self.checkpoints.last().is_some_and(|last| last.seq > c.seq) {
            return Err(malformed(format!("checkpoint {} out of order", c.seq)));
        }
        self.checkpoints.push(c);
        Ok(())
    }

    /// The hub the file names (once its header was read).
    pub fn hub(&self) -> Option<&str> {
        self.hub.as_deref()
    }

    /// The checkpoints read, in order.
    pub fn finish(self) -> Result<Vec<SignedCheckpoint>, PublishedError> {
        if self.hub.is_none() {
            return Err(PublishedError {
                line: 0,
                message: "empty file".into(),
            });
        }
        Ok(self.checkpoints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{GENESIS, endorse, entry_hash};
    use time::macros::datetime;

    const T: i64 = 1_780_000_000_000;
    const HUB: &str = "urn:tongban:hub:440114";

    fn hub_key(key: &SigningKey, endorsement: Option<Endorsement>) -> HubKey {
        HubKey {
            public: key.public(),
            validity: Validity::from(datetime!(2026-01-01 0:00 UTC)),
            endorsement,
        }
    }

    /// An archive of `n` entries with checkpoints every 3 signed by `signer`
    /// and a trailer by `exporter`.
    fn archive(keys: &[HubKey], signer: &SigningKey, exporter: &SigningKey, n: u64) -> Vec<String> {
        let schedule = Schedule::new(3, 0).unwrap();
        let exported = datetime!(2026-11-25 0:00 UTC);
        let mut lines = vec![header_line(HUB, exported, schedule, keys)];
        let mut prev = GENESIS;
        for seq in 1..=n {
            let detail = format!("{{\"n\":{seq}}}");
            let e = EntryContent {
                seq,
                at_ms: T,
                actor: "admin",
                action: "test",
                subject: "s",
                detail: &detail,
            };
            let hash = entry_hash(&prev, &e);
            lines.push(entry_line(&e, &prev, &hash));
            if seq % 3 == 0 {
                lines.push(checkpoint_line(&SignedCheckpoint::sign(
                    signer, seq, hash, T, 3,
                )));
            }
            prev = hash;
        }
        lines.push(trailer_line(
            (n, prev),
            HUB,
            exported,
            schedule,
            keys,
            exporter,
        ));
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
        let keys = [hub_key(&key, None)];
        let lines = archive(&keys, &key, &key, 7);
        let summary = verify(key.public(), &lines).unwrap();
        assert_eq!((summary.entries, summary.checkpoints), (7, 2));

        let other = SigningKey::from_seed(&[5; 32]);
        assert_eq!(
            verify(other.public(), &lines).unwrap_err().code(),
            "AUDIT_CHECKPOINT_UNTRUSTED"
        );
        assert_eq!(
            verify(key.public(), &lines[..lines.len() - 1])
                .unwrap_err()
                .code(),
            "AUDIT_ARCHIVE_TRUNCATED"
        );
        // Drop the last entry but keep the trailer.
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
                matches!(err, ArchiveError::Log(ref f) if f.seq() == 2)
            ),
            ("AUDIT_ENTRY_ALTERED", true)
        );
        // Remove an entry from the middle.
        let mut gap = lines.clone();
        gap.remove(2);
        assert_eq!(verify(key.public(), &gap).unwrap_err().code(), "AUDIT_GAP");
        // Remove the checkpoint at 3: at 7 entries it is due.
        let without: Vec<String> = lines
            .iter()
            .filter(|l| !l.contains("\"seq\":3,") || !l.contains("checkpoint"))
            .cloned()
            .collect();
        assert_eq!(without.len(), lines.len() - 1);
        let err = verify(key.public(), &without).unwrap_err();
        assert_eq!(
            (
                err.code(),
                matches!(err, ArchiveError::Log(ref f) if f.seq() == 3)
            ),
            ("AUDIT_CHECKPOINT_MISSING", true)
        );
        // Garbage, and the old format.
        assert_eq!(
            verify(key.public(), &["{".to_owned()]).unwrap_err().code(),
            "AUDIT_ARCHIVE_MALFORMED"
        );
        let v1 = lines[0].replace(FORMAT, FORMAT_V1);
        assert_eq!(
            verify(key.public(), &[v1]).unwrap_err().code(),
            "AUDIT_ARCHIVE_MALFORMED"
        );
        // An entry naming a second actor after the hashed one: whichever a
        // reader kept, the line does not say one thing.
        let mut repeated = lines.clone();
        repeated[1] = repeated[1].replacen(
            "\"actor\":\"admin\"",
            "\"actor\":\"admin\",\"actor\":\"root\"",
            1,
        );
        assert_ne!(repeated[1], lines[1]);
        let err = verify(key.public(), &repeated).unwrap_err();
        assert_eq!(err.code(), "AUDIT_ARCHIVE_MALFORMED");
        assert!(err.to_string().contains("\"actor\" appears twice"), "{err}");
    }

    #[test]
    fn a_rotated_key_verifies_only_with_its_endorsement() {
        let anchor = SigningKey::from_seed(&[1; 32]);
        let rotated = SigningKey::from_seed(&[2; 32]);
        let injected = SigningKey::from_seed(&[3; 32]);
        let nb = datetime!(2026-01-01 0:00 UTC);
        let endorsed = [
            hub_key(&anchor, None),
            hub_key(&rotated, Some(endorse(&anchor, &rotated.public(), nb, T))),
        ];
        let lines = archive(&endorsed, &rotated, &rotated, 7);
        assert_eq!(verify(anchor.public(), &lines).unwrap().checkpoints, 2);

        // A key slipped into the header (the exporter signs whatever the
        // store lists) signs nothing the verifier accepts.
        let listed = [hub_key(&anchor, None), hub_key(&injected, None)];
        let lines = archive(&listed, &injected, &anchor, 7);
        let err = verify(anchor.public(), &lines).unwrap_err();
        assert_eq!(
            (
                err.code(),
                matches!(err, ArchiveError::Log(ref f) if f.seq() == 3)
            ),
            ("AUDIT_CHECKPOINT_UNTRUSTED", true)
        );
        // Nor does a trailer by it.
        let lines = archive(&listed, &anchor, &injected, 7);
        assert_eq!(
            verify(anchor.public(), &lines).unwrap_err().code(),
            "AUDIT_ARCHIVE_UNTRUSTED"
        );
        // A forged endorsement (signed by the injected key itself) neither.
        let forged = [
            hub_key(&anchor, None),
            hub_key(
                &injected,
                Some(Endorsement {
                    by: anchor.public().to_multikey(),
                    ..endorse(&injected, &injected.public(), nb, T)
                }),
            ),
        ];
        let lines = archive(&forged, &injected, &anchor, 7);
        assert_eq!(
            verify(anchor.public(), &lines).unwrap_err().code(),
            "AUDIT_CHECKPOINT_UNTRUSTED"
        );
    }

    #[test]
    fn published_files_read_back_and_bind_the_archive() {
        let key = SigningKey::from_seed(&[4; 32]);
        let keys = [hub_key(&key, None)];
        let lines = archive(&keys, &key, &key, 7);
        let mut published = vec![published_header_line(HUB)];
        published.extend(
            lines
                .iter()
                .filter(|l| l.starts_with("{\"checkpoint\""))
                .cloned(),
        );
        let mut reader = PublishedReader::new();
        for l in &published {
            reader.line(l).unwrap();
        }
        assert_eq!(reader.hub(), Some(HUB));
        let checkpoints = reader.finish().unwrap();
        assert_eq!(
            checkpoints.iter().map(|c| c.seq).collect::<Vec<_>>(),
            [3, 6]
        );

        let mut v = ArchiveVerifier::new(key.public()).with_published(checkpoints.clone());
        for l in &lines {
            v.line(l).unwrap();
        }
        assert_eq!(v.finish().unwrap().published, 2);

        // An archive of the first 5 entries, cut and re-signed: the
        // checkpoint published at 6 shows the cut.
        let short = archive(&keys, &key, &key, 5);
        let mut v = ArchiveVerifier::new(key.public()).with_published(checkpoints);
        for l in &short {
            v.line(l).unwrap();
        }
        assert_eq!(v.finish().unwrap_err().code(), "AUDIT_TRUNCATED");

        let mut reader = PublishedReader::new();
        assert_eq!(
            reader.line("{\"format\":\"x\"}").unwrap_err().code(),
            "AUDIT_PUBLISHED_MALFORMED"
        );
        let mut reader = PublishedReader::new();
        reader.line(&published[0]).unwrap();
        reader.line(&published[2]).unwrap();
        assert_eq!(reader.line(&published[1]).unwrap_err().line, 3);
        assert!(PublishedReader::new().finish().is_err());
        // A header naming two hubs.
        let twice =
            published[0].replacen("\"hub\":", "\"hub\":\"urn:tongban:hub:441802\",\"hub\":", 1);
        assert_ne!(twice, published[0]);
        let err = PublishedReader::new().line(&twice).unwrap_err();
        assert_eq!((err.code(), err.line), ("AUDIT_PUBLISHED_MALFORMED", 1));
        assert!(
            err.message.contains("\"hub\" appears twice"),
            "{}",
            err.message
        );
    }
}
