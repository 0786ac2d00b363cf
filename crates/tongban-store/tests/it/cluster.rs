//! The nodes of one hub: heartbeats, listener counts, relays, notifications.

use std::time::Duration;

use tongban_store::{RelayAnswer, RelayRequest, Store};

use crate::each_backend;

fn relay(to: &str) -> RelayRequest {
    RelayRequest {
        from_node: "node-b".into(),
        to_node: to.into(),
        requester: "11440114MB2C00015N".into(),
        request_id: "r1".into(),
        provider: "11440114MB2C00007U".into(),
        resource: "business-registration".into(),
        delivery: 7,
        envelope: "{\"id\":\"r1\"}".into(),
        timeout_ms: 10_000,
    }
}

async fn set(store: &Store, node: &str, department: &str, n: u64) {
    store
        .node_listeners_set(node, &[(department.to_owned(), n)])
        .await
        .unwrap();
}

async fn live(store: &Store, gone_after: Duration) -> Vec<(String, String)> {
    store.live_listeners(gone_after).await.unwrap()
}

#[tokio::test]
async fn listener_counts_follow_streams_and_a_silent_node_counts_as_gone() {
    each_backend("cluster_presence", |store, _| async move {
        let bound = Duration::from_secs(60);
        store.node_join("node-b").await.unwrap();
        store.node_join("node-c").await.unwrap();
        set(&store, "node-c", "MARKET", 2).await;
        set(&store, "node-b", "CIVIL", 1).await;
        // A count for a node that never joined is no presence.
        set(&store, "node-x", "HEALTH", 1).await;
        let pair = |d: &str, n: &str| (d.to_owned(), n.to_owned());
        assert_eq!(
            live(&store, bound).await,
            [pair("CIVIL", "node-b"), pair("MARKET", "node-c")]
        );
        // One of two streams ends: still listening; the other: gone.
        set(&store, "node-c", "MARKET", 1).await;
        assert_eq!(live(&store, bound).await.len(), 2);
        set(&store, "node-c", "MARKET", 0).await;
        assert_eq!(live(&store, bound).await, [pair("CIVIL", "node-b")]);
        // Unseen for longer than the bound: gone, until its next heartbeat.
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(live(&store, Duration::from_millis(10)).await.is_empty());
        store.node_heartbeat("node-b").await.unwrap();
        assert_eq!(
            live(&store, Duration::from_secs(5)).await,
            [pair("CIVIL", "node-b")]
        );
        // A clean stop, or a restart under the same id, clears its rows.
        store.node_leave("node-b").await.unwrap();
        assert!(live(&store, bound).await.is_empty());
        set(&store, "node-c", "MARKET", 1).await;
        store.node_join("node-c").await.unwrap();
        assert!(live(&store, bound).await.is_empty());
        // A heartbeat of a forgotten node makes its row again.
        store.node_leave("node-c").await.unwrap();
        store.node_heartbeat("node-c").await.unwrap();
        set(&store, "node-c", "MARKET", 1).await;
        assert_eq!(live(&store, bound).await, [pair("MARKET", "node-c")]);
    })
    .await;
}

#[tokio::test]
async fn a_relay_is_taken_once_by_its_node_and_answered_once() {
    each_backend("cluster_relay", |store, _| async move {
        store.node_join("node-b").await.unwrap();
        store.node_join("node-c").await.unwrap();
        let id = store.relay_open(&relay("node-c")).await.unwrap();
        assert_eq!(store.relays_unclaimed("node-c").await.unwrap(), [id]);
        assert!(store.relays_unclaimed("node-b").await.unwrap().is_empty());
        // Only the node it is addressed to takes it, and only once.
        assert_eq!(store.relay_claim(id, "node-b").await.unwrap(), None);
        assert_eq!(
            store.relay_claim(id, "node-c").await.unwrap(),
            Some(relay("node-c"))
        );
        assert_eq!(store.relay_claim(id, "node-c").await.unwrap(), None);
        assert!(store.relays_unclaimed("node-c").await.unwrap().is_empty());
        assert_eq!(store.relay_answered(id).await.unwrap(), None);
        let answer = RelayAnswer::Response("{\"id\":\"a1\"}".into());
        assert!(store.relay_answer(id, &answer).await.unwrap());
        let late = RelayAnswer::Refused {
            code: "REQUEST_TIMEOUT".into(),
            message: "late".into(),
        };
        assert!(!store.relay_answer(id, &late).await.unwrap());
        assert_eq!(store.relay_answered(id).await.unwrap(), Some(answer));
        store.relay_close(id).await.unwrap();
        assert_eq!(store.relay_answered(id).await.unwrap(), None);
        assert!(!store.relay_answer(id, &late).await.unwrap());
        // A refusal keeps its code and sentence.
        let id = store.relay_open(&relay("node-c")).await.unwrap();
        let refused = RelayAnswer::Refused {
            code: "PROVIDER_UNAVAILABLE".into(),
            message: "gone".into(),
        };
        assert!(store.relay_answer(id, &refused).await.unwrap());
        assert_eq!(store.relay_answered(id).await.unwrap(), Some(refused));
        // A node that stops takes its relays with it.
        let other = store.relay_open(&relay("node-c")).await.unwrap();
        store.node_leave("node-c").await.unwrap();
        assert_eq!(store.relay_claim(other, "node-c").await.unwrap(), None);
        assert_eq!(store.relay_answered(id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn notifications_reach_listeners_on_postgres_only() {
    each_backend("cluster_notify", |store, backend| async move {
        let too_long = "x".repeat(tongban_store::MAX_NOTIFY_PAYLOAD + 1);
        let e = store.notify("tongban_wake", &too_long).await.unwrap_err();
        assert_eq!(e.code(), "STORE_CONFIG");
        let listening = store
            .listen(&["tongban_wake", "tongban_other"])
            .await
            .unwrap();
        let Some(mut events) = listening else {
            assert_eq!(backend, "sqlite");
            store.notify("tongban_wake", "a").await.unwrap();
            return;
        };
        store.notify("tongban_wake", "MARKET,CIVIL").await.unwrap();
        store.notify("tongban_unheard", "x").await.unwrap();
        store.notify("tongban_other", "y").await.unwrap();
        let mut heard = Vec::new();
        for _ in 0..2 {
            let next = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
            heard.push(next.unwrap().unwrap());
        }
        let event = |c: &str, p: &str| Some((c.to_owned(), p.to_owned()));
        assert_eq!(
            heard,
            [
                event("tongban_wake", "MARKET,CIVIL"),
                event("tongban_other", "y")
            ]
        );
    })
    .await;
}
