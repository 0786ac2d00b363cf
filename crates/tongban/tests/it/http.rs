//! `tongban serve --http`: the HTTP side beside QUIC, its refusals before
//! anything listens, and its drain with QUIC.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exchange::free_port;
use crate::{business_request, json_of, ok, tongban};

/// One HTTP/1.1 exchange on a fresh connection: status and body.
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Option<(u16, Vec<u8>)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status_line = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    Some((status, answer[split + 4..].to_vec()))
}

fn setup(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("hub");
    ok(&tongban(&data, &["init"]));
    ok(&tongban(&data, &["ca", "init"]));
    data
}

/// `tongban serve` with QUIC on `quic` and HTTP on `http_port`, once
/// `/readyz` says ready. The caller kills and waits for the child.
#[allow(clippy::zombie_processes)]
fn serve_http(data: &Path, quic: u16, http_port: u16) -> Child {
    let http_addr = format!("127.0.0.1:{http_port}");
    let child = crate::exchange::serve_with(data, quic, &["--http", &http_addr], None);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Some((200, _)) = http(http_port, "GET", "/readyz", None) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the HTTP side did not become ready");
}

#[test]
fn serve_answers_http_beside_quic_and_stops_with_it() {
    crate::each_backend("serve_answers_http_beside_quic", || {
        let dir = tempfile::tempdir().unwrap();
        let data = setup(dir.path());
        let request = business_request(dir.path());
        let issued = crate::issue_business_licence(&data, request.to_str().unwrap());
        let (quic, port) = (free_port(), free_port());
        let mut hub = serve_http(&data, quic, port);
        let (status, body) = http(port, "GET", "/healthz", None).unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        // What the QUIC side counts, for Prometheus.
        let (status, body) = http(port, "GET", "/metrics", None).unwrap();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{text}");
        for family in ["tongban_streams_total ", "tongban_audit_head "] {
            assert!(
                text.lines().any(|l| l.starts_with(family)),
                "{family} in {text}"
            );
        }
        // The same answer as `licence verify` online.
        let licence = serde_json::to_vec(&issued).unwrap();
        let (status, body) = http(port, "POST", "/v1/verify", Some(&licence)).unwrap();
        assert_eq!(status, 200);
        let answered: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answered["valid"], true, "{answered}");

        // SIGTERM: QUIC drains, HTTP stops with it, the process exits 0.
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &hub.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = hub.wait().unwrap();
        assert!(status.success(), "{status:?}");
        assert!(
            http(port, "GET", "/healthz", None).is_none(),
            "still answering"
        );
    });
}

#[test]
fn plain_http_off_loopback_is_refused_before_anything_listens() {
    let dir = tempfile::tempdir().unwrap();
    let data = setup(dir.path());
    let out = tongban(
        &data,
        &[
            "--json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "0.0.0.0:0",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let answer = json_of(&out);
    assert_eq!(
        answer["error"]["code"], "HTTP_PLAINTEXT_NOT_LOOPBACK",
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--http-insecure-plaintext")
    );
    // A certificate that is not one.
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let bad = bad.to_str().unwrap();
    let out = tongban(
        &data,
        &[
            "--json",
            "serve",
            "--http",
            "0.0.0.0:0",
            "--http-cert",
            bad,
            "--http-key",
            bad,
        ],
    );
    assert_eq!(json_of(&out)["error"]["code"], "HTTP_TLS_INVALID");
    // A misspelt key of the configuration file.
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "htp = \"127.0.0.1:8080\"\n").unwrap();
    let out = tongban(
        &data,
        &["--json", "serve", "--config", config.to_str().unwrap()],
    );
    let answer = json_of(&out);
    assert_eq!(answer["error"]["code"], "CONFIG_INVALID");
    assert!(answer["error"]["message"].as_str().unwrap().contains("htp"));
    // The file's http key is read (and refused off loopback the same way).
    std::fs::write(&config, "http = \"0.0.0.0:0\"\n").unwrap();
    let out = tongban(
        &data,
        &["--json", "serve", "--config", config.to_str().unwrap()],
    );
    assert_eq!(
        json_of(&out)["error"]["code"],
        "HTTP_PLAINTEXT_NOT_LOOPBACK"
    );
    // An issuer key that is not `{issuer}#{multikey}`.
    let out = tongban(
        &data,
        &[
            "--json",
            "serve",
            "--http",
            "127.0.0.1:0",
            "--http-issuer-key",
            "nokey",
        ],
    );
    assert_eq!(json_of(&out)["error"]["code"], "KEY_INVALID");
}
