//! The `tongban` binary end to end: init, issue, find, export, offline
//! verification, refusals, and a `kill -9` in the middle of issuance.
#![allow(clippy::unwrap_used)]

mod blobs;
mod catalogue;
mod cli;
mod clients;
mod cluster;
mod cluster_load;
mod codes;
mod exchange;
mod http;
mod limits;
mod notify;
mod readme;
mod regions;
mod sealed;
mod store;
mod strict;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const MARKET: &str = "11440114MB2C00007U";
const COMPANY: &str = "91440114MA5TB0A01K";

/// The PostgreSQL server of a test's run on that backend ([`each_backend`]),
/// and the database of each hub data directory the test has used.
struct Postgres {
    admin_url: String,
    test: String,
    databases: Vec<(PathBuf, tongban_tests::TestBackend)>,
}

thread_local! {
    static POSTGRES: RefCell<Option<Postgres>> = const { RefCell::new(None) };
}

/// Runs `test` on SQLite, then on PostgreSQL when this run has it
/// (`TONGBAN_TEST_POSTGRES`): every hub data directory then has a database
/// of its own, which [`cli`] gives each command in `TONGBAN_DATABASE`.
fn each_backend(name: &str, test: impl Fn()) {
    eprintln!("{name}: sqlite");
    test();
    let Some(admin_url) = tongban_tests::postgres_url() else {
        return;
    };
    eprintln!("{name}: postgres");
    POSTGRES.with(|p| {
        *p.borrow_mut() = Some(Postgres {
            admin_url,
            test: name.to_owned(),
            databases: Vec::new(),
        })
    });
    test();
    let databases = POSTGRES
        .with(|p| p.borrow_mut().take())
        .map(|p| p.databases)
        .unwrap_or_default();
    outside_runtime(async {
        for (_, backend) in databases {
            backend.cleanup().await;
        }
    });
}

/// Runs `future` to completion on a runtime of its own, on another thread:
/// callable from a test's runtime too.
fn outside_runtime<T: Send>(future: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(future)
        })
        .join()
        .unwrap()
    })
}

/// The database URL of the hub in `data` when the test runs on PostgreSQL
/// (made on first use); `None` on SQLite, whose file is in `data`.
fn database_of(data: &Path) -> Option<String> {
    POSTGRES.with(|p| {
        let mut p = p.borrow_mut();
        let pg = p.as_mut()?;
        if let Some((_, backend)) = pg.databases.iter().find(|(d, _)| d == data) {
            return Some(backend.database_url.clone());
        }
        let backend = outside_runtime(tongban_tests::postgres(&pg.admin_url, &pg.test));
        let url = backend.database_url.clone();
        pg.databases.push((data.to_owned(), backend));
        Some(url)
    })
}

/// `tongban --data-dir DATA` on this test's backend, with no settings from
/// the environment the tests run in.
fn cli(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tongban"));
    command
        .arg("--data-dir")
        .arg(data)
        .env_remove("TONGBAN_DATABASE")
        .env_remove("TONGBAN_KEK_FILE")
        .env_remove("TONGBAN_KEK")
        .env_remove("TONGBAN_REQUESTER");
    for s3 in [
        "TONGBAN_S3_BUCKET",
        "TONGBAN_S3_ENDPOINT",
        "TONGBAN_S3_REGION",
        "TONGBAN_S3_ALLOW_HTTP",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(s3);
    }
    if let Some(url) = database_of(data) {
        command.env("TONGBAN_DATABASE", url);
    }
    command
}

/// What the hub in `data` is opened with, on this test's backend.
fn hub_config(data: &Path) -> tongban_service::ServiceConfig {
    let mut config = tongban_service::ServiceConfig::embedded(data);
    if let Some(url) = database_of(data) {
        config.store.database = tongban_store::DatabaseConfig::parse(&url);
    }
    config
}

/// The rows of `table` in the hub in `data`; 0 while there is no database.
fn count_rows(data: &Path, table: &str) -> i64 {
    use sqlx::Connection;
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let url = database_of(data);
    let db = data.join("tongban.db");
    outside_runtime(async move {
        let count = match url {
            Some(url) => match sqlx::PgConnection::connect(&url).await {
                Ok(mut conn) => {
                    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut conn)
                        .await
                }
                Err(e) => Err(e),
            },
            None if !db.exists() => return 0,
            None => {
                match sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
                    .await
                {
                    Ok(mut conn) => {
                        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                            .fetch_one(&mut conn)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        // Before the first migration there is no table yet.
        count.unwrap_or(0)
    })
}

fn tongban(data: &Path, args: &[&str]) -> Output {
    cli(data).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn business_request_json() -> Value {
    let data: Value = serde_json::from_slice(
        &std::fs::read(repo().join("schemas/licence-types/examples/business-licence.json"))
            .unwrap(),
    )
    .unwrap();
    json!({
        "type": "11100000TB0000001K001",
        "holder": {"name": "广州花都鸿睿启航电子科技有限公司", "codeType": "001", "code": COMPANY},
        "data": data,
        "serviceItem": {"code": "440114-SCJG-0001", "name": "有限责任公司设立登记"}
    })
}

fn business_request(dir: &Path) -> PathBuf {
    let request = business_request_json();
    let path = dir.join("request.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&request).unwrap()).unwrap();
    path
}

/// `licence issue --json` by `issuer` of the request file `request` in the
/// hub in `data`.
fn issue_licence(data: &Path, issuer: &str, request: &str) -> Output {
    tongban(
        data,
        &[
            "--json",
            "licence",
            "issue",
            "--issuer",
            issuer,
            "--request",
            request,
        ],
    )
}

/// MARKET issues the business licence of [`business_request_json`] (the
/// request file at `request`) in the hub in `data`; what `issue --json`
/// says (it must succeed).
fn issue_business_licence(data: &Path, request: &str) -> Value {
    let out = issue_licence(data, MARKET, request);
    ok(&out);
    json_of(&out)
}

/// `ca issue client --json` for `department` into the directory `out`.
fn issue_client_certificate(data: &Path, department: &str, out: &Path) -> Output {
    tongban(
        data,
        &[
            "--json",
            "ca",
            "issue",
            "client",
            "--dept",
            department,
            "--out",
            out.to_str().unwrap(),
        ],
    )
}

/// `licence verify --json` of the licence file `file` against the trust
/// file `trust` and its `anchor` (and `attachment`, if any), in the hub
/// directory `data`: an empty one for offline verification, which needs
/// no hub.
fn verify_with_trust(
    data: &Path,
    file: &str,
    trust: &str,
    anchor: &str,
    attachment: Option<&str>,
) -> Output {
    let mut args = vec![
        "--json", "licence", "verify", file, "--trust", trust, "--anchor", anchor,
    ];
    if let Some(attachment) = attachment {
        args.extend(["--attachment", attachment]);
    }
    tongban(data, &args)
}

/// Exports licence `identifier` into `out` for a bank opening an account;
/// the anchor it was exported with.
fn export_for_bank(data: &Path, identifier: &str, out: &Path) -> String {
    ok(&tongban(
        data,
        &[
            "licence",
            "export",
            identifier,
            "--out",
            out.to_str().unwrap(),
            "--requester",
            "银行",
            "--use-cause",
            "开立对公账户",
        ],
    ));
    std::fs::read_to_string(out.join("anchor.txt")).unwrap()
}

#[test]
fn init_issue_find_export_and_verify_offline() {
    each_backend("init_issue_find_export_and_verify_offline", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        let out = tongban(&data, &["--json", "init"]);
        let init = json_of(&out);
        assert_eq!(init["licenceTypes"], 5);
        assert_eq!(init["departments"], 7);
        // Running init again changes nothing.
        assert_eq!(
            json_of(&tongban(&data, &["--json", "init"]))["anchor"],
            init["anchor"]
        );

        let request = business_request(dir.path());
        std::fs::write(dir.path().join("render.pdf"), b"%PDF-1.7 licence").unwrap();
        let issued = json_of(&tongban(
            &data,
            &[
                "--json",
                "licence",
                "issue",
                "--issuer",
                MARKET,
                "--request",
                request.to_str().unwrap(),
                "--attachment",
                dir.path().join("render.pdf").to_str().unwrap(),
            ],
        ));
        let identifier = issued["licence"]["identifier"].as_str().unwrap().to_owned();
        assert_eq!(issued["relatedResource"][0]["mediaType"], "application/pdf");

        let found = json_of(&tongban(
            &data,
            &[
                "--json",
                "licence",
                "find",
                "--holder",
                COMPANY,
                "--requester",
                "11440114MB2C00023H",
                "--use-cause",
                "办理食品经营许可",
                "--case",
                "HD-1",
            ],
        ));
        assert_eq!(found.as_array().unwrap().len(), 1);
        assert_eq!(found[0]["verification"]["valid"], true);

        // Without a stated purpose the CLI refuses before asking.
        let out = tongban(
            &data,
            &["licence", "find", "--holder", COMPANY, "--requester", "x"],
        );
        assert_eq!(out.status.code(), Some(2), "usage error");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--use-cause"));

        let export_dir = dir.path().join("export");
        let anchor = export_for_bank(&data, &identifier, &export_dir);
        let licence = export_dir.join("licence.json");
        let trust = export_dir.join("trust.json");
        let offline = |file: &Path, attachment: Option<&Path>| {
            verify_with_trust(
                &dir.path().join("nowhere"),
                file.to_str().unwrap(),
                trust.to_str().unwrap(),
                anchor.trim(),
                attachment.map(|a| a.to_str().unwrap()),
            )
        };
        let out = offline(&licence, Some(&export_dir.join("attachment.pdf")));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(json_of(&out)["valid"], true);

        // A tampered copy fails with PROOF_INVALID and exit status 3.
        let mut tampered: Value =
            serde_json::from_slice(&std::fs::read(&licence).unwrap()).unwrap();
        tampered["credentialSubject"]["licenceData"]["registeredCapital"] = "5000万元人民币".into();
        let tampered_path = dir.path().join("tampered.json");
        std::fs::write(&tampered_path, serde_json::to_vec(&tampered).unwrap()).unwrap();
        let out = offline(&tampered_path, None);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(json_of(&out)["problems"][0]["code"], "PROOF_INVALID");
        // A different attachment: ATTACHMENT_DIGEST_MISMATCH.
        std::fs::write(dir.path().join("other.pdf"), b"%PDF-1.7 other").unwrap();
        let out = offline(&licence, Some(&dir.path().join("other.pdf")));
        assert_eq!(
            json_of(&out)["problems"][0]["code"],
            "ATTACHMENT_DIGEST_MISMATCH"
        );
        // The wrong anchor: TRUST_FILE_UNTRUSTED.
        let out = verify_with_trust(
            &data,
            licence.to_str().unwrap(),
            trust.to_str().unwrap(),
            "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
            None,
        );
        assert_eq!(json_of(&out)["error"]["code"], "TRUST_FILE_UNTRUSTED");

        // Suspend, then online verification says so; use records are listed.
        ok(&tongban(
            &data,
            &["licence", "suspend", &identifier, "--reason", "经营异常"],
        ));
        let out = tongban(
            &data,
            &["--json", "licence", "verify", licence.to_str().unwrap()],
        );
        assert_eq!(json_of(&out)["problems"][0]["code"], "LICENCE_SUSPENDED");
        let uses = json_of(&tongban(&data, &["--json", "licence", "uses", &identifier]));
        assert_eq!(
            uses.as_array().unwrap().len(),
            2,
            "find and export were recorded"
        );
        ok(&tongban(
            &data,
            &["licence", "reinstate", &identifier, "--reason", "核查完毕"],
        ));
        ok(&tongban(
            &data,
            &["licence", "revoke", &identifier, "--reason", "注销登记"],
        ));
        let out = tongban(
            &data,
            &[
                "--json",
                "licence",
                "reinstate",
                &identifier,
                "--reason",
                "x",
            ],
        );
        assert_eq!(json_of(&out)["error"]["code"], "LICENCE_ALREADY_REVOKED");
    });
}

#[test]
fn refusals_have_stable_codes() {
    each_backend("refusals_have_stable_codes", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        // Nothing initialised yet.
        let out = tongban(
            &data,
            &[
                "--json",
                "licence",
                "find",
                "--holder",
                COMPANY,
                "--requester",
                "x",
                "--use-cause",
                "y",
            ],
        );
        assert_eq!(json_of(&out)["error"]["code"], "HUB_NOT_INITIALISED");
        ok(&tongban(&data, &["init"]));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, b"{\"type\": ").unwrap();
        let out = issue_licence(&data, MARKET, bad.to_str().unwrap());
        assert_eq!(json_of(&out)["error"]["code"], "MALFORMED_JSON");
        let out = tongban(
            &data,
            &["--json", "licence", "verify", bad.to_str().unwrap()],
        );
        assert_eq!(json_of(&out)["error"]["code"], "MALFORMED_JSON");
        let request = business_request(dir.path());
        let out = issue_licence(&data, "11440114MB2C00023H", request.to_str().unwrap());
        assert_eq!(json_of(&out)["error"]["code"], "SIGNING_KEY_NONE");
        let out = tongban(
            &data,
            &[
                "--json",
                "licence",
                "show",
                "1.2.156.3005.2.11100000TB0000001K001.11440114MB2C00007U.2026112500000000.001.X",
                "--requester",
                "x",
                "--use-cause",
                "y",
            ],
        );
        assert_eq!(json_of(&out)["error"]["code"], "IDENTIFIER_INVALID");
        let out = tongban(
            &data,
            &[
                "--json",
                "dept",
                "add",
                "--code",
                "11440114MB2C00007U",
                "--name",
                "x",
                "--region",
                "440114",
            ],
        );
        assert_eq!(json_of(&out)["error"]["code"], "DEPARTMENT_EXISTS");
    });
}

/// No store: offline verification.
#[test]
fn the_w3c_test_vector_verifies_with_its_published_key() {
    let dir = tempfile::tempdir().unwrap();
    let vector =
        repo().join("crates/tongban-licence/tests/vectors/eddsa-jcs-2022/signed-credential.json");
    let key = "https://vc.example/issuers/5678#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    let out = tongban(
        dir.path(),
        &[
            "--json",
            "licence",
            "verify",
            vector.to_str().unwrap(),
            "--key",
            key,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut tampered: Value = serde_json::from_slice(&std::fs::read(&vector).unwrap()).unwrap();
    tampered["credentialSubject"]["alumniOf"] = "Another School".into();
    let path = dir.path().join("t.json");
    std::fs::write(&path, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let out = tongban(
        dir.path(),
        &[
            "--json",
            "licence",
            "verify",
            path.to_str().unwrap(),
            "--key",
            key,
        ],
    );
    assert_eq!(out.status.code(), Some(3));
}

/// SQLite only: the demo makes its own hubs, in SQLite files under --dir.
#[test]
fn demo_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["demo", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = ok(&out);
    // The demo's whole flow, exchange over QUIC included, left data in the
    // audit log: documented members, no `Debug` text; and it verifies.
    let data = dir.path().join("hub");
    let entries = json_of(&tongban(
        &data,
        &["--json", "audit", "show", "--limit", "100000"],
    ));
    let entries = entries.as_array().unwrap();
    assert!(entries.len() > 20, "{}", entries.len());
    let faults: Vec<String> = entries
        .iter()
        .flat_map(|e| {
            tongban_tests::audit_detail_faults(
                e["action"].as_str().unwrap(),
                &e["detail"].to_string(),
            )
        })
        .collect();
    assert!(faults.is_empty(), "{faults:#?}");
    for action in ["exchange.request", "licence.use", "case.open"] {
        assert!(
            entries.iter().any(|e| e["action"] == action),
            "the demo records {action}"
        );
    }
    let report = json_of(&tongban(&data, &["--json", "audit", "verify"]));
    assert!(report["problem"].is_null(), "{report}");
    for expected in [
        "PROOF_INVALID",
        "ATTACHMENT_DIGEST_MISMATCH",
        "TRUST_FILE_STALE",
        "LICENCE_SUSPENDED",
        "KEY_REVOKED",
        "LICENCE_REVOKED",
        "USE_CAUSE_REQUIRED (SERVICE_REFUSED)",
        "the next case, at 市场监管局, reuses that result",
        "✓ 1.2.156.3005.2.11100000TB0000003R001.11440114MB2C00040A",
        "still valid ✔",
        "search “婚姻 登记” → 婚姻登记信息 (civil-marriages)",
        "CATALOGUE_NOT_PROVIDER",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected}:\n{text}"
        );
    }
}

/// SQLite only: the demo makes its own hubs, in SQLite files under --dir.
#[test]
fn demo_regions_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["demo", "--regions", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = ok(&out);
    for expected in [
        "441802 holds 440114's trust list",
        "现势  from 440114 广州市花都区政务数据共享交换平台  verified",
        "licence-use record in 440114: requester urn:tongban:hub:441802/",
        "case 441802:QC-2026-000001",
        "注销  from 440114 广州市花都区政务数据共享交换平台  NOT VALID (LICENCE_REVOKED)",
        "region 440114 广州市花都区政务数据共享交换平台: PEER_",
    ] {
        assert!(
            text.contains(expected),
            "demo --regions output lacks {expected}:\n{text}"
        );
    }
}

/// SQLite only: the demo makes its own hub, in a SQLite file under --dir.
#[test]
fn demo_supervision_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["demo", "--supervision", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = ok(&out);
    for expected in [
        "  2026-03-12:\n    → 11440114MB2C00015N, 11440114MB2C00090F: case MZ-2026-003 warned (yellow card): 4.8 of 5 promised working days",
        "case MZ-2026-003 overdue (red card): 5.8 of 5 promised working days",
        "work order 12345-2026-0003 missed its sign deadline: yellow card",
        "work order 12345-2026-0019 missed its reply deadline: red card",
        "answered: 专家评审延误一日，今日办结",
        "全部                合计          66    50        47       94.0%",
        "全部                合计              44    41        34       82.9%",
    ] {
        assert!(
            text.contains(expected),
            "demo --supervision output lacks {expected}:\n{text}"
        );
    }
    // Each fact was pushed once: a line per push, none repeated.
    let pushes: Vec<&str> = text.lines().filter(|l| l.contains(" → ")).collect();
    let unique: std::collections::BTreeSet<&&str> = pushes.iter().collect();
    assert_eq!(pushes.len(), unique.len(), "{text}");
}

#[test]
fn audit_and_administration_from_the_command_line() {
    each_backend("audit_and_administration_from_the_command_line", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init"]));
        let civil = "11440114MB2C00015N";
        // Department life cycle.
        ok(&tongban(
            &data,
            &[
                "--operator",
                "王敏",
                "dept",
                "suspend",
                civil,
                "--reason",
                "机构调整",
            ],
        ));
        let d = json_of(&tongban(&data, &["--json", "dept", "show", civil]));
        assert_eq!(d["department"]["status"], "suspended");
        let out = tongban(
            &data,
            &["--json", "dept", "suspend", civil, "--reason", "again"],
        );
        assert_eq!(
            json_of(&out)["error"]["code"],
            "DEPARTMENT_STATUS_UNCHANGED"
        );
        ok(&tongban(
            &data,
            &["dept", "activate", civil, "--reason", "调整完毕"],
        ));
        // Key rotation and revocation.
        let key = d["keys"][0]["keyId"].as_str().unwrap().to_owned();
        let rotated = json_of(&tongban(
            &data,
            &["--json", "key", "rotate", &key, "--overlap", "1d"],
        ));
        assert!(rotated["old"]["notAfter"].is_string());
        ok(&tongban(
            &data,
            &["key", "revoke", &key, "--reason", "私钥泄露"],
        ));
        let out = tongban(&data, &["--json", "key", "rotate", &key]);
        assert_eq!(json_of(&out)["error"]["code"], "KEY_REVOKED");
        // The audit log has it all, verifies, exports and verifies standalone.
        let shown = json_of(&tongban(
            &data,
            &["--json", "audit", "show", "--subject", civil],
        ));
        assert_eq!(shown[0]["action"], "dept.activate");
        assert_eq!(shown[1]["actor"], "王敏");
        let anchor = ok(&tongban(&data, &["audit", "anchor"]));
        let report = json_of(&tongban(&data, &["--json", "audit", "verify"]));
        assert!(report["problem"].is_null(), "{report}");
        assert_eq!(report["anchor"], anchor.trim());
        assert_eq!(report["interval"], 10_000);
        // Checkpoints published to a file kept elsewhere, and the log compared with it.
        let published = dir.path().join("elsewhere/checkpoints.jsonl");
        std::fs::create_dir_all(published.parent().unwrap()).unwrap();
        let p = published.to_str().unwrap();
        let out = json_of(&tongban(
            &data,
            &["--json", "audit", "checkpoint", "--publish", p],
        ));
        assert_eq!(out["published"]["appended"], 1, "{out}");
        assert_eq!(out["published"]["last"], out["signed"]["seq"], "{out}");
        let report = json_of(&tongban(
            &data,
            &["--json", "audit", "verify", "--checkpoints", p],
        ));
        assert_eq!(
            (&report["problem"], &report["published"]),
            (&Value::Null, &json!(1)),
            "{report}"
        );
        // Without the pin on this node the log is walked but not called intact.
        let pin = data.join("keys/audit-pin.json");
        let pin_text = std::fs::read(&pin).unwrap();
        std::fs::remove_file(&pin).unwrap();
        let out = tongban(&data, &["--json", "audit", "verify"]);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(json_of(&out)["problem"]["code"], "AUDIT_ANCHOR_UNPINNED");
        let out = tongban(
            &data,
            &["--json", "audit", "verify", "--anchor", anchor.trim()],
        );
        assert!(json_of(&out)["problem"].is_null());
        std::fs::write(&pin, pin_text).unwrap();
        let out = tongban(&data, &["--json", "audit", "pin"]);
        assert_eq!(json_of(&out)["error"]["code"], "AUDIT_PIN_EXISTS");
        let archive = dir.path().join("audit.jsonl");
        ok(&tongban(
            &data,
            &["audit", "export", "--out", archive.to_str().unwrap()],
        ));
        let out = tongban(
            &dir.path().join("nowhere"),
            &[
                "--json",
                "audit",
                "verify-archive",
                archive.to_str().unwrap(),
                "--anchor",
                anchor.trim(),
            ],
        );
        assert_eq!(
            json_of(&out)["valid"],
            true,
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Tamper with the archive: the first altered entry is named.
        let text = std::fs::read_to_string(&archive)
            .unwrap()
            .replace("机构调整", "机构撤销");
        std::fs::write(&archive, text).unwrap();
        let out = tongban(
            &data,
            &[
                "--json",
                "audit",
                "verify-archive",
                archive.to_str().unwrap(),
                "--anchor",
                anchor.trim(),
            ],
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(json_of(&out)["code"], "AUDIT_ENTRY_ALTERED");
    });
}

#[test]
fn schema_registry_from_the_command_line() {
    each_backend("schema_registry_from_the_command_line", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        let init = json_of(&tongban(&data, &["--json", "init", "--no-samples"]));
        // business-registration, the four of the hub's case services, the
        // two of its region service, the two of its case-event service, the
        // two of its notice-answer service, the two it pushes on
        // hub.supervision, the three of its work-order services and the
        // one it pushes on hub.hotline.
        assert_eq!(init["messageTypes"], 17);
        let list = json_of(&tongban(&data, &["--json", "schema", "list"]));
        assert_eq!(list.as_array().unwrap().len(), 22);
        let mut v2: Value = serde_json::from_slice(
            &std::fs::read(repo().join("schemas/messages/business-registration.json")).unwrap(),
        )
        .unwrap();
        v2["x-message-type"]["version"] = "2".into();
        v2["required"]
            .as_array_mut()
            .unwrap()
            .push("employees".into());
        v2["properties"]["employees"] = json!({"type": "string"});
        let file = dir.path().join("v2.json");
        std::fs::write(&file, serde_json::to_vec(&v2).unwrap()).unwrap();
        let out = tongban(
            &data,
            &["--json", "schema", "publish", file.to_str().unwrap()],
        );
        assert_eq!(json_of(&out)["error"]["code"], "SCHEMA_INCOMPATIBLE");
        let published = json_of(&tongban(
            &data,
            &[
                "--json",
                "schema",
                "publish",
                file.to_str().unwrap(),
                "--allow-breaking",
            ],
        ));
        assert_eq!(published["previous"], "1");
        let diff = json_of(&tongban(
            &data,
            &[
                "--json",
                "schema",
                "diff",
                "business-registration",
                "1",
                "2",
            ],
        ));
        assert!(
            diff.as_array()
                .unwrap()
                .iter()
                .any(|c| c["kind"] == "required-added" && c["breaking"] == true)
        );
        std::fs::write(&file, b"{\"type\": \"objekt\"}").unwrap();
        let out = tongban(
            &data,
            &[
                "--json",
                "schema",
                "publish",
                file.to_str().unwrap(),
                "--id",
                "x",
                "--version",
                "1",
            ],
        );
        assert_eq!(json_of(&out)["error"]["code"], "SCHEMA_INVALID");
        let shown = json_of(&tongban(
            &data,
            &["schema", "show", "business-registration", "--version", "1"],
        ));
        assert_eq!(shown["x-message-type"]["version"], "1");
    });
}

#[test]
fn certificate_authority_from_the_command_line() {
    each_backend("certificate_authority_from_the_command_line", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init"]));
        let out = issue_client_certificate(&data, MARKET, &dir.path().join("m"));
        assert_eq!(json_of(&out)["error"]["code"], "CA_NOT_INITIALISED");
        ok(&tongban(&data, &["ca", "init"]));
        let client = json_of(&issue_client_certificate(
            &data,
            MARKET,
            &dir.path().join("m"),
        ));
        let serial = client["serial"].as_str().unwrap().to_owned();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("m/key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Never overwrite a key.
        let out = issue_client_certificate(&data, MARKET, &dir.path().join("m"));
        assert_eq!(json_of(&out)["error"]["code"], "FILE_EXISTS");
        ok(&tongban(
            &data,
            &["ca", "revoke", &serial, "--reason", "keyCompromise"],
        ));
        let crl = ok(&tongban(&data, &["ca", "crl"]));
        assert!(crl.starts_with("-----BEGIN X509 CRL-----"));
        let list = json_of(&tongban(&data, &["--json", "ca", "list"]));
        assert_eq!(list.as_array().unwrap().len(), 2);
        ok(&tongban(
            &data,
            &["dept", "suspend", MARKET, "--reason", "整改"],
        ));
        let out = issue_client_certificate(&data, MARKET, &dir.path().join("m2"));
        assert_eq!(json_of(&out)["error"]["code"], "DEPARTMENT_SUSPENDED");
        // The development PKI regenerates with one command.
        let pki = dir.path().join("pki");
        ok(&tongban(
            &data,
            &["ca", "dev-pki", "--out", pki.to_str().unwrap()],
        ));
        assert!(
            pki.join("hub/cert.pem").exists()
                && pki.join(format!("clients/{MARKET}/key.pem")).exists()
        );
        let out = tongban(
            &data,
            &["--json", "ca", "dev-pki", "--out", pki.to_str().unwrap()],
        );
        assert_eq!(json_of(&out)["error"]["code"], "FILE_EXISTS");
        ok(&tongban(
            &data,
            &["ca", "dev-pki", "--out", pki.to_str().unwrap(), "--force"],
        ));
    });
}

/// `tongban peer`: two regions' administrators exchange cards once.
#[test]
fn peers_exchange_cards_from_the_command_line() {
    each_backend("peers_exchange_cards_from_the_command_line", || {
        let dir = tempfile::tempdir().unwrap();
        let huadu = dir.path().join("huadu");
        let qingcheng = dir.path().join("qingcheng");
        ok(&tongban(&huadu, &["init", "--no-samples"]));
        ok(&tongban(
            &qingcheng,
            &[
                "init",
                "--no-samples",
                "--region",
                "441802",
                "--name",
                "清远市清城区政务数据共享交换平台",
            ],
        ));
        let card = dir.path().join("huadu-card.json");
        // No CA yet: no card.
        let out = tongban(
            &huadu,
            &["--json", "peer", "card", "--address", "127.0.0.1:4433"],
        );
        assert!(!out.status.success());
        for data in [&huadu, &qingcheng] {
            ok(&tongban(data, &["ca", "init"]));
        }
        ok(&tongban(
            &huadu,
            &[
                "peer",
                "card",
                "--address",
                "127.0.0.1:4433",
                "--out",
                card.to_str().unwrap(),
            ],
        ));
        let added = json_of(&tongban(
            &qingcheng,
            &["--json", "peer", "add", card.to_str().unwrap()],
        ));
        assert_eq!(added["regionCode"], "440114");
        assert_eq!(added["status"], "active");
        let out = tongban(
            &qingcheng,
            &["--json", "peer", "add", card.to_str().unwrap()],
        );
        assert_eq!(json_of(&out)["error"]["code"], "PEER_EXISTS");
        // Its own card is refused by the hub it came from.
        let out = tongban(&huadu, &["--json", "peer", "add", card.to_str().unwrap()]);
        assert_eq!(json_of(&out)["error"]["code"], "PEER_IS_SELF");
        let listed = ok(&tongban(&qingcheng, &["peer", "list"]));
        assert!(
            listed.contains("440114") && listed.contains("active"),
            "{listed}"
        );
        ok(&tongban(&qingcheng, &["peer", "remove", "440114"]));
        let peers = json_of(&tongban(&qingcheng, &["--json", "peer", "list"]));
        assert_eq!(peers[0]["status"], "removed");
        let out = tongban(&qingcheng, &["--json", "peer", "remove", "440114"]);
        assert_eq!(json_of(&out)["error"]["code"], "PEER_UNKNOWN");
    });
}

/// A department's system makes its own exchange key (no hub needed) and the
/// administrator registers the public half; an exchange key the hub made is
/// handed out only with an audit entry; an issuing key never leaves.
#[test]
fn department_keys_from_the_command_line() {
    each_backend("department_keys_from_the_command_line", || {
        const XINHUA: &str = "11440114MB2C00023H";
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init"]));
        // The department's side: a data directory with no hub at all.
        let own = dir.path().join("xinhua/exchange.key");
        let generated: Value = serde_json::from_str(&ok(&tongban(
            &dir.path().join("no-hub"),
            &[
                "--json",
                "key",
                "generate",
                "--owner",
                XINHUA,
                "--out",
                own.to_str().unwrap(),
            ],
        )))
        .unwrap();
        assert!(
            !dir.path().join("no-hub").exists(),
            "generate touched a hub"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&own).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let request = dir.path().join("xinhua/exchange.key.registration.json");
        assert_eq!(generated["request"], request.to_str().unwrap());
        let registered = json_of(&tongban(
            &data,
            &["--json", "key", "register", request.to_str().unwrap()],
        ));
        assert_eq!(registered["keyId"], generated["keyId"]);
        assert_eq!(registered["purpose"], "exchange");
        let again = tongban(
            &data,
            &["--json", "key", "register", request.to_str().unwrap()],
        );
        assert!(!again.status.success());
        assert_eq!(json_of(&again)["error"]["code"], "KEY_EXISTS");
        // Every key says what it signs.
        let keys = json_of(&tongban(
            &data,
            &["--json", "key", "list", "--owner", MARKET],
        ));
        let purposes: Vec<&str> = keys
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["purpose"].as_str().unwrap())
            .collect();
        assert_eq!(purposes.len(), 2, "{keys}");
        assert!(
            purposes.contains(&"issue") && purposes.contains(&"exchange"),
            "{keys}"
        );
        // Handing out the exchange key the hub made for 市场监管局 is audited.
        let out = dir.path().join("market.key");
        let exported = json_of(&tongban(
            &data,
            &[
                "--json",
                "key",
                "export-secret",
                "--owner",
                MARKET,
                "--out",
                out.to_str().unwrap(),
            ],
        ));
        let shown = json_of(&tongban(
            &data,
            &[
                "--json",
                "audit",
                "show",
                "--subject",
                exported["keyId"].as_str().unwrap(),
            ],
        ));
        let actions: Vec<&str> = shown
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert!(actions.contains(&"key.export"), "{shown}");
    });
}
