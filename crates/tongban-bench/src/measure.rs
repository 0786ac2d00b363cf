//! What every benchmark shares: this machine's raw Ed25519 rate (the
//! reference each figure is held against), quantiles, and the words the
//! benchmarks all say. Below every benchmark module; imports none of them.

use std::time::{Duration, Instant};

use tongban_seal::SigningKey;
use tongban_store::Durability;

/// Figures from a debug build say nothing about the hub: said on standard
/// error before the `command` benchmark starts.
pub fn warn_if_debug(command: &str) {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; figures are meaningless. Use `cargo run --release -p tongban-bench -- {command}`."
        );
    }
}

/// What the benchmark is doing, on standard error; nothing with `--json`.
pub fn say(json: bool, what: &str) {
    if !json {
        eprintln!("{what}");
    }
}

/// `--durability power|process`: fsync every commit, or survive a killed process.
pub fn durability(name: &str) -> Durability {
    if name == "process" {
        Durability::ProcessCrash
    } else {
        Durability::PowerLoss
    }
}

/// `x` to two decimals, as ratios are reported.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The `p` quantile of sorted durations, in milliseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Strict verifications per second over `seconds`, on `threads` threads,
/// with the library's `verify_strict` (`dalek`) or ours (same acceptance rule).
pub fn raw_verify_rate(threads: usize, seconds: f64, dalek: bool) -> f64 {
    let key = SigningKey::from_seed(&[7; 32]);
    let public = key.public();
    let message = [0x5au8; 64];
    let signature = key.sign(&message);
    let deadline = Duration::from_secs_f64(seconds);
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let started = Instant::now();
                    let mut n = 0u64;
                    while started.elapsed() < deadline {
                        for _ in 0..64 {
                            let m = std::hint::black_box(&message);
                            let ok = if dalek {
                                public.verify_strict_dalek(m, &signature)
                            } else {
                                public.verify_strict(m, &signature)
                            };
                            n += u64::from(ok);
                        }
                    }
                    (n, started.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map(|(n, e)| (n as f64 / e.as_secs_f64()) as u64)
                    .unwrap_or(0)
            })
            .sum()
    });
    total as f64
}
