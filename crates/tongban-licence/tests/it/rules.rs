//! The cross-field rules of every shipped licence type, each kept and each
//! broken, at issuance and at verification; and how strictly rules are read.

use serde_json::{Value, json};
use time::{OffsetDateTime, macros::datetime};
use tongban_codes::{CitizenId, HolderCode, HolderCodeType, Sex, synth};
use tongban_licence::credential;
use tongban_licence::{Allocation, Holder, IssueRequest, LicenceType, ProblemCode, verify};

use crate::fixture::{NOW, World, example, options, schemas_dir};

const COMPANY: (&str, &str) = ("广州花都鸿睿启航电子科技有限公司", "91440114MA5TB0A01K");
const HUANG: (&str, &str) = ("黄志强", "441802199503081237");
const CHEN: (&str, &str) = ("陈晓雯", "440117199711212428");
const LIU: (&str, &str) = ("刘桂英", "430921195809120028");
const ZHOU: (&str, &str) = ("周振华", "441802200807160810");

fn type_code(stem: &str) -> &'static str {
    match stem {
        "business-licence" => "11100000TB0000001K001",
        "marriage-certificate" => "11100000TB0000002N001",
        "senior-citizen-card" => "11100000TB0000002N002",
        "construction-planning-permit" => "11100000TB0000003R001",
        "disability-certificate" => "51100000TB0000004Q001",
        other => panic!("no shipped type {other}"),
    }
}

fn citizen((name, id): (&str, &str)) -> Holder {
    Holder {
        name: name.into(),
        code: HolderCode::parse(HolderCodeType::CitizenId, id).unwrap(),
    }
}

fn organisation((name, code): (&str, &str)) -> Holder {
    Holder {
        name: name.into(),
        code: HolderCode::parse(HolderCodeType::Uscc, code).unwrap(),
    }
}

/// A holder whose USCC fails its check character, admitted as a legacy code.
fn legacy_organisation(name: &str, code: &str) -> Holder {
    let code = HolderCode::parse_with(HolderCodeType::Uscc, code, true).unwrap();
    Holder {
        name: name.into(),
        code,
    }
}

/// The example of `stem`, changed by `change`.
fn data(stem: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut data = example(stem);
    change(&mut data);
    data
}

fn synth_citizen(region: &str, birth: (u16, u8, u8), seq: u16, sex: Sex) -> String {
    synth::citizen_id(region, birth, seq, sex)
        .unwrap()
        .to_string()
}

/// The example's ID number with its check character replaced by a wrong one.
fn wrong_check(id: &str) -> String {
    let (body, check) = id.split_at(17);
    let wrong = if check == "0" { "1" } else { "0" };
    assert!(CitizenId::parse(&format!("{body}{wrong}")).is_err());
    format!("{body}{wrong}")
}

fn request(stem: &str, holder: Holder, data: Value) -> IssueRequest {
    IssueRequest {
        type_code: type_code(stem).into(),
        type_version: None,
        holder,
        data,
        valid_from: None,
        valid_until: None,
        service_item: None,
        attachment: None,
    }
}

/// One case: a label, the type, the holder, the subject data, and either
/// `Ok(())` or the exact code and a text the refusal must name (the field).
type Case = (
    &'static str,
    &'static str,
    Holder,
    Value,
    Result<(), (&'static str, &'static str)>,
);

fn check(cases: Vec<Case>, now: OffsetDateTime) {
    let mut world = World::new();
    for (label, stem, holder, data, expect) in cases {
        let result = world.issue(&request(stem, holder, data), true, now);
        match (result, expect) {
            (Ok(_), Ok(())) => {}
            (Err(e), Ok(())) => panic!("{stem} / {label}: refused with {}: {e}", e.code()),
            (Ok(_), Err((code, _))) => panic!("{stem} / {label}: issued, expected {code}"),
            (Err(e), Err((code, names))) => {
                assert_eq!(e.code(), code, "{stem} / {label}: {e}");
                assert!(
                    e.to_string().contains(names),
                    "{stem} / {label}: {e:?} does not name {names:?}"
                );
            }
        }
    }
}

#[test]
fn business_licence_rules() {
    let other = synth::uscc('9', '1', "440114", 4242).unwrap().to_string();
    check(
        vec![
            (
                "uscc and equalsHolderCode kept",
                "business-licence",
                organisation(COMPANY),
                example("business-licence"),
                Ok(()),
            ),
            (
                "uscc: wrong check character",
                "business-licence",
                organisation(COMPANY),
                data("business-licence", |d| {
                    d["uscc"] = "91440114MA5TB0A01X".into()
                }),
                Err(("DATA_CODE_INVALID", "/uscc")),
            ),
            (
                "uscc: the legacy code the holder was admitted with",
                "business-licence",
                legacy_organisation(COMPANY.0, "91440114MA5TB0A01X"),
                data("business-licence", |d| {
                    d["uscc"] = "91440114MA5TB0A01X".into()
                }),
                Ok(()),
            ),
            (
                "uscc: a legacy holder does not excuse another bad code",
                "business-licence",
                legacy_organisation(COMPANY.0, "91440114MA5TB0A01X"),
                data("business-licence", |d| {
                    d["uscc"] = "91440114MA5TB0A01Y".into()
                }),
                Err(("DATA_CODE_INVALID", "USCC_BAD_CHECKSUM")),
            ),
            (
                "equalsHolderCode: another company's valid code",
                "business-licence",
                organisation(COMPANY),
                data("business-licence", |d| d["uscc"] = other.clone().into()),
                Err(("DATA_HOLDER_MISMATCH", "/uscc")),
            ),
        ],
        NOW,
    );
}

#[test]
fn marriage_certificate_rules() {
    let spouse = |i: usize, field: &'static str, value: Value| {
        data("marriage-certificate", move |d| {
            d["spouses"][i][field] = value
        })
    };
    check(
        vec![
            (
                "every rule kept, held by the wife",
                "marriage-certificate",
                citizen(CHEN),
                example("marriage-certificate"),
                Ok(()),
            ),
            (
                "every rule kept, held by the husband",
                "marriage-certificate",
                citizen(HUANG),
                data("marriage-certificate", |d| d["holderName"] = HUANG.0.into()),
                Ok(()),
            ),
            (
                "citizenId: a spouse's check digit is wrong",
                "marriage-certificate",
                citizen(CHEN),
                spouse(0, "idNumber", wrong_check(HUANG.1).into()),
                Err(("DATA_CODE_INVALID", "/spouses/0/idNumber")),
            ),
            (
                "citizenId: a foreign spouse's passport number is not a citizen ID",
                "marriage-certificate",
                citizen(CHEN),
                data("marriage-certificate", |d| {
                    d["spouses"][0]["nationality"] = "美国".into();
                    d["spouses"][0]["idNumber"] = "E12345678".into();
                }),
                Ok(()),
            ),
            (
                "idMatches: a spouse's birth date differs from the ID",
                "marriage-certificate",
                citizen(CHEN),
                spouse(1, "birthDate", "1997-11-22".into()),
                Err(("DATA_ID_INCONSISTENT", "/spouses/1/birthDate")),
            ),
            (
                "idMatches: a spouse's sex differs from the ID",
                "marriage-certificate",
                citizen(CHEN),
                spouse(0, "sex", "女".into()),
                Err(("DATA_ID_INCONSISTENT", "/spouses/0/sex")),
            ),
            (
                "holderAmong: the holder is neither spouse",
                "marriage-certificate",
                citizen(("陈晓雯", LIU.1)),
                example("marriage-certificate"),
                Err(("DATA_HOLDER_MISMATCH", "/spouses")),
            ),
            (
                "holderAmong: the spouse with the holder's ID has another name",
                "marriage-certificate",
                citizen(("陈小雯", CHEN.1)),
                data("marriage-certificate", |d| {
                    d["holderName"] = "陈小雯".into()
                }),
                Err(("DATA_HOLDER_MISMATCH", "/spouses/1/name")),
            ),
            (
                "equalsHolderName: 持证人 names the other spouse",
                "marriage-certificate",
                citizen(CHEN),
                data("marriage-certificate", |d| d["holderName"] = HUANG.0.into()),
                Err(("DATA_HOLDER_MISMATCH", "/holderName")),
            ),
        ],
        NOW,
    );
}

#[test]
fn senior_citizen_card_rules() {
    let born = |birth: (u16, u8, u8)| {
        let id = synth_citizen("430921", birth, 5, Sex::Female);
        let (y, m, d) = birth;
        let card = data("senior-citizen-card", |data| {
            data["idNumber"] = id.clone().into();
            data["birthDate"] = format!("{y:04}-{m:02}-{d:02}").into();
        });
        (citizen((LIU.0, &id)), card)
    };
    let (sixty_today, sixty_today_card) = born((1966, 11, 25));
    let (sixty_tomorrow, sixty_tomorrow_card) = born((1966, 11, 26));
    let (young, young_card) = born((2000, 3, 1));
    let someone_else = synth_citizen("430921", (1958, 9, 12), 7, Sex::Female);
    check(
        vec![
            (
                "every rule kept",
                "senior-citizen-card",
                citizen(LIU),
                example("senior-citizen-card"),
                Ok(()),
            ),
            (
                "citizenId: wrong check digit",
                "senior-citizen-card",
                citizen(LIU),
                data("senior-citizen-card", |d| {
                    d["idNumber"] = wrong_check(LIU.1).into()
                }),
                Err(("DATA_CODE_INVALID", "/idNumber")),
            ),
            (
                "equalsHolderCode: the card is someone else's",
                "senior-citizen-card",
                citizen((LIU.0, &someone_else)),
                example("senior-citizen-card"),
                Err(("DATA_HOLDER_MISMATCH", "/idNumber")),
            ),
            (
                "equalsHolderName: another name",
                "senior-citizen-card",
                citizen(("刘桂兰", LIU.1)),
                example("senior-citizen-card"),
                Err(("DATA_HOLDER_MISMATCH", "/name")),
            ),
            (
                "idMatches: birth date",
                "senior-citizen-card",
                citizen(LIU),
                data("senior-citizen-card", |d| {
                    d["birthDate"] = "1958-09-13".into()
                }),
                Err(("DATA_ID_INCONSISTENT", "/birthDate")),
            ),
            (
                "idMatches: sex",
                "senior-citizen-card",
                citizen(LIU),
                data("senior-citizen-card", |d| d["sex"] = "男".into()),
                Err(("DATA_ID_INCONSISTENT", "/sex")),
            ),
            (
                "minAgeAtIssue: 60 on the issue date",
                "senior-citizen-card",
                sixty_today,
                sixty_today_card,
                Ok(()),
            ),
            (
                "minAgeAtIssue: 60 the day after",
                "senior-citizen-card",
                sixty_tomorrow,
                sixty_tomorrow_card,
                Err((
                    "DATA_AGE_BELOW_MINIMUM",
                    "59 years old on the issue date 2026-11-25",
                )),
            ),
            (
                "minAgeAtIssue: born in 2000",
                "senior-citizen-card",
                young,
                young_card,
                Err(("DATA_AGE_BELOW_MINIMUM", "/idNumber")),
            ),
        ],
        NOW,
    );
}

#[test]
fn the_issue_date_is_counted_in_china_standard_time() {
    let id = synth_citizen("430921", (1966, 11, 25), 5, Sex::Female);
    let card = data("senior-citizen-card", |d| {
        d["idNumber"] = id.clone().into();
        d["birthDate"] = "1966-11-25".into();
    });
    let holder = || citizen((LIU.0, &id));
    check(
        vec![
            // 2026-11-24T16:00Z is 2026-11-25 00:00 in 北京时间: the 60th birthday.
            (
                "first second of the birthday",
                "senior-citizen-card",
                holder(),
                card.clone(),
                Ok(()),
            ),
        ],
        datetime!(2026-11-24 16:00 UTC),
    );
    check(
        vec![(
            "last second before it",
            "senior-citizen-card",
            holder(),
            card,
            Err(("DATA_AGE_BELOW_MINIMUM", "2026-11-24")),
        )],
        datetime!(2026-11-24 15:59:59 UTC),
    );
}

#[test]
fn disability_certificate_rules() {
    // Born the same day as 周振华, also male: only the number tells them apart.
    let twin = synth_citizen("441802", (2008, 7, 16), 7, Sex::Male);
    check(
        vec![
            (
                "every rule kept",
                "disability-certificate",
                citizen(ZHOU),
                example("disability-certificate"),
                Ok(()),
            ),
            (
                "numberFromHolderCode: the number is built from another ID",
                "disability-certificate",
                citizen((ZHOU.0, &twin)),
                example("disability-certificate"),
                Err(("DATA_NUMBER_MISMATCH", "/certificateNumber")),
            ),
            (
                "equalsHolderName: another name",
                "disability-certificate",
                citizen(("陈志明", ZHOU.1)),
                example("disability-certificate"),
                Err(("DATA_HOLDER_MISMATCH", "/name")),
            ),
            (
                "idMatches: birth date",
                "disability-certificate",
                citizen(ZHOU),
                data("disability-certificate", |d| {
                    d["birthDate"] = "2008-06-16".into()
                }),
                Err(("DATA_ID_INCONSISTENT", "/birthDate")),
            ),
            (
                "idMatches: sex",
                "disability-certificate",
                citizen(ZHOU),
                data("disability-certificate", |d| d["sex"] = "女".into()),
                Err(("DATA_ID_INCONSISTENT", "/sex")),
            ),
        ],
        NOW,
    );
}

#[test]
fn construction_planning_permit_has_no_rules() {
    let world = World::new();
    let permit = world
        .types
        .latest(type_code("construction-planning-permit"))
        .unwrap();
    assert!(permit.rules().is_empty());
    check(
        vec![
            (
                "issued to an organisation",
                "construction-planning-permit",
                organisation(COMPANY),
                example("construction-planning-permit"),
                Ok(()),
            ),
            (
                "issued to a citizen",
                "construction-planning-permit",
                citizen(LIU),
                example("construction-planning-permit"),
                Ok(()),
            ),
        ],
        NOW,
    );
}

#[test]
fn every_shipped_type_declares_its_rules() {
    let world = World::new();
    let count = |stem| world.types.latest(type_code(stem)).unwrap().rules().len();
    assert_eq!(count("business-licence"), 2);
    assert_eq!(count("marriage-certificate"), 4);
    assert_eq!(count("senior-citizen-card"), 5);
    assert_eq!(count("construction-planning-permit"), 0);
    assert_eq!(count("disability-certificate"), 3);
}

#[test]
fn every_violation_is_named_and_the_first_gives_the_code() {
    let mut world = World::new();
    let card = data("senior-citizen-card", |d| {
        d["birthDate"] = "1958-09-13".into();
        d["sex"] = "男".into();
    });
    let err = world
        .issue(
            &request("senior-citizen-card", citizen(("刘桂兰", LIU.1)), card),
            true,
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), "DATA_HOLDER_MISMATCH");
    let message = err.to_string();
    for part in [
        "/name",
        "/birthDate is 1958-09-13",
        "/sex",
        "(DATA_ID_INCONSISTENT)",
    ] {
        assert!(message.contains(part), "{message} lacks {part}");
    }
    // Citizen ID numbers are personal: refusals never repeat them.
    assert!(!message.contains(LIU.1), "{message}");
}

/// A licence signed without `check_request`, as a careless or older issuer might.
fn sign_unchecked(world: &World, request: &IssueRequest, index: u32) -> Value {
    let licence_type = world.types.latest(&request.type_code).unwrap();
    let allocation = Allocation {
        serial: format!("20261125{index:06}"),
        version: 1,
        list_sequence: 0,
        status_index: index,
    };
    credential::issue(
        licence_type,
        request,
        &world.market.issuer(),
        &allocation,
        NOW,
    )
    .unwrap()
    .credential
}

#[test]
fn verification_reports_broken_rules() {
    let world = World::new();
    let trust = world.trust();
    let young = synth_citizen("430921", (2000, 3, 1), 3, Sex::Female);
    let cases = [
        (
            request(
                "business-licence",
                organisation(COMPANY),
                data("business-licence", |d| {
                    d["uscc"] = "91440114MA5TB0A01X".into()
                }),
            ),
            vec![
                ProblemCode::DataCodeInvalid,
                ProblemCode::DataHolderMismatch,
            ],
        ),
        (
            request(
                "senior-citizen-card",
                citizen((LIU.0, &young)),
                data("senior-citizen-card", |d| {
                    d["idNumber"] = young.clone().into();
                    d["birthDate"] = "2000-03-01".into();
                }),
            ),
            vec![ProblemCode::DataAgeBelowMinimum],
        ),
        (
            // Neither spouse, and not the 持证人 named.
            request(
                "marriage-certificate",
                citizen(LIU),
                example("marriage-certificate"),
            ),
            vec![
                ProblemCode::DataHolderMismatch,
                ProblemCode::DataHolderMismatch,
            ],
        ),
        (
            request(
                "disability-certificate",
                citizen(ZHOU),
                data("disability-certificate", |d| d["sex"] = "女".into()),
            ),
            vec![ProblemCode::DataIdInconsistent],
        ),
    ];
    for (i, (request, expected)) in cases.into_iter().enumerate() {
        let credential = sign_unchecked(&world, &request, 900 + u32::try_from(i).unwrap());
        let result = verify(&trust, credential, options());
        assert!(!result.valid, "{}", request.type_code);
        let codes: Vec<ProblemCode> = result.problems.iter().map(|p| p.code).collect();
        assert_eq!(
            codes, expected,
            "{}: {:?}",
            request.type_code, result.problems
        );
    }
}

#[test]
fn a_licence_of_a_legacy_holder_verifies() {
    let mut world = World::new();
    let legacy = "91440114MA5TB0A01X";
    let request = request(
        "business-licence",
        legacy_organisation(COMPANY.0, legacy),
        data("business-licence", |d| d["uscc"] = legacy.into()),
    );
    let licence = world.issue(&request, true, NOW).unwrap();
    let result = verify(&world.trust(), licence.credential, options());
    assert!(result.valid, "{:?}", result.problems);
}

// ---- Reading rules -------------------------------------------------------

fn business_schema_with(rules: Value) -> Value {
    let path = schemas_dir().join("business-licence.json");
    let mut schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    schema["x-licence-rules"] = rules;
    schema
}

fn marriage_schema_with(rules: Value) -> Value {
    let path = schemas_dir().join("marriage-certificate.json");
    let mut schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    schema["x-licence-rules"] = rules;
    schema
}

#[test]
fn rules_are_read_strictly_when_a_type_is_registered() {
    let too_many: Vec<Value> = (0..65)
        .map(|_| json!({"check": "uscc", "field": "/uscc"}))
        .collect();
    let cases = [
        (
            business_schema_with(json!({"check": "uscc"})),
            "must be an array",
        ),
        (business_schema_with(json!(too_many)), "at most 64"),
        (
            business_schema_with(json!(["uscc"])),
            "a rule is a JSON object",
        ),
        (
            business_schema_with(json!([{"field": "/uscc"}])),
            "\"check\"",
        ),
        (
            business_schema_with(json!([{"check": "luhn", "field": "/uscc"}])),
            "unknown check \"luhn\"",
        ),
        (
            business_schema_with(json!([{"check": "uscc", "field": "/uscc", "feild": "/uscc"}])),
            "unknown member \"feild\"",
        ),
        (
            business_schema_with(json!([{"check": "uscc"}])),
            "\"field\" is required",
        ),
        (
            business_schema_with(json!([{"check": "uscc", "field": "uscc"}])),
            "starts with /",
        ),
        (
            business_schema_with(json!([{"check": "uscc", "field": "/usc"}])),
            "/usc is not a property the schema declares",
        ),
        (
            business_schema_with(json!([{"check": "uscc", "field": "/uscc~2"}])),
            "~ not followed by 0 or 1",
        ),
        (
            business_schema_with(json!([{"check": "uscc", "field": 7}])),
            "JSON pointer string",
        ),
        (
            business_schema_with(json!([{"check": "uscc", "each": "/uscc", "field": "/x"}])),
            "/uscc is not declared as an array",
        ),
        (
            business_schema_with(json!([{"check": "holderAmong", "field": "/uscc"}])),
            "needs \"each\"",
        ),
        (
            business_schema_with(json!([{"check": "idMatches", "id": "/uscc"}])),
            "\"birthDate\" or \"sex\"",
        ),
        (
            // 营业执照 holders are organisations: there is no holder's ID to read.
            business_schema_with(
                json!([{"check": "idMatches", "id": "holder", "birthDate": "/establishedDate"}]),
            ),
            "issued to citizens (111) only",
        ),
        (
            business_schema_with(json!([{"check": "minAgeAtIssue", "years": 0, "id": "/uscc"}])),
            "\"years\" is a whole number from 1 to 150",
        ),
        (
            business_schema_with(json!([{"check": "minAgeAtIssue", "years": "60", "id": "/uscc"}])),
            "\"years\" is a whole number",
        ),
        (
            business_schema_with(json!([{"check": "minAgeAtIssue", "years": 60}])),
            "\"id\" is required",
        ),
        (
            business_schema_with(
                json!([{"check": "uscc", "field": "/uscc", "when": {"field": "/uscc"}}]),
            ),
            "\"equals\"",
        ),
        (
            business_schema_with(
                json!([{"check": "uscc", "field": "/uscc", "when": {"field": "/nope", "equals": "x"}}]),
            ),
            "/nope is not a property",
        ),
        (
            marriage_schema_with(
                json!([{"check": "citizenId", "each": "/spouses", "field": "/spouses/0/idNumber"}]),
            ),
            "/spouses/0/idNumber is not a property",
        ),
    ];
    for (schema, hint) in cases {
        let rules = schema["x-licence-rules"].clone();
        let err = LicenceType::from_schema(schema).unwrap_err();
        assert_eq!(err.code(), "LICENCE_TYPE_RULES_INVALID", "{rules}: {err}");
        assert!(
            err.to_string().contains(hint),
            "{rules}: {err} lacks {hint:?}"
        );
    }
    // Pointers inside an item follow the items' $ref.
    let ok = marriage_schema_with(json!([
        {"check": "citizenId", "each": "/spouses", "field": "/idNumber",
         "when": {"field": "/nationality", "equals": "中国"}}
    ]));
    assert_eq!(LicenceType::from_schema(ok).unwrap().rules().len(), 1);
}

#[test]
fn codes_must_be_written_as_printed() {
    // A type whose schema leaves the case of letters open: the rules still
    // refuse a code that only parses once upper-cased, rather than change it.
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "x-licence-type": {"code": "11100000TB0000001K099", "name": "测试证", "version": "1",
                           "holderCodeTypes": ["001"]},
        "x-licence-rules": [
            {"check": "uscc", "field": "/code"},
            {"check": "citizenId", "field": "/person"}
        ],
        "type": "object",
        "properties": {
            "code": {"type": "string", "maxLength": 18},
            "person": {"type": "string", "maxLength": 18}
        }
    });
    let t = LicenceType::from_schema(schema).unwrap();
    let holder = HolderCode::parse(HolderCodeType::Uscc, COMPANY.1).unwrap();
    let facts = tongban_licence::Facts {
        holder_name: COMPANY.0,
        holder_code: &holder,
        issue_date: None,
    };
    let x_id = "11010519491231002X";
    assert!(
        t.check_rules(&json!({"code": COMPANY.1, "person": x_id}), &facts)
            .is_ok()
    );
    for (data, text) in [
        (
            json!({"code": COMPANY.1.to_lowercase()}),
            "/code must be written in upper case",
        ),
        (
            json!({"person": x_id.to_lowercase()}),
            "/person must be written with an upper-case X",
        ),
        (json!({"code": 91440114}), "/code is not a string"),
    ] {
        let problems = t.check_rules(&data, &facts).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].code, ProblemCode::DataCodeInvalid);
        assert!(problems[0].message.contains(text), "{problems:?}");
    }
}

#[test]
fn every_free_text_field_of_a_shipped_type_has_a_length_limit() {
    fn walk(node: &Value, at: &str, missing: &mut Vec<String>) {
        match node {
            Value::Object(o) => {
                let free_text = o.get("type") == Some(&json!("string"))
                    && !o.contains_key("enum")
                    && !o.contains_key("const");
                if free_text && !o.contains_key("maxLength") {
                    missing.push(at.to_owned());
                }
                for (k, v) in o {
                    walk(v, &format!("{at}/{k}"), missing);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(schemas_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            walk(&schema, &path.display().to_string(), &mut missing);
        }
    }
    assert!(missing.is_empty(), "strings without maxLength: {missing:?}");
}

#[test]
fn every_problem_code_is_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/LICENCE-FORMAT.md"),
    )
    .unwrap();
    for code in ProblemCode::ALL {
        assert!(
            doc.contains(&format!("| `{code}` |")),
            "docs/LICENCE-FORMAT.md does not list {code}"
        );
    }
}
