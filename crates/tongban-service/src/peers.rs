//! Hubs of other regions (全域通办). Administrators of two regions exchange
//! a [`PeerCard`] once: the hub's region, name, address, its anchor key
//! (which signs the region's trust list) and its CA certificate (for mutual
//! TLS between the hubs).

use serde::{Deserialize, Serialize};
use serde_json::json;
use tongban_codes::RegionCode;
use tongban_seal::PublicKey;
use tongban_store::PeerRow;

use crate::{Error, Hub, Result};

/// Longest CA certificate accepted in a card.
const MAX_CA_PEM: usize = 16 * 1024;

fn rejected(code: &'static str, message: impl Into<String>) -> Error {
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

impl Hub {
    /// This hub's card, to hand to the administrator of another region's
    /// hub; `address` is where peers reach this hub.
    pub async fn peer_card(&self, address: &str) -> Result<PeerCard> {
        if !address_ok(address) {
            return Err(rejected(
                "PEER_ADDRESS_INVALID",
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
            .map_err(|e| rejected("PEER_REGION_INVALID", format!("{}: {e}", card.region)))?;
        let name = card.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(rejected(
                "PEER_NAME_INVALID",
                "a peer's name has 1 to 200 characters",
            ));
        }
        if !address_ok(&card.address) {
            return Err(rejected(
                "PEER_ADDRESS_INVALID",
                format!("{:?}: give host:port", card.address),
            ));
        }
        PublicKey::from_multikey(&card.anchor)
            .map_err(|e| rejected("PEER_ANCHOR_INVALID", format!("anchor: {e}")))?;
        check_ca(&card.ca_pem).map_err(|e| rejected("PEER_CA_INVALID", format!("caPem: {e}")))?;
        let me = self.identity().await?;
        if region.as_str() == me.region || card.anchor == me.anchor {
            return Err(rejected(
                "PEER_IS_SELF",
                "this is this hub's own card: add the other region's",
            ));
        }
        let now = self.now();
        let row = PeerRow {
            region_code: region.as_str().to_owned(),
            name: name.to_owned(),
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
                "PEER_EXISTS",
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
                "PEER_UNKNOWN",
                format!("region {region} is not an active peer"),
            ));
        }
        self.maybe_checkpoint().await?;
        self.store
            .peers()
            .await?
            .into_iter()
            .find(|p| p.region_code == region)
            .ok_or_else(|| rejected("PEER_UNKNOWN", format!("region {region}")))
    }

    /// Peers, removed ones too.
    pub async fn peers(&self) -> Result<Vec<PeerRow>> {
        Ok(self.store.peers().await?)
    }
}
