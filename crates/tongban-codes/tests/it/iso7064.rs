use tongban_codes::CodeError;
use tongban_codes::iso7064::{mod37_36_check_char, mod37_36_is_valid};

#[test]
fn published_identifier_body() {
    let body = "11100000000013338W009".to_owned() + "11330105002500287C" + "2025052201" + "002";
    assert_eq!(mod37_36_check_char(&body), Ok('0'));
    assert!(mod37_36_is_valid(&format!("{body}0")));
    for wrong in ['1', 'Z', 'A'] {
        assert!(!mod37_36_is_valid(&format!("{body}{wrong}")));
    }
}

#[test]
fn table() {
    // (data, check) pairs computed independently with the same recurrence
    for (data, check) in [
        ("", '1'),
        ("0", '2'),
        ("A", 'H'),
        ("ZZZZ", '9'),
        ("N4WFJV220", '1'),
    ] {
        assert_eq!(mod37_36_check_char(data), Ok(check), "{data:?}");
        assert!(mod37_36_is_valid(&format!("{data}{check}")));
    }
}

#[test]
fn known_undetected_transposition() {
    // Hybrid MOD 37,36 misses some adjacent transpositions of characters whose
    // values differ by 1; these pairs are such cases (one in the data, one
    // involving the check character).
    assert!(mod37_36_is_valid("IJ9H"));
    assert!(mod37_36_is_valid("JI9H"));
    assert!(mod37_36_is_valid("N4WFJV2201"));
    assert!(mod37_36_is_valid("N4WFJV2210"));
}

#[test]
fn rejects_outside_alphabet() {
    assert_eq!(
        mod37_36_check_char("12a"),
        Err(CodeError::Iso7064BadChar {
            position: 3,
            ch: 'a'
        })
    );
    let msg = mod37_36_check_char("1.2").unwrap_err().to_string();
    assert!(msg.contains("MOD 37,36") && msg.contains("position 2") && msg.contains("'.'"));
    assert!(!mod37_36_is_valid(""));
    assert!(!mod37_36_is_valid("1.2"));
}
