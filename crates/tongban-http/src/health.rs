//! `/healthz` (the process runs), `/readyz` (it can serve: the store
//! answers with every migration applied, the QUIC listener accepts, and
//! the hub is not draining) and `/metrics` (what the hub counts, for
//! Prometheus).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use tongban_service::Code;

use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/healthz", healthz)
        .get("/readyz", readyz)
        .get("/metrics", metrics)
}

/// The answer of a health check that passed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `alive` or `ready`.
    pub status: &'static str,
}

/// The process runs.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "the process runs", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "alive" })
}

/// What the hub counts (OpenMetrics text): connections, envelopes
/// accepted and refused by code, batch sizes, verify and commit latency,
/// licences verified; and, read from the store now, pending deliveries per
/// department, licences by status, peers' trust lists, the audit head.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "the metrics, in the OpenMetrics text format",
        body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub(crate) async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let text = state.metrics.render(&state.hub).await;
    (
        [(header::CONTENT_TYPE, tongban_hub::METRICS_CONTENT_TYPE)],
        text,
    )
}

/// The hub can serve.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "ready", body = Health),
        (status = 503, description = "not ready: DRAINING, NOT_READY or STORE_UNAVAILABLE, with the reason",
            body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn readyz(State(state): State<HttpState>) -> Result<Json<Health>, Problem> {
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    if state.readiness.draining() {
        return Err(Problem::coded(
            unavailable,
            Code::Draining,
            "the hub is shutting down and finishing what it accepted",
        ));
    }
    if !state.readiness.quic_accepting() {
        return Err(Problem::coded(
            unavailable,
            Code::NotReady,
            "the QUIC listener is not accepting",
        ));
    }
    if let Err(e) = state.hub.ready().await {
        let problem = Problem::from(e);
        if problem.status() == unavailable {
            return Err(problem);
        }
        tracing::warn!(code = %problem.code, "store not ready");
        return Err(Problem::coded(
            unavailable,
            Code::NotReady,
            "the store is not ready (migrations not applied); the hub's log has the detail",
        ));
    }
    Ok(Json(Health { status: "ready" }))
}
