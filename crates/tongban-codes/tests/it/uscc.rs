use tongban_codes::{CodeError, Uscc};

use crate::common::{assert_err, check as check_with};

fn check(input: &str, expected: Result<&str, &str>) {
    check_with(Uscc::parse, input, expected);
}

fn check_lenient(input: &str, expected: Result<&str, &str>) {
    check_with(Uscc::parse_lenient, input, expected);
}

#[test]
fn table() {
    // published codes (GB 32100 check verified)
    check("11330105002500287C", Ok("11330105002500287C"));
    check("11100000000013338W", Ok("11100000000013338W"));
    // synthetic, check characters computed independently
    check("91440101MA5CXXXX08", Ok("91440101MA5CXXXX08"));
    check("91441802MA4W000A13", Ok("91441802MA4W000A13"));
    check("12430900006000001N", Ok("12430900006000001N"));
    check("521100005000000008", Ok("521100005000000008"));
    check("Y1440114MA9UUUUU4X", Ok("Y1440114MA9UUUUU4X"));
    check("91440114ABCDEFGH1R", Ok("91440114ABCDEFGH1R"));
    // lower case accepted and canonicalised
    check("11330105002500287c", Ok("11330105002500287C"));
    check("91440101ma5cxxxx08", Ok("91440101MA5CXXXX08"));
    // failures
    check("", Err("USCC_BAD_LENGTH"));
    check("11330105002500287", Err("USCC_BAD_LENGTH"));
    check("11330105002500287CC", Err("USCC_BAD_LENGTH"));
    check(" 11330105002500287C", Err("USCC_BAD_LENGTH"));
    check("11330105002500287I", Err("USCC_BAD_CHAR"));
    check("1133010500250028OC", Err("USCC_BAD_CHAR"));
    check("Z1330105002500287C", Err("USCC_BAD_CHAR"));
    check("11330105002500287S", Err("USCC_BAD_CHAR"));
    check("11330105002500287V", Err("USCC_BAD_CHAR"));
    check("1133010500250028-C", Err("USCC_BAD_CHAR"));
    check("11330105002500287D", Err("USCC_BAD_CHECKSUM"));
    check("11100000000013338X", Err("USCC_BAD_CHECKSUM"));
}

#[test]
fn lenient_table() {
    check_lenient("11330105002500287D", Ok("11330105002500287D"));
    check_lenient("11330105002500287d", Ok("11330105002500287D"));
    check_lenient("11330105002500287I", Err("USCC_BAD_CHAR"));
    check_lenient("1133010500250028", Err("USCC_BAD_LENGTH"));
}

#[test]
fn lenient_records_checksum_state() {
    let good = Uscc::parse_lenient("11330105002500287C").unwrap();
    assert!(good.checksum_ok());
    assert_eq!(good, Uscc::parse("11330105002500287C").unwrap());
    let bad = Uscc::parse_lenient("11330105002500287D").unwrap();
    assert!(!bad.checksum_ok());
    assert_eq!(bad.check_char(), 'D');
    assert_eq!(bad.expected_check_char(), 'C');
}

#[test]
fn error_details() {
    assert_eq!(
        Uscc::parse("11330105002500287D"),
        Err(CodeError::UsccBadChecksum {
            expected: 'C',
            found: 'D'
        })
    );
    assert_eq!(
        Uscc::parse("113301050025002o7C"),
        Err(CodeError::UsccBadChar {
            position: 16,
            ch: 'o'
        })
    );
    assert_err(
        Uscc::parse("统一社会信用代码"),
        "USCC_BAD_LENGTH",
        &["unified social credit code", "18", "found 8"],
    );
}

#[test]
fn accessors() {
    let c = Uscc::parse("91441802MA4W000A13").unwrap();
    assert_eq!(c.as_str(), "91441802MA4W000A13");
    assert_eq!(c.registration_authority(), '9');
    assert_eq!(c.category(), '1');
    assert_eq!(c.region_code(), "441802");
    assert_eq!(c.region().unwrap().known_name(), Some("清远市清城区"));
    assert_eq!(c.organisation_code(), "MA4W000A1");
    assert_eq!(c.check_char(), '3');
}

#[test]
fn compute_check() {
    assert_eq!(Uscc::compute_check("11330105002500287"), Ok('C'));
    assert_eq!(Uscc::compute_check("11100000000013338"), Ok('W'));
    assert_eq!(Uscc::compute_check("91440101ma5cxxxx0"), Ok('8'));
    assert_eq!(
        Uscc::compute_check("1133010500250028I"),
        Err(CodeError::UsccBadChar {
            position: 17,
            ch: 'I'
        })
    );
    assert_eq!(
        Uscc::compute_check("11330105002500287C"),
        Err(CodeError::UsccBadLength {
            expected: 17,
            found: 18
        })
    );
}

#[test]
fn from_str_is_strict() {
    assert!("11330105002500287C".parse::<Uscc>().is_ok());
    assert_eq!(
        "11330105002500287D".parse::<Uscc>().map_err(|e| e.code()),
        Err("USCC_BAD_CHECKSUM")
    );
}
