//! The audit log as administrators use it: a signed checkpoint at every
//! interval, verification against an anchor pinned outside the database,
//! checkpoints published off the machine, and self-contained archives.
//!
//! Whoever can write the database can rewrite entries and recompute the
//! chain, delete checkpoints and add key rows; what they cannot do is sign
//! with a key that leads back to the pinned anchor, or change the pin file
//! and the published checkpoints. Verification rests on those alone.
//!
//! `init_region` pins the anchor (the hub's first key) in `audit-pin.json`
//! beside the secret keys and refuses a key store that pins another; a new hub
//! key is endorsed by the current one. `audit_verify`/`audit_verify_with`
//! verify in one snapshot against the pinned anchor or one given, optionally
//! against published checkpoints; `maybe_checkpoint` signs the checkpoint at
//! the newest boundary of the pinned interval (`CHECKPOINT_INTERVAL`, 10,000 by
//! default), never an older one; `audit_publish` appends checkpoints to a file
//! kept off the machine; `record_audit` appends an interval at a time. Formats:
//! `docs/AUDIT-LOG.md`.

use std::io::{BufRead, Write};
use std::num::NonZeroU64;
use std::ops::ControlFlow;
use std::path::Path;

use serde_json::{Value, json};
use tongban_seal::archive::{self, PublishedReader};
use tongban_seal::chain::{
    ChainVerifier, Endorsement, EntryContent, HubKey, LogFault, LogVerifier, Schedule,
    SignedCheckpoint, TrustedKeys, endorse,
};
use tongban_seal::{PublicKey, Signature, Validity};
use tongban_store::{AuditSnapshot, Checkpoint, KeyEndorsement, KeyRow, StoreError};

use crate::HUB_OWNER;
use crate::error::Code;
use crate::keystore::KeyStoreError;
use crate::{Error, Result, Service};

/// Entries between checkpoints of a hub pinned by `init` (the pin states it).
pub const CHECKPOINT_INTERVAL: u64 = 10_000;
/// The largest interval a pin may state.
pub const MAX_CHECKPOINT_INTERVAL: u64 = 1_000_000_000;
/// Entries read per page while walking the chain.
const PAGE: usize = 20_000;
const PIN_FORMAT: &str = "tongban-audit-pin/1";

/// What a verifier of this hub's audit log holds outside the database: the
/// file `audit-pin.json` next to the secret keys, written once by `init`
/// (or `tongban audit pin`) and never overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPin {
    /// The hub (for people; not checked).
    pub hub: String,
    /// The anchor: the hub's first key. Later hub keys count only with a
    /// chain of endorsements back to it.
    pub anchor: PublicKey,
    /// Where checkpoints are due.
    pub schedule: Schedule,
}

impl AuditPin {
    fn to_json(&self) -> Value {
        json!({
            "format": PIN_FORMAT, "hub": self.hub, "anchor": self.anchor.to_multikey(),
            "interval": self.schedule.interval(), "from": self.schedule.from(),
        })
    }

    fn parse(text: &str) -> std::result::Result<Self, String> {
        let v = tongban_seal::json::from_str_strict(text)
            .map_err(|e| format!("not strict JSON: {e}"))?;
        if v.get("format").and_then(Value::as_str) != Some(PIN_FORMAT) {
            return Err(format!("not a {PIN_FORMAT} file"));
        }
        let anchor = v
            .get("anchor")
            .and_then(Value::as_str)
            .ok_or("no anchor")
            .and_then(|a| PublicKey::from_multikey(a).map_err(|_| "anchor is not a Multikey"))?;
        let number = |name: &str| v.get(name).and_then(Value::as_u64);
        let schedule = number("interval")
            .filter(|i| *i <= MAX_CHECKPOINT_INTERVAL)
            .and_then(|i| Schedule::new(i, number("from")?))
            .ok_or("no interval between 1 and 1,000,000,000, or no from")?;
        Ok(AuditPin {
            hub: v
                .get("hub")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            anchor,
            schedule,
        })
    }
}

/// What `audit verify` checks the log against, besides the pin.
#[derive(Debug, Clone, Default)]
pub struct AuditVerifyOptions {
    /// The anchor to trust instead of the pinned one.
    pub anchor: Option<PublicKey>,
    /// Checkpoints published off the machine earlier ([`read_published`]).
    pub published: Vec<SignedCheckpoint>,
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// Entries verified (up to the first break).
    pub entries: u64,
    /// Checkpoints whose signature and hash verified.
    pub checkpoints: u64,
    /// Published checkpoints the log matched.
    pub published: u64,
    /// Hex hash of the last verified entry.
    pub head: String,
    /// The anchor the checkpoints were verified against, if any.
    pub anchor: Option<String>,
    /// Entries between checkpoints.
    pub interval: u64,
    /// The first problem, if any: its code, the entry at fault and a sentence.
    pub problem: Option<AuditProblem>,
}

/// The first break in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditProblem {
    /// Stable code.
    pub code: &'static str,
    /// The first entry at fault (0 when the problem is not at an entry).
    pub seq: u64,
    /// What is wrong.
    pub message: String,
}

impl AuditProblem {
    fn of(fault: &LogFault) -> Self {
        AuditProblem {
            code: fault.code(),
            seq: fault.seq(),
            message: fault.to_string(),
        }
    }
}

impl AuditReport {
    /// Whether the whole chain verified, checkpoints included.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// What `audit checkpoint --publish` appended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishOutcome {
    /// Checkpoints appended now.
    pub appended: u64,
    /// The last checkpoint in the file (0 if none).
    pub last: u64,
}

impl Service {
    /// The pinned anchor and schedule, if this node has them.
    pub async fn audit_pin(&self) -> Result<Option<AuditPin>> {
        let Some(text) = self.keys.load_pin().await? else {
            return Ok(None);
        };
        AuditPin::parse(&text).map(Some).map_err(|m| {
            Error::rejected(
                Code::AuditPinInvalid,
                format!("{}: {m}", self.keys.pin_place()),
            )
        })
    }

    /// Pins the audit log of a hub initialised before pins existed: to
    /// `anchor`, or to the hub's current key (compare it with the anchor
    /// you published). Checkpoints are due after the current head.
    pub async fn pin_audit(&self, anchor: Option<PublicKey>, interval: u64) -> Result<AuditPin> {
        if !(1..=MAX_CHECKPOINT_INTERVAL).contains(&interval) {
            return Err(Error::rejected(
                Code::AuditIntervalInvalid,
                format!("the interval is 1 to {MAX_CHECKPOINT_INTERVAL} entries"),
            ));
        }
        let identity = self.identity().await?;
        let anchor = match anchor {
            Some(a) => a,
            None => PublicKey::from_multikey(&identity.anchor).map_err(|e| {
                Error::Store(StoreError::Corrupt(format!(
                    "hub key {}: {e}",
                    identity.anchor
                )))
            })?,
        };
        let (head, _) = self.store.audit_head().await?;
        let pin = AuditPin {
            hub: identity.id,
            anchor,
            schedule: NonZeroU64::new(interval)
                .map_or(default_schedule(), |i| Schedule::every(i, head)),
        };
        self.write_audit_pin(&pin).await?;
        Ok(pin)
    }

    /// Pins a new hub's anchor, with the default checkpoint schedule.
    pub(crate) async fn pin_new_anchor(
        &self,
        hub: &str,
        anchor: tongban_seal::PublicKey,
    ) -> Result<()> {
        self.write_audit_pin(&AuditPin {
            hub: hub.to_owned(),
            anchor,
            schedule: default_schedule(),
        })
        .await
    }

    /// Writes the pin; refuses to replace one.
    pub(crate) async fn write_audit_pin(&self, pin: &AuditPin) -> Result<()> {
        let text = format!("{}\n", pin.to_json());
        if !self.keys.save_pin(&text).await? {
            return Err(pin_exists(&self.keys.pin_place()));
        }
        Ok(())
    }

    /// Refuses when this node already pins an audit anchor.
    pub(crate) async fn refuse_if_pinned(&self) -> Result<()> {
        if self.keys.load_pin().await?.is_some() {
            return Err(pin_exists(&self.keys.pin_place()));
        }
        Ok(())
    }

    /// Endorses a new hub key with the hub's current key, so that verifiers
    /// holding the anchor accept what it signs. Stored before the key's row:
    /// an endorsement of a key that never got registered is harmless.
    pub(crate) async fn endorse_hub_key(&self, row: &KeyRow) -> Result<()> {
        let public = PublicKey::from_multikey(&row.key_id)
            .map_err(|e| Error::Store(StoreError::Corrupt(format!("key {}: {e}", row.key_id))))?;
        let (signer, _) = self
            .current_key(HUB_OWNER, tongban_seal::KeyPurpose::Both)
            .await?;
        let e = endorse(&signer, &public, row.not_before, self.now_ms());
        self.store
            .insert_key_endorsement(&KeyEndorsement {
                key_id: row.key_id.clone(),
                endorsed_by: e.by,
                at_ms: e.at_ms,
                signature: e.signature.0.to_vec(),
            })
            .await?;
        Ok(())
    }

    /// Signs the checkpoint due at the newest boundary, then one over the
    /// head (if not already covered). Returns the head's checkpoint.
    pub async fn audit_checkpoint(&self) -> Result<Option<Checkpoint>> {
        self.maybe_checkpoint().await?;
        let schedule = self.audit_schedule().await?;
        let (head, _) = self.store.audit_head().await?;
        if head == 0 || self.store.has_checkpoint(head).await? {
            return Ok(None);
        }
        self.sign_checkpoint_at(head, schedule).await
    }

    /// Appends records of actions taken outside the hub's own services
    /// (imports, other systems), signing checkpoints as they fall due.
    pub async fn record_audit(&self, records: &[tongban_store::AuditRecord]) -> Result<u64> {
        // One interval at a time: a checkpoint is never signed late, so a
        // batch must not step over a boundary.
        let chunk = usize::try_from(self.audit_schedule().await?.interval()).unwrap_or(usize::MAX);
        let mut last = 0;
        for part in records.chunks(chunk.max(1)) {
            last = self.store.append_audit(part).await?;
            self.maybe_checkpoint().await?;
        }
        Ok(last)
    }

    /// Signs the checkpoint due at the newest boundary, if it has none.
    ///
    /// Only the newest boundary is ever signed: one whose interval has
    /// passed stays missing (and `audit verify` says so), because signing
    /// it late would sign whatever the database holds by then.
    pub async fn maybe_checkpoint(&self) -> Result<()> {
        let schedule = self.audit_schedule().await?;
        let (head, _) = self.store.audit_head().await?;
        let Some(boundary) = schedule.signable(head) else {
            return Ok(());
        };
        if !self.store.has_checkpoint(boundary).await? {
            self.sign_checkpoint_at(boundary, schedule).await?;
        }
        Ok(())
    }

    async fn sign_checkpoint_at(&self, seq: u64, schedule: Schedule) -> Result<Option<Checkpoint>> {
        let Some(entry) = self.store.audit_entry(seq).await? else {
            return Ok(None);
        };
        let (key, _) = self
            .current_key(HUB_OWNER, tongban_seal::KeyPurpose::Both)
            .await?;
        let signed =
            SignedCheckpoint::sign(&key, seq, entry.hash, self.now_ms(), schedule.interval());
        let checkpoint = Checkpoint {
            seq,
            hash: signed.hash,
            at_ms: signed.at_ms,
            interval: signed.interval,
            key_id: signed.key_id,
            signature: signed.signature.0.to_vec(),
        };
        self.store.insert_checkpoint(&checkpoint).await?;
        Ok(Some(checkpoint))
    }

    /// The pinned schedule, or the default one on a node without a pin.
    async fn audit_schedule(&self) -> Result<Schedule> {
        Ok(self
            .audit_pin()
            .await?
            .map_or(default_schedule(), |p| p.schedule))
    }

    fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// A page of the log in order: entries after `after` (a sequence
    /// number), about `subject` only when given, at most `limit`.
    pub async fn audit_entries(
        &self,
        subject: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<tongban_store::AuditEntry>> {
        Ok(match subject {
            Some(s) => self.store.audit_of_after(s, after, limit).await?,
            None => self.store.audit_page(after, limit).await?,
        })
    }

    /// [`Service::audit_verify_with`] the pinned anchor and nothing published.
    pub async fn audit_verify(&self, progress: impl FnMut(u64)) -> Result<AuditReport> {
        self.audit_verify_with(&AuditVerifyOptions::default(), progress)
            .await
    }

    /// Walks the whole chain in one snapshot of the store: hashes, links,
    /// the stored head, every checkpoint against the keys that lead back to
    /// the anchor (given, or pinned), a checkpoint at every boundary that is
    /// due, and the checkpoints published earlier. Without an anchor the
    /// chain is still walked, and the report says the checkpoints were not
    /// verified (`AUDIT_ANCHOR_UNPINNED`). `progress` is told the number of
    /// entries verified after each page.
    pub async fn audit_verify_with(
        &self,
        options: &AuditVerifyOptions,
        mut progress: impl FnMut(u64),
    ) -> Result<AuditReport> {
        let pin = self.audit_pin().await?;
        let schedule = pin.as_ref().map_or(default_schedule(), |p| p.schedule);
        let anchor = options.anchor.or(pin.map(|p| p.anchor));
        let mut snapshot = self.store.audit_snapshot().await?;
        let (head_seq, head_hash) = snapshot.head().await?;
        let checkpoints = snapshot.checkpoints().await?;
        let mut walk = match anchor {
            Some(anchor) => {
                let keys = hub_keys(&mut snapshot).await?;
                Walk::Pinned(
                    LogVerifier::new(TrustedKeys::new(&anchor, &keys), schedule)
                        .with_published(options.published.clone()),
                )
            }
            None => Walk::Unpinned(ChainVerifier::new()),
        };
        let mut fault = walk_log(&mut snapshot, &mut walk, &checkpoints, &mut progress).await?;
        snapshot.finish().await?;
        let (entries, head) = walk.position();
        if fault.is_none() {
            fault = stored_head_fault(head_seq, head_hash, entries, head, &checkpoints);
        }
        let mut summary = None;
        if fault.is_none() {
            match walk {
                Walk::Pinned(log) => match log.finish() {
                    Ok(s) => summary = Some(s),
                    Err(f) => fault = Some(AuditProblem::of(&f)),
                },
                Walk::Unpinned(_) => {
                    fault = Some(AuditProblem {
                        code: Code::AuditAnchorUnpinned.as_str(),
                        seq: 0,
                        message: "the chain holds together, but no anchor is pinned on this node: \
                                  checkpoints were not verified (pass --anchor, or pin with `tongban audit pin`)"
                            .into(),
                    });
                }
            }
        }
        Ok(AuditReport {
            entries,
            checkpoints: summary.as_ref().map_or(0, |s| s.checkpoints),
            published: summary.as_ref().map_or(0, |s| s.published),
            head: archive::hex(&head),
            anchor: anchor.map(|a| a.to_multikey()),
            interval: schedule.interval(),
            problem: fault,
        })
    }

    /// Appends to `path` (created with a header if absent) every checkpoint
    /// after the last one the file holds, once the file's last checkpoint
    /// still matches the log and each new one verifies against the pinned
    /// anchor. Copy the file off the machine; `audit verify --checkpoints`
    /// compares the log with it.
    pub async fn audit_publish(&self, path: &Path) -> Result<PublishOutcome> {
        let pin = self.audit_pin().await?.ok_or_else(|| {
            Error::rejected(
                Code::AuditAnchorUnpinned,
                "no anchor is pinned on this node: nothing can be published that a verifier could check",
            )
        })?;
        let hub = self.identity().await?.id;
        // An empty file (created beforehand, say on a mounted share) is a new one.
        let existing = if path.metadata().is_ok_and(|m| m.len() > 0) {
            let (file_hub, list) = read_published(path)?;
            if file_hub != hub {
                return Err(Error::Published {
                    path: path.display().to_string(),
                    source: archive::PublishedError {
                        line: 1,
                        message: format!("holds checkpoints of {file_hub}, not of {hub}"),
                    },
                });
            }
            Some(list)
        } else {
            None
        };
        let last = existing.as_ref().and_then(|l| l.last()).cloned();
        let mut snapshot = self.store.audit_snapshot().await?;
        let keys = TrustedKeys::new(&pin.anchor, &hub_keys(&mut snapshot).await?);
        let (head, _) = snapshot.head().await?;
        if let Some(last) = &last {
            check_published_still_matches(&mut snapshot, last, head).await?;
        }
        let after = last.as_ref().map_or(0, |c| c.seq);
        let mut fresh = Vec::new();
        for c in snapshot.checkpoints().await? {
            if c.seq <= after || c.seq > head {
                continue;
            }
            let signed = signed_checkpoint(&c)?;
            if signed.interval != 0 && signed.interval != pin.schedule.interval() {
                return Err(Error::AuditFault(LogFault::CheckpointInvalid {
                    seq: c.seq,
                    message: format!(
                        "signed under an interval of {} entries, the pinned interval is {}",
                        signed.interval,
                        pin.schedule.interval()
                    ),
                }));
            }
            let entry = snapshot.page(c.seq - 1, 1).await?;
            if entry.first().map(|e| (e.seq, e.hash)) != Some((c.seq, c.hash)) {
                return Err(Error::AuditFault(LogFault::CheckpointInvalid {
                    seq: c.seq,
                    message: "names another hash than the entry's".into(),
                }));
            }
            keys.verify(
                &signed.key_id,
                signed.at_ms,
                &signed.message(),
                &signed.signature,
            )
            .map_err(|fault| {
                Error::AuditFault(LogFault::CheckpointUntrusted { seq: c.seq, fault })
            })?;
            fresh.push(signed);
        }
        snapshot.finish().await?;
        append_published(path, existing.is_none().then_some(hub.as_str()), &fresh)?;
        Ok(PublishOutcome {
            appended: fresh.len() as u64,
            last: fresh.last().map_or(after, |c| c.seq),
        })
    }

    /// Writes a self-contained archive of the whole log, read in one
    /// snapshot (see `tongban_seal::archive`), signed with the hub's
    /// current key. It verifies with the pinned anchor. Returns the number
    /// of entries.
    pub async fn audit_export(
        &self,
        out: &mut impl Write,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let identity = self.identity().await?;
        let schedule = self.audit_schedule().await?;
        let (hub_key, _) = self
            .current_key(HUB_OWNER, tongban_seal::KeyPurpose::Both)
            .await?;
        let exported_at = self.now();
        let io = |e: std::io::Error| Error::rejected(Code::Io, e.to_string());
        let mut snapshot = self.store.audit_snapshot().await?;
        let (head_seq, _) = snapshot.head().await?;
        let keys = hub_keys(&mut snapshot).await?;
        let checkpoints = snapshot.checkpoints().await?;
        let header = archive::header_line(&identity.id, exported_at, schedule, &keys);
        writeln!(out, "{header}").map_err(io)?;
        let mut next_checkpoint = checkpoints.iter().peekable();
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
                let line = archive::entry_line(&e.content(), &e.prev_hash, &e.hash);
                writeln!(out, "{line}").map_err(io)?;
                while let Some(c) = next_checkpoint.next_if(|c| c.seq <= e.seq) {
                    if c.seq == e.seq {
                        let line = archive::checkpoint_line(&signed_checkpoint(c)?);
                        writeln!(out, "{line}").map_err(io)?;
                    }
                }
                head = e.hash;
                after = e.seq;
            }
            progress(after);
        }
        snapshot.finish().await?;
        let trailer = archive::trailer_line(
            (after, head),
            &identity.id,
            exported_at,
            schedule,
            &keys,
            &hub_key,
        );
        writeln!(out, "{trailer}").map_err(io)?;
        out.flush().map_err(io)?;
        Ok(after)
    }
}

/// The walk in progress: with an anchor, the whole log; without, the chain.
enum Walk {
    Pinned(LogVerifier),
    Unpinned(ChainVerifier),
}

impl Walk {
    fn position(&self) -> (u64, [u8; 32]) {
        match self {
            Walk::Pinned(log) => (log.verified(), log.head()),
            Walk::Unpinned(chain) => (chain.verified(), chain.head()),
        }
    }

    fn entry(
        &mut self,
        e: &EntryContent<'_>,
        prev: &[u8; 32],
        hash: &[u8; 32],
    ) -> Result<(), LogFault> {
        match self {
            Walk::Pinned(log) => log.entry(e, prev, hash),
            Walk::Unpinned(chain) => chain.push(e, prev, hash).map_err(LogFault::Chain),
        }
    }

    fn checkpoint(&mut self, c: &SignedCheckpoint) -> Result<(), LogFault> {
        match self {
            Walk::Pinned(log) => log.checkpoint(c),
            Walk::Unpinned(_) => Ok(()),
        }
    }
}

/// Feeds every entry of the snapshot, each checkpoint after its entry;
/// returns the first fault.
async fn walk_log(
    snapshot: &mut AuditSnapshot,
    walk: &mut Walk,
    checkpoints: &[Checkpoint],
    progress: &mut impl FnMut(u64),
) -> Result<Option<AuditProblem>> {
    let mut next_checkpoint = checkpoints.iter().peekable();
    let mut after = 0;
    loop {
        let page = snapshot.page(after, PAGE).await?;
        if page.is_empty() {
            return Ok(None);
        }
        for entry in &page {
            if let Err(f) = walk.entry(&entry.content(), &entry.prev_hash, &entry.hash) {
                return Ok(Some(AuditProblem::of(&f)));
            }
            while let Some(c) = next_checkpoint.next_if(|c| c.seq <= entry.seq) {
                let fault = match signed_checkpoint(c) {
                    Ok(signed) => walk.checkpoint(&signed).err(),
                    Err(_) => Some(LogFault::CheckpointInvalid {
                        seq: c.seq,
                        message: "its signature is not 64 bytes".into(),
                    }),
                };
                if let Some(f) = fault {
                    return Ok(Some(AuditProblem::of(&f)));
                }
            }
            after = entry.seq;
        }
        progress(after);
    }
}

/// The head row, kept apart from the entries, against the walk's end; and
/// no checkpoint beyond the last entry.
fn stored_head_fault(
    head_seq: u64,
    head_hash: [u8; 32],
    entries: u64,
    head: [u8; 32],
    checkpoints: &[Checkpoint],
) -> Option<AuditProblem> {
    if head_seq != entries || head_hash != head {
        return Some(AuditProblem {
            code: LogFault::Truncated {
                seq: entries + 1,
                entries,
            }
            .code(),
            seq: entries + 1,
            message: format!(
                "the chain's head names {head_seq} entries, {entries} are present: entries were removed or the head was rewound"
            ),
        });
    }
    checkpoints
        .iter()
        .find(|c| c.seq > entries)
        .map(|orphan| AuditProblem {
            code: LogFault::Truncated {
                seq: orphan.seq,
                entries,
            }
            .code(),
            seq: orphan.seq,
            message: format!(
                "a checkpoint covers entry {}, beyond the last entry {entries}",
                orphan.seq
            ),
        })
}

/// The hub's keys with their endorsements, as the snapshot holds them.
async fn hub_keys(snapshot: &mut AuditSnapshot) -> Result<Vec<HubKey>> {
    let mut keys = Vec::new();
    for (row, endorsement) in snapshot.keys_with_endorsements(HUB_OWNER).await? {
        let Ok(public) = PublicKey::from_multikey(&row.key_id) else {
            continue; // not a key at all: it cannot have signed anything
        };
        let endorsement = endorsement.and_then(|e| {
            Some(Endorsement {
                by: e.endorsed_by,
                at_ms: e.at_ms,
                signature: Signature::from_slice(&e.signature).ok()?,
            })
        });
        keys.push(HubKey {
            public,
            validity: Validity {
                not_before: row.not_before,
                not_after: row.not_after,
                revoked_at: row.revoked_at,
            },
            endorsement,
        });
    }
    Ok(keys)
}

fn signed_checkpoint(c: &Checkpoint) -> Result<SignedCheckpoint> {
    let signature = Signature::from_slice(&c.signature).map_err(|_| {
        Error::Store(StoreError::Corrupt(format!(
            "checkpoint {} signature",
            c.seq
        )))
    })?;
    Ok(SignedCheckpoint {
        seq: c.seq,
        hash: c.hash,
        at_ms: c.at_ms,
        interval: c.interval,
        key_id: c.key_id.clone(),
        signature,
    })
}

/// The file's last checkpoint must still describe the log.
async fn check_published_still_matches(
    snapshot: &mut AuditSnapshot,
    last: &SignedCheckpoint,
    head: u64,
) -> Result<()> {
    if last.seq > head {
        return Err(Error::AuditFault(LogFault::Truncated {
            seq: last.seq,
            entries: head,
        }));
    }
    let entry = snapshot.page(last.seq - 1, 1).await?;
    if entry.first().map(|e| (e.seq, e.hash)) != Some((last.seq, last.hash)) {
        return Err(Error::AuditFault(LogFault::PublishedMismatch {
            seq: last.seq,
        }));
    }
    Ok(())
}

fn append_published(
    path: &Path,
    header_for: Option<&str>,
    fresh: &[SignedCheckpoint],
) -> Result<()> {
    let io = |source| {
        Error::KeyStore(KeyStoreError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let mut text = String::new();
    if let Some(hub) = header_for {
        text.push_str(&archive::published_header_line(hub));
        text.push('\n');
    }
    for c in fresh {
        text.push_str(&archive::checkpoint_line(c));
        text.push('\n');
    }
    if text.is_empty() {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads a published-checkpoints file: the hub it names and its checkpoints.
pub fn read_published(path: &Path) -> Result<(String, Vec<SignedCheckpoint>)> {
    let malformed = |source| Error::Published {
        path: path.display().to_string(),
        source,
    };
    let mut reader = PublishedReader::new();
    for_each_line(path, |line| {
        reader.line(line).map_err(malformed)?;
        Ok(ControlFlow::Continue(()))
    })?;
    let hub = reader.hub().unwrap_or_default().to_owned();
    Ok((hub, reader.finish().map_err(malformed)?))
}

/// Calls `each` with every line of `path` until it breaks, refusing lines
/// longer than [`archive::MAX_LINE_BYTES`] before reading them whole.
pub fn for_each_line(
    path: &Path,
    mut each: impl FnMut(&str) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let io = |source| {
        Error::KeyStore(KeyStoreError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let limit = archive::MAX_LINE_BYTES as u64 + 1;
    loop {
        line.clear();
        let n = std::io::Read::take(&mut reader, limit)
            .read_until(b'\n', &mut line)
            .map_err(io)?;
        if n == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if n as u64 == limit {
            return Err(Error::rejected(
                Code::AuditLineTooLong,
                format!(
                    "{}: a line is longer than {} bytes",
                    path.display(),
                    archive::MAX_LINE_BYTES
                ),
            ));
        }
        let text = std::str::from_utf8(&line).map_err(|_| {
            Error::rejected(
                Code::AuditLineNotUtf8,
                format!("{}: a line is not UTF-8", path.display()),
            )
        })?;
        if each(text)?.is_break() {
            return Ok(());
        }
    }
}

fn pin_exists(place: &str) -> Error {
    Error::rejected(
        Code::AuditPinExists,
        format!(
            "{place} already pins an audit anchor: a pin is never replaced (a new hub needs a new key store)"
        ),
    )
}

pub(crate) fn default_schedule() -> Schedule {
    const INTERVAL: NonZeroU64 = match NonZeroU64::new(CHECKPOINT_INTERVAL) {
        Some(n) => n,
        None => panic!("CHECKPOINT_INTERVAL is 0"),
    };
    Schedule::every(INTERVAL, 0)
}
