//! What people and scripts read: text by default, JSON with `--json`.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Value, json};
use tongban_licence::{LicenceStatus, Verification};

/// An error with a stable code, raised by the CLI itself.
#[derive(Debug)]
pub struct Coded {
    pub code: Cow<'static, str>,
    pub message: String,
}

impl Coded {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Coded {
            code: Cow::Borrowed(code),
            message: message.into(),
        }
    }

    /// With a code that arrived from elsewhere (a hub service's reason).
    pub fn owned(code: String, message: impl Into<String>) -> Self {
        Coded {
            code: Cow::Owned(code),
            message: message.into(),
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
    if let Some(s) = e.downcast_ref::<tongban_service::Error>() {
        return s.code();
    }
    if let Some(s) = e.downcast_ref::<tongban_store::StoreError>() {
        return s.code();
    }
    if let Some(t) = e.downcast_ref::<tongban_licence::trustfile::TrustFileError>() {
        return t.code();
    }
    if let Some(k) = e.downcast_ref::<tongban_service::KeyStoreError>() {
        return match k {
            tongban_service::KeyStoreError::Missing(..) => "SIGNING_KEY_NOT_ON_NODE",
            _ => "KEY_STORE_IO",
        };
    }
    if e.downcast_ref::<serde_json::Error>().is_some() {
        return "MALFORMED_JSON";
    }
    if e.downcast_ref::<std::io::Error>().is_some() {
        return "IO";
    }
    "ERROR"
}

pub fn print_error(e: &anyhow::Error, json: bool) {
    let code = code_of(e);
    if json {
        println!(
            "{}",
            json!({"error": {"code": code, "message": format!("{e:#}")}})
        );
    } else {
        eprintln!("error[{code}]: {e:#}");
    }
}

/// Prints a verification result.
pub fn print_verification(v: &Verification, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
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
pub fn read_json(path: &std::path::Path) -> anyhow::Result<Value> {
    let bytes =
        std::fs::read(path).map_err(|e| Coded::new("IO", format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Coded::new(
            "MALFORMED_JSON",
            format!("{} is not JSON: {e}", path.display()),
        )
        .into()
    })
}
