//! `tongban peer`: hubs of other regions (全域通办). Administrators of two
//! regions exchange cards once: `peer card` on one hub, `peer add` on the other.
//!
//! `peer card|add|list|import-trust|remove`: `list` shows each peer's trust
//! list (fresh or stale, fetched, valid until, the last failure and the
//! failures in a row); `import-trust` stores a list handed over out of band,
//! after the same checks as a fetched one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use tongban_service::{PeerCard, Service};
use tongban_store::PeerTrustRow;

use crate::Context;
use crate::output::{Coded, read_json};

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Print (or write) this hub's card for the administrator of another
    /// region's hub: region, name, address, anchor key, CA certificate.
    Card {
        /// Where peers reach this hub's QUIC endpoint (host:port).
        #[arg(long)]
        address: String,
        /// Write the card here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Trust another region's hub, from the card its administrator handed over.
    Add {
        /// The peer's card (JSON file from its `tongban peer card`).
        card: PathBuf,
    },
    /// List peer hubs (removed ones too), with the state of their trust
    /// lists: when last fetched, valid until, and the last failure.
    List,
    /// Store a peer's trust list handed over out of band (e.g. to an
    /// isolated network): checked against the peer's anchor like a fetched one.
    ImportTrust {
        /// The peer's region code.
        region: String,
        /// The trust list (JSON, as the peer hub serves it).
        file: PathBuf,
    },
    /// Stop trusting a peer hub.
    Remove {
        /// Its region code.
        region: String,
    },
}

pub async fn peer(ctx: &Context, cmd: PeerCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        PeerCommand::Card { address, out } => card(ctx, &hub, &address, out).await?,
        PeerCommand::Add { card } => {
            let parsed: PeerCard = serde_json::from_value(read_json(&card)?)
                .map_err(|e| Coded::new("PEER_CARD_INVALID", format!("{}: {e}", card.display())))?;
            let row = hub.peer_add(parsed).await?;
            if ctx.json {
                crate::output::print_json(&row)?;
            } else {
                println!(
                    "peer {} {} at {} (anchor {})",
                    row.region_code, row.name, row.address, row.anchor
                );
            }
        }
        PeerCommand::List => list(ctx, &hub).await?,
        PeerCommand::ImportTrust { region, file } => {
            let list = read_json(&file)?;
            let row = hub.peer_trust_accept(&region, &list).await?;
            if ctx.json {
                crate::output::print_json(&row)?;
            } else {
                println!(
                    "stored the trust list of region {} (sha256 {}), valid until {}",
                    row.region_code,
                    row.sha256.as_deref().unwrap_or("-"),
                    row.valid_until
                        .map(tongban_seal::timefmt::format_rfc3339)
                        .unwrap_or_default()
                );
            }
        }
        PeerCommand::Remove { region } => {
            let row = hub.peer_remove(&region).await?;
            if ctx.json {
                crate::output::print_json(&row)?;
            } else {
                println!("peer {} {} removed", row.region_code, row.name);
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `peer card`: this hub's card, printed or written to `out` for the
/// peer's administrator.
async fn card(
    ctx: &Context,
    hub: &Service,
    address: &str,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let card = hub.peer_card(address).await?;
    let Some(path) = out else {
        return crate::output::print_json(&card);
    };
    let text = serde_json::to_string_pretty(&card)?;
    std::fs::write(&path, text + "\n")
        .map_err(|e| Coded::new("WRITE_FAILED", format!("{}: {e}", path.display())))?;
    if ctx.json {
        crate::output::print_json(
            &serde_json::json!({"out": path, "region": card.region, "name": card.name}),
        )?;
    } else {
        eprintln!(
            "wrote the card of {} ({}) to {}; hand it to the peer's administrator",
            card.name,
            card.region,
            path.display()
        );
    }
    Ok(())
}

/// `peer list`: each peer with its trust list's state and its CA's CRL's.
async fn list(ctx: &Context, hub: &Service) -> anyhow::Result<()> {
    let rows = hub.peers().await?;
    let trusts = hub.peer_trust_states().await?;
    let trust_of = |region: &str| trusts.iter().find(|t| t.region_code == region);
    // Whether licences and requests may cross: the peer CA's CRL
    // stored and fresh ("fresh"), or why not (its code).
    let mut crls = HashMap::new();
    for p in rows.iter().filter(|p| p.status == "active") {
        let state = match hub.peer_crl_check(&p.region_code, None).await {
            Ok(()) => "fresh".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        crls.insert(p.region_code.clone(), state);
    }
    if ctx.json {
        let listed: Vec<serde_json::Value> = rows
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(p).unwrap_or_default();
                v["trust"] = serde_json::to_value(trust_of(&p.region_code)).unwrap_or_default();
                v["crl"] = serde_json::to_value(crls.get(&p.region_code)).unwrap_or_default();
                v
            })
            .collect();
        return crate::output::print_json(&listed);
    }
    let now = hub.now();
    for p in rows {
        println!(
            "{}  {:<8} {}  {}  anchor {}",
            p.region_code, p.status, p.name, p.address, p.anchor
        );
        if let Some(state) = crls.get(&p.region_code) {
            println!("    CRL of its CA: {state}");
        }
        print_trust_state(trust_of(&p.region_code), now);
    }
    Ok(())
}

/// A peer's trust list in `peer list`: fresh or stale, when fetched, and
/// the last failure.
fn print_trust_state(trust: Option<&PeerTrustRow>, now: time::OffsetDateTime) {
    let Some(t) = trust else {
        println!("    trust list: not fetched yet");
        return;
    };
    let fmt = |t: Option<time::OffsetDateTime>| {
        t.map(tongban_seal::timefmt::format_rfc3339)
            .unwrap_or_else(|| "-".into())
    };
    let state = match t.valid_until {
        Some(v) if v >= now => "fresh",
        Some(_) => "STALE",
        None => "none",
    };
    println!(
        "    trust list: {state}, fetched {}, valid until {}",
        fmt(t.fetched_at),
        fmt(t.valid_until)
    );
    if let Some(f) = &t.failure {
        println!(
            "    last attempt {} failed ({} in a row): {f}",
            fmt(Some(t.attempted_at)),
            t.failures
        );
    }
}
