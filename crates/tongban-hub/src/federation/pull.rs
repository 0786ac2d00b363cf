//! `hub.region.licences`, asked by a department of this region: the
//! holder's licences here and in the peer regions, each verified with its
//! region's trust list, with what every region answered.
//!
//! The walk: holder, purpose, and the read bound to the department's own case
//! of its own item (`Service::case_read_types`: the case opened or found as by
//! `hub.case.licences`; the types are the item's) → the regions to ask (all
//! active peers, or those named; an unknown one is `PEER_UNKNOWN`) → per peer,
//! at once: its stored trust list (missing or stale: not asked) → link → a
//! `hub.peer.licences` request signed with the hub's key, the department's
//! envelope as `origin` → the answer within `waitMs` → its signature checked
//! with the peer's anchor, its correlation checked → every licence verified
//! with the peer's list (`verify_many`, on a blocking thread; on `KEY_UNKNOWN`
//! or `STATUS_LIST_UNAVAILABLE` the peer's list is refreshed once out of
//! schedule, at most every 2 s per peer, and the licences verified again).
//! Meanwhile this region's licences (`find_by_holder`, one use record per
//! type). Then, per answering peer, a `peer-holder` use record
//! (`Service::record_peer_use`, one transaction, `licence.use`) and the
//! `region-licences@1` answer with each licence's origin and verdict and each
//! region's outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use tongban_client::ClientError;
use tongban_licence::ProblemCode;
use tongban_licence::verify::{Verification, VerifyOptions};
use tongban_proto::services::{
    Holder, Origin, Outcome, PeerLicenceQuery, PeerLicences, RegionLicence, RegionLicenceQuery,
    RegionLicences, RegionOutcome,
};
use tongban_proto::{ProtoError, Verified};
use tongban_service::{CaseQuery, PeerTrust, Query};
use tongban_store::PeerRow;

use crate::Shared;
use crate::base::payloads::{read, read_value, written};
use crate::federation::licences::{check_holder, check_types, local_licences};
use crate::federation::links::{check_answer, crl_fresh, link, refresh, trust};
use crate::federation::{
    DEFAULT_WAIT_MS, LICENCES, MAX_PEER_LICENCES, MAX_WAIT_MS, PeerFailure, failure, refused,
};

/// The licences one region returned, checked.
pub(super) struct Answered {
    entries: Vec<RegionLicence>,
    /// The `validUntil` of the trust list they were checked with (peers).
    valid_until: Option<OffsetDateTime>,
    /// The region had more than it returns at once.
    truncated: bool,
}

/// What one region answered a pull.
pub(super) struct RegionAnswer {
    region: String,
    name: String,
    result: Result<Answered, PeerFailure>,
}

pub(super) fn entry(
    origin: &Origin,
    credential: Value,
    verification: tongban_licence::verify::Verification,
) -> RegionLicence {
    let summary = verification.summary.as_ref();
    RegionLicence {
        origin: origin.clone(),
        identifier: summary.and_then(|s| s.identifier.clone()),
        licence_type: summary.and_then(|s| s.type_code.clone()),
        name: summary.and_then(|s| s.name.clone()),
        issuer: summary.map(|s| s.issuer.clone()),
        valid: verification.valid,
        status: verification.status.map(|s| s.chinese().to_owned()),
        problems: verification
            .problems
            .iter()
            .map(|p| p.code.as_str().to_owned())
            .collect(),
        licence: credential,
    }
}

/// Asks `peer` for the holder's licences and verifies them with its trust list.
pub(super) async fn ask_peer(
    shared: Arc<Shared>,
    peer: PeerRow,
    payload: Value,
    wait: Duration,
) -> Result<Answered, PeerFailure> {
    let region = peer.region_code.clone();
    let deadline = tokio::time::Instant::now() + wait;
    // Without a fresh list, nothing the peer says could be checked; without
    // a fresh CRL, its hub's certificate could be one its CA revoked.
    let peer_trust = trust(&shared, &region).await?;
    crl_fresh(&shared, &region).await?;
    let (answer, request_id) = request_licences(&shared, &peer, payload, wait).await?;
    let verified = check_answer(&shared, &peer_trust, answer, &request_id, LICENCES)?;
    let PeerLicences {
        licences: credentials,
        truncated,
        ..
    } = read_value(verified.payload())
        .ok()
        .filter(|a: &PeerLicences| a.licences.len() <= MAX_PEER_LICENCES)
        .ok_or_else(|| failure("PEER_ANSWER_INVALID", "licences is not a bounded list"))?;
    let (peer_trust, results) =
        verify_with_fresh_list(&shared, &peer, peer_trust, &credentials, deadline).await?;
    let origin = Origin {
        region: region.clone(),
        name: peer.name.clone(),
        hub: peer_trust.anchor.controller.clone(),
    };
    let entries = credentials
        .into_iter()
        .zip(results)
        .map(|(c, v)| entry(&origin, c, v))
        .collect();
    Ok(Answered {
        entries,
        valid_until: Some(peer_trust.valid_until),
        truncated,
    })
}

/// Sends `peer` a `hub.peer.licences` request carrying `payload` and waits
/// at most `wait` for its answer, returned with the request's id.
async fn request_licences(
    shared: &Shared,
    peer: &PeerRow,
    payload: Value,
    wait: Duration,
) -> Result<(Value, String), PeerFailure> {
    let region = &peer.region_code;
    let started = Instant::now();
    let client = link(shared, peer).await?;
    let linked = started.elapsed();
    let draft = client.request_for(LICENCES.resource, LICENCES.query, payload);
    let request_id = draft.id.clone();
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(MAX_WAIT_MS);
    let answered = tokio::time::timeout(wait, client.request(draft, wait_ms)).await;
    tracing::debug!(peer = %region, ?linked, round_trip = ?started.elapsed(), "asked a peer for licences");
    match answered {
        Ok(Ok(answer)) => Ok((answer, request_id)),
        Ok(Err(ClientError::Refused(e))) => Err(failure(
            "PEER_REFUSED",
            format!(
                "region {region} refused: {}: {}",
                e.most_specific(),
                e.message
            ),
        )),
        Ok(Err(e)) => {
            shared.peering.forget_link(region).await;
            Err(failure("PEER_UNREACHABLE", format!("region {region}: {e}")))
        }
        Err(_) => Err(failure(
            "PEER_TIMEOUT",
            format!("region {region} did not answer within {} ms", wait_ms),
        )),
    }
}

/// Verifies a peer's licences with its trust list; when some are newer
/// than the stored list (a status list or a key it does not hold yet),
/// fetches the peer's list once, before `deadline`, and verifies again,
/// rather than answer "unverifiable" until the next scheduled refresh.
async fn verify_with_fresh_list(
    shared: &Shared,
    peer: &PeerRow,
    peer_trust: Arc<PeerTrust>,
    credentials: &[Value],
    deadline: tokio::time::Instant,
) -> Result<(Arc<PeerTrust>, Vec<Verification>), PeerFailure> {
    let region = &peer.region_code;
    let mut peer_trust = peer_trust;
    let mut results = verify_all(shared, &peer_trust, credentials).await?;
    let needs_newer = results
        .iter()
        .any(|v| v.has(ProblemCode::StatusListUnavailable) || v.has(ProblemCode::KeyUnknown));
    // Only within the wait: past it, the answer already checked stands.
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if needs_newer && !left.is_zero() && shared.peering.may_refresh_now(region) {
        if let Ok(Ok(())) = tokio::time::timeout(left, refresh(shared, peer, false)).await {
            peer_trust = trust(shared, region).await?;
            results = verify_all(shared, &peer_trust, credentials).await?;
        }
    }
    Ok((peer_trust, results))
}

/// Verifies a peer's licences with its trust list, off the async runtime.
pub(super) async fn verify_all(
    shared: &Shared,
    peer_trust: &Arc<PeerTrust>,
    credentials: &[Value],
) -> Result<Vec<tongban_licence::verify::Verification>, PeerFailure> {
    let now = shared.hub.now();
    let t = Arc::clone(peer_trust);
    let to_verify = credentials.to_vec();
    tokio::task::spawn_blocking(move || {
        tongban_licence::verify_many(
            &t.trust,
            to_verify,
            VerifyOptions {
                now,
                attachments: None,
            },
        )
    })
    .await
    .map_err(|e| failure("INTERNAL", e.to_string()))
    .inspect(|results| {
        for v in results {
            shared.config.metrics.licence_verified(v.valid);
        }
    })
}

/// Answers a department's `hub.region.licences` request: this region's
/// licences and the peers', each verified, with what every region answered.
pub(crate) async fn region_licences(
    shared: &Arc<Shared>,
    request: &Verified,
) -> Result<RegionLicences, ProtoError> {
    let hub = &shared.hub;
    let q: RegionLicenceQuery = read(request)?;
    check_holder(&q.holder)?;
    let (case, types) = bound_case(shared, request, &q).await?;
    let wait_ms = q.wait_ms.unwrap_or(DEFAULT_WAIT_MS).clamp(100, MAX_WAIT_MS);
    let wait = Duration::from_millis(wait_ms);
    let identity = hub.identity().await.map_err(refused)?;
    let (asks_local, to_ask, mut answers) =
        regions_to_ask(shared, &identity, q.regions.as_deref()).await?;
    let query = Query {
        requester: request.header.sender.clone(),
        use_cause: q.use_cause.clone(),
        case_ref: Some(case.id.clone()),
    };
    // Ask the peers while this region's store answers.
    let forwarded = written(&PeerLicenceQuery {
        holder: q.holder.clone(),
        use_cause: q.use_cause.clone(),
        case_id: case.id.clone(),
        service_item: case.item.clone(),
        licence_types: types.clone(),
        requester: request.header.sender.clone(),
        origin: Some(request.to_value()),
    })?;
    let mut asks = ask_all(shared, to_ask, &forwarded, wait);
    let mut licences = Vec::new();
    if asks_local {
        let found = local_licences(shared, &q.holder, &types, &query).await?;
        let origin = Origin {
            region: identity.region.clone(),
            name: identity.name.clone(),
            hub: identity.id.clone(),
        };
        for f in found {
            licences.push(entry(&origin, f.credential, f.verification));
        }
        // Its licences are in `licences` already; counted below.
        answers.push(RegionAnswer {
            region: identity.region.clone(),
            name: identity.name.clone(),
            result: Ok(Answered {
                entries: Vec::new(),
                valid_until: None,
                truncated: false,
            }),
        });
    }
    let local_count = licences.len();
    while let Some(done) = asks.join_next().await {
        match done {
            Ok(a) => answers.push(a),
            Err(e) => tracing::error!(error = %e, "asking a peer failed"),
        }
    }
    let mut regions = Vec::new();
    for a in answers {
        let is_local = a.region == identity.region;
        if let Ok(answered) = &a.result {
            if !is_local {
                record_use(shared, &query, &q.holder, &a.region, &answered.entries).await?;
            }
        }
        let (outcome, entries) = outcome(a, is_local.then_some(local_count));
        licences.extend(entries);
        regions.push(outcome);
    }
    Ok(RegionLicences {
        holder: q.holder,
        licences,
        regions,
    })
}

/// The case the pull is bound to and the licence types it may read: a case
/// of the department's own item, and that item's types, before anyone is
/// asked (and a use recorded): the same rule as `hub.case.licences`. What
/// every peer would refuse is refused here too.
async fn bound_case(
    shared: &Shared,
    request: &Verified,
    q: &RegionLicenceQuery,
) -> Result<(tongban_store::CaseRow, Vec<String>), ProtoError> {
    let requested = q.licence_types.clone().unwrap_or_default();
    check_types(&requested)?;
    let case_query = CaseQuery {
        case_id: q.case_id.clone(),
        item: q.service_item.clone(),
        holder_code_type: q.holder.code_type.clone(),
        holder_code: q.holder.code.clone(),
        use_cause: q.use_cause.clone(),
    };
    shared
        .hub
        .case_read_types(&request.header.sender, &case_query, &requested)
        .await
        .map_err(refused)
}

/// Whether this region is asked, the active peers to ask, and the failed
/// outcomes of the regions named that are not peers (`wanted`; none named:
/// this region and every peer).
async fn regions_to_ask(
    shared: &Shared,
    identity: &tongban_service::HubIdentity,
    wanted: Option<&[String]>,
) -> Result<(bool, Vec<PeerRow>, Vec<RegionAnswer>), ProtoError> {
    let peers: Vec<PeerRow> = shared
        .hub
        .peers()
        .await
        .map_err(refused)?
        .into_iter()
        .filter(|p| p.status == "active")
        .collect();
    let Some(list) = wanted else {
        return Ok((true, peers, Vec::new()));
    };
    let mut to_ask = Vec::new();
    let mut unknown = Vec::new();
    for region in list.iter().filter(|r| **r != identity.region) {
        match peers.iter().find(|p| &p.region_code == region) {
            Some(p) => to_ask.push(p.clone()),
            None => unknown.push(RegionAnswer {
                region: region.clone(),
                name: String::new(),
                result: Err(failure(
                    "PEER_UNKNOWN",
                    format!("region {region} is not a peer of this hub"),
                )),
            }),
        }
    }
    Ok((list.contains(&identity.region), to_ask, unknown))
}

/// Asks every peer at once, each within `wait` and half a second.
fn ask_all(
    shared: &Arc<Shared>,
    peers: Vec<PeerRow>,
    forwarded: &Value,
    wait: Duration,
) -> tokio::task::JoinSet<RegionAnswer> {
    let mut asks = tokio::task::JoinSet::new();
    for peer in peers {
        let shared = Arc::clone(shared);
        let payload = forwarded.clone();
        asks.spawn(async move {
            let region = peer.region_code.clone();
            let name = peer.name.clone();
            let result = match tokio::time::timeout(
                wait + Duration::from_millis(500),
                ask_peer(shared, peer, payload, wait),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(failure(
                    "PEER_TIMEOUT",
                    format!("region {region} did not answer within {wait:?}"),
                )),
            };
            RegionAnswer {
                region,
                name,
                result,
            }
        });
    }
    asks
}

/// Records the use of the licences a peer region returned.
async fn record_use(
    shared: &Shared,
    query: &Query,
    holder: &Holder,
    region: &str,
    entries: &[RegionLicence],
) -> Result<(), ProtoError> {
    let returned: Vec<String> = entries
        .iter()
        .filter_map(|e| e.identifier.clone())
        .collect();
    shared
        .hub
        .record_peer_use(query, region, &holder.describe(), &returned)
        .await
        .map(|_| ())
        .map_err(refused)
}

/// One region's outcome in the answer, and the licences it adds; this
/// region's licences were counted already (`local_count`).
fn outcome(a: RegionAnswer, local_count: Option<usize>) -> (RegionOutcome, Vec<RegionLicence>) {
    let mut r = RegionOutcome {
        region: a.region,
        name: a.name,
        outcome: Outcome::Answered,
        licences: None,
        truncated: false,
        trust_list_valid_until: None,
        code: None,
        message: None,
    };
    match a.result {
        Ok(Answered {
            entries,
            valid_until,
            truncated,
        }) => {
            r.licences = Some(local_count.unwrap_or(entries.len()));
            r.truncated = truncated;
            r.trust_list_valid_until = valid_until.map(tongban_seal::timefmt::format_rfc3339);
            (r, entries)
        }
        Err(f) => {
            r.outcome = Outcome::Failed;
            r.code = Some(f.code);
            r.message = Some(f.message);
            (r, Vec::new())
        }
    }
}
