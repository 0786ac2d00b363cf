//! `tongban serve`, and the department-side commands `send`,
//! `request`, `listen`.
//!
//! Also `download`, `records` and `stats` (which reads the store). `serve`
//! takes the peer settings `--peer-refresh-secs`, `--trust-valid-secs`,
//! `--trust-rebuild-secs`, also in its TOML file. The department side shares
//! `ClientArgs`: `--hub`, repeatable or comma-separated, and
//! `--connect-timeout`. `send` retries through `Failover` (`--attempts`),
//! the same envelope each time. `listen` reconnects with `Backoff` unless
//! `--no-reconnect`, and on Ctrl-C or SIGTERM finishes its stream, closes with
//! `DONE` and exits 0.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};
use tongban_client::{
    Backoff, Client, ClientConfig, ClientError, Connector, Event, Failover, Retry, Timeouts,
};
use tongban_hub::{ServeConfig, TlsMaterial};
use tongban_service::ca::CertRequest;
use tongban_service::keystore::write_owner_only;

use crate::Context;
use crate::output::{Coded, print_json, print_json_line, read_json, write_stdout};
use crate::table::Table;

/// `tongban serve`: settings from a file, then flags and environment.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML file with any of: listen, cert, key, max_frame, max_blob,
    /// time_window_secs, redelivery_after_secs, batch_max, idle_timeout_secs,
    /// keep_alive_secs, drain_timeout_secs, peer_refresh_secs, trust_valid_secs,
    /// trust_rebuild_secs, licence_reads_per_minute, licence_read_burst,
    /// read_timeout_secs, max_connections, connections_per_department,
    /// frame_buffer, frame_buffer_per_department, blob_buffer,
    /// blob_buffer_per_department, receive_window, stream_receive_window,
    /// send_window, requests_per_requester, pending_quota, blob_quota,
    /// quota_recount_secs, supervision_secs (sizes in bytes); and for the
    /// HTTP side: http,
    /// http_cert, http_key, http_insecure_plaintext, http_public_url,
    /// http_issuer_keys (a list).
    #[arg(long, env = "TONGBAN_SERVE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (UDP).
    #[arg(long, env = "TONGBAN_LISTEN")]
    listen: Option<SocketAddr>,
    /// Server certificate (PEM); issued by the hub's CA into <data-dir>/tls when omitted.
    #[arg(long, env = "TONGBAN_TLS_CERT")]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "TONGBAN_TLS_KEY")]
    key: Option<PathBuf>,
    /// Largest frame in bytes.
    #[arg(long)]
    max_frame: Option<usize>,
    /// Envelopes verified and committed together, at most.
    #[arg(long)]
    batch_max: Option<usize>,
    /// Largest blob (payload sent by reference) in bytes; at most 64 MiB.
    #[arg(long)]
    max_blob: Option<u64>,
    /// Fetch peer hubs' trust lists this often, in seconds (default 300).
    #[arg(long)]
    peer_refresh_secs: Option<u64>,
    /// How long the trust list this hub serves to peers stays valid, in
    /// seconds (default 86400): peers stop using it this long after they
    /// last reached this hub.
    #[arg(long)]
    trust_valid_secs: Option<i64>,
    /// Rebuild the served trust list at most this often, in seconds (default 15).
    #[arg(long)]
    trust_rebuild_secs: Option<u64>,
    /// Wait at most this long, in seconds, for a stream's first frame, the
    /// rest of a frame, an upload's next bytes or a download's reader
    /// (default 10).
    #[arg(long)]
    read_timeout_secs: Option<u64>,
    /// Close a connection from which nothing came for this long, in
    /// seconds (default 8): how soon a department's system that vanished
    /// without closing is noticed and requests waiting on it are answered
    /// PROVIDER_UNAVAILABLE.
    #[arg(long)]
    idle_timeout_secs: Option<u64>,
    /// Send a keep-alive on a connection quiet for this long, in seconds
    /// (default 2; at most half the idle timeout).
    #[arg(long)]
    keep_alive_secs: Option<u64>,
    /// Connections one department (or peer hub) may have open at once
    /// (default 16).
    #[arg(long)]
    connections_per_department: Option<u32>,
    /// Deliveries of a department's messages that may wait undelivered
    /// (default 1000000).
    #[arg(long)]
    pending_quota: Option<u64>,
    /// Blob bytes a department may hold (default 8 GiB).
    #[arg(long)]
    blob_quota: Option<u64>,
    /// Look for supervision's thresholds and deadlines passed this often,
    /// in seconds (default 60; also once at the start).
    #[arg(long)]
    supervision_secs: Option<u64>,
    #[command(flatten)]
    http: crate::http::HttpArgs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    listen: Option<SocketAddr>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    max_frame: Option<usize>,
    max_blob: Option<u64>,
    time_window_secs: Option<i64>,
    redelivery_after_secs: Option<u64>,
    batch_max: Option<usize>,
    idle_timeout_secs: Option<u64>,
    keep_alive_secs: Option<u64>,
    drain_timeout_secs: Option<u64>,
    peer_refresh_secs: Option<u64>,
    trust_valid_secs: Option<i64>,
    trust_rebuild_secs: Option<u64>,
    supervision_secs: Option<u64>,
    licence_reads_per_minute: Option<u32>,
    licence_read_burst: Option<u32>,
    read_timeout_secs: Option<u64>,
    max_connections: Option<u32>,
    connections_per_department: Option<u32>,
    frame_buffer: Option<u64>,
    frame_buffer_per_department: Option<u64>,
    blob_buffer: Option<u64>,
    blob_buffer_per_department: Option<u64>,
    receive_window: Option<u64>,
    stream_receive_window: Option<u64>,
    send_window: Option<u64>,
    requests_per_requester: Option<usize>,
    pending_quota: Option<u64>,
    blob_quota: Option<u64>,
    quota_recount_secs: Option<u64>,
    http: Option<SocketAddr>,
    http_cert: Option<PathBuf>,
    http_key: Option<PathBuf>,
    http_insecure_plaintext: Option<bool>,
    http_public_url: Option<String>,
    http_issuer_keys: Option<Vec<String>>,
}

impl ServeFile {
    /// The HTTP side's settings (taken out: the rest stays for QUIC).
    fn take_http(&mut self) -> crate::http::HttpFile {
        crate::http::HttpFile {
            addr: self.http.take(),
            cert: self.http_cert.take(),
            key: self.http_key.take(),
            insecure_plaintext: self.http_insecure_plaintext.take(),
            public_url: self.http_public_url.take(),
            issuer_keys: self.http_issuer_keys.take(),
        }
    }
}

pub async fn serve(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let notifier = crate::notify::Notifier::from_env()?.map(std::sync::Arc::new);
    let mut file = read_serve_file(args.config.as_deref())?;
    let config = serve_config(&args, &file);
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4433)));
    let hub = ctx.open().await?;
    let readiness = tongban_http::Readiness::new();
    let metrics = config.metrics.clone();
    let http = crate::http::bind(
        &args.http,
        file.take_http(),
        &hub,
        readiness.clone(),
        metrics,
    )
    .await?;
    let cert_and_key = (args.cert.or(file.cert), args.key.or(file.key));
    let tls = tls_material(ctx, &hub, cert_and_key, listen).await?;
    let endpoint = tongban_hub::bind(listen, &hub, &tls, &config).await?;
    let signal = shutdown_signal();
    readiness.set_quic_accepting(true);
    let identity = hub.identity().await?;
    eprintln!(
        "{} ({}) serving on {} (QUIC, ALPN tongban/1); Ctrl-C to stop",
        identity.name,
        identity.id,
        endpoint.local_addr()?
    );
    // HTTP keeps answering while QUIC drains (`/readyz` says so), and
    // stops once QUIC has.
    let (quic_done, http_stop) = tokio::sync::oneshot::channel::<()>();
    let mut status = format!("serving QUIC on {}", endpoint.local_addr()?);
    let http_task = http.map(|bound| {
        eprintln!("HTTP on {}", bound.describe());
        status.push_str(&format!(", HTTP on {}", bound.describe()));
        tokio::spawn(bound.serve(async move {
            let _ = http_stop.await;
        }))
    });
    if let Some(notifier) = &notifier {
        notifier.ready(&status);
        notifier.keep_watchdog();
    }
    let draining = readiness.clone();
    let shutdown = async move {
        signal.await;
        if let Some(notifier) = &notifier {
            notifier.stopping();
        }
        draining.set_draining();
    };
    let served = tongban_hub::run(endpoint, hub.clone(), tls, config, shutdown).await;
    readiness.set_quic_accepting(false);
    let _ = quic_done.send(());
    if let Some(task) = http_task {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "HTTP side ended with an error"),
            Err(e) => tracing::warn!(error = %e, "HTTP side failed"),
        }
    }
    served?;
    hub.close().await;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `--config`: the TOML file's settings, or none.
fn read_serve_file(path: Option<&Path>) -> anyhow::Result<ServeFile> {
    let Some(path) = path else {
        return Ok(ServeFile::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", path.display())))?;
    Ok(toml::from_str(&text)
        .map_err(|e| Coded::new("CONFIG_INVALID", format!("{}: {e}", path.display())))?)
}

/// The server's settings: an option given on the command line, else the
/// file's, else the default; each clamped to what the hub allows.
fn serve_config(args: &ServeArgs, file: &ServeFile) -> ServeConfig {
    let defaults = ServeConfig::default();
    let protocol = ServeConfig {
        max_frame: args
            .max_frame
            .or(file.max_frame)
            .unwrap_or(defaults.max_frame)
            .min(tongban_proto::frame::MAX_FRAME_CEILING),
        time_window: file
            .time_window_secs
            .map_or(defaults.time_window, time::Duration::seconds),
        redelivery_after: file
            .redelivery_after_secs
            .map_or(defaults.redelivery_after, Duration::from_secs),
        batch_max: args
            .batch_max
            .or(file.batch_max)
            .unwrap_or(defaults.batch_max)
            .clamp(1, tongban_store::MAX_ACCEPT_BATCH),
        idle_timeout: args
            .idle_timeout_secs
            .or(file.idle_timeout_secs)
            .map_or(defaults.idle_timeout, |s| Duration::from_secs(s.max(1))),
        keep_alive: args
            .keep_alive_secs
            .or(file.keep_alive_secs)
            .map_or(defaults.keep_alive, |s| Duration::from_secs(s.max(1))),
        drain_timeout: file
            .drain_timeout_secs
            .map_or(defaults.drain_timeout, Duration::from_secs),
        max_blob: args
            .max_blob
            .or(file.max_blob)
            .unwrap_or(defaults.max_blob)
            .min(tongban_store::MAX_BLOB_BYTES as u64),
        peer_refresh_every: args
            .peer_refresh_secs
            .or(file.peer_refresh_secs)
            .map_or(defaults.peer_refresh_every, |s| {
                Duration::from_secs(s.max(1))
            }),
        trust_valid_for: args
            .trust_valid_secs
            .or(file.trust_valid_secs)
            .map_or(defaults.trust_valid_for, |s| {
                time::Duration::seconds(s.clamp(1, 28 * 86_400))
            }),
        trust_rebuild_after: args
            .trust_rebuild_secs
            .or(file.trust_rebuild_secs)
            .map_or(defaults.trust_rebuild_after, Duration::from_secs),
        read_timeout: args
            .read_timeout_secs
            .or(file.read_timeout_secs)
            .map_or(defaults.read_timeout, |s| Duration::from_secs(s.max(1))),
        supervision_every: args
            .supervision_secs
            .or(file.supervision_secs)
            .map_or(defaults.supervision_every, |s| {
                Duration::from_secs(s.max(1))
            }),
        ..defaults
    };
    capacity_config(args, file, protocol)
}

/// The settings of capacity (connections, buffers, windows, rates and
/// quotas) over `base`.
fn capacity_config(args: &ServeArgs, file: &ServeFile, base: ServeConfig) -> ServeConfig {
    let defaults = ServeConfig::default();
    ServeConfig {
        licence_reads_per_minute: file
            .licence_reads_per_minute
            .unwrap_or(defaults.licence_reads_per_minute),
        licence_read_burst: file
            .licence_read_burst
            .unwrap_or(defaults.licence_read_burst),
        max_connections: file.max_connections.unwrap_or(defaults.max_connections),
        connections_per_department: args
            .connections_per_department
            .or(file.connections_per_department)
            .unwrap_or(defaults.connections_per_department),
        frame_buffer: file.frame_buffer.unwrap_or(defaults.frame_buffer),
        frame_buffer_per_department: file
            .frame_buffer_per_department
            .unwrap_or(defaults.frame_buffer_per_department),
        blob_buffer: file.blob_buffer.unwrap_or(defaults.blob_buffer),
        blob_buffer_per_department: file
            .blob_buffer_per_department
            .unwrap_or(defaults.blob_buffer_per_department),
        receive_window: file.receive_window.unwrap_or(defaults.receive_window),
        stream_receive_window: file
            .stream_receive_window
            .unwrap_or(defaults.stream_receive_window),
        send_window: file.send_window.unwrap_or(defaults.send_window),
        requests_per_requester: file
            .requests_per_requester
            .unwrap_or(defaults.requests_per_requester),
        pending_quota: args
            .pending_quota
            .or(file.pending_quota)
            .unwrap_or(defaults.pending_quota),
        blob_quota: args
            .blob_quota
            .or(file.blob_quota)
            .unwrap_or(defaults.blob_quota),
        quota_recount_every: file
            .quota_recount_secs
            .map_or(defaults.quota_recount_every, |s| {
                Duration::from_secs(s.max(1))
            }),
        ..base
    }
}

/// The server's TLS: the hub's CA, and the given certificate and key, or
/// (neither given) ones the CA issues for the listening address.
async fn tls_material(
    ctx: &Context,
    hub: &tongban_service::Service,
    cert_and_key: (Option<PathBuf>, Option<PathBuf>),
    listen: SocketAddr,
) -> anyhow::Result<TlsMaterial> {
    let ca = hub.ca_certificate().await.map_err(|e| {
        Coded::new(
            "CA_NOT_INITIALISED",
            format!("{e}: run `tongban ca init` first"),
        )
    })?;
    let (cert_path, key_path) = match cert_and_key {
        (Some(c), Some(k)) => (c, k),
        (None, None) => provision_server_cert(ctx, hub, listen.ip()).await?,
        _ => {
            return Err(
                Coded::new("CONFIG_INVALID", "give both --cert and --key, or neither").into(),
            );
        }
    };
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| Coded::new("IO", format!("{}: {e}", p.display())))
    };
    Ok(TlsMaterial {
        ca_pem: ca.pem.clone(),
        cert_pem: read(&cert_path)?,
        key_pem: read(&key_path)?,
    })
}

/// Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: once `/readyz` says ready, a SIGTERM
/// drains the hub instead of killing it.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            match streams {
                (Ok(mut interrupt), Ok(mut term)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Issues the hub's server certificate into <data-dir>/tls once.
async fn provision_server_cert(
    ctx: &Context,
    hub: &tongban_service::Service,
    ip: IpAddr,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = ctx.data_dir.join("tls");
    let (cert, key) = (dir.join("server-cert.pem"), dir.join("server-key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir)?;
    let mut ips = vec![ip];
    if ip.is_unspecified() {
        ips = vec![IpAddr::from([127, 0, 0, 1])];
    }
    let issued = hub
        .ca_issue(
            CertRequest::Server {
                dns: vec!["localhost".into()],
                ips,
            },
            None,
        )
        .await?;
    write_owner_only(&key, issued.key_pem.as_bytes())?;
    std::fs::write(&cert, &issued.row.pem)?;
    eprintln!("issued the hub's server certificate into {}", dir.display());
    Ok((cert, key))
}

/// How a department's system reaches the hub.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The hub's address. For a hub with several nodes, repeat the flag or
    /// separate addresses with commas: they are tried in order, each within
    /// --connect-timeout, and a reconnecting `listen` moves on to the next.
    #[arg(
        long = "hub",
        env = "TONGBAN_HUB",
        default_value = "127.0.0.1:4433",
        value_delimiter = ','
    )]
    hubs: Vec<SocketAddr>,
    /// How long one address may take to answer before the next is tried,
    /// e.g. 5s, 500ms.
    #[arg(long, env = "TONGBAN_CONNECT_TIMEOUT", default_value = "5s", value_parser = positive_duration)]
    connect_timeout: Duration,
    /// Name in the hub's server certificate.
    #[arg(long, env = "TONGBAN_SERVER_NAME", default_value = "localhost")]
    server_name: String,
    /// Directory with ca.pem, cert.pem, key.pem (from `tongban ca issue client`) and
    /// signing.key (from `tongban key export-secret`).
    #[arg(long, env = "TONGBAN_CREDENTIALS")]
    credentials: PathBuf,
}

/// A duration with its unit (`5s`, `500ms`, `1m`), longer than zero.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (give a unit, e.g. 5s or 500ms)")),
    }
}

/// What connects to the hub: the credentials read and checked once, the
/// addresses tried in turn.
pub(crate) fn connector(args: &ClientArgs) -> anyhow::Result<Connector> {
    let read = |name: &str| {
        let p = args.credentials.join(name);
        std::fs::read_to_string(&p)
            .map_err(|e| Coded::new("CREDENTIALS_MISSING", format!("{}: {e}", p.display())))
    };
    let cert_pem = read("cert.pem")?;
    let signing = read("signing.key")?;
    let signing_key = tongban_seal::SigningKey::from_secret_multikey(signing.trim())
        .map_err(|e| Coded::new("CREDENTIALS_INVALID", format!("signing.key: {e}")))?;
    let department = department_in(&cert_pem)?;
    let cfg = ClientConfig {
        hubs: args.hubs.clone(),
        server_name: args.server_name.clone(),
        ca_pem: read("ca.pem")?,
        cert_pem,
        key_pem: read("key.pem")?,
        department,
        signing_key,
        timeouts: Timeouts {
            connect_timeout: args.connect_timeout,
            ..Timeouts::default()
        },
    };
    Ok(Connector::new(cfg).map_err(|e| Coded::new("CREDENTIALS_INVALID", e.to_string()))?)
}

pub(crate) async fn connect(args: &ClientArgs) -> anyhow::Result<Client> {
    connector(args)?.connect().await.map_err(refused)
}

fn department_in(cert_pem: &str) -> anyhow::Result<String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| Coded::new("CREDENTIALS_INVALID", format!("cert.pem: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| Coded::new("CREDENTIALS_INVALID", format!("cert.pem: {e}")))?;
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Coded::new("CREDENTIALS_INVALID", "cert.pem names no department").into())
}

/// A client error as a coded error: a hub service's own code when it gave
/// one (`SERVICE_REFUSED` with reason `ITEM_UNKNOWN` reports
/// `ITEM_UNKNOWN`), the code a rejection's reason phrase starts with
/// (`DEPARTMENT_INACTIVE: …`), `CONNECT_FAILED` when no address answered.
pub(crate) fn refused(e: ClientError) -> anyhow::Error {
    match (&e, e.reason(), e.code()) {
        (_, Some(reason), _) => Coded::owned(reason.to_owned(), e.to_string()).into(),
        (_, None, Some(code)) => Coded::new(code.as_str(), e.to_string()).into(),
        (ClientError::Rejected(phrase), ..) => match leading_code(phrase) {
            Some(code) => Coded::owned(code.to_owned(), e.to_string()).into(),
            None => Coded::new("CONNECT_FAILED", e.to_string()).into(),
        },
        (ClientError::Connect(_) | ClientError::Config(_), ..) => {
            Coded::new("CONNECT_FAILED", e.to_string()).into()
        }
        _ => Coded::new("EXCHANGE_FAILED", e.to_string()).into(),
    }
}

/// `DEPARTMENT_INACTIVE` of `DEPARTMENT_INACTIVE: department … is suspended`.
fn leading_code(phrase: &str) -> Option<&str> {
    let (code, _) = phrase.split_once(':')?;
    let is_code = code.len() > 2 && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    is_code.then_some(code)
}

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Recipient department (or use --topic).
    #[arg(long, conflicts_with = "topic", required_unless_present = "topic")]
    to: Option<String>,
    /// Publish on the resource's topic instead.
    #[arg(long)]
    topic: bool,
    /// Resource.
    #[arg(long)]
    resource: String,
    /// Payload schema id@version.
    #[arg(long)]
    schema: String,
    /// Payload (JSON file).
    #[arg(long)]
    payload: PathBuf,
    /// Attempts at most (the first included) when the connection breaks or
    /// the hub refuses for a passing reason: the same signed envelope is
    /// sent again, through the next --hub address if the node went away,
    /// waiting 0.25 s, then twice as long each time, at most 5 s.
    #[arg(long, default_value_t = tongban_client::DEFAULT_RETRY_ATTEMPTS,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    attempts: u32,
}

/// Sends one message; once connected, a transient failure is retried with
/// the same envelope (`Failover`), and a `REPLAY` of such a resend means
/// the hub had stored it: accepted, its sequence number unknown (`seq`
/// null in `--json`).
pub async fn send(ctx: &Context, args: SendArgs) -> anyhow::Result<ExitCode> {
    let payload = read_json(&args.payload)?;
    let sender = Failover::new(connector(&args.client)?).with_retry(Retry {
        attempts: args.attempts,
        ..Retry::default()
    });
    let (_, client) = sender.client().await.map_err(refused)?;
    let draft = match &args.to {
        Some(to) => client.message_to(to, &args.resource, &args.schema, payload),
        None => client.publication(&args.resource, &args.schema, payload),
    };
    let stored = sender.send(draft).await.map_err(refused)?;
    if ctx.json {
        print_json(&json!({"id": stored.id, "seq": stored.seq, "attempts": stored.attempts}))?;
    } else {
        match stored.seq {
            Some(seq) => println!(
                "accepted {} as #{seq} (stored and logged by the hub)",
                stored.id
            ),
            None => println!(
                "accepted {} (stored and logged by the hub at an earlier attempt, whose answer was lost)",
                stored.id
            ),
        }
    }
    sender.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Resource to ask its provider about.
    #[arg(long)]
    resource: String,
    /// Schema of the request payload, id@version.
    #[arg(long)]
    schema: String,
    /// Request payload (JSON file).
    #[arg(long)]
    payload: PathBuf,
    /// How long to wait for the provider (ms).
    #[arg(long, default_value_t = tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS)]
    timeout_ms: u64,
}

pub async fn request(_ctx: &Context, args: RequestArgs) -> anyhow::Result<ExitCode> {
    let payload = read_json(&args.payload)?;
    let client = connect(&args.client).await?;
    let draft = client.request_for(&args.resource, &args.schema, payload);
    let response = client
        .request(draft, args.timeout_ms)
        .await
        .map_err(refused)?;
    print_json(&response)?;
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The blob's hex SHA-256 (`payloadRef.sha256` of an envelope).
    sha256: String,
    /// Write the bytes here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn download(ctx: &Context, args: DownloadArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.client).await?;
    let (bytes, media_type) = client.download(&args.sha256).await.map_err(refused)?;
    client.close().await;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .map_err(|e| Coded::new("WRITE_FAILED", format!("{}: {e}", path.display())))?;
            if ctx.json {
                print_json(
                    &json!({"sha256": args.sha256, "size": bytes.len(), "mediaType": media_type, "out": path}),
                )?;
            } else {
                eprintln!(
                    "wrote {} bytes ({media_type}) to {}",
                    bytes.len(),
                    path.display()
                );
            }
        }
        None if ctx.json => {
            use base64::Engine;
            print_json(&json!({
                "sha256": args.sha256, "size": bytes.len(), "mediaType": media_type,
                "contentBase64": base64::engine::general_purpose::STANDARD.encode(&bytes),
            }))?;
        }
        None => write_stdout(&bytes),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RecordsArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The resource whose records to read.
    #[arg(long)]
    resource: String,
    /// Only records after this sequence number (the `next` of a previous page).
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// Most records per page (1 to 100).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Follow `next` until the end instead of printing one page.
    #[arg(long)]
    all: bool,
}

/// Prints records as JSON lines `{"seq", "envelope"}`; the last line (or
/// standard error without --json) says where the next page starts.
pub async fn records(ctx: &Context, args: RecordsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.client).await?;
    let mut after = args.after;
    let mut total = 0usize;
    let next = loop {
        let (page, next) = client
            .records(&args.resource, after, args.limit)
            .await
            .map_err(refused)?;
        total += page.len();
        for (seq, envelope) in page {
            print_json_line(&json!({"seq": seq, "envelope": envelope}))?;
        }
        match next {
            Some(n) if args.all && n > after => after = n,
            Some(n) if args.all => {
                return Err(Coded::new(
                    "EXCHANGE_FAILED",
                    format!("the hub's next page ({n}) does not move past {after}"),
                )
                .into());
            }
            other => break other,
        }
    };
    client.close().await;
    if ctx.json {
        print_json_line(&json!({"records": total, "next": next}))?;
    } else {
        match next {
            Some(n) => eprintln!("{total} records; more after {n} (--after {n})"),
            None => eprintln!("{total} records; no more"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only exchanges from this day on (YYYY-MM-DD, UTC).
    #[arg(long)]
    since: Option<String>,
}

/// The statistics a service centre reports: records exchanged, requests
/// served and refusals, per resource and per department.
pub async fn stats(ctx: &Context, args: StatsArgs) -> anyhow::Result<ExitCode> {
    let since = match &args.since {
        None => None,
        Some(d) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(d, format).map_err(|e| {
                Coded::usage("DATE_INVALID", format!("--since {d:?}: {e} (YYYY-MM-DD)"))
            })?;
            Some(date.midnight().assume_utc())
        }
    };
    let hub = ctx.open().await?;
    let stats = hub.store().exchange_statistics(since).await?;
    let names: std::collections::HashMap<String, String> = hub
        .store()
        .departments()
        .await?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect();
    hub.close().await;
    if ctx.json {
        print_json(&stats)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "exchange statistics{}",
        args.since
            .as_ref()
            .map(|d| format!(" since {d}"))
            .unwrap_or_default()
    );
    print_by_resource(&stats);
    print_by_department(&stats, &names);
    if !stats.refusal_codes.is_empty() {
        println!("\nrefusals by code:");
        for (code, n) in &stats.refusal_codes {
            println!("  {code:<24} {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `stats`: the table of exchanges per resource.
fn print_by_resource(stats: &tongban_store::ExchangeStats) {
    println!("\nby resource:");
    let counts = [1, 2, 3, 4, 5];
    let mut table = Table::new().right_aligned(&counts).indented(2);
    table.row([
        "resource",
        "records",
        "delivered",
        "requests",
        "served",
        "refused",
    ]);
    for r in &stats.resources {
        table.row([
            r.resource.clone(),
            r.records.to_string(),
            r.deliveries.to_string(),
            r.requests.to_string(),
            r.served.to_string(),
            r.refusals.to_string(),
        ]);
    }
    table.print();
}

/// `stats`: the table of exchanges per department, with its name.
fn print_by_department(
    stats: &tongban_store::ExchangeStats,
    names: &std::collections::HashMap<String, String>,
) {
    let counts = [1, 2, 3, 4, 5];
    println!("\nby department:");
    let mut table = Table::new().right_aligned(&counts).indented(2);
    table.row([
        "department",
        "provided",
        "received",
        "requested",
        "served",
        "refused",
        "name",
    ]);
    for d in &stats.departments {
        table.row([
            d.department.clone(),
            d.records_sent.to_string(),
            d.records_received.to_string(),
            d.requests_made.to_string(),
            d.requests_served.to_string(),
            d.refusals.to_string(),
            names.get(&d.department).cloned().unwrap_or_default(),
        ]);
    }
    table.print();
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Subscribe to these topics first (repeatable).
    #[arg(long)]
    subscribe: Vec<String>,
    /// Stop after this many deliveries.
    #[arg(long)]
    count: Option<u64>,
    /// Answer requests with this payload (JSON file)…
    #[arg(long, requires = "respond_schema")]
    respond_with: Option<PathBuf>,
    /// …of this schema (id@version).
    #[arg(long)]
    respond_schema: Option<String>,
    /// Most unacknowledged deliveries at a time.
    #[arg(long, default_value_t = tongban_proto::ops::DEFAULT_IN_FLIGHT)]
    max_in_flight: u32,
    /// Exit with an error when the connection is lost or the hub cannot be
    /// reached. By default `listen` keeps trying, the --hub addresses in
    /// turn, waiting up to 0.5 s, then up to twice as long each time, at
    /// most 30 s (jittered), and says on standard error why and when; it
    /// stops only when the hub turns the department or its certificate
    /// away.
    #[arg(long)]
    no_reconnect: bool,
}

/// Listens until --count deliveries were handled, or Ctrl-C / SIGTERM:
/// then it stops listening, closes the connection with `DONE` and exits 0.
/// A lost connection is made again (see --no-reconnect).
pub async fn listen(_ctx: &Context, args: ListenArgs) -> anyhow::Result<ExitCode> {
    let answer: Option<Value> = match &args.respond_with {
        Some(p) => Some(read_json(p)?),
        None => None,
    };
    let connector = connector(&args.client)?;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut session = Session {
        args: &args,
        answer: answer.as_ref(),
        seen: 0,
        backoff: Backoff::default(),
    };
    loop {
        let connected = tokio::select! {
            c = connector.connect() => c,
            () = &mut shutdown => return Ok(ExitCode::SUCCESS),
        };
        let (what, error) = match connected {
            Ok(client) => {
                let ended = session.listen_on(&client, &mut shutdown).await;
                client.close().await;
                match ended {
                    Ended::Stopped => return Ok(ExitCode::SUCCESS),
                    Ended::Lost(e) => (format!("connection to {} lost", client.hub()), e),
                    Ended::Failed(e) => return Err(e),
                }
            }
            Err(e) => ("could not connect".to_owned(), e),
        };
        if args.no_reconnect || !error.is_transient() {
            return Err(refused(error));
        }
        let delay = session.backoff.next_delay();
        eprintln!(
            "listen: {what}: {error}; reconnecting in {:.1} s (attempt {})",
            delay.as_secs_f64(),
            session.backoff.attempts()
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = &mut shutdown => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// How long a listener that stops waits for the hub to take its acks.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// What `listen` carries from one connection to the next.
struct Session<'a> {
    args: &'a ListenArgs,
    answer: Option<&'a Value>,
    seen: u64,
    backoff: Backoff,
}

/// How listening on one connection ended.
enum Ended {
    /// --count reached, or a signal: exit 0.
    Stopped,
    /// The connection or the listen stream broke, or the hub refused.
    Lost(ClientError),
    /// Printing a delivery failed here (e.g. `--select` names a member
    /// the delivery lacks): not the connection's fault, so no reconnect.
    Failed(anyhow::Error),
}

/// Why handling one delivery stopped.
enum HandleError {
    Client(ClientError),
    Output(anyhow::Error),
}

impl From<ClientError> for HandleError {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

impl Session<'_> {
    /// Subscribes, listens and handles deliveries on one connection.
    async fn listen_on(
        &mut self,
        client: &Client,
        shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> Ended {
        let args = self.args;
        if !args.subscribe.is_empty() {
            let topics: Vec<&str> = args.subscribe.iter().map(String::as_str).collect();
            match client.subscribe(&topics).await {
                Ok(now) => eprintln!("subscribed to {}", now.join(", ")),
                Err(e) => return Ended::Lost(e),
            }
        }
        let mut listener = match client.listen(args.max_in_flight).await {
            Ok(l) => l,
            Err(e) => return Ended::Lost(e),
        };
        eprintln!("listening as {} on {}", client.department(), client.hub());
        // Registered: the connection works; a later loss starts the
        // back-off from the beginning.
        self.backoff.reset();
        loop {
            if args.count.is_some_and(|c| self.seen >= c) {
                // The hub has taken every ack once it ends the stream.
                let _ = listener.finish(FINISH_WAIT).await;
                return Ended::Stopped;
            }
            let event = tokio::select! {
                e = listener.next() => e,
                () = shutdown.as_mut() => {
                    let _ = listener.finish(FINISH_WAIT).await;
                    return Ended::Stopped;
                }
            };
            let handled = match event {
                Ok(Some(event)) => self.handle(client, &mut listener, event).await,
                Ok(None) => Err(HandleError::Client(why_ended(client).await)),
                Err(e) => Err(HandleError::Client(e)),
            };
            match handled {
                Ok(()) => {}
                Err(HandleError::Client(e)) => return Ended::Lost(e),
                Err(HandleError::Output(e)) => return Ended::Failed(e),
            }
        }
    }

    async fn handle(
        &mut self,
        client: &Client,
        listener: &mut tongban_client::Listener,
        event: Event,
    ) -> Result<(), HandleError> {
        match event {
            Event::Delivery(d) => {
                let mut line = json!({"delivery": d.delivery, "envelope": d.envelope});
                if d.envelope.get("payloadRef").is_some_and(|r| !r.is_null()) {
                    line["payload"] = client.payload(&d.envelope).await?;
                }
                print_json_line(&line).map_err(HandleError::Output)?;
                if d.kind() == "request" {
                    if let (Some(payload), Some(schema)) = (self.answer, &self.args.respond_schema)
                    {
                        listener.respond(&d, schema, payload.clone()).await?;
                    }
                } else {
                    listener.ack(d.delivery).await?;
                }
                self.seen += 1;
            }
            Event::ResponseAccepted(a) => eprintln!("response {} accepted as #{}", a.id, a.seq),
            // The hub ends the stream after this one; the connection follows.
            Event::Refused(e) if e.code == tongban_proto::ErrorCode::DepartmentInactive => {
                return Err(ClientError::Refused(e).into());
            }
            Event::Refused(e) => eprintln!("refused: {e}"),
        }
        Ok(())
    }
}

/// Why the hub ended a listen stream: the connection's close (a shutting
/// down hub ends listen streams first, then closes), if it follows soon.
async fn why_ended(client: &Client) -> ClientError {
    tokio::time::timeout(Duration::from_secs(2), client.closed())
        .await
        .unwrap_or_else(|_| ClientError::Connection("the hub ended the listen stream".into()))
}
