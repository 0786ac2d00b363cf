//! The audit log as administrators use it: signed checkpoints, full-chain
//! verification, and self-contained archives.

use std::collections::HashMap;
use std::io::Write;

use tongban_seal::archive::{self, ArchiveKey};
use tongban_seal::chain::{ChainVerifier, sign_checkpoint, verify_checkpoint};
use tongban_seal::{Signature, Validity};
use tongban_store::Checkpoint;

use crate::admin::{HUB_OWNER, key_record};
use crate::{Error, Hub, Result};

/// A checkpoint is signed automatically once this many entries follow the last one.
pub const CHECKPOINT_INTERVAL: u64 = 10_000;
/// Entries read per page while walking the chain.
const PAGE: usize = 20_000;

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// Entries verified (up to the first break).
    pub entries: u64,
    /// Checkpoints whose signature and hash verified.
    pub checkpoints: u64,
    /// Hex hash of the last verified entry.
    pub head: String,
    /// The first problem, if any: its code, the entry at fault and a sentence.
    pub problem: Option<AuditProblem>,
}

/// The first break in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditProblem {
    /// Stable code.
    pub code: &'static str,
    /// The first entry at fault.
    pub seq: u64,
    /// What is wrong.
    pub message: String,
}

impl AuditReport {
    /// Whether the whole chain verified.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

impl Hub {
    /// Signs a checkpoint over the current head (if it is not already covered).
    pub async fn audit_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let (seq, hash) = self.store.audit_head().await?;
        if seq == 0 || self.store.last_checkpoint_seq().await? >= seq {
            return Ok(None);
        }
        let (key, record) = self.current_key(HUB_OWNER).await?;
        let at_ms = (self.now().unix_timestamp_nanos() / 1_000_000) as i64;
        let signature = sign_checkpoint(&key, seq, &hash, at_ms);
        let checkpoint = Checkpoint {
            seq,
            hash,
            at_ms,
            key_id: record.public.to_multikey(),
            signature: signature.0.to_vec(),
        };
        self.store.insert_checkpoint(&checkpoint).await?;
        Ok(Some(checkpoint))
    }

    /// Appends records of actions taken outside the hub's own services
    /// (imports, other systems), signing checkpoints as they fall due.
    pub async fn record_audit(&self, records: &[tongban_store::AuditRecord]) -> Result<u64> {
        let last = self.store.append_audit(records).await?;
        self.maybe_checkpoint().await?;
        Ok(last)
    }

    /// Signs a checkpoint when [`CHECKPOINT_INTERVAL`] entries have accrued.
    pub async fn maybe_checkpoint(&self) -> Result<()> {
        let (seq, _) = self.store.audit_head().await?;
        if seq >= self.store.last_checkpoint_seq().await? + CHECKPOINT_INTERVAL {
            self.audit_checkpoint().await?;
        }
        Ok(())
    }

    /// Walks the whole chain: hashes, links, checkpoint signatures, and that
    /// the stored head matches the last entry. `progress` is told the number
    /// of entries verified after each page.
    pub async fn audit_verify(&self, mut progress: impl FnMut(u64)) -> Result<AuditReport> {
        let hub_keys: HashMap<String, tongban_seal::KeyRecord> = self
            .store
            .keys_of(HUB_OWNER)
            .await?
            .iter()
            .map(|row| Ok((row.key_id.clone(), key_record(row)?)))
            .collect::<Result<_>>()?;
        // One snapshot: an append committed during the walk must not make
        // the head (read after the entries) look like a removal.
        let mut snapshot = self.store.audit_snapshot().await?;
        let (head_seq, head_hash) = snapshot.head().await?;
        let checkpoints: HashMap<u64, Checkpoint> = snapshot
            .checkpoints()
            .await?
            .into_iter()
            .map(|c| (c.seq, c))
            .collect();
        let mut chain = ChainVerifier::new();
        let mut verified_checkpoints = 0;
        let mut after = 0;
        let mut problem = None;
        'walk: loop {
            let page = snapshot.page(after, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for entry in &page {
                if let Err(b) = chain.push(&entry.content(), &entry.prev_hash, &entry.hash) {
                    problem = Some(AuditProblem {
                        code: b.code(),
                        seq: b.seq(),
                        message: b.to_string(),
                    });
                    break 'walk;
                }
                if let Some(c) = checkpoints.get(&entry.seq) {
                    if let Err(message) = check_checkpoint(c, &entry.hash, &hub_keys) {
                        problem = Some(AuditProblem {
                            code: "AUDIT_CHECKPOINT_INVALID",
                            seq: c.seq,
                            message,
                        });
                        break 'walk;
                    }
                    verified_checkpoints += 1;
                }
                after = entry.seq;
            }
            progress(chain.verified());
        }
        snapshot.finish().await?;
        if problem.is_none() {
            if head_seq != chain.verified() || head_hash != chain.head() {
                problem = Some(AuditProblem {
                    code: "AUDIT_TRUNCATED",
                    seq: chain.verified() + 1,
                    message: format!(
                        "the chain's head says {head_seq} entries, {} are present: entries were removed",
                        chain.verified()
                    ),
                });
            } else if let Some(orphan) = checkpoints.keys().find(|s| **s > head_seq) {
                problem = Some(AuditProblem {
                    code: "AUDIT_TRUNCATED",
                    seq: *orphan,
                    message: format!(
                        "a checkpoint covers entry {orphan}, beyond the last entry {head_seq}"
                    ),
                });
            }
        }
        Ok(AuditReport {
            entries: chain.verified(),
            checkpoints: verified_checkpoints,
            head: archive::hex(&chain.head()),
            problem,
        })
    }

    /// Writes a self-contained archive of the whole log (see
    /// `tongban_seal::archive`), signed with the hub's current key, which is
    /// the anchor to verify it with. Returns the number of entries.
    pub async fn audit_export(
        &self,
        out: &mut impl Write,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let identity = self.identity().await?;
        let (hub_key, _) = self.current_key(HUB_OWNER).await?;
        let keys: Vec<ArchiveKey> = self
            .store
            .keys_of(HUB_OWNER)
            .await?
            .iter()
            .map(|row| {
                Ok(ArchiveKey {
                    public: key_record(row)?.public,
                    validity: Validity {
                        not_before: row.not_before,
                        not_after: row.not_after,
                        revoked_at: row.revoked_at,
                    },
                })
            })
            .collect::<Result<_>>()?;
        let io = |e: std::io::Error| Error::rejected("IO", e.to_string());
        // One snapshot: the head, the entries and their checkpoints as of one instant.
        let mut snapshot = self.store.audit_snapshot().await?;
        let (head_seq, _) = snapshot.head().await?;
        let checkpoints: HashMap<u64, Checkpoint> = snapshot
            .checkpoints()
            .await?
            .into_iter()
            .map(|c| (c.seq, c))
            .collect();
        writeln!(
            out,
            "{}",
            archive::header_line(&identity.id, self.now(), &keys)
        )
        .map_err(io)?;
        let mut after = 0;
        let mut head = tongban_seal::chain::GENESIS;
        'pages: loop {
            let page = snapshot.page(after, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                if e.seq > head_seq {
                    break 'pages;
                }
                writeln!(
                    out,
                    "{}",
                    archive::entry_line(&e.content(), &e.prev_hash, &e.hash)
                )
                .map_err(io)?;
                if let Some(c) = checkpoints.get(&e.seq) {
                    let signature = Signature::from_slice(&c.signature).map_err(|_| {
                        Error::Store(tongban_store::StoreError::Corrupt(format!(
                            "checkpoint {} signature",
                            c.seq
                        )))
                    })?;
                    writeln!(
                        out,
                        "{}",
                        archive::checkpoint_line(c.seq, &c.hash, c.at_ms, &c.key_id, &signature)
                    )
                    .map_err(io)?;
                }
                head = e.hash;
                after = e.seq;
            }
            progress(after);
        }
        snapshot.finish().await?;
        writeln!(
            out,
            "{}",
            archive::trailer_line(after, &head, &identity.id, &keys, &hub_key)
        )
        .map_err(io)?;
        out.flush().map_err(io)?;
        Ok(after)
    }
}

fn check_checkpoint(
    c: &Checkpoint,
    entry_hash: &[u8; 32],
    hub_keys: &HashMap<String, tongban_seal::KeyRecord>,
) -> Result<(), String> {
    if &c.hash != entry_hash {
        return Err(format!(
            "checkpoint at entry {} names another hash than the entry's",
            c.seq
        ));
    }
    let key = hub_keys.get(&c.key_id).ok_or_else(|| {
        format!(
            "checkpoint at entry {} is signed by an unknown key {}",
            c.seq, c.key_id
        )
    })?;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.at_ms) * 1_000_000)
        .map_err(|_| format!("checkpoint at entry {} has an impossible time", c.seq))?;
    key.validity
        .check_at(at)
        .map_err(|e| format!("checkpoint at entry {}: {e}", c.seq))?;
    let signature = Signature::from_slice(&c.signature)
        .map_err(|e| format!("checkpoint at entry {}: {e}", c.seq))?;
    if !verify_checkpoint(&key.public, c.seq, &c.hash, c.at_ms, &signature) {
        return Err(format!(
            "checkpoint at entry {}: signature does not match",
            c.seq
        ));
    }
    Ok(())
}
