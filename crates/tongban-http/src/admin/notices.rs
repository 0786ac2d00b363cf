//! What supervision pushes (电子监察预警) and its notices (督办) — the
//! supervising office and the warning threshold (region administrator),
//! a sweep run on demand, the pushes written to the outbox, and notices
//! issued by the office and answered by the unit asked.
//!
//! Who sees what of a notice is the service's rule
//! ([`tongban_service::Service::notice_seen_by`]): administrators, auditors
//! and the supervising office every notice, a unit those it was asked.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use tongban_service::alerts::{NewNotice, SweepReport};
use tongban_service::{Action, Error};
use tongban_store::{MAX_OUTBOX_BATCH, NoticeRow, OutboxRow, StoreError};
use tongban_supervision::Thresholds;
use tongban_supervision::calendar::{parse_day, start_of};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{Body, Caller, Listed, MAX_PAGE, Page, Params, Refused, created};
use crate::body;
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/supervision/office", office)
        .needs(Action::StatisticsRead)
        .put("/v1/supervision/office", set_office)
        .needs(Action::SupervisionWrite)
        .get("/v1/supervision/thresholds", thresholds)
        .needs(Action::StatisticsRead)
        .put("/v1/supervision/thresholds", set_thresholds)
        .needs(Action::SupervisionWrite)
        .post("/v1/supervision/sweep", sweep)
        .needs(Action::SupervisionWrite)
        .get("/v1/supervision/pushes", pushes)
        .needs(Action::NoticesRead)
        .get("/v1/supervision/notices", list)
        .needs(Action::NoticesRead)
        .post("/v1/supervision/notices", issue)
        .needs(Action::NoticesWrite)
        .get("/v1/supervision/notices/{id}", show)
        .needs(Action::NoticesRead)
        .post("/v1/supervision/notices/{id}/answer", answer)
        .needs(Action::NoticesWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        office,
        set_office,
        thresholds,
        set_thresholds,
        sweep,
        pushes,
        list,
        issue,
        show,
        answer
    ),
    components(schemas(Office, NamedOffice, Threshold, NewNoticeBody, AnswerBody))
)]
pub(crate) struct Doc;

/// The supervising office, if named.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Office {
    /// The department that receives every warning, card and notice and
    /// issues notices; `null` until one is named.
    department: Option<String>,
}

/// The supervising office to name.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamedOffice {
    /// An active department.
    department: String,
}

/// The supervising office (`null` until named).
#[utoipa::path(get, path = "/v1/supervision/office", tag = "supervision",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`department`, or null", body = Office), Refused))]
pub(crate) async fn office(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<Office>, Problem> {
    caller.may(Action::StatisticsRead)?;
    Ok(Json(Office {
        department: state.hub.supervising_office().await?,
    }))
}

/// Names the supervising office (an active department:
/// `DEPARTMENT_UNKNOWN` otherwise); audited (`supervision.office`).
#[utoipa::path(put, path = "/v1/supervision/office", tag = "supervision",
    request_body = NamedOffice,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the office named", body = NamedOffice), Refused))]
pub(crate) async fn set_office(
    State(state): State<HttpState>,
    caller: Caller,
    Body(o): Body<NamedOffice>,
) -> Result<Json<NamedOffice>, Problem> {
    caller.may(Action::SupervisionWrite)?;
    caller
        .hub(&state)
        .set_supervising_office(&o.department)
        .await?;
    Ok(Json(o))
}

/// The warning threshold.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Threshold {
    /// A case is warned (yellow) from this share of its promised limit, in
    /// percent (1–99).
    warn_percent: u32,
}

impl From<Thresholds> for Threshold {
    fn from(t: Thresholds) -> Self {
        Threshold {
            warn_percent: t.warn_percent,
        }
    }
}

/// The warning threshold in force (80 % unless set).
#[utoipa::path(get, path = "/v1/supervision/thresholds", tag = "supervision",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`warnPercent`", body = Threshold), Refused))]
pub(crate) async fn thresholds(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<Threshold>, Problem> {
    caller.may(Action::StatisticsRead)?;
    Ok(Json(state.hub.supervision_thresholds().await?.into()))
}

/// Sets the warning threshold (`THRESHOLDS_INVALID` outside 1–99);
/// audited (`supervision.thresholds`). Cases are judged by it from their
/// next event or sweep on.
#[utoipa::path(put, path = "/v1/supervision/thresholds", tag = "supervision",
    request_body = Threshold,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the threshold set", body = Threshold), Refused))]
pub(crate) async fn set_thresholds(
    State(state): State<HttpState>,
    caller: Caller,
    Body(t): Body<Threshold>,
) -> Result<Json<Threshold>, Problem> {
    caller.may(Action::SupervisionWrite)?;
    let set = caller
        .hub(&state)
        .set_supervision_thresholds(Thresholds {
            warn_percent: t.warn_percent,
        })
        .await?;
    Ok(Json(set.into()))
}

/// Looks now at every open case, open work order and unanswered notice,
/// and writes the pushes of what passed a threshold or a deadline (each
/// at most once) — what the hub does at its start and every
/// `--supervision-interval`; useful after loading a calendar.
#[utoipa::path(post, path = "/v1/supervision/sweep", tag = "supervision",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`cases`, `warnings`, `orders`, `cards`, `noticesOverdue`, `uncounted`", body = Object), Refused))]
pub(crate) async fn sweep(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<SweepReport>, Problem> {
    caller.may(Action::SupervisionWrite)?;
    Ok(Json(caller.hub(&state).supervision_sweep().await?))
}

/// The query of `GET /v1/supervision/pushes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PushesQuery {
    /// Only those to this department (an operator's own by default; the
    /// supervising office is in every push's audience).
    department: Option<String>,
    /// First day (YYYY-MM-DD, China time; default: from the start).
    from: Option<String>,
    /// Day after the last (default: up to now).
    to: Option<String>,
    /// Items per page (1 to 499, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// A push of supervision: a message the hub signs and sends on
/// `hub.supervision` to the subscribers among its audience.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Push {
    /// The message's id, derived from the fact it tells.
    pub id: String,
    /// Its payload's schema (`supervision-alert@1`, `supervision-notice@1`).
    pub schema: String,
    /// The departments it goes to.
    pub audience: Vec<String>,
    /// Its payload.
    pub payload: Value,
    /// When the fact was found.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The message's sequence number, once sent.
    pub sent_seq: Option<u64>,
}

impl TryFrom<OutboxRow> for Push {
    type Error = Error;

    fn try_from(row: OutboxRow) -> Result<Self, Error> {
        let payload = serde_json::from_str(&row.payload)
            .map_err(|e| Error::from(StoreError::Corrupt(format!("outbox {}: {e}", row.id))))?;
        Ok(Push {
            id: row.id,
            schema: row.schema,
            audience: row.audience,
            payload,
            created_at: row.created_at,
            sent_seq: row.sent_seq,
        })
    }
}

/// What supervision pushed (or is about to push), newest first: warnings,
/// cards, notices and their answers.
#[utoipa::path(get, path = "/v1/supervision/pushes", tag = "supervision",
    params(PushesQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of pushes: `id`, `schema`, `audience`, `payload`, `createdAt`, `sentSeq`", body = Object), Refused))]
pub(crate) async fn pushes(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<PushesQuery>,
) -> Result<Json<Listed<Push>>, Problem> {
    let page = Page::of(q.limit, q.offset)?;
    let window = page.window_within(MAX_OUTBOX_BATCH)?;
    let from = match q.from {
        Some(d) => start_of(day(&d, "from")?),
        None => OffsetDateTime::UNIX_EPOCH,
    };
    let to = match q.to {
        Some(d) => start_of(day(&d, "to")?),
        // Just past now: what was found up to this call.
        None => state.hub.now() + time::Duration::seconds(1),
    };
    let department = caller.narrowed(Action::NoticesRead, q.department.as_deref())?;
    let rows = state
        .hub
        .supervision_pushes(department.as_deref(), (from, to), window)
        .await?;
    let pushed = rows
        .into_iter()
        .map(Push::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page.of_window(pushed)))
}

fn day(text: &str, what: &str) -> Result<time::Date, Problem> {
    parse_day(text).map_err(|e| body::invalid(format!("{what} {e}")))
}

/// The query of `GET /v1/supervision/notices`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The department asking (an operator's own by default; an
    /// administrator or auditor sees every notice unless it names one).
    department: Option<String>,
    /// Only the notices to this unit.
    unit: Option<String>,
    /// Only the unanswered ones.
    open: Option<bool>,
    /// Items per page (1 to 1000, default 100).
    limit: Option<usize>,
    /// Items skipped.
    offset: Option<usize>,
}

/// Notices (督办), newest first: every notice for administrators,
/// auditors and the supervising office, a unit's own for the unit
/// (naming another unit is `NOTICE_FORBIDDEN`).
#[utoipa::path(get, path = "/v1/supervision/notices", tag = "supervision",
    params(ListQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "a page of notices", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Listed<NoticeRow>>, Problem> {
    let page = Page::of(q.limit, q.offset)?;
    let window = page.window_within(MAX_PAGE + 1)?;
    let viewer = caller.narrowed(Action::NoticesRead, q.department.as_deref())?;
    let notices = state
        .hub
        .notices_seen_by(
            viewer.as_deref(),
            q.unit.as_deref(),
            q.open.unwrap_or(false),
            window,
        )
        .await?;
    Ok(Json(page.of_window(notices)))
}

/// A notice to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NewNoticeBody {
    /// The supervising office issuing it (an operator's own department by
    /// default; an administrator naming none issues as itself).
    office: Option<String>,
    /// The unit that must answer.
    unit: String,
    /// `case` (one of the unit's cases) or `order` (a work order
    /// dispatched to it).
    subject_kind: String,
    /// The case or order id.
    subject: String,
    /// What the office asks (1–2000 characters).
    text: String,
    /// Working days to answer (1–30).
    answer_days: u32,
}

/// The supervising office (or an administrator) issues a notice (督办) to
/// a unit about one of its cases or a work order dispatched to it; pushed
/// to the unit and the office; audited (`notice.issue`).
#[utoipa::path(post, path = "/v1/supervision/notices", tag = "supervision",
    request_body = NewNoticeBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the notice, with its id and the day its answer is due", body = Object), Refused))]
pub(crate) async fn issue(
    State(state): State<HttpState>,
    caller: Caller,
    Body(n): Body<NewNoticeBody>,
) -> Result<(StatusCode, Json<NoticeRow>), Problem> {
    // An operator issues as its own department, an administrator as the
    // office it names or as itself.
    let issuer = caller.narrowed(Action::NoticesWrite, n.office.as_deref())?;
    let new = NewNotice {
        unit: n.unit,
        subject_kind: n.subject_kind,
        subject: n.subject,
        text: n.text,
        answer_days: n.answer_days,
    };
    Ok(created(
        caller
            .hub(&state)
            .notice_issue(issuer.as_deref(), new)
            .await?,
    ))
}

/// The query of `GET /v1/supervision/notices/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// The department asking (an operator's own by default).
    department: Option<String>,
}

/// A notice, for administrators, auditors, the supervising office and the
/// unit it asks.
#[utoipa::path(get, path = "/v1/supervision/notices/{id}", tag = "supervision",
    params(("id" = String, Path, description = "the notice's id (DB…)"), ShowQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the notice and its answer, if any", body = Object), Refused))]
pub(crate) async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ShowQuery>,
) -> Result<Json<NoticeRow>, Problem> {
    let viewer = caller.narrowed(Action::NoticesRead, q.department.as_deref())?;
    Ok(Json(
        state.hub.notice_seen_by(viewer.as_deref(), &id).await?,
    ))
}

/// An answer to a notice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerBody {
    /// The unit answering (an operator's own department by default; an
    /// administrator names it).
    department: Option<String>,
    /// The answer (1–2000 characters).
    answer: String,
}

/// The unit asked answers a notice, once; pushed to the unit and the
/// office; audited (`notice.answer`).
#[utoipa::path(post, path = "/v1/supervision/notices/{id}/answer", tag = "supervision",
    params(("id" = String, Path, description = "the notice's id (DB…)")),
    request_body = AnswerBody,
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the notice with its answer", body = Object),
        (status = 409, description = "NOTICE_ANSWERED", content_type = "application/problem+json", body = Problem),
        Refused))]
pub(crate) async fn answer(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(a): Body<AnswerBody>,
) -> Result<Json<NoticeRow>, Problem> {
    let unit = caller.department(Action::NoticesWrite, a.department.as_deref())?;
    Ok(Json(
        caller
            .hub(&state)
            .notice_answer(&unit, &id, &a.answer, true)
            .await?,
    ))
}
