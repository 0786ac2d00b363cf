//! Several `tongban serve` nodes on one PostgreSQL database are one hub.
//! Each node has a random id (logged at start) and a row with a heartbeat;
//! it keeps its count of listen streams per provider in the store
//! (`node_listeners`), and reads the other nodes' counts back, ignoring
//! nodes unseen for three heartbeats. Notifications (PostgreSQL
//! `LISTEN`/`NOTIFY`) carry what must not wait for a poll:
//!
//! - `tongban_wake`: deliveries were stored for these departments (sent
//!   after the commit); every node wakes its listeners of them;
//! - `tongban_presence`: a node's listener counts changed; every node
//!   reads the counts again;
//! - `tongban_node_<id>`: a request relayed to that node (`req:<n>`), or
//!   the answer to one it relayed (`ans:<n>`): [`super::relay`].
//!
//! Each is only a wake-up: what it says is in the store, and the polls stay
//! as the fallback (listen streams read the store every tick, the
//! heartbeat re-reads presence and takes relays no notification announced).
//! A SQLite hub is one node and has none of this.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tongban_store::{Store, StoreError};

/// Deliveries stored: `<node>|<department>,<department>,…`.
pub(crate) const WAKE: &str = "tongban_wake";
/// A node's listener counts changed: `<node>`.
pub(crate) const PRESENCE: &str = "tongban_presence";

/// A node unseen for this many heartbeats counts as gone.
pub const HEARTBEATS_MISSED: u32 = 3;

/// This node, and what it knows of the others.
pub struct Cluster {
    /// Random, chosen at start.
    pub node_id: String,
    /// How often this node says it is alive and reads the others' presence.
    pub heartbeat: Duration,
    /// Other live nodes with listeners, by provider.
    remote: RwLock<HashMap<String, Vec<String>>>,
    /// Another node's listener counts changed.
    pub(crate) presence_stale: Notify,
    /// Departments with deliveries stored here since the last wake-up sent.
    pub(crate) to_wake: Mutex<BTreeSet<String>>,
    pub(crate) wake_due: Notify,
    /// Relays this node waits on, woken by their answers' notifications.
    waiting: Mutex<HashMap<i64, Arc<Notify>>>,
    next_turn: AtomicU64,
}

/// The channel of `node`'s relays.
pub fn channel_of(node: &str) -> String {
    format!("tongban_node_{node}")
}

pub(crate) fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cluster {
    /// Joins the hub's nodes under a fresh id.
    pub async fn join(store: &Store, heartbeat: Duration) -> Result<Cluster, StoreError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Config(format!("no random node id: {e}")))?;
        let node_id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        store.node_join(&node_id).await?;
        tracing::info!(node = %node_id, "this node joined the hub's nodes");
        Ok(Cluster {
            node_id,
            heartbeat: heartbeat.max(Duration::from_millis(10)),
            remote: RwLock::default(),
            presence_stale: Notify::new(),
            to_wake: Mutex::default(),
            wake_due: Notify::new(),
            waiting: Mutex::default(),
            next_turn: AtomicU64::new(0),
        })
    }

    /// How long a node may be unseen before it counts as gone.
    pub fn gone_after(&self) -> Duration {
        self.heartbeat * HEARTBEATS_MISSED
    }

    fn remote(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<String>>> {
        self.remote.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether another live node has a listener of `provider`.
    pub fn is_listening(&self, provider: &str) -> bool {
        self.remote().contains_key(provider)
    }

    /// Whether `node` is live and has a listener of `provider`.
    pub fn is_live(&self, provider: &str, node: &str) -> bool {
        self.remote()
            .get(provider)
            .is_some_and(|nodes| nodes.iter().any(|n| n == node))
    }

    /// Another live node with a listener of `provider` (in turn).
    pub fn node_for(&self, provider: &str) -> Option<String> {
        let remote = self.remote();
        let nodes = remote.get(provider).filter(|n| !n.is_empty())?;
        let turn = self.next_turn.fetch_add(1, Ordering::Relaxed) as usize;
        Some(nodes[turn % nodes.len()].clone())
    }

    /// Deliveries were stored (and committed) for `departments`: the other
    /// nodes wake their listeners of them.
    pub fn wake(&self, departments: &[String]) {
        if departments.is_empty() {
            return;
        }
        locked(&self.to_wake).extend(departments.iter().cloned());
        self.wake_due.notify_one();
    }

    /// Relay `id`'s answer will wake the returned notify.
    pub fn expect(&self, id: i64) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        locked(&self.waiting).insert(id, Arc::clone(&notify));
        notify
    }

    /// No longer waiting on relay `id`.
    pub fn forget(&self, id: i64) {
        locked(&self.waiting).remove(&id);
    }

    pub(crate) fn answered(&self, id: i64) {
        if let Some(n) = locked(&self.waiting).get(&id) {
            n.notify_one();
        }
    }

    /// Every relay waiting looks at its row again (answers' notifications
    /// may have been lost).
    pub(crate) fn wake_waiting(&self) {
        for n in locked(&self.waiting).values() {
            n.notify_one();
        }
    }

    /// The other nodes' presence, read again.
    pub(crate) async fn refresh(&self, store: &Store) {
        let rows = match store.live_listeners(self.gone_after()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reading the other nodes' listeners failed");
                return;
            }
        };
        let mut remote: HashMap<String, Vec<String>> = HashMap::new();
        for (department, node) in rows.into_iter().filter(|(_, n)| *n != self.node_id) {
            remote.entry(department).or_default().push(node);
        }
        *self.remote.write().unwrap_or_else(|p| p.into_inner()) = remote;
    }
}
