//! `tongban blobs copy`: between blob directories always, to and from an
//! S3-compatible bucket when `TONGBAN_TEST_S3` is set; and the hub with
//! its blobs in S3 (`--s3-bucket`).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::store::{blob_files, issue_with_attachment};
use crate::{cli, json_of, ok, tongban};

/// `tongban` on the hub in `data` with its blobs in `bucket` at
/// `endpoint` (any access key: the test server takes any).
fn with_s3(data: &Path, endpoint: &str, bucket: &str) -> Command {
    let (id, secret) = tongban_tests::S3_TEST_ACCESS_KEY;
    let mut command = cli(data);
    command
        .env("TONGBAN_S3_BUCKET", bucket)
        .env("TONGBAN_S3_ENDPOINT", endpoint)
        .env("TONGBAN_S3_ALLOW_HTTP", "1")
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret);
    command
}

/// `--json blobs copy --from FROM --to TO` run by `command`: exit status
/// and report.
fn copy(mut command: Command, from: &str, to: &str) -> (Option<i32>, Value) {
    let out: Output = command
        .args(["--json", "blobs", "copy", "--from", from, "--to", to])
        .output()
        .unwrap();
    (out.status.code(), json_of(&out))
}

fn counts(report: &Value) -> [u64; 4] {
    ["found", "copied", "skipped", "corrupt"].map(|k| report[k].as_u64().unwrap())
}

/// A hub whose two licences carry attachments: two blobs in `<data>/blobs`.
fn hub_with_two_blobs(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("hub");
    ok(&tongban(&data, &["init"]));
    issue_with_attachment(dir, &data, b"%PDF-1.7 the first rendering");
    issue_with_attachment(dir, &data, b"%PDF-1.7 the second rendering");
    assert_eq!(blob_files(&data).len(), 2);
    data
}

/// The blob files under `dir` (a blob directory), by name, with their bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for shard in std::fs::read_dir(dir.join("sha256")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}

#[test]
fn blobs_copy_between_directories_checks_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    let data = hub_with_two_blobs(dir.path());
    let from = data.join("blobs");
    let to = dir.path().join("backup");
    let (from, to) = (from.to_str().unwrap(), to.to_str().unwrap());
    let (status, report) = copy(cli(&data), from, to);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(counts(&report), [2, 2, 0, 0], "{report}");
    assert_eq!(contents(Path::new(to)), contents(Path::new(from)));
    // Again: everything is there already.
    let (status, report) = copy(cli(&data), from, to);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(counts(&report), [2, 0, 2, 0], "{report}");

    // A blob whose bytes changed is named and not copied; the rest is.
    let elsewhere = dir.path().join("elsewhere");
    let tampered = &blob_files(&data)[0];
    std::fs::write(tampered, b"tampered").unwrap();
    let (status, report) = copy(cli(&data), from, elsewhere.to_str().unwrap());
    assert_eq!(status, Some(3), "{report}");
    assert_eq!(counts(&report), [2, 1, 0, 1], "{report}");
    assert_eq!(report["problems"][0]["code"], "STORE_CORRUPT");
    let name = tampered.file_name().unwrap().to_string_lossy();
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&*name),
        "{report}"
    );
    assert_eq!(contents(&elsewhere).len(), 1);
    assert_ne!(contents(&elsewhere)[0].0, name);
}

#[test]
fn blobs_copy_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let blobs = data.join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let blobs = blobs.to_str().unwrap();
    let code = |command: Command, from: &str, to: &str| {
        let (status, report) = copy(command, from, to);
        (status, report["error"]["code"].as_str().unwrap().to_owned())
    };
    // `s3` without a bucket.
    assert_eq!(code(cli(&data), blobs, "s3"), (Some(2), "USAGE".into()));
    assert_eq!(code(cli(&data), "s3", blobs), (Some(2), "USAGE".into()));
    // The same store twice, also under another spelling.
    assert_eq!(code(cli(&data), blobs, blobs), (Some(2), "USAGE".into()));
    let other_spelling = format!("{}/../hub/blobs", data.display());
    assert_eq!(
        code(cli(&data), blobs, &other_spelling),
        (Some(2), "USAGE".into())
    );
    // No such source directory.
    let absent = dir.path().join("absent");
    assert_eq!(
        code(cli(&data), absent.to_str().unwrap(), blobs),
        (Some(2), "BLOBS_SOURCE_MISSING".into())
    );
    assert!(!absent.exists());
    // A bucket without an access key.
    let mut keyless = cli(&data);
    keyless.env("TONGBAN_S3_BUCKET", "hub-blobs");
    assert_eq!(
        code(keyless, blobs, "s3"),
        (Some(2), "S3_CREDENTIALS_MISSING".into())
    );
    // Plain http, not allowed.
    let mut plain = with_s3(&data, "http://127.0.0.1:9", "hub-blobs");
    plain.env_remove("TONGBAN_S3_ALLOW_HTTP");
    assert_eq!(code(plain, blobs, "s3"), (Some(1), "STORE_CONFIG".into()));
    // Nothing listening: unavailable, the endpoint named, the secret not.
    let out = with_s3(&data, "http://127.0.0.1:9", "hub-blobs")
        .args(["blobs", "copy", "--from", blobs, "--to", "s3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("STORE_UNAVAILABLE") && stderr.contains("http://127.0.0.1:9"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(tongban_tests::S3_TEST_ACCESS_KEY.1),
        "{stderr}"
    );
}

/// An embedded hub moves its blobs to S3, runs on them there, and the
/// bucket is backed up to a directory.
#[test]
fn a_hub_moves_its_blobs_to_s3_and_backs_them_up() {
    let Some(endpoint) = tongban_tests::s3_endpoint() else {
        return;
    };
    let bucket = tongban_tests::s3_bucket(&endpoint, "cli-move").name;
    let dir = tempfile::tempdir().unwrap();
    let data = hub_with_two_blobs(dir.path());
    let local = data.join("blobs");
    let local = local.to_str().unwrap();
    let (status, report) = copy(with_s3(&data, &endpoint, &bucket), local, "s3");
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(counts(&report), [2, 2, 0, 0], "{report}");
    assert_eq!(
        report["to"],
        format!("s3 bucket {bucket} at {endpoint}").as_str()
    );
    let (status, report) = copy(with_s3(&data, &endpoint, &bucket), local, "s3");
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(counts(&report), [2, 0, 2, 0], "{report}");

    // The hub on the bucket: the local copies are gone, the licences'
    // attachments are found (doctor checks every recorded blob).
    let originals = contents(&data.join("blobs"));
    std::fs::rename(data.join("blobs"), dir.path().join("old-blobs")).unwrap();
    let out = with_s3(&data, &endpoint, &bucket)
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    let doctor = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{doctor}");
    assert_eq!(doctor["blobs"]["checked"], 2, "{doctor}");
    assert!(!data.join("blobs").exists());
    // Without the bucket, the hub looks in its empty directory.
    let out = tongban(&data, &["--json", "doctor"]);
    assert_eq!(out.status.code(), Some(3));

    // A backup of the bucket holds the same files.
    let backup = dir.path().join("backup");
    let (status, report) = copy(
        with_s3(&data, &endpoint, &bucket),
        "s3",
        backup.to_str().unwrap(),
    );
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(counts(&report), [2, 2, 0, 0], "{report}");
    assert_eq!(contents(&backup), originals);
}
