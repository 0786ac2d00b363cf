//! The hub's CA: certificates that work in a real mutual-TLS handshake, and
//! a CRL that stops a revoked department there.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
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
            .ca_issue(
                CertRequest::Client {
                    department: MARKET.into(),
                },
                None,
            )
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
            .ca_issue(
                CertRequest::Client {
                    department: CIVIL.into(),
                },
                None,
            )
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

        // A certificate from another CA is refused.
        let other = tongban_tests::sqlite();
        let stranger_hub = crate::hub_on(&other).await;
        let stranger_ca = stranger_hub.ca_init("另一个CA").await.unwrap();
        let stranger = stranger_hub
            .ca_issue(
                CertRequest::Client {
                    department: MARKET.into(),
                },
                None,
            )
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
            hub.ca_issue(
                CertRequest::Client {
                    department: CIVIL.into()
                },
                None
            )
            .await
            .unwrap_err()
            .code(),
            "DEPARTMENT_SUSPENDED"
        );
        assert_eq!(
            hub.ca_issue(
                CertRequest::Client {
                    department: "11440114MB2C00031C".into()
                },
                None
            )
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
                CertRequest::Client {
                    department: MARKET.into()
                },
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
