//! The licence store end to end through the service layer, on every backend.
#![allow(clippy::unwrap_used)]

mod alerts;
mod audit;
mod ca;
mod calendar;
mod cases;
mod catalogue;
mod hotline;
mod import;
mod keys;
mod licence_rules;
mod peers;
mod s3;
mod sealed;
mod strict_input;
mod supervision;
mod tokens;

use std::future::Future;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tongban_licence::{LicenceStatus, ProblemCode, StatusPurpose};
use tongban_seal::KeyPurpose;
use tongban_service::{
    AttachmentInput, Clock, IssueInput, NewDepartment, Query, Service, ServiceConfig,
};
use tongban_store::{BlobConfig, DatabaseConfig, Durability, PlatformLevel, StoreConfig};

const T0: OffsetDateTime = datetime!(2026-11-25 02:00 UTC);
/// 广州市花都区市场监督管理局 (synthetic but valid USCC).
const MARKET: &str = "11440114MB2C00007U";
/// 广州市花都区民政局.
const CIVIL: &str = "11440114MB2C00015N";
const COMPANY: &str = "91440114MA5TB0A01K";
const BUSINESS_LICENCE: &str = "11100000TB0000001K001";

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/licence-types")
}

/// What a hub on `backend` is opened with: its store, the key store in
/// `keystore`, the clock stopped at [`T0`].
fn hub_config(backend: &tongban_tests::TestBackend, keystore: PathBuf) -> ServiceConfig {
    ServiceConfig {
        store: StoreConfig::new(
            DatabaseConfig::parse(&backend.database_url),
            BlobConfig::Local(backend.blob_dir()),
        ),
        keystore,
        kek: None,
        clock: Clock::fixed(T0),
    }
}

/// A department of 440114 at `level`, with no parent and no contact.
fn department(code: &str, name: &str, level: PlatformLevel) -> NewDepartment {
    NewDepartment {
        code: code.into(),
        name: name.into(),
        region_code: "440114".into(),
        platform_level: level,
        parent_code: None,
        contact: None,
    }
}

/// The region 440114 with MARKET and CIVIL (each with an issuing and an
/// exchange key) and the shipped licence types, on `backend`.
async fn hub_on(backend: &tongban_tests::TestBackend) -> Service {
    hub_with(hub_config(backend, backend.dir().join("keys"))).await
}

/// [`hub_on`] opened with `config`.
async fn hub_with(mut config: ServiceConfig) -> Service {
    config.store.durability = Durability::PowerLoss;
    let hub = Service::open(&config).await.unwrap();
    hub.init_region("440114", "广州市花都区政务数据共享交换平台")
        .await
        .unwrap();
    for (code, name) in [
        (MARKET, "广州市花都区市场监督管理局"),
        (CIVIL, "广州市花都区民政局"),
    ] {
        hub.add_department(department(code, name, PlatformLevel::District))
            .await
            .unwrap();
        for purpose in [KeyPurpose::Issue, KeyPurpose::Exchange] {
            hub.new_signing_key(code, purpose, None).await.unwrap();
        }
    }
    publish_types(&hub, &schemas_dir()).await;
    hub
}

async fn publish_types(hub: &Service, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            hub.publish_licence_type(
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(),
            )
            .await
            .unwrap();
        }
    }
}

async fn each_backend<F, Fut>(name: &str, test: F)
where
    F: Fn(Service) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in tongban_tests::backends(name).await {
        eprintln!("{name}: {}", backend.name);
        let hub = hub_on(&backend).await;
        test(hub.clone()).await;
        audit_details_are_documented_data(&hub).await;
        hub.close().await;
        backend.cleanup().await;
    }
}

/// Every entry's detail is data with the members `docs/AUDIT-LOG.md`
/// documents for its action, never `Debug` text.
async fn audit_details_are_documented_data(hub: &Service) {
    let entries = hub.store().audit_page(0, 100_000).await.unwrap();
    let faults: Vec<String> = entries
        .iter()
        .flat_map(|e| tongban_tests::audit_detail_faults(&e.action, &e.detail))
        .collect();
    assert!(faults.is_empty(), "{faults:#?}");
}

/// The data of the shipped example `name` (`examples/{name}.json`).
fn example(name: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(schemas_dir().join(format!("examples/{name}.json"))).unwrap(),
    )
    .unwrap()
}

/// A request for a licence of `type_code` to COMPANY, with the data of the
/// shipped example `example`.
fn company_request(type_code: &str, example_name: &str) -> Value {
    json!({
        "type": type_code,
        "holder": {"name": "广州花都鸿睿启航电子科技有限公司", "codeType": "001", "code": COMPANY},
        "data": example(example_name),
    })
}

fn business_licence() -> IssueInput {
    let mut request = company_request(BUSINESS_LICENCE, "business-licence");
    request["serviceItem"] = json!({"code": "440114-SCJG-001", "name": "企业设立登记"});
    IssueInput::from_json(&request).unwrap()
}

fn query(cause: &str) -> Query {
    Query {
        requester: "11440114MB2C00023H".into(),
        use_cause: cause.into(),
        case_ref: Some("HD-2026-000042".into()),
    }
}

async fn licence_count(hub: &Service) -> i64 {
    hub.store()
        .licence_counts()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_find_and_verify_with_use_records() {
    each_backend("issue_find_verify", |hub| async move {
        let mut input = business_licence();
        input.attachment = Some(AttachmentInput {
            bytes: b"%PDF-1.7 rendering of the licence".to_vec(),
            media_type: "application/pdf".into(),
        });
        let issued = hub.issue(MARKET, input).await.unwrap();
        let identifier = issued.identifier.to_string();
        let found = hub
            .find_by_holder(
                "001",
                COMPANY,
                None,
                false,
                &query("办理食品经营许可证，核验营业执照"),
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert!(
            found[0].verification.valid,
            "{:?}",
            found[0].verification.problems
        );
        assert!(
            found[0].verification.unchecked.is_empty(),
            "attachment checked online"
        );
        assert_eq!(found[0].verification.status, Some(LicenceStatus::Valid));
        // Online verification of the exact credential.
        let online = hub.verify_online(issued.credential.clone()).await.unwrap();
        assert!(online.valid, "{:?}", online.problems);
        // Every query left a record: who, why, when, what came back.
        let uses = hub.store().uses_of_licence(&identifier, 10).await.unwrap();
        assert_eq!(uses.len(), 1);
        assert_eq!(uses[0].use_cause, "办理食品经营许可证，核验营业执照");
        assert_eq!(uses[0].requester, "11440114MB2C00023H");
        assert_eq!(uses[0].case_ref.as_deref(), Some("HD-2026-000042"));
        assert_eq!(uses[0].returned, vec![identifier.clone()]);
        // show by identifier is a use too.
        let shown = hub.show(&identifier, &query("核验证照")).await.unwrap();
        assert!(shown.verification.valid);
        assert_eq!(
            hub.store()
                .uses_of_licence(&identifier, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        // A query that finds nothing is still recorded.
        assert!(
            hub.find_by_holder("111", "441802199503081237", None, false, &query("核验"))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(hub.store().recent_uses(None, 10).await.unwrap().len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_without_purpose_or_with_bad_codes_are_refused() {
    each_backend("query_refusals", |hub| async move {
        let issued = hub.issue(MARKET, business_licence()).await.unwrap();
        let id = issued.identifier.to_string();
        let err = hub
            .find_by_holder("001", COMPANY, None, false, &query("  "))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "USE_CAUSE_REQUIRED");
        let err = hub
            .show(
                &id,
                &Query {
                    requester: "".into(),
                    ..query("核验")
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "REQUESTER_REQUIRED");
        let (head, check) = id.split_at(id.len() - 1);
        let wrong = format!("{head}{}", if check == "0" { "1" } else { "0" });
        assert_eq!(
            hub.show(&wrong, &query("核验")).await.unwrap_err().code(),
            "IDENTIFIER_INVALID"
        );
        assert_eq!(
            hub.find_by_holder("001", "91440114MA5TB0A01X", None, false, &query("核验"))
                .await
                .unwrap_err()
                .code(),
            "HOLDER_CODE_INVALID"
        );
        assert_eq!(
            hub.find_by_holder("999", COMPANY, None, false, &query("核验"))
                .await
                .unwrap_err()
                .code(),
            "HOLDER_CODE_TYPE_UNKNOWN"
        );
        // None of the refused queries left a record.
        assert!(hub.store().recent_uses(None, 10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_issue_requests_write_nothing() {
    each_backend("bad_issue_requests", |hub| async move {
        let cases: Vec<(IssueInput, &str)> = vec![
            (
                {
                    let mut i = business_licence();
                    i.type_code = "11100000TB0000001K099".into();
                    i
                },
                "LICENCE_TYPE_UNKNOWN",
            ),
            (
                {
                    let mut i = business_licence();
                    i.data.as_object_mut().unwrap().remove("entityName");
                    i
                },
                "SUBJECT_SCHEMA_VIOLATION",
            ),
            (
                {
                    let mut i = business_licence();
                    i.holder_code = "91440114MA5TB0A01X".into();
                    i
                },
                "HOLDER_CODE_INVALID",
            ),
            (
                {
                    let mut i = business_licence();
                    i.holder_code_type = "111".into();
                    i.holder_code = "441802199503081237".into();
                    i
                },
                "HOLDER_CODE_TYPE_NOT_ALLOWED",
            ),
            (
                {
                    let mut i = business_licence();
                    i.valid_from = Some(T0);
                    i.valid_until = Some(T0 - Duration::days(1));
                    i
                },
                "VALIDITY_RANGE_INVALID",
            ),
        ];
        for (input, code) in cases {
            let err = hub.issue(MARKET, input).await.unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        // A batch with one bad request writes none of the good ones.
        let mut batch: Vec<IssueInput> = (0..5).map(|_| business_licence()).collect();
        batch[3].data["registeredCapital"] = json!(100);
        let err = hub.issue_batch(MARKET, batch).await.unwrap_err();
        assert_eq!(err.code(), "SUBJECT_SCHEMA_VIOLATION");
        assert!(err.to_string().contains("request 3"), "{err}");
        assert_eq!(licence_count(&hub).await, 0);
        // Malformed request documents.
        assert_eq!(
            IssueInput::from_json(&json!([1])).unwrap_err().code(),
            "REQUEST_INVALID"
        );
        assert_eq!(
            IssueInput::from_json(&json!({"type": "x"}))
                .unwrap_err()
                .code(),
            "REQUEST_INVALID"
        );
        // Unknown and suspended issuers.
        assert_eq!(
            hub.issue("91440114MA5TB0A01K", business_licence())
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_UNKNOWN"
        );
        hub.set_department_status(
            MARKET,
            tongban_store::DepartmentStatus::Suspended,
            "整改期间暂停",
        )
        .await
        .unwrap();
        assert_eq!(
            hub.issue(MARKET, business_licence())
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_SUSPENDED"
        );
        // A department without a key.
        hub.add_department(department(
            "11440114MB2C00023H",
            "花都区新华街道办事处",
            PlatformLevel::Town,
        ))
        .await
        .unwrap();
        assert_eq!(
            hub.issue("11440114MB2C00023H", business_licence())
                .await
                .unwrap_err()
                .code(),
            "SIGNING_KEY_NONE"
        );
        assert_eq!(licence_count(&hub).await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_and_what_verifiers_see() {
    each_backend("status_changes", |hub| async move {
        let a = hub.issue(MARKET, business_licence()).await.unwrap();
        let id = a.identifier.to_string();
        hub.suspend(&id, "admin", "经营异常核查").await.unwrap();
        assert_eq!(
            hub.suspend(&id, "admin", "again").await.unwrap_err().code(),
            "LICENCE_STATUS_CONFLICT"
        );
        let v = hub.verify_online(a.credential.clone()).await.unwrap();
        assert!(v.has(ProblemCode::LicenceSuspended));
        // Offline verifiers see it through the signed status list.
        let list = hub
            .status_list_credential(MARKET, StatusPurpose::Suspension, 0)
            .await
            .unwrap();
        let trust = hub.trust_for_issuers(&[]).await.unwrap();
        let verified = tongban_licence::status::verify_list(&list, &trust).unwrap();
        assert_eq!(verified.bits.get(0), Some(true));
        hub.reinstate(&id, "admin", "核查完毕").await.unwrap();
        assert!(hub.verify_online(a.credential.clone()).await.unwrap().valid);
        assert_eq!(
            hub.reinstate(&id, "admin", "x").await.unwrap_err().code(),
            "LICENCE_STATUS_CONFLICT"
        );
        assert_eq!(
            hub.revoke(&id, "admin", "").await.unwrap_err().code(),
            "REASON_REQUIRED"
        );
        hub.revoke(&id, "admin", "企业注销登记").await.unwrap();
        let v = hub.verify_online(a.credential.clone()).await.unwrap();
        assert!(v.has(ProblemCode::LicenceRevoked));
        assert_eq!(v.status, Some(LicenceStatus::Revoked));
        assert_eq!(
            hub.reinstate(&id, "admin", "x").await.unwrap_err().code(),
            "LICENCE_ALREADY_REVOKED"
        );
        assert_eq!(
            hub.revoke(&id, "admin", "x").await.unwrap_err().code(),
            "LICENCE_ALREADY_REVOKED"
        );
        assert_eq!(
            hub.revoke(
                "1.2.156.3005.2.11100000TB0000001K001.11440114MB2C00007U.1.001.X",
                "admin",
                "x"
            )
            .await
            .unwrap_err()
            .code(),
            "IDENTIFIER_INVALID"
        );
        // A well-formed identifier of no licence of this hub: nothing to
        // change, nothing to show.
        let unknown = tongban_codes::LicenceIdentifier::new(
            a.identifier.type_code().clone(),
            a.identifier.issuer().clone(),
            "99999999",
            1,
        )
        .unwrap();
        let head = hub.store().audit_head().await.unwrap().0;
        for refused in [
            hub.suspend(unknown.as_str(), "admin", "x").await,
            hub.reinstate(unknown.as_str(), "admin", "x").await,
            hub.revoke(unknown.as_str(), "admin", "x").await,
        ] {
            assert_eq!(refused.unwrap_err().code(), "LICENCE_NOT_FOUND");
        }
        assert_eq!(hub.store().audit_head().await.unwrap().0, head);
        assert_eq!(
            hub.show(unknown.as_str(), &query("核验营业执照"))
                .await
                .unwrap_err()
                .code(),
            "LICENCE_NOT_FOUND"
        );
        // The trust file carries the revocation to offline verifiers.
        let trust_file = hub.trust_file().await.unwrap();
        let anchor =
            tongban_seal::PublicKey::from_multikey(&hub.identity().await.unwrap().anchor).unwrap();
        let offline = tongban_licence::trustfile::load(&trust_file, &anchor, hub.now()).unwrap();
        let v = tongban_licence::verify(
            &offline,
            a.credential.clone(),
            tongban_licence::VerifyOptions {
                now: hub.now(),
                attachments: None,
            },
        );
        assert!(v.has(ProblemCode::LicenceRevoked), "{:?}", v.problems);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_revocation_and_expiry_over_time() {
    each_backend("key_rotation", |hub| async move {
        let early = hub.issue(MARKET, business_licence()).await.unwrap();
        // Rotate on day 1 with a day of overlap.
        let old = hub
            .store()
            .keys_of(MARKET)
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.purpose == "issue")
            .unwrap();
        hub.clock().set(T0 + Duration::days(1));
        let (closed, successor) = hub
            .rotate_key(&old.key_id, Duration::days(1))
            .await
            .unwrap();
        assert_eq!(closed.not_after, Some(T0 + Duration::days(2)));
        hub.clock().set(T0 + Duration::days(3));
        let later = hub.issue(MARKET, business_licence()).await.unwrap();
        assert_ne!(
            early.credential["proof"]["verificationMethod"],
            later.credential["proof"]["verificationMethod"]
        );
        assert!(
            hub.verify_online(early.credential.clone())
                .await
                .unwrap()
                .valid,
            "licences outlive rotation"
        );
        assert!(
            hub.verify_online(later.credential.clone())
                .await
                .unwrap()
                .valid
        );
        // The new key is compromised as of day 4: day-3 licences stay valid.
        assert_eq!(successor.purpose, "issue");
        hub.revoke_signing_key(
            &successor.key_id,
            Some(T0 + Duration::days(4)),
            "compromised",
        )
        .await
        .unwrap();
        hub.clock().set(T0 + Duration::days(5));
        assert!(
            hub.verify_online(later.credential.clone())
                .await
                .unwrap()
                .valid
        );
        assert_eq!(
            hub.issue(MARKET, business_licence())
                .await
                .unwrap_err()
                .code(),
            "SIGNING_KEY_NONE"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_unstored_licences_are_unknown_online() {
    each_backend("unstored_licences", |hub| async move {
        let issued = hub.issue(MARKET, business_licence()).await.unwrap();
        // Tampering is caught by the signature...
        let mut tampered = issued.credential.clone();
        tampered["credentialSubject"]["licenceData"]["registeredCapital"] = "9999万元人民币".into();
        let v = hub.verify_online(tampered).await.unwrap();
        assert!(
            v.has(ProblemCode::ProofInvalid) && v.has(ProblemCode::LicenceUnknown),
            "{:?}",
            v.problems
        );
        // ... and a credential with a valid signature that the hub never
        // stored (e.g. signed with a stolen key, backdated) is unknown online.
        let mut other = issued.credential.clone();
        other["proof"]["proofValue"] = tongban_seal::Signature([1; 64]).to_multibase().into();
        assert!(
            hub.verify_online(other)
                .await
                .unwrap()
                .has(ProblemCode::LicenceUnknown)
        );
        assert_eq!(
            hub.verify_online(json!("x")).await.unwrap().problems[0].code,
            ProblemCode::MalformedCredential
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_for_offline_verification() {
    each_backend("export", |hub| async move {
        let mut input = business_licence();
        input.attachment = Some(AttachmentInput {
            bytes: b"%OFD rendering".to_vec(),
            media_type: "application/ofd".into(),
        });
        let issued = hub.issue(MARKET, input).await.unwrap();
        let export = hub
            .export(&issued.identifier.to_string(), &query("出具证明材料"))
            .await
            .unwrap();
        let anchor = tongban_seal::PublicKey::from_multikey(&export.anchor).unwrap();
        let trust =
            tongban_licence::trustfile::load(&export.trust_file, &anchor, hub.now()).unwrap();
        let (id, bytes, media) = export.attachment.unwrap();
        assert_eq!(media, "application/ofd");
        let mut held = std::collections::HashMap::new();
        held.insert(id, tongban_seal::sha256(&bytes));
        let v = tongban_licence::verify(
            &trust,
            export.credential,
            tongban_licence::VerifyOptions {
                now: hub.now(),
                attachments: Some(&held),
            },
        );
        assert!(v.valid, "{:?}", v.problems);
        // A week later the trust file is stale, and says so.
        let err = tongban_licence::trustfile::load(
            &export.trust_file,
            &anchor,
            hub.now() + Duration::days(8),
        )
        .unwrap_err();
        assert_eq!(err.code(), "TRUST_FILE_STALE");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrative_refusals() {
    each_backend("admin_refusals", |hub| async move {
        let d = |code: &str, parent: Option<&str>| NewDepartment {
            parent_code: parent.map(Into::into),
            ..department(code, "测试部门", PlatformLevel::Town)
        };
        assert_eq!(
            hub.add_department(d("11440114MB2C0000XX", None))
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_CODE_INVALID"
        );
        assert_eq!(
            hub.add_department(d(MARKET, None))
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_EXISTS"
        );
        assert_eq!(
            hub.add_department(d("11440114MB2C00023H", Some("11440114MB2C00031C")))
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_PARENT_UNKNOWN"
        );
        assert_eq!(
            hub.add_department(NewDepartment {
                region_code: "000000".into(),
                ..d("11440114MB2C00023H", None)
            })
            .await
            .unwrap_err()
            .code(),
            "REGION_CODE_INVALID"
        );
        // A district department cannot sit under a village one.
        hub.add_department(NewDepartment {
            parent_code: Some(MARKET.into()),
            ..department(
                "11440114MB2C00082L",
                "三东村便民服务站",
                PlatformLevel::Village,
            )
        })
        .await
        .unwrap();
        let err = hub
            .add_department(NewDepartment {
                parent_code: Some("11440114MB2C00082L".into()),
                ..department("11440114MB2C00066Y", "某区直部门", PlatformLevel::District)
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), "DEPARTMENT_LEVEL_INVALID");
        assert_eq!(
            hub.init_region("440117", "x").await.unwrap_err().code(),
            "HUB_ALREADY_INITIALISED"
        );
        // Republishing a licence type with the same content is harmless; different content is refused.
        let mut schema: Value = serde_json::from_slice(
            &std::fs::read(schemas_dir().join("business-licence.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            hub.publish_licence_type(schema.clone()).await.unwrap().1,
            tongban_store::SchemaInsert::AlreadyPresent
        );
        schema["title"] = "营业执照（改）".into();
        assert_eq!(
            hub.publish_licence_type(schema).await.unwrap_err().code(),
            "SCHEMA_VERSION_CONFLICT"
        );
        assert_eq!(
            hub.publish_licence_type(json!({"type": "object"}))
                .await
                .unwrap_err()
                .code(),
            "LICENCE_TYPE_ANNOTATION_INVALID"
        );
    })
    .await;
}

/// Runs raw SQL against a backend's database (to play the attacker).
async fn raw_sql(backend: &tongban_tests::TestBackend, sql: &str) {
    use sqlx::Connection;
    match backend.name {
        "sqlite" => {
            let mut c =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", backend.database_url))
                    .await
                    .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .unwrap();
        }
        _ => {
            let mut c = sqlx::PgConnection::connect(&backend.database_url)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_records_actions_and_finds_the_first_broken_entry() {
    for backend in tongban_tests::backends("audit_log").await {
        eprintln!("audit_log: {}", backend.name);
        let hub = hub_on(&backend).await.with_operator("王敏");
        let issued = hub.issue(MARKET, business_licence()).await.unwrap();
        let id = issued.identifier.to_string();
        hub.find_by_holder("001", COMPANY, None, false, &query("核验营业执照"))
            .await
            .unwrap();
        hub.suspend(&id, "登记科", "经营异常").await.unwrap();
        // What was recorded about the licence, and by whom.
        let about: Vec<(String, String)> = hub
            .store()
            .audit_of(&id, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.actor))
            .collect();
        assert_eq!(
            about,
            vec![
                ("licence.suspend".into(), "登记科".into()),
                ("licence.issue".into(), MARKET.into())
            ]
        );
        let about_dept = hub.store().audit_of(CIVIL, 10).await.unwrap();
        assert_eq!(about_dept[0].action, "dept.add");
        let report = hub.audit_verify(|_| {}).await.unwrap();
        assert!(report.ok(), "{report:?}");
        let entries = report.entries;
        assert_eq!(
            entries, 31,
            "hub.init, 16 schema.publish (the hub's case, supervision, notice, work-order and region services, and what it pushes on hub.supervision and hub.hotline), 2 dept.add, 4 key.new (an issuing and an exchange key each), 5 schema.publish, issue, use, suspend"
        );

        // A signed checkpoint over the head, then one more action.
        let checkpoint = hub.audit_checkpoint().await.unwrap().unwrap();
        assert_eq!(checkpoint.seq, entries);
        assert!(
            hub.audit_checkpoint().await.unwrap().is_none(),
            "head already covered"
        );
        hub.reinstate(&id, "登记科", "核查完毕").await.unwrap();
        let report = hub.audit_verify(|_| {}).await.unwrap();
        assert_eq!(
            (report.entries, report.checkpoints, report.ok()),
            (entries + 1, 1, true)
        );

        // The archive verifies without the store.
        let mut archive = Vec::new();
        assert_eq!(
            hub.audit_export(&mut archive, |_| {}).await.unwrap(),
            entries + 1
        );
        let anchor =
            tongban_seal::PublicKey::from_multikey(&hub.identity().await.unwrap().anchor).unwrap();
        let text = String::from_utf8(archive).unwrap();
        let mut v = tongban_seal::archive::ArchiveVerifier::new(anchor);
        for line in text.lines() {
            v.line(line).unwrap();
        }
        let summary = v.finish().unwrap();
        assert_eq!((summary.entries, summary.checkpoints), (entries + 1, 1));

        // Tampering with the store: the first broken entry is named.
        raw_sql(
            &backend,
            "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5",
        )
        .await;
        let report = hub.audit_verify(|_| {}).await.unwrap();
        let problem = report.problem.unwrap();
        assert_eq!(
            (problem.code, problem.seq, report.entries),
            ("AUDIT_ENTRY_ALTERED", 5, 4)
        );
        hub.close().await;
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_gaps_truncation_and_forged_checkpoints() {
    for backend in tongban_tests::backends("audit_breaks").await {
        let hub = hub_on(&backend).await;
        hub.audit_checkpoint().await.unwrap();
        let (head, _) = hub.store().audit_head().await.unwrap();
        for i in 0..3 {
            hub.set_department_status(
                CIVIL,
                if i % 2 == 0 {
                    tongban_store::DepartmentStatus::Suspended
                } else {
                    tongban_store::DepartmentStatus::Active
                },
                "test",
            )
            .await
            .unwrap();
        }
        // Remove the last entry: the head says more.
        raw_sql(
            &backend,
            &format!("DELETE FROM audit_log WHERE seq = {}", head + 3),
        )
        .await;
        assert_eq!(
            hub.audit_verify(|_| {})
                .await
                .unwrap()
                .problem
                .unwrap()
                .code,
            "AUDIT_TRUNCATED"
        );
        // Remove one from the middle: a gap.
        raw_sql(
            &backend,
            &format!("DELETE FROM audit_log WHERE seq = {}", head + 1),
        )
        .await;
        let p = hub.audit_verify(|_| {}).await.unwrap().problem.unwrap();
        assert_eq!((p.code, p.seq), ("AUDIT_GAP", head + 2));
        // A checkpoint whose signature was replaced.
        raw_sql(
            &backend,
            &format!("DELETE FROM audit_log WHERE seq > {head}"),
        )
        .await;
        raw_sql(&backend, &format!("UPDATE audit_head SET seq = {head}, hash = (SELECT hash FROM audit_log WHERE seq = {head})")).await;
        assert!(hub.audit_verify(|_| {}).await.unwrap().ok());
        let zeros = if backend.name == "sqlite" {
            "zeroblob(64)"
        } else {
            "decode(repeat('00', 64), 'hex')"
        };
        raw_sql(
            &backend,
            &format!("UPDATE audit_checkpoints SET signature = {zeros}"),
        )
        .await;
        let p = hub.audit_verify(|_| {}).await.unwrap().problem.unwrap();
        assert_eq!((p.code, p.seq), ("AUDIT_CHECKPOINT_INVALID", head));
        hub.close().await;
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_and_key_administration_refusals() {
    each_backend("admin_keys", |hub| async move {
        use tongban_store::DepartmentStatus::*;
        assert_eq!(
            hub.set_department_status(CIVIL, Active, "x")
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_STATUS_UNCHANGED"
        );
        assert_eq!(
            hub.set_department_status(CIVIL, Suspended, " ")
                .await
                .unwrap_err()
                .code(),
            "REASON_REQUIRED"
        );
        hub.set_department_status(CIVIL, Retired, "机构改革撤并")
            .await
            .unwrap();
        assert_eq!(
            hub.set_department_status(CIVIL, Active, "x")
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_RETIRED"
        );
        assert_eq!(
            hub.set_department_status("11440114MB2C00031C", Active, "x")
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_UNKNOWN"
        );

        let key = hub.store().keys_of(MARKET).await.unwrap().remove(0);
        assert_eq!(
            hub.rotate_key("z6MkNope", Duration::days(1))
                .await
                .unwrap_err()
                .code(),
            "KEY_UNKNOWN"
        );
        assert_eq!(
            hub.rotate_key(&key.key_id, Duration::days(-1))
                .await
                .unwrap_err()
                .code(),
            "OVERLAP_INVALID"
        );
        hub.revoke_signing_key(&key.key_id, None, "私钥泄露")
            .await
            .unwrap();
        assert_eq!(
            hub.revoke_signing_key(&key.key_id, None, "again")
                .await
                .unwrap_err()
                .code(),
            "KEY_ALREADY_REVOKED"
        );
        assert_eq!(
            hub.rotate_key(&key.key_id, Duration::days(1))
                .await
                .unwrap_err()
                .code(),
            "KEY_REVOKED"
        );
        // The department trust file holds its keys with the revocation.
        let file = hub.trust_file_for(Some(MARKET)).await.unwrap();
        let issuers = file["credentialSubject"]["issuers"].as_array().unwrap();
        assert_eq!(issuers.len(), 1);
        assert!(issuers[0]["keys"][0]["revokedAt"].is_string());
        assert_eq!(
            hub.trust_file_for(Some("11440114MB2C00031C"))
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_UNKNOWN"
        );
        assert!(hub.audit_verify(|_| {}).await.unwrap().ok());
    })
    .await;
}

fn message_schema() -> Value {
    serde_json::from_slice(
        &std::fs::read(schemas_dir().join("../messages/business-registration.json")).unwrap(),
    )
    .unwrap()
}

/// Registers the business-registration message schema.
async fn publish_message_schema(hub: &Service) {
    hub.publish_schema("message", None, None, message_schema(), false)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_registry_versions_and_compatibility() {
    each_backend("schema_registry", |hub| async move {
        let v1 = message_schema();
        let p = hub
            .publish_schema("message", None, None, v1.clone(), false)
            .await
            .unwrap();
        assert_eq!(
            (p.id.as_str(), p.version.as_str(), p.outcome),
            (
                "business-registration",
                "1",
                tongban_store::SchemaInsert::Inserted
            )
        );
        // Same content again (even reformatted): harmless.
        let reformatted: Value =
            serde_json::from_str(&serde_json::to_string_pretty(&v1).unwrap()).unwrap();
        assert_eq!(
            hub.publish_schema("message", None, None, reformatted, false)
                .await
                .unwrap()
                .outcome,
            tongban_store::SchemaInsert::AlreadyPresent
        );
        // Different content under the same version: refused.
        let mut changed = v1.clone();
        changed["title"] = "改".into();
        assert_eq!(
            hub.publish_schema("message", None, None, changed, false)
                .await
                .unwrap_err()
                .code(),
            "SCHEMA_VERSION_CONFLICT"
        );
        // A compatible v2: an optional field.
        let mut v2 = v1.clone();
        v2["x-message-type"]["version"] = "2".into();
        v2["properties"]["contactPhone"] = json!({"type": "string", "maxLength": 30});
        let p = hub
            .publish_schema("message", None, None, v2.clone(), false)
            .await
            .unwrap();
        assert_eq!(p.previous.as_deref(), Some("1"));
        assert_eq!(p.changes.len(), 1);
        assert!(!p.changes[0].breaking);
        // A breaking v3: new required field, removed field, changed type.
        let mut v3 = v2.clone();
        v3["x-message-type"]["version"] = "3".into();
        v3["required"]
            .as_array_mut()
            .unwrap()
            .push("employees".into());
        v3["properties"]["employees"] = json!({"type": "string"});
        v3["properties"]
            .as_object_mut()
            .unwrap()
            .remove("industryCodes");
        v3["properties"]["registeredCapital"]["type"] = "object".into();
        let err = hub
            .publish_schema("message", None, None, v3.clone(), false)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "SCHEMA_INCOMPATIBLE");
        let text = err.to_string();
        for expected in [
            "/employees",
            "/industryCodes",
            "/registeredCapital",
            "--allow-breaking",
        ] {
            assert!(text.contains(expected), "{text}");
        }
        let p = hub
            .publish_schema("message", None, None, v3, true)
            .await
            .unwrap();
        assert_eq!(p.changes.iter().filter(|c| c.breaking).count(), 3);
        // Older than the latest, invalid schemas, bad ids and kinds.
        let mut old = v1.clone();
        old["x-message-type"]["version"] = "2.5".into();
        assert_eq!(
            hub.publish_schema("message", None, None, old, false)
                .await
                .unwrap_err()
                .code(),
            "SCHEMA_VERSION_NOT_NEWER"
        );
        assert_eq!(
            hub.publish_schema(
                "message",
                Some("x"),
                Some("1"),
                json!({"type": "objekt"}),
                false
            )
            .await
            .unwrap_err()
            .code(),
            "SCHEMA_INVALID"
        );
        assert_eq!(
            hub.publish_schema(
                "message",
                Some("../etc"),
                Some("1"),
                json!({"type": "object"}),
                false
            )
            .await
            .unwrap_err()
            .code(),
            "SCHEMA_ID_INVALID"
        );
        assert_eq!(
            hub.publish_schema(
                "message",
                Some("y"),
                Some("v1"),
                json!({"type": "object"}),
                false
            )
            .await
            .unwrap_err()
            .code(),
            "SCHEMA_VERSION_INVALID"
        );
        assert_eq!(
            hub.publish_schema(
                "events",
                Some("y"),
                Some("1"),
                json!({"type": "object"}),
                false
            )
            .await
            .unwrap_err()
            .code(),
            "SCHEMA_KIND_INVALID"
        );
        assert_eq!(
            hub.publish_schema(
                "message",
                Some(BUSINESS_LICENCE),
                Some("9"),
                json!({"type": "object"}),
                false
            )
            .await
            .unwrap_err()
            .code(),
            "SCHEMA_KIND_CONFLICT"
        );
        // Show and diff.
        assert_eq!(
            hub.schema("business-registration", None)
                .await
                .unwrap()
                .version,
            "3"
        );
        let diff = hub
            .schema_diff("business-registration", "1", "3")
            .await
            .unwrap();
        assert_eq!(diff.iter().filter(|c| c.breaking).count(), 3);
        assert_eq!(
            hub.schema("nope", None).await.unwrap_err().code(),
            "SCHEMA_UNKNOWN"
        );
        // Every publication is in the audit log.
        assert_eq!(
            hub.store()
                .audit_of("business-registration@3", 5)
                .await
                .unwrap()[0]
                .action,
            "schema.publish"
        );
    })
    .await;
}
