//! The region hub's certificate authority (X.509 for mutual TLS on the
//! exchange): a root CA, the hub's server certificate, one client
//! certificate per department naming its code, renewal, revocation and a
//! CRL the hub enforces at the handshake. rcgen with ring; no OpenSSL.
//!
//! Certificates are written in strict DER. The hub's own peer certificate
//! (`CertRequest::Peer`: CN and SAN URI `urn:tongban:hub:{region}`,
//! `clientAuth`) is reused by `peer_client_identity` while it has more than 30
//! days left, and otherwise issued anew, its key kept in the key store as
//! `peer-{serial}`.

use std::net::IpAddr;

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, RevocationReason, RevokedCertParams,
    SanType, SerialNumber,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tongban_store::{CertificateRow, DepartmentStatus};
use zeroize::Zeroizing;

use crate::error::Code;
use crate::{Error, Result, Service};

/// Name of the CA's private key in the key store.
const CA_KEY: &str = "ca-key";
/// Validity of the root CA.
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// Default validity of server and client certificates.
pub const LEAF_VALIDITY: Duration = Duration::days(397);
/// How long a CRL may be relied on.
pub const CRL_VALIDITY: Duration = Duration::days(7);
/// Longest certificate validity accepted.
pub const MAX_LEAF_DAYS: i64 = 825;

/// A certificate with its freshly generated private key (PEM). The key is
/// handed to the caller and never stored by the hub.
pub struct IssuedCert {
    /// The stored record.
    pub row: CertificateRow,
    /// The private key, PEM (PKCS#8).
    pub key_pem: Zeroizing<String>,
    /// The CA certificate, PEM, for the chain.
    pub ca_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("row", &self.row)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// What a certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertRequest {
    /// The hub's server certificate, for these DNS names and addresses.
    Server {
        /// DNS names.
        dns: Vec<String>,
        /// IP addresses.
        ips: Vec<IpAddr>,
    },
    /// A department's client certificate.
    Client {
        /// The department's code.
        department: String,
    },
    /// The hub's own client certificate for links to peer hubs of other
    /// regions: its subject is the hub's id (`urn:tongban:hub:{region}`).
    Peer,
}

impl CertRequest {
    /// A client certificate of the department `department`
    /// ([`CertRequest::Client`]).
    pub fn client(department: impl Into<String>) -> CertRequest {
        CertRequest::Client {
            department: department.into(),
        }
    }
}

fn ca_err(e: rcgen::Error) -> Error {
    Error::rejected(Code::CaError, e.to_string())
}

/// OID of basicConstraints (RFC 5280 §4.2.1.9).
const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
/// OID of subjectKeyIdentifier (RFC 5280 §4.2.1.2).
const SUBJECT_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 14];

/// A distinguished name starting with the country, `C=CN`. X.509 makes the
/// country a PrintableString (`X520countryName`); rcgen would write a
/// UTF8String.
fn name_in_china() -> Result<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    let cn = PrintableString::try_from("CN").map_err(ca_err)?;
    dn.push(DnType::CountryName, DnValue::PrintableString(cn));
    Ok(dn)
}

/// The extensions that mark a certificate as an end entity's: a critical
/// basicConstraints whose `cA` is left out, and the subject key identifier.
///
/// DER omits a field at its default value, and `cA` defaults to FALSE:
/// strict parsers (Python's `cryptography`, so every aioquic or requests
/// client) refuse a certificate that writes `cA FALSE`, which is all that
/// rcgen's `IsCa::ExplicitNoCa` can write. The identifier is derived as
/// rcgen derives the CA's: the leftmost 160 bits of the SHA-256 of the
/// SubjectPublicKeyInfo.
fn end_entity_extensions(key: &KeyPair) -> Vec<CustomExtension> {
    // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, ... }
    let mut constraints = CustomExtension::from_oid_content(BASIC_CONSTRAINTS, vec![0x30, 0x00]);
    constraints.set_criticality(true);
    let digest = tongban_seal::sha256(&key.subject_public_key_info());
    let mut identifier = vec![0x04, 20]; // OCTET STRING of 20 bytes
    identifier.extend_from_slice(&digest[..20]);
    vec![
        constraints,
        CustomExtension::from_oid_content(SUBJECT_KEY_IDENTIFIER, identifier),
    ]
}

/// Whether `name` is a host name a certificate may carry (RFC 1123
/// labels of letters, digits and inner hyphens, at most 253 characters),
/// with a leading `*.` wildcard allowed: rcgen takes any ASCII text.
fn is_dns_name(name: &str) -> bool {
    let host = name.strip_prefix("*.").unwrap_or(name);
    !host.is_empty()
        && name.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn random_serial() -> Result<(SerialNumber, String)> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::rejected(Code::RngFailed, e.to_string()))?;
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte to strip
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok((SerialNumber::from_slice(&bytes), hex))
}

/// The names of a client-auth certificate (a department's or this hub's
/// peer certificate): SAN URI `uri`, and O, OU and CN `[o, ou, cn]`.
/// Returns the SANs as recorded.
fn client_names(
    params: &mut CertificateParams,
    dn: &mut DistinguishedName,
    uri: &str,
    [o, ou, cn]: [&str; 3],
) -> Result<Value> {
    params.subject_alt_names.push(SanType::URI(
        uri.to_owned()
            .try_into()
            .map_err(|_| Error::rejected(Code::CertNameInvalid, uri.to_owned()))?,
    ));
    dn.push(DnType::OrganizationName, o);
    dn.push(DnType::OrganizationalUnitName, ou);
    dn.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(json!([uri]))
}

/// Parses an RFC 5280 reason name (`keyCompromise`, `superseded`, …).
pub fn revocation_reason(name: &str) -> Result<RevocationReason> {
    Ok(match name {
        "unspecified" => RevocationReason::Unspecified,
        "keyCompromise" => RevocationReason::KeyCompromise,
        "affiliationChanged" => RevocationReason::AffiliationChanged,
        "superseded" => RevocationReason::Superseded,
        "cessationOfOperation" => RevocationReason::CessationOfOperation,
        "privilegeWithdrawn" => RevocationReason::PrivilegeWithdrawn,
        _ => {
            return Err(Error::rejected(
                Code::RevocationReasonInvalid,
                format!(
                    "{name:?}: use unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn"
                ),
            ));
        }
    })
}

impl Service {
    /// Creates the region's root CA (once).
    pub async fn ca_init(&self, name: &str) -> Result<CertificateRow> {
        if !self.store.certificates(Some("ca")).await?.is_empty() {
            return Err(Error::rejected(
                Code::CaAlreadyInitialised,
                "this hub already has a certificate authority",
            ));
        }
        let identity = self.identity().await?;
        let now = self.now();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(ca_err)?;
        let (serial, serial_hex) = random_serial()?;
        let mut params = CertificateParams::default();
        let mut dn = name_in_china()?;
        dn.push(DnType::OrganizationName, identity.name.as_str());
        dn.push(DnType::OrganizationalUnitName, identity.region.as_str());
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(serial);
        let cert = params.self_signed(&key).map_err(ca_err)?;
        self.keys.save_named(CA_KEY, &key.serialize_pem()).await?;
        let row = CertificateRow {
            serial: serial_hex,
            kind: "ca".into(),
            subject: name.to_owned(),
            sans: "[]".into(),
            not_before: params.not_before,
            not_after: params.not_after,
            pem: cert.pem(),
            revoked_at: None,
            revoked_reason: None,
            created_at: now,
        };
        let audit = [self.audit(
            "ca.init",
            &row.serial,
            json!({"name": name, "notAfter": tongban_seal::timefmt::format_rfc3339(row.not_after)}),
        )];
        self.store.insert_certificate(&row, &audit).await?;
        Ok(row)
    }

    /// The CA certificate.
    pub async fn ca_certificate(&self) -> Result<CertificateRow> {
        self.store
            .certificates(Some("ca"))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::rejected(
                    Code::CaNotInitialised,
                    "this hub has no certificate authority yet: run `tongban ca init`",
                )
            })
    }

    async fn ca_issuer(&self) -> Result<(CertificateRow, KeyPair)> {
        let ca = self.ca_certificate().await?;
        let key_pem = self.keys.load_named(CA_KEY).await?;
        let key = KeyPair::from_pem(&key_pem).map_err(|_| {
            Error::rejected(Code::CaKeyDamaged, "the CA's private key cannot be read")
        })?;
        Ok((ca, key))
    }

    /// Issues a server or client certificate valid for `validity` (default ~13 months).
    pub async fn ca_issue(
        &self,
        request: CertRequest,
        validity: Option<Duration>,
    ) -> Result<IssuedCert> {
        let validity = validity.unwrap_or(LEAF_VALIDITY);
        if validity <= Duration::ZERO || validity > Duration::days(MAX_LEAF_DAYS) {
            return Err(Error::rejected(
                Code::CertValidityInvalid,
                format!("a certificate is valid for 1 to {MAX_LEAF_DAYS} days"),
            ));
        }
        let (ca, ca_key) = self.ca_issuer().await?;
        let issuer = Issuer::from_ca_cert_pem(&ca.pem, &ca_key).map_err(ca_err)?;
        let identity = self.identity().await?;
        let now = self.now();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(ca_err)?;
        let (serial, serial_hex) = random_serial()?;
        let mut params = CertificateParams::default();
        let mut dn = name_in_china()?;
        let (kind, subject, sans_json) = match &request {
            CertRequest::Server { dns, ips } => {
                if dns.is_empty() && ips.is_empty() {
                    return Err(Error::rejected(
                        Code::CertNamesMissing,
                        "a server certificate names at least one DNS name or address",
                    ));
                }
                for name in dns {
                    if !is_dns_name(name) {
                        return Err(Error::rejected(
                            Code::CertNameInvalid,
                            format!("{name:?} is not a DNS name"),
                        ));
                    }
                    params.subject_alt_names.push(SanType::DnsName(
                        name.clone().try_into().map_err(|_| {
                            Error::rejected(
                                Code::CertNameInvalid,
                                format!("{name:?} is not a DNS name"),
                            )
                        })?,
                    ));
                }
                for ip in ips {
                    params.subject_alt_names.push(SanType::IpAddress(*ip));
                }
                let subject = dns.first().cloned().unwrap_or_else(|| ips[0].to_string());
                dn.push(DnType::OrganizationName, identity.name.as_str());
                dn.push(DnType::CommonName, subject.as_str());
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                let mut all: Vec<String> = dns.clone();
                all.extend(ips.iter().map(ToString::to_string));
                ("server", subject, json!(all))
            }
            CertRequest::Client { department } => {
                let d = self.department(department).await?;
                match d.status {
                    DepartmentStatus::Active => {}
                    DepartmentStatus::Suspended => {
                        return Err(Error::rejected(
                            Code::DepartmentSuspended,
                            format!(
                                "department {department} is suspended: no certificate is issued to it"
                            ),
                        ));
                    }
                    DepartmentStatus::Retired => {
                        return Err(Error::rejected(
                            Code::DepartmentRetired,
                            format!("department {department} is retired"),
                        ));
                    }
                }
                let uri = format!("urn:uscc:{}", d.code);
                let names = [d.name.as_str(), d.region_code.as_str(), d.code.as_str()];
                let sans = client_names(&mut params, &mut dn, &uri, names)?;
                ("client", d.code.clone(), sans)
            }
            CertRequest::Peer => {
                let names = [
                    identity.name.as_str(),
                    identity.region.as_str(),
                    identity.id.as_str(),
                ];
                let sans = client_names(&mut params, &mut dn, &identity.id, names)?;
                ("peer", identity.id.clone(), sans)
            }
        };
        params.distinguished_name = dn;
        params.is_ca = IsCa::NoCa;
        params.custom_extensions = end_entity_extensions(&key);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::minutes(5);
        params.not_after = (now + validity).min(ca.not_after);
        params.serial_number = Some(serial);
        let cert = params.signed_by(&key, &issuer).map_err(ca_err)?;
        let row = CertificateRow {
            serial: serial_hex,
            kind: kind.into(),
            subject: subject.clone(),
            sans: sans_json.to_string(),
            not_before: params.not_before,
            not_after: params.not_after,
            pem: cert.pem(),
            revoked_at: None,
            revoked_reason: None,
            created_at: now,
        };
        let audit = [self.audit(
            &format!("ca.issue.{kind}"),
            &row.serial,
            json!({"subject": subject, "sans": sans_json, "notAfter": tongban_seal::timefmt::format_rfc3339(row.not_after)}),
        )];
        self.store.insert_certificate(&row, &audit).await?;
        self.maybe_checkpoint().await?;
        Ok(IssuedCert {
            row,
            key_pem: Zeroizing::new(key.serialize_pem()),
            ca_pem: ca.pem,
        })
    }

    /// Renews a certificate: a new key and certificate for the same subject.
    /// The old one stays valid until it expires or is revoked.
    pub async fn ca_renew(&self, serial: &str, validity: Option<Duration>) -> Result<IssuedCert> {
        let old = self.certificate(serial).await?;
        if old.revoked_at.is_some() {
            return Err(Error::rejected(
                Code::CertRevoked,
                format!("certificate {serial} is revoked; issue a new one instead"),
            ));
        }
        let request = match old.kind.as_str() {
            "client" => CertRequest::Client {
                department: old.subject.clone(),
            },
            "peer" => CertRequest::Peer,
            "server" => {
                let names: Vec<String> = serde_json::from_str(&old.sans).unwrap_or_default();
                let (ips, dns): (Vec<String>, Vec<String>) =
                    names.into_iter().partition(|n| n.parse::<IpAddr>().is_ok());
                CertRequest::Server {
                    dns,
                    ips: ips.iter().filter_map(|i| i.parse().ok()).collect(),
                }
            }
            _ => {
                return Err(Error::rejected(
                    Code::CertNotRenewable,
                    "the CA certificate is not renewed this way",
                ));
            }
        };
        self.ca_issue(request, validity).await
    }

    /// Revokes a certificate; the next CRL lists it.
    pub async fn ca_revoke(&self, serial: &str, reason: &str) -> Result<CertificateRow> {
        revocation_reason(reason)?;
        let cert = self.certificate(serial).await?;
        if cert.kind == "ca" {
            return Err(Error::rejected(
                Code::CertNotRevocable,
                "the CA certificate is not revoked through its own CRL",
            ));
        }
        let audit = [self.audit(
            "ca.revoke",
            serial,
            json!({"subject": cert.subject, "reason": reason}),
        )];
        if !self
            .store
            .revoke_certificate(serial, self.now(), reason, &audit)
            .await?
        {
            return Err(Error::rejected(
                Code::CertAlreadyRevoked,
                format!("certificate {serial} is already revoked"),
            ));
        }
        self.maybe_checkpoint().await?;
        self.certificate(serial).await
    }

    /// A certificate by serial.
    pub async fn certificate(&self, serial: &str) -> Result<CertificateRow> {
        self.store
            .certificate(&serial.to_ascii_lowercase())
            .await?
            .ok_or_else(|| {
                Error::rejected(
                    Code::CertUnknown,
                    format!("no certificate with serial {serial}"),
                )
            })
    }

    /// The current CRL (PEM), signed by the CA, valid for [`CRL_VALIDITY`].
    pub async fn ca_crl(&self) -> Result<String> {
        let (ca, ca_key) = self.ca_issuer().await?;
        let issuer = Issuer::from_ca_cert_pem(&ca.pem, &ca_key).map_err(ca_err)?;
        let now = self.now();
        let mut revoked = Vec::new();
        for c in self.store.certificates(None).await? {
            let Some(at) = c.revoked_at else { continue };
            let bytes: Vec<u8> = (0..c.serial.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(c.serial.get(i..i + 2)?, 16).ok())
                .collect();
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: at,
                reason_code: c
                    .revoked_reason
                    .as_deref()
                    .and_then(|r| revocation_reason(r).ok()),
                invalidity_date: None,
            });
        }
        // Monotonic CRL number: the issue instant in seconds.
        let number = u64::try_from(now.unix_timestamp())
            .unwrap_or(0)
            .to_be_bytes();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + CRL_VALIDITY,
            crl_number: SerialNumber::from_slice(&number),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&issuer).map_err(ca_err)?;
        crl.pem().map_err(ca_err)
    }

    /// Every certificate the CA issued, newest first.
    pub async fn ca_list(&self) -> Result<Vec<CertificateRow>> {
        Ok(self.store.certificates(None).await?)
    }

    /// The hub's own client certificate for links to peer hubs, and its
    /// key: the newest one with at least 30 days left, or a fresh one whose
    /// key is kept owner-only in the key store.
    pub async fn peer_client_identity(&self) -> Result<(String, Zeroizing<String>)> {
        let now = self.now();
        for row in self.store.certificates(Some("peer")).await? {
            if Self::certificate_current(&row, now) && row.not_after - now > Duration::days(30) {
                if let Ok(key) = self.keys.load_named(&format!("peer-{}", row.serial)).await {
                    return Ok((row.pem, key));
                }
            }
        }
        let issued = self.ca_issue(CertRequest::Peer, None).await?;
        self.keys
            .save_named(&format!("peer-{}", issued.row.serial), &issued.key_pem)
            .await?;
        Ok((issued.row.pem, issued.key_pem))
    }

    /// Whether `at` falls inside a certificate's window.
    pub fn certificate_current(row: &CertificateRow, at: OffsetDateTime) -> bool {
        row.revoked_at.is_none() && row.not_before <= at && at < row.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::is_dns_name;

    #[test]
    fn dns_names_are_host_names() {
        for good in [
            "localhost",
            "hub.huadu.gov.cn",
            "*.example.org",
            "a-1.b2",
            "xn--fiq228c.cn",
        ] {
            assert!(is_dns_name(good), "{good}");
        }
        let long = format!("{}.cn", "a".repeat(64));
        for bad in [
            "",
            "not a name",
            "a..b",
            "-a.cn",
            "a-.cn",
            "*.",
            "a.*.cn",
            "花都.cn",
            "a_b.cn",
            &long,
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
