//! Who is listening, and which requests wait for an answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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
    reply: oneshot::Sender<Value>,
}

/// Listeners by department, and open requests.
#[derive(Default)]
pub struct Registry {
    listeners: Mutex<HashMap<String, Vec<Entry>>>,
    pending: Mutex<HashMap<(String, String), Pending>>,
    next_id: AtomicU64,
    next_turn: AtomicU64,
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
    fn listeners(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Entry>>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Pending>> {
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
        Registration {
            id,
            notify,
            requests: rx,
        }
    }

    /// Removes a listener.
    pub fn unregister(&self, department: &str, id: u64) {
        let mut map = self.listeners();
        if let Some(list) = map.get_mut(department) {
            list.retain(|e| e.id != id);
            if list.is_empty() {
                map.remove(department);
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

    /// Whether `department` has a listener connected.
    pub fn is_listening(&self, department: &str) -> bool {
        self.listeners()
            .get(department)
            .is_some_and(|l| !l.is_empty())
    }

    /// Opens a request and hands it to one of the provider's listeners (in
    /// turn). `None` when the provider has no listener with room.
    pub fn route_request(
        &self,
        requester: &str,
        request_id: &str,
        provider: &str,
        resource: &str,
        delivery: RequestDelivery,
    ) -> Option<oneshot::Receiver<Value>> {
        let sender = {
            let map = self.listeners();
            let list = map.get(provider)?;
            if list.is_empty() {
                return None;
            }
            let turn = self.next_turn.fetch_add(1, Ordering::Relaxed) as usize;
            list[turn % list.len()].requests.clone()
        };
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending();
            let key = (requester.to_owned(), request_id.to_owned());
            // Never replace an open request (e.g. another region's department
            // with the same code and id): the second waits for nothing.
            if pending.contains_key(&key) {
                return None;
            }
            pending.insert(
                key,
                Pending {
                    provider: provider.to_owned(),
                    resource: resource.to_owned(),
                    reply: tx,
                },
            );
        }
        if sender.try_send(delivery).is_err() {
            self.pending()
                .remove(&(requester.to_owned(), request_id.to_owned()));
            return None;
        }
        Some(rx)
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
            let _ = p.reply.send(envelope);
        }
    }

    /// Forgets a request (timed out or the requester left).
    pub fn cancel(&self, requester: &str, request_id: &str) {
        self.pending()
            .remove(&(requester.to_owned(), request_id.to_owned()));
    }
}
