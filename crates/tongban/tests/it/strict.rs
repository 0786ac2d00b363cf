//! Files the command reads are read strictly: a licence with two `name`
//! members verifies on no path, an issue request with a misspelt member
//! issues nothing, and the serve configuration refuses a repeated key.

use std::path::Path;

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
    let issued = json_of(&tongban(
        &data,
        &[
            "--json",
            "licence",
            "issue",
            "--issuer",
            MARKET,
            "--request",
            &request,
        ],
    ));
    let identifier = issued["licence"]["identifier"].as_str().unwrap().to_owned();
    let export = dir.path().join("export");
    ok(&tongban(
        &data,
        &[
            "licence",
            "export",
            &identifier,
            "--out",
            export.to_str().unwrap(),
            "--requester",
            "银行",
            "--use-cause",
            "开立对公账户",
        ],
    ));
    let anchor = std::fs::read_to_string(export.join("anchor.txt")).unwrap();
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
    let out = tongban(
        &dir.path().join("nowhere"),
        &[
            "--json",
            "licence",
            "verify",
            file.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--anchor",
            anchor.trim(),
        ],
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
    let out = tongban(
        &dir.path().join("nowhere"),
        &[
            "--json",
            "licence",
            "verify",
            file.to_str().unwrap(),
            "--trust",
            &trust_file,
            "--anchor",
            anchor.trim(),
        ],
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
        let out = tongban(
            &data,
            &[
                "--json",
                "licence",
                "issue",
                "--issuer",
                MARKET,
                "--request",
                &file,
            ],
        );
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
