//! The exchange over real QUIC connections on loopback.
#![allow(clippy::unwrap_used)]

mod access;
mod blobs;
mod cases;
mod clients;
mod faults;
mod flows;
mod hotline;
mod layers;
mod limits;
mod metrics;
mod nodes;
mod order;
mod peers;
mod purposes;
mod quotas;
mod strict;
mod supervision;
mod trust;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use tongban_client::{Client, ClientConfig};
use tongban_hub::{ServeConfig, TlsMaterial};
use tongban_proto::{Decoder, ErrorCode, ServerOp};
use tongban_seal::KeyPurpose;
use tongban_service::ca::CertRequest;
use tongban_service::{Clock, NewDepartment, Service, ServiceConfig};
use tongban_store::{BlobConfig, DatabaseConfig, Durability, PlatformLevel, StoreConfig};

pub const MARKET: &str = "11440114MB2C00007U";
pub const CIVIL: &str = "11440114MB2C00015N";
pub const HEALTH: &str = "11440114MB2C00066Y";
/// The same three of 清城区 (441802): codes registered there, since a peer
/// speaks only for bodies of its own region.
pub const QC_MARKET: &str = "11441802MB2C000070";
pub const QC_CIVIL: &str = "11441802MB2C00015T";
pub const QC_HEALTH: &str = "11441802MB2C000663";

/// The codes of the three departments of a test hub of `region`: market,
/// civil affairs, health.
pub fn departments_of(region: &str) -> [&'static str; 3] {
    match region {
        "440114" => [MARKET, CIVIL, HEALTH],
        "441802" => [QC_MARKET, QC_CIVIL, QC_HEALTH],
        other => panic!("no test departments for region {other}"),
    }
}

/// A running hub on 127.0.0.1 with three departments, the
/// business-registration resource (provided by MARKET, consumable by CIVIL),
/// its CA and certificates.
#[derive(Debug)]
pub struct TestHub {
    pub hub: Service,
    pub addr: SocketAddr,
    pub ca_pem: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// Its database, and the directory of its blobs and keys.
    database_url: String,
    dir: PathBuf,
    /// Kept by the first node only, which drops its database on stop.
    backend: Option<tongban_tests::TestBackend>,
}

pub fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

pub fn registration(uscc: &str) -> Value {
    json!({
        "uscc": uscc,
        "entityName": "广州花都鸿睿启航电子科技有限公司",
        "entityType": "有限责任公司（自然人投资或控股）",
        "legalRepresentative": "李建华",
        "businessScope": "电子元器件制造",
        "establishedDate": "2026-11-20",
        "domicile": "广州市花都区新华街道迎宾大道123号",
        "registrationAuthority": "广州市花都区市场监督管理局",
        "regionCode": "440114",
        "licenceIdentifier": "1.2.156.3005.2.11100000TB0000001K001.11440114MB2C00007U.2026112500000000.001.3"
    })
}

/// The company of [`registration`] most tests exchange.
pub const COMPANY: &str = "91440114MA5TB0A01K";

/// `client`'s message to `to` on the business-registration resource,
/// carrying [`COMPANY`]'s registration: the message most tests send.
pub fn registration_to(client: &Client, to: &str) -> tongban_proto::Draft {
    client.message_to(
        to,
        "business-registration",
        "business-registration@1",
        registration(COMPANY),
    )
}

/// `client`'s request on the business-registration resource, carrying
/// [`COMPANY`]'s registration (it matches the schema).
pub fn registration_request(client: &Client) -> tongban_proto::Draft {
    client.request_for(
        "business-registration",
        "business-registration@1",
        registration(COMPANY),
    )
}

/// Answers `request` on the provider's listener with [`COMPANY`]'s
/// registration.
pub async fn respond_registration(
    l: &mut tongban_client::Listener,
    request: &tongban_client::Delivery,
) -> Result<(), tongban_client::ClientError> {
    l.respond(request, "business-registration@1", registration(COMPANY))
        .await
}

/// `consumer`'s application for `resource`, for `purpose` over
/// `from..until`, approved by its `provider`.
pub async fn approve(
    hub: &Service,
    consumer: &str,
    resource: &str,
    provider: &str,
    purpose: &str,
    from: time::OffsetDateTime,
    until: time::OffsetDateTime,
) {
    let application = hub
        .access_apply(consumer, resource, purpose, from, until)
        .await
        .unwrap();
    hub.access_decide(provider, application.id, true, None)
        .await
        .unwrap();
}

/// Writes `bytes` on a fresh stream (finished if `finish`) and returns the
/// hub's first answer.
pub async fn first_answer(client: &Client, bytes: &[u8], finish: bool) -> ServerOp {
    let (mut send, mut recv) = client.raw_stream().await.unwrap();
    send.write_all(bytes).await.unwrap();
    if finish {
        send.finish().unwrap();
    }
    read_answer(&mut recv).await
}

/// The hub's next answer on `recv`, read within 10 s.
pub async fn read_answer(recv: &mut quinn::RecvStream) -> ServerOp {
    let mut decoder = Decoder::new(1 << 20);
    loop {
        if let Some(f) = decoder.next_frame().unwrap() {
            return ServerOp::parse(f).unwrap();
        }
        let chunk = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            recv.read_chunk(65536, true),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
        decoder.push(&chunk.bytes);
    }
}

/// The code `client`'s subscription to `topics` is refused with (`None`
/// if it was accepted).
pub async fn subscribe_code(client: &Client, topics: &[&str]) -> Option<ErrorCode> {
    client.subscribe(topics).await.err().and_then(|e| e.code())
}

/// Waits until none of `department`'s deliveries is pending any more
/// (withheld or delivered ones are settled), failing with `what` after
/// `within`.
pub async fn wait_settled(t: &TestHub, department: &str, what: &str, within: std::time::Duration) {
    wait_for(what, within, || async {
        let pending = t
            .hub
            .store()
            .pending_deliveries(department, 0, 100)
            .await
            .unwrap();
        pending.is_empty().then_some(())
    })
    .await;
}

/// Retries `attempt` every 100 ms until it gives `want` (the hub re-reads
/// the rules on its refresh tick); fails after `tries` attempts with the
/// last answer.
pub async fn eventually<F, Fut>(tries: usize, want: Result<(), ErrorCode>, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ErrorCode>>,
{
    let mut last = None;
    for _ in 0..tries {
        let got = attempt().await;
        if got == want {
            return;
        }
        last = Some(got);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("wanted {want:?}, last got {last:?}");
}

/// HEALTH's application to read MARKET's registrations over
/// `from..until`, approved by MARKET.
pub async fn approve_health_for_registrations(
    hub: &Service,
    from: time::OffsetDateTime,
    until: time::OffsetDateTime,
) {
    approve(
        hub,
        HEALTH,
        "business-registration",
        MARKET,
        "核查卫生许可申请人的登记信息",
        from,
        until,
    )
    .await;
}

/// MARKET withdraws CIVIL's approval of business-registration (the one
/// [`TestHub`]'s setup gave), giving `reason` if any.
pub async fn withdraw_civils_approval(t: &TestHub, reason: Option<&str>) {
    let grant = t
        .hub
        .access_list(Some("business-registration"), Some(CIVIL), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.status == "approved")
        .unwrap();
    t.hub
        .access_withdraw(MARKET, grant.id, reason)
        .await
        .unwrap();
}

/// Registers the service item (事项) `item`, in its JSON form, for
/// `department`.
pub async fn put_item(hub: &Service, department: &str, item: Value) {
    hub.item_put(department, serde_json::from_value(item).unwrap())
        .await
        .unwrap();
}

/// Publishes a resource shared on conditions (有条件共享) in the catalogue
/// and approves an application of each consumer covering the test.
pub async fn share_on_conditions(
    hub: &Service,
    id: &str,
    provider: &str,
    schema: &str,
    consumers: &[&str],
    name: &str,
) {
    let draft = serde_json::from_value(json!({
        "id": id, "name": name, "schema": schema, "sharingType": "有条件共享",
    }))
    .unwrap();
    hub.catalogue_publish(provider, draft, false).await.unwrap();
    let now = hub.now();
    for consumer in consumers {
        approve(
            hub,
            consumer,
            id,
            provider,
            "测试",
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        )
        .await;
    }
}

/// Runs `test` on a hub of each backend this run has: SQLite, then
/// PostgreSQL when `TONGBAN_TEST_POSTGRES` is set. `test` stops the hub.
pub async fn each_backend<F, Fut>(name: &str, config: ServeConfig, test: F)
where
    F: Fn(TestHub) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in tongban_tests::backends(name).await {
        eprintln!("{name}: {}", backend.name);
        test(TestHub::start_on(backend, config.clone()).await).await;
    }
}

impl TestHub {
    /// A hub on `backend`: every test runs on each backend
    /// ([`each_backend`]), or says why one is enough.
    pub async fn start_on(backend: tongban_tests::TestBackend, config: ServeConfig) -> TestHub {
        Self::start_region(backend, config, "440114", "测试枢纽").await
    }

    /// A hub of `region` (its departments are the three of
    /// [`departments_of`], with the same roles).
    pub async fn start_region(
        backend: tongban_tests::TestBackend,
        config: ServeConfig,
        region: &str,
        name: &str,
    ) -> TestHub {
        let hub = open_hub(
            &backend.database_url,
            backend.dir(),
            time::OffsetDateTime::now_utc(),
        )
        .await;
        hub.init_region(region, name).await.unwrap();
        let [market, civil, health] = departments_of(region);
        for (code, name) in [
            (market, "市场监管局"),
            (civil, "民政局"),
            (health, "卫生健康局"),
        ] {
            hub.add_department(NewDepartment {
                code: code.into(),
                name: name.into(),
                region_code: region.into(),
                platform_level: PlatformLevel::District,
                parent_code: None,
                contact: None,
            })
            .await
            .unwrap();
            for purpose in [KeyPurpose::Issue, KeyPurpose::Exchange] {
                hub.new_signing_key(code, purpose, None).await.unwrap();
            }
        }
        let schema: Value = serde_json::from_slice(
            &std::fs::read(schemas_dir().join("messages/business-registration.json")).unwrap(),
        )
        .unwrap();
        hub.publish_schema("message", None, None, schema, false)
            .await
            .unwrap();
        share_on_conditions(
            &hub,
            "business-registration",
            market,
            "business-registration@1",
            &[civil],
            "新设市场主体登记信息",
        )
        .await;
        let ca = hub.ca_init("测试根CA").await.unwrap();
        let database_url = backend.database_url.clone();
        let dir = backend.dir().to_owned();
        Self::serve(hub, ca.pem, config, database_url, dir, Some(backend)).await
    }

    /// Another node of this hub: the same database, blobs and keys, its own
    /// endpoint (as a hub scaled out behind a load balancer).
    pub async fn another_node(&self, config: ServeConfig) -> TestHub {
        let hub = open_hub(&self.database_url, &self.dir, self.hub.now()).await;
        Self::serve(
            hub,
            self.ca_pem.clone(),
            config,
            self.database_url.clone(),
            self.dir.clone(),
            None,
        )
        .await
    }

    async fn serve(
        hub: Service,
        ca_pem: String,
        config: ServeConfig,
        database_url: String,
        dir: PathBuf,
        backend: Option<tongban_tests::TestBackend>,
    ) -> TestHub {
        let server = hub
            .ca_issue(
                CertRequest::Server {
                    dns: vec!["localhost".into()],
                    ips: vec!["127.0.0.1".parse().unwrap()],
                },
                None,
            )
            .await
            .unwrap();
        let tls = TlsMaterial {
            ca_pem: ca_pem.clone(),
            cert_pem: server.row.pem.clone(),
            key_pem: server.key_pem.to_string(),
        };
        let endpoint = tongban_hub::bind("127.0.0.1:0".parse().unwrap(), &hub, &tls, &config)
            .await
            .unwrap();
        let addr = endpoint.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server_hub = hub.clone();
        let server = tokio::spawn(async move {
            tongban_hub::run(endpoint, server_hub, tls, config, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestHub {
            hub,
            addr,
            ca_pem,
            shutdown: Some(tx),
            server: Some(server),
            database_url,
            dir,
            backend,
        }
    }

    /// A client of `department` with a fresh certificate.
    /// The URL of its database (for set-ups behind its back).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub async fn client(&self, department: &str) -> Client {
        Client::connect(self.client_config(department).await)
            .await
            .unwrap()
    }

    pub async fn client_config(&self, department: &str) -> ClientConfig {
        let cert = self
            .hub
            .ca_issue(CertRequest::client(department), None)
            .await
            .unwrap();
        ClientConfig {
            hubs: vec![self.addr],
            server_name: "localhost".into(),
            ca_pem: self.ca_pem.clone(),
            cert_pem: cert.row.pem.clone(),
            key_pem: cert.key_pem.to_string(),
            department: department.into(),
            signing_key: self.hub.danger_signing_key(department).await.unwrap(),
            timeouts: tongban_client::Timeouts::default(),
        }
    }

    /// A client config whose certificate (signed by the hub's CA) expired a year ago.
    pub async fn expired_client_config(&self, department: &str) -> ClientConfig {
        let ca_key = std::fs::read_to_string(self.dir.join("keys/ca-key.pem")).unwrap();
        let ca_key = rcgen::KeyPair::from_pem(&ca_key).unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_pem(&self.ca_pem, &ca_key).unwrap();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, department);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(730);
        params.not_after = now - time::Duration::days(365);
        let cert = params.signed_by(&key, &issuer).unwrap();
        ClientConfig {
            hubs: vec![self.addr],
            server_name: "localhost".into(),
            ca_pem: self.ca_pem.clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            department: department.into(),
            signing_key: self.hub.danger_signing_key(department).await.unwrap(),
            timeouts: tongban_client::Timeouts::default(),
        }
    }

    /// Ends this node's server as a crash would: no drain, no clean
    /// shutdown (its rows stay in the store), its connections dropped.
    pub async fn kill(mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
            let _ = s.await;
        }
        self.shutdown.take();
        self.hub.close().await;
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            tokio::time::timeout(std::time::Duration::from_secs(20), s)
                .await
                .unwrap()
                .unwrap();
        }
        // Every entry's detail is documented data, never `Debug` text.
        let entries = self.hub.store().audit_page(0, 100_000).await.unwrap();
        let faults: Vec<String> = entries
            .iter()
            .flat_map(|e| tongban_tests::audit_detail_faults(&e.action, &e.detail))
            .collect();
        assert!(faults.is_empty(), "{faults:#?}");
        self.hub.close().await;
        if let Some(backend) = self.backend.take() {
            backend.cleanup().await;
        }
    }
}

/// A hub on the database at `database_url`, with its blobs and keys in `dir`.
async fn open_hub(database_url: &str, dir: &std::path::Path, now: time::OffsetDateTime) -> Service {
    Service::open(&ServiceConfig {
        store: StoreConfig {
            durability: Durability::ProcessCrash,
            ..StoreConfig::new(
                DatabaseConfig::parse(database_url),
                BlobConfig::Local(dir.join("blobs")),
            )
        },
        keystore: dir.join("keys"),
        kek: None,
        clock: Clock::fixed(now),
    })
    .await
    .unwrap()
}

/// Waits until the exchange admits `consumer` to `resource`: an approval
/// decided through the service reaches the exchange on its next refresh of
/// the access rules, and a test that sends at once could race it.
pub async fn wait_admitted(t: &TestHub, consumer: &str, resource: &str) {
    let client = t.client(consumer).await;
    wait_for(
        &format!("{consumer}'s approval for {resource} reaches the exchange"),
        std::time::Duration::from_secs(10),
        || async { client.records(resource, 0, 1).await.ok() },
    )
    .await;
    client.close().await;
}

/// Polls `condition` until it yields a value, and returns it; fails
/// after `within`, saying what never happened.
pub async fn wait_for<T, F, Fut>(what: &str, within: std::time::Duration, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub fn fast_config() -> ServeConfig {
    ServeConfig {
        redelivery_after: std::time::Duration::from_millis(500),
        refresh_every: std::time::Duration::from_millis(200),
        ..ServeConfig::default()
    }
}
