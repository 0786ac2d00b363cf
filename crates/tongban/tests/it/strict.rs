//! Files the command reads are read strictly: a licence with two `name`
//! members verifies on no path, an issue request with a misspelt member
//! issues nothing, and the serve configuration refuses a repeated key.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::{MARKET, business_request_json, json_of, ok, tongban};

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_licence_with_two_names_verifies_on_no_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    ok(&tongban(&data, &["init"]));
    let request = write(
        &dir.path().join("request.json"),
        &business_request_json().to_string(),
    );
    let issued = crate::issue_business_licence(&data, &request);
    let identifier = issued["licence"]["identifier"].as_str().unwrap().to_owned();
    let export = dir.path().join("export");
    let anchor = crate::export_for_bank(&data, &identifier, &export);
    let trust = export.join("trust.json");
    let text = std::fs::read_to_string(export.join("licence.json")).unwrap();
    let licence: Value = serde_json::from_str(&text).unwrap();
    let method = licence["proof"]["verificationMethod"]
        .as_str()
        .unwrap()
        .to_owned();
    let holder = licence["credentialSubject"]["name"].as_str().unwrap();

    // The exported file is pretty-printed: the holder's name is on its own line.
    let signed = format!("\"name\": \"{holder}\"");
    assert!(text.contains(&signed), "{text}");
    let forgeries = [
        (
            "forged name last",
            text.replacen(&signed, &format!("{signed}, \"name\": \"另一家公司\""), 1),
        ),
        (
            "forged name first",
            text.replacen(&signed, &format!("\"name\": \"另一家公司\", {signed}"), 1),
        ),
    ];
    for (what, forged) in forgeries {
        let file = write(&dir.path().join("forged.json"), &forged);
        // Online, against the hub's store: refused as the file is read,
        // as a file that is not JSON is.
        let out = tongban(&data, &["--json", "licence", "verify", &file]);
        assert_eq!(out.status.code(), Some(1), "{what}");
        let answer = json_of(&out);
        assert_eq!(
            answer["error"]["code"], "DUPLICATE_MEMBER",
            "{what}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/credentialSubject/name"),
            "{what}: {answer}"
        );
        // Offline with the trust file and anchor, and with the bare key.
        let nowhere = dir.path().join("nowhere");
        for args in [
            vec![
                "--json",
                "licence",
                "verify",
                &file,
                "--trust",
                trust.to_str().unwrap(),
                "--anchor",
                anchor.trim(),
            ],
            vec!["--json", "licence", "verify", &file, "--key", &method],
        ] {
            // Checked and not valid: exit 3.
            let out = tongban(&nowhere, &args);
            assert_eq!(out.status.code(), Some(3), "{what}: {args:?}");
            let answer = json_of(&out);
            assert_eq!(answer["valid"], false, "{what}: {answer}");
            assert_eq!(
                answer["problems"][0]["code"], "DUPLICATE_MEMBER",
                "{what}: {answer}"
            );
            assert_eq!(answer["problems"].as_array().unwrap().len(), 1, "{answer}");
        }
    }
    // The export as it is verifies with the trust file (the bare key
    // knows no status list, so only that path can say valid).
    let file = export.join("licence.json");
    let out = crate::verify_with_trust(
        &dir.path().join("nowhere"),
        file.to_str().unwrap(),
        trust.to_str().unwrap(),
        anchor.trim(),
        None,
    );
    assert_eq!(json_of(&out)["valid"], true);

    // A trust file that names its expiry twice is refused as it is read.
    let trust_text = std::fs::read_to_string(&trust).unwrap();
    let repeated = trust_text.replacen(
        "\"validUntil\":",
        "\"validUntil\": \"2099-01-01T00:00:00Z\", \"validUntil\":",
        1,
    );
    assert_ne!(repeated, trust_text);
    let trust_file = write(&dir.path().join("trust-twice.json"), &repeated);
    let out = crate::verify_with_trust(
        &dir.path().join("nowhere"),
        file.to_str().unwrap(),
        &trust_file,
        anchor.trim(),
        None,
    );
    assert_eq!(json_of(&out)["error"]["code"], "DUPLICATE_MEMBER");
}

#[test]
fn issue_request_files_have_exactly_their_members() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    ok(&tongban(&data, &["init"]));
    let mut misspelt = business_request_json();
    misspelt["vaildUntil"] = "2027-01-01T00:00:00Z".into();
    let text = business_request_json().to_string();
    let cases = [
        ("misspelt validUntil", misspelt.to_string(), "REQUEST_INVALID", "vaildUntil"),
        (
            "holder twice",
            text.replacen("\"holder\":", "\"holder\":{\"name\":\"另一家公司\",\"codeType\":\"001\",\"code\":\"91440114MA5TB0A01K\"},\"holder\":", 1),
            "DUPLICATE_MEMBER",
            "/holder",
        ),
        ("not JSON", text[..text.len() - 1].to_owned(), "MALFORMED_JSON", "not JSON"),
    ];
    for (what, body, code, word) in cases {
        let file = write(&dir.path().join("request.json"), &body);
        let out = crate::issue_licence(&data, MARKET, &file);
        let answer = json_of(&out);
        assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(word),
            "{what}: {answer}"
        );
    }
    let found = json_of(&tongban(
        &data,
        &[
            "--json",
            "licence",
            "find",
            "--holder",
            "91440114MA5TB0A01K",
            "--requester",
            "11440114MB2C00023H",
            "--use-cause",
            "核验",
        ],
    ));
    assert_eq!(found.as_array().unwrap().len(), 0, "nothing was issued");
}

#[test]
fn the_serve_configuration_refuses_a_repeated_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    for (what, text, word) in [
        (
            "repeated key",
            "max_frame = 1048576\nmax_frame = 16777216\n",
            "duplicate key",
        ),
        ("unknown key", "max_frames = 1048576\n", "max_frames"),
        (
            "repeated quota",
            "blob_quota = 1024\npending_quota = 10\nblob_quota = 8589934592\n",
            "duplicate key",
        ),
        ("misspelt quota", "pending_quotas = 10\n", "pending_quotas"),
    ] {
        let config = write(&dir.path().join("serve.toml"), text);
        let out = tongban(&data, &["--json", "serve", "--config", &config]);
        let answer = json_of(&out);
        assert_eq!(
            answer["error"]["code"], "CONFIG_INVALID",
            "{what}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(word), "{what}: {message}");
    }
}

/// One file a command reads: the command with `FILE` where the file goes,
/// the document as written and what the command then says (`None`: it
/// succeeds), and edits of it with the code each must get.
struct Entry {
    what: &'static str,
    args: Vec<String>,
    document: Value,
    as_written: Option<&'static str>,
    edits: Vec<(String, &'static str, String)>,
}

/// `text` with a second `"name":` member, holding `value`, before the
/// first one in the text.
fn repeated(text: &str, name: &str, value: &str) -> String {
    let member = format!("\"{name}\":");
    assert!(text.contains(&member), "{text} has no {member}");
    text.replacen(&member, &format!("{member}{value},{member}"), 1)
}

/// `doc` with `member` added at the JSON pointer `at`.
fn with_member(doc: &Value, at: &str, member: &str) -> String {
    let mut doc = doc.clone();
    doc.pointer_mut(at)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(member.to_owned(), Value::from("x"));
    doc.to_string()
}

/// Every JSON file a command reads: a member given twice is refused with
/// `DUPLICATE_MEMBER` before the command does anything; a member the
/// document does not have is refused with the command's code, naming it.
#[test]
fn every_file_a_command_reads_refuses_repeats_and_unknown_members() {
    const CIVIL: &str = "11440114MB2C00015N";
    const XINHUA: &str = "11440114MB2C00023H";
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let data = dir.path().join("hub");
    ok(&tongban(&data, &["init"]));
    ok(&tongban(&data, &["ca", "init"]));
    let card = path("card.json");
    ok(&tongban(
        &data,
        &[
            "peer",
            "card",
            "--address",
            "127.0.0.1:4433",
            "--out",
            &card,
        ],
    ));
    let key = path("xinhua/exchange.key");
    ok(&tongban(
        &dir.path().join("no-hub"),
        &["key", "generate", "--owner", XINHUA, "--out", &key],
    ));
    let read = |file: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    };
    let registration = read(&path("xinhua/exchange.key.registration.json"));
    let card = read(&card);
    // Commands that reach a hub read their file first: no credentials are
    // needed to see the file refused.
    let no_credentials = path("no-credentials");
    let client = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend([
            "--credentials".to_owned(),
            no_credentials.clone(),
            "--connect-timeout".to_owned(),
            "1s".to_owned(),
        ]);
        all
    };
    let args = |a: &[&str]| -> Vec<String> { a.iter().map(|s| (*s).to_owned()).collect() };
    let draft = serde_json::json!({
        "id": "market-registrations", "name": "新设市场主体登记信息",
        "schema": "business-registration@1",
        "fields": [{"name": "uscc", "label": "统一社会信用代码"}],
        "sharingType": "无条件共享", "tags": ["市场主体"]
    });
    let item = serde_json::json!({
        "code": "440114-GZ-0201", "name": "建设工程规划许可证核发", "itemType": "承诺件",
        "legalLimitDays": 20, "promisedLimitDays": 10,
        "materials": [{"name": "营业执照", "licenceType": "11100000TB0000001K001"}],
        "resultType": "11100000TB0000003R001"
    });
    let mut schema: Value = serde_json::from_slice(
        &std::fs::read(crate::repo().join("schemas/messages/business-registration.json")).unwrap(),
    )
    .unwrap();
    schema["x-message-type"]["version"] = "2".into();
    let payload = crate::business_request_json()["data"].clone();
    let entries = [
        Entry {
            what: "catalogue draft",
            args: args(&["catalogue", "publish", "--as", MARKET, "FILE"]),
            as_written: None,
            edits: vec![
                (
                    repeated(&draft.to_string(), "sharingType", "\"不予共享\""),
                    "DUPLICATE_MEMBER",
                    "\"sharingType\"".into(),
                ),
                (
                    with_member(&draft, "", "descripton"),
                    "CATALOGUE_INVALID",
                    "descripton".into(),
                ),
                (
                    with_member(&draft, "/fields/0", "lable"),
                    "CATALOGUE_INVALID",
                    "lable".into(),
                ),
            ],
            document: draft,
        },
        Entry {
            what: "service item draft",
            args: args(&["item", "put", "--as", CIVIL, "FILE"]),
            as_written: None,
            edits: vec![
                (
                    repeated(&item.to_string(), "promisedLimitDays", "1"),
                    "DUPLICATE_MEMBER",
                    "\"promisedLimitDays\"".into(),
                ),
                (
                    with_member(&item, "", "promisedDays"),
                    "ITEM_INVALID",
                    "promisedDays".into(),
                ),
                (
                    with_member(&item, "/materials/0", "licenseType"),
                    "ITEM_INVALID",
                    "licenseType".into(),
                ),
            ],
            document: item,
        },
        Entry {
            what: "message schema",
            args: args(&["schema", "publish", "FILE"]),
            as_written: None,
            edits: vec![(
                repeated(&schema.to_string(), "required", "[]"),
                "DUPLICATE_MEMBER",
                "\"required\"".into(),
            )],
            document: schema,
        },
        Entry {
            what: "key registration request",
            args: args(&["key", "register", "FILE"]),
            as_written: None,
            edits: vec![
                (
                    repeated(&registration.to_string(), "owner", &format!("\"{MARKET}\"")),
                    "DUPLICATE_MEMBER",
                    "\"owner\"".into(),
                ),
                (
                    with_member(&registration, "", "comment"),
                    "KEY_REGISTRATION_INVALID",
                    "comment".into(),
                ),
            ],
            document: registration,
        },
        Entry {
            what: "peer card",
            args: args(&["peer", "add", "FILE"]),
            // The hub's own card: read, then refused for what it says.
            as_written: Some("PEER_IS_SELF"),
            edits: vec![
                (
                    repeated(&card.to_string(), "region", "\"441802\""),
                    "DUPLICATE_MEMBER",
                    "\"region\"".into(),
                ),
                (
                    with_member(&card, "", "adress"),
                    "PEER_CARD_INVALID",
                    "adress".into(),
                ),
            ],
            document: card,
        },
        Entry {
            what: "peer trust list",
            args: args(&["peer", "import-trust", "441802", "FILE"]),
            as_written: Some("PEER_UNKNOWN"),
            edits: vec![(
                r#"{"type":[],"type":[]}"#.into(),
                "DUPLICATE_MEMBER",
                "\"type\"".into(),
            )],
            document: serde_json::json!({"type": []}),
        },
        Entry {
            what: "payload sent",
            args: client(&[
                "send",
                "--to",
                CIVIL,
                "--resource",
                "business-registration",
                "--schema",
                "business-registration@1",
                "--payload",
                "FILE",
            ]),
            as_written: Some("CREDENTIALS_MISSING"),
            edits: vec![(
                repeated(&payload.to_string(), "entityName", "\"另一家公司\""),
                "DUPLICATE_MEMBER",
                "\"entityName\"".into(),
            )],
            document: payload.clone(),
        },
        Entry {
            what: "request payload",
            args: client(&[
                "request",
                "--resource",
                "business-registration",
                "--schema",
                "business-registration@1",
                "--payload",
                "FILE",
            ]),
            as_written: Some("CREDENTIALS_MISSING"),
            edits: vec![(
                repeated(&payload.to_string(), "entityName", "\"另一家公司\""),
                "DUPLICATE_MEMBER",
                "\"entityName\"".into(),
            )],
            document: payload,
        },
        Entry {
            what: "case result",
            args: client(&["case", "result", "--case", "HD-1", "FILE"]),
            as_written: Some("CREDENTIALS_MISSING"),
            edits: vec![(
                repeated(&crate::business_request_json().to_string(), "holder", "{}"),
                "DUPLICATE_MEMBER",
                "\"holder\"".into(),
            )],
            document: crate::business_request_json(),
        },
    ];
    let file = path("input.json");
    let run = |entry: &Entry, text: &str| -> Output {
        std::fs::write(&file, text).unwrap();
        let mut args: Vec<&str> = vec!["--json"];
        args.extend(entry.args.iter().map(|a| {
            if a == "FILE" {
                file.as_str()
            } else {
                a.as_str()
            }
        }));
        tongban(&data, &args)
    };
    for entry in &entries {
        for (text, code, word) in &entry.edits {
            let answer = json_of(&run(entry, text));
            assert_eq!(
                answer["error"]["code"], *code,
                "{}: {text}: {answer}",
                entry.what
            );
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(word.as_str()),
                "{}: {message} does not name {word}",
                entry.what
            );
        }
        let out = run(entry, &entry.document.to_string());
        match entry.as_written {
            None => {
                ok(&out);
            }
            Some(code) => {
                assert_eq!(
                    json_of(&out)["error"]["code"],
                    code,
                    "{}: as written",
                    entry.what
                );
            }
        }
    }
}
