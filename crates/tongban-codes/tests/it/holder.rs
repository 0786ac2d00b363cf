use tongban_codes::{CitizenId, HolderCode, HolderCodeType, Uscc};

use crate::common::{assert_err, check as check_with};

fn check_type(input: &str, expected: Result<&str, &str>) {
    check_with(HolderCodeType::parse, input, expected);
}

fn check(input: &str, expected: Result<&str, &str>) {
    check_with(|s: &str| s.parse::<HolderCode>(), input, expected);
}

#[test]
fn type_table() {
    check_type("111", Ok("111"));
    check_type("001", Ok("001"));
    for bad in ["", "1", "011", "112", "0001", " 001", "uscc"] {
        check_type(bad, Err("HOLDER_CODE_TYPE_UNKNOWN"));
    }
    assert_eq!(
        "111".parse::<HolderCodeType>(),
        Ok(HolderCodeType::CitizenId)
    );
    assert_eq!(HolderCodeType::Uscc.as_str(), "001");
    assert_eq!(HolderCodeType::Uscc.name_zh(), "统一社会信用代码");
    assert_err(
        HolderCodeType::parse("999"),
        "HOLDER_CODE_TYPE_UNKNOWN",
        &["holder code type", "\"999\"", "111", "001"],
    );
}

#[test]
fn text_form_table() {
    check("001:11330105002500287C", Ok("001:11330105002500287C"));
    check("001:11330105002500287c", Ok("001:11330105002500287C"));
    check("111:11010519491231002x", Ok("111:11010519491231002X"));
    check("11330105002500287C", Err("HOLDER_CODE_BAD_FORMAT"));
    check("002:11330105002500287C", Err("HOLDER_CODE_TYPE_UNKNOWN"));
    check("001:11330105002500287D", Err("USCC_BAD_CHECKSUM"));
    check("111:11330105002500287C", Err("CITIZEN_ID_BAD_CHAR"));
    check("001:11010519491231002X", Err("USCC_BAD_CHECKSUM"));
}

#[test]
fn parse_by_type() {
    let c = HolderCode::parse(HolderCodeType::CitizenId, "11010519491231002X").unwrap();
    assert_eq!(c.code_type(), HolderCodeType::CitizenId);
    assert_eq!(c.as_str(), "11010519491231002X");
    assert_eq!(
        c,
        HolderCode::Citizen(CitizenId::parse("11010519491231002X").unwrap())
    );
    let o = HolderCode::parse(HolderCodeType::Uscc, "11330105002500287C").unwrap();
    assert_eq!(o.code_type(), HolderCodeType::Uscc);
    assert_eq!(
        o,
        HolderCode::Organisation(Uscc::parse("11330105002500287C").unwrap())
    );
}

#[test]
fn legacy_uscc_only_with_flag() {
    let legacy = "11330105002500287D";
    assert_err(
        HolderCode::parse(HolderCodeType::Uscc, legacy),
        "USCC_BAD_CHECKSUM",
        &["'C'", "'D'"],
    );
    assert_err(
        HolderCode::parse_with(HolderCodeType::Uscc, legacy, false),
        "USCC_BAD_CHECKSUM",
        &[],
    );
    let h = HolderCode::parse_with(HolderCodeType::Uscc, legacy, true).unwrap();
    match &h {
        HolderCode::Organisation(u) => assert!(!u.checksum_ok()),
        HolderCode::Citizen(_) => panic!("wrong variant"),
    }
    // the flag never relaxes citizen identity numbers
    assert_err(
        HolderCode::parse_with(HolderCodeType::CitizenId, "11010519491231002Y", true),
        "CITIZEN_ID_BAD_CHAR",
        &[],
    );
    // nor length/alphabet for organisations
    assert_err(
        HolderCode::parse_with(HolderCodeType::Uscc, "1133010500250028IC", true),
        "USCC_BAD_CHAR",
        &[],
    );
}
