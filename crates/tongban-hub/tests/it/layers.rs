//! The hub's layers, read from its source: each module uses only the
//! layers below its own (the table is [`MAY_USE`]), no module uses `run`
//! (the crate root's alone), and no files use each other in a circle.
//!
//! A use is a path through `crate::` or `super::` (in `use` lines, braced
//! groups included, and in code), or a `mod.rs`/`lib.rs` naming a child
//! module it declares. The crate root is the composition root: every module
//! may use its types (`Shared`, `ServeConfig`, …), and those uses are left
//! out of the circle check; its `run` is for no module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each layer may use besides itself and the crate root's types,
/// lowest first.
const MAY_USE: &[(&str, &[&str])] = &[
    ("base", &[]),
    ("exchange", &["base"]),
    ("federation", &["base", "exchange"]),
    ("services", &["base", "exchange", "federation"]),
    ("ops", &["base", "exchange", "services"]),
    (
        "conn",
        &["base", "exchange", "services", "ops", "federation"],
    ),
    ("server", &["base", "exchange", "federation", "conn"]),
];

/// Items of the crate root no module may use.
const ROOT_ONLY: &[&str] = &["run"];

#[test]
fn hub_modules_use_only_the_layers_below_them_and_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_dir(&src, &src, &mut files);
    assert!(
        files.len() > 30,
        "only {} files read from {}",
        files.len(),
        src.display()
    );
    let found = violations(&files);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The checker finds what it is for: a layer used from below, a use of
/// `run`, a module outside the table, and a circle.
#[test]
fn the_layer_check_finds_each_kind_of_violation() {
    let files: BTreeMap<String, String> = [
        (
            "lib",
            "mod base;\nmod exchange;\nmod federation;\nmod extra;\npub async fn run() {}",
        ),
        ("base", "pub(crate) mod a;\npub(crate) mod b;"),
        (
            "base::a",
            "use crate::base::b::Thing;\n// crate::federation in a comment\n",
        ),
        ("base::b", "pub struct Thing;\nfn f() { super::a::g(); }"),
        (
            "exchange",
            "use crate::{Shared, federation::links::{self, Peer}};",
        ),
        ("federation", "mod links;\npub(crate) use links::refresh;"),
        (
            "federation::links",
            "use crate::federation::Peering;\nfn f() { crate::run(); }",
        ),
        ("extra", ""),
        (
            "exchange::tested",
            "#[cfg(test)]\nmod tests { use crate::federation::x; }",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(
        violations(&files),
        [
            "base::a uses base::b, base::b uses base::a: a circle",
            "exchange uses federation::links: exchange may use only the layers base",
            "extra is in no layer of MAY_USE",
            "federation uses federation::links, federation::links uses federation: a circle",
            "federation::links uses run: the crate root's alone",
        ]
    );
}

/// Every rule broken by `files` (module path → source), sorted.
fn violations(files: &BTreeMap<String, String>) -> Vec<String> {
    let modules: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    let mut found = BTreeSet::new();
    let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in files {
        let layer = layer_of(module);
        if layer != "lib" && !MAY_USE.iter().any(|(l, _)| *l == layer) {
            found.insert(format!("{module} is in no layer of MAY_USE"));
        }
        for used in uses(module, text, &modules) {
            if used == "lib" {
                continue;
            }
            if let Some(item) = used.strip_prefix("lib::") {
                if ROOT_ONLY.contains(&item) {
                    found.insert(format!("{module} uses {item}: the crate root's alone"));
                }
                continue;
            }
            let target = layer_of(&used);
            let allowed = layer == "lib"
                || target == layer
                || MAY_USE
                    .iter()
                    .any(|(l, below)| *l == layer && below.contains(&target));
            if !allowed {
                let below = MAY_USE
                    .iter()
                    .find(|(l, _)| *l == layer)
                    .map(|(_, b)| b.join(", "))
                    .unwrap_or_default();
                found.insert(format!(
                    "{module} uses {used}: {layer} may use only the layers {below}"
                ));
            }
            if used != *module {
                graph.entry(module).or_default().insert(used);
            }
        }
    }
    for circle in circles(&graph) {
        let steps: Vec<String> = circle
            .iter()
            .map(|m| {
                let next = graph[m.as_str()]
                    .iter()
                    .find(|n| circle.contains(n))
                    .cloned()
                    .unwrap_or_default();
                format!("{m} uses {next}")
            })
            .collect();
        found.insert(format!("{}: a circle", steps.join(", ")));
    }
    found.into_iter().collect()
}

/// The layer of a module path: its first segment (`lib` for the root).
fn layer_of(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// The modules (and `lib::item`s of the crate root) that `module` uses.
fn uses(module: &str, text: &str, modules: &BTreeSet<&str>) -> BTreeSet<String> {
    // Tests, which come last, may use anything.
    let code = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.as_str();
    let parent = module.rsplit_once("::").map_or("lib", |(p, _)| p);
    let mut paths = Vec::new();
    for (anchor, base) in [("crate::", Vec::new()), ("super::", segments(parent))] {
        let mut rest = code;
        while let Some(at) = rest.find(anchor) {
            let before = rest[..at].chars().last();
            rest = &rest[at + anchor.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            for tail in expand(rest) {
                let mut path = base.clone();
                path.extend(tail);
                paths.push(path);
            }
        }
    }
    // A parent naming the children it declares.
    let here = segments(module);
    for child in code.lines().filter_map(|l| {
        let l = l
            .trim()
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ");
        l.strip_prefix("mod ")?.strip_suffix(';')
    }) {
        let mut rest = code;
        let needle = format!("{child}::");
        while let Some(at) = rest.find(&needle) {
            let before = rest[..at].chars().last();
            rest = &rest[at + needle.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut path = here.clone();
            path.push(child.to_owned());
            paths.push(path);
        }
    }
    paths
        .into_iter()
        .map(|path| resolve(&path, modules))
        .collect()
}

fn segments(module: &str) -> Vec<String> {
    if module == "lib" {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    }
}

/// The paths a `use` tail stands for: `a::b::C`, or `a::{b, c::{d, e}}`.
fn expand(rest: &str) -> Vec<Vec<String>> {
    let mut head = Vec::new();
    let mut s = rest;
    loop {
        if let Some(group) = s.strip_prefix('{') {
            let mut out = Vec::new();
            for item in split_group(group) {
                for tail in expand(item.trim()) {
                    let mut path = head.clone();
                    path.extend(tail);
                    out.push(path);
                }
            }
            return out;
        }
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        if end > 0 && &s[..end] != "self" {
            head.push(s[..end].to_owned());
        }
        s = &s[end..];
        if let Some(next) = s.strip_prefix("::") {
            s = next;
            continue;
        }
        return vec![head];
    }
}

/// The items of a braced group (after its `{`), split at its top-level commas.
fn split_group(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The longest module a path names, or `lib::item` for an item of the root.
fn resolve(path: &[String], modules: &BTreeSet<&str>) -> String {
    for n in (1..=path.len()).rev() {
        let candidate = path[..n].join("::");
        if modules.contains(candidate.as_str()) {
            return candidate;
        }
    }
    match path.first() {
        Some(item) => format!("lib::{item}"),
        None => "lib".to_owned(),
    }
}

/// The strongly connected groups of more than one module, each sorted.
fn circles(graph: &BTreeMap<&str, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for next in graph.get(m.as_str()).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&str, BTreeSet<String>> = graph.keys().map(|m| (*m, reach(m))).collect();
    let mut groups: BTreeSet<Vec<String>> = BTreeSet::new();
    for (m, from_m) in &reached {
        let group: Vec<String> = from_m
            .iter()
            .filter(|n| {
                reached
                    .get(n.as_str())
                    .is_some_and(|back| back.contains(*m))
            })
            .cloned()
            .collect();
        if group.len() > 1 {
            groups.insert(group);
        }
    }
    groups.into_iter().collect()
}

/// Every `.rs` file under `dir`, by module path (`lib`, `conn`,
/// `conn::tls`, …).
fn read_dir(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_dir(root, &path, files);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        let module = if parts == ["lib"] {
            "lib".to_owned()
        } else {
            parts.join("::")
        };
        files.insert(module, std::fs::read_to_string(&path).unwrap());
    }
}
