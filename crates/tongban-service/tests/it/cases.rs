//! Service items and cases: licences reused instead of paper, every use
//! recorded against the case, results issued as licences the next case
//! reuses. Both backends.

use serde_json::{Value, json};
use tongban_service::{CaseQuery, IssueInput, ItemDraft, MaterialState, Service};

use crate::{BUSINESS_LICENCE, CIVIL, COMPANY, MARKET, business_licence, each_backend};

const PLANNING_PERMIT: &str = "11100000TB0000003R001";
const DISABILITY_CERTIFICATE: &str = "51100000TB0000004Q001";

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    match r {
        Err(e) => e.code().to_owned(),
        Ok(v) => format!("accepted {v:?}"),
    }
}

fn item(v: Value) -> ItemDraft {
    serde_json::from_value(v).unwrap()
}

fn permit_item() -> ItemDraft {
    item(json!({
        "code": "440114-GZ-0201",
        "name": "建设工程规划许可证核发",
        "itemType": "承诺件",
        "legalLimitDays": 20,
        "promisedLimitDays": 10,
        "materials": [
            {"name": "营业执照", "licenceType": BUSINESS_LICENCE},
            {"name": "建设工程设计方案"},
            {"name": "残疾人证（申请减免时提交）", "licenceType": DISABILITY_CERTIFICATE, "required": false}
        ],
        "resultType": PLANNING_PERMIT
    }))
}

fn ask(case: &str, item: &str, cause: &str) -> CaseQuery {
    CaseQuery {
        case_id: case.into(),
        item: item.into(),
        holder_code_type: "001".into(),
        holder_code: COMPANY.into(),
        use_cause: cause.into(),
    }
}

fn permit() -> IssueInput {
    IssueInput::from_json(&crate::company_request(
        PLANNING_PERMIT,
        "construction-planning-permit",
    ))
    .unwrap()
}

async fn open_cases(hub: &Service) -> usize {
    hub.case_list(None, 100).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_reuses_licences_and_its_result_serves_the_next_case() {
    each_backend("cases_reuse", |hub| async move {
        let licence = hub.issue(MARKET, business_licence()).await.unwrap();
        let registered = hub.item_put(CIVIL, permit_item()).await.unwrap();
        assert_eq!(
            (
                registered.item_type.as_str(),
                registered.type_name(),
                registered.version
            ),
            ("promised", "承诺件", 1)
        );

        // The case system asks instead of the applicant bringing paper.
        let cause = "办理建设工程规划许可证核发，核验申请单位营业执照";
        let answer = hub
            .case_licences(CIVIL, &ask("HD-2026-000100", "440114-GZ-0201", cause))
            .await
            .unwrap();
        assert!(answer.complete);
        let m = &answer.materials;
        assert_eq!(
            m.iter().map(|m| m.status).collect::<Vec<_>>(),
            [
                MaterialState::Found,
                MaterialState::NotALicence,
                MaterialState::NoneIssued
            ]
        );
        assert_eq!(
            m[0].identifier.as_deref(),
            Some(licence.identifier.as_str())
        );
        assert_eq!(m[0].issuer.as_deref(), Some(MARKET));
        assert_eq!(
            m[0].licence.as_ref().unwrap()["id"],
            licence.credential["id"]
        );
        assert!(m[2].licence.is_none());

        // Every query left a licence-use record tied to the case, naming
        // the licence returned.
        let (case, uses) = hub.case_show(Some(CIVIL), "HD-2026-000100").await.unwrap();
        assert_eq!(
            (case.status.as_str(), case.department.as_str()),
            ("open", CIVIL)
        );
        assert_eq!(uses.len(), 2);
        assert!(
            uses.iter()
                .all(|u| u.case_ref.as_deref() == Some("HD-2026-000100")
                    && u.use_cause == cause
                    && u.requester == CIVIL)
        );
        assert_eq!(
            uses[0].returned,
            vec![licence.identifier.as_str().to_owned()]
        );
        assert!(uses[1].returned.is_empty());
        let of_licence = hub
            .store()
            .uses_of_licence(licence.identifier.as_str(), 10)
            .await
            .unwrap();
        assert_eq!(of_licence[0].case_ref.as_deref(), Some("HD-2026-000100"));

        // Results: only the handling department, of the item's type, for the
        // case's holder; then the case is concluded.
        assert_eq!(
            code(hub.case_result(MARKET, "HD-2026-000100", permit()).await),
            "CASE_UNKNOWN",
            "case numbers are each department's own"
        );
        assert_eq!(
            code(
                hub.case_result(CIVIL, "HD-2026-000100", business_licence())
                    .await
            ),
            "RESULT_TYPE_MISMATCH"
        );
        let mut stranger = permit();
        stranger.holder_code = "11440114MB2C00023H".into();
        assert_eq!(
            code(hub.case_result(CIVIL, "HD-2026-000100", stranger).await),
            "CASE_HOLDER_MISMATCH"
        );
        assert_eq!(
            code(hub.case_result(CIVIL, "HD-2026-404", permit()).await),
            "CASE_UNKNOWN"
        );
        // The holder compares as its code parses: lower case is the same USCC.
        let mut lower = permit();
        lower.holder_code = COMPANY.to_lowercase();
        let (issued, case) = hub
            .case_result(CIVIL, "HD-2026-000100", lower)
            .await
            .unwrap();
        assert_eq!(case.status, "concluded");
        assert_eq!(
            case.result_licence.as_deref(),
            Some(issued.identifier.as_str())
        );
        assert_eq!(
            issued.credential["licence"]["serviceItem"]["code"], "440114-GZ-0201",
            "{}",
            issued.credential
        );
        assert_eq!(
            code(hub.case_result(CIVIL, "HD-2026-000100", permit()).await),
            "CASE_CONCLUDED"
        );
        assert_eq!(
            code(
                hub.case_licences(CIVIL, &ask("HD-2026-000100", "440114-GZ-0201", cause))
                    .await
            ),
            "CASE_CONCLUDED"
        );

        // The next case, in another department, reuses the result.
        hub.item_put(
            MARKET,
            item(json!({
                "code": "440114-SCJG-0305",
                "name": "食品经营许可（新办）",
                "itemType": "即办件",
                "legalLimitDays": 10,
                "promisedLimitDays": 0,
                "materials": [
                    {"name": "营业执照", "licenceType": BUSINESS_LICENCE},
                    {"name": "建设工程规划许可证", "licenceType": PLANNING_PERMIT}
                ]
            })),
        )
        .await
        .unwrap();
        let next = hub
            .case_licences(
                MARKET,
                &ask(
                    "HD-2026-000101",
                    "440114-SCJG-0305",
                    "办理食品经营许可，核验经营场所规划许可",
                ),
            )
            .await
            .unwrap();
        assert!(next.complete);
        assert_eq!(
            next.materials[1].identifier.as_deref(),
            Some(issued.identifier.as_str())
        );

        // Case numbers are each department's own: 市场监管局 may use the
        // number 民政局 used, and a lookup by number alone then needs the
        // department.
        hub.case_licences(
            MARKET,
            &ask("HD-2026-000100", "440114-SCJG-0305", "办理食品经营许可"),
        )
        .await
        .unwrap();
        assert_eq!(
            code(hub.case_show(None, "HD-2026-000100").await),
            "CASE_AMBIGUOUS"
        );
        let (theirs, _) = hub.case_show(Some(MARKET), "HD-2026-000100").await.unwrap();
        assert_eq!(theirs.status, "open");
        let (ours, ours_uses) = hub.case_show(Some(CIVIL), "HD-2026-000100").await.unwrap();
        assert_eq!((ours.status.as_str(), ours_uses.len()), ("concluded", 2));

        // A revoked licence is not returned, and the answer says why.
        hub.revoke(issued.identifier.as_str(), CIVIL, "规划条件变更")
            .await
            .unwrap();
        let after = hub
            .case_licences(
                MARKET,
                &ask("HD-2026-000101", "440114-SCJG-0305", "复核经营场所规划许可"),
            )
            .await
            .unwrap();
        assert!(!after.complete);
        assert_eq!(after.materials[1].status, MaterialState::Revoked);
        assert!(after.materials[1].licence.is_none());

        // Everything is in the audit log.
        let log = hub.store().audit_of("HD-2026-000100", 20).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert!(
            actions.contains(&"case.open") && actions.contains(&"case.conclude"),
            "{actions:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_items_and_case_queries_are_refused_and_write_nothing() {
    each_backend("cases_refusals", |hub| async move {
        hub.item_put(CIVIL, permit_item()).await.unwrap();
        let before = hub.store().audit_head().await.unwrap().0;
        // Items.
        let mut other = permit_item();
        other.name = "改个名字".into();
        assert_eq!(code(hub.item_put(MARKET, other).await), "ITEM_NOT_OWNER");
        let mut bad = permit_item();
        bad.item_type = "加急件".into();
        assert_eq!(code(hub.item_put(CIVIL, bad).await), "ITEM_TYPE_INVALID");
        let mut bad = permit_item();
        bad.promised_limit_days = 30;
        assert_eq!(
            code(hub.item_put(CIVIL, bad).await),
            "ITEM_TIME_LIMIT_INVALID"
        );
        let mut bad = permit_item();
        bad.materials[0].licence_type = Some("11100000TB0000099Z001".into());
        assert_eq!(code(hub.item_put(CIVIL, bad).await), "LICENCE_TYPE_UNKNOWN");
        let mut bad = permit_item();
        bad.code = "规划/0201".into();
        assert_eq!(code(hub.item_put(CIVIL, bad).await), "ITEM_CODE_INVALID");
        for name in ["", "   ", &"名".repeat(201)] {
            let mut bad = permit_item();
            bad.name = name.into();
            assert_eq!(
                code(hub.item_put(CIVIL, bad).await),
                "ITEM_NAME_INVALID",
                "{name:?}"
            );
        }
        let mut bad = permit_item();
        bad.materials[0].name = " ".into();
        assert_eq!(
            code(hub.item_put(CIVIL, bad).await),
            "ITEM_MATERIALS_INVALID"
        );
        let mut bad = permit_item();
        bad.materials = vec![bad.materials[0].clone(); 101];
        assert_eq!(
            code(hub.item_put(CIVIL, bad).await),
            "ITEM_MATERIALS_INVALID"
        );
        assert_eq!(code(hub.item_show("440114-XX-9999").await), "ITEM_UNKNOWN");
        // The hub's services' resource ids are reserved.
        let squatter = serde_json::from_value(json!({
            "id": "hub.case.licences", "name": "抢注", "schema": "case-licence-query@1",
            "sharingType": "unconditional",
        }))
        .unwrap();
        assert_eq!(
            code(hub.catalogue_publish(CIVIL, squatter, false).await),
            "CATALOGUE_ID_RESERVED"
        );

        // Case queries: without a purpose, for an unknown item, a bad
        // holder code, a bad case number.
        let cause = "办理建设工程规划许可证核发";
        assert_eq!(
            code(
                hub.case_licences(CIVIL, &ask("HD-1", "440114-GZ-0201", "  "))
                    .await
            ),
            "USE_CAUSE_REQUIRED"
        );
        let rambling = "核".repeat(501);
        assert_eq!(
            code(
                hub.case_licences(CIVIL, &ask("HD-1", "440114-GZ-0201", &rambling))
                    .await
            ),
            "USE_CAUSE_TOO_LONG"
        );
        assert_eq!(
            code(
                hub.case_licences(CIVIL, &ask("HD-1", "440114-XX-9999", cause))
                    .await
            ),
            "ITEM_UNKNOWN"
        );
        let mut q = ask("HD-1", "440114-GZ-0201", cause);
        q.holder_code = "91440114MA5TB0A01X".into();
        assert_eq!(
            code(hub.case_licences(CIVIL, &q).await),
            "HOLDER_CODE_INVALID"
        );
        assert_eq!(
            code(
                hub.case_licences(CIVIL, &ask("HD 1", "440114-GZ-0201", cause))
                    .await
            ),
            "CASE_ID_INVALID"
        );
        assert_eq!(open_cases(&hub).await, 0);
        assert_eq!(
            hub.store().audit_head().await.unwrap().0,
            before,
            "nothing was written"
        );

        // Only the item's own department opens cases under it.
        assert_eq!(
            code(
                hub.case_licences(MARKET, &ask("HD-1", "440114-GZ-0201", cause))
                    .await
            ),
            "ITEM_NOT_HANDLER"
        );
        assert_eq!(open_cases(&hub).await, 0);
        assert_eq!(
            hub.store().audit_head().await.unwrap().0,
            before,
            "nothing was written"
        );

        // A case number belongs to its department, item and holder.
        hub.case_licences(CIVIL, &ask("HD-1", "440114-GZ-0201", cause))
            .await
            .unwrap();
        let mut other_holder = ask("HD-1", "440114-GZ-0201", cause);
        other_holder.holder_code = "11440114MB2C00023H".into();
        assert_eq!(
            code(hub.case_licences(CIVIL, &other_holder).await),
            "CASE_CONFLICT"
        );
        assert_eq!(open_cases(&hub).await, 1);

        // An item without a result type issues no result.
        let mut plain = permit_item();
        plain.code = "440114-GZ-0202".into();
        plain.result_type = None;
        hub.item_put(CIVIL, plain).await.unwrap();
        hub.case_licences(CIVIL, &ask("HD-2", "440114-GZ-0202", cause))
            .await
            .unwrap();
        assert_eq!(
            code(hub.case_result(CIVIL, "HD-2", permit()).await),
            "ITEM_NO_RESULT_TYPE"
        );

        // Retired items open no new cases; only their department retires them.
        assert_eq!(
            code(hub.item_retire(MARKET, "440114-GZ-0201").await),
            "ITEM_NOT_OWNER"
        );
        let retired = hub.item_retire(CIVIL, "440114-GZ-0201").await.unwrap();
        assert_eq!((retired.status.as_str(), retired.version), ("retired", 2));
        assert_eq!(
            code(hub.item_retire(CIVIL, "440114-GZ-0201").await),
            "ITEM_RETIRED",
            "retired once only"
        );
        assert_eq!(
            code(
                hub.case_licences(CIVIL, &ask("HD-3", "440114-GZ-0201", cause))
                    .await
            ),
            "ITEM_RETIRED"
        );
        let again = hub.item_put(CIVIL, permit_item()).await.unwrap();
        assert_eq!((again.status.as_str(), again.version), ("active", 3));
    })
    .await;
}
