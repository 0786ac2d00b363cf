//! Fair shares of the hub's limited capacities: connections, memory for
//! frames and blobs, records pages, service answers, pulls and peers'
//! requests. Each capacity has a hub-wide total and a cap per party (a
//! department, or a peer hub); taking more than either is refused at once
//! with `BUSY` naming the limit, never queued, so that no party can make
//! another wait by holding what it took.
//!
//! The decision ([`admit`]) is plain code; [`Shares`] keeps the counts
//! behind a lock and hands out [`Share`]s that give back what they hold
//! when dropped.
//!
//! Every hub-wide limit is one: connections, memory for frames being read
//! (`base::wire`), memory for blobs (uploads, downloads, checks of payloads by
//! reference), records pages, service answers, pulls across regions, peers'
//! requests, and other regions' requests waiting on providers here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tongban_proto::{ErrorCode, ProtoError};

/// A capacity: a hub-wide total and a cap per party.
#[derive(Clone)]
pub(crate) struct Shares {
    inner: Arc<Inner>,
}

struct Inner {
    /// What is shared, for refusals ("blob memory").
    name: &'static str,
    /// What it is counted in ("bytes", "connections").
    unit: &'static str,
    limits: Limits,
    state: Mutex<State>,
}

/// The two limits of a capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Hub-wide.
    pub total: u64,
    /// Per party (at most the total).
    pub per_party: u64,
}

/// What is taken, in all and by each party holding some.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub used: u64,
    pub by_party: HashMap<String, u64>,
}

/// Why a request for more was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The party would hold more than its cap.
    PartyFull { held: u64 },
    /// The hub-wide total would be exceeded.
    HubFull,
}

/// Whether `party`, holding what `state` says, may take `more`.
pub(crate) fn admit(state: &State, limits: Limits, party: &str, more: u64) -> Result<(), Refusal> {
    let held = state.by_party.get(party).copied().unwrap_or(0);
    if held.saturating_add(more) > limits.per_party {
        return Err(Refusal::PartyFull { held });
    }
    if state.used.saturating_add(more) > limits.total {
        return Err(Refusal::HubFull);
    }
    Ok(())
}

impl Shares {
    /// A capacity of `total` with at most `per_party` for one party (a
    /// party may always take up to the smaller of the two).
    pub fn new(name: &'static str, unit: &'static str, total: u64, per_party: u64) -> Shares {
        let total = total.max(1);
        Shares {
            inner: Arc::new(Inner {
                name,
                unit,
                limits: Limits {
                    total,
                    per_party: per_party.clamp(1, total),
                },
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Takes `n` for `party`, or refuses with `BUSY` at once. A request
    /// for more than one party may ever hold asks for exactly that much
    /// (e.g. a blob larger than a department's share of blob memory takes
    /// the whole share).
    pub fn try_acquire(&self, party: &str, n: u64) -> Result<Share, ProtoError> {
        let n = n.min(self.inner.limits.per_party);
        self.inner.take(party, n)?;
        Ok(Share {
            inner: Arc::clone(&self.inner),
            party: party.to_owned(),
            held: n,
        })
    }

    /// An empty share of `party`, to grow with [`Share::resize`].
    pub fn empty(&self, party: &str) -> Share {
        Share {
            inner: Arc::clone(&self.inner),
            party: party.to_owned(),
            held: 0,
        }
    }

    /// What `party` holds now.
    #[cfg(test)]
    pub fn held_by(&self, party: &str) -> u64 {
        self.inner.lock().by_party.get(party).copied().unwrap_or(0)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, party: &str, n: u64) -> Result<(), ProtoError> {
        if n == 0 {
            return Ok(());
        }
        let mut state = self.lock();
        match admit(&state, self.limits, party, n) {
            Ok(()) => {
                state.used += n;
                *state.by_party.entry(party.to_owned()).or_default() += n;
                Ok(())
            }
            Err(r) => Err(self.busy(party, n, r)),
        }
    }

    fn give_back(&self, party: &str, n: u64) {
        if n == 0 {
            return;
        }
        let mut state = self.lock();
        state.used = state.used.saturating_sub(n);
        if let Some(held) = state.by_party.get_mut(party) {
            *held = held.saturating_sub(n);
            if *held == 0 {
                state.by_party.remove(party);
            }
        }
    }

    fn busy(&self, party: &str, n: u64, why: Refusal) -> ProtoError {
        let Inner {
            name, unit, limits, ..
        } = self;
        let message = match why {
            Refusal::PartyFull { held } => format!(
                "{name}: {party} holds {held} of its share of {} {unit}; {n} more refused: retry when some of its operations have finished",
                limits.per_party
            ),
            Refusal::HubFull => format!(
                "{name}: all {} {unit} of the hub are in use; {n} more refused: retry later",
                limits.total
            ),
        };
        ProtoError::new(ErrorCode::Busy, message)
    }
}

/// What one party holds of a capacity; given back when dropped.
pub(crate) struct Share {
    inner: Arc<Inner>,
    party: String,
    held: u64,
}

impl Share {
    /// What it holds.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Holds exactly `n`: gives back the difference, or takes it (refused
    /// with `BUSY` like [`Shares::try_acquire`], holding what it held).
    pub fn resize(&mut self, n: u64) -> Result<(), ProtoError> {
        if n > self.held {
            self.inner.take(&self.party, n - self.held)?;
        } else {
            self.inner.give_back(&self.party, self.held - n);
        }
        self.held = n;
        Ok(())
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.inner.give_back(&self.party, self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(used: u64, parties: &[(&str, u64)]) -> State {
        State {
            used,
            by_party: parties.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect(),
        }
    }

    #[test]
    fn admission() {
        let limits = Limits {
            total: 10,
            per_party: 4,
        };
        let check = |s: State, party: &str, more: u64, expect: Result<(), Refusal>| {
            assert_eq!(
                admit(&s, limits, party, more),
                expect,
                "{s:?} {party} +{more}"
            );
        };
        check(state(0, &[]), "a", 4, Ok(()));
        check(state(0, &[]), "a", 5, Err(Refusal::PartyFull { held: 0 }));
        check(state(3, &[("a", 3)]), "a", 1, Ok(()));
        check(
            state(3, &[("a", 3)]),
            "a",
            2,
            Err(Refusal::PartyFull { held: 3 }),
        );
        // Others are unaffected by a party at its cap ...
        check(state(4, &[("a", 4)]), "b", 4, Ok(()));
        // ... until the hub-wide total is reached.
        check(
            state(8, &[("a", 4), ("b", 4)]),
            "c",
            3,
            Err(Refusal::HubFull),
        );
        check(state(8, &[("a", 4), ("b", 4)]), "c", 2, Ok(()));
    }

    #[test]
    fn shares_are_given_back_when_dropped_and_resized() {
        let s = Shares::new("test budget", "units", 10, 4);
        let a = s.try_acquire("a", 3).unwrap();
        let e = s.try_acquire("a", 2).err().unwrap();
        assert_eq!(e.code, ErrorCode::Busy);
        assert!(
            e.message
                .starts_with("test budget: a holds 3 of its share of 4 units"),
            "{e}"
        );
        // More than a party may ever hold asks for its whole share.
        let b = s.try_acquire("b", 100).unwrap();
        assert_eq!(b.held(), 4);
        drop(a);
        assert_eq!(s.held_by("a"), 0);
        let mut grow = s.empty("a");
        grow.resize(4).unwrap();
        assert_eq!(grow.resize(5).unwrap_err().code, ErrorCode::Busy);
        assert_eq!(grow.held(), 4);
        grow.resize(1).unwrap();
        assert_eq!(s.held_by("a"), 1);
        let c = s.try_acquire("c", 4).unwrap();
        let hub_full = s.try_acquire("d", 2).map(|_| ()).unwrap_err();
        assert!(
            hub_full.message.contains("all 10 units of the hub"),
            "{hub_full}"
        );
        drop((grow, b, c));
        assert_eq!(s.held_by("b"), 0);
        assert!(s.try_acquire("d", 4).is_ok());
    }
}
