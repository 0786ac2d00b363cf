//! The department commands as production clients: `listen` outlives a hub
//! restart and stops on SIGTERM with `DONE`; a provider killed outright is
//! noticed within seconds; several hub addresses and a connect timeout.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::exchange::{
    CIVIL, Served, client_cmd, payload_file, send_registration, serve_logged, setup_and_serve,
};
use crate::{MARKET, json_of};

/// A `tongban listen` process whose output lines are read as they come.
struct Listening {
    child: Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
    /// Standard error so far, for failure messages.
    said: Vec<String>,
}

impl Listening {
    // The tests end it (signal, kill) and wait for it.
    #[allow(clippy::zombie_processes)]
    fn start(args: &[&str]) -> Listening {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tongban"))
            .arg("listen")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = |stream: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
            rx
        };
        let out = lines(Box::new(child.stdout.take().unwrap()));
        let err = lines(Box::new(child.stderr.take().unwrap()));
        Listening {
            child,
            out,
            err,
            said: Vec::new(),
        }
    }

    /// Waits for a line on standard error that contains `text`.
    fn said(&mut self, text: &str, within: Duration) -> String {
        let until = Instant::now() + within;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.err.recv_timeout(left) {
                Ok(line) => {
                    self.said.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "listen did not say {text:?} within {within:?}: {:#?}",
            self.said
        );
    }

    /// Waits for a delivery line on standard output whose envelope has `id`.
    fn delivered(&mut self, id: &str, within: Duration) -> Value {
        let until = Instant::now() + within;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            let Ok(line) = self.out.recv_timeout(left) else {
                break;
            };
            let delivery: Value = serde_json::from_str(&line).unwrap();
            if delivery["envelope"]["id"] == id {
                return delivery;
            }
        }
        panic!("{id} was not delivered within {within:?}: {:#?}", self.said);
    }

    /// Sends SIGTERM and waits for the exit: its status and how long it took.
    fn terminate(&mut self) -> (ExitStatus, Duration) {
        let signalled = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        (self.wait_exit(Duration::from_secs(15)), signalled.elapsed())
    }

    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("listen did not exit within {within:?}: {:#?}", self.said);
    }
}

/// Waits until `path` holds a line with every one of `parts`.
fn logged(path: &Path, parts: &[&str], within: Duration) -> String {
    let until = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < until,
            "no line with {parts:?} in the hub's log within {within:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn listen_outlives_a_hub_restart_and_stops_on_sigterm_with_done() {
    crate::each_backend(
        "listen_outlives_a_hub_restart_and_stops_on_sigterm_with_done",
        || {
            let dir = tempfile::tempdir().unwrap();
            let Served {
                data,
                market,
                civil,
                port,
                addr,
                mut hub,
            } = setup_and_serve(dir.path());
            let mut listen =
                Listening::start(&["--hub", &addr, "--credentials", civil.to_str().unwrap()]);
            listen.said(
                &format!("listening as {CIVIL} on {addr}"),
                Duration::from_secs(30),
            );

            // The hub dies and comes back on the same port.
            hub.kill().unwrap();
            hub.wait().unwrap();
            let log = dir.path().join("serve.log");
            let mut hub = serve_logged(&data, port, Some(&log));
            let line = listen.said("reconnecting in", Duration::from_secs(30));
            assert!(
                line.contains(&addr),
                "the attempt names the address: {line}"
            );
            listen.said(
                &format!("listening as {CIVIL} on {addr}"),
                Duration::from_secs(60),
            );

            // What is sent after the restart reaches the same listen process.
            let sent = json_of(&send_registration(
                &addr,
                &market,
                CIVIL,
                &payload_file(dir.path()),
            ));
            let id = sent["id"].as_str().unwrap();
            listen.delivered(id, Duration::from_secs(30));

            // SIGTERM: listen stops, closes with DONE and exits 0.
            let (status, took) = listen.terminate();
            assert_eq!(status.code(), Some(0), "{:#?}", listen.said);
            assert!(took < Duration::from_secs(5), "{took:?}");
            logged(
                &log,
                &[
                    "disconnected",
                    CIVIL,
                    "closed by the client with code 0 (DONE)",
                ],
                Duration::from_secs(10),
            );
            hub.kill().unwrap();
            hub.wait().unwrap();
        },
    );
}

/// A provider that stops on SIGTERM frees its requesters at once; one
/// killed outright (no close) is noticed within the hub's idle timeout
/// (8 s by default): either way requesters get `PROVIDER_UNAVAILABLE`, not
/// a `REQUEST_TIMEOUT` after their 30 s.
#[test]
fn a_provider_that_stops_or_is_killed_leaves_requesters_provider_unavailable() {
    crate::each_backend(
        "a_provider_that_stops_or_is_killed_leaves_requesters_provider_unavailable",
        || {
            let dir = tempfile::tempdir().unwrap();
            let Served {
                market,
                civil,
                addr,
                mut hub,
                ..
            } = setup_and_serve(dir.path());
            let payload = payload_file(dir.path());
            let request = || {
                let started = Instant::now();
                let out = client_cmd(&[
                    "--json",
                    "request",
                    "--hub",
                    &addr,
                    "--credentials",
                    civil.to_str().unwrap(),
                    "--resource",
                    "business-registration",
                    "--schema",
                    "business-registration@1",
                    "--payload",
                    payload.to_str().unwrap(),
                    "--timeout-ms",
                    "30000",
                ]);
                (out, started.elapsed())
            };
            let provider = || {
                let mut listen = Listening::start(&[
                    "--hub",
                    &addr,
                    "--credentials",
                    market.to_str().unwrap(),
                    "--respond-with",
                    payload.to_str().unwrap(),
                    "--respond-schema",
                    "business-registration@1",
                ]);
                listen.said(&format!("listening as {MARKET}"), Duration::from_secs(30));
                let (answered, _) = request();
                assert!(answered.status.success(), "{answered:?}");
                assert_eq!(json_of(&answered)["sender"], MARKET);
                listen
            };

            let mut listen = provider();
            let (status, took) = listen.terminate();
            assert_eq!(status.code(), Some(0), "{:#?}", listen.said);
            assert!(took < Duration::from_secs(5), "{took:?}");
            let (refused, waited) = request();
            assert_eq!(
                json_of(&refused)["error"]["code"],
                "PROVIDER_UNAVAILABLE",
                "{refused:?}"
            );
            assert!(waited < Duration::from_secs(4), "{waited:?}");

            let mut listen = provider();
            listen.child.kill().unwrap();
            listen.child.wait().unwrap();
            let (refused, waited) = request();
            eprintln!("a provider killed outright: PROVIDER_UNAVAILABLE after {waited:?}");
            assert_eq!(
                json_of(&refused)["error"]["code"],
                "PROVIDER_UNAVAILABLE",
                "{refused:?}"
            );
            assert!(waited < Duration::from_secs(15), "{waited:?}");
            hub.kill().unwrap();
            hub.wait().unwrap();
        },
    );
}

#[test]
fn several_hub_addresses_and_a_connect_timeout() {
    crate::each_backend("several_hub_addresses_and_a_connect_timeout", || {
        let dir = tempfile::tempdir().unwrap();
        let Served {
            market,
            addr,
            mut hub,
            ..
        } = setup_and_serve(dir.path());
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
        let out = client_cmd(&[
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

        // listen keeps trying, saying why and when, until told to stop; with
        // --no-reconnect it gives up at once.
        let mut listen = Listening::start(&[
            "--hub",
            &first,
            "--connect-timeout",
            "300ms",
            "--credentials",
            market.to_str().unwrap(),
        ]);
        let line = listen.said("reconnecting in", Duration::from_secs(30));
        assert!(
            line.starts_with(&format!(
                "listen: could not connect: connect: {first}: no answer within 0.3 s"
            )) && line.ends_with("(attempt 1)"),
            "{line}"
        );
        listen.said("(attempt 2)", Duration::from_secs(30));
        let (status, _) = listen.terminate();
        assert_eq!(status.code(), Some(0), "{:#?}", listen.said);
        let out = client_cmd(&[
            "--json",
            "listen",
            "--no-reconnect",
            "--hub",
            &first,
            "--connect-timeout",
            "300ms",
            "--credentials",
            market.to_str().unwrap(),
        ]);
        assert_eq!(json_of(&out)["error"]["code"], "CONNECT_FAILED", "{out:?}");
        hub.kill().unwrap();
        hub.wait().unwrap();
    });
}
