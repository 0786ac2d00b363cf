//! `tongban doctor`: the store's own checks. First the database engine's
//! check of every page (`Store::check_database`), then every blob the
//! database records: present, of its recorded size, hashing to its name.
//! Exits 3, naming each problem with its code, when any is found.
//!
//! The codes: `STORE_CORRUPT`, `BLOB_ABSENT`, `BLOB_SIZE_MISMATCH`; a progress
//! bar shows the blobs fetched.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use serde_json::json;
use tongban_store::{DatabaseCheck, MAX_BLOB_PAGE, Store, StoreError};

use crate::output::{Exit, print_json};
use crate::{Context, progress};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check the database only, not the blobs.
    #[arg(long)]
    database_only: bool,
}

/// Most problems listed; beyond, they are only counted.
const MAX_LISTED: usize = 1_000;

/// A problem found, with its stable code.
#[derive(Debug, Serialize)]
struct Problem {
    code: &'static str,
    message: String,
}

/// What the blob check did and found.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct BlobCheck {
    recorded: u64,
    checked: u64,
}

/// Problems found so far: the first [`MAX_LISTED`], and how many in all.
#[derive(Debug, Default)]
struct Findings {
    listed: Vec<Problem>,
    count: usize,
}

impl Findings {
    fn add(&mut self, code: &'static str, message: String) {
        self.count += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Problem { code, message });
        }
    }
}

pub async fn run(ctx: &Context, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    ctx.require_initialised()?;
    let store = Store::open(&ctx.hub_config().store).await?;
    let mut findings = Findings::default();
    let database = store.check_database().await?;
    for message in &database.problems {
        findings.add("STORE_CORRUPT", message.clone());
    }
    let blobs = if args.database_only {
        None
    } else {
        Some(check_blobs(ctx, &store, &mut findings).await?)
    };
    let backend = store.backend();
    store.close().await;
    if ctx.json {
        print_json(&json!({
            "backend": backend,
            "database": {"checked": database.checked, "unchecked": database.unchecked},
            "blobs": blobs,
            "problems": findings.listed,
            "problemCount": findings.count,
        }))?;
    } else {
        print_text(backend, &database, blobs.as_ref(), &findings);
    }
    Ok(Exit::checked(findings.count == 0))
}

/// Fetches every recorded blob in digest order and checks it.
async fn check_blobs(
    ctx: &Context,
    store: &Store,
    findings: &mut Findings,
) -> anyhow::Result<BlobCheck> {
    let mut check = BlobCheck {
        recorded: store.blob_count().await?,
        checked: 0,
    };
    let bar = progress::bar(ctx.json, check.recorded, "blobs");
    let mut after = String::new();
    loop {
        let page = store.recorded_blobs(&after, MAX_BLOB_PAGE).await?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = last.clone();
        for (sha256, size) in page {
            check_blob(store, &sha256, size, findings).await?;
            check.checked += 1;
            bar.set_position(check.checked);
        }
    }
    bar.finish_and_clear();
    Ok(check)
}

async fn check_blob(
    store: &Store,
    sha256: &str,
    size: u64,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    match store.blobs().get(sha256).await {
        Ok(Some(bytes)) if bytes.len() as u64 == size => {}
        Ok(Some(bytes)) => findings.add(
            "BLOB_SIZE_MISMATCH",
            format!(
                "blob {sha256} has {} bytes; {size} are recorded",
                bytes.len()
            ),
        ),
        Ok(None) => findings.add(
            "BLOB_ABSENT",
            format!("blob {sha256} is recorded but its bytes are gone"),
        ),
        // Bytes that hash to another digest, or a name that is none.
        Err(StoreError::Corrupt(message) | StoreError::Blob(message)) => {
            findings.add("STORE_CORRUPT", format!("blob {sha256}: {message}"));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

fn print_text(
    backend: &str,
    database: &DatabaseCheck,
    blobs: Option<&BlobCheck>,
    findings: &Findings,
) {
    for (i, what) in database.checked.iter().enumerate() {
        let label = if i == 0 { "database" } else { "" };
        println!("{label:<10} {backend}: {what}");
    }
    for what in &database.unchecked {
        println!("{:<10} not checked: {what}", "");
    }
    match blobs {
        Some(b) => println!(
            "{:<10} {} recorded, {} checked (present, size, SHA-256)",
            "blobs", b.recorded, b.checked
        ),
        None => println!("{:<10} not checked (--database-only)", "blobs"),
    }
    for p in &findings.listed {
        println!("{:<20} {}", p.code, p.message);
    }
    match findings.count {
        0 => println!("no problems found"),
        n if n > findings.listed.len() => {
            println!("{n} problems found ({} listed)", findings.listed.len())
        }
        n => println!("{n} problems found"),
    }
}
