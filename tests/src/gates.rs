//! Tests that need something outside the build are gated: the PostgreSQL
//! half of the store tests needs a server, their S3 half an S3-compatible
//! server, the CA's cross-check needs the
//! `openssl` command line and Python's `cryptography`, fault injection
//! needs root (`chattr +i`, `mount -t tmpfs`), the web console's tests a
//! headless Chromium with its chromedriver.
//!
//! A gate that is closed never passes silently. The harness captures what
//! a passing test prints with `eprintln!`, so the notice is written to the
//! process's standard error directly, which it does not capture: it shows
//! in every run's output. And a run that must not skip a gate — `CI` set,
//! or the gate named in `TONGBAN_TEST_REQUIRE` (`.ci/run` names them all) —
//! fails instead of skipping.

use std::io::Write;
use std::sync::Mutex;

/// Environment variable naming the gates a run must not skip, separated by
/// commas (`postgres,parsers,faults`, or `all`).
pub const REQUIRE_ENV: &str = "TONGBAN_TEST_REQUIRE";

/// Something outside the build that some tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// A PostgreSQL server in `TONGBAN_TEST_POSTGRES`.
    Postgres,
    /// `openssl` and Python's `cryptography`, announced by
    /// `TONGBAN_TEST_PARSERS=1`.
    Parsers,
    /// Root on a file system that keeps `chattr +i`, and `mount`.
    Faults,
    /// An S3-compatible server at the endpoint in `TONGBAN_TEST_S3`.
    S3,
    /// Headless Chromium and chromedriver, announced by
    /// `TONGBAN_TEST_BROWSER=1`.
    Browser,
}

impl Gate {
    /// Every gate.
    pub const ALL: [Gate; 5] = [
        Gate::Postgres,
        Gate::Parsers,
        Gate::Faults,
        Gate::S3,
        Gate::Browser,
    ];

    /// Its name in [`REQUIRE_ENV`].
    pub fn name(self) -> &'static str {
        match self {
            Gate::Postgres => "postgres",
            Gate::Parsers => "parsers",
            Gate::Faults => "faults",
            Gate::S3 => "s3",
            Gate::Browser => "browser",
        }
    }

    /// How to open it.
    fn how(self) -> &'static str {
        match self {
            Gate::Postgres => {
                "set TONGBAN_TEST_POSTGRES to a server URL (eval \"$(.ci/postgres.sh)\" starts one), or run .ci/run"
            }
            Gate::Parsers => {
                "install openssl and Python's cryptography and set TONGBAN_TEST_PARSERS=1, or run .ci/run"
            }
            Gate::Faults => "run as root on a file system with chattr, as .ci/run does",
            Gate::S3 => {
                "set TONGBAN_TEST_S3 to an S3-compatible endpoint (eval \"$(.ci/s3.sh)\" starts one), or run .ci/run"
            }
            Gate::Browser => {
                "install chromium and chromium-driver (Debian) and set TONGBAN_TEST_BROWSER=1, or run .ci/run"
            }
        }
    }

    /// Whether this run must not skip the gate: `CI` is set, or
    /// [`REQUIRE_ENV`] names it (or `all`).
    pub fn required(self) -> bool {
        self.required_by(
            std::env::var("CI").ok().as_deref(),
            &std::env::var(REQUIRE_ENV).unwrap_or_default(),
        )
    }

    fn required_by(self, ci: Option<&str>, listed: &str) -> bool {
        ci.is_some_and(|v| !v.is_empty())
            || listed
                .split(',')
                .map(str::trim)
                .any(|g| g == "all" || g == self.name())
    }

    /// `what` did not run because the gate is closed (`why`): panics when
    /// the gate is [`required`](Gate::required), else says so on the
    /// process's standard error, once per `what`.
    pub fn skip(self, what: &str, why: &str) {
        assert!(
            !self.required(),
            "{what} must run in this run ({REQUIRE_ENV} or CI), but cannot: {why}; {}",
            self.how()
        );
        static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut said = SAID
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if said.iter().any(|s| s == what) {
            return;
        }
        said.push(what.to_owned());
        let notice = format!(
            "\n\
             ************************************************************************\n\
             *  SKIPPED: {what}\n\
             *  because {why}\n\
             *  To run it: {}\n\
             ************************************************************************\n",
            self.how()
        );
        // Not `eprintln!`: the harness would capture it and show nothing
        // of a passing test.
        let _ = std::io::stderr().lock().write_all(notice.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    //! One test per gate: it fails when the gate is required and closed,
    //! checks what the gate promises when open, and otherwise passes with
    //! the notice.
    use super::*;

    #[tokio::test]
    async fn postgres_backend_is_configured() {
        let Some(url) = crate::postgres_url() else {
            return;
        };
        let backend = crate::postgres(&url, "gate").await;
        crate::execute_sql(&backend.database_url, "CREATE TABLE gate (x INTEGER)").await;
        assert_eq!(
            crate::execute_sql(&backend.database_url, "INSERT INTO gate VALUES (1), (2)").await,
            2
        );
        backend.cleanup().await;
    }

    #[test]
    fn s3_server_makes_buckets() {
        let Some(endpoint) = crate::s3_endpoint() else {
            return;
        };
        let bucket = crate::s3_bucket(&endpoint, "gate");
        assert!(bucket.name.starts_with("tongban-gate-"), "{}", bucket.name);
        // A second bucket of the same test is another bucket.
        assert_ne!(crate::s3_bucket(&endpoint, "gate").name, bucket.name);
    }

    #[test]
    fn x509_parsers_are_installed() {
        if !crate::parsers_enabled() {
            return;
        }
        let openssl = std::process::Command::new("openssl")
            .arg("version")
            .output()
            .unwrap_or_else(|e| panic!("TONGBAN_TEST_PARSERS is set, but openssl: {e}"));
        assert!(openssl.status.success(), "openssl version: {openssl:?}");
        let python = std::process::Command::new("python3")
            .args(["-c", "import cryptography"])
            .output()
            .unwrap_or_else(|e| panic!("TONGBAN_TEST_PARSERS is set, but python3: {e}"));
        assert!(
            python.status.success(),
            "TONGBAN_TEST_PARSERS is set, but Python's cryptography is missing: {}",
            String::from_utf8_lossy(&python.stderr)
        );
    }

    #[test]
    fn browser_and_its_driver_are_installed() {
        let Some(browser) = crate::browser() else {
            return;
        };
        for program in [&browser.chromium, &browser.chromedriver] {
            let version = std::process::Command::new(program)
                .arg("--version")
                .output()
                .unwrap_or_else(|e| panic!("TONGBAN_TEST_BROWSER is set, but {program}: {e}"));
            assert!(version.status.success(), "{program} --version: {version:?}");
        }
    }

    #[test]
    fn faults_can_be_injected() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
        let unwritable = match crate::faults::Unwritable::set(std::slice::from_ref(&file)) {
            Ok(u) => u,
            Err(why) => return Gate::Faults.skip("fault injection (chattr +i)", &why),
        };
        let refused = std::fs::write(&file, b"y").unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        unwritable.clear();
        std::fs::write(&file, b"y").unwrap_or_else(|e| panic!("after clear: {e}"));

        let disk = match crate::faults::SmallDisk::mount(&dir.path().join("disk"), 1 << 20) {
            Ok(d) => d,
            Err(why) => return Gate::Faults.skip("fault injection (a small tmpfs)", &why),
        };
        disk.fill();
        let full = std::fs::write(disk.path().join("more"), vec![0u8; 64 << 10]).unwrap_err();
        assert_eq!(full.kind(), std::io::ErrorKind::StorageFull);
        disk.free();
        std::fs::write(disk.path().join("more"), vec![0u8; 64 << 10])
            .unwrap_or_else(|e| panic!("after free: {e}"));
    }

    #[test]
    fn required_gates_are_those_named_or_all_in_ci() {
        let cases: [(Option<&str>, &str, [bool; 5]); 9] = [
            (None, "", [false, false, false, false, false]),
            (Some(""), "", [false, false, false, false, false]),
            (Some("true"), "", [true, true, true, true, true]),
            (None, "all", [true, true, true, true, true]),
            (None, "postgres", [true, false, false, false, false]),
            (None, "parsers, faults", [false, true, true, false, false]),
            (None, "postgres,s3", [true, false, false, true, false]),
            (None, "browser", [false, false, false, false, true]),
            (
                None,
                "postgresql,fault,s3x",
                [false, false, false, false, false],
            ),
        ];
        for (ci, listed, want) in cases {
            let got = Gate::ALL.map(|g| g.required_by(ci, listed));
            assert_eq!(got, want, "CI={ci:?} {REQUIRE_ENV}={listed:?}");
        }
    }
}
