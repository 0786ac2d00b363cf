//! Several nodes on one PostgreSQL database are one hub: a request through
//! one node reaches its provider listening on another (relayed through the
//! store), a delivery stored through one wakes a listener on another at
//! once, a node that dies is ignored after the stated bound, and a
//! revocation made through one node is enforced by the others within the
//! registry refresh, while a grant one node admits by is never withheld by
//! another whose view is older. A SQLite hub is one node: these tests need
//! PostgreSQL and say so when it is not there.

use std::time::{Duration, Instant};

use tongban_client::{Client, Event, Listener};
use tongban_hub::{LISTEN_TICK, ServeConfig};
use tongban_proto::ErrorCode;
use tongban_store::DepartmentStatus;

use crate::flows::{next_delivery, next_event};
use crate::{
    CIVIL, MARKET, TestHub, fast_config, registration_request, registration_to,
    respond_registration,
};

fn config() -> ServeConfig {
    ServeConfig {
        node_heartbeat: Duration::from_millis(100),
        ..fast_config()
    }
}

/// A node unseen this long counts as gone, and one more heartbeat later
/// every node has read so (`ServeConfig::node_heartbeat`, three missed).
fn gone_bound(config: &ServeConfig) -> Duration {
    config.node_heartbeat * 4
}

/// Two nodes of one hub on PostgreSQL, or `None` (said loudly) without it.
async fn two_nodes(test: &str) -> Option<(TestHub, TestHub)> {
    let Some(url) = tongban_tests::postgres_url() else {
        tongban_tests::gates::Gate::Postgres.skip(
            &format!("{test}: several nodes of one hub (a SQLite hub is one node)"),
            "TONGBAN_TEST_POSTGRES is not set",
        );
        return None;
    };
    let backend = tongban_tests::postgres(&url, test).await;
    let b = TestHub::start_on(backend, config()).await;
    let c = b.another_node(config()).await;
    Some((b, c))
}

/// Sends `civil`'s registration request until it is answered (the other
/// node's presence is read within a heartbeat of the provider listening).
async fn first_answer(civil: &Client) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match civil.request(registration_request(civil), 5000).await {
            Ok(v) => return v,
            Err(e) if e.code() == Some(ErrorCode::ProviderUnavailable) => {
                assert!(Instant::now() < deadline, "never relayed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Answers the next `n` requests `l` is handed, and gives it back.
fn answer(mut l: Listener, n: usize) -> tokio::task::JoinHandle<Listener> {
    tokio::spawn(async move {
        let mut answered = 0;
        while answered < n {
            match next_event(&mut l).await {
                Event::Delivery(d) if d.kind() == "request" => {
                    respond_registration(&mut l, &d).await.unwrap();
                }
                Event::ResponseAccepted(_) => answered += 1,
                other => panic!("{other:?}"),
            }
        }
        l
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `n` requests of `civil` one after the other: the median round trip.
async fn round_trips(civil: &Client, n: usize) -> Duration {
    let mut took = Vec::new();
    for _ in 0..n {
        let req = registration_request(civil);
        let id = req.id.clone();
        let start = Instant::now();
        let response = civil.request(req, 5000).await.unwrap();
        took.push(start.elapsed());
        assert_eq!(response["sender"], MARKET);
        assert_eq!(response["correlationId"], id.as_str());
    }
    median(took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_one_node_is_answered_by_its_provider_on_another() {
    let Some((b, c)) = two_nodes("hub_nodes_relay").await else {
        return;
    };
    let market = c.client(MARKET).await;
    // A request refused for want of a provider through B is refused there,
    // before it is stored and handed to anyone: 1 + 30 + 30 are answered.
    let answering = answer(market.listen(16).await.unwrap(), 61);
    let civil_b = b.client(CIVIL).await;
    let response = first_answer(&civil_b).await;
    assert_eq!(response["kind"], "response");
    assert_eq!(response["recipient"], CIVIL);
    // What the relay costs: requests answered on the provider's node, and
    // the same through the other node.
    let civil_c = c.client(CIVIL).await;
    let local = round_trips(&civil_c, 30).await;
    let relayed = round_trips(&civil_b, 30).await;
    eprintln!(
        "request round trip, median of 30: provider on the same node {local:?}, on another node {relayed:?}"
    );
    let mut l = answering.await.unwrap();

    // A provider that does not answer in time: REQUEST_TIMEOUT through
    // the relay; its late response is checked where it arrives, and
    // matches no open request any more.
    let started = Instant::now();
    let req = registration_request(&civil_b);
    let timeout = civil_b.request(req, 400).await.unwrap_err();
    assert_eq!(timeout.code(), Some(ErrorCode::RequestTimeout), "{timeout}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let late = next_delivery(&mut l).await;
    assert_eq!(late.kind(), "request");
    respond_registration(&mut l, &late).await.unwrap();
    match next_event(&mut l).await {
        Event::Refused(e) => assert_eq!(e.code, ErrorCode::ResponseUnexpected, "{e}"),
        other => panic!("{other:?}"),
    }

    // The provider leaves while a relayed request waits on it: the
    // requester hears PROVIDER_UNAVAILABLE at once, not at its timeout.
    let asking = tokio::spawn({
        let req = registration_request(&civil_b);
        async move {
            let started = Instant::now();
            let e = civil_b.request(req, 10_000).await.unwrap_err();
            (e, started.elapsed(), civil_b)
        }
    });
    let waiting = next_delivery(&mut l).await;
    assert_eq!(waiting.kind(), "request");
    drop(l);
    market.close().await;
    let (e, took, civil_b) = asking.await.unwrap();
    assert_eq!(e.code(), Some(ErrorCode::ProviderUnavailable), "{e}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // And the next request finds nobody to relay to.
    let started = Instant::now();
    let e = civil_b
        .request(registration_request(&civil_b), 10_000)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ProviderUnavailable), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    civil_b.close().await;
    civil_c.close().await;
    c.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_through_one_node_wakes_a_listener_on_another_before_its_tick() {
    let Some((b, c)) = two_nodes("hub_nodes_wake").await else {
        return;
    };
    let civil = c.client(CIVIL).await;
    let mut l = civil.listen(16).await.unwrap();
    let market = b.client(MARKET).await;
    let mut took = Vec::new();
    for _ in 0..15 {
        let sent = Instant::now();
        let accepted = market.send(registration_to(&market, CIVIL)).await.unwrap();
        let stored = sent.elapsed();
        let d = next_delivery(&mut l).await;
        took.push(sent.elapsed().saturating_sub(stored));
        assert_eq!(d.envelope["id"], accepted.id.as_str());
        l.ack(d.delivery).await.unwrap();
    }
    // Waiting for the tick, the delay would be spread over 0..250 ms
    // (median about 125 ms); woken by the other node's notification it is
    // a database round trip.
    let median = median(took.clone());
    eprintln!("delivery across nodes, from stored to received: median {median:?} of {took:?}");
    assert!(median < LISTEN_TICK / 3, "median {median:?}: {took:?}");
    civil.close().await;
    market.close().await;
    c.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_dies_is_ignored_after_the_bound() {
    let Some((b, c)) = two_nodes("hub_nodes_kill").await else {
        return;
    };
    let market = c.client(MARKET).await;
    let answering = answer(market.listen(16).await.unwrap(), 1);
    let civil = b.client(CIVIL).await;
    first_answer(&civil).await;
    let l = answering.await.unwrap();
    // Node C dies: no clean stop, its rows stay.
    c.kill().await;
    let killed = Instant::now();
    tokio::time::sleep(gone_bound(&config())).await;
    // Past the bound: nobody to relay to, refused at once.
    let started = Instant::now();
    let e = civil
        .request(registration_request(&civil), 10_000)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ProviderUnavailable), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    eprintln!("refused {:?} after the node died", killed.elapsed());
    drop(l);
    civil.close().await;
    market.close().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_one_node_is_enforced_by_the_other_within_the_refresh() {
    let Some((b, c)) = two_nodes("hub_nodes_coherence").await else {
        return;
    };
    let bound = c_refresh_bound();
    let market = c.client(MARKET).await;
    market.send(registration_to(&market, CIVIL)).await.unwrap();
    // MARKET is suspended through B: C refuses what it sends; reactivated
    // through B, C accepts it again.
    b.hub
        .set_department_status(MARKET, DepartmentStatus::Suspended, "机构调整")
        .await
        .unwrap();
    assert_eq!(
        refused_within(&market, bound).await,
        ErrorCode::DepartmentInactive
    );
    b.hub
        .set_department_status(MARKET, DepartmentStatus::Active, "调整完毕")
        .await
        .unwrap();
    // (Its connection was cut while it was suspended, and C refuses new
    // ones until it reads the reactivation.)
    market.close().await;
    let start = Instant::now();
    let market = loop {
        let market = c.client(MARKET).await;
        match market.send(registration_to(&market, CIVIL)).await {
            Ok(_) => break market,
            Err(e) => assert!(
                start.elapsed() < bound,
                "still refused after {bound:?}: {e}"
            ),
        }
        market.close().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "accepted again {:?} after the reactivation",
        start.elapsed()
    );
    // MARKET's keys are revoked through B: C refuses its envelopes.
    for key in b.hub.keys_of(MARKET).await.unwrap() {
        b.hub
            .revoke_signing_key(&key.key_id, None, "密钥泄露")
            .await
            .unwrap();
    }
    assert_eq!(refused_within(&market, bound).await, ErrorCode::KeyRevoked);
    market.close().await;
    c.stop().await;
    b.stop().await;
}
/// The registry refresh of [`config`], with room for a loaded machine.
fn c_refresh_bound() -> Duration {
    config().refresh_every * 5
}

/// The code `client`'s next message is refused with, waiting at most
/// `bound` for the refusal.
async fn refused_within(client: &Client, bound: Duration) -> ErrorCode {
    let start = Instant::now();
    loop {
        let draft = registration_to(client, CIVIL);
        if let Err(e) = client.send(draft).await {
            if let Some(code) = e.code() {
                eprintln!(
                    "refused with {code:?} {:?} after the change",
                    start.elapsed()
                );
                return code;
            }
        }
        assert!(start.elapsed() < bound, "still accepted after {bound:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A resource published through B is sent to CIVIL through B at once; C,
/// whose registry view is older (its refresh is an hour away), does not
/// withhold the delivery as `RESOURCE_UNKNOWN`: before it withholds, it
/// reads the rules as they are now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_on_a_node_with_an_older_view_gets_what_another_node_admitted() {
    let Some(url) = tongban_tests::postgres_url() else {
        tongban_tests::gates::Gate::Postgres.skip(
            "hub_nodes_stale_view: several nodes of one hub (a SQLite hub is one node)",
            "TONGBAN_TEST_POSTGRES is not set",
        );
        return;
    };
    let backend = tongban_tests::postgres(&url, "hub_nodes_stale_view").await;
    let b = TestHub::start_on(backend, config()).await;
    let c = b
        .another_node(ServeConfig {
            refresh_every: Duration::from_secs(3600),
            ..config()
        })
        .await;
    let civil = c.client(CIVIL).await;
    let mut l = civil.listen(16).await.unwrap();
    // Published through B after C read its view: unknown to C's view.
    let draft = serde_json::from_value(serde_json::json!({
        "id": "open-registrations", "name": "企业登记信息（开放）",
        "schema": "business-registration@1", "sharingType": "无条件共享",
    }))
    .unwrap();
    b.hub.catalogue_publish(MARKET, draft, false).await.unwrap();
    let market = b.client(MARKET).await;
    let accepted = loop {
        let draft = market.message_to(
            CIVIL,
            "open-registrations",
            "business-registration@1",
            crate::registration("91440114MA5TB0A01K"),
        );
        match market.send(draft).await {
            Ok(a) => break a,
            // B reads the publication on its next refresh (200 ms).
            Err(e) if e.code() == Some(ErrorCode::ResourceUnknown) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    let d = next_delivery(&mut l).await;
    assert_eq!(d.envelope["id"], accepted.id.as_str());
    l.ack(d.delivery).await.unwrap();
    civil.close().await;
    market.close().await;
    c.stop().await;
    b.stop().await;
}
