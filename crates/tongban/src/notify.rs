//! Telling a service manager how `tongban serve` stands (systemd's
//! `sd_notify(3)` protocol): one datagram per state to the Unix socket named
//! in `NOTIFY_SOCKET`, a filesystem path or, with a leading `@`, a Linux
//! abstract name.
//!
//! `READY=1` once the store is open and the QUIC and HTTP listeners are bound
//! (`deploy/tongban.service` is `Type=notify`: `systemctl start` returns then,
//! and units ordered after it start then); `STOPPING=1` when a signal starts
//! the drain; `WATCHDOG=1` every half of `WATCHDOG_USEC` while the runtime
//! runs, when the manager asks for it (`WatchdogSec=`). Without
//! `NOTIFY_SOCKET` nothing is sent. A value that names no socket is refused
//! before anything is opened (`NOTIFY_SOCKET_INVALID`); a datagram the
//! manager does not take is logged and the hub goes on.

use std::time::Duration;

use crate::output::Coded;

/// Where the manager listens, and how often it wants to hear that we live.
#[derive(Debug)]
pub struct Notifier {
    #[cfg(unix)]
    socket: std::os::unix::net::UnixDatagram,
    #[cfg(unix)]
    addr: std::os::unix::net::SocketAddr,
    watchdog: Option<Duration>,
}

/// The longest path a Unix socket address holds (`sun_path`, less its NUL).
const MAX_SOCKET_PATH: usize = 107;

impl Notifier {
    /// From `NOTIFY_SOCKET` (and `WATCHDOG_USEC`, `WATCHDOG_PID`) of this
    /// process's environment: `None` when it is unset or empty.
    pub fn from_env() -> Result<Option<Notifier>, Coded> {
        let Some(socket) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let watchdog = watchdog_interval(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        Notifier::open(&socket, watchdog).map(Some)
    }

    #[cfg(unix)]
    fn open(socket: &std::ffi::OsStr, watchdog: Option<Duration>) -> Result<Notifier, Coded> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let invalid = |why: &str| {
            Coded::new(
                "NOTIFY_SOCKET_INVALID",
                format!("NOTIFY_SOCKET={}: {why}", socket.to_string_lossy()),
            )
        };
        let bytes = socket.as_bytes();
        if bytes.len() > MAX_SOCKET_PATH || bytes.contains(&0) {
            return Err(invalid(
                "too long for a Unix socket address, or holds a NUL",
            ));
        }
        let addr = match bytes.split_first() {
            Some((b'/', _)) => SocketAddr::from_pathname(std::path::Path::new(socket))
                .map_err(|e| invalid(&e.to_string()))?,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Some((b'@', name)) => {
                #[cfg(target_os = "android")]
                use std::os::android::net::SocketAddrExt;
                #[cfg(target_os = "linux")]
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name).map_err(|e| invalid(&e.to_string()))?
            }
            _ => return Err(invalid("neither an absolute path nor an @abstract name")),
        };
        let socket = UnixDatagram::unbound()
            .map_err(|e| Coded::new("IO", format!("a Unix datagram socket: {e}")))?;
        // A manager that stopped reading must not stall the hub.
        socket
            .set_write_timeout(Some(Duration::from_secs(1)))
            .map_err(|e| Coded::new("IO", format!("a Unix datagram socket: {e}")))?;
        Ok(Notifier {
            socket,
            addr,
            watchdog,
        })
    }

    #[cfg(not(unix))]
    fn open(socket: &std::ffi::OsStr, _: Option<Duration>) -> Result<Notifier, Coded> {
        Err(Coded::new(
            "NOTIFY_SOCKET_INVALID",
            format!(
                "NOTIFY_SOCKET={}: no Unix sockets on this system",
                socket.to_string_lossy()
            ),
        ))
    }

    /// The hub serves: `READY=1`, and `status` for `systemctl status`.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}\n", one_line(status)));
    }

    /// A signal came: the hub drains and stops.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=draining\n");
    }

    /// `WATCHDOG=1` every half of the interval the manager asked for, on
    /// the runtime (a runtime that stalls stops sending, and the manager
    /// restarts the hub); nothing when it asked for none.
    pub fn keep_watchdog(self: &std::sync::Arc<Self>) {
        let Some(interval) = self.watchdog else {
            return;
        };
        let notifier = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval / 2);
            loop {
                ticks.tick().await;
                notifier.send("WATCHDOG=1\n");
            }
        });
    }

    #[cfg(unix)]
    fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.addr) {
            tracing::warn!(error = %e, message, "the service manager did not take a notification");
        }
    }

    #[cfg(not(unix))]
    fn send(&self, _: &str) {}
}

/// `WATCHDOG_USEC` when it is for this process: `WATCHDOG_PID` unset or
/// ours, and a whole number of microseconds above zero.
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, own: u32) -> Option<Duration> {
    if pid.is_some_and(|p| p.parse::<u32>().ok() != Some(own)) {
        return None;
    }
    let usec: u64 = usec?.parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec))
}

/// `text` on one line: a notification's field ends at a line break.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_ours_only() {
        let s = Some(Duration::from_secs(2));
        assert_eq!(watchdog_interval(Some("2000000"), None, 7), s);
        assert_eq!(watchdog_interval(Some("2000000"), Some("7"), 7), s);
        assert_eq!(watchdog_interval(Some("2000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
    }

    #[cfg(unix)]
    #[test]
    fn addresses_that_name_no_socket_are_refused() {
        use std::ffi::OsStr;
        let long = format!("/{}", "x".repeat(MAX_SOCKET_PATH));
        for bad in ["relative/path", "", "x", long.as_str()] {
            let err = Notifier::open(OsStr::new(bad), None).unwrap_err();
            assert_eq!(err.code, "NOTIFY_SOCKET_INVALID", "{bad}");
        }
        assert!(Notifier::open(OsStr::new("/run/systemd/notify"), None).is_ok());
        #[cfg(target_os = "linux")]
        assert!(Notifier::open(OsStr::new("@tongban-test"), None).is_ok());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_datagram_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let name = format!("tongban-notify-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&addr).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let notifier = Notifier::open(std::ffi::OsStr::new(&format!("@{name}")), None).unwrap();
        notifier.ready("serving\non 127.0.0.1:4433");
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "READY=1\nSTATUS=serving on 127.0.0.1:4433\n"
        );
    }
}
