//! One sample call of each administrative endpoint, for the role matrix:
//! what it is about (the department it acts for, if any), so that the
//! matrix knows whether a department operator may make it.

use reqwest::Method;
use serde_json::Value;

use crate::Served;

/// A call of one endpoint.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// The route as the router records it (`/v1/departments/{code}`).
    pub route: &'static str,
    /// The path called.
    pub path: String,
    pub body: Option<Value>,
    /// The department the call acts for, when it is about one.
    pub department: Option<&'static str>,
}

impl Call {
    pub fn get(route: &'static str, path: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            route,
            path: path.into(),
            body: None,
            department: None,
        }
    }

    pub fn post(route: &'static str, path: impl Into<String>, body: Value) -> Call {
        Call {
            method: Method::POST,
            route,
            path: path.into(),
            body: Some(body),
            department: None,
        }
    }

    pub fn put(route: &'static str, path: impl Into<String>, body: Value) -> Call {
        Call::post(route, path, body).with_method(Method::PUT)
    }

    pub fn with_method(mut self, method: Method) -> Call {
        self.method = method;
        self
    }

    /// About `department`'s things.
    pub fn about(mut self, department: &'static str) -> Call {
        self.department = Some(department);
        self
    }
}

/// Every sample call, over the sample region on `served` (which they may
/// change: a call that finds the state changed by an earlier one is still
/// allowed, just refused by the service for its own reason). Each area's
/// module sets up what its calls need and names them.
pub async fn calls(served: &Served) -> Vec<Call> {
    let mut calls = Vec::new();
    calls.extend(super::departments::calls(served).await);
    calls.extend(super::keys::calls(served).await);
    calls.extend(super::ca::calls(served).await);
    calls.extend(super::schemas::calls(served).await);
    calls.extend(super::catalogue::calls(served).await);
    calls.extend(super::access::calls(served).await);
    calls.extend(super::items::calls(served).await);
    calls.extend(super::cases::calls(served).await);
    calls.extend(super::licences::calls(served).await);
    calls.extend(super::audit::calls(served).await);
    calls.extend(super::peers::calls(served).await);
    calls.extend(super::statistics::calls(served).await);
    calls.extend(super::supervision::calls(served).await);
    calls.extend(super::hotline::calls(served).await);
    calls.extend(super::tokens::calls(served).await);
    calls.extend(super::notices::calls(served).await);
    calls.sort_by_key(|c| (c.route, c.method.to_string()));
    calls
}
