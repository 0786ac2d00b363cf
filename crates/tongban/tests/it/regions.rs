//! 全域通办 across real processes: three hubs (花都区 440114, 清城区 441802,
//! 南县 430921), each `tongban serve` with its own store and CA, exchange
//! cards, keep each other's trust lists fresh, and a case system in 清城区
//! pulls a licence issued in 花都区 through its own hub. Key rotation and
//! revocation in 花都区 are seen after the next refresh; a peer that goes
//! down gives a clear error, its list goes stale, and it is used again once
//! it is back; a tampered trust list is refused.
//!
//! The pull leaves use records on both sides.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exchange::free_port;
use crate::{COMPANY, MARKET, json_of, ok, tongban};

/// 清城区民政局: a code registered in 441802 (a hub speaks only for bodies
/// of its own region).
const CIVIL: &str = "11441802MB2C00015T";
const HUADU: &str = "440114";
const QINGCHENG: &str = "441802";
const NANXIAN: &str = "430921";
/// 清城区's 民政局 handles it; its material is a 营业执照, so its cases may
/// read the holder's 营业执照 across regions.
const ITEM: &str = "441802-MZ-0001";

struct Region {
    code: &'static str,
    data: PathBuf,
    port: u16,
    trust_valid_secs: u32,
    child: Option<Child>,
}

impl Region {
    fn new(dir: &Path, code: &'static str, name: &str, trust_valid_secs: u32) -> Region {
        let data = dir.join(code);
        ok(&tongban(&data, &["init", "--region", code, "--name", name]));
        ok(&tongban(&data, &["ca", "init"]));
        // The test pulls in loops until a refresh shows a change: no limit
        // on licence reads (their limit has a test of its own).
        std::fs::write(data.join("serve.toml"), "licence_reads_per_minute = 0\n").unwrap();
        Region {
            code,
            data,
            port: free_port(),
            trust_valid_secs,
            child: None,
        }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    // Killed and waited for by `stop` or `Drop`.
    #[allow(clippy::zombie_processes)]
    fn start(&mut self) {
        let child = crate::cli(&self.data)
            .args([
                "--durability",
                "process",
                "serve",
                "--config",
                self.data.join("serve.toml").to_str().unwrap(),
                "--listen",
                &self.address(),
                "--peer-refresh-secs",
                "1",
                "--trust-rebuild-secs",
                "0",
                "--trust-valid-secs",
                &self.trust_valid_secs.to_string(),
            ])
            .env("TONGBAN_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if std::net::UdpSocket::bind(self.address()).is_err() {
                std::thread::sleep(Duration::from_millis(300));
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("hub {} did not start", self.code);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn card(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("card-{}.json", self.code));
        ok(&tongban(
            &self.data,
            &[
                "peer",
                "card",
                "--address",
                &self.address(),
                "--out",
                path.to_str().unwrap(),
            ],
        ));
        path
    }

    /// `peer`'s entry in `peer list`, if it has one.
    fn peer_entry(&self, peer: &str) -> Option<Value> {
        let listed = json_of(&tongban(&self.data, &["--json", "peer", "list"]));
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["regionCode"] == peer)
            .cloned()
    }

    /// Whether `peer`'s CA's CRL is stored and fresh here (`fresh`), or why
    /// not, from `peer list`.
    fn crl_of(&self, peer: &str) -> String {
        self.peer_entry(peer)
            .and_then(|p| p["crl"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The stored state of `peer`'s trust list, from `peer list`.
    fn trust_of(&self, peer: &str) -> Value {
        self.peer_entry(peer)
            .map(|p| p["trust"].clone())
            .unwrap_or(Value::Null)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pull(region: &Region, creds: &Path, extra: &[&str]) -> Value {
    let addr = region.address();
    let mut args = vec![
        "--json",
        "case",
        "pull",
        "--hub",
        &addr,
        "--credentials",
        creds.to_str().unwrap(),
        "--holder",
        "001:91440114MA5TB0A01K",
        "--use-cause",
        "核验申请单位营业执照（跨区域办理）",
        "--case",
        "QC-2026-000100",
        "--item",
        ITEM,
        "--wait-ms",
        "2000",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(&args)
        .output()
        .unwrap();
    json_of(&out)
}

fn region_outcome<'a>(answer: &'a Value, region: &str) -> &'a Value {
    answer["payload"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == region)
        .unwrap_or_else(|| panic!("no outcome for {region}: {answer}"))
}

fn licence<'a>(answer: &'a Value, identifier: &str) -> Option<&'a Value> {
    answer["payload"]["licences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["identifier"] == identifier)
}

/// Polls `f` every 300 ms for up to 30 s.
fn eventually(what: &str, mut f: impl FnMut() -> Option<Value>) -> Value {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("timed out waiting until {what}");
}

fn issue(region: &Region, dir: &Path) -> String {
    let issued =
        crate::issue_business_licence(&region.data, crate::business_request(dir).to_str().unwrap());
    issued["licence"]["identifier"].as_str().unwrap().to_owned()
}

#[test]
fn three_regions_trust_verify_and_pull_each_others_licences() {
    crate::each_backend(
        "three_regions_trust_verify_and_pull_each_others_licences",
        || {
            let dir = tempfile::tempdir().unwrap();
            let dir = dir.path();
            let mut huadu = Region::new(dir, HUADU, "广州市花都区政务数据共享交换平台", 600);
            let mut qingcheng =
                Region::new(dir, QINGCHENG, "清远市清城区政务数据共享交换平台", 600);
            let mut nanxian = Region::new(dir, NANXIAN, "益阳市南县政务数据共享交换平台", 3);

            // 花都区 issues the 营业执照; 清城区's 民政局 runs the case system.
            let first = issue(&huadu, dir);
            ok(&tongban(
                &qingcheng.data,
                &[
                    "dept",
                    "add",
                    "--code",
                    CIVIL,
                    "--name",
                    "清远市清城区民政局",
                    "--region",
                    QINGCHENG,
                ],
            ));
            ok(&tongban(
                &qingcheng.data,
                &["key", "new", "--owner", CIVIL, "--purpose", "exchange"],
            ));
            let creds = dir.join("qingcheng-civil");
            ok(&crate::issue_client_certificate(
                &qingcheng.data,
                CIVIL,
                &creds,
            ));
            ok(&tongban(
                &qingcheng.data,
                &[
                    "key",
                    "export-secret",
                    "--owner",
                    CIVIL,
                    "--out",
                    creds.join("signing.key").to_str().unwrap(),
                ],
            ));

            let item = dir.join("item.json");
            std::fs::write(
        &item,
        serde_json::to_vec(&serde_json::json!({
            "code": ITEM, "name": "社会团体成立登记", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 10,
            "materials": [{"name": "发起单位营业执照", "licenceType": "11100000TB0000001K001"}],
        }))
        .unwrap(),
    )
    .unwrap();
            ok(&tongban(
                &qingcheng.data,
                &["item", "put", "--as", CIVIL, item.to_str().unwrap()],
            ));

            for r in [&mut huadu, &mut qingcheng, &mut nanxian] {
                r.start();
            }
            // Administrators exchange cards once, while the hubs run.
            let cards = [huadu.card(dir), qingcheng.card(dir), nanxian.card(dir)];
            for (hub, peers) in [
                (&huadu, vec![&cards[1]]),
                (&qingcheng, vec![&cards[0], &cards[2]]),
                (&nanxian, vec![&cards[1]]),
            ] {
                for card in peers {
                    ok(&tongban(
                        &hub.data,
                        &["peer", "add", card.to_str().unwrap()],
                    ));
                }
            }
            eventually("清城区 holds both peers' trust lists and CRLs", || {
                let fresh = |p: &str| qingcheng.trust_of(p)["validUntil"].is_string();
                let crl = |r: &Region, p: &str| r.crl_of(p) == "fresh";
                (fresh(HUADU)
                    && fresh(NANXIAN)
                    && huadu.trust_of(QINGCHENG)["validUntil"].is_string()
                    && crl(&qingcheng, HUADU)
                    && crl(&qingcheng, NANXIAN)
                    && crl(&huadu, QINGCHENG)
                    && crl(&nanxian, QINGCHENG))
                .then_some(Value::Null)
            });

            // 花都区's open resources are found from 清城区, marked with their origin.
            let resource = dir.join("market-entities.json");
            std::fs::write(
        &resource,
        serde_json::to_vec(&serde_json::json!({
            "id": "market-entities", "name": "市场主体公示信息", "schema": "business-registration@1",
            "sharingType": "无条件共享", "tags": ["公示"],
        }))
        .unwrap(),
    )
    .unwrap();
            ok(&tongban(
                &huadu.data,
                &[
                    "catalogue",
                    "publish",
                    "--as",
                    MARKET,
                    resource.to_str().unwrap(),
                ],
            ));
            let listed = eventually("清城区 lists 花都区's open resource", || {
                let found = json_of(&tongban(
                    &qingcheng.data,
                    &["--json", "catalogue", "search", "公示", "--other-regions"],
                ));
                (found.as_array().is_some_and(|a| !a.is_empty())).then_some(found)
            });
            assert_eq!(listed[0]["qualifiedId"], "440114:market-entities");
            assert_eq!(listed[0]["region"], HUADU);

            // The pull: 花都区's licence comes back verified, with its origin.
            let answer = pull(&qingcheng, &creds, &[]);
            let got = licence(&answer, &first).unwrap_or_else(|| panic!("{answer}"));
            assert_eq!(got["origin"]["region"], HUADU, "{got}");
            assert_eq!(got["valid"], true, "{got}");
            assert_eq!(got["status"], "现势");
            assert_eq!(region_outcome(&answer, HUADU)["outcome"], "answered");
            assert_eq!(region_outcome(&answer, HUADU)["licences"], 1);
            assert_eq!(region_outcome(&answer, NANXIAN)["outcome"], "answered");
            assert_eq!(region_outcome(&answer, NANXIAN)["licences"], 0);
            assert_eq!(region_outcome(&answer, QINGCHENG)["licences"], 0);
            // Both hubs signed: the department's request inside the hub's.
            assert_eq!(
                answer["sender"], "urn:tongban:hub:441802",
                "清城区 answers its department itself"
            );

            // Licence-use records on both sides, with the stated purpose.
            let uses_there = json_of(&tongban(
                &huadu.data,
                &["--json", "licence", "uses", &first],
            ));
            let there = &uses_there[0];
            assert_eq!(
                there["requester"],
                format!("urn:tongban:hub:{QINGCHENG}/{CIVIL}")
            );
            assert_eq!(there["useCause"], "核验申请单位营业执照（跨区域办理）");
            assert_eq!(there["caseRef"], "441802:QC-2026-000100");
            let uses_here = json_of(&tongban(
                &qingcheng.data,
                &["--json", "licence", "uses", &first],
            ));
            assert_eq!(uses_here[0]["requester"], CIVIL, "{uses_here}");
            assert_eq!(uses_here[0]["caseRef"], "QC-2026-000100");

            // Only the regions asked for are asked; an unknown one says so.
            let answer = pull(
                &qingcheng,
                &creds,
                &["--region", HUADU, "--region", "110101"],
            );
            assert_eq!(region_outcome(&answer, "110101")["code"], "PEER_UNKNOWN");
            assert!(
                answer["payload"]["regions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["region"] != NANXIAN && r["region"] != QINGCHENG),
                "{answer}"
            );

            // Rotation in 花都区: a licence signed with the new key verifies in
            // 清城区 once the next refresh brought the key.
            let keys = json_of(&tongban(
                &huadu.data,
                &["--json", "key", "list", "--owner", MARKET],
            ));
            let old_key = keys[0]["keyId"].as_str().unwrap().to_owned();
            ok(&tongban(
                &huadu.data,
                &["key", "rotate", &old_key, "--overlap", "0d"],
            ));
            let second = issue(&huadu, dir);
            eventually("the rotated key's licence verifies in 清城区", || {
                let answer = pull(&qingcheng, &creds, &["--region", HUADU]);
                licence(&answer, &second)
                    .filter(|l| l["valid"] == true)
                    .cloned()
            });
            // The first licence, signed before the rotation, still verifies.
            let answer = pull(&qingcheng, &creds, &["--region", HUADU]);
            assert_eq!(licence(&answer, &first).unwrap()["valid"], true);

            // Revocation in 花都区 is seen after the next refresh.
            ok(&tongban(
                &huadu.data,
                &["licence", "revoke", &first, "--reason", "营业执照已注销"],
            ));
            let revoked = eventually("清城区 sees the revocation", || {
                let answer = pull(&qingcheng, &creds, &["--region", HUADU]);
                licence(&answer, &first)
                    .filter(|l| l["valid"] == false)
                    .cloned()
            });
            assert_eq!(revoked["status"], "注销", "{revoked}");

            // A tampered trust list is refused and the stored one stays.
            let before = qingcheng.trust_of(HUADU)["sha256"].clone();
            let list = dir.join("huadu-trust.json");
            ok(&tongban(
                &huadu.data,
                &["trust", "export", "--out", list.to_str().unwrap()],
            ));
            let mut tampered: Value =
                serde_json::from_slice(&std::fs::read(&list).unwrap()).unwrap();
            tampered["validUntil"] = Value::String("2099-01-01T00:00:00Z".into());
            std::fs::write(&list, serde_json::to_vec(&tampered).unwrap()).unwrap();
            let out = tongban(
                &qingcheng.data,
                &[
                    "--json",
                    "peer",
                    "import-trust",
                    HUADU,
                    list.to_str().unwrap(),
                ],
            );
            assert!(!out.status.success());
            assert_eq!(json_of(&out)["error"]["code"], "TRUST_LIST_UNTRUSTED");
            // (A refresh may have stored a newer genuine list meanwhile; never the tampered one.)
            let after = qingcheng.trust_of(HUADU);
            assert!(
                after["validUntil"] != "2099-01-01T00:00:00Z" && after["sha256"].is_string(),
                "{after} (before {before})"
            );

            // 南县 goes down: a clear error, 花都区's licences still come back.
            nanxian.kill();
            let started = Instant::now();
            let answer = pull(&qingcheng, &creds, &[]);
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the wait on peers is bounded"
            );
            let down = region_outcome(&answer, NANXIAN);
            assert_eq!(down["outcome"], "failed", "{answer}");
            let code = down["code"].as_str().unwrap();
            assert!(
                ["PEER_UNREACHABLE", "PEER_TIMEOUT", "TRUST_LIST_STALE"].contains(&code),
                "{down}"
            );
            assert!(licence(&answer, &second).is_some(), "{answer}");
            // Its list (valid 3 s) goes stale: refused, never silently used.
            eventually("南县's list is stale in 清城区", || {
                let answer = pull(&qingcheng, &creds, &["--region", NANXIAN]);
                (region_outcome(&answer, NANXIAN)["code"] == "TRUST_LIST_STALE")
                    .then(|| answer.clone())
            });
            // Each failed refresh is recorded, with why.
            let state = eventually("the failed refreshes are recorded", || {
                let state = qingcheng.trust_of(NANXIAN);
                (state["failures"].as_i64().unwrap_or(0) >= 1).then_some(state)
            });
            let why = state["failure"].as_str().unwrap();
            assert!(why.starts_with("PEER_"), "{state}");
            // Back up: the refresh retries and the region answers again.
            nanxian.start();
            eventually("南县 answers again", || {
                let answer = pull(&qingcheng, &creds, &["--region", NANXIAN]);
                (region_outcome(&answer, NANXIAN)["outcome"] == "answered").then(|| answer.clone())
            });

            // A stated purpose is required here as everywhere.
            let out = Command::new(env!("CARGO_BIN_EXE_tongban"))
                .args([
                    "--json",
                    "case",
                    "pull",
                    "--hub",
                    &qingcheng.address(),
                    "--credentials",
                    creds.to_str().unwrap(),
                    "--holder",
                    &format!("001:{COMPANY}"),
                    "--use-cause",
                    " ",
                    "--case",
                    "QC-2026-000101",
                    "--item",
                    ITEM,
                ])
                .output()
                .unwrap();
            assert_eq!(json_of(&out)["error"]["code"], "USE_CAUSE_REQUIRED");
        },
    );
}
