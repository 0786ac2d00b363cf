//! Peer hubs of other regions: cards exchanged once by administrators.

use tongban_service::ca::CertRequest;
use tongban_service::{Clock, Hub, HubConfig, PeerCard};

use crate::{T0, each_backend};

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    match r {
        Err(e) => e.code().to_owned(),
        Ok(v) => format!("accepted {v:?}"),
    }
}

/// 清城区's hub, on its own store: its card, and a server certificate (not a CA).
async fn other_region(dir: &std::path::Path) -> (PeerCard, String) {
    let hub = Hub::open(&HubConfig {
        clock: Clock::fixed(T0),
        ..HubConfig::embedded(dir)
    })
    .await
    .unwrap();
    hub.init_region("441802", "清远市清城区政务数据共享交换平台")
        .await
        .unwrap();
    hub.ca_init("清城区政务CA").await.unwrap();
    let server = hub
        .ca_issue(
            CertRequest::Server {
                dns: vec!["hub.qingcheng.example".into()],
                ips: vec![],
            },
            None,
        )
        .await
        .unwrap();
    let card = hub.peer_card("hub.qingcheng.example:4433").await.unwrap();
    hub.close().await;
    (card, server.row.pem.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_are_added_from_cards_listed_and_removed() {
    let other = tempfile::tempdir().unwrap();
    let (card, server_pem) = other_region(other.path()).await;
    assert_eq!(card.region, "441802");
    each_backend("peers", |hub| {
        let card = card.clone();
        let server_pem = server_pem.clone();
        async move {
            hub.ca_init("花都区政务CA").await.unwrap();
            let before = hub.store().audit_head().await.unwrap().0;
            // Refusals, each writing nothing.
            let mut bad = card.clone();
            bad.address = "hub.qingcheng.example".into();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_ADDRESS_INVALID");
            let mut bad = card.clone();
            bad.region = "44180".into();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_REGION_INVALID");
            let mut bad = card.clone();
            bad.anchor = "z6Mk-not-a-key".into();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_ANCHOR_INVALID");
            let mut bad = card.clone();
            bad.ca_pem = server_pem.clone();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_CA_INVALID");
            let own = hub.peer_card("127.0.0.1:4433").await.unwrap();
            assert_eq!(code(hub.peer_add(own).await), "PEER_IS_SELF");
            assert_eq!(code(hub.peer_card("4433").await), "PEER_ADDRESS_INVALID");
            assert_eq!(hub.store().audit_head().await.unwrap().0, before);
            assert!(hub.peers().await.unwrap().is_empty());

            let added = hub.peer_add(card.clone()).await.unwrap();
            assert_eq!(
                (added.region_code.as_str(), added.status.as_str()),
                ("441802", "active")
            );
            assert_eq!(code(hub.peer_add(card.clone()).await), "PEER_EXISTS");
            let removed = hub.peer_remove("441802").await.unwrap();
            assert_eq!(removed.status, "removed");
            assert!(removed.removed_at.is_some());
            assert_eq!(code(hub.peer_remove("441802").await), "PEER_UNKNOWN");
            // A new card after removal (e.g. a rotated anchor) is accepted.
            hub.peer_add(card.clone()).await.unwrap();
            let peers = hub.peers().await.unwrap();
            assert_eq!(peers.len(), 1);
            assert_eq!(peers[0].anchor, card.anchor);
            let log = hub.store().audit_of("441802", 10).await.unwrap();
            let mut actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
            actions.sort();
            assert_eq!(actions, ["peer.add", "peer.add", "peer.remove"]);
        }
    })
    .await;
}
