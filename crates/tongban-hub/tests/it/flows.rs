//! Store and forward, publish/subscribe, request/response.

use std::time::Duration;

use serde_json::json;
use tongban_client::Event;
use tongban_proto::ErrorCode;

use crate::{
    CIVIL, HEALTH, MARKET, TestHub, fast_config, registration, registration_request,
    registration_to, respond_registration, subscribe_code, wait_for,
};

pub(crate) async fn next_delivery(l: &mut tongban_client::Listener) -> tongban_client::Delivery {
    match tokio::time::timeout(Duration::from_secs(10), l.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Event::Delivery(d) => d,
        other => panic!("unexpected {other:?}"),
    }
}

pub(crate) async fn next_event(l: &mut tongban_client::Listener) -> Event {
    tokio::time::timeout(Duration::from_secs(10), l.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_forward_in_order_with_acks_and_redelivery() {
    crate::each_backend(
        "store_and_forward_in_order_with_acks_and_redelivery",
        fast_config(),
        store_and_forward_in_order_with_acks_and_redelivery_on,
    )
    .await;
}

async fn store_and_forward_in_order_with_acks_and_redelivery_on(t: TestHub) {
    let market = t.client(MARKET).await;
    // The recipient is offline: messages wait at the hub.
    let mut sent = Vec::new();
    for i in 0..20 {
        let a = market.send(registration_to(&market, CIVIL)).await.unwrap();
        sent.push(a.id.clone());
        assert!(a.seq > 0, "{i}");
    }
    let civil = t.client(CIVIL).await;
    let mut l = civil.listen(8).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..20 {
        let d = next_delivery(&mut l).await;
        got.push(d.envelope["id"].as_str().unwrap().to_owned());
        if got.len() != 3 {
            l.ack(d.delivery).await.unwrap();
        }
    }
    assert_eq!(got, sent, "in order per sender");
    // The one not acknowledged comes again after the timeout.
    let again = next_delivery(&mut l).await;
    assert_eq!(again.envelope["id"], sent[2].as_str());
    l.ack(again.delivery).await.unwrap();
    // Nothing is pending any more for CIVIL once the acknowledgements are
    // stored.
    wait_for(
        "deliveries stayed pending",
        Duration::from_secs(10),
        || async {
            let pending = t.hub.store().pending_deliveries(CIVIL, 0, 100).await;
            pending.unwrap().is_empty().then_some(())
        },
    )
    .await;
    civil.close().await;
    // Every exchange is in the audit log, which verifies.
    let report = t.hub.audit_verify(|_| {}).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        t.hub
            .store()
            .audit_of(&format!("{MARKET}/{}", sent[0]), 1)
            .await
            .unwrap()[0]
            .action,
        "exchange.message"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe() {
    crate::each_backend(
        "publish_and_subscribe",
        fast_config(),
        publish_and_subscribe_on,
    )
    .await;
}

async fn publish_and_subscribe_on(t: TestHub) {
    let civil = t.client(CIVIL).await;
    assert_eq!(
        civil.subscribe(&["business-registration"]).await.unwrap(),
        vec!["business-registration".to_owned()]
    );
    // HEALTH has no approval for the conditionally shared resource.
    let health = t.client(HEALTH).await;
    assert_eq!(
        subscribe_code(&health, &["business-registration"]).await,
        Some(ErrorCode::AccessNotGranted)
    );
    assert_eq!(
        subscribe_code(&health, &["no-such-topic"]).await,
        Some(ErrorCode::ResourceUnknown)
    );
    let market = t.client(MARKET).await;
    let a = market
        .send(market.publication(
            "business-registration",
            "business-registration@1",
            registration("91440114MA5TB0A01K"),
        ))
        .await
        .unwrap();
    let mut l = civil.listen(16).await.unwrap();
    let d = next_delivery(&mut l).await;
    assert_eq!(d.envelope["id"], a.id.as_str());
    assert_eq!(d.envelope["topic"], "business-registration");
    l.ack(d.delivery).await.unwrap();
    assert_eq!(
        civil.unsubscribe(&["business-registration"]).await.unwrap(),
        Vec::<String>::new()
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_response_and_their_failures() {
    crate::each_backend(
        "request_and_response_and_their_failures",
        fast_config(),
        request_and_response_and_their_failures_on,
    )
    .await;
}

async fn request_and_response_and_their_failures_on(t: TestHub) {
    let civil = t.client(CIVIL).await;
    // No provider connected.
    let req = registration_request(&civil);
    assert_eq!(
        civil.request(req, 2000).await.unwrap_err().code(),
        Some(ErrorCode::ProviderUnavailable)
    );
    // The provider answers.
    let market = t.client(MARKET).await;
    let mut l = market.listen(16).await.unwrap();
    let answering = tokio::spawn(async move {
        let answered = next_delivery(&mut l).await;
        assert_eq!(answered.kind(), "request");
        respond_registration(&mut l, &answered).await.unwrap();
        match next_event(&mut l).await {
            Event::ResponseAccepted(_) => {}
            other => panic!("{other:?}"),
        }
        // The next request is left unanswered.
        let unanswered = next_delivery(&mut l).await;
        (l, answered, unanswered)
    });
    let req = civil.request_for(
        "business-registration",
        "business-registration@1",
        json!({"uscc": "91440114MA5TB0A01K"}),
    );
    let response = civil.request(req, 5000).await;
    // The request's payload must match the schema too: the query above does not.
    assert_eq!(
        response.unwrap_err().code(),
        Some(ErrorCode::PayloadInvalid)
    );
    let req = registration_request(&civil);
    let request_id_2 = req.id.clone();
    let response = civil.request(req, 5000).await.unwrap();
    assert_eq!(response["kind"], "response");
    assert_eq!(response["sender"], MARKET);
    assert_eq!(response["correlationId"], request_id_2.as_str());
    let req = registration_request(&civil);
    assert_eq!(
        civil.request(req, 300).await.unwrap_err().code(),
        Some(ErrorCode::RequestTimeout)
    );
    // A response to a request answered already, or one that timed out,
    // matches no open request.
    let (mut l, answered, unanswered) = answering.await.unwrap();
    for late in [answered, unanswered] {
        respond_registration(&mut l, &late).await.unwrap();
        match next_event(&mut l).await {
            Event::Refused(e) => assert_eq!(e.code, ErrorCode::ResponseUnexpected, "{e}"),
            other => panic!("{other:?}"),
        }
    }
    // HEALTH has no approval: the refusal names the rule.
    let health = t.client(HEALTH).await;
    let req = registration_request(&health);
    assert_eq!(
        health.request(req, 1000).await.unwrap_err().code(),
        Some(ErrorCode::AccessNotGranted)
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_sends_are_stored_and_delivered_in_order() {
    crate::each_backend(
        "pipelined_sends_are_stored_and_delivered_in_order",
        fast_config(),
        pipelined_sends_are_stored_and_delivered_in_order_on,
    )
    .await;
}

async fn pipelined_sends_are_stored_and_delivered_in_order_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let envelopes: Vec<serde_json::Value> = (0..300)
        .map(|_| market.sign(&registration_to(&market, CIVIL)).unwrap())
        .collect();
    let ids: Vec<String> = envelopes
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let results = market.send_signed(envelopes).await.unwrap();
    let seqs: Vec<u64> = results.iter().map(|r| r.as_ref().unwrap().seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "stored in the order sent"
    );
    let civil = t.client(CIVIL).await;
    let mut l = civil.listen(64).await.unwrap();
    for id in &ids {
        let d = next_delivery(&mut l).await;
        assert_eq!(d.envelope["id"].as_str().unwrap(), id);
        l.ack(d.delivery).await.unwrap();
    }
    t.stop().await;
}

/// `listen` returns once the hub has registered the stream: a request sent
/// right after it reaches the provider, never `PROVIDER_UNAVAILABLE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_right_after_listen_finds_the_provider() {
    crate::each_backend(
        "a_request_right_after_listen_finds_the_provider",
        fast_config(),
        a_request_right_after_listen_finds_the_provider_on,
    )
    .await;
}

async fn a_request_right_after_listen_finds_the_provider_on(t: TestHub) {
    let civil = t.client(CIVIL).await;
    for round in 0..20 {
        let market = t.client(MARKET).await;
        let mut l = market.listen(4).await.unwrap();
        let answering = tokio::spawn(async move {
            let d = next_delivery(&mut l).await;
            assert_eq!(d.kind(), "request");
            respond_registration(&mut l, &d).await.unwrap();
            l
        });
        let req = registration_request(&civil);
        let response = civil.request(req, 5000).await;
        assert!(response.is_ok(), "round {round}: {response:?}");
        drop(answering.await.unwrap());
        market.close().await;
    }
    t.stop().await;
}
