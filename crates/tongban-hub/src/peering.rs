//! 全域通办: this hub's links with the hubs of other regions.
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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use tongban_client::{Client, ClientConfig, ClientError};
use tongban_licence::ProblemCode;
use tongban_licence::verify::VerifyOptions;
use tongban_proto::{Draft, ErrorCode, Header, Kind, ProtoError, Verified};
use tongban_service::{CaseQuery, PeerTrust, Query};
use tongban_store::PeerRow;

use crate::Shared;

/// The resource a peer hub asks for licences on.
pub(crate) const PEER_LICENCES: &str = "hub.peer.licences";
const PEER_QUERY_SCHEMA: &str = "peer-licence-query@2";
/// The schema of a department's pull, as a peer finds it in `origin`.
const REGION_QUERY_SCHEMA: &str = "region-licence-query@2";
const PEER_ANSWER_SCHEMA: &str = "peer-licences@1";
/// The resource a peer hub asks for this region's shared catalogue on.
pub(crate) const PEER_CATALOGUE: &str = "hub.peer.catalogue";
const PEER_CATALOGUE_QUERY_SCHEMA: &str = "peer-catalogue-query@1";
const PEER_CATALOGUE_SCHEMA: &str = "peer-catalogue@1";
/// What a peer hub asks for this hub's CA's CRL.
pub(crate) const PEER_CRL: &str = "hub.peer.crl";
const PEER_CRL_QUERY_SCHEMA: &str = "peer-crl-query@1";
const PEER_CRL_SCHEMA: &str = "peer-crl@1";
/// The resource a peer hub forwards a department's request for one of
/// this region's resources on.
pub(crate) const PEER_REQUEST: &str = "hub.peer.request";
pub(crate) const PEER_REQUEST_SCHEMA: &str = "peer-request@1";
pub(crate) const PEER_RESPONSE_SCHEMA: &str = "peer-response@1";
/// The resource a department asks for licences across regions on.
pub(crate) const REGION_LICENCES: &str = "hub.region.licences";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// A failed refresh is tried again after at most this long.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// Out-of-schedule refreshes (a pull met a licence newer than the stored
/// list) run at most this often per peer.
const ON_DEMAND_EVERY: Duration = Duration::from_secs(2);
/// Most licence types one pull names.
const MAX_TYPES: usize = 20;
/// Most licences one peer returns for one pull.
pub(crate) const MAX_PEER_LICENCES: usize = 100;
/// Default and largest wait for peers, in milliseconds.
const DEFAULT_WAIT_MS: u64 = 3_000;
const MAX_WAIT_MS: u64 = 10_000;

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

fn failure(code: &str, message: impl Into<String>) -> PeerFailure {
    PeerFailure {
        code: code.to_owned(),
        message: message.into(),
    }
}

impl From<tongban_service::Error> for PeerFailure {
    fn from(e: tongban_service::Error) -> Self {
        failure(e.code(), e.to_string())
    }
}

/// What the server keeps about peers.
#[derive(Default)]
pub(crate) struct Peering {
    /// Open links to peers, by region, with the card (address, CA) each was
    /// opened for: a replaced card opens a new link.
    links: tokio::sync::Mutex<HashMap<String, (LinkedTo, Client)>>,
    /// Peers' trust lists, verified, by region.
    trusts: std::sync::Mutex<HashMap<String, Arc<PeerTrust>>>,
    /// When each peer's list was last tried, and the failures in a row since.
    attempts: std::sync::Mutex<HashMap<String, (Instant, u32)>>,
    /// When a pull last fetched each peer's list out of schedule.
    on_demand: std::sync::Mutex<HashMap<String, Instant>>,
    /// Peers' resource schemas, compiled, by (region, schema `id@version`),
    /// with the document they were compiled from.
    validators: std::sync::Mutex<HashMap<(String, String), SchemaValidator>>,
    /// This hub's CRL as last served to a peer, and when it was signed: one
    /// signature a second at most, however often peers ask.
    served_crl: tokio::sync::Mutex<Option<(Instant, Arc<String>)>>,
}

/// How long a CRL served to peers is served again before it is signed anew.
const SERVED_CRL_FOR: Duration = Duration::from_secs(1);

type SchemaValidator = (Value, Arc<jsonschema::Validator>);

/// The card a link was opened for: the peer's address and CA (PEM).
type LinkedTo = (String, String);

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Peering {
    async fn forget_link(&self, region: &str) {
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
    fn may_refresh_now(&self, region: &str) -> bool {
        let mut last = lock(&self.on_demand);
        match last.get(region) {
            Some(at) if at.elapsed() < ON_DEMAND_EVERY => false,
            _ => {
                last.insert(region.to_owned(), Instant::now());
                true
            }
        }
    }

    fn attempted(&self, region: &str, failed: bool) {
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

/// `host` and a socket address of a peer's `host:port`.
async fn resolve(address: &str) -> Result<(String, std::net::SocketAddr), PeerFailure> {
    let host = address
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(address)
        .to_owned();
    let addr = tokio::net::lookup_host(address)
        .await
        .map_err(|e| failure("PEER_UNREACHABLE", format!("{address}: {e}")))?
        .next()
        .ok_or_else(|| failure("PEER_UNREACHABLE", format!("{address}: no address")))?;
    Ok((host, addr))
}

/// The open link to `peer`, or a new one.
pub(crate) async fn link(shared: &Shared, peer: &PeerRow) -> Result<Client, PeerFailure> {
    let linked_to = (peer.address.clone(), peer.ca_pem.clone());
    if let Some((to, c)) = shared.peering.links.lock().await.get(&peer.region_code) {
        if *to == linked_to && c.close_reason().is_none() {
            return Ok(c.clone());
        }
    }
    let hub = &shared.hub;
    let (cert_pem, key_pem) = hub.peer_client_identity().await?;
    let identity = hub.identity().await?;
    let (signing_key, _) = hub
        .current_key("hub", tongban_seal::KeyPurpose::Both)
        .await?;
    let (server_name, addr) = resolve(&peer.address).await?;
    let config = ClientConfig {
        hubs: vec![addr],
        server_name,
        ca_pem: peer.ca_pem.clone(),
        cert_pem,
        key_pem: key_pem.to_string(),
        department: identity.id,
        signing_key,
        timeouts: tongban_client::Timeouts {
            connect_timeout: CONNECT_TIMEOUT,
            ..tongban_client::Timeouts::default()
        },
    };
    let client = tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(config))
        .await
        .map_err(|_| {
            failure(
                "PEER_UNREACHABLE",
                format!("{} did not answer within {CONNECT_TIMEOUT:?}", peer.address),
            )
        })?
        .map_err(|e| {
            let text = e.to_string();
            let hint = if text.contains("certificate") {
                " (has that region's administrator added this hub's card?)"
            } else {
                ""
            };
            failure(
                "PEER_UNREACHABLE",
                format!("{}: {text}{hint}", peer.address),
            )
        })?;
    // The peer's server certificate against its CA's CRL, when one is
    // stored: the first links, which fetch that CRL, cannot wait for it
    // (licences and requests wait for a fresh one: `crl_fresh`).
    let certificate = client.server_certificate();
    match hub
        .peer_crl_check(&peer.region_code, certificate.as_deref())
        .await
    {
        Err(e) if matches!(e.code(), "PEER_CRL_MISSING" | "PEER_CRL_STALE") => {}
        Err(e) => {
            client.close().await;
            return Err(e.into());
        }
        Ok(()) => {}
    }
    shared
        .peering
        .links
        .lock()
        .await
        .insert(peer.region_code.clone(), (linked_to, client.clone()));
    Ok(client)
}

/// Fetches, checks and stores `peer`'s trust list; a failure is recorded
/// (the stored list stays) and returned.
pub(crate) async fn refresh(
    shared: &Shared,
    peer: &PeerRow,
    with_catalogue: bool,
) -> Result<(), PeerFailure> {
    let region = &peer.region_code;
    let result = async {
        let client = link(shared, peer).await?;
        // A fetch never outlasts the refresh period (nor 20 s): a peer that
        // went away without closing is noticed by the next attempt.
        let limit = FETCH_TIMEOUT
            .min(shared.config.peer_refresh_every)
            .max(Duration::from_secs(2));
        let file = match tokio::time::timeout(limit, client.trust_list()).await {
            Ok(Ok(file)) => file,
            Ok(Err(e)) => {
                shared.peering.forget_link(region).await;
                return Err(failure("PEER_UNREACHABLE", format!("trust list: {e}")));
            }
            Err(_) => {
                shared.peering.forget_link(region).await;
                return Err(failure(
                    "PEER_TIMEOUT",
                    format!("no trust list within {limit:?}"),
                ));
            }
        };
        shared.hub.peer_trust_accept(region, &file).await?;
        // With a fresh list, the peer's shared catalogue (its answer is
        // checked with the anchor). A failure here keeps what was stored.
        // (Only on schedule: a pull waiting for a fresh list does not wait
        // for the catalogue.)
        if with_catalogue {
            if let Err(f) = refresh_catalogue(shared, peer, &client, limit).await {
                tracing::warn!(peer = %region, code = %f.code, message = %f.message, "fetching a peer's catalogue failed");
            }
            if let Err(f) = refresh_crl(shared, peer, &client, limit).await {
                tracing::warn!(peer = %region, code = %f.code, message = %f.message, "fetching a peer's CRL failed");
            }
        }
        Ok(())
    }
    .await;
    let first = !lock(&shared.peering.attempts).contains_key(region);
    shared.peering.attempted(region, result.is_err());
    if let Err(f) = &result {
        if first {
            // Usually the other hub has not added this one's card yet.
            tracing::info!(peer = %region, code = %f.code, message = %f.message, "the first fetch of a peer's trust list failed; retrying");
        } else {
            tracing::warn!(peer = %region, code = %f.code, message = %f.message, "refreshing a peer's trust list failed; retrying later");
        }
        if let Err(e) = shared
            .hub
            .peer_trust_failed(region, &f.code, &f.message)
            .await
        {
            tracing::warn!(error = %e, "recording the failed refresh failed");
        }
    } else {
        tracing::debug!(peer = %region, "peer trust list refreshed");
    }
    result
}

/// Asks the peer one of the `hub.peer.*` services with an empty query, on
/// the refresh's link and within its limit, and checks the answer with
/// the peer's anchor.
async fn ask_service(
    shared: &Shared,
    peer: &PeerRow,
    client: &Client,
    limit: Duration,
    (resource, query_schema, answer_schema): (&str, &str, &str),
) -> Result<Verified, PeerFailure> {
    let peer_trust = trust(shared, &peer.region_code).await?;
    let draft = client.request_for(resource, query_schema, json!({}));
    let id = draft.id.clone();
    let ms = u64::try_from(limit.as_millis()).unwrap_or(20_000);
    let answer = tokio::time::timeout(limit, client.request(draft, ms))
        .await
        .map_err(|_| {
            failure(
                "PEER_TIMEOUT",
                format!("no {resource} answer within {limit:?}"),
            )
        })?
        .map_err(|e| failure("PEER_UNREACHABLE", format!("{resource}: {e}")))?;
    check_answer(shared, &peer_trust, answer, &id, resource, answer_schema)
}

/// Fetches and stores the peer's unconditional resources.
async fn refresh_catalogue(
    shared: &Shared,
    peer: &PeerRow,
    client: &Client,
    limit: Duration,
) -> Result<(), PeerFailure> {
    let region = &peer.region_code;
    let service = (
        PEER_CATALOGUE,
        PEER_CATALOGUE_QUERY_SCHEMA,
        PEER_CATALOGUE_SCHEMA,
    );
    let verified = ask_service(shared, peer, client, limit, service).await?;
    let resources = verified
        .payload()
        .get("resources")
        .and_then(Value::as_array)
        .ok_or_else(|| failure("PEER_ANSWER_INVALID", "resources is not a list"))?;
    // Every schema must compile here, or the resource could not be checked.
    for r in resources {
        if let Some(doc) = r.get("schemaDocument") {
            if let Err(e) = jsonschema::options().build(doc) {
                return Err(failure(
                    "PEER_CATALOGUE_INVALID",
                    format!("the schema of {} does not compile: {e}", r["id"]),
                ));
            }
        }
    }
    shared.hub.peer_catalogue_accept(region, resources).await?;
    Ok(())
}

/// Fetches and stores the CRL of the peer's CA: once the TLS configuration
/// is rebuilt with it (within a registry refresh), certificates that CA
/// revoked are refused, and links opened with one are closed.
async fn refresh_crl(
    shared: &Shared,
    peer: &PeerRow,
    client: &Client,
    limit: Duration,
) -> Result<(), PeerFailure> {
    let region = &peer.region_code;
    let service = (PEER_CRL, PEER_CRL_QUERY_SCHEMA, PEER_CRL_SCHEMA);
    let verified = ask_service(shared, peer, client, limit, service).await?;
    let crl = verified
        .payload()
        .get("crl")
        .and_then(Value::as_str)
        .ok_or_else(|| failure("PEER_ANSWER_INVALID", "crl is not a string"))?;
    if shared.hub.peer_crl_accept(region, crl).await? {
        tracing::info!(peer = %region, "the peer's CRL changed");
    }
    Ok(())
}

/// Licences and requests cross only with a peer whose CA's CRL is stored
/// and fresh: unknown revocation status is never taken as fine.
pub(crate) async fn crl_fresh(shared: &Shared, region: &str) -> Result<(), PeerFailure> {
    Ok(shared.hub.peer_crl_check(region, None).await?)
}

/// The peer's trust list, verified, from the cache while the stored list
/// is unchanged and not past its `validUntil`.
pub(crate) async fn trust(shared: &Shared, region: &str) -> Result<Arc<PeerTrust>, PeerFailure> {
    let stored = shared
        .hub
        .store()
        .peer_trust_sha256(region)
        .await
        .map_err(|e| failure("INTERNAL", e.to_string()))?;
    let cached = lock(&shared.peering.trusts).get(region).cloned();
    if let Some(t) = cached.filter(|t| Some(&t.sha256) == stored.as_ref()) {
        if shared.hub.now() > t.valid_until {
            return Err(stale(shared, region, &t).await);
        }
        return Ok(t);
    }
    let t = Arc::new(shared.hub.peer_trust(region).await?);
    lock(&shared.peering.trusts).insert(region.to_owned(), Arc::clone(&t));
    Ok(t)
}

async fn stale(shared: &Shared, region: &str, t: &PeerTrust) -> PeerFailure {
    let last = shared
        .hub
        .store()
        .peer_trust(region)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.failure)
        .map(|f| format!("; last refresh: {f}"))
        .unwrap_or_default();
    failure(
        "TRUST_LIST_STALE",
        format!(
            "the trust list of region {region} expired at {}{last}",
            tongban_seal::timefmt::format_rfc3339(t.valid_until)
        ),
    )
}

/// A holder as pulls name it.
#[derive(Debug, Clone)]
struct Holder {
    code_type: String,
    code: String,
}

impl Holder {
    fn of(p: &Value) -> Result<Holder, ProtoError> {
        let field = |name: &str| {
            p.pointer(&format!("/holder/{name}"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ProtoError::service("REQUEST_INVALID", format!("holder.{name} is required"))
                })
        };
        Ok(Holder {
            code_type: field("codeType")?,
            code: field("code")?,
        })
    }

    fn to_json(&self) -> Value {
        json!({"codeType": self.code_type, "code": self.code})
    }

    fn describe(&self) -> String {
        format!("{}:{}", self.code_type, self.code)
    }
}

fn types_of(p: &Value) -> Result<Vec<String>, ProtoError> {
    let Some(list) = p.get("licenceTypes") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .filter(|l| l.len() <= MAX_TYPES)
        .ok_or_else(|| {
            ProtoError::service(
                "REQUEST_INVALID",
                format!("licenceTypes is a list of at most {MAX_TYPES} codes"),
            )
        })?;
    list.iter()
        .map(|t| {
            t.as_str()
                .filter(|s| !s.is_empty() && s.len() <= 32)
                .map(str::to_owned)
                .ok_or_else(|| ProtoError::service("REQUEST_INVALID", "a licence type is a code"))
        })
        .collect()
}

fn text(p: &Value, name: &str) -> String {
    p.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn refused(e: tongban_service::Error) -> ProtoError {
    match e {
        tongban_service::Error::Rejected { .. } => ProtoError::service(e.code(), e.to_string()),
        other => crate::failures::service(&other, "the hub's service failed"),
    }
}

/// Licences of `holder` in this region, one store query (and one use
/// record) per type, or one for all types.
async fn local_licences(
    shared: &Shared,
    holder: &Holder,
    types: &[String],
    query: &Query,
) -> Result<Vec<tongban_service::Found>, ProtoError> {
    let mut found = Vec::new();
    let all = [None];
    let wanted: Vec<Option<&str>> = if types.is_empty() {
        all.to_vec()
    } else {
        types.iter().map(|t| Some(t.as_str())).collect()
    };
    for t in wanted {
        found.extend(
            shared
                .hub
                .find_by_holder(&holder.code_type, &holder.code, t, false, query)
                .await
                .map_err(refused)?,
        );
    }
    Ok(found)
}

/// What a peer hub may ask: (resource, request schema, answer schema).
const PEER_SERVICES: &[(&str, &str, &str)] = &[
    (PEER_LICENCES, PEER_QUERY_SCHEMA, PEER_ANSWER_SCHEMA),
    (
        PEER_CATALOGUE,
        PEER_CATALOGUE_QUERY_SCHEMA,
        PEER_CATALOGUE_SCHEMA,
    ),
    (PEER_REQUEST, PEER_REQUEST_SCHEMA, PEER_RESPONSE_SCHEMA),
    (PEER_CRL, PEER_CRL_QUERY_SCHEMA, PEER_CRL_SCHEMA),
];

/// Answers a peer hub's request (the peer connected with its hub
/// certificate as `region`): its envelope is checked here, the service
/// named by its resource answers, and the answer is signed by this hub.
pub(crate) async fn answer_peer(
    shared: &Shared,
    region: &str,
    envelope: Value,
    timeout_ms: u64,
) -> Result<Value, ProtoError> {
    let hub = &shared.hub;
    let now = hub.now();
    let window = shared.config.time_window;
    let parsed = tongban_proto::envelope::parse(envelope)?;
    let peer_id = format!("urn:tongban:hub:{region}");
    let h = &parsed.header;
    if h.sender != peer_id {
        return Err(ProtoError::new(
            ErrorCode::SenderMismatch,
            format!(
                "the connection is {peer_id}'s, the envelope names {}",
                h.sender
            ),
        ));
    }
    let Some(&(resource, _, answer_schema)) = PEER_SERVICES
        .iter()
        .find(|(r, q, _)| *r == h.resource && *q == h.schema && h.kind == Kind::Request)
    else {
        return Err(ProtoError::new(
            ErrorCode::ResourceForbidden,
            format!(
                "a peer hub asks {PEER_LICENCES}, {PEER_CATALOGUE}, {PEER_REQUEST} or {PEER_CRL} with their schemas, nothing else"
            ),
        ));
    };
    parsed.check_time(now, window)?;
    let peer = hub.peer(region).await.map_err(refused)?;
    let anchor = tongban_service::anchor_record(&peer).map_err(refused)?;
    if h.key_id != anchor.key_id() {
        return Err(ProtoError::new(
            ErrorCode::KeyUnknown,
            format!(
                "{peer_id} signs with its anchor {}, not {}",
                anchor.key_id(),
                h.key_id
            ),
        ));
    }
    let request = parsed.verify(&anchor)?;
    remember(shared, None, &request.header, replayed).await?;
    let identity = hub.identity().await.map_err(refused)?;
    // Licences and requests only for a peer whose certificates this hub
    // can check: its CA's CRL stored and fresh (the trust list, CRL and
    // open catalogue are public, and are how a new link gets that CRL).
    if matches!(resource, PEER_LICENCES | PEER_REQUEST) {
        hub.peer_crl_check(region, None).await.map_err(refused)?;
    }
    let payload = match resource {
        PEER_LICENCES => peer_licences(shared, region, &identity, &request).await?,
        PEER_CATALOGUE => {
            let resources = hub.shared_catalogue().await.map_err(refused)?;
            json!({"region": identity.region, "resources": resources})
        }
        PEER_CRL => {
            let crl = served_crl(shared).await.map_err(refused)?;
            json!({"region": identity.region, "crl": crl.as_str()})
        }
        _ => {
            crate::crossing::answer_request(shared, region, &identity, &request, timeout_ms).await?
        }
    };
    let (key, _) = hub
        .current_key("hub", tongban_seal::KeyPurpose::Both)
        .await
        .map_err(refused)?;
    Draft {
        id: tongban_proto::new_id(),
        sender: identity.id,
        recipient: Some(peer_id),
        topic: None,
        resource: resource.to_owned(),
        schema: answer_schema.to_owned(),
        kind: Kind::Response,
        correlation_id: Some(request.header.id.clone()),
        // Signed now, not when the request came: an answer may have waited
        // for a provider.
        time: hub.now(),
        payload: Some(payload),
        payload_ref: None,
    }
    .sign(&key)
}

/// The department's own request that a peer hub forwards, checked: a
/// well-formed envelope within the time window, signed with the
/// department's key from the peer region's trust list, not seen before.
pub(crate) async fn verified_origin(
    shared: &Shared,
    region: &str,
    origin: Option<&Value>,
) -> Result<Verified, ProtoError> {
    let now = shared.hub.now();
    let origin = origin.cloned().ok_or_else(|| {
        ProtoError::service("ORIGIN_MISSING", "the department's request is missing")
    })?;
    let origin = tongban_proto::envelope::parse(origin)
        .map_err(|e| ProtoError::service("ORIGIN_INVALID", e.to_string()))?;
    origin
        .check_time(now, shared.config.time_window)
        .map_err(|e| ProtoError::service("ORIGIN_INVALID", e.to_string()))?;
    let peer_trust = trust(shared, region)
        .await
        .map_err(PeerFailure::into_refusal)?;
    let find = |t: &PeerTrust| {
        t.trust
            .keys()
            .find(|k| k.key_id() == origin.header.key_id)
            .cloned()
    };
    let mut key = find(&peer_trust);
    // A key newer than the stored list (a department's rotated key): fetch
    // the asking region's list once, out of schedule, before refusing.
    if key.is_none() && shared.peering.may_refresh_now(region) {
        if let Ok(peer) = shared.hub.peer(region).await {
            let limit = FETCH_TIMEOUT.min(shared.config.time_window.unsigned_abs());
            if let Ok(Ok(())) = tokio::time::timeout(limit, refresh(shared, &peer, false)).await {
                if let Ok(fresh) = trust(shared, region).await {
                    key = find(&fresh);
                }
            }
        }
    }
    let key = key.ok_or_else(|| {
        ProtoError::service(
            "ORIGIN_UNVERIFIED",
            format!(
                "key {} is not in region {region}'s trust list",
                origin.header.key_id
            ),
        )
    })?;
    origin
        .verify(&key)
        .map_err(|e| ProtoError::service("ORIGIN_UNVERIFIED", e.to_string()))
}

/// The payload of the answer to `hub.peer.licences`.
async fn peer_licences(
    shared: &Shared,
    region: &str,
    identity: &tongban_service::HubIdentity,
    request: &Verified,
) -> Result<Value, ProtoError> {
    let hub = &shared.hub;
    let now = hub.now();
    let peer_id = format!("urn:tongban:hub:{region}");
    let p = request.payload();
    let holder = Holder::of(p)?;
    let types = types_of(p)?;
    let use_cause = text(p, "useCause");
    let requester = text(p, "requester");
    let case_id = text(p, "caseId");
    let item = text(p, "serviceItem");
    // A read is bound to a case of a service item and to licence types;
    // the asking hub checked that the case is its department's own, of its
    // own item, and that the types are the item's.
    if case_id.is_empty() || item.is_empty() || types.is_empty() {
        return Err(ProtoError::service(
            "READ_UNBOUND",
            "a pull names its case (caseId), the service item (serviceItem) and the licence types it needs",
        ));
    }
    // The department's own request, signed with its key from the peer
    // region's trust list: the peer hub forwards, it does not speak for it.
    let origin = verified_origin(shared, region, p.get("origin")).await?;
    let op = origin.payload();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let asked_here = op
        .get("regions")
        .and_then(Value::as_array)
        .is_none_or(|rs| {
            rs.iter()
                .any(|r| r.as_str() == Some(identity.region.as_str()))
        });
    // The department named the types, or left them to its item's: either
    // way its hub forwards the item's, which only that hub can know.
    let types_agree = match types_of(op) {
        Ok(named) if named.is_empty() => true,
        Ok(named) => sorted(named) == sorted(types.clone()),
        Err(_) => false,
    };
    if origin.header.sender != requester
        || origin.header.resource != REGION_LICENCES
        || origin.header.schema != REGION_QUERY_SCHEMA
        || Holder::of(op).ok().map(|h| h.to_json()) != Some(holder.to_json())
        || text(op, "useCause") != use_cause
        || text(op, "caseId") != case_id
        || text(op, "serviceItem") != item
        || !types_agree
        || !asked_here
    {
        return Err(ProtoError::service(
            "ORIGIN_MISMATCH",
            "the forwarded request does not match the department's own",
        ));
    }
    crate::ratelimit::licence_read(&shared.licence_reads, &format!("{peer_id}/{requester}"))?;
    // The department's request is used once, whatever envelope carries it.
    remember(shared, Some(region), &origin.header, origin_replayed).await?;
    let query = Query {
        requester: format!("{peer_id}/{requester}"),
        use_cause,
        case_ref: Some(format!("{region}:{case_id}")),
    };
    let started = Instant::now();
    let found = local_licences(shared, &holder, &types, &query).await?;
    tracing::debug!(peer = %region, elapsed = ?started.elapsed(), "answered a peer's licence query");
    let truncated = found.len() > MAX_PEER_LICENCES;
    let licences: Vec<Value> = found
        .into_iter()
        .take(MAX_PEER_LICENCES)
        .map(|f| f.credential)
        .collect();
    // The peer verifies them with the list this hub serves: a licence
    // signed since it was built makes the next fetch rebuild it, so the
    // peer's out-of-schedule fetch finds the key or status list it lacks.
    // (Never later than now: a licence dated ahead must not make every
    // answer rebuild the list.)
    if let Some(newest) = licences.iter().filter_map(signed_at).max() {
        crate::trust::cover(shared, newest.min(now)).await;
    }
    Ok(json!({"region": identity.region, "licences": licences, "truncated": truncated}))
}

/// This hub's CRL for a peer: signed anew at most once per
/// [`SERVED_CRL_FOR`], so a peer asking often costs no more signatures.
async fn served_crl(shared: &Shared) -> Result<Arc<String>, tongban_service::Error> {
    let mut slot = shared.peering.served_crl.lock().await;
    if let Some((at, crl)) = slot.as_ref() {
        if at.elapsed() < SERVED_CRL_FOR {
            return Ok(Arc::clone(crl));
        }
    }
    let crl = Arc::new(shared.hub.ca_crl().await?);
    *slot = Some((Instant::now(), Arc::clone(&crl)));
    Ok(crl)
}

/// When a credential's proof was created.
fn signed_at(credential: &Value) -> Option<OffsetDateTime> {
    credential
        .pointer("/proof/created")
        .and_then(Value::as_str)
        .and_then(|t| tongban_seal::timefmt::parse_rfc3339(t).ok())
}

/// Remembers an envelope of a peer, or a department's request one carried
/// (`carried_by` that peer's region: each region's departments apart, so
/// that one peer cannot use up another region's request ids), in the store,
/// so that every node refuses it again, restarted or not: `replayed` gives
/// the refusal if it was remembered before. Kept twice the time window past
/// its time, beyond which its time alone refuses it.
pub(crate) async fn remember(
    shared: &Shared,
    carried_by: Option<&str>,
    h: &Header,
    replayed: fn(String) -> ProtoError,
) -> Result<(), ProtoError> {
    let expires_at = h.time + shared.config.time_window * 2;
    let sender = match carried_by {
        Some(region) => format!("{region}/{}", h.sender),
        None => h.sender.clone(),
    };
    let fresh = shared
        .hub
        .store()
        .remember_peer_envelope(&sender, &h.id, expires_at)
        .await
        .map_err(|e| crate::failures::store(&e, "the hub could not record the envelope"))?;
    if fresh {
        Ok(())
    } else {
        Err(replayed(format!(
            "envelope {} of {} was already received",
            h.id, h.sender
        )))
    }
}

/// The refusal of a peer hub's envelope received before.
pub(crate) fn replayed(message: String) -> ProtoError {
    ProtoError::new(ErrorCode::Replay, message)
}

/// The refusal of a department's request carried before.
pub(crate) fn origin_replayed(message: String) -> ProtoError {
    ProtoError::service("ORIGIN_REPLAYED", message)
}

/// The licences one region returned, checked.
struct Answered {
    entries: Vec<Value>,
    /// The `validUntil` of the trust list they were checked with (peers).
    valid_until: Option<OffsetDateTime>,
    /// The region had more than it returns at once.
    truncated: bool,
}

/// What one region answered a pull.
struct RegionAnswer {
    region: String,
    name: String,
    result: Result<Answered, PeerFailure>,
}

fn entry(
    origin: &Value,
    credential: Value,
    verification: tongban_licence::verify::Verification,
) -> Value {
    let summary = verification.summary.as_ref();
    json!({
        "origin": origin,
        "identifier": summary.and_then(|s| s.identifier.clone()),
        "licenceType": summary.and_then(|s| s.type_code.clone()),
        "name": summary.and_then(|s| s.name.clone()),
        "issuer": summary.map(|s| s.issuer.clone()),
        "valid": verification.valid,
        "status": verification.status.map(|s| s.chinese()),
        "problems": verification.problems.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(),
        "licence": credential,
    })
}

/// Asks `peer` for the holder's licences and verifies them with its trust list.
async fn ask_peer(
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
    let started = Instant::now();
    let client = link(&shared, &peer).await?;
    let linked = started.elapsed();
    let draft = client.request_for(PEER_LICENCES, PEER_QUERY_SCHEMA, payload);
    let request_id = draft.id.clone();
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(MAX_WAIT_MS);
    let answered = tokio::time::timeout(wait, client.request(draft, wait_ms)).await;
    tracing::debug!(peer = %region, ?linked, round_trip = ?started.elapsed(), "asked a peer for licences");
    let answer = match answered {
        Ok(Ok(answer)) => answer,
        Ok(Err(ClientError::Refused(e))) => {
            return Err(failure(
                "PEER_REFUSED",
                format!(
                    "region {region} refused: {}: {}",
                    e.most_specific(),
                    e.message
                ),
            ));
        }
        Ok(Err(e)) => {
            shared.peering.forget_link(&region).await;
            return Err(failure("PEER_UNREACHABLE", format!("region {region}: {e}")));
        }
        Err(_) => {
            return Err(failure(
                "PEER_TIMEOUT",
                format!("region {region} did not answer within {} ms", wait_ms),
            ));
        }
    };
    let verified = check_answer(
        &shared,
        &peer_trust,
        answer,
        &request_id,
        PEER_LICENCES,
        PEER_ANSWER_SCHEMA,
    )?;
    let truncated = verified.payload().get("truncated") == Some(&Value::Bool(true));
    let credentials: Vec<Value> = verified
        .payload()
        .get("licences")
        .and_then(Value::as_array)
        .filter(|l| l.len() <= MAX_PEER_LICENCES)
        .cloned()
        .ok_or_else(|| failure("PEER_ANSWER_INVALID", "licences is not a bounded list"))?;
    let mut peer_trust = peer_trust;
    let mut results = verify_all(&shared, &peer_trust, &credentials).await?;
    // Licences newer than the stored list (a status list or a key it does
    // not hold yet): fetch the peer's list once now rather than answer
    // "unverifiable" until the next scheduled refresh.
    let needs_newer = results
        .iter()
        .any(|v| v.has(ProblemCode::StatusListUnavailable) || v.has(ProblemCode::KeyUnknown));
    // Only within the wait: past it, the answer already checked stands.
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if needs_newer && !left.is_zero() && shared.peering.may_refresh_now(&region) {
        if let Ok(Ok(())) = tokio::time::timeout(left, refresh(&shared, &peer, false)).await {
            peer_trust = trust(&shared, &region).await?;
            results = verify_all(&shared, &peer_trust, &credentials).await?;
        }
    }
    let origin = json!({"region": region, "name": peer.name, "hub": peer_trust.anchor.controller});
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

/// Checks that `answer` is the peer hub's signed answer to request
/// `request_id` on `resource` in `schema`: sender, kind, correlation,
/// anchor key, time, signature.
pub(crate) fn check_answer(
    shared: &Shared,
    peer_trust: &PeerTrust,
    answer: Value,
    request_id: &str,
    resource: &str,
    schema: &str,
) -> Result<Verified, PeerFailure> {
    let parsed = tongban_proto::envelope::parse(answer)
        .map_err(|e| failure("PEER_ANSWER_INVALID", e.to_string()))?;
    let h = &parsed.header;
    if h.sender != peer_trust.anchor.controller
        || h.correlation_id.as_deref() != Some(request_id)
        || h.kind != Kind::Response
        || h.resource != resource
        || h.schema != schema
        || h.key_id != peer_trust.anchor.key_id()
    {
        return Err(failure(
            "PEER_ANSWER_INVALID",
            "the answer is not the peer hub's answer to this request",
        ));
    }
    parsed
        .check_time(shared.hub.now(), shared.config.time_window)
        .map_err(|e| failure("PEER_ANSWER_INVALID", e.to_string()))?;
    parsed
        .verify(&peer_trust.anchor)
        .map_err(|e| failure("PEER_ANSWER_INVALID", e.to_string()))
}

/// Verifies a peer's licences with its trust list, off the async runtime.
async fn verify_all(
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
}

/// Answers a department's `hub.region.licences` request: this region's
/// licences and the peers', each verified, with what every region answered.
pub(crate) async fn region_licences(
    shared: &Arc<Shared>,
    request: &Verified,
) -> Result<Value, ProtoError> {
    let hub = &shared.hub;
    let p = request.payload();
    let holder = Holder::of(p)?;
    let requested = types_of(p)?;
    let use_cause = text(p, "useCause");
    // Bound to a case of the department's own item, and to that item's
    // licence types, before anyone is asked (and a use recorded): the same
    // rule as `hub.case.licences`. What every peer would refuse is refused
    // here too.
    let case_query = CaseQuery {
        case_id: text(p, "caseId"),
        item: text(p, "serviceItem"),
        holder_code_type: holder.code_type.clone(),
        holder_code: holder.code.clone(),
        use_cause: use_cause.clone(),
    };
    let (case, types) = hub
        .case_read_types(&request.header.sender, &case_query, &requested)
        .await
        .map_err(refused)?;
    let case_id = Some(case.id.clone());
    let wait_ms = p
        .get("waitMs")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_WAIT_MS)
        .clamp(100, MAX_WAIT_MS);
    let wait = Duration::from_millis(wait_ms);
    let identity = hub.identity().await.map_err(refused)?;
    let peers: Vec<PeerRow> = hub
        .peers()
        .await
        .map_err(refused)?
        .into_iter()
        .filter(|p| p.status == "active")
        .collect();
    let wanted: Option<Vec<String>> = p.get("regions").and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    });
    let asks_local = wanted.as_ref().is_none_or(|w| w.contains(&identity.region));
    let mut answers: Vec<RegionAnswer> = Vec::new();
    let mut to_ask: Vec<PeerRow> = Vec::new();
    match &wanted {
        None => to_ask = peers,
        Some(list) => {
            for region in list.iter().filter(|r| **r != identity.region) {
                match peers.iter().find(|p| &p.region_code == region) {
                    Some(p) => to_ask.push(p.clone()),
                    None => answers.push(RegionAnswer {
                        region: region.clone(),
                        name: String::new(),
                        result: Err(failure(
                            "PEER_UNKNOWN",
                            format!("region {region} is not a peer of this hub"),
                        )),
                    }),
                }
            }
        }
    }
    let query = Query {
        requester: request.header.sender.clone(),
        use_cause: use_cause.clone(),
        case_ref: case_id.clone(),
    };
    // Ask the peers while this region's store answers.
    let mut asks = tokio::task::JoinSet::new();
    let forwarded = json!({
        "holder": holder.to_json(),
        "useCause": use_cause,
        "caseId": case_id,
        "serviceItem": case.item,
        "licenceTypes": types,
        "requester": request.header.sender,
        "origin": request.to_value(),
    });
    for peer in to_ask {
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
    let mut licences = Vec::new();
    if asks_local {
        let found = local_licences(shared, &holder, &types, &query).await?;
        let origin = json!({"region": identity.region, "name": identity.name, "hub": identity.id});
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
        match a.result {
            Ok(Answered {
                entries,
                valid_until,
                truncated,
            }) => {
                let is_local = a.region == identity.region;
                let count = if is_local { local_count } else { entries.len() };
                if !is_local {
                    let returned: Vec<String> = entries
                        .iter()
                        .filter_map(|e| e.get("identifier").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect();
                    hub.record_peer_use(&query, &a.region, &holder.describe(), &returned)
                        .await
                        .map_err(refused)?;
                }
                licences.extend(entries);
                let mut r = json!({"region": a.region, "name": a.name, "outcome": "answered", "licences": count});
                if truncated {
                    r["truncated"] = json!(true);
                }
                if let Some(t) = valid_until {
                    r["trustListValidUntil"] = json!(tongban_seal::timefmt::format_rfc3339(t));
                }
                regions.push(r);
            }
            Err(f) => regions.push(json!({
                "region": a.region, "name": a.name, "outcome": "failed",
                "code": f.code, "message": f.message,
            })),
        }
    }
    Ok(json!({
        "holder": holder.to_json(),
        "licences": licences,
        "regions": regions,
    }))
}
