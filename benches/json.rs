//! The strict JSON reader against `serde_json::from_slice`, on what the
//! exchange reads most: a `send` frame's body (the envelope of PROTOCOL
//! §4.3 in a frame), and the signed credential of the W3C eddsa-jcs-2022 vector.
//!
//! `cargo bench -p tongban-benches --bench json`; compare `serde_json/*`
//! with `strict/*` of the same run.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tongban_seal::json::from_slice_strict;

const VECTOR: &str = include_str!("../docs/vectors/envelope-1.json");
const CREDENTIAL: &str =
    include_str!("../crates/tongban-licence/tests/vectors/eddsa-jcs-2022/signed-credential.json");

fn inputs() -> [(&'static str, Vec<u8>); 2] {
    let vector: Value = serde_json::from_str(VECTOR).unwrap();
    let frame = json!({"op": "send", "envelope": vector["envelope"]});
    [
        ("send_frame", serde_json::to_vec(&frame).unwrap()),
        ("credential", CREDENTIAL.as_bytes().to_vec()),
    ]
}

fn parse(c: &mut Criterion) {
    for (name, bytes) in inputs() {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("serde_json", |b| {
            b.iter(|| serde_json::from_slice::<Value>(std::hint::black_box(&bytes)).unwrap())
        });
        g.bench_function("strict", |b| {
            b.iter(|| from_slice_strict(std::hint::black_box(&bytes)).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
