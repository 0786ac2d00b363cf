//! The tamper-evident audit chain: entry hashes, signed checkpoints, and a
//! streaming verifier. No IO: the store feeds entries in, in order.
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
//! `detail` is canonical JSON text (RFC 8785), hashed as stored. A checkpoint
//! signs `"tongban-audit-checkpoint-v1\n" ‖ seq (u64 BE) ‖ hash ‖ at_ms (i64 BE)`
//! with the hub's Ed25519 key. Binary framing keeps verification free of JSON
//! parsing: millions of entries verify at the speed of SHA-256 and the store.

use sha2::{Digest, Sha256};

use crate::key::{PublicKey, Signature, SigningKey};

const ENTRY_DOMAIN: &[u8] = b"tongban-audit-v1\n";
const CHECKPOINT_DOMAIN: &[u8] = b"tongban-audit-checkpoint-v1\n";

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

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

/// The bytes a checkpoint signs.
pub fn checkpoint_message(seq: u64, hash: &[u8; 32], at_ms: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 48);
    m.extend_from_slice(CHECKPOINT_DOMAIN);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at_ms.to_be_bytes());
    m
}

/// Signs a checkpoint.
pub fn sign_checkpoint(key: &SigningKey, seq: u64, hash: &[u8; 32], at_ms: i64) -> Signature {
    key.sign(&checkpoint_message(seq, hash, at_ms))
}

/// Checks a checkpoint's signature.
pub fn verify_checkpoint(
    key: &PublicKey,
    seq: u64,
    hash: &[u8; 32],
    at_ms: i64,
    signature: &Signature,
) -> bool {
    key.verify_strict(&checkpoint_message(seq, hash, at_ms), signature)
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn chain_verifies_and_names_the_first_break() {
        let mut hashes = Vec::new();
        let mut prev = GENESIS;
        for seq in 1..=5 {
            let h = entry_hash(&prev, &entry(seq, "{}"));
            hashes.push((prev, h));
            prev = h;
        }
        let mut v = ChainVerifier::new();
        for (i, (p, h)) in hashes.iter().enumerate() {
            v.push(&entry(i as u64 + 1, "{}"), p, h).unwrap();
        }
        assert_eq!(v.verified(), 5);
        assert_eq!(v.head(), prev);

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
    fn checkpoints() {
        let key = SigningKey::from_seed(&[9; 32]);
        let sig = sign_checkpoint(&key, 10, &[1; 32], 5);
        assert!(verify_checkpoint(&key.public(), 10, &[1; 32], 5, &sig));
        assert!(!verify_checkpoint(&key.public(), 11, &[1; 32], 5, &sig));
        assert!(!verify_checkpoint(&key.public(), 10, &[2; 32], 5, &sig));
    }
}
