use tongban_codes::{
    CodeError, LICENCE_IDENTIFIER_OID_PREFIX, LicenceIdentifier, LicenceTypeCode, Uscc,
};

use crate::common::{assert_err, check as check_with};

/// The published identifier this crate must accept.
pub const PUBLISHED: &str =
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0";

fn check(input: &str, expected: Result<&str, &str>) {
    check_with(LicenceIdentifier::parse, input, expected);
}

fn check_type(input: &str, expected: Result<&str, &str>) {
    check_with(LicenceTypeCode::parse, input, expected);
}

/// Replaces the dot-separated part at `index` (0-based, prefix included).
fn with_part(index: usize, value: &str) -> String {
    let mut parts: Vec<&str> = PUBLISHED.split('.').collect();
    parts[index] = value;
    parts.join(".")
}

#[test]
fn published_identifier() {
    let id = LicenceIdentifier::parse(PUBLISHED).unwrap();
    assert_eq!(id.to_string(), PUBLISHED);
    assert_eq!(id.check_char(), '0');
    assert_eq!(id.type_code().as_str(), "11100000000013338W009");
    assert_eq!(id.type_code().authority().as_str(), "11100000000013338W");
    assert!(id.type_code().authority().checksum_ok());
    assert_eq!(id.type_code().sequence(), 9);
    assert_eq!(id.issuer().as_str(), "11330105002500287C");
    assert!(id.issuer().checksum_ok());
    assert_eq!(id.serial(), "2025052201");
    assert_eq!(id.version(), 2);
    assert!(PUBLISHED.starts_with(LICENCE_IDENTIFIER_OID_PREFIX));
}

#[test]
fn table() {
    check(PUBLISHED, Ok(PUBLISHED));
    check(&PUBLISHED.to_lowercase(), Ok(PUBLISHED));
    // prefix
    check("", Err("IDENTIFIER_BAD_PREFIX"));
    check(&with_part(0, "2"), Err("IDENTIFIER_BAD_PREFIX"));
    check(&with_part(2, "157"), Err("IDENTIFIER_BAD_PREFIX"));
    check(&with_part(3, "3006"), Err("IDENTIFIER_BAD_PREFIX"));
    check(
        &PUBLISHED.replacen("1.2.156.3005.2.", "1.2.156.3005.", 1),
        Err("IDENTIFIER_BAD_PREFIX"),
    );
    check(&format!(" {PUBLISHED}"), Err("IDENTIFIER_BAD_PREFIX"));
    // shape
    check("1.2.156.3005.2", Err("IDENTIFIER_BAD_SHAPE"));
    check(&format!("{PUBLISHED}.0"), Err("IDENTIFIER_BAD_SHAPE"));
    check(
        &PUBLISHED.replacen(".002.0", ".0020", 1),
        Err("IDENTIFIER_BAD_SHAPE"),
    );
    // parts
    check(
        &with_part(5, "11100000000013338W09"),
        Err("IDENTIFIER_BAD_TYPE_CODE"),
    );
    check(
        &with_part(5, "11100000000013338I009"),
        Err("IDENTIFIER_BAD_TYPE_CODE"),
    );
    check(
        &with_part(5, "11100000000013338W0A9"),
        Err("IDENTIFIER_BAD_TYPE_CODE"),
    );
    check(
        &with_part(6, "11330105002500287"),
        Err("IDENTIFIER_BAD_ISSUER"),
    );
    check(
        &with_part(6, "1133010500250028OC"),
        Err("IDENTIFIER_BAD_ISSUER"),
    );
    check(&with_part(7, ""), Err("IDENTIFIER_BAD_SERIAL"));
    check(&with_part(7, "2025-05"), Err("IDENTIFIER_BAD_SERIAL"));
    check(&with_part(7, &"1".repeat(33)), Err("IDENTIFIER_BAD_SERIAL"));
    check(&with_part(8, "02"), Err("IDENTIFIER_BAD_VERSION"));
    check(&with_part(8, "0002"), Err("IDENTIFIER_BAD_VERSION"));
    check(&with_part(8, "00A"), Err("IDENTIFIER_BAD_VERSION"));
    check(&with_part(9, ""), Err("IDENTIFIER_BAD_CHECK_CHAR"));
    check(&with_part(9, "00"), Err("IDENTIFIER_BAD_CHECK_CHAR"));
    check(&with_part(9, "-"), Err("IDENTIFIER_BAD_CHECK_CHAR"));
    check(&with_part(9, "1"), Err("IDENTIFIER_BAD_CHECK"));
    check(&with_part(7, "2025052202"), Err("IDENTIFIER_BAD_CHECK"));
    check(&with_part(8, "003"), Err("IDENTIFIER_BAD_CHECK"));
}

#[test]
fn wrong_check_carries_expected_and_found() {
    assert_eq!(
        LicenceIdentifier::parse(&with_part(9, "Q")),
        Err(CodeError::IdentifierBadCheck {
            expected: '0',
            found: 'Q'
        })
    );
    assert_err(
        LicenceIdentifier::parse(&with_part(9, "q")),
        "IDENTIFIER_BAD_CHECK",
        &["licence identifier", "'0'", "'Q'"],
    );
}

#[test]
fn nested_errors_keep_the_cause() {
    let err = LicenceIdentifier::parse(&with_part(6, "1133010500250028OC")).unwrap_err();
    match &err {
        CodeError::IdentifierBadIssuer { source } => {
            assert_eq!(
                **source,
                CodeError::UsccBadChar {
                    position: 17,
                    ch: 'O'
                }
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("position 17"));
    let err = LicenceIdentifier::parse(&with_part(5, "11100000000013338W0A9")).unwrap_err();
    match &err {
        CodeError::IdentifierBadTypeCode { source } => {
            assert_eq!(source.code(), "LICENCE_TYPE_CODE_BAD_SEQUENCE");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn issuer_and_authority_are_lenient() {
    // Both the type-code authority and the issuer have wrong GB 32100 check
    // characters; the identifier is still accepted and records that.
    let tc = LicenceTypeCode::parse("11100000000013338X009").unwrap();
    assert!(!tc.authority().checksum_ok());
    let issuer = Uscc::parse_lenient("11330105002500287D").unwrap();
    let id = LicenceIdentifier::new(tc, issuer, "A1", 1).unwrap();
    let parsed = LicenceIdentifier::parse(&id.to_string()).unwrap();
    assert!(!parsed.issuer().checksum_ok());
    assert!(!parsed.type_code().authority().checksum_ok());
    assert_eq!(parsed, id);
}

#[test]
fn new_validates() {
    let tc = LicenceTypeCode::parse("11100000000013338W009").unwrap();
    let issuer = Uscc::parse("11330105002500287C").unwrap();
    let id = LicenceIdentifier::new(tc.clone(), issuer.clone(), "2025052201", 2).unwrap();
    assert_eq!(id.as_str(), PUBLISHED);
    let lower = LicenceIdentifier::new(tc.clone(), issuer.clone(), "abc123", 999).unwrap();
    assert_eq!(lower.serial(), "ABC123");
    assert!(lower.as_str().contains(".ABC123.999."));
    assert_err(
        LicenceIdentifier::new(tc.clone(), issuer.clone(), "", 1),
        "IDENTIFIER_BAD_SERIAL",
        &["serial", "length is 0"],
    );
    assert_err(
        LicenceIdentifier::new(tc.clone(), issuer.clone(), "AB_C", 1),
        "IDENTIFIER_BAD_SERIAL",
        &["'_'", "position 3"],
    );
    assert_err(
        LicenceIdentifier::new(tc, issuer, "1", 1000),
        "IDENTIFIER_BAD_VERSION",
        &["version", "1000"],
    );
}

#[test]
fn type_code_table() {
    check_type("11100000000013338W009", Ok("11100000000013338W009"));
    check_type("11100000000013338w009", Ok("11100000000013338W009"));
    check_type("11100000000013338X009", Ok("11100000000013338X009"));
    check_type("11100000000013338W09", Err("LICENCE_TYPE_CODE_BAD_LENGTH"));
    check_type(
        "11100000000013338W0090",
        Err("LICENCE_TYPE_CODE_BAD_LENGTH"),
    );
    check_type(
        "1110000000001333IW009",
        Err("LICENCE_TYPE_CODE_BAD_AUTHORITY"),
    );
    check_type(
        "11100000000013338W00A",
        Err("LICENCE_TYPE_CODE_BAD_SEQUENCE"),
    );
}

#[test]
fn type_code_accessors_and_new() {
    let tc = LicenceTypeCode::parse("11100000000013338W123").unwrap();
    assert_eq!(tc.sequence(), 123);
    assert_eq!(tc.authority().as_str(), "11100000000013338W");
    let authority = Uscc::parse("11100000000013338W").unwrap();
    let built = LicenceTypeCode::new(authority.clone(), 7).unwrap();
    assert_eq!(built.as_str(), "11100000000013338W007");
    assert_err(
        LicenceTypeCode::new(authority, 1000),
        "LICENCE_TYPE_CODE_BAD_SEQUENCE",
        &["1000"],
    );
    assert_err(
        LicenceTypeCode::parse("11100000000013338W0x9"),
        "LICENCE_TYPE_CODE_BAD_SEQUENCE",
        &["'x'", "position 20"],
    );
}
