//! The licences' chapters: the region's hub, issuing, suspension, bad
//! input, revocation and the record of every use.

use serde_json::Value;
use tongban_licence::IssuedLicence;
use tongban_service::samples::{self, CIVIL_AFFAIRS, DISABLED_FEDERATION, MARKET, PLANNING};
use tongban_service::{AttachmentInput, IssueInput, Service};

use super::{outcome, section};
use crate::output::print_verification;

/// The licences issued in chapter 2, which later chapters use.
pub struct Issued {
    /// 营业执照 of the sample company, with its PDF.
    pub business: IssuedLicence,
    /// 结婚证 of 黄志强 and of 陈晓雯.
    pub marriage: Vec<IssuedLicence>,
    /// 残疾人证 of 周振华.
    pub disability: IssuedLicence,
}

/// Chapter 1: the hub: its identity, licence types and departments.
pub async fn the_hub(hub: &Service) -> anyhow::Result<()> {
    section(1, "The region's hub");
    let report = samples::initialise(hub, samples::REGION, samples::HUB_NAME, true).await?;
    println!(
        "  {} ({}), anchor key {}",
        report["name"].as_str().unwrap_or(""),
        report["id"].as_str().unwrap_or(""),
        report["anchor"].as_str().unwrap_or("")
    );
    println!("  licence types (证照类型):");
    for t in hub.licence_types().iter() {
        println!("    {}  {} ({})", t.code, t.name, t.name_en);
    }
    println!("  departments on the three-level platform:");
    for d in hub.store().departments().await? {
        println!(
            "    {:<8} {}  {}",
            d.platform_level.as_str(),
            d.code,
            d.name
        );
    }
    Ok(())
}

/// Chapter 2: departments issue a licence of each shipped type.
pub async fn issue(hub: &Service) -> anyhow::Result<Issued> {
    section(2, "Departments issue electronic licences (电子证照)");
    let mut business = IssueInput::from_json(&samples::business_licence_request())?;
    business.attachment = Some(AttachmentInput {
        bytes: samples::sample_pdf("营业执照"),
        media_type: "application/pdf".into(),
    });
    let business = hub.issue(MARKET, business).await?;
    let planning = hub
        .issue(
            PLANNING,
            IssueInput::from_json(&samples::planning_permit_request())?,
        )
        .await?;
    let marriage = hub
        .issue_batch(
            CIVIL_AFFAIRS,
            vec![
                IssueInput::from_json(&samples::marriage_request(samples::HUANG))?,
                IssueInput::from_json(&samples::marriage_request(samples::CHEN))?,
            ],
        )
        .await?;
    let senior = hub
        .issue(
            CIVIL_AFFAIRS,
            IssueInput::from_json(&samples::senior_card_request())?,
        )
        .await?;
    let disability = hub
        .issue(
            DISABLED_FEDERATION,
            IssueInput::from_json(&samples::disability_request())?,
        )
        .await?;
    for l in [
        &business,
        &planning,
        &marriage[0],
        &marriage[1],
        &senior,
        &disability,
    ] {
        print_issued(l);
    }
    println!(
        "  each is a W3C Verifiable Credential with an eddsa-jcs-2022 proof by the issuer's key;"
    );
    println!(
        "  the 营业执照's PDF rendering is bound into it by SHA-256 (relatedResource.digestSRI)."
    );
    Ok(Issued {
        business,
        marriage,
        disability,
    })
}

fn print_issued(l: &IssuedLicence) {
    println!(
        "  {}  {}  → {}  (number {}, valid until {})",
        l.credential["name"].as_str().unwrap_or(""),
        l.identifier,
        l.credential["credentialSubject"]["name"]
            .as_str()
            .unwrap_or(""),
        l.number,
        l.credential["validUntil"].as_str().unwrap_or("no end")
    );
}

/// Chapter 5: suspension and reinstatement, seen by every verifier.
pub async fn suspend_and_reinstate(hub: &Service, business: &IssuedLicence) -> anyhow::Result<()> {
    section(
        5,
        "Suspension (中止) and reinstatement, seen by every verifier",
    );
    let id = business.identifier.to_string();
    hub.suspend(
        &id,
        "花都区市场监管局 登记注册科",
        "列入经营异常名录，待核查",
    )
    .await?;
    println!("  suspended: online verification now says");
    print_verification(
        &hub.verify_online(business.credential.clone()).await?,
        false,
    )?;
    hub.reinstate(
        &id,
        "花都区市场监管局 登记注册科",
        "核查完毕，移出经营异常名录",
    )
    .await?;
    println!(
        "  reinstated: {}",
        if hub.verify_online(business.credential.clone()).await?.valid {
            "valid again ✔"
        } else {
            "still not valid ✘"
        }
    );
    Ok(())
}

/// Chapter 8: bad input: refused with a stable code, nothing written.
pub async fn bad_input(hub: &Service) -> anyhow::Result<()> {
    section(8, "Bad input gets a clear, stable error and writes nothing");
    let mut bad = IssueInput::from_json(&samples::business_licence_request())?;
    bad.holder_code = "91440114MA5TB0A01X".into();
    outcome(
        "营业执照 for a USCC with a wrong check character",
        hub.issue(MARKET, bad).await,
    );
    let mut bad = IssueInput::from_json(&samples::business_licence_request())?;
    bad.data
        .as_object_mut()
        .map(|d| d.remove("legalRepresentative"));
    outcome(
        "营业执照 without its 法定代表人",
        hub.issue(MARKET, bad).await,
    );
    let mut bad = IssueInput::from_json(&samples::disability_request())?;
    bad.data["level"] = Value::from("五级");
    outcome(
        "残疾人证 of 五级 (there are four levels)",
        hub.issue(DISABLED_FEDERATION, bad).await,
    );
    Ok(())
}

/// Chapter 9: revocation is final: reinstating is refused.
pub async fn revoke(hub: &Service, disability: &IssuedLicence) -> anyhow::Result<()> {
    section(9, "Revocation (注销) is final");
    let did = disability.identifier.to_string();
    hub.revoke(&did, "花都区残联 康复部", "持证人申请注销")
        .await?;
    print_verification(
        &hub.verify_online(disability.credential.clone()).await?,
        false,
    )?;
    outcome(
        "reinstating the revoked 残疾人证",
        hub.reinstate(&did, "admin", "误操作").await,
    );
    Ok(())
}

/// Chapter 10: every use of a licence was recorded.
pub async fn uses(hub: &Service) -> anyhow::Result<()> {
    section(10, "Every use was recorded (用证记录)");
    for u in hub.store().recent_uses(None, 20).await? {
        println!(
            "  #{} {}  {}  “{}”  → {} licence(s){}",
            u.id,
            tongban_seal::timefmt::format_rfc3339(u.at),
            u.requester,
            u.use_cause,
            u.returned.len(),
            u.case_ref
                .map(|c| format!("  case {c}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
