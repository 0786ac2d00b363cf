//! `tongban serve` as a real process: departments send and listen with the
//! CLI and the client library, and a `kill -9` under load loses nothing
//! that was acknowledged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{MARKET, json_of, ok, repo, tongban};

pub(crate) const CIVIL: &str = "11440114MB2C00015N";

pub(crate) fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Publishes MARKET's resource `id` (schema `id@1`) shared on conditions,
/// and approves CIVIL's application for it, all from the command line.
fn share_with_civil(dir: &Path, data: &Path, id: &str, name: &str) {
    let file = dir.join(format!("{id}.json"));
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({
            "id": id, "name": name, "schema": format!("{id}@1"), "sharingType": "有条件共享",
        }))
        .unwrap(),
    )
    .unwrap();
    ok(&tongban(
        data,
        &[
            "catalogue",
            "publish",
            "--as",
            MARKET,
            file.to_str().unwrap(),
        ],
    ));
    let applied = json_of(&tongban(
        data,
        &[
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
        ],
    ));
    let number = applied["id"].to_string();
    ok(&tongban(
        data,
        &["access", "approve", "--as", MARKET, &number],
    ));
}

/// A hub with the sample region, its CA, a resource and two departments' credentials.
pub(crate) fn setup(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let data = dir.join("hub");
    ok(&tongban(&data, &["init"]));
    ok(&tongban(&data, &["ca", "init"]));
    share_with_civil(dir, &data, "business-registration", "新设市场主体登记信息");
    let mut creds = Vec::new();
    for dept in [MARKET, CIVIL] {
        let out = dir.join(dept);
        ok(&crate::issue_client_certificate(&data, dept, &out));
        ok(&tongban(
            &data,
            &[
                "key",
                "export-secret",
                "--owner",
                dept,
                "--out",
                out.join("signing.key").to_str().unwrap(),
            ],
        ));
        creds.push(out);
    }
    (data, creds.remove(0), creds.remove(0))
}

/// [`setup`]'s hub served on a free port.
pub(crate) struct Served {
    pub data: PathBuf,
    /// MARKET's and CIVIL's credentials.
    pub market: PathBuf,
    pub civil: PathBuf,
    pub port: u16,
    /// `127.0.0.1:{port}`.
    pub addr: String,
    /// The `tongban serve` process; the test kills and waits for it.
    pub hub: Child,
}

/// [`setup`] in `dir`, then `tongban serve` on a free port, once it answers.
pub(crate) fn setup_and_serve(dir: &Path) -> Served {
    let (data, market, civil) = setup(dir);
    let port = free_port();
    let hub = serve(&data, port);
    Served {
        data,
        market,
        civil,
        port,
        addr: format!("127.0.0.1:{port}"),
        hub,
    }
}

pub(crate) fn serve(data: &Path, port: u16) -> Child {
    serve_logged(data, port, None)
}

/// `tongban serve` on `port`; with `log`, its standard error goes to that
/// file with the connection log (`tongban_hub::conn` at debug).
pub(crate) fn serve_logged(data: &Path, port: u16, log: Option<&Path>) -> Child {
    serve_with(data, port, &[], log)
}

/// `tongban serve` on `port` with the `extra` options of `serve`, once it
/// answers; with `log`, as [`serve_logged`].
// The callers kill and wait for the child; a panic here ends the test anyway.
#[allow(clippy::zombie_processes)]
pub(crate) fn serve_with(data: &Path, port: u16, extra: &[&str], log: Option<&Path>) -> Child {
    let (filter, stderr) = match log {
        Some(path) => (
            "warn,tongban_hub::conn=debug",
            Stdio::from(std::fs::File::create(path).unwrap()),
        ),
        None => ("warn", Stdio::null()),
    };
    let child = crate::cli(data)
        .args([
            "--durability",
            "process",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(extra)
        .env("TONGBAN_LOG", filter)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    answering(child, port)
}

/// `child` once the hub it runs has bound `port` (within 30 s).
fn answering(child: Child, port: u16) -> Child {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if std::net::UdpSocket::bind(format!("127.0.0.1:{port}")).is_err() {
            std::thread::sleep(Duration::from_millis(300));
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the hub did not start");
}

pub(crate) fn payload_file(dir: &Path) -> PathBuf {
    let p = dir.join("payload.json");
    std::fs::write(&p, serde_json::to_vec(&payload()).unwrap()).unwrap();
    p
}

/// A department's command (`send`, `listen`, ...): `tongban` with `args`,
/// and no hub address from the environment the tests run in.
pub(crate) fn client_cmd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .env_remove("TONGBAN_HUB")
        .output()
        .unwrap()
}

/// `send --json` of the payload file `payload` on the business-registration
/// resource, from the department of `credentials` to `to`, via `addr`.
pub(crate) fn send_registration(
    addr: &str,
    credentials: &Path,
    to: &str,
    payload: &Path,
) -> std::process::Output {
    client_cmd(&[
        "--json",
        "send",
        "--hub",
        addr,
        "--credentials",
        credentials.to_str().unwrap(),
        "--to",
        to,
        "--resource",
        "business-registration",
        "--schema",
        "business-registration@1",
        "--payload",
        payload.to_str().unwrap(),
    ])
}

/// The first delivery `listen --count 1` prints for the department of
/// `credentials`, via `addr`.
fn listen_once(addr: &str, credentials: &Path) -> Value {
    let out = client_cmd(&[
        "listen",
        "--hub",
        addr,
        "--credentials",
        credentials.to_str().unwrap(),
        "--count",
        "1",
    ]);
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap()
}

/// Writes the schema of a message type whose documents run to megabytes
/// (scanned case files) into `dir`: its path.
pub fn case_archive_schema(dir: &Path) -> std::path::PathBuf {
    let schema = dir.join("case-archive.json");
    std::fs::write(
        &schema,
        serde_json::to_vec(&json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://schemas.tongban.dev/messages/case-archive/1",
            "title": "办件归档材料",
            "x-message-type": {"id": "case-archive", "version": "1", "name": "办件归档材料", "nameEn": "Case archive"},
            "type": "object",
            "required": ["caseNo", "pages"],
            "properties": {"caseNo": {"type": "string"}, "pages": {"type": "array", "items": {"type": "string"}}}
        }))
        .unwrap(),
    )
    .unwrap();
    schema
}

#[test]
fn a_large_payload_travels_by_reference_from_the_command_line() {
    crate::each_backend(
        "a_large_payload_travels_by_reference_from_the_command_line",
        || {
            let dir = tempfile::tempdir().unwrap();
            let (data, market, civil) = setup(dir.path());
            // A message type whose documents run to megabytes: scanned case files.
            let schema = case_archive_schema(dir.path());
            ok(&tongban(
                &data,
                &["schema", "publish", schema.to_str().unwrap()],
            ));
            share_with_civil(dir.path(), &data, "case-archive", "办件归档");
            let port = free_port();
            let mut hub = serve(&data, port);
            let addr = format!("127.0.0.1:{port}");
            let payload =
                json!({"caseNo": "440114-2026-000123", "pages": vec!["QUJD".repeat(100_000); 4]});
            let file = dir.path().join("archive.json");
            std::fs::write(&file, serde_json::to_vec(&payload).unwrap()).unwrap();
            assert!(
                std::fs::metadata(&file).unwrap().len() > 1_048_576,
                "over the frame limit"
            );
            let send = [
                "--json",
                "send",
                "--hub",
                &addr,
                "--credentials",
                market.to_str().unwrap(),
                "--to",
                CIVIL,
                "--resource",
                "case-archive",
                "--schema",
                "case-archive@1",
                "--payload",
                file.to_str().unwrap(),
            ];
            assert!(json_of(&client_cmd(&send))["seq"].as_u64().unwrap() > 0);
            let line = listen_once(&addr, &civil);
            assert!(line["envelope"]["payload"].is_null());
            assert_eq!(line["payload"], payload, "listen fetches the payload");
            let sha256 = line["envelope"]["payloadRef"]["sha256"].as_str().unwrap();
            let fetched = dir.path().join("fetched.json");
            let out = client_cmd(&[
                "download",
                "--hub",
                &addr,
                "--credentials",
                civil.to_str().unwrap(),
                sha256,
                "--out",
                fetched.to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                std::fs::read(&fetched).unwrap(),
                serde_json::to_vec(&payload).unwrap()
            );
            // Someone who is no party to it gets BLOB_MISSING.
            let out = client_cmd(&[
                "download",
                "--hub",
                &addr,
                "--credentials",
                civil.to_str().unwrap(),
                &"00".repeat(32),
            ]);
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("BLOB_MISSING"));
            hub.kill().unwrap();
            hub.wait().unwrap();
        },
    );
}

#[test]
fn serve_send_and_listen_from_the_command_line() {
    crate::each_backend("serve_send_and_listen_from_the_command_line", || {
        let dir = tempfile::tempdir().unwrap();
        let Served {
            data,
            market,
            civil,
            addr,
            mut hub,
            ..
        } = setup_and_serve(dir.path());
        let payload = payload_file(dir.path());
        let out = send_registration(&addr, &market, CIVIL, &payload);
        let accepted = json_of(&out);
        assert!(accepted["seq"].as_u64().unwrap() > 0, "{accepted}");
        // CIVIL was offline; it gets the message when it listens.
        let line = listen_once(&addr, &civil);
        assert_eq!(line["envelope"]["id"], accepted["id"]);
        // CIVIL may not send on MARKET's resource: only the provider publishes.
        let out = send_registration(&addr, &civil, MARKET, &payload);
        assert_eq!(json_of(&out)["error"]["code"], "RESOURCE_FORBIDDEN");
        // MARKET publishes a record; CIVIL (approved) reads the resource's records.
        let published = json_of(&client_cmd(&[
            "--json",
            "send",
            "--hub",
            &addr,
            "--credentials",
            market.to_str().unwrap(),
            "--topic",
            "--resource",
            "business-registration",
            "--schema",
            "business-registration@1",
            "--payload",
            payload.to_str().unwrap(),
        ]));
        let out = client_cmd(&[
            "--json",
            "records",
            "--hub",
            &addr,
            "--credentials",
            civil.to_str().unwrap(),
            "--resource",
            "business-registration",
            "--all",
        ]);
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["envelope"]["id"], published["id"]);
        assert_eq!(lines[1], json!({"records": 1, "next": null}));
        // Refusals reach the statistics within a second.
        std::thread::sleep(Duration::from_millis(1500));
        hub.kill().unwrap();
        hub.wait().unwrap();
        let stats = json_of(&tongban(&data, &["--json", "stats"]));
        let resource = stats["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "business-registration")
            .unwrap()
            .clone();
        assert_eq!(
            (&resource["records"], &resource["refusals"]),
            (&json!(2), &json!(1)),
            "{resource}"
        );
        assert_eq!(stats["refusalCodes"]["RESOURCE_FORBIDDEN"], 1);
        let text = ok(&tongban(&data, &["stats", "--since", "2026-01-01"]));
        assert!(text.contains("business-registration"), "{text}");
        let out = tongban(&data, &["--json", "stats", "--since", "yesterday"]);
        assert_eq!(json_of(&out)["error"]["code"], "DATE_INVALID");
    });
}

/// `kill -9` of the hub while departments send: every acknowledged message
/// is in the store after a restart, delivered, and the audit log verifies.
#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    crate::each_backend("kill_9_under_load_loses_nothing_acknowledged", || {
        let dir = tempfile::tempdir().unwrap();
        let Served {
            data,
            market,
            civil,
            port,
            addr,
            mut hub,
        } = setup_and_serve(dir.path());
        let addr: SocketAddr = addr.parse().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let acknowledged: Vec<String> = runtime.block_on(async {
            let cfg = client_config(&market, addr);
            let client = tongban_client::Client::connect(cfg).await.unwrap();
            let mut acked = Vec::new();
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..8 {
                let client = client.clone();
                tasks.spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let envelopes: Vec<Value> = (0..20)
                            .map(|_| {
                                client
                                    .sign(&client.message_to(
                                        CIVIL,
                                        "business-registration",
                                        "business-registration@1",
                                        payload(),
                                    ))
                                    .unwrap()
                            })
                            .collect();
                        match client.send_signed(envelopes).await {
                            Ok(results) => {
                                for r in results.into_iter().flatten() {
                                    mine.push(r.id);
                                }
                            }
                            Err(_) => return mine,
                        }
                    }
                });
            }
            // Kill once a few hundred are in.
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let n = crate::count_rows(&data, "messages");
                if n >= 300 || started.elapsed() > Duration::from_secs(60) {
                    break;
                }
            }
            hub.kill().unwrap();
            hub.wait().unwrap();
            while let Some(mine) = tasks.join_next().await {
                acked.extend(mine.unwrap());
            }
            acked
        });
        assert!(
            acknowledged.len() >= 100,
            "only {} acknowledged before the kill",
            acknowledged.len()
        );
        // Restart: every acknowledged message is there and is delivered.
        let mut hub = serve(&data, port);
        let delivered: std::collections::HashSet<String> = runtime.block_on(async {
            let client = tongban_client::Client::connect(client_config(&civil, addr))
                .await
                .unwrap();
            let mut l = client.listen(1024).await.unwrap();
            let mut ids = std::collections::HashSet::new();
            while let Ok(Ok(Some(tongban_client::Event::Delivery(d)))) =
                tokio::time::timeout(Duration::from_secs(5), l.next()).await
            {
                ids.insert(d.envelope["id"].as_str().unwrap().to_owned());
                l.ack(d.delivery).await.unwrap();
            }
            ids
        });
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !delivered.contains(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged messages lost, e.g. {:?}",
            lost.len(),
            lost.first()
        );
        hub.kill().unwrap();
        hub.wait().unwrap();
        let report = json_of(&tongban(&data, &["--json", "audit", "verify"]));
        assert!(report["problem"].is_null(), "{report}");
        let _ = repo();
    });
}

pub(crate) fn payload() -> Value {
    json!({
        "uscc": "91440114MA5TB0A01K", "entityName": "广州花都鸿睿启航电子科技有限公司",
        "entityType": "有限责任公司（自然人投资或控股）", "legalRepresentative": "李建华",
        "businessScope": "电子元器件制造", "establishedDate": "2026-11-20",
        "domicile": "广州市花都区新华街道迎宾大道123号", "registrationAuthority": "广州市花都区市场监督管理局",
        "regionCode": "440114", "licenceIdentifier": "1.2.156.3005.2.11100000TB0000001K001.11440114MB2C00007U.2026112500000000.001.3"
    })
}

pub(crate) fn client_config(creds: &Path, hub: SocketAddr) -> tongban_client::ClientConfig {
    let read = |n: &str| std::fs::read_to_string(creds.join(n)).unwrap();
    let cert = read("cert.pem");
    let department = creds.file_name().unwrap().to_str().unwrap().to_owned();
    tongban_client::ClientConfig {
        hubs: vec![hub],
        server_name: "localhost".into(),
        ca_pem: read("ca.pem"),
        cert_pem: cert,
        key_pem: read("key.pem"),
        department,
        signing_key: tongban_seal::SigningKey::from_secret_multikey(read("signing.key").trim())
            .unwrap(),
        timeouts: tongban_client::Timeouts::default(),
    }
}

/// `tongban item` and `tongban case`: a case system pulls the applicant's
/// licence over QUIC instead of a paper copy, then sends its result.
#[test]
fn cases_from_the_command_line() {
    crate::each_backend("cases_from_the_command_line", || {
        let dir = tempfile::tempdir().unwrap();
        let (data, _market, civil) = setup(dir.path());
        crate::issue_business_licence(&data, crate::business_request(dir.path()).to_str().unwrap());
        let item = dir.path().join("item.json");
        std::fs::write(
        &item,
        serde_json::to_vec(&json!({
            "code": "440114-GZ-0201", "name": "建设工程规划许可证核发", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 10,
            "materials": [{"name": "营业执照", "licenceType": "11100000TB0000001K001"}, {"name": "建设工程设计方案"}],
            "resultType": "11100000TB0000003R001"
        }))
        .unwrap(),
    )
    .unwrap();
        ok(&tongban(
            &data,
            &["item", "put", "--as", CIVIL, item.to_str().unwrap()],
        ));
        let listed = ok(&tongban(&data, &["item", "list"]));
        assert!(
            listed.contains("承诺件") && listed.contains("营业执照"),
            "{listed}"
        );
        let out = tongban(
            &data,
            &[
                "--json",
                "item",
                "put",
                "--as",
                MARKET,
                item.to_str().unwrap(),
            ],
        );
        assert_eq!(json_of(&out)["error"]["code"], "ITEM_NOT_OWNER");

        let port = free_port();
        let mut hub = serve(&data, port);
        let addr = format!("127.0.0.1:{port}");
        let ask = |case: &str, item: &str, cause: &str| {
            client_cmd(&[
                "--json",
                "case",
                "licences",
                "--hub",
                &addr,
                "--credentials",
                civil.to_str().unwrap(),
                "--case",
                case,
                "--item",
                item,
                "--holder",
                &format!("001:{}", crate::COMPANY),
                "--use-cause",
                cause,
            ])
        };
        let answer = json_of(&ask(
            "HD-2026-000300",
            "440114-GZ-0201",
            "核验申请单位营业执照",
        ));
        assert_eq!(answer["payload"]["complete"], true, "{answer}");
        assert_eq!(answer["payload"]["materials"][0]["status"], "found");
        assert_eq!(answer["payload"]["materials"][1]["status"], "not-a-licence");
        // Without a purpose; for an unknown item.
        let out = ask("HD-2026-000301", "440114-GZ-0201", "");
        assert!(!out.status.success());
        assert_eq!(json_of(&out)["error"]["code"], "USE_CAUSE_REQUIRED");
        let out = ask("HD-2026-000301", "440114-XX-9999", "核验");
        assert_eq!(json_of(&out)["error"]["code"], "ITEM_UNKNOWN");

        let permit: Value = serde_json::from_slice(
            &std::fs::read(
                crate::repo()
                    .join("schemas/licence-types/examples/construction-planning-permit.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let result = dir.path().join("result.json");
        std::fs::write(
        &result,
        serde_json::to_vec(&json!({
            "type": "11100000TB0000003R001",
            "holder": {"name": "广州花都鸿睿启航电子科技有限公司", "codeType": "001", "code": crate::COMPANY},
            "data": permit
        }))
        .unwrap(),
    )
    .unwrap();
        let issued = json_of(&client_cmd(&[
            "--json",
            "case",
            "result",
            "--hub",
            &addr,
            "--credentials",
            civil.to_str().unwrap(),
            "--case",
            "HD-2026-000300",
            result.to_str().unwrap(),
        ]));
        let identifier = issued["payload"]["identifier"].as_str().unwrap().to_owned();
        // The case system reports a case's events for supervision.
        let report = |at: &str, event: &str| {
            json_of(&client_cmd(&[
                "--json",
                "case",
                "event",
                "--hub",
                &addr,
                "--credentials",
                civil.to_str().unwrap(),
                "--case",
                "HD-2026-000400",
                "--item",
                "440114-GZ-0201",
                "--channel",
                "online",
                "--zero-visit",
                "--at",
                at,
                event,
            ]))
        };
        let accepted = report("2026-03-02T15:00:00+08:00", r#"{"event": "accepted"}"#);
        assert_eq!(accepted["payload"]["phase"], "running", "{accepted}");
        let done = report(
            "2026-03-06T00:00:00+08:00",
            r#"{"event": "concluded", "result": "approved"}"#,
        );
        assert_eq!(done["payload"]["elapsedMinutes"], 3 * 24 * 60, "{done}");
        assert_eq!(done["payload"]["standing"], "in-time");
        hub.kill().unwrap();
        hub.wait().unwrap();
        let standing = json_of(&tongban(
            &data,
            &[
                "--json",
                "case",
                "standing",
                "HD-2026-000400",
                "--dept",
                CIVIL,
            ],
        ));
        assert_eq!(standing["case"]["phase"], "concluded", "{standing}");
        assert_eq!(standing["case"]["zeroVisit"], true);
        assert_eq!(standing["events"].as_array().unwrap().len(), 2);
        let text = ok(&tongban(
            &data,
            &["case", "standing", "HD-2026-000400", "--dept", CIVIL],
        ));
        assert!(text.contains("零跑动") && text.contains("3d 0h"), "{text}");

        let shown = json_of(&tongban(
            &data,
            &["--json", "case", "show", "HD-2026-000300"],
        ));
        assert_eq!(shown["case"]["status"], "concluded");
        assert_eq!(shown["case"]["resultLicence"], identifier.as_str());
        assert_eq!(shown["uses"].as_array().unwrap().len(), 1);
        let text = ok(&tongban(&data, &["case", "show", "HD-2026-000300"]));
        assert!(text.contains("核验申请单位营业执照"), "{text}");
        let list = json_of(&tongban(&data, &["--json", "case", "list"]));
        assert_eq!(
            list.as_array().unwrap().len(),
            1,
            "the refused queries opened no case"
        );
    });
}

#[test]
fn work_order_steps_from_the_command_line() {
    crate::each_backend("work_order_steps_from_the_command_line", || {
        let dir = tempfile::tempdir().unwrap();
        let (data, market, civil) = setup(dir.path());
        ok(&tongban(&data, &["hotline", "office", CIVIL]));
        ok(&tongban(
            &data,
            &[
                "hotline",
                "create",
                "--as",
                CIVIL,
                "--id",
                "12345-0009",
                "--category",
                "appeal",
                "--content",
                "路灯不亮",
                "--contact",
                "李先生 13900000000",
                "--unit",
                MARKET,
            ],
        ));
        let port = free_port();
        let mut hub = serve(&data, port);
        let addr = format!("127.0.0.1:{port}");
        let send = |credentials: &Path, step: &str, extra: &[&str]| {
            let args = [
                &["--json", "hotline", "send", "--hub", &addr, "--credentials"][..],
                &[credentials.to_str().unwrap(), "12345-0009", step],
                extra,
            ]
            .concat();
            json_of(&client_cmd(&args))
        };
        // The unit signs for it over the exchange, and reads the contact.
        let signed = send(&market, r#"{"step": "signed"}"#, &["--contact"]);
        assert_eq!(signed["sender"], "urn:tongban:hub:440114", "{signed}");
        assert_eq!(signed["payload"]["phase"], "handling", "{signed}");
        assert_eq!(signed["payload"]["contact"], "李先生 13900000000");
        // The office does not reply for the unit.
        let refused = send(&civil, r#"{"step": "replied", "content": "已修复"}"#, &[]);
        assert_eq!(
            refused["error"]["code"], "ORDER_STEP_FORBIDDEN",
            "{refused}"
        );
        let replied = send(&market, r#"{"step": "replied", "content": "已修复"}"#, &[]);
        assert_eq!(replied["payload"]["phase"], "replied", "{replied}");
        assert!(replied["payload"].get("contact").is_none(), "{replied}");
        hub.kill().unwrap();
        hub.wait().unwrap();
        let shown = json_of(&tongban(
            &data,
            &["--json", "hotline", "show", "--as", CIVIL, "12345-0009"],
        ));
        assert_eq!(shown["steps"].as_array().unwrap().len(), 3, "{shown}");
    });
}
