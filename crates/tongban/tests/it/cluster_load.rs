//! Load across the cluster's nodes: MARKET sends numbered messages through
//! a [`Failover`] given all three addresses, CIVIL listens through another
//! node and reconnects when it is cut off; then a node is killed or every
//! node restarted under that load, and nothing acknowledged may be lost.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tongban_client::{Backoff, Connector, Event, Failover, Timeouts};

use crate::cluster::Cluster;
use crate::exchange::{CIVIL, client_config, payload};

/// Timeouts that notice a vanished node within two seconds.
const QUICK: Timeouts = Timeouts {
    connect_timeout: Duration::from_secs(2),
    keep_alive: Duration::from_millis(500),
    idle_timeout: Duration::from_secs(2),
};

/// A connector for the department of `creds` to the nodes `order` (indices).
pub(crate) fn connector(cluster: &Cluster, creds: &Path, order: &[usize]) -> Connector {
    let mut config = client_config(creds, cluster.nodes[order[0]].addr().parse().unwrap());
    config.hubs = order
        .iter()
        .map(|&i| cluster.nodes[i].addr().parse().unwrap())
        .collect();
    config.timeouts = QUICK;
    Connector::new(config).unwrap()
}

/// What the sender got back.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Ids the hub acknowledged (accepted, or `REPLAY` of a resend).
    pub acked: Vec<String>,
    /// Of those, how many were acknowledged by a resend's `REPLAY`.
    pub replayed: usize,
    /// Of those, how many took more than one attempt.
    pub retried: usize,
    /// Sends that failed for good, with why.
    pub failed: Vec<String>,
}

/// The running load: a sender and a listener.
pub(crate) struct Load {
    pub sender: Arc<Failover>,
    sent: Arc<Mutex<Sent>>,
    /// Messages acknowledged so far.
    pub progress: Arc<AtomicUsize>,
    delivered: Arc<Mutex<HashSet<String>>>,
    deliveries: Arc<AtomicUsize>,
    stop_sending: Arc<AtomicBool>,
    stop_listening: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `tasks` senders through the nodes `send_via` (in that order)
    /// that send `n` numbered messages between them (or until
    /// [`stop`](Load::stop)), and a listener through `listen_via`.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        cluster: &Cluster,
        send_via: &[usize],
        listen_via: &[usize],
        (tasks, n): (usize, usize),
    ) -> Load {
        let sender = Arc::new(Failover::new(connector(cluster, &cluster.market, send_via)));
        let listen_connector = connector(cluster, &cluster.civil, listen_via);
        let mut load = Load {
            sender,
            sent: Arc::default(),
            progress: Arc::default(),
            delivered: Arc::default(),
            deliveries: Arc::default(),
            stop_sending: Arc::default(),
            stop_listening: Arc::default(),
            tasks: Vec::new(),
            listener: None,
        };
        load.listener = Some(runtime.spawn(listen(
            listen_connector,
            Arc::clone(&load.delivered),
            Arc::clone(&load.deliveries),
            Arc::clone(&load.stop_listening),
        )));
        for t in 0..tasks {
            let numbers: Vec<usize> = (t..n).step_by(tasks).collect();
            load.tasks.push(runtime.spawn(send(
                Arc::clone(&load.sender),
                numbers,
                Arc::clone(&load.sent),
                Arc::clone(&load.progress),
                Arc::clone(&load.stop_sending),
            )));
        }
        load
    }

    /// Waits (on this thread) until `count` messages were acknowledged.
    pub fn wait_for_acks(&self, count: usize, within: Duration) {
        let until = Instant::now() + within;
        while self.progress.load(Ordering::Relaxed) < count {
            assert!(
                Instant::now() < until,
                "only {} acknowledged within {within:?}: {:?}",
                self.progress.load(Ordering::Relaxed),
                self.sent.lock().unwrap().failed.first()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Tells the senders to stop after their current message.
    pub fn stop(&self) {
        self.stop_sending.store(true, Ordering::Relaxed);
    }

    /// Waits for the senders to finish, then for the listener to have every
    /// acknowledged message (within `within`); then stops the listener.
    /// What was sent, and the ids acknowledged and never delivered.
    pub fn finish(
        mut self,
        runtime: &tokio::runtime::Runtime,
        within: Duration,
    ) -> (Sent, Vec<String>, usize) {
        for task in self.tasks.drain(..) {
            runtime.block_on(task).unwrap();
        }
        let sent = std::mem::take(&mut *self.sent.lock().unwrap());
        let until = Instant::now() + within;
        let lost = loop {
            let delivered = self.delivered.lock().unwrap();
            let lost: Vec<String> = sent
                .acked
                .iter()
                .filter(|id| !delivered.contains(*id))
                .cloned()
                .collect();
            drop(delivered);
            if lost.is_empty() || Instant::now() > until {
                break lost;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        self.stop_listening.store(true, Ordering::Relaxed);
        if let Some(listener) = self.listener.take() {
            runtime.block_on(listener).unwrap();
        }
        runtime.block_on(self.sender.close());
        (sent, lost, self.deliveries.load(Ordering::Relaxed))
    }

    /// The node the sender is connected to now.
    pub fn sender_hub(&self, runtime: &tokio::runtime::Runtime) -> Option<SocketAddr> {
        runtime.block_on(self.sender.hub())
    }
}

/// Sends the messages `numbers`, one at a time, each until the hub has it.
async fn send(
    sender: Arc<Failover>,
    numbers: Vec<usize>,
    sent: Arc<Mutex<Sent>>,
    progress: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    for i in numbers {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let draft = match sender.client().await {
            Ok((_, client)) => {
                let mut body = payload();
                body["entityName"] = format!("广州花都第{i}号电子科技有限公司").into();
                client.message_to(
                    CIVIL,
                    "business-registration",
                    "business-registration@1",
                    body,
                )
            }
            Err(e) => {
                sent.lock()
                    .unwrap()
                    .failed
                    .push(format!("#{i}: connect: {e}"));
                continue;
            }
        };
        match sender.send(draft).await {
            Ok(stored) => {
                let mut s = sent.lock().unwrap();
                s.replayed += usize::from(stored.seq.is_none());
                s.retried += usize::from(stored.attempts > 1);
                s.acked.push(stored.id);
                progress.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => sent.lock().unwrap().failed.push(format!("#{i}: {e}")),
        }
    }
}

/// Listens as CIVIL, acknowledging everything, reconnecting (with
/// back-off, to the next node) whenever the connection or stream ends,
/// until `stop`.
async fn listen(
    connector: Connector,
    delivered: Arc<Mutex<HashSet<String>>>,
    deliveries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    while !stop.load(Ordering::Relaxed) {
        if let Ok(client) = connector.connect().await {
            if let Ok(mut listener) = client.listen(512).await {
                backoff.reset();
                while !stop.load(Ordering::Relaxed) {
                    let event =
                        tokio::time::timeout(Duration::from_millis(200), listener.next()).await;
                    let d = match event {
                        Err(_) => continue,
                        Ok(Ok(Some(Event::Delivery(d)))) => d,
                        Ok(Ok(Some(_))) => continue,
                        Ok(Ok(None) | Err(_)) => break,
                    };
                    let id = d.envelope["id"].as_str().unwrap_or_default().to_owned();
                    deliveries.fetch_add(1, Ordering::Relaxed);
                    delivered.lock().unwrap().insert(id);
                    if listener.ack(d.delivery).await.is_err() {
                        break;
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    let _ = listener.finish(Duration::from_secs(2)).await;
                }
            }
            client.close().await;
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
