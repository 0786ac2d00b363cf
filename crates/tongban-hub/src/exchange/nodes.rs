//! The background tasks of a node among the hub's nodes
//! ([`super::cluster`]): heartbeat and presence, wake-ups sent, the
//! other nodes' notifications heard, and the clean leave.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::watch;
use tongban_store::{MAX_NOTIFY_PAYLOAD, Notifications};

use crate::Shared;
use crate::exchange::cluster::{Cluster, PRESENCE, WAKE, channel_of, locked};
use crate::exchange::relay;

/// The node's heartbeat and presence: says it is alive, writes its
/// listener counts when they change (and tells the other nodes), reads
/// theirs, and takes relays no notification announced.
pub(crate) async fn keep_presence(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let Some(c) = &shared.cluster else { return };
    let store = shared.hub.store();
    let mut tick = tokio::time::interval(c.heartbeat);
    let mut written: HashMap<String, usize> = HashMap::new();
    loop {
        let beat = tokio::select! {
            _ = tick.tick() => true,
            () = shared.registry.changed() => false,
            () = c.presence_stale.notified() => {
                c.refresh(store).await;
                continue;
            }
            _ = stop.changed() => break,
        };
        if beat {
            if let Err(e) = store.node_heartbeat(&c.node_id).await {
                tracing::warn!(error = %e, "the node's heartbeat failed");
            }
        }
        if write_counts(&shared, c, &mut written).await {
            if let Err(e) = store.notify(PRESENCE, &c.node_id).await {
                tracing::warn!(error = %e, "telling the other nodes of listeners failed");
            }
        }
        if beat {
            c.refresh(store).await;
            relay::take_unclaimed(&shared).await;
        }
    }
}

/// Writes the listener counts that changed since `written`; whether any did.
async fn write_counts(shared: &Shared, c: &Cluster, written: &mut HashMap<String, usize>) -> bool {
    let now = shared.registry.listener_counts();
    let mut changes: Vec<(String, u64)> = now
        .iter()
        .filter(|(d, n)| written.get(*d) != Some(*n))
        .map(|(d, n)| (d.clone(), *n as u64))
        .collect();
    changes.extend(
        written
            .keys()
            .filter(|d| !now.contains_key(*d))
            .map(|d| (d.clone(), 0)),
    );
    if changes.is_empty() {
        return false;
    }
    match shared
        .hub
        .store()
        .node_listeners_set(&c.node_id, &changes)
        .await
    {
        Ok(()) => {
            *written = now;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "recording the node's listeners failed; retrying");
            false
        }
    }
}

/// Sends the wake-ups for deliveries stored on this node, as they come
/// (those of several commits together while one is being sent).
pub(crate) async fn send_wakes(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let Some(c) = &shared.cluster else { return };
    loop {
        tokio::select! {
            () = c.wake_due.notified() => {}
            _ = stop.changed() => break,
        }
        let departments = std::mem::take(&mut *locked(&c.to_wake));
        for payload in wake_payloads(&c.node_id, departments) {
            if let Err(e) = shared.hub.store().notify(WAKE, &payload).await {
                tracing::warn!(error = %e, "waking the other nodes' listeners failed; they read the store on their tick");
            }
        }
    }
}

/// `<node>|<d>,<d>,…` payloads, each within the notification limit.
fn wake_payloads(node: &str, departments: BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut payload = format!("{node}|");
    let empty = payload.len();
    for d in departments {
        if payload.len() > empty && payload.len() + 1 + d.len() > MAX_NOTIFY_PAYLOAD {
            out.push(std::mem::replace(&mut payload, format!("{node}|")));
        }
        if payload.len() > empty {
            payload.push(',');
        }
        payload.push_str(&d);
    }
    if payload.len() > empty {
        out.push(payload);
    }
    out
}

/// Listens for the other nodes' notifications until `stop`; after a lost
/// connection (notifications lost meanwhile) it looks again at everything
/// they would have said.
pub(crate) async fn hear(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let Some(c) = &shared.cluster else { return };
    let own = channel_of(&c.node_id);
    let channels = [WAKE, PRESENCE, own.as_str()];
    loop {
        let listening = tokio::select! {
            l = shared.hub.store().listen(&channels) => l,
            _ = stop.changed() => return,
        };
        match listening {
            Ok(Some(events)) => {
                if !hear_on(&shared, c, events, &mut stop).await {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => tracing::warn!(error = %e, "listening for the other nodes failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(c.heartbeat) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Handles notifications until the connection fails (true) or `stop`
/// (false).
async fn hear_on(
    shared: &Arc<Shared>,
    c: &Cluster,
    mut events: Notifications,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    caught_up(shared, c);
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            _ = stop.changed() => return false,
        };
        match event {
            Ok(Some((channel, payload))) => on_event(shared, c, &channel, &payload),
            Ok(None) => caught_up(shared, c),
            Err(e) => {
                tracing::warn!(error = %e, "the other nodes' notifications stopped; listening again");
                return true;
            }
        }
    }
}

/// Notifications may have been lost: every listener reads the store, the
/// presence is read again, waiting relays look at their rows and relays
/// addressed here are taken.
fn caught_up(shared: &Arc<Shared>, c: &Cluster) {
    shared.registry.notify_all();
    c.presence_stale.notify_one();
    c.wake_waiting();
    let shared = Arc::clone(shared);
    tokio::spawn(async move { relay::take_unclaimed(&shared).await });
}

fn on_event(shared: &Arc<Shared>, c: &Cluster, channel: &str, payload: &str) {
    match channel {
        WAKE => {
            let Some((node, departments)) = payload.split_once('|') else {
                return;
            };
            if node != c.node_id {
                for d in departments.split(',') {
                    shared.registry.notify(d);
                }
            }
        }
        PRESENCE if payload != c.node_id => c.presence_stale.notify_one(),
        PRESENCE => {}
        _ => match payload.split_once(':').map(|(k, n)| (k, n.parse::<i64>())) {
            Some(("req", Ok(id))) => {
                let shared = Arc::clone(shared);
                tokio::spawn(async move { relay::serve(&shared, id).await });
            }
            Some(("ans", Ok(id))) => c.answered(id),
            _ => tracing::warn!(%channel, "a node notification not understood"),
        },
    }
}

/// A clean stop: this node's rows go, and the other nodes hear of it.
pub(crate) async fn leave(shared: &Shared) {
    let Some(c) = &shared.cluster else { return };
    let store = shared.hub.store();
    if let Err(e) = store.node_leave(&c.node_id).await {
        tracing::warn!(error = %e, "removing this node's rows failed; the others ignore them once it is unseen");
    }
    let _ = store.notify(PRESENCE, &c.node_id).await;
    tracing::info!(node = %c.node_id, "this node left the hub's nodes");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_payloads_stay_within_the_limit_and_lose_nobody() {
        let departments: BTreeSet<String> = (0..1000)
            .map(|i| format!("1144011{i:04}MB2C0007"))
            .collect();
        let payloads = wake_payloads("abc", departments.clone());
        assert!(payloads.len() > 1);
        let mut heard = BTreeSet::new();
        for p in &payloads {
            assert!(p.len() <= MAX_NOTIFY_PAYLOAD, "{}", p.len());
            let (node, list) = p.split_once('|').unwrap();
            assert_eq!(node, "abc");
            heard.extend(list.split(',').map(str::to_owned));
        }
        assert_eq!(heard, departments);
        assert!(wake_payloads("abc", BTreeSet::new()).is_empty());
    }
}
