//! Hubs of other regions this hub trusts.

use crate::db::{RowExt, from_unix, unix};
use crate::{AuditRecord, Result, Store};

/// A peer hub.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerRow {
    /// Its region code.
    pub region_code: String,
    /// Its name.
    pub name: String,
    /// `host:port` of its QUIC endpoint.
    pub address: String,
    /// Its hub key (Multikey): signs its region's trust list.
    pub anchor: String,
    /// Its CA certificate (PEM).
    pub ca_pem: String,
    /// `active` or `removed`.
    pub status: String,
    /// Added.
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: time::OffsetDateTime,
    /// Removed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub removed_at: Option<time::OffsetDateTime>,
}

fn from_row(r: &impl RowExt) -> Result<PeerRow> {
    Ok(PeerRow {
        region_code: r.text("region_code")?,
        name: r.text("name")?,
        address: r.text("address")?,
        anchor: r.text("anchor")?,
        ca_pem: r.text("ca_pem")?,
        status: r.text("status")?,
        added_at: from_unix(r.int("added_at")?)?,
        removed_at: r.opt_int("removed_at")?.map(from_unix).transpose()?,
    })
}

impl Store {
    /// Adds a peer, or replaces a removed one's record; `false` if an active
    /// peer of that region exists.
    pub async fn add_peer(&self, p: &PeerRow, audit: &[AuditRecord]) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("INSERT INTO peers (region_code, name, address, anchor, ca_pem, status, added_at, removed_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, NULL) ON CONFLICT (region_code) DO UPDATE SET name = excluded.name, address = excluded.address, anchor = excluded.anchor, ca_pem = excluded.ca_pem, status = 'active', added_at = excluded.added_at, removed_at = NULL WHERE peers.status = 'removed'")
                .bind(&p.region_code)
                .bind(&p.name)
                .bind(&p.address)
                .bind(&p.anchor)
                .bind(&p.ca_pem)
                .bind(unix(p.added_at)), audit)
        });
        Ok(done == 1)
    }

    /// Marks an active peer removed; `false` if there was none.
    pub async fn remove_peer(
        &self,
        region: &str,
        at: time::OffsetDateTime,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let done = in_tx!(&self.db, tx => {
            execute_audited!(tx, sqlx::query("UPDATE peers SET status = 'removed', removed_at = $1 WHERE region_code = $2 AND status = 'active'")
                .bind(unix(at))
                .bind(region), audit)
        });
        Ok(done == 1)
    }

    /// Peers (removed ones too), by region.
    pub async fn peers(&self) -> Result<Vec<PeerRow>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT region_code, name, address, anchor, ca_pem, status, added_at, removed_at FROM peers ORDER BY region_code")
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }
}
