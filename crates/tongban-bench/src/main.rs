//! `tongban-bench`: measures this machine, the hub's work against raw
//! Ed25519 (and the exchange against NATS JetStream) in one run, so that
//! the ratios mean something on a shared, noisy machine. Build with
//! `--release`. Apart from the product: the `tongban` binary carries none
//! of this, nor the NATS client.
#![forbid(unsafe_code)]

// `println!` and `eprintln!` of this crate, shadowing std's in every module
// below (textual macro scope): a reader that went away (`| head -1`) ends
// the process quietly instead of with a panic, as in `tongban`.
macro_rules! println {
    () => { $crate::output::print_stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::print_stdout(format_args!($($arg)*), true) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::output::print_stderr(format_args!($($arg)*), true) };
}

mod audit;
mod batch;
mod catalogue;
mod cluster;
mod exchange;
mod idle;
mod licences;
mod measure;
mod nats;
mod output;
mod progress;
mod regions;
mod supervision;
mod verify_http;

/// The hub measured here runs in this process: the same allocator as the
/// `tongban` binary's, or the figures would not be the hub's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Measure this machine: raw Ed25519 against licence verification and issuance.
#[derive(Debug, Parser)]
#[command(
    name = "tongban-bench",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// Print machine-readable JSON instead of text (camelCase members);
    /// errors too, usage errors included: {"error": {"code", "message"}}.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Licence issuance and verification against raw Ed25519.
    Licences(licences::LicenceBenchArgs),
    /// Batch signature verification against one by one, by batch size and
    /// torsion check: the break-even behind the minimum batch.
    Batch(batch::BatchBenchArgs),
    /// Audit log append and verification rates at scale (default 1,000,000 entries).
    Audit(audit::AuditBenchArgs),
    /// The exchange end to end: the hub against raw Ed25519 and NATS JetStream.
    Exchange(exchange::ExchangeBenchArgs),
    /// The exchange through `tongban serve` processes on one PostgreSQL:
    /// 1 node against 3 (throughput, accept p99, CPU per 1000 messages).
    Cluster(cluster::ClusterBenchArgs),
    /// The memory of a `tongban serve` node holding idle department
    /// connections (default 1,000), each listening.
    Idle(idle::IdleBenchArgs),
    /// Catalogue search latency (p50/p99) over 100,000 resources.
    Catalogue(catalogue::CatalogueBenchArgs),
    /// 全域通办: cross-region pull latency (p50/p99) and the rate of
    /// verifying another region's licences, against raw Ed25519.
    Regions(regions::RegionsBenchArgs),
    /// Online licence verification over HTTP (`POST /v1/verify`) against
    /// the same verification in process.
    VerifyHttp(verify_http::VerifyHttpBenchArgs),
    /// Electronic supervision: a small region's year (1,000,000 case
    /// events, 15,000 work orders) bulk-imported, then the year's reports
    /// timed cold and warm.
    Supervision(supervision::SupervisionBenchArgs),
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return output::usage_error(&e, output::wants_json(&args)),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TONGBAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = anyhow::Error::new(e).context("cannot start the async runtime");
            return output::print_error(&e, json);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::print_error(&e, json),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Licences(args) => licences::run(args, json).await,
        Command::Audit(args) => audit::run(args, json).await,
        Command::Batch(args) => batch::run(args, json).await,
        Command::Exchange(args) => exchange::run(args, json).await,
        Command::Catalogue(args) => catalogue::run(args, json).await,
        Command::Idle(args) => idle::run(args, json).await,
        Command::Regions(args) => regions::run(args, json).await,
        Command::VerifyHttp(args) => verify_http::run(args, json).await,
        Command::Supervision(args) => supervision::run(args, json).await,
        Command::Cluster(args) => cluster::run(args, json).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
