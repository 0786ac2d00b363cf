//! Chapter 11: the resource catalogue (资源目录).

use serde_json::json;
use tongban_service::samples::{CIVIL_AFFAIRS, MARKET};
use tongban_service::{CatalogueDraft, Service};
use tongban_store::CatalogueFilter;

use super::{outcome, section};

/// Chapter 11: departments publish what they share; anyone searches in Chinese; a
/// department cannot change another's resource.
pub async fn publish_and_search(hub: &Service) -> anyhow::Result<()> {
    section(
        11,
        "The resource catalogue (资源目录): publish what you share, find what others share",
    );
    for (dept, draft) in [
        (
            MARKET,
            json!({"id": "market-registrations", "name": "新设市场主体登记信息", "description": "新设立登记的企业和个体工商户，含营业执照照面信息，实时推送给负有监管职责的部门", "schema": "business-registration@1", "fields": [{"name": "uscc", "label": "统一社会信用代码"}, {"name": "entityName", "label": "名称"}, {"name": "legalRepresentative", "label": "法定代表人"}], "sharingType": "无条件共享", "tags": ["市场主体", "企业开办"]}),
        ),
        (
            CIVIL_AFFAIRS,
            json!({"id": "civil-marriages", "name": "婚姻登记信息", "description": "结婚登记、离婚登记的办理结果", "schema": "business-registration@1", "sharingType": "有条件共享", "updateFrequency": "daily", "tags": ["婚姻", "民政"]}),
        ),
        (
            CIVIL_AFFAIRS,
            json!({"id": "civil-elderly-cards", "name": "老年人优待证发放信息", "description": "65周岁以上老年人优待证的发放记录", "schema": "business-registration@1", "sharingType": "unconditional", "updateFrequency": "monthly", "tags": ["老年", "优待"]}),
        ),
    ] {
        let e = hub
            .catalogue_publish(dept, serde_json::from_value(draft)?, false)
            .await?;
        println!("  {} published {} “{}”", e.provider, e.id, e.name);
    }
    for q in ["营业执照", "婚姻 登记", "老年"] {
        let found = hub
            .catalogue_search(q, &CatalogueFilter::default(), 5)
            .await?;
        let names: Vec<String> = found
            .iter()
            .map(|e| format!("{} ({})", e.name, e.id))
            .collect();
        println!("  search “{q}” → {}", names.join("; "));
    }
    let over_market: CatalogueDraft = serde_json::from_value(
        json!({"id": "market-registrations", "name": "改个名字", "schema": "business-registration@1", "sharingType": "unconditional"}),
    )?;
    outcome(
        "民政局 updating 市场监管局's resource",
        hub.catalogue_publish(CIVIL_AFFAIRS, over_market, true)
            .await,
    );
    Ok(())
}
