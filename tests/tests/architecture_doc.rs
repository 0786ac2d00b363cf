//! `ARCHITECTURE.md` (and `docs/NOTES.md`) name files and modules so that a
//! newcomer can find them: every name must lead somewhere. A source path
//! (`crates/…/x.rs`, `tests/it/x.rs`, a bare `x.rs`) must exist; a hub
//! module (`base::x`, `exchange::x`, `federation::x`, `ops::x`, `conn::x`)
//! must be a file of the hub, and an item named after it
//! (`base::failures::told`, `federation::PEER_SERVICES`) must be declared
//! there; `Service::x`, `Store::x` and `Client::x` must be functions of the
//! service, store and client crates; and the hub's layer table must list
//! exactly the files of each layer's folder.

use std::path::{Path, PathBuf};

use tongban_tests::codes::{repo_root, rust_files};

/// The documents checked, from the workspace root.
const DOCUMENTS: &[&str] = &["ARCHITECTURE.md", "docs/NOTES.md"];

/// The hub's layers whose modules are folders.
const HUB_LAYERS: &[&str] = &["base", "conn", "exchange", "federation", "ops"];

/// `Type::function` names and the crate whose `src` declares them.
const METHODS_OF: &[(&str, &str)] = &[
    ("Service", "crates/tongban-service/src"),
    ("Store", "crates/tongban-store/src"),
    ("Client", "crates/tongban-client/src"),
];

#[test]
fn every_path_and_hub_module_the_architecture_names_exists() {
    let root = repo_root();
    let mut found = Vec::new();
    let mut named = 0;
    for document in DOCUMENTS {
        let text = std::fs::read_to_string(root.join(document))
            .unwrap_or_else(|e| panic!("{document}: {e}"));
        named += spans(&text).len();
        found.extend(
            problems(&text, &root)
                .into_iter()
                .map(|p| format!("{document}: {p}")),
        );
    }
    assert!(named > 200, "only {named} names read");
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The checker finds what it is for: made-up paths, modules, items,
/// methods and table files, next to real ones it must let pass.
#[test]
fn the_check_finds_names_that_lead_nowhere() {
    let root = repo_root();
    let doc = "\
Real: `crates/tongban-hub/src/base/shares.rs`, `tests/it/layers.rs`, `shares.rs`,
`base::shares`, `exchange::admission`, `base::failures::told`,
`federation::PEER_SERVICES`, `Service::case_read_types`, `Store::commit_exchange`,
`Client::reconnect`, `conn::streams` routes to `federation::crossing`.

| layer | files | may use |
|---|---|---|
| `exchange` | `admission.rs` (checks), `made_up_stage.rs` | base |
| `base` | `snapshot.rs` | nothing above |
| `services` | `services.rs` | base |

Announced: `crates/tongban-made-up-later` (to come).

Made up: `crates/tongban-hub/src/base/made_up.rs`, `tests/it/made_up.rs`,
`made_up_file.rs`, `base::made_up`, `ops::made_up::thing`,
`base::failures::made_up_fn`, `federation::MADE_UP`, `Service::made_up`,
`Store::made_up`, `Client::made_up`, `crates/tongban-made-up/src/lib.rs`,
`crates/tongban-made-up/tests/it/`.
";
    let (unlisted, found): (Vec<String>, Vec<String>) = problems(doc, &root)
        .into_iter()
        .partition(|p| p.ends_with("is not listed"));
    // The `base` row names one file: every other one of the folder is
    // reported, whatever files it holds.
    assert!(
        unlisted.contains(&"layer table, base: payloads.rs is not listed".to_owned())
            && !unlisted.iter().any(|p| p.contains("snapshot.rs")),
        "{unlisted:#?}"
    );
    assert_eq!(
        found,
        [
            "`Client::made_up`: no `fn made_up` in crates/tongban-client/src",
            "`Service::made_up`: no `fn made_up` in crates/tongban-service/src",
            "`Store::made_up`: no `fn made_up` in crates/tongban-store/src",
            "`base::failures::made_up_fn`: nothing named `made_up_fn` is declared in base::failures",
            "`base::made_up`: no module base::made_up in crates/tongban-hub/src",
            "`crates/tongban-hub/src/base/made_up.rs`: no such file",
            "`crates/tongban-made-up/src/lib.rs`: no such file",
            "`crates/tongban-made-up/tests/it/`: no such file or folder",
            "`federation::MADE_UP`: nothing named `MADE_UP` is declared in federation",
            "`made_up_file.rs`: no file of that name in the workspace",
            "`made_up_stage.rs`: no file of that name in the workspace",
            "`ops::made_up::thing`: no module ops::made_up in crates/tongban-hub/src",
            "`tests/it/made_up.rs`: no crate has such a file",
            "layer table, exchange: no crates/tongban-hub/src/exchange/made_up_stage.rs",
        ]
    );
}

/// Every problem with the names `doc` gives, sorted.
fn problems(doc: &str, root: &Path) -> Vec<String> {
    let sources = rust_files(root);
    let mut found: Vec<String> = spans(doc)
        .iter()
        .filter_map(|span| problem_with(span, root, &sources))
        .collect();
    found.extend(layer_table_problems(doc, root));
    found.sort();
    found.dedup();
    found
}

/// What is wrong with one backticked name, if it is one this test checks.
fn problem_with(span: &str, root: &Path, sources: &[PathBuf]) -> Option<String> {
    let span = span.trim();
    if span.contains(char::is_whitespace) {
        return None;
    }
    if span.ends_with(".rs") {
        return path_problem(span, root, sources);
    }
    if span.starts_with("crates/") {
        return (!root.join(span).exists()).then(|| format!("`{span}`: no such file or folder"));
    }
    let segments: Vec<&str> = span.split("::").collect();
    if segments.len() < 2 || !segments.iter().all(|s| is_identifier(s)) {
        return None;
    }
    if HUB_LAYERS.contains(&segments[0]) {
        return hub_problem(&segments, root);
    }
    let (_, src) = METHODS_OF.iter().find(|(ty, _)| *ty == segments[0])?;
    if segments.len() != 2 {
        return None;
    }
    let declared = rust_files(&root.join(src)).iter().any(|file| {
        std::fs::read_to_string(file).is_ok_and(|text| declares(&text, "fn", segments[1]))
    });
    (!declared).then(|| format!("`{span}`: no `fn {}` in {src}", segments[1]))
}

/// A path: from the workspace root, or `tests/it/…` of some crate, or a
/// bare file name found anywhere.
fn path_problem(path: &str, root: &Path, sources: &[PathBuf]) -> Option<String> {
    if !path.contains('/') {
        let somewhere = sources
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == path));
        return (!somewhere).then(|| format!("`{path}`: no file of that name in the workspace"));
    }
    if root.join(path).is_file() {
        return None;
    }
    if path.starts_with("tests/it/") {
        let in_a_crate = std::fs::read_dir(root.join("crates"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|krate| krate.path().join(path).is_file());
        return (!in_a_crate).then(|| format!("`{path}`: no crate has such a file"));
    }
    Some(format!("`{path}`: no such file"))
}

/// `layer::module[::item]` of the hub: the module is a file, the item is
/// declared in it; `layer::ITEM` is declared in the layer's `mod.rs`.
fn hub_problem(segments: &[&str], root: &Path) -> Option<String> {
    let src = root.join("crates/tongban-hub/src");
    let span = segments.join("::");
    let layer = segments[0];
    let second = segments[1];
    if let Some(file) = module_file(&src, layer, second) {
        let item = segments.get(2)?;
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        return (!declares_any(&text, item))
            .then(|| format!("`{span}`: nothing named `{item}` is declared in {layer}::{second}"));
    }
    if second.chars().all(|c| !c.is_ascii_uppercase()) {
        // A lower-case name that is not a file: a module that does not
        // exist, unless the layer's `mod.rs` declares a function of it.
        let text = std::fs::read_to_string(src.join(layer).join("mod.rs")).unwrap_or_default();
        if segments.len() == 2 && declares(&text, "fn", second) {
            return None;
        }
        return Some(format!(
            "`{span}`: no module {layer}::{second} in crates/tongban-hub/src"
        ));
    }
    let text = std::fs::read_to_string(src.join(layer).join("mod.rs")).unwrap_or_default();
    (!declares_any(&text, second))
        .then(|| format!("`{span}`: nothing named `{second}` is declared in {layer}"))
}

/// Rows of the hub's layer table (`| \`layer\` | files | may use |`): each
/// `x.rs` of a foldered layer is in its folder, of the others in `src`, and
/// a foldered layer's row lists every file of its folder.
fn layer_table_problems(doc: &str, root: &Path) -> Vec<String> {
    let src = root.join("crates/tongban-hub/src");
    let mut found = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `layer` | files | may use |" splits into ["", layer, files, uses, ""].
        let [_, layer, files, _, _] = cells.as_slice() else {
            continue;
        };
        let Some(layer) = layer.strip_prefix('`').and_then(|l| l.strip_suffix('`')) else {
            continue;
        };
        let folder = if HUB_LAYERS.contains(&layer) {
            src.join(layer)
        } else {
            src.clone()
        };
        let listed: Vec<&str> = spans(files)
            .into_iter()
            .filter(|f| f.ends_with(".rs"))
            .collect();
        for file in &listed {
            if !folder.join(file).is_file() {
                let shown = folder.join(file);
                let shown = shown.strip_prefix(root).unwrap_or(&shown);
                found.push(format!("layer table, {layer}: no {}", shown.display()));
            }
        }
        if !HUB_LAYERS.contains(&layer) {
            continue;
        }
        // A foldered layer's row lists all its files (`mod.rs` may go unsaid).
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") && name != "mod.rs" && !listed.contains(&name.as_str()) {
                found.push(format!("layer table, {layer}: {name} is not listed"));
            }
        }
    }
    found
}

/// The file of module `name` in `layer`'s folder.
fn module_file(src: &Path, layer: &str, name: &str) -> Option<PathBuf> {
    [
        src.join(layer).join(format!("{name}.rs")),
        src.join(layer).join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Whether `text` declares `name` as any kind of item, or brings it in
/// with a `use` (a module's re-export).
fn declares_any(text: &str, name: &str) -> bool {
    let kinds = [
        "fn", "struct", "enum", "const", "static", "trait", "type", "mod",
    ];
    kinds.iter().any(|kind| declares(text, kind, name))
        || text
            .lines()
            .filter(|line| {
                line.trim_start().starts_with("pub") || line.trim_start().starts_with("use")
            })
            .filter(|line| line.contains("use "))
            .any(|line| {
                line.split(|c: char| !is_identifier_char(c))
                    .any(|word| word == name)
            })
}

/// Whether `text` has `kind name` followed by something that ends a name.
fn declares(text: &str, kind: &str, name: &str) -> bool {
    let needle = format!("{kind} {name}");
    text.match_indices(&needle).any(|(at, _)| {
        let before_ok = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_identifier_char(c));
        let after_ok = text[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_identifier_char(c));
        before_ok && after_ok
    })
}

/// The backticked spans of a Markdown text, outside fenced code blocks and
/// lines that announce what is still to come ("(to come)").
fn spans(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced && !line.contains("(to come)") {
            out.extend(line.split('`').skip(1).step_by(2));
        }
    }
    out
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(is_identifier_char)
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
