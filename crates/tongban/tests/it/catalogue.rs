//! `tongban catalogue` from the command line: publish, search in Chinese,
//! update, retire, and refusals with their codes.

use serde_json::json;

use crate::{MARKET, json_of, ok, tongban};

const CIVIL: &str = "11440114MB2C00015N";

#[test]
fn publish_search_update_and_retire_from_the_command_line() {
    crate::each_backend(
        "publish_search_update_and_retire_from_the_command_line",
        || {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("hub");
            ok(&tongban(&data, &["init"]));
            let file = dir.path().join("resource.json");
            let write = |v: serde_json::Value| {
                std::fs::write(&file, serde_json::to_vec(&v).unwrap()).unwrap()
            };
            write(json!({
                "id": "market-registrations",
                "name": "新设市场主体登记信息",
                "description": "新设立登记的企业、个体工商户，含营业执照信息",
                "schema": "business-registration@1",
                "fields": [{"name": "uscc", "label": "统一社会信用代码"}],
                "sharingType": "无条件共享",
                "updateFrequency": "real-time",
                "tags": ["市场主体", "企业开办"]
            }));
            let f = file.to_str().unwrap();
            let published = json_of(&tongban(
                &data,
                &["--json", "catalogue", "publish", "--as", MARKET, f],
            ));
            assert_eq!(published["version"], 1);
            assert_eq!(published["sharingType"], "unconditional");

            let found = json_of(&tongban(
                &data,
                &["--json", "catalogue", "search", "营业执照"],
            ));
            assert_eq!(found[0]["id"], "market-registrations");
            let found = json_of(&tongban(
                &data,
                &[
                    "--json",
                    "catalogue",
                    "search",
                    "企业",
                    "开办",
                    "--sharing",
                    "unconditional",
                ],
            ));
            assert_eq!(found.as_array().unwrap().len(), 1);
            let text = ok(&tongban(
                &data,
                &["catalogue", "search", "统一社会信用代码"],
            ));
            assert!(
                text.contains("market-registrations") && text.contains("无条件共享"),
                "{text}"
            );

            // Another department may not publish over it.
            let out = tongban(&data, &["--json", "catalogue", "update", "--as", CIVIL, f]);
            assert!(!out.status.success());
            assert_eq!(json_of(&out)["error"]["code"], "CATALOGUE_NOT_PROVIDER");
            // An unknown schema is refused.
            write(
                json!({"id": "x", "name": "x", "schema": "nothing@1", "sharingType": "conditional"}),
            );
            let out = tongban(
                &data,
                &["--json", "catalogue", "publish", "--as", MARKET, f],
            );
            assert_eq!(json_of(&out)["error"]["code"], "SCHEMA_UNKNOWN");

            let retired = json_of(&tongban(
                &data,
                &[
                    "--json",
                    "catalogue",
                    "retire",
                    "--as",
                    MARKET,
                    "market-registrations",
                ],
            ));
            assert_eq!(retired["status"], "retired");
            let found = json_of(&tongban(
                &data,
                &["--json", "catalogue", "search", "营业执照"],
            ));
            assert!(found.as_array().unwrap().is_empty());
            let history = json_of(&tongban(
                &data,
                &[
                    "--json",
                    "catalogue",
                    "show",
                    "market-registrations",
                    "--history",
                ],
            ));
            assert_eq!(history.as_array().unwrap().len(), 2);
        },
    );
}

#[test]
fn conditional_access_from_the_command_line() {
    crate::each_backend("conditional_access_from_the_command_line", || {
        const STREET: &str = "11440114MB2C00023H";
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init"]));
        let file = dir.path().join("resource.json");
        std::fs::write(
        &file,
        serde_json::to_vec(&json!({
            "id": "civil-marriages", "name": "婚姻登记信息", "schema": "business-registration@1",
            "sharingType": "有条件共享", "tags": ["婚姻"]
        }))
        .unwrap(),
    )
    .unwrap();
        ok(&tongban(
            &data,
            &[
                "catalogue",
                "publish",
                "--as",
                CIVIL,
                file.to_str().unwrap(),
            ],
        ));
        // The answer, and the exit status: 0 allowed, 3 not.
        let check = |data: &std::path::Path| {
            let out = tongban(
                data,
                &[
                    "--json",
                    "access",
                    "check",
                    "--as",
                    STREET,
                    "civil-marriages",
                ],
            );
            let answer = json_of(&out);
            let expected = if answer["allowed"] == true { 0 } else { 3 };
            assert_eq!(out.status.code(), Some(expected), "{answer}");
            answer
        };
        let denied = check(&data);
        assert_eq!(denied["allowed"], false, "{denied}");
        assert_eq!(denied["code"], "ACCESS_NOT_GRANTED");
        // STREET applies for civil-marriages for `purpose`.
        let apply = |purpose: &str, extra: &[&str]| {
            let mut args = vec![
                "--json",
                "access",
                "apply",
                "--as",
                STREET,
                "civil-marriages",
                "--purpose",
                purpose,
            ];
            args.extend_from_slice(extra);
            tongban(&data, &args)
        };
        let out = apply("", &[]);
        assert_eq!(json_of(&out)["error"]["code"], "USE_CAUSE_REQUIRED");
        let applied = json_of(&apply("办理生育登记时核验婚姻状况", &["--days", "30"]));
        assert_eq!(applied["status"], "pending");
        let id = applied["id"].to_string();
        let out = tongban(&data, &["--json", "access", "approve", "--as", MARKET, &id]);
        assert_eq!(json_of(&out)["error"]["code"], "ACCESS_NOT_PROVIDER");
        ok(&tongban(&data, &["access", "approve", "--as", CIVIL, &id]));
        assert_eq!(check(&data)["allowed"], true);
        ok(&tongban(
            &data,
            &[
                "access",
                "withdraw",
                "--as",
                CIVIL,
                &id,
                "--reason",
                "用途已完成",
            ],
        ));
        assert_eq!(check(&data)["code"], "ACCESS_NOT_GRANTED");
        let listed = ok(&tongban(
            &data,
            &["access", "list", "--resource", "civil-marriages"],
        ));
        assert!(
            listed.contains("withdrawn") && listed.contains("用途已完成"),
            "{listed}"
        );
    });
}
