//! Hubs of other regions this hub trusts.
//!
//! Each peer's region, name, address, anchor key and CA certificate (migration
//! 0011), added from the card its administrator handed over and marked removed
//! rather than deleted. Each peer's last verified trust list (`peer_trust`,
//! migration 0012): the list as canonical JSON with its SHA-256, when it was
//! fetched and its `validUntil`, and the state of refreshes (last attempt, last
//! failure as `CODE: message`, failures in a row). `put_peer_trust` stores a
//! list the service has verified and clears the failure, appending its audit
//! entry only when the content changed; `peer_trust_failed` records a failed
//! attempt and leaves the stored list as it is; `peer_trust_sha256` is the
//! cheap read a node's cache compares against. Keeping the list in the database
//! lets every node of a hub verify a peer's licences with the same list, and a
//! restart keeps it.
//!
//! `remember_peer_envelope` (migration 0014) is the replay guard of peers'
//! envelopes and of the departments' requests they carry: one insert that
//! conflicts if any node saw the `(sender, id)` before, in the transaction that
//! forgets rows whose time is up. A peer's shared catalogue is kept in
//! `peer_resources` (migration 0013), its CA's CRL in `peer_crls` (migration
//! 0016) with that CA's SHA-256, so that it is used with no other CA.

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

/// A peer's stored trust list and the state of its refreshes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerTrustRow {
    /// The peer's region code.
    pub region_code: String,
    /// The last list that verified (canonical JSON), if any.
    #[serde(skip)]
    pub trust_file: Option<String>,
    /// Its SHA-256 (hex).
    pub sha256: Option<String>,
    /// When it was fetched.
    #[serde(with = "time::serde::rfc3339::option")]
    pub fetched_at: Option<time::OffsetDateTime>,
    /// Its `validUntil`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<time::OffsetDateTime>,
    /// The last refresh attempt.
    #[serde(with = "time::serde::rfc3339")]
    pub attempted_at: time::OffsetDateTime,
    /// Why the last attempt failed (`CODE: message`), if it did.
    pub failure: Option<String>,
    /// Failed attempts since the last success.
    pub failures: i64,
}

fn trust_from_row(r: &impl RowExt) -> Result<PeerTrustRow> {
    Ok(PeerTrustRow {
        region_code: r.text("region_code")?,
        trust_file: r.opt_text("trust_file")?,
        sha256: r.opt_text("sha256")?,
        fetched_at: r.opt_int("fetched_at")?.map(from_unix).transpose()?,
        valid_until: r.opt_int("valid_until")?.map(from_unix).transpose()?,
        attempted_at: from_unix(r.int("attempted_at")?)?,
        failure: r.opt_text("failure")?,
        failures: r.int("failures")?,
    })
}

impl Store {
    /// Stores a peer's verified trust list; `true` when its content changed
    /// (the audit entries are appended only then).
    pub async fn put_peer_trust(
        &self,
        region: &str,
        trust_file: &str,
        valid_until: time::OffsetDateTime,
        at: time::OffsetDateTime,
        audit: &[AuditRecord],
    ) -> Result<bool> {
        let sha = crate::sha256_hex(trust_file.as_bytes());
        let changed = in_tx!(&self.db, tx => {
            let before: Option<Option<String>> = sqlx::query_scalar("SELECT sha256 FROM peer_trust WHERE region_code = $1")
                .bind(region)
                .fetch_optional(&mut *tx)
                .await?;
            let changed = before.flatten().as_deref() != Some(sha.as_str());
            sqlx::query("INSERT INTO peer_trust (region_code, trust_file, sha256, fetched_at, valid_until, attempted_at, failure, failures) VALUES ($1, $2, $3, $4, $5, $4, NULL, 0) ON CONFLICT (region_code) DO UPDATE SET trust_file = excluded.trust_file, sha256 = excluded.sha256, fetched_at = excluded.fetched_at, valid_until = excluded.valid_until, attempted_at = excluded.attempted_at, failure = NULL, failures = 0")
                .bind(region)
                .bind(trust_file)
                .bind(&sha)
                .bind(unix(at))
                .bind(unix(valid_until))
                .execute(&mut *tx)
                .await?;
            if changed {
                append_audit!(tx, audit);
            }
            changed
        });
        Ok(changed)
    }

    /// Records a failed refresh of a peer's trust list (the stored list stays).
    pub async fn peer_trust_failed(
        &self,
        region: &str,
        failure: &str,
        at: time::OffsetDateTime,
    ) -> Result<()> {
        in_tx!(&self.db, tx => {
            sqlx::query("INSERT INTO peer_trust (region_code, attempted_at, failure, failures) VALUES ($1, $2, $3, 1) ON CONFLICT (region_code) DO UPDATE SET attempted_at = excluded.attempted_at, failure = excluded.failure, failures = peer_trust.failures + 1")
                .bind(region)
                .bind(unix(at))
                .bind(failure)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Remembers an envelope received from a peer hub, or a department's
    /// request one carried, until `expires_at`: false if its `(sender, id)`
    /// is remembered already (a replay), on this node or any other.
    pub async fn remember_peer_envelope(
        &self,
        sender: &str,
        id: &str,
        expires_at: time::OffsetDateTime,
    ) -> Result<bool> {
        let fresh = in_tx!(&self.db, tx => {
            sqlx::query("INSERT INTO peer_envelopes_seen (sender, id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (sender, id) DO NOTHING")
                .bind(sender)
                .bind(id)
                .bind(unix(expires_at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        });
        Ok(fresh)
    }

    /// Forgets the peer envelopes whose time is up by `now`; returns how many.
    pub async fn forget_peer_envelopes(&self, now: time::OffsetDateTime) -> Result<u64> {
        let gone = in_tx!(&self.db, tx => {
            sqlx::query("DELETE FROM peer_envelopes_seen WHERE expires_at < $1")
                .bind(unix(now))
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(gone)
    }

    /// Stores a peer's CRL, served by its hub, for the CA whose certificate
    /// has SHA-256 `ca_sha256`. Returns whether it changed.
    pub async fn put_peer_crl(
        &self,
        region: &str,
        ca_sha256: &str,
        crl_pem: &str,
        at: time::OffsetDateTime,
    ) -> Result<bool> {
        let changed = in_tx!(&self.db, tx => {
            sqlx::query("INSERT INTO peer_crls (region_code, ca_sha256, crl_pem, fetched_at) VALUES ($1, $2, $3, $4) ON CONFLICT (region_code) DO UPDATE SET ca_sha256 = excluded.ca_sha256, crl_pem = excluded.crl_pem, fetched_at = excluded.fetched_at WHERE peer_crls.ca_sha256 <> excluded.ca_sha256 OR peer_crls.crl_pem <> excluded.crl_pem")
                .bind(region)
                .bind(ca_sha256)
                .bind(crl_pem)
                .bind(unix(at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        });
        Ok(changed)
    }

    /// Every stored peer CRL: (region, SHA-256 of its CA certificate, PEM).
    pub async fn peer_crls(&self) -> Result<Vec<(String, String, String)>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT region_code, ca_sha256, crl_pem FROM peer_crls ORDER BY region_code")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.text("region_code")?, r.text("ca_sha256")?, r.text("crl_pem")?)))
                .collect()
        })
    }

    /// A peer's trust list state, if a refresh was ever attempted.
    pub async fn peer_trust(&self, region: &str) -> Result<Option<PeerTrustRow>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT region_code, trust_file, sha256, fetched_at, valid_until, attempted_at, failure, failures FROM peer_trust WHERE region_code = $1")
                .bind(region)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(trust_from_row)
                .transpose()
        })
    }

    /// The SHA-256 of a peer's stored list (cheap: for caches to notice a change).
    pub async fn peer_trust_sha256(&self, region: &str) -> Result<Option<String>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, Option<String>>("SELECT sha256 FROM peer_trust WHERE region_code = $1")
                .bind(region)
                .fetch_optional(pool)
                .await?
                .flatten())
        })
    }

    /// Every peer's trust list state, by region.
    pub async fn peer_trusts(&self) -> Result<Vec<PeerTrustRow>> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT region_code, trust_file, sha256, fetched_at, valid_until, attempted_at, failure, failures FROM peer_trust ORDER BY region_code")
                .fetch_all(pool)
                .await?
                .iter()
                .map(trust_from_row)
                .collect()
        })
    }
}

impl Store {
    /// Replaces what is stored of a peer's catalogue (`(id, JSON)` each),
    /// in one transaction; `true` when it changed.
    pub async fn replace_peer_resources(
        &self,
        region: &str,
        resources: &[(String, String)],
        at: time::OffsetDateTime,
    ) -> Result<bool> {
        let changed = in_tx!(&self.db, tx => {
            let mut before: Vec<(String, String)> = sqlx::query_as("SELECT id, resource FROM peer_resources WHERE region_code = $1")
                .bind(region)
                .fetch_all(&mut *tx)
                .await?;
            // Compared in one order whatever the database's collation.
            before.sort();
            let mut after: Vec<(String, String)> = resources.to_vec();
            after.sort();
            if before == after {
                sqlx::query("UPDATE peer_resources SET fetched_at = $1 WHERE region_code = $2")
                    .bind(unix(at))
                    .bind(region)
                    .execute(&mut *tx)
                    .await?;
                false
            } else {
                sqlx::query("DELETE FROM peer_resources WHERE region_code = $1")
                    .bind(region)
                    .execute(&mut *tx)
                    .await?;
                for (id, resource) in &after {
                    sqlx::query("INSERT INTO peer_resources (region_code, id, resource, fetched_at) VALUES ($1, $2, $3, $4)")
                        .bind(region)
                        .bind(id)
                        .bind(resource)
                        .bind(unix(at))
                        .execute(&mut *tx)
                        .await?;
                }
                true
            }
        });
        Ok(changed)
    }

    /// Forgets what was stored of a peer's catalogue (the peer was removed).
    pub async fn forget_peer_resources(&self, region: &str) -> Result<()> {
        in_tx!(&self.db, tx => {
            sqlx::query("DELETE FROM peer_resources WHERE region_code = $1")
                .bind(region)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Stored peer resources (`(region, JSON)`), of one region or all, by region and id.
    pub async fn peer_resources(&self, region: Option<&str>) -> Result<Vec<(String, String)>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_as::<_, (String, String)>("SELECT region_code, resource FROM peer_resources WHERE ($1 IS NULL OR region_code = $1) ORDER BY region_code, id")
                .bind(region)
                .fetch_all(pool)
                .await?)
        })
    }

    /// One stored peer resource (JSON).
    pub async fn peer_resource(&self, region: &str, id: &str) -> Result<Option<String>> {
        on_db!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>("SELECT resource FROM peer_resources WHERE region_code = $1 AND id = $2")
                .bind(region)
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }
}
