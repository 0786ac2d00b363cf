//! The audit log on a running hub: `audit verify` exact while the hub
//! appends. Every test runs on every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use tongban_service::{AuditReport, Hub};
use tongban_store::AuditRecord;

use crate::{T0, hub_on};

async fn fill(hub: &Hub, n: usize) -> u64 {
    let records: Vec<AuditRecord> = (0..n)
        .map(|i| AuditRecord::new(T0, "bench", "test.fill", i.to_string(), json!({"n": i})))
        .collect();
    hub.record_audit(&records).await.unwrap()
}

async fn verify(hub: &Hub) -> AuditReport {
    hub.audit_verify(|_| {}).await.unwrap()
}

/// `audit verify` while a task appends: every run is exactly intact, with
/// as many entries as the head it read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_is_exact_while_the_hub_appends() {
    for backend in tongban_tests::backends("audit_concurrent").await {
        let hub = hub_on(&backend).await;
        let stop = Arc::new(AtomicBool::new(false));
        let appender = {
            let (hub, stop) = (hub.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut batches = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    fill(&hub, 3).await;
                    batches += 1;
                }
                batches
            })
        };
        let mut seen = Vec::new();
        for _ in 0..40 {
            let report = verify(&hub).await;
            assert!(report.ok(), "{}: {report:?}", backend.name);
            seen.push(report.entries);
        }
        stop.store(true, Ordering::Relaxed);
        let batches = appender.await.unwrap();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(
            seen.last() > seen.first() && batches > 0,
            "{}: the log grew while it was verified ({seen:?})",
            backend.name
        );
        assert!(verify(&hub).await.ok());
        hub.close().await;
        backend.cleanup().await;
    }
}
