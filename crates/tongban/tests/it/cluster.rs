//! Three `tongban serve` processes as one hub: one PostgreSQL database, one
//! S3 bucket, the hub's secrets sealed in the database under a KEK file,
//! and for each node a data directory of its own and free loopback ports.
//! Needs both the `postgres` and the `s3` gates. The tests take turns (one
//! cluster at a time: the machine's cores are few).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tongban_tests::gates::Gate;

use std::collections::HashSet;

use crate::cluster_load::Load;
use crate::exchange::{CIVIL, free_port};
use crate::http::http;
use crate::{MARKET, json_of, ok};

/// One cluster at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A free TCP port on the loopback.
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The PostgreSQL server and the S3 endpoint of this run; `None`, said
/// loudly (or failing where required), when either gate is closed.
fn gates() -> Option<(String, String)> {
    const WHAT: &str = "the cluster tests (three serve processes on PostgreSQL and S3)";
    let postgres = std::env::var(tongban_tests::POSTGRES_ENV).unwrap_or_default();
    let s3 = std::env::var(tongban_tests::S3_ENV).unwrap_or_default();
    if postgres.is_empty() {
        Gate::Postgres.skip(WHAT, &format!("{} is not set", tongban_tests::POSTGRES_ENV));
    }
    if s3.is_empty() {
        Gate::S3.skip(WHAT, &format!("{} is not set", tongban_tests::S3_ENV));
    }
    (!postgres.is_empty() && !s3.is_empty())
        .then(|| (postgres, s3.trim_end_matches('/').to_owned()))
}

/// One `tongban serve` process of the cluster.
pub(crate) struct Node {
    pub name: &'static str,
    pub data: PathBuf,
    pub quic: u16,
    pub http: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// `127.0.0.1:{quic}`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.quic)
    }

    /// What the node wrote on standard error so far (its log).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: the process ends without a word to anyone.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, and waits for it to drain and exit 0.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let until = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "node {} did not stop within 30 s:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "node {}: {status:?}\n{}",
            self.name,
            self.log()
        );
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A hub of three nodes: A, B and C.
pub(crate) struct Cluster {
    pub dir: tempfile::TempDir,
    /// The data directory the hub was initialised in (administration).
    pub hub: PathBuf,
    kek: PathBuf,
    database: Option<tongban_tests::TestBackend>,
    bucket: tongban_tests::TestBucket,
    pub nodes: Vec<Node>,
    /// MARKET's and CIVIL's credentials (certificate, key, signing key).
    pub market: PathBuf,
    pub civil: PathBuf,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        if let Some(database) = self.database.take() {
            crate::outside_runtime(database.cleanup());
        }
    }
}

impl Cluster {
    /// A hub initialised on a fresh database and bucket with the sample
    /// departments, its CA, MARKET's business-registration shared with
    /// CIVIL, and both departments' credentials; then three nodes serving
    /// it, each ready. `None` when a gate is closed.
    pub fn start(test: &str) -> Option<Cluster> {
        let (postgres, s3) = gates()?;
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let database = crate::outside_runtime(tongban_tests::postgres(&postgres, test));
        let bucket = tongban_tests::s3_bucket(&s3, test);
        let kek = dir.path().join("hub.kek");
        let mut cluster = Cluster {
            hub: dir.path().join("hub"),
            market: dir.path().join(MARKET),
            civil: dir.path().join(CIVIL),
            dir,
            kek,
            database: Some(database),
            bucket,
            nodes: Vec::new(),
            _turn: turn,
        };
        cluster.initialise();
        for name in ["a", "b", "c"] {
            let node = cluster.node(name);
            cluster.nodes.push(node);
        }
        for i in 0..3 {
            cluster.start_node(i);
        }
        Some(cluster)
    }

    /// `tongban --data-dir DATA` as a node of this hub: its database, KEK
    /// file and bucket, nothing from the environment the tests run in.
    pub fn cmd(&self, data: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tongban"));
        let database = self.database.as_ref().map(|d| d.database_url.clone());
        command
            .arg("--data-dir")
            .arg(data)
            .env_remove("TONGBAN_KEK")
            .env_remove("TONGBAN_REQUESTER")
            .env_remove("TONGBAN_HUB")
            .env_remove("AWS_SESSION_TOKEN")
            .env("TONGBAN_DATABASE", database.unwrap_or_default())
            .env("TONGBAN_KEK_FILE", &self.kek)
            .env("TONGBAN_S3_BUCKET", &self.bucket.name)
            .env("TONGBAN_S3_ENDPOINT", &self.bucket.endpoint)
            .env("TONGBAN_S3_ALLOW_HTTP", "1")
            .env("AWS_ACCESS_KEY_ID", tongban_tests::S3_TEST_ACCESS_KEY.0)
            .env("AWS_SECRET_ACCESS_KEY", tongban_tests::S3_TEST_ACCESS_KEY.1);
        command
    }

    /// An administrative command on the hub.
    pub fn admin(&self, args: &[&str]) -> Output {
        self.cmd(&self.hub).args(args).output().unwrap()
    }

    fn initialise(&self) {
        ok(&self.admin(&["kek", "new", self.kek.to_str().unwrap()]));
        ok(&self.admin(&["init"]));
        ok(&self.admin(&["ca", "init"]));
        self.share_with_civil("business-registration", "新设市场主体登记信息");
        for (dept, out) in [(MARKET, &self.market), (CIVIL, &self.civil)] {
            let out = out.to_str().unwrap();
            ok(&self.admin(&["ca", "issue", "client", "--dept", dept, "--out", out]));
            let key = format!("{out}/signing.key");
            ok(&self.admin(&["key", "export-secret", "--owner", dept, "--out", &key]));
        }
    }

    /// Publishes MARKET's resource `id` (schema `id@1`) shared on
    /// conditions, and approves CIVIL's application for it.
    pub fn share_with_civil(&self, id: &str, name: &str) {
        let file = self.dir.path().join(format!("{id}.json"));
        let resource = json!({
            "id": id, "name": name, "schema": format!("{id}@1"), "sharingType": "有条件共享",
        });
        std::fs::write(&file, serde_json::to_vec(&resource).unwrap()).unwrap();
        ok(&self.admin(&[
            "catalogue",
            "publish",
            "--as",
            MARKET,
            file.to_str().unwrap(),
        ]));
        let applied = json_of(&self.admin(&[
            "--json",
            "access",
            "apply",
            "--as",
            CIVIL,
            id,
            "--purpose",
            "接收新设企业信息，开展后续监管",
            "--days",
            "30",
        ]));
        let number = applied["id"].to_string();
        ok(&self.admin(&["access", "approve", "--as", MARKET, &number]));
    }

    fn node(&self, name: &'static str) -> Node {
        Node {
            name,
            data: self.dir.path().join(format!("node-{name}")),
            quic: free_port(),
            http: free_tcp_port(),
            log: self.dir.path().join(format!("node-{name}.log")),
            child: None,
        }
    }

    /// Starts node `i` on its ports and waits until `/readyz` says ready.
    // The child is kept in the node, which kills and waits for it.
    #[allow(clippy::zombie_processes)]
    pub fn start_node(&mut self, i: usize) {
        let node = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let child = self
            .cmd(&node.data)
            .args(["--durability", "process", "serve"])
            .args(["--listen", &node.addr()])
            .args(["--http", &format!("127.0.0.1:{}", node.http)])
            .env("TONGBAN_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let node = &mut self.nodes[i];
        node.child = Some(child);
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, _)) = http(node.http, "GET", "/readyz", None) {
                return;
            }
            let exited = node.child.as_mut().and_then(|c| c.try_wait().unwrap());
            assert!(
                exited.is_none() && Instant::now() < until,
                "node {} did not become ready ({exited:?}):\n{}",
                node.name,
                node.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The nodes' addresses in the order `order` gives (indices), joined
    /// with commas as `--hub` takes them.
    pub fn hubs(&self, order: &[usize]) -> String {
        order
            .iter()
            .map(|&i| self.nodes[i].addr())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `tongban audit verify` on the hub: the log is intact.
    pub fn audit_verifies(&self) {
        let report = json_of(&self.admin(&["--json", "audit", "verify"]));
        assert!(report["problem"].is_null(), "{report}");
        assert!(report["entries"].as_u64().unwrap_or(0) > 0, "{report}");
    }
}

/// A department's command with `--hub HUBS --credentials CREDS` after
/// `args` (the subcommand first).
fn department(args: &[&str], hubs: &str, creds: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .args(["--hub", hubs, "--credentials", creds.to_str().unwrap()])
        .env_remove("TONGBAN_HUB")
        .output()
        .unwrap()
}

/// `listen --count N` through `hubs`: the delivery lines.
fn listen(hubs: &str, creds: &Path, count: usize) -> Vec<Value> {
    listen_with(&["listen", "--count", &count.to_string()], hubs, creds)
}

/// `listen` with `args` (which give `--count`) through `hubs`: the
/// delivery lines.
fn listen_with(args: &[&str], hubs: &str, creds: &Path) -> Vec<Value> {
    let out = department(args, hubs, creds);
    let text = ok(&out);
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A sends to CIVIL, which listens on C: it arrives and is acknowledged
/// (nothing is pending afterwards), and the audit log verifies.
#[test]
fn a_message_sent_through_a_arrives_at_a_listener_on_c() {
    let Some(cluster) = Cluster::start("cluster_a_to_c") else {
        return;
    };
    let (a, c) = (cluster.hubs(&[0]), cluster.hubs(&[2]));
    // CIVIL listens on C before anything is sent, so that the delivery
    // crosses nodes while it listens.
    let listener = {
        let civil = cluster.civil.clone();
        let c = c.clone();
        std::thread::spawn(move || listen(&c, &civil, 1))
    };
    std::thread::sleep(Duration::from_millis(500));
    let payload = cluster.dir.path().join("payload.json");
    std::fs::write(
        &payload,
        serde_json::to_vec(&crate::exchange::payload()).unwrap(),
    )
    .unwrap();
    let sent = json_of(&department(
        &[
            "--json",
            "send",
            "--to",
            CIVIL,
            "--resource",
            "business-registration",
            "--schema",
            "business-registration@1",
            "--payload",
            payload.to_str().unwrap(),
        ],
        &a,
        &cluster.market,
    ));
    assert!(sent["seq"].as_u64().is_some_and(|s| s > 0), "{sent}");
    let lines = listener.join().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["envelope"]["id"], sent["id"]);
    assert_eq!(lines[0]["envelope"]["payload"], crate::exchange::payload());
    // Acknowledged through C: nothing is left pending, on any node.
    let pending = crate::outside_runtime(pending_deliveries(&cluster, CIVIL));
    assert_eq!(pending, 0, "the delivery is acknowledged");
    for node in &cluster.nodes {
        let (status, _) = http(node.http, "GET", "/readyz", None).unwrap();
        assert_eq!(status, 200, "node {} still serves", node.name);
    }
    cluster.audit_verifies();
}

/// MARKET answers requests listening on C; CIVIL's request through B is
/// relayed to it and answered.
#[test]
fn a_request_through_b_is_answered_by_a_provider_on_c() {
    let Some(cluster) = Cluster::start("cluster_request_b_to_c") else {
        return;
    };
    let (b, c) = (cluster.hubs(&[1]), cluster.hubs(&[2]));
    let payload = cluster.dir.path().join("payload.json");
    std::fs::write(
        &payload,
        serde_json::to_vec(&crate::exchange::payload()).unwrap(),
    )
    .unwrap();
    let provider = {
        let (market, payload) = (cluster.market.clone(), payload.clone());
        std::thread::spawn(move || {
            let respond = [
                "listen",
                "--count",
                "1",
                "--respond-with",
                payload.to_str().unwrap(),
                "--respond-schema",
                "business-registration@1",
            ];
            listen_with(&respond, &c, &market)
        })
    };
    // B reads that MARKET listens on C within a heartbeat (1 s): until
    // then the request is refused as PROVIDER_UNAVAILABLE, and is asked
    // again.
    let until = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let out = department(
            &[
                "--json",
                "request",
                "--resource",
                "business-registration",
                "--schema",
                "business-registration@1",
                "--payload",
                payload.to_str().unwrap(),
                "--timeout-ms",
                "10000",
            ],
            &b,
            &cluster.civil,
        );
        let answer = json_of(&out);
        if out.status.success() {
            break answer;
        }
        assert_eq!(answer["error"]["code"], "PROVIDER_UNAVAILABLE", "{answer}");
        assert!(Instant::now() < until, "never relayed: {answer}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(answer["sender"], MARKET, "{answer}");
    assert_eq!(answer["payload"], crate::exchange::payload(), "{answer}");
    let lines = provider.join().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["envelope"]["sender"], CIVIL);
    cluster.audit_verifies();
}

/// Deliveries to `dept` not yet acknowledged, read from the database.
async fn pending_deliveries(cluster: &Cluster, dept: &str) -> i64 {
    use sqlx::Connection;
    let url = &cluster.database.as_ref().unwrap().database_url;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM deliveries WHERE recipient = $1 AND state = 'pending'",
    )
    .bind(dept)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// The envelope with `id` as the hub stored it.
async fn stored_envelope(cluster: &Cluster, id: &str) -> Value {
    use sqlx::Connection;
    let url = &cluster.database.as_ref().unwrap().database_url;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let text = sqlx::query_scalar::<_, String>("SELECT envelope FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A payload over 512 KiB sent through A travels by reference through the
/// bucket; CIVIL, listening on C, is handed the delivery and fetches the
/// same bytes through C; MARKET can fetch them back through C too.
#[test]
fn a_large_payload_uploaded_through_a_is_downloaded_through_c() {
    let Some(cluster) = Cluster::start("cluster_large") else {
        return;
    };
    let schema = crate::exchange::case_archive_schema(cluster.dir.path());
    ok(&cluster.admin(&["schema", "publish", schema.to_str().unwrap()]));
    cluster.share_with_civil("case-archive", "办件归档");
    let payload = json!({"caseNo": "440114-2026-000123", "pages": vec!["QUJD".repeat(50_000); 4]});
    let bytes = serde_json::to_vec(&payload).unwrap();
    assert!(bytes.len() > 512 * 1024, "over the inline limit");
    let file = cluster.dir.path().join("archive.json");
    std::fs::write(&file, &bytes).unwrap();
    // CIVIL listens on C before anything is sent: the delivery crosses
    // nodes while it listens, and `listen` fetches the payload through C.
    let listener = {
        let civil = cluster.civil.clone();
        let c = cluster.hubs(&[2]);
        std::thread::spawn(move || listen(&c, &civil, 1))
    };
    std::thread::sleep(Duration::from_millis(500));
    let sent = json_of(&department(
        &[
            "--json",
            "send",
            "--to",
            CIVIL,
            "--resource",
            "case-archive",
            "--schema",
            "case-archive@1",
            "--payload",
            file.to_str().unwrap(),
        ],
        &cluster.hubs(&[0]),
        &cluster.market,
    ));
    assert!(sent["seq"].as_u64().is_some(), "{sent}");
    let c = cluster.hubs(&[2]);
    let envelope = crate::outside_runtime(stored_envelope(&cluster, sent["id"].as_str().unwrap()));
    assert!(
        envelope["payload"].is_null(),
        "sent by reference: {envelope}"
    );
    let sha256 = envelope["payloadRef"]["sha256"].as_str().unwrap();
    let lines = listener.join().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["envelope"]["id"], sent["id"]);
    assert!(lines[0]["envelope"]["payload"].is_null());
    assert_eq!(lines[0]["payload"], payload, "CIVIL fetched it through C");
    let pending = crate::outside_runtime(pending_deliveries(&cluster, CIVIL));
    assert_eq!(pending, 0, "the delivery is acknowledged");
    // MARKET, which uploaded it through A, downloads it through C: the
    // bytes come from the bucket every node shares.
    let fetched = cluster.dir.path().join("fetched.json");
    ok(&department(
        &["download", sha256, "--out", fetched.to_str().unwrap()],
        &c,
        &cluster.market,
    ));
    assert_eq!(std::fs::read(&fetched).unwrap(), bytes, "the same bytes");
    // The blob is in the bucket, not on any node's disk.
    for node in &cluster.nodes {
        assert!(
            !node
                .data
                .join("blobs/sha256")
                .join(&sha256[..2])
                .join(sha256)
                .exists(),
            "node {} keeps the blob on its disk",
            node.name
        );
    }
    let doctor = cluster.admin(&["--json", "doctor"]);
    assert!(
        doctor.status.success(),
        "{}",
        String::from_utf8_lossy(&doctor.stdout)
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every message sent made it, none acknowledged was lost.
fn nothing_lost(what: &str, sent: &crate::cluster_load::Sent, lost: &[String], deliveries: usize) {
    eprintln!(
        "{what}: {} acknowledged ({} after a retry, {} by a resend's REPLAY), {} failed, \
         {deliveries} deliveries",
        sent.acked.len(),
        sent.retried,
        sent.replayed,
        sent.failed.len()
    );
    assert!(
        sent.failed.is_empty(),
        "{what}: failed sends: {:?}",
        sent.failed
    );
    assert!(
        lost.is_empty(),
        "{what}: {} acknowledged messages never delivered, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let unique: HashSet<&String> = sent.acked.iter().collect();
    assert_eq!(
        unique.len(),
        sent.acked.len(),
        "{what}: an id acknowledged twice"
    );
    assert!(
        deliveries >= sent.acked.len(),
        "{what}: duplicates only add"
    );
}

/// `kill -9` of the node MARKET sends through, under load: the sender
/// moves to another node and resends what was cut off; CIVIL, listening
/// through C, gets every acknowledged message; the audit log verifies.
#[test]
fn kill_9_of_a_node_under_load_loses_nothing_acknowledged() {
    let Some(mut cluster) = Cluster::start("cluster_kill") else {
        return;
    };
    let rt = runtime();
    let load = Load::start(&rt, &cluster, &[0, 1, 2], &[2, 1, 0], (4, 600));
    load.wait_for_acks(150, Duration::from_secs(60));
    assert_eq!(
        load.sender_hub(&rt).map(|a| a.to_string()),
        Some(cluster.nodes[0].addr())
    );
    cluster.nodes[0].kill_9();
    load.wait_for_acks(300, Duration::from_secs(60));
    let moved = load.sender_hub(&rt).map(|a| a.to_string());
    assert!(
        moved.is_some() && moved != Some(cluster.nodes[0].addr()),
        "the sender moved off the killed node: {moved:?}"
    );
    let (sent, lost, deliveries) = load.finish(&rt, Duration::from_secs(60));
    assert_eq!(sent.acked.len(), 600);
    nothing_lost("kill -9", &sent, &lost, deliveries);
    cluster.start_node(0);
    cluster.audit_verifies();
}

/// Every node restarted in turn (SIGTERM, back and ready before the next)
/// while MARKET sends and CIVIL listens: no send fails, nothing
/// acknowledged is lost.
#[test]
fn a_rolling_restart_under_load_fails_no_send() {
    let Some(mut cluster) = Cluster::start("cluster_rolling") else {
        return;
    };
    let rt = runtime();
    let load = Load::start(&rt, &cluster, &[0, 1, 2], &[2, 1, 0], (4, 1_000_000));
    load.wait_for_acks(100, Duration::from_secs(60));
    for i in 0..3 {
        let before = load.progress.load(std::sync::atomic::Ordering::Relaxed);
        cluster.nodes[i].stop();
        cluster.start_node(i);
        // Sending went on while node i was away and came back.
        load.wait_for_acks(before + 50, Duration::from_secs(60));
    }
    load.stop();
    let (sent, lost, deliveries) = load.finish(&rt, Duration::from_secs(60));
    nothing_lost("rolling restart", &sent, &lost, deliveries);
    cluster.audit_verifies();
}
