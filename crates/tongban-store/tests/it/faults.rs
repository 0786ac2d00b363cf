//! The store under faults: while the disk is full, the files cannot be
//! written or the database is read-only or gone, writes fail with
//! `STORE_UNAVAILABLE`; once the fault is cleared the same store writes
//! again, without reopening it, and nothing committed before was lost.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use tongban_store::{
    Accepted, BlobConfig, DatabaseConfig, Durability, Store, StoreConfig, StoreError,
};
use tongban_tests::faults::{SmallDisk, Unwritable, skipped};

use crate::{audit, message, open, walk_chain};

/// The code of a failed call.
fn code<T: std::fmt::Debug>(r: Result<T, StoreError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected the store to fail, got {v:?}"),
        Err(e) => e.code(),
    }
}

/// The codes of the two kinds of write the hub makes under load: an
/// exchange batch (on SQLite, its own short commit path) and an audit
/// append (`in_tx!`).
async fn writes(store: &Store, tag: &str) -> Vec<&'static str> {
    vec![
        code(
            store
                .accept_messages(&[message("A", &format!("m-{tag}"), Some("B"), None)])
                .await,
        ),
        code(store.append_audit(&[audit("fault.test", tag)]).await),
    ]
}

/// Stores one message (with its audit entry) and one more audit entry.
async fn write_once(store: &Store, tag: &str) {
    let accepted = store
        .accept_messages(&[message("A", &format!("m-{tag}"), Some("B"), None)])
        .await
        .unwrap();
    store
        .append_audit(&[audit("fault.test", tag)])
        .await
        .unwrap();
    assert!(
        matches!(accepted[..], [Accepted::Stored { .. }]),
        "{accepted:?}"
    );
}

/// What the store holds: messages by state, and the audit chain's length.
async fn contents(store: &Store) -> (Vec<(String, i64)>, u64) {
    (
        store.exchange_counts().await.unwrap(),
        walk_chain(store).await.0,
    )
}

/// SQLite only: its files are what turns unwritable; PostgreSQL's faults
/// have their test below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_once_the_files_are_writable_again() {
    let backend = tongban_tests::sqlite();
    let store = open(&backend).await;
    write_once(&store, "before").await;
    let before = contents(&store).await;

    let database = backend.dir().join("tongban.db");
    let fault = match Unwritable::sqlite(&database) {
        Ok(f) => f,
        Err(why) => return skipped("writes_resume_once_the_files_are_writable_again", &why),
    };
    // Each failed commit is rolled back by SQLite itself; sqlx's count of
    // open transactions disagreed, and every later write was refused.
    for round in 0..3 {
        assert_eq!(
            writes(&store, &format!("during-{round}")).await,
            ["STORE_UNAVAILABLE", "STORE_UNAVAILABLE"],
            "round {round}"
        );
    }
    // Reads go on meanwhile.
    assert_eq!(contents(&store).await, before);
    fault.clear();

    // The same store writes again; the refused message was not stored, so
    // it is accepted now.
    write_once(&store, "during-0").await;
    write_once(&store, "after").await;
    let (counts, entries) = contents(&store).await;
    assert_eq!(
        counts,
        vec![
            ("messages.message".to_owned(), 3),
            ("deliveries.pending".to_owned(), 3)
        ]
    );
    assert_eq!(entries, before.1 + 4);
    store.close().await;
}

/// SQLite only: the disk filled is the one its files are on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_once_the_full_disk_has_room() {
    let dir = tempfile::tempdir().unwrap();
    let disk = match SmallDisk::mount(&dir.path().join("disk"), 64 << 20) {
        Ok(d) => d,
        Err(why) => return skipped("writes_resume_once_the_full_disk_has_room", &why),
    };
    let store = open_on(disk.path()).await;
    write_once(&store, "before").await;
    let before = contents(&store).await;

    disk.fill();
    // Writes larger than the WAL file already is: they need new blocks.
    let big = |tag: &str| {
        let mut m = message("A", &format!("big-{tag}"), Some("B"), None);
        m.envelope = format!("{{\"id\":\"big-{tag}\",\"x\":\"{}\"}}", "x".repeat(8 << 20));
        m
    };
    for round in 0..3 {
        assert_eq!(
            code(store.accept_messages(&[big(&round.to_string())]).await),
            "STORE_UNAVAILABLE",
            "round {round}"
        );
        assert_eq!(
            code(store.blobs().put(vec![round; 1 << 20]).await),
            "STORE_UNAVAILABLE",
            "round {round}"
        );
    }
    assert_eq!(contents(&store).await, before);
    disk.free();

    // Room again: the same store takes the same write.
    let accepted = store.accept_messages(&[big("0")]).await.unwrap();
    assert!(
        matches!(accepted[..], [Accepted::Stored { .. }]),
        "{accepted:?}"
    );
    write_once(&store, "after").await;
    let digest = store.blobs().put(vec![0; 1 << 20]).await.unwrap();
    assert_eq!(
        store.blobs().get(&digest).await.unwrap().unwrap().len(),
        1 << 20
    );
    let (counts, entries) = contents(&store).await;
    assert_eq!(
        counts,
        vec![
            ("messages.message".to_owned(), 3),
            ("deliveries.pending".to_owned(), 3)
        ]
    );
    assert_eq!(entries, before.1 + 3);
    store.close().await;
    drop(disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_once_postgres_is_writable_and_reachable_again() {
    let Some(admin) = tongban_tests::postgres_url() else {
        return;
    };
    let backend = tongban_tests::postgres(&admin, "postgres_faults").await;
    let store = open(&backend).await;
    write_once(&store, "before").await;
    let before = contents(&store).await;

    // The database turns read-only (as a provider does when its disk is
    // nearly full) and the server drops the connections, as a restart does.
    backend
        .postgres_admin("ALTER DATABASE {db} SET default_transaction_read_only = on")
        .await;
    backend.terminate_postgres_connections().await;
    for round in 0..3 {
        assert_eq!(
            writes(&store, &format!("during-{round}")).await,
            ["STORE_UNAVAILABLE", "STORE_UNAVAILABLE"],
            "round {round}"
        );
    }
    assert_eq!(contents(&store).await, before);

    // Writable again, without touching the connections: the store replaces
    // the read-only ones itself.
    backend
        .postgres_admin("ALTER DATABASE {db} RESET default_transaction_read_only")
        .await;
    write_once(&store, "during-0").await;
    // Connections lost under an idle store are replaced before use.
    backend.terminate_postgres_connections().await;
    write_once(&store, "after").await;
    let (counts, entries) = contents(&store).await;
    assert_eq!(
        counts,
        vec![
            ("messages.message".to_owned(), 3),
            ("deliveries.pending".to_owned(), 3)
        ]
    );
    assert_eq!(entries, before.1 + 4);
    store.close().await;
    backend.cleanup().await;
}

/// A blob write killed between its staging file and the rename leaves the
/// file behind: opening the store removes those nothing has written to for
/// the grace period, the younger ones once it has passed, and nothing else.
/// SQLite only: blobs live in the blob directory whatever the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_files_of_unfinished_blob_writes_are_removed() {
    let backend = tongban_tests::sqlite();
    let store = open(&backend).await;
    let digest = store
        .blobs()
        .put(b"%PDF-1.7 licence".to_vec())
        .await
        .unwrap();
    store.close().await;
    let shard = backend.blob_dir().join("sha256").join(&digest[..2]);
    let staged = |n: u32| shard.join(format!("{digest}#{n}"));
    let five_minutes_ago = SystemTime::now() - Duration::from_secs(300);
    // A write killed five minutes ago, one that may still be going on, and
    // a file that is not a staging file of ours.
    file(&staged(1), five_minutes_ago);
    file(&staged(2), SystemTime::now());
    let other = shard.join("notes#1");
    file(&other, five_minutes_ago);

    let grace = Duration::from_secs(2);
    let store = Store::open(&StoreConfig {
        blob_staging_grace: grace,
        ..StoreConfig::new(
            DatabaseConfig::parse(&backend.database_url),
            BlobConfig::Local(backend.blob_dir()),
        )
    })
    .await
    .unwrap();
    assert!(
        !staged(1).exists(),
        "the old staging file is removed on open"
    );
    assert!(staged(2).exists(), "a recent one is left alone at first");
    let started = Instant::now();
    while staged(2).exists() {
        assert!(
            started.elapsed() < grace + Duration::from_secs(10),
            "the recent staging file was never removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(other.exists(), "not ours: kept");
    assert_eq!(
        store.blobs().get(&digest).await.unwrap().unwrap(),
        b"%PDF-1.7 licence"
    );
    store.close().await;
}

/// A file with some bytes, last modified at `at`.
fn file(path: &Path, at: SystemTime) {
    std::fs::write(path, b"partial").unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(at)
        .unwrap();
}

async fn open_on(dir: &Path) -> Store {
    Store::open(&StoreConfig {
        durability: Durability::PowerLoss,
        ..StoreConfig::new(
            DatabaseConfig::Sqlite(dir.join("tongban.db")),
            BlobConfig::Local(dir.join("blobs")),
        )
    })
    .await
    .unwrap()
}

/// A sound store passes the database's own integrity check, on every
/// backend (on PostgreSQL with and without amcheck).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sound_store_passes_its_integrity_check() {
    for backend in tongban_tests::backends("integrity_check").await {
        let store = open(&backend).await;
        write_once(&store, "a").await;
        let digest = store.blobs().put(b"bytes".to_vec()).await.unwrap();
        store
            .record_blob(&digest, 5, "application/json", crate::NOW)
            .await
            .unwrap();
        let check = store.check_database().await.unwrap();
        assert_eq!(check.problems, Vec::<String>::new(), "{}", backend.name);
        assert!(!check.checked.is_empty(), "{}", backend.name);
        if backend.name == "postgres" {
            assert!(check.checked[0].contains("sequential scans"), "{check:?}");
            assert!(check.unchecked[0].contains("amcheck"), "{check:?}");
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&backend.database_url)
                .await
                .unwrap();
            sqlx::query("CREATE EXTENSION amcheck")
                .execute(&mut conn)
                .await
                .unwrap();
            let check = store.check_database().await.unwrap();
            assert_eq!(check.problems, Vec::<String>::new());
            assert!(check.checked[0].contains("bt_index_check"), "{check:?}");
            assert!(check.checked[1].contains("verify_heapam"), "{check:?}");
            assert!(check.unchecked.is_empty(), "{check:?}");
        }
        assert_eq!(store.blob_count().await.unwrap(), 1);
        assert_eq!(
            store.recorded_blobs("", 10).await.unwrap(),
            vec![(digest.clone(), 5)]
        );
        assert!(store.recorded_blobs(&digest, 10).await.unwrap().is_empty());
        store.close().await;
        backend.cleanup().await;
    }
}

/// A damaged page of the SQLite file: the reads that meet it fail with
/// `STORE_CORRUPT` (not a panic, not an unnamed error), and the integrity
/// check names it. SQLite only: the page is damaged in its file format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_page_is_reported_as_store_corrupt() {
    let backend = tongban_tests::sqlite();
    let store = open(&backend).await;
    for i in 0..300 {
        store
            .append_audit(&[audit("fault.page", &format!("entry {i}"))])
            .await
            .unwrap();
    }
    store.close().await;
    let database = backend.dir().join("tongban.db");
    tongban_tests::faults::damage_root_page(&database, "audit_log").await;

    let store = open(&backend).await;
    assert_eq!(code(store.audit_page(0, 64).await), "STORE_CORRUPT");
    let check = store.check_database().await.unwrap();
    assert!(!check.problems.is_empty(), "{check:?}");
    assert!(
        check.problems.iter().any(|p| p.contains("Page")),
        "{check:?}"
    );
    store.close().await;
}
