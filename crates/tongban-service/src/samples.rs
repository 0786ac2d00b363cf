//! The shipped licence types and a sample region for development, the
//! demo and the benchmarks, and [`initialise`], which sets a hub up with them.
//!
//! Departments, people and companies are synthetic, with checksum-valid
//! codes, in 广州市花都区 (440114).

use serde_json::{Value, json};
use tongban_schema::SchemaError;
use tongban_seal::KeyPurpose;
use tongban_store::PlatformLevel;

use crate::{NewDepartment, Result, Service};

/// Region, hub key, shipped licence types and (optionally) sample departments with keys.
pub async fn initialise(hub: &Service, region: &str, name: &str, samples: bool) -> Result<Value> {
    let identity = hub.init_region(region, name).await?;
    // The samples are 花都区's departments, with codes registered there: a
    // hub of another region would speak for them, which its peers refuse.
    let samples = samples && identity.region == REGION;
    for (stem, text) in LICENCE_TYPES {
        let schema: Value =
            serde_json::from_str(text).map_err(|e| SchemaError::Invalid(format!("{stem}: {e}")))?;
        hub.publish_licence_type(schema).await?;
    }
    for (stem, text) in MESSAGE_TYPES {
        let schema: Value =
            serde_json::from_str(text).map_err(|e| SchemaError::Invalid(format!("{stem}: {e}")))?;
        hub.publish_schema("message", None, None, schema, false)
            .await?;
    }
    if samples {
        for d in DEPARTMENTS {
            if hub.store().department(d.code).await?.is_none() {
                hub.add_department(NewDepartment {
                    code: d.code.into(),
                    name: d.name.into(),
                    region_code: region.into(),
                    platform_level: d.level,
                    parent_code: d.parent.map(Into::into),
                    contact: Some(d.contact.into()),
                })
                .await?;
            }
            if d.issues && hub.current_key(d.code, KeyPurpose::Issue).await.is_err() {
                hub.new_signing_key(d.code, KeyPurpose::Issue, None).await?;
            }
            // For development, an exchange key the hub makes (and hands out,
            // audited, with `key export-secret`); in production a
            // department's system makes its own (`key generate`, `key register`).
            if hub.current_key(d.code, KeyPurpose::Exchange).await.is_err() {
                hub.new_signing_key(d.code, KeyPurpose::Exchange, None)
                    .await?;
            }
        }
    }
    Ok(json!({
        "id": identity.id,
        "name": identity.name,
        "region": identity.region,
        "anchor": identity.anchor,
        "licenceTypes": hub.licence_types().len(),
        "messageTypes": hub.store().schemas(Some("message")).await?.len(),
        "departments": hub.store().departments().await?.len(),
    }))
}

/// The licence type schemas shipped in `schemas/licence-types/`.
pub const LICENCE_TYPES: &[(&str, &str)] = &[
    (
        "business-licence",
        include_str!("../../../schemas/licence-types/business-licence.json"),
    ),
    (
        "marriage-certificate",
        include_str!("../../../schemas/licence-types/marriage-certificate.json"),
    ),
    (
        "construction-planning-permit",
        include_str!("../../../schemas/licence-types/construction-planning-permit.json"),
    ),
    (
        "senior-citizen-card",
        include_str!("../../../schemas/licence-types/senior-citizen-card.json"),
    ),
    (
        "disability-certificate",
        include_str!("../../../schemas/licence-types/disability-certificate.json"),
    ),
];

/// The message payload schemas shipped in `schemas/messages/`.
pub const MESSAGE_TYPES: &[(&str, &str)] = &[(
    "business-registration",
    include_str!("../../../schemas/messages/business-registration.json"),
)];

/// Region of the sample hub.
pub const REGION: &str = "440114";
/// Name of the sample hub.
pub const HUB_NAME: &str = "广州市花都区政务数据共享交换平台";

pub const DATA_BUREAU: &str = "11440114MB2C00090F";
pub const MARKET: &str = "11440114MB2C00007U";
pub const CIVIL_AFFAIRS: &str = "11440114MB2C00015N";
pub const PLANNING: &str = "11440114MB2C00040A";
pub const DISABLED_FEDERATION: &str = "51440114MJ0000073M";
pub const XINHUA_STREET: &str = "11440114MB2C00023H";
pub const SANDONG_VILLAGE: &str = "11440114MB2C00082L";

/// 证照类型代码 of the 营业执照.
pub const BUSINESS_LICENCE_TYPE: &str = "11100000TB0000001K001";

/// A sample department: code, name, level, parent, whether it issues licences.
#[derive(Debug)]
pub struct SampleDepartment {
    pub code: &'static str,
    pub name: &'static str,
    pub level: PlatformLevel,
    pub parent: Option<&'static str>,
    pub contact: &'static str,
    pub issues: bool,
}

pub const DEPARTMENTS: &[SampleDepartment] = &[
    SampleDepartment {
        code: DATA_BUREAU,
        name: "广州市花都区政务服务数据管理局",
        level: PlatformLevel::District,
        parent: None,
        contact: "数据共享科 020-86800001",
        issues: false,
    },
    SampleDepartment {
        code: MARKET,
        name: "广州市花都区市场监督管理局",
        level: PlatformLevel::District,
        parent: None,
        contact: "登记注册科 020-86800002",
        issues: true,
    },
    SampleDepartment {
        code: CIVIL_AFFAIRS,
        name: "广州市花都区民政局",
        level: PlatformLevel::District,
        parent: None,
        contact: "婚姻登记处 020-86800003",
        issues: true,
    },
    SampleDepartment {
        code: PLANNING,
        name: "广州市规划和自然资源局花都区分局",
        level: PlatformLevel::District,
        parent: None,
        contact: "建设工程管理科 020-86800004",
        issues: true,
    },
    SampleDepartment {
        code: DISABLED_FEDERATION,
        name: "广州市花都区残疾人联合会",
        level: PlatformLevel::District,
        parent: None,
        contact: "康复部 020-86800005",
        issues: true,
    },
    SampleDepartment {
        code: XINHUA_STREET,
        name: "广州市花都区新华街道办事处",
        level: PlatformLevel::Town,
        parent: Some(DATA_BUREAU),
        contact: "党群服务中心 020-86800006",
        issues: false,
    },
    SampleDepartment {
        code: SANDONG_VILLAGE,
        name: "花都区新华街道三东村便民服务站",
        level: PlatformLevel::Village,
        parent: Some(XINHUA_STREET),
        contact: "代办员 020-86800007",
        issues: false,
    },
];

pub const COMPANY_CODE: &str = "91440114MA5TB0A01K";
pub const COMPANY_NAME: &str = "广州花都鸿睿启航电子科技有限公司";
pub const HUANG: (&str, &str) = ("黄志强", "440114199304151235");
pub const CHEN: (&str, &str) = ("陈晓雯", "440114199508222429");
pub const LIU: (&str, &str) = ("刘桂英", "44011419560318002X");
pub const ZHOU: (&str, &str) = ("周振华", "440114201001090818");

/// 营业执照 for the sample company.
pub fn business_licence_request() -> Value {
    json!({
        "type": "11100000TB0000001K001",
        "holder": {"name": COMPANY_NAME, "codeType": "001", "code": COMPANY_CODE},
        "serviceItem": {"code": "440114-SCJG-0001", "name": "有限责任公司设立登记"},
        "data": {
            "uscc": COMPANY_CODE,
            "entityName": COMPANY_NAME,
            "entityType": "有限责任公司（自然人投资或控股）",
            "legalRepresentative": "李建华",
            "businessScope": "一般项目：电子元器件制造；电子元器件批发；技术服务、技术开发、技术咨询；软件开发。（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
            "registeredCapital": "500万元人民币",
            "establishedDate": "2019-06-18",
            "operatingPeriodFrom": "2019-06-18",
            "operatingPeriodTo": "长期",
            "domicile": "广州市花都区新华街道迎宾大道123号（自编A栋501房）",
            "registrationAuthority": "广州市花都区市场监督管理局"
        }
    })
}

/// 结婚证 for 黄志强 and 陈晓雯 (one certificate per holder).
pub fn marriage_request(holder: (&str, &str)) -> Value {
    json!({
        "type": "11100000TB0000002N001",
        "holder": {"name": holder.0, "codeType": "111", "code": holder.1},
        "serviceItem": {"code": "440114-MZ-0101", "name": "内地居民婚姻登记"},
        "data": {
            "holderName": holder.0,
            "registrationDate": "2026-05-20",
            "certificateNumber": "J440114-2026-000356",
            "spouses": [
                {"name": HUANG.0, "sex": "男", "nationality": "中国", "birthDate": "1993-04-15", "idNumber": HUANG.1},
                {"name": CHEN.0, "sex": "女", "nationality": "中国", "birthDate": "1995-08-22", "idNumber": CHEN.1}
            ]
        }
    })
}

/// 老年人优待证 for 刘桂英.
pub fn senior_card_request() -> Value {
    json!({
        "type": "11100000TB0000002N002",
        "holder": {"name": LIU.0, "codeType": "111", "code": LIU.1},
        "serviceItem": {"code": "440114-MZ-0305", "name": "老年人优待证办理"},
        "data": {
            "name": LIU.0, "sex": "女", "birthDate": "1956-03-18", "idNumber": LIU.1,
            "address": "广州市花都区新华街道三东村东兴路8号",
            "cardNumber": "4401142026000158"
        }
    })
}

/// 残疾人证 for 周振华.
pub fn disability_request() -> Value {
    json!({
        "type": "51100000TB0000004Q001",
        "holder": {"name": ZHOU.0, "codeType": "111", "code": ZHOU.1},
        "serviceItem": {"code": "440114-CL-0001", "name": "残疾人证新办"},
        "data": {
            "name": ZHOU.0, "sex": "男", "birthDate": "2010-01-09",
            "certificateNumber": format!("{}52", ZHOU.1),
            "category": "智力残疾", "level": "二级",
            "address": "广州市花都区新华街道松园路18号3栋502房",
            "guardian": {"name": "何美玲", "relationship": "母亲", "phone": "13900139000"}
        }
    })
}

/// 建设工程规划许可证 for the sample company's new plant.
pub fn planning_permit_request() -> Value {
    json!({
        "type": "11100000TB0000003R001",
        "holder": {"name": COMPANY_NAME, "codeType": "001", "code": COMPANY_CODE},
        "serviceItem": {"code": "440114-GZ-0201", "name": "建设工程规划许可证核发"},
        "data": {
            "permitNumber": "建字第440114202600123号",
            "constructionUnit": COMPANY_NAME,
            "projectName": "鸿睿启航电子元器件生产基地（一期）1#厂房",
            "location": "广州市花都区新华街道迎宾大道以北、工业大道以东地块",
            "scale": "总建筑面积12345.67平方米，地上4层",
            "landUse": "一类工业用地",
            "attachmentsList": ["建设工程规划许可证附图（总平面图）"]
        }
    })
}

/// A small but well-formed PDF standing in for a licence rendering.
pub fn sample_pdf(title: &str) -> Vec<u8> {
    format!(
        "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% {title}\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}
