//! 12345 work orders over QUIC: the hotline office creates orders
//! (`hub.hotline.create`) and every step is a signed request
//! (`hub.hotline.order`) taken by its sender — the office or a member unit
//! — which the hub checks and answers in an envelope signed with its key;
//! each step is told to the other side on `hub.hotline` (`order-notice@1`).

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tongban_client::{Client, ClientError, Event, Listener};
use tongban_proto::ErrorCode;
use tongban_proto::services::{HubAnswer, OrderNew, OrderState, OrderStep};
use tongban_service::NewRoute;
use tongban_supervision::hotline::Category;

use crate::{CIVIL, HEALTH, MARKET, TestHub, fast_config};

/// 民政局 runs the hotline here; 市场监管局 and 卫生健康局 are member units.
const OFFICE: &str = CIVIL;
const CONTACT: &str = "王女士 13800000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_orders_go_between_the_office_and_its_units_over_quic() {
    crate::each_backend(
        "work_orders_go_between_the_office_and_its_units_over_quic",
        fast_config(),
        work_orders_go_between_the_office_and_its_units_over_quic_on,
    )
    .await;
}

fn call(id: &str, unit: Option<&str>) -> OrderNew {
    OrderNew {
        order_id: id.to_owned(),
        category: "consumer-complaint".to_owned(),
        content: "商家拒绝退还预付卡余额".to_owned(),
        area: Some("440114".to_owned()),
        contact: CONTACT.to_owned(),
        unit: unit.map(str::to_owned),
    }
}

/// Order `id`'s `step` taken `after` the hub's start.
fn step(id: &str, after: Duration, t0: OffsetDateTime, step: Value) -> OrderStep {
    OrderStep {
        order_id: id.to_owned(),
        at: tongban_seal::timefmt::format_rfc3339(t0 + after),
        step,
        with_contact: false,
    }
}

/// `client` takes `s`; the order as the hub answers it.
async fn take(client: &Client, s: &OrderStep) -> OrderState {
    let answer = client.order_step(s).await.unwrap();
    assert_eq!(answer.envelope["sender"], "urn:tongban:hub:440114");
    answer.payload
}

/// The hub's code and its service's reason for a refused request.
fn refusal(r: Result<HubAnswer<OrderState>, ClientError>) -> (Option<ErrorCode>, Option<String>) {
    let e = r.unwrap_err();
    (e.code(), e.reason().map(str::to_owned))
}

fn refused_with(reason: &str) -> (Option<ErrorCode>, Option<String>) {
    (Some(ErrorCode::ServiceRefused), Some(reason.to_owned()))
}

async fn work_orders_go_between_the_office_and_its_units_over_quic_on(t: TestHub) {
    t.hub.set_hotline_office(OFFICE).await.unwrap();
    t.hub
        .route_add(NewRoute {
            category: Some(Category::ConsumerComplaint),
            area: Some("4401".into()),
            unit: MARKET.into(),
        })
        .await
        .unwrap();
    let t0 = t.hub.now();
    let office = t.client(OFFICE).await;
    let market = t.client(MARKET).await;
    let health = t.client(HEALTH).await;

    // Only the office creates orders; the routing rule dispatches this one.
    assert_eq!(
        refusal(market.order_new(&call("12345-0001", None)).await),
        refused_with("ORDER_STEP_FORBIDDEN")
    );
    let created = office.order_new(&call("12345-0001", None)).await.unwrap();
    assert_eq!(created.envelope["sender"], "urn:tongban:hub:440114");
    assert_eq!(created.envelope["schema"], "order-state@1");
    let o = created.payload;
    assert_eq!(
        (o.phase.as_str(), o.unit.as_deref()),
        ("dispatched", Some(MARKET))
    );
    assert!(o.sign_deadline.is_some() && o.reply_deadline.is_none());
    assert_eq!(o.contact, None, "the contact is not sent unasked");

    // Another unit cannot sign for it; the unit it is dispatched to can,
    // and asks for the citizen's contact with it.
    let id = "12345-0001";
    let sign = step(id, Duration::seconds(30), t0, json!({"step": "signed"}));
    assert_eq!(
        refusal(health.order_step(&sign).await),
        refused_with("ORDER_STEP_FORBIDDEN")
    );
    let signed = take(
        &market,
        &OrderStep {
            with_contact: true,
            ..sign
        },
    )
    .await;
    assert_eq!(signed.phase, "handling");
    assert_eq!(signed.contact.as_deref(), Some(CONTACT));
    assert!(signed.reply_deadline.is_some());
    let reads = t.hub.store().audit_of(id, 50).await.unwrap();
    assert!(
        reads
            .iter()
            .any(|e| e.action == "order.contact" && e.detail.contains(MARKET))
    );

    // The unit asks for two more days, the office grants them: the reply
    // deadline moves on by two working days.
    let before = signed.reply_deadline.clone().unwrap();
    let ask = json!({"step": "extension-asked", "days": 2, "reason": "需调取商家交易记录"});
    take(&market, &step(id, Duration::seconds(40), t0, ask)).await;
    let granted = json!({"step": "extension-decided", "granted": true});
    let decided = take(&office, &step(id, Duration::seconds(50), t0, granted)).await;
    let after = decided.reply_deadline.clone().unwrap();
    assert!(after > before, "{before} → {after}");

    // The unit replies; the office calls the citizen back and closes.
    let reply = json!({"step": "replied", "content": "已督促商家退款"});
    take(&market, &step(id, Duration::seconds(60), t0, reply)).await;
    let visit = json!({"step": "visited", "satisfied": true});
    take(&office, &step(id, Duration::seconds(70), t0, visit)).await;
    let closed = take(
        &office,
        &step(id, Duration::seconds(80), t0, json!({"step": "closed"})),
    )
    .await;
    assert_eq!((closed.phase.as_str(), closed.steps), ("closed", 7));
    assert_eq!((closed.yellow_cards, closed.red_cards), (0, 0));
    let (stored, steps) = t.hub.order_show(OFFICE, id).await.unwrap();
    assert_eq!(stored.phase, "closed");
    let actors: Vec<&str> = steps.iter().map(|s| s.actor.as_str()).collect();
    assert_eq!(
        actors,
        [
            "office", MARKET, MARKET, "office", MARKET, "office", "office"
        ]
    );

    returned_orders_take_no_reply(&t, &office, &market, &health, t0).await;
    t.stop().await;
}

/// An order the unit returned: its reply is refused and changes nothing;
/// the office dispatches it again (manually) to another unit.
async fn returned_orders_take_no_reply(
    t: &TestHub,
    office: &Client,
    market: &Client,
    health: &Client,
    t0: OffsetDateTime,
) {
    let id = "12345-0002";
    let o = office
        .order_new(&call(id, Some(MARKET)))
        .await
        .unwrap()
        .payload;
    assert_eq!(o.unit.as_deref(), Some(MARKET));
    let back = json!({"step": "returned", "reason": "不属于本单位职责"});
    let returned = take(market, &step(id, Duration::seconds(90), t0, back)).await;
    assert_eq!((returned.phase.as_str(), returned.unit), ("new", None));
    let (_, steps_before) = t.hub.order_show(OFFICE, id).await.unwrap();
    let late = json!({"step": "replied", "content": "已处理"});
    assert_eq!(
        refusal(
            market
                .order_step(&step(id, Duration::seconds(100), t0, late))
                .await
        ),
        refused_with("ORDER_STEP_FORBIDDEN")
    );
    // Nor does a step before the last one, or one the schema does not know.
    let early = json!({"step": "dispatched", "unit": HEALTH});
    assert_eq!(
        refusal(
            office
                .order_step(&step(id, Duration::seconds(10), t0, early))
                .await
        ),
        refused_with("ORDER_STEP_OUT_OF_ORDER")
    );
    let claimed = json!({"step": "dispatched", "unit": HEALTH, "manual": false});
    let (code, _) = refusal(
        office
            .order_step(&step(id, Duration::seconds(100), t0, claimed))
            .await,
    );
    assert_eq!(code, Some(ErrorCode::PayloadInvalid));
    let (stored, steps_after) = t.hub.order_show(OFFICE, id).await.unwrap();
    assert_eq!(steps_after, steps_before, "a refused step was recorded");
    assert_eq!((stored.phase.as_str(), stored.unit), ("new", None));

    let again = json!({"step": "dispatched", "unit": HEALTH});
    let redispatched = take(office, &step(id, Duration::seconds(110), t0, again)).await;
    assert_eq!(redispatched.unit.as_deref(), Some(HEALTH));
    let signed = take(
        health,
        &step(id, Duration::seconds(120), t0, json!({"step": "signed"})),
    )
    .await;
    assert_eq!(signed.phase, "handling");
    // The unit it was returned by no longer sees the contact.
    let (_, steps) = t.hub.order_show(OFFICE, id).await.unwrap();
    assert!(steps[2].step.contains("\"manual\":true"), "{steps:?}");
    assert_eq!(
        t.hub.order_contact(MARKET, id).await.unwrap_err().code(),
        "ORDER_STEP_FORBIDDEN"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_is_told_to_the_other_side() {
    crate::each_backend(
        "each_step_is_told_to_the_other_side",
        fast_config(),
        each_step_is_told_to_the_other_side_on,
    )
    .await;
}

async fn listening(t: &TestHub, department: &str) -> (Client, Listener) {
    let client = t.client(department).await;
    client.subscribe(&["hub.hotline"]).await.unwrap();
    let listener = client.listen(16).await.unwrap();
    (client, listener)
}

/// The next notice's payload, checked as the hub's own (its key's
/// signature, its topic and schema), acknowledged.
async fn next_notice(t: &TestHub, listener: &mut Listener) -> Value {
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), listener.next())
        .await
        .expect("a notice within 10 s")
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
    assert_eq!(verified.header.topic.as_deref(), Some("hub.hotline"));
    assert_eq!(verified.header.schema, "order-notice@1");
    listener.ack(d.delivery).await.unwrap();
    assert!(
        !d.envelope.to_string().contains("13800000000"),
        "{}",
        d.envelope
    );
    d.envelope["payload"].clone()
}

async fn each_step_is_told_to_the_other_side_on(t: TestHub) {
    t.hub.set_hotline_office(OFFICE).await.unwrap();
    t.hub
        .route_add(NewRoute {
            category: None,
            area: None,
            unit: MARKET.into(),
        })
        .await
        .unwrap();
    let t0 = t.hub.now();
    let (office, mut office_hears) = listening(&t, OFFICE).await;
    let (market, mut market_hears) = listening(&t, MARKET).await;
    let (_health, _health_hears) = listening(&t, HEALTH).await;
    let id = "12345-0100";

    // Dispatched by the rule as it is created: the unit is told.
    office.order_new(&call(id, None)).await.unwrap();
    let told = next_notice(&t, &mut market_hears).await;
    assert_eq!(told["orderId"], id);
    assert_eq!(
        (told["seq"].clone(), told["by"].clone()),
        (json!(0), json!("office"))
    );
    assert_eq!(
        told["step"],
        json!({"step": "dispatched", "unit": MARKET, "manual": false})
    );
    assert_eq!(told["phase"], "dispatched");

    // The unit signs and asks for time: the office is told of each.
    take(
        &market,
        &step(id, Duration::seconds(10), t0, json!({"step": "signed"})),
    )
    .await;
    let ask = json!({"step": "extension-asked", "days": 3, "reason": "需现场核查"});
    take(&market, &step(id, Duration::seconds(20), t0, ask.clone())).await;
    let signed = next_notice(&t, &mut office_hears).await;
    assert_eq!(
        (signed["seq"].clone(), signed["by"].clone()),
        (json!(1), json!(MARKET))
    );
    assert_eq!(signed["step"]["step"], "signed");
    let asked = next_notice(&t, &mut office_hears).await;
    assert_eq!(asked["step"], ask);

    // The office refuses; the unit replies: each side hears the other.
    let refused = json!({"step": "extension-decided", "granted": false});
    take(
        &office,
        &step(id, Duration::seconds(30), t0, refused.clone()),
    )
    .await;
    assert_eq!(next_notice(&t, &mut market_hears).await["step"], refused);
    let reply = json!({"step": "replied", "content": "已督促商家退款"});
    take(&market, &step(id, Duration::seconds(40), t0, reply.clone())).await;
    let replied = next_notice(&t, &mut office_hears).await;
    assert_eq!(
        (replied["step"].clone(), replied["phase"].clone()),
        (reply, json!("replied"))
    );

    // A refused step tells nobody; nothing went to a unit not concerned.
    let late = json!({"step": "signed"});
    assert!(
        market
            .order_step(&step(id, Duration::seconds(50), t0, late))
            .await
            .is_err()
    );
    let all = (t0 - Duration::days(1), t0 + Duration::days(1));
    let mut pushed = Vec::new();
    for d in [OFFICE, MARKET, HEALTH] {
        let to = t
            .hub
            .store()
            .outbox_list("hub.hotline", Some(d), all, (100, 0));
        pushed.push(to.await.unwrap().len());
    }
    assert_eq!(pushed, [3, 2, 0]);
    t.stop().await;
}
