//! The QUIC server's TLS configuration: TLS 1.3, ALPN `tongban/1`, client
//! certificates from this hub's CA (CRL enforced) or an active peer's CA,
//! rebuilt with every CRL reload and whenever the active peers change.
//!
//! An `EitherVerifier` lets the handshake pass a chain that the hub's CA (CRL
//! enforced) or any peer's CA (with the CRL its hub served, if any) vouches
//! for; a refusal names the reason of the CA that knew the certificate. The
//! `Verifiers` it keeps (the hub's CA, and each peer's CA by region) decide
//! after the handshake which one it is (`conn::identity`).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use std::net::SocketAddr;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use tongban_service::Service;

use crate::{ServeConfig, ServeError, Shared, TlsMaterial};

/// The QUIC server configuration: TLS 1.3, ALPN `tongban/1`, client
/// certificates required and checked against the CA and the CRL.
pub fn quic_server_config(
    tls: &TlsMaterial,
    crl_pem: &str,
    config: &ServeConfig,
) -> Result<quinn::ServerConfig, ServeError> {
    Ok(server_config(tls, crl_pem, &[], config)?.0)
}

/// Who may connect: departments with certificates from this hub's CA (CRL
/// enforced), and peer hubs with certificates from their own CAs.
#[derive(Clone)]
pub(crate) struct Verifiers {
    /// This hub's CA, with its CRL.
    pub own: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    /// Each active peer's CA, by region.
    pub peers:
        std::collections::HashMap<String, Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

/// Accepts a chain that this hub's CA or any peer's CA vouches for; which
/// one (and so whether the connection is a department or a peer hub) is
/// decided after the handshake, with [`Verifiers`].
#[derive(Debug)]
struct EitherVerifier {
    own: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    peers: Vec<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    hints: Vec<rustls::DistinguishedName>,
}

impl rustls::server::danger::ClientCertVerifier for EitherVerifier {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        let unknown_issuer = |e: &rustls::Error| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            )
        };
        match self.own.verify_client_cert(end_entity, intermediates, now) {
            Ok(v) => Ok(v),
            Err(mut refused) => {
                for p in &self.peers {
                    match p.verify_client_cert(end_entity, intermediates, now) {
                        Ok(v) => return Ok(v),
                        // The CA that knows the certificate says why (e.g.
                        // revoked), rather than the others' "unknown issuer".
                        Err(e) if unknown_issuer(&refused) && !unknown_issuer(&e) => refused = e,
                        Err(_) => {}
                    }
                }
                Err(refused)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.own.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.own.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.own.supported_verify_schemes()
    }
}

/// A verifier of client certificates from the CA in `ca_pem`, with its CRL.
/// For a peer's CA (`peer`), only the certificate itself is looked up in
/// the CRL its hub served, and a certificate the CRL does not cover (one
/// from an intermediate CA) is not refused for that alone.
fn ca_verifier(
    ca_pem: &str,
    crl_pem: Option<&str>,
    peer: bool,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, ServeError> {
    let bad = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| bad(&e))?)
        .map_err(|e| bad(&e))?;
    let crls: Vec<CertificateRevocationListDer<'static>> = match crl_pem {
        Some(pem) => CertificateRevocationListDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e))?,
        None => Vec::new(),
    };
    let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(provider),
    )
    .with_crls(crls);
    let builder = if peer {
        builder
            .only_check_end_entity_revocation()
            .allow_unknown_revocation_status()
    } else {
        builder
    };
    builder.build().map_err(|e| bad(&e))
}

/// The server configuration and the verifiers it admits clients with;
/// `peers` are active peers' (region, CA PEM, its CRL if served).
pub(crate) fn server_config(
    tls: &TlsMaterial,
    crl_pem: &str,
    peers: &[PeerCa],
    config: &ServeConfig,
) -> Result<(quinn::ServerConfig, Verifiers), ServeError> {
    let bad = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let own = ca_verifier(&tls.ca_pem, Some(crl_pem), false, &provider)?;
    let mut verifiers = Verifiers {
        own: Arc::clone(&own),
        peers: std::collections::HashMap::new(),
    };
    for (region, ca_pem, crl) in peers {
        match ca_verifier(ca_pem, crl.as_deref(), true, &provider) {
            Ok(v) => {
                verifiers.peers.insert(region.clone(), v);
            }
            Err(e) => tracing::warn!(peer = %region, error = %e, "the peer's CA is unusable"),
        }
    }
    let mut hints = own.root_hint_subjects().to_vec();
    for v in verifiers.peers.values() {
        hints.extend_from_slice(v.root_hint_subjects());
    }
    let verifier = Arc::new(EitherVerifier {
        own,
        peers: verifiers.peers.values().cloned().collect(),
        hints,
    });
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).map_err(|e| bad(&e))?;
    let mut rustls_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| bad(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| bad(&e))?;
    rustls_config.alpn_protocols = vec![tongban_proto::ALPN.to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(rustls_config).map_err(|e| bad(&e))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    // What a client may make the hub buffer is bounded: unread bytes per
    // connection and per stream by these windows, bytes read into frames
    // by `frame_buffer`, unacknowledged bytes sent by `send_window`.
    let window = |n: u64| quinn::VarInt::from_u64(n).map_err(|e| bad(&e));
    transport
        .max_concurrent_bidi_streams(config.max_streams_per_connection.into())
        .max_concurrent_uni_streams(0u32.into())
        .receive_window(window(config.receive_window)?)
        .stream_receive_window(window(
            config.stream_receive_window.min(config.receive_window),
        )?)
        .send_window(config.send_window)
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(config.idle_timeout).map_err(|e| bad(&e))?,
        ))
        // The hub's own keep-alive keeps a live client's connection up
        // even when the client sends none (its acknowledgements count).
        .keep_alive_interval(Some(
            config
                .keep_alive
                .min(config.idle_timeout / 2)
                .max(Duration::from_millis(100)),
        ));
    server.transport_config(Arc::new(transport));
    Ok((server, verifiers))
}

/// Active peers' (region, CA PEM), by region.
pub(crate) async fn peer_cas(hub: &Service) -> Result<Vec<PeerCa>, ServeError> {
    Ok(hub.peer_cas().await?)
}

/// An active peer's region, CA certificate and CRL (PEM).
pub(crate) type PeerCa = (String, String, Option<String>);

/// Rebuilds the TLS configuration (CRL, peers' CAs) and installs it.
pub(crate) async fn rebuild_tls(
    shared: &Shared,
    tls: &TlsMaterial,
    endpoint: &quinn::Endpoint,
) -> Result<(), ServeError> {
    let crl = shared.hub.ca_crl().await?;
    let peers = peer_cas(&shared.hub).await?;
    let (server, verifiers) = server_config(tls, &crl, &peers, &shared.config)?;
    *shared
        .verifiers
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = verifiers;
    endpoint.set_server_config(Some(server));
    Ok(())
}

/// Binds a QUIC endpoint for the hub.
pub async fn bind(
    addr: SocketAddr,
    hub: &Service,
    tls: &TlsMaterial,
    config: &ServeConfig,
) -> Result<quinn::Endpoint, ServeError> {
    let crl = hub.ca_crl().await?;
    // Peers' CAs too: a peer may connect before `run` installs its own.
    let (server, _) = server_config(tls, &crl, &peer_cas(hub).await?, config)?;
    Ok(quinn::Endpoint::server(server, addr)?)
}
