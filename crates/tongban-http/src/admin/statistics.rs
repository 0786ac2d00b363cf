//! Exchange statistics — `tongban stats`: read from the store, as the CLI
//! reads them, so any node of the hub answers the same.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use tongban_service::{Action, LicenceActivity};
use tongban_store::ExchangeStats;
use utoipa::{IntoParams, OpenApi};

use super::{Caller, Params, Refused};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/statistics", statistics)
        .needs(Action::StatisticsRead)
        .get("/v1/statistics/licences", licences)
        .needs(Action::StatisticsRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(statistics, licences))]
pub(crate) struct Doc;

/// The filter of `GET /v1/statistics`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatisticsQuery {
    /// Only exchanges from this day on (`YYYY-MM-DD`, UTC).
    since: Option<String>,
}

/// Records exchanged, deliveries, requests served and refusals, per
/// resource and per department, and refusals by code (`tongban stats
/// --json`).
#[utoipa::path(get, path = "/v1/statistics", tag = "statistics",
    params(StatisticsQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`resources`, `departments`, `refusalCodes`", body = Object), Refused))]
pub(crate) async fn statistics(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<StatisticsQuery>,
) -> Result<Json<ExchangeStats>, Problem> {
    caller.may(Action::StatisticsRead)?;
    let since = q
        .since
        .as_deref()
        .map(|d| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(d, format)
                .map(|date| date.midnight().assume_utc())
                .map_err(|e| body::invalid(format!("since is a day, YYYY-MM-DD: {e}")))
        })
        .transpose()?;
    Ok(Json(state.hub.exchange_statistics(since).await?))
}

/// From when `GET /v1/statistics/licences` counts.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LicencesQuery {
    /// An RFC 3339 instant, e.g. `2026-05-20T00:00:00+08:00` (the start of
    /// a day in China time).
    since: String,
}

/// Licences issued and licence-use records (用证记录) written since an
/// instant, and the licences by status now: the console's overview.
#[utoipa::path(get, path = "/v1/statistics/licences", tag = "statistics",
    params(LicencesQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`since`, `issued`, `used`, `byStatus`", body = Object), Refused))]
pub(crate) async fn licences(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<LicencesQuery>,
) -> Result<Json<LicenceActivity>, Problem> {
    caller.may(Action::StatisticsRead)?;
    let since = tongban_seal::timefmt::parse_rfc3339(q.since.trim())
        .map_err(|e| body::invalid(format!("since is an RFC 3339 instant: {e}")))?;
    Ok(Json(state.hub.licence_activity(since).await?))
}
