//! The client's decisions that need no hub: back-off delays. (Everything
//! that talks to a hub is tested over QUIC in `tongban-hub`'s and
//! `tongban`'s tests.)
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tongban_client::Backoff;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `(attempt, random, expected delay)` for a back-off of 500 ms up to 30 s.
#[test]
fn delays_double_from_half_a_second_to_thirty_seconds_with_jitter() {
    let backoff = Backoff::default();
    let check = |attempt: u32, random: u64, expect: Duration| {
        assert_eq!(
            backoff.delay(attempt, random),
            expect,
            "attempt {attempt}, random {random}"
        );
    };
    // The least of each attempt is half its ceiling, the most the ceiling.
    check(0, 0, ms(250));
    check(0, u64::MAX, ms(500));
    check(1, 0, ms(500));
    check(1, u64::MAX, ms(1000));
    check(2, 1 << 63, ms(1500));
    check(5, u64::MAX, ms(16_000));
    // From the seventh attempt the ceiling is the cap.
    check(6, u64::MAX, ms(30_000));
    check(6, 0, ms(15_000));
    check(40, u64::MAX, ms(30_000));
    check(u32::MAX, 0, ms(15_000));
}

#[test]
fn attempts_are_counted_until_a_reset() {
    let mut backoff = Backoff::new(ms(100), ms(1000));
    let delays: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
    assert_eq!(backoff.attempts(), 6);
    for (n, d) in delays.iter().enumerate() {
        let ceiling = ms(100 * (1 << n)).min(ms(1000));
        assert!(*d >= ceiling / 2 && *d <= ceiling, "attempt {n}: {d:?}");
    }
    backoff.reset();
    assert_eq!(backoff.attempts(), 0);
    assert!(backoff.next_delay() <= ms(100));
    // A cap below the first delay is raised to it.
    assert_eq!(Backoff::new(ms(800), ms(10)).delay(3, u64::MAX), ms(800));
}
