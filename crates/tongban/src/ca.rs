//! `tongban ca …`: the hub's certificate authority.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use tongban_service::ca::{CertRequest, IssuedCert};
use tongban_service::keystore::write_owner_only;
use tongban_service::{Service, ServiceConfig, samples};

use crate::Context;
use crate::output::Coded;

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the region's root CA (once).
    Init {
        /// The CA's common name.
        #[arg(long, default_value = "Tongban Region Root CA")]
        name: String,
    },
    /// Issue a certificate: the hub's server certificate or a department's client certificate.
    #[command(subcommand)]
    Issue(IssueKind),
    /// Renew a certificate: new key, new certificate, same subject.
    Renew {
        /// Serial number (hex).
        serial: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Revoke a certificate; the next CRL lists it and the hub refuses it at the handshake.
    Revoke {
        /// Serial number (hex).
        serial: String,
        /// RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, affiliationChanged,
        /// privilegeWithdrawn or unspecified.
        #[arg(long)]
        reason: String,
    },
    /// Write the current CRL (PEM), valid for 7 days.
    Crl {
        /// Output file (stdout when omitted).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// List issued certificates.
    List,
    /// Regenerate the development PKI (a throw-away CA, a localhost server certificate,
    /// client certificates for the sample departments, a CRL). DANGER: development only.
    DevPki {
        /// Output directory.
        #[arg(long, short, default_value = "certs/dev")]
        out: PathBuf,
        /// Replace the files of an existing development PKI there.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IssueKind {
    /// The hub's server certificate.
    Server {
        /// DNS names (repeatable).
        #[arg(long)]
        dns: Vec<String>,
        /// IP addresses (repeatable).
        #[arg(long)]
        ip: Vec<IpAddr>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// A department's client certificate (its subject names the department code).
    Client {
        /// Department code.
        #[arg(long)]
        dept: String,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Debug, Args)]
pub struct OutArgs {
    /// Directory for cert.pem, key.pem (owner-only) and ca.pem.
    #[arg(long, short)]
    out: PathBuf,
    /// Validity in days (default 397, at most 825).
    #[arg(long)]
    days: Option<i64>,
}

pub async fn run(ctx: &Context, cmd: CaCommand) -> anyhow::Result<ExitCode> {
    if let CaCommand::DevPki { out, force } = &cmd {
        return dev_pki(ctx, out, *force).await;
    }
    let hub = ctx.open().await?;
    match cmd {
        CaCommand::Init { name } => {
            let ca = hub.ca_init(&name).await?;
            print_row(ctx, &ca, "created CA")?;
        }
        CaCommand::Issue(IssueKind::Server { dns, ip, out }) => {
            check_out(&out.out)?;
            let request = CertRequest::Server { dns, ips: ip };
            let issued = hub.ca_issue(request, out.days()).await?;
            written(ctx, &out, &issued, "issued server certificate")?;
        }
        CaCommand::Issue(IssueKind::Client { dept, out }) => {
            check_out(&out.out)?;
            let request = CertRequest::Client { department: dept };
            let issued = hub.ca_issue(request, out.days()).await?;
            written(ctx, &out, &issued, "issued client certificate")?;
        }
        CaCommand::Renew { serial, out } => {
            check_out(&out.out)?;
            let issued = hub.ca_renew(&serial, out.days()).await?;
            written(ctx, &out, &issued, "renewed")?;
        }
        CaCommand::Revoke { serial, reason } => {
            let row = hub.ca_revoke(&serial, &reason).await?;
            print_row(ctx, &row, "revoked")?;
        }
        CaCommand::Crl { out } => crl(ctx, &hub, out).await?,
        CaCommand::List => list(ctx, &hub).await?,
        CaCommand::DevPki { .. } => {}
    }
    hub.close().await;
    Ok(ExitCode::SUCCESS)
}

impl OutArgs {
    /// `--days`, as a validity.
    fn days(&self) -> Option<time::Duration> {
        self.days.map(time::Duration::days)
    }
}

/// An issued certificate written into `--out`, and said so.
fn written(ctx: &Context, out: &OutArgs, issued: &IssuedCert, what: &str) -> anyhow::Result<()> {
    write_issued(&out.out, issued)?;
    print_row(
        ctx,
        &issued.row,
        &format!("{what} into {}", out.out.display()),
    )
}

/// `ca crl`: the current CRL, printed or written to `out`.
async fn crl(ctx: &Context, hub: &Service, out: Option<PathBuf>) -> anyhow::Result<()> {
    let crl = hub.ca_crl().await?;
    match out {
        Some(path) => {
            std::fs::write(&path, crl)
                .map_err(|e| Coded::new("IO", format!("{}: {e}", path.display())))?;
            if ctx.json {
                crate::output::print_json(&json!({"out": path}))?;
            } else {
                println!("wrote {}", path.display());
            }
        }
        None if ctx.json => crate::output::print_json(&json!({"crl": crl}))?,
        None => print!("{crl}"),
    }
    Ok(())
}

/// `ca list`: every certificate the CA issued, revoked ones marked.
async fn list(ctx: &Context, hub: &Service) -> anyhow::Result<()> {
    let rows = hub.ca_list().await?;
    if ctx.json {
        return crate::output::print_json(&rows);
    }
    let mut table = crate::table::Table::new();
    for r in rows {
        table.row([
            r.serial,
            r.kind,
            r.subject,
            format!(
                "until {}{}",
                tongban_seal::timefmt::format_rfc3339(r.not_after),
                r.revoked_reason
                    .map(|x| format!("  REVOKED ({x})"))
                    .unwrap_or_default()
            ),
        ]);
    }
    table.print();
    Ok(())
}

fn print_row(ctx: &Context, row: &tongban_store::CertificateRow, what: &str) -> anyhow::Result<()> {
    if ctx.json {
        crate::output::print_json(
            &json!({"serial": row.serial, "kind": row.kind, "subject": row.subject, "notAfter": tongban_seal::timefmt::format_rfc3339(row.not_after), "revokedAt": row.revoked_at.map(tongban_seal::timefmt::format_rfc3339)}),
        )?;
    } else {
        println!(
            "{what}: {} {} (serial {}, until {})",
            row.kind,
            row.subject,
            row.serial,
            tongban_seal::timefmt::format_rfc3339(row.not_after)
        );
    }
    Ok(())
}

/// Refuses an output directory that already holds a key, before anything is issued.
fn check_out(dir: &Path) -> anyhow::Result<()> {
    let key = dir.join("key.pem");
    if key.exists() {
        return Err(Coded::new(
            "FILE_EXISTS",
            format!(
                "{} exists; choose another --out or move it away",
                key.display()
            ),
        )
        .into());
    }
    Ok(())
}

/// Writes cert.pem, key.pem (0600, never overwritten) and ca.pem.
fn write_issued(dir: &Path, issued: &IssuedCert) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", dir.display())))?;
    check_out(dir)?;
    write_owner_only(&dir.join("key.pem"), issued.key_pem.as_bytes())?;
    std::fs::write(dir.join("cert.pem"), &issued.row.pem)?;
    std::fs::write(dir.join("ca.pem"), &issued.ca_pem)?;
    Ok(())
}

/// A throw-away hub with the sample region, its CA and certificates, written out.
async fn dev_pki(ctx: &Context, out: &Path, force: bool) -> anyhow::Result<ExitCode> {
    if out.join("ca.pem").exists() {
        if !force {
            return Err(Coded::new(
                "FILE_EXISTS",
                format!(
                    "{} already holds a PKI; pass --force to regenerate it",
                    out.display()
                ),
            )
            .into());
        }
        for sub in ["hub", "clients"] {
            let p = out.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p)?;
            }
        }
        for f in ["ca.pem", "crl.pem"] {
            let _ = std::fs::remove_file(out.join(f));
        }
    }
    let temp = tempfile::tempdir()?;
    let hub = Service::open(&ServiceConfig::embedded(temp.path()))
        .await?
        .with_operator("dev-pki");
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
    let ca = hub
        .ca_init("Tongban Development Root CA (DANGER: development only)")
        .await?;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("ca.pem"), &ca.pem)?;
    let server = hub
        .ca_issue(
            CertRequest::Server {
                dns: vec!["localhost".into()],
                ips: vec![IpAddr::from([127, 0, 0, 1]), "::1".parse()?],
            },
            Some(time::Duration::days(825)),
        )
        .await?;
    write_issued(&out.join("hub"), &server)?;
    let mut clients = Vec::new();
    for d in samples::DEPARTMENTS {
        let issued = hub
            .ca_issue(CertRequest::client(d.code), Some(time::Duration::days(825)))
            .await?;
        write_issued(&out.join("clients").join(d.code), &issued)?;
        clients.push(json!({"department": d.code, "name": d.name, "serial": issued.row.serial}));
    }
    std::fs::write(out.join("crl.pem"), hub.ca_crl().await?)?;
    hub.close().await;
    if ctx.json {
        crate::output::print_json(
            &json!({"dir": out.display().to_string(), "ca": ca.serial, "server": server.row.serial, "clients": clients}),
        )?;
    } else {
        println!(
            "development PKI written to {} (DANGER: development only)",
            out.display()
        );
        println!(
            "  ca.pem, crl.pem, hub/{{cert,key,ca}}.pem (localhost, 127.0.0.1, ::1), clients/<code>/…  ({} departments)",
            clients.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
