//! The hub's CA: certificates that work in a real mutual-TLS handshake, a
//! CRL that stops a revoked department there, and both in strict DER that
//! parsers sharing no code with ours read.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use serde_json::{Value, json};
use tongban_service::ca::{CertRequest, IssuedCert};

use crate::{CIVIL, MARKET, each_backend};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca_pem: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    roots
}

fn server_config(ca_pem: &str, server: &IssuedCert, crl_pem: &str) -> Arc<ServerConfig> {
    let crl = CertificateRevocationListDer::from_pem_slice(crl_pem.as_bytes()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)), provider())
        .with_crls(vec![crl])
        .build()
        .unwrap();
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(server.row.pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    )
}

fn client_config(ca_pem: &str, client: &IssuedCert) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(ca_pem))
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(client.row.pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    )
}

/// A TLS 1.3 handshake over in-memory buffers; the server's verdict on the client.
fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> Result<Vec<CertificateDer<'static>>, rustls::Error> {
    let mut c = ClientConnection::new(client, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut s = ServerConnection::new(server).unwrap();
    for _ in 0..10 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets()?;
        }
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets()?;
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            // Let the server read the client's last flight.
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            if !buf.is_empty() {
                s.read_tls(&mut buf.as_slice()).unwrap();
                s.process_new_packets()?;
            }
            return Ok(s
                .peer_certificates()
                .map(|c| c.to_vec())
                .unwrap_or_default());
        }
    }
    panic!("handshake did not finish");
}

fn common_name(der: &CertificateDer<'_>) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    cert.subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_work_in_a_mutual_tls_handshake_and_the_crl_stops_revoked_ones() {
    each_backend("ca_handshake", |hub| async move {
        let e = hub.ca_crl().await.unwrap_err();
        assert_eq!(e.code(), "CA_NOT_INITIALISED", "{e}");
        let ca = hub
            .ca_init("广州市花都区政务数据共享交换平台 根CA")
            .await
            .unwrap();
        assert_eq!(
            hub.ca_init("again").await.unwrap_err().code(),
            "CA_ALREADY_INITIALISED"
        );
        let server = hub
            .ca_issue(
                CertRequest::Server {
                    dns: vec!["localhost".into()],
                    ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
                },
                None,
            )
            .await
            .unwrap();
        let market = hub
            .ca_issue(CertRequest::client(MARKET), None)
            .await
            .unwrap();
        assert!(
            !format!("{market:?}").contains("PRIVATE KEY"),
            "keys never print"
        );

        // A good department connects, and the hub sees its code.
        let crl = hub.ca_crl().await.unwrap();
        let peer = handshake(
            server_config(&ca.pem, &server, &crl),
            client_config(&ca.pem, &market),
        )
        .unwrap();
        assert_eq!(common_name(&peer[0]), MARKET);

        // Revoked: the next CRL stops it at the handshake.
        hub.ca_revoke(&market.row.serial, "keyCompromise")
            .await
            .unwrap();
        let crl = hub.ca_crl().await.unwrap();
        let err = handshake(
            server_config(&ca.pem, &server, &crl),
            client_config(&ca.pem, &market),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)
            ),
            "{err:?}"
        );
        assert_eq!(
            hub.ca_revoke(&market.row.serial, "keyCompromise")
                .await
                .unwrap_err()
                .code(),
            "CERT_ALREADY_REVOKED"
        );
        assert_eq!(
            hub.ca_renew(&market.row.serial, None)
                .await
                .unwrap_err()
                .code(),
            "CERT_REVOKED"
        );

        // Renewal gives the department a working certificate again.
        let civil = hub
            .ca_issue(CertRequest::client(CIVIL), None)
            .await
            .unwrap();
        let renewed = hub.ca_renew(&civil.row.serial, None).await.unwrap();
        assert_ne!(renewed.row.serial, civil.row.serial);
        assert_eq!(renewed.row.subject, CIVIL);
        assert!(
            handshake(
                server_config(&ca.pem, &server, &crl),
                client_config(&ca.pem, &renewed)
            )
            .is_ok()
        );

        // A certificate from another CA is refused. (The other hub only
        // makes that CA: its store is SQLite whatever this run's backend.)
        let other = tongban_tests::sqlite();
        let stranger_hub = crate::hub_on(&other).await;
        let stranger_ca = stranger_hub.ca_init("另一个CA").await.unwrap();
        let stranger = stranger_hub
            .ca_issue(CertRequest::client(MARKET), None)
            .await
            .unwrap();
        let _ = stranger_ca;
        let err = handshake(
            server_config(&ca.pem, &server, &crl),
            client_config(&ca.pem, &stranger),
        )
        .unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );

        // Suspended departments get no certificate; bad requests are refused.
        hub.set_department_status(CIVIL, tongban_store::DepartmentStatus::Suspended, "整改")
            .await
            .unwrap();
        assert_eq!(
            hub.ca_issue(CertRequest::client(CIVIL), None)
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_SUSPENDED"
        );
        assert_eq!(
            hub.ca_issue(CertRequest::client("11440114MB2C00031C"), None)
                .await
                .unwrap_err()
                .code(),
            "DEPARTMENT_UNKNOWN"
        );
        assert_eq!(
            hub.ca_issue(
                CertRequest::Server {
                    dns: vec![],
                    ips: vec![]
                },
                None
            )
            .await
            .unwrap_err()
            .code(),
            "CERT_NAMES_MISSING"
        );
        assert_eq!(
            hub.ca_issue(
                CertRequest::client(MARKET),
                Some(time::Duration::days(9999))
            )
            .await
            .unwrap_err()
            .code(),
            "CERT_VALIDITY_INVALID"
        );
        assert_eq!(
            hub.ca_revoke(&server.row.serial, "because")
                .await
                .unwrap_err()
                .code(),
            "REVOCATION_REASON_INVALID"
        );
        assert_eq!(
            hub.ca_revoke("00ff", "superseded")
                .await
                .unwrap_err()
                .code(),
            "CERT_UNKNOWN"
        );
        // Every step is in the audit log, which still verifies.
        assert_eq!(
            hub.store().audit_of(&market.row.serial, 5).await.unwrap()[0].action,
            "ca.revoke"
        );
        assert!(hub.audit_verify(|_| {}).await.unwrap().ok());
    })
    .await;
}

/// Every kind of certificate the CA issues, its own, and its CRL without and
/// with revoked entries (`keyCompromise` for the client, `unspecified` for
/// the peer certificate).
struct Pki {
    ca: tongban_store::CertificateRow,
    server: IssuedCert,
    client: IssuedCert,
    peer: IssuedCert,
    crl_empty: String,
    crl_revoked: String,
}

async fn every_kind(hub: &tongban_service::Service) -> Pki {
    let ca = hub
        .ca_init("广州市花都区政务数据共享交换平台 根CA")
        .await
        .unwrap();
    let server = hub
        .ca_issue(
            CertRequest::Server {
                dns: vec!["hub.huadu.example".into(), "localhost".into()],
                ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            },
            None,
        )
        .await
        .unwrap();
    let client = hub
        .ca_issue(CertRequest::client(MARKET), None)
        .await
        .unwrap();
    let peer = hub.ca_issue(CertRequest::Peer, None).await.unwrap();
    let crl_empty = hub.ca_crl().await.unwrap();
    hub.ca_revoke(&client.row.serial, "keyCompromise")
        .await
        .unwrap();
    hub.ca_revoke(&peer.row.serial, "unspecified")
        .await
        .unwrap();
    let crl_revoked = hub.ca_crl().await.unwrap();
    Pki {
        ca,
        server,
        client,
        peer,
        crl_empty,
        crl_revoked,
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

fn crl_der_of(pem: &str) -> Vec<u8> {
    CertificateRevocationListDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The raw value of the extension `oid` (dotted), and whether it is critical.
fn extension(cert: &x509_parser::certificate::X509Certificate<'_>, oid: &str) -> (bool, Vec<u8>) {
    let e = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)
        .unwrap_or_else(|| panic!("no extension {oid}"));
    (e.critical, e.value.to_vec())
}

/// The subject key identifier's bytes.
fn key_id(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<u8> {
    let (critical, value) = extension(cert, "2.5.29.14");
    assert!(!critical);
    assert_eq!(&value[..2], &[0x04, 20], "an OCTET STRING of 20 bytes");
    value[2..].to_vec()
}

/// The encoding a strict DER parser requires, checked byte by byte here
/// (the independent parsers are in the next test): an end entity's
/// basicConstraints is critical and empty (`cA` at its default is left
/// out), the country is a PrintableString, serials are 16 positive bytes,
/// key identifiers chain, and the CRL lists exactly what was revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_and_crls_are_strict_der() {
    use x509_parser::der_parser::asn1_rs::Tag;
    each_backend("ca_der", |hub| async move {
        let pki = every_kind(&hub).await;
        let ca_der = der_of(&pki.ca.pem);
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        // The CA: critical basicConstraints, cA TRUE, pathLenConstraint 0;
        // critical keyUsage digitalSignature, keyCertSign, cRLSign
        // (bits 0, 5, 6: one unused bit).
        assert_eq!(
            extension(&ca, "2.5.29.19"),
            (true, vec![0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00])
        );
        assert_eq!(
            extension(&ca, "2.5.29.15"),
            (true, vec![0x03, 0x02, 0x01, 0x86])
        );
        let ca_key_id = key_id(&ca);
        for (row, kind) in [
            (&pki.ca, "ca"),
            (&pki.server.row, "server"),
            (&pki.client.row, "client"),
            (&pki.peer.row, "peer"),
        ] {
            assert_eq!(row.kind, kind);
            let der = der_of(&row.pem);
            let (rest, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
            assert!(rest.is_empty(), "{kind}: nothing after the certificate");
            let serial = cert.raw_serial();
            assert_eq!(serial.len(), 16, "{kind}: serial {serial:02x?}");
            assert!(
                (0x01..=0x7f).contains(&serial[0]),
                "{kind}: positive, minimal"
            );
            assert_eq!(cert.raw_serial_as_string().replace(':', ""), row.serial);
            for name in [cert.subject(), cert.issuer()] {
                let country = name.iter_country().next().unwrap();
                assert_eq!(country.attr_value().header.tag(), Tag::PrintableString);
                assert_eq!(country.as_str().unwrap(), "CN");
            }
            if kind == "ca" {
                continue;
            }
            assert_eq!(extension(&cert, "2.5.29.19"), (true, vec![0x30, 0x00]));
            // digitalSignature alone: bit 0, seven unused bits.
            assert_eq!(
                extension(&cert, "2.5.29.15"),
                (true, vec![0x03, 0x02, 0x07, 0x80])
            );
            assert_eq!(key_id(&cert).len(), 20);
            let (critical, aki) = extension(&cert, "2.5.29.35");
            assert!(!critical);
            assert_eq!(
                aki[4..],
                ca_key_id[..],
                "{kind}: authority key id = the CA's"
            );
        }

        let empty_der = crl_der_of(&pki.crl_empty);
        let (_, empty) = x509_parser::parse_x509_crl(&empty_der).unwrap();
        assert_eq!(empty.iter_revoked_certificates().count(), 0);
        let revoked_der = crl_der_of(&pki.crl_revoked);
        let (rest, crl) = x509_parser::parse_x509_crl(&revoked_der).unwrap();
        assert!(rest.is_empty());
        for list in [&empty, &crl] {
            assert_eq!(list.version(), Some(x509_parser::x509::X509Version::V2));
            assert!(list.next_update().unwrap() > list.last_update());
            assert!(list.crl_number().is_some());
            assert!(list.verify_signature(ca.public_key()).is_ok());
            let aki = list
                .extensions()
                .iter()
                .find(|e| e.oid.to_id_string() == "2.5.29.35")
                .unwrap();
            assert_eq!(aki.value[4..], ca_key_id[..]);
        }
        let entries: Vec<(String, Option<u8>)> = crl
            .iter_revoked_certificates()
            .map(|r| {
                (
                    r.raw_serial_as_string().replace(':', ""),
                    r.reason_code().map(|(_, c)| c.0),
                )
            })
            .collect();
        // keyCompromise is reason 1; `unspecified` is written as no reason
        // at all (RFC 5280 §5.3.1), and then the entry has no extensions.
        let mut want = vec![
            (pki.client.row.serial.clone(), Some(1)),
            (pki.peer.row.serial.clone(), None),
        ];
        let mut got = entries;
        want.sort();
        got.sort();
        assert_eq!(got, want);
        let unspecified = crl
            .iter_revoked_certificates()
            .find(|r| r.reason_code().is_none())
            .unwrap();
        assert!(unspecified.extensions().is_empty());
    })
    .await;
}

/// Python's `cryptography` (strict DER): reads `ca.pem`, every `cert-*.pem`
/// and `crl-*.pem` in the directory given, checks each signature with the
/// CA's key, and prints what it read as JSON.
const PYTHON_READER: &str = r#"
import json, pathlib, sys
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

d = pathlib.Path(sys.argv[1])
ca = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())

def hexint(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big").hex()

def cn(name):
    return [a.value for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]

def ext(exts, cls):
    try:
        return exts.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None

def cert_facts(c):
    ca.public_key().verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(c.signature_hash_algorithm))
    out = {"subjectCN": cn(c.subject), "issuerCN": cn(c.issuer), "serial": hexint(c.serial_number)}
    bc = ext(c.extensions, x509.BasicConstraints)
    out["basicConstraints"] = bc and {"critical": bc.critical, "ca": bc.value.ca, "pathLength": bc.value.path_length}
    ku = ext(c.extensions, x509.KeyUsage)
    out["keyUsage"] = ku and {"critical": ku.critical, "bits": [b for b in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign") if getattr(ku.value, b)]}
    eku = ext(c.extensions, x509.ExtendedKeyUsage)
    out["extendedKeyUsage"] = eku and [o.dotted_string for o in eku.value]
    san = ext(c.extensions, x509.SubjectAlternativeName)
    out["san"] = san and {
        "dns": san.value.get_values_for_type(x509.DNSName),
        "ip": [str(i) for i in san.value.get_values_for_type(x509.IPAddress)],
        "uri": san.value.get_values_for_type(x509.UniformResourceIdentifier),
    }
    ski = ext(c.extensions, x509.SubjectKeyIdentifier)
    out["ski"] = ski and ski.value.digest.hex()
    aki = ext(c.extensions, x509.AuthorityKeyIdentifier)
    out["aki"] = aki and aki.value.key_identifier.hex()
    return out

def crl_facts(crl):
    assert crl.is_signature_valid(ca.public_key())
    last = getattr(crl, "last_update_utc", None) or crl.last_update
    nxt = getattr(crl, "next_update_utc", None) or crl.next_update
    revoked = []
    for r in crl:
        reason = ext(r.extensions, x509.CRLReason)
        revoked.append({"serial": hexint(r.serial_number), "reason": reason and reason.value.reason.name})
    aki = ext(crl.extensions, x509.AuthorityKeyIdentifier)
    return {
        "issuerCN": cn(crl.issuer),
        "nextUpdateAfterLast": nxt is not None and nxt > last,
        "crlNumber": crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number,
        "aki": aki and aki.value.key_identifier.hex(),
        "revoked": sorted(revoked, key=lambda r: r["serial"]),
    }

facts = {"ca.pem": cert_facts(ca)}
for p in sorted(d.glob("cert-*.pem")):
    facts[p.name] = cert_facts(x509.load_pem_x509_certificate(p.read_bytes()))
for p in sorted(d.glob("crl-*.pem")):
    facts[p.name] = crl_facts(x509.load_pem_x509_crl(p.read_bytes()))
print(json.dumps(facts))
"#;

/// Runs a tool: whether it succeeded, and what it printed (standard output,
/// then standard error).
fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot be run ({e}): install it, see .ci/run"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs a tool that must succeed; what it printed.
fn run_ok(program: &str, args: &[&str]) -> String {
    let (success, text) = run(program, args);
    assert!(success, "{program} {args:?} failed:\n{text}");
    text
}

/// Every certificate kind the CA issues, the CA certificate and the CRL
/// (empty, and with revoked entries) are read by two parsers that share no
/// code with rcgen: the `openssl` command line and Python's `cryptography`,
/// which refuses anything that is not strict DER. Both check the
/// signatures; `openssl verify` also checks each certificate's purpose and
/// the CRL against the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_parsers_read_every_certificate_and_crl() {
    if !tongban_tests::parsers_enabled() {
        return;
    }
    each_backend("ca_parsers", |hub| async move {
        let pki = every_kind(&hub).await;
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("ca.pem", &pki.ca.pem),
            ("cert-server.pem", &pki.server.row.pem),
            ("cert-client.pem", &pki.client.row.pem),
            ("cert-peer.pem", &pki.peer.row.pem),
            ("crl-empty.pem", &pki.crl_empty),
            ("crl-revoked.pem", &pki.crl_revoked),
        ];
        for (name, pem) in files {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        let path = |name: &str| dir.path().join(name).display().to_string();

        // Python's cryptography.
        let facts: Value =
            serde_json::from_str(&run_ok("python3", &["-c", PYTHON_READER, &path("")])).unwrap();
        let identity = hub.identity().await.unwrap();
        let ca_cn = "广州市花都区政务数据共享交换平台 根CA";
        let ca_ski = facts["ca.pem"]["ski"].as_str().unwrap().to_owned();
        assert_eq!(ca_ski.len(), 40);
        assert_eq!(
            facts["ca.pem"],
            json!({
                "subjectCN": [ca_cn], "issuerCN": [ca_cn], "serial": pki.ca.serial,
                "basicConstraints": {"critical": true, "ca": true, "pathLength": 0},
                "keyUsage": {"critical": true, "bits": ["digital_signature", "key_cert_sign", "crl_sign"]},
                "extendedKeyUsage": null, "san": null, "ski": ca_ski, "aki": null,
            })
        );
        let leaf = |file: &str, serial: &str, cn: &str, eku: &str, san: Value| {
            let ski = facts[file]["ski"].as_str().unwrap();
            assert_eq!(ski.len(), 40, "{file}");
            assert_eq!(
                facts[file],
                json!({
                    "subjectCN": [cn], "issuerCN": [ca_cn], "serial": serial,
                    "basicConstraints": {"critical": true, "ca": false, "pathLength": null},
                    "keyUsage": {"critical": true, "bits": ["digital_signature"]},
                    "extendedKeyUsage": [eku], "san": san, "ski": ski, "aki": ca_ski,
                }),
                "{file}"
            );
        };
        let (server_auth, client_auth) = ("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        leaf(
            "cert-server.pem",
            &pki.server.row.serial,
            "hub.huadu.example",
            server_auth,
            json!({"dns": ["hub.huadu.example", "localhost"], "ip": ["127.0.0.1", "::1"], "uri": []}),
        );
        leaf(
            "cert-client.pem",
            &pki.client.row.serial,
            MARKET,
            client_auth,
            json!({"dns": [], "ip": [], "uri": [format!("urn:uscc:{MARKET}")]}),
        );
        leaf(
            "cert-peer.pem",
            &pki.peer.row.serial,
            &identity.id,
            client_auth,
            json!({"dns": [], "ip": [], "uri": [identity.id]}),
        );
        for (file, revoked) in [
            ("crl-empty.pem", json!([])),
            (
                "crl-revoked.pem",
                json!([
                    {"serial": pki.client.row.serial, "reason": "key_compromise"},
                    {"serial": pki.peer.row.serial, "reason": null},
                ]),
            ),
        ] {
            let crl = &facts[file];
            assert_eq!(crl["issuerCN"], json!([ca_cn]), "{file}");
            assert_eq!(crl["nextUpdateAfterLast"], true, "{file}");
            assert!(crl["crlNumber"].as_u64().unwrap() > 0, "{file}");
            assert_eq!(crl["aki"], json!(ca_ski), "{file}");
            let mut want = revoked.as_array().unwrap().clone();
            want.sort_by_key(|r| r["serial"].as_str().unwrap().to_owned());
            assert_eq!(crl["revoked"], json!(want), "{file}");
        }

        // The openssl command line.
        let text = run_ok("openssl", &["x509", "-in", &path("ca.pem"), "-noout", "-text"]);
        assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
        for file in ["cert-server.pem", "cert-client.pem", "cert-peer.pem"] {
            let text = run_ok("openssl", &["x509", "-in", &path(file), "-noout", "-text"]);
            assert!(text.contains("CA:FALSE"), "{file}: {text}");
        }
        let text = run_ok("openssl", &["crl", "-in", &path("crl-empty.pem"), "-noout", "-text"]);
        assert!(text.contains("No Revoked Certificates."), "{text}");
        let text = run_ok("openssl", &["crl", "-in", &path("crl-revoked.pem"), "-noout", "-text"]);
        for serial in [&pki.client.row.serial, &pki.peer.row.serial] {
            let line = format!("Serial Number: {}", serial.to_ascii_uppercase());
            assert!(text.contains(&line), "{line} in {text}");
        }
        assert_eq!(text.matches("Serial Number:").count(), 2, "{text}");
        assert_eq!(text.matches("Key Compromise").count(), 1, "{text}");

        // openssl verify: chain, purpose and CRL, at the hub's (fixed) time.
        let at = (crate::T0 + time::Duration::minutes(1))
            .unix_timestamp()
            .to_string();
        let verify = |purpose: &str, file: &str, crl: Option<&str>| {
            let (ca, cert) = (path("ca.pem"), path(file));
            let mut args = vec!["verify", "-attime", &at, "-CAfile", &ca, "-purpose", purpose];
            let crl_path = crl.map(&path);
            if let Some(c) = &crl_path {
                args.extend(["-crl_check", "-CRLfile", c]);
            }
            args.push(&cert);
            run("openssl", &args)
        };
        for (purpose, file) in [
            ("sslserver", "cert-server.pem"),
            ("sslclient", "cert-client.pem"),
            ("sslclient", "cert-peer.pem"),
        ] {
            let (success, text) = verify(purpose, file, Some("crl-empty.pem"));
            assert!(success && text.ends_with(": OK\n"), "{file}: {text}");
            // Not for the other purpose (X509_V_ERR_INVALID_PURPOSE).
            let other = if purpose == "sslserver" { "sslclient" } else { "sslserver" };
            let (success, text) = verify(other, file, None);
            assert!(!success && text.contains("error 26 at 0 depth"), "{file}: {text}");
        }
        for file in ["cert-client.pem", "cert-peer.pem"] {
            let (success, text) = verify("sslclient", file, Some("crl-revoked.pem"));
            // X509_V_ERR_CERT_REVOKED.
            assert!(!success && text.contains("error 23 at 0 depth"), "{file}: {text}");
        }
        let (success, text) = verify("sslserver", "cert-server.pem", Some("crl-revoked.pem"));
        assert!(success, "{text}");
    })
    .await;
}
