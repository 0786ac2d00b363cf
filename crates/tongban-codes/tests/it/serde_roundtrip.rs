use serde::{Deserialize, Serialize};
use tongban_codes::{
    CitizenId, HolderCode, HolderCodeType, LicenceIdentifier, LicenceTypeCode, RegionCode,
    RegionLevel, Sex, Uscc,
};

const ID: &str = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0";

/// Serialises to the canonical JSON string and deserialises back.
#[track_caller]
fn round_trip<T>(value: &T, canonical: &str)
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    assert_eq!(json, serde_json::to_string(canonical).unwrap());
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value);
}

#[track_caller]
fn rejects<T>(json: &str)
where
    T: for<'de> Deserialize<'de> + std::fmt::Debug,
{
    let r = serde_json::from_str::<T>(json);
    assert!(r.is_err(), "{json} was accepted as {r:?}");
}

#[test]
fn canonical_strings_round_trip() {
    round_trip(
        &Uscc::parse("11330105002500287c").unwrap(),
        "11330105002500287C",
    );
    round_trip(
        &CitizenId::parse("11010519491231002x").unwrap(),
        "11010519491231002X",
    );
    round_trip(&RegionCode::parse("440114").unwrap(), "440114");
    round_trip(
        &LicenceTypeCode::parse("11100000000013338W009").unwrap(),
        "11100000000013338W009",
    );
    round_trip(&LicenceIdentifier::parse(ID).unwrap(), ID);
    round_trip(&HolderCodeType::CitizenId, "111");
    round_trip(&HolderCodeType::Uscc, "001");
    round_trip(
        &HolderCode::parse(HolderCodeType::Uscc, "11330105002500287C").unwrap(),
        "001:11330105002500287C",
    );
    round_trip(
        &HolderCode::parse(HolderCodeType::CitizenId, "11010519491231002X").unwrap(),
        "111:11010519491231002X",
    );
    round_trip(&Sex::Female, "female");
    round_trip(&RegionLevel::Prefecture, "prefecture");
}

#[test]
fn deserialisation_canonicalises() {
    let u: Uscc = serde_json::from_str("\"11330105002500287c\"").unwrap();
    assert_eq!(u.as_str(), "11330105002500287C");
    let id: LicenceIdentifier =
        serde_json::from_str(&format!("\"{}\"", ID.to_lowercase())).unwrap();
    assert_eq!(id.as_str(), ID);
}

#[test]
fn invalid_strings_are_rejected() {
    rejects::<Uscc>("\"11330105002500287I\"");
    rejects::<Uscc>("\"1133010500250028\"");
    rejects::<Uscc>("18");
    rejects::<Uscc>("null");
    rejects::<CitizenId>("\"110105194912310021\"");
    rejects::<CitizenId>("\"110105194902300028\"");
    rejects::<CitizenId>("11010519491231002");
    rejects::<RegionCode>("\"000000\"");
    rejects::<RegionCode>("440114");
    rejects::<LicenceTypeCode>("\"11100000000013338W0A9\"");
    rejects::<LicenceIdentifier>(&format!("\"{}\"", ID.replace(".002.0", ".002.1")));
    rejects::<LicenceIdentifier>("\"1.2.156.3005.2\"");
    rejects::<HolderCodeType>("\"002\"");
    rejects::<HolderCodeType>("111");
    rejects::<HolderCode>("\"11330105002500287C\"");
    rejects::<HolderCode>("\"111:11330105002500287C\"");
    rejects::<Sex>("\"other\"");
}

#[test]
fn error_message_comes_from_the_parser() {
    let err = serde_json::from_str::<Uscc>("\"11330105002500287I\"").unwrap_err();
    assert!(err.to_string().contains("position 18"), "{err}");
    let err = serde_json::from_str::<Uscc>("7").unwrap_err();
    assert!(
        err.to_string().contains("unified social credit code"),
        "{err}"
    );
}

/// Deserialisation of a `Uscc` follows the type's invariant (length and
/// alphabet, checksum recorded), so legacy codes survive storage round trips;
/// `Uscc::deserialize_strict` rejects them.
#[test]
fn uscc_checksum_leniency() {
    let legacy: Uscc = serde_json::from_str("\"11330105002500287D\"").unwrap();
    assert!(!legacy.checksum_ok());
    round_trip(&legacy, "11330105002500287D");

    #[derive(Debug, Deserialize)]
    struct Strict {
        #[serde(deserialize_with = "Uscc::deserialize_strict")]
        #[allow(dead_code)]
        code: Uscc,
    }
    assert!(serde_json::from_str::<Strict>(r#"{"code":"11330105002500287C"}"#).is_ok());
    let err = serde_json::from_str::<Strict>(r#"{"code":"11330105002500287D"}"#).unwrap_err();
    assert!(err.to_string().contains("check character"), "{err}");

    let holder: HolderCode = serde_json::from_str("\"001:11330105002500287D\"").unwrap();
    round_trip(&holder, "001:11330105002500287D");
    assert!("001:11330105002500287D".parse::<HolderCode>().is_err());
}

#[test]
fn inside_a_struct() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        id: LicenceIdentifier,
        holder: HolderCode,
        region: RegionCode,
    }
    let rec = Record {
        id: LicenceIdentifier::parse(ID).unwrap(),
        holder: "111:11010519491231002X".parse().unwrap(),
        region: RegionCode::parse("441802").unwrap(),
    };
    let json = serde_json::to_string(&rec).unwrap();
    assert_eq!(
        json,
        format!(r#"{{"id":"{ID}","holder":"111:11010519491231002X","region":"441802"}}"#)
    );
    assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), rec);
}
