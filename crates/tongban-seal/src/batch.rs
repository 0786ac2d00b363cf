//! Batch verification of Ed25519 signatures that agrees with strict
//! verification.
//!
//! # Why not `ed25519_dalek::verify_batch` as it is
//!
//! A batch equation checks one random linear combination of all the
//! verification equations. Strict single verification (`verify_strict`)
//! rejects more than any batch equation does:
//!
//! 1. small-order `R` and weak (small-order) keys;
//! 2. non-canonical encodings of `R` (strict compares the encoding of the
//!    recomputed `R` byte for byte);
//! 3. an `R` with a torsion component: strict is cofactorless, so `R` must be
//!    exactly `[s]B − [k]A`; a batch equation only sees the torsion part of
//!    `R` through a random multiplier and lets it through whenever that
//!    multiplier kills it (probability ½ for an order-2 component). In
//!    `ed25519_dalek::verify_batch` the multipliers are derived from the
//!    inputs, so a signer can grind messages until it happens.
//!
//! A torsion component in `R` can only be put there by the holder of the
//! private key, but a verifier that accepts what another conforming verifier
//! rejects is a split view of the truth, which is exactly what licences must
//! not have. This module closes each gap:
//!
//! * keys: [`PublicKey`] refuses small-order keys and keys with a torsion
//!   component at construction. That is deliberately stricter than
//!   ed25519-dalek, whose `verify_strict` refuses only small-order keys: a
//!   key made by any Ed25519 implementation is `[a]B` and torsion-free, so
//!   only a crafted key is refused, and with torsion-free keys every
//!   `[s]B − [k]A` is torsion-free too, which the torsion check below needs;
//! * `s` canonical, `R` canonical and not of small order: checked per item,
//!   deterministically, before the equation;
//! * torsion in `R`: after the equation holds, random subset sums of the
//!   `R` are multiplied by the group order ([`TorsionCheck::Rounds`], the
//!   default), or every `R` is ([`TorsionCheck::Exact`]).
//!
//! # The bound and its arithmetic
//!
//! Write each candidate's `R_i = P_i + T_i` with `P_i` in the prime-order
//! subgroup and `T_i` in the 8-torsion, and `D_i = [s_i]B − [k_i]A_i − P_i`
//! (prime order, since keys are torsion-free). Strict verification accepts
//! item `i` exactly when `D_i = 0` and `T_i = 0`. The equation is
//! `Σ z_i·([s_i]B − [k_i]A_i − R_i) = Σ z_i·D_i − Σ z_i·T_i = 0`, with
//! independent uniform 128-bit `z_i`; the two sums lie in subgroups that
//! meet only in 0, so both must vanish. (The multiplier of `R_i` is the
//! scalar −z_i, the integer ℓ − z_i, which acts on `T_i` through its
//! residue modulo 8: as uniform as z_i's.)
//!
//! * Some `D_j ≠ 0`: fix every `z_i` but `z_j`; the 2^128 values of `z_j`
//!   are distinct modulo the group order ℓ > 2^252 and `D_j` has order ℓ, so
//!   at most one of them makes the sum vanish: probability ≤ 2^−128.
//! * Every `D_i = 0`, some `T_j ≠ 0`: a torsion round draws independent
//!   uniform bits `b_i` and checks `[ℓ](Σ b_i·R_i) = [ℓ](Σ b_i·T_i) = 0`
//!   (ℓ is odd, so `[ℓ]` is a bijection on the torsion). Fixing every bit
//!   but `b_j`, the two sums `S` and `S + T_j` cannot both be 0, so a round
//!   misses with probability ≤ ½, whatever the signer chose. The equation
//!   itself misses `Σ z_i·T_i ≠ 0` with probability ≤ ½ too: fixing every
//!   multiplier but `z_j`, whose residue modulo 8 is uniform, multiplying
//!   `T_j ≠ 0` by it gives each point at most 4 times in 8. Rounds and multipliers are independent, so `m` rounds miss
//!   with probability ≤ 2^−(m+1).
//!
//! So a call on a batch holding an item strict verification rejects returns
//! `true` for it with probability at most max(2^−128, 2^−(m+1)): 2^−128 with
//! the default [`TORSION_ROUNDS`] = 127. The randomness comes from the
//! operating system after every input is fixed, and each call draws afresh,
//! so a signer who retries gets a fresh 2^−128 chance per call, the same
//! kind of bound every batch verifier carries for its linear combination.
//! [`BatchVerifier::with_rounds`] refuses fewer than [`MIN_TORSION_ROUNDS`]
//! (2^−100). The exact check leaves only the equation's 2^−128.
//!
//! No cheaper check can do better per multiplication: every test of a
//! combination of torsion components by one multiplication by ℓ sees one
//! element of the cyclic 8-torsion, and an adversary choosing order-2
//! components makes any such test miss with probability ½; a bit of
//! assurance costs one multiplication, by rounds or per item.
//!
//! # Cost
//!
//! A multiplication by ℓ costs about nine tenths of a strict verification
//! (the same 253 doublings; ℓ − 1 = 2^252 + a 125-bit number is sparse in
//! NAF form, and nothing is hashed or compressed). The exact check does
//! one per item; with the item's share of the equation that comes to what
//! strict verification costs (0.95–1.03 × one by one, `tongban-bench
//! batch`), so it buys nothing over verifying one by one. A round costs
//! one such multiplication plus a subset sum: the subset sums are done a
//! few rounds at a time, each item going into one of 2^w buckets by its w
//! round bits (one addition per item), each round's sum then read off the
//! buckets (about 2^(w+1) additions for w rounds), w chosen for the batch
//! size. The rounds are thus a fixed cost, about 115 strict verifications,
//! that a large batch amortises: a batch of 1,000 verified 2.3 × as fast
//! as one by one, at about a tenth more per item than 48 rounds cost. Batches below
//! [`MIN_BATCH`], the measured break-even (176 items, 1.02 × one by one;
//! 0.97 × at 160), are verified one by one.
//!
//! When the equation fails, or the operating system gives no randomness,
//! every item is checked with strict verification, so that the result names
//! exactly the bad ones.
//!
//! Items signed by the same key share one point in the multi-scalar
//! multiplication (the coefficients of `A` are summed), which is where most
//! of the speed-up over `ed25519_dalek::verify_batch` comes from when one
//! issuer signed many licences.
//!
//! The test `batch_vs_strict` feeds crafted inputs (small-order and
//! mixed-order `R`, cancelling torsion pairs, torsion spread over several
//! keys, non-canonical `s` and `R`, weak and torsion keys) to both paths
//! and shows `ed25519_dalek::verify_batch` accepting one of them; the unit
//! tests below measure the per-round catch rate against its binomial bound.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::key::{PublicKey, Signature};

/// Torsion rounds by default: with the equation's own chance, a crafted
/// torsion component gets through with probability at most 2^−128.
pub const TORSION_ROUNDS: usize = 127;

/// Fewest torsion rounds [`BatchVerifier::with_rounds`] accepts (2^−100).
pub const MIN_TORSION_ROUNDS: usize = 99;

/// Smallest batch for which the batch equation is used by default: below
/// it, verifying one by one was faster (`tongban-bench batch`).
pub const MIN_BATCH: usize = 176;

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// The signer's key.
    pub key: &'a PublicKey,
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// How torsion in `R` is ruled out once the batch equation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorsionCheck {
    /// This many independent random subset sums of the `R`, each multiplied
    /// by the group order: misses with probability at most 2^−(rounds+1).
    Rounds(usize),
    /// Every `R` multiplied by the group order: exact, and about as costly
    /// per item as strict verification.
    Exact,
}

/// Refused batch verification parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchParamError {
    /// Fewer torsion rounds than [`MIN_TORSION_ROUNDS`].
    #[error(
        "{0} torsion rounds is fewer than the {MIN_TORSION_ROUNDS} that bound a miss by 2^-100"
    )]
    TooFewRounds(usize),
}

impl BatchParamError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            BatchParamError::TooFewRounds(_) => "BATCH_TOO_FEW_ROUNDS",
        }
    }
}

/// Batch verification with its parameters; [`verify_batch`] uses the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchVerifier {
    torsion: TorsionCheck,
    min_batch: usize,
}

impl Default for BatchVerifier {
    fn default() -> Self {
        BatchVerifier {
            torsion: TorsionCheck::Rounds(TORSION_ROUNDS),
            min_batch: MIN_BATCH,
        }
    }
}

impl BatchVerifier {
    /// `rounds` torsion rounds (at least [`MIN_TORSION_ROUNDS`]).
    pub fn with_rounds(rounds: usize) -> Result<Self, BatchParamError> {
        if rounds < MIN_TORSION_ROUNDS {
            return Err(BatchParamError::TooFewRounds(rounds));
        }
        Ok(BatchVerifier {
            torsion: TorsionCheck::Rounds(rounds),
            ..Self::default()
        })
    }

    /// The exact torsion check instead of rounds.
    pub fn exact() -> Self {
        BatchVerifier {
            torsion: TorsionCheck::Exact,
            ..Self::default()
        }
    }

    /// The same, using the batch equation from `min_batch` items on
    /// (smaller batches are verified one by one).
    pub fn min_batch(self, min_batch: usize) -> Self {
        BatchVerifier { min_batch, ..self }
    }

    /// How torsion is ruled out.
    pub fn torsion(&self) -> TorsionCheck {
        self.torsion
    }

    /// Verifies every item; `result[i]` is what strict verification says of
    /// item `i`, except with the probability in the module documentation.
    pub fn verify(&self, items: &[BatchItem<'_>]) -> Vec<bool> {
        self.verify_with(items, &mut |bytes| getrandom::fill(bytes).is_ok())
    }

    /// [`Self::verify`] drawing its randomness from `fill` (false: none to
    /// be had, and every item is verified one by one).
    fn verify_with(
        &self,
        items: &[BatchItem<'_>],
        fill: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Vec<bool> {
        if items.len() < self.min_batch.max(1) {
            return verify_each(items);
        }
        let mut result = vec![false; items.len()];
        let mut candidates = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(prepared) = prepare(item) {
                candidates.push((i, prepared));
            }
        }
        if candidates.is_empty() {
            return result;
        }
        let all_hold = match random_bytes(self.torsion, candidates.len(), fill) {
            Some(random) => equation_and_torsion_hold(self.torsion, items, &candidates, &random),
            None => false,
        };
        for (i, _) in &candidates {
            result[*i] = all_hold || {
                let item = &items[*i];
                item.key.verify_strict(item.message, item.signature)
            };
        }
        result
    }
}

/// Every random byte one call needs for `n` candidates, drawn at once after
/// the inputs are fixed; `None` when `fill` failed.
fn random_bytes(
    torsion: TorsionCheck,
    n: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> bool,
) -> Option<Vec<u8>> {
    let rounds = match torsion {
        TorsionCheck::Rounds(rounds) => rounds,
        TorsionCheck::Exact => 0,
    };
    let mut random = vec![0u8; 16 * n + n * rounds.div_ceil(bucket_bits(n))];
    fill(&mut random).then_some(random)
}

fn equation_and_torsion_hold(
    torsion: TorsionCheck,
    items: &[BatchItem<'_>],
    candidates: &[(usize, Prepared)],
    random: &[u8],
) -> bool {
    let (z_bytes, round_bytes) = random.split_at(16 * candidates.len());
    if !equation_holds(items, candidates, z_bytes) {
        return false;
    }
    let rs: Vec<EdwardsPoint> = candidates.iter().map(|(_, p)| p.r).collect();
    match torsion {
        TorsionCheck::Rounds(rounds) => torsion_rounds_hold(&rs, rounds, round_bytes),
        TorsionCheck::Exact => rs.iter().all(times_order_is_identity),
    }
}

/// Verifies every item with the default [`BatchVerifier`]; `result[i]` is
/// what strict verification says of item `i`.
///
/// The result equals `items.iter().map(|i| i.key.verify_strict(i.message, i.signature))`,
/// except with probability at most 2^−128 for a batch that holds a
/// deliberately crafted signature (see the module documentation).
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<bool> {
    BatchVerifier::default().verify(items)
}

/// Strict verification of each item in turn.
pub fn verify_each(items: &[BatchItem<'_>]) -> Vec<bool> {
    items
        .iter()
        .map(|item| item.key.verify_strict(item.message, item.signature))
        .collect()
}

/// Per-item data for the equation.
struct Prepared {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// The per-item deterministic checks; `None` means strict would reject.
fn prepare(item: &BatchItem<'_>) -> Option<Prepared> {
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*item.signature.s_bytes()))?;
    let r_bytes = item.signature.r_bytes();
    // Non-canonical encodings (y ≥ p) decompress too; strict rejects them.
    if !y_is_canonical(r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(*r_bytes).decompress()?;
    // Small-order points include the only ones whose x is 0, where a set
    // sign bit would be a second non-canonical encoding.
    if r.is_small_order() {
        return None;
    }
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(item.key.as_bytes());
    h.update(item.message);
    let digest: [u8; 64] = h.finalize().into();
    let k = Scalar::from_bytes_mod_order_wide(&digest);
    Some(Prepared { r, s, k })
}

/// Whether the 255-bit y of an encoding is below p = 2^255 − 19.
fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    // y ≥ p only when bits 254..5 are all ones: byte 31 (sans sign bit) is
    // 0x7f, bytes 30..=1 are 0xff, and byte 0 is at least 0xed.
    !(bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

/// `Σ z_i·([s_i]B − R_i − [k_i]A_i) = 0`, with the `A` terms of the same key
/// merged; `z_bytes` holds 16 random bytes per candidate.
fn equation_holds(
    items: &[BatchItem<'_>],
    candidates: &[(usize, Prepared)],
    z_bytes: &[u8],
) -> bool {
    let n = candidates.len();
    let mut b_coefficient = Scalar::ZERO;
    let mut scalars: Vec<Scalar> = Vec::with_capacity(n + 8);
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(n + 8);
    let mut key_slots: HashMap<[u8; 32], usize> = HashMap::new();
    let mut key_scalars: Vec<Scalar> = Vec::new();
    let mut key_points: Vec<EdwardsPoint> = Vec::new();
    for ((index, prepared), z) in candidates.iter().zip(z_bytes.chunks_exact(16)) {
        let mut wide = [0u8; 32];
        wide[..16].copy_from_slice(z);
        let z = Scalar::from_bytes_mod_order(wide);
        b_coefficient += z * prepared.s;
        scalars.push(-z);
        points.push(prepared.r);
        let key = items[*index].key;
        let slot = *key_slots.entry(key.to_bytes()).or_insert_with(|| {
            key_scalars.push(Scalar::ZERO);
            key_points.push(key.dalek().to_edwards());
            key_points.len() - 1
        });
        key_scalars[slot] -= z * prepared.k;
    }
    scalars.push(b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);
    scalars.extend(key_scalars);
    points.extend(key_points);
    EdwardsPoint::vartime_multiscalar_mul(scalars.iter(), points.iter()).is_identity()
}

/// Rounds per bucket pass for `n` points: the w in 1..=8 with the fewest
/// additions per round, (n + 2^(w+1)) / w.
fn bucket_bits(n: usize) -> usize {
    let cost = |w: usize| (n + (2 << w), w);
    (1..=8)
        .map(cost)
        .min_by(|(a, wa), (b, wb)| (a * wb).cmp(&(b * wa)))
        .map_or(1, |(_, w)| w)
}

/// `rounds` torsion rounds over `points`: each round is the sum of a random
/// subset of the points, which must be torsion-free. `random` holds one byte
/// per point for every [`bucket_bits`] rounds (its low bits say which of
/// those rounds' subsets the point is in); too few bytes count as a miss.
fn torsion_rounds_hold(points: &[EdwardsPoint], rounds: usize, random: &[u8]) -> bool {
    let w = bucket_bits(points.len());
    let mut passes = random.chunks_exact(points.len());
    let mut left = rounds;
    while left > 0 {
        let bits = w.min(left);
        left -= bits;
        let Some(pattern) = passes.next() else {
            return false;
        };
        let mask = (1usize << bits) - 1;
        let mut buckets = vec![EdwardsPoint::identity(); 1 << bits];
        for (point, byte) in points.iter().zip(pattern) {
            buckets[usize::from(*byte) & mask] += point;
        }
        if !bucket_bit_sums(buckets).iter().all(times_order_is_identity) {
            return false;
        }
    }
    true
}

/// For each bit of a bucket's index, the sum of the buckets whose index has
/// that bit set (highest bit first), in about 2·len additions: the upper
/// half is summed, then folded onto the lower half, and so on.
fn bucket_bit_sums(mut buckets: Vec<EdwardsPoint>) -> Vec<EdwardsPoint> {
    let mut sums = Vec::new();
    let mut len = buckets.len();
    while len > 1 {
        let half = len / 2;
        let mut upper = EdwardsPoint::identity();
        for i in 0..half {
            let point = buckets[half + i];
            upper += point;
            buckets[i] += point;
        }
        sums.push(upper);
        len = half;
    }
    sums
}

/// Whether `[ℓ]P` is the identity, that is `P` has no torsion component.
fn times_order_is_identity(point: &EdwardsPoint) -> bool {
    // [ℓ]P = [ℓ−1]P + P.
    let minus_one = -Scalar::ONE;
    let times_order =
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&minus_one, point, &Scalar::ZERO) + point;
    times_order.is_identity()
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::constants::EIGHT_TORSION;

    use super::*;
    use crate::key::SigningKey;

    /// A fixed-seed byte stream (SHA-512 in counter mode): the same
    /// "random" bytes on every run, so the rate tests below are exact
    /// counts that fail when the code changes what it catches.
    struct Seeded {
        seed: u64,
        counter: u64,
    }

    impl Seeded {
        fn new(seed: u64) -> Self {
            Seeded { seed, counter: 0 }
        }

        fn fill(&mut self, bytes: &mut [u8]) -> bool {
            for chunk in bytes.chunks_mut(64) {
                let mut h = Sha512::new();
                h.update(self.seed.to_le_bytes());
                h.update(self.counter.to_le_bytes());
                self.counter += 1;
                let block: [u8; 64] = h.finalize().into();
                chunk.copy_from_slice(&block[..chunk.len()]);
            }
            true
        }
    }

    /// Torsion-free points [7i + 3]B.
    fn clean_points(n: usize) -> Vec<EdwardsPoint> {
        (0..n as u64)
            .map(|i| EdwardsPoint::mul_base(&Scalar::from(7 * i + 3)))
            .collect()
    }

    /// Of `trials` single torsion rounds over `points`, how many caught it.
    fn catches(points: &[EdwardsPoint], rounds: usize, trials: usize, seed: u64) -> usize {
        let mut rng = Seeded::new(seed);
        let per_call = points.len() * rounds.div_ceil(bucket_bits(points.len()));
        (0..trials)
            .filter(|_| {
                let mut bytes = vec![0u8; per_call];
                rng.fill(&mut bytes);
                !torsion_rounds_hold(points, rounds, &bytes)
            })
            .count()
    }

    /// Asserts `count` of `trials` is within 4.5 standard deviations of the
    /// binomial mean `trials·p`.
    fn assert_binomial(what: &str, count: usize, trials: usize, p: f64) {
        let mean = trials as f64 * p;
        let sd = (trials as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (count as f64 - mean).abs() <= 4.5 * sd,
            "{what}: {count} of {trials}, expected {mean:.0} ± {:.0}",
            4.5 * sd
        );
    }

    #[test]
    fn a_round_catches_torsion_at_its_computed_rate() {
        let trials = 600;
        let order2 = EIGHT_TORSION[4];
        let order8 = EIGHT_TORSION[1];
        // (what, torsion added to points 0, 1, 2, the exact catch rate of one round)
        let cases: [(&str, [EdwardsPoint; 3], f64); 5] = [
            (
                "one order-2",
                [order2, EdwardsPoint::identity(), EdwardsPoint::identity()],
                0.5,
            ),
            (
                "one order-8",
                [order8, EdwardsPoint::identity(), EdwardsPoint::identity()],
                0.5,
            ),
            // Sums of T and T over the four subsets: 0, T, T, 2T.
            (
                "two equal order-8",
                [order8, order8, EdwardsPoint::identity()],
                0.75,
            ),
            // T and −T: 0, T, −T, 0.
            (
                "cancelling pair",
                [order8, -order8, EdwardsPoint::identity()],
                0.5,
            ),
            // Three order-2: caught when an odd number is in the subset.
            ("three order-2", [order2, order2, order2], 0.5),
        ];
        for (seed, (what, torsion, p)) in cases.into_iter().enumerate() {
            let mut points = clean_points(9);
            for (point, t) in points.iter_mut().zip(torsion) {
                *point += t;
            }
            let count = catches(&points, 1, trials, seed as u64);
            assert_binomial(what, count, trials, p);
        }
        // No torsion: never caught.
        assert_eq!(catches(&clean_points(9), 1, 50, 99), 0);
    }

    #[test]
    fn rounds_are_independent() {
        // Three rounds over one order-2 component miss only when all three
        // do: caught with probability 7/8.
        let mut points = clean_points(200);
        points[117] += EIGHT_TORSION[4];
        let trials = 400;
        let count = catches(&points, 3, trials, 7);
        assert_binomial("three rounds", count, trials, 7.0 / 8.0);
        // Rounds spanning several bucket passes (w = 5 for 200 points).
        assert_eq!(bucket_bits(200), 5);
        let count = catches(&points, 12, 200, 8);
        assert_binomial("twelve rounds", count, 200, 1.0 - 1.0 / 4096.0);
    }

    /// A signer who knows its secret scalar, and so can put torsion into `R`.
    fn torsion_signature(
        a: Scalar,
        message: &[u8],
        nonce: u64,
        torsion: EdwardsPoint,
    ) -> Signature {
        let public = EdwardsPoint::mul_base(&a).compress();
        let r = Scalar::from(nonce + 1) * Scalar::from_bytes_mod_order([0x42; 32]);
        let big_r = (EdwardsPoint::mul_base(&r) + torsion).compress();
        let mut h = Sha512::new();
        h.update(big_r.as_bytes());
        h.update(public.as_bytes());
        h.update(message);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(big_r.as_bytes());
        bytes[32..].copy_from_slice((r + k * a).as_bytes());
        Signature(bytes)
    }

    #[test]
    fn equation_and_one_round_together_miss_a_quarter() {
        // One order-2 item among honest ones: the equation misses it when
        // its multiplier is even (½), the round when its bit is 0 (½).
        let a = Scalar::from(987_654_321u64);
        let crafted_key =
            PublicKey::from_bytes(EdwardsPoint::mul_base(&a).compress().as_bytes()).unwrap();
        let crafted = torsion_signature(a, b"crafted", 5, EIGHT_TORSION[4]);
        assert!(!crafted_key.verify_strict(b"crafted", &crafted));
        let key = SigningKey::from_seed(&[3; 32]);
        let public = key.public();
        let messages: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 10]).collect();
        let signatures: Vec<Signature> = messages.iter().map(|m| key.sign(m)).collect();
        let items = with_crafted(&public, &messages, &signatures, &crafted_key, &crafted);
        let one_round = BatchVerifier {
            torsion: TorsionCheck::Rounds(1),
            min_batch: 2,
        };
        let mut rng = Seeded::new(42);
        let trials = 400;
        let missed = (0..trials)
            .filter(|_| one_round.verify_with(&items, &mut |b| rng.fill(b))[6])
            .count();
        assert_binomial("equation and one round", missed, trials, 0.25);
        // The exact check never misses.
        let exact = BatchVerifier::exact().min_batch(2);
        for _ in 0..20 {
            let result = exact.verify_with(&items, &mut |b| rng.fill(b));
            assert_eq!(result, verify_each(&items));
        }
    }

    /// `messages` signed by `public`, then one crafted item signed over
    /// `b"crafted"` under `crafted_key`.
    fn with_crafted<'a>(
        public: &'a PublicKey,
        messages: &'a [Vec<u8>],
        signatures: &'a [Signature],
        crafted_key: &'a PublicKey,
        crafted: &'a Signature,
    ) -> Vec<BatchItem<'a>> {
        let mut items: Vec<BatchItem<'a>> = messages
            .iter()
            .zip(signatures)
            .map(|(message, signature)| BatchItem {
                key: public,
                message,
                signature,
            })
            .collect();
        items.push(BatchItem {
            key: crafted_key,
            message: b"crafted",
            signature: crafted,
        });
        items
    }

    #[test]
    fn without_randomness_every_item_is_verified_strictly() {
        let a = Scalar::from(55_555u64);
        let crafted_key =
            PublicKey::from_bytes(EdwardsPoint::mul_base(&a).compress().as_bytes()).unwrap();
        let crafted = torsion_signature(a, b"crafted", 9, EIGHT_TORSION[2]);
        let key = SigningKey::from_seed(&[4; 32]);
        let public = key.public();
        let messages: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 3]).collect();
        let mut signatures: Vec<Signature> = messages.iter().map(|m| key.sign(m)).collect();
        signatures[2].0[50] ^= 4;
        let items = with_crafted(&public, &messages, &signatures, &crafted_key, &crafted);
        for verifier in [
            BatchVerifier::default().min_batch(2),
            BatchVerifier::exact().min_batch(2),
        ] {
            let mut asked = 0;
            let result = verifier.verify_with(&items, &mut |_| {
                asked += 1;
                false
            });
            assert_eq!(asked, 1);
            let expected: Vec<bool> = (0..9).map(|i| i != 2 && i != 8).collect();
            assert_eq!(result, expected);
        }
        // Below the minimum batch no randomness is asked for at all.
        let result = BatchVerifier::default().verify_with(&items, &mut |_| panic!("asked"));
        assert_eq!(result, verify_each(&items));
    }

    #[test]
    fn non_canonical_r_of_points_not_of_small_order_is_refused_before_the_equation() {
        // y + p for y < 19 is a second encoding of the point with that y.
        let key = SigningKey::from_seed(&[6; 32]);
        let public = key.public();
        let mut found = 0;
        for y in 0..19u8 {
            for sign in [0u8, 0x80] {
                let mut encoding = [0xffu8; 32];
                encoding[0] = 0xed + y;
                encoding[31] = 0x7f | sign;
                let Some(point) = CompressedEdwardsY(encoding).decompress() else {
                    continue;
                };
                if point.is_small_order() {
                    continue;
                }
                found += 1;
                let mut canonical = [0u8; 32];
                canonical[0] = y;
                canonical[31] = sign;
                assert_eq!(CompressedEdwardsY(canonical).decompress(), Some(point));
                let mut signature = key.sign(b"m");
                signature.0[..32].copy_from_slice(&encoding);
                let item = BatchItem {
                    key: &public,
                    message: b"m",
                    signature: &signature,
                };
                assert!(prepare(&item).is_none(), "y = {y}, sign {sign}");
                assert!(!public.verify_strict(b"m", &signature));
            }
        }
        assert!(found >= 4, "only {found} such points");
    }

    #[test]
    fn bucket_sums_are_the_subset_sums() {
        let points = clean_points(37);
        let mut rng = Seeded::new(1);
        for bits in 1..=8usize {
            let mut pattern = vec![0u8; points.len()];
            rng.fill(&mut pattern);
            let mask = (1usize << bits) - 1;
            let mut buckets = vec![EdwardsPoint::identity(); 1 << bits];
            for (p, b) in points.iter().zip(&pattern) {
                buckets[usize::from(*b) & mask] += p;
            }
            let sums = bucket_bit_sums(buckets);
            assert_eq!(sums.len(), bits);
            for (j, sum) in sums.iter().enumerate() {
                let bit = bits - 1 - j;
                let naive = points
                    .iter()
                    .zip(&pattern)
                    .filter(|(_, b)| (usize::from(**b) & mask) >> bit & 1 == 1)
                    .fold(EdwardsPoint::identity(), |acc, (p, _)| acc + p);
                assert_eq!(*sum, naive, "{bits} bits, bit {bit}");
            }
        }
    }

    #[test]
    fn fewer_rounds_than_the_minimum_are_refused() {
        let e = BatchVerifier::with_rounds(MIN_TORSION_ROUNDS - 1).unwrap_err();
        assert_eq!(e.code(), "BATCH_TOO_FEW_ROUNDS");
        assert_eq!(
            BatchVerifier::with_rounds(MIN_TORSION_ROUNDS).map(|v| v.torsion()),
            Ok(TorsionCheck::Rounds(MIN_TORSION_ROUNDS))
        );
        assert_eq!(
            BatchVerifier::default().torsion(),
            TorsionCheck::Rounds(TORSION_ROUNDS)
        );
        // The default bounds a miss by 2^-128, like the 128-bit equation.
        assert_eq!(TORSION_ROUNDS + 1, 128);
    }

    #[test]
    fn honest_batches_verify_and_bad_items_are_named() {
        let keys: Vec<SigningKey> = (0..3u8)
            .map(|i| SigningKey::from_seed(&[i + 1; 32]))
            .collect();
        let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
        let messages: Vec<Vec<u8>> = (0..100u32)
            .map(|i| format!("message {i}").into_bytes())
            .collect();
        let mut signatures: Vec<Signature> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| keys[i % 3].sign(m))
            .collect();
        let verifier = BatchVerifier::default().min_batch(2);
        let items = |sigs: &[Signature]| -> Vec<bool> {
            let items: Vec<BatchItem<'_>> = messages
                .iter()
                .enumerate()
                .map(|(i, m)| BatchItem {
                    key: &publics[i % 3],
                    message: m,
                    signature: &sigs[i],
                })
                .collect();
            verifier.verify(&items)
        };
        assert!(items(&signatures).iter().all(|ok| *ok));
        signatures[17].0[40] ^= 1;
        signatures[63] = keys[0].sign(b"something else");
        let result = items(&signatures);
        for (i, ok) in result.iter().enumerate() {
            assert_eq!(*ok, i != 17 && i != 63, "item {i}");
        }
    }
}
