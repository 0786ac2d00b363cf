use tongban_codes::{CitizenId, CodeError, Sex};

use crate::common::{assert_err, check as check_with};

fn check(input: &str, expected: Result<&str, &str>) {
    check_with(CitizenId::parse, input, expected);
}

#[test]
fn table() {
    // worked example from GB 11643-1999
    check("11010519491231002X", Ok("11010519491231002X"));
    // synthetic, check characters computed independently
    check("440101199003070018", Ok("440101199003070018"));
    check("440114200002290024", Ok("440114200002290024"));
    check("430921198506151234", Ok("430921198506151234"));
    check("110000180001010013", Ok("110000180001010013"));
    check("441802220012319988", Ok("441802220012319988"));
    check("44180219881111004X", Ok("44180219881111004X"));
    // lower-case x accepted
    check("44180219881111004x", Ok("44180219881111004X"));
    check("11010519491231002x", Ok("11010519491231002X"));
    // failures
    check("", Err("CITIZEN_ID_BAD_LENGTH"));
    check("44010119900307001", Err("CITIZEN_ID_BAD_LENGTH"));
    check("4401011990030700188", Err("CITIZEN_ID_BAD_LENGTH"));
    check("44010119900307001A", Err("CITIZEN_ID_BAD_CHAR"));
    check("4401011990030700X8", Err("CITIZEN_ID_BAD_CHAR"));
    check("44010119900307001X", Err("CITIZEN_ID_BAD_CHECKSUM"));
    check("440101199003070017", Err("CITIZEN_ID_BAD_CHECKSUM"));
}

/// Builds a number with a correct check character around the given date.
fn with_date(date: &str) -> String {
    let first17 = format!("440101{date}001");
    let check = CitizenId::compute_check(&first17).unwrap();
    format!("{first17}{check}")
}

#[test]
fn dates() {
    for (date, ok) in [
        ("20000229", true),
        ("19000229", false),
        ("20240229", true),
        ("20230229", false),
        ("21000229", false),
        ("19900431", false),
        ("19900430", true),
        ("19901301", false),
        ("19900001", false),
        ("19900100", false),
        ("17991231", false),
        ("18000101", true),
        ("22001231", true),
        ("22010101", false),
    ] {
        let id = with_date(date);
        let expected = if ok {
            Ok(id.as_str())
        } else {
            Err("CITIZEN_ID_BAD_DATE")
        };
        check(&id, expected);
    }
}

#[test]
fn date_error_does_not_leak_the_number() {
    let id = with_date("20230229");
    let err = assert_err(
        CitizenId::parse(&id),
        "CITIZEN_ID_BAD_DATE",
        &["citizen identity number", "positions 7-14"],
    );
    assert!(!err.to_string().contains(&id));
    assert!(!err.to_string().contains("20230229"));
}

#[test]
fn error_details() {
    assert_eq!(
        CitizenId::parse("440101199003070017"),
        Err(CodeError::CitizenIdBadChecksum {
            expected: '8',
            found: '7'
        })
    );
    assert_eq!(
        CitizenId::parse("4401011990o3070018"),
        Err(CodeError::CitizenIdBadChar {
            position: 11,
            ch: 'o'
        })
    );
    assert_err(
        CitizenId::parse("123"),
        "CITIZEN_ID_BAD_LENGTH",
        &["citizen identity number", "18", "found 3"],
    );
}

#[test]
fn accessors() {
    let id = CitizenId::parse("430921198506151234").unwrap();
    assert_eq!(id.as_str(), "430921198506151234");
    assert_eq!(id.region_code(), "430921");
    assert_eq!(id.region().unwrap().known_name(), Some("益阳市南县"));
    assert_eq!(id.birth_date(), (1985, 6, 15));
    assert_eq!(id.order_code(), "123");
    assert_eq!(id.sex(), Sex::Male);
    assert_eq!(id.check_char(), '4');
    let f = CitizenId::parse("440114200002290024").unwrap();
    assert_eq!(f.sex(), Sex::Female);
    assert_eq!(f.birth_date(), (2000, 2, 29));
}

#[test]
fn compute_check() {
    assert_eq!(CitizenId::compute_check("11010519491231002"), Ok('X'));
    assert_eq!(CitizenId::compute_check("44010119900307001"), Ok('8'));
    assert_eq!(
        CitizenId::compute_check("4401011990030700X"),
        Err(CodeError::CitizenIdBadChar {
            position: 17,
            ch: 'X'
        })
    );
    assert_eq!(
        CitizenId::compute_check("440101"),
        Err(CodeError::CitizenIdBadLength {
            expected: 17,
            found: 6
        })
    );
}
