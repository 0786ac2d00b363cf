//! Rate limits per party: a token bucket each, refilled continuously.
//!
//! Plain code with the time passed in, so tests drive it without sleeping;
//! the hub keeps one [`RateLimit`] per kind of limited work (licence reads)
//! and asks it with [`RateLimit::take`] before doing the work.
//!
//! The limited work is a read of a holder's licences: per department
//! (`hub.case.licences`, `hub.region.licences`) and per department of a peer
//! region (`hub.peer.licences`), `RATE_LIMITED` beyond
//! `ServeConfig::licence_reads_per_minute` after a burst of
//! `licence_read_burst`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most parties remembered at once. Parties are authenticated departments
/// and the departments of peer regions (checked against their region's
/// trust list), so the bound is only a guard: beyond it, buckets that have
/// refilled completely are forgotten (forgetting a full bucket changes
/// nothing), and if none has, the party is refused until one has.
const MAX_PARTIES: usize = 10_000;

/// A limit of `per_minute` units of work per party, with bursts of up to
/// `burst` at once.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Refused: the party has used its share; the next unit is due after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limited {
    pub retry_after: Duration,
}

impl RateLimit {
    /// `per_minute` 0 means no limit.
    pub fn new(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_minute,
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one unit of `party`'s share at `now`.
    pub fn take(&self, party: &str, now: Instant) -> Result<(), Limited> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let burst = f64::from(self.burst);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(party) && buckets.len() >= MAX_PARTIES {
            buckets.retain(|_, b| refilled(*b, now, rate, burst) < burst);
            if buckets.len() >= MAX_PARTIES {
                return Err(Limited {
                    retry_after: Duration::from_secs_f64(1.0 / rate),
                });
            }
        }
        let bucket = buckets.entry(party.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = refilled(*bucket, now, rate, burst);
        if tokens < 1.0 {
            *bucket = Bucket { tokens, at: now };
            return Err(Limited {
                retry_after: Duration::from_secs_f64((1.0 - tokens) / rate),
            });
        }
        *bucket = Bucket {
            tokens: tokens - 1.0,
            at: now,
        };
        Ok(())
    }

    /// The limit, for messages.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }
}

/// Takes one licence read of `party`'s share, or refuses it with the
/// service code `RATE_LIMITED` saying when the next is due.
pub(crate) fn licence_read(
    limit: &RateLimit,
    party: &str,
) -> Result<(), tongban_proto::ProtoError> {
    limit.take(party, Instant::now()).map_err(|l| {
        tongban_proto::ProtoError::service(
            "RATE_LIMITED",
            format!(
                "{party} has made its {} licence reads of the minute; the next is possible in {} ms",
                limit.per_minute(),
                l.retry_after.as_millis().max(1)
            ),
        )
    })
}

fn refilled(b: Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + elapsed * rate).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limit = RateLimit::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.take("a", t0), Ok(()));
        }
        let refused = limit.take("a", t0).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // Another party is not affected.
        assert_eq!(limit.take("b", t0), Ok(()));
        // One a second comes back, and no more than the burst accumulates.
        assert_eq!(limit.take("a", t0 + Duration::from_millis(1_000)), Ok(()));
        assert!(limit.take("a", t0 + Duration::from_millis(1_500)).is_err());
        let later = t0 + Duration::from_secs(3_600);
        for _ in 0..3 {
            assert_eq!(limit.take("a", later), Ok(()));
        }
        assert!(limit.take("a", later).is_err());
    }

    #[test]
    fn zero_means_unlimited() {
        let limit = RateLimit::new(0, 1);
        let t0 = Instant::now();
        for _ in 0..1_000 {
            assert_eq!(limit.take("a", t0), Ok(()));
        }
    }

    #[test]
    fn the_party_table_is_bounded() {
        let limit = RateLimit::new(60, 1);
        let t0 = Instant::now();
        for i in 0..MAX_PARTIES {
            assert_eq!(limit.take(&format!("p{i}"), t0), Ok(()));
        }
        // Every bucket is empty: a new party waits until one refills.
        assert!(limit.take("new", t0).is_err());
        // A second later every bucket is full again and forgotten.
        assert_eq!(limit.take("new", t0 + Duration::from_secs(1)), Ok(()));
        let len = limit
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        assert_eq!(len, 1);
    }
}
