//! Electronic supervision (电子监察): the working-day calendar (read,
//! deadlines, a year loaded), a case's events and standing, and a period's
//! report — `tongban calendar`, `tongban case standing`, `tongban
//! supervise report`.
//!
//! Cases' events are reported by the departments' case systems over QUIC
//! (`hub.case.event`); here they are only read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;
use tongban_service::{Action, CalendarEntry, CaseSupervision, OrderReport, SupervisionReport};
use tongban_supervision::CalendarYear;
use tongban_supervision::calendar::{parse_day, start_of};
use utoipa::{IntoParams, OpenApi};

use super::{Body, Caller, Params, Refused, created};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/calendar", calendar)
        .needs(Action::CalendarRead)
        .post("/v1/calendar", load)
        .needs(Action::CalendarWrite)
        .get("/v1/calendar/deadline", deadline)
        .needs(Action::CalendarRead)
        .get("/v1/cases/{department}/{id}/supervision", standing)
        .needs(Action::CasesRead)
        .get("/v1/supervision/report", report)
        .needs(Action::StatisticsRead)
        .get("/v1/supervision/orders", orders)
        .needs(Action::StatisticsRead)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(calendar, load, deadline, standing, report, orders))]
pub(crate) struct Doc;

/// The years of the working-day calendar in force, each shipped with this
/// build or loaded, with its holidays and make-up working days.
#[utoipa::path(get, path = "/v1/calendar", tag = "supervision",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the years, oldest first: `year`, `origin` (`shipped` or `loaded`), `loaded`, `calendar`", body = Object), Refused))]
pub(crate) async fn calendar(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<Vec<CalendarEntry>>, Problem> {
    caller.may(Action::CalendarRead)?;
    Ok(Json(state.hub.calendar_years().await?))
}

/// Loads a year of the working-day calendar (`{"year", "source",
/// "holidays": [{"name", "from", "to"}], "workdays": [{"date", "name"}]}`),
/// replacing the year shipped or loaded before; audited (`calendar.load`).
#[utoipa::path(post, path = "/v1/calendar", tag = "supervision",
    request_body(content = Object, description = "one year's calendar, as the State Council publishes it"),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the year as loaded", body = Object), Refused))]
pub(crate) async fn load(
    State(state): State<HttpState>,
    caller: Caller,
    Body(year): Body<Value>,
) -> Result<(StatusCode, Json<CalendarYear>), Problem> {
    caller.may(Action::CalendarWrite)?;
    let loaded = caller.hub(&state).calendar_load(&year.to_string()).await?;
    Ok(created(loaded))
}

fn day(text: &str, what: &str) -> Result<Date, Problem> {
    parse_day(text).map_err(|e| body::invalid(format!("{what} {e}")))
}

/// The query of `GET /v1/calendar/deadline`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeadlineQuery {
    /// The day the period starts (YYYY-MM-DD), not counted.
    from: String,
    /// The limit in working days.
    days: u32,
}

/// The last day of a limit.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deadline {
    /// The day the period starts.
    pub from: String,
    /// The limit in working days.
    pub days: u32,
    /// Its last day (YYYY-MM-DD).
    pub last_day: String,
}

/// The last working day of a limit of `days` working days from `from`
/// (that day not counted); `CALENDAR_YEAR_MISSING` when it runs into a
/// year not loaded.
#[utoipa::path(get, path = "/v1/calendar/deadline", tag = "supervision",
    params(DeadlineQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`from`, `days`, `lastDay`", body = Object), Refused))]
pub(crate) async fn deadline(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<DeadlineQuery>,
) -> Result<Json<Deadline>, Problem> {
    caller.may(Action::CalendarRead)?;
    let start = day(&q.from, "from")?;
    let last = state
        .hub
        .calendar()
        .await?
        .add_working_days(start, q.days)
        .map_err(tongban_service::Error::from)?;
    Ok(Json(Deadline {
        from: q.from,
        days: q.days,
        last_day: last.to_string(),
    }))
}

/// A case under supervision: its events, and where it stands now against
/// its item's limits (`tongban case standing`).
#[utoipa::path(get, path = "/v1/cases/{department}/{id}/supervision", tag = "supervision",
    params(
        ("department" = String, Path, description = "the handling department (统一社会信用代码)"),
        ("id" = String, Path, description = "办件编号")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`case` (as of its last event), `events`, `now` (its timing now)", body = Object), Refused))]
pub(crate) async fn standing(
    State(state): State<HttpState>,
    caller: Caller,
    Path((department, id)): Path<(String, String)>,
) -> Result<Json<CaseSupervision>, Problem> {
    caller.may_for(Action::CasesRead, &department)?;
    Ok(Json(state.hub.case_supervision(&department, &id).await?))
}

/// The query of `GET /v1/supervision/report`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportQuery {
    /// First day (YYYY-MM-DD, China time).
    from: String,
    /// Day after the last.
    to: String,
    /// Only this department's cases.
    department: Option<String>,
}

/// The supervision report of the cases opened in a period: per department
/// and item type, per department and in total (`tongban supervise report`).
#[utoipa::path(get, path = "/v1/supervision/report", tag = "supervision",
    params(ReportQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`from`, `to`, `lines`, `departments`, `total`: counts, 按时办结率, elapsed against limits, 评价率, 满意度, online and 零跑动 shares", body = Object), Refused))]
pub(crate) async fn report(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ReportQuery>,
) -> Result<Json<SupervisionReport>, Problem> {
    caller.may(Action::StatisticsRead)?;
    let (from, to) = (start_of(day(&q.from, "from")?), start_of(day(&q.to, "to")?));
    Ok(Json(
        state
            .hub
            .supervision_report(q.department.as_deref(), from, to)
            .await?,
    ))
}

/// The query of `GET /v1/supervision/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrdersQuery {
    /// First day (YYYY-MM-DD, China time).
    from: String,
    /// Day after the last.
    to: String,
}

/// The 12345 report of the work orders created in a period: per member
/// unit and category, per unit and in total (`tongban supervise orders`).
#[utoipa::path(get, path = "/v1/supervision/orders", tag = "supervision",
    params(OrdersQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`from`, `to`, `lines`, `units`, `total`: orders, signed and replied (on time), called back, satisfied, closed, yellow and red cards, 按时签收率, 按时办结率, 满意率", body = Object), Refused))]
pub(crate) async fn orders(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<OrdersQuery>,
) -> Result<Json<OrderReport>, Problem> {
    caller.may(Action::StatisticsRead)?;
    let (from, to) = (start_of(day(&q.from, "from")?), start_of(day(&q.to, "to")?));
    Ok(Json(state.hub.order_report(from, to).await?))
}
