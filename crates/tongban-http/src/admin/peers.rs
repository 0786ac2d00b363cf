//! Hubs of other regions (全域通办): list with their trust lists' states,
//! this hub's card, add from a card, import a trust list handed over,
//! remove — `tongban peer …`. Reading peers needs `PeersWrite` too: the
//! list names other regions' addresses and anchors.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tongban_service::{Action, PeerCard};
use tongban_store::{PeerRow, PeerTrustRow};
use utoipa::{IntoParams, OpenApi};

use super::{Body, Caller, Params, Refused, created};
use crate::problem::Problem;
use crate::{Api, HttpState};

pub(crate) fn routes() -> Api {
    Api::new()
        .get("/v1/peers", list)
        .needs(Action::PeersWrite)
        .post("/v1/peers", add)
        .needs(Action::PeersWrite)
        .get("/v1/peers/card", card)
        .needs(Action::PeersWrite)
        .post("/v1/peers/{region}/trust", import_trust)
        .needs(Action::PeersWrite)
        .delete("/v1/peers/{region}", remove)
        .needs(Action::PeersWrite)
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(paths(list, add, card, import_trust, remove))]
pub(crate) struct Doc;

/// A peer with the state of its trust list and of its CA's CRL.
#[derive(Debug, Serialize)]
pub struct ListedPeer {
    /// The peer as added.
    #[serde(flatten)]
    pub peer: PeerRow,
    /// Its trust list: fetched, valid until, the last failure and the
    /// failures in a row; null before the first attempt.
    pub trust: Option<PeerTrustRow>,
    /// An active peer's CA's CRL: `fresh`, or the code of why licences
    /// and requests may not cross (null for a removed peer).
    pub crl: Option<String>,
}

/// Peers, removed ones too, with their trust lists' states (`tongban peer
/// list --json`).
#[utoipa::path(get, path = "/v1/peers", tag = "peers",
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the peers, each with `trust` and `crl`", body = Object), Refused))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    caller: Caller,
) -> Result<Json<Vec<ListedPeer>>, Problem> {
    caller.may(Action::PeersWrite)?;
    let trusts = state.hub.peer_trust_states().await?;
    let mut listed = Vec::new();
    for peer in state.hub.peers().await? {
        let trust = trusts
            .iter()
            .find(|t| t.region_code == peer.region_code)
            .cloned();
        let crl = if peer.status == "active" {
            Some(
                match state.hub.peer_crl_check(&peer.region_code, None).await {
                    Ok(()) => "fresh".to_owned(),
                    Err(e) if e.is_refusal() => e.code().to_owned(),
                    Err(e) => return Err(e.into()),
                },
            )
        } else {
            None
        };
        listed.push(ListedPeer { peer, trust, crl });
    }
    Ok(Json(listed))
}

/// Trusts another region's hub as its card describes (`tongban peer
/// add`); audited (`peer.add`).
#[utoipa::path(post, path = "/v1/peers", tag = "peers",
    request_body(content = Object, description = "the other hub's card, as `GET /v1/peers/card` (or `tongban peer card`) answers it there: `region`, `name`, `address`, `anchor`, `caPem`"),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 201, description = "the peer; `PEER_REGION_INVALID`, `PEER_ADDRESS_INVALID`, `PEER_ANCHOR_INVALID`, `PEER_CA_INVALID`, `PEER_IS_SELF`, `PEER_EXISTS` refused", body = Object), Refused))]
pub(crate) async fn add(
    State(state): State<HttpState>,
    caller: Caller,
    Body(card): Body<PeerCard>,
) -> Result<(StatusCode, Json<PeerRow>), Problem> {
    caller.may(Action::PeersWrite)?;
    Ok(created(caller.hub(&state).peer_add(card).await?))
}

/// The query of `GET /v1/peers/card`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CardQuery {
    /// `host:port` where peers reach this hub's QUIC side.
    address: String,
}

/// This hub's card, to hand to another region's administrator (`tongban
/// peer card`).
#[utoipa::path(get, path = "/v1/peers/card", tag = "peers",
    params(CardQuery),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "`region`, `name`, `address`, `anchor`, `caPem`", body = Object), Refused))]
pub(crate) async fn card(
    State(state): State<HttpState>,
    caller: Caller,
    Params(q): Params<CardQuery>,
) -> Result<Json<PeerCard>, Problem> {
    caller.may(Action::PeersWrite)?;
    Ok(Json(state.hub.peer_card(&q.address).await?))
}

/// Stores a peer's trust list handed over out of band, after the checks a
/// fetched one passes (its anchor's signature, its validity, never an
/// older one) (`tongban peer import-trust`).
#[utoipa::path(post, path = "/v1/peers/{region}/trust", tag = "peers",
    params(("region" = String, Path, description = "the peer's region code")),
    request_body(content = Object, description = "the peer's trust list, as its hub serves it"),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the stored trust list's state; `TRUST_LIST_UNTRUSTED`, `TRUST_LIST_STALE`, `TRUST_LIST_INVALID`, `TRUST_LIST_ROLLBACK` refused", body = Object), Refused))]
pub(crate) async fn import_trust(
    State(state): State<HttpState>,
    caller: Caller,
    Path(region): Path<String>,
    Body(list): Body<Value>,
) -> Result<Json<PeerTrustRow>, Problem> {
    caller.may(Action::PeersWrite)?;
    Ok(Json(
        caller.hub(&state).peer_trust_accept(&region, &list).await?,
    ))
}

/// Stops trusting a peer; its record stays, marked removed (`tongban peer
/// remove`); audited (`peer.remove`).
#[utoipa::path(delete, path = "/v1/peers/{region}", tag = "peers",
    params(("region" = String, Path, description = "the peer's region code")),
    security(("token" = []), ("clientCertificate" = [])),
    responses((status = 200, description = "the peer, removed", body = Object), Refused))]
pub(crate) async fn remove(
    State(state): State<HttpState>,
    caller: Caller,
    Path(region): Path<String>,
) -> Result<Json<PeerRow>, Problem> {
    caller.may(Action::PeersWrite)?;
    Ok(Json(caller.hub(&state).peer_remove(&region).await?))
}
