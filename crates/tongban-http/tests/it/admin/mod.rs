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
mod notices;
mod peers;
mod schemas;
mod statistics;
mod supervision;
mod tokens;

use reqwest::Method;
use serde_json::Value;
use time::Duration;
use tongban_service::{Role, samples};

use crate::{Served, problem};

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

    /// The audit log's entries about `subject`, newest first: each one's
    /// action, actor, and the token that asked (its detail's `by`; empty
    /// when it names none).
    pub async fn audit_trail(&self, subject: &str) -> Vec<[String; 3]> {
        let entries = self.hub.store().audit_of(subject, 10).await.unwrap();
        entries
            .into_iter()
            .map(|e| {
                let detail: Value = serde_json::from_str(&e.detail).unwrap();
                let by = detail["by"].as_str().unwrap_or_default().to_owned();
                [e.action, e.actor, by]
            })
            .collect()
    }

    /// Makes the request of `refusal`, and checks that it is refused with
    /// its status and code, and wrote nothing to the audit log.
    pub async fn refuses(&self, refusal: Refusal<'_>) {
        self.refused_each(std::slice::from_ref(&refusal)).await;
    }

    /// Makes each request of `refusals` in turn, and checks that each is
    /// refused with its status and code, and that together they wrote
    /// nothing to the audit log.
    pub async fn refused_each(&self, refusals: &[Refusal<'_>]) {
        let before = self.audit_head().await;
        for refusal in refusals {
            let Request {
                token,
                method,
                path,
                body,
            } = &refusal.request;
            let response = self.call(token, method.clone(), path, body.as_ref()).await;
            let what = format!("{method} {path}");
            assert_eq!(response.status().as_u16(), refusal.status, "{what}");
            let problem = problem(response, refusal.status).await;
            assert_eq!(problem["code"], refusal.code, "{what}: {problem}");
            if let Some(word) = refusal.naming {
                let detail = problem["detail"].as_str().unwrap();
                assert!(detail.contains(word), "{what}: {problem}");
            }
        }
        assert_eq!(self.audit_head().await, before, "a refusal wrote");
    }
}

/// `token`'s request, to be refused: a row of a table of refusals.
pub fn asking(token: &str) -> Asking<'_> {
    Asking { token }
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    token: &'a str,
}

impl<'a> Asking<'a> {
    pub fn get(self, path: impl AsRef<str>) -> Request<'a> {
        self.send(Method::GET, path, None)
    }

    pub fn post(self, path: impl AsRef<str>, body: Value) -> Request<'a> {
        self.send(Method::POST, path, Some(body))
    }

    pub fn put(self, path: impl AsRef<str>, body: Value) -> Request<'a> {
        self.send(Method::PUT, path, Some(body))
    }

    pub fn delete(self, path: impl AsRef<str>) -> Request<'a> {
        self.send(Method::DELETE, path, None)
    }

    /// `method path`, with `body` as JSON when given.
    pub fn send(self, method: Method, path: impl AsRef<str>, body: Option<Value>) -> Request<'a> {
        Request {
            token: self.token,
            method,
            path: path.as_ref().to_owned(),
            body,
        }
    }
}

/// A request with the token that makes it.
#[derive(Debug)]
pub struct Request<'a> {
    token: &'a str,
    method: Method,
    path: String,
    body: Option<Value>,
}

impl<'a> Request<'a> {
    /// To be refused with `status` and `code`.
    pub fn refused(self, status: u16, code: &'static str) -> Refusal<'a> {
        Refusal {
            request: self,
            status,
            code,
            naming: None,
        }
    }
}

/// A request and the problem it must be answered with.
#[derive(Debug)]
pub struct Refusal<'a> {
    request: Request<'a>,
    status: u16,
    code: &'static str,
    /// A word the problem's detail must contain.
    naming: Option<&'static str>,
}

impl Refusal<'_> {
    /// Whose problem's detail names `word` (the member at fault, say).
    pub fn naming(mut self, word: &'static str) -> Self {
        self.naming = Some(word);
        self
    }
}
