//! Chapter 4: anyone verifies offline with the exported licence and the
//! hub's trust file, and sees an edited copy, a swapped PDF and a stale
//! trust file refused.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use time::Duration;
use tongban_licence::{IssuedLicence, Trust, VerifyOptions, trustfile, verify};
use tongban_seal::PublicKey;
use tongban_service::{Export, Query, Service, samples};

use super::section;
use crate::output::{print_verification, write_json};

/// Chapter 4: offline verification of the exported 营业执照 and its PDF.
pub async fn verify_offline(
    hub: &Service,
    dir: &Path,
    business: &IssuedLicence,
) -> anyhow::Result<()> {
    section(
        4,
        "Anyone verifies offline with the licence and the hub's trust file",
    );
    let export = export_to(hub, &dir.join("export"), business).await?;
    let anchor = PublicKey::from_multikey(&export.anchor)?;
    let trust = trustfile::load(&export.trust_file, &anchor, hub.now())?;
    let (att_id, att_bytes, _) = export
        .attachment
        .clone()
        .ok_or_else(|| anyhow::anyhow!("attachment missing"))?;
    let mut held = HashMap::new();
    held.insert(att_id.clone(), tongban_seal::sha256(&att_bytes));
    let opts = VerifyOptions {
        now: hub.now(),
        attachments: Some(&held),
    };
    println!("  the exported licence, with its PDF:");
    print_verification(&verify(&trust, export.credential.clone(), opts), false)?;
    let mut tampered = export.credential.clone();
    tampered["credentialSubject"]["licenceData"]["registeredCapital"] =
        Value::from("5000万元人民币");
    println!("  a copy whose registered capital was edited from 500万 to 5000万:");
    print_verification(&verify(&trust, tampered, opts), false)?;
    with_another_pdf(hub, &trust, &export, att_id)?;
    let later = hub.now() + Duration::days(8);
    match trustfile::load(&export.trust_file, &anchor, later) {
        Ok(_) => println!("  a week-old trust file: accepted (unexpected!)"),
        Err(e) => println!(
            "  the same trust file eight days later: refused [{}] {e}",
            e.code()
        ),
    }
    Ok(())
}

/// Exports the licence as a bank would receive it, into `out`
/// (licence.json, trust.json, anchor.txt).
async fn export_to(hub: &Service, out: &Path, business: &IssuedLicence) -> anyhow::Result<Export> {
    let export = hub
        .export(
            &business.identifier.to_string(),
            &Query {
                requester: "银行开户核验".into(),
                use_cause: "企业开立对公账户".into(),
                case_ref: None,
            },
        )
        .await?;
    write_json(&out.join("licence.json"), &export.credential)?;
    write_json(&out.join("trust.json"), &export.trust_file)?;
    std::fs::write(out.join("anchor.txt"), &export.anchor)?;
    println!(
        "  exported to {} (licence.json, trust.json, anchor.txt)",
        out.display()
    );
    Ok(export)
}

/// The genuine licence held with a different PDF than the one bound into it.
fn with_another_pdf(
    hub: &Service,
    trust: &Trust,
    export: &Export,
    att_id: String,
) -> anyhow::Result<()> {
    let mut swapped = HashMap::new();
    swapped.insert(
        att_id,
        tongban_seal::sha256(&samples::sample_pdf("另一份文件")),
    );
    println!("  the genuine licence with a different PDF:");
    print_verification(
        &verify(
            trust,
            export.credential.clone(),
            VerifyOptions {
                now: hub.now(),
                attachments: Some(&swapped),
            },
        ),
        false,
    )
}
