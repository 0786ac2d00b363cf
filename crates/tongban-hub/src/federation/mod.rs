//! Federation (全域通办): this hub's links with the hubs of other regions.
//! It sits above the exchange core, which imports none of it.
//!
//! - **Trust lists.** Each active peer's signed trust list is fetched on a
//!   schedule over a QUIC link with mutual TLS (this hub presents its peer
//!   certificate from its own CA; the peer's server certificate is checked
//!   against the CA in its card), checked against the peer's anchor key and
//!   stored; a failed refresh is recorded and retried, and the stored list
//!   serves until its own `validUntil`, never after (`TRUST_LIST_STALE`).
//! - **Pulling licences** (`hub.region.licences`, asked by a department of
//!   this region): the hub asks the peers in a request it signs itself,
//!   carrying the department's own signed request, waits a bounded time,
//!   checks the peer's signed answer with its anchor and every licence
//!   offline with its trust list, and records the use.
//! - **Answering peers** (`hub.peer.licences`, asked by a peer hub): both
//!   signatures are checked (the hub's with its anchor, the department's
//!   with the peer region's trust list), the envelope is refused if any
//!   node of the hub saw it before, and the licences go back in an answer this hub signs, with the
//!   use recorded here too.
//!
//! - `links`: links to peers, fetching their trust lists, catalogues and
//!   CRLs, the verified trust lists kept here, checking peers' answers;
//! - `pull`: `hub.region.licences`, asking peers for a holder's licences;
//! - `answer`: answering a peer hub's `hub.peer.*` requests;
//! - `origin`: a department's own request a peer carries, and the replay
//!   guard for peers' envelopes;
//! - `crossing`: requests for another region's resources, both sides;
//! - `licences`: what pulls and answers to peers share (holders, types,
//!   this region's licences).
//!
//! `Peering` holds the open links to peers (`tongban_client::Client`,
//! presenting the hub's peer certificate and trusting only the CA on the peer's
//! card), each node's cache of verified peer trust lists (keyed by the stored
//! list's SHA-256), and when each peer's list was last tried. A task of
//! `server` reads the active peers on every registry tick, has the TLS
//! configuration rebuilt when their CAs changed (and `Peering` forget removed
//! peers), and starts `links::refresh` for each peer whose list is due: every
//! `peer_refresh_every`, and after failures in a row again after 1, 2, 4 … s,
//! at most 30 s.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tongban_client::Client;
use tongban_proto::services::{HubRequest, PeerLicenceQuery, RegionLicenceQuery};
use tongban_proto::{ErrorCode, ProtoError};
use tongban_service::PeerTrust;
use tongban_store::PeerRow;

use crate::base::failures::{Through, told};

pub(crate) mod answer;
pub(crate) mod crossing;
mod licences;
pub(crate) mod links;
mod origin;
pub(crate) mod pull;

/// One of the services a peer hub asks (`hub.peer.*`): its resource, and
/// the schemas of the request and of this hub's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerService {
    pub resource: &'static str,
    pub query: &'static str,
    pub answer: &'static str,
}

/// A holder's licences, for a department of the asking region.
pub(crate) const LICENCES: PeerService = PeerService {
    resource: PeerLicenceQuery::RESOURCE,
    query: PeerLicenceQuery::SCHEMA,
    answer: PeerLicenceQuery::ANSWER_SCHEMA,
};
/// This region's shared catalogue.
pub(crate) const CATALOGUE: PeerService = PeerService {
    resource: "hub.peer.catalogue",
    query: "peer-catalogue-query@1",
    answer: "peer-catalogue@1",
};
/// A department's request for one of this region's resources, forwarded.
pub(crate) const REQUEST: PeerService = PeerService {
    resource: "hub.peer.request",
    query: "peer-request@1",
    answer: "peer-response@1",
};
/// This hub's CA's CRL.
pub(crate) const CRL: PeerService = PeerService {
    resource: "hub.peer.crl",
    query: "peer-crl-query@1",
    answer: "peer-crl@1",
};
/// Every service a peer hub may ask.
pub(crate) const PEER_SERVICES: [PeerService; 4] = [LICENCES, CATALOGUE, REQUEST, CRL];
/// The schema of a department's pull, as a peer finds it in `origin`.
pub(super) const REGION_QUERY_SCHEMA: &str = RegionLicenceQuery::SCHEMA;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// A failed refresh is tried again after at most this long.
pub(super) const RETRY_AFTER: Duration = Duration::from_secs(30);
/// Out-of-schedule refreshes (a pull met a licence newer than the stored
/// list) run at most this often per peer.
pub(super) const ON_DEMAND_EVERY: Duration = Duration::from_secs(2);
/// Most licence types one pull names.
pub(super) const MAX_TYPES: usize = 20;
/// Most licences one peer returns for one pull.
pub(crate) const MAX_PEER_LICENCES: usize = 100;
/// Default and largest wait for peers, in milliseconds.
pub(super) const DEFAULT_WAIT_MS: u64 = 3_000;
pub(super) const MAX_WAIT_MS: u64 = 10_000;

/// Why a peer could not be used: a stable code and words.
#[derive(Debug, Clone)]
pub(crate) struct PeerFailure {
    pub code: String,
    pub message: String,
}

impl PeerFailure {
    /// As a refusal of a request: `SERVICE_REFUSED` with the code as
    /// reason, or `INTERNAL` (logged, not told) for this hub's own failure.
    pub(crate) fn into_refusal(self) -> ProtoError {
        if self.code == "INTERNAL" {
            tracing::error!(message = %self.message, "a peer could not be used");
            return ProtoError::new(ErrorCode::Internal, "the hub failed");
        }
        ProtoError::service(self.code, self.message)
    }
}

pub(super) fn failure(code: &str, message: impl Into<String>) -> PeerFailure {
    PeerFailure {
        code: code.to_owned(),
        message: message.into(),
    }
}

impl From<tongban_service::Error> for PeerFailure {
    /// A refusal keeps its words; this hub's own failure (its store, its
    /// key store) keeps only its code: the detail goes to the log, never to
    /// the department or peer the failure is told to.
    fn from(e: tongban_service::Error) -> Self {
        if !e.is_refusal() {
            tracing::error!(error = %e, code = e.code(), "a peer could not be used");
        }
        failure(e.code(), e.told("this hub failed; its log has the detail"))
    }
}

/// What the server keeps about peers.
#[derive(Default)]
pub(crate) struct Peering {
    /// Open links to peers, by region, with the card (address, CA) each was
    /// opened for: a replaced card opens a new link.
    pub(super) links: tokio::sync::Mutex<HashMap<String, (LinkedTo, Client)>>,
    /// Peers' trust lists, verified, by region.
    pub(super) trusts: std::sync::Mutex<HashMap<String, Arc<PeerTrust>>>,
    /// When each peer's list was last tried, and the failures in a row since.
    pub(super) attempts: std::sync::Mutex<HashMap<String, (Instant, u32)>>,
    /// When a pull last fetched each peer's list out of schedule.
    on_demand: std::sync::Mutex<HashMap<String, Instant>>,
    /// Peers' resource schemas, compiled, by (region, schema `id@version`),
    /// with the document they were compiled from.
    validators: std::sync::Mutex<HashMap<(String, String), SchemaValidator>>,
    /// This hub's CRL as last served to a peer, and when it was signed: one
    /// signature a second at most, however often peers ask.
    pub(super) served_crl: tokio::sync::Mutex<Option<(Instant, Arc<String>)>>,
}

/// How long a CRL served to peers is served again before it is signed anew.
pub(super) const SERVED_CRL_FOR: Duration = Duration::from_secs(1);

type SchemaValidator = (Value, Arc<jsonschema::Validator>);

/// The card a link was opened for: the peer's address and CA (PEM).
type LinkedTo = (String, String);

pub(super) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Peering {
    pub(super) async fn forget_link(&self, region: &str) {
        self.links.lock().await.remove(region);
    }

    /// Peers whose list is due: never tried, older than `every`, or failed
    /// and due for a retry.
    pub(crate) fn due(&self, peers: &[PeerRow], every: Duration) -> Vec<PeerRow> {
        let attempts = lock(&self.attempts);
        peers
            .iter()
            .filter(|p| match attempts.get(&p.region_code) {
                None => true,
                Some((at, failures)) => {
                    // After failures: 1 s, 2 s, 4 s ... up to RETRY_AFTER.
                    let wait = if *failures == 0 {
                        every
                    } else {
                        let backoff = Duration::from_secs(1 << (*failures - 1).min(5));
                        every.min(backoff.min(RETRY_AFTER))
                    };
                    at.elapsed() >= wait
                }
            })
            .cloned()
            .collect()
    }

    /// The compiled schema of a peer's resource: compiled once per schema
    /// document, not per request.
    pub(crate) fn validator(
        &self,
        resource: &tongban_service::PeerResource,
    ) -> Result<Arc<jsonschema::Validator>, ProtoError> {
        let key = (resource.region.clone(), resource.schema.clone());
        if let Some((doc, v)) = lock(&self.validators).get(&key) {
            if *doc == resource.schema_document {
                return Ok(Arc::clone(v));
            }
        }
        let compiled = jsonschema::options()
            .should_validate_formats(true)
            .build(&resource.schema_document)
            .map_err(|e| {
                ProtoError::new(
                    ErrorCode::SchemaUnknown,
                    format!(
                        "region {}'s schema {} does not compile: {e}",
                        resource.region, resource.schema
                    ),
                )
            })?;
        let compiled = Arc::new(compiled);
        lock(&self.validators).insert(
            key,
            (resource.schema_document.clone(), Arc::clone(&compiled)),
        );
        Ok(compiled)
    }

    /// Whether a refresh out of schedule may run now for `region` (at most
    /// one per [`ON_DEMAND_EVERY`], so that pulls cannot hammer a peer).
    pub(super) fn may_refresh_now(&self, region: &str) -> bool {
        let mut last = lock(&self.on_demand);
        match last.get(region) {
            Some(at) if at.elapsed() < ON_DEMAND_EVERY => false,
            _ => {
                last.insert(region.to_owned(), Instant::now());
                true
            }
        }
    }

    pub(super) fn attempted(&self, region: &str, failed: bool) {
        let mut attempts = lock(&self.attempts);
        let failures = match (failed, attempts.get(region)) {
            (false, _) => 0,
            (true, Some((_, n))) => n.saturating_add(1),
            (true, None) => 1,
        };
        attempts.insert(region.to_owned(), (Instant::now(), failures));
    }

    /// Forgets what is kept for peers no longer active.
    pub(crate) async fn retain(&self, active: &[PeerRow]) {
        let keep = |r: &String| active.iter().any(|p| &p.region_code == r);
        self.links.lock().await.retain(|r, _| keep(r));
        lock(&self.trusts).retain(|r, _| keep(r));
        lock(&self.attempts).retain(|r, _| keep(r));
        lock(&self.on_demand).retain(|r, _| keep(r));
        lock(&self.validators).retain(|(r, _), _| keep(r));
    }
}

fn refused(e: tongban_service::Error) -> ProtoError {
    told(&e, Through::Service, "the hub's service failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a department or peer is told of this hub's own failure carries
    /// its code, never the store's text (paths, SQL, the database's words).
    #[test]
    fn a_failure_of_this_hub_is_told_without_its_detail() {
        let secret = "/srv/tongban/data/tongban.db: unable to open database file";
        let failure = PeerFailure::from(tongban_service::Error::Store(
            tongban_store::StoreError::Config(secret.into()),
        ));
        assert_eq!(
            failure.code,
            tongban_store::StoreError::Config(secret.into()).code()
        );
        assert!(!failure.message.contains("/srv"), "{}", failure.message);
        let refusal = failure.into_refusal();
        assert!(!refusal.to_string().contains("/srv"), "{refusal}");

        let refused = PeerFailure::from(tongban_service::Error::Rejected {
            code: tongban_service::Code::PeerUnknown,
            message: "region 430921 is not an active peer".into(),
        });
        assert_eq!(refused.code, "PEER_UNKNOWN");
        assert_eq!(refused.message, "region 430921 is not an active peer");
    }
}
