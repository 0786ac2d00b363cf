//! A small world: two issuing departments, the shipped licence types, status lists.

use std::path::PathBuf;

use serde_json::Value;
use time::{Duration, OffsetDateTime, macros::datetime};
use tongban_codes::{HolderCode, HolderCodeType, Uscc};
use tongban_licence::credential::{self, organisation_urn};
use tongban_licence::status::{self, Bitstring, StatusPurpose};
use tongban_licence::{
    Allocation, Holder, IssueRequest, IssuedLicence, Issuer, LicenceType, LicenceTypes, Trust,
    VerifyOptions,
};
use tongban_seal::{KeyRecord, SigningKey, Validity};

pub const NOW: OffsetDateTime = datetime!(2026-11-25 02:00 UTC);
pub const BUSINESS_LICENCE: &str = "11100000TB0000001K001";
pub const DISABILITY_CERTIFICATE: &str = "51100000TB0000004Q001";

pub fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/licence-types")
}

pub fn example(stem: &str) -> Value {
    let path = schemas_dir().join("examples").join(format!("{stem}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub fn types() -> LicenceTypes {
    let mut types = LicenceTypes::new();
    for entry in std::fs::read_dir(schemas_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            types.insert(LicenceType::from_schema(schema).unwrap());
        }
    }
    types
}

pub struct Department {
    pub code: Uscc,
    pub name: &'static str,
    pub key: SigningKey,
    pub record: KeyRecord,
}

impl Department {
    pub fn new(code: &str, name: &'static str, seed: u8) -> Self {
        let code = Uscc::parse(code).unwrap();
        let key = SigningKey::from_seed(&[seed; 32]);
        let record = KeyRecord {
            controller: organisation_urn(&code),
            public: key.public(),
            validity: Validity::from(datetime!(2026-01-01 0:00 UTC)),
            purpose: tongban_seal::KeyPurpose::Issue,
        };
        Department {
            code,
            name,
            key,
            record,
        }
    }

    pub fn issuer(&self) -> Issuer<'_> {
        Issuer {
            code: &self.code,
            name: self.name,
            key: &self.key,
            key_record: &self.record,
        }
    }
}

pub struct World {
    pub types: LicenceTypes,
    /// 广州市花都区市场监督管理局
    pub market: Department,
    /// 清远市清城区残疾人联合会
    pub disabled: Department,
    pub revocation: Bitstring,
    pub suspension: Bitstring,
    next_index: u32,
}

impl World {
    pub fn new() -> Self {
        World {
            types: types(),
            market: Department::new(
                &synth_uscc('1', '1', "440114", 7),
                "广州市花都区市场监督管理局",
                1,
            ),
            disabled: Department::new(
                &synth_uscc('5', '1', "441802", 9),
                "清远市清城区残疾人联合会",
                2,
            ),
            revocation: Bitstring::new(),
            suspension: Bitstring::new(),
            next_index: 0,
        }
    }

    pub fn business_request(&self) -> IssueRequest {
        IssueRequest {
            type_code: BUSINESS_LICENCE.into(),
            type_version: None,
            holder: Holder {
                name: "广州花都鸿睿启航电子科技有限公司".into(),
                code: HolderCode::parse(HolderCodeType::Uscc, "91440114MA5TB0A01K").unwrap(),
            },
            data: example("business-licence"),
            valid_from: None,
            valid_until: None,
            service_item: Some(tongban_licence::ServiceItemRef {
                code: "440114-SCJG-001".into(),
                name: "企业设立登记".into(),
            }),
            attachment: None,
        }
    }

    pub fn issue(
        &mut self,
        request: &IssueRequest,
        by_market: bool,
        now: OffsetDateTime,
    ) -> Result<IssuedLicence, tongban_licence::IssueError> {
        let dept = if by_market {
            &self.market
        } else {
            &self.disabled
        };
        let issuer = dept.issuer();
        let licence_type = credential::check_request(&self.types, request, &issuer, now)?;
        let allocation = Allocation {
            serial: format!("20261125{:06}", self.next_index),
            version: 1,
            list_sequence: 0,
            status_index: self.next_index,
        };
        self.next_index += 1;
        credential::issue(licence_type, request, &issuer, &allocation, now)
    }

    /// A trust with both departments' keys and fresh status lists as they stand now.
    pub fn trust(&self) -> Trust {
        let mut trust = Trust::new();
        trust.types = self.types.clone();
        trust.add_key(self.market.record.clone());
        trust.add_key(self.disabled.record.clone());
        for dept in [&self.market, &self.disabled] {
            for (purpose, bits) in [
                (StatusPurpose::Revocation, &self.revocation),
                (StatusPurpose::Suspension, &self.suspension),
            ] {
                let id = status::list_id(dept.code.as_str(), purpose, 0);
                let signed = status::sign_list(
                    &id,
                    &dept.record.controller,
                    dept.name,
                    purpose,
                    bits,
                    &dept.key,
                    &dept.record,
                    NOW,
                    Duration::days(1),
                )
                .unwrap();
                trust.add_status_list(status::verify_list(&signed, &trust).unwrap());
            }
        }
        trust
    }
}

pub fn options() -> VerifyOptions<'static> {
    VerifyOptions {
        now: NOW,
        attachments: None,
    }
}

pub fn synth_uscc(authority: char, category: char, region: &str, seq: u32) -> String {
    tongban_codes::synth::uscc(authority, category, region, seq)
        .unwrap()
        .to_string()
}
