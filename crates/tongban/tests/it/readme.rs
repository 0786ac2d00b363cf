//! The READMEs run as written. `README.md`'s ```sh blocks run in order in
//! one bash session (a newcomer's terminal: variables, the working
//! directory and background jobs carry over), in a fresh directory holding
//! a copy of `examples/`, with the `tongban` under test first on `PATH`
//! and no `TONGBAN_*` variables set. Each block of `deploy/README.md` runs
//! on its own, in a fresh directory: its sections are alternatives.
//!
//! The conventions the documents follow, and this test understands:
//! - `cargo build …` and `cargo test …` are the build and this very suite:
//!   not run. `cargo run --release -- ARGS` runs `tongban ARGS`.
//! - A command ending in `&` is a background job (`tongban serve`,
//!   `tongban listen`). As a person would, the script waits until it says
//!   it is ready ("serving on", "listening as") before going on; every job
//!   is killed at the end.
//! - A command whose comment holds `→ error[CODE]` must fail with that
//!   code; every other command must succeed (`set -euo pipefail`).
//! - The hubs' addresses 127.0.0.1:4433 and 127.0.0.1:4434 become free
//!   ports, so that runs in parallel do not collide; `/var/lib/tongban`
//!   becomes a directory of the test; `postgres://tongban@db.internal/…`
//!   becomes a fresh database when `TONGBAN_TEST_POSTGRES` is set (the
//!   block is skipped, loudly, when it is not).
//! - A ```json block whose info string names a file (` ```json
//!   examples/reg.json`) shows that file: the two must be equal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exchange::free_port;
use crate::repo;

/// The whole README may take this long (it takes seconds).
const TIMEOUT: Duration = Duration::from_secs(300);

/// A fenced block: its info string, first line number, and lines.
struct Block {
    info: String,
    line: usize,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_owned(),
                    line: i + 2,
                    lines: Vec::new(),
                });
            }
            (Some(_), Some("")) => out.extend(open.take()),
            (Some(b), _) => b.lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    out
}

/// Where a command's comment starts: a `#` after blank space, outside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let (mut single, mut double, mut previous) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return Some(i),
            _ => {}
        }
        previous = c;
    }
    None
}

/// `error[CODE]` named after `→` in a comment.
fn expected_error(comment: &str) -> Option<&str> {
    let after = &comment[comment.find("→ error[")? + "→ error[".len()..];
    Some(&after[..after.find(']')?])
}

/// A block turned into bash, line for line (so that bash's `$LINENO`
/// maps back to the document).
fn script_of(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    let mut heredoc: Option<String> = None;
    let mut command: Vec<String> = Vec::new();
    for line in &block.lines {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            out.push(line.clone());
            continue;
        }
        command.push(line.clone());
        if line.trim_end().ends_with('\\') {
            continue;
        }
        out.extend(rewrite(&std::mem::take(&mut command)));
        if let Some(i) = line.find("<<") {
            let word = line[i + 2..].trim_start_matches('-').trim();
            let word = word.split_whitespace().next().unwrap_or_default();
            heredoc = Some(word.trim_matches(['\'', '"']).to_owned());
        }
    }
    assert!(command.is_empty(), "a command continues past its block");
    out
}

/// One command (its physical lines), rewritten by the conventions.
fn rewrite(lines: &[String]) -> Vec<String> {
    let mut lines = lines.to_vec();
    let first = lines[0].trim_start().to_owned();
    if first.starts_with("cargo build") || first.starts_with("cargo test") {
        return lines
            .iter()
            .map(|_| ": # the build or this suite".to_owned())
            .collect();
    }
    lines[0] = lines[0].replace("cargo run --release -- ", "tongban ");
    let last = lines.len() - 1;
    let (code, comment) = match comment_start(&lines[last]) {
        Some(i) => (lines[last][..i].to_owned(), lines[last][i..].to_owned()),
        None => (lines[last].clone(), String::new()),
    };
    let mut code = code.trim_end().to_owned();
    let background = code.ends_with('&') && !code.ends_with("&&");
    if background {
        code = format!(
            "{} 2>>\"$__job_log\" & __readme_ready",
            code.trim_end_matches('&').trim_end()
        );
    }
    lines[last] = code;
    if let Some(error) = expected_error(&comment) {
        lines[0] = format!("__readme_fails {error} {}", lines[0]);
    }
    if background {
        lines[0] = format!("__readme_job; {}", lines[0]);
    }
    lines
}

/// Bash run before the document: the conventions' helpers.
const PRELUDE: &str = r#"set -Eeuo pipefail
trap 'echo "__README_FAILED__ $LINENO: $BASH_COMMAND" >&2' ERR
__jobs=0 __job_log=
__readme_job() { __jobs=$((__jobs + 1)); __job_log="$PWD/.readme-job-$__jobs.log"; }
__readme_ready() {
  local log="$__job_log" pid=$! i
  for i in $(seq 1 600); do
    if grep -q -e "serving on" -e "listening as" "$log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "background job ended:" >&2; cat "$log" >&2; return 1; fi
    sleep 0.1
  done
  echo "background job never said it was ready:" >&2; cat "$log" >&2; return 1
}
__readme_fails() {
  local code=$1 err status=0; shift
  err=$("$@" 2>&1 >/dev/null) || status=$?
  echo "$err" >&2
  if [ "$status" = 0 ]; then echo "expected error[$code], but it succeeded" >&2; return 1; fi
  case "$err" in *"error[$code]"*) return 0;; esac
  echo "expected error[$code]" >&2; return 1
}
"#;

/// A runnable script of `blocks`, and for each of its lines the
/// document's line it came from.
fn script(
    doc: &str,
    blocks: &[&Block],
    ports: (u16, u16),
    replace: &[(String, String)],
) -> (String, Vec<String>) {
    let mut text = String::from(PRELUDE);
    let mut origin: Vec<String> = text.lines().map(|_| "(prelude)".to_owned()).collect();
    for block in blocks {
        for (i, line) in script_of(block).into_iter().enumerate() {
            let mut line = line
                .replace("127.0.0.1:4433", &format!("127.0.0.1:{}", ports.0))
                .replace("127.0.0.1:4434", &format!("127.0.0.1:{}", ports.1));
            for (from, to) in replace {
                line = line.replace(from, to);
            }
            let _ = writeln!(text, "{line}");
            origin.push(format!("{doc}:{}", block.line + i));
        }
    }
    (text, origin)
}

/// Runs `script` with bash in `dir`; kills whatever it left running.
fn run(dir: &Path, script: &str, origin: &[String], hub: u16) {
    let path = dir.join(".readme.sh");
    std::fs::write(&path, script).unwrap();
    let log = dir.join(".readme.log");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tongban"));
    let path_var = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .arg("--noprofile")
        .arg("--norc")
        .arg(&path)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path_var)
        .env("HOME", dir)
        .env("LANG", "C.UTF-8")
        // The clients' default hub, 127.0.0.1:4433, moved with the port.
        .env("TONGBAN_HUB", format!("127.0.0.1:{hub}"))
        .stdin(Stdio::null());
    // One file, one offset: standard output and error interleaved in order.
    let file = std::fs::File::create(&log).unwrap();
    command.stderr(file.try_clone().unwrap()).stdout(file);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().expect("bash");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The background jobs share bash's process group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    if status.is_some_and(|s| s.success()) {
        return;
    }
    let failed = output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("__README_FAILED__ "))
        .and_then(|l| l.split_once(':'))
        .and_then(|(n, cmd)| Some((origin.get(n.parse::<usize>().ok()? - 1)?, cmd)));
    let tail: Vec<&str> = output.lines().rev().take(60).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let mut jobs = String::new();
    for n in 1.. {
        match std::fs::read_to_string(dir.join(format!(".readme-job-{n}.log"))) {
            Ok(text) => {
                let last: Vec<&str> = text.lines().rev().take(15).collect();
                let _ = writeln!(jobs, "--- background job {n}:");
                for l in last.into_iter().rev() {
                    let _ = writeln!(jobs, "{l}");
                }
            }
            Err(_) => break,
        }
    }
    match (status, failed) {
        (None, _) => panic!("timed out after {TIMEOUT:?}\n{}\n{jobs}", tail.join("\n")),
        (_, Some((at, cmd))) => panic!("{at} failed:{cmd}\n{}\n{jobs}", tail.join("\n")),
        (_, None) => panic!("the script failed:\n{}\n{jobs}", tail.join("\n")),
    }
}

/// A fresh directory with a copy of `examples/`, as a checkout has it.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    std::fs::create_dir(&examples).unwrap();
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), examples.join(entry.file_name())).unwrap();
    }
    dir
}

/// Every ```json block that names a file equals it.
fn check_shown_files(doc: &str, blocks: &[Block]) {
    for b in blocks {
        let Some(file) = b.info.strip_prefix("json ") else {
            continue;
        };
        let shown: Value = serde_json::from_str(&b.lines.join("\n"))
            .unwrap_or_else(|e| panic!("{doc}:{}: the block is not JSON: {e}", b.line));
        let path = repo().join(file.trim());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{doc}:{}: {}: {e}", b.line, path.display()));
        let real: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            shown, real,
            "{doc}:{}: the block differs from {file}",
            b.line
        );
    }
}

fn shell_blocks(blocks: &[Block]) -> Vec<&Block> {
    blocks.iter().filter(|b| b.info == "sh").collect()
}

/// SQLite only: the README's commands as written use the data directory's
/// SQLite file (the deployment guide's PostgreSQL blocks run below).
#[test]
fn the_readme_runs_as_written() {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let all = blocks(&text);
    check_shown_files("README.md", &all);
    let dir = workdir();
    let ports = (free_port(), free_port());
    let (script, origin) = script("README.md", &shell_blocks(&all), ports, &[]);
    run(dir.path(), &script, &origin, ports.0);
}

#[test]
fn the_deployment_guide_runs_as_written() {
    let text = std::fs::read_to_string(repo().join("deploy/README.md")).unwrap();
    let all = blocks(&text);
    check_shown_files("deploy/README.md", &all);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for block in shell_blocks(&all) {
        let dir = workdir();
        let mut replace = vec![(
            "/var/lib/tongban".to_owned(),
            dir.path().join("var/lib/tongban").display().to_string(),
        )];
        let mut database = None;
        if block
            .lines
            .iter()
            .any(|l| l.contains("postgres://tongban@db.internal/"))
        {
            // Without PostgreSQL the block is skipped, said in the run's
            // output (or a failure where it is required).
            let Some(url) = tongban_tests::postgres_url() else {
                continue;
            };
            let backend = runtime.block_on(tongban_tests::postgres(&url, "deploy_readme"));
            replace.push((
                "postgres://tongban@db.internal/tongban".to_owned(),
                backend.database_url.clone(),
            ));
            database = Some(backend);
        }
        let ports = (free_port(), free_port());
        let (script, origin) = script("deploy/README.md", &[block], ports, &replace);
        run(dir.path(), &script, &origin, ports.0);
        if let Some(backend) = database {
            runtime.block_on(backend.cleanup());
        }
    }
}

#[test]
fn the_conventions_are_read_as_documented() {
    let block = Block {
        info: "sh".into(),
        line: 10,
        lines: [
            "cargo build --release && export PATH=\"$PWD/target/release:$PATH\"",
            "cargo run --release -- demo      # the story",
            "tongban serve --listen 127.0.0.1:4433 &   # ready when it says so",
            "tongban schema publish v2.json   # breaking → error[SCHEMA_INCOMPATIBLE]",
            "tongban send --to x \\",
            "    --payload 'a # b' &",
            "cat > f.json <<'JSON'",
            "{\"a\": \"# not a comment &\"}",
            "JSON",
            "until [ -e f.json ] &&",
            "      [ -s f.json ]; do sleep 1; done",
        ]
        .map(String::from)
        .to_vec(),
    };
    assert_eq!(
        script_of(&block),
        [
            ": # the build or this suite",
            "tongban demo",
            "__readme_job; tongban serve --listen 127.0.0.1:4433 2>>\"$__job_log\" & __readme_ready",
            "__readme_fails SCHEMA_INCOMPATIBLE tongban schema publish v2.json",
            "__readme_job; tongban send --to x \\",
            "    --payload 'a # b' 2>>\"$__job_log\" & __readme_ready",
            "cat > f.json <<'JSON'",
            "{\"a\": \"# not a comment &\"}",
            "JSON",
            "until [ -e f.json ] &&",
            "      [ -s f.json ]; do sleep 1; done",
        ]
    );
}
