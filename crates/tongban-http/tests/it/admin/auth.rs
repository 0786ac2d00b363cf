//! Who calls: API tokens (missing, malformed, revoked, expired) and a
//! department's client certificate of the hub's CA over TLS (its
//! revocation taking effect at once); each failure `401` with its code and
//! the challenge.

use std::net::IpAddr;

use reqwest::Method;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tokio::sync::oneshot;
use tongban_http::{HttpConfig, HttpListener, HttpState, Readiness};
use tongban_service::ca::CertRequest;
use tongban_service::{Clock, Role, samples};

use super::Tokens;
use crate::{Served, each_backend, hub_on, refused};

#[tokio::test]
async fn tokens_are_required_and_checked() {
    each_backend("http_admin_tokens", |backend| async move {
        let start = OffsetDateTime::now_utc();
        let clock = Clock::fixed(start);
        let served = Served::start_clocked(&backend, clock.clone(), |_| {}).await;
        let tokens = Tokens::make(&served).await;
        let path = "/v1/departments";

        let none = served.get(path).await;
        assert_eq!(
            none.headers()["www-authenticate"].to_str().unwrap(),
            "Bearer realm=\"tongban\""
        );
        refused(none, 401, "AUTHENTICATION_REQUIRED").await;
        let basic = served
            .client
            .get(served.url(path))
            .header("authorization", "Basic YWRtaW46YWRtaW4=")
            .send()
            .await
            .unwrap();
        refused(basic, 401, "TOKEN_INVALID").await;
        for wrong in [
            "tbk_nothing".to_owned(),
            // The right id with another secret.
            format!("{}{}", &tokens.admin[..25], "0".repeat(64)),
        ] {
            refused(
                served.call(&wrong, Method::GET, path, None).await,
                401,
                "TOKEN_INVALID",
            )
            .await;
        }
        // The scheme's case does not matter.
        let lower = served
            .client
            .get(served.url(path))
            .header("authorization", format!("bearer {}", tokens.auditor))
            .send()
            .await
            .unwrap();
        refused(lower, 403, "FORBIDDEN").await;

        let short = served
            .hub
            .token_create("short", Role::RegionAdmin, None, Duration::minutes(5))
            .await
            .unwrap();
        assert_eq!(
            served
                .call(&short.token, Method::GET, path, None)
                .await
                .status(),
            200
        );
        served.hub.token_revoke(&short.row.id).await.unwrap();
        refused(
            served.call(&short.token, Method::GET, path, None).await,
            401,
            "TOKEN_REVOKED",
        )
        .await;

        let brief = served
            .hub
            .token_create("brief", Role::RegionAdmin, None, Duration::minutes(5))
            .await
            .unwrap();
        assert_eq!(
            served
                .call(&brief.token, Method::GET, path, None)
                .await
                .status(),
            200
        );
        clock.set(start + Duration::minutes(6));
        refused(
            served.call(&brief.token, Method::GET, path, None).await,
            401,
            "TOKEN_EXPIRED",
        )
        .await;
        // Public endpoints need nothing.
        assert_eq!(served.get("/healthz").await.status(), 200);
        served.stop().await;
        backend
    })
    .await;
}

/// A hub with its CA, serving HTTPS to clients of its CA on 127.0.0.1:0.
struct Https {
    hub: tongban_service::Service,
    port: u16,
    ca_pem: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Https {
    async fn start(backend: &tongban_tests::TestBackend) -> Https {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let hub = hub_on(backend).await;
        let ca = hub.ca_init("花都区政务 CA").await.unwrap();
        let server = hub
            .ca_issue(
                CertRequest::Server {
                    dns: vec!["localhost".into()],
                    ips: vec![IpAddr::from([127, 0, 0, 1])],
                },
                None,
            )
            .await
            .unwrap();
        let tls = tongban_http::tls_config(
            &format!("{}{}", server.row.pem, ca.pem),
            &server.key_pem,
            Some(&ca.pem),
        )
        .unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let state = HttpState::new(
            hub.clone(),
            HttpConfig::new(format!("https://localhost:{port}")),
            Readiness::new(),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tongban_http::serve(
            HttpListener::new(tcp, Some(tls)),
            state,
            async move {
                let _ = stopped.await;
            },
        ));
        Https {
            hub,
            port,
            ca_pem: ca.pem,
            stop,
            task,
        }
    }

    /// A client trusting the hub's CA, presenting `identity` if given.
    fn client(&self, identity: Option<reqwest::Identity>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .resolve("localhost", ([127, 0, 0, 1], self.port).into());
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        builder.build().unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        self.hub.close().await;
    }
}

#[tokio::test]
async fn a_departments_client_certificate_makes_its_operator() {
    each_backend("http_admin_certificates", |backend| async move {
        let https = Https::start(&backend).await;
        let issued = https
            .hub
            .ca_issue(CertRequest::client(samples::MARKET), None)
            .await
            .unwrap();
        let identity = reqwest::Identity::from_pem(
            format!("{}{}", issued.row.pem, issued.key_pem.as_str()).as_bytes(),
        )
        .unwrap();
        let market = https.client(Some(identity));
        let own = market
            .get(https.url(&format!("/v1/departments/{}", samples::MARKET)))
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), 200);
        // An operator, not an administrator.
        let write = market
            .post(https.url(&format!(
                "/v1/departments/{}/suspend",
                samples::CIVIL_AFFAIRS
            )))
            .json(&json!({"reason": "x"}))
            .send()
            .await
            .unwrap();
        let body = refused(write, 403, "FORBIDDEN").await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("cert:{}", issued.row.serial)),
            "{body}"
        );
        // Without a certificate the public side still answers, the
        // administrative side asks who calls.
        let anonymous = https.client(None);
        assert_eq!(
            anonymous
                .get(https.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        refused(
            anonymous
                .get(https.url("/v1/departments"))
                .send()
                .await
                .unwrap(),
            401,
            "AUTHENTICATION_REQUIRED",
        )
        .await;
        // Revoked: refused from the next request on (a new connection or not).
        https
            .hub
            .ca_revoke(&issued.row.serial, "keyCompromise")
            .await
            .unwrap();
        refused(
            market
                .get(https.url("/v1/departments"))
                .send()
                .await
                .unwrap(),
            401,
            "CERT_REVOKED",
        )
        .await;
        // The hub's own peer certificate chains to the CA but is no
        // department's.
        let (peer_pem, peer_key) = https.hub.peer_client_identity().await.unwrap();
        let peer = https.client(Some(
            reqwest::Identity::from_pem(format!("{peer_pem}{}", peer_key.as_str()).as_bytes())
                .unwrap(),
        ));
        refused(
            peer.get(https.url("/v1/departments")).send().await.unwrap(),
            401,
            "CERT_NOT_CLIENT",
        )
        .await;
        https.stop().await;
        backend
    })
    .await;
}

#[tokio::test]
async fn public_verification_takes_a_verifiers_token_or_none() {
    crate::each_served(
        "http_admin_verifier",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let licence = crate::business_licence(&served.hub, None).await;
            for token in [&tokens.verifier, &tokens.auditor, &tokens.market] {
                let verified: serde_json::Value = served
                    .call(token, Method::POST, "/v1/verify", Some(&licence))
                    .await
                    .json()
                    .await
                    .unwrap();
                assert_eq!(verified["valid"], true, "{verified}");
            }
            assert_eq!(served.verify(&licence).await["valid"], true);
            // Credentials given are checked, even where none are needed.
            refused(
                served
                    .call("tbk_forged", Method::POST, "/v1/verify", Some(&licence))
                    .await,
                401,
                "TOKEN_INVALID",
            )
            .await;
            // A verifier verifies, nothing else.
            refused(
                served
                    .call(&tokens.verifier, Method::GET, "/v1/departments", None)
                    .await,
                403,
                "FORBIDDEN",
            )
            .await;
            served
        },
    )
    .await;
}
