//! Bad input and faults: each refused with its own code; nothing stored.

use std::time::Duration;

use serde_json::{Value, json};
use tongban_proto::{ErrorCode, ServerOp};
use tongban_seal::SigningKey;

use crate::{CIVIL, HEALTH, MARKET, TestHub, fast_config, first_answer, registration_to, wait_for};

fn code(op: &ServerOp) -> ErrorCode {
    match op {
        ServerOp::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

async fn send_one(client: &tongban_client::Client, envelope: Value) -> Result<(), ErrorCode> {
    match client
        .send_signed(vec![envelope])
        .await
        .unwrap()
        .pop()
        .unwrap()
    {
        Ok(_) => Ok(()),
        Err(e) => Err(e.code),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames() {
    crate::each_backend("malformed_frames", fast_config(), malformed_frames_on).await;
}

async fn malformed_frames_on(t: TestHub) {
    let market = t.client(MARKET).await;
    // Garbage: a length, then bytes that are not JSON.
    assert_eq!(
        code(&first_answer(&market, b"\x00\x00\x00\x05hello", true).await),
        ErrorCode::FrameMalformed
    );
    // Not an operation.
    assert_eq!(
        code(
            &first_answer(
                &market,
                &tongban_proto::encode(&json!({"op": "dance"})),
                true
            )
            .await
        ),
        ErrorCode::FrameMalformed
    );
    // A frame announcing 100 MB.
    assert_eq!(
        code(&first_answer(&market, &100_000_000u32.to_be_bytes(), false).await),
        ErrorCode::FrameTooLarge
    );
    // Truncated: the stream ends inside a frame.
    let frame = tongban_proto::encode(&json!({"op": "send", "envelope": {}}));
    assert_eq!(
        code(&first_answer(&market, &frame[..frame.len() - 3], true).await),
        ErrorCode::FrameTruncated
    );
    // The connection still works.
    market.send(registration_to(&market, CIVIL)).await.unwrap();
    assert_eq!(
        t.hub.store().exchange_counts().await.unwrap(),
        vec![
            ("messages.message".to_owned(), 1),
            ("deliveries.pending".to_owned(), 1)
        ]
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_code_and_stores_nothing() {
    crate::each_backend(
        "every_refusal_has_its_code_and_stores_nothing",
        fast_config(),
        every_refusal_has_its_code_and_stores_nothing_on,
    )
    .await;
}

async fn every_refusal_has_its_code_and_stores_nothing_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let good = || registration_to(&market, CIVIL);

    // Bad signature: changed after signing.
    let mut e = market.sign(&good()).unwrap();
    e["payload"]["entityName"] = "另一家公司".into();
    assert_eq!(send_one(&market, e).await, Err(ErrorCode::SignatureInvalid));
    // Unknown key id (signed with a key the hub never saw).
    let stranger = SigningKey::from_seed(&[99; 32]);
    assert_eq!(
        send_one(&market, good().sign(&stranger).unwrap()).await,
        Err(ErrorCode::KeyUnknown)
    );
    // Another department's key.
    let civil_key = t.hub.danger_signing_key(CIVIL).await.unwrap();
    assert_eq!(
        send_one(&market, good().sign(&civil_key).unwrap()).await,
        Err(ErrorCode::KeyNotSenders)
    );
    // Claiming to be another department.
    let mut as_civil = good();
    as_civil.sender = CIVIL.into();
    assert_eq!(
        send_one(&market, as_civil.sign(&civil_key).unwrap()).await,
        Err(ErrorCode::SenderMismatch)
    );
    // Payload violating its schema.
    let mut bad = good();
    bad.payload = Some(json!({"uscc": "not a code"}));
    assert_eq!(
        send_one(&market, market.sign(&bad).unwrap()).await,
        Err(ErrorCode::PayloadInvalid)
    );
    // A resource the sender does not provide.
    let civil = t.client(CIVIL).await;
    let d = registration_to(&civil, MARKET);
    assert_eq!(
        send_one(&civil, civil.sign(&d).unwrap()).await,
        Err(ErrorCode::ResourceForbidden)
    );
    // A recipient the resource is not for, and one that does not exist.
    let to_health = registration_to(&market, HEALTH);
    assert_eq!(
        send_one(&market, market.sign(&to_health).unwrap()).await,
        Err(ErrorCode::AccessNotGranted)
    );
    let nobody = registration_to(&market, "11440114MB2C00031C");
    assert_eq!(
        send_one(&market, market.sign(&nobody).unwrap()).await,
        Err(ErrorCode::RecipientUnknown)
    );
    // Unknown resource, unknown schema.
    let mut r = good();
    r.resource = "no-such-resource".into();
    assert_eq!(
        send_one(&market, market.sign(&r).unwrap()).await,
        Err(ErrorCode::ResourceUnknown)
    );
    let q = civil.request_for("business-registration", "no-such-schema@1", json!({}));
    assert_eq!(
        civil.request(q, 1000).await.unwrap_err().code(),
        Some(ErrorCode::SchemaUnknown)
    );
    // Stale.
    let mut old = good();
    old.time -= time::Duration::minutes(10);
    assert_eq!(
        send_one(&market, market.sign(&old).unwrap()).await,
        Err(ErrorCode::StaleMessage)
    );
    assert_eq!(
        t.hub.store().exchange_counts().await.unwrap(),
        vec![],
        "nothing stored"
    );
    // Replay: the same envelope twice.
    let once = market.sign(&good()).unwrap();
    assert_eq!(send_one(&market, once.clone()).await, Ok(()));
    assert_eq!(
        send_one(&market, once.clone()).await,
        Err(ErrorCode::Replay)
    );
    // Twice in one pipelined batch.
    let twice = market.sign(&good()).unwrap();
    let results = market
        .send_signed(vec![twice.clone(), twice])
        .await
        .unwrap();
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().code, ErrorCode::Replay);
    assert_eq!(
        t.hub.store().exchange_counts().await.unwrap()[0],
        ("messages.message".to_owned(), 2)
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_expired_and_suspended_are_refused() {
    crate::each_backend(
        "revoked_expired_and_suspended_are_refused",
        tongban_hub::ServeConfig {
            crl_refresh_every: Duration::from_millis(200),
            ..fast_config()
        },
        revoked_expired_and_suspended_are_refused_on,
    )
    .await;
}

async fn revoked_expired_and_suspended_are_refused_on(t: TestHub) {
    // Revoked: refused at the handshake once the hub has the new CRL.
    let cfg = t.client_config(CIVIL).await;
    let serial = t
        .hub
        .ca_list()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.subject == CIVIL)
        .unwrap()
        .serial;
    t.hub.ca_revoke(&serial, "keyCompromise").await.unwrap();
    let refused = eventually_refused(|| async {
        // The same certificate each time (a config is used up by connecting).
        let again = tongban_client::ClientConfig {
            hubs: cfg.hubs.clone(),
            server_name: cfg.server_name.clone(),
            ca_pem: cfg.ca_pem.clone(),
            cert_pem: cfg.cert_pem.clone(),
            key_pem: cfg.key_pem.clone(),
            department: cfg.department.clone(),
            signing_key: t.hub.danger_signing_key(CIVIL).await.unwrap(),
            timeouts: cfg.timeouts,
        };
        tongban_client::Client::connect(again).await
    })
    .await;
    assert!(refused.to_lowercase().contains("revoked"), "{refused}");

    // Expired: signed by the hub's CA, valid from two years ago to last year.
    let expired = t.expired_client_config(HEALTH).await;
    let refused = refusal(tongban_client::Client::connect(expired).await).await;
    assert!(refused.to_lowercase().contains("expired"), "{refused}");

    // Suspended: what it sends is refused, and new connections are closed with the reason.
    let market = t.client(MARKET).await;
    let cfg = t.client_config(MARKET).await;
    t.hub
        .set_department_status(MARKET, tongban_store::DepartmentStatus::Suspended, "整改")
        .await
        .unwrap();
    // The live connection is closed with the reason once the hub sees it.
    let reason = wait_for(
        "the connection stayed open",
        Duration::from_secs(10),
        || async { market.close_reason() },
    )
    .await;
    assert!(reason.starts_with("DEPARTMENT_INACTIVE: "), "{reason}");
    let d = registration_to(&market, CIVIL);
    let err = market.send(d).await.unwrap_err();
    assert!(err.to_string().contains("DEPARTMENT_INACTIVE: "), "{err}");
    let refused = refusal(tongban_client::Client::connect(cfg).await).await;
    assert!(refused.contains("DEPARTMENT_INACTIVE: "), "{refused}");
    t.stop().await;
}

/// The refusal of connections made with `connect` once the hub refuses
/// them (it sees revocations at its next refresh): accepted attempts are
/// made again, for at most 10 s.
async fn eventually_refused<F, Fut>(connect: F) -> String
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<tongban_client::Client, tongban_client::ClientError>>,
{
    wait_for("still accepted", Duration::from_secs(10), || async {
        Some(refusal(connect().await).await).filter(|r| r != "accepted")
    })
    .await
}

/// How a connection attempt was refused: at the handshake, or on first use.
async fn refusal(connected: Result<tongban_client::Client, tongban_client::ClientError>) -> String {
    match connected {
        Err(e) => e.to_string(),
        Ok(c) => c
            .subscribe(&["business-registration"])
            .await
            .map(|_| "accepted".to_owned())
            .unwrap_or_else(|e| e.to_string()),
    }
}

/// Half a frame, then the connection closes: nothing is stored. With one
/// connection per department, the next one is admitted only once the hub
/// is done with the first, its half frame included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_message() {
    let one_connection = tongban_hub::ServeConfig {
        connections_per_department: 1,
        ..fast_config()
    };
    crate::each_backend(
        "a_client_that_disconnects_mid_message",
        one_connection,
        a_client_that_disconnects_mid_message_on,
    )
    .await;
}

async fn a_client_that_disconnects_mid_message_on(t: TestHub) {
    let market = t.client(MARKET).await;
    let envelope = market.sign(&registration_to(&market, CIVIL)).unwrap();
    let frame = tongban_proto::encode(&json!({"op": "send", "envelope": envelope}));
    let (mut send, _recv) = market.raw_stream().await.unwrap();
    send.write_all(&frame[..frame.len() / 2]).await.unwrap();
    market.close().await;
    let again = wait_for(
        "the first connection never ended",
        Duration::from_secs(10),
        || async {
            let again = t.client(MARKET).await;
            if again.trust_list().await.is_ok() {
                return Some(again);
            }
            let reason = again.close_reason();
            assert!(
                reason.as_deref().is_some_and(|r| r.starts_with("BUSY: ")),
                "{reason:?}"
            );
            None
        },
    )
    .await;
    assert!(
        t.hub.store().exchange_counts().await.unwrap().is_empty(),
        "half a message is no message"
    );
    // The hub carries on.
    again.send(registration_to(&again, CIVIL)).await.unwrap();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_and_tells_clients() {
    crate::each_backend(
        "shutdown_drains_and_tells_clients",
        fast_config(),
        shutdown_drains_and_tells_clients_on,
    )
    .await;
}

async fn shutdown_drains_and_tells_clients_on(t: TestHub) {
    let civil = t.client(CIVIL).await;
    let mut l = civil.listen(8).await.unwrap();
    let market = t.client(MARKET).await;
    market.send(registration_to(&market, CIVIL)).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), l.next())
        .await
        .unwrap();
    t.stop().await;
    // Nothing more comes on the listener's stream; the connection says why
    // it closed.
    let end = tokio::time::timeout(Duration::from_secs(5), l.next())
        .await
        .unwrap();
    assert!(!matches!(end, Ok(Some(_))), "{end:?}");
    let reason = wait_for(
        "the connection stayed open",
        Duration::from_secs(5),
        || async { civil.close_reason() },
    )
    .await;
    assert_eq!(reason, "SHUTTING_DOWN");
}

/// While the hub's store cannot write — SQLite: its files made unwritable
/// under it; PostgreSQL: the database turned read-only and its connections
/// dropped — sends are refused with `STORE_UNAVAILABLE`. Once the fault is
/// cleared the same running hub accepts them again (the refused envelope
/// too: it had not been stored), and every acknowledged message is
/// delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_faults_refuse_sends_until_cleared_without_a_restart() {
    for backend in tongban_tests::backends("hub_store_faults").await {
        let name = backend.name;
        let t = TestHub::start_on(backend, fast_config()).await;
        let market = t.client(MARKET).await;
        let civil = t.client(CIVIL).await;
        let envelope = || market.sign(&registration_to(&market, CIVIL)).unwrap();
        let first = envelope();
        assert_eq!(send_one(&market, first.clone()).await, Ok(()), "{name}");

        let Some(fault) = StoreFault::start(&t).await else {
            t.stop().await;
            continue;
        };
        let refused = envelope();
        for _ in 0..3 {
            assert_eq!(
                send_one(&market, refused.clone()).await,
                Err(ErrorCode::StoreUnavailable),
                "{name}"
            );
        }
        assert_eq!(
            send_one(&market, envelope()).await,
            Err(ErrorCode::StoreUnavailable),
            "{name}"
        );
        fault.clear(&t).await;

        assert_eq!(send_one(&market, refused.clone()).await, Ok(()), "{name}");
        let last = envelope();
        assert_eq!(send_one(&market, last.clone()).await, Ok(()), "{name}");
        let sent: std::collections::BTreeSet<String> = [&first, &refused, &last]
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        let mut listener = civil.listen(16).await.unwrap();
        let mut delivered = std::collections::BTreeSet::new();
        while delivered.len() < sent.len() {
            let event = tokio::time::timeout(Duration::from_secs(10), listener.next())
                .await
                .unwrap_or_else(|_| panic!("{name}: only {delivered:?} delivered"))
                .unwrap();
            let Some(tongban_client::Event::Delivery(d)) = event else {
                panic!("{name}: {event:?}");
            };
            delivered.insert(d.envelope["id"].as_str().unwrap().to_owned());
            listener.ack(d.delivery).await.unwrap();
        }
        assert_eq!(delivered, sent, "{name}");
        assert_eq!(
            t.hub.store().exchange_counts().await.unwrap()[0],
            ("messages.message".to_owned(), 3),
            "{name}"
        );
        t.stop().await;
    }
}

/// A store fault under a running test hub.
enum StoreFault {
    Sqlite(tongban_tests::faults::Unwritable),
    Postgres,
}

impl StoreFault {
    /// SQLite: the database file and its WAL become unwritable. PostgreSQL:
    /// the database becomes read-only and its connections are dropped.
    /// `None` (said loudly) where the fault cannot be injected.
    async fn start(t: &TestHub) -> Option<StoreFault> {
        let backend = t.backend.as_ref().unwrap();
        if backend.name == "postgres" {
            backend
                .postgres_admin("ALTER DATABASE {db} SET default_transaction_read_only = on")
                .await;
            backend.terminate_postgres_connections().await;
            return Some(StoreFault::Postgres);
        }
        match tongban_tests::faults::Unwritable::sqlite(&t.dir.join("tongban.db")) {
            Ok(f) => Some(StoreFault::Sqlite(f)),
            Err(why) => {
                tongban_tests::faults::skipped(
                    "store_faults_refuse_sends_until_cleared_without_a_restart (sqlite)",
                    &why,
                );
                None
            }
        }
    }

    /// Ends the fault; the hub's connections are left as they are.
    async fn clear(self, t: &TestHub) {
        match self {
            StoreFault::Sqlite(f) => f.clear(),
            StoreFault::Postgres => {
                t.backend
                    .as_ref()
                    .unwrap()
                    .postgres_admin("ALTER DATABASE {db} RESET default_transaction_read_only")
                    .await;
            }
        }
    }
}
