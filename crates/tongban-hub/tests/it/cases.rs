//! Cases over QUIC: a case system asks the hub for an applicant's licences,
//! sends its approved result for issuance, and reports its cases' events
//! for supervision; the hub answers itself, in envelopes signed with its
//! key.

use serde_json::{Value, json};
use tongban_proto::ErrorCode;
use tongban_proto::services::{CaseEvent, CaseLicenceQuery, CaseResult, Holder, HubAnswer};
use tongban_service::IssueInput;

use crate::{CIVIL, COMPANY, MARKET, TestHub, fast_config, put_item, registration, schemas_dir};

fn example(name: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(schemas_dir().join(format!("licence-types/examples/{name}.json"))).unwrap(),
    )
    .unwrap()
}

fn ask(case_id: &str, item: &str, cause: &str) -> CaseLicenceQuery {
    CaseLicenceQuery::new(case_id, item, Holder::new("001", COMPANY), cause)
}

fn result_for(case_id: &str, licence: Value) -> CaseResult {
    CaseResult {
        case_id: case_id.to_owned(),
        licence,
    }
}

fn holder() -> Value {
    json!({"name": "广州花都鸿睿启航电子科技有限公司", "codeType": "001", "code": COMPANY})
}

async fn prepare(t: &TestHub) -> String {
    for name in ["business-licence", "construction-planning-permit"] {
        let schema: Value = serde_json::from_slice(
            &std::fs::read(schemas_dir().join(format!("licence-types/{name}.json"))).unwrap(),
        )
        .unwrap();
        t.hub.publish_licence_type(schema).await.unwrap();
    }
    let licence = t
        .hub
        .issue(
            MARKET,
            IssueInput::from_json(&json!({
                "type": "11100000TB0000001K001", "holder": holder(), "data": example("business-licence"),
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    put_item(
        &t.hub,
        CIVIL,
        json!({
            "code": "440114-GZ-0201", "name": "建设工程规划许可证核发", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 10,
            "materials": [{"name": "营业执照", "licenceType": "11100000TB0000001K001"}],
            "resultType": "11100000TB0000003R001",
        }),
    )
    .await;
    licence.identifier.as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_system_pulls_licences_and_sends_its_result_over_quic() {
    crate::each_backend(
        "a_case_system_pulls_licences_and_sends_its_result_over_quic",
        fast_config(),
        a_case_system_pulls_licences_and_sends_its_result_over_quic_on,
    )
    .await;
}

async fn a_case_system_pulls_licences_and_sends_its_result_over_quic_on(t: TestHub) {
    let identifier = prepare(&t).await;
    let civil = t.client(CIVIL).await;
    let cause = "办理建设工程规划许可证核发，核验申请单位营业执照";

    let answer = civil
        .case_licences(&ask("HD-2026-000200", "440114-GZ-0201", cause))
        .await
        .unwrap();
    // Signed by the hub, to the asker.
    let (_, hub_key) = t
        .hub
        .current_key("hub", tongban_seal::KeyPurpose::Both)
        .await
        .unwrap();
    let identity = t.hub.identity().await.unwrap();
    assert_eq!(answer.envelope["sender"], identity.id.as_str());
    assert_eq!(answer.envelope["recipient"], CIVIL);
    assert_eq!(answer.envelope["kind"], "response");
    assert_eq!(answer.envelope["schema"], "case-licences@1");
    tongban_proto::envelope::parse(answer.envelope.clone())
        .unwrap()
        .verify(&hub_key)
        .unwrap();
    let mut forged = answer.envelope.clone();
    forged["payload"]["complete"] = json!(false);
    assert_eq!(
        tongban_proto::envelope::parse(forged)
            .unwrap()
            .verify(&hub_key)
            .unwrap_err()
            .code,
        ErrorCode::SignatureInvalid
    );
    let payload = &answer.envelope["payload"];
    assert_eq!(payload["complete"], true);
    assert_eq!(payload["materials"][0]["status"], "found");
    assert_eq!(payload["materials"][0]["identifier"], identifier.as_str());
    let (_, uses) = t
        .hub
        .case_show(Some(CIVIL), "HD-2026-000200")
        .await
        .unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].returned, vec![identifier.clone()]);

    // Refusals carry the service's code.
    fn refused<T: std::fmt::Debug>(
        r: Result<HubAnswer<T>, tongban_client::ClientError>,
    ) -> (Option<ErrorCode>, Option<String>) {
        let e = r.unwrap_err();
        (e.code(), e.reason().map(str::to_owned))
    }
    assert_eq!(
        refused(
            civil
                .case_licences(&ask("HD-2026-000201", "440114-GZ-0201", ""))
                .await
        ),
        (
            Some(ErrorCode::ServiceRefused),
            Some("USE_CAUSE_REQUIRED".to_owned())
        )
    );
    assert_eq!(
        refused(
            civil
                .case_licences(&ask("HD-2026-000201", "440114-XX-9999", cause))
                .await
        ),
        (
            Some(ErrorCode::ServiceRefused),
            Some("ITEM_UNKNOWN".to_owned())
        )
    );
    assert!(
        t.hub.case_show(None, "HD-2026-000201").await.is_err(),
        "no case opened"
    );
    // A hub service takes requests only, in its own schema.
    let market = t.client(MARKET).await;
    let wrong = market.request_for(
        "hub.case.licences",
        "business-registration@1",
        registration(COMPANY),
    );
    assert_eq!(
        market.request(wrong, 2_000).await.unwrap_err().code(),
        Some(ErrorCode::ResourceForbidden)
    );
    // Requests (to a service or a provider) name no topic: nothing but the
    // provider's messages are records.
    let mut on_topic = civil.request_for(
        "hub.case.licences",
        "case-licence-query@1",
        json!({"caseId": "HD-1", "serviceItem": "440114-GZ-0201", "holder": {"codeType": "001", "code": COMPANY}, "useCause": cause}),
    );
    on_topic.topic = Some("business-registration".into());
    assert_eq!(
        civil.request(on_topic, 2_000).await.unwrap_err().code(),
        Some(ErrorCode::EnvelopeMalformed)
    );
    let mut on_topic = civil.request_for(
        "business-registration",
        "business-registration@1",
        registration(COMPANY),
    );
    on_topic.topic = Some("business-registration".into());
    assert_eq!(
        civil.request(on_topic, 2_000).await.unwrap_err().code(),
        Some(ErrorCode::EnvelopeMalformed)
    );
    let (records, _) = civil.records("business-registration", 0, 10).await.unwrap();
    assert!(records.is_empty(), "{records:?}");
    // Another department may not open cases under CIVIL's item.
    assert_eq!(
        refused(
            market
                .case_licences(&ask("HD-2026-000202", "440114-GZ-0201", cause))
                .await
        ),
        (
            Some(ErrorCode::ServiceRefused),
            Some("ITEM_NOT_HANDLER".to_owned())
        )
    );
    let malformed = market.request_for(
        "hub.case.licences",
        "case-licence-query@1",
        json!({"caseId": "HD-1", "serviceItem": "440114-GZ-0201", "holder": {"codeType": "001", "code": COMPANY}}),
    );
    assert_eq!(
        market.request(malformed, 2_000).await.unwrap_err().code(),
        Some(ErrorCode::PayloadInvalid)
    );

    // The approved result, issued by the hub for the handling department.
    let result = json!({"type": "11100000TB0000003R001", "holder": holder(), "data": example("construction-planning-permit")});
    assert_eq!(
        refused(
            market
                .case_result(&result_for("HD-2026-000200", result.clone()))
                .await
        ),
        (
            Some(ErrorCode::ServiceRefused),
            Some("CASE_UNKNOWN".to_owned())
        )
    );
    // Licence data that issuance refuses: the case stays open.
    let mut bad = result.clone();
    bad["data"]["permitNumber"] = json!(42);
    let (code, reason) = refused(civil.case_result(&result_for("HD-2026-000200", bad)).await);
    assert_eq!(code, Some(ErrorCode::ServiceRefused));
    assert_eq!(reason.as_deref(), Some("SUBJECT_SCHEMA_VIOLATION"));
    // A misspelt member is refused, never ignored (it would issue a
    // licence without the end date meant): the case stays open.
    let mut misspelt = result.clone();
    misspelt["vaildUntil"] = json!("2027-01-01T00:00:00Z");
    assert_eq!(
        refused(
            civil
                .case_result(&result_for("HD-2026-000200", misspelt))
                .await
        ),
        (
            Some(ErrorCode::ServiceRefused),
            Some("REQUEST_INVALID".to_owned())
        )
    );
    let issued = civil
        .case_result(&result_for("HD-2026-000200", result.clone()))
        .await
        .unwrap();
    let new_id = issued.envelope["payload"]["identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(issued.envelope["payload"]["case"]["status"], "concluded");
    assert_eq!(
        issued.envelope["payload"]["licence"]["licence"]["serviceItem"]["code"],
        "440114-GZ-0201"
    );
    let (case, _) = t
        .hub
        .case_show(Some(CIVIL), "HD-2026-000200")
        .await
        .unwrap();
    assert_eq!(case.result_licence.as_deref(), Some(new_id.as_str()));
    assert_eq!(
        refused(
            civil
                .case_result(&result_for("HD-2026-000200", result))
                .await
        ),
        (
            Some(ErrorCode::ServiceRefused),
            Some("CASE_CONCLUDED".to_owned())
        )
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_system_reports_its_cases_events_over_quic() {
    crate::each_backend(
        "a_case_system_reports_its_cases_events_over_quic",
        fast_config(),
        a_case_system_reports_its_cases_events_over_quic_on,
    )
    .await;
}

fn event(case_id: &str, at: &str, event: Value) -> CaseEvent {
    CaseEvent {
        case_id: case_id.to_owned(),
        service_item: "440114-GZ-0201".to_owned(),
        channel: "online".to_owned(),
        zero_visit: true,
        at: at.to_owned(),
        event,
    }
}

async fn a_case_system_reports_its_cases_events_over_quic_on(t: TestHub) {
    prepare(&t).await;
    let civil = t.client(CIVIL).await;
    // Accepted on Monday 2 March 2026; a correction stands Thursday and
    // Friday; concluded on Tuesday 10 March at noon: 3.5 working days of
    // a promised 10.
    let steps = [
        ("2026-03-02T15:00:00+08:00", json!({"event": "accepted"})),
        (
            "2026-03-05T00:00:00+08:00",
            json!({"event": "correction-asked", "reason": "缺建设工程设计方案"}),
        ),
        (
            "2026-03-09T00:00:00+08:00",
            json!({"event": "correction-done"}),
        ),
        (
            "2026-03-10T12:00:00+08:00",
            json!({"event": "concluded", "result": "approved"}),
        ),
    ];
    let mut last = None;
    for (at, e) in steps {
        let answer = civil
            .case_event(&event("HD-2026-000300", at, e))
            .await
            .unwrap();
        // The hub answers, signed with its own key.
        assert_eq!(answer.envelope["sender"], "urn:tongban:hub:440114");
        last = Some(answer.payload);
    }
    let standing = last.unwrap();
    assert_eq!(standing.phase, "concluded");
    assert_eq!(standing.elapsed_minutes, (3 * 24 + 12) * 60);
    assert_eq!(standing.standing, "in-time");
    assert_eq!(standing.events, 4);
    let stored = t
        .hub
        .case_supervision(CIVIL, "HD-2026-000300")
        .await
        .unwrap();
    assert!(stored.case.zero_visit);
    assert_eq!(stored.case.result.as_deref(), Some("approved"));
    assert_eq!(stored.events.len(), 4);
    assert_eq!(stored.events[0].recorded_by, CIVIL);

    // Refusals carry the service's code and record nothing.
    let refused = |r: Result<
        HubAnswer<tongban_proto::services::CaseStanding>,
        tongban_client::ClientError,
    >| {
        let e = r.unwrap_err();
        (e.code(), e.reason().map(str::to_owned))
    };
    for (e, code) in [
        (
            event(
                "HD-2026-000301",
                "2026-03-02T09:00:00+08:00",
                json!({"event": "concluded", "result": "approved"}),
            ),
            "CASE_EVENT_OUT_OF_ORDER",
        ),
        (
            event(
                "HD-2026-000301",
                "2099-03-02T09:00:00+08:00",
                json!({"event": "accepted"}),
            ),
            "CASE_EVENT_INVALID",
        ),
    ] {
        assert_eq!(
            refused(civil.case_event(&e).await),
            (Some(ErrorCode::ServiceRefused), Some(code.to_owned())),
            "{e:?}"
        );
    }
    assert!(
        t.hub
            .case_supervision(CIVIL, "HD-2026-000301")
            .await
            .is_err()
    );
    // Only the item's department reports its cases.
    let market = t.client(MARKET).await;
    assert_eq!(
        refused(
            market
                .case_event(&event(
                    "HD-2026-000302",
                    "2026-03-02T09:00:00+08:00",
                    json!({"event": "accepted"})
                ))
                .await
        ),
        (
            Some(ErrorCode::ServiceRefused),
            Some("ITEM_NOT_HANDLER".to_owned())
        )
    );
    t.stop().await;
}
