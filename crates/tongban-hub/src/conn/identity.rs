//! Who a connection is, from its client certificate: a department (a
//! certificate from this hub's CA, its first CN) or a peer hub (a
//! certificate from that peer's CA naming `urn:tongban:hub:{region}`).

use crate::Shared;

/// The client certificate's serial number, lower-case hex.
pub(super) fn certificate_serial(conn: &quinn::Connection) -> Option<String> {
    let identity = conn.peer_identity()?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs.first()?.as_ref()).ok()?;
    Some(
        cert.raw_serial()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Who connected: a department (certificate from this hub's CA) or a peer
/// hub (certificate from the CA of the peer it names).
pub(super) enum Party {
    Department(String),
    Peer(String),
}

/// The certificate chain a client presented, non-empty; a refusal starts
/// with `who` (`DEPARTMENT_UNKNOWN`, `PEER_UNKNOWN`).
fn client_chain(
    conn: &quinn::Connection,
    who: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let identity = conn
        .peer_identity()
        .ok_or_else(|| format!("{who}: no client certificate"))?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .map_err(|_| format!("{who}: unreadable client certificate"))?;
    if certs.is_empty() {
        return Err(format!("{who}: empty certificate chain"));
    }
    Ok(*certs)
}

pub(super) fn party_of(conn: &quinn::Connection, shared: &Shared) -> Result<Party, String> {
    let certs = client_chain(conn, "DEPARTMENT_UNKNOWN")?;
    let (first, rest) = certs
        .split_first()
        .ok_or("DEPARTMENT_UNKNOWN: empty certificate chain")?;
    let verifiers = shared
        .verifiers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let now = rustls::pki_types::UnixTime::now();
    match verifiers.own.verify_client_cert(first, rest, now) {
        Ok(_) => return department_named(first).map(Party::Department),
        // Our CA's, revoked by a CRL installed while the handshake ran
        // (which checked it against the CRL before): said as such, not
        // taken for another CA's.
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)) => {
            return Err("DEPARTMENT_UNKNOWN: the certificate is revoked".into());
        }
        Err(_) => {}
    }
    // Not ours: only a peer hub's own certificate, from that peer's CA.
    let region = first_common_name(first)?
        .and_then(|cn| cn.strip_prefix("urn:tongban:hub:").map(str::to_owned))
        .ok_or("PEER_UNKNOWN: a certificate from another CA must name a peer hub")?;
    match verifiers.peers.get(&region) {
        Some(v) if v.verify_client_cert(first, rest, now).is_ok() => Ok(Party::Peer(region)),
        _ => Err(format!(
            "PEER_UNKNOWN: region {region} is not an active peer, or its CA did not issue this certificate"
        )),
    }
}

/// Whether a peer's connection would still be admitted: the region is an
/// active peer, and its CA's current verifier (with the CRL its hub last
/// served) accepts the certificate the connection was opened with.
pub(super) fn still_admitted(
    conn: &quinn::Connection,
    shared: &Shared,
    region: &str,
) -> Result<(), String> {
    let verifier = shared
        .verifiers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .peers
        .get(region)
        .cloned()
        .ok_or("PEER_UNKNOWN: no longer a peer of this hub")?;
    let certs = client_chain(conn, "PEER_UNKNOWN")?;
    let (first, rest) = certs
        .split_first()
        .ok_or("PEER_UNKNOWN: empty certificate chain")?;
    verifier
        .verify_client_cert(first, rest, rustls::pki_types::UnixTime::now())
        .map(|_| ())
        .map_err(|e| format!("PEER_UNKNOWN: the certificate is no longer admitted: {e}"))
}

/// The department code a client certificate names (its subject CN).
fn department_named(cert: &rustls::pki_types::CertificateDer<'_>) -> Result<String, String> {
    first_common_name(cert)?
        .ok_or_else(|| "DEPARTMENT_UNKNOWN: the certificate names no department".to_owned())
}

/// A certificate's first subject CN, if it has one.
fn first_common_name(
    cert: &rustls::pki_types::CertificateDer<'_>,
) -> Result<Option<String>, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| "DEPARTMENT_UNKNOWN: unparsable client certificate".to_owned())?;
    Ok(cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned))
}

/// A peer hub as a party of the hub's shares.
pub(crate) fn peer_party(region: &str) -> String {
    format!("urn:tongban:hub:{region}")
}
