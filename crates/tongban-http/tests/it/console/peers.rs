//! Peer regions: a region administrator adds 清城区 from its card file,
//! imports the trust list it sent (a changed one is refused with its
//! code), sees the list's age, removes the peer, and makes this hub's card.

use serde_json::Value;
use tongban_service::{Clock, Service, ServiceConfig};

use super::Console;
use crate::admin::Tokens;
use crate::each_served;

/// 清城区's hub in `dir`: its card and a trust list valid for a day.
async fn qingcheng(dir: &std::path::Path) -> (Value, Value) {
    let hub = Service::open(&ServiceConfig {
        clock: Clock::System,
        ..ServiceConfig::embedded(dir)
    })
    .await
    .unwrap();
    hub.init_region("441802", "清远市清城区政务数据共享交换平台")
        .await
        .unwrap();
    hub.ca_init("清城区政务CA").await.unwrap();
    let card = hub.peer_card("hub.qingcheng.example:4433").await.unwrap();
    let list = hub.trust_list(time::Duration::days(1)).await.unwrap();
    hub.close().await;
    (serde_json::to_value(card).unwrap(), list)
}

#[tokio::test]
async fn a_peer_is_added_from_its_card_trusted_and_removed() {
    each_served(
        "http_console_peers",
        |_| {},
        |served| async move {
            let test = "a_peer_is_added_from_its_card_trusted_and_removed";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let other = tempfile::tempdir().unwrap();
            let (card, list) = qingcheng(other.path()).await;
            let files = tempfile::tempdir().unwrap();
            let write = |name: &str, v: &Value| {
                let path = files.path().join(name);
                std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
                path.to_str().unwrap().to_owned()
            };
            let card_file = write("card.json", &card);
            let list_file = write("trust.json", &list);
            let mut changed = list.clone();
            changed["validUntil"] = "2099-01-01T00:00:00Z".into();
            let changed_file = write("changed.json", &changed);
            let tokens = Tokens::make(&served).await;

            console.sign_in(&tokens.admin).await;
            console.go("/peers").await;
            console
                .wait("#peer-form [name='card']")
                .await
                .send_keys(&card_file)
                .await
                .unwrap();
            console.click("#peer-submit").await;
            console
                .text_with("dialog.confirm[open] p", "清远市清城区")
                .await;
            console.confirm(None).await;
            console.text_with("main .notice", "已添加").await;
            console.text_with("[data-peer='441802']", "已互信").await;
            console.text_with("main table", "PEER_CRL_MISSING").await;

            // A list changed after signing: refused, the code said.
            console
                .wait("[data-trust-file='441802']")
                .await
                .send_keys(&changed_file)
                .await
                .unwrap();
            console
                .text_with("main .notice", "TRUST_LIST_UNTRUSTED")
                .await;
            console
                .wait("[data-trust-file='441802']")
                .await
                .send_keys(&list_file)
                .await
                .unwrap();
            console.text_with("main .notice", "信任列表").await;
            let row = console.text_with("main table", "小时前").await;
            assert!(row.contains("0.0"), "{row}");
            console.screenshot("peers").await;

            console.click("[data-remove='441802']").await;
            console
                .text_with("dialog.confirm[open] p", "不再接受")
                .await;
            console.confirm(None).await;
            console.text_with("[data-peer='441802']", "已移除").await;
            let peers = served.hub.peers().await.unwrap();
            assert_eq!(peers[0].status, "removed");

            // This hub's card, to send to a peer.
            console
                .type_into("#card-form [name='address']", "hub.huadu.example:4433")
                .await;
            console.click("#card-form button[type='submit']").await;
            // Not before the hub has its CA: said next to the field.
            console
                .text_with("[data-error-for='address']", "CA_NOT_INITIALISED")
                .await;
            served.hub.ca_init("花都区政务 CA").await.unwrap();
            console.click("#card-form button[type='submit']").await;
            console
                .text_with("#own-card", "peer-card-440114.json")
                .await;
            console.close().await;
            served
        },
    )
    .await;
}
