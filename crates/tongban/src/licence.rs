//! `tongban licence …`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tongban_licence::{StatusPurpose, Trust, VerifyOptions};
use tongban_seal::{KeyRecord, PublicKey, Validity};
use tongban_service::{AttachmentInput, Found, IssueInput, Query, Service};

use crate::Context;
use crate::output::{Coded, Exit, print_json, print_verification, read_json, write_json};

#[derive(Debug, Subcommand)]
pub enum LicenceCommand {
    /// Issue a licence from a request file (see `schemas/README.md` for the subject data).
    ///
    /// The request file: {"type": "<证照类型代码>", "holder": {"name", "codeType": "001|111",
    /// "code"}, "data": {…}, "validFrom"?, "validUntil"?, "serviceItem"?: {"code", "name"}}
    Issue {
        /// Issuing department's code (USCC).
        #[arg(long)]
        issuer: String,
        /// Issue request (JSON).
        #[arg(long)]
        request: PathBuf,
        /// Attachment (PDF/OFD rendering) bound into the licence by digest.
        #[arg(long)]
        attachment: Option<PathBuf>,
        /// Media type of the attachment (guessed from the extension when omitted).
        #[arg(long)]
        media_type: Option<String>,
        /// Also write the signed licence to this file.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Verify a licence file: online against this hub, or offline with a
    /// trust file. Exits 3 when it is not valid.
    Verify(VerifyArgs),
    /// Show one licence by identifier (leaves a licence-use record).
    Show {
        /// Licence identifier (证照标识).
        identifier: String,
        #[command(flatten)]
        query: QueryArgs,
        /// Print the full credential.
        #[arg(long)]
        full: bool,
    },
    /// Find a holder's licences (leaves a licence-use record).
    Find {
        /// Holder code: citizen ID or USCC.
        #[arg(long)]
        holder: String,
        /// Holder code type: 111 (citizen ID) or 001 (USCC).
        #[arg(long, default_value = "001")]
        holder_type: String,
        /// Only licences of this type code.
        #[arg(long = "type")]
        type_code: Option<String>,
        /// Accept a USCC that fails its checksum (some legally issued early codes do).
        #[arg(long)]
        allow_legacy_code: bool,
        #[command(flatten)]
        query: QueryArgs,
    },
    /// Revoke (注销) a licence: final.
    Revoke(StatusArgs),
    /// Suspend (中止) a licence until reinstated.
    Suspend(StatusArgs),
    /// Reinstate a suspended licence.
    Reinstate(StatusArgs),
    /// Write what an offline verifier needs: licence, attachment, trust file, anchor.
    Export {
        /// Licence identifier.
        identifier: String,
        /// Output directory.
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        query: QueryArgs,
    },
    /// Licence-use records (用证记录): of one licence, or the most recent.
    Uses {
        /// Licence identifier; all recent uses when omitted.
        identifier: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Write an issuer's signed status list (W3C Bitstring Status List).
    StatusList {
        /// Issuer code.
        #[arg(long)]
        issuer: String,
        /// revocation or suspension.
        #[arg(long, default_value = "revocation", value_parser = ["revocation", "suspension"])]
        purpose: String,
        /// List sequence.
        #[arg(long, default_value_t = 0)]
        sequence: u32,
        /// Output file (stdout when omitted).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

/// Who asks and why: every query states a purpose (申请事由).
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Who asks: a department code or operator name.
    #[arg(long, env = "TONGBAN_REQUESTER")]
    requester: String,
    /// Stated purpose (申请事由), e.g. "办理食品经营许可，核验营业执照".
    #[arg(long)]
    use_cause: String,
    /// The case (办件) this query serves.
    #[arg(long = "case")]
    case_ref: Option<String>,
}

impl QueryArgs {
    fn query(&self) -> Query {
        Query {
            requester: self.requester.clone(),
            use_cause: self.use_cause.clone(),
            case_ref: self.case_ref.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Licence identifier.
    identifier: String,
    /// Why (recorded).
    #[arg(long)]
    reason: String,
    /// Who does it.
    #[arg(long, env = "TONGBAN_ACTOR", default_value = "admin")]
    actor: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The licence file (JSON).
    file: PathBuf,
    /// Verify offline against this hub-signed trust file.
    #[arg(long, requires = "anchor")]
    trust: Option<PathBuf>,
    /// The hub's anchor key (Multikey) the trust file must be signed with.
    #[arg(long)]
    anchor: Option<String>,
    /// Verify offline against one published key, `{issuer}#{multikey}` (no status lists, no types).
    #[arg(long, conflicts_with = "trust")]
    key: Option<String>,
    /// The attachment file, to check its digest offline.
    #[arg(long)]
    attachment: Option<PathBuf>,
    /// Verify as of this instant (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<String>,
}

pub async fn run(ctx: &Context, cmd: LicenceCommand) -> anyhow::Result<ExitCode> {
    if let LicenceCommand::Verify(args) = &cmd {
        if args.trust.is_some() || args.key.is_some() {
            return verify_offline(ctx, args);
        }
    }
    let hub = ctx.open().await?;
    let code = match cmd {
        LicenceCommand::Issue {
            issuer,
            request,
            attachment,
            media_type,
            out,
        } => issue(ctx, &hub, &issuer, &request, attachment, media_type, out).await?,
        LicenceCommand::Verify(args) => verify_online(ctx, &hub, &args.file).await?,
        LicenceCommand::Show {
            identifier,
            query,
            full,
        } => show(ctx, &hub, &identifier, &query.query(), full).await?,
        LicenceCommand::Find {
            holder,
            holder_type,
            type_code,
            allow_legacy_code,
            query,
        } => {
            let query = query.query();
            let holder = (holder_type.as_str(), holder.as_str());
            find(
                ctx,
                &hub,
                holder,
                type_code.as_deref(),
                allow_legacy_code,
                &query,
            )
            .await?
        }
        LicenceCommand::Revoke(a) => status_change(
            &hub,
            ctx,
            "revoked",
            hub.revoke(&a.identifier, &a.actor, &a.reason).await,
            &a.identifier,
        )?,
        LicenceCommand::Suspend(a) => status_change(
            &hub,
            ctx,
            "suspended",
            hub.suspend(&a.identifier, &a.actor, &a.reason).await,
            &a.identifier,
        )?,
        LicenceCommand::Reinstate(a) => status_change(
            &hub,
            ctx,
            "reinstated",
            hub.reinstate(&a.identifier, &a.actor, &a.reason).await,
            &a.identifier,
        )?,
        LicenceCommand::Export {
            identifier,
            out,
            query,
        } => export(ctx, &hub, &identifier, &out, &query.query()).await?,
        LicenceCommand::Uses { identifier, limit } => uses(ctx, &hub, identifier, limit).await?,
        LicenceCommand::StatusList {
            issuer,
            purpose,
            sequence,
            out,
        } => status_list(ctx, &hub, &issuer, &purpose, sequence, out).await?,
    };
    hub.close().await;
    Ok(code)
}

/// `licence verify` without a trust file: the hub verifies, with its
/// current trust and status; exits 3 when the licence is not valid.
async fn verify_online(ctx: &Context, hub: &Service, file: &Path) -> anyhow::Result<ExitCode> {
    let credential = read_json(file)?;
    let v = hub.verify_online(credential).await?;
    print_verification(&v, ctx.json)?;
    Ok(Exit::checked(v.valid))
}

/// `licence show`: one licence (recorded as a query with its cause).
async fn show(
    ctx: &Context,
    hub: &Service,
    identifier: &str,
    query: &Query,
    full: bool,
) -> anyhow::Result<ExitCode> {
    let found = hub.show(identifier, query).await?;
    print_found(&[found], ctx.json, full)?;
    Ok(ExitCode::SUCCESS)
}

/// `licence find`: a holder's licences (recorded as a query with its cause).
async fn find(
    ctx: &Context,
    hub: &Service,
    (holder_type, holder): (&str, &str),
    type_code: Option<&str>,
    allow_legacy_code: bool,
    query: &Query,
) -> anyhow::Result<ExitCode> {
    let found = hub
        .find_by_holder(holder_type, holder, type_code, allow_legacy_code, query)
        .await?;
    if found.is_empty() && !ctx.json {
        println!("no licences for {holder_type}:{holder} (the query was recorded)");
    }
    print_found(&found, ctx.json, false)?;
    Ok(ExitCode::SUCCESS)
}

/// `licence status-list`: an issuer's status list credential, printed or
/// written to `out`.
async fn status_list(
    ctx: &Context,
    hub: &Service,
    issuer: &str,
    purpose: &str,
    sequence: u32,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let purpose = StatusPurpose::parse(purpose).unwrap_or(StatusPurpose::Revocation);
    let list = hub
        .status_list_credential(issuer, purpose, sequence)
        .await?;
    match out {
        Some(path) => {
            write_json(&path, &list)?;
            if ctx.json {
                print_json(&json!({"out": path}))?;
            }
        }
        None => print_json(&list)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `licence issue`: the request (and an attachment) read, the licence
/// issued, written to `out` and printed.
async fn issue(
    ctx: &Context,
    hub: &Service,
    issuer: &str,
    request: &Path,
    attachment: Option<PathBuf>,
    media_type: Option<String>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let doc = read_json(request)?;
    let mut input = IssueInput::from_json(&doc)?;
    if let Some(path) = attachment {
        let bytes = std::fs::read(&path)
            .map_err(|e| Coded::new("IO", format!("{}: {e}", path.display())))?;
        let media_type = media_type.unwrap_or_else(|| guess_media_type(&path).to_owned());
        input.attachment = Some(AttachmentInput { bytes, media_type });
    }
    let issued = hub.issue(issuer, input).await?;
    if let Some(out) = out {
        write_json(&out, &issued.credential)?;
    }
    if ctx.json {
        print_json(&issued.credential)?;
    } else {
        println!(
            "issued {}  {}  number {}",
            issued.identifier,
            issued.credential["name"].as_str().unwrap_or(""),
            issued.number
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `licence export`: the licence, the trust file, the anchor and the
/// attachment written to `out`, with the command that verifies them offline.
async fn export(
    ctx: &Context,
    hub: &Service,
    identifier: &str,
    out: &Path,
    query: &Query,
) -> anyhow::Result<ExitCode> {
    let export = hub.export(identifier, query).await?;
    std::fs::create_dir_all(out)?;
    write_json(&out.join("licence.json"), &export.credential)?;
    write_json(&out.join("trust.json"), &export.trust_file)?;
    std::fs::write(out.join("anchor.txt"), format!("{}\n", export.anchor))?;
    let mut attachment_file = None;
    if let Some((_, bytes, media)) = &export.attachment {
        let name = if media.contains("ofd") {
            "attachment.ofd"
        } else if media.contains("pdf") {
            "attachment.pdf"
        } else {
            "attachment.bin"
        };
        std::fs::write(out.join(name), bytes)?;
        attachment_file = Some(name);
    }
    if ctx.json {
        print_json(
            &json!({"dir": out.display().to_string(), "anchor": export.anchor, "attachment": attachment_file}),
        )?;
    } else {
        let at = |name: &str| out.join(name).display().to_string();
        println!(
            "wrote {}, trust.json, anchor.txt{}",
            at("licence.json"),
            attachment_file
                .map(|a| format!(", {a}"))
                .unwrap_or_default()
        );
        println!(
            "verify offline with:\n  tongban licence verify {} --trust {} --anchor {}{}",
            at("licence.json"),
            at("trust.json"),
            export.anchor,
            attachment_file
                .map(|a| format!(" --attachment {}", at(a)))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `licence uses`: the use records of one licence, or the latest of all.
async fn uses(
    ctx: &Context,
    hub: &Service,
    identifier: Option<String>,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let uses = match identifier {
        Some(id) => hub.store().uses_of_licence(&id, limit).await?,
        None => hub.store().recent_uses(None, limit).await?,
    };
    if ctx.json {
        print_json(&uses)?;
    } else {
        let mut table = crate::table::Table::new();
        for u in uses {
            table.row([
                format!("#{}", u.id),
                tongban_seal::timefmt::format_rfc3339(u.at),
                u.requester,
                format!("“{}”", u.use_cause),
                format!("{} {}", u.query_kind, u.query),
                u.case_ref.map(|c| format!("case {c}")).unwrap_or_default(),
                format!("→ {} licence(s)", u.returned.len()),
            ]);
        }
        table.print();
    }
    Ok(ExitCode::SUCCESS)
}

fn status_change(
    _hub: &tongban_service::Service,
    ctx: &Context,
    word: &str,
    result: tongban_service::Result<()>,
    identifier: &str,
) -> anyhow::Result<ExitCode> {
    result?;
    if ctx.json {
        print_json(&json!({"identifier": identifier, "status": word}))?;
    } else {
        println!("{word} {identifier}");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_found(found: &[Found], json: bool, full: bool) -> anyhow::Result<()> {
    if json {
        let list: Vec<Value> = found
            .iter()
            .map(|f| json!({"identifier": f.row.identifier, "verification": f.verification, "credential": f.credential}))
            .collect();
        return print_json(&list);
    }
    for f in found {
        print_verification(&f.verification, false)?;
        if full {
            println!("{}", serde_json::to_string_pretty(&f.credential)?);
        }
        println!();
    }
    Ok(())
}

fn verify_offline(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let now = match &args.at {
        Some(t) => tongban_seal::timefmt::parse_rfc3339(t)
            .map_err(|e| Coded::usage("TIME_INVALID", format!("--at {t}: {e}")))?,
        None => time::OffsetDateTime::now_utc(),
    };
    let trust = if let Some(path) = &args.trust {
        let anchor = args.anchor.as_deref().unwrap_or_default();
        let anchor = PublicKey::from_multikey(anchor.trim())
            .map_err(|e| Coded::usage("ANCHOR_INVALID", format!("--anchor: {e}")))?;
        tongban_licence::trustfile::load(&read_json(path)?, &anchor, now)?
    } else {
        let vm = args.key.as_deref().unwrap_or_default();
        let (controller, multikey) = vm
            .rsplit_once('#')
            .ok_or_else(|| Coded::usage("KEY_INVALID", "--key takes {issuer}#{multikey}"))?;
        let public = PublicKey::from_multikey(multikey)
            .map_err(|e| Coded::usage("KEY_INVALID", format!("--key: {e}")))?;
        let mut trust = Trust::new();
        trust.add_key(KeyRecord {
            controller: controller.to_owned(),
            public,
            validity: Validity::from(time::OffsetDateTime::UNIX_EPOCH),
            purpose: tongban_seal::KeyPurpose::Issue,
        });
        trust
    };
    let bytes = std::fs::read(&args.file)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", args.file.display())))?;
    let held = match &args.attachment {
        None => None,
        Some(path) => {
            let data = std::fs::read(path)
                .map_err(|e| Coded::new("IO", format!("{}: {e}", path.display())))?;
            // Unreadable bytes bind nothing; verify_bytes says why.
            let credential = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
            Some(tongban_licence::presented_attachment(&credential, &data))
        }
    };
    let attachments = held.as_ref();
    let v = tongban_licence::verify_bytes(&trust, &bytes, VerifyOptions { now, attachments });
    print_verification(&v, ctx.json)?;
    Ok(Exit::checked(v.valid))
}

fn guess_media_type(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("ofd") => "application/ofd",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}
