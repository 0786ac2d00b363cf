//! `tongban serve`'s HTTP side: its options, and starting it beside QUIC.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use tongban_http::{HttpConfig, HttpListener, HttpState, Readiness};
use tongban_seal::{KeyPurpose, KeyRecord, PublicKey, Validity};

use crate::output::Coded;

/// The HTTP side's options.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Also serve HTTP on this address (TCP): health, public verification,
    /// trust material (docs/API.md).
    #[arg(long = "http", env = "TONGBAN_HTTP")]
    pub addr: Option<SocketAddr>,
    /// TLS certificate chain (PEM) for the HTTP side; without it HTTP is
    /// plain, which is only allowed on loopback.
    #[arg(long, env = "TONGBAN_HTTP_CERT", requires = "http_key")]
    pub http_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "TONGBAN_HTTP_KEY", requires = "http_cert")]
    pub http_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other hosts reach: requests and
    /// answers travel unencrypted and unauthenticated (behind a proxy that
    /// terminates TLS on the same host, say).
    #[arg(long)]
    pub http_insecure_plaintext: bool,
    /// The URL the HTTP side is reached at from outside, e.g.
    /// https://tongban.example.gov.cn (QR codes point there; default: the
    /// listening address).
    #[arg(long, env = "TONGBAN_HTTP_PUBLIC_URL")]
    pub http_public_url: Option<String>,
    /// An issuer outside the region whose credentials `POST
    /// /credentials/verify` accepts, as `{issuer}#{multikey}`; repeatable.
    #[arg(long = "http-issuer-key")]
    pub http_issuer_keys: Vec<String>,
}

/// The same settings from the serve configuration file.
#[derive(Debug, Default)]
pub struct HttpFile {
    pub addr: Option<SocketAddr>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure_plaintext: Option<bool>,
    pub public_url: Option<String>,
    pub issuer_keys: Option<Vec<String>>,
}

/// The HTTP side, bound and ready to serve.
#[derive(Debug)]
pub struct Bound {
    listener: HttpListener,
    state: HttpState,
}

impl Bound {
    /// Where it listens, and whether with TLS.
    pub fn describe(&self) -> String {
        let scheme = if self.listener.is_tls() {
            "https"
        } else {
            "http"
        };
        match self.listener.local_addr() {
            Ok(addr) => format!("{scheme}://{addr}"),
            Err(_) => scheme.to_owned(),
        }
    }

    /// Serves until `shutdown`, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        Ok(tongban_http::serve(self.listener, self.state, shutdown).await?)
    }
}

/// Binds the HTTP side when an address is given (flags over the file);
/// refuses plain HTTP off loopback unless told it is insecure, before
/// anything listens. `/metrics` serves `metrics`, the set the QUIC side
/// counts into.
pub async fn bind(
    args: &HttpArgs,
    file: HttpFile,
    hub: &tongban_service::Service,
    readiness: Readiness,
    metrics: tongban_hub::Metrics,
) -> anyhow::Result<Option<Bound>> {
    let Some(addr) = args.addr.or(file.addr) else {
        return Ok(None);
    };
    let cert_and_key = match (args.http_cert.clone(), args.http_key.clone()) {
        (Some(c), Some(k)) => Some((c, k)),
        _ => match (file.cert, file.key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(Coded::new(
                    "CONFIG_INVALID",
                    "give both http_cert and http_key, or neither",
                )
                .into());
            }
        },
    };
    let insecure = args.http_insecure_plaintext || file.insecure_plaintext.unwrap_or(false);
    let tls = match cert_and_key {
        Some((cert, key)) => {
            // Departments' client certificates of this hub's CA, when it
            // has one, authenticate to the administrative API.
            let client_ca = hub.ca_certificate().await.ok().map(|ca| ca.pem);
            Some(
                tongban_http::tls_config(&read(&cert)?, &read(&key)?, client_ca.as_deref())
                    .map_err(|e| Coded::usage(e.code(), e.to_string()))?,
            )
        }
        None => {
            tongban_http::check_plaintext(addr, insecure)
                .map_err(|e| Coded::usage(e.code(), e.to_string()))?;
            None
        }
    };
    let mut issuer_keys = Vec::new();
    for text in args
        .http_issuer_keys
        .iter()
        .chain(file.issuer_keys.iter().flatten())
    {
        issuer_keys.push(issuer_key(text)?);
    }
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Coded::new("IO", format!("HTTP on {addr}: {e}")))?;
    let local = tcp.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = args
        .http_public_url
        .clone()
        .or(file.public_url)
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    let config = HttpConfig {
        issuer_keys,
        ..HttpConfig::new(public_url)
    };
    Ok(Some(Bound {
        listener: HttpListener::new(tcp, tls),
        state: HttpState::new(hub.clone(), config, readiness).with_metrics(metrics),
    }))
}

fn read(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", path.display())))?)
}

/// `{issuer}#{multikey}`, as `licence verify --key` takes it.
fn issuer_key(text: &str) -> anyhow::Result<KeyRecord> {
    let (controller, multikey) = text.rsplit_once('#').ok_or_else(|| {
        Coded::usage("KEY_INVALID", "--http-issuer-key takes {issuer}#{multikey}")
    })?;
    let public = PublicKey::from_multikey(multikey)
        .map_err(|e| Coded::usage("KEY_INVALID", format!("--http-issuer-key: {e}")))?;
    Ok(KeyRecord {
        controller: controller.to_owned(),
        public,
        validity: Validity::from(time::OffsetDateTime::UNIX_EPOCH),
        purpose: KeyPurpose::Issue,
    })
}
