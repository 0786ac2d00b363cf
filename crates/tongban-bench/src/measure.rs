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

/// A warning when this machine's raw rate moved by more than a fifth
/// between the start and the end of a run: another process took cores
/// meanwhile (the machine is shared), so the figures between are not
/// comparable with each other.
pub fn contention(raw_before: f64, raw_after: f64) -> Option<String> {
    let (low, high) = if raw_before < raw_after {
        (raw_before, raw_after)
    } else {
        (raw_after, raw_before)
    };
    (high > 0.0 && low / high < 0.8).then(|| {
        format!(
            "warning: the machine was contended: raw Ed25519 went from {raw_before:.0}/s to {raw_after:.0}/s during the run; run again on a quiet machine"
        )
    })
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

#[cfg(test)]
mod tests {
    use super::contention;

    #[test]
    fn a_run_is_contended_when_the_raw_rate_moved_by_a_fifth() {
        assert!(contention(30_000.0, 29_000.0).is_none());
        assert!(contention(30_000.0, 20_000.0).is_some());
        assert!(contention(20_000.0, 30_000.0).is_some());
        assert!(contention(0.0, 0.0).is_none());
    }
}
