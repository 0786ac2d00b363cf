//! Sign/verify properties and batch/strict agreement on random inputs.

use proptest::prelude::*;
use tongban_seal::batch::{self, BatchItem, BatchVerifier};
use tongban_seal::{PublicKey, Signature, SigningKey};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn signatures_verify_and_any_bit_flip_fails(seed in any::<[u8; 32]>(), message in prop::collection::vec(any::<u8>(), 0..200), bit in 0usize..512) {
        let key = SigningKey::from_seed(&seed);
        let sig = key.sign(&message);
        prop_assert!(key.public().verify_strict(&message, &sig));
        let mut bad = sig;
        bad.0[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!key.public().verify_strict(&message, &bad));
        let round = PublicKey::from_multikey(&key.public().to_multikey()).unwrap();
        prop_assert_eq!(round, key.public());
        prop_assert_eq!(Signature::from_multibase(&sig.to_multibase()).unwrap(), sig);
    }

    #[test]
    fn batch_agrees_with_strict_on_random_corruption(corrupt in prop::collection::vec((0usize..64, 0usize..512), 0..5)) {
        let keys: Vec<SigningKey> = (0..3u8).map(|i| SigningKey::from_seed(&[i + 100; 32])).collect();
        let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
        let messages: Vec<Vec<u8>> = (0..64u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut sigs: Vec<Signature> = messages.iter().enumerate().map(|(i, m)| keys[i % 3].sign(m)).collect();
        for (index, bit) in &corrupt {
            sigs[*index].0[bit / 8] ^= 1 << (bit % 8);
        }
        let items: Vec<BatchItem<'_>> = messages.iter().enumerate().map(|(i, m)| BatchItem { key: &publics[i % 3], message: m, signature: &sigs[i] }).collect();
        // 64 items is below the default minimum batch: ask for the equation.
        let verifier = BatchVerifier::default().min_batch(2);
        prop_assert_eq!(verifier.verify(&items), batch::verify_each(&items));
    }
}
