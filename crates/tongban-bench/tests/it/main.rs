//! The `tongban-bench` binary end to end: every benchmark, as small as it
//! goes, speaks JSON in camelCase; and a `kill -9` in the middle of the
//! issuance benchmark leaves no half-issued licence.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use tongban_service::samples::{self, MARKET};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tongban-bench"))
        .args(args)
        .env_remove("TONGBAN_DATABASE")
        .output()
        .unwrap()
}

/// Runs `tongban-bench --json ARGS`, checks that it exits 0 and that
/// standard output holds exactly one JSON document, and returns it.
fn json_run(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = bench(&all);
    tongban_tests::cli::json_document("tongban-bench", &all, &out, 0)
}

/// The subcommands `tongban-bench --help` lists.
fn subcommands() -> Vec<String> {
    let out = bench(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// SQLite only: each benchmark makes its own hub, in a temporary directory.
#[test]
fn every_benchmark_speaks_json_in_camel_case() {
    // The benchmarks, as small as they go.
    let runs: [&[&str]; 8] = [
        &[
            "licences",
            "--count",
            "4",
            "--batch",
            "2",
            "--verify-batch",
            "2",
            "--seconds",
            "0.05",
        ],
        &["audit", "--entries", "10", "--batch", "5"],
        &[
            "batch",
            "--sizes",
            "2,4",
            "--seconds",
            "0.03",
            "--raw-seconds",
            "0.05",
        ],
        &["catalogue", "--resources", "40", "--queries", "4"],
        &[
            "exchange",
            "--connections",
            "1",
            "--messages",
            "4",
            "--window",
            "2",
            "--no-nats",
            "--seconds",
            "0.05",
            "--rate",
            "100",
        ],
        &[
            "regions",
            "--holders",
            "2",
            "--pulls",
            "2",
            "--seconds",
            "0.05",
        ],
        &[
            "supervision",
            "--departments",
            "2",
            "--items",
            "4",
            "--events",
            "300",
            "--orders",
            "30",
            "--runs",
            "1",
        ],
        &[
            "verify-http",
            "--licences",
            "2",
            "--clients",
            "2",
            "--seconds",
            "0.05",
        ],
    ];
    let mut runs: Vec<&[&str]> = runs.to_vec();
    // The idle and cluster benchmarks start `tongban serve` nodes (the
    // cluster one on PostgreSQL).
    let tongban = Path::new(env!("CARGO_BIN_EXE_tongban-bench")).with_file_name("tongban");
    assert!(
        tongban.exists(),
        "{}: the idle benchmark runs the tongban binary: build the workspace (cargo test --workspace)",
        tongban.display()
    );
    runs.push(&[
        "idle",
        "--connections",
        "3",
        "--hold",
        "0",
        "--sample",
        "0.1",
    ]);
    let cluster: &[&str] = &[
        "cluster",
        "--nodes",
        "1",
        "--connections",
        "1",
        "--messages",
        "20",
        "--window",
        "2",
    ];
    if tongban_tests::postgres_url().is_some() {
        assert!(
            tongban.exists(),
            "{}: the cluster benchmark runs the tongban binary: build the workspace (cargo test --workspace)",
            tongban.display()
        );
        runs.push(cluster);
    } else {
        tongban_tests::gates::Gate::Postgres.skip(
            "tongban-bench cluster speaks JSON in camelCase",
            &format!("{} is not set", tongban_tests::POSTGRES_ENV),
        );
    }
    for args in &runs {
        let value = json_run(args);
        let snake = tongban_tests::cli::snake_members(&value);
        assert!(
            snake.is_empty(),
            "tongban-bench --json {}: members not in camelCase: {snake:?}",
            args.join(" ")
        );
    }
    // Every benchmark was run.
    let mut ran: Vec<&str> = runs.iter().map(|a| a[0]).collect();
    if !ran.contains(&"cluster") {
        ran.push("cluster");
    }
    let mut listed = subcommands();
    ran.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, ran);
}

#[test]
fn usage_errors_exit_2_as_json_when_asked() {
    let out = bench(&["--json", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["error"]["code"], "USAGE", "{value}");
    assert!(value["error"]["message"].is_string(), "{value}");
}

/// `kill -9` in the middle of issuing: every licence that made it to the
/// store is whole and verifies, batches are all or nothing, and the
/// counters never hand out a used number again.
#[test]
fn killed_mid_issue_leaves_no_half_issued_licence() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for backend in runtime.block_on(tongban_tests::backends("bench_killed_mid_issue")) {
        eprintln!(
            "killed_mid_issue_leaves_no_half_issued_licence: {}",
            backend.name
        );
        killed_mid_issue_on(&runtime, &backend);
        runtime.block_on(backend.cleanup());
    }
}

/// The hub the benchmark issues into: SQLite in `dir`, or `backend`'s
/// PostgreSQL database.
fn database_of(backend: &tongban_tests::TestBackend) -> Option<&str> {
    (backend.name == "postgres").then_some(backend.database_url.as_str())
}

fn killed_mid_issue_on(runtime: &tokio::runtime::Runtime, backend: &tongban_tests::TestBackend) {
    let hub_dir = backend.dir().join("bench");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tongban-bench"));
    if let Some(url) = database_of(backend) {
        command.args(["licences", "--database", url]);
    } else {
        command.arg("licences");
    }
    let mut child = command
        .args([
            "--count",
            "1000000",
            "--batch",
            "50",
            "--seconds",
            "0.05",
            "--dir",
        ])
        .arg(&hub_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some batches are in, then kill.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(300));
        if count_licences(runtime, &hub_dir, database_of(backend)) >= 200 {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();

    let mut config = tongban_service::ServiceConfig::embedded(&hub_dir);
    if let Some(url) = database_of(backend) {
        config.store.database = tongban_store::DatabaseConfig::parse(url);
    }
    runtime.block_on(async {
        let hub = tongban_service::Service::open(&config).await.unwrap();
        let counts = hub.store().licence_counts().await.unwrap();
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        assert!(total >= 200, "only {total} licences before the kill");
        assert_eq!(total % 50, 0, "a batch was half written: {total}");
        let mut rows = Vec::new();
        loop {
            let after = rows
                .last()
                .map(|r: &tongban_store::LicenceRow| r.identifier.clone());
            let page = hub
                .store()
                .licences_of_issuer_page(MARKET, after.as_deref(), 5_000)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            rows.extend(page);
        }
        assert_eq!(rows.len() as i64, total);
        let trust = hub.trust_for_issuers(&[MARKET.to_owned()]).await.unwrap();
        let values: Vec<Value> = rows
            .iter()
            .map(|r| serde_json::from_str(&r.credential).unwrap())
            .collect();
        let results = tongban_licence::verify_many(
            &trust,
            values,
            tongban_licence::VerifyOptions {
                now: hub.now(),
                attachments: None,
            },
        );
        assert!(
            results.iter().all(|v| v.valid),
            "a stored licence does not verify"
        );
        // The next allocation never reuses an index that is in the store.
        let max = rows.iter().map(|r| r.status_index).max().unwrap();
        let next = hub.store().allocate_indices(MARKET, 1).await.unwrap();
        assert!(next > max, "counter {next} would reuse index {max}");
        // And issuing goes on.
        let input =
            tongban_service::IssueInput::from_json(&samples::business_licence_request()).unwrap();
        hub.issue(MARKET, input).await.unwrap();
    });
}

/// The licences in the hub in `dir` (on `database` when given); 0 before
/// its tables exist.
fn count_licences(runtime: &tokio::runtime::Runtime, dir: &Path, database: Option<&str>) -> i64 {
    use sqlx::Connection;
    const COUNT: &str = "SELECT COUNT(*) FROM licences";
    runtime.block_on(async {
        match database {
            Some(url) => match sqlx::PgConnection::connect(url).await {
                Ok(mut conn) => sqlx::query_scalar::<_, i64>(COUNT)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or(0),
                Err(_) => 0,
            },
            None => {
                let db = dir.join("tongban.db");
                if !db.exists() {
                    return 0;
                }
                match sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
                    .await
                {
                    Ok(mut conn) => sqlx::query_scalar::<_, i64>(COUNT)
                        .fetch_one(&mut conn)
                        .await
                        .unwrap_or(0),
                    Err(_) => 0,
                }
            }
        }
    })
}
