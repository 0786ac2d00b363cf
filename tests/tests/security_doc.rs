//! `docs/SECURITY.md` answers each attack with the test that shows it
//! refused: every test it names must exist, so that the table cannot point
//! at a test that was renamed or removed.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("the tests crate sits in the workspace"))
}

/// Every `.rs` file of the workspace's crates and tests.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(file, function)` for each `` `…file.rs::function` `` the document names.
fn named_tests(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for quoted in doc.split('`').skip(1).step_by(2) {
        let Some((file, function)) = quoted.split_once(".rs::") else {
            continue;
        };
        let function = function.rsplit("::").next().unwrap_or(function);
        out.push((format!("{file}.rs"), function.to_owned()));
    }
    out
}

#[test]
fn every_test_the_threat_model_names_exists() {
    let root = workspace();
    let doc = std::fs::read_to_string(root.join("docs/SECURITY.md"))
        .unwrap_or_else(|e| panic!("docs/SECURITY.md: {e}"));
    let mut files = Vec::new();
    sources(&root.join("crates"), &mut files);
    sources(&root.join("tests"), &mut files);
    let named = named_tests(&doc);
    assert!(named.len() >= 20, "the table names {} tests", named.len());
    let mut missing = Vec::new();
    for (file, function) in &named {
        // A short name (`peers.rs::…`) stands for the file of that name in
        // the row's first, full path; any file of that name will do here.
        let found = files.iter().any(|p| {
            p.to_string_lossy().ends_with(file.as_str())
                && std::fs::read_to_string(p)
                    .is_ok_and(|text| text.contains(&format!("fn {function}(")))
        });
        if !found {
            missing.push(format!("{file}::{function}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/SECURITY.md names tests that do not exist: {missing:#?}"
    );
}
