//! A provider that closes or vanishes leaves its requesters
//! `PROVIDER_UNAVAILABLE` rather than waiting for their timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tongban_client::{Client, ClientError};
use tongban_hub::ServeConfig;
use tongban_proto::ErrorCode;

use crate::flows::next_delivery;
use crate::{CIVIL, MARKET, TestHub, fast_config, registration};

/// A request of CIVIL to MARKET's resource, waiting up to 30 s.
async fn ask_market(civil: &Client) -> (Result<serde_json::Value, ClientError>, Duration) {
    let draft = civil.request_for(
        "business-registration",
        "business-registration@1",
        registration("91440114MA5TB0A01K"),
    );
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
                        if let (Some(to), false) = (client, cutting.load(Ordering::SeqCst)) {
                            let _ = front.send_to(&down[..n], to).await;
                        }
                    }
                }
            }
        });
        Relay { addr, cut, task }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_vanishes_is_noticed_within_the_idle_timeout() {
    let idle = Duration::from_secs(2);
    let t = TestHub::start(ServeConfig {
        idle_timeout: idle,
        keep_alive: Duration::from_millis(500),
        ..fast_config()
    })
    .await;
    let relay = Relay::start(t.addr).await;
    let mut config = t.client_config(MARKET).await;
    config.hub = relay.addr;
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

/// A client that closes with `DONE` frees the requests handed to its
/// listener at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_handed_to_a_listener_that_stops_are_answered_at_once() {
    let t = TestHub::start(fast_config()).await;
    let civil = t.client(CIVIL).await;
    let market = t.client(MARKET).await;
    let mut l = market.listen(16).await.unwrap();
    let asking = {
        let civil = civil.clone();
        tokio::spawn(async move { ask_market(&civil).await })
    };
    // The request reached MARKET's system, which stops without answering.
    assert_eq!(next_delivery(&mut l).await.kind(), "request");
    let stopped = Instant::now();
    market.close().await;
    let (answer, _) = asking.await.unwrap();
    let e = answer.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ProviderUnavailable), "{e}");
    assert!(e.to_string().contains("stopped listening"), "{e}");
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopped.elapsed()
    );
    t.stop().await;
}
