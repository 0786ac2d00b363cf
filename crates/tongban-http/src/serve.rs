//! Listening: plain TCP or TLS (rustls, ring), and the rule that plain
//! HTTP is for loopback unless the operator says it is insecure.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::HttpState;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the HTTP side cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Plain HTTP asked for on an address other hosts reach.
    #[error(
        "plain HTTP on {0} would be readable on the network: give --http-cert and --http-key, listen on loopback, or accept it with --http-insecure-plaintext"
    )]
    PlaintextNotLoopback(SocketAddr),
    /// The certificate or key does not parse, or they do not match.
    #[error("HTTP TLS: {0}")]
    Tls(String),
}

impl SetupError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::PlaintextNotLoopback(_) => "HTTP_PLAINTEXT_NOT_LOOPBACK",
            SetupError::Tls(_) => "HTTP_TLS_INVALID",
        }
    }
}

/// Plain HTTP only on loopback, unless `insecure` (the operator's
/// `--http-insecure-plaintext`).
pub fn check_plaintext(addr: SocketAddr, insecure: bool) -> Result<(), SetupError> {
    if insecure || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(SetupError::PlaintextNotLoopback(addr))
    }
}

/// A TLS server configuration from a PEM certificate chain and key (ring).
/// With `client_ca` (PEM), clients may present a certificate that chains
/// to it (departments authenticate so, `admin::Caller`); those that
/// present none are served too, as the public endpoints need no
/// certificate.
pub fn tls_config(
    cert_pem: &str,
    key_pem: &str,
    client_ca: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>, SetupError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| SetupError::Tls(format!("certificate: {e}")))?;
    if chain.is_empty() {
        return Err(SetupError::Tls("no certificate in the PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| SetupError::Tls(format!("key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Tls(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| SetupError::Tls(format!("client CA: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| SetupError::Tls(format!("client CA: {e}")))?;
            }
            if roots.is_empty() {
                return Err(SetupError::Tls(
                    "no certificate in the client CA PEM".into(),
                ));
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| SetupError::Tls(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| SetupError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Where the HTTP side listens: TCP, with TLS when configured.
#[derive(Debug)]
pub struct HttpListener {
    tcp: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl HttpListener {
    /// Listens on `tcp`; TLS when `tls` is given.
    pub fn new(tcp: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        HttpListener { tcp, tls }
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// Who is at the other end of a connection: its address, and the client
/// certificate it presented over TLS (DER), its chain to the hub's CA
/// already checked by the handshake.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The remote address.
    pub addr: SocketAddr,
    /// The end-entity certificate presented, if any.
    pub certificate: Option<Vec<u8>>,
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            certificate: None,
        }
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        let (_, session) = stream.io().get_ref();
        Peer {
            addr: *stream.remote_addr(),
            certificate: session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|c| c.as_ref().to_vec()),
        }
    }
}

/// Serves the HTTP side on `listener` until `shutdown` completes, then
/// finishes the requests in flight.
pub async fn serve(
    listener: HttpListener,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = crate::router(state);
    match listener.tls {
        None => {
            axum::serve(
                listener.tcp,
                app.into_make_service_with_connect_info::<Peer>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        Some(config) => {
            let tls = TlsListener::start(listener.tcp, TlsAcceptor::from(config))?;
            axum::serve(tls, app.into_make_service_with_connect_info::<Peer>())
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// Accepts TCP connections and hands over those whose TLS handshake
/// succeeded; handshakes run in their own tasks, so a slow client holds
/// up nobody.
pub(crate) struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    fn start(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = tcp.accept() => accepted,
                    () = tx.closed() => return,
                };
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::debug!(error = %e, "HTTP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accepting task ended: nothing will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_loopback_unless_insecure() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!());
        let v6: SocketAddr = "[::1]:8080".parse().unwrap_or_else(|_| unreachable!());
        let open: SocketAddr = "0.0.0.0:8080".parse().unwrap_or_else(|_| unreachable!());
        let lan: SocketAddr = "10.1.2.3:8080".parse().unwrap_or_else(|_| unreachable!());
        assert!(check_plaintext(loopback, false).is_ok());
        assert!(check_plaintext(v6, false).is_ok());
        for addr in [open, lan] {
            let refused = check_plaintext(addr, false).map_err(|e| e.code());
            assert_eq!(refused, Err("HTTP_PLAINTEXT_NOT_LOOPBACK"));
            assert!(check_plaintext(addr, true).is_ok());
        }
    }
}
