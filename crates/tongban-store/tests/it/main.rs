//! One store test suite, run against every backend available (SQLite
//! always; PostgreSQL when `TONGBAN_TEST_POSTGRES` is set).
#![allow(clippy::unwrap_used)]

mod blobs;
mod cluster;
mod faults;

use std::future::Future;

use time::OffsetDateTime;
use time::macros::datetime;
use tongban_store::{
    BlobConfig, DatabaseConfig, DepartmentRow, DepartmentStatus, Durability, KeyRow, LicenceRow,
    LicenceState, PlatformLevel, SchemaInsert, SchemaRow, StatusEvent, Store, StoreConfig,
    UseRecord, sha256_hex,
};
use tongban_tests::TestBackend;

const NOW: OffsetDateTime = datetime!(2026-11-25 02:00 UTC);

/// Runs `test` once per backend with a fresh store.
async fn each_backend<F, Fut>(name: &str, test: F)
where
    F: Fn(Store, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in tongban_tests::backends(name).await {
        let store = open(&backend).await;
        eprintln!("{name}: {}", backend.name);
        test(store.clone(), backend.name).await;
        store.close().await;
        backend.cleanup().await;
    }
}

async fn open(backend: &TestBackend) -> Store {
    Store::open(&StoreConfig {
        durability: Durability::PowerLoss,
        ..StoreConfig::new(
            DatabaseConfig::parse(&backend.database_url),
            BlobConfig::Local(backend.blob_dir()),
        )
    })
    .await
    .unwrap()
}

fn department(code: &str, parent: Option<&str>) -> DepartmentRow {
    DepartmentRow {
        code: code.into(),
        name: format!("部门 {code}"),
        region_code: "440114".into(),
        platform_level: if parent.is_some() {
            PlatformLevel::Town
        } else {
            PlatformLevel::District
        },
        parent_code: parent.map(Into::into),
        contact: Some("王敏 020-86888888".into()),
        status: DepartmentStatus::Active,
        created_at: NOW,
    }
}

fn licence(identifier: &str, index: i64, holder: &str) -> LicenceRow {
    LicenceRow {
        identifier: identifier.into(),
        issuer_code: "11440114MB2C00007U".into(),
        type_code: "11100000TB0000001K001".into(),
        type_version: "1".into(),
        number: format!("N{index}"),
        holder_code_type: "001".into(),
        holder_code: holder.into(),
        holder_name: "广州花都鸿睿启航电子科技有限公司".into(),
        valid_from: NOW,
        valid_until: None,
        status: LicenceState::Valid,
        list_sequence: 0,
        status_index: index,
        credential: format!("{{\"id\":\"urn:licence:{identifier}\"}}"),
        attachment_sha256: None,
        issued_at: NOW,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departments() {
    each_backend("departments", |store, _| async move {
        assert!(
            store
                .insert_department(&department("11440114MB2C00007U", None), &[])
                .await
                .unwrap()
        );
        assert!(
            !store
                .insert_department(&department("11440114MB2C00007U", None), &[])
                .await
                .unwrap(),
            "duplicate"
        );
        assert!(
            store
                .insert_department(
                    &department("11440114MB2C00015N", Some("11440114MB2C00007U")),
                    &[]
                )
                .await
                .unwrap()
        );
        // Unknown parent: the foreign key refuses it.
        assert!(
            store
                .insert_department(
                    &department("11440114MB2C00023H", Some("11440114XXXXXXXXXX")),
                    &[]
                )
                .await
                .is_err()
        );
        let d = store
            .department("11440114MB2C00015N")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.parent_code.as_deref(), Some("11440114MB2C00007U"));
        assert_eq!(d.platform_level, PlatformLevel::Town);
        assert_eq!(store.departments().await.unwrap().len(), 2);
        assert!(
            store
                .set_department_status("11440114MB2C00015N", DepartmentStatus::Suspended, NOW, &[])
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .department("11440114MB2C00015N")
                .await
                .unwrap()
                .unwrap()
                .status,
            DepartmentStatus::Suspended
        );
        assert!(
            !store
                .set_department_status("nope", DepartmentStatus::Suspended, NOW, &[])
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_windows() {
    each_backend("keys_and_windows", |store, _| async move {
        let key = KeyRow {
            key_id: "z6MkA".into(),
            owner: "11440114MB2C00007U".into(),
            controller: "urn:uscc:11440114MB2C00007U".into(),
            not_before: NOW,
            not_after: None,
            revoked_at: None,
            revoked_reason: None,
            created_at: NOW,
            purpose: "both".into(),
        };
        assert!(store.insert_key(&key, &[]).await.unwrap());
        assert!(!store.insert_key(&key, &[]).await.unwrap());
        assert!(
            store
                .close_key_window("z6MkA", NOW + time::Duration::days(30), &[])
                .await
                .unwrap()
        );
        assert!(
            store
                .revoke_key("z6MkA", NOW + time::Duration::days(1), "compromised", &[])
                .await
                .unwrap()
        );
        assert!(
            !store.revoke_key("z6MkA", NOW, "again", &[]).await.unwrap(),
            "revocation is once"
        );
        assert!(
            !store.close_key_window("z6MkA", NOW, &[]).await.unwrap(),
            "a revoked key's window stays"
        );
        let back = store.key("z6MkA").await.unwrap().unwrap();
        assert_eq!(back.revoked_at, Some(NOW + time::Duration::days(1)));
        assert_eq!(back.not_after, Some(NOW + time::Duration::days(30)));
        assert_eq!(store.keys_of("11440114MB2C00007U").await.unwrap().len(), 1);
        assert_eq!(store.all_keys().await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_are_immutable() {
    each_backend("schemas_are_immutable", |store, _| async move {
        let row = SchemaRow {
            id: "11100000TB0000001K001".into(),
            version: "1".into(),
            kind: "licence-type".into(),
            title: "营业执照".into(),
            content: "{\"type\":\"object\"}".into(),
            sha256: sha256_hex(b"{\"type\":\"object\"}"),
            created_at: NOW,
        };
        assert_eq!(
            store.insert_schema(&row, &[]).await.unwrap(),
            SchemaInsert::Inserted
        );
        assert_eq!(
            store.insert_schema(&row, &[]).await.unwrap(),
            SchemaInsert::AlreadyPresent
        );
        let mut changed = row.clone();
        changed.content = "{\"type\":\"string\"}".into();
        changed.sha256 = sha256_hex(changed.content.as_bytes());
        assert_eq!(
            store.insert_schema(&changed, &[]).await.unwrap(),
            SchemaInsert::Conflict
        );
        assert_eq!(
            store.schema(&row.id, "1").await.unwrap().unwrap().content,
            row.content
        );
        assert_eq!(store.schemas(Some("licence-type")).await.unwrap().len(), 1);
        assert_eq!(store.schemas(Some("message")).await.unwrap().len(), 0);
        assert_eq!(store.schemas(None).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_allocation_never_overlaps() {
    each_backend("concurrent_allocation", |store, _| async move {
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .allocate_indices("11440114MB2C00007U", 10)
                    .await
                    .unwrap()
            }));
        }
        let mut starts = Vec::new();
        for t in tasks {
            starts.push(t.await.unwrap());
        }
        starts.sort();
        assert_eq!(starts, (0..16).map(|i| i * 10).collect::<Vec<i64>>());
        assert_eq!(store.allocate_indices("other", 1).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_batches_are_all_or_nothing() {
    each_backend("licence_batches", |store, _| async move {
        let batch: Vec<LicenceRow> = (0..50)
            .map(|i| licence(&format!("ID{i:03}"), i, "91440114MA5TB0A01K"))
            .collect();
        store.insert_licences(&batch, &[]).await.unwrap();
        // A batch with one duplicate writes nothing.
        let mut bad: Vec<LicenceRow> = (50..60)
            .map(|i| licence(&format!("ID{i:03}"), i, "91440114MA5TB0A01K"))
            .collect();
        bad.push(licence("ID007", 99, "91440114MA5TB0A01K"));
        assert!(store.insert_licences(&bad, &[]).await.is_err());
        assert!(store.licence("ID050").await.unwrap().is_none());
        let counts = store.licence_counts().await.unwrap();
        assert_eq!(counts, vec![("valid".to_owned(), 50)]);
        let found = store
            .licences_of_holder("001", "91440114MA5TB0A01K", None, 100)
            .await
            .unwrap();
        assert_eq!(found.len(), 50);
        let found = store
            .licences_of_holder(
                "001",
                "91440114MA5TB0A01K",
                Some("11100000TB0000001K001"),
                5,
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 5);
        assert!(
            store
                .licences_of_holder("111", "91440114MA5TB0A01K", None, 100)
                .await
                .unwrap()
                .is_empty()
        );
        let row = store.licence("ID042").await.unwrap().unwrap();
        assert_eq!(row, batch[42]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_follow_the_rules() {
    each_backend("status_changes", |store, _| async move {
        store
            .insert_licences(&[licence("A", 3, "H"), licence("B", 4, "H")], &[])
            .await
            .unwrap();
        let event = StatusEvent {
            actor: "admin".into(),
            reason: "test".into(),
            at: NOW,
        };
        use LicenceState::*;
        // suspend → reinstate → revoke; revoked is final.
        assert_eq!(
            store
                .change_licence_status("A", &[Valid], Suspended, "suspend", &event, &[])
                .await
                .unwrap(),
            Some((Valid, true))
        );
        assert_eq!(
            store
                .status_indices("11440114MB2C00007U", 0, Suspended)
                .await
                .unwrap(),
            vec![3]
        );
        assert_eq!(
            store
                .change_licence_status("A", &[Suspended], Valid, "reinstate", &event, &[])
                .await
                .unwrap(),
            Some((Suspended, true))
        );
        assert_eq!(
            store
                .change_licence_status("A", &[Valid, Suspended], Revoked, "revoke", &event, &[])
                .await
                .unwrap(),
            Some((Valid, true))
        );
        assert_eq!(
            store
                .change_licence_status("A", &[Suspended], Valid, "reinstate", &event, &[])
                .await
                .unwrap(),
            Some((Revoked, false))
        );
        assert_eq!(
            store
                .change_licence_status("nope", &[Valid], Revoked, "revoke", &event, &[])
                .await
                .unwrap(),
            None
        );
        // Each change that happened is recorded, in order; refused ones are not.
        let history = store.licence_status_events("A", 100).await.unwrap();
        let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["suspend", "reinstate", "revoke"]);
        assert!(
            history
                .iter()
                .all(|e| e.reason == "test" && e.actor == "admin" && e.at == NOW)
        );
        assert_eq!(store.licence_status_events("A", 2).await.unwrap().len(), 2);
        assert!(
            store
                .licence_status_events("B", 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .status_indices("11440114MB2C00007U", 0, Revoked)
                .await
                .unwrap(),
            vec![3]
        );
        assert!(
            store
                .status_indices("11440114MB2C00007U", 0, Suspended)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.list_sequences("11440114MB2C00007U").await.unwrap(),
            vec![0]
        );
        assert_eq!(
            store.issuers_with_licences().await.unwrap(),
            vec!["11440114MB2C00007U".to_owned()]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_records() {
    each_backend("use_records", |store, _| async move {
        store
            .insert_licences(&[licence("A", 1, "H"), licence("B", 2, "H")], &[])
            .await
            .unwrap();
        let record = UseRecord {
            requester: "11440117MB2C00031X".into(),
            use_cause: "办理食品经营许可，核验营业执照".into(),
            query_kind: "holder".into(),
            query: "001:H".into(),
            case_ref: Some("CH-2026-000123".into()),
            at: NOW,
        };
        let id = store
            .record_use(&record, &["A".into(), "B".into()], &[])
            .await
            .unwrap();
        let id2 = store
            .record_use(
                &UseRecord {
                    query_kind: "identifier".into(),
                    query: "A".into(),
                    ..record.clone()
                },
                &["A".into()],
                &[],
            )
            .await
            .unwrap();
        assert!(id2 > id);
        let uses = store.uses_of_licence("A", 10).await.unwrap();
        assert_eq!(uses.len(), 2);
        assert_eq!(uses[0].id, id2);
        assert_eq!(uses[1].returned, vec!["A".to_owned(), "B".to_owned()]);
        assert_eq!(uses[1].use_cause, record.use_cause);
        assert_eq!(store.uses_of_licence("B", 10).await.unwrap().len(), 1);
        assert_eq!(
            store
                .recent_uses(Some("11440117MB2C00031X"), 1)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .recent_uses(Some("someone else"), 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_and_settings() {
    each_backend("blobs_and_settings", |store, _| async move {
        let pdf = b"%PDF-1.7\n...".to_vec();
        let digest = store.blobs().put(pdf.clone()).await.unwrap();
        assert_eq!(digest, sha256_hex(&pdf));
        store
            .record_blob(&digest, pdf.len() as u64, "application/pdf", NOW)
            .await
            .unwrap();
        store
            .record_blob(&digest, pdf.len() as u64, "application/pdf", NOW)
            .await
            .unwrap();
        assert_eq!(
            store.blob_media_type(&digest).await.unwrap().as_deref(),
            Some("application/pdf")
        );
        assert_eq!(store.blobs().get(&digest).await.unwrap().unwrap(), pdf);
        assert!(
            store
                .blobs()
                .get(&sha256_hex(b"absent"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.blobs().get("../../etc/passwd").await.is_err());
        assert_eq!(store.setting("region").await.unwrap(), None);
        store.set_setting("region", "440114").await.unwrap();
        store.set_setting("region", "440117").await.unwrap();
        assert_eq!(
            store.setting("region").await.unwrap().as_deref(),
            Some("440117")
        );
    })
    .await;
}

#[tokio::test]
async fn reopening_keeps_everything_and_migrations_are_idempotent() {
    for backend in tongban_tests::backends("reopening").await {
        let store = open(&backend).await;
        store
            .insert_licences(&[licence("A", 1, "H")], &[])
            .await
            .unwrap();
        store.close().await;
        let store = open(&backend).await;
        assert!(store.licence("A").await.unwrap().is_some());
        assert_eq!(store.backend(), backend.name);
        store.close().await;
        #[cfg(unix)]
        if backend.name == "sqlite" {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(backend.dir().join("tongban.db"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "database readable by others: {mode:o}");
        }
        backend.cleanup().await;
    }
}

fn audit(action: &str, subject: &str) -> tongban_store::AuditRecord {
    tongban_store::AuditRecord::new(
        NOW,
        "admin",
        action,
        subject,
        serde_json::json!({"n": 1, "名称": "测试"}),
    )
}

async fn walk_chain(store: &Store) -> (u64, [u8; 32]) {
    let mut verifier = tongban_seal::chain::ChainVerifier::new();
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 64).await.unwrap();
        if page.is_empty() {
            break;
        }
        for e in &page {
            verifier.push(&e.content(), &e.prev_hash, &e.hash).unwrap();
            after = e.seq;
        }
    }
    (verifier.verified(), verifier.head())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_chain_never_forks_under_concurrent_appends() {
    each_backend("audit_chain", |store, _| async move {
        let mut tasks = Vec::new();
        for t in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..5 {
                    let records: Vec<_> = (0..5)
                        .map(|j| audit("test.append", &format!("{t}-{i}-{j}")))
                        .collect();
                    store.append_audit(&records).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let (head, hash) = store.audit_head().await.unwrap();
        assert_eq!(head, 200);
        assert_eq!(walk_chain(&store).await, (200, hash));
        // A large append goes in several multi-row statements.
        let many: Vec<_> = (0..1_234)
            .map(|i| audit("test.bulk", &i.to_string()))
            .collect();
        assert_eq!(store.append_audit(&many).await.unwrap(), 1_434);
        assert_eq!(walk_chain(&store).await.0, 1_434);
        assert_eq!(
            store.audit_of("17", 10).await.unwrap()[0].action,
            "test.bulk"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_commit_with_their_action_or_not_at_all() {
    each_backend("audit_with_action", |store, _| async move {
        let ok: Vec<LicenceRow> = (0..3).map(|i| licence(&format!("L{i}"), i, "H")).collect();
        let records: Vec<_> = ok
            .iter()
            .map(|l| audit("licence.issue", &l.identifier))
            .collect();
        store.insert_licences(&ok, &records).await.unwrap();
        assert_eq!(store.audit_head().await.unwrap().0, 3);
        // A failing batch (duplicate identifier) leaves no audit entry either.
        let bad = vec![licence("L9", 9, "H"), licence("L0", 10, "H")];
        let records: Vec<_> = bad
            .iter()
            .map(|l| audit("licence.issue", &l.identifier))
            .collect();
        assert!(store.insert_licences(&bad, &records).await.is_err());
        assert_eq!(store.audit_head().await.unwrap().0, 3);
        // A duplicate department records nothing; a refused status change records nothing.
        let d = department("11440114MB2C00007U", None);
        assert!(
            store
                .insert_department(&d, &[audit("dept.add", &d.code)])
                .await
                .unwrap()
        );
        assert!(
            !store
                .insert_department(&d, &[audit("dept.add", &d.code)])
                .await
                .unwrap()
        );
        let event = StatusEvent {
            actor: "admin".into(),
            reason: "r".into(),
            at: NOW,
        };
        store
            .change_licence_status(
                "L0",
                &[LicenceState::Valid],
                LicenceState::Revoked,
                "revoke",
                &event,
                &[audit("licence.revoke", "L0")],
            )
            .await
            .unwrap();
        store
            .change_licence_status(
                "L0",
                &[LicenceState::Suspended],
                LicenceState::Valid,
                "reinstate",
                &event,
                &[audit("licence.reinstate", "L0")],
            )
            .await
            .unwrap();
        let (head, _) = store.audit_head().await.unwrap();
        assert_eq!(head, 5);
        assert_eq!(walk_chain(&store).await.0, 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_hub_key_endorsements_are_kept() {
    each_backend("checkpoints", |store, _| async move {
        assert_eq!(store.last_checkpoint_seq().await.unwrap(), 0);
        let c = tongban_store::Checkpoint {
            seq: 10,
            hash: [7; 32],
            at_ms: 1,
            interval: 10,
            key_id: "z6Mk".into(),
            signature: vec![1; 64],
        };
        store.insert_checkpoint(&c).await.unwrap();
        store.insert_checkpoint(&c).await.unwrap();
        assert_eq!(store.checkpoints().await.unwrap(), vec![c.clone()]);
        assert_eq!(store.last_checkpoint_seq().await.unwrap(), 10);
        assert!(store.has_checkpoint(10).await.unwrap());
        assert!(!store.has_checkpoint(9).await.unwrap());

        let key = |id: &str| KeyRow {
            key_id: id.into(),
            owner: "hub".into(),
            controller: "urn:tongban:hub:440114".into(),
            not_before: NOW,
            not_after: None,
            revoked_at: None,
            revoked_reason: None,
            created_at: NOW,
            purpose: "both".into(),
        };
        store.insert_key(&key("z6MkFirst"), &[]).await.unwrap();
        store.insert_key(&key("z6MkSecond"), &[]).await.unwrap();
        let e = tongban_store::KeyEndorsement {
            key_id: "z6MkSecond".into(),
            endorsed_by: "z6MkFirst".into(),
            at_ms: 5,
            signature: vec![2; 64],
        };
        store.insert_key_endorsement(&e).await.unwrap();
        store.insert_key_endorsement(&e).await.unwrap();
        let mut snapshot = store.audit_snapshot().await.unwrap();
        assert_eq!(snapshot.checkpoints().await.unwrap(), vec![c]);
        let keys = snapshot.keys_with_endorsements("hub").await.unwrap();
        snapshot.finish().await.unwrap();
        assert_eq!(
            keys,
            vec![(key("z6MkFirst"), None), (key("z6MkSecond"), Some(e))]
        );
    })
    .await;
}

/// A snapshot sees the log as of its first read, whatever commits after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_snapshot_does_not_see_later_appends() {
    each_backend("audit_snapshot", |store, _| async move {
        store
            .append_audit(&[audit("test.a", "1"), audit("test.a", "2")])
            .await
            .unwrap();
        let mut snapshot = store.audit_snapshot().await.unwrap();
        let (head, hash) = snapshot.head().await.unwrap();
        assert_eq!(
            store.append_audit(&[audit("test.a", "3")]).await.unwrap(),
            3
        );
        let later = store.audit_entry(3).await.unwrap().unwrap();
        store
            .insert_checkpoint(&tongban_store::Checkpoint {
                seq: 3,
                hash: later.hash,
                at_ms: 1,
                interval: 3,
                key_id: "z6Mk".into(),
                signature: vec![1; 64],
            })
            .await
            .unwrap();
        let page = snapshot.page(0, 100).await.unwrap();
        assert_eq!((head, page.len()), (2, 2));
        assert_eq!(page[1].hash, hash);
        assert_eq!(snapshot.head().await.unwrap(), (2, hash));
        assert!(snapshot.checkpoints().await.unwrap().is_empty());
        snapshot.finish().await.unwrap();
        assert_eq!(store.audit_head().await.unwrap(), (3, later.hash));
        assert_eq!(store.audit_entry(4).await.unwrap(), None);
    })
    .await;
}

fn message(
    sender: &str,
    id: &str,
    recipient: Option<&str>,
    topic: Option<&str>,
) -> tongban_store::NewMessage {
    tongban_store::NewMessage {
        sender: sender.into(),
        id: id.into(),
        kind: "message".into(),
        recipient: recipient.map(Into::into),
        topic: topic.map(Into::into),
        resource: "business-registration".into(),
        schema: "business-registration@1".into(),
        envelope: format!("{{\"id\":\"{id}\"}}"),
        digest: "00".repeat(32),
        payload_sha256: None,
        sent_at_ms: 1,
        received_at_ms: 2,
        audit: audit("exchange.message", &format!("{sender}/{id}")),
        audience: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_holders_and_readers() {
    each_backend("exchange_blobs", |store, _| async move {
        let blob = tongban_store::BlobInfo {
            sha256: "ab".repeat(32),
            size: 3,
            media_type: "application/json".into(),
        };
        assert_eq!(store.blob_held(&blob.sha256, "A").await.unwrap(), None);
        store
            .record_upload(&blob, "A", NOW, &[audit("blob.upload", &blob.sha256)])
            .await
            .unwrap();
        // Uploading again (same or another department) is harmless.
        store.record_upload(&blob, "A", NOW, &[]).await.unwrap();
        assert_eq!(
            store.blob_held(&blob.sha256, "A").await.unwrap(),
            Some(blob.clone())
        );
        assert_eq!(store.blob_held(&blob.sha256, "B").await.unwrap(), None);
        assert_eq!(store.audit_head().await.unwrap().0, 1);
        // Readers: the holder, and the parties of a message that references it.
        for d in ["A", "B", "S1", "C"] {
            let readable = store.blob_readable(&blob.sha256, d).await.unwrap();
            assert_eq!(readable.is_some(), d == "A", "{d} before any message");
        }
        store
            .subscribe("S1", &["business-registration".into()], NOW, &[])
            .await
            .unwrap();
        let mut direct = message("A", "1", Some("B"), None);
        direct.payload_sha256 = Some(blob.sha256.clone());
        let mut published = message("A", "2", None, Some("business-registration"));
        published.payload_sha256 = Some(blob.sha256.clone());
        store.accept_messages(&[direct, published]).await.unwrap();
        for (d, expect) in [("A", true), ("B", true), ("S1", true), ("C", false)] {
            let readable = store.blob_readable(&blob.sha256, d).await.unwrap();
            assert_eq!(readable.is_some(), expect, "{d} after the messages");
        }
        // The recipient may read it but not reference it (it never uploaded it).
        assert_eq!(store.blob_held(&blob.sha256, "B").await.unwrap(), None);
        assert_eq!(
            store.blob_readable(&"cd".repeat(32), "A").await.unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_deliveries_and_subscriptions() {
    each_backend("exchange_store", |store, _| async move {
        use tongban_store::Accepted;
        store
            .subscribe("S1", &["business-registration".into()], NOW, &[])
            .await
            .unwrap();
        store
            .subscribe(
                "S2",
                &["business-registration".into(), "other".into()],
                NOW,
                &[],
            )
            .await
            .unwrap();
        store
            .subscribe("S2", &["business-registration".into()], NOW, &[])
            .await
            .unwrap();
        assert_eq!(
            store.subscriptions("S2").await.unwrap(),
            vec!["business-registration".to_owned(), "other".to_owned()]
        );
        let batch = vec![
            message("A", "1", Some("B"), None),
            message("A", "2", None, Some("business-registration")),
            message("A", "1", Some("B"), None), // duplicate within the batch
            message("S1", "9", None, Some("business-registration")), // the publisher is not its own recipient
        ];
        let out = store.accept_messages(&batch).await.unwrap();
        assert_eq!(
            out[0],
            Accepted::Stored {
                seq: 1,
                recipients: vec!["B".into()]
            }
        );
        assert_eq!(
            out[1],
            Accepted::Stored {
                seq: 2,
                recipients: vec!["S1".into(), "S2".into()]
            }
        );
        assert_eq!(out[2], Accepted::Replay);
        assert_eq!(
            out[3],
            Accepted::Stored {
                seq: 3,
                recipients: vec!["S2".into()]
            }
        );
        // Subscribers outside the audience (no longer allowed) get nothing.
        let mut narrowed = message("A", "7", None, Some("business-registration"));
        narrowed.audience = Some(vec!["S2".into()]);
        let out = store.accept_messages(&[narrowed]).await.unwrap();
        assert_eq!(
            out[0],
            Accepted::Stored {
                seq: 4,
                recipients: vec!["S2".into()]
            }
        );
        store.ack_deliveries("S2", &[4], 1).await.unwrap();
        // A later duplicate is a replay too, and writes nothing.
        assert_eq!(
            store
                .accept_messages(&[message("A", "2", Some("B"), None)])
                .await
                .unwrap(),
            vec![Accepted::Replay]
        );
        assert_eq!(
            store.audit_head().await.unwrap().0,
            4,
            "one audit entry per stored message"
        );
        // Store and forward: pending in order, acked once.
        let pending = store.pending_deliveries("S2", 0, 10).await.unwrap();
        assert_eq!(pending.iter().map(|p| p.0).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(
            store.pending_deliveries("S2", 2, 10).await.unwrap().len(),
            1
        );
        assert_eq!(store.ack_deliveries("S2", &[2, 3, 99], 5).await.unwrap(), 2);
        assert_eq!(store.ack_deliveries("S2", &[2], 5).await.unwrap(), 0);
        assert!(
            store
                .pending_deliveries("S2", 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.pending_deliveries("B", 0, 10).await.unwrap().len(), 1);
        assert_eq!(store.message("A", "1").await.unwrap().unwrap().0, 1);
        store
            .unsubscribe("S2", &["other".into()], &[])
            .await
            .unwrap();
        assert_eq!(store.subscriptions("S2").await.unwrap().len(), 1);
        let counts = store.exchange_counts().await.unwrap();
        assert!(
            counts.contains(&("messages.message".into(), 4)),
            "{counts:?}"
        );
        assert_eq!(walk_chain(&store).await.0, 4);
    })
    .await;
}

/// SQLite commits never checkpoint; the background checkpointer copies the
/// WAL into the database file, and restarts a WAL that grew past the bound
/// even while writes keep coming. (SQLite only: PostgreSQL has no WAL of
/// ours to manage.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::embedded(dir.path());
    config.wal_restart_frames = 64;
    let store = Store::open(&config).await.unwrap();
    let db_file = dir.path().join("tongban.db");
    let wal_file = dir.path().join("tongban.db-wal");
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    // Writes of ~4 KiB envelopes, one commit each, for about a second.
    let started = std::time::Instant::now();
    let mut largest_wal = 0;
    let mut i = 0u64;
    while started.elapsed() < std::time::Duration::from_secs(2) {
        let mut m = message("A", &format!("w{i}"), Some("B"), None);
        m.envelope = format!("{{\"id\":\"w{i}\",\"pad\":\"{}\"}}", "x".repeat(4000));
        store.accept_messages(&[m]).await.unwrap();
        largest_wal = largest_wal.max(size(&wal_file));
        i += 1;
    }
    let written = i * 4096;
    assert!(i > 100, "only {i} commits in 2 s");
    // The checkpointer catches up: the data reaches the database file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size(&db_file) <= written {
        assert!(
            std::time::Instant::now() < deadline,
            "database file {} bytes after {i} commits of 4 KiB",
            size(&db_file)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The WAL started over along the way: every commit appends at least
    // four pages (message row and its overflow page, index, delivery, audit
    // entry), so a WAL that is never reset would end up larger than this.
    let never_reset = i * 4 * 4096;
    eprintln!("{i} commits, largest WAL {largest_wal} bytes, {never_reset} if never reset");
    assert!(
        largest_wal < never_reset,
        "the WAL grew to {largest_wal} bytes in {i} commits"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_envelopes_are_remembered_by_every_node() {
    for backend in tongban_tests::backends("peer_envelopes_seen").await {
        eprintln!("peer_envelopes_seen: {}", backend.name);
        // Two nodes of one hub: two stores on the same database.
        let a = open(&backend).await;
        let b = open(&backend).await;
        let hub = "urn:tongban:hub:441802";
        let until = NOW + time::Duration::minutes(10);
        let remember = |store: &Store, sender: &'static str, id: &'static str, until| {
            let store = store.clone();
            async move {
                store
                    .remember_peer_envelope(sender, id, until)
                    .await
                    .unwrap()
            }
        };
        assert!(remember(&a, hub, "e1", until).await);
        assert!(!remember(&a, hub, "e1", until).await);
        assert!(!remember(&b, hub, "e1", until).await);
        // Another sender's envelope of the same id is another envelope.
        let dept = "441802/urn:uscc:11441802MB2C90021K";
        assert!(remember(&b, dept, "e1", until).await);

        // Sent at once to both nodes, many times: remembered once.
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(remember(&store, hub, "e2", until)));
        }
        let mut fresh = 0;
        for t in tasks {
            fresh += usize::from(t.await.unwrap());
        }
        assert_eq!(fresh, 1, "{}", backend.name);

        // Kept across a restart.
        b.close().await;
        let b = open(&backend).await;
        assert!(!remember(&b, hub, "e2", until).await);

        // Forgotten once its time is up (the envelope's time refuses it then).
        let later = until + time::Duration::seconds(1);
        let until2 = later + time::Duration::minutes(10);
        assert!(remember(&b, hub, "e3", until2).await);
        assert_eq!(a.forget_peer_envelopes(until).await.unwrap(), 0);
        assert_eq!(a.forget_peer_envelopes(later).await.unwrap(), 3);
        assert!(remember(&a, hub, "e1", until2).await);
        assert!(!remember(&a, hub, "e3", until2).await);

        a.close().await;
        b.close().await;
        backend.cleanup().await;
    }
}
