//! Test support shared by the crates' integration tests.
//!
//! Store tests run against every backend available: SQLite always, and
//! PostgreSQL when `TONGBAN_TEST_POSTGRES` holds the URL of a server where
//! the test user may create databases (`.ci/run` starts one and sets it).
//! When it is unset the PostgreSQL half is skipped and says so in the run's
//! output, or fails the run where it is required ([`gates`]).
#![forbid(unsafe_code)]

pub mod cli;
pub mod codes;
pub mod faults;
pub mod gates;

use std::path::{Path, PathBuf};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// Environment variable naming the PostgreSQL server for store tests.
pub const POSTGRES_ENV: &str = "TONGBAN_TEST_POSTGRES";

/// A database for one test: a SQLite file in a temporary directory, or a
/// fresh PostgreSQL database, plus a blob directory.
#[derive(Debug)]
pub struct TestBackend {
    /// `sqlite` or `postgres`.
    pub name: &'static str,
    /// What `DatabaseConfig::parse` accepts.
    pub database_url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestBackend {
    /// A directory for blobs and other files of this test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The blob directory.
    pub fn blob_dir(&self) -> PathBuf {
        self.dir.path().join("blobs")
    }

    /// PostgreSQL only: runs `sql` as the server's administrator, with
    /// `{db}` standing for this test's database (quoted), e.g. to turn it
    /// read-only under a running store.
    pub async fn postgres_admin(&self, sql: &str) {
        let Some((admin_url, db)) = &self.postgres else {
            panic!("postgres_admin on the {} backend", self.name);
        };
        let mut conn = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={admin_url}: cannot connect: {e}"));
        let sql = sql.replace("{db}", &format!("\"{db}\""));
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// PostgreSQL only: ends every connection to this test's database, as
    /// a restart of the server would.
    pub async fn terminate_postgres_connections(&self) {
        let Some((_, db)) = &self.postgres else {
            panic!(
                "terminate_postgres_connections on the {} backend",
                self.name
            );
        };
        self.postgres_admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ))
        .await;
    }

    /// Another empty database on the same backend, for a second store in
    /// the same test.
    pub async fn sibling(&self, test: &str) -> TestBackend {
        match &self.postgres {
            Some((admin_url, _)) => postgres(admin_url, test).await,
            None => sqlite(),
        }
    }

    /// Drops the PostgreSQL database (no-op for SQLite). Call at the end of a test.
    pub async fn cleanup(self) {
        if let Some((admin_url, db)) = &self.postgres {
            if let Ok(mut conn) = PgConnection::connect(admin_url).await {
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        }
    }
}

/// Every backend available to this run.
pub async fn backends(test: &str) -> Vec<TestBackend> {
    let mut out = vec![sqlite()];
    if let Some(url) = postgres_url() {
        out.push(postgres(&url, test).await);
    }
    out
}

/// The URL in `TONGBAN_TEST_POSTGRES`; `None` when it is unset, after
/// saying that the PostgreSQL half is skipped (or failing, where the
/// PostgreSQL gate is required: [`gates::Gate::skip`]).
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            gates::Gate::Postgres.skip(
                "the PostgreSQL half of the store tests",
                &format!("{POSTGRES_ENV} is not set"),
            );
            None
        }
    }
}

/// Environment variable that `.ci/run` sets once `openssl` and Python's
/// `cryptography` are installed.
pub const PARSERS_ENV: &str = "TONGBAN_TEST_PARSERS";

/// Whether the tests that have independent X.509 parsers read our
/// certificates run; `false` after saying they are skipped (or failing,
/// where the parsers' gate is required).
pub fn parsers_enabled() -> bool {
    if std::env::var_os(PARSERS_ENV).is_some_and(|v| !v.is_empty()) {
        return true;
    }
    gates::Gate::Parsers.skip(
        "certificates and CRLs read by openssl and Python's cryptography",
        &format!("{PARSERS_ENV} is not set"),
    );
    false
}

/// Environment variable announcing that headless Chromium and its
/// chromedriver are installed (`.ci/run` installs Debian's `chromium` and
/// `chromium-driver` and sets it to 1).
pub const BROWSER_ENV: &str = "TONGBAN_TEST_BROWSER";

/// Where the browser tests find their programs.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The browser (`chromium`, or `TONGBAN_TEST_CHROMIUM`).
    pub chromium: String,
    /// Its WebDriver server (`chromedriver`, or `TONGBAN_TEST_CHROMEDRIVER`).
    pub chromedriver: String,
}

/// The browser the console's tests drive; `None` when
/// [`BROWSER_ENV`] is unset, after saying that they are skipped (or
/// failing, where the browser's gate is required).
pub fn browser() -> Option<Browser> {
    if std::env::var_os(BROWSER_ENV).is_some_and(|v| !v.is_empty()) {
        let program = |env: &str, default: &str| {
            std::env::var(env)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        return Some(Browser {
            chromium: program("TONGBAN_TEST_CHROMIUM", "chromium"),
            chromedriver: program("TONGBAN_TEST_CHROMEDRIVER", "chromedriver"),
        });
    }
    gates::Gate::Browser.skip(
        "the web console in headless Chromium",
        &format!("{BROWSER_ENV} is not set"),
    );
    None
}

/// Environment variable naming the S3-compatible endpoint for blob tests
/// (`http://127.0.0.1:55433` from `.ci/s3.sh`).
pub const S3_ENV: &str = "TONGBAN_TEST_S3";

/// The access key the tests present to the S3 test server (which takes any).
pub const S3_TEST_ACCESS_KEY: (&str, &str) = ("tongban-test", "tongban-test-secret");

/// The endpoint in `TONGBAN_TEST_S3`; `None` when it is unset, after
/// saying that the S3 half is skipped (or failing, where the S3 gate is
/// required).
pub fn s3_endpoint() -> Option<String> {
    match std::env::var(S3_ENV) {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            gates::Gate::S3.skip(
                "the S3 half of the blob tests",
                &format!("{S3_ENV} is not set"),
            );
            None
        }
    }
}

/// A bucket made for one test on the S3 test server.
#[derive(Debug, Clone)]
pub struct TestBucket {
    /// The server, `http://host:port`.
    pub endpoint: String,
    /// The bucket's name: `tongban-<test>-<random>`.
    pub name: String,
}

/// Where a test's blobs live: a directory, or a bucket of its own.
#[derive(Debug)]
pub enum TestBlobs {
    /// A local directory, removed with the value.
    Local(tempfile::TempDir),
    /// A fresh bucket on the S3 test server. Buckets are left to the
    /// throw-away server (which forgets them when it stops).
    S3(TestBucket),
}

impl TestBlobs {
    /// `local` or `s3`.
    pub fn name(&self) -> &'static str {
        match self {
            TestBlobs::Local(_) => "local",
            TestBlobs::S3(_) => "s3",
        }
    }
}

/// Every blob backend available to this run: a local directory always, a
/// fresh bucket when `TONGBAN_TEST_S3` is set.
pub fn blob_backends(test: &str) -> Vec<TestBlobs> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let mut out = vec![TestBlobs::Local(dir)];
    if let Some(endpoint) = s3_endpoint() {
        out.push(TestBlobs::S3(s3_bucket(&endpoint, test)));
    }
    out
}

/// `prefix`, `test` in lower-case ASCII (other characters as `sep`, at
/// most 30), `sep` and 12 random hex digits: a name no other run takes.
fn unique_name(prefix: &str, test: &str, sep: char) -> String {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).unwrap_or_else(|e| panic!("random: {e}"));
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                sep
            }
        })
        .take(30)
        .collect();
    format!("{prefix}{clean}{sep}{suffix}")
}

/// Creates a bucket named after `test` on the S3 server at `endpoint`
/// (an unsigned `PUT /<bucket>`, which the test server accepts).
pub fn s3_bucket(endpoint: &str, test: &str) -> TestBucket {
    let name = unique_name("tongban-", test, '-');
    let status = http_put_empty(endpoint, &format!("/{name}"));
    assert_eq!(status, 200, "{S3_ENV}={endpoint}: creating bucket {name}");
    TestBucket {
        endpoint: endpoint.to_owned(),
        name,
    }
}

/// `PUT path` with an empty body over plain HTTP/1.1; the status code.
fn http_put_empty(endpoint: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let host = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{S3_ENV}={endpoint}: the test server is plain http://"));
    let mut stream = std::net::TcpStream::connect(host)
        .unwrap_or_else(|e| panic!("{S3_ENV}={endpoint}: cannot connect: {e}"));
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{S3_ENV}={endpoint}: {e}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("{S3_ENV}={endpoint}: {e}"));
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{S3_ENV}={endpoint}: not an HTTP answer: {response:?}"))
}

/// The SQLite backend alone.
pub fn sqlite() -> TestBackend {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    TestBackend {
        name: "sqlite",
        database_url: dir.path().join("tongban.db").display().to_string(),
        dir,
        postgres: None,
    }
}

/// A fresh PostgreSQL database on the server at `admin_url`.
pub async fn postgres(admin_url: &str, test: &str) -> TestBackend {
    let db = unique_name("tongban_test_", test, '_');
    let mut conn = PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={admin_url}: cannot connect: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("create database {db}: {e}"));
    let url = replace_database(admin_url, &db);
    TestBackend {
        name: "postgres",
        database_url: url,
        dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}")),
        postgres: Some((admin_url.to_owned(), db)),
    }
}

/// Runs one SQL statement on a store's database behind its back (`url` as
/// in [`TestBackend::database_url`]), for fault and attack set-ups: returns
/// the rows affected.
pub async fn execute_sql(url: &str, sql: &str) -> u64 {
    use sqlx::Executor;
    let statement = AssertSqlSafe(sql.to_owned());
    let affected = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut conn = PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        conn.execute(statement).await.map(|r| r.rows_affected())
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{url}"))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        conn.execute(statement).await.map(|r| r.rows_affected())
    };
    affected.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `postgres://u@h:p/admin?x` → `postgres://u@h:p/{db}?x`.
fn replace_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// What is wrong with an audit entry's detail, if anything: it must be a
/// JSON object whose members are documented for its action in
/// `docs/AUDIT-LOG.md`, and hold data, never Rust `Debug` text.
pub fn audit_detail_faults(action: &str, detail: &str) -> Vec<String> {
    let mut faults = Vec::new();
    let Ok(serde_json::Value::Object(members)) = serde_json::from_str(detail) else {
        return vec![format!("{action}: detail is not a JSON object: {detail}")];
    };
    match documented_audit_details().iter().find(|(a, _)| a == action) {
        None => faults.push(format!("{action}: not documented in docs/AUDIT-LOG.md")),
        Some((_, fields)) => {
            for key in members.keys().filter(|k| !fields.contains(k)) {
                faults.push(format!("{action}: detail member {key} is not documented"));
            }
        }
    }
    let detail = serde_json::Value::Object(members);
    let mut texts = Vec::new();
    strings_in(&detail, &mut texts);
    for text in texts {
        if let Some(why) = debug_text(text) {
            faults.push(format!(
                "{action}: {text:?} looks like Debug formatting ({why})"
            ));
        }
    }
    faults
}

/// Why `text` looks like `{:?}` output: `Some(…)`, `None`, `Variant(…)`,
/// `path::Item`, `Struct { field: … }`, or a quoted string.
pub fn debug_text(text: &str) -> Option<&'static str> {
    let bytes = text.as_bytes();
    if text == "None" || text.contains("Some(") {
        return Some("an Option");
    }
    let ident_len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if bytes.first().is_some_and(u8::is_ascii_uppercase)
        && bytes.get(ident_len) == Some(&b'(')
        && text.ends_with(')')
    {
        return Some("an enum variant");
    }
    let path = bytes.windows(4).any(|w| {
        w[0].is_ascii_alphanumeric() && w[1] == b':' && w[2] == b':' && w[3].is_ascii_alphabetic()
    });
    if path {
        return Some("a Rust path");
    }
    if let Some(i) = text.find(" { ") {
        let after = &text[i + 3..];
        let field_len = after
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
            .count();
        if i > 0 && field_len > 0 && after[field_len..].starts_with(": ") {
            return Some("a struct");
        }
    }
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        return Some("a quoted string");
    }
    None
}

fn strings_in<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        serde_json::Value::Object(members) => members.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// The table "Details by action" of `docs/AUDIT-LOG.md`: each action with
/// the members its detail may have.
pub fn documented_audit_details() -> &'static [(String, Vec<String>)] {
    static TABLE: std::sync::OnceLock<Vec<(String, Vec<String>)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/AUDIT-LOG.md");
        let doc =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let section = doc
            .split("\n## ")
            .find(|s| s.starts_with("Details by action"))
            .unwrap_or_else(|| panic!("{} has no section Details by action", path.display()));
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').collect();
                let action = backticked(cells.get(1).copied().unwrap_or_default());
                let fields = backticked(cells.get(3).copied().unwrap_or_default());
                (action.into_iter().next().unwrap_or_default(), fields)
            })
            .collect()
    })
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_formatting_is_recognised() {
        for debug in [
            "Approved(1)",
            "Some(\"x\")",
            "None",
            "AccessBasis::Provider",
            "Grant { id: 3, until: 5 }",
            "\"quoted\"",
        ] {
            assert!(debug_text(debug).is_some(), "{debug}");
        }
        for data in [
            "approved",
            "机构调整",
            "::1",
            "2001:db8::1",
            "11440114MB2C00007U",
            "The reason (stated)",
            "urn:tongban:hub:440114",
            "{ not: a struct }",
        ] {
            assert_eq!(debug_text(data), None, "{data}");
        }
        assert!(
            audit_detail_faults("exchange.records", "{\"basis\":\"Approved(1)\"}")
                .iter()
                .any(|f| f.contains("Debug"))
        );
        assert!(!audit_detail_faults("no.such.action", "{}").is_empty());
    }

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
    }
}
