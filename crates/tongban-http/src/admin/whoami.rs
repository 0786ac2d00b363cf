//! Who the caller is, and what its role lets it do: what the web console
//! asks before it shows a page or a button (it still only does what the
//! API allows; hiding is for the user's sake, refusing is the API's).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tongban_service::Action;
use tongban_service::tokens::{Reach, reach};
use utoipa::OpenApi;

use super::{Caller, Refused};
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    // Any authenticated caller: no action needed beyond being one.
    Api::new().get("/v1/whoami", whoami)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(whoami))]
pub(crate) struct Doc;

/// The caller, as the hub knows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// `token:tok_…` or `cert:{subject}`: what the audit log records.
    pub name: String,
    /// `region-admin`, `department-operator`, `auditor` or `verifier`.
    pub role: &'static str,
    /// The department it acts for (department operators).
    pub department: Option<String>,
    /// That department's name, when it is registered.
    pub department_name: Option<String>,
    /// Every action with how far the role may take it: `any`,
    /// `own-department` or `none`.
    pub may: BTreeMap<String, Reach>,
}

/// Who the credentials presented are: name, role, department, and how far
/// the role may take each action (the service layer's one rule).
#[utoipa::path(get, path = "/v1/whoami", tag = "tokens",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`name`, `role`, `department`, `departmentName`, `may` (action → `any`, `own-department`, `none`)", body = Object), Refused))]
pub(crate) async fn whoami(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<WhoAmI>, Problem> {
    let principal = caller.principal();
    let department_name = match &principal.department {
        Some(code) => match state.hub.department(code).await {
            Ok(d) => Some(d.name),
            // Retired since the token was made: the name is not needed.
            Err(e) if e.is_refusal() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let may = Action::ALL
        .into_iter()
        .filter_map(|action| {
            let name = serde_json::to_value(action).ok()?.as_str()?.to_owned();
            Some((name, reach(principal.role, action)))
        })
        .collect();
    Ok(Json(WhoAmI {
        name: principal.name.clone(),
        role: principal.role.as_str(),
        department: principal.department.clone(),
        department_name,
        may,
    }))
}
