//! Every code the documents list still exists, under its stable name.
//!
//! Codes live in typed vocabularies built with `stable_codes!` (the
//! protocol's `ErrorCode`, the service layer's `Code`, the licence's
//! `ProblemCode`), which the compiler keeps whole, or as the literal an
//! error's `code()` returns (the audit chain, the store, trust files, the
//! CLI's own). A documented code found in neither was renamed or removed:
//! the documents promise it, so that is a break of the contract.

use std::collections::HashSet;

use tongban_licence::ProblemCode;
use tongban_proto::ErrorCode;
use tongban_tests::codes::{documented_codes, product_literals, repo_root};

/// The codes of the typed vocabularies.
fn typed() -> HashSet<&'static str> {
    let protocol = ErrorCode::ALL.iter().map(|c| c.as_str());
    let service = tongban_service::Code::ALL.iter().map(|c| c.as_str());
    let licence = ProblemCode::ALL.iter().map(|c| c.as_str());
    protocol.chain(service).chain(licence).collect()
}

#[test]
fn every_documented_code_still_exists() {
    let root = repo_root();
    let typed = typed();
    let literals = product_literals(&root);
    let documented = documented_codes(&root);
    assert!(
        documented.len() > 150,
        "{} documented codes",
        documented.len()
    );
    let missing: Vec<String> = documented
        .iter()
        .filter(|(code, _)| !typed.contains(code.as_str()) && !literals.contains(code))
        .map(|(code, files)| format!("{code} ({})", files.join(", ")))
        .collect();
    assert!(
        missing.is_empty(),
        "documented, but no longer a code of the product:\n  {}",
        missing.join("\n  ")
    );
}

/// The typed vocabularies never give one string two meanings inside
/// themselves, and a service code the protocol also has means the same
/// thing there (the hub tells it under that code: `base::failures`).
#[test]
fn each_vocabulary_names_each_code_once() {
    for (name, codes) in [
        (
            "ErrorCode",
            ErrorCode::ALL
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "Code",
            tongban_service::Code::ALL
                .iter()
                .map(|c| c.as_str())
                .collect(),
        ),
        (
            "ProblemCode",
            ProblemCode::ALL.iter().map(|c| c.as_str()).collect(),
        ),
    ] {
        let unique: HashSet<&str> = codes.iter().copied().collect();
        assert_eq!(unique.len(), codes.len(), "{name} repeats a code");
        for c in &codes {
            assert!(
                c.len() >= 2
                    && c.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{name}: {c:?} is not SCREAMING_SNAKE"
            );
        }
    }
}
