//! What `/metrics` reports after real exchanges over QUIC: envelopes
//! accepted and refused by code, batches, connections and streams, and the
//! store's state (pending deliveries, the audit log's head).

use tongban_hub::{METRICS_CONTENT_TYPE, Metrics};

use crate::{CIVIL, MARKET, TestHub, fast_config, registration};

/// The value of the sample named `series` (name and labels, as printed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_exchange_did() {
    for backend in tongban_tests::backends("metrics_count_what_the_exchange_did").await {
        eprintln!("metrics: {}", backend.name);
        // A fresh set per hub: counters start at zero.
        let config = fast_config();
        let metrics: Metrics = config.metrics.clone();
        let t = TestHub::start_on(backend, config).await;
        let market = t.client(MARKET).await;
        for _ in 0..2 {
            market
                .send(market.message_to(
                    CIVIL,
                    "business-registration",
                    "business-registration@1",
                    registration("91440114MA5TB0A01K"),
                ))
                .await
                .unwrap();
        }
        let refused = market
            .send(market.message_to(
                CIVIL,
                "business-registration",
                "no-such-schema@1",
                registration("91440114MA5TB0A01K"),
            ))
            .await
            .unwrap_err();
        let code = refused.code().unwrap().as_str();

        let text = metrics.render(&t.hub).await;
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(METRICS_CONTENT_TYPE.starts_with("application/openmetrics-text"));
        let at =
            |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series} in {text}"));
        assert_eq!(
            at("tongban_envelopes_accepted_total{kind=\"message\"}"),
            2.0
        );
        assert_eq!(
            at(&format!(
                "tongban_envelopes_refused_total{{code=\"{code}\"}}"
            )),
            1.0
        );
        assert_eq!(
            at(&format!(
                "tongban_deliveries_pending{{department=\"{CIVIL}\"}}"
            )),
            2.0
        );
        assert_eq!(at("tongban_connections_open{kind=\"department\"}"), 1.0);
        assert_eq!(at("tongban_connections_total{kind=\"department\"}"), 1.0);
        assert!(at("tongban_streams_total") >= 3.0);
        assert_eq!(
            at("tongban_batch_size_sum"),
            3.0,
            "every envelope verified in a batch"
        );
        assert!(at("tongban_commit_seconds_count") >= 1.0);
        assert!(at("tongban_verify_seconds_count") >= 1.0);
        let (head, _) = t.hub.store().audit_head().await.unwrap();
        assert_eq!(at("tongban_audit_head"), head as f64);

        // The connection closed: no longer open, still counted.
        market.close().await;
        crate::wait_for(
            "the connection stayed open",
            std::time::Duration::from_secs(10),
            || {
                let metrics = metrics.clone();
                let hub = t.hub.clone();
                async move {
                    let text = metrics.render(&hub).await;
                    (sample(&text, "tongban_connections_open{kind=\"department\"}") == Some(0.0))
                        .then_some(())
                }
            },
        )
        .await;
        t.stop().await;
    }
}
