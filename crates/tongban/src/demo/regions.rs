//! `tongban demo --regions`: 全域通办 between two regions' hubs in this
//! process, each with its own store and CA, told in chapters.

use std::path::Path;
use std::time::{Duration, Instant};

use tongban_client::Client;
use tongban_hub::ServeConfig;
use tongban_proto::services::{Holder, RegionLicenceQuery};
use tongban_service::samples::{self, MARKET};
use tongban_service::{Clock, IssueInput};
use tongban_testhub::LocalHub;
use tongban_testhub::regions::{self, RegionHub};

use super::section;
use crate::cases::print_region_licences;

pub async fn run(dir: &Path) -> anyhow::Result<()> {
    println!(
        "通办 Tongban — 全域通办: a licence issued in one region, reused by a case in another"
    );
    println!("two throw-away hubs in {}", dir.display());
    let (huadu, qingcheng, service) = two_regions(dir).await?;
    exchange_cards(&huadu, &qingcheng).await?;
    let identifier = issue_in_huadu(&huadu).await?;
    let client = qingcheng.server.client(&qingcheng.hub, &service).await?;
    let query = reuse_in_qingcheng(&huadu, &qingcheng, &client, &identifier).await?;
    revocation_crosses(&huadu, &client, &query, &identifier).await?;
    peer_down(huadu.server, &client, &query).await?;
    client.close().await;
    qingcheng.server.stop().await;
    huadu.hub.close().await;
    qingcheng.hub.close().await;
    println!(
        "\ndone. `tongban peer card | add | list` and `tongban case pull` do the same with running hubs."
    );
    Ok(())
}

/// Chapter 1: 花都区's hub with its sample departments, 清城区's with its case
/// system; peers refresh each other every second, so that a revocation
/// crosses within the demo.
async fn two_regions(dir: &Path) -> anyhow::Result<(RegionHub, RegionHub, String)> {
    let serve = ServeConfig {
        peer_refresh_every: Duration::from_secs(1),
        trust_rebuild_after: Duration::ZERO,
        ..ServeConfig::default()
    };
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
    Ok((huadu, qingcheng, service))
}

/// Chapter 2: the administrators exchange cards once; each hub then holds the
/// other's trust list.
async fn exchange_cards(huadu: &RegionHub, qingcheng: &RegionHub) -> anyhow::Result<()> {
    section(
        2,
        "Administrators exchange cards once; the hubs keep each other's trust lists fresh",
    );
    regions::link(qingcheng, huadu).await?;
    for (here, there) in [(huadu, qingcheng), (qingcheng, huadu)] {
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
    Ok(())
}

/// Chapter 3: 花都区 issues a 营业执照: its identifier.
async fn issue_in_huadu(huadu: &RegionHub) -> anyhow::Result<String> {
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
    Ok(identifier)
}

/// Chapter 4: A case in 清城区 pulls it through its own hub, with a use record in
/// both regions: the query, which the next chapters ask again.
async fn reuse_in_qingcheng(
    huadu: &RegionHub,
    qingcheng: &RegionHub,
    client: &Client,
    identifier: &str,
) -> anyhow::Result<RegionLicenceQuery> {
    section(
        4,
        "A case in 清城区 reuses it: pulled through 清城区's own hub, verified offline",
    );
    let query = RegionLicenceQuery {
        licence_types: Some(vec![samples::BUSINESS_LICENCE_TYPE.to_owned()]),
        ..RegionLicenceQuery::new(
            Holder::new("001", samples::COMPANY_CODE),
            "办理食品经营许可（跨区域通办），核验申请单位营业执照",
            "QC-2026-000001",
            regions::QINGCHENG_ITEM,
        )
    };
    let answer = client.region_licences(&query).await?;
    println!(
        "  {} case QC-2026-000001 asks for {}'s 营业执照 (answer signed by {}):",
        regions::QINGCHENG_SERVICE_NAME,
        samples::COMPANY_NAME,
        answer.envelope["sender"].as_str().unwrap_or_default()
    );
    print_region_licences(&answer.payload, "    ");
    let there = huadu.hub.store().uses_of_licence(identifier, 1).await?;
    let here = qingcheng.hub.store().uses_of_licence(identifier, 1).await?;
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
    Ok(query)
}

/// Chapter 5: 花都区 revokes the licence; 清城区's pulls see it after the next
/// refresh of 花都区's trust list.
async fn revocation_crosses(
    huadu: &RegionHub,
    client: &Client,
    query: &RegionLicenceQuery,
    identifier: &str,
) -> anyhow::Result<()> {
    section(
        5,
        "Revocation in 花都区 is seen in 清城区 after the next refresh",
    );
    huadu
        .hub
        .revoke(identifier, "花都区市场监管局", "企业申请注销登记")
        .await?;
    println!("  花都区 revokes {identifier}");
    let started = Instant::now();
    loop {
        let answer = client.region_licences(query).await?;
        let revoked = answer
            .payload
            .licences
            .iter()
            .any(|l| l.identifier.as_deref() == Some(identifier) && !l.valid);
        if revoked || started.elapsed() > Duration::from_secs(20) {
            println!(
                "  after {:.1} s, 清城区's next pull says:",
                started.elapsed().as_secs_f64()
            );
            print_region_licences(&answer.payload, "    ");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Chapter 6: 花都区's hub stops: a pull names it as down, and 清城区 still answers.
async fn peer_down(
    huadu: LocalHub,
    client: &Client,
    query: &RegionLicenceQuery,
) -> anyhow::Result<()> {
    section(
        6,
        "A peer that is down: a clear error, and this region still answers",
    );
    huadu.stop().await;
    let down = RegionLicenceQuery {
        wait_ms: Some(1000),
        regions: Some(vec![
            samples::REGION.to_owned(),
            regions::QINGCHENG.to_owned(),
        ]),
        ..query.clone()
    };
    let answer = client.region_licences(&down).await?;
    print_region_licences(&answer.payload, "    ");
    Ok(())
}
