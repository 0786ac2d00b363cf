//! Test support shared by the crates' integration tests.
//!
//! Store tests run against every backend available: SQLite always, and
//! PostgreSQL when `TONGBAN_TEST_POSTGRES` holds the URL of a server where
//! the test user may create databases (`.ci/run` starts one and sets it).
//! When it is unset the PostgreSQL half is skipped and says so loudly.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;

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
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => out.push(postgres(&url, test).await),
        _ => warn_skipped(),
    }
    out
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
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).unwrap_or_else(|e| panic!("random: {e}"));
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let db = format!("tongban_test_{clean}_{suffix}");
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

fn warn_skipped() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "\n\
             ************************************************************************\n\
             *  SKIPPED: PostgreSQL half of the store tests.                        *\n\
             *  Set {POSTGRES_ENV} to a server URL (e.g. postgres://postgres@127.0.0.1/postgres)\n\
             *  or run .ci/run, which starts PostgreSQL and sets it.                *\n\
             ************************************************************************\n"
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

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
