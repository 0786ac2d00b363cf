//! Clients as production runs them: several addresses tried in turn, a
//! connection made again after a node stops (what is owed comes again, a
//! resent envelope is `REPLAY`), and a provider that closes, stops
//! listening or vanishes leaves its requesters `PROVIDER_UNAVAILABLE`
//! rather than waiting for their timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tongban_client::{Client, ClientError, Connector, Timeouts};
use tongban_hub::ServeConfig;
use tongban_proto::ErrorCode;

use crate::flows::next_delivery;
use crate::{CIVIL, MARKET, TestHub, fast_config, registration_request, registration_to};

/// A request of CIVIL to MARKET's resource, waiting up to 30 s.
async fn ask_market(civil: &Client) -> (Result<serde_json::Value, ClientError>, Duration) {
    let draft = registration_request(civil);
    let started = Instant::now();
    let answer = civil.request(draft, 30_000).await;
    (answer, started.elapsed())
}

/// A UDP relay between one client and the hub that can be cut: the client
/// then vanishes for the hub as a killed machine or a pulled cable does,
/// without a word.
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    /// Drop what the hub sends, pass what the client sends: the hub takes
    /// and answers, and its answers are lost on the way.
    mute: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(hub: SocketAddr) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        back.connect(hub).await.unwrap();
        let addr = front.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let cutting = Arc::clone(&cut);
        let mute = Arc::new(AtomicBool::new(false));
        let muting = Arc::clone(&mute);
        let task = tokio::spawn(async move {
            let (mut up, mut down) = (vec![0u8; 65_536], vec![0u8; 65_536]);
            let mut client = None;
            loop {
                tokio::select! {
                    r = front.recv_from(&mut up) => {
                        let Ok((n, from)) = r else { return };
                        client = Some(from);
                        if !cutting.load(Ordering::SeqCst) {
                            let _ = back.send(&up[..n]).await;
                        }
                    }
                    r = back.recv(&mut down) => {
                        let Ok(n) = r else { return };
                        let dropped = cutting.load(Ordering::SeqCst) || muting.load(Ordering::SeqCst);
                        if let (Some(to), false) = (client, dropped) {
                            let _ = front.send_to(&down[..n], to).await;
                        }
                    }
                }
            }
        });
        Relay {
            addr,
            cut,
            mute,
            task,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    fn mute(&self) {
        self.mute.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A UDP socket that takes packets and never answers: a hub address where
/// nothing is running (QUIC gets no "connection refused").
fn silent() -> (std::net::UdpSocket, SocketAddr) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_vanishes_is_noticed_within_the_idle_timeout() {
    crate::each_backend(
        "a_provider_that_vanishes_is_noticed_within_the_idle_timeout",
        ServeConfig {
            idle_timeout: IDLE,
            keep_alive: Duration::from_millis(500),
            ..fast_config()
        },
        a_provider_that_vanishes_is_noticed_within_the_idle_timeout_on,
    )
    .await;
}

/// The hub's idle timeout in [`a_provider_that_vanishes_is_noticed_within_the_idle_timeout`].
const IDLE: Duration = Duration::from_secs(2);

async fn a_provider_that_vanishes_is_noticed_within_the_idle_timeout_on(t: TestHub) {
    let idle = IDLE;
    let relay = Relay::start(t.addr).await;
    let mut config = t.client_config(MARKET).await;
    config.hubs = vec![relay.addr];
    let market = Client::connect(config).await.unwrap();
    let _listening = market.listen(16).await.unwrap();
    let civil = t.client(CIVIL).await;

    // MARKET's system vanishes; a request comes before the hub notices. It
    // is handed to the dead listener, and answered when the hub notices.
    relay.cut();
    let (answer, waited) = ask_market(&civil).await;
    let code = answer.unwrap_err().code();
    eprintln!("a vanished provider noticed after {waited:?} (idle timeout {idle:?})");
    assert_eq!(code, Some(ErrorCode::ProviderUnavailable));
    assert!(
        waited < idle + Duration::from_secs(2),
        "{waited:?}: not within the idle timeout and a keep-alive"
    );
    // Since then MARKET has no listener: the next request is refused at once.
    let (answer, waited) = ask_market(&civil).await;
    assert_eq!(
        answer.unwrap_err().code(),
        Some(ErrorCode::ProviderUnavailable)
    );
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    t.stop().await;
}

/// A listener that finishes its stream, or a client that closes with
/// `DONE`, frees the requests handed to it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_handed_to_a_listener_that_stops_are_answered_at_once() {
    crate::each_backend(
        "requests_handed_to_a_listener_that_stops_are_answered_at_once",
        fast_config(),
        requests_handed_to_a_listener_that_stops_are_answered_at_once_on,
    )
    .await;
}

async fn requests_handed_to_a_listener_that_stops_are_answered_at_once_on(t: TestHub) {
    let civil = t.client(CIVIL).await;
    for close in [false, true] {
        let market = t.client(MARKET).await;
        let mut l = market.listen(16).await.unwrap();
        let asking = {
            let civil = civil.clone();
            tokio::spawn(async move { ask_market(&civil).await })
        };
        // The request reached MARKET's system, which stops without answering.
        assert_eq!(next_delivery(&mut l).await.kind(), "request");
        let stopped = Instant::now();
        if close {
            market.close().await;
        } else {
            l.finish(Duration::from_secs(5)).await.unwrap();
        }
        let (answer, _) = asking.await.unwrap();
        let e = answer.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ProviderUnavailable), "{e}");
        assert!(e.to_string().contains("stopped listening"), "{e}");
        assert!(
            stopped.elapsed() < Duration::from_secs(2),
            "close {close}: {:?}",
            stopped.elapsed()
        );
        market.close().await;
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_addresses_are_tried_in_turn_and_every_failure_is_named() {
    crate::each_backend(
        "several_addresses_are_tried_in_turn_and_every_failure_is_named",
        fast_config(),
        several_addresses_are_tried_in_turn_and_every_failure_is_named_on,
    )
    .await;
}

async fn several_addresses_are_tried_in_turn_and_every_failure_is_named_on(t: TestHub) {
    let (_a, first) = silent();
    let (_b, second) = silent();
    let wait = Duration::from_millis(400);
    let timeouts = Timeouts {
        connect_timeout: wait,
        ..Timeouts::default()
    };

    // The first address does not answer: the client goes on to the hub.
    let mut config = t.client_config(MARKET).await;
    config.hubs = vec![first, t.addr];
    config.timeouts = timeouts;
    let started = Instant::now();
    let market = Client::connect(config).await.unwrap();
    assert_eq!(market.hub(), t.addr);
    assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
    market.trust_list().await.unwrap();
    market.close().await;

    // None answers: the error names each address, in order, and another
    // attempt may succeed.
    let mut config = t.client_config(MARKET).await;
    config.hubs = vec![first, second];
    config.timeouts = timeouts;
    match Client::connect(config).await {
        Err(ClientError::Connect(e)) => {
            let addrs: Vec<SocketAddr> = e.failures.iter().map(|f| f.addr).collect();
            assert_eq!(addrs, [first, second]);
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("{first}: no answer within 0.4 s")),
                "{text}"
            );
            assert!(
                text.contains(&format!("; {second}: no answer within 0.4 s")),
                "{text}"
            );
            assert!(e.is_transient());
        }
        other => panic!("{other:?}"),
    }

    // An expired certificate is turned away for good, wherever it is told.
    let expired = t.expired_client_config(MARKET).await;
    let e = match Client::connect(expired).await {
        Err(e) => e,
        Ok(c) => c.trust_list().await.unwrap_err(),
    };
    assert!(!e.is_transient(), "{e:?}");
    assert!(e.to_string().contains("xpired"), "{e}");

    // No address at all is a configuration error.
    let mut config = t.client_config(MARKET).await;
    config.hubs.clear();
    assert!(matches!(
        Client::connect(config).await,
        Err(ClientError::Config(_))
    ));
    t.stop().await;
}

/// A client of a hub with two nodes loses its node: it connects to the
/// other, where what was delivered and not acknowledged comes again, and an
/// envelope whose `accepted` it is unsure of is sent again and is `REPLAY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_its_node_stops_a_client_moves_to_the_next_and_loses_nothing() {
    for backend in tongban_tests::backends("hub_client_failover").await {
        eprintln!("hub_client_failover: {}", backend.name);
        let one = TestHub::start_on(backend, fast_config()).await;
        let two = one.another_node(fast_config()).await;
        let connector = |mut config: tongban_client::ClientConfig| {
            config.hubs = vec![two.addr, one.addr];
            Connector::new(config).unwrap()
        };
        let market = connector(one.client_config(MARKET).await)
            .connect()
            .await
            .unwrap();
        let civil = connector(one.client_config(CIVIL).await)
            .connect()
            .await
            .unwrap();
        assert_eq!((market.hub(), civil.hub()), (two.addr, two.addr));
        let envelope = market.sign(&registration_to(&market, CIVIL)).unwrap();
        let accepted = market.send_signed(vec![envelope.clone()]).await.unwrap();
        assert!(accepted[0].is_ok(), "{accepted:?}");
        let mut l = civil.listen(16).await.unwrap();
        let first = next_delivery(&mut l).await;
        assert_eq!(first.envelope["id"], envelope["id"]);

        // Node two stops before CIVIL acknowledged.
        two.stop().await;
        let end = tokio::time::timeout(Duration::from_secs(10), l.next())
            .await
            .unwrap();
        assert!(!matches!(end, Ok(Some(_))), "{end:?}");
        let reason = crate::wait_for(
            "CIVIL's connection stayed open",
            Duration::from_secs(10),
            || async { civil.close_reason() },
        )
        .await;
        assert_eq!(reason, "SHUTTING_DOWN");
        let civil = civil.reconnect().await.unwrap();
        let market = market.reconnect().await.unwrap();
        assert_eq!((market.hub(), civil.hub()), (one.addr, one.addr));
        let mut l = civil.listen(16).await.unwrap();
        let again = next_delivery(&mut l).await;
        assert_eq!(again.envelope["id"], envelope["id"]);
        assert_eq!(again.delivery, first.delivery);
        l.ack(again.delivery).await.unwrap();
        // The sender resends the same envelope: it had been stored.
        let resent = market.send_signed(vec![envelope]).await.unwrap();
        assert_eq!(
            resent[0].as_ref().unwrap_err().code,
            ErrorCode::Replay,
            "{resent:?}"
        );
        l.finish(Duration::from_secs(5)).await.unwrap();
        civil.close().await;
        market.close().await;
        one.stop().await;
    }
}

/// The hub stores a message and its `accepted` is lost on the way back: the
/// [`Failover`](tongban_client::Failover) gives the connection up, sends
/// the very same envelope through the next address, gets `REPLAY`, and
/// reports it stored (`seq: None`). The recipient gets it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_acknowledgement_is_lost_is_sent_again_and_found_stored() {
    crate::each_backend(
        "a_send_whose_acknowledgement_is_lost_is_sent_again_and_found_stored",
        fast_config(),
        a_send_whose_acknowledgement_is_lost_is_sent_again_and_found_stored_on,
    )
    .await;
}

async fn a_send_whose_acknowledgement_is_lost_is_sent_again_and_found_stored_on(t: TestHub) {
    use tongban_client::{Failover, Retry};
    let relay = Relay::start(t.addr).await;
    let mut config = t.client_config(MARKET).await;
    config.hubs = vec![relay.addr, t.addr];
    config.timeouts = Timeouts {
        keep_alive: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(1),
        ..Timeouts::default()
    };
    let failover = Failover::new(Connector::new(config).unwrap()).with_retry(Retry {
        attempts: 4,
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    });
    let (_, first) = failover.client().await.unwrap();
    assert_eq!(first.hub(), relay.addr, "the first address is the relay");
    let civil = t.client(CIVIL).await;
    let mut l = civil.listen(16).await.unwrap();

    relay.mute();
    let envelope = first.sign(&registration_to(&first, CIVIL)).unwrap();
    let stored = failover.send_envelope(envelope.clone()).await.unwrap();
    assert_eq!(stored.id, envelope["id"].as_str().unwrap());
    assert_eq!(
        stored.seq, None,
        "found stored, not stored again: {stored:?}"
    );
    assert_eq!(stored.attempts, 2, "{stored:?}");
    assert_eq!(
        failover.hub().await,
        Some(t.addr),
        "moved to the next address"
    );

    // CIVIL gets it once: one delivery (handed again while it was not yet
    // acknowledged, the same delivery), then the next message sent.
    let d = next_delivery(&mut l).await;
    assert_eq!(d.envelope["id"], envelope["id"]);
    let first = d.delivery;
    l.ack(first).await.unwrap();
    let (_, now) = failover.client().await.unwrap();
    let after = failover.send(registration_to(&now, CIVIL)).await.unwrap();
    assert!(after.seq.is_some(), "{after:?}");
    loop {
        let d = next_delivery(&mut l).await;
        if d.envelope["id"].as_str() == Some(after.id.as_str()) {
            l.ack(d.delivery).await.unwrap();
            break;
        }
        assert_eq!(d.envelope["id"], envelope["id"], "no other message");
        assert_eq!(d.delivery, first, "the same delivery, not a second copy");
        l.ack(d.delivery).await.unwrap();
    }

    // A REPLAY at the first attempt is the refusal it is: this Failover
    // never wrote that envelope.
    let again = Failover::new(Connector::new(t.client_config(MARKET).await).unwrap());
    let e = again.send_envelope(envelope).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Replay), "{e:?}");

    l.finish(Duration::from_secs(5)).await.unwrap();
    failover.close().await;
    again.close().await;
    civil.close().await;
    t.stop().await;
}
