//! The HTTP side over TLS (rustls, ring), with a client that trusts only
//! the server's certificate.

use tokio::sync::oneshot;
use tongban_http::{HttpConfig, HttpListener, HttpState, Readiness};

use crate::hub_on;

#[tokio::test]
async fn https_with_the_given_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let backend = tongban_tests::sqlite();
    let hub = hub_on(&backend).await;
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = issued.cert.pem();
    let key_pem = issued.signing_key.serialize_pem();
    let tls = tongban_http::tls_config(&cert_pem, &key_pem, None).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = HttpListener::new(tcp, Some(tls));
    assert!(listener.is_tls());
    let state = HttpState::new(
        hub.clone(),
        HttpConfig::new(format!("https://localhost:{port}")),
        Readiness::new(),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(tongban_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A plain-text client gets no answer from a TLS port.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    // A certificate and key that do not parse are refused with a code.
    let bad = tongban_http::tls_config("not pem", &key_pem, None).map_err(|e| e.code());
    assert_eq!(bad.err(), Some("HTTP_TLS_INVALID"));
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    hub.close().await;
    backend.cleanup().await;
}
