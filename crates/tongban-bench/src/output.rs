//! What people and scripts read: the figures as text, or as JSON with
//! `--json` (camelCase members, errors included); a reader that went away
//! (`| head -1`) ends the process quietly with 0, as in `tongban`.
//!
//! A usage error is `USAGE` with exit 2, in JSON too when `--json` is given.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use serde_json::{Value, json};

/// 1: the benchmark failed; the error names its code.
const FAILED: u8 = 1;
/// 2: the command line is wrong (code `USAGE`); nothing was measured.
const USAGE: u8 = 2;

/// The figures, as JSON on standard output.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    print_stdout(
        format_args!("{}", serde_json::to_string_pretty(value)?),
        true,
    );
    Ok(())
}

/// `println!` of this crate.
pub fn print_stdout(args: fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error[IO]: writing standard output: {e}");
        std::process::exit(FAILED.into());
    }
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

/// A failed benchmark: `error[CODE]: …` on standard error, or with
/// `--json` the error as JSON on standard output; exits 1.
pub fn print_error(e: &anyhow::Error, json: bool) -> ExitCode {
    let code = code_of(e);
    if json {
        let error = json!({"error": {"code": code, "message": format!("{e:#}")}});
        print_stdout(format_args!("{error}"), true);
    } else {
        eprintln!("error[{code}]: {e:#}");
    }
    ExitCode::from(FAILED)
}

/// The stable code of an error from the libraries (the same map as
/// `tongban`'s), else `ERROR`.
fn code_of(e: &anyhow::Error) -> &'static str {
    if let Some(code) = tongban_service::code_of(e.as_ref()) {
        return code;
    }
    if e.downcast_ref::<std::io::Error>().is_some() {
        return "IO";
    }
    "ERROR"
}

/// Whether a command line that clap refused asked for JSON: `--json`
/// anywhere before a `--` that ends the options.
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy())
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// A command line clap refused, or `--help` / `--version`: clap's text, or
/// with `--json` the error as JSON (code `USAGE`); exits 2 for an error.
pub fn usage_error(e: &clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let shown = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if shown || !json {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() { USAGE } else { 0 });
    }
    let message = e
        .render()
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("; ");
    let error = json!({"error": {"code": "USAGE", "message": message}});
    print_stdout(format_args!("{error}"), true);
    ExitCode::from(USAGE)
}
