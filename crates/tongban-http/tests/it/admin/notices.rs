//! Supervision's pushes and notices (督办) over HTTP: the supervising office
//! and the warning threshold set by the administrator, a sweep on demand,
//! what was pushed to whom, notices issued by the office and answered by
//! the unit asked — each route and each refusal with its code, writing
//! nothing. A fixed clock: Monday 9 March 2026, 10:00 in China.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;
use tongban_service::alerts::NewNotice;
use tongban_service::{CaseEventInput, Clock, Role, samples};

use super::areas::Call;
use super::supervision::{ITEM, supervised, year_2027};
use super::{Tokens, asking};
use crate::{Served, each_backend};

const CIVIL: &str = samples::CIVIL_AFFAIRS;
const MARKET: &str = samples::MARKET;
/// 数据局: the supervising office in the area's test.
const BUREAU: &str = samples::DATA_BUREAU;

fn notice(subject: &str, days: u32) -> Value {
    json!({"unit": CIVIL, "subjectKind": "case", "subject": subject,
           "text": "请说明该件办理进度及超期原因", "answerDays": days})
}

/// The sample calls of this area, for the role matrix: the market bureau
/// is the supervising office, civil affairs the unit asked.
pub async fn calls(served: &Served) -> Vec<Call> {
    let hub = &served.hub;
    if hub.case_supervision(CIVIL, "MATRIX-SJ-1").await.is_err() {
        supervised(served, "MATRIX-SJ-1").await;
    }
    // The notice's day to answer may fall in the next year.
    hub.calendar_load(&year_2027().to_string()).await.unwrap();
    hub.set_supervising_office(MARKET).await.unwrap();
    let asked = hub
        .notice_issue(
            None,
            NewNotice {
                unit: CIVIL.into(),
                subject_kind: "case".into(),
                subject: "MATRIX-SJ-1".into(),
                text: "请说明".into(),
                answer_days: 1,
            },
        )
        .await
        .unwrap();
    let mut issued = notice("MATRIX-SJ-1", 1);
    issued["office"] = json!(MARKET);
    let id = &asked.id;
    vec![
        Call::get("/v1/supervision/office", "/v1/supervision/office"),
        Call::put(
            "/v1/supervision/office",
            "/v1/supervision/office",
            json!({"department": MARKET}),
        ),
        Call::get("/v1/supervision/thresholds", "/v1/supervision/thresholds"),
        Call::put(
            "/v1/supervision/thresholds",
            "/v1/supervision/thresholds",
            json!({"warnPercent": 80}),
        ),
        Call::post("/v1/supervision/sweep", "/v1/supervision/sweep", json!({})),
        Call::get("/v1/supervision/pushes", "/v1/supervision/pushes"),
        Call::get("/v1/supervision/notices", "/v1/supervision/notices"),
        Call::post("/v1/supervision/notices", "/v1/supervision/notices", issued).about(MARKET),
        Call::get(
            "/v1/supervision/notices/{id}",
            format!("/v1/supervision/notices/{id}?department={CIVIL}"),
        )
        .about(CIVIL),
        Call::post(
            "/v1/supervision/notices/{id}/answer",
            format!("/v1/supervision/notices/{id}/answer"),
            json!({"department": CIVIL, "answer": "已办结"}),
        )
        .about(CIVIL),
    ]
}

/// Civil affairs' case `id`, accepted on Monday 2 March 2026 and still
/// open: on the 9th at 10:00, about 4.4 of its promised 5 working days.
async fn open_case(served: &Served, id: &str) {
    let input = CaseEventInput::parse(
        id.into(),
        ITEM.into(),
        "online".into(),
        true,
        "2026-03-02T10:00:00+08:00",
        &json!({"event": "accepted"}),
    )
    .unwrap();
    served.hub.case_event(CIVIL, input, false).await.unwrap();
}

impl Served {
    /// `POST path` with `token` and `body`: the JSON answer, after
    /// checking it is a 200.
    async fn posted(&self, token: &str, path: &str, body: Value) -> Value {
        let response = self.call(token, Method::POST, path, Some(&body)).await;
        assert_eq!(response.status(), 200, "POST {path}");
        response.json().await.unwrap()
    }
}

fn items(listed: &Value) -> &Vec<Value> {
    listed["items"].as_array().unwrap()
}

#[tokio::test]
async fn pushes_and_notices_over_http() {
    each_backend("http_admin_notices", |backend| async move {
        let clock = Clock::fixed(datetime!(2026-03-09 10:00 +8));
        let served = Served::start_clocked(&backend, clock, |_| {}).await;
        let tokens = Tokens::make(&served).await;
        let bureau = served
            .hub
            .token_create(
                "bureau",
                Role::DepartmentOperator,
                Some(BUREAU),
                Duration::days(1),
            )
            .await
            .unwrap()
            .token;
        supervised(&served, "SJ-DONE").await;
        open_case(&served, "SJ-OPEN").await;

        // The office and the threshold: read by auditors, set by the
        // administrator only.
        let office = "/v1/supervision/office";
        let read = served.read(&tokens.auditor, office).await;
        assert_eq!(read["department"], Value::Null, "{read}");
        served
            .refused_each(&[
                asking(&tokens.market)
                    .put(office, json!({"department": BUREAU}))
                    .refused(403, "FORBIDDEN"),
                asking(&tokens.civil).get(office).refused(403, "FORBIDDEN"),
                asking(&tokens.admin)
                    .put(office, json!({"department": "91440114MA5TB0A01K"}))
                    .refused(404, "DEPARTMENT_UNKNOWN"),
                asking(&tokens.admin)
                    .put(office, json!({"department": BUREAU, "deputy": MARKET}))
                    .refused(400, "REQUEST_INVALID"),
            ])
            .await;
        let named = served
            .call(
                &tokens.admin,
                Method::PUT,
                office,
                Some(&json!({"department": BUREAU})),
            )
            .await;
        assert_eq!(named.status(), 200);
        assert_eq!(
            served.read(&tokens.admin, office).await["department"],
            BUREAU
        );
        assert_eq!(served.audit_trail(BUREAU).await[0][0], "supervision.office");

        let thresholds = "/v1/supervision/thresholds";
        assert_eq!(
            served.read(&tokens.auditor, thresholds).await["warnPercent"],
            80
        );
        served
            .refused_each(&[
                asking(&tokens.admin)
                    .put(thresholds, json!({"warnPercent": 100}))
                    .refused(400, "THRESHOLDS_INVALID"),
                asking(&tokens.admin)
                    .put(thresholds, json!({"warn_percent": 60}))
                    .refused(400, "REQUEST_INVALID"),
                asking(&tokens.civil)
                    .put(thresholds, json!({"warnPercent": 60}))
                    .refused(403, "FORBIDDEN"),
            ])
            .await;
        let set = served
            .call(
                &tokens.admin,
                Method::PUT,
                thresholds,
                Some(&json!({"warnPercent": 60})),
            )
            .await;
        assert_eq!(set.status(), 200);
        assert_eq!(
            served.read(&tokens.auditor, thresholds).await["warnPercent"],
            60
        );

        // A sweep on demand warns the open case once.
        let sweep = "/v1/supervision/sweep";
        served
            .refuses(
                asking(&bureau)
                    .post(sweep, json!({}))
                    .refused(403, "FORBIDDEN"),
            )
            .await;
        let swept: Value = served
            .call(&tokens.admin, Method::POST, sweep, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (swept["cases"].as_u64(), swept["warnings"].as_u64()),
            (Some(1), Some(1)),
            "{swept}"
        );
        let again: Value = served
            .call(&tokens.admin, Method::POST, sweep, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(again["warnings"], 0, "{again}");

        // Notices: the office issues, nobody else but the administrator.
        let notices = "/v1/supervision/notices";
        let mut other_kind = notice("SJ-OPEN", 3);
        other_kind["subjectKind"] = json!("licence");
        let mut extra = notice("SJ-OPEN", 3);
        extra["urgent"] = json!(true);
        served
            .refused_each(&[
                asking(&tokens.market)
                    .post(notices, notice("SJ-OPEN", 3))
                    .refused(403, "NOTICE_FORBIDDEN"),
                asking(&tokens.auditor)
                    .post(notices, notice("SJ-OPEN", 3))
                    .refused(403, "FORBIDDEN"),
                asking(&bureau)
                    .post(notices, notice("SJ-OPEN", 0))
                    .refused(400, "NOTICE_INVALID"),
                asking(&bureau)
                    .post(notices, other_kind)
                    .refused(400, "NOTICE_INVALID"),
                asking(&bureau)
                    .post(notices, notice("SJ-404", 3))
                    .refused(404, "CASE_UNKNOWN"),
                asking(&bureau)
                    .post(notices, extra)
                    .refused(400, "REQUEST_INVALID"),
            ])
            .await;
        let issued = served
            .call(&bureau, Method::POST, notices, Some(&notice("SJ-OPEN", 3)))
            .await;
        assert_eq!(issued.status(), 201);
        let first: Value = issued.json().await.unwrap();
        assert_eq!(first["issuedBy"], BUREAU, "{first}");
        // Three working days from Monday: the end of Thursday.
        assert_eq!(first["dueAt"], "2026-03-13T00:00:00+08:00", "{first}");
        let by_admin: Value = served
            .call(
                &tokens.admin,
                Method::POST,
                notices,
                Some(&notice("SJ-DONE", 1)),
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(
            by_admin["issuedBy"].as_str().unwrap().starts_with("token:"),
            "{by_admin}"
        );
        let (first_id, second_id) = (
            first["id"].as_str().unwrap().to_owned(),
            by_admin["id"].as_str().unwrap().to_owned(),
        );
        assert_eq!(served.audit_trail(&first_id).await[0][0], "notice.issue");

        // Listed: all for the office and the auditor, a unit its own.
        for token in [&tokens.civil, &bureau, &tokens.auditor] {
            let listed = served.read(token, notices).await;
            assert_eq!(items(&listed).len(), 2, "{listed}");
        }
        let market_sees = served.read(&tokens.market, notices).await;
        assert!(items(&market_sees).is_empty(), "{market_sees}");
        let paged = served
            .read(
                &tokens.auditor,
                &format!("{notices}?unit={CIVIL}&open=true&limit=1"),
            )
            .await;
        assert_eq!(
            (items(&paged).len(), &paged["next"]),
            (1, &json!(1)),
            "{paged}"
        );
        served
            .refused_each(&[
                asking(&tokens.civil)
                    .get(format!("{notices}?unit={MARKET}"))
                    .refused(403, "NOTICE_FORBIDDEN"),
                asking(&tokens.civil)
                    .get(format!("{notices}?department={MARKET}"))
                    .refused(403, "FORBIDDEN"),
                asking(&tokens.verifier)
                    .get(notices)
                    .refused(403, "FORBIDDEN"),
                asking(&tokens.auditor)
                    .get(format!("{notices}?open=maybe"))
                    .refused(400, "REQUEST_INVALID"),
            ])
            .await;

        // Shown to the unit, the office and the auditor, nobody else.
        let one = format!("{notices}/{first_id}");
        for token in [&tokens.civil, &bureau, &tokens.auditor] {
            assert_eq!(served.read(token, &one).await["id"], first_id.as_str());
        }
        served
            .refused_each(&[
                asking(&tokens.market)
                    .get(&one)
                    .refused(403, "NOTICE_FORBIDDEN"),
                asking(&tokens.admin)
                    .get(format!("{one}?department={MARKET}"))
                    .refused(403, "NOTICE_FORBIDDEN"),
                asking(&tokens.civil)
                    .get(format!("{notices}/DB20260309000000000000"))
                    .refused(404, "NOTICE_UNKNOWN"),
            ])
            .await;

        // Answered once, by the unit asked (or an administrator naming it).
        let answer = format!("{one}/answer");
        served
            .refused_each(&[
                asking(&tokens.market)
                    .post(&answer, json!({"answer": "已办结"}))
                    .refused(403, "NOTICE_FORBIDDEN"),
                asking(&tokens.market)
                    .post(&answer, json!({"department": CIVIL, "answer": "已办结"}))
                    .refused(403, "FORBIDDEN"),
                asking(&tokens.admin)
                    .post(&answer, json!({"answer": "已办结"}))
                    .refused(400, "REQUEST_INVALID"),
                asking(&tokens.civil)
                    .post(&answer, json!({"answer": ""}))
                    .refused(400, "NOTICE_INVALID"),
                asking(&tokens.civil)
                    .post(
                        format!("{notices}/DB20260309000000000000/answer"),
                        json!({"answer": "已办结"}),
                    )
                    .refused(404, "NOTICE_UNKNOWN"),
            ])
            .await;
        let answered: Value = served
            .posted(
                &tokens.civil,
                &answer,
                json!({"answer": "材料已补正，3月10日办结"}),
            )
            .await;
        assert_eq!(answered["answer"], "材料已补正，3月10日办结", "{answered}");
        assert_eq!(served.audit_trail(&first_id).await[0][0], "notice.answer");
        served
            .refuses(
                asking(&tokens.civil)
                    .post(&answer, json!({"answer": "再答"}))
                    .refused(409, "NOTICE_ANSWERED"),
            )
            .await;
        let by_admin = served
            .posted(
                &tokens.admin,
                &format!("{notices}/{second_id}/answer"),
                json!({"department": CIVIL, "answer": "已核实"}),
            )
            .await;
        assert!(
            by_admin["answeredBy"]
                .as_str()
                .unwrap()
                .starts_with("token:")
        );
        let open = served
            .read(&tokens.civil, &format!("{notices}?open=true"))
            .await;
        assert!(items(&open).is_empty(), "{open}");

        // What was pushed: the warning, two notices and their answers, to
        // the unit and the office.
        let pushes = "/v1/supervision/pushes";
        let seen = served.read(&tokens.civil, pushes).await;
        assert_eq!(items(&seen).len(), 5, "{seen}");
        for push in items(&seen) {
            assert_eq!(push["audience"], json!([CIVIL, BUREAU]), "{push}");
            assert!(push["payload"].is_object(), "{push}");
        }
        // All found at the same instant (the clock stands still).
        let of = |schema: &str, state: &str| {
            items(&seen)
                .iter()
                .filter(|p| p["schema"] == schema && p["payload"]["state"] == state)
                .count()
        };
        assert_eq!(of("supervision-notice@1", "issued"), 2, "{seen}");
        assert_eq!(of("supervision-notice@1", "answered"), 2, "{seen}");
        let warning = items(&seen)
            .iter()
            .find(|p| p["schema"] == "supervision-alert@1")
            .unwrap();
        assert_eq!(warning["payload"]["caseId"], "SJ-OPEN", "{warning}");
        assert_eq!(warning["payload"]["standing"], "warned", "{warning}");
        assert_eq!(served.read(&bureau, pushes).await["items"], seen["items"]);
        let market_pushed = served.read(&tokens.market, pushes).await;
        assert!(items(&market_pushed).is_empty(), "{market_pushed}");
        let page = served
            .read(
                &tokens.auditor,
                &format!(
                    "{pushes}?department={CIVIL}&from=2026-03-09&to=2026-03-10&limit=2&offset=2"
                ),
            )
            .await;
        assert_eq!(items(&page).len(), 2, "{page}");
        assert_eq!((&page["offset"], &page["next"]), (&json!(2), &json!(4)));
        let before = served
            .read(&tokens.auditor, &format!("{pushes}?to=2026-03-09"))
            .await;
        assert!(items(&before).is_empty(), "{before}");
        served
            .refused_each(&[
                asking(&tokens.civil)
                    .get(format!("{pushes}?department={MARKET}"))
                    .refused(403, "FORBIDDEN"),
                asking(&tokens.verifier)
                    .get(pushes)
                    .refused(403, "FORBIDDEN"),
                asking(&tokens.auditor)
                    .get(format!("{pushes}?from=March"))
                    .refused(400, "REQUEST_INVALID"),
                asking(&tokens.auditor)
                    .get(format!("{pushes}?limit=500"))
                    .refused(400, "REQUEST_INVALID"),
            ])
            .await;
        served.stop().await;
        backend
    })
    .await;
}
