//! Hubs of two regions served in this process, each with its own store and
//! CA, made peers of each other the way administrators do it (cards
//! exchanged once): for `tongban demo --regions` and `tongban-bench regions`.
//!
//! `start` serves a region's hub, `qingcheng_service` registers 清城区's case
//! system, and `link` makes two hubs peers with cards exchanged once, waiting
//! until each holds the other's trust list and CRL.

use std::path::Path;
use std::time::{Duration, Instant};

use tongban_hub::ServeConfig;
use tongban_service::{Clock, NewDepartment, Service, ServiceConfig, samples};
use tongban_store::PlatformLevel;

use crate::LocalHub;

/// 清远市清城区 (the region that reuses the licence).
pub const QINGCHENG: &str = "441802";
/// Its hub's name.
pub const QINGCHENG_HUB: &str = "清远市清城区政务数据共享交换平台";
/// Its government service centre's case system (synthetic USCC).
pub const QINGCHENG_SERVICE_NAME: &str = "清远市清城区政务服务中心";

/// One region's hub and its server.
#[derive(Debug)]
pub struct RegionHub {
    /// The hub.
    pub hub: Service,
    /// Its QUIC server on loopback.
    pub server: LocalHub,
    /// Region code.
    pub region: String,
    /// Hub name.
    pub name: String,
}

/// Starts a region's hub in `dir`: the sample departments of 花都区 when
/// `with_samples`, none otherwise.
pub async fn start(
    dir: &Path,
    region: &str,
    name: &str,
    with_samples: bool,
    clock: Clock,
    serve: ServeConfig,
    durability: tongban_store::Durability,
) -> anyhow::Result<RegionHub> {
    let mut config = ServiceConfig {
        clock,
        ..ServiceConfig::embedded(dir)
    };
    config.store.durability = durability;
    let hub = Service::open(&config).await?;
    samples::initialise(&hub, region, name, with_samples).await?;
    let server = LocalHub::start(&hub, &format!("{name}CA"), serve).await?;
    Ok(RegionHub {
        hub,
        server,
        region: region.to_owned(),
        name: name.to_owned(),
    })
}

/// The service item under which 清城区's service centre pulls licences
/// across regions: its material is the applicant's 营业执照.
pub const QINGCHENG_ITEM: &str = "441802-ZWFW-0001";

/// The case system's department of 清城区, registered with a signing key
/// and handling [`QINGCHENG_ITEM`] (a pull is bound to a case of an item
/// the asking department handles, and reads only that item's licence types).
pub async fn qingcheng_service(hub: &Service) -> anyhow::Result<String> {
    let code = tongban_codes::synth::uscc('1', '1', QINGCHENG, 9)?
        .as_str()
        .to_owned();
    hub.add_department(NewDepartment {
        code: code.clone(),
        name: QINGCHENG_SERVICE_NAME.into(),
        region_code: QINGCHENG.into(),
        platform_level: PlatformLevel::District,
        parent_code: None,
        contact: None,
    })
    .await?;
    hub.new_signing_key(&code, tongban_seal::KeyPurpose::Exchange, None)
        .await?;
    let item = serde_json::from_value(serde_json::json!({
        "code": QINGCHENG_ITEM,
        "name": "食品经营许可（跨区域通办）",
        "itemType": "承诺件",
        "legalLimitDays": 20,
        "promisedLimitDays": 10,
        "materials": [{"name": "营业执照", "licenceType": samples::BUSINESS_LICENCE_TYPE}],
    }))?;
    hub.item_put(&code, item).await?;
    Ok(code)
}

/// Makes `a` and `b` peers of each other and waits until each holds the
/// other's trust list.
pub async fn link(a: &RegionHub, b: &RegionHub) -> anyhow::Result<()> {
    let card_a = a.hub.peer_card(&a.server.addr.to_string()).await?;
    let card_b = b.hub.peer_card(&b.server.addr.to_string()).await?;
    b.hub.peer_add(card_a).await?;
    a.hub.peer_add(card_b).await?;
    let started = Instant::now();
    loop {
        // A trust list to check the other's licences with, and its CA's CRL:
        // licences cross only when revocation status is known.
        let ready_a = a.hub.peer_trust(&b.region).await.is_ok()
            && a.hub.peer_crl_check(&b.region, None).await.is_ok();
        let ready_b = b.hub.peer_trust(&a.region).await.is_ok()
            && b.hub.peer_crl_check(&a.region, None).await.is_ok();
        if ready_a && ready_b {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            let mut why = Vec::new();
            for hub in [&a.hub, &b.hub] {
                for t in hub.peer_trust_states().await? {
                    why.push(format!(
                        "{}: {}",
                        t.region_code,
                        t.failure.unwrap_or_else(|| "fetched".into())
                    ));
                }
            }
            anyhow::bail!("the peers' trust lists did not arrive ({})", why.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
