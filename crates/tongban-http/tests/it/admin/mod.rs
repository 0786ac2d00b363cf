//! The administrative API: each area's endpoints with a real client, and
//! the role matrix (every role × every endpoint → allowed or 403).

mod access;
mod areas;
mod audit;
mod auth;
mod ca;
mod cases;
mod catalogue;
mod departments;
mod hotline;
mod items;
mod keys;
mod licences;
mod matrix;
mod peers;
mod schemas;
mod statistics;
mod supervision;
mod tokens;

use reqwest::Method;
use serde_json::Value;
use time::Duration;
use tongban_service::{Role, samples};

use crate::Served;

/// An API token of each role: a region administrator, an operator of the
/// market bureau, an operator of civil affairs, an auditor, a verifier.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub admin: String,
    pub market: String,
    pub civil: String,
    pub auditor: String,
    pub verifier: String,
}

impl Tokens {
    pub async fn make(served: &Served) -> Tokens {
        let hub = &served.hub;
        let make = |name: &'static str, role: Role, dept: Option<&'static str>| async move {
            hub.token_create(name, role, dept, Duration::days(1))
                .await
                .unwrap()
                .token
        };
        Tokens {
            admin: make("admin", Role::RegionAdmin, None).await,
            market: make("market", Role::DepartmentOperator, Some(samples::MARKET)).await,
            civil: make(
                "civil",
                Role::DepartmentOperator,
                Some(samples::CIVIL_AFFAIRS),
            )
            .await,
            auditor: make("auditor", Role::Auditor, None).await,
            verifier: make("verifier", Role::Verifier, None).await,
        }
    }
}

impl Served {
    /// `method path` with `token`, and `body` as JSON when given.
    pub async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// `GET path` with `token`: the JSON answer, after checking it is a 200.
    pub async fn read(&self, token: &str, path: &str) -> Value {
        let response = self.call(token, Method::GET, path, None).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// The audit log's head sequence: what a refusal must leave as it was.
    pub async fn audit_head(&self) -> u64 {
        self.hub.store().audit_head().await.unwrap().0
    }
}
