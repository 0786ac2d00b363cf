//! Hubs of other regions (全域通办). Administrators of two regions exchange
//! a [`PeerCard`] once: the hub's region, name, address, its anchor key
//! (which signs the region's trust list) and its CA certificate (for mutual
//! TLS between the hubs).
//!
//! `peer_add` checks the card (region, address, anchor key, a CA certificate
//! valid now; not this hub's own; no active duplicate); `peer` is the active
//! peer of a region, else `PEER_UNKNOWN`. `peer_trust_accept` takes a peer's
//! trust list, fetched or imported: signed by the anchor on the card (else
//! `TRUST_LIST_UNTRUSTED`), within its `validUntil` (else `TRUST_LIST_STALE`),
//! the peer's own (else `TRUST_LIST_INVALID`), not older than the stored one
//! (`TRUST_LIST_ROLLBACK`); stored with a `peer.trust` entry when it changed.
//! `peer_trust` checks the stored list again against the anchor and the clock:
//! a `PeerTrust` with the `Trust` to verify the peer's licences and the peer
//! hub's key record, or `TRUST_LIST_MISSING`, `TRUST_LIST_STALE`.
//! `anchor_record` is a peer's anchor as the key record that signs for
//! `urn:tongban:hub:{region}`; `record_peer_use` is this side's licence-use
//! record of a peer's answer (query kind `peer-holder`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tongban_codes::RegionCode;
use tongban_licence::trustfile::{self, TrustFileError};
use tongban_licence::verify::Trust;
use tongban_seal::{KeyRecord, PublicKey};
use tongban_store::{PeerRow, PeerTrustRow};

use crate::error::Code;
use crate::{Error, Result, Service};

/// Longest CA certificate accepted in a card.
const MAX_CA_PEM: usize = 16 * 1024;

fn rejected(code: Code, message: impl Into<String>) -> Error {
    Error::rejected(code, message)
}

/// What one hub's administrator hands to another's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerCard {
    /// GB/T 2260 region code.
    pub region: String,
    /// Name, e.g. 清远市清城区政务数据共享交换平台.
    pub name: String,
    /// `host:port` where its hub serves QUIC.
    pub address: String,
    /// Its hub key (Multikey).
    pub anchor: String,
    /// Its CA certificate (PEM).
    pub ca_pem: String,
}

/// Longest CRL accepted from a peer hub.
pub const MAX_PEER_CRL_PEM: usize = 1024 * 1024;

/// The certificates a CRL revokes (their serials, sorted), once it is
/// checked: exactly one PEM `X509 CRL` block, issued by the CA in `ca_pem`
/// (same name, signature verified with its key).
/// What a verified CRL says: the revoked serials, sorted, and until when it
/// may be relied on.
#[derive(Debug, PartialEq, Eq)]
struct CheckedCrl {
    revoked: Vec<Vec<u8>>,
    next_update: OffsetDateTime,
}

fn check_crl(crl_pem: &str, ca_pem: &str) -> std::result::Result<CheckedCrl, String> {
    if crl_pem.len() > MAX_PEER_CRL_PEM {
        return Err(format!("longer than {MAX_PEER_CRL_PEM} bytes"));
    }
    let mut blocks = x509_parser::pem::Pem::iter_from_buffer(crl_pem.as_bytes());
    let block = match (blocks.next(), blocks.next()) {
        (Some(Ok(block)), None) => block,
        (Some(Err(e)), _) => return Err(format!("not PEM: {e}")),
        (None, _) => return Err("no PEM block".into()),
        (Some(_), Some(_)) => return Err("more than one PEM block".into()),
    };
    if block.label != "X509 CRL" {
        return Err(format!("a PEM {} block, not an X509 CRL", block.label));
    }
    let (_, crl) = x509_parser::parse_x509_crl(&block.contents)
        .map_err(|e| format!("not an X.509 CRL: {e}"))?;
    let (_, ca) =
        x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).map_err(|e| format!("CA: {e}"))?;
    let ca = ca.parse_x509().map_err(|e| format!("CA: {e}"))?;
    if crl.issuer().as_raw() != ca.subject().as_raw() {
        return Err(format!(
            "issued by {}, not by the CA on the peer's card ({})",
            crl.issuer(),
            ca.subject()
        ));
    }
    crl.verify_signature(ca.public_key())
        .map_err(|e| format!("not signed by the CA on the peer's card: {e}"))?;
    let next_update = crl
        .next_update()
        .map(|t| t.to_datetime())
        .ok_or("no nextUpdate: a CRL must say until when it may be relied on")?;
    let mut revoked: Vec<Vec<u8>> = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().to_vec())
        .collect();
    revoked.sort();
    Ok(CheckedCrl {
        revoked,
        next_update,
    })
}

/// The serial number of a DER certificate, as CRLs list it.
fn serial_of(der: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("certificate: {e}"))?;
    Ok(cert.raw_serial().to_vec())
}

/// A `host:port` with a DNS name, IPv4 or bracketed IPv6 host.
fn address_ok(a: &str) -> bool {
    let Some((host, port)) = a.rsplit_once(':') else {
        return false;
    };
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The CA certificate in `pem` is well-formed, a CA, and valid now.
fn check_ca(pem: &str) -> std::result::Result<(), String> {
    if pem.len() > MAX_CA_PEM {
        return Err(format!("longer than {MAX_CA_PEM} bytes"));
    }
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| format!("not PEM: {e}"))?;
    let cert = block
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    if !cert.is_ca() {
        return Err("not a CA certificate".into());
    }
    if !cert.validity().is_valid() {
        return Err("outside its validity period".into());
    }
    Ok(())
}

impl Service {
    /// This hub's card, to hand to the administrator of another region's
    /// hub; `address` is where peers reach this hub.
    pub async fn peer_card(&self, address: &str) -> Result<PeerCard> {
        if !address_ok(address) {
            return Err(rejected(
                Code::PeerAddressInvalid,
                format!("{address:?}: give host:port (a DNS name, IPv4, or [IPv6])"),
            ));
        }
        let identity = self.identity().await?;
        let ca = self.ca_certificate().await?;
        Ok(PeerCard {
            region: identity.region,
            name: identity.name,
            address: address.to_owned(),
            anchor: identity.anchor,
            ca_pem: ca.pem,
        })
    }

    /// Trusts another region's hub as its card describes.
    pub async fn peer_add(&self, card: PeerCard) -> Result<PeerRow> {
        let region = RegionCode::parse(&card.region)
            .map_err(|e| rejected(Code::PeerRegionInvalid, format!("{}: {e}", card.region)))?;
        crate::text::name(
            Code::PeerNameInvalid,
            "a peer's name",
            &card.name,
            crate::text::MAX_NAME_CHARS,
        )?;
        if !address_ok(&card.address) {
            return Err(rejected(
                Code::PeerAddressInvalid,
                format!("{:?}: give host:port", card.address),
            ));
        }
        PublicKey::from_multikey(&card.anchor)
            .map_err(|e| rejected(Code::PeerAnchorInvalid, format!("anchor: {e}")))?;
        check_ca(&card.ca_pem).map_err(|e| rejected(Code::PeerCaInvalid, format!("caPem: {e}")))?;
        let me = self.identity().await?;
        if region.as_str() == me.region || card.anchor == me.anchor {
            return Err(rejected(
                Code::PeerIsSelf,
                "this is this hub's own card: add the other region's",
            ));
        }
        let now = self.now();
        let row = PeerRow {
            region_code: region.as_str().to_owned(),
            name: card.name.clone(),
            address: card.address.clone(),
            anchor: card.anchor.clone(),
            ca_pem: card.ca_pem.clone(),
            status: "active".into(),
            added_at: now,
            removed_at: None,
        };
        let audit = [self.audit(
            "peer.add",
            &row.region_code,
            json!({"name": row.name, "address": row.address, "anchor": row.anchor}),
        )];
        if !self.store.add_peer(&row, &audit).await? {
            return Err(rejected(
                Code::PeerExists,
                format!(
                    "region {} is already a peer: remove it first to replace its card",
                    row.region_code
                ),
            ));
        }
        self.maybe_checkpoint().await?;
        Ok(row)
    }

    /// Stops trusting a peer (its record stays, marked removed).
    pub async fn peer_remove(&self, region: &str) -> Result<PeerRow> {
        let now = self.now();
        let audit = [self.audit("peer.remove", region, json!({}))];
        if !self.store.remove_peer(region, now, &audit).await? {
            return Err(rejected(
                Code::PeerUnknown,
                format!("region {region} is not an active peer"),
            ));
        }
        self.store.forget_peer_resources(region).await?;
        self.maybe_checkpoint().await?;
        self.store
            .peers()
            .await?
            .into_iter()
            .find(|p| p.region_code == region)
            .ok_or_else(|| rejected(Code::PeerUnknown, format!("region {region}")))
    }

    /// Peers, removed ones too.
    pub async fn peers(&self) -> Result<Vec<PeerRow>> {
        Ok(self.store.peers().await?)
    }

    /// The active peer of `region`.
    pub async fn peer(&self, region: &str) -> Result<PeerRow> {
        self.store
            .peers()
            .await?
            .into_iter()
            .find(|p| p.region_code == region && p.status == "active")
            .ok_or_else(|| {
                rejected(
                    Code::PeerUnknown,
                    format!("region {region} is not an active peer of this hub"),
                )
            })
    }

    /// Checks a trust list a peer served (or its administrator handed
    /// over) against the peer's anchor and the clock, and stores it. A list
    /// that fails is refused with `TRUST_LIST_UNTRUSTED`, `TRUST_LIST_STALE`
    /// or `TRUST_LIST_INVALID`, and the stored one stays.
    pub async fn peer_trust_accept(&self, region: &str, file: &Value) -> Result<PeerTrustRow> {
        let peer = self.peer(region).await?;
        let now = self.now();
        let checked = check_trust_list(&peer, file, now)?;
        self.check_not_ours(region, &checked.trust).await?;
        // Never back to an older list: it could hide a revocation or bring
        // back a retired key.
        let stored_from = self
            .store
            .peer_trust(region)
            .await?
            .and_then(|r| r.trust_file)
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| valid_from(&v));
        if let (Some(stored), Some(new)) = (stored_from, valid_from(file)) {
            if new < stored {
                return Err(rejected(
                    Code::TrustListRollback,
                    format!(
                        "this list of region {region} was issued at {}, before the stored one ({})",
                        tongban_seal::timefmt::format_rfc3339(new),
                        tongban_seal::timefmt::format_rfc3339(stored)
                    ),
                ));
            }
        }
        let text = String::from_utf8(tongban_seal::jcs::canonicalize(file))
            .map_err(|e| rejected(Code::TrustListInvalid, e.to_string()))?;
        let audit = [self.audit(
            "peer.trust",
            region,
            json!({"sha256": tongban_store::sha256_hex(text.as_bytes()), "validUntil": tongban_seal::timefmt::format_rfc3339(checked.valid_until)}),
        )];
        self.store
            .put_peer_trust(region, &text, checked.valid_until, now, &audit)
            .await?;
        self.store
            .peer_trust(region)
            .await?
            .ok_or_else(|| rejected(Code::Internal, "the stored trust list disappeared"))
    }

    /// A peer never speaks for one of this region's departments.
    async fn check_not_ours(&self, region: &str, trust: &Trust) -> Result<()> {
        let ours: std::collections::HashSet<String> = self
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| format!("urn:uscc:{}", d.code))
            .collect();
        match speaks_for(trust).find(|c| ours.contains(*c)) {
            Some(controller) => Err(rejected(
                Code::TrustListForeignIssuer,
                format!(
                    "the trust list of region {region} speaks for {controller}, a department of this region"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Records that refreshing a peer's trust list failed (the stored list
    /// stays usable until its own `validUntil`).
    pub async fn peer_trust_failed(&self, region: &str, code: &str, message: &str) -> Result<()> {
        let text: String = format!("{code}: {message}").chars().take(500).collect();
        Ok(self
            .store
            .peer_trust_failed(region, &text, self.now())
            .await?)
    }

    /// Leaves this region's licence-use record for licences a peer region
    /// returned to `query`'s requester (the peer keeps its own record).
    pub async fn record_peer_use(
        &self,
        query: &crate::Query,
        region: &str,
        holder: &str,
        returned: &[String],
    ) -> Result<i64> {
        query.check()?;
        self.record_use(
            query,
            "peer-holder",
            &format!("{region} {holder}"),
            returned,
        )
        .await
    }

    /// Every peer's trust list state.
    pub async fn peer_trust_states(&self) -> Result<Vec<PeerTrustRow>> {
        Ok(self.store.peer_trusts().await?)
    }

    /// A peer's stored trust list, checked again against its anchor and the
    /// clock: `TRUST_LIST_MISSING` if none was ever fetched,
    /// `TRUST_LIST_STALE` once it is past its `validUntil`.
    pub async fn peer_trust(&self, region: &str) -> Result<PeerTrust> {
        let peer = self.peer(region).await?;
        let row = self.store.peer_trust(region).await?;
        let Some((text, sha256, fetched_at)) = row
            .as_ref()
            .and_then(|r| Some((r.trust_file.clone()?, r.sha256.clone()?, r.fetched_at?)))
        else {
            let why = row
                .and_then(|r| r.failure)
                .map(|f| format!(" (last attempt: {f})"))
                .unwrap_or_default();
            return Err(rejected(
                Code::TrustListMissing,
                format!("no trust list of region {region} has been fetched yet{why}"),
            ));
        };
        let file: Value = serde_json::from_str(&text)
            .map_err(|e| rejected(Code::TrustListInvalid, format!("stored list: {e}")))?;
        let checked = check_trust_list(&peer, &file, self.now())?;
        // Checked again: a department added here since the list was stored.
        self.check_not_ours(region, &checked.trust).await?;
        Ok(PeerTrust {
            region: peer.region_code.clone(),
            name: peer.name.clone(),
            sha256,
            fetched_at,
            valid_until: checked.valid_until,
            trust: checked.trust,
            anchor: anchor_record(&peer)?,
        })
    }
}

/// A peer's trust list, verified: what checking its licences offline needs.
pub struct PeerTrust {
    /// The peer's region code.
    pub region: String,
    /// Its name.
    pub name: String,
    /// SHA-256 of the stored list.
    pub sha256: String,
    /// When the list was fetched.
    pub fetched_at: OffsetDateTime,
    /// Its `validUntil`: past it the list is stale and not used.
    pub valid_until: OffsetDateTime,
    /// Issuer keys, status lists and licence types of the peer's region.
    pub trust: Trust,
    /// The peer hub's key, for what the peer hub signs itself.
    pub anchor: KeyRecord,
}

impl std::fmt::Debug for PeerTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTrust")
            .field("region", &self.region)
            .field("sha256", &self.sha256)
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

/// The peer hub's key as a key record: it signs for `urn:tongban:hub:{region}`.
pub fn anchor_record(peer: &PeerRow) -> Result<KeyRecord> {
    let public = PublicKey::from_multikey(&peer.anchor)
        .map_err(|e| rejected(Code::PeerAnchorInvalid, e.to_string()))?;
    Ok(KeyRecord {
        controller: format!("urn:tongban:hub:{}", peer.region_code),
        public,
        validity: tongban_seal::Validity::from(peer.added_at - time::Duration::days(3650)),
        purpose: tongban_seal::KeyPurpose::Both,
    })
}

fn valid_from(file: &Value) -> Option<OffsetDateTime> {
    file.get("validFrom")
        .and_then(Value::as_str)
        .and_then(|t| tongban_seal::timefmt::parse_rfc3339(t).ok())
}

struct Checked {
    trust: Trust,
    valid_until: OffsetDateTime,
}

fn check_trust_list(peer: &PeerRow, file: &Value, now: OffsetDateTime) -> Result<Checked> {
    let anchor = PublicKey::from_multikey(&peer.anchor)
        .map_err(|e| rejected(Code::PeerAnchorInvalid, e.to_string()))?;
    let region = &peer.region_code;
    let trust = trustfile::load(file, &anchor, now).map_err(|e| {
        let code = match e {
            TrustFileError::Untrusted(_) => Code::TrustListUntrusted,
            TrustFileError::Stale(_) => Code::TrustListStale,
            _ => Code::TrustListInvalid,
        };
        rejected(code, format!("the trust list of region {region}: {e}"))
    })?;
    let expected = format!("urn:tongban:hub:{region}");
    if file.get("issuer").and_then(Value::as_str) != Some(expected.as_str()) {
        return Err(rejected(
            Code::TrustListInvalid,
            format!("the trust list is not {expected}'s"),
        ));
    }
    let valid_until = file
        .get("validUntil")
        .and_then(Value::as_str)
        .and_then(|t| tongban_seal::timefmt::parse_rfc3339(t).ok())
        .ok_or_else(|| rejected(Code::TrustListInvalid, "no validUntil"))?;
    check_own_region(region, &trust)?;
    Ok(Checked { trust, valid_until })
}

/// Who a trust list speaks for: the controllers of its keys and the
/// issuers of its status lists.
fn speaks_for(trust: &Trust) -> impl Iterator<Item = &str> {
    trust
        .keys()
        .map(|k| k.controller.as_str())
        .chain(trust.status_lists().map(|l| l.issuer_id.as_str()))
}

/// A peer speaks for its own region only: every key and status list of its
/// trust list is the peer hub's own or a body's whose code was registered in
/// the peer's region, or in a region that contains it or that it contains
/// (a city's or province's bureau acts in a district too). Anything else
/// would let a peer present licences "issued" by another region's bodies.
fn check_own_region(region: &str, trust: &Trust) -> Result<()> {
    let peer_region = RegionCode::parse(region)
        .map_err(|e| rejected(Code::PeerRegionInvalid, format!("{region}: {e}")))?;
    let hub = format!("urn:tongban:hub:{region}");
    for controller in speaks_for(trust) {
        if controller == hub {
            continue;
        }
        let registered = controller
            .strip_prefix("urn:uscc:")
            .and_then(|code| tongban_codes::Uscc::parse_lenient(code).ok())
            .and_then(|code| code.region());
        if !registered.is_some_and(|r| r.related(&peer_region)) {
            return Err(rejected(
                Code::TrustListForeignIssuer,
                format!(
                    "the trust list of region {region} speaks for {controller}, which is not a body of that region"
                ),
            ));
        }
    }
    Ok(())
}

/// Most resources a region shares with another region's hub (as many as
/// one catalogue listing holds).
pub const MAX_PEER_RESOURCES: usize = tongban_store::MAX_CATALOGUE_RESULTS;
/// Largest schema document of a peer's resource accepted, in bytes of JSON.
pub const MAX_PEER_SCHEMA_BYTES: usize = 64 * 1024;

/// An unconditional (无条件共享) resource of a region's catalogue, as that
/// region's hub serves it to peer hubs: the entry and the schema its
/// payloads follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerResource {
    /// The region that provides it.
    pub region: String,
    /// Resource id in that region's catalogue; requested here as
    /// `{region}:{id}`.
    pub id: String,
    /// Version.
    pub version: u64,
    /// Name (资源名称).
    pub name: String,
    /// Description (资源摘要).
    pub description: String,
    /// Providing department (in that region).
    pub provider: String,
    /// Payload schema `id@version`.
    pub schema: String,
    /// Fields with labels.
    pub fields: Vec<tongban_store::CatalogueField>,
    /// Always `unconditional`.
    pub sharing_type: String,
    /// Update frequency.
    pub update_frequency: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The schema document.
    pub schema_document: Value,
}

impl PeerResource {
    /// How it is named in a request from this region: `{region}:{id}`.
    pub fn qualified_id(&self) -> String {
        format!("{}:{}", self.region, self.id)
    }

    fn matches(&self, terms: &[String]) -> (bool, bool) {
        let mut text = format!("{} {} {}", self.name, self.description, self.tags.join(" "));
        for f in &self.fields {
            text.push(' ');
            text.push_str(&f.label);
        }
        let all = terms.iter().all(|t| text.contains(t.as_str()));
        let in_name = terms.iter().all(|t| self.name.contains(t.as_str()));
        (all, in_name)
    }
}

impl Service {
    /// This region's unconditional, published resources with their schemas,
    /// as served to peer hubs (at most [`MAX_PEER_RESOURCES`]).
    pub async fn shared_catalogue(&self) -> Result<Vec<PeerResource>> {
        let me = self.identity().await?;
        let filter = tongban_store::CatalogueFilter {
            sharing_type: Some("unconditional".into()),
            ..Default::default()
        };
        let mut out = Vec::new();
        for e in self
            .store
            .catalogue_list(&filter, MAX_PEER_RESOURCES)
            .await?
        {
            if e.status != "published" {
                continue;
            }
            let (schema_id, version) = e.schema.split_once('@').unwrap_or((&e.schema, ""));
            let Ok(row) = self.schema(schema_id, Some(version)).await else {
                continue;
            };
            let Ok(document) = serde_json::from_str::<Value>(&row.content) else {
                continue;
            };
            out.push(PeerResource {
                region: me.region.clone(),
                id: e.id,
                version: e.version,
                name: e.name,
                description: e.description,
                provider: e.provider,
                schema: e.schema,
                fields: e.fields,
                sharing_type: e.sharing_type,
                update_frequency: e.update_frequency,
                tags: e.tags,
                schema_document: document,
            });
        }
        Ok(out)
    }

    /// Stores the CRL a peer's hub served (in an answer signed with its
    /// anchor) for the CA on its card; refuses one that is not that CA's
    /// (`PEER_CRL_INVALID`). Returns whether it changed.
    pub async fn peer_crl_accept(&self, region: &str, crl_pem: &str) -> Result<bool> {
        let peer = self.peer(region).await?;
        let checked =
            check_crl(crl_pem, &peer.ca_pem).map_err(|e| rejected(Code::PeerCrlInvalid, e))?;
        if checked.next_update <= self.now() {
            return Err(rejected(
                Code::PeerCrlStale,
                format!(
                    "the CRL of region {region} was to be replaced by {}",
                    tongban_seal::timefmt::format_rfc3339(checked.next_update)
                ),
            ));
        }
        let ca_sha = tongban_seal::hex(&tongban_seal::sha256(peer.ca_pem.as_bytes()));
        // A CRL is signed anew whenever it is served: one that revokes the
        // same certificates replaces the stored one only if it may be relied
        // on for longer (its `nextUpdate` is enforced), and says no change.
        let stored = self.store.peer_crls().await?;
        let previous = stored
            .iter()
            .find(|(r, sha, _)| *r == region && *sha == ca_sha)
            .and_then(|(_, _, pem)| check_crl(pem, &peer.ca_pem).ok());
        if let Some(old) = &previous {
            if old.revoked == checked.revoked && old.next_update >= checked.next_update {
                return Ok(false);
            }
        }
        self.store
            .put_peer_crl(region, &ca_sha, crl_pem, self.now())
            .await?;
        Ok(previous.is_none_or(|old| old.revoked != checked.revoked))
    }

    /// Whether this hub may rely on what it knows of `region`'s
    /// certificates: a CRL of the CA on the peer's card is stored and not
    /// past its `nextUpdate` (`PEER_CRL_MISSING`, `PEER_CRL_STALE`), and
    /// `certificate` (DER), if given, is not revoked in it
    /// (`PEER_CERTIFICATE_REVOKED`). Licences and requests cross only with
    /// such a peer; unknown revocation status is never taken as fine.
    pub async fn peer_crl_check(&self, region: &str, certificate: Option<&[u8]>) -> Result<()> {
        let peer = self.peer(region).await?;
        let ca_sha = tongban_seal::hex(&tongban_seal::sha256(peer.ca_pem.as_bytes()));
        let stored = self.store.peer_crls().await?;
        let crl = stored
            .iter()
            .find(|(r, sha, _)| *r == region && *sha == ca_sha)
            .map(|(_, _, pem)| check_crl(pem, &peer.ca_pem))
            .transpose()
            .map_err(|e| rejected(Code::PeerCrlInvalid, format!("stored CRL of {region}: {e}")))?
            .ok_or_else(|| {
                rejected(
                    Code::PeerCrlMissing,
                    format!(
                        "no CRL of region {region}'s CA has been fetched yet: whether its certificates are revoked is unknown"
                    ),
                )
            })?;
        if crl.next_update <= self.now() {
            return Err(rejected(
                Code::PeerCrlStale,
                format!(
                    "the stored CRL of region {region} was to be replaced by {}",
                    tongban_seal::timefmt::format_rfc3339(crl.next_update)
                ),
            ));
        }
        if let Some(der) = certificate {
            let serial = serial_of(der).map_err(|e| rejected(Code::PeerCertificateInvalid, e))?;
            if crl.revoked.binary_search(&serial).is_ok() {
                return Err(rejected(
                    Code::PeerCertificateRevoked,
                    format!("region {region}'s CA revoked the certificate its hub presented"),
                ));
            }
        }
        Ok(())
    }

    /// Active peers' CAs with their CRLs (PEM), by region: the CRL only if
    /// it was served for the CA now on the card.
    pub async fn peer_cas(&self) -> Result<Vec<(String, String, Option<String>)>> {
        let crls = self.store.peer_crls().await?;
        Ok(self
            .store
            .peers()
            .await?
            .into_iter()
            .filter(|p| p.status == "active")
            .map(|p| {
                let ca_sha = tongban_seal::hex(&tongban_seal::sha256(p.ca_pem.as_bytes()));
                let crl = crls
                    .iter()
                    .find(|(r, sha, _)| *r == p.region_code && *sha == ca_sha)
                    .map(|(_, _, pem)| pem.clone());
                (p.region_code, p.ca_pem, crl)
            })
            .collect())
    }

    /// Stores what a peer served of its catalogue (replacing what was
    /// stored); refuses the whole list if an entry is not the peer's own
    /// unconditional resource (`PEER_CATALOGUE_INVALID`). Returns how many.
    pub async fn peer_catalogue_accept(&self, region: &str, resources: &[Value]) -> Result<usize> {
        self.peer(region).await?;
        if resources.len() > MAX_PEER_RESOURCES {
            return Err(rejected(
                Code::PeerCatalogueInvalid,
                format!("more than {MAX_PEER_RESOURCES} resources"),
            ));
        }
        let peer_region = RegionCode::parse(region)
            .map_err(|e| rejected(Code::PeerRegionInvalid, format!("{region}: {e}")))?;
        let ours: std::collections::HashSet<String> = self
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| d.code)
            .collect();
        let mut rows: Vec<(String, String)> = Vec::with_capacity(resources.len());
        for v in resources {
            let r: PeerResource = serde_json::from_value(v.clone())
                .map_err(|e| rejected(Code::PeerCatalogueInvalid, e.to_string()))?;
            let id_ok = !r.id.is_empty()
                && r.qualified_id().len() <= 100
                && r.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            // A resource of the peer's within the limits of one of ours:
            // what its hub let be published, this one takes.
            use crate::catalogue::{
                MAX_DESCRIPTION, MAX_FIELDS, MAX_FREQUENCY, MAX_LABEL, MAX_TAG, MAX_TAGS,
            };
            let short = |t: &str, max: usize| t.chars().count() <= max;
            let bounded = short(&r.name, crate::text::MAX_NAME_CHARS)
                && short(&r.description, MAX_DESCRIPTION)
                && short(&r.provider, 64)
                && short(&r.schema, 120)
                && short(&r.update_frequency, MAX_FREQUENCY)
                && r.tags.len() <= MAX_TAGS
                && r.tags.iter().all(|t| short(t, MAX_TAG))
                && r.fields.len() <= MAX_FIELDS
                && r.fields
                    .iter()
                    .all(|f| short(&f.name, 100) && short(&f.label, MAX_LABEL))
                && serde_json::to_vec(&r.schema_document)
                    .is_ok_and(|b| b.len() <= MAX_PEER_SCHEMA_BYTES);
            if r.region != region
                || r.sharing_type != "unconditional"
                || !id_ok
                || !bounded
                || !r.schema_document.is_object()
                || rows.iter().any(|(id, _)| *id == r.id)
            {
                return Err(rejected(
                    Code::PeerCatalogueInvalid,
                    format!(
                        "resource {:?} is not an unconditional resource of region {region} within the limits, or is listed twice",
                        r.id
                    ),
                ));
            }
            // A peer speaks for its own region only (as in its trust list).
            let of_the_peer = tongban_codes::Uscc::parse_lenient(&r.provider)
                .ok()
                .and_then(|code| code.region())
                .is_some_and(|home| home.related(&peer_region));
            if !of_the_peer || ours.contains(&r.provider) {
                return Err(rejected(
                    Code::PeerCatalogueForeignProvider,
                    format!(
                        "resource {:?} names provider {:?}, which is not a body of region {region}",
                        r.id, r.provider
                    ),
                ));
            }
            let text = serde_json::to_string(&r)
                .map_err(|e| rejected(Code::PeerCatalogueInvalid, e.to_string()))?;
            rows.push((r.id, text));
        }
        self.store
            .replace_peer_resources(region, &rows, self.now())
            .await?;
        Ok(rows.len())
    }

    /// Peer regions' resources whose name, description, tags or field
    /// labels hold every whitespace-separated term; name matches first.
    pub async fn peer_catalogue_search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<PeerResource>> {
        let terms: Vec<String> = query.split_whitespace().map(str::to_owned).collect();
        // Active peers whose trust list is still fresh: a peer's offer is
        // no better than the list its requests are checked with.
        let now = self.now();
        let fresh: Vec<String> = self
            .store
            .peer_trusts()
            .await?
            .into_iter()
            .filter(|t| t.valid_until.is_some_and(|v| v >= now))
            .map(|t| t.region_code)
            .collect();
        let active: Vec<String> = self
            .peers()
            .await?
            .into_iter()
            .filter(|p| p.status == "active" && fresh.contains(&p.region_code))
            .map(|p| p.region_code)
            .collect();
        let mut hits = Vec::new();
        for (region, text) in self.store.peer_resources(None).await? {
            if !active.contains(&region) {
                continue;
            }
            let Ok(r) = serde_json::from_str::<PeerResource>(&text) else {
                continue;
            };
            let (all, in_name) = r.matches(&terms);
            if all {
                hits.push((!in_name, r));
            }
        }
        hits.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.qualified_id().cmp(&b.1.qualified_id()))
        });
        Ok(hits.into_iter().take(limit).map(|(_, r)| r).collect())
    }

    /// A peer region's resource as stored (`CATALOGUE_UNKNOWN` if none);
    /// the caller has checked that `region` is an active peer.
    pub async fn peer_resource(&self, region: &str, id: &str) -> Result<PeerResource> {
        let text = self.store.peer_resource(region, id).await?.ok_or_else(|| {
            rejected(
                Code::CatalogueUnknown,
                format!("region {region} shares no resource {id} with other regions"),
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Store(tongban_store::StoreError::Corrupt(e.to_string())))
    }
}
