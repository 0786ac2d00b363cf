//! Crafted inputs fed to strict and batch verification: the batch path must
//! never accept what strict verification rejects.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use tongban_seal::batch::{self, BatchItem, BatchVerifier, MIN_BATCH, MIN_TORSION_ROUNDS};
use tongban_seal::{PublicKey, Signature, SigningKey};

/// A signer that knows its secret scalar, so it can craft malformed
/// signatures that are still "valid" under looser verification rules.
struct Crafter {
    a: Scalar,
    public: PublicKey,
}

impl Crafter {
    fn new(seed: u8) -> Self {
        let a = Scalar::from_bytes_mod_order([seed; 32]);
        let point = EdwardsPoint::mul_base(&a);
        Crafter {
            a,
            public: PublicKey::from_bytes(point.compress().as_bytes()).unwrap(),
        }
    }

    fn hram(&self, r: &[u8; 32], message: &[u8]) -> Scalar {
        let mut h = Sha512::new();
        h.update(r);
        h.update(self.public.as_bytes());
        h.update(message);
        Scalar::from_bytes_mod_order_wide(&h.finalize().into())
    }

    /// A signature whose R carries `torsion`: s = r + H(R'‖A‖M)·a with R' = [r]B + T.
    /// It satisfies the cofactored equation but not the strict one.
    fn sign_with_torsion(&self, message: &[u8], nonce: u64, torsion: EdwardsPoint) -> Signature {
        let r = Scalar::from(nonce + 1) * Scalar::from_bytes_mod_order([0x42; 32]);
        let big_r = (EdwardsPoint::mul_base(&r) + torsion).compress();
        let k = self.hram(big_r.as_bytes(), message);
        let s = r + k * self.a;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(big_r.as_bytes());
        bytes[32..].copy_from_slice(s.as_bytes());
        Signature(bytes)
    }

    /// A signature with a small-order R (R = T, s = k·a).
    fn sign_small_order_r(&self, message: &[u8], torsion: EdwardsPoint) -> Signature {
        let big_r = torsion.compress();
        let k = self.hram(big_r.as_bytes(), message);
        let s = k * self.a;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(big_r.as_bytes());
        bytes[32..].copy_from_slice(s.as_bytes());
        Signature(bytes)
    }

    fn sign(&self, message: &[u8]) -> Signature {
        self.sign_with_torsion(message, 7, EdwardsPoint::default())
    }
}

struct Case {
    name: &'static str,
    key: PublicKey,
    message: Vec<u8>,
    signature: Signature,
}

fn crafted_cases() -> Vec<Case> {
    let c = Crafter::new(9);
    let mut cases = Vec::new();
    for (order_index, name) in [
        (4usize, "R + order-2 torsion"),
        (2, "R + order-4 torsion"),
        (1, "R + order-8 torsion"),
        (3, "R + order-8 torsion (3)"),
    ] {
        let message = format!("torsion {order_index}").into_bytes();
        let signature =
            c.sign_with_torsion(&message, order_index as u64, EIGHT_TORSION[order_index]);
        cases.push(Case {
            name,
            key: c.public,
            message,
            signature,
        });
    }
    // Two signatures whose torsion components cancel in any sum with equal
    // multipliers (T and −T).
    for (i, t) in [EIGHT_TORSION[1], EIGHT_TORSION[7]].into_iter().enumerate() {
        let message = format!("cancelling {i}").into_bytes();
        let signature = c.sign_with_torsion(&message, 100 + i as u64, t);
        cases.push(Case {
            name: "cancelling torsion pair",
            key: c.public,
            message,
            signature,
        });
    }
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        let message = format!("small order R {i}").into_bytes();
        cases.push(Case {
            name: "small-order R",
            key: c.public,
            message: message.clone(),
            signature: c.sign_small_order_r(&message, *t),
        });
    }
    // Non-canonical s: s + ℓ.
    {
        let message = b"non-canonical s".to_vec();
        let mut signature = c.sign(&message);
        let s = Scalar::from_canonical_bytes(*signature.s_bytes()).unwrap();
        let ell_minus_one = -Scalar::ONE;
        // s + ℓ as a 256-bit integer: (s + (ℓ−1)) + 1 without reduction.
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        let l_bytes = {
            let mut l = ell_minus_one.to_bytes();
            l[0] += 1;
            l
        };
        for i in 0..32 {
            let v = s.as_bytes()[i] as u16 + l_bytes[i] as u16 + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        signature.0[32..].copy_from_slice(&sum);
        cases.push(Case {
            name: "non-canonical s",
            key: c.public,
            message,
            signature,
        });
    }
    // Non-canonical R encoding: the identity encoded as y = p + 1.
    {
        let message = b"non-canonical R".to_vec();
        let mut signature = c.sign(&message);
        let mut r = [0xffu8; 32];
        r[0] = 0xee;
        r[31] = 0x7f;
        assert!(CompressedEdwardsY(r).decompress().is_some());
        signature.0[..32].copy_from_slice(&r);
        cases.push(Case {
            name: "non-canonical R",
            key: c.public,
            message,
            signature,
        });
    }
    // R that is not a curve point at all.
    {
        let message = b"R off curve".to_vec();
        let mut signature = c.sign(&message);
        let mut found = None;
        for y in 2u8..=255 {
            let mut r = [0u8; 32];
            r[0] = y;
            if CompressedEdwardsY(r).decompress().is_none() {
                found = Some(r);
                break;
            }
        }
        signature.0[..32].copy_from_slice(&found.unwrap());
        cases.push(Case {
            name: "R off curve",
            key: c.public,
            message,
            signature,
        });
    }
    // Signature of another message, and a flipped bit.
    {
        let message = b"tampered".to_vec();
        let signature = c.sign(b"original");
        cases.push(Case {
            name: "wrong message",
            key: c.public,
            message,
            signature,
        });
        let message = b"bit flip".to_vec();
        let mut signature = c.sign(&message);
        signature.0[5] ^= 0x10;
        cases.push(Case {
            name: "bit flip in R",
            key: c.public,
            message,
            signature,
        });
    }
    // Sanity: every crafted case is rejected by strict verification.
    for case in &cases {
        assert!(
            !case.key.verify_strict(&case.message, &case.signature),
            "{} should fail strict",
            case.name
        );
    }
    cases
}

/// (key index, message, signature)
type Signed = (usize, Vec<u8>, Signature);

fn honest(n: usize) -> (Vec<SigningKey>, Vec<Signed>) {
    let keys: Vec<SigningKey> = (0..4u8)
        .map(|i| SigningKey::from_seed(&[i + 30; 32]))
        .collect();
    let items = (0..n)
        .map(|i| {
            let message = format!("honest {i}").into_bytes();
            let signature = keys[i % keys.len()].sign(&message);
            (i % keys.len(), message, signature)
        })
        .collect();
    (keys, items)
}

#[test]
fn weak_and_torsion_keys_are_refused_at_registration() {
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        assert!(
            PublicKey::from_bytes(t.compress().as_bytes()).is_err(),
            "small-order key {i}"
        );
    }
    let a = EdwardsPoint::mul_base(&Scalar::from(12345u64));
    for (i, t) in EIGHT_TORSION.iter().enumerate().skip(1) {
        let key = (a + t).compress();
        assert_eq!(
            PublicKey::from_bytes(key.as_bytes()).unwrap_err().code(),
            "KEY_TORSION",
            "mixed-order key {i}"
        );
    }
    assert!(PublicKey::from_bytes((a + ED25519_BASEPOINT_POINT).compress().as_bytes()).is_ok());
}

/// The default verifier, the fewest rounds allowed and the exact check,
/// each using the batch equation from two items on.
fn verifiers() -> Vec<BatchVerifier> {
    vec![
        BatchVerifier::default().min_batch(2),
        BatchVerifier::with_rounds(MIN_TORSION_ROUNDS)
            .unwrap()
            .min_batch(2),
        BatchVerifier::exact().min_batch(2),
    ]
}

fn items_of<'a>(publics: &'a [PublicKey], signed: &'a [Signed]) -> Vec<BatchItem<'a>> {
    signed
        .iter()
        .map(|(k, m, s)| BatchItem {
            key: &publics[*k],
            message: m,
            signature: s,
        })
        .collect()
}

#[test]
fn each_crafted_input_alone_in_an_honest_batch() {
    let (keys, honest) = honest(13);
    let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
    for verifier in verifiers() {
        for case in crafted_cases() {
            for _attempt in 0..4 {
                let mut items = items_of(&publics, &honest);
                items.insert(
                    11,
                    BatchItem {
                        key: &case.key,
                        message: &case.message,
                        signature: &case.signature,
                    },
                );
                let batch = verifier.verify(&items);
                let strict = batch::verify_each(&items);
                assert_eq!(batch, strict, "case {} ({verifier:?})", case.name);
                assert!(!batch[11], "case {} accepted by batch", case.name);
                assert_eq!(
                    batch.iter().filter(|ok| **ok).count(),
                    honest.len(),
                    "case {}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn all_crafted_inputs_together() {
    let cases = crafted_cases();
    let with = |n: usize, verify: &dyn Fn(&[BatchItem<'_>]) -> Vec<bool>| {
        let (keys, honest) = honest(n);
        let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
        let mut items = items_of(&publics, &honest);
        for (i, case) in cases.iter().enumerate() {
            items.insert(
                i * 3,
                BatchItem {
                    key: &case.key,
                    message: &case.message,
                    signature: &case.signature,
                },
            );
        }
        for _ in 0..4 {
            assert_eq!(verify(&items), batch::verify_each(&items));
        }
    };
    for verifier in verifiers() {
        with(60, &|items| verifier.verify(items));
    }
    // The default verifier at the default minimum batch.
    with(MIN_BATCH, &batch::verify_batch);
}

#[test]
fn only_torsion_crafted_items_in_a_batch() {
    // A batch where the equation itself holds up to torsion for every item:
    // only the torsion check stands between the batch and a wrong "valid".
    let c = Crafter::new(21);
    let mut owned = Vec::new();
    for i in 0..48u64 {
        let message = format!("all torsion {i}").into_bytes();
        // Half honest, half with an order-2 component, pairs cancel in sum.
        let t = if i % 2 == 0 {
            EdwardsPoint::default()
        } else {
            EIGHT_TORSION[4]
        };
        owned.push((message.clone(), c.sign_with_torsion(&message, i, t)));
    }
    let items: Vec<BatchItem<'_>> = owned
        .iter()
        .map(|(m, s)| BatchItem {
            key: &c.public,
            message: m,
            signature: s,
        })
        .collect();
    for verifier in verifiers() {
        for _ in 0..8 {
            let batch = verifier.verify(&items);
            assert_eq!(batch, batch::verify_each(&items));
            assert_eq!(batch.iter().filter(|ok| **ok).count(), 24);
        }
    }
}

#[test]
fn crafted_torsion_spread_across_several_keys() {
    // Three signers each put torsion into some of their R, chosen so that
    // the components cancel across keys (T under one key, −T under another,
    // order-2 components in pairs): merging the A terms of one key must not
    // let a cross-key cancellation through.
    let crafters: Vec<Crafter> = (40..43).map(Crafter::new).collect();
    let plan: [(usize, usize); 8] = [
        (0, 1),
        (1, 7),
        (2, 4),
        (0, 4),
        (1, 2),
        (2, 6),
        (0, 3),
        (2, 5),
    ];
    let mut owned = Vec::new();
    for (n, (signer, torsion)) in plan.into_iter().enumerate() {
        let message = format!("spread {n}").into_bytes();
        let signature =
            crafters[signer].sign_with_torsion(&message, 200 + n as u64, EIGHT_TORSION[torsion]);
        assert!(!crafters[signer].public.verify_strict(&message, &signature));
        owned.push((signer, message, signature));
    }
    // And honest signatures by the same three keys.
    for n in 0..12u64 {
        let signer = (n % 3) as usize;
        let message = format!("honest by crafter {n}").into_bytes();
        let signature =
            crafters[signer].sign_with_torsion(&message, 300 + n, EdwardsPoint::default());
        assert!(crafters[signer].public.verify_strict(&message, &signature));
        owned.push((signer, message, signature));
    }
    let (keys, honest) = honest(10);
    let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
    let mut items = items_of(&publics, &honest);
    for (i, (signer, message, signature)) in owned.iter().enumerate() {
        items.insert(
            (i * 5) % items.len(),
            BatchItem {
                key: &crafters[*signer].public,
                message,
                signature,
            },
        );
    }
    let expected = batch::verify_each(&items);
    assert_eq!(expected.iter().filter(|ok| !**ok).count(), plan.len());
    for verifier in verifiers() {
        for _ in 0..6 {
            assert_eq!(verifier.verify(&items), expected, "{verifier:?}");
        }
    }
}

#[test]
fn non_canonical_r_of_points_not_of_small_order() {
    // y + p (y < 19) encodes the same point as y. Points with such a y that
    // are not of small order exist; as R they fail strict verification,
    // and the batch must say so too.
    let (keys, honest) = honest(12);
    let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
    let mut bad = Vec::new();
    for y in 0..19u8 {
        let mut encoding = [0xffu8; 32];
        encoding[0] = 0xed + y;
        encoding[31] = 0x7f;
        let Some(point) = CompressedEdwardsY(encoding).decompress() else {
            continue;
        };
        if point.is_small_order() {
            continue;
        }
        let message = format!("non-canonical y {y}").into_bytes();
        let mut signature = keys[0].sign(&message);
        signature.0[..32].copy_from_slice(&encoding);
        bad.push((message, signature));
    }
    assert!(bad.len() >= 2, "only {} such points", bad.len());
    let mut items = items_of(&publics, &honest);
    for (message, signature) in &bad {
        items.push(BatchItem {
            key: &publics[0],
            message,
            signature,
        });
    }
    for verifier in verifiers() {
        let result = verifier.verify(&items);
        assert_eq!(result, batch::verify_each(&items));
        assert_eq!(result.iter().filter(|ok| **ok).count(), honest.len());
    }
}

#[test]
fn dalek_batch_alone_would_accept_a_torsioned_signature() {
    // Shows why our batch path exists: the library's batch equation accepts a
    // signature with an order-2 component in R whenever its input-derived
    // multiplier is even, and a signer can grind the message for that.
    let c = Crafter::new(33);
    let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(c.public.as_bytes()).unwrap();
    let mut accepted_by_dalek = None;
    for attempt in 0..64u64 {
        let message = format!("grind {attempt}").into_bytes();
        let sig = c.sign_with_torsion(&message, attempt, EIGHT_TORSION[4]);
        let dsig = ed25519_dalek::Signature::from_bytes(&sig.0);
        if ed25519_dalek::verify_batch(&[&message], &[dsig], &[dalek_key]).is_ok() {
            accepted_by_dalek = Some((message, sig));
            break;
        }
    }
    let (message, sig) =
        accepted_by_dalek.expect("grinding finds an accepted signature within 64 tries");
    assert!(!c.public.verify_strict(&message, &sig));
    let (keys, honest) = honest(MIN_BATCH);
    let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
    let mut items: Vec<BatchItem<'_>> = honest
        .iter()
        .map(|(k, m, s)| BatchItem {
            key: &publics[*k],
            message: m,
            signature: s,
        })
        .collect();
    items.push(BatchItem {
        key: &c.public,
        message: &message,
        signature: &sig,
    });
    let result = batch::verify_batch(&items);
    assert!(!result[MIN_BATCH]);
}

#[test]
fn strict_matches_the_library() {
    // Crafted cases.
    for case in crafted_cases() {
        assert_eq!(
            case.key.verify_strict(&case.message, &case.signature),
            case.key.verify_strict_dalek(&case.message, &case.signature),
            "{}",
            case.name
        );
    }
    // Honest signatures and every single-bit corruption of a few of them.
    let key = SigningKey::from_seed(&[5; 32]);
    for i in 0..8u8 {
        let message = vec![i; 64];
        let sig = key.sign(&message);
        assert!(key.public().verify_strict(&message, &sig));
        for bit in 0..512 {
            let mut bad = sig;
            bad.0[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                key.public().verify_strict(&message, &bad),
                key.public().verify_strict_dalek(&message, &bad),
                "bit {bit}"
            );
        }
    }
    // Every small-order point as R, canonical and non-canonical encodings.
    let c = Crafter::new(11);
    for t in EIGHT_TORSION.iter() {
        let sig = c.sign_small_order_r(b"m", *t);
        assert!(!c.public.verify_strict(b"m", &sig));
        assert!(!c.public.verify_strict_dalek(b"m", &sig));
        let mut non_canonical = sig;
        let mut y = t.compress().to_bytes();
        // y + p where it still fits in 255 bits (y < 19).
        if y[1..31].iter().all(|b| *b == 0) && y[31] & 0x7f == 0 && y[0] < 19 {
            let sign = y[31] & 0x80;
            let mut v = [0xffu8; 32];
            v[0] = 0xed + y[0];
            v[31] = 0x7f | sign;
            y = v;
            non_canonical.0[..32].copy_from_slice(&y);
            assert!(!c.public.verify_strict(b"m", &non_canonical));
            assert!(!c.public.verify_strict_dalek(b"m", &non_canonical));
        }
    }
}
