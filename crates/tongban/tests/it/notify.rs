//! `tongban serve` under a service manager: `READY=1` on `NOTIFY_SOCKET`
//! once QUIC and HTTP are bound and the store is open, `WATCHDOG=1` when
//! asked, `STOPPING=1` on SIGTERM; an address that names no socket is
//! refused before anything starts.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::http::http;
use crate::{json_of, ok, tongban};

/// The next datagram on `socket`, as text (within the socket's timeout).
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a notification in time");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// The value of `field` in a notification (`FIELD=value` lines).
fn field<'a>(message: &'a str, field: &str) -> Option<&'a str> {
    message
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix('='))
}

/// `tongban serve` on ports chosen by the system, told to notify `socket`
/// and to keep a watchdog of 400 ms.
fn serve_notifying(data: &std::path::Path, socket: &std::path::Path) -> Child {
    crate::cli(data)
        .args([
            "--durability",
            "process",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--http", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", socket)
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .env("TONGBAN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn serve_tells_the_service_manager_it_is_ready_and_stopping() {
    crate::each_backend("serve_notifies", || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("hub");
        ok(&tongban(&data, &["init", "--no-samples"]));
        ok(&tongban(&data, &["ca", "init"]));
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut hub = serve_notifying(&data, &path);
        let started = Instant::now();
        let ready = next(&socket);
        assert_eq!(field(&ready, "READY"), Some("1"), "{ready}");
        let status = field(&ready, "STATUS").unwrap();
        // Both addresses are in the status, and both are bound already.
        let quic = status
            .strip_prefix("serving QUIC on ")
            .and_then(|s| s.split(',').next())
            .unwrap_or_else(|| panic!("{status}"));
        let quic: std::net::SocketAddr = quic.parse().unwrap();
        assert!(
            std::net::UdpSocket::bind(quic).is_err(),
            "QUIC is not bound at READY: {status}"
        );
        let http_port: u16 = status
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{status}"));
        let (code, body) = http(http_port, "GET", "/readyz", None).unwrap();
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        // The watchdog is kept every 200 ms.
        let watchdog = next(&socket);
        assert_eq!(watchdog, "WATCHDOG=1\n");
        assert!(started.elapsed() < Duration::from_secs(30));

        let killed = std::process::Command::new("kill")
            .args(["-TERM", &hub.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let stopping = loop {
            let message = next(&socket);
            if message != "WATCHDOG=1\n" {
                break message;
            }
        };
        assert_eq!(field(&stopping, "STOPPING"), Some("1"), "{stopping}");
        let exit = hub.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
    });
}

#[test]
fn a_notify_socket_that_names_no_socket_is_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    ok(&tongban(&data, &["init", "--no-samples"]));
    ok(&tongban(&data, &["ca", "init"]));
    for bad in ["run/notify", "notify"] {
        let out = crate::cli(&data)
            .args(["--json", "serve", "--listen", "127.0.0.1:0"])
            .env("NOTIFY_SOCKET", bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{out:?}");
        assert_eq!(json_of(&out)["error"]["code"], "NOTIFY_SOCKET_INVALID");
    }
    // Refused before the hub's server certificate was issued.
    assert!(!data.join("tls").exists());
}
