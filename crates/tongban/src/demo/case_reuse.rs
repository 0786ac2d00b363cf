//! Chapter 3: cases (办件) over QUIC. Two departments register service
//! items; their case systems pull the applicant's licences instead of
//! paper copies, and the first case's result, issued as a licence, is what
//! the next case reuses.

use serde_json::json;
use tongban_hub::ServeConfig;
use tongban_proto::services::{CaseLicenceQuery, CaseResult, Holder};
use tongban_service::Service;
use tongban_service::samples::{self, MARKET, PLANNING};
use tongban_testhub::LocalHub;

use super::section;
use crate::cases::print_case_licences;

/// The applicant of both cases: the sample company.
fn company() -> Holder {
    Holder::new("001", samples::COMPANY_CODE)
}

/// Chapter 3: cases over QUIC: licences reused instead of paper copies, results
/// issued as licences.
pub async fn reuse_over_quic(hub: &Service) -> anyhow::Result<()> {
    section(
        3,
        "Cases (办件) over QUIC: licences reused instead of paper copies, results issued as licences",
    );
    let server = LocalHub::start(hub, "广州市花都区政务服务CA", ServeConfig::default()).await?;
    println!(
        "  the hub serves departments' systems on {} (QUIC, mutual TLS)",
        server.addr
    );
    register_items(hub).await?;
    planning_case(hub, &server).await?;
    market_case(hub, &server).await?;
    server.stop().await;
    Ok(())
}

/// 自然资源局's and 市场监管局's service items, with the licences their
/// materials are.
async fn register_items(hub: &Service) -> anyhow::Result<()> {
    for (dept, item) in [
        (
            PLANNING,
            json!({"code": "440114-GZ-0201", "name": "建设工程规划许可证核发", "itemType": "承诺件", "legalLimitDays": 20, "promisedLimitDays": 10,
                "materials": [{"name": "营业执照", "licenceType": "11100000TB0000001K001"}, {"name": "建设工程设计方案"}],
                "resultType": "11100000TB0000003R001"}),
        ),
        (
            MARKET,
            json!({"code": "440114-SCJG-0305", "name": "食品经营许可（新办）", "itemType": "承诺件", "legalLimitDays": 20, "promisedLimitDays": 5,
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
    Ok(())
}

/// 自然资源局's case: the applicant's licences pulled, the permit approved
/// and issued as the case's result.
async fn planning_case(hub: &Service, server: &LocalHub) -> anyhow::Result<()> {
    let planning = server.client(hub, PLANNING).await?;
    println!("\n  自然资源局's case system asks for the applicant's licences (no paper copies):");
    let answer = planning
        .case_licences(&CaseLicenceQuery::new(
            "GZ-2026-000321",
            "440114-GZ-0201",
            company(),
            "核发建设工程规划许可证（二期），核验申请单位营业执照",
        ))
        .await?;
    print_case_licences(&answer.payload);
    println!(
        "  the answer is signed by the hub ({}) for the asking system",
        answer.envelope["sender"].as_str().unwrap_or("")
    );
    let mut permit = samples::planning_permit_request();
    permit["data"]["permitNumber"] = "建字第440114202600456号".into();
    permit["data"]["projectName"] = "鸿睿启航电子元器件生产基地（二期）2#厂房".into();
    let issued = planning
        .case_result(&CaseResult {
            case_id: "GZ-2026-000321".into(),
            licence: permit,
        })
        .await?;
    println!(
        "  approved: the result is issued as licence {}",
        issued.payload.identifier
    );
    planning.close().await;
    Ok(())
}

/// 市场监管局's case reuses that result; a query without a stated purpose
/// is refused.
async fn market_case(hub: &Service, server: &LocalHub) -> anyhow::Result<()> {
    let market = server.client(hub, MARKET).await?;
    println!("\n  the next case, at 市场监管局, reuses that result:");
    let answer = market
        .case_licences(&CaseLicenceQuery::new(
            "SCJG-2026-000888",
            "440114-SCJG-0305",
            company(),
            "办理食品经营许可，核验营业执照和经营场所的建设工程规划许可证",
        ))
        .await?;
    print_case_licences(&answer.payload);
    match market
        .case_licences(&CaseLicenceQuery::new(
            "SCJG-2026-000889",
            "440114-SCJG-0305",
            company(),
            "",
        ))
        .await
    {
        Ok(_) => anyhow::bail!("the hub answered a case query without a stated purpose"),
        Err(e) => println!(
            "  the same query without a stated purpose → {} ({})",
            e.reason().unwrap_or("?"),
            e.code().map(|c| c.as_str()).unwrap_or("?")
        ),
    }
    market.close().await;
    Ok(())
}
