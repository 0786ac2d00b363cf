//! The catalogue's access rules decide every exchange, and a refusal names
//! the rule.

use std::time::Duration;

use serde_json::json;
use tongban_proto::ErrorCode;

use crate::flows::next_delivery;
use crate::{
    CIVIL, HEALTH, MARKET, TestHub, approve_health_for_registrations, eventually, fast_config,
    registration, registration_request, registration_to, respond_registration, subscribe_code,
    wait_settled, withdraw_civils_approval,
};

async fn publish(t: &TestHub, id: &str, sharing: &str) {
    let draft = serde_json::from_value(json!({
        "id": id, "name": format!("{id} 测试资源"), "schema": "business-registration@1",
        "sharingType": sharing,
    }))
    .unwrap();
    t.hub.catalogue_publish(MARKET, draft, false).await.unwrap();
}

async fn send(
    client: &tongban_client::Client,
    draft: tongban_proto::Draft,
) -> Result<(), ErrorCode> {
    client
        .send(draft)
        .await
        .map(|_| ())
        .map_err(|e| e.code().unwrap_or_else(|| panic!("not a refusal: {e}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_rules_decide_every_exchange() {
    for backend in tongban_tests::backends("hub_access_rules").await {
        eprintln!("hub_access_rules: {}", backend.name);
        let t = TestHub::start_on(backend, fast_config()).await;
        the_catalogue_rules_decide_every_exchange_on(t).await;
    }
}

async fn the_catalogue_rules_decide_every_exchange_on(t: TestHub) {
    publish(&t, "open-registrations", "无条件共享").await;
    publish(&t, "closed-registrations", "不予共享").await;
    let market = t.client(MARKET).await;
    let civil = t.client(CIVIL).await;
    let health = t.client(HEALTH).await;
    let payload = || registration("91440114MA5TB0A01K");

    // Unconditional: open to every registered department.
    health.subscribe(&["open-registrations"]).await.unwrap();
    civil.subscribe(&["open-registrations"]).await.unwrap();
    send(
        &market,
        market.message_to(
            HEALTH,
            "open-registrations",
            "business-registration@1",
            payload(),
        ),
    )
    .await
    .unwrap();

    // Not shared: nobody but the provider.
    assert_eq!(
        subscribe_code(&health, &["closed-registrations"]).await,
        Some(ErrorCode::AccessNotShared)
    );
    assert_eq!(
        send(
            &market,
            market.message_to(
                CIVIL,
                "closed-registrations",
                "business-registration@1",
                payload()
            ),
        )
        .await,
        Err(ErrorCode::AccessNotShared)
    );

    // Conditional: CIVIL holds an approval (TestHub's setup); HEALTH's
    // approval covered a period that has ended.
    let now = t.hub.now();
    approve_health_for_registrations(
        &t.hub,
        now - time::Duration::days(10),
        now - time::Duration::days(1),
    )
    .await;
    eventually(50, Err(ErrorCode::AccessExpired), || {
        send(&market, registration_to(&market, HEALTH))
    })
    .await;
    let req = registration_request(&health);
    assert_eq!(
        health.request(req, 1000).await.unwrap_err().code(),
        Some(ErrorCode::AccessExpired)
    );

    // A publication reaches an approved subscriber...
    civil.subscribe(&["business-registration"]).await.unwrap();
    let mut l = civil.listen(16).await.unwrap();
    let first = market
        .send(market.publication(
            "business-registration",
            "business-registration@1",
            payload(),
        ))
        .await
        .unwrap();
    let d = next_delivery(&mut l).await;
    assert_eq!(d.envelope["id"], first.id.as_str());
    l.ack(d.delivery).await.unwrap();
    // CIVIL goes offline; a publication is stored for it while approved.
    drop(l);
    let parked = market
        .send(market.publication(
            "business-registration",
            "business-registration@1",
            payload(),
        ))
        .await
        .unwrap();

    // ...and once the approval is withdrawn, neither direct messages nor
    // publications reach CIVIL any more, not even those stored before.
    withdraw_civils_approval(&t, Some("监管事项已办结")).await;
    eventually(50, Err(ErrorCode::AccessNotGranted), || {
        send(&market, registration_to(&market, CIVIL))
    })
    .await;
    let withheld = market
        .send(market.publication(
            "business-registration",
            "business-registration@1",
            payload(),
        ))
        .await
        .unwrap();
    let open = market
        .send(market.publication("open-registrations", "business-registration@1", payload()))
        .await
        .unwrap();
    // The rule is applied again at delivery: what was stored for CIVIL
    // while approved (the parked publication, direct messages accepted
    // before the hub saw the withdrawal) is withheld; the open publication
    // comes next.
    let mut l = civil.listen(16).await.unwrap();
    let d = next_delivery(&mut l).await;
    assert_eq!(
        d.envelope["id"],
        open.id.as_str(),
        "not {} nor {}",
        parked.id,
        withheld.id
    );
    l.ack(d.delivery).await.unwrap();
    drop(l);
    // Withheld deliveries are settled, not left pending.
    wait_settled(
        &t,
        CIVIL,
        "withheld deliveries are settled, not left pending",
        Duration::from_secs(5),
    )
    .await;

    // Retired: refused to its provider too.
    t.hub
        .catalogue_retire(MARKET, "open-registrations")
        .await
        .unwrap();
    eventually(50, Err(ErrorCode::CatalogueRetired), || {
        send(
            &market,
            market.publication("open-registrations", "business-registration@1", payload()),
        )
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_queried_by_the_rule_and_counted() {
    for backend in tongban_tests::backends("hub_records").await {
        eprintln!("hub_records: {}", backend.name);
        let t = TestHub::start_on(backend, fast_config()).await;
        records_are_queried_by_the_rule_and_counted_on(t).await;
    }
}

async fn records_are_queried_by_the_rule_and_counted_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let civil = t.client(CIVIL).await;
    let health = t.client(HEALTH).await;
    let mut published = Vec::new();
    for uscc in [
        "91440114MA5TB0A01K",
        "91440114MA5TB0A01K",
        "91440114MA5TB0A01K",
    ] {
        let a = market
            .send(market.publication(
                "business-registration",
                "business-registration@1",
                registration(uscc),
            ))
            .await
            .unwrap();
        published.push(a.seq);
    }
    // A page at a time, in arrival order.
    let (page, next) = civil.records("business-registration", 0, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        published[..2]
    );
    assert_eq!(page[0].1["sender"], MARKET);
    assert_eq!(next, Some(published[1]));
    let (page, next) = civil
        .records("business-registration", published[1], 2)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].0, published[2]);
    assert_eq!(next, None);
    // Without an approval: refused, and the rule named.
    assert_eq!(
        health
            .records("business-registration", 0, 10)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::AccessNotGranted)
    );
    assert_eq!(
        health
            .records("no-such-resource", 0, 10)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::ResourceUnknown)
    );
    // HEALTH may not publish MARKET's records.
    assert_eq!(
        send(
            &health,
            health.publication(
                "business-registration",
                "business-registration@1",
                registration("91440114MA5TB0A01K"),
            ),
        )
        .await,
        Err(ErrorCode::ResourceForbidden)
    );
    // A request served by the provider.
    let mut l = market.listen(16).await.unwrap();
    let answering = tokio::spawn(async move {
        let d = next_delivery(&mut l).await;
        respond_registration(&mut l, &d).await.unwrap();
        l
    });
    let req = registration_request(&civil);
    civil.request(req, 5_000).await.unwrap();
    let _ = answering.await.unwrap();

    // The statistics a service centre reports (refusals are added every second).
    let mut stats = None;
    for _ in 0..50 {
        let s = t.hub.store().exchange_statistics(None).await.unwrap();
        if s.refusal_codes.values().sum::<u64>() >= 3 {
            stats = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = stats.expect("the refusals were counted");
    let r = stats
        .resources
        .iter()
        .find(|r| r.resource == "business-registration")
        .unwrap();
    assert_eq!((r.records, r.requests, r.served), (3, 1, 1), "{r:?}");
    assert_eq!(r.refusals, 2, "{r:?}");
    let by = |d: &str| {
        stats
            .departments
            .iter()
            .find(|s| s.department == d)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        (by(MARKET).records_sent, by(MARKET).requests_served),
        (3, 1)
    );
    assert_eq!((by(CIVIL).requests_made, by(CIVIL).refusals), (1, 0));
    assert_eq!(by(HEALTH).refusals, 3);
    assert_eq!(stats.refusal_codes["ACCESS_NOT_GRANTED"], 1);
    assert_eq!(stats.refusal_codes["RESOURCE_UNKNOWN"], 1);
    assert_eq!(stats.refusal_codes["RESOURCE_FORBIDDEN"], 1);
    // The reads are in the audit log.
    let log = t
        .hub
        .store()
        .audit_of("business-registration", 50)
        .await
        .unwrap();
    let reads: Vec<serde_json::Value> = log
        .iter()
        .filter(|e| e.action == "exchange.records")
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    assert_eq!(reads.len(), 2);
    // The basis is data: CIVIL reads under its approved application.
    for read in &reads {
        assert_eq!(read["basis"]["kind"], "approved", "{read}");
        assert!(read["basis"]["application"].is_u64(), "{read}");
    }
    t.stop().await;
}
