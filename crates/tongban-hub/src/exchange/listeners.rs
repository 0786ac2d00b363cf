//! Who is listening, and which requests wait for an answer. One requester
//! may have at most `per_requester` requests waiting on one provider, so
//! that it cannot fill the provider's queues for everybody else.
//!
//! A request waits on the listen stream it was handed to: when that stream
//! ends (the provider finished it, closed its connection, or vanished and
//! the connection timed out) its requester is answered
//! `PROVIDER_UNAVAILABLE` at once rather than left to its timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};
use tongban_proto::{ErrorCode, ProtoError};

/// A request handed to a provider's listener: (delivery number, envelope).
pub type RequestDelivery = (u64, Value);

struct Entry {
    id: u64,
    notify: Arc<Notify>,
    requests: mpsc::Sender<RequestDelivery>,
}

struct Pending {
    provider: String,
    resource: String,
    /// The listen stream it was handed to.
    listener: u64,
    reply: oneshot::Sender<Result<Value, ProtoError>>,
}

/// A routed request's wait for its answer.
pub type Answer = oneshot::Receiver<Result<Value, ProtoError>>;

/// Open requests by (requester, request id), and how many each requester
/// has waiting on each provider.
#[derive(Default)]
struct Open {
    requests: HashMap<(String, String), Pending>,
    by_pair: HashMap<(String, String), usize>,
}

impl Open {
    fn insert(&mut self, key: (String, String), pending: Pending) {
        *self
            .by_pair
            .entry((pending.provider.clone(), key.0.clone()))
            .or_default() += 1;
        self.requests.insert(key, pending);
    }

    fn remove(&mut self, key: &(String, String)) -> Option<Pending> {
        let pending = self.requests.remove(key)?;
        let pair = (pending.provider.clone(), key.0.clone());
        if let Some(n) = self.by_pair.get_mut(&pair) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_pair.remove(&pair);
            }
        }
        Some(pending)
    }

    fn waiting(&self, provider: &str, requester: &str) -> usize {
        self.by_pair
            .get(&(provider.to_owned(), requester.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// `REQUEST_TIMEOUT`: `provider` did not answer within `timeout`.
pub fn timed_out(provider: &str, timeout: Duration) -> ProtoError {
    ProtoError::new(
        ErrorCode::RequestTimeout,
        format!(
            "{provider} did not answer within {} ms",
            timeout.as_millis()
        ),
    )
}

/// Listeners by department, and open requests.
pub struct Registry {
    listeners: Mutex<HashMap<String, Vec<Entry>>>,
    pending: Mutex<Open>,
    /// Most requests of one requester waiting on one provider.
    per_requester: usize,
    next_id: AtomicU64,
    next_turn: AtomicU64,
    /// Woken when a listener registers or unregisters (the node's
    /// presence in the store follows).
    changed: Notify,
}

/// A registered listener's handles.
pub struct Registration {
    /// Its id (to unregister).
    pub id: u64,
    /// Woken when deliveries are stored for the department.
    pub notify: Arc<Notify>,
    /// Requests routed to this listener.
    pub requests: mpsc::Receiver<RequestDelivery>,
}

impl Registry {
    /// An empty registry: no listeners, no open requests.
    pub fn new(per_requester: usize) -> Registry {
        Registry {
            listeners: Mutex::default(),
            pending: Mutex::default(),
            per_requester: per_requester.max(1),
            next_id: AtomicU64::new(0),
            next_turn: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn listeners(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Entry>>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Open> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a listener of `department`.
    pub fn register(&self, department: &str) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(64);
        self.listeners()
            .entry(department.to_owned())
            .or_default()
            .push(Entry {
                id,
                notify: Arc::clone(&notify),
                requests: tx,
            });
        self.changed.notify_one();
        Registration {
            id,
            notify,
            requests: rx,
        }
    }

    /// Removes a listener, and answers the requests handed to it that are
    /// still open with `PROVIDER_UNAVAILABLE`.
    pub fn unregister(&self, department: &str, id: u64) {
        // Both locks, in `route_request`'s order: no request is handed to
        // this listener after its open ones were answered.
        let mut map = self.listeners();
        if let Some(list) = map.get_mut(department) {
            list.retain(|e| e.id != id);
            if list.is_empty() {
                map.remove(department);
            }
        }
        self.changed.notify_one();
        let mut pending = self.pending();
        let orphans: Vec<(String, String)> = pending
            .requests
            .iter()
            .filter(|(_, p)| p.listener == id)
            .map(|(k, _)| k.clone())
            .collect();
        for key in orphans {
            if let Some(p) = pending.remove(&key) {
                let e = ProtoError::new(
                    ErrorCode::ProviderUnavailable,
                    format!(
                        "{}'s system stopped listening before it answered {} (its connection ended)",
                        p.provider, p.resource
                    ),
                );
                let _ = p.reply.send(Err(e));
            }
        }
    }

    /// Wakes the listeners of `department`.
    pub fn notify(&self, department: &str) {
        if let Some(list) = self.listeners().get(department) {
            for e in list {
                e.notify.notify_one();
            }
        }
    }

    /// Wakes every listener (a wake-up from another node may have been
    /// lost).
    pub fn notify_all(&self) {
        for e in self.listeners().values().flatten() {
            e.notify.notify_one();
        }
    }

    /// How many listen streams each department has here.
    pub fn listener_counts(&self) -> HashMap<String, usize> {
        self.listeners()
            .iter()
            .map(|(d, l)| (d.clone(), l.len()))
            .collect()
    }

    /// Resolves when a listener registered or unregistered since the last
    /// call.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Whether `department` has a listener connected.
    pub fn is_listening(&self, department: &str) -> bool {
        self.listeners()
            .get(department)
            .is_some_and(|l| !l.is_empty())
    }

    /// Refuses with `BUSY` a request of `requester` when it has as many
    /// waiting on `provider` as it may.
    pub fn check_room(&self, requester: &str, provider: &str) -> Result<(), ProtoError> {
        let waiting = self.pending().waiting(provider, requester);
        self.within_share(requester, provider, waiting)
    }

    fn within_share(
        &self,
        requester: &str,
        provider: &str,
        waiting: usize,
    ) -> Result<(), ProtoError> {
        if waiting >= self.per_requester {
            return Err(ProtoError::new(
                ErrorCode::Busy,
                format!(
                    "{requester} has {waiting} requests waiting on {provider}, as many as one requester may: retry once they are answered"
                ),
            ));
        }
        Ok(())
    }

    /// Opens a request and hands it to one of the provider's listeners (in
    /// turn). Refused with `PROVIDER_UNAVAILABLE` when the provider has no
    /// listener with room, with `BUSY` when the requester has as many
    /// requests waiting on the provider as it may.
    pub fn route_request(
        &self,
        requester: &str,
        request_id: &str,
        provider: &str,
        resource: &str,
        delivery: RequestDelivery,
    ) -> Result<Answer, ProtoError> {
        let unavailable = || {
            ProtoError::new(
                ErrorCode::ProviderUnavailable,
                format!("{provider} has no system connected with room to answer {resource}"),
            )
        };
        // Both locks from choosing the listener until the request is open:
        // a listener that ends meanwhile answers it when it unregisters.
        let map = self.listeners();
        let list = map
            .get(provider)
            .filter(|l| !l.is_empty())
            .ok_or_else(unavailable)?;
        let turn = self.next_turn.fetch_add(1, Ordering::Relaxed) as usize;
        let entry = &list[turn % list.len()];
        let (tx, rx) = oneshot::channel();
        let key = (requester.to_owned(), request_id.to_owned());
        let mut pending = self.pending();
        // Never replace an open request (e.g. another region's department
        // with the same code and id): the second waits for nothing.
        if pending.requests.contains_key(&key) {
            return Err(unavailable());
        }
        self.within_share(requester, provider, pending.waiting(provider, requester))?;
        if entry.requests.try_send(delivery).is_err() {
            return Err(unavailable());
        }
        pending.insert(
            key,
            Pending {
                provider: provider.to_owned(),
                resource: resource.to_owned(),
                listener: entry.id,
                reply: tx,
            },
        );
        Ok(rx)
    }

    /// Waits up to `timeout` for the answer to a routed request: the
    /// provider's response, `PROVIDER_UNAVAILABLE` when the listen stream
    /// it was handed to ended first, else `REQUEST_TIMEOUT` (and the
    /// request is forgotten).
    pub async fn wait_answer(
        &self,
        answer: Answer,
        (requester, request_id): (&str, &str),
        provider: &str,
        timeout: Duration,
    ) -> Result<Value, ProtoError> {
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            _ => {
                self.cancel(requester, request_id);
                Err(timed_out(provider, timeout))
            }
        }
    }

    /// Checks that a response answers an open request of this provider.
    pub fn check_answer(
        &self,
        requester: &str,
        request_id: &str,
        provider: &str,
        resource: &str,
    ) -> Result<(), ProtoError> {
        match self
            .pending()
            .requests
            .get(&(requester.to_owned(), request_id.to_owned()))
        {
            Some(p) if p.provider == provider && p.resource == resource => Ok(()),
            _ => Err(ProtoError::new(
                ErrorCode::ResponseUnexpected,
                format!(
                    "no open request {request_id} of {requester} for {provider} (answered already, or timed out)"
                ),
            )),
        }
    }

    /// Hands the (stored) response to the waiting requester.
    pub fn answer(&self, requester: &str, request_id: &str, envelope: Value) {
        if let Some(p) = self
            .pending()
            .remove(&(requester.to_owned(), request_id.to_owned()))
        {
            let _ = p.reply.send(Ok(envelope));
        }
    }

    /// Forgets a request (timed out or the requester left).
    pub fn cancel(&self, requester: &str, request_id: &str) {
        self.pending()
            .remove(&(requester.to_owned(), request_id.to_owned()));
    }
}
