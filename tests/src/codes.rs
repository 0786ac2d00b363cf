//! Every stable code the documents promise is asserted by some test.
//!
//! The documented codes are the backticked SCREAMING_SNAKE words (with an
//! underscore, or in the first column of a table) of:
//! - `docs/PROTOCOL.md` §7 "Error codes", with §7.1 (reasons of
//!   `SERVICE_REFUSED`, the peer outcomes it names);
//! - `docs/LICENCE-FORMAT.md` "Verification result and problem codes" and
//!   "Cross-field rules";
//! - `docs/AUDIT-LOG.md` "Publishing checkpoints off the machine",
//!   "Verifying" and "Archives";
//! - `README.md`, all of it (its code table and the refusals its prose
//!   names), environment variables (`TONGBAN_…`) aside;
//! - `docs/API.md` "Errors".
//!
//! A code counts as tested when a test source holds it in a string literal
//! (`"KEY_UNKNOWN"`, `{"code":"KEY_UNKNOWN"}`) or names its enum variant
//! (`ErrorCode::KeyUnknown`), outside comments. Test sources are the crates'
//! `tests/` directories, this crate, and the `#[cfg(test)]` part of every
//! source file of the crates.

use std::path::{Path, PathBuf};

/// The documents and the sections of each that list codes; no sections
/// means the whole document.
const SOURCES: &[(&str, &[&str])] = &[
    ("docs/PROTOCOL.md", &["7. Error codes"]),
    (
        "docs/LICENCE-FORMAT.md",
        &["Verification result and problem codes", "Cross-field rules"],
    ),
    (
        "docs/AUDIT-LOG.md",
        &[
            "Publishing checkpoints off the machine",
            "Verifying",
            "Archives",
        ],
    ),
    ("README.md", &[]),
    ("docs/API.md", &["Errors"]),
];

/// Documented codes that no test can produce, and why.
pub const UNTESTABLE: &[(&str, &str)] = &[(
    "VERSION_UNSUPPORTED",
    "reserved (PROTOCOL §7): a version mismatch fails the QUIC handshake instead (§9)",
)];

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("the tests crate sits in the workspace"))
}

/// Every documented code, with the documents that list it.
pub fn documented_codes(root: &Path) -> Vec<(String, Vec<&'static str>)> {
    let mut out: Vec<(String, Vec<&'static str>)> = Vec::new();
    for (file, sections) in SOURCES {
        let path = root.join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let wanted = sections_of(&text, sections);
        assert!(
            !wanted.trim().is_empty(),
            "{file}: none of the sections {sections:?}"
        );
        for code in codes_in(&wanted) {
            match out.iter_mut().find(|(c, _)| *c == code) {
                Some((_, files)) if !files.contains(file) => files.push(file),
                Some(_) => {}
                None => out.push((code, vec![*file])),
            }
        }
    }
    out.sort();
    out
}

/// The documented codes that no test source asserts, with their documents.
pub fn untested_codes(root: &Path) -> Vec<(String, Vec<&'static str>)> {
    let sources = TestSources::read(root);
    documented_codes(root)
        .into_iter()
        .filter(|(code, _)| !UNTESTABLE.iter().any(|(c, _)| c == code))
        .filter(|(code, _)| !sources.asserts(code))
        .collect()
}

/// The string literals of the product's sources (every crate's `src/`,
/// the `#[cfg(test)]` part of each file left out): where a code that no
/// typed vocabulary holds is defined, as the literal its error returns.
pub fn product_literals(root: &Path) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for krate in read_dir(&root.join("crates")) {
        for file in rust_files(&krate.join("src")) {
            let text = read(&file);
            let product = text
                .find("#[cfg(test)]")
                .map_or(text.as_str(), |at| &text[..at]);
            out.extend(lex(product).literals);
        }
    }
    out
}

/// The lines of `text` under the headings that start with one of
/// `titles` (down to the next heading of the same or a higher level), or
/// all of it when `titles` is empty. Lines in code fences are never
/// headings.
fn sections_of(text: &str, titles: &[&str]) -> String {
    if titles.is_empty() {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut level_in: Option<usize> = None;
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        let level = line.bytes().take_while(|b| *b == b'#').count();
        if !fenced && level > 0 && line.as_bytes().get(level) == Some(&b' ') {
            let title = line[level..].trim();
            if level_in.is_some_and(|l| level <= l) {
                level_in = None;
            }
            if level_in.is_none() && titles.iter().any(|t| title.starts_with(t)) {
                level_in = Some(level);
            }
        }
        if level_in.is_some() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The codes in `text`: backticked SCREAMING_SNAKE words with an
/// underscore, except environment variables; in the first cell of a table
/// row, any backticked SCREAMING word (`BUSY`, `REPLAY`).
fn codes_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let first_cell = line
            .strip_prefix('|')
            .and_then(|rest| rest.split('|').next())
            .unwrap_or("");
        for (i, word) in line.split('`').enumerate() {
            let backticked = i % 2 == 1;
            let screaming = word.len() >= 3
                && word.starts_with(|c: char| c.is_ascii_uppercase())
                && word
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && !word.ends_with('_')
                && !word.contains("__");
            if !backticked || !screaming || word.starts_with("TONGBAN_") {
                continue;
            }
            let in_first_cell = first_cell.contains(&format!("`{word}`"));
            if word.contains('_') || in_first_cell {
                out.push(word.to_owned());
            }
        }
    }
    out
}

/// What the test sources say: their string literals, and their code
/// outside literals and comments.
#[derive(Debug)]
struct TestSources {
    literals: Vec<String>,
    code: String,
}

impl TestSources {
    fn read(root: &Path) -> TestSources {
        let mut sources = TestSources {
            literals: Vec::new(),
            code: String::new(),
        };
        let this = Path::new(file!())
            .file_name()
            .map(|n| n.to_owned())
            .unwrap_or_default();
        let crates = root.join("crates");
        for krate in read_dir(&crates) {
            for file in rust_files(&krate.join("tests")) {
                sources.add(&read(&file));
            }
            for file in rust_files(&krate.join("src")) {
                let text = read(&file);
                if let Some(at) = text.find("#[cfg(test)]") {
                    sources.add(&text[at..]);
                }
            }
        }
        for file in rust_files(&root.join("tests/src")) {
            // The list of untestable codes above would count otherwise.
            if file.file_name() != Some(this.as_os_str()) {
                sources.add(&read(&file));
            }
        }
        assert!(
            sources.literals.len() > 1000,
            "no test sources found under {}",
            root.display()
        );
        sources
    }

    fn add(&mut self, text: &str) {
        let lexed = lex(text);
        self.literals.extend(lexed.literals);
        self.code.push_str(&lexed.code);
        self.code.push('\n');
    }

    /// Whether a literal holds `code` as a whole word, or the code names
    /// its variant (`::ProofMissing`).
    fn asserts(&self, code: &str) -> bool {
        let variant: String = code
            .split('_')
            .map(|part| {
                let mut chars = part.chars();
                chars.next().map_or(String::new(), |first| {
                    first.to_string() + &chars.as_str().to_ascii_lowercase()
                })
            })
            .collect();
        self.literals.iter().any(|l| holds_word(l, code))
            || holds_word(&self.code, &format!("::{variant}"))
    }
}

/// Whether `text` holds `word` with no identifier character right before
/// (unless `word` starts with `::`) or after it.
fn holds_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        (word.starts_with("::") || !before.is_some_and(is_ident)) && !after.is_some_and(is_ident)
    })
}

/// Rust source split into string literals and the rest, comments dropped.
#[derive(Debug, Default, PartialEq)]
struct Lexed {
    literals: Vec<String>,
    code: String,
}

/// Enough of Rust's lexical grammar to tell comments, strings (plain,
/// byte, raw) and character literals from code.
fn lex(text: &str) -> Lexed {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Lexed::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some((hashes, start)) = raw_string_start(&chars, i) {
            let mut end = start;
            let closes = |at: usize| {
                chars[at] == '"' && (1..=hashes).all(|h| chars.get(at + h) == Some(&'#'))
            };
            while end < chars.len() && !closes(end) {
                end += 1;
            }
            out.literals.push(chars[start..end].iter().collect());
            i = (end + 1 + hashes).min(chars.len());
        } else if c == '"' {
            let mut end = i + 1;
            while end < chars.len() && chars[end] != '"' {
                end += if chars[end] == '\\' { 2 } else { 1 };
            }
            let end = end.min(chars.len());
            out.literals.push(chars[i + 1..end].iter().collect());
            i = end + 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\'', '\\', '\n', '\u{…}'.
            let mut end = i + 3;
            while end < chars.len() && chars[end] != '\'' {
                end += 1;
            }
            i = end + 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A character literal, '"' included; otherwise a lifetime.
            i += 3;
        } else {
            out.code.push(c);
            i += 1;
        }
    }
    out
}

/// At `i`, `r"`, `r#"`, `br##"`…: the number of `#` and where the string's
/// content starts.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let previous_is_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    if previous_is_ident {
        return None;
    }
    let mut at = i;
    if chars.get(at) == Some(&'b') {
        at += 1;
    }
    if chars.get(at) != Some(&'r') {
        return None;
    }
    at += 1;
    let hashes = chars[at..].iter().take_while(|c| **c == '#').count();
    at += hashes;
    (chars.get(at) == Some(&'"')).then_some((hashes, at + 1))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    out.sort();
    out
}

/// The `.rs` files under `dir`, recursively, in order; build output
/// (`target`) and hidden folders aside.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in read_dir(dir) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_is_asserted_by_a_test() {
        let untested = untested_codes(&repo_root());
        let list: Vec<String> = untested
            .iter()
            .map(|(code, files)| format!("{code} ({})", files.join(", ")))
            .collect();
        assert!(
            untested.is_empty(),
            "{} documented codes appear in no test as a string literal or enum variant:\n  {}",
            untested.len(),
            list.join("\n  ")
        );
    }

    #[test]
    fn untestable_codes_are_still_documented() {
        let documented = documented_codes(&repo_root());
        for (code, why) in UNTESTABLE {
            assert!(
                documented.iter().any(|(c, _)| c == code),
                "{code} is no longer documented: drop it from UNTESTABLE ({why})"
            );
        }
    }

    #[test]
    fn the_documents_list_the_codes_of_each_kind() {
        let documented = documented_codes(&repo_root());
        let listed_in = |code: &str| {
            documented
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, files)| files.clone())
                .unwrap_or_default()
        };
        // One of each source, found where it is listed (other documents may
        // list it too): a §7 table code without underscore, a §7.1 reason, a
        // licence problem code, a request error, a rule code, an audit
        // result, an archive error, a README refusal.
        for (code, doc) in [
            ("BUSY", "docs/PROTOCOL.md"),
            ("USE_CAUSE_TOO_LONG", "docs/PROTOCOL.md"),
            ("PROOF_MISSING", "docs/LICENCE-FORMAT.md"),
            ("TRUST_FILE_INVALID", "docs/LICENCE-FORMAT.md"),
            ("LICENCE_TYPE_RULES_INVALID", "docs/LICENCE-FORMAT.md"),
            ("AUDIT_LINK_BROKEN", "docs/AUDIT-LOG.md"),
            ("AUDIT_ARCHIVE_TRUNCATED", "docs/AUDIT-LOG.md"),
            ("ITEM_NAME_INVALID", "README.md"),
        ] {
            let listed = listed_in(code);
            assert!(listed.contains(&doc), "{code}: {listed:?}");
        }
        // Not codes: a placeholder, environment variables.
        for word in ["FILE", "TONGBAN_DATA_DIR", "TONGBAN_TEST_POSTGRES"] {
            assert_eq!(listed_in(word), Vec::<&str>::new(), "{word}");
        }
    }

    #[test]
    fn codes_are_found_in_backticks_and_code_tables_only() {
        let doc = "| code | meaning |\n|---|---|\n| `BUSY` | full, `QUOTA` |\n\
                   `KEY_UNKNOWN` or KEY_REVOKED, `ALONE`, `lower_case`, `TONGBAN_X`, `A_`\n";
        assert_eq!(codes_in(doc), ["BUSY", "KEY_UNKNOWN"]);
    }

    #[test]
    fn sections_end_at_the_next_heading_of_their_level() {
        let doc = "# T\n## 7. Error codes\n`A_B`\n### 7.1 More\n`C_D`\n```sh\n# not a heading\n```\n\
                   ## 8. Limits\n`E_F`\n";
        assert_eq!(
            codes_in(&sections_of(doc, &["7. Error codes"])),
            ["A_B", "C_D"]
        );
    }

    #[test]
    fn literals_and_variants_count_comments_do_not() {
        let source = r####"
            // "IN_LINE_COMMENT"
            /* "IN_BLOCK" /* nested */ "STILL_IN_BLOCK" */
            /// ProblemCode::DocComment
            let quote = '"'; let s = "A_CODE in \"quotes\""; fn f<'a>(x: &'a str) {}
            let raw = r#"{"code":"RAW_CODE"}"#; let b = b"BYTE_CODE";
            assert_eq!(e.code, ErrorCode::ProofMissing);
        "####;
        let mut sources = TestSources {
            literals: Vec::new(),
            code: String::new(),
        };
        sources.add(source);
        for code in ["A_CODE", "RAW_CODE", "BYTE_CODE", "PROOF_MISSING"] {
            assert!(sources.asserts(code), "{code}: {sources:?}");
        }
        for code in [
            "IN_LINE_COMMENT",
            "IN_BLOCK",
            "STILL_IN_BLOCK",
            "DOC_COMMENT",
            "PROOF",
            "A_COD",
        ] {
            assert!(!sources.asserts(code), "{code}: {sources:?}");
        }
    }
}
