//! Licence verification and issuance against raw Ed25519, in one run.
//!
//! `cargo bench -p tongban-benches` (release profile). Compare within one
//! run: `ed25519/verify_strict_dalek` (the library's strict verification) against `licence/verify`, `licence/verify_many_1000`
//! (per element) and `licence/issue`.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use time::macros::datetime;
use tongban_codes::{HolderCode, HolderCodeType, Uscc};
use tongban_licence::credential::{self, organisation_urn};
use tongban_licence::status::{self, Bitstring, StatusPurpose};
use tongban_licence::{
    Allocation, Holder, IssueRequest, Issuer, LicenceType, LicenceTypes, Trust, VerifyOptions,
};
use tongban_seal::{KeyRecord, SigningKey, Validity, jcs};

const SCHEMA: &str = include_str!("../schemas/licence-types/business-licence.json");
const EXAMPLE: &str = include_str!("../schemas/licence-types/examples/business-licence.json");

struct World {
    types: LicenceTypes,
    code: Uscc,
    key: SigningKey,
    record: KeyRecord,
    request: IssueRequest,
}

fn world() -> World {
    let mut types = LicenceTypes::new();
    types.insert(LicenceType::from_schema(serde_json::from_str(SCHEMA).unwrap()).unwrap());
    let code = Uscc::parse("11440114MB2C00007U").unwrap();
    let key = SigningKey::from_seed(&[3; 32]);
    let record = KeyRecord {
        controller: organisation_urn(&code),
        public: key.public(),
        validity: Validity::from(datetime!(2026-01-01 0:00 UTC)),
        purpose: tongban_seal::KeyPurpose::Issue,
    };
    let request = IssueRequest {
        type_code: "11100000TB0000001K001".into(),
        type_version: None,
        holder: Holder {
            name: "广州花都鸿睿启航电子科技有限公司".into(),
            code: HolderCode::parse(HolderCodeType::Uscc, "91440114MA5TB0A01K").unwrap(),
        },
        data: serde_json::from_str(EXAMPLE).unwrap(),
        valid_from: None,
        valid_until: None,
        service_item: None,
        attachment: None,
    };
    World {
        types,
        code,
        key,
        record,
        request,
    }
}

fn issue_n(w: &World, n: u32) -> Vec<Value> {
    let issuer = Issuer {
        code: &w.code,
        name: "广州市花都区市场监督管理局",
        key: &w.key,
        key_record: &w.record,
    };
    let t = w.types.latest("11100000TB0000001K001").unwrap();
    (0..n)
        .map(|i| {
            let a = Allocation {
                serial: format!("20261125{i:08}"),
                version: 1,
                list_sequence: 0,
                status_index: i,
            };
            credential::issue(t, &w.request, &issuer, &a, datetime!(2026-11-25 02:00 UTC))
                .unwrap()
                .credential
        })
        .collect()
}

fn trust(w: &World) -> Trust {
    let mut trust = Trust::new();
    trust.types = w.types.clone();
    trust.add_key(w.record.clone());
    for purpose in [StatusPurpose::Revocation, StatusPurpose::Suspension] {
        let id = status::list_id(w.code.as_str(), purpose, 0);
        let list = status::sign_list(
            &id,
            &w.record.controller,
            "x",
            purpose,
            &Bitstring::new(),
            &w.key,
            &w.record,
            datetime!(2026-11-25 02:00 UTC),
            time::Duration::days(1),
        )
        .unwrap();
        trust.add_status_list(status::verify_list(&list, &trust).unwrap());
    }
    trust
}

fn benches(c: &mut Criterion) {
    let w = world();
    let licences = issue_n(&w, 1000);
    let trust = trust(&w);
    let options = VerifyOptions {
        now: datetime!(2026-11-26 0:00 UTC),
        attachments: None,
    };
    let text = licences[0].to_string();

    let mut g = c.benchmark_group("ed25519");
    let message = [0x5au8; 64];
    let sig = w.key.sign(&message);
    let public = w.key.public();
    g.bench_function("verify_strict_dalek", |b| {
        b.iter(|| assert!(public.verify_strict_dalek(std::hint::black_box(&message), &sig)))
    });
    g.bench_function("verify_strict_ours", |b| {
        b.iter(|| assert!(public.verify_strict(std::hint::black_box(&message), &sig)))
    });
    g.bench_function("sign", |b| {
        b.iter(|| w.key.sign(std::hint::black_box(&message)))
    });
    g.finish();

    let mut g = c.benchmark_group("licence");
    g.bench_function("verify", |b| {
        b.iter_batched(
            || licences[7].clone(),
            |l| assert!(tongban_licence::verify(&trust, l, options).valid),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("verify_from_bytes", |b| {
        b.iter(|| assert!(tongban_licence::verify_bytes(&trust, text.as_bytes(), options).valid))
    });
    g.throughput(Throughput::Elements(1000));
    g.sample_size(20);
    g.bench_function("verify_many_1000", |b| {
        b.iter_batched(
            || licences.clone(),
            |ls| {
                assert!(
                    tongban_licence::verify_many(&trust, ls, options)
                        .iter()
                        .all(|v| v.valid)
                )
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("issue");
    g.bench_function("sign_licence", |b| b.iter(|| issue_n(&w, 1)));
    g.finish();

    let mut g = c.benchmark_group("jcs");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("canonicalize_licence", |b| {
        b.iter(|| jcs::canonicalize(std::hint::black_box(&licences[3])))
    });
    g.finish();
}

criterion_group!(licence, benches);
criterion_main!(licence);
