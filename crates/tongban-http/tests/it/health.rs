//! `/healthz` and `/readyz`.

use crate::{Served, business_licence, each_backend, each_served, problem, refused};

#[tokio::test]
async fn ready_only_while_the_store_answers_quic_accepts_and_nothing_drains() {
    each_served(
        "http_health",
        |_| {},
        |served| async move {
            assert_eq!(served.get("/healthz").await.status(), 200);
            let ready = served.get("/readyz").await;
            assert_eq!(ready.status(), 200);
            let body: serde_json::Value = ready.json().await.unwrap();
            assert_eq!(body["status"], "ready");

            served.readiness.set_quic_accepting(false);
            let not = problem(served.get("/readyz").await, 503).await;
            assert_eq!(not["code"], "NOT_READY");
            assert!(not["detail"].as_str().unwrap().contains("QUIC"));
            assert_eq!(served.get("/healthz").await.status(), 200);

            served.readiness.set_quic_accepting(true);
            served.readiness.set_draining();
            refused(served.get("/readyz").await, 503, "DRAINING").await;
            assert_eq!(served.get("/healthz").await.status(), 200);
            served
        },
    )
    .await;
}

/// `/metrics` serves the set it is given, in the OpenMetrics text format,
/// with the store's gauges read when scraped; verifications over HTTP
/// count.
#[tokio::test]
async fn metrics_are_served_for_prometheus() {
    each_served(
        "http_metrics",
        |_| {},
        |served| async move {
            // One verified over HTTP, one counted by the QUIC side (a pull).
            let licence = business_licence(&served.hub, None).await;
            assert_eq!(served.verify(&licence).await["valid"], true);
            served.metrics.licence_verified(false);
            let response = served.get("/metrics").await;
            assert_eq!(response.status(), 200);
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(content_type, tongban_hub::METRICS_CONTENT_TYPE);
            let text = response.text().await.unwrap();
            assert!(text.ends_with("# EOF\n"), "{text}");
            for line in [
                "tongban_licences_verified_total{outcome=\"valid\"} 1",
                "tongban_licences_verified_total{outcome=\"invalid\"} 1",
            ] {
                assert!(text.lines().any(|l| l == line), "{line} in {text}");
            }
            let (head, _) = served.hub.store().audit_head().await.unwrap();
            assert!(
                text.lines()
                    .any(|l| l == format!("tongban_audit_head {head}")),
                "{text}"
            );
            served
        },
    )
    .await;
}

/// The store going away makes the hub unready with the store's code; its
/// words (paths, connection strings) stay in the log.
#[tokio::test]
async fn a_closed_store_is_not_ready() {
    each_backend("http_health_store", |backend| async move {
        let served = Served::start(&backend).await;
        served.hub.store().close().await;
        let down = refused(served.get("/readyz").await, 503, "STORE_UNAVAILABLE").await;
        assert!(
            !down["detail"]
                .as_str()
                .unwrap()
                .contains(&backend.database_url)
        );
        assert_eq!(served.get("/healthz").await.status(), 200);
        served.stop().await;
        backend
    })
    .await;
}

/// A store whose database lacks a migration this build carries is not
/// ready (a node of a newer build on an older database).
#[tokio::test]
async fn a_missing_migration_is_not_ready() {
    each_backend("http_health_migration", |backend| async move {
        let served = Served::start(&backend).await;
        assert_eq!(served.get("/readyz").await.status(), 200);
        let removed = tongban_tests::execute_sql(
            &backend.database_url,
            "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
        )
        .await;
        assert_eq!(removed, 1);
        let not = refused(served.get("/readyz").await, 503, "NOT_READY").await;
        assert!(not["detail"].as_str().unwrap().contains("migrations"));
        served.stop().await;
        backend
    })
    .await;
}
