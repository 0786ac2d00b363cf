use tongban_codes::{CitizenId, RegionCode, Sex, Uscc, synth};

#[test]
fn uscc_is_valid_and_deterministic() {
    for (authority, category, region, seq) in [
        ('9', '1', "440100", 0),
        ('9', '1', "441802", 1),
        ('1', '1', "100000", 1333),
        ('5', '2', "430921", 99_999_999),
        ('y', '1', "110000", 42),
    ] {
        let a = synth::uscc(authority, category, region, seq).unwrap();
        let b = synth::uscc(authority, category, region, seq).unwrap();
        assert_eq!(a, b);
        assert!(a.checksum_ok());
        assert_eq!(a.region_code(), region);
        assert_eq!(a.registration_authority(), authority.to_ascii_uppercase());
        assert_eq!(Uscc::parse(a.as_str()).unwrap(), a);
    }
}

#[test]
fn uscc_reproduces_published_shape() {
    // The same layout rules regenerate the published central-authority code.
    let c = synth::uscc('1', '1', "100000", 1333).unwrap();
    assert_eq!(c.as_str(), "11100000000013338W");
    let c = synth::uscc('1', '1', "330105", 250_028).unwrap();
    assert_eq!(c.as_str(), "11330105002500287C");
}

#[test]
fn citizen_id_is_valid_and_deterministic() {
    let region = RegionCode::parse("441802").unwrap();
    for seq in [0u16, 1, 250, 499] {
        for sex in [Sex::Male, Sex::Female] {
            let id = synth::citizen_id(region.as_str(), (1988, 11, 11), seq, sex).unwrap();
            assert_eq!(
                id,
                synth::citizen_id("441802", (1988, 11, 11), seq, sex).unwrap()
            );
            assert_eq!(id.sex(), sex);
            assert_eq!(id.birth_date(), (1988, 11, 11));
            assert_eq!(id.region(), Some(region.clone()));
            assert_eq!(CitizenId::parse(id.as_str()).unwrap(), id);
        }
    }
}

#[test]
fn errors_are_returned_not_panicked() {
    let code = |r: Result<Uscc, tongban_codes::CodeError>| r.unwrap_err().code();
    assert_eq!(
        code(synth::uscc('9', '1', "4401", 1)),
        "REGION_CODE_INVALID"
    );
    assert_eq!(code(synth::uscc('O', '1', "440100", 1)), "USCC_BAD_CHAR");
    assert_eq!(code(synth::uscc('9', '统', "440100", 1)), "USCC_BAD_CHAR");
    assert_eq!(
        code(synth::uscc('9', '1', "440100", u32::MAX)),
        "SYNTH_OUT_OF_RANGE"
    );
    let cid = |r: Result<CitizenId, tongban_codes::CodeError>| r.unwrap_err().code();
    assert_eq!(
        cid(synth::citizen_id("44x101", (1990, 1, 1), 1, Sex::Male)),
        "REGION_CODE_INVALID"
    );
    assert_eq!(
        cid(synth::citizen_id("440101", (1799, 1, 1), 1, Sex::Male)),
        "CITIZEN_ID_BAD_DATE"
    );
    assert_eq!(
        cid(synth::citizen_id(
            "440101",
            (1990, 1, 1),
            u16::MAX,
            Sex::Female
        )),
        "SYNTH_OUT_OF_RANGE"
    );
}
