//! Storage quotas per department, and what a department may read or learn
//! of exchanges the catalogue's rule no longer (or never) admits it to.

use std::time::Duration;

use serde_json::{Value, json};
use tongban_client::{Client, Event};
use tongban_hub::ServeConfig;
use tongban_proto::ErrorCode;

use crate::blobs::{archive, archive_resource, code};
use crate::flows::next_delivery;
use crate::{
    CIVIL, HEALTH, MARKET, TestHub, eventually, fast_config, registration, registration_request,
    share_on_conditions, wait_settled, withdraw_civils_approval,
};

fn refusal(r: Result<impl std::fmt::Debug, tongban_client::ClientError>) -> Result<(), ErrorCode> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(e.code().unwrap_or_else(|| panic!("not a refusal: {e}"))),
    }
}

/// A registration to CIVIL on `resource`, told apart by `n`.
fn to_civil(client: &Client, resource: &str, n: usize) -> tongban_proto::Draft {
    let mut payload = registration("91440114MA5TB0A01K");
    payload["entityName"] = json!(format!("广州花都第{n}号测试企业有限公司"));
    client.message_to(CIVIL, resource, "business-registration@1", payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_messages_past_a_senders_quota_are_refused() {
    for backend in tongban_tests::backends("hub_pending_quota").await {
        eprintln!("hub_pending_quota: {}", backend.name);
        let config = ServeConfig {
            pending_quota: 3,
            quota_recount_every: Duration::from_millis(200),
            ..fast_config()
        };
        pending_quota_on(TestHub::start_on(backend, config).await).await;
    }
}

async fn pending_quota_on(t: TestHub) {
    share_on_conditions(
        &t.hub,
        "health-registrations",
        HEALTH,
        "business-registration@1",
        &[CIVIL],
        "卫生许可相关登记信息",
    )
    .await;
    let market = t.client(MARKET).await;
    let health = t.client(HEALTH).await;
    let civil = t.client(CIVIL).await;
    for n in 0..3 {
        market
            .send(to_civil(&market, "business-registration", n))
            .await
            .unwrap();
    }
    // CIVIL does not collect: MARKET's fourth waiting delivery is refused
    // (nothing stored), and still is once the counts were read again from
    // the store (every 200 ms here).
    let fourth = |n| {
        let draft = to_civil(&market, "business-registration", n);
        let market = market.clone();
        async move { refusal(market.send(draft).await) }
    };
    assert_eq!(fourth(3).await, Err(ErrorCode::QuotaExceeded));
    assert_eq!(
        t.hub.store().pending_by_sender().await.unwrap(),
        vec![(MARKET.to_owned(), 3)]
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fourth(4).await, Err(ErrorCode::QuotaExceeded));
    // Another sender to the same recipient is unaffected.
    health
        .send(to_civil(&health, "health-registrations", 0))
        .await
        .unwrap();

    // CIVIL collects and acknowledges: MARKET may send again.
    let mut l = civil.listen(16).await.unwrap();
    for _ in 0..4 {
        let d = next_delivery(&mut l).await;
        l.ack(d.delivery).await.unwrap();
    }
    let mut n = 10;
    eventually(100, Ok(()), || {
        n += 1;
        let draft = to_civil(&market, "business-registration", n);
        let market = market.clone();
        async move { refusal(market.send(draft).await) }
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_bytes_past_a_departments_quota_are_refused() {
    for backend in tongban_tests::backends("hub_blob_quota").await {
        eprintln!("hub_blob_quota: {}", backend.name);
        let config = ServeConfig {
            blob_quota: 1024 * 1024,
            ..fast_config()
        };
        blob_quota_on(TestHub::start_on(backend, config).await).await;
    }
}

async fn blob_quota_on(t: TestHub) {
    archive_resource(&t).await;
    let civil = t.client(CIVIL).await;
    let market = t.client(MARKET).await;
    let half = serde_json::to_vec(&archive(2)).unwrap();
    let more = serde_json::to_vec(&archive(3)).unwrap();
    civil
        .upload(half.clone(), "application/json")
        .await
        .unwrap();
    // Bytes it holds already cost nothing more.
    civil
        .upload(half.clone(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        code(civil.upload(more.clone(), "application/json").await),
        ErrorCode::QuotaExceeded
    );
    let sha = tongban_store::sha256_hex(&more);
    assert_eq!(t.hub.store().blob_held(&sha, CIVIL).await.unwrap(), None);
    assert_eq!(
        t.hub.store().blob_bytes_held(CIVIL).await.unwrap(),
        half.len() as u64
    );
    // Another department is unaffected, by the same bytes too.
    market.upload(more, "application/json").await.unwrap();
    assert!(
        t.hub
            .store()
            .blob_held(&sha, MARKET)
            .await
            .unwrap()
            .is_some()
    );
    t.stop().await;
}

/// A payload by reference is readable by its recipient only while the
/// catalogue's rule admits it: not from a delivery withheld because the
/// approval was withdrawn, nor any more from one it read before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_of_withheld_deliveries_cannot_be_downloaded() {
    for backend in tongban_tests::backends("hub_withheld_blobs").await {
        eprintln!("hub_withheld_blobs: {}", backend.name);
        withheld_payloads_on(TestHub::start_on(backend, fast_config()).await).await;
    }
}

async fn withheld_payloads_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let civil = t.client(CIVIL).await;
    let by_reference = |n: usize| {
        let market = market.clone();
        async move {
            let draft = to_civil(&market, "business-registration", n);
            let bytes = serde_json::to_vec(draft.payload.as_ref().unwrap()).unwrap();
            let r = market.upload(bytes, "application/json").await.unwrap();
            let mut d = draft;
            d.payload = None;
            d.payload_ref = Some(r.clone());
            market.send(d).await.unwrap();
            r.sha256
        }
    };
    let read = by_reference(1).await;
    let mut l = civil.listen(8).await.unwrap();
    let d = next_delivery(&mut l).await;
    assert!(civil.payload(&d.envelope).await.is_ok());
    l.ack(d.delivery).await.unwrap();
    drop(l);
    let withheld = by_reference(2).await;

    withdraw_civils_approval(&t, None).await;
    eventually(100, Err(ErrorCode::AccessNotGranted), || {
        let draft = to_civil(&market, "business-registration", 3);
        let market = market.clone();
        async move { refusal(market.send(draft).await) }
    })
    .await;
    // The stored delivery is withheld when CIVIL listens again ...
    let _l = civil.listen(8).await.unwrap();
    wait_settled(
        &t,
        CIVIL,
        "the delivery was withheld",
        Duration::from_secs(10),
    )
    .await;
    // ... and neither its payload nor the one read before can be fetched
    // by digest; the sender still has both.
    for sha in [&withheld, &read] {
        assert_eq!(code(civil.download(sha).await), ErrorCode::BlobMissing);
        assert!(market.download(sha).await.is_ok());
    }
    t.stop().await;
}

/// `PROVIDER_UNAVAILABLE` tells only a department the catalogue's rule
/// admits whether the provider's system is connected: one without access
/// gets the rule's refusal either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_presence_is_told_only_to_departments_with_access() {
    crate::each_backend(
        "provider_presence_is_told_only_to_departments_with_access",
        fast_config(),
        provider_presence_is_told_only_to_departments_with_access_on,
    )
    .await;
}

async fn provider_presence_is_told_only_to_departments_with_access_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let civil = t.client(CIVIL).await;
    let health = t.client(HEALTH).await;
    let ask = |c: &Client| {
        let c = c.clone();
        let draft = registration_request(&c);
        async move { refusal(c.request(draft, 10_000).await) }
    };
    assert_eq!(ask(&health).await, Err(ErrorCode::AccessNotGranted));
    assert_eq!(ask(&civil).await, Err(ErrorCode::ProviderUnavailable));

    let mut provider = market.listen(8).await.unwrap();
    assert_eq!(ask(&health).await, Err(ErrorCode::AccessNotGranted));
    let answered = tokio::spawn(ask(&civil));
    let d = match tokio::time::timeout(Duration::from_secs(10), provider.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Event::Delivery(d) => d,
        other => panic!("expected the request, got {other:?}"),
    };
    assert_eq!(d.envelope["sender"], Value::from(CIVIL));
    provider
        .respond(
            &d,
            "business-registration@1",
            registration("91440114MA5TB0A01K"),
        )
        .await
        .unwrap();
    assert_eq!(answered.await.unwrap(), Ok(()));
    t.stop().await;
}
