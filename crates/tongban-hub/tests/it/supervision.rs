//! Supervision's pushes over real QUIC: warnings and notices the hub signs
//! and sends on `hub.supervision` to the subscribers among their audience,
//! once each; a node that starts after a threshold passed sends what none
//! sent; a unit answers a notice through `hub.supervision.answer`.

use std::time::Duration;

use serde_json::{Value, json};
use time::macros::datetime;
use tongban_client::{Event, Listener};
use tongban_proto::ErrorCode;
use tongban_proto::services::NoticeAnswer;
use tongban_seal::KeyPurpose;
use tongban_service::alerts::NewNotice;
use tongban_service::{CaseEventInput, Service};

use crate::{CIVIL, HEALTH, MARKET, TestHub, each_backend, fast_config, put_item};

const ITEM: &str = "440114-MZ-0302";

fn config(sweep_every: Duration) -> tongban_hub::ServeConfig {
    tongban_hub::ServeConfig {
        supervision_every: sweep_every,
        ..fast_config()
    }
}

async fn set_up(hub: &Service) {
    put_item(
        hub,
        CIVIL,
        json!({
            "code": ITEM, "name": "民办非企业单位成立登记", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 10, "materials": [{"name": "章程草案"}],
        }),
    )
    .await;
    // 卫生健康局 stands in for the supervising office.
    hub.set_supervising_office(HEALTH).await.unwrap();
    // The hub signs what it pushes with the key usable at its clock: the
    // tests move the clock back to 2026, before the hub was set up.
    hub.new_signing_key(
        "hub",
        KeyPurpose::Both,
        Some(datetime!(2026-01-01 0:00 UTC)),
    )
    .await
    .unwrap();
}

async fn event(hub: &Service, case: &str, when: &str, e: Value) {
    let input =
        CaseEventInput::parse(case.into(), ITEM.into(), "online".into(), true, when, &e).unwrap();
    hub.case_event(CIVIL, input, true).await.unwrap();
}

async fn listening(t: &TestHub, department: &str) -> (tongban_client::Client, Listener) {
    let client = t.client(department).await;
    client.subscribe(&["hub.supervision"]).await.unwrap();
    let listener = client.listen(16).await.unwrap();
    (client, listener)
}

/// The next delivery's envelope, checked as the hub's own (its anchor's
/// signature, its topic), acknowledged.
async fn next_push(t: &TestHub, listener: &mut Listener) -> Value {
    let event = tokio::time::timeout(Duration::from_secs(10), listener.next())
        .await
        .expect("a push within 10 s")
        .unwrap()
        .unwrap();
    let Event::Delivery(d) = event else {
        panic!("{event:?}")
    };
    let parsed = tongban_proto::envelope::parse(d.envelope.clone()).unwrap();
    let keys = t.hub.store().keys_of("hub").await.unwrap();
    let key = keys
        .iter()
        .find(|k| k.key_id == parsed.header.key_id)
        .expect("signed with one of the hub's keys");
    let verified = parsed
        .verify(&tongban_service::key_record(key).unwrap())
        .unwrap();
    assert_eq!(verified.header.sender, "urn:tongban:hub:440114");
    assert_eq!(verified.header.topic.as_deref(), Some("hub.supervision"));
    listener.ack(d.delivery).await.unwrap();
    d.envelope
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_notices_reach_the_unit_and_the_office_once() {
    each_backend(
        "warnings_and_notices_reach_the_unit_and_the_office_once",
        config(Duration::from_millis(100)),
        warnings_and_notices_on,
    )
    .await;
}

async fn warnings_and_notices_on(t: TestHub) {
    set_up(&t.hub).await;
    let (civil, mut civil_hears) = listening(&t, CIVIL).await;
    let (_office, mut office_hears) = listening(&t, HEALTH).await;
    // Subscribed, but not of the audience: hears nothing.
    let (_market, _market_hears) = listening(&t, MARKET).await;
    let real_now = t.hub.now();
    t.hub.clock().set(datetime!(2026-03-02 15:00 +8));
    event(
        &t.hub,
        "MF-0001",
        "2026-03-02T15:00:00+08:00",
        json!({"event": "accepted"}),
    )
    .await;
    // 8.5 of 10 working days: warned; then 10.5: overdue.
    t.hub.clock().set(datetime!(2026-03-13 12:00 +8));
    for hears in [&mut civil_hears, &mut office_hears] {
        let warned = next_push(&t, hears).await;
        assert_eq!(warned["schema"], "supervision-alert@1");
        assert_eq!(warned["payload"]["standing"], "warned");
        assert_eq!(warned["payload"]["card"], "yellow");
        assert_eq!(warned["payload"]["caseId"], "MF-0001");
    }
    t.hub.clock().set(datetime!(2026-03-17 12:00 +8));
    for hears in [&mut civil_hears, &mut office_hears] {
        let overdue = next_push(&t, hears).await;
        assert_eq!(overdue["payload"]["standing"], "overdue");
        assert_eq!(overdue["payload"]["card"], "red");
    }
    // However often the hub looks, each was sent once.
    assert_eq!(t.hub.supervision_sweep().await.unwrap().warnings, 0);
    let store = t.hub.store();
    assert!(
        store
            .pending_deliveries(MARKET, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let sent = t
        .hub
        .supervision_pushes(
            None,
            (
                datetime!(2020-01-01 0:00 UTC),
                datetime!(2100-01-01 0:00 UTC),
            ),
            (10, 0),
        )
        .await
        .unwrap();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.sent_seq.is_some()), "{sent:?}");

    // A notice goes to the unit and the office; the unit answers it over
    // the exchange (at the real time: envelopes are judged by it).
    let notice = t
        .hub
        .notice_issue(
            Some(HEALTH),
            NewNotice {
                unit: CIVIL.into(),
                subject_kind: "case".into(),
                subject: "MF-0001".into(),
                text: "请说明该件超期原因".into(),
                answer_days: 3,
            },
        )
        .await
        .unwrap();
    for hears in [&mut civil_hears, &mut office_hears] {
        let issued = next_push(&t, hears).await;
        assert_eq!(issued["schema"], "supervision-notice@1");
        assert_eq!(issued["payload"]["state"], "issued");
        assert_eq!(issued["payload"]["noticeId"], notice.id.as_str());
    }
    t.hub.clock().set(real_now);
    let answer = |text: &str| NoticeAnswer {
        notice_id: notice.id.clone(),
        answer: text.into(),
    };
    let answered = civil
        .notice_answer(&answer("补正材料耽误两日，已办结"))
        .await
        .unwrap();
    assert_eq!(answered.envelope["sender"], "urn:tongban:hub:440114");
    assert_eq!(answered.payload.state, "answered");
    let told = next_push(&t, &mut office_hears).await;
    assert_eq!(told["payload"]["answer"], "补正材料耽误两日，已办结");
    let refused = |r: Result<_, tongban_client::ClientError>| {
        let e: tongban_client::ClientError = r
            .map(|_: tongban_proto::services::HubAnswer<_>| ())
            .unwrap_err();
        (e.code(), e.reason().map(str::to_owned))
    };
    assert_eq!(
        refused(civil.notice_answer(&answer("再答")).await),
        (
            Some(ErrorCode::ServiceRefused),
            Some("NOTICE_ANSWERED".into())
        )
    );
    let market = t.client(MARKET).await;
    assert_eq!(
        refused(market.notice_answer(&answer("代答")).await),
        (
            Some(ErrorCode::ServiceRefused),
            Some("NOTICE_FORBIDDEN".into())
        )
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_starts_after_a_threshold_passed_sends_the_warning() {
    each_backend(
        "a_node_that_starts_after_a_threshold_passed_sends_the_warning",
        config(Duration::from_secs(3600)),
        a_node_that_starts_late_on,
    )
    .await;
}

async fn a_node_that_starts_late_on(t: TestHub) {
    set_up(&t.hub).await;
    let (_civil, mut civil_hears) = listening(&t, CIVIL).await;
    t.hub.clock().set(datetime!(2026-03-02 15:00 +8));
    event(
        &t.hub,
        "MF-0002",
        "2026-03-02T15:00:00+08:00",
        json!({"event": "accepted"}),
    )
    .await;
    // The threshold passes while no node looks (this one looked at its
    // start, and looks again in an hour).
    t.hub.clock().set(datetime!(2026-03-13 12:00 +8));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(t.hub.store().outbox_unsent(10).await.unwrap().is_empty());
    assert!(
        t.hub
            .store()
            .pending_deliveries(CIVIL, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A node starting (after a restart, a deploy) looks first thing.
    let late = t.another_node(config(Duration::from_secs(3600))).await;
    late.hub.clock().set(datetime!(2026-03-13 12:00 +8));
    let warned = next_push(&t, &mut civil_hears).await;
    assert_eq!(warned["payload"]["standing"], "warned");
    late.stop().await;
    t.stop().await;
}
