//! What people and scripts read: text by default, JSON with `--json`; how
//! the process ends (its exit status); standard output that may close early.
//!
//! `print_json` writes camelCase members (`--get POINTER` reduces it to one
//! member), `print_error` writes `{"error": {"code", "message"}}`, and `Exit`
//! is the exit statuses (0 done, 1 failed, 2 usage, 3 checked and NOT valid),
//! listed in `--help`. `main` parses with `try_parse_from`, so that a usage
//! error is JSON (`USAGE`, exit 2) when `--json` or `--get` is anywhere on the
//! line; its `println!`, `print!`, `eprintln!` and `eprint!` shadow std's in
//! every module and come here.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::{Value, json};
use tongban_licence::{LicenceStatus, Verification};

/// How `tongban` ends. Distinct so that a script can tell "it failed" from
/// "you called it wrong" from "it checked, and the answer is no"; listed in
/// `tongban --help` ([`EXIT_STATUS_HELP`]) and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done (for a check: checked and valid).
    Done,
    /// 1: it failed; the error names its code.
    Failed,
    /// 2: the command line is wrong (`USAGE`, or the code of a value the
    /// command checks itself, e.g. `TIME_INVALID`); nothing was done.
    Usage,
    /// 3: checked, and NOT valid (`licence verify`, `audit verify`,
    /// `audit verify-archive`, `doctor`, `access check`; `blobs copy` that
    /// met a corrupt blob).
    NotValid,
}

impl Exit {
    /// The number the process exits with.
    pub fn status(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::NotValid => 3,
        }
    }

    /// [`Exit::Done`] when a check passed, else [`Exit::NotValid`].
    pub fn checked(valid: bool) -> ExitCode {
        if valid { Exit::Done } else { Exit::NotValid }.into()
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.status())
    }
}

/// The exit statuses, as `tongban --help` ends.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  done (a check: valid)
  1  failed; the error names its stable code (`--json`: {\"error\": {\"code\", \"message\"}})
  2  the command line is wrong (code USAGE, or the checked option's own code); nothing was done
  3  checked and NOT valid: licence verify, audit verify, audit verify-archive, doctor, access check,
     blobs copy (a corrupt blob not copied)
Standard output closed early (`| head`): the command stops quietly with 0.";

/// An error with a stable code, raised by the CLI itself.
#[derive(Debug)]
pub struct Coded {
    pub code: Cow<'static, str>,
    pub message: String,
    /// [`Exit::Failed`], or [`Exit::Usage`] for a value on the command line.
    pub exit: Exit,
}

impl Coded {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Coded {
            code: Cow::Borrowed(code),
            message: message.into(),
            exit: Exit::Failed,
        }
    }

    /// A value on the command line that the command checks itself (clap
    /// cannot): the process exits with [`Exit::Usage`], the code says which.
    pub fn usage(code: &'static str, message: impl Into<String>) -> Self {
        Coded {
            exit: Exit::Usage,
            ..Coded::new(code, message)
        }
    }

    /// With a code that arrived from elsewhere (a hub service's reason).
    pub fn owned(code: String, message: impl Into<String>) -> Self {
        Coded {
            code: Cow::Owned(code),
            message: message.into(),
            exit: Exit::Failed,
        }
    }
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// The stable code of any error the CLI can meet.
pub fn code_of(e: &anyhow::Error) -> Cow<'static, str> {
    match e.downcast_ref::<Coded>() {
        Some(c) => c.code.clone(),
        None => Cow::Borrowed(library_code_of(e)),
    }
}

/// The code of an error from one of the libraries.
fn library_code_of(e: &anyhow::Error) -> &'static str {
    if let Some(code) = tongban_service::code_of(e.as_ref()) {
        return code;
    }
    if e.downcast_ref::<serde_json::Error>().is_some() {
        return "MALFORMED_JSON";
    }
    if e.downcast_ref::<std::io::Error>().is_some() {
        return "IO";
    }
    "ERROR"
}

/// Prints an error (standard output as JSON with `--json`, else standard
/// error) and says how the process ends.
pub fn print_error(e: &anyhow::Error, json: bool) -> Exit {
    let code = code_of(e);
    if json {
        let error = json!({"error": {"code": code, "message": format!("{e:#}")}});
        write_out(format_args!("{error}"), true);
    } else {
        eprintln!("error[{code}]: {e:#}");
    }
    match e.downcast_ref::<Coded>() {
        Some(c) => c.exit,
        None => Exit::Failed,
    }
}

/// `--json`: standard output carries only JSON ([`print_json`] and
/// [`print_json_line`]); text printed meanwhile (`println!`: the demo's
/// story, notes) goes to standard error.
static JSON_ONLY: AtomicBool = AtomicBool::new(false);

/// The member of the JSON output that `--get` selects (RFC 6901), once
/// set by `main`.
static SELECTED: OnceLock<String> = OnceLock::new();

/// Set once by `main`: `--json`, and `--get POINTER` (JSON output reduced
/// to that member).
pub fn configure(json: bool, pointer: Option<String>) {
    JSON_ONLY.store(json, Ordering::Relaxed);
    if let Some(pointer) = pointer {
        let _ = SELECTED.set(pointer);
    }
}

/// Checks a `--get` pointer: empty (the whole document) or `/…`.
pub fn parse_pointer(text: &str) -> Result<String, String> {
    if text.is_empty() || text.starts_with('/') {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a JSON pointer (RFC 6901): start it with /, e.g. /identifier"
        ))
    }
}

/// Prints one JSON document on standard output, pretty; with `--get`, only
/// the member it names (a string bare, for `$(…)` in a shell).
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let value = serde_json::to_value(value)?;
    match selected(&value)? {
        Value::String(s) => write_out(format_args!("{s}"), true),
        v => write_out(format_args!("{}", serde_json::to_string_pretty(v)?), true),
    }
    Ok(())
}

/// Prints one line of a JSON Lines stream (`listen`, `records`): compact;
/// with `--get`, only the member it names.
pub fn print_json_line<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let value = serde_json::to_value(value)?;
    match selected(&value)? {
        Value::String(s) => write_out(format_args!("{s}"), true),
        v => write_out(format_args!("{v}"), true),
    }
    Ok(())
}

fn selected(value: &Value) -> anyhow::Result<&Value> {
    let Some(pointer) = SELECTED.get() else {
        return Ok(value);
    };
    value.pointer(pointer).ok_or_else(|| {
        let members = match value {
            Value::Object(m) => m
                .keys()
                .map(|k| format!("/{k}"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "none: it is not an object".to_owned(),
        };
        Coded::new(
            "OUTPUT_MEMBER_ABSENT",
            format!("--get {pointer}: the output has no such member (its members: {members})"),
        )
        .into()
    })
}

/// `println!` of this crate (see `main.rs`): text to standard output, or
/// to standard error with `--json` (see [`JSON_ONLY`]).
pub fn print_stdout(args: fmt::Arguments<'_>, newline: bool) {
    if JSON_ONLY.load(Ordering::Relaxed) {
        print_stderr(args, newline);
    } else {
        write_out(args, newline);
    }
}

/// Writes to standard output. A reader that went away (`| head -1`) ends
/// the process quietly with 0, as it asked for no more; any other failure
/// to write ends it with 1.
fn write_out(args: fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        stdout_failed(&e);
    }
}

/// Bytes to standard output (`download` without `--out`), as [`print_stdout`].
pub fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        stdout_failed(&e);
    }
}

fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error[IO]: writing standard output: {e}");
    std::process::exit(Exit::Failed.status().into());
}

/// `eprintln!` of this crate: standard error, where nothing is left to say
/// when even that is closed.
pub fn print_stderr(args: fmt::Arguments<'_>, newline: bool) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| {
        if newline {
            err.write_all(b"\n")
        } else {
            Ok(())
        }
    });
}

/// Prints a verification result.
pub fn print_verification(v: &Verification, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(v);
    }
    let mark = if v.valid {
        "✔ valid"
    } else {
        "✘ NOT valid"
    };
    println!("{mark}");
    if let Some(s) = &v.summary {
        if let Some(name) = &s.name {
            println!(
                "  licence    {name}  {}",
                s.identifier.as_deref().unwrap_or(&s.id)
            );
        }
        if let Some(number) = &s.number {
            println!("  number     {number}");
        }
        if let Some(holder) = &s.holder_name {
            println!(
                "  holder     {holder} ({}:{})",
                s.holder_code_type.as_deref().unwrap_or("?"),
                s.holder_code.as_deref().unwrap_or("?")
            );
        }
        println!(
            "  issuer     {} {}",
            s.issuer_name.as_deref().unwrap_or(""),
            s.issuer
        );
        println!(
            "  valid      {} → {}",
            s.valid_from.as_deref().unwrap_or("-"),
            s.valid_until.as_deref().unwrap_or("(no end)")
        );
    }
    if let Some(status) = v.status {
        println!(
            "  status     {} ({})",
            status_word(status),
            status.chinese()
        );
    }
    for p in &v.problems {
        println!("  {:<26} {}", p.code.as_str(), p.message);
    }
    for u in &v.unchecked {
        println!("  not checked: {u}");
    }
    Ok(())
}

pub fn status_word(s: LicenceStatus) -> &'static str {
    match s {
        LicenceStatus::Valid => "valid",
        LicenceStatus::Suspended => "suspended",
        LicenceStatus::Revoked => "revoked",
    }
}

/// Writes pretty JSON to a file, creating parent directories.
pub fn write_json(path: &std::path::Path, value: &Value) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text)?;
    Ok(())
}

/// Reads a JSON file with a clear error naming it.
///
/// Strictly (`tongban_seal::json`): a file whose objects repeat a member
/// name is refused with `DUPLICATE_MEMBER`, `MALFORMED_JSON` when it is
/// not JSON at all.
pub fn read_json(path: &std::path::Path) -> anyhow::Result<Value> {
    let bytes =
        std::fs::read(path).map_err(|e| Coded::new("IO", format!("{}: {e}", path.display())))?;
    tongban_seal::json::from_slice_strict(&bytes).map_err(|e| {
        let what = if e.is_duplicate() {
            "is refused"
        } else {
            "is not JSON"
        };
        Coded::new(e.code(), format!("{} {what}: {e}", path.display())).into()
    })
}
