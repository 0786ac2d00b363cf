//! Input is read strictly at every entry of the services: exact members,
//! free text within its limit, refused rather than trimmed, and kept as
//! given when accepted. Each table is input → exact code; refusals write
//! nothing. Both backends.

use serde_json::{Value, json};
use tongban_service::{CatalogueDraft, IssueInput, ItemDraft, NewDepartment, Query, Service};
use tongban_store::{DepartmentStatus, PlatformLevel};

use crate::{BUSINESS_LICENCE, CIVIL, COMPANY, MARKET, each_backend, licence_count, schemas_dir};

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    match r {
        Err(e) => e.code().to_owned(),
        Ok(v) => format!("accepted {v:?}"),
    }
}

fn request() -> Value {
    let example = crate::example("business-licence");
    json!({
        "type": BUSINESS_LICENCE,
        "typeVersion": "2",
        "holder": {"name": "广州花都鸿睿启航电子科技有限公司", "codeType": "001", "code": COMPANY, "allowLegacyCode": false},
        "data": example,
        "validFrom": "2026-11-25T00:00:00Z",
        "validUntil": "2036-11-24T15:59:59Z",
        "serviceItem": {"code": "440114-SCJG-001", "name": "企业设立登记"}
    })
}

/// `request()` with the member at `pointer` set to `value` (or removed
/// when `value` is `None`); a pointer's last token may name a new member.
fn edited(pointer: &str, value: Option<Value>) -> Value {
    let mut doc = request();
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    let object = doc.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    match value {
        Some(v) => object.insert(name.to_owned(), v),
        None => object.remove(name),
    };
    doc
}

/// The code an issue request gets: reading it, then issuing it.
async fn issue_code(hub: &Service, doc: &Value) -> (String, String) {
    match IssueInput::from_json(doc) {
        Err(e) => (e.code().to_owned(), e.to_string()),
        Ok(input) => match hub.issue(MARKET, input).await {
            Err(e) => (e.code().to_owned(), e.to_string()),
            Ok(issued) => ("ISSUED".to_owned(), issued.identifier.to_string()),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_requests_have_exactly_their_members() {
    each_backend("strict_issue_requests", |hub| async move {
        let long = |n: usize| json!("名".repeat(n));
        // (what, edit, code, a word the message must hold)
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            (
                "misspelt validUntil",
                edited("/vaildUntil", Some(json!("2027-01-01T00:00:00Z"))),
                "REQUEST_INVALID",
                "vaildUntil",
            ),
            (
                "unknown top member",
                edited("/note", Some(json!("x"))),
                "REQUEST_INVALID",
                "note",
            ),
            (
                "unknown holder member",
                edited("/holder/nmae", Some(json!("x"))),
                "REQUEST_INVALID",
                "nmae",
            ),
            (
                "unknown serviceItem member",
                edited("/serviceItem/version", Some(json!("2"))),
                "REQUEST_INVALID",
                "version",
            ),
            (
                "typeVersion a number",
                edited("/typeVersion", Some(json!(1))),
                "REQUEST_INVALID",
                "typeVersion",
            ),
            (
                "allowLegacyCode a string",
                edited("/holder/allowLegacyCode", Some(json!("yes"))),
                "REQUEST_INVALID",
                "holder.allowLegacyCode",
            ),
            (
                "validUntil a number",
                edited("/validUntil", Some(json!(20270101))),
                "REQUEST_INVALID",
                "validUntil",
            ),
            (
                "validUntil not a time",
                edited("/validUntil", Some(json!("2027-01-01"))),
                "REQUEST_INVALID",
                "validUntil",
            ),
            (
                "no holder",
                edited("/holder", None),
                "REQUEST_INVALID",
                "holder",
            ),
            ("no data", edited("/data", None), "REQUEST_INVALID", "data"),
            (
                "no holder code",
                edited("/holder/code", None),
                "REQUEST_INVALID",
                "code",
            ),
            (
                "type too long",
                edited("/type", Some(json!("1".repeat(65)))),
                "REQUEST_INVALID",
                "type",
            ),
            (
                "type empty",
                edited("/type", Some(json!(""))),
                "REQUEST_INVALID",
                "type",
            ),
            (
                "typeVersion too long",
                edited("/typeVersion", Some(json!("1".repeat(17)))),
                "REQUEST_INVALID",
                "typeVersion",
            ),
            (
                "service item code",
                edited("/serviceItem/code", Some(json!("440114 SCJG"))),
                "REQUEST_INVALID",
                "serviceItem.code",
            ),
            (
                "service item name padded",
                edited("/serviceItem/name", Some(json!("企业设立登记 "))),
                "REQUEST_INVALID",
                "serviceItem.name",
            ),
            (
                "service item name too long",
                edited("/serviceItem/name", Some(long(201))),
                "REQUEST_INVALID",
                "serviceItem.name",
            ),
            (
                "holder name padded",
                edited(
                    "/holder/name",
                    Some(json!(" 广州花都鸿睿启航电子科技有限公司")),
                ),
                "HOLDER_NAME_INVALID",
                "white space",
            ),
            (
                "holder name with a control",
                edited(
                    "/holder/name",
                    Some(json!("广州花都鸿睿\u{0}启航电子科技有限公司")),
                ),
                "HOLDER_NAME_INVALID",
                "control",
            ),
            (
                "holder name too long",
                edited("/holder/name", Some(long(201))),
                "HOLDER_NAME_INVALID",
                "200",
            ),
            (
                "holder code padded",
                edited("/holder/code", Some(json!(format!("{COMPANY} ")))),
                "HOLDER_CODE_INVALID",
                "",
            ),
            (
                "not an object",
                json!([request()]),
                "REQUEST_INVALID",
                "issue request",
            ),
        ];
        for (what, doc, expected, word) in &cases {
            let (got, message) = issue_code(&hub, doc).await;
            assert_eq!(got, *expected, "{what}: {message}");
            assert!(
                message.contains(word),
                "{what}: {message:?} does not name {word:?}"
            );
        }
        assert_eq!(
            licence_count(&hub).await,
            0,
            "refused requests write nothing"
        );
        // The request as written issues, with the end date it names.
        let (got, identifier) = issue_code(&hub, &request()).await;
        assert_eq!(got, "ISSUED", "{identifier}");
        let row = hub.store().licence(&identifier).await.unwrap().unwrap();
        let credential: Value = serde_json::from_str(&row.credential).unwrap();
        assert_eq!(credential["validUntil"], "2036-11-24T15:59:59Z");
        assert_eq!(credential["licence"]["serviceItem"]["name"], "企业设立登记");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_and_key_text_is_checked_and_kept() {
    each_backend("strict_department_text", |hub| async move {
        let department = |name: &str, contact: Option<&str>| NewDepartment {
            code: "11440114MB2C00023H".into(),
            name: name.into(),
            region_code: "440114".into(),
            platform_level: PlatformLevel::Town,
            parent_code: None,
            contact: contact.map(str::to_owned),
        };
        let head = hub.store().audit_head().await.unwrap();
        let cases = [
            (
                department(" 花都区新华街道办事处", None),
                "DEPARTMENT_NAME_INVALID",
            ),
            (
                department("花都区新华街道办事处\u{3000}", None),
                "DEPARTMENT_NAME_INVALID",
            ),
            (department("", None), "DEPARTMENT_NAME_INVALID"),
            (
                department(&"街".repeat(201), None),
                "DEPARTMENT_NAME_INVALID",
            ),
            (
                department("花都区新华街道\n办事处", None),
                "DEPARTMENT_NAME_INVALID",
            ),
            (
                department("花都区新华街道办事处", Some(&"电".repeat(201))),
                "DEPARTMENT_CONTACT_INVALID",
            ),
            (
                department("花都区新华街道办事处", Some("张三\u{0}")),
                "DEPARTMENT_CONTACT_INVALID",
            ),
            (
                department("花都区新华街道办事处", Some(" 张三 020-86888888")),
                "DEPARTMENT_CONTACT_INVALID",
            ),
        ];
        for (d, expected) in cases {
            let what = format!("{:?} / {:?}", d.name, d.contact);
            assert_eq!(code(hub.add_department(d).await), expected, "{what}");
        }
        assert_eq!(
            hub.store().audit_head().await.unwrap(),
            head,
            "refusals write nothing"
        );
        // Accepted names and contacts are stored exactly as given.
        let added = hub
            .add_department(department(
                "花都区 新华街道办事处",
                Some("张三 020-86888888"),
            ))
            .await
            .unwrap();
        let stored = hub.store().department(&added.code).await.unwrap().unwrap();
        assert_eq!(
            (stored.name.as_str(), stored.contact.as_deref()),
            ("花都区 新华街道办事处", Some("张三 020-86888888"))
        );

        // Reasons: required, limited, without control characters (NUL
        // cannot be stored by PostgreSQL), and recorded as given.
        let reasons = [
            (" \n ", "REASON_REQUIRED"),
            (&*"因".repeat(501), "REASON_INVALID"),
            ("机构\u{0}调整", "REASON_INVALID"),
            ("机构\u{7}调整", "REASON_INVALID"),
        ];
        for (reason, expected) in reasons {
            assert_eq!(
                code(
                    hub.set_department_status(CIVIL, DepartmentStatus::Suspended, reason)
                        .await
                ),
                expected,
                "{reason:?}"
            );
        }
        let (key, _) = hub
            .current_key(MARKET, tongban_seal::KeyPurpose::Issue)
            .await
            .unwrap();
        let key_id = key.public().to_multikey();
        for (reason, expected) in reasons {
            assert_eq!(
                code(hub.revoke_signing_key(&key_id, None, reason).await),
                expected,
                "{reason:?}"
            );
        }
        let kept = " 机构调整\n（见 2026 年 11 月通知）";
        hub.set_department_status(CIVIL, DepartmentStatus::Suspended, kept)
            .await
            .unwrap();
        let entry = hub
            .store()
            .audit_page(0, 100_000)
            .await
            .unwrap()
            .pop()
            .unwrap();
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(
            (entry.action.as_str(), &detail["reason"]),
            ("dept.suspend", &json!(kept))
        );
        let revoked = hub.revoke_signing_key(&key_id, None, kept).await.unwrap();
        assert_eq!(revoked.revoked_reason.as_deref(), Some(kept));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_queries_and_status_reasons_are_kept_as_stated() {
    each_backend("strict_queries", |hub| async move {
        let issued = hub
            .issue(MARKET, IssueInput::from_json(&request()).unwrap())
            .await
            .unwrap();
        let identifier = issued.identifier.to_string();
        let query = |requester: &str, cause: &str, case: Option<&str>| Query {
            requester: requester.into(),
            use_cause: cause.into(),
            case_ref: case.map(str::to_owned),
        };
        let cases = [
            (query("银行", "  ", None), "USE_CAUSE_REQUIRED"),
            (query("银行", &"因".repeat(501), None), "USE_CAUSE_TOO_LONG"),
            (query("银行", "开立\u{0}账户", None), "USE_CAUSE_INVALID"),
            (query("", "开立账户", None), "REQUESTER_REQUIRED"),
            (query(" 银行", "开立账户", None), "REQUESTER_INVALID"),
            (
                query(&"行".repeat(201), "开立账户", None),
                "REQUESTER_INVALID",
            ),
            (query("银行", "开立账户", Some("HD 1 ")), "CASE_REF_INVALID"),
            (
                query("银行", "开立账户", Some(&"1".repeat(101))),
                "CASE_REF_INVALID",
            ),
        ];
        for (q, expected) in &cases {
            assert_eq!(code(hub.show(&identifier, q).await), *expected, "{q:?}");
        }
        assert!(
            hub.store()
                .uses_of_licence(&identifier, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A purpose is recorded exactly as stated, padding and lines included.
        let stated = " 开立对公账户\n核验营业执照 ";
        hub.show(&identifier, &query("银行", stated, Some("HD-1")))
            .await
            .unwrap();
        let uses = hub.store().uses_of_licence(&identifier, 10).await.unwrap();
        assert_eq!(
            (uses[0].use_cause.as_str(), uses[0].case_ref.as_deref()),
            (stated, Some("HD-1"))
        );
        // Status reasons alike.
        for (reason, expected) in [
            ("", "REASON_REQUIRED"),
            (&*"因".repeat(501), "REASON_INVALID"),
            ("a\u{0}", "REASON_INVALID"),
        ] {
            assert_eq!(
                code(hub.suspend(&identifier, "admin", reason).await),
                expected,
                "{reason:?}"
            );
        }
        hub.suspend(&identifier, "admin", " 列入经营异常名录 ")
            .await
            .unwrap();
        let entry = hub
            .store()
            .audit_page(0, 100_000)
            .await
            .unwrap()
            .pop()
            .unwrap();
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["reason"], " 列入经营异常名录 ", "{detail}");
    })
    .await;
}

/// A catalogue draft: the base with the members of `v` set.
fn draft(v: Value) -> Result<CatalogueDraft, String> {
    let mut base = json!({
        "id": "market-registrations",
        "name": "新设市场主体登记信息",
        "schema": "business-registration@1",
        "sharingType": "conditional",
        "fields": [{"name": "uscc", "label": "统一社会信用代码"}]
    });
    for (k, x) in v.as_object().unwrap() {
        base[k] = x.clone();
    }
    tongban_seal::json::decode(&base).map_err(|e| e.message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_and_access_text_is_checked_and_kept() {
    each_backend("strict_catalogue", |hub| async move {
        crate::publish_message_schema(&hub).await;
        // Drafts whose members do not fit are refused as they are read.
        for (v, path) in [
            (
                json!({"fields": [{"name": "uscc", "lable": "代码"}]}),
                "fields[0].lable",
            ),
            (
                json!({"fields": [{"name": "uscc", "label": "代码", "description": "x"}]}),
                "fields[0].description",
            ),
            (json!({"tag": ["证照"]}), "tag"),
            (json!({"tags": "证照"}), "tags"),
        ] {
            let e = draft(v.clone()).unwrap_err();
            assert!(e.contains(path), "{v}: {e}");
        }
        let head = hub.store().audit_head().await.unwrap();
        let long = |n: usize| json!("名".repeat(n));
        let cases = [
            (
                json!({"name": " 新设市场主体登记信息"}),
                "CATALOGUE_INVALID",
            ),
            (json!({"name": long(201)}), "CATALOGUE_INVALID"),
            (json!({"description": long(4001)}), "CATALOGUE_INVALID"),
            (json!({"description": "a\u{0}b"}), "CATALOGUE_INVALID"),
            (json!({"tags": ["证照 "]}), "CATALOGUE_INVALID"),
            (json!({"tags": [long(51)]}), "CATALOGUE_INVALID"),
            (json!({"tags": vec!["t"; 33]}), "CATALOGUE_INVALID"),
            (
                json!({"fields": [{"name": "uscc", "label": ""}]}),
                "CATALOGUE_INVALID",
            ),
            (
                json!({"fields": [{"name": "uscc", "label": long(101)}]}),
                "CATALOGUE_INVALID",
            ),
            (
                json!({"fields": [{"name": "uscc", "label": "代码\t"}]}),
                "CATALOGUE_INVALID",
            ),
            (json!({"updateFrequency": ""}), "CATALOGUE_INVALID"),
            (json!({"updateFrequency": long(51)}), "CATALOGUE_INVALID"),
            (json!({"regionCode": "44011"}), "REGION_CODE_INVALID"),
        ];
        for (v, expected) in cases {
            let d = draft(v.clone()).unwrap();
            assert_eq!(
                code(hub.catalogue_publish(MARKET, d, false).await),
                expected,
                "{v}"
            );
        }
        assert_eq!(
            hub.store().audit_head().await.unwrap(),
            head,
            "refusals write nothing"
        );
        // Kept as given: the description with its line breaks and padding.
        let description = " 新设立登记的企业\n个体工商户 ";
        let d = draft(
            json!({"description": description, "tags": ["市场主体"], "updateFrequency": "每日"}),
        )
        .unwrap();
        let entry = hub.catalogue_publish(MARKET, d, false).await.unwrap();
        let stored = hub.catalogue_show(&entry.id).await.unwrap();
        assert_eq!(
            (
                stored.description.as_str(),
                stored.update_frequency.as_str()
            ),
            (description, "每日")
        );

        // Access applications: the purpose is kept exactly; reasons limited.
        let now = hub.now();
        let day = time::Duration::days(1);
        for (purpose, expected) in [
            ("  ", "USE_CAUSE_REQUIRED"),
            (&*"因".repeat(501), "USE_CAUSE_TOO_LONG"),
            ("核验\u{0}", "USE_CAUSE_INVALID"),
        ] {
            assert_eq!(
                code(
                    hub.access_apply(CIVIL, &entry.id, purpose, now, now + day)
                        .await
                ),
                expected,
                "{purpose:?}"
            );
        }
        let purpose = " 办理婚姻登记时\n核验企业信息 ";
        let a = hub
            .access_apply(CIVIL, &entry.id, purpose, now, now + day)
            .await
            .unwrap();
        assert_eq!(hub.access_application(a.id).await.unwrap().purpose, purpose);
        let long_reason = "因".repeat(501);
        for reason in [&*long_reason, "x\u{0}"] {
            assert_eq!(
                code(hub.access_decide(MARKET, a.id, false, Some(reason)).await),
                "REASON_INVALID"
            );
        }
        assert_eq!(
            hub.access_application(a.id).await.unwrap().status,
            "pending"
        );
    })
    .await;
}

fn item(v: Value) -> Result<ItemDraft, String> {
    let mut base = json!({
        "code": "440114-GZ-0201",
        "name": "建设工程规划许可证核发",
        "itemType": "承诺件",
        "legalLimitDays": 20,
        "promisedLimitDays": 10,
        "materials": [{"name": "营业执照", "licenceType": BUSINESS_LICENCE}]
    });
    for (k, x) in v.as_object().unwrap() {
        base[k] = x.clone();
    }
    tongban_seal::json::decode(&base).map_err(|e| e.message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_items_are_checked_and_kept() {
    each_backend("strict_items", |hub| async move {
        for (v, path) in [
            (
                json!({"materials": [{"name": "营业执照", "licenseType": BUSINESS_LICENCE}]}),
                "materials[0].licenseType",
            ),
            (
                json!({"materials": [{"name": "营业执照", "required": "yes"}]}),
                "materials[0].required",
            ),
            (json!({"resultTypes": []}), "resultTypes"),
        ] {
            let e = item(v.clone()).unwrap_err();
            assert!(e.contains(path), "{v}: {e}");
        }
        let head = hub.store().audit_head().await.unwrap();
        let cases = [
            (
                json!({"name": "建设工程规划许可证核发 "}),
                "ITEM_NAME_INVALID",
            ),
            (json!({"name": "名".repeat(201)}), "ITEM_NAME_INVALID"),
            (
                json!({"materials": [{"name": " 营业执照"}]}),
                "ITEM_MATERIALS_INVALID",
            ),
            (
                json!({"materials": [{"name": "营业\n执照"}]}),
                "ITEM_MATERIALS_INVALID",
            ),
            (
                json!({"materials": [{"name": "名".repeat(201)}]}),
                "ITEM_MATERIALS_INVALID",
            ),
            (json!({"regionCode": "4401"}), "REGION_CODE_INVALID"),
        ];
        for (v, expected) in cases {
            assert_eq!(
                code(hub.item_put(CIVIL, item(v.clone()).unwrap()).await),
                expected,
                "{v}"
            );
        }
        assert_eq!(
            hub.store().audit_head().await.unwrap(),
            head,
            "refusals write nothing"
        );
        let put = hub
            .item_put(
                CIVIL,
                item(json!({"name": "建设工程 规划许可证核发", "regionCode": "440114"})).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            hub.item_show(&put.code).await.unwrap().name,
            "建设工程 规划许可证核发"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_titles_are_limited() {
    each_backend("strict_schema_titles", |hub| async move {
        let schema = |title: &str| {
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": title,
                "type": "object",
                "properties": {"a": {"type": "string", "maxLength": 10}}
            })
        };
        for (title, expected) in [
            ("名".repeat(201), "SCHEMA_INVALID"),
            (" 登记信息".to_owned(), "SCHEMA_INVALID"),
            ("登记\u{0}信息".to_owned(), "SCHEMA_INVALID"),
        ] {
            assert_eq!(
                code(
                    hub.publish_schema("message", Some("t"), Some("1"), schema(&title), false)
                        .await
                ),
                expected,
                "{title:?}"
            );
        }
        hub.publish_schema("message", Some("t"), Some("1"), schema("登记信息"), false)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_name_is_checked_when_the_region_is_set() {
    for backend in tongban_tests::backends("strict_hub_name").await {
        let hub = Service::open(&crate::hub_config(&backend, backend.dir().join("keys")))
            .await
            .unwrap();
        for name in [" 花都区平台", "", "平台\n", &"名".repeat(201)] {
            assert_eq!(
                code(hub.init_region("440114", name).await),
                "HUB_NAME_INVALID",
                "{name:?}"
            );
        }
        assert_eq!(code(hub.identity().await), "HUB_NOT_INITIALISED");
        let id = hub
            .init_region("440114", "广州市花都区 政务数据共享交换平台")
            .await
            .unwrap();
        assert_eq!(id.name, "广州市花都区 政务数据共享交换平台");
        hub.close().await;
        backend.cleanup().await;
    }
}

/// Every string a department or a peer hub sends the hub in a message has
/// a limit: `maxLength`, an anchored pattern of bounded length, an `enum`,
/// or, for the few a published version lacks (published versions never
/// change), a check in code, named here and tested above.
#[test]
fn every_string_sent_to_the_hub_has_a_limit() {
    const INPUTS: [&str; 5] = [
        "business-registration",
        "case-licence-query",
        "case-result",
        "region-licence-query",
        "peer-licence-query",
    ];
    const IN_CODE: [(&str, &str, &str); 8] = [
        (
            "case-result",
            "/properties/licence/properties/validFrom",
            "RFC 3339 (IssueInput::from_json)",
        ),
        (
            "case-result",
            "/properties/licence/properties/validUntil",
            "RFC 3339 (IssueInput::from_json)",
        ),
        (
            "case-result",
            "/properties/licence/properties/holder",
            "exact members, name ≤ 200 (IssueInput)",
        ),
        (
            "case-result",
            "/properties/licence/properties/data",
            "the licence type's schema",
        ),
        (
            "case-result",
            "/properties/licence",
            "exact members (IssueInput::from_json)",
        ),
        (
            "peer-licence-query",
            "/properties/requester",
            "equal to the origin's sender, ≤ 64",
        ),
        (
            "peer-licence-query",
            "/properties/holder",
            "codeType and code read alone, ≤ 64 each",
        ),
        (
            "peer-licence-query",
            "/properties/origin",
            "an envelope, verified and compared",
        ),
    ];
    fn bounded_pattern(p: &str) -> bool {
        // `^…$` without an unbounded repetition.
        p.starts_with('^')
            && p.ends_with('$')
            && !p.contains('*')
            && !p.contains('+')
            && !p.contains(",}")
    }
    fn walk(v: &Value, path: &str, open: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                let is_string = m.get("type") == Some(&json!("string"));
                let bounded = m.contains_key("maxLength")
                    || m.contains_key("enum")
                    || m.contains_key("const")
                    || m.get("pattern")
                        .and_then(Value::as_str)
                        .is_some_and(bounded_pattern);
                if is_string && !bounded {
                    open.push(path.to_owned());
                }
                // An object without declared members takes anything.
                let is_object = m.get("type") == Some(&json!("object"));
                if is_object && !m.contains_key("properties") {
                    open.push(path.to_owned());
                }
                if is_object
                    && m.get("additionalProperties") != Some(&json!(false))
                    && m.contains_key("properties")
                    && !path.is_empty()
                {
                    open.push(path.to_owned());
                }
                for (k, x) in m {
                    walk(x, &format!("{path}/{k}"), open);
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    walk(x, &format!("{path}/{i}"), open);
                }
            }
            _ => {}
        }
    }
    let dir = schemas_dir().join("../messages");
    let mut unbounded = Vec::new();
    for id in INPUTS {
        let text = std::fs::read_to_string(dir.join(format!("{id}.json"))).unwrap();
        let schema = tongban_seal::json::from_str_strict(&text).unwrap();
        let mut open = Vec::new();
        walk(&schema, "", &mut open);
        for path in open {
            if !IN_CODE.iter().any(|(s, p, _)| *s == id && *p == path) {
                unbounded.push(format!("{id}{path}"));
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "strings or objects without a limit: {unbounded:#?}"
    );
}
