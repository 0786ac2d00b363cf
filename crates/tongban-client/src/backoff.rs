//! Delays between attempts to reconnect: exponential, capped, jittered.
//!
//! By default 0.5 s, doubling to 30 s, with jitter.

use std::time::Duration;

/// The first delay of a [`Backoff::default`].
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// The longest delay of a [`Backoff::default`].
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Delays between attempts: the n-th (from 0) is drawn from the upper half
/// of `min(initial × 2ⁿ, max)`, so that clients cut off together (a hub
/// restart) do not all come back at the same instant, and none waits
/// longer than `max`. [`reset`](Backoff::reset) once a connection has
/// proved itself.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX)
    }
}

impl Backoff {
    /// Delays from `initial` doubling up to `max` (at least `initial`).
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The delay before the next attempt; counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.delay(self.attempt, random());
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Attempts counted since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts again from `initial`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before attempt `attempt` (from 0), with `random` spread
    /// evenly over `u64`: from half the ceiling (at 0) to the ceiling (at
    /// `u64::MAX`).
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << attempt.min(31))
            .min(self.max);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_nanos();
        let extra = spread * u128::from(random) / u128::from(u64::MAX);
        half + Duration::from_nanos(u64::try_from(extra).unwrap_or(u64::MAX))
    }
}

/// A random number for the jitter; the clock's nanoseconds if the system's
/// source fails (the jitter needs no secrecy).
fn random() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()))
    })
}
