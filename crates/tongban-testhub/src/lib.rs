//! The exchange served in this process on 127.0.0.1 (a fresh CA and server
//! certificate), with clients for sample departments, and two regions' hubs
//! made peers ([`regions`]): for `tongban demo` and `tongban-bench`.
//!
//! A harness for those two binaries, not a library of the product: its
//! errors are `anyhow`'s, carrying the libraries' own errors unchanged so
//! that each binary reports their stable codes as it always did.
//!
//! `LocalHub::start` serves the exchange on an ephemeral loopback port with a
//! fresh CA and server certificate; `LocalHub::client` connects a department
//! with a fresh client certificate and its key from the node's key store.
#![forbid(unsafe_code)]

pub mod regions;

use std::net::{Ipv4Addr, SocketAddr};

use tongban_client::{Client, ClientConfig};
use tongban_hub::{ServeConfig, TlsMaterial};
use tongban_service::Service;
use tongban_service::ca::CertRequest;

/// A running in-process hub server.
#[derive(Debug)]
pub struct LocalHub {
    /// Where it listens.
    pub addr: SocketAddr,
    ca_pem: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl LocalHub {
    /// Creates the hub's CA (named `ca_name`) and a server certificate for
    /// localhost, and serves on an ephemeral loopback port.
    pub async fn start(
        hub: &Service,
        ca_name: &str,
        serve: ServeConfig,
    ) -> anyhow::Result<LocalHub> {
        let ca = hub.ca_init(ca_name).await?;
        let server = hub
            .ca_issue(
                CertRequest::Server {
                    dns: vec!["localhost".into()],
                    ips: vec![Ipv4Addr::LOCALHOST.into()],
                },
                None,
            )
            .await?;
        let tls = TlsMaterial {
            ca_pem: ca.pem.clone(),
            cert_pem: server.row.pem.clone(),
            key_pem: server.key_pem.to_string(),
        };
        let endpoint =
            tongban_hub::bind((Ipv4Addr::LOCALHOST, 0).into(), hub, &tls, &serve).await?;
        let addr = endpoint.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server_hub = hub.clone();
        let server = tokio::spawn(async move {
            let _ = tongban_hub::run(endpoint, server_hub, tls, serve, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(LocalHub {
            addr,
            ca_pem: ca.pem,
            shutdown: tx,
            server,
        })
    }

    /// A connected client for `department`: a fresh client certificate and
    /// the department's signing key from this node's key store.
    pub async fn client(&self, hub: &Service, department: &str) -> anyhow::Result<Client> {
        let cert = hub.ca_issue(CertRequest::client(department), None).await?;
        Ok(Client::connect(ClientConfig {
            hubs: vec![self.addr],
            server_name: "localhost".into(),
            ca_pem: self.ca_pem.clone(),
            cert_pem: cert.row.pem.clone(),
            key_pem: cert.key_pem.to_string(),
            department: department.into(),
            signing_key: hub.danger_signing_key(department).await?,
            timeouts: tongban_client::Timeouts::default(),
        })
        .await?)
    }

    /// Shuts the server down, draining in-flight work.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
    }
}
