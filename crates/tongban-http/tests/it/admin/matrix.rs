//! Every role × every administrative endpoint → allowed or 403, nothing
//! else, on both store backends; a refusal writes nothing.

use std::collections::BTreeSet;

use tongban_service::tokens::{Reach, reach};
use tongban_service::{Role, samples};

use super::Tokens;
use super::areas::{Call, calls};
use crate::each_served;

/// Who calls in the matrix: a role, and the department it acts for.
fn callers(tokens: &Tokens) -> Vec<(&'static str, Role, Option<&'static str>, String)> {
    vec![
        (
            "region-admin",
            Role::RegionAdmin,
            None,
            tokens.admin.clone(),
        ),
        (
            "operator of the market bureau",
            Role::DepartmentOperator,
            Some(samples::MARKET),
            tokens.market.clone(),
        ),
        (
            "operator of civil affairs",
            Role::DepartmentOperator,
            Some(samples::CIVIL_AFFAIRS),
            tokens.civil.clone(),
        ),
        ("auditor", Role::Auditor, None, tokens.auditor.clone()),
        ("verifier", Role::Verifier, None, tokens.verifier.clone()),
    ]
}

/// Whether `role` (of `own` department) may make `call` needing `action`.
fn allowed(role: Role, own: Option<&str>, action: tongban_service::Action, call: &Call) -> bool {
    match reach(role, action) {
        Reach::Any => true,
        Reach::OwnDepartment => call.department.is_none_or(|d| Some(d) == own),
        Reach::None => false,
    }
}

#[tokio::test]
async fn every_role_on_every_endpoint_is_allowed_or_forbidden() {
    each_served(
        "http_admin_matrix",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            let routes = tongban_http::admin_routes();
            let calls = calls(&served).await;
            // Every administrative route has its sample call.
            let covered: BTreeSet<(String, &str)> = calls
                .iter()
                .map(|c| (c.method.to_string(), c.route))
                .collect();
            let missing: Vec<_> = routes
                .iter()
                .filter(|(r, _)| !covered.contains(&(r.method.to_owned(), r.path)))
                .map(|(r, _)| format!("{} {}", r.method, r.path))
                .collect();
            assert!(missing.is_empty(), "no sample call of {missing:?}");
            let mut walked = 0;
            let mut forbidden = 0;
            for call in &calls {
                let (_, action) = routes
                    .iter()
                    .find(|(r, _)| r.method == call.method.as_str() && r.path == call.route)
                    .unwrap_or_else(|| panic!("{} {} is not routed", call.method, call.route));
                // The administrator last, so that its changes come after the
                // refusals of the others.
                for (who, role, own, token) in callers(&tokens).into_iter().rev() {
                    let before = served.audit_head().await;
                    let response = served
                        .call(&token, call.method.clone(), &call.path, call.body.as_ref())
                        .await;
                    let status = response.status().as_u16();
                    let body: serde_json::Value = response.json().await.unwrap_or_default();
                    let what = format!("{who} {} {}: {status} {body}", call.method, call.path);
                    if allowed(role, own, *action, call) {
                        assert!(
                            status != 401 && status != 403 && status < 500,
                            "allowed, but {what}"
                        );
                    } else {
                        assert_eq!(status, 403, "forbidden, but {what}");
                        assert_eq!(body["code"], "FORBIDDEN", "{what}");
                        assert_eq!(served.audit_head().await, before, "written: {what}");
                        forbidden += 1;
                    }
                    walked += 1;
                }
            }
            assert_eq!(walked, calls.len() * 5);
            assert!(forbidden > 0);
            println!(
                "role matrix: {} endpoints, {walked} calls, {forbidden} forbidden",
                routes.len()
            );
            served
        },
    )
    .await;
}
