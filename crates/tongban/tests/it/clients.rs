//! The department commands as production clients: several hub addresses
//! and a connect timeout.

use std::process::Command;

use serde_json::json;

use super::exchange::{CIVIL, free_port, payload_file, serve, setup};
use crate::json_of;

fn department_cmd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .env_remove("TONGBAN_HUB")
        .output()
        .unwrap()
}

#[test]
fn several_hub_addresses_and_a_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (data, market, _civil) = setup(dir.path());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut hub = serve(&data, port);
    // Addresses where nothing answers (QUIC gets no "connection refused").
    let quiet: Vec<std::net::UdpSocket> = (0..2)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let [first, second] = [0, 1].map(|i| quiet[i].local_addr().unwrap().to_string());
    let payload = payload_file(dir.path());
    let send = |hubs: &[&str], env: Option<&str>| {
        let mut args = vec!["--json", "send"];
        for h in hubs {
            args.extend(["--hub", h]);
        }
        args.extend([
            "--connect-timeout",
            "300ms",
            "--credentials",
            market.to_str().unwrap(),
            "--to",
            CIVIL,
            "--resource",
            "business-registration",
            "--schema",
            "business-registration@1",
            "--payload",
            payload.to_str().unwrap(),
        ]);
        let mut command = Command::new(env!("CARGO_BIN_EXE_tongban"));
        command.args(&args).env_remove("TONGBAN_HUB");
        if let Some(list) = env {
            command.env("TONGBAN_HUB", list);
        }
        command.output().unwrap()
    };

    // The first does not answer: the second takes the message.
    let both = format!("{first},{addr}");
    let out = send(&[&both], None);
    assert!(json_of(&out)["seq"].as_u64().is_some(), "{out:?}");
    let out = send(&[], Some(&both));
    assert!(json_of(&out)["seq"].as_u64().is_some(), "{out:?}");

    // None answers: one error naming each address and what it did.
    let out = send(&[&first, &second], None);
    assert_eq!(out.status.code(), Some(1));
    let error = &json_of(&out)["error"];
    assert_eq!(error["code"], "CONNECT_FAILED");
    assert_eq!(
        error["message"],
        json!(format!(
            "connect: {first}: no answer within 0.3 s (is the hub running, and is this its address?); \
             {second}: no answer within 0.3 s (is the hub running, and is this its address?)"
        ))
    );

    // A timeout needs its unit.
    let out = department_cmd(&[
        "send",
        "--connect-timeout",
        "5",
        "--credentials",
        "x",
        "--to",
        CIVIL,
        "--resource",
        "r",
        "--schema",
        "s@1",
        "--payload",
        "p.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give a unit, e.g. 5s or 500ms"),
        "{out:?}"
    );

    hub.kill().unwrap();
    hub.wait().unwrap();
}
