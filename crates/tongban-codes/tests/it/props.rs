//! Property tests.

use proptest::prelude::*;
use tongban_codes::iso7064::{mod37_36_check_char, mod37_36_is_valid};
use tongban_codes::{
    CitizenId, CodeError, HolderCode, HolderCodeType, LicenceIdentifier, LicenceTypeCode, Uscc,
};

const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const MOD36_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn uscc_body() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(USCC_ALPHABET.as_bytes()), 17)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

/// Any 18-character string over the USCC alphabet (check may be wrong).
fn any_uscc_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(USCC_ALPHABET.as_bytes()), 18)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

fn valid_uscc() -> impl Strategy<Value = String> {
    uscc_body().prop_map(|b| {
        let c = Uscc::compute_check(&b).unwrap();
        format!("{b}{c}")
    })
}

/// 17 digits whose date part is a real date in 1800..=2200.
fn citizen_body() -> impl Strategy<Value = String> {
    (
        0u32..1_000_000,
        1800u16..=2200,
        1u8..=12,
        1u8..=28,
        0u16..1000,
    )
        .prop_map(|(region, y, m, d, order)| format!("{region:06}{y:04}{m:02}{d:02}{order:03}"))
}

fn valid_citizen_id() -> impl Strategy<Value = String> {
    citizen_body().prop_map(|b| {
        let c = CitizenId::compute_check(&b).unwrap();
        format!("{b}{c}")
    })
}

fn mod36_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(MOD36_ALPHABET.as_bytes()), 1..=max)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

fn mod36_value(c: char) -> u32 {
    c.to_digit(36).unwrap()
}

fn replace_at(s: &str, index: usize, ch: char) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| if i == index { ch } else { c })
        .collect()
}

proptest! {
    /// (a) compute_check then parse round-trips, Display == input, lower case
    /// canonicalises.
    #[test]
    fn uscc_compute_then_parse(body in uscc_body()) {
        let check = Uscc::compute_check(&body).unwrap();
        let text = format!("{body}{check}");
        let code = Uscc::parse(&text).unwrap();
        prop_assert_eq!(code.to_string(), text.clone());
        prop_assert_eq!(code.as_str(), text.as_str());
        prop_assert!(code.checksum_ok());
        prop_assert_eq!(code.region_code(), &text[2..8]);
        prop_assert_eq!(Uscc::parse(&text.to_lowercase()).unwrap(), code.clone());
        prop_assert_eq!(text.parse::<Uscc>().unwrap(), code);
    }

    #[test]
    fn citizen_compute_then_parse(body in citizen_body()) {
        let check = CitizenId::compute_check(&body).unwrap();
        let text = format!("{body}{check}");
        let id = CitizenId::parse(&text).unwrap();
        prop_assert_eq!(id.to_string(), text.clone());
        prop_assert_eq!(CitizenId::parse(&text.to_lowercase()).unwrap(), id);
    }

    /// Lenient parsing accepts every string over the alphabet and agrees with
    /// strict parsing about the checksum.
    #[test]
    fn uscc_lenient_agrees_with_strict(text in any_uscc_text()) {
        let lenient = Uscc::parse_lenient(&text).unwrap();
        prop_assert_eq!(lenient.to_string(), text.clone());
        match Uscc::parse(&text) {
            Ok(strict) => {
                prop_assert!(lenient.checksum_ok());
                prop_assert_eq!(strict, lenient);
            }
            Err(CodeError::UsccBadChecksum { expected, found }) => {
                prop_assert!(!lenient.checksum_ok());
                prop_assert_eq!(expected, lenient.expected_check_char());
                prop_assert_eq!(found, lenient.check_char());
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    /// (b) any single substitution (to another alphabet character) in a valid
    /// USCC is caught by the checksum.
    #[test]
    fn uscc_single_substitution_detected(
        text in valid_uscc(),
        pos in 0usize..18,
        replacement in proptest::sample::select(USCC_ALPHABET.as_bytes()),
    ) {
        let replacement = char::from(replacement);
        let original = text.chars().nth(pos).unwrap();
        prop_assume!(replacement != original);
        let mutated = replace_at(&text, pos, replacement);
        let err = Uscc::parse(&mutated).unwrap_err();
        prop_assert_eq!(err.code(), "USCC_BAD_CHECKSUM");
    }

    /// (b) any single substitution in a valid citizen identity number is
    /// caught by the checksum (before the date check).
    #[test]
    fn citizen_single_substitution_detected(
        text in valid_citizen_id(),
        pos in 0usize..18,
        replacement in proptest::sample::select(b"0123456789X".as_slice()),
    ) {
        let replacement = char::from(replacement);
        prop_assume!(pos == 17 || replacement != 'X');
        let original = text.chars().nth(pos).unwrap();
        prop_assume!(replacement != original);
        let mutated = replace_at(&text, pos, replacement);
        let err = CitizenId::parse(&mutated).unwrap_err();
        prop_assert_eq!(err.code(), "CITIZEN_ID_BAD_CHECKSUM");
    }

    /// (c) identifier new -> to_string -> parse round-trip, including lenient
    /// authority and issuer codes.
    #[test]
    fn identifier_round_trip(
        authority in any_uscc_text(),
        sequence in 0u16..1000,
        issuer in any_uscc_text(),
        serial in "[0-9A-Z]{1,32}",
        version in 0u16..1000,
    ) {
        let authority = Uscc::parse_lenient(&authority).unwrap();
        let type_code = LicenceTypeCode::new(authority, sequence).unwrap();
        let issuer = Uscc::parse_lenient(&issuer).unwrap();
        let id = LicenceIdentifier::new(type_code.clone(), issuer.clone(), &serial, version).unwrap();
        let text = id.to_string();
        let parsed = LicenceIdentifier::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &id);
        prop_assert_eq!(parsed.as_str(), text.as_str());
        prop_assert_eq!(parsed.type_code(), &type_code);
        prop_assert_eq!(parsed.issuer(), &issuer);
        prop_assert_eq!(parsed.serial(), serial.as_str());
        prop_assert_eq!(parsed.version(), version);
        let concatenated = format!("{}{}{}{:03}{}", type_code, issuer, serial, version, id.check_char());
        prop_assert!(mod37_36_is_valid(&concatenated));
    }

    /// Changing the check character of an identifier is always caught.
    #[test]
    fn identifier_wrong_check_detected(
        serial in "[0-9A-Z]{1,32}",
        replacement in proptest::sample::select(MOD36_ALPHABET.as_bytes()),
    ) {
        let type_code = LicenceTypeCode::parse("11100000000013338W009").unwrap();
        let issuer = Uscc::parse("11330105002500287C").unwrap();
        let id = LicenceIdentifier::new(type_code, issuer, &serial, 1).unwrap();
        let replacement = char::from(replacement);
        prop_assume!(replacement != id.check_char());
        let text = id.to_string();
        let mutated = format!("{}{replacement}", &text[..text.len() - 1]);
        prop_assert_eq!(
            LicenceIdentifier::parse(&mutated),
            Err(CodeError::IdentifierBadCheck { expected: id.check_char(), found: replacement })
        );
    }

    /// (d) MOD 37,36: appending the check character makes the string valid;
    /// every single substitution is detected; every adjacent transposition of
    /// distinct characters is detected unless their values differ by exactly
    /// 1 (mod 36), the only case the hybrid system can miss.
    #[test]
    fn mod37_36_detection(data in mod36_text(40)) {
        let check = mod37_36_check_char(&data).unwrap();
        let full = format!("{data}{check}");
        prop_assert!(mod37_36_is_valid(&full));
        let chars: Vec<char> = full.chars().collect();
        for (i, &original) in chars.iter().enumerate() {
            for r in MOD36_ALPHABET.chars() {
                if r != original {
                    let mutated = replace_at(&full, i, r);
                    prop_assert!(!mod37_36_is_valid(&mutated), "substitution {full} -> {mutated}");
                }
            }
        }
        for (i, pair) in chars.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            if a == b {
                continue;
            }
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            let swapped: String = swapped.into_iter().collect();
            let diff = (mod36_value(a) + 36 - mod36_value(b)) % 36;
            if diff != 1 && diff != 35 {
                prop_assert!(!mod37_36_is_valid(&swapped), "transposition {full} -> {swapped}");
            }
        }
    }

    /// (e) serde round-trip through JSON for valid codes.
    #[test]
    fn serde_round_trip(uscc in valid_uscc(), cid in valid_citizen_id(), serial in "[0-9A-Z]{1,32}") {
        let u = Uscc::parse(&uscc).unwrap();
        let json = serde_json::to_string(&u).unwrap();
        prop_assert_eq!(&json, &format!("\"{uscc}\""));
        prop_assert_eq!(serde_json::from_str::<Uscc>(&json).unwrap(), u.clone());

        let c = CitizenId::parse(&cid).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        prop_assert_eq!(serde_json::from_str::<CitizenId>(&json).unwrap(), c.clone());

        let h = HolderCode::parse(HolderCodeType::CitizenId, &cid).unwrap();
        let json = serde_json::to_string(&h).unwrap();
        prop_assert_eq!(serde_json::from_str::<HolderCode>(&json).unwrap(), h);

        let type_code = LicenceTypeCode::new(u.clone(), 1).unwrap();
        let id = LicenceIdentifier::new(type_code, u, &serial, 1).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<LicenceIdentifier>(&json).unwrap(), id);
    }

    /// (e) invalid strings are rejected on deserialisation.
    #[test]
    fn serde_rejects_invalid(
        uscc in valid_uscc(),
        cid in valid_citizen_id(),
        pos in 0usize..17,
        junk in "[^0-9A-Za-z]",
    ) {
        let junk = junk.chars().next().unwrap();
        let bad_uscc = replace_at(&uscc, pos, junk);
        prop_assert!(serde_json::from_str::<Uscc>(&serde_json::to_string(&bad_uscc).unwrap()).is_err());
        let bad_cid = replace_at(&cid, pos, junk);
        prop_assert!(serde_json::from_str::<CitizenId>(&serde_json::to_string(&bad_cid).unwrap()).is_err());
        // a wrong check character is invalid for citizen identity numbers
        let wrong = if cid.ends_with('0') { '1' } else { '0' };
        let bad_check = replace_at(&cid, 17, wrong);
        prop_assert!(serde_json::from_str::<CitizenId>(&serde_json::to_string(&bad_check).unwrap()).is_err());
    }

    /// Parsers never panic on arbitrary input.
    #[test]
    fn parsers_do_not_panic(s in "\\PC{0,80}") {
        let _ = Uscc::parse(&s);
        let _ = Uscc::parse_lenient(&s);
        let _ = Uscc::compute_check(&s);
        let _ = CitizenId::parse(&s);
        let _ = CitizenId::compute_check(&s);
        let _ = tongban_codes::RegionCode::parse(&s);
        let _ = LicenceTypeCode::parse(&s);
        let _ = LicenceIdentifier::parse(&s);
        let _ = s.parse::<HolderCode>();
        let _ = mod37_36_check_char(&s);
        let _ = mod37_36_is_valid(&s);
    }

    /// Identifier parsing never panics on input with the right prefix.
    #[test]
    fn identifier_parse_does_not_panic(s in "1\\.2\\.156\\.3005\\.2(\\.\\PC{0,25}){0,7}") {
        let _ = LicenceIdentifier::parse(&s);
    }
}
