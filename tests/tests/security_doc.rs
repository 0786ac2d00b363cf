//! `docs/SECURITY.md` answers each attack with the test that shows it
//! refused: every test it names must exist, so that the table cannot point
//! at a test that was renamed or removed.

use tongban_tests::codes::{repo_root, rust_files};

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
    let root = repo_root();
    let doc = std::fs::read_to_string(root.join("docs/SECURITY.md"))
        .unwrap_or_else(|e| panic!("docs/SECURITY.md: {e}"));
    let mut files = rust_files(&root.join("crates"));
    files.extend(rust_files(&root.join("tests")));
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
