//! The command line's promises: every command speaks JSON with `--json`
//! (camelCase members, errors and usage errors included), the exit status
//! says what happened, a closed pipe ends quietly, completions and manual
//! pages come from the same definition, `--get` picks a member, durations
//! read as people write them, and progress bars stay off a standard error
//! that nobody watches.
//!
//! The list of commands run with `--json` is checked against the manual pages'
//! list, so a new command must join it; a member name with `_` fails.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use tongban_service::Service;
use tongban_store::AuditRecord;

use crate::{COMPANY, MARKET, business_request, json_of, ok, repo, tongban};

const XINHUA: &str = "11440114MB2C00023H";
const CIVIL: &str = "11440114MB2C00015N";
/// Added by the test: a checksum-valid code of 花都区.
const HEALTH: &str = "11440114MB2C00066Y";

/// Runs `tongban --json ARGS`, checks its exit status and that standard
/// output holds exactly one JSON document, and returns it.
fn json_run(data: &Path, args: &[&str], status: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = tongban(data, &all);
    tongban_tests::cli::json_document("tongban", &all, &out, status)
}

/// Every command the test runs, with `--json`: its page name
/// (`tongban-licence-issue`), found as the longest run of leading words
/// that names a manual page.
struct Tour {
    pages: BTreeSet<String>,
    seen: BTreeSet<String>,
}

impl Tour {
    fn new(data: &Path, dir: &Path) -> Tour {
        let man = dir.join("man");
        let written = json_run(data, &["man", "--out", man.to_str().unwrap()], 0);
        let pages = written["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().trim_end_matches(".1").to_owned())
            .collect();
        Tour {
            pages,
            seen: BTreeSet::new(),
        }
    }

    /// `json_run`, noting the command and checking its members' names.
    fn run(&mut self, data: &Path, args: &[&str], status: i32) -> Value {
        let value = json_run(data, args, status);
        let mut page = "tongban".to_owned();
        for word in args {
            let longer = format!("{page}-{word}");
            if !self.pages.contains(&longer) {
                break;
            }
            page = longer;
        }
        self.seen.insert(page);
        let snake = tongban_tests::cli::snake_members(&value);
        assert!(
            snake.is_empty(),
            "tongban --json {}: members not in camelCase: {snake:?}",
            args.join(" ")
        );
        value
    }

    /// An error the command reports as JSON, with its exact code.
    fn refused(&mut self, data: &Path, args: &[&str], code: &str) {
        let value = self.run(data, args, 1);
        assert_eq!(value["error"]["code"], code, "{value}");
        assert!(value["error"]["message"].is_string(), "{value}");
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_command_speaks_json_in_camel_case() {
    crate::each_backend("every_command_speaks_json_in_camel_case", || {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let data = d.join("hub");
        let nowhere = d.join("no-credentials");
        let examples = repo().join("examples");
        let example = |name: &str| examples.join(name).to_str().unwrap().to_owned();
        let mut tour = Tour::new(&data, d);

        tour.run(&data, &["init"], 0);
        tour.refused(&data, &["serve"], "CA_NOT_INITIALISED");
        tour.run(&data, &["completions", "bash"], 0);
        tour.run(&data, &["man"], 0);
        tour.run(&data, &["man", "--out", path(&d.join("man"))], 0);

        // Departments and keys.
        let args = [
            "dept",
            "add",
            "--code",
            HEALTH,
            "--name",
            "广州市花都区卫生健康局",
            "--region",
            "440114",
        ];
        tour.run(&data, &args, 0);
        tour.run(&data, &["dept", "list"], 0);
        tour.run(&data, &["dept", "show", MARKET], 0);
        tour.run(
            &data,
            &["dept", "suspend", HEALTH, "--reason", "机构调整"],
            0,
        );
        tour.run(
            &data,
            &["dept", "activate", HEALTH, "--reason", "调整完成"],
            0,
        );
        let key = tour.run(&data, &["key", "new", "--owner", HEALTH], 0);
        let key = key["keyId"].as_str().unwrap().to_owned();
        tour.run(&data, &["key", "list"], 0);
        tour.run(&data, &["key", "rotate", &key, "--overlap", "1d"], 0);
        tour.run(&data, &["key", "revoke", &key, "--reason", "私钥泄露"], 0);
        let own = d.join("health.key");
        tour.run(
            &data,
            &["key", "generate", "--owner", HEALTH, "--out", path(&own)],
            0,
        );
        let registration = d.join("health.key.registration.json");
        tour.run(&data, &["key", "register", path(&registration)], 0);
        let secret = d.join("market.key");
        tour.run(
            &data,
            &[
                "key",
                "export-secret",
                "--owner",
                MARKET,
                "--out",
                path(&secret),
            ],
            0,
        );
        tour.run(&data, &["trust", "anchor"], 0);
        tour.run(
            &data,
            &["trust", "export", "--out", path(&d.join("trust.json"))],
            0,
        );

        // Schemas.
        tour.run(
            &data,
            &["schema", "publish", &example("inspection-notice.json")],
            0,
        );
        tour.refused(
            &data,
            &["schema", "publish", &example("inspection-notice-2.json")],
            "SCHEMA_INCOMPATIBLE",
        );
        let args = [
            "schema",
            "publish",
            &example("inspection-notice-2.json"),
            "--allow-breaking",
        ];
        tour.run(&data, &args, 0);
        tour.run(&data, &["schema", "list"], 0);
        tour.run(&data, &["schema", "show", "inspection-notice"], 0);
        tour.run(&data, &["schema", "diff", "inspection-notice", "1", "2"], 0);

        // Licences.
        let request = business_request(d);
        let issued = tour.run(
            &data,
            &[
                "licence",
                "issue",
                "--issuer",
                MARKET,
                "--request",
                path(&request),
                "--attachment",
                &example("licence.pdf"),
            ],
            0,
        );
        let id = issued["licence"]["identifier"].as_str().unwrap().to_owned();
        let licence = d.join("licence.json");
        std::fs::write(&licence, serde_json::to_vec(&issued).unwrap()).unwrap();
        let query = ["--requester", XINHUA, "--use-cause", "核验营业执照"];
        tour.run(&data, &["licence", "verify", path(&licence)], 0);
        tour.run(&data, &[&["licence", "show", &id][..], &query].concat(), 0);
        let find = ["licence", "find", "--holder", COMPANY];
        tour.run(&data, &[&find[..], &query].concat(), 0);
        let export_dir = d.join("export");
        let export = ["licence", "export", &id, "--out", path(&export_dir)];
        tour.run(&data, &[&export[..], &query].concat(), 0);
        tour.run(&data, &["licence", "uses", &id], 0);
        tour.run(&data, &["licence", "status-list", "--issuer", MARKET], 0);
        tour.run(
            &data,
            &["licence", "suspend", &id, "--reason", "列入经营异常名录"],
            0,
        );
        tour.run(
            &data,
            &["licence", "reinstate", &id, "--reason", "移出经营异常名录"],
            0,
        );
        tour.run(
            &data,
            &["licence", "revoke", &id, "--reason", "注销登记"],
            0,
        );

        // The certificate authority.
        let (tls, m) = (d.join("tls"), d.join("m"));
        tour.run(&data, &["ca", "init"], 0);
        let server = [
            "ca",
            "issue",
            "server",
            "--dns",
            "localhost",
            "--out",
            path(&tls),
        ];
        tour.run(&data, &server, 0);
        let client = ["ca", "issue", "client", "--dept", MARKET, "--out", path(&m)];
        let serial = tour.run(&data, &client, 0)["serial"]
            .as_str()
            .unwrap()
            .to_owned();
        tour.run(
            &data,
            &["ca", "renew", &serial, "--out", path(&d.join("m2"))],
            0,
        );
        tour.run(
            &data,
            &["ca", "revoke", &serial, "--reason", "superseded"],
            0,
        );
        tour.run(&data, &["ca", "list"], 0);
        tour.run(&data, &["ca", "crl"], 0);
        tour.run(&data, &["ca", "dev-pki", "--out", path(&d.join("pki"))], 0);

        // The catalogue, access, items and cases.
        let publish = ["catalogue", "publish", "--as", MARKET];
        tour.run(
            &data,
            &[&publish[..], &[&example("market-registrations.json")]].concat(),
            0,
        );
        let update = ["catalogue", "update", "--as", MARKET];
        tour.run(
            &data,
            &[&update[..], &[&example("market-registrations-2.json")]].concat(),
            0,
        );
        let publish = ["catalogue", "publish", "--as", CIVIL];
        tour.run(
            &data,
            &[&publish[..], &[&example("civil-marriages.json")]].concat(),
            0,
        );
        tour.run(&data, &["catalogue", "list"], 0);
        tour.run(&data, &["catalogue", "search", "婚姻"], 0);
        tour.run(
            &data,
            &["catalogue", "show", "market-registrations", "--history"],
            0,
        );
        tour.run(
            &data,
            &[
                "catalogue",
                "retire",
                "--as",
                MARKET,
                "market-registrations",
            ],
            0,
        );
        let apply = [
            "access",
            "apply",
            "--as",
            XINHUA,
            "civil-marriages",
            "--purpose",
            "核验婚姻状况",
        ];
        let first = tour.run(&data, &apply, 0)["id"].to_string();
        let second = tour.run(&data, &apply, 0)["id"].to_string();
        let denied = tour.run(
            &data,
            &["access", "check", "--as", XINHUA, "civil-marriages"],
            3,
        );
        assert_eq!(denied["allowed"], false);
        tour.run(&data, &["access", "approve", "--as", CIVIL, &first], 0);
        tour.run(
            &data,
            &[
                "access",
                "reject",
                "--as",
                CIVIL,
                &second,
                "--reason",
                "重复申请",
            ],
            0,
        );
        tour.run(
            &data,
            &["access", "check", "--as", XINHUA, "civil-marriages"],
            0,
        );
        tour.run(
            &data,
            &[
                "access",
                "withdraw",
                "--as",
                CIVIL,
                &first,
                "--reason",
                "用途已完成",
            ],
            0,
        );
        tour.run(&data, &["access", "list"], 0);
        let planning = "11440114MB2C00040A";
        tour.run(
            &data,
            &[
                "item",
                "put",
                "--as",
                planning,
                &example("planning-item.json"),
            ],
            0,
        );
        tour.run(&data, &["item", "show", "440114-GZ-0201"], 0);
        tour.run(&data, &["item", "list"], 0);
        // A case system's year in bulk: the good cases in, the bad one
        // listed with its code; again, every case is already reported.
        let events = example("case-events.jsonl");
        let imported = tour.run(&data, &["case", "import", "--dept", planning, &events], 0);
        assert_eq!(imported["imported"], 2, "{imported}");
        assert_eq!(imported["rows"], 7, "{imported}");
        assert_eq!(imported["refused"][0]["id"], "GZ-2026-000403", "{imported}");
        assert_eq!(imported["refused"][0]["code"], "CASE_EVENT_OUT_OF_ORDER");
        let again = tour.run(&data, &["case", "import", "--dept", planning, &events], 0);
        assert_eq!(again["imported"], 0, "{again}");
        assert_eq!(again["refused"][0]["code"], "CASE_ALREADY_REPORTED");
        let broken = d.join("broken.jsonl");
        std::fs::write(&broken, "{\"caseId\": \"A-1\", \"serviceItem\": \"440114-GZ-0201\", \"channel\": \"online\", \"at\": \"2026-11-02T09:00:00+08:00\", \"event\": {\"event\": \"accepted\"}, \"extra\": 1}\n").unwrap();
        tour.refused(
            &data,
            &["case", "import", "--dept", planning, path(&broken)],
            "CASE_EVENT_INVALID",
        );
        tour.run(
            &data,
            &["item", "retire", "--as", planning, "440114-GZ-0201"],
            0,
        );
        tour.refused(&data, &["case", "show", "GZ-2026-000321"], "CASE_UNKNOWN");
        tour.refused(
            &data,
            &["case", "standing", "GZ-2026-000321", "--dept", CIVIL],
            "CASE_UNKNOWN",
        );
        tour.run(&data, &["case", "list"], 0);

        // A department's side, here without credentials: JSON errors all the same.
        let creds = ["--credentials", path(&nowhere)];
        let reg = example("reg.json");
        let exchange: [&[&str]; 10] = [
            &[
                "send",
                "--to",
                XINHUA,
                "--resource",
                "r",
                "--schema",
                "s@1",
                "--payload",
                &reg,
            ],
            &[
                "request",
                "--resource",
                "r",
                "--schema",
                "s@1",
                "--payload",
                &reg,
            ],
            &["listen"],
            &["download", &"00".repeat(32)],
            &["records", "--resource", "r"],
            &[
                "case",
                "licences",
                "--case",
                "c",
                "--item",
                "i",
                "--holder",
                "001:x",
                "--use-cause",
                "u",
            ],
            &[
                "case",
                "pull",
                "--case",
                "c",
                "--item",
                "i",
                "--holder",
                "001:x",
                "--use-cause",
                "u",
            ],
            &["case", "result", "--case", "c", &example("permit.json")],
            &[
                "case",
                "event",
                "--case",
                "c",
                "--item",
                "i",
                r#"{"event": "accepted"}"#,
            ],
            &["hotline", "send", "12345-0001", r#"{"step": "signed"}"#],
        ];
        for args in exchange {
            tour.refused(&data, &[args, &creds].concat(), "CREDENTIALS_MISSING");
        }

        // Peers.
        let card = d.join("card.json");
        let args = ["peer", "card", "--address", "127.0.0.1:4433"];
        tour.run(&data, &args, 0);
        tour.run(&data, &[&args[..], &["--out", path(&card)]].concat(), 0);
        tour.refused(&data, &["peer", "add", path(&card)], "PEER_IS_SELF");
        tour.run(&data, &["peer", "list"], 0);
        let empty = d.join("empty.json");
        std::fs::write(&empty, b"{}").unwrap();
        tour.refused(
            &data,
            &["peer", "import-trust", "441802", path(&empty)],
            "PEER_UNKNOWN",
        );
        tour.refused(&data, &["peer", "remove", "441802"], "PEER_UNKNOWN");

        // API tokens: made once (the token printed then only), listed, revoked.
        let made = tour.run(
            &data,
            &[
                "token",
                "create",
                "--name",
                "办证系统",
                "--role",
                "department-operator",
                "--dept",
                XINHUA,
                "--expires",
                "30d",
            ],
            0,
        );
        let id = made["id"].as_str().unwrap().to_owned();
        assert!(
            made["token"].as_str().unwrap().starts_with("tbk_tok_"),
            "{made}"
        );
        assert_eq!(made["role"], "department-operator");
        tour.refused(
            &data,
            &[
                "token", "create", "--name", "x", "--role", "auditor", "--dept", XINHUA,
            ],
            "ROLE_DEPARTMENT_MISMATCH",
        );
        tour.refused(
            &data,
            &["token", "create", "--name", "x", "--role", "root"],
            "ROLE_UNKNOWN",
        );
        let listed = tour.run(&data, &["token", "list"], 0);
        assert_eq!(listed[0]["id"], id.as_str());
        assert!(listed[0].get("secretSha256").is_none(), "{listed}");
        tour.run(&data, &["token", "revoke", &id], 0);
        tour.refused(&data, &["token", "revoke", &id], "TOKEN_UNKNOWN");

        // Key-encryption keys and sealed secrets (this hub keeps key files:
        // sealing needs a KEK, tests/it/sealed.rs runs it with one).
        let kek = d.join("hub.kek");
        let made = tour.run(&data, &["kek", "new", path(&kek)], 0);
        let current = made["current"].as_str().unwrap().to_owned();
        let listed = tour.run(&data, &["kek", "list", path(&kek)], 0);
        assert_eq!(listed["held"], serde_json::json!([current]));
        let status = tour.run(&data, &["secrets", "status"], 0);
        assert!(status["sealed"].is_null(), "{status}");
        tour.refused(&data, &["secrets", "import"], "KEK_REQUIRED");
        tour.refused(&data, &["secrets", "reseal"], "KEK_REQUIRED");

        // Electronic supervision: a month's report, also as CSV and XLSX.
        let csv = d.join("report.csv");
        let xlsx = d.join("report.xlsx");
        let report = tour.run(
            &data,
            &[
                "supervise",
                "report",
                "--from",
                "2026-03-01",
                "--to",
                "2026-04-01",
                "--csv",
                path(&csv),
                "--xlsx",
                path(&xlsx),
            ],
            0,
        );
        assert_eq!(report["total"]["cases"], 0, "{report}");
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with("\u{feff}部门,办件类型,办件数"), "{text}");
        assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));
        tour.refused(
            &data,
            &[
                "supervise",
                "report",
                "--from",
                "2026-04-01",
                "--to",
                "2026-03-01",
            ],
            "REQUEST_INVALID",
        );

        // 12345 work orders: the office, an order, steps by each side, the
        // contact shown only on request, lists without it.
        tour.refused(
            &data,
            &[
                "hotline",
                "create",
                "--as",
                CIVIL,
                "--id",
                "12345-0001",
                "--category",
                "appeal",
                "--content",
                "路灯不亮",
                "--contact",
                "李先生 13900000000",
            ],
            "HOTLINE_OFFICE_MISSING",
        );
        tour.run(&data, &["hotline", "office", CIVIL], 0);
        // Routing rules: appeals from 440114 go to the street office.
        let rule = ["--category", "appeal", "--area", "440114"];
        tour.refused(
            &data,
            &[&["hotline", "route", "add", "--unit", CIVIL][..], &rule].concat(),
            "ORDER_ROUTE_INVALID",
        );
        let added = tour.run(
            &data,
            &[&["hotline", "route", "add", "--unit", XINHUA][..], &rule].concat(),
            0,
        );
        assert_eq!(added["unit"], XINHUA, "{added}");
        tour.run(&data, &["hotline", "route", "add", "--unit", HEALTH], 0);
        let rules = tour.run(&data, &["hotline", "route", "list"], 0);
        assert_eq!(rules.as_array().unwrap().len(), 2, "{rules}");
        tour.run(&data, &["hotline", "route", "remove"], 0);
        tour.refused(
            &data,
            &["hotline", "route", "remove"],
            "ORDER_ROUTE_UNKNOWN",
        );
        tour.run(
            &data,
            &[
                "hotline",
                "create",
                "--as",
                CIVIL,
                "--id",
                "12345-0001",
                "--category",
                "appeal",
                "--content",
                "路灯不亮",
                "--area",
                "440114",
                "--contact",
                "李先生 13900000000",
            ],
            0,
        );
        // Dispatched by the rule as it was created: the office cannot
        // dispatch it again.
        let shown = tour.run(&data, &["hotline", "show", "--as", CIVIL, "12345-0001"], 0);
        assert_eq!(shown["order"]["unit"], XINHUA, "{shown}");
        assert_eq!(shown["order"]["phase"], "dispatched", "{shown}");
        let dispatch = format!(r#"{{"step": "dispatched", "unit": "{XINHUA}"}}"#);
        tour.refused(
            &data,
            &["hotline", "step", "--as", CIVIL, "12345-0001", &dispatch],
            "ORDER_STEP_OUT_OF_ORDER",
        );
        tour.refused(
            &data,
            &[
                "hotline",
                "step",
                "--as",
                HEALTH,
                "12345-0001",
                r#"{"step": "signed"}"#,
            ],
            "ORDER_STEP_FORBIDDEN",
        );
        tour.run(
            &data,
            &[
                "hotline",
                "step",
                "--as",
                XINHUA,
                "12345-0001",
                r#"{"step": "signed"}"#,
            ],
            0,
        );
        let shown = tour.run(
            &data,
            &["hotline", "show", "--as", XINHUA, "12345-0001", "--contact"],
            0,
        );
        assert_eq!(shown["contact"], "李先生 13900000000", "{shown}");
        assert_eq!(shown["steps"].as_array().unwrap().len(), 2);
        let listed = tour.run(&data, &["hotline", "list"], 0);
        assert_eq!(listed[0]["phase"], "handling", "{listed}");
        assert!(!listed.to_string().contains("13900000000"), "{listed}");
        // Supervision's pushes: the office, the threshold, a notice about
        // the order and its answer, what was pushed.
        tour.run(&data, &["supervise", "office", HEALTH], 0);
        assert_eq!(
            tour.run(&data, &["supervise", "office"], 0)["office"],
            HEALTH
        );
        tour.refused(
            &data,
            &["supervise", "thresholds", "--warn-percent", "0"],
            "THRESHOLDS_INVALID",
        );
        let t = tour.run(
            &data,
            &["supervise", "thresholds", "--warn-percent", "70"],
            0,
        );
        assert_eq!(t["warnPercent"], 70, "{t}");
        let notice = tour.run(
            &data,
            &[
                "supervise",
                "notice",
                "--as",
                HEALTH,
                "--unit",
                XINHUA,
                "--order",
                "12345-0001",
                "--text",
                "请说明处理进度",
                "--days",
                "2",
            ],
            0,
        );
        let id = notice["id"].as_str().unwrap().to_owned();
        let open = tour.run(
            &data,
            &["supervise", "notices", "--unit", XINHUA, "--open"],
            0,
        );
        assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
        tour.run(
            &data,
            &["supervise", "answer", "--as", XINHUA, &id, "已联系商家处理"],
            0,
        );
        tour.refused(
            &data,
            &["supervise", "answer", "--as", XINHUA, &id, "再答"],
            "NOTICE_ANSWERED",
        );
        let swept = tour.run(&data, &["supervise", "sweep"], 0);
        assert_eq!(swept["orders"], 1, "{swept}");
        let pushed = tour.run(&data, &["supervise", "pushes", "--dept", XINHUA], 0);
        // Both in the same second: in no particular order.
        let mut states: Vec<&str> = pushed
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["payload"]["state"].as_str())
            .collect();
        states.sort_unstable();
        assert_eq!(states, ["answered", "issued"], "{pushed}");
        let orders_csv = d.join("orders.csv");
        let report = tour.run(
            &data,
            &[
                "supervise",
                "orders",
                "--from",
                "2026-01-01",
                "--to",
                "2100-01-01",
                "--csv",
                path(&orders_csv),
            ],
            0,
        );
        assert_eq!(report["total"]["orders"], 1, "{report}");
        assert_eq!(report["total"]["signedOnTime"], 1, "{report}");
        let text = std::fs::read_to_string(&orders_csv).unwrap();
        assert!(text.starts_with("\u{feff}成员单位,类别,工单数"), "{text}");
        assert!(text.contains("诉求"), "{text}");

        // The office's work orders in bulk: one new, one already stored.
        let orders = d.join("orders.jsonl");
        let line = |id: &str| {
            format!(
                r#"{{"id": "{id}", "category": "consultation", "content": "办证咨询", "contact": "王女士 13700000000", "createdAt": "2026-11-02T09:00:00+08:00", "steps": [{{"by": "office", "at": "2026-11-02T09:30:00+08:00", "step": {{"step": "dispatched", "unit": "{XINHUA}"}}}}, {{"by": "{XINHUA}", "at": "2026-11-02T11:00:00+08:00", "step": {{"step": "signed"}}}}]}}"#
            )
        };
        std::fs::write(
            &orders,
            format!("{}\n{}\n", line("12345-0002"), line("12345-0001")),
        )
        .unwrap();
        let imported = tour.run(&data, &["hotline", "import", path(&orders)], 0);
        assert_eq!(
            (imported["imported"].as_u64(), imported["rows"].as_u64()),
            (Some(1), Some(2)),
            "{imported}"
        );
        assert_eq!(imported["refused"][0]["code"], "ORDER_EXISTS", "{imported}");
        std::fs::write(&orders, "{\"id\": \"12345-0003\"}\n").unwrap();
        tour.refused(
            &data,
            &["hotline", "import", path(&orders)],
            "ORDER_STEP_INVALID",
        );

        // The working-day calendar: shipped years, a year loaded, deadlines.
        let years = tour.run(&data, &["calendar", "list"], 0);
        assert_eq!(years[1]["year"], 2026, "{years}");
        assert_eq!(years[1]["origin"], "shipped");
        let due = tour.run(
            &data,
            &[
                "calendar",
                "deadline",
                "--from",
                "2026-02-13",
                "--days",
                "2",
            ],
            0,
        );
        assert_eq!(due["lastDay"], "2026-02-24", "{due}");
        tour.refused(
            &data,
            &[
                "calendar",
                "deadline",
                "--from",
                "2026-12-28",
                "--days",
                "5",
            ],
            "CALENDAR_YEAR_MISSING",
        );
        let y2027 = d.join("calendar-2027.json");
        std::fs::write(
            &y2027,
            r#"{"year": 2027, "source": "test", "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}], "workdays": []}"#,
        )
        .unwrap();
        let loaded = tour.run(&data, &["calendar", "load", path(&y2027)], 0);
        assert_eq!(loaded["year"], 2027);
        let due = tour.run(
            &data,
            &[
                "calendar",
                "deadline",
                "--from",
                "2026-12-28",
                "--days",
                "5",
            ],
            0,
        );
        assert_eq!(due["lastDay"], "2027-01-05", "{due}");
        std::fs::write(
            &y2027,
            r#"{"year": 2027, "source": "test", "holidays": [], "workdays": [{"date": "2027-01-04", "name": "x"}]}"#,
        )
        .unwrap();
        tour.refused(
            &data,
            &["calendar", "load", path(&y2027)],
            "CALENDAR_INVALID",
        );

        // The audit log and the store.
        let checkpoints = d.join("checkpoints.jsonl");
        tour.run(
            &data,
            &["audit", "checkpoint", "--publish", path(&checkpoints)],
            0,
        );
        tour.run(&data, &["audit", "verify"], 0);
        tour.run(&data, &["audit", "show"], 0);
        let anchor = tour.run(&data, &["audit", "anchor"], 0)["anchor"]
            .as_str()
            .unwrap()
            .to_owned();
        tour.refused(&data, &["audit", "pin"], "AUDIT_PIN_EXISTS");
        let archive = d.join("audit.jsonl");
        tour.run(&data, &["audit", "export", "--out", path(&archive)], 0);
        let args = [
            "audit",
            "verify-archive",
            path(&archive),
            "--anchor",
            &anchor,
        ];
        tour.run(&data, &args, 0);
        tour.run(&data, &["stats"], 0);
        tour.run(&data, &["doctor"], 0);
        let copied = tour.run(
            &data,
            &[
                "blobs",
                "copy",
                "--from",
                path(&data.join("blobs")),
                "--to",
                path(&d.join("blob-backup")),
            ],
            0,
        );
        assert_eq!(copied["corrupt"], 0, "{copied}");
        tour.run(
            &data,
            &["dept", "retire", HEALTH, "--reason", "机构撤并"],
            0,
        );

        // The demo, as small as it goes (the benchmarks are `tongban-bench`'s).
        let demo = tour.run(&data, &["demo"], 0);
        assert_eq!(demo["licences"]["valid"], 7, "{demo}");
        tour.run(&data, &["demo", "--regions"], 0);
        tour.run(&data, &["demo", "--supervision"], 0);

        // Every command was run (the groups have no output of their own).
        let groups = [
            "tongban",
            "tongban-licence",
            "tongban-dept",
            "tongban-key",
            "tongban-trust",
            "tongban-ca",
            "tongban-ca-issue",
            "tongban-schema",
            "tongban-audit",
            "tongban-access",
            "tongban-peer",
            "tongban-token",
            "tongban-kek",
            "tongban-secrets",
            "tongban-calendar",
            "tongban-supervise",
            "tongban-hotline",
            "tongban-hotline-route",
            "tongban-item",
            "tongban-case",
            "tongban-catalogue",
            "tongban-blobs",
        ];
        let missing: Vec<&String> = tour
            .pages
            .iter()
            .filter(|p| !tour.seen.contains(*p) && !groups.contains(&p.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "commands the tour did not run: {missing:?}"
        );
    });
}

/// No store: every command is refused before a hub is opened.
#[test]
fn usage_errors_exit_2_as_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    for args in [
        &["--json", "licence", "bogus"][..],
        &["licence", "bogus", "--json"],
        &["--json", "licence"],
        &["licence", "find", "--holder", COMPANY, "--json"],
        &["--json", "key", "rotate", "k", "--overlap", "3 parsecs"],
        &["--get", "/x", "audit", "show", "--limit", "many"],
    ] {
        let out = tongban(&data, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let error = json_of(&out);
        assert_eq!(error["error"]["code"], "USAGE", "{args:?}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.starts_with("error:"),
            "{message}"
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A missing option names itself.
    let out = tongban(&data, &["--json", "licence", "find", "--holder", COMPANY]);
    assert!(
        json_of(&out)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--use-cause")
    );
    // Without --json: clap's text on standard error, nothing on standard output.
    let out = tongban(&data, &["licence", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'bogus'"));
    // A value the command checks itself: its own code, the usage status.
    let out = tongban(
        &data,
        &[
            "--json",
            "licence",
            "verify",
            "x.json",
            "--key",
            "no-hash-sign",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["error"]["code"], "KEY_INVALID");
    let out = tongban(&data, &["--json", "stats", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["error"]["code"], "DATE_INVALID");
    for (args, code) in [
        (
            &[
                "--json", "licence", "verify", "x.json", "--at", "tomorrow", "--key", "k#z",
            ][..],
            "TIME_INVALID",
        ),
        (
            &[
                "--json", "licence", "verify", "x.json", "--trust", "t.json", "--anchor", "z6Mk",
            ],
            "ANCHOR_INVALID",
        ),
        (
            &[
                "--json",
                "audit",
                "verify-archive",
                "a.jsonl",
                "--anchor",
                "none",
            ],
            "ANCHOR_INVALID",
        ),
    ] {
        let out = tongban(&data, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(json_of(&out)["error"]["code"], code, "{args:?}");
    }
    // Credentials that are there but unusable: failed, not a usage error.
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("cert.pem"), b"not a certificate").unwrap();
    std::fs::write(creds.join("signing.key"), b"not a key").unwrap();
    let listen = ["--json", "listen", "--credentials", creds.to_str().unwrap()];
    let out = tongban(&data, &listen);
    assert_eq!(out.status.code(), Some(1));
    let error = json_of(&out);
    assert_eq!(error["error"]["code"], "CREDENTIALS_INVALID", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("signing.key: "),
        "{error}"
    );
    // Help and version are not errors; the help lists the exit statuses.
    let out = tongban(&data, &["--json", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Exit status:",
        "  2  the command line is wrong",
        "  3  checked and NOT valid",
    ] {
        assert!(help.contains(line), "{help}");
    }
    assert_eq!(tongban(&data, &["--version"]).status.code(), Some(0));
}

/// No store.
#[test]
fn the_benchmarks_are_another_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("none");
    for args in [
        &["--json", "bench", "licences", "--count", "4"][..],
        &["--json", "bench"],
    ] {
        let out = tongban(&data, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let value = json_of(&out);
        assert_eq!(value["error"]["code"], "USAGE", "{value}");
        let message = value["error"]["message"].as_str().unwrap();
        assert!(message.contains("`tongban-bench`"), "{message}");
    }
    assert!(!data.exists(), "nothing was done");
    let help = ok(&tongban(&data, &["--help"]));
    assert!(!help.contains("bench"), "{help}");
}

#[test]
fn exit_statuses_say_done_failed_usage_or_not_valid() {
    crate::each_backend("exit_statuses_say_done_failed_usage_or_not_valid", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        let status = |args: &[&str]| tongban(&data, args).status.code();
        assert_eq!(status(&["audit", "verify"]), Some(1), "no hub yet: failed");
        ok(&tongban(&data, &["init"]));
        assert_eq!(status(&["audit", "verify"]), Some(0));
        assert_eq!(status(&["audit", "verify", "--anchor", "z6Mk"]), Some(2));
        // Checked and NOT valid: its signed checkpoint does not lead back to
        // another hub's anchor.
        ok(&tongban(&data, &["audit", "checkpoint"]));
        let other = tongban(&dir.path().join("other"), &["--json", "init"]);
        let anchor = json_of(&other)["anchor"].as_str().unwrap().to_owned();
        let out = tongban(&data, &["--json", "audit", "verify", "--anchor", &anchor]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(json_of(&out)["problem"]["code"].is_string());
    });
}

/// `tongban … | head -1`: the reader goes away after one line.
fn first_line_then_close(data: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = crate::cli(data)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    // The read end is closed here, long before the ~500 KB are written.
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        first,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A hub in `data` (no sample departments) whose audit log holds `entries`
/// more entries, appended 1,000 per transaction and checkpointed.
fn hub_with_audit_entries(data: &Path, entries: u64) {
    ok(&tongban(data, &["init", "--no-samples"]));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let hub = Service::open(&crate::hub_config(data)).await.unwrap();
        let now = hub.now();
        for first in (0..entries).step_by(1000) {
            let records: Vec<AuditRecord> = (first..entries.min(first + 1000))
                .map(|i| {
                    AuditRecord::new(
                        now,
                        MARKET,
                        "licence.issue",
                        format!("1.2.156.3005.2.11100000TB0000001K001.{MARKET}.20261125{i:08}.001.X"),
                        serde_json::json!({"type": "11100000TB0000001K001", "number": format!("N{i}"), "holderCodeType": "001"}),
                    )
                })
                .collect();
            hub.record_audit(&records).await.unwrap();
        }
        hub.audit_checkpoint().await.unwrap();
        hub.close().await;
    });
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    crate::each_backend("a_closed_pipe_ends_the_command_quietly", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        // A hub whose audit log prints far more than a pipe holds.
        hub_with_audit_entries(&data, 3000);
        for args in [
            &["audit", "show", "--limit", "100000"][..],
            &["--json", "audit", "show", "--limit", "100000"],
        ] {
            let (status, first, stderr) = first_line_then_close(&data, args);
            assert!(!first.is_empty(), "{args:?}: nothing printed");
            assert_eq!(status, Some(0), "{args:?}: {stderr}");
            assert!(stderr.is_empty(), "{args:?}: {stderr}");
        }
    });
}

/// No store.
#[test]
fn completions_and_manual_pages_name_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("none");
    let bash = ok(&tongban(&data, &["completions", "bash"]));
    assert!(
        bash.contains("licence") && bash.contains("verify-archive"),
        "{bash}"
    );
    let script = dir.path().join("tongban.bash");
    std::fs::write(&script, &bash).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let zsh = ok(&tongban(&data, &["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef tongban"), "{zsh}");
    let fish = ok(&tongban(&data, &["completions", "fish"]));
    assert!(fish.contains("complete -c tongban"), "{fish}");
    let out = tongban(&data, &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));

    let page = ok(&tongban(&data, &["man"]));
    for part in [".TH tongban 1", ".SH NAME", "licence", "Exit status:"] {
        assert!(page.contains(part), "{part} not in {page}");
    }
    let man = dir.path().join("man");
    let written = json_of(&tongban(&data, &["--json", "man", "--out", path(&man)]));
    let pages: Vec<&str> = written["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for name in [
        "tongban.1",
        "tongban-licence-issue.1",
        "tongban-ca-issue-server.1",
        "tongban-audit-verify-archive.1",
    ] {
        assert!(pages.contains(&name), "{name} not in {pages:?}");
        let text = std::fs::read_to_string(man.join(name)).unwrap();
        assert!(text.contains(".TH tongban"), "{name}: {text}");
    }
    assert_eq!(std::fs::read_dir(&man).unwrap().count(), pages.len());
}

#[test]
fn get_prints_one_member_for_the_shell() {
    crate::each_backend("get_prints_one_member_for_the_shell", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init"]));
        let anchor = ok(&tongban(&data, &["trust", "anchor"]));
        assert_eq!(
            ok(&tongban(&data, &["--get", "/anchor", "trust", "anchor"])),
            anchor
        );
        // Anything but a string stays JSON.
        let level = ok(&tongban(
            &data,
            &["dept", "show", MARKET, "--get", "/department"],
        ));
        let level: Value = serde_json::from_str(&level).unwrap();
        assert_eq!(level["platformLevel"], "district");
        let first = ok(&tongban(&data, &["dept", "list", "--get", "/0/code"]));
        assert_eq!(first.trim().len(), 18, "{first}");
        // A member that is not there: the command's own work is done, the
        // output is refused with a code.
        let out = tongban(&data, &["--get", "/nope", "trust", "anchor"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(json_of(&out)["error"]["code"], "OUTPUT_MEMBER_ABSENT");
        let out = tongban(&data, &["--get", "anchor", "trust", "anchor"]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(json_of(&out)["error"]["code"], "USAGE");
    });
}

#[test]
fn key_overlaps_read_as_people_write_them() {
    crate::each_backend("key_overlaps_read_as_people_write_them", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init"]));
        let key = |owner: &str| {
            let out = ok(&tongban(
                &data,
                &["key", "new", "--owner", owner, "--get", "/keyId"],
            ));
            out.trim().to_owned()
        };
        let rotate = |key: &str, overlap: &str| {
            tongban(
                &data,
                &["--json", "key", "rotate", key, "--overlap", overlap],
            )
        };
        let seconds = |t: &Value| {
            let text = t.as_str().unwrap();
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp()
        };
        for (overlap, expected) in [
            ("1d 12h", 36 * 3600),
            ("0d", 0),
            ("7d", 7 * 86_400),
            ("90m", 5_400),
        ] {
            let out = rotate(&key(MARKET), overlap);
            let rotated = json_of(&out);
            assert_eq!(out.status.code(), Some(0), "{overlap}: {rotated}");
            let overlap_secs =
                seconds(&rotated["old"]["notAfter"]) - seconds(&rotated["new"]["notBefore"]);
            assert!((overlap_secs - expected).abs() <= 2, "{overlap}: {rotated}");
        }
        // Nonsense is a usage error and changes nothing; too long, the hub's refusal.
        let k = key(CIVIL);
        let before = ok(&tongban(
            &data,
            &["--json", "key", "list", "--owner", CIVIL],
        ));
        for bad in ["7", "3 parsecs", "-1d"] {
            let out = rotate(&k, bad);
            assert_eq!(out.status.code(), Some(2), "{bad}");
            assert_eq!(json_of(&out)["error"]["code"], "USAGE", "{bad}");
        }
        let out = rotate(&k, "400d");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(json_of(&out)["error"]["code"], "OVERLAP_INVALID");
        assert_eq!(
            ok(&tongban(
                &data,
                &["--json", "key", "list", "--owner", CIVIL]
            )),
            before
        );
    });
}

#[test]
fn long_work_draws_no_progress_where_nobody_watches() {
    crate::each_backend("long_work_draws_no_progress_where_nobody_watches", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        hub_with_audit_entries(&data, 3000);
        let archive = dir.path().join("audit.jsonl");
        let anchor = ok(&tongban(&data, &["audit", "anchor"]));
        let runs: [&[&str]; 4] = [
            &["audit", "verify"],
            &["audit", "export", "--out", path(&archive)],
            &[
                "audit",
                "verify-archive",
                path(&archive),
                "--anchor",
                anchor.trim(),
            ],
            &["doctor"],
        ];
        for args in runs {
            // Standard error is a pipe here: not a terminal.
            let out = tongban(&data, args);
            assert_eq!(out.status.code(), Some(0), "{args:?}");
            assert!(
                out.stderr.is_empty(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.stdout.is_empty());
        }
    });
}

#[test]
fn chinese_columns_line_up_by_display_width() {
    crate::each_backend("chinese_columns_line_up_by_display_width", || {
        use unicode_width::UnicodeWidthStr;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init"]));
        let examples = repo().join("examples");
        for (dept, file) in [
            (MARKET, "market-registrations.json"),
            (CIVIL, "civil-marriages.json"),
        ] {
            ok(&tongban(
                &data,
                &[
                    "catalogue",
                    "publish",
                    "--as",
                    dept,
                    path(&examples.join(file)),
                ],
            ));
        }
        let text = ok(&tongban(&data, &["catalogue", "list"]));
        // The names differ in length; the sharing type after them starts in
        // one display column all the same.
        let columns: Vec<usize> = text
            .lines()
            .map(|l| l[..l.find('[').unwrap()].width())
            .collect();
        assert_eq!(columns.len(), 2, "{text}");
        assert_eq!(columns[0], columns[1], "{text}");
    });
}

/// `--log-format json`: every log line is one JSON object with its level,
/// for log collectors; the default stays text for people.
#[test]
fn log_lines_are_json_objects_when_asked() {
    // A hub to open, so that the store logs at debug level.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    ok(&tongban(
        &data,
        &["init", "--region", "440114", "--name", "测试枢纽"],
    ));
    let out = crate::cli(&data)
        .args(["--log-format", "json", "dept", "list"])
        .env("TONGBAN_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "debug logging wrote nothing");
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    let text = crate::cli(&data)
        .args(["dept", "list"])
        .env("TONGBAN_LOG", "debug")
        .output()
        .unwrap();
    let first = String::from_utf8(text.stderr).unwrap();
    assert!(
        first.lines().next().is_some_and(|l| !l.starts_with('{')),
        "text by default: {first}"
    );
}
