//! `tongban`: the command line of a region's hub.
#![forbid(unsafe_code)]

// `println!`, `print!`, `eprintln!` and `eprint!` of this crate, shadowing
// std's in every module below (textual macro scope). Std's panic when the
// stream is gone: Rust ignores SIGPIPE, so `tongban audit show | head -1`
// met a closed pipe as "failed printing to stdout: Broken pipe" and a
// backtrace. These end the process quietly instead (`output::print_stdout`),
// and with `--json` send text to standard error, leaving standard output
// to JSON alone; in code written later too, without anyone remembering to.
macro_rules! println {
    () => { $crate::output::print_stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::print_stdout(format_args!($($arg)*), true) };
}
macro_rules! print {
    ($($arg:tt)*) => { $crate::output::print_stdout(format_args!($($arg)*), false) };
}
macro_rules! eprintln {
    () => { $crate::output::print_stderr(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::print_stderr(format_args!($($arg)*), true) };
}
#[allow(unused_macros)] // none yet; defined so that the first one is covered too
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::output::print_stderr(format_args!($($arg)*), false) };
}

mod access;
mod audit;
mod blobs;
mod ca;
mod calendar;
mod cases;
mod catalogue;
mod demo;
mod doctor;
mod exchange;
mod help;
mod hotline;
mod http;
mod import;
mod licence;
mod notices;
mod notify;
mod output;
mod peer;
mod progress;
mod schema;
mod secrets;
mod setup;
mod supervise;
mod table;
mod token;

/// The hub's hot path allocates and frees many short-lived JSON values and
/// buffers across threads; mimalloc does that with far less contention and
/// fragmentation than the system allocator (see docs/NOTES.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tongban_service::{KekSource, Service, ServiceConfig};
use tongban_store::{BlobConfig, DatabaseConfig, Durability, S3Config, S3Credentials};

/// Tongban (通办): signed data exchange and electronic licences for government departments.
///
/// Start with `tongban demo` to watch the whole story on a throw-away hub, or
/// `tongban init` to set up a development hub with sample departments.
#[derive(Debug, Parser)]
#[command(
    name = "tongban",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = output::EXIT_STATUS_HELP
)]
struct Cli {
    /// Data directory of the hub (database, blobs, keys).
    #[arg(
        long,
        global = true,
        env = "TONGBAN_DATA_DIR",
        default_value = ".tongban"
    )]
    data_dir: PathBuf,

    /// Database: a SQLite file path (default: <data-dir>/tongban.db) or a postgres:// URL.
    #[arg(long, global = true, env = "TONGBAN_DATABASE")]
    database: Option<String>,

    /// Key-encryption keys (an owner-only file, `tongban kek new`): secrets
    /// are then sealed in the database for every node instead of kept as
    /// files in <data-dir>/keys. TONGBAN_KEK may give the file's text
    /// instead (e.g. from a container's secret).
    #[arg(long, global = true, env = "TONGBAN_KEK_FILE")]
    kek_file: Option<PathBuf>,

    /// Keep blobs (attachments, large payloads) in this S3-compatible
    /// bucket instead of <data-dir>/blobs; the bucket must exist. The
    /// access key comes from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
    /// (and AWS_SESSION_TOKEN for temporary credentials).
    #[arg(long, global = true, env = "TONGBAN_S3_BUCKET", value_name = "BUCKET")]
    s3_bucket: Option<String>,

    /// The S3-compatible server's URL, e.g. https://minio.example:9000
    /// (default: AWS's endpoint of --s3-region).
    #[arg(long, global = true, env = "TONGBAN_S3_ENDPOINT", value_name = "URL")]
    s3_endpoint: Option<String>,

    /// The bucket's region.
    #[arg(
        long,
        global = true,
        env = "TONGBAN_S3_REGION",
        default_value = "us-east-1",
        value_name = "REGION"
    )]
    s3_region: String,

    /// Accept a plain http:// S3 endpoint (a test server on the loopback);
    /// otherwise only https://.
    #[arg(
        long,
        global = true,
        env = "TONGBAN_S3_ALLOW_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    s3_allow_http: bool,

    /// Commit durability: `power` (fsync every commit, survives power loss) or
    /// `process` (survives a killed process, like a message broker's default).
    /// Default: `process` for `serve`, `power` for everything else.
    #[arg(long, global = true, env = "TONGBAN_DURABILITY", value_parser = ["power", "process"])]
    durability: Option<String>,

    /// Print machine-readable JSON instead of text (camelCase members);
    /// errors too, usage errors included: {"error": {"code", "message"}}.
    #[arg(long, global = true)]
    json: bool,

    /// Print only this member of the JSON output, a JSON pointer (RFC
    /// 6901) such as /identifier: a string bare, for `$(…)` in a shell,
    /// anything else as JSON. Implies --json.
    #[arg(long, global = true, value_name = "POINTER", value_parser = output::parse_pointer)]
    get: Option<String>,

    /// How log lines are written to standard error: `text` for people,
    /// `json` (one object a line) for log collectors.
    #[arg(
        long,
        global = true,
        env = "TONGBAN_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,

    /// Who is acting (recorded in the audit log for administrative actions).
    #[arg(long, global = true, env = "TONGBAN_OPERATOR", default_value = "admin")]
    operator: String,

    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a hub: data directory, embedded store, hub key, licence types, sample departments.
    Init(setup::InitArgs),
    /// Issue, verify, find and manage electronic licences (电子证照).
    #[command(subcommand, visible_alias = "licences")]
    Licence(licence::LicenceCommand),
    /// Departments of the region (部门).
    #[command(subcommand)]
    Dept(setup::DeptCommand),
    /// Signing keys of departments and of the hub.
    #[command(subcommand)]
    Key(setup::KeyCommand),
    /// Trust files for offline verifiers.
    #[command(subcommand)]
    Trust(setup::TrustCommand),
    /// The hub's certificate authority: root CA, server and department certificates, CRL.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// JSON Schemas of licence types and messages: publish, list, show, diff.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// The tamper-evident audit log: verify, checkpoint, export, show.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run the region's hub: the QUIC exchange for departments' systems.
    Serve(exchange::ServeArgs),
    /// Access to conditionally shared resources: apply, approve, reject, withdraw, list, check.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Hubs of other regions (全域通办): exchange cards once, then trust them.
    #[command(subcommand)]
    Peer(peer::PeerCommand),
    /// Key-encryption keys: make one (or the next, for a rotation), list a file's.
    #[command(subcommand)]
    Kek(secrets::KekCommand),
    /// Secrets sealed in the database for every node: status, import a
    /// node's key files, reseal after a KEK rotation.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// API tokens for the hub's HTTP side: create (with a role), list, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The working-day calendar (工作日历) time limits are counted over:
    /// load a year, list the years, compute a deadline.
    #[command(subcommand)]
    Calendar(calendar::CalendarCommand),
    /// Electronic supervision (电子监察): the report of a period's cases
    /// (按时办结率, elapsed against limits, 满意度, 零跑动), as a table,
    /// JSON, CSV or XLSX; the supervising office, the warning threshold,
    /// what was pushed, notices (督办) and their answers.
    #[command(subcommand)]
    Supervise(supervise::SuperviseCommand),
    /// 12345 work orders (工单): name the hotline office, take calls as
    /// orders, steps by the office and its units, show and list.
    #[command(subcommand)]
    Hotline(hotline::HotlineCommand),
    /// Service items (事项): the materials a case needs and the licences that satisfy them.
    #[command(subcommand)]
    Item(cases::ItemCommand),
    /// Cases (办件): pull an applicant's licences instead of paper; issue the result.
    #[command(subcommand)]
    Case(cases::CaseCommand),
    /// The resource catalogue: publish, update, retire, show, list, search (in Chinese).
    #[command(subcommand)]
    Catalogue(catalogue::CatalogueCommand),
    /// (Department side) send a message to a department or publish it on a topic;
    /// a payload over 512 KiB is uploaded first and sent by reference.
    Send(exchange::SendArgs),
    /// (Department side) ask a resource's provider and print its signed answer.
    Request(exchange::RequestArgs),
    /// (Department side) receive messages and requests, acknowledging them; a
    /// payload sent by reference is downloaded and printed as `payload`.
    Listen(exchange::ListenArgs),
    /// (Department side) download a payload sent by reference (`payloadRef`).
    Download(exchange::DownloadArgs),
    /// (Department side) read a resource's records (what its provider
    /// published), a page at a time, as the catalogue's access rule allows.
    Records(exchange::RecordsArgs),
    /// Exchange statistics: records exchanged, requests served and refusals,
    /// per resource and per department.
    Stats(exchange::StatsArgs),
    /// Blobs: copy every blob between the local blob directory and the S3
    /// bucket (moving a hub to S3, backing the object store up).
    #[command(subcommand)]
    Blobs(blobs::BlobsCommand),
    /// Check the store: the database's own check of every page, then every
    /// recorded blob (present, size, SHA-256); exits 3 naming each problem.
    Doctor(doctor::DoctorArgs),
    /// Walk through the whole story on a throw-away hub, printing what happens.
    Demo(demo::DemoArgs),
    /// The benchmarks moved to their own binary, `tongban-bench`: this
    /// says so (USAGE, exit 2) instead of clap's "unrecognized subcommand".
    #[command(hide = true)]
    Bench(BenchMovedArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(help::CompletionsArgs),
    /// Write manual pages (roff) for tongban and every subcommand.
    Man(help::ManArgs),
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, wants_json(&args)),
    };
    cli.json |= cli.get.is_some();
    output::configure(cli.json, cli.get.clone());
    let default_log = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TONGBAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        // One JSON object a line, for log collectors: time, level, target,
        // the event's fields and its spans.
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = anyhow::Error::new(e).context("cannot start the async runtime");
            return output::print_error(&e, json).into();
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => output::print_error(&e, json).into(),
    }
}

/// Whether a command line that clap refused asked for JSON: `--json` or
/// `--get` anywhere before a `--` that ends the options.
fn wants_json(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy())
        .take_while(|a| a != "--")
        .any(|a| a == "--json" || a == "--get" || a.starts_with("--get="))
}

/// A command line clap refused, or `--help` / `--version`: clap's text,
/// or with `--json` the error as JSON; exits 2 ([`output::Exit::Usage`])
/// for an error.
fn usage_error(e: &clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) || !json {
        let _ = e.print();
        return if e.use_stderr() {
            output::Exit::Usage.into()
        } else {
            output::Exit::Done.into()
        };
    }
    let e = anyhow::Error::new(output::Coded::usage("USAGE", usage_message(e)));
    output::print_error(&e, true).into()
}

/// clap's message in one paragraph: without its `error: ` prefix, its
/// usage line kept, its "try --help" tip left out.
fn usage_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let usage = text
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .unwrap_or("Usage: tongban --help");
        return format!("a subcommand is required; {usage}");
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let s3 = s3_config(&cli)?;
    let ctx = Context {
        data_dir: cli.data_dir.clone(),
        database: cli.database.clone(),
        s3,
        durability: match cli.durability.as_deref() {
            Some("process") => Durability::ProcessCrash,
            Some(_) => Durability::PowerLoss,
            None if matches!(cli.command, Command::Serve(_)) => Durability::ProcessCrash,
            None => Durability::PowerLoss,
        },
        json: cli.json,
        operator: cli.operator.clone(),
        kek: kek_source(cli.kek_file.clone())
            .map_err(|m| output::Coded::usage("KEK_INVALID", m))?,
    };
    match cli.command {
        Command::Init(args) => setup::init(&ctx, args).await,
        Command::Licence(cmd) => licence::run(&ctx, cmd).await,
        Command::Dept(cmd) => setup::dept(&ctx, cmd).await,
        Command::Key(cmd) => setup::key(&ctx, cmd).await,
        Command::Trust(cmd) => setup::trust(&ctx, cmd).await,
        Command::Audit(cmd) => audit::run(&ctx, cmd).await,
        Command::Schema(cmd) => schema::run(&ctx, cmd).await,
        Command::Ca(cmd) => ca::run(&ctx, cmd).await,
        Command::Serve(args) => exchange::serve(&ctx, args).await,
        Command::Catalogue(cmd) => catalogue::run(&ctx, cmd).await,
        Command::Access(cmd) => access::run(&ctx, cmd).await,
        Command::Send(args) => exchange::send(&ctx, args).await,
        Command::Request(args) => exchange::request(&ctx, args).await,
        Command::Listen(args) => exchange::listen(&ctx, args).await,
        Command::Download(args) => exchange::download(&ctx, args).await,
        Command::Records(args) => exchange::records(&ctx, args).await,
        Command::Item(cmd) => cases::item(&ctx, cmd).await,
        Command::Peer(cmd) => peer::peer(&ctx, cmd).await,
        Command::Token(cmd) => token::run(&ctx, cmd).await,
        Command::Kek(cmd) => secrets::run_kek(&ctx, cmd),
        Command::Secrets(cmd) => secrets::run_secrets(&ctx, cmd).await,
        Command::Calendar(cmd) => calendar::run(&ctx, cmd).await,
        Command::Supervise(cmd) => supervise::run(&ctx, cmd).await,
        Command::Hotline(cmd) => hotline::run(&ctx, cmd).await,
        Command::Case(cmd) => cases::case(&ctx, cmd).await,
        Command::Stats(args) => exchange::stats(&ctx, args).await,
        Command::Blobs(cmd) => blobs::run(&ctx, cmd).await,
        Command::Doctor(args) => doctor::run(&ctx, args).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Bench(_) => Err(output::Coded::usage(
            "USAGE",
            "the benchmarks are a binary of their own: run `tongban-bench` (built by `cargo build --release`) with the same subcommands and options",
        )
        .into()),
        Command::Completions(args) => help::completions(&ctx, args),
        Command::Man(args) => help::man(&ctx, args),
    }
}

/// The S3 bucket the global options name, with the access key from the
/// standard AWS variables; `None` without `--s3-bucket`.
/// `S3_CREDENTIALS_MISSING` when the bucket is named but the key is not.
fn s3_config(cli: &Cli) -> anyhow::Result<Option<S3Config>> {
    let Some(bucket) = cli.s3_bucket.clone().filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(access_key_id), Some(secret_access_key)) =
        (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    else {
        return Err(output::Coded::usage(
            "S3_CREDENTIALS_MISSING",
            format!(
                "S3 bucket {bucket} is named, but no access key: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ),
        )
        .into());
    };
    Ok(Some(S3Config {
        bucket,
        endpoint: cli.s3_endpoint.clone().filter(|e| !e.is_empty()),
        region: cli.s3_region.clone(),
        credentials: S3Credentials {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN"),
        },
        allow_http: cli.s3_allow_http,
    }))
}

/// `tongban bench …`: whatever follows, taken and refused.
#[derive(Debug, clap::Args)]
struct BenchMovedArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _rest: Vec<std::ffi::OsString>,
}

/// Global options every command sees.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub data_dir: PathBuf,
    pub database: Option<String>,
    /// The bucket of `--s3-bucket`: blobs live there, not in `<data-dir>/blobs`.
    pub s3: Option<S3Config>,
    pub durability: Durability,
    pub json: bool,
    pub operator: String,
    /// Key-encryption keys (`--kek-file`, `TONGBAN_KEK`).
    pub kek: Option<KekSource>,
}

/// The KEK source named by `--kek-file` (`TONGBAN_KEK_FILE`) or
/// `TONGBAN_KEK`, which read the same keys and may not both be set.
fn kek_source(file: Option<PathBuf>) -> Result<Option<KekSource>, String> {
    let text = std::env::var("TONGBAN_KEK")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(|t| KekSource::Text(std::sync::Arc::new(zeroize::Zeroizing::new(t))));
    match (file, text) {
        (Some(_), Some(_)) => {
            Err("set TONGBAN_KEK_FILE (--kek-file) or TONGBAN_KEK, not both".into())
        }
        (Some(f), None) => Ok(Some(KekSource::File(f))),
        (None, text) => Ok(text),
    }
}

impl Context {
    pub fn hub_config(&self) -> ServiceConfig {
        let mut config = ServiceConfig::embedded(&self.data_dir);
        if let Some(db) = &self.database {
            config.store.database = DatabaseConfig::parse(db);
        }
        config.store.blobs = self.blob_config();
        config.store.durability = self.durability;
        config.kek = self.kek.clone();
        config
    }

    /// Where the hub's blobs are: the bucket of `--s3-bucket`, else
    /// `<data-dir>/blobs`.
    pub fn blob_config(&self) -> BlobConfig {
        match &self.s3 {
            Some(s3) => BlobConfig::S3(s3.clone()),
            None => BlobConfig::Local(self.data_dir.join("blobs")),
        }
    }

    /// Opens an existing hub; a clear error if `init` was never run.
    pub async fn open(&self) -> anyhow::Result<Service> {
        self.require_initialised()?;
        let hub = Service::open(&self.hub_config())
            .await?
            .with_operator(&self.operator);
        // A database named with --database exists before `init`: whether
        // it holds a hub is known once it is open.
        if self.database.is_some() && hub.store().setting("region").await?.is_none() {
            hub.close().await;
            return Err(output::Coded::new(
                "HUB_NOT_INITIALISED",
                "no hub in the database given with --database: run `tongban init` first",
            )
            .into());
        }
        Ok(hub)
    }

    /// `HUB_NOT_INITIALISED` when the embedded database does not exist.
    pub fn require_initialised(&self) -> anyhow::Result<()> {
        if self.database.is_none() && !self.data_dir.join("tongban.db").exists() {
            return Err(output::Coded::new(
                "HUB_NOT_INITIALISED",
                format!(
                    "no hub in {}: run `tongban init` first (or pass --data-dir)",
                    self.data_dir.display()
                ),
            )
            .into());
        }
        Ok(())
    }
}

/// The command line's definition, for completions and manual pages.
pub(crate) fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
