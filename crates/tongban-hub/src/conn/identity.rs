//! Who a connection is, from its client certificate: a department (a
//! certificate from this hub's CA, its first CN) or a peer hub (a
//! certificate from that peer's CA naming `urn:tongban:hub:{region}`).
//!
//! A chain to the hub's own CA is a department (first CN); anything else must
//! name `urn:tongban:hub:{region}` and chain to that very peer's CA, or the
//! connection is closed (`PEER_UNKNOWN`). `still_admitted`, every registry
//! tick, closes a peer's connection once the peer is removed or its
//! certificate no longer passes the current verifier (revoked in a CRL
//! fetched since).

use std::fmt;

use tongban_proto::ErrorCode;

use crate::Shared;

/// Who a refused connection claimed to be.
#[derive(Debug, Clone, Copy)]
pub(super) enum Who {
    /// A department: a certificate from this hub's CA.
    Department,
    /// A peer hub: a certificate from another CA.
    Peer,
}

impl Who {
    /// The connection is not admitted, for `message`.
    fn refuse(self, message: impl Into<String>) -> Unadmitted {
        Unadmitted {
            who: self,
            message: message.into(),
        }
    }
}

/// Why a connection is not admitted, told in its close reason as
/// `{code}: {message}` (`docs/PROTOCOL.md` §2.1): `DEPARTMENT_UNKNOWN` or
/// `PEER_UNKNOWN`.
#[derive(Debug)]
pub(super) struct Unadmitted {
    who: Who,
    message: String,
}

impl fmt::Display for Unadmitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = match self.who {
            Who::Department => ErrorCode::DepartmentUnknown.as_str(),
            Who::Peer => tongban_service::Code::PeerUnknown.as_str(),
        };
        write!(f, "{code}: {}", self.message)
    }
}

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

/// The certificate chain a client presented, non-empty.
fn client_chain(
    conn: &quinn::Connection,
    who: Who,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Unadmitted> {
    let identity = conn
        .peer_identity()
        .ok_or_else(|| who.refuse("no client certificate"))?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .map_err(|_| who.refuse("unreadable client certificate"))?;
    if certs.is_empty() {
        return Err(who.refuse("empty certificate chain"));
    }
    Ok(*certs)
}

pub(super) fn party_of(conn: &quinn::Connection, shared: &Shared) -> Result<Party, Unadmitted> {
    let certs = client_chain(conn, Who::Department)?;
    let (first, rest) = certs
        .split_first()
        .ok_or_else(|| Who::Department.refuse("empty certificate chain"))?;
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
            return Err(Who::Department.refuse("the certificate is revoked"));
        }
        Err(_) => {}
    }
    // Not ours: only a peer hub's own certificate, from that peer's CA.
    let region = first_common_name(first)?
        .and_then(|cn| cn.strip_prefix("urn:tongban:hub:").map(str::to_owned))
        .ok_or_else(|| Who::Peer.refuse("a certificate from another CA must name a peer hub"))?;
    match verifiers.peers.get(&region) {
        Some(v) if v.verify_client_cert(first, rest, now).is_ok() => Ok(Party::Peer(region)),
        _ => Err(Who::Peer.refuse(format!(
            "region {region} is not an active peer, or its CA did not issue this certificate"
        ))),
    }
}

/// Whether a peer's connection would still be admitted: the region is an
/// active peer, and its CA's current verifier (with the CRL its hub last
/// served) accepts the certificate the connection was opened with.
pub(super) fn still_admitted(
    conn: &quinn::Connection,
    shared: &Shared,
    region: &str,
) -> Result<(), Unadmitted> {
    let verifier = shared
        .verifiers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .peers
        .get(region)
        .cloned()
        .ok_or_else(|| Who::Peer.refuse("no longer a peer of this hub"))?;
    let certs = client_chain(conn, Who::Peer)?;
    let (first, rest) = certs
        .split_first()
        .ok_or_else(|| Who::Peer.refuse("empty certificate chain"))?;
    verifier
        .verify_client_cert(first, rest, rustls::pki_types::UnixTime::now())
        .map(|_| ())
        .map_err(|e| Who::Peer.refuse(format!("the certificate is no longer admitted: {e}")))
}

/// The department code a client certificate names (its subject CN).
fn department_named(cert: &rustls::pki_types::CertificateDer<'_>) -> Result<String, Unadmitted> {
    first_common_name(cert)?
        .ok_or_else(|| Who::Department.refuse("the certificate names no department"))
}

/// A certificate's first subject CN, if it has one.
fn first_common_name(
    cert: &rustls::pki_types::CertificateDer<'_>,
) -> Result<Option<String>, Unadmitted> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| Who::Department.refuse("unparsable client certificate"))?;
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
