//! Secrets sealed in the database under a key-encryption key: several
//! nodes of one hub sign with the same keys, a rotation on one is in force
//! on all, a KEK rotation reseals, a node's key files move in, and the
//! database alone (or under the wrong KEK) gives no secret away.

use std::sync::Arc;

use tongban_seal::KeyPurpose;
use tongban_service::kek::Keks;
use tongban_service::{KekSource, Service, ServiceConfig};
use tongban_store::{Durability, PlatformLevel};
use zeroize::Zeroizing;

use crate::{
    CIVIL, MARKET, audit_details_are_documented_data, business_licence, department, hub_config,
    publish_types, raw_sql, schemas_dir,
};

/// A node of the hub on `backend`: its own (empty) key directory, the
/// secrets sealed under `keks`.
async fn node(backend: &tongban_tests::TestBackend, name: &str, keks: &str) -> Service {
    Service::open(&sealed_config(backend, name, keks))
        .await
        .unwrap()
}

fn sealed_config(backend: &tongban_tests::TestBackend, name: &str, keks: &str) -> ServiceConfig {
    let mut config = hub_config(backend, backend.dir().join(name));
    config.kek = Some(KekSource::Text(Arc::new(Zeroizing::new(keks.to_owned()))));
    config.store.durability = Durability::PowerLoss;
    config
}

fn new_kek() -> (String, String) {
    let (id, line) = Keks::generate_line().unwrap();
    (id, line.to_string())
}

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    r.unwrap_err().code().to_owned()
}

/// The region on node `a`: MARKET with an issuing key, the licence types, a CA.
async fn region_on(a: &Service) {
    a.init_region("440114", "广州市花都区政务数据共享交换平台")
        .await
        .unwrap();
    a.add_department(department(
        MARKET,
        "广州市花都区市场监督管理局",
        PlatformLevel::District,
    ))
    .await
    .unwrap();
    a.new_signing_key(MARKET, KeyPurpose::Issue, None)
        .await
        .unwrap();
    publish_types(a, &schemas_dir()).await;
    a.ca_init("花都区政务数据共享交换平台 CA").await.unwrap();
}

fn signer(credential: &serde_json::Value) -> String {
    credential["proof"]["verificationMethod"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_signs_with_the_sealed_keys() {
    for backend in tongban_tests::backends("sealed_nodes").await {
        eprintln!("sealed_nodes: {}", backend.name);
        let (kek_id, kek) = new_kek();
        let a = node(&backend, "keys-a", &kek).await;
        region_on(&a).await;
        assert_eq!(files_in(&backend.dir().join("keys-a")), 0, "no key file");

        // Node B has no file at all, and signs with MARKET's key.
        let b = node(&backend, "keys-b", &kek).await;
        let issued = b.issue(MARKET, business_licence()).await.unwrap();
        let online = a.verify_online(issued.credential.clone()).await.unwrap();
        assert!(online.valid, "{:?}", online.problems);
        // The CA made on A issues on B.
        b.ca_issue(tongban_service::ca::CertRequest::client(MARKET), None)
            .await
            .unwrap();

        // A rotation on A is in force on B at once.
        let old = signer(&issued.credential);
        let old_id = old.split('#').nth(1).unwrap().to_owned();
        let (_, new) = a.rotate_key(&old_id, time::Duration::ZERO).await.unwrap();
        let again = b.issue(MARKET, business_licence()).await.unwrap();
        assert!(signer(&again.credential).ends_with(&new.key_id));
        assert_ne!(signer(&again.credential), old);

        // The audit pin is sealed too: B verifies the log against it.
        let report = b.audit_verify(|_| {}).await.unwrap();
        assert!(report.ok(), "{:?}", report.problem);
        assert_eq!(
            report.anchor,
            Some(a.audit_pin().await.unwrap().unwrap().anchor.to_multikey())
        );
        let status = b.secrets_status().await.unwrap().unwrap();
        assert_eq!(status.current, kek_id);
        // The hub key, MARKET's two issuing keys, the CA's key, the pin.
        assert_eq!(status.by_kek.get(&kek_id), Some(&5), "{status:?}");

        // A node with another KEK opens nothing.
        let (other_id, other) = new_kek();
        let c = node(&backend, "keys-c", &other).await;
        assert_eq!(
            code(c.issue(MARKET, business_licence()).await),
            "KEK_UNKNOWN"
        );
        assert_eq!(code(c.audit_pin().await), "KEK_UNKNOWN");
        assert_ne!(other_id, kek_id);
        c.close().await;

        // Played by someone who can write the database: a secret moved to
        // another's name does not open.
        raw_sql(
            &backend,
            &format!(
                "UPDATE sealed_secrets SET ciphertext = (SELECT ciphertext FROM sealed_secrets WHERE name = 'named:ca-key'), nonce = (SELECT nonce FROM sealed_secrets WHERE name = 'named:ca-key') WHERE name = 'key:{}'",
                new.key_id
            ),
        )
        .await;
        let d = node(&backend, "keys-d", &kek).await;
        assert_eq!(
            code(d.issue(MARKET, business_licence()).await),
            "SEALED_SECRET_DAMAGED"
        );
        d.close().await;
        audit_details_are_documented_data(&a).await;
        b.close().await;
        a.close().await;
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kek_rotation_reseals_every_secret() {
    for backend in tongban_tests::backends("sealed_rotation").await {
        eprintln!("sealed_rotation: {}", backend.name);
        let (old_id, old) = new_kek();
        let a = node(&backend, "keys-a", &old).await;
        region_on(&a).await;
        let (new_id, new) = new_kek();
        // Every node gets the new KEK first, the old one after it.
        let both = format!("# rotation\n{new}\n{old}\n");
        let r = node(&backend, "keys-r", &both).await;
        // Still sealed under the old one, and still opening.
        r.issue(MARKET, business_licence()).await.unwrap();
        let head = a.store().audit_head().await.unwrap();
        assert_eq!(r.secrets_reseal().await.unwrap(), 4);
        assert_ne!(a.store().audit_head().await.unwrap(), head);
        let status = r.secrets_status().await.unwrap().unwrap();
        assert_eq!(status.current, new_id);
        assert_eq!(status.held, vec![new_id.clone(), old_id.clone()]);
        assert_eq!(status.by_kek.len(), 1);
        assert_eq!(status.by_kek.get(&new_id), Some(&4));
        // Nothing left to reseal: no entry either.
        let head = a.store().audit_head().await.unwrap();
        assert_eq!(r.secrets_reseal().await.unwrap(), 0);
        assert_eq!(a.store().audit_head().await.unwrap(), head);

        // The old line can go: a node with the new KEK alone signs and
        // verifies the log; one with the old alone opens nothing.
        let n = node(&backend, "keys-n", &new).await;
        n.issue(MARKET, business_licence()).await.unwrap();
        let report = n.audit_verify(|_| {}).await.unwrap();
        assert!(report.ok(), "{:?}", report.problem);
        let o = node(&backend, "keys-o", &old).await;
        assert_eq!(
            code(o.issue(MARKET, business_licence()).await),
            "KEK_UNKNOWN"
        );
        assert_eq!(code(o.secrets_reseal().await), "KEK_UNKNOWN");

        let actions: Vec<String> = a
            .store()
            .audit_page(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions.iter().filter(|a| *a == "secrets.reseal").count(), 1);
        audit_details_are_documented_data(&a).await;
        for hub in [o, n, r, a] {
            hub.close().await;
        }
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_key_files_move_into_the_database() {
    for backend in tongban_tests::backends("sealed_import").await {
        eprintln!("sealed_import: {}", backend.name);
        // A hub of before: secrets as files in keys/.
        let files = crate::hub_on(&backend).await;
        let before = files.audit_pin().await.unwrap().unwrap();
        files.issue(MARKET, business_licence()).await.unwrap();
        assert_eq!(
            code(files.secrets_import(&backend.dir().join("keys")).await),
            "KEK_REQUIRED"
        );
        files.close().await;

        let (_, kek) = new_kek();
        let s = node(&backend, "keys-s", &kek).await;
        // Nothing sealed yet: no key usable on this node.
        assert_eq!(
            code(s.issue(MARKET, business_licence()).await),
            "SIGNING_KEY_NONE"
        );
        assert_eq!(
            code(s.secrets_import(&backend.dir().join("no-such-dir")).await),
            "KEY_STORE_DIR_MISSING"
        );
        // The hub key, MARKET's and CIVIL's issuing and exchange keys, the pin.
        assert_eq!(
            s.secrets_import(&backend.dir().join("keys")).await.unwrap(),
            (6, 0)
        );
        assert_eq!(
            s.secrets_import(&backend.dir().join("keys")).await.unwrap(),
            (0, 6)
        );

        // Any node now: it signs for both departments and verifies the log
        // against the pin that came with the files.
        let t = node(&backend, "keys-t", &kek).await;
        t.issue(MARKET, business_licence()).await.unwrap();
        t.current_key(CIVIL, KeyPurpose::Exchange).await.unwrap();
        let report = t.audit_verify(|_| {}).await.unwrap();
        assert!(report.ok(), "{:?}", report.problem);
        assert_eq!(report.anchor, Some(before.anchor.to_multikey()));
        // And `init` again is refused: the sealed pin is there.
        assert_eq!(
            code(t.pin_audit(None, 100).await.map(|_| ())),
            "AUDIT_PIN_EXISTS"
        );
        audit_details_are_documented_data(&t).await;
        s.close().await;
        t.close().await;
        backend.cleanup().await;
    }
}
