//! Faults injected under a running store: files that cannot be written and
//! a disk that fills up (SQLite), a database that turns read-only or drops
//! its connections (PostgreSQL, see [`crate::TestBackend::postgres_admin`]).
//!
//! The file faults need root: `chattr +i` wants CAP_LINUX_IMMUTABLE and a
//! file system that keeps the flag, the small disk wants CAP_SYS_ADMIN to
//! mount a tmpfs. `.ci/run` runs as root and requires them; elsewhere a
//! test that cannot inject its fault says so in the run's output
//! ([`skipped`]) instead of passing silently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files made immutable (`chattr +i`) until [`Unwritable::clear`] or drop:
/// every write fails with `EPERM`, through descriptors opened before too,
/// and for root as well. This is what a database turned read-only under a
/// running process looks like to it.
#[derive(Debug)]
pub struct Unwritable {
    files: Vec<PathBuf>,
}

impl Unwritable {
    /// Makes `files` immutable. Never pass a file the process maps into
    /// memory (SQLite's `-shm`): a write to the mapping would kill it with
    /// `SIGBUS`.
    pub fn set(files: &[PathBuf]) -> Result<Unwritable, String> {
        chattr("+i", files)?;
        Ok(Unwritable {
            files: files.to_vec(),
        })
    }

    /// A SQLite database and its WAL, not its `-shm`.
    pub fn sqlite(database: &Path) -> Result<Unwritable, String> {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        Unwritable::set(&[database.to_owned(), PathBuf::from(wal)])
    }

    /// Makes the files writable again.
    pub fn clear(mut self) {
        let files = std::mem::take(&mut self.files);
        chattr("-i", &files).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        if !self.files.is_empty() {
            let _ = chattr("-i", &self.files);
        }
    }
}

fn chattr(flag: &str, files: &[PathBuf]) -> Result<(), String> {
    let out = Command::new("chattr")
        .arg(flag)
        .args(files)
        .output()
        .map_err(|e| format!("chattr: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "chattr {flag}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A small tmpfs mounted on a directory, unmounted on drop; [`fill`]
/// takes every free byte, [`free`] gives them back.
///
/// [`fill`]: SmallDisk::fill
/// [`free`]: SmallDisk::free
#[derive(Debug)]
pub struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` on `dir` (created if missing).
    pub fn mount(dir: &Path, bytes: u64) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk {
            dir: dir.to_owned(),
        })
    }

    /// The mounted directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes a filler file until the disk is full.
    pub fn fill(&self) {
        let mut file = std::fs::File::create(self.filler())
            .unwrap_or_else(|e| panic!("filler on {}: {e}", self.dir.display()));
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", self.dir.display()),
            }
        }
    }

    /// Removes the filler.
    pub fn free(&self) {
        std::fs::remove_file(self.filler())
            .unwrap_or_else(|e| panic!("filler on {}: {e}", self.dir.display()));
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the store under test may still hold files open.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).output();
    }
}

/// `test` did not run because its fault could not be injected (`why`):
/// said in the run's output, or a failure where fault injection is
/// required ([`crate::gates`]).
pub fn skipped(test: &str, why: &str) {
    crate::gates::Gate::Faults.skip(test, &format!("its fault could not be injected: {why}"));
}

/// Overwrites the first page of `table`'s B-tree in the SQLite file
/// `database` with garbage, after copying the WAL into the file: damage
/// that only reading that table finds.
pub async fn damage_root_page(database: &Path, table: &str) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", database.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("checkpoint: {e}"));
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("page size: {e}"));
    let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_schema WHERE name = ?")
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("root page of {table}: {e}"));
    conn.close().await.unwrap_or_else(|e| panic!("close: {e}"));
    let mut bytes = std::fs::read(database).unwrap_or_else(|e| panic!("{url}: {e}"));
    let page = |n: i64| usize::try_from(n).unwrap_or_else(|e| panic!("{n}: {e}"));
    let start = page((root - 1) * page_size);
    let end = start + page(page_size);
    assert!(end <= bytes.len(), "page {root} is in the file");
    bytes[start..end].fill(0x5a);
    std::fs::write(database, bytes).unwrap_or_else(|e| panic!("{url}: {e}"));
}
