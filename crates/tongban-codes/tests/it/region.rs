use tongban_codes::{RegionCode, RegionLevel};

use crate::common::{assert_err, check as check_with};

fn check(input: &str, expected: Result<&str, &str>) {
    check_with(RegionCode::parse, input, expected);
}

#[test]
fn table() {
    for ok in [
        "440000", "440100", "440114", "440117", "441800", "441802", "430000", "430900", "430921",
        "110000", "110101", "820000", "110000", "429004",
    ] {
        check(ok, Ok(ok));
    }
    for bad in [
        "", "44000", "4400000", "44000A", "４40000", "000000", "100000", "105000", "830000",
        "990000", "440001",
    ] {
        check(bad, Err("REGION_CODE_INVALID"));
    }
}

#[test]
fn messages_name_position_and_char() {
    assert_err(
        RegionCode::parse("44A000"),
        "REGION_CODE_INVALID",
        &["region code", "'A'", "position 3"],
    );
    assert_err(
        RegionCode::parse("990000"),
        "REGION_CODE_INVALID",
        &["province", "99"],
    );
    assert_err(
        RegionCode::parse("4400"),
        "REGION_CODE_INVALID",
        &["6 digits", "found 4"],
    );
}

#[test]
fn levels_and_parents() {
    let cases = [
        ("440000", RegionLevel::Province, None),
        ("440100", RegionLevel::Prefecture, Some("440000")),
        ("440114", RegionLevel::County, Some("440100")),
        ("430921", RegionLevel::County, Some("430900")),
        ("110101", RegionLevel::County, Some("110100")),
    ];
    for (code, level, parent) in cases {
        let r = RegionCode::parse(code).unwrap();
        assert_eq!(r.level(), level, "{code}");
        assert_eq!(
            r.parent().as_ref().map(RegionCode::as_str),
            parent,
            "{code}"
        );
        assert_eq!(&r.as_str()[..2], &r.province().as_str()[..2]);
        assert_eq!(r.province().level(), RegionLevel::Province);
    }
}

#[test]
fn containment_and_relation() {
    let r = |c: &str| RegionCode::parse(c).unwrap();
    // (a, b, a contains b, related either way)
    let cases = [
        ("440000", "440114", true, true),
        ("440100", "440114", true, true),
        ("440114", "440114", true, true),
        ("441800", "441802", true, true),
        ("440114", "440100", false, true),
        ("440100", "441802", false, false),
        ("440114", "440117", false, false),
        ("430000", "440114", false, false),
    ];
    for (a, b, contains, related) in cases {
        assert_eq!(r(a).contains(&r(b)), contains, "{a} ⊇ {b}");
        assert_eq!(r(a).related(&r(b)), related, "{a} ~ {b}");
        assert_eq!(r(b).related(&r(a)), related, "{b} ~ {a}");
    }
}

#[test]
fn known_names() {
    let names = [
        ("440000", "广东省"),
        ("440100", "广州市"),
        ("440114", "广州市花都区"),
        ("440117", "广州市从化区"),
        ("441800", "清远市"),
        ("441802", "清远市清城区"),
        ("430000", "湖南省"),
        ("430900", "益阳市"),
        ("430921", "益阳市南县"),
        ("110000", "北京市"),
    ];
    for (code, name) in names {
        assert_eq!(RegionCode::parse(code).unwrap().known_name(), Some(name));
    }
    assert_eq!(RegionCode::parse("110101").unwrap().known_name(), None);
}
