//! `tongban-bench batch`: batch signature verification against verifying
//! one by one, by batch size and torsion check (the default rounds, the
//! fewest rounds allowed, the exact check), with this machine's raw
//! Ed25519 rate from the same run. Where the default first beats one by one
//! is the break-even `tongban_seal::batch::MIN_BATCH` is set from. Build
//! with `--release`.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tongban_seal::batch::{
    self, BatchItem, BatchVerifier, MIN_BATCH, MIN_TORSION_ROUNDS, TORSION_ROUNDS,
};
use tongban_seal::{PublicKey, Signature, SigningKey};

use crate::measure::{contention, raw_verify_rate, round2, say, warn_if_debug};
use crate::output::print_json;

#[derive(Debug, Args)]
pub struct BatchBenchArgs {
    /// Batch sizes to measure, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "8,16,24,32,48,64,96,128,160,176,192,256,512,1000"
    )]
    sizes: Vec<usize>,
    /// Distinct signing keys in a batch (items take them in turn).
    #[arg(long, default_value_t = 4)]
    keys: u8,
    /// Seconds to spend on each size and method (split over three passes).
    #[arg(long, default_value_t = 0.6)]
    seconds: f64,
    /// Seconds to spend on each raw Ed25519 measurement.
    #[arg(long, default_value_t = 2.0)]
    raw_seconds: f64,
}

/// A way of verifying a batch, by name.
type Method = (&'static str, Box<dyn Fn(&[BatchItem<'_>]) -> Vec<bool>>);

/// The ways of verifying a batch that are measured.
fn methods() -> Vec<Method> {
    let rounds = BatchVerifier::with_rounds(TORSION_ROUNDS)
        .unwrap_or_default()
        .min_batch(1);
    let fewest = BatchVerifier::with_rounds(MIN_TORSION_ROUNDS)
        .unwrap_or_default()
        .min_batch(1);
    let exact = BatchVerifier::exact().min_batch(1);
    vec![
        ("oneByOne", Box::new(batch::verify_each)),
        ("rounds", Box::new(move |items| rounds.verify(items))),
        ("fewestRounds", Box::new(move |items| fewest.verify(items))),
        ("exact", Box::new(move |items| exact.verify(items))),
        ("verifyBatch", Box::new(batch::verify_batch)),
    ]
}

/// Items verified per second by each method at one batch size.
struct SizeFigures {
    size: usize,
    rates: Vec<(&'static str, f64)>,
}

impl SizeFigures {
    fn rate(&self, method: &str) -> f64 {
        self.rates
            .iter()
            .find(|(name, _)| *name == method)
            .map_or(0.0, |(_, rate)| *rate)
    }
}

pub async fn run(args: BatchBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("batch");
    say(
        json,
        "measuring raw Ed25519 verify_strict (1 and 2 threads) ...",
    );
    let raw_1 = raw_verify_rate(1, args.raw_seconds, true);
    let raw_2 = raw_verify_rate(2, args.raw_seconds, true);
    let keys: Vec<SigningKey> = (0..args.keys.max(1))
        .map(|i| SigningKey::from_seed(&[i.wrapping_add(1); 32]))
        .collect();
    let publics: Vec<PublicKey> = keys.iter().map(SigningKey::public).collect();
    let methods = methods();
    let mut figures = Vec::new();
    for &size in args.sizes.iter().filter(|n| **n > 0) {
        say(json, &format!("batches of {size} ..."));
        let signed: Vec<(Vec<u8>, Signature)> = (0..size)
            .map(|i| {
                let message = format!("licence proof {i:>52}").into_bytes();
                let signature = keys[i % keys.len()].sign(&message);
                (message, signature)
            })
            .collect();
        let items: Vec<BatchItem<'_>> = signed
            .iter()
            .enumerate()
            .map(|(i, (message, signature))| BatchItem {
                key: &publics[i % publics.len()],
                message,
                signature,
            })
            .collect();
        figures.push(measure_size(&items, &methods, args.seconds)?);
    }
    let raw_after = raw_verify_rate(1, args.raw_seconds, true);
    let mut warnings: Vec<String> = contention(raw_1, raw_after).into_iter().collect();
    if raw_2 < 1.6 * raw_1 {
        warnings.push(format!(
            "warning: the machine is contended: raw Ed25519 on 2 threads is {:.2} × 1 thread (below 1.6); run again on a quiet machine",
            raw_2 / raw_1
        ));
    }
    let raw = Raw {
        one: raw_1,
        two: raw_2,
        after: raw_after,
    };
    if json {
        return print_json(&to_json(&figures, &raw, &warnings));
    }
    print(&figures, &raw, &warnings);
    Ok(())
}

/// Each method's rate at one size: three interleaved passes, the best of
/// each kept (the least disturbed by other processes).
fn measure_size(
    items: &[BatchItem<'_>],
    methods: &[Method],
    seconds: f64,
) -> anyhow::Result<SizeFigures> {
    let budget = Duration::from_secs_f64(seconds / 3.0);
    let mut best = vec![0.0f64; methods.len()];
    for _pass in 0..3 {
        for ((name, verify), best) in methods.iter().zip(best.iter_mut()) {
            let started = Instant::now();
            let mut verified = 0usize;
            while verified == 0 || started.elapsed() < budget {
                let result = verify(items);
                anyhow::ensure!(
                    result.iter().all(|ok| *ok),
                    "{name} rejected an honest signature"
                );
                verified += result.len();
            }
            *best = best.max(verified as f64 / started.elapsed().as_secs_f64());
        }
    }
    Ok(SizeFigures {
        size: items.len(),
        rates: methods.iter().map(|(name, _)| *name).zip(best).collect(),
    })
}

/// This machine's raw Ed25519 rates: 1 thread, 2 threads, 1 thread at the end.
struct Raw {
    one: f64,
    two: f64,
    after: f64,
}

/// The smallest measured size from which on `method` beats one by one at
/// every larger measured size too.
fn break_even(figures: &[SizeFigures], method: &str) -> Option<usize> {
    let mut from = None;
    for f in figures.iter().rev() {
        if f.rate(method) > f.rate("oneByOne") {
            from = Some(f.size);
        } else {
            break;
        }
    }
    from
}

fn to_json(figures: &[SizeFigures], raw: &Raw, warnings: &[String]) -> Value {
    let sizes: Vec<Value> = figures
        .iter()
        .map(|f| {
            let per_sec: serde_json::Map<String, Value> = f
                .rates
                .iter()
                .map(|(name, rate)| ((*name).to_owned(), json!(rate.round())))
                .collect();
            let ratios = |to: f64| -> serde_json::Map<String, Value> {
                f.rates
                    .iter()
                    .map(|(name, rate)| ((*name).to_owned(), json!(round2(rate / to))))
                    .collect()
            };
            json!({"size": f.size, "perSec": per_sec, "vsOneByOne": ratios(f.rate("oneByOne")), "vsRaw": ratios(raw.one)})
        })
        .collect();
    json!({
        "torsionRounds": TORSION_ROUNDS,
        "fewestRounds": MIN_TORSION_ROUNDS,
        "minBatch": MIN_BATCH,
        "rawVerifyStrictPerSec": {"oneThread": raw.one.round(), "twoThreads": raw.two.round(), "oneThreadAtEnd": raw.after.round()},
        "sizes": sizes,
        "breakEven": {
            "rounds": break_even(figures, "rounds"),
            "fewestRounds": break_even(figures, "fewestRounds"),
            "exact": break_even(figures, "exact"),
        },
        "warnings": warnings,
    })
}

fn print(figures: &[SizeFigures], raw: &Raw, warnings: &[String]) {
    println!();
    println!(
        "items/s, one thread; ratio to one by one in brackets. rounds: {TORSION_ROUNDS} rounds (the default's), fewest: {MIN_TORSION_ROUNDS}, exact: the exact check, verify_batch: the default (one by one below {MIN_BATCH}, {TORSION_ROUNDS} rounds from there on)"
    );
    println!(
        "{:>6}  {:>8}  {:>15}  {:>15}  {:>15}  {:>15}",
        "size", "one by one", "rounds", "fewest", "exact", "verify_batch"
    );
    for f in figures {
        let one = f.rate("oneByOne");
        let cell = |m: &str| format!("{:>7.0} ({:.2})", f.rate(m), f.rate(m) / one);
        println!(
            "{:>6}  {:>10.0}  {:>15}  {:>15}  {:>15}  {:>15}",
            f.size,
            one,
            cell("rounds"),
            cell("fewestRounds"),
            cell("exact"),
            cell("verifyBatch")
        );
    }
    let show =
        |m: &str| break_even(figures, m).map_or("none measured".to_owned(), |n| n.to_string());
    println!(
        "break-even (faster than one by one from this size on): rounds {}, fewest {}, exact {}",
        show("rounds"),
        show("fewestRounds"),
        show("exact")
    );
    println!(
        "raw verify_strict         {:>9.0} /s (1 thread), {:.0} /s (2 threads, {:.2} ×), {:.0} /s at the end",
        raw.one,
        raw.two,
        raw.two / raw.one,
        raw.after
    );
    for w in warnings {
        eprintln!("{w}");
    }
}

#[cfg(test)]
mod tests {
    use super::{SizeFigures, break_even};

    fn at(size: usize, one: f64, rounds: f64) -> SizeFigures {
        SizeFigures {
            size,
            rates: vec![("oneByOne", one), ("rounds", rounds)],
        }
    }

    #[test]
    fn the_break_even_is_where_the_batch_stays_ahead() {
        // Ahead at 32 by noise, behind at 64, ahead from 128 on.
        let figures = [
            at(32, 100.0, 110.0),
            at(64, 100.0, 90.0),
            at(128, 100.0, 120.0),
            at(256, 100.0, 180.0),
        ];
        assert_eq!(break_even(&figures, "rounds"), Some(128));
        assert_eq!(break_even(&figures[..2], "rounds"), None);
        assert_eq!(break_even(&[], "rounds"), None);
    }
}
