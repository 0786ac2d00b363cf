//! The audit log against someone who can write the database: checkpoints
//! verified only back to the pinned anchor, due at every interval, compared
//! with checkpoints published off the machine; and `audit verify` exact
//! while the hub appends. Every test runs on every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use time::Duration;
use tongban_seal::PublicKey;
use tongban_seal::SigningKey;
use tongban_seal::archive::{ArchiveError, ArchiveVerifier, hex};
use tongban_seal::chain::{EntryContent, SignedCheckpoint, endorse, entry_hash};
use tongban_service::{AuditReport, AuditVerifyOptions, Service};
use tongban_store::AuditRecord;
use tongban_tests::TestBackend;

use crate::{T0, hub_on};

/// A hub whose audit log is pinned to its first key with `interval`.
async fn pinned_hub(backend: &TestBackend, interval: u64) -> (Service, PublicKey) {
    let hub = hub_on(backend).await;
    let anchor = hub.audit_pin().await.unwrap().unwrap().anchor;
    // `init` pinned the default interval; tests want boundaries sooner.
    std::fs::remove_file(backend.dir().join("keys/audit-pin.json")).unwrap();
    let pin = hub.pin_audit(Some(anchor), interval).await.unwrap();
    assert_eq!(pin.anchor, anchor);
    (hub, anchor)
}

async fn fill(hub: &Service, n: usize) -> u64 {
    let records: Vec<AuditRecord> = (0..n)
        .map(|i| AuditRecord::new(T0, "bench", "test.fill", i.to_string(), json!({"n": i})))
        .collect();
    hub.record_audit(&records).await.unwrap()
}

async fn verify(hub: &Service) -> AuditReport {
    hub.audit_verify(|_| {}).await.unwrap()
}

async fn verify_with(hub: &Service, options: &AuditVerifyOptions) -> AuditReport {
    hub.audit_verify_with(options, |_| {}).await.unwrap()
}

/// The first problem's code and entry.
fn problem(report: &AuditReport) -> (&'static str, u64) {
    let p = report
        .problem
        .as_ref()
        .unwrap_or_else(|| panic!("no problem found: {report:?}"));
    (p.code, p.seq)
}

async fn checkpoint_seqs(hub: &Service) -> Vec<u64> {
    let list = hub.store().checkpoints().await.unwrap();
    list.iter().map(|c| c.seq).collect()
}

/// Boundaries of `interval` in `(from, to]`.
fn boundaries(interval: u64, from: u64, to: u64) -> Vec<u64> {
    (from / interval + 1..=to / interval)
        .map(|k| k * interval)
        .collect()
}

/// Runs several statements on one connection.
async fn sql(backend: &TestBackend, statements: &str) {
    use sqlx::Connection;
    let text = sqlx::AssertSqlSafe(statements.to_owned());
    if backend.name == "sqlite" {
        let url = format!("sqlite://{}", backend.database_url);
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(text).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&backend.database_url)
            .await
            .unwrap();
        sqlx::raw_sql(text).execute(&mut c).await.unwrap();
    }
}

/// A byte string literal for `backend`.
fn blob(backend: &TestBackend, bytes: &[u8]) -> String {
    if backend.name == "sqlite" {
        format!("X'{}'", hex(bytes))
    } else {
        format!("decode('{}', 'hex')", hex(bytes))
    }
}

/// Rewrites entry `seq`'s detail and recomputes every later hash and the
/// head, as someone with write access to the database can.
async fn rewrite_and_rehash(backend: &TestBackend, hub: &Service, seq: u64) {
    let entries = hub.store().audit_page(seq - 1, 100_000).await.unwrap();
    let mut prev = entries[0].prev_hash;
    let mut statements = String::new();
    for e in &entries {
        let detail = if e.seq == seq {
            "{\"forged\":true}".to_owned()
        } else {
            e.detail.clone()
        };
        let quoted = detail.replace('\'', "''");
        let hash = entry_hash(
            &prev,
            &EntryContent {
                detail: &detail,
                ..e.content()
            },
        );
        statements.push_str(&format!(
            "UPDATE audit_log SET detail = '{quoted}', prev_hash = {}, hash = {} WHERE seq = {};\n",
            blob(backend, &prev),
            blob(backend, &hash),
            e.seq
        ));
        prev = hash;
    }
    statements.push_str(&format!(
        "UPDATE audit_head SET hash = {} WHERE id = 1;",
        blob(backend, &prev)
    ));
    sql(backend, &statements).await;
}

fn archive_of(text: &str, anchor: PublicKey) -> Result<u64, ArchiveError> {
    let mut v = ArchiveVerifier::new(anchor);
    for line in text.lines() {
        v.line(line)?;
    }
    v.finish().map(|s| s.checkpoints)
}

async fn export(hub: &Service) -> String {
    let mut out = Vec::new();
    hub.audit_export(&mut out, |_| {}).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_fall_due_at_every_boundary_and_are_never_signed_late() {
    for backend in tongban_tests::backends("audit_boundaries").await {
        let (hub, _) = pinned_hub(&backend, 10).await;
        let from = hub.audit_pin().await.unwrap().unwrap().schedule.from();
        // Batches larger than the interval are appended an interval at a time.
        let head = fill(&hub, 25).await;
        assert_eq!(checkpoint_seqs(&hub).await, boundaries(10, from, head));
        let report = verify(&hub).await;
        assert_eq!(
            (report.ok(), report.checkpoints, report.interval),
            (true, boundaries(10, from, head).len() as u64, 10),
            "{report:?}"
        );

        // Appended behind the hub's back past two boundaries: only the
        // newest is signed, the older one stays missing and is reported.
        let records: Vec<AuditRecord> = (0..25)
            .map(|i| AuditRecord::new(T0, "bench", "test.fill", "x", json!({"n": i})))
            .collect();
        let new_head = hub.store().append_audit(&records).await.unwrap();
        hub.maybe_checkpoint().await.unwrap();
        let skipped = boundaries(10, head, new_head);
        assert!(skipped.len() >= 2, "{head}..{new_head}");
        let (newest, older) = skipped.split_last().unwrap();
        let seqs = checkpoint_seqs(&hub).await;
        assert!(seqs.contains(newest) && older.iter().all(|b| !seqs.contains(b)));
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_CHECKPOINT_MISSING", skipped[0])
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

/// Attack 1: every checkpoint deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_every_checkpoint_is_detected() {
    for backend in tongban_tests::backends("audit_delete_checkpoints").await {
        let (hub, _) = pinned_hub(&backend, 10).await;
        let from = hub.audit_pin().await.unwrap().unwrap().schedule.from();
        let head = fill(&hub, 35).await;
        assert!(verify(&hub).await.ok());
        sql(&backend, "DELETE FROM audit_checkpoints").await;
        let first = boundaries(10, from, head)[0];
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_CHECKPOINT_MISSING", first)
        );
        // The hub goes on signing, but never the boundaries that are past.
        hub.audit_checkpoint().await.unwrap();
        fill(&hub, 3).await;
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_CHECKPOINT_MISSING", first)
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

/// Attacks 2 and 3: a hub key row injected (with a forged endorsement) and
/// every checkpoint re-signed with it; then an archive exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_key_injected_into_the_store_signs_nothing() {
    for backend in tongban_tests::backends("audit_inject_key").await {
        let (hub, anchor) = pinned_hub(&backend, 10).await;
        fill(&hub, 35).await;
        assert!(verify(&hub).await.ok());
        let injected = SigningKey::from_seed(&[66; 32]);
        let injected_id = injected.public().to_multikey();
        let forged = endorse(&injected, &injected.public(), T0, 1);
        let mut statements = format!(
            "INSERT INTO signing_keys (key_id, owner, controller, not_before, created_at) \
             VALUES ('{injected_id}', 'hub', 'urn:tongban:hub:440114', 0, 0);\n\
             INSERT INTO audit_key_endorsements (key_id, endorsed_by, at_ms, signature) \
             VALUES ('{injected_id}', '{}', 1, {});\n",
            anchor.to_multikey(),
            blob(&backend, &forged.signature.0)
        );
        let checkpoints = hub.store().checkpoints().await.unwrap();
        for c in &checkpoints {
            let resigned = SignedCheckpoint::sign(&injected, c.seq, c.hash, c.at_ms, c.interval);
            statements.push_str(&format!(
                "UPDATE audit_checkpoints SET key_id = '{injected_id}', signature = {} WHERE seq = {};\n",
                blob(&backend, &resigned.signature.0),
                c.seq
            ));
        }
        sql(&backend, &statements).await;
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_CHECKPOINT_UNTRUSTED", checkpoints[0].seq)
        );

        // The archive lists the injected key and carries the hub's trailer,
        // and still fails against the real anchor.
        let text = export(&hub).await;
        assert!(text.lines().next().unwrap().contains(&injected_id));
        let err = archive_of(&text, anchor).unwrap_err();
        assert_eq!(
            (
                err.code(),
                matches!(err, ArchiveError::Log(ref f) if f.seq() == checkpoints[0].seq)
            ),
            ("AUDIT_CHECKPOINT_UNTRUSTED", true)
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

/// An entry rewritten and the whole chain recomputed after it: the
/// checkpoints show it; deleting them too shows as missing ones; the
/// published checkpoints show it whatever the database says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_and_rehashed_chain_is_detected() {
    for backend in tongban_tests::backends("audit_rewrite").await {
        let (hub, _) = pinned_hub(&backend, 10).await;
        let from = hub.audit_pin().await.unwrap().unwrap().schedule.from();
        let head = fill(&hub, 35).await;
        let published = backend.dir().join("published.jsonl");
        std::fs::write(&published, "").unwrap();
        let outcome = hub.audit_publish(&published).await.unwrap();
        let expected = boundaries(10, from, head);
        assert_eq!(
            (outcome.appended, outcome.last),
            (expected.len() as u64, *expected.last().unwrap())
        );
        let target = expected[0];
        rewrite_and_rehash(&backend, &hub, target).await;
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_CHECKPOINT_INVALID", expected[0])
        );
        sql(
            &backend,
            &format!("DELETE FROM audit_checkpoints WHERE seq >= {target}"),
        )
        .await;
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_CHECKPOINT_MISSING", expected[0])
        );
        let (_, list) = tongban_service::read_published(&published).unwrap();
        let options = AuditVerifyOptions {
            published: list,
            ..Default::default()
        };
        assert_eq!(
            problem(&verify_with(&hub, &options).await),
            ("AUDIT_PUBLISHED_MISMATCH", expected[0])
        );
        // Nothing more is published over a log that no longer matches.
        assert_eq!(
            hub.audit_publish(&published).await.unwrap_err().code(),
            "AUDIT_PUBLISHED_MISMATCH"
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

/// Entries removed from the end with their checkpoints and the head rewound:
/// consistent in itself, so only published checkpoints show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_shows_against_published_checkpoints() {
    for backend in tongban_tests::backends("audit_truncate").await {
        let (hub, _) = pinned_hub(&backend, 10).await;
        let from = hub.audit_pin().await.unwrap().unwrap().schedule.from();
        let head = fill(&hub, 35).await;
        let published = backend.dir().join("published.jsonl");
        hub.audit_publish(&published).await.unwrap();
        // Publishing again appends only what is new.
        fill(&hub, 10).await;
        let again = hub.audit_publish(&published).await.unwrap();
        assert_eq!(again.appended, 1, "{again:?}");
        let keep = boundaries(10, from, head)[0] + 2;
        sql(
            &backend,
            &format!(
                "DELETE FROM audit_log WHERE seq > {keep};\n\
                 DELETE FROM audit_checkpoints WHERE seq > {keep};\n\
                 UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_log WHERE seq = {keep}) WHERE id = 1;"
            ),
        )
        .await;
        assert!(
            verify(&hub).await.ok(),
            "a shorter log is consistent in itself (see docs/AUDIT-LOG.md)"
        );
        let (_, list) = tongban_service::read_published(&published).unwrap();
        let options = AuditVerifyOptions {
            published: list,
            ..Default::default()
        };
        assert_eq!(
            problem(&verify_with(&hub, &options).await),
            ("AUDIT_TRUNCATED", keep + 8)
        );
        assert_eq!(
            hub.audit_publish(&published).await.unwrap_err().code(),
            "AUDIT_TRUNCATED"
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_hub_key_is_trusted_through_its_endorsement() {
    for backend in tongban_tests::backends("audit_rotation").await {
        let (hub, anchor) = pinned_hub(&backend, 10).await;
        fill(&hub, 12).await;
        // Rotated a day later, with no overlap.
        let day = T0 + Duration::days(1);
        hub.clock().set(day);
        let (old, new) = hub
            .rotate_key(&anchor.to_multikey(), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(old.not_after, Some(day));
        hub.clock().set(day + Duration::hours(1));
        fill(&hub, 25).await;
        let signers: Vec<String> = hub
            .store()
            .checkpoints()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.key_id)
            .collect();
        assert!(signers.contains(&new.key_id) && signers.contains(&old.key_id));
        let report = verify(&hub).await;
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.anchor, Some(anchor.to_multikey()));

        // The archive is signed by the new key and verifies with the anchor.
        let text = export(&hub).await;
        assert_eq!(archive_of(&text, anchor).unwrap(), report.checkpoints);

        // Without its endorsement the new key is just a row.
        sql(&backend, "DELETE FROM audit_key_endorsements").await;
        let first_by_new = hub
            .store()
            .checkpoints()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.key_id == new.key_id)
            .unwrap()
            .seq;
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_CHECKPOINT_UNTRUSTED", first_by_new)
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_pinned_anchor_the_log_is_never_intact() {
    for backend in tongban_tests::backends("audit_unpinned").await {
        let hub = hub_on(&backend).await;
        let anchor = hub.audit_pin().await.unwrap().unwrap().anchor;
        std::fs::remove_file(backend.dir().join("keys/audit-pin.json")).unwrap();
        let report = verify(&hub).await;
        let (head, _) = hub.store().audit_head().await.unwrap();
        assert_eq!(
            (problem(&report), report.entries, report.anchor.clone()),
            (("AUDIT_ANCHOR_UNPINNED", 0), head, None)
        );
        // A chain break is still named first.
        sql(&backend, "UPDATE audit_log SET actor = 'x' WHERE seq = 2").await;
        assert_eq!(problem(&verify(&hub).await), ("AUDIT_ENTRY_ALTERED", 2));
        sql(
            &backend,
            "UPDATE audit_log SET actor = 'admin' WHERE seq = 2",
        )
        .await;
        // The verifier's own anchor.
        let options = AuditVerifyOptions {
            anchor: Some(anchor),
            ..Default::default()
        };
        assert!(verify_with(&hub, &options).await.ok());
        assert_eq!(
            hub.audit_publish(&backend.dir().join("p.jsonl"))
                .await
                .unwrap_err()
                .code(),
            "AUDIT_ANCHOR_UNPINNED"
        );
        assert_eq!(
            hub.pin_audit(None, 0).await.unwrap_err().code(),
            "AUDIT_INTERVAL_INVALID"
        );
        hub.pin_audit(None, 10_000).await.unwrap();
        assert_eq!(
            hub.pin_audit(None, 10_000).await.unwrap_err().code(),
            "AUDIT_PIN_EXISTS"
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_store_that_pins_another_hub_cannot_start_a_new_one() {
    for first in tongban_tests::backends("audit_pin_exists").await {
        let hub = hub_on(&first).await;
        hub.close().await;
        let fresh = first.sibling("audit_pin_exists_fresh").await;
        let other = Service::open(&crate::hub_config(&fresh, first.dir().join("keys")))
            .await
            .unwrap();
        assert_eq!(
            other
                .init_region("440114", "another")
                .await
                .unwrap_err()
                .code(),
            "AUDIT_PIN_EXISTS"
        );
        assert!(other.store().keys_of("hub").await.unwrap().is_empty());
        other.close().await;
        fresh.cleanup().await;
        first.cleanup().await;
    }
}

/// `audit verify` while a task appends: every run is exactly intact, with
/// as many entries as the head it read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_is_exact_while_the_hub_appends() {
    for backend in tongban_tests::backends("audit_concurrent").await {
        let (hub, _) = pinned_hub(&backend, 25).await;
        let stop = Arc::new(AtomicBool::new(false));
        let appender = {
            let (hub, stop) = (hub.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    fill(&hub, 3).await;
                }
            })
        };
        // At least 40 runs, and at least 10 during which an append
        // committed after the run's snapshot was taken.
        let (mut runs, mut overlapped, mut last) = (0, 0, 0);
        while runs < 40 || overlapped < 10 {
            let report = verify(&hub).await;
            assert!(report.ok(), "{}: {report:?}", backend.name);
            assert!(report.entries >= last, "{}: {report:?}", backend.name);
            last = report.entries;
            let (head, _) = hub.store().audit_head().await.unwrap();
            if head > report.entries {
                overlapped += 1;
            }
            runs += 1;
            assert!(runs < 5_000, "{}: no append ran alongside", backend.name);
        }
        stop.store(true, Ordering::Relaxed);
        appender.await.unwrap();
        let report = verify(&hub).await;
        assert!(report.ok() && report.checkpoints > 0, "{report:?}");
        hub.close().await;
        backend.cleanup().await;
    }
}

/// The pin is read strictly: a second `anchor` member, before or after the
/// pinned one, makes it `AUDIT_PIN_INVALID` rather than one anchor or the
/// other depending on the reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_naming_two_anchors_is_invalid() {
    for backend in tongban_tests::backends("audit_pin_twice").await {
        let hub = hub_on(&backend).await;
        let path = backend.dir().join("keys/audit-pin.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let other = SigningKey::from_seed(&[9; 32]).public().to_multikey();
        assert!(text.contains("\"anchor\":"), "{text}");
        for forged in [
            text.replacen(
                "\"anchor\":",
                &format!("\"anchor\":\"{other}\",\"anchor\":"),
                1,
            ),
            text.replacen('}', &format!(",\"anchor\":\"{other}\"}}"), 1),
        ] {
            assert_ne!(forged, text);
            std::fs::write(&path, &forged).unwrap();
            let e = hub.audit_pin().await.unwrap_err();
            assert_eq!(e.code(), "AUDIT_PIN_INVALID", "{forged}");
            assert!(e.to_string().contains("\"anchor\" appears twice"), "{e}");
        }
        std::fs::write(&path, &text).unwrap();
        assert!(hub.audit_pin().await.unwrap().is_some());
        hub.close().await;
        backend.cleanup().await;
    }
}

/// An entry whose previous hash was replaced, with its own hash recomputed
/// to match, no longer links to the entry before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_no_longer_links_to_the_one_before_is_named() {
    for backend in tongban_tests::backends("audit_link").await {
        let (hub, _) = pinned_hub(&backend, 1_000).await;
        let head = fill(&hub, 5).await;
        assert!(verify(&hub).await.ok());
        let target = &hub.store().audit_page(head - 3, 1).await.unwrap()[0];
        let forged_prev = [7u8; 32];
        let hash = entry_hash(&forged_prev, &target.content());
        sql(
            &backend,
            &format!(
                "UPDATE audit_log SET prev_hash = {}, hash = {} WHERE seq = {}",
                blob(&backend, &forged_prev),
                blob(&backend, &hash),
                target.seq
            ),
        )
        .await;
        assert_eq!(
            problem(&verify(&hub).await),
            ("AUDIT_LINK_BROKEN", target.seq)
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

/// A pin file that does not parse is refused, never taken for no pin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_pin_is_refused() {
    for backend in tongban_tests::backends("audit_bad_pin").await {
        let hub = hub_on(&backend).await;
        std::fs::write(backend.dir().join("keys/audit-pin.json"), "{\"anchor\": 5").unwrap();
        assert_eq!(
            hub.audit_pin().await.unwrap_err().code(),
            "AUDIT_PIN_INVALID"
        );
        assert_eq!(
            hub.audit_verify(|_| {}).await.unwrap_err().code(),
            "AUDIT_PIN_INVALID"
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

/// Published checkpoints are read a line at a time: a line over the limit
/// is refused before it is read whole, and so is one that is not UTF-8.
#[test]
fn published_files_with_overlong_or_binary_lines_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.jsonl");
    let mut text = vec![b'x'; tongban_seal::archive::MAX_LINE_BYTES + 1];
    text.push(b'\n');
    std::fs::write(&long, text).unwrap();
    assert_eq!(
        tongban_service::read_published(&long).unwrap_err().code(),
        "AUDIT_LINE_TOO_LONG"
    );
    let binary = dir.path().join("binary.jsonl");
    std::fs::write(&binary, b"{\"format\": \"\xff\xfe\"}\n").unwrap();
    assert_eq!(
        tongban_service::read_published(&binary).unwrap_err().code(),
        "AUDIT_LINE_NOT_UTF8"
    );
}
