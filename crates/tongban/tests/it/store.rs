//! The store from the command line: `doctor` on a sound and a damaged
//! store, and `init` refusing to replace a hub whose database is gone.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::{MARKET, business_request, json_of, ok, tongban};

/// Issues a licence of MARKET with `attachment` as its rendering.
pub(crate) fn issue_with_attachment(dir: &Path, data: &Path, attachment: &[u8]) {
    let file = dir.join("render.pdf");
    std::fs::write(&file, attachment).unwrap();
    ok(&tongban(
        data,
        &[
            "licence",
            "issue",
            "--issuer",
            MARKET,
            "--request",
            business_request(dir).to_str().unwrap(),
            "--attachment",
            file.to_str().unwrap(),
        ],
    ));
}

/// The files of the local blob store.
pub(crate) fn blob_files(data: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for shard in std::fs::read_dir(data.join("blobs/sha256")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            files.push(file.unwrap().path());
        }
    }
    files.sort();
    files
}

/// `doctor --json` (with `args`): its exit status and report.
fn doctor(data: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["--json", "doctor"];
    all.extend_from_slice(args);
    let out = tongban(data, &all);
    (out.status.code(), json_of(&out))
}

fn codes(report: &Value) -> Vec<&str> {
    let mut codes: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// SQLite only: the damage is done to the SQLite file's pages.
#[test]
fn doctor_passes_a_sound_store_and_names_what_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    ok(&tongban(&data, &["init"]));
    issue_with_attachment(dir.path(), &data, b"%PDF-1.7 first rendering");
    issue_with_attachment(dir.path(), &data, b"%PDF-1.7 second rendering");

    let (status, report) = doctor(&data, &[]);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(report["problemCount"], 0, "{report}");
    assert_eq!(report["blobs"]["recorded"], 2, "{report}");
    assert_eq!(report["blobs"]["checked"], 2, "{report}");
    let checked = report["database"]["checked"].to_string();
    assert!(checked.contains("PRAGMA integrity_check"), "{report}");
    let text = ok(&tongban(&data, &["doctor"]));
    assert!(text.contains("no problems found"), "{text}");

    // One blob's bytes changed, the other's gone.
    let files = blob_files(&data);
    assert_eq!(files.len(), 2);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&files[0], bytes).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    let (status, report) = doctor(&data, &[]);
    assert_eq!(status, Some(3), "{report}");
    assert_eq!(report["problemCount"], 2, "{report}");
    assert_eq!(codes(&report), ["BLOB_ABSENT", "STORE_CORRUPT"], "{report}");
    let (status, report) = doctor(&data, &["--database-only"]);
    assert_eq!(status, Some(0), "the database itself is sound: {report}");

    // A damaged page of the database: commands that read it fail with its
    // code, and doctor names it.
    crate::outside_runtime(tongban_tests::faults::damage_root_page(
        &data.join("tongban.db"),
        "audit_log",
    ));
    let out = tongban(&data, &["--json", "audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["error"]["code"], "STORE_CORRUPT");
    let (status, report) = doctor(&data, &["--database-only"]);
    assert_eq!(status, Some(3), "{report}");
    assert_eq!(codes(&report), ["STORE_CORRUPT"], "{report}");
    let out = tongban(&data, &["doctor", "--database-only"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("STORE_CORRUPT"), "{text}");
    assert!(text.contains("problems found"), "{text}");
}

/// No store: refused before one is opened.
#[test]
fn doctor_needs_a_hub() {
    let dir = tempfile::tempdir().unwrap();
    let out = tongban(&dir.path().join("none"), &["--json", "doctor"]);
    assert_eq!(json_of(&out)["error"]["code"], "HUB_NOT_INITIALISED");
}

/// The key store's file names.
fn key_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn refused(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1));
    let error = &json_of(out)["error"];
    assert_eq!(error["code"], "INIT_WOULD_REPLACE", "{error}");
    error["message"].as_str().unwrap().to_owned()
}

/// SQLite only: the database that is gone is the SQLite file (PostgreSQL's
/// case is the next test).
#[test]
fn init_refuses_to_replace_a_hub_whose_database_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let first = json_of(&tongban(&data, &["--json", "init"]));
    ok(&tongban(&data, &["ca", "init"]));
    let keys = key_files(&data.join("keys"));
    assert!(keys.contains(&"ca-key.pem".to_owned()), "{keys:?}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data.join(format!("tongban.db{suffix}")));
    }

    // Refused, naming what is there, and nothing changes.
    let message = refused(&tongban(&data, &["--json", "init"]));
    assert!(message.contains("ca-key.pem"), "{message}");
    assert!(message.contains("audit-pin.json"), "{message}");
    let signing = keys.iter().filter(|k| k.ends_with(".key")).count();
    assert!(
        message.contains(&format!("{signing} signing keys")),
        "{message}"
    );
    assert!(
        message.contains("--new-hub-despite-existing-keys"),
        "{message}"
    );
    assert!(!data.join("tongban.db").exists());
    assert_eq!(key_files(&data.join("keys")), keys);

    // Told explicitly: a new hub, the old keys kept aside.
    let second = json_of(&tongban(
        &data,
        &["--json", "init", "--new-hub-despite-existing-keys"],
    ));
    assert_ne!(second["anchor"], first["anchor"]);
    let aside: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("keys.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        second["keysMovedTo"],
        aside[0].to_str().unwrap(),
        "{second}"
    );
    assert_eq!(key_files(&aside[0]), keys);
    ok(&tongban(&data, &["ca", "init"]));
    // And running init again on the new hub is as harmless as ever.
    assert_eq!(
        json_of(&tongban(&data, &["--json", "init"]))["anchor"],
        second["anchor"]
    );
}

/// PostgreSQL: a database without a hub in it (a fresh one named by
/// mistake) beside the keys of a hub is refused the same way.
#[test]
fn init_refuses_a_database_without_the_hub_of_existing_keys() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(admin) = tongban_tests::postgres_url() else {
        return;
    };
    let (first, second) = runtime.block_on(async {
        (
            tongban_tests::postgres(&admin, "init_first").await,
            tongban_tests::postgres(&admin, "init_second").await,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    ok(&tongban(
        &data,
        &["--database", &first.database_url, "init", "--no-samples"],
    ));
    let message = refused(&tongban(
        &data,
        &["--json", "--database", &second.database_url, "init"],
    ));
    assert!(message.contains("1 signing key"), "{message}");
    // The right database: as before.
    ok(&tongban(
        &data,
        &["--database", &first.database_url, "init"],
    ));
    runtime.block_on(async {
        first.cleanup().await;
        second.cleanup().await;
    });
}
