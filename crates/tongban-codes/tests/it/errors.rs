//! Every error variant, reached through the public API, with its stable code
//! and a message naming the code kind and the position or character.

use std::collections::BTreeSet;

use tongban_codes::{
    CitizenId, CodeError, HolderCode, HolderCodeType, LicenceIdentifier, LicenceTypeCode,
    RegionCode, Sex, Uscc, iso7064, synth,
};

fn e<T>(r: Result<T, CodeError>) -> CodeError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

const ID: &str = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0";

fn all() -> Vec<(CodeError, &'static str, &'static [&'static str])> {
    vec![
        (
            e(Uscc::parse("123")),
            "USCC_BAD_LENGTH",
            &["unified social credit code", "18", "found 3"],
        ),
        (
            e(Uscc::parse("I1330105002500287C")),
            "USCC_BAD_CHAR",
            &["unified social credit code", "'I'", "position 1"],
        ),
        (
            e(Uscc::parse("11330105002500287D")),
            "USCC_BAD_CHECKSUM",
            &["unified social credit code", "position 18", "'C'", "'D'"],
        ),
        (
            e(CitizenId::parse("1234")),
            "CITIZEN_ID_BAD_LENGTH",
            &["citizen identity number", "18", "found 4"],
        ),
        (
            e(CitizenId::parse("11010519491231002Z")),
            "CITIZEN_ID_BAD_CHAR",
            &["citizen identity number", "'Z'", "position 18"],
        ),
        (
            e(CitizenId::parse("110105194912310021")),
            "CITIZEN_ID_BAD_CHECKSUM",
            &["citizen identity number", "position 18", "'X'", "'1'"],
        ),
        (
            e(synth::citizen_id("440101", (2023, 2, 29), 0, Sex::Male)),
            "CITIZEN_ID_BAD_DATE",
            &["citizen identity number", "positions 7-14"],
        ),
        (
            e(RegionCode::parse("4401x0")),
            "REGION_CODE_INVALID",
            &["region code", "'x'", "position 5"],
        ),
        (
            e(iso7064::mod37_36_check_char("AB c")),
            "ISO7064_BAD_CHAR",
            &["MOD 37,36", "' '", "position 3"],
        ),
        (
            e(LicenceTypeCode::parse("11100000000013338W")),
            "LICENCE_TYPE_CODE_BAD_LENGTH",
            &["licence type code", "21", "found 18"],
        ),
        (
            e(LicenceTypeCode::parse("1110000000001333VW009")),
            "LICENCE_TYPE_CODE_BAD_AUTHORITY",
            &["licence type code", "authority", "'V'", "position 17"],
        ),
        (
            e(LicenceTypeCode::parse("11100000000013338W-09")),
            "LICENCE_TYPE_CODE_BAD_SEQUENCE",
            &["licence type code", "sequence", "'-'", "position 19"],
        ),
        (
            e(LicenceIdentifier::parse("urn:x")),
            "IDENTIFIER_BAD_PREFIX",
            &["licence identifier", "1.2.156.3005.2"],
        ),
        (
            e(LicenceIdentifier::parse("1.2.156.3005.2.a.b")),
            "IDENTIFIER_BAD_SHAPE",
            &["licence identifier", "5", "found 2"],
        ),
        (
            e(LicenceIdentifier::parse(&ID.replace("W009", "W00"))),
            "IDENTIFIER_BAD_TYPE_CODE",
            &["licence identifier", "type code", "found 20"],
        ),
        (
            e(LicenceIdentifier::parse(&ID.replace("287C", "287"))),
            "IDENTIFIER_BAD_ISSUER",
            &["licence identifier", "issuer", "found 17"],
        ),
        (
            e(LicenceIdentifier::parse(
                &ID.replace("2025052201", "2025_05"),
            )),
            "IDENTIFIER_BAD_SERIAL",
            &["licence identifier", "serial", "'_'", "position 5"],
        ),
        (
            e(LicenceIdentifier::parse(&ID.replace(".002.", ".2."))),
            "IDENTIFIER_BAD_VERSION",
            &["licence identifier", "version", "3 digits"],
        ),
        (
            e(LicenceIdentifier::parse(&ID.replace(".002.0", ".002.*"))),
            "IDENTIFIER_BAD_CHECK_CHAR",
            &["licence identifier", "check"],
        ),
        (
            e(LicenceIdentifier::parse(&ID.replace(".002.0", ".002.7"))),
            "IDENTIFIER_BAD_CHECK",
            &["licence identifier", "check character", "'0'", "'7'"],
        ),
        (
            e(HolderCodeType::parse("222")),
            "HOLDER_CODE_TYPE_UNKNOWN",
            &["holder code type", "\"222\""],
        ),
        (
            e("11330105002500287C".parse::<HolderCode>()),
            "HOLDER_CODE_BAD_FORMAT",
            &["holder code", "<type>:<code>"],
        ),
        (
            e(synth::uscc('9', '1', "440100", 100_000_000)),
            "SYNTH_OUT_OF_RANGE",
            &["synthetic", "100000000", "99999999"],
        ),
    ]
}

#[test]
fn every_variant_has_code_and_message() {
    for (err, code, fragments) in all() {
        assert_eq!(err.code(), code, "{err:?}");
        let msg = err.to_string();
        for f in fragments {
            assert!(msg.contains(f), "{code}: message {msg:?} lacks {f:?}");
        }
    }
}

#[test]
fn codes_are_unique_and_screaming_snake_case() {
    let codes: Vec<&str> = all().iter().map(|(e, _, _)| e.code()).collect();
    let unique: BTreeSet<&str> = codes.iter().copied().collect();
    assert_eq!(unique.len(), codes.len());
    for c in codes {
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && !c.starts_with('_')
                && !c.ends_with('_'),
            "{c}"
        );
    }
}

#[test]
fn errors_are_std_errors() {
    fn takes(_: &dyn std::error::Error) {}
    for (err, _, _) in all() {
        takes(&err);
    }
}
