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
//! * keys: [`PublicKey`] refuses small-order and torsion keys at construction;
//! * `s` canonical, `R` canonical and not of small order: checked per item,
//!   deterministically, before the equation;
//! * torsion in `R`: after the equation holds (which proves every `R` equals
//!   `[s]B − [k]A` up to torsion), [`TORSION_ROUNDS`] random subset sums of the
//!   `R` are each multiplied by the group order; any torsion left shows up in
//!   a subset sum with probability at least ½ per round, independently. The
//!   randomness comes from the operating system after all inputs are fixed,
//!   so a signer cannot aim at it. A batch that would accept a signature
//!   strict verification rejects thus passes with probability at most
//!   2^−(TORSION_ROUNDS+1), the same kind of bound every batch verifier
//!   already carries for its linear combination.
//!
//! When the equation fails, every item is re-checked with strict verification
//! so that the result names exactly the bad ones. Batches below
//! [`MIN_BATCH`] are verified one by one: the fixed cost of the torsion rounds
//! does not pay off there.
//!
//! Items signed by the same key share one point in the multi-scalar
//! multiplication (the coefficients of `A` are summed), which is where most
//! of the speed-up over `ed25519_dalek::verify_batch` comes from when one
//! issuer signed many licences.
//!
//! The equation's coefficients are 128-bit, drawn from the operating system's
//! randomness like the subset bits. The test `batch_vs_strict` feeds crafted
//! inputs (small-order and mixed-order `R`, cancelling torsion pairs,
//! non-canonical `s` and `R`, weak and torsion keys) to both paths and shows
//! `ed25519_dalek::verify_batch` accepting one of them.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::key::{PublicKey, Signature};

/// Independent torsion rounds after the batch equation holds.
pub const TORSION_ROUNDS: usize = 48;

/// Smallest batch for which the batch equation is used.
pub const MIN_BATCH: usize = 48;

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

/// Verifies every item; `result[i]` is what strict verification says of item `i`.
///
/// The result equals `items.iter().map(|i| i.key.verify_strict(i.message, i.signature))`,
/// except with probability at most 2^−(TORSION_ROUNDS+1) for a batch that
/// holds a deliberately crafted signature (see the module documentation).
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<bool> {
    if items.len() < MIN_BATCH {
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
    match equation_and_torsion_hold(items, &candidates) {
        Some(true) => {
            for (i, _) in &candidates {
                result[*i] = true;
            }
        }
        Some(false) | None => {
            for (i, _) in &candidates {
                let item = &items[*i];
                result[*i] = item.key.verify_strict(item.message, item.signature);
            }
        }
    }
    result
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

/// `None` when the operating system's random number generator failed.
fn equation_and_torsion_hold(
    items: &[BatchItem<'_>],
    candidates: &[(usize, Prepared)],
) -> Option<bool> {
    let n = candidates.len();
    let mut random = vec![0u8; 16 * n + TORSION_ROUNDS * n.div_ceil(8)];
    getrandom::fill(&mut random).ok()?;
    let (z_bytes, subset_bits) = random.split_at(16 * n);

    // Σ z_i·([s_i]B − R_i − [k_i]A_i) = 0, with the A terms of the same key merged.
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
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars.iter(), points.iter());
    if !sum.is_identity() {
        return Some(false);
    }

    // Torsion rounds: random subset sums of the R, each times the group order.
    let minus_one = -Scalar::ONE;
    for round in subset_bits.chunks_exact(n.div_ceil(8)) {
        let mut acc = EdwardsPoint::identity();
        for (i, (_, prepared)) in candidates.iter().enumerate() {
            if round[i / 8] >> (i % 8) & 1 == 1 {
                acc += prepared.r;
            }
        }
        // [ℓ]P = [ℓ−1]P + P; zero exactly when P has no torsion component.
        let times_order =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&minus_one, &acc, &Scalar::ZERO)
                + acc;
        if !times_order.is_identity() {
            return Some(false);
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SigningKey;

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
            verify_batch(&items)
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
