//! `tongban demo`: the whole story on a throw-away hub in 广州市花都区.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;
use time::Duration;
use tongban_hub::ServeConfig;
use tongban_licence::credential::{self, Allocation, Issuer};
use tongban_licence::{IssueRequest, VerifyOptions, trustfile, verify};
use tongban_seal::PublicKey;
use tongban_service::samples::{self, CIVIL_AFFAIRS, DISABLED_FEDERATION, MARKET, PLANNING};
use tongban_service::{AttachmentInput, Clock, Hub, HubConfig, IssueInput, Query};
use tongban_testhub::LocalHub;
use tongban_testhub::regions;

use crate::Context;
use crate::output::{print_json, print_verification, write_json};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo hub (and exported files) in this directory instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Show 全域通办 instead: two regions' hubs, a licence issued in one
    /// and reused by a case in the other.
    #[arg(long)]
    regions: bool,
}

fn section(n: u32, title: &str) {
    println!("\n━━ {n}. {title} ━━");
}

fn outcome<T>(what: &str, r: tongban_service::Result<T>) {
    match r {
        Ok(_) => println!("  {what}: accepted (unexpected!)"),
        Err(e) => println!("  {what}: refused  [{}] {e}", e.code()),
    }
}

/// The story goes to standard output, or to standard error with `--json`,
/// which prints a summary instead.
pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    if args.regions {
        run_regions(&dir).await?;
        if ctx.json {
            print_json(&serde_json::json!({
                "dir": args.dir,
                "regions": [samples::REGION, regions::QINGCHENG],
            }))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let start = tongban_seal::timefmt::truncate_to_seconds(time::OffsetDateTime::now_utc());
    let clock = Clock::fixed(start);
    let hub = Hub::open(&HubConfig {
        clock: clock.clone(),
        ..HubConfig::embedded(&dir.join("hub"))
    })
    .await?;

    println!("通办 Tongban — electronic licences that every department can reuse");
    println!("a throw-away hub for 广州市花都区 in {}", dir.display());

    section(1, "The region's hub");
    let report = samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
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
    println!(
        "  each is a W3C Verifiable Credential with an eddsa-jcs-2022 proof by the issuer's key;"
    );
    println!(
        "  the 营业执照's PDF rendering is bound into it by SHA-256 (relatedResource.digestSRI)."
    );

    section(
        3,
        "Cases (办件) over QUIC: licences reused instead of paper copies, results issued as licences",
    );
    let server = LocalHub::start(&hub, "广州市花都区政务服务CA", ServeConfig::default()).await?;
    println!(
        "  the hub serves departments' systems on {} (QUIC, mutual TLS)",
        server.addr
    );
    for (dept, item) in [
        (
            PLANNING,
            serde_json::json!({"code": "440114-GZ-0201", "name": "建设工程规划许可证核发", "itemType": "承诺件", "legalLimitDays": 20, "promisedLimitDays": 10,
                "materials": [{"name": "营业执照", "licenceType": "11100000TB0000001K001"}, {"name": "建设工程设计方案"}],
                "resultType": "11100000TB0000003R001"}),
        ),
        (
            MARKET,
            serde_json::json!({"code": "440114-SCJG-0305", "name": "食品经营许可（新办）", "itemType": "承诺件", "legalLimitDays": 20, "promisedLimitDays": 5,
                "materials": [{"name": "营业执照", "licenceType": "11100000TB0000001K001"}, {"name": "经营场所建设工程规划许可证", "licenceType": "11100000TB0000003R001"}, {"name": "食品安全管理制度"}]}),
        ),
    ] {
        let i = hub.item_put(dept, serde_json::from_value(item)?).await?;
        println!(
            "  {} registered service item {} {} ({}, promised {} of {} working days, {} materials)",
            i.department,
            i.code,
            i.name,
            i.type_name(),
            i.promised_limit_days,
            i.legal_limit_days,
            i.materials.len()
        );
    }
    let company = ("001", samples::COMPANY_CODE);
    let planning = server.client(&hub, PLANNING).await?;
    println!("\n  自然资源局's case system asks for the applicant's licences (no paper copies):");
    let answer = planning
        .case_licences(
            "GZ-2026-000321",
            "440114-GZ-0201",
            company,
            "核发建设工程规划许可证（二期），核验申请单位营业执照",
        )
        .await?;
    crate::cases::print_case_licences(&answer["payload"]);
    println!(
        "  the answer is signed by the hub ({}) for the asking system",
        answer["sender"].as_str().unwrap_or("")
    );
    let mut permit = samples::planning_permit_request();
    permit["data"]["permitNumber"] = "建字第440114202600456号".into();
    permit["data"]["projectName"] = "鸿睿启航电子元器件生产基地（二期）2#厂房".into();
    let issued = planning.case_result("GZ-2026-000321", permit).await?;
    println!(
        "  approved: the result is issued as licence {}",
        issued["payload"]["identifier"].as_str().unwrap_or("")
    );
    let market = server.client(&hub, MARKET).await?;
    println!("\n  the next case, at 市场监管局, reuses that result:");
    let answer = market
        .case_licences(
            "SCJG-2026-000888",
            "440114-SCJG-0305",
            company,
            "办理食品经营许可，核验营业执照和经营场所的建设工程规划许可证",
        )
        .await?;
    crate::cases::print_case_licences(&answer["payload"]);
    match market
        .case_licences("SCJG-2026-000889", "440114-SCJG-0305", company, "")
        .await
    {
        Ok(_) => anyhow::bail!("the hub answered a case query without a stated purpose"),
        Err(e) => println!(
            "  the same query without a stated purpose → {} ({})",
            e.reason().unwrap_or("?"),
            e.code().map(|c| c.as_str()).unwrap_or("?")
        ),
    }
    planning.close().await;
    market.close().await;
    server.stop().await;

    section(
        4,
        "Anyone verifies offline with the licence and the hub's trust file",
    );
    let out = dir.join("export");
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
    let mut swapped = HashMap::new();
    swapped.insert(
        att_id,
        tongban_seal::sha256(&samples::sample_pdf("另一份文件")),
    );
    println!("  the genuine licence with a different PDF:");
    print_verification(
        &verify(
            &trust,
            export.credential.clone(),
            VerifyOptions {
                now: hub.now(),
                attachments: Some(&swapped),
            },
        ),
        false,
    )?;
    let later = hub.now() + Duration::days(8);
    match trustfile::load(&export.trust_file, &anchor, later) {
        Ok(_) => println!("  a week-old trust file: accepted (unexpected!)"),
        Err(e) => println!(
            "  the same trust file eight days later: refused [{}] {e}",
            e.code()
        ),
    }

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

    section(6, "Key rotation: licences outlive the key that signed them");
    let old_key = hub
        .current_key(CIVIL_AFFAIRS, tongban_seal::KeyPurpose::Issue)
        .await?
        .1;
    clock.set(start + Duration::days(30));
    let (_, new_key) = hub
        .rotate_key(&old_key.public.to_multikey(), Duration::days(1))
        .await?;
    clock.set(start + Duration::days(32));
    println!(
        "  花都区民政局 rotated from {}… to {}…",
        &old_key.public.to_multikey()[..16],
        &new_key.key_id[..16]
    );
    let v = hub.verify_online(marriage[0].credential.clone()).await?;
    println!(
        "  the 结婚证 signed with the old key: {}",
        if v.valid {
            "still valid ✔"
        } else {
            "not valid ✘"
        }
    );
    let after = hub
        .issue(
            CIVIL_AFFAIRS,
            IssueInput::from_json(&samples::senior_card_request())?,
        )
        .await?;
    println!(
        "  a new 老年人优待证 is signed with the new key: {}",
        after.credential["proof"]["verificationMethod"]
            .as_str()
            .unwrap_or("")
    );

    section(
        7,
        "A compromised key is invalid from the instant it is revoked",
    );
    let stolen_at = start + Duration::days(33);
    hub.revoke_signing_key(&new_key.key_id, Some(stolen_at), "密钥泄露")
        .await?;
    clock.set(start + Duration::days(34));
    println!(
        "  the new key was revoked as of {}",
        tongban_seal::timefmt::format_rfc3339(stolen_at)
    );
    let v = hub.verify_online(after.credential.clone()).await?;
    println!(
        "  the licence it signed before that: {}",
        if v.valid {
            "valid ✔"
        } else {
            "not valid ✘"
        }
    );
    // Someone holding the stolen secret signs a licence after the revocation.
    let stolen = tongban_service::KeyStore::open(&dir.join("hub/keys"))?.load(&new_key.key_id)?;
    let record = hub
        .key_records()
        .await?
        .into_iter()
        .find(|k| k.public.to_multikey() == new_key.key_id)
        .ok_or_else(|| anyhow::anyhow!("key record missing"))?;
    let types = hub.licence_types();
    let code = tongban_codes::Uscc::parse(CIVIL_AFFAIRS)?;
    let issuer = Issuer {
        code: &code,
        name: "广州市花都区民政局",
        key: &stolen,
        key_record: &record,
    };
    let forged_input = IssueInput::from_json(&samples::senior_card_request())?;
    let request = IssueRequest {
        type_code: forged_input.type_code.clone(),
        type_version: None,
        holder: tongban_licence::Holder {
            name: "冒名者".into(),
            code: tongban_codes::HolderCode::parse(
                tongban_codes::HolderCodeType::CitizenId,
                samples::LIU.1,
            )?,
        },
        data: forged_input.data.clone(),
        valid_from: None,
        valid_until: None,
        service_item: None,
        attachment: None,
    };
    let licence_type = types
        .latest(&request.type_code)
        .ok_or_else(|| anyhow::anyhow!("type missing"))?;
    let forged = credential::issue(
        licence_type,
        &request,
        &issuer,
        &Allocation {
            serial: "20260101999999".into(),
            version: 1,
            list_sequence: 0,
            status_index: 99_999,
        },
        hub.now(),
    )?;
    println!("  a licence signed with the stolen key after the revocation:");
    print_verification(&hub.verify_online(forged.credential).await?, false)?;

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

    section(
        11,
        "The resource catalogue (资源目录): publish what you share, find what others share",
    );
    for (dept, draft) in [
        (
            MARKET,
            serde_json::json!({"id": "market-registrations", "name": "新设市场主体登记信息", "description": "新设立登记的企业和个体工商户，含营业执照照面信息，实时推送给负有监管职责的部门", "schema": "business-registration@1", "fields": [{"name": "uscc", "label": "统一社会信用代码"}, {"name": "entityName", "label": "名称"}, {"name": "legalRepresentative", "label": "法定代表人"}], "sharingType": "无条件共享", "tags": ["市场主体", "企业开办"]}),
        ),
        (
            CIVIL_AFFAIRS,
            serde_json::json!({"id": "civil-marriages", "name": "婚姻登记信息", "description": "结婚登记、离婚登记的办理结果", "schema": "business-registration@1", "sharingType": "有条件共享", "updateFrequency": "daily", "tags": ["婚姻", "民政"]}),
        ),
        (
            CIVIL_AFFAIRS,
            serde_json::json!({"id": "civil-elderly-cards", "name": "老年人优待证发放信息", "description": "65周岁以上老年人优待证的发放记录", "schema": "business-registration@1", "sharingType": "unconditional", "updateFrequency": "monthly", "tags": ["老年", "优待"]}),
        ),
    ] {
        let e = hub
            .catalogue_publish(dept, serde_json::from_value(draft)?, false)
            .await?;
        println!("  {} published {} “{}”", e.provider, e.id, e.name);
    }
    for q in ["营业执照", "婚姻 登记", "老年"] {
        let found = hub
            .catalogue_search(q, &tongban_store::CatalogueFilter::default(), 5)
            .await?;
        let names: Vec<String> = found
            .iter()
            .map(|e| format!("{} ({})", e.name, e.id))
            .collect();
        println!("  search “{q}” → {}", names.join("; "));
    }
    let over_market: tongban_service::CatalogueDraft = serde_json::from_value(
        serde_json::json!({"id": "market-registrations", "name": "改个名字", "schema": "business-registration@1", "sharingType": "unconditional"}),
    )?;
    outcome(
        "民政局 updating 市场监管局's resource",
        hub.catalogue_publish(CIVIL_AFFAIRS, over_market, true)
            .await,
    );

    let counts = hub.store().licence_counts().await?;
    println!(
        "\nlicences in the store: {}",
        counts
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if args.dir.is_none() {
        println!("(the demo hub is discarded; pass --dir to keep it)");
    }
    hub.close().await;
    if ctx.json {
        let licences: serde_json::Map<String, Value> = counts
            .iter()
            .map(|(s, n)| (s.to_string(), serde_json::json!(n)))
            .collect();
        print_json(&serde_json::json!({"dir": args.dir, "licences": licences}))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tongban demo --regions`: 全域通办 between two regions' hubs in this
/// process, each with its own store and CA.
async fn run_regions(dir: &std::path::Path) -> anyhow::Result<()> {
    let serve = ServeConfig {
        peer_refresh_every: std::time::Duration::from_secs(1),
        trust_rebuild_after: std::time::Duration::ZERO,
        ..ServeConfig::default()
    };
    println!(
        "通办 Tongban — 全域通办: a licence issued in one region, reused by a case in another"
    );
    println!("two throw-away hubs in {}", dir.display());

    section(1, "Two regions' hubs, each with its own store and CA");
    let huadu = regions::start(
        &dir.join(samples::REGION),
        samples::REGION,
        samples::HUB_NAME,
        true,
        Clock::System,
        serve.clone(),
        tongban_store::Durability::default(),
    )
    .await?;
    let qingcheng = regions::start(
        &dir.join(regions::QINGCHENG),
        regions::QINGCHENG,
        regions::QINGCHENG_HUB,
        false,
        Clock::System,
        serve,
        tongban_store::Durability::default(),
    )
    .await?;
    let service = regions::qingcheng_service(&qingcheng.hub).await?;
    for r in [&huadu, &qingcheng] {
        println!(
            "  {} {} (urn:tongban:hub:{}) on {}",
            r.region, r.name, r.region, r.server.addr
        );
    }

    section(
        2,
        "Administrators exchange cards once; the hubs keep each other's trust lists fresh",
    );
    regions::link(&qingcheng, &huadu).await?;
    for (here, there) in [(&huadu, &qingcheng), (&qingcheng, &huadu)] {
        let t = here.hub.peer_trust(&there.region).await?;
        println!(
            "  {} holds {}'s trust list: {} issuer keys, {} status lists, {} licence types, valid until {}",
            here.region,
            there.region,
            t.trust.keys().count(),
            t.trust.status_lists().count(),
            t.trust.types.iter().count(),
            tongban_seal::timefmt::format_rfc3339(t.valid_until)
        );
    }

    section(3, "花都区 issues a 营业执照");
    let issued = huadu
        .hub
        .issue(
            MARKET,
            IssueInput::from_json(&samples::business_licence_request())?,
        )
        .await?;
    let identifier = issued.identifier.as_str().to_owned();
    println!(
        "  花都区市场监管局 issued {identifier} to {}",
        samples::COMPANY_NAME
    );

    section(
        4,
        "A case in 清城区 reuses it: pulled through 清城区's own hub, verified offline",
    );
    let client = qingcheng.server.client(&qingcheng.hub, &service).await?;
    let query = serde_json::json!({
        "holder": {"codeType": "001", "code": samples::COMPANY_CODE},
        "useCause": "办理食品经营许可（跨区域通办），核验申请单位营业执照",
        "caseId": "QC-2026-000001",
        "serviceItem": regions::QINGCHENG_ITEM,
        "licenceTypes": [samples::BUSINESS_LICENCE_TYPE],
    });
    let answer = client.region_licences(query.clone()).await?;
    println!(
        "  {} case QC-2026-000001 asks for {}'s 营业执照 (answer signed by {}):",
        regions::QINGCHENG_SERVICE_NAME,
        samples::COMPANY_NAME,
        answer["sender"].as_str().unwrap_or_default()
    );
    crate::cases::print_region_licences(&answer["payload"], "    ");
    let there = huadu.hub.store().uses_of_licence(&identifier, 1).await?;
    let here = qingcheng
        .hub
        .store()
        .uses_of_licence(&identifier, 1)
        .await?;
    for (region, uses) in [(samples::REGION, &there), (regions::QINGCHENG, &here)] {
        if let Some(u) = uses.first() {
            println!(
                "  licence-use record in {region}: requester {}, case {}, useCause {}",
                u.requester,
                u.case_ref.as_deref().unwrap_or("-"),
                u.use_cause
            );
        }
    }

    section(
        5,
        "Revocation in 花都区 is seen in 清城区 after the next refresh",
    );
    huadu
        .hub
        .revoke(&identifier, "花都区市场监管局", "企业申请注销登记")
        .await?;
    println!("  花都区 revokes {identifier}");
    let started = std::time::Instant::now();
    loop {
        let answer = client.region_licences(query.clone()).await?;
        let revoked = answer["payload"]["licences"].as_array().is_some_and(|ls| {
            ls.iter()
                .any(|l| l["identifier"] == identifier.as_str() && l["valid"] == false)
        });
        if revoked || started.elapsed() > std::time::Duration::from_secs(20) {
            println!(
                "  after {:.1} s, 清城区's next pull says:",
                started.elapsed().as_secs_f64()
            );
            crate::cases::print_region_licences(&answer["payload"], "    ");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    section(
        6,
        "A peer that is down: a clear error, and this region still answers",
    );
    huadu.server.stop().await;
    let mut down = query.clone();
    down["waitMs"] = serde_json::json!(1000);
    down["regions"] = serde_json::json!([samples::REGION, regions::QINGCHENG]);
    let answer = client.region_licences(down).await?;
    crate::cases::print_region_licences(&answer["payload"], "    ");
    client.close().await;
    qingcheng.server.stop().await;
    huadu.hub.close().await;
    qingcheng.hub.close().await;
    println!(
        "\ndone. `tongban peer card | add | list` and `tongban case pull` do the same with running hubs."
    );
    Ok(())
}
