//! The tamper-evident audit chain: entry hashes, signed checkpoints, the hub
//! keys a verifier accepts, and a streaming verifier. No IO: the store (or
//! an archive) feeds entries in, in order.
//!
//! Entry hash (hex in exports, 32 bytes in the store):
//!
//! ```text
//! SHA-256( "tongban-audit-v1\n"
//!          ‖ prev_hash (32 bytes; zeros before the first entry)
//!          ‖ seq   (u64, big-endian)
//!          ‖ at_ms (i64, big-endian, Unix milliseconds)
//!          ‖ for actor, action, subject, detail: u32 big-endian byte length ‖ UTF-8 bytes )
//! ```
//!
//! `detail` is canonical JSON text (RFC 8785), hashed as stored. Binary
//! framing keeps verification free of JSON parsing: millions of entries
//! verify at the speed of SHA-256 and the store.
//!
//! A checkpoint signs `"tongban-audit-checkpoint-v2\n" ‖ seq (u64 BE) ‖ hash
//! ‖ at_ms (i64 BE) ‖ interval (u64 BE)` with a hub key. Hub keys are
//! trusted only back to an anchor the verifier holds outside the database:
//! the anchor itself, and keys endorsed by a trusted key ([`TrustedKeys`]).
//! A checkpoint is due at every multiple of the interval ([`Schedule`]).

use std::collections::HashMap;
use std::num::NonZeroU64;

use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::key::{PublicKey, Signature, SigningKey};
use crate::validity::{KeyUseError, Validity};

const ENTRY_DOMAIN: &[u8] = b"tongban-audit-v1\n";
const CHECKPOINT_DOMAIN_V1: &[u8] = b"tongban-audit-checkpoint-v1\n";
const CHECKPOINT_DOMAIN_V2: &[u8] = b"tongban-audit-checkpoint-v2\n";
const ENDORSEMENT_DOMAIN: &[u8] = b"tongban-audit-key-v1\n";

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// Most hub keys a verifier considers (an archive listing more is refused).
pub const MAX_HUB_KEYS: usize = 1_000;

/// The content of one audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryContent<'a> {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Who did it.
    pub actor: &'a str,
    /// What was done, e.g. `licence.issue`.
    pub action: &'a str,
    /// On what, e.g. a licence identifier.
    pub subject: &'a str,
    /// Canonical JSON details.
    pub detail: &'a str,
}

/// The hash of an entry that follows `prev`.
pub fn entry_hash(prev: &[u8; 32], e: &EntryContent<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ENTRY_DOMAIN);
    h.update(prev);
    h.update(e.seq.to_be_bytes());
    h.update(e.at_ms.to_be_bytes());
    for field in [e.actor, e.action, e.subject, e.detail] {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        h.update(len.to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// A hub's signature over the chain up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The entry covered.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// When signed (Unix milliseconds).
    pub at_ms: i64,
    /// The checkpoint interval the hub signed under; 0 for a version-1
    /// checkpoint, whose message does not state one.
    pub interval: u64,
    /// The hub key that signed (Multikey).
    pub key_id: String,
    /// Ed25519 signature over [`checkpoint_message`].
    pub signature: Signature,
}

impl SignedCheckpoint {
    /// Signs a (version-2) checkpoint with `key`.
    pub fn sign(key: &SigningKey, seq: u64, hash: [u8; 32], at_ms: i64, interval: u64) -> Self {
        let interval = interval.max(1);
        SignedCheckpoint {
            seq,
            hash,
            at_ms,
            interval,
            key_id: key.public().to_multikey(),
            signature: key.sign(&checkpoint_message(seq, &hash, at_ms, interval)),
        }
    }

    /// The bytes it signs.
    pub fn message(&self) -> Vec<u8> {
        checkpoint_message(self.seq, &self.hash, self.at_ms, self.interval)
    }
}

/// The bytes a checkpoint signs: version 2 with its interval, version 1
/// (before intervals were signed) when `interval` is 0.
pub fn checkpoint_message(seq: u64, hash: &[u8; 32], at_ms: i64, interval: u64) -> Vec<u8> {
    let domain = if interval == 0 {
        CHECKPOINT_DOMAIN_V1
    } else {
        CHECKPOINT_DOMAIN_V2
    };
    let mut m = Vec::with_capacity(domain.len() + 56);
    m.extend_from_slice(domain);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at_ms.to_be_bytes());
    if interval != 0 {
        m.extend_from_slice(&interval.to_be_bytes());
    }
    m
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainBreak {
    /// An entry is missing or out of order.
    #[error("entry {found}: expected entry {expected} (an entry is missing or out of order)")]
    Gap {
        /// The sequence number expected next.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// The stored previous hash does not match the entry before.
    #[error("entry {seq}: does not link to entry {prev_seq} (previous hash differs)")]
    Link {
        /// The entry.
        seq: u64,
        /// The one before.
        prev_seq: u64,
    },
    /// The entry's content does not match its stored hash: it was altered.
    #[error("entry {seq}: content does not match its hash (altered)")]
    Content {
        /// The entry.
        seq: u64,
    },
}

impl ChainBreak {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainBreak::Gap { .. } => "AUDIT_GAP",
            ChainBreak::Link { .. } => "AUDIT_LINK_BROKEN",
            ChainBreak::Content { .. } => "AUDIT_ENTRY_ALTERED",
        }
    }

    /// The first entry at fault.
    pub fn seq(&self) -> u64 {
        match self {
            ChainBreak::Gap { found, .. } => *found,
            ChainBreak::Link { seq, .. } | ChainBreak::Content { seq } => *seq,
        }
    }
}

/// Walks a chain from its first entry, one entry at a time.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: u64,
    prev: [u8; 32],
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// Starts before entry 1.
    pub fn new() -> Self {
        ChainVerifier {
            next_seq: 1,
            prev: GENESIS,
        }
    }

    /// Checks the next entry given its stored previous hash and hash.
    pub fn push(
        &mut self,
        e: &EntryContent<'_>,
        stored_prev: &[u8; 32],
        stored_hash: &[u8; 32],
    ) -> Result<(), ChainBreak> {
        if e.seq != self.next_seq {
            return Err(ChainBreak::Gap {
                expected: self.next_seq,
                found: e.seq,
            });
        }
        if stored_prev != &self.prev {
            return Err(ChainBreak::Link {
                seq: e.seq,
                prev_seq: e.seq - 1,
            });
        }
        let hash = entry_hash(&self.prev, e);
        if &hash != stored_hash {
            return Err(ChainBreak::Content { seq: e.seq });
        }
        self.prev = hash;
        self.next_seq += 1;
        Ok(())
    }

    /// Entries verified so far.
    pub fn verified(&self) -> u64 {
        self.next_seq - 1
    }

    /// Hash of the last verified entry.
    pub fn head(&self) -> [u8; 32] {
        self.prev
    }
}

/// A hub key's introduction: an earlier hub key signed that this key is
/// the hub's too. Rotated keys carry one; the anchor does not need one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endorsement {
    /// The endorsing key (Multikey).
    pub by: String,
    /// When it was signed (Unix milliseconds).
    pub at_ms: i64,
    /// Ed25519 signature over [`endorsement_message`].
    pub signature: Signature,
}

/// A hub key as records (the store, an archive's header) describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubKey {
    /// The key.
    pub public: PublicKey,
    /// Its window.
    pub validity: Validity,
    /// Its introduction by an earlier hub key, if any.
    pub endorsement: Option<Endorsement>,
}

/// The bytes an endorsement signs: `"tongban-audit-key-v1\n" ‖ JCS({"atMs",
/// "endorsedBy", "keyId", "notBefore"})`, `notBefore` in Unix seconds (what
/// the store keeps).
pub fn endorsement_message(
    key: &PublicKey,
    not_before: OffsetDateTime,
    by: &str,
    at_ms: i64,
) -> Vec<u8> {
    let body = json!({
        "atMs": at_ms,
        "endorsedBy": by,
        "keyId": key.to_multikey(),
        "notBefore": not_before.unix_timestamp(),
    });
    let mut m = ENDORSEMENT_DOMAIN.to_vec();
    m.extend_from_slice(&crate::jcs::canonicalize(&body));
    m
}

/// `signer` endorses `key` (whose window opens at `not_before`) at `at_ms`.
pub fn endorse(
    signer: &SigningKey,
    key: &PublicKey,
    not_before: OffsetDateTime,
    at_ms: i64,
) -> Endorsement {
    let by = signer.public().to_multikey();
    let signature = signer.sign(&endorsement_message(key, not_before, &by, at_ms));
    Endorsement {
        by,
        at_ms,
        signature,
    }
}

/// Why a hub key does not vouch for a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFault {
    /// The key is neither the anchor nor endorsed, link by link, by it.
    #[error("signed by {0}, a key that does not lead back to the pinned anchor")]
    Untrusted(String),
    /// The key was not usable at the signing time.
    #[error("{0}")]
    Window(KeyUseError),
    /// The signing time is not a possible instant.
    #[error("impossible signing time")]
    Time,
    /// The signature does not match.
    #[error("signature does not match")]
    Signature,
}

/// The hub keys a verifier accepts: the anchor it holds, and every key
/// endorsed by an accepted key that was neither revoked nor not yet valid
/// when it endorsed.
/// A key merely listed (in the store or an archive) is not enough.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    anchor: String,
    keys: HashMap<String, (PublicKey, Validity)>,
}

impl TrustedKeys {
    /// Resolves `records` against `anchor`. The anchor's window is the one
    /// its record states, or open if it has none. Each endorsement is
    /// checked at most once, so hostile lists cost linear time.
    pub fn new(anchor: &PublicKey, records: &[HubKey]) -> Self {
        let anchor_id = anchor.to_multikey();
        let anchor_validity = records
            .iter()
            .find(|r| r.public == *anchor)
            .map_or(Validity::from(OffsetDateTime::UNIX_EPOCH), |r| r.validity);
        let mut keys = HashMap::from([(anchor_id.clone(), (*anchor, anchor_validity))]);
        let mut pending: Vec<&HubKey> = records
            .iter()
            .filter(|r| r.public != *anchor && r.endorsement.is_some())
            .take(MAX_HUB_KEYS)
            .collect();
        loop {
            let before = pending.len();
            pending.retain(|r| {
                let Some(e) = &r.endorsement else {
                    return false;
                };
                let Some((by, by_validity)) = keys.get(&e.by) else {
                    return true; // its endorser may be accepted later
                };
                let message = endorsement_message(&r.public, r.validity.not_before, &e.by, e.at_ms);
                // The end of the endorser's window does not count: rotation
                // closes it at the very moment it hands over.
                let handing_over = Validity {
                    not_after: None,
                    ..*by_validity
                };
                let accepted = at(e.at_ms).is_some_and(|t| handing_over.check_at(t).is_ok())
                    && by.verify_strict(&message, &e.signature);
                if accepted {
                    keys.insert(r.public.to_multikey(), (r.public, r.validity));
                }
                false
            });
            if pending.len() == before {
                break;
            }
        }
        TrustedKeys {
            anchor: anchor_id,
            keys,
        }
    }

    /// The anchor (Multikey).
    pub fn anchor(&self) -> &str {
        &self.anchor
    }

    /// Whether `key_id` is accepted.
    pub fn contains(&self, key_id: &str) -> bool {
        self.keys.contains_key(key_id)
    }

    /// Checks that `key_id` is accepted, was usable at `at_ms`, and signed
    /// `message`.
    pub fn verify(
        &self,
        key_id: &str,
        at_ms: i64,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), KeyFault> {
        let (public, validity) = self
            .keys
            .get(key_id)
            .ok_or_else(|| KeyFault::Untrusted(key_id.to_owned()))?;
        let t = at(at_ms).ok_or(KeyFault::Time)?;
        validity.check_at(t).map_err(KeyFault::Window)?;
        if !public.verify_strict(message, signature) {
            return Err(KeyFault::Signature);
        }
        Ok(())
    }
}

fn at(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// Where checkpoints must be: at every multiple of `interval` after entry
/// `from` (0 for a log pinned when it began).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    interval: u64,
    from: u64,
}

impl Schedule {
    /// A schedule; `None` if `interval` is 0.
    pub fn new(interval: u64, from: u64) -> Option<Self> {
        (interval > 0).then_some(Schedule { interval, from })
    }

    /// A schedule with an interval that cannot be 0.
    pub const fn every(interval: NonZeroU64, from: u64) -> Self {
        Schedule {
            interval: interval.get(),
            from,
        }
    }

    /// Entries between checkpoints.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// Entries before the first boundary that counts.
    pub fn from(&self) -> u64 {
        self.from
    }

    /// Whether a checkpoint is due at entry `seq`.
    pub fn is_boundary(&self, seq: u64) -> bool {
        seq > self.from && seq % self.interval == 0
    }

    /// Whether the checkpoint at `boundary` must exist in a log of
    /// `entries`: one interval of grace lets a running hub sign it.
    pub fn required(&self, boundary: u64, entries: u64) -> bool {
        boundary.saturating_add(self.interval) <= entries
    }

    /// The boundary a signer may sign when the log holds `head` entries:
    /// the newest one only. An older boundary is never signed late, so
    /// deleting its checkpoint cannot get a rewritten chain signed.
    pub fn signable(&self, head: u64) -> Option<u64> {
        let boundary = head - head % self.interval;
        self.is_boundary(boundary).then_some(boundary)
    }
}

/// What is wrong with a log and its checkpoints, at the first fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogFault {
    /// The hash chain is broken.
    #[error("{0}")]
    Chain(ChainBreak),
    /// A checkpoint does not match its entry, its window or its signature.
    #[error("checkpoint at entry {seq}: {message}")]
    CheckpointInvalid {
        /// The entry it covers.
        seq: u64,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint is signed by a key that does not lead back to the anchor.
    #[error("checkpoint at entry {seq}: {fault}")]
    CheckpointUntrusted {
        /// The entry it covers.
        seq: u64,
        /// Which key.
        fault: KeyFault,
    },
    /// A boundary that is due has no checkpoint.
    #[error("no checkpoint at entry {seq}: one is due every {interval} entries")]
    CheckpointMissing {
        /// The boundary.
        seq: u64,
        /// The interval.
        interval: u64,
    },
    /// A checkpoint published off the machine names another hash than the
    /// log's entry: the log was rewritten at or before that entry.
    #[error(
        "entry {seq}: the log differs from the checkpoint published for it (rewritten at or before it)"
    )]
    PublishedMismatch {
        /// The entry.
        seq: u64,
    },
    /// Entries are gone: a published checkpoint covers an entry the log no
    /// longer holds.
    #[error(
        "a published checkpoint covers entry {seq}, the log ends at entry {entries}: entries were removed"
    )]
    Truncated {
        /// The entry the checkpoint covers.
        seq: u64,
        /// Entries in the log.
        entries: u64,
    },
}

impl LogFault {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LogFault::Chain(b) => b.code(),
            LogFault::CheckpointInvalid { .. } => "AUDIT_CHECKPOINT_INVALID",
            LogFault::CheckpointUntrusted { .. } => "AUDIT_CHECKPOINT_UNTRUSTED",
            LogFault::CheckpointMissing { .. } => "AUDIT_CHECKPOINT_MISSING",
            LogFault::PublishedMismatch { .. } => "AUDIT_PUBLISHED_MISMATCH",
            LogFault::Truncated { .. } => "AUDIT_TRUNCATED",
        }
    }

    /// The first entry at fault.
    pub fn seq(&self) -> u64 {
        match self {
            LogFault::Chain(b) => b.seq(),
            LogFault::CheckpointInvalid { seq, .. }
            | LogFault::CheckpointUntrusted { seq, .. }
            | LogFault::CheckpointMissing { seq, .. }
            | LogFault::PublishedMismatch { seq }
            | LogFault::Truncated { seq, .. } => *seq,
        }
    }
}

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSummary {
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Published checkpoints the log matched.
    pub published: u64,
    /// Hash of the last entry.
    pub head: [u8; 32],
}

/// Walks a log with its checkpoints: the chain, every checkpoint against
/// the trusted keys and its entry, a checkpoint at every boundary that is
/// due, and the log against checkpoints published off the machine.
///
/// Feed entries in order, each checkpoint right after the entry it covers,
/// then call [`LogVerifier::finish`].
#[derive(Debug, Clone)]
pub struct LogVerifier {
    chain: ChainVerifier,
    keys: TrustedKeys,
    schedule: Schedule,
    checkpoints: u64,
    /// A boundary just passed whose checkpoint has not come yet.
    open_boundary: Option<u64>,
    first_missing: Option<u64>,
    /// Published checkpoints, ascending by `seq`, and how many were matched.
    published: Vec<SignedCheckpoint>,
    matched: usize,
}

impl LogVerifier {
    /// A verifier accepting `keys`, requiring checkpoints per `schedule`.
    pub fn new(keys: TrustedKeys, schedule: Schedule) -> Self {
        LogVerifier {
            chain: ChainVerifier::new(),
            keys,
            schedule,
            checkpoints: 0,
            open_boundary: None,
            first_missing: None,
            published: Vec::new(),
            matched: 0,
        }
    }

    /// Also compares the log with checkpoints published earlier.
    pub fn with_published(mut self, mut published: Vec<SignedCheckpoint>) -> Self {
        published.sort_by_key(|c| c.seq);
        published.dedup();
        self.published = published;
        self
    }

    /// The trusted keys.
    pub fn keys(&self) -> &TrustedKeys {
        &self.keys
    }

    /// Checks the next entry.
    pub fn entry(
        &mut self,
        e: &EntryContent<'_>,
        stored_prev: &[u8; 32],
        stored_hash: &[u8; 32],
    ) -> Result<(), LogFault> {
        self.chain
            .push(e, stored_prev, stored_hash)
            .map_err(LogFault::Chain)?;
        if let Some(boundary) = self.open_boundary.take() {
            self.first_missing.get_or_insert(boundary);
        }
        if self.schedule.is_boundary(e.seq) {
            self.open_boundary = Some(e.seq);
        }
        while let Some(p) = self.published.get(self.matched) {
            if p.seq > e.seq {
                break;
            }
            if p.seq < e.seq || p.hash != *stored_hash {
                return Err(LogFault::PublishedMismatch { seq: p.seq });
            }
            self.check_signature(p)?;
            self.matched += 1;
        }
        Ok(())
    }

    /// Checks a checkpoint over the entry just fed.
    pub fn checkpoint(&mut self, c: &SignedCheckpoint) -> Result<(), LogFault> {
        let invalid = |message: String| LogFault::CheckpointInvalid {
            seq: c.seq,
            message,
        };
        if c.seq != self.chain.verified() || c.hash != self.chain.head() {
            return Err(invalid("names another hash than the entry's".into()));
        }
        // A log pinned late may hold earlier checkpoints by keys rotated out
        // before endorsements existed: no evidence either way.
        if c.seq <= self.schedule.from && !self.keys.contains(&c.key_id) {
            return Ok(());
        }
        if c.interval != 0 && c.interval != self.schedule.interval {
            return Err(invalid(format!(
                "signed under an interval of {} entries, the pinned interval is {}",
                c.interval, self.schedule.interval
            )));
        }
        self.check_signature(c)?;
        if self.open_boundary == Some(c.seq) {
            self.open_boundary = None;
        }
        self.checkpoints += 1;
        Ok(())
    }

    fn check_signature(&self, c: &SignedCheckpoint) -> Result<(), LogFault> {
        self.keys
            .verify(&c.key_id, c.at_ms, &c.message(), &c.signature)
            .map_err(|fault| match fault {
                KeyFault::Untrusted(_) => LogFault::CheckpointUntrusted { seq: c.seq, fault },
                other => LogFault::CheckpointInvalid {
                    seq: c.seq,
                    message: other.to_string(),
                },
            })
    }

    /// Entries verified so far.
    pub fn verified(&self) -> u64 {
        self.chain.verified()
    }

    /// Hash of the last verified entry.
    pub fn head(&self) -> [u8; 32] {
        self.chain.head()
    }

    /// Ends the walk: no published checkpoint beyond the end, no boundary
    /// that is due without its checkpoint.
    pub fn finish(mut self) -> Result<LogSummary, LogFault> {
        let entries = self.chain.verified();
        if let Some(p) = self.published.get(self.matched) {
            return Err(LogFault::Truncated {
                seq: p.seq,
                entries,
            });
        }
        if let Some(boundary) = self.open_boundary.take() {
            self.first_missing.get_or_insert(boundary);
        }
        // Boundaries come in order: if the first missing one is still in its
        // grace, so are all later ones.
        if let Some(seq) = self.first_missing {
            if self.schedule.required(seq, entries) {
                return Err(LogFault::CheckpointMissing {
                    seq,
                    interval: self.schedule.interval,
                });
            }
        }
        Ok(LogSummary {
            entries,
            checkpoints: self.checkpoints,
            published: self.matched as u64,
            head: self.chain.head(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T: i64 = 1_780_000_000_000;

    fn entry(seq: u64, detail: &str) -> EntryContent<'_> {
        EntryContent {
            seq,
            at_ms: 1_764_000_000_000 + seq as i64,
            actor: "admin",
            action: "licence.issue",
            subject: "1.2.156.3005.2.x",
            detail,
        }
    }

    /// `n` entries with their (prev, hash).
    fn log(n: u64) -> Vec<([u8; 32], [u8; 32])> {
        let mut out = Vec::new();
        let mut prev = GENESIS;
        for seq in 1..=n {
            let h = entry_hash(&prev, &entry(seq, "{}"));
            out.push((prev, h));
            prev = h;
        }
        out
    }

    fn hub_key(key: &SigningKey, endorsement: Option<Endorsement>) -> HubKey {
        HubKey {
            public: key.public(),
            validity: Validity::from(datetime!(2026-01-01 0:00 UTC)),
            endorsement,
        }
    }

    /// Walks `log` with checkpoints at `at` signed by `signer`.
    fn walk(
        v: &mut LogVerifier,
        log: &[([u8; 32], [u8; 32])],
        at: &[u64],
        signer: &SigningKey,
    ) -> Result<(), LogFault> {
        for (i, (p, h)) in log.iter().enumerate() {
            let seq = i as u64 + 1;
            v.entry(&entry(seq, "{}"), p, h)?;
            if at.contains(&seq) {
                v.checkpoint(&SignedCheckpoint::sign(signer, seq, *h, T, 10))?;
            }
        }
        Ok(())
    }

    #[test]
    fn chain_verifies_and_names_the_first_break() {
        let hashes = log(5);
        let mut v = ChainVerifier::new();
        for (i, (p, h)) in hashes.iter().enumerate() {
            v.push(&entry(i as u64 + 1, "{}"), p, h).unwrap();
        }
        assert_eq!(v.verified(), 5);
        assert_eq!(v.head(), hashes[4].1);

        let mut v = ChainVerifier::new();
        v.push(&entry(1, "{}"), &hashes[0].0, &hashes[0].1).unwrap();
        let err = v
            .push(&entry(2, "{\"x\":1}"), &hashes[1].0, &hashes[1].1)
            .unwrap_err();
        assert_eq!(err, ChainBreak::Content { seq: 2 });
        let mut v = ChainVerifier::new();
        v.push(&entry(1, "{}"), &hashes[0].0, &hashes[0].1).unwrap();
        assert_eq!(
            v.push(&entry(3, "{}"), &hashes[2].0, &hashes[2].1)
                .unwrap_err()
                .code(),
            "AUDIT_GAP"
        );
        // Field boundaries are part of the hash: moving bytes between fields changes it.
        let a = EntryContent {
            actor: "ab",
            action: "c",
            ..entry(1, "{}")
        };
        let b = EntryContent {
            actor: "a",
            action: "bc",
            ..entry(1, "{}")
        };
        assert_ne!(entry_hash(&GENESIS, &a), entry_hash(&GENESIS, &b));
    }

    #[test]
    fn checkpoint_messages_bind_every_field() {
        let key = SigningKey::from_seed(&[9; 32]);
        let c = SignedCheckpoint::sign(&key, 10, [1; 32], 5, 100);
        assert!(key.public().verify_strict(&c.message(), &c.signature));
        for changed in [
            SignedCheckpoint {
                seq: 11,
                ..c.clone()
            },
            SignedCheckpoint {
                hash: [2; 32],
                ..c.clone()
            },
            SignedCheckpoint {
                at_ms: 6,
                ..c.clone()
            },
            SignedCheckpoint {
                interval: 99,
                ..c.clone()
            },
            SignedCheckpoint {
                interval: 0,
                ..c.clone()
            },
        ] {
            assert!(!key.public().verify_strict(&changed.message(), &c.signature));
        }
        // Version 1 (no interval) keeps its old message.
        let v1 = checkpoint_message(10, &[1; 32], 5, 0);
        assert!(v1.starts_with(b"tongban-audit-checkpoint-v1\n"));
        assert_eq!(v1.len(), 28 + 48);
    }

    #[test]
    fn keys_are_trusted_only_back_to_the_anchor() {
        let anchor = SigningKey::from_seed(&[1; 32]);
        let second = SigningKey::from_seed(&[2; 32]);
        let third = SigningKey::from_seed(&[3; 32]);
        let stranger = SigningKey::from_seed(&[4; 32]);
        let nb = datetime!(2026-01-01 0:00 UTC);
        let records = vec![
            hub_key(&anchor, None),
            // Listed before its endorser: order does not matter.
            hub_key(&third, Some(endorse(&second, &third.public(), nb, T))),
            hub_key(&second, Some(endorse(&anchor, &second.public(), nb, T))),
            // Listed, and endorsed by itself: not enough.
            hub_key(
                &stranger,
                Some(endorse(&stranger, &stranger.public(), nb, T)),
            ),
        ];
        let trusted = TrustedKeys::new(&anchor.public(), &records);
        assert!(trusted.contains(&anchor.public().to_multikey()));
        assert!(trusted.contains(&second.public().to_multikey()));
        assert!(trusted.contains(&third.public().to_multikey()));
        assert!(!trusted.contains(&stranger.public().to_multikey()));

        // Another anchor accepts none of the chain.
        let other = TrustedKeys::new(&stranger.public(), &records);
        assert!(!other.contains(&anchor.public().to_multikey()));
        assert!(!other.contains(&second.public().to_multikey()));

        // An endorsement made after the endorser was revoked does not count;
        // one made as its window closed (a rotation) does.
        let mut late = records.clone();
        late[0].validity.revoked_at = Some(datetime!(2026-02-01 0:00 UTC));
        let trusted = TrustedKeys::new(&anchor.public(), &late);
        assert!(!trusted.contains(&second.public().to_multikey()));
        assert!(!trusted.contains(&third.public().to_multikey()));
        let mut rotated = records.clone();
        rotated[0].validity.not_after = Some(datetime!(2026-02-01 0:00 UTC));
        let trusted = TrustedKeys::new(&anchor.public(), &rotated);
        assert!(trusted.contains(&third.public().to_multikey()));

        // Changing the endorsed window breaks the signature.
        let mut moved = records.clone();
        moved[2].validity.not_before = datetime!(2025-01-01 0:00 UTC);
        let trusted = TrustedKeys::new(&anchor.public(), &moved);
        assert!(!trusted.contains(&second.public().to_multikey()));
    }

    #[test]
    fn schedule_boundaries_grace_and_signing() {
        let s = Schedule::new(10, 0).unwrap();
        assert!(Schedule::new(0, 0).is_none());
        assert!(s.is_boundary(10) && s.is_boundary(20) && !s.is_boundary(15) && !s.is_boundary(0));
        assert!(!s.required(10, 19) && s.required(10, 20));
        assert_eq!(s.signable(9), None);
        assert_eq!(s.signable(10), Some(10));
        assert_eq!(s.signable(19), Some(10));
        assert_eq!(s.signable(20), Some(20));
        let later = Schedule::new(10, 25).unwrap();
        assert!(!later.is_boundary(20) && later.is_boundary(30));
        assert_eq!(later.signable(29), None);
    }

    #[test]
    fn log_verifier_requires_trusted_checkpoints_at_every_due_boundary() {
        let anchor = SigningKey::from_seed(&[1; 32]);
        let stranger = SigningKey::from_seed(&[4; 32]);
        let records = vec![hub_key(&anchor, None), hub_key(&stranger, None)];
        let schedule = Schedule::new(10, 0).unwrap();
        let verifier = || LogVerifier::new(TrustedKeys::new(&anchor.public(), &records), schedule);
        let hashes = log(35);

        let mut v = verifier();
        walk(&mut v, &hashes, &[10, 20, 30, 33], &anchor).unwrap();
        let summary = v.finish().unwrap();
        assert_eq!((summary.entries, summary.checkpoints), (35, 4));

        // Boundary 30 is still in its grace at 35 entries; 20 is not.
        let mut v = verifier();
        walk(&mut v, &hashes, &[10, 20], &anchor).unwrap();
        assert!(v.finish().is_ok());
        let mut v = verifier();
        walk(&mut v, &hashes, &[10, 30], &anchor).unwrap();
        assert_eq!(
            v.finish().unwrap_err(),
            LogFault::CheckpointMissing {
                seq: 20,
                interval: 10
            }
        );
        // None at all.
        let mut v = verifier();
        walk(&mut v, &hashes, &[], &anchor).unwrap();
        let fault = v.finish().unwrap_err();
        assert_eq!(
            (fault.code(), fault.seq()),
            ("AUDIT_CHECKPOINT_MISSING", 10)
        );

        // Signed by a listed key that does not lead back to the anchor.
        let mut v = verifier();
        let fault = walk(&mut v, &hashes, &[10], &stranger).unwrap_err();
        assert_eq!(
            (fault.code(), fault.seq()),
            ("AUDIT_CHECKPOINT_UNTRUSTED", 10)
        );

        // Pinned late, after entry 15: a checkpoint at 10 by an old key that
        // does not lead to the anchor is skipped; at 20 it is not.
        let late = Schedule::new(10, 15).unwrap();
        let mut v = LogVerifier::new(TrustedKeys::new(&anchor.public(), &records), late);
        for (i, (p, h)) in hashes.iter().enumerate() {
            let seq = i as u64 + 1;
            v.entry(&entry(seq, "{}"), p, h).unwrap();
            let signer = if seq == 10 { &stranger } else { &anchor };
            if seq % 10 == 0 {
                let c = SignedCheckpoint::sign(signer, seq, *h, T, 10);
                v.checkpoint(&c).unwrap();
            }
        }
        assert_eq!(v.finish().unwrap().checkpoints, 2);
        let mut v = LogVerifier::new(TrustedKeys::new(&anchor.public(), &records), late);
        assert_eq!(
            walk(&mut v, &hashes, &[20], &stranger).unwrap_err().code(),
            "AUDIT_CHECKPOINT_UNTRUSTED"
        );

        // Signed under another interval.
        let mut v = verifier();
        for (i, (p, h)) in hashes.iter().take(10).enumerate() {
            v.entry(&entry(i as u64 + 1, "{}"), p, h).unwrap();
        }
        let c = SignedCheckpoint::sign(&anchor, 10, hashes[9].1, T, 1_000_000);
        assert_eq!(
            v.checkpoint(&c).unwrap_err().code(),
            "AUDIT_CHECKPOINT_INVALID"
        );
        // Over another hash.
        let c = SignedCheckpoint::sign(&anchor, 10, [7; 32], T, 10);
        assert_eq!(
            v.checkpoint(&c).unwrap_err().code(),
            "AUDIT_CHECKPOINT_INVALID"
        );
    }

    #[test]
    fn log_verifier_compares_with_published_checkpoints() {
        let anchor = SigningKey::from_seed(&[1; 32]);
        let records = vec![hub_key(&anchor, None)];
        let schedule = Schedule::new(10, 0).unwrap();
        let hashes = log(25);
        let published = vec![
            SignedCheckpoint::sign(&anchor, 20, hashes[19].1, T, 10),
            SignedCheckpoint::sign(&anchor, 10, hashes[9].1, T, 10),
        ];
        let verifier = |published: Vec<SignedCheckpoint>| {
            LogVerifier::new(TrustedKeys::new(&anchor.public(), &records), schedule)
                .with_published(published)
        };
        let mut v = verifier(published.clone());
        walk(&mut v, &hashes, &[10, 20], &anchor).unwrap();
        assert_eq!(v.finish().unwrap().published, 2);

        // The same log rewritten from entry 15 on, every hash recomputed.
        let mut rewritten = hashes[..14].to_vec();
        let mut prev = hashes[13].1;
        for seq in 15..=25 {
            let h = entry_hash(&prev, &entry(seq, "{\"forged\":true}"));
            rewritten.push((prev, h));
            prev = h;
        }
        let mut v = verifier(published.clone());
        let mut fault = None;
        for (i, (p, h)) in rewritten.iter().enumerate() {
            let seq = i as u64 + 1;
            let detail = if seq >= 15 { "{\"forged\":true}" } else { "{}" };
            if let Err(f) = v.entry(&entry(seq, detail), p, h) {
                fault = Some(f);
                break;
            }
        }
        assert_eq!(fault, Some(LogFault::PublishedMismatch { seq: 20 }));

        // Cut back to 15 entries: the published checkpoint at 20 is beyond the end.
        let mut v = verifier(published);
        walk(&mut v, &hashes[..15], &[10], &anchor).unwrap();
        assert_eq!(
            v.finish().unwrap_err(),
            LogFault::Truncated {
                seq: 20,
                entries: 15
            }
        );

        // A published checkpoint by a stranger is not evidence.
        let stranger = SigningKey::from_seed(&[4; 32]);
        let mut v = verifier(vec![SignedCheckpoint::sign(
            &stranger,
            10,
            hashes[9].1,
            T,
            10,
        )]);
        assert_eq!(
            walk(&mut v, &hashes, &[10, 20], &anchor)
                .unwrap_err()
                .code(),
            "AUDIT_CHECKPOINT_UNTRUSTED"
        );
    }
}
