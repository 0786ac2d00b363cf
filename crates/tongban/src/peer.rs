//! `tongban peer`: hubs of other regions (全域通办). Administrators of two
//! regions exchange cards once: `peer card` on one hub, `peer add` on the other.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use tongban_service::PeerCard;

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
    /// List peer hubs (removed ones too).
    List,
    /// Stop trusting a peer hub.
    Remove {
        /// Its region code.
        region: String,
    },
}

pub async fn peer(ctx: &Context, cmd: PeerCommand) -> anyhow::Result<ExitCode> {
    let hub = ctx.open().await?;
    match cmd {
        PeerCommand::Card { address, out } => {
            let card = hub.peer_card(&address).await?;
            let text = serde_json::to_string_pretty(&card)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text + "\n").map_err(|e| {
                        Coded::new("WRITE_FAILED", format!("{}: {e}", path.display()))
                    })?;
                    eprintln!(
                        "wrote the card of {} ({}) to {}; hand it to the peer's administrator",
                        card.name,
                        card.region,
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
        }
        PeerCommand::Add { card } => {
            let parsed: PeerCard = serde_json::from_value(read_json(&card)?)
                .map_err(|e| Coded::new("PEER_CARD_INVALID", format!("{}: {e}", card.display())))?;
            let row = hub.peer_add(parsed).await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&row)?);
            } else {
                println!(
                    "peer {} {} at {} (anchor {})",
                    row.region_code, row.name, row.address, row.anchor
                );
            }
        }
        PeerCommand::List => {
            let rows = hub.peers().await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for p in rows {
                    println!(
                        "{}  {:<8} {}  {}  anchor {}",
                        p.region_code, p.status, p.name, p.address, p.anchor
                    );
                }
            }
        }
        PeerCommand::Remove { region } => {
            let row = hub.peer_remove(&region).await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&row)?);
            } else {
                println!("peer {} {} removed", row.region_code, row.name);
            }
        }
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}
