//! Ed25519 keys, signatures and their Multikey / multibase encodings.
//!
//! [`PublicKey`] can only be built from bytes that pass the registration
//! checks (canonical encoding, not of small order, no torsion component), so
//! every key that reaches a verifier is one for which batch and strict
//! verification agree on the key side (see [`crate::batch`]).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// Multicodec prefix of an Ed25519 public key (`ed25519-pub`, varint 0xed).
const MULTICODEC_ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Multicodec prefix of an Ed25519 private key (`ed25519-priv`, varint 0x1300).
const MULTICODEC_ED25519_PRIV: [u8; 2] = [0x80, 0x26];

/// Errors about keys and signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a point on the curve, or not its canonical encoding.
    #[error("public key is not a canonical Ed25519 point encoding")]
    NotCanonical,
    /// The key is of small order (a "weak key" that verifies forged signatures).
    #[error("public key is weak (small order) and is refused")]
    Weak,
    /// The key has a torsion component; batch and strict verification could disagree.
    #[error("public key has a torsion component and is refused")]
    Torsion,
    /// A multibase or Multikey string could not be decoded.
    #[error("bad multikey: {0}")]
    BadMultikey(&'static str),
    /// A signature value has the wrong length or encoding.
    #[error("bad signature encoding: {0}")]
    BadSignatureEncoding(&'static str),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
}

impl KeyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::NotCanonical => "KEY_NOT_CANONICAL",
            KeyError::Weak => "KEY_WEAK",
            KeyError::Torsion => "KEY_TORSION",
            KeyError::BadMultikey(_) => "KEY_BAD_MULTIKEY",
            KeyError::BadSignatureEncoding(_) => "SIGNATURE_BAD_ENCODING",
            KeyError::Rng => "RNG_FAILED",
        }
    }
}

/// A verified-good Ed25519 public key.
#[derive(Clone, Copy)]
pub struct PublicKey {
    inner: ed25519_dalek::VerifyingKey,
    /// −A, precomputed for the verification equation.
    minus_a: EdwardsPoint,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// Canonical encodings of the eight points of small order.
fn small_order_encodings() -> &'static [[u8; 32]; 8] {
    static ENCODINGS: OnceLock<[[u8; 32]; 8]> = OnceLock::new();
    ENCODINGS.get_or_init(|| EIGHT_TORSION.map(|p| p.compress().to_bytes()))
}

/// Most keys [`PublicKey::from_bytes`] remembers as checked; the memory is
/// emptied when full.
const CHECKED_KEYS_MAX: usize = 4096;

/// Keys that passed the checks, by their bytes. The torsion check costs a
/// full scalar multiplication, and the same few keys (a region's issuers,
/// its departments, peers' anchors) are parsed again for every trust built;
/// keys are public and the checks deterministic, so remembering them
/// process-wide is safe. Refused bytes are not remembered.
fn checked_keys() -> std::sync::MutexGuard<'static, std::collections::HashMap<[u8; 32], PublicKey>>
{
    static CHECKED: OnceLock<std::sync::Mutex<std::collections::HashMap<[u8; 32], PublicKey>>> =
        OnceLock::new();
    CHECKED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PublicKey {
    /// Parses and checks a 32-byte public key.
    ///
    /// Refuses non-canonical encodings, small-order ("weak") keys and keys
    /// with a torsion component.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        if let Some(key) = checked_keys().get(bytes) {
            return Ok(*key);
        }
        let key = Self::check(bytes)?;
        let mut checked = checked_keys();
        if checked.len() >= CHECKED_KEYS_MAX {
            checked.clear();
        }
        checked.insert(*bytes, key);
        Ok(key)
    }

    fn check(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let point = CompressedEdwardsY(*bytes)
            .decompress()
            .ok_or(KeyError::NotCanonical)?;
        if point.compress().as_bytes() != bytes {
            return Err(KeyError::NotCanonical);
        }
        if point.is_small_order() {
            return Err(KeyError::Weak);
        }
        if !point.is_torsion_free() {
            return Err(KeyError::Torsion);
        }
        let inner =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotCanonical)?;
        Ok(PublicKey {
            inner,
            minus_a: -point,
        })
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    /// The 32 key bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.inner.as_bytes()
    }

    /// Multikey encoding: `z` + base58btc(0xed 0x01 ‖ key).
    pub fn to_multikey(&self) -> String {
        let mut bytes = Vec::with_capacity(34);
        bytes.extend_from_slice(&MULTICODEC_ED25519_PUB);
        bytes.extend_from_slice(self.as_bytes());
        multibase_encode(&bytes)
    }

    /// Parses a Multikey (`z6Mk…`) public key.
    pub fn from_multikey(s: &str) -> Result<Self, KeyError> {
        let bytes = multibase_decode(s)?;
        let key = bytes
            .strip_prefix(&MULTICODEC_ED25519_PUB)
            .ok_or(KeyError::BadMultikey("not an ed25519-pub multikey"))?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| KeyError::BadMultikey("ed25519 public key must be 32 bytes"))?;
        PublicKey::from_bytes(&key)
    }

    /// Strict verification, with exactly the acceptance rule of
    /// `ed25519_dalek::VerifyingKey::verify_strict`: `s` canonical, `R` not
    /// of small order, and the encoding of `[s]B − [k]A` equal to `R` byte
    /// for byte (cofactorless; non-canonical `R` cannot match).
    ///
    /// It skips the library's decompression of `R`, which is only needed
    /// there for the small-order test: a canonical small-order `R` is one of
    /// eight fixed encodings, and any other small-order encoding is
    /// non-canonical and fails the final comparison anyway. Keys of small
    /// order never get here ([`PublicKey::from_bytes`] refuses them). The
    /// test `strict_matches_the_library` checks the equivalence on random
    /// and crafted inputs.
    pub fn verify_strict(&self, message: &[u8], signature: &Signature) -> bool {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes()))
        else {
            return false;
        };
        let r = signature.r_bytes();
        if small_order_encodings().contains(r) {
            return false;
        }
        let mut h = Sha512::new();
        h.update(r);
        h.update(self.as_bytes());
        h.update(message);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let expected = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &self.minus_a, &s);
        expected.compress().as_bytes() == r
    }

    /// The library's own `verify_strict`, for comparison and benchmarks.
    pub fn verify_strict_dalek(&self, message: &[u8], signature: &Signature) -> bool {
        self.inner
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0))
            .is_ok()
    }

    pub(crate) fn dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.inner
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_multikey())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_multikey())
    }
}

/// An Ed25519 private key. Never printed; zeroised on drop.
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// Generates a key from the operating system's random number generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|_| KeyError::Rng)?;
        Ok(Self::from_seed(&seed))
    }

    /// Builds a key from its 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let inner = ed25519_dalek::SigningKey::from_bytes(seed);
        // A public key derived from a seed is always in the prime-order
        // subgroup (it is a multiple of the base point).
        let verifying = inner.verifying_key();
        let public = PublicKey {
            inner: verifying,
            minus_a: -verifying.to_edwards(),
        };
        SigningKey { inner, public }
    }

    /// The 32-byte seed. Handle with care: this is the secret.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.inner.to_bytes())
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// Signs `message` (pure Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.inner.sign(message).to_bytes())
    }

    /// Secret Multikey encoding (`z3u2…`): `z` + base58btc(0x80 0x26 ‖ seed).
    pub fn to_secret_multikey(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(34));
        bytes.extend_from_slice(&MULTICODEC_ED25519_PRIV);
        bytes.extend_from_slice(self.inner.as_bytes());
        Zeroizing::new(multibase_encode(&bytes))
    }

    /// Parses a secret Multikey.
    pub fn from_secret_multikey(s: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(multibase_decode(s)?);
        let seed = bytes
            .strip_prefix(&MULTICODEC_ED25519_PRIV)
            .ok_or(KeyError::BadMultikey("not an ed25519-priv multikey"))?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| KeyError::BadMultikey("ed25519 private key must be 32 bytes"))?,
        );
        Ok(Self::from_seed(&seed))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public: {}, secret: <redacted>)", self.public)
    }
}

/// A 64-byte Ed25519 signature (R ‖ s).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Builds a signature from a byte slice of length 64.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyError::BadSignatureEncoding("signature must be 64 bytes"))?;
        Ok(Signature(bytes))
    }

    /// Multibase base58btc encoding (`z…`), as `proofValue` uses.
    pub fn to_multibase(&self) -> String {
        multibase_encode(&self.0)
    }

    /// Parses a multibase base58btc signature.
    pub fn from_multibase(s: &str) -> Result<Self, KeyError> {
        let bytes = multibase_decode(s)
            .map_err(|_| KeyError::BadSignatureEncoding("not multibase base58btc"))?;
        Self::from_slice(&bytes)
    }

    /// The R half.
    pub fn r_bytes(&self) -> &[u8; 32] {
        self.0[..32].try_into().unwrap_or(&[0; 32])
    }

    /// The s half.
    pub fn s_bytes(&self) -> &[u8; 32] {
        self.0[32..].try_into().unwrap_or(&[0; 32])
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_multibase())
    }
}

/// Multibase base58btc encoding (`z` prefix).
pub fn multibase_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(1 + bytes.len() * 138 / 100 + 1);
    s.push('z');
    s.push_str(&bs58::encode(bytes).into_string());
    s
}

/// Decodes a multibase base58btc string (`z` prefix); other bases are refused.
pub fn multibase_decode(s: &str) -> Result<Vec<u8>, KeyError> {
    let body = s.strip_prefix('z').ok_or(KeyError::BadMultikey(
        "multibase must use base58btc ('z' prefix)",
    ))?;
    if body.len() > 256 {
        return Err(KeyError::BadMultikey("multibase value too long"));
    }
    bs58::decode(body)
        .into_vec()
        .map_err(|_| KeyError::BadMultikey("invalid base58btc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multikey_round_trip_and_w3c_example() {
        // The key of the W3C vc-di-eddsa test vectors.
        let pk =
            PublicKey::from_multikey("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2").unwrap();
        assert_eq!(
            pk.to_multikey(),
            "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
        );
        let sk = SigningKey::generate().unwrap();
        let pk = sk.public();
        assert!(pk.to_multikey().starts_with("z6Mk"));
        assert_eq!(PublicKey::from_multikey(&pk.to_multikey()).unwrap(), pk);
        let secret = sk.to_secret_multikey();
        assert!(secret.starts_with("z3u2"));
        let back = SigningKey::from_secret_multikey(&secret).unwrap();
        assert_eq!(back.public(), pk);
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let sk = SigningKey::from_seed(&[7; 32]);
        let printed = format!("{sk:?}");
        assert!(printed.contains("redacted"));
        assert!(!printed.contains(sk.to_secret_multikey().as_str()));
    }

    #[test]
    fn weak_and_non_canonical_keys_are_refused() {
        // The identity point (0, 1) is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        // y = p + 1 encodes the identity non-canonically.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert!(PublicKey::from_bytes(&non_canonical).is_err());
    }

    #[test]
    fn checked_keys_are_remembered_and_refused_ones_are_not() {
        // A good key plus a point of order 8: not small order, but torsion.
        let good = SigningKey::from_seed(&[7; 32]).public();
        let point = CompressedEdwardsY(good.to_bytes()).decompress().unwrap() + EIGHT_TORSION[1];
        let torsion = point.compress().to_bytes();
        for _ in 0..2 {
            assert_eq!(PublicKey::from_bytes(&torsion), Err(KeyError::Torsion));
            assert!(!checked_keys().contains_key(&torsion));
        }
        assert_eq!(PublicKey::from_bytes(&good.to_bytes()), Ok(good));
        // Past the bound the memory starts again, and keys still parse.
        let mut last = good;
        for i in 0..CHECKED_KEYS_MAX + 10 {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            last = SigningKey::from_seed(&seed).public();
            assert_eq!(PublicKey::from_bytes(&last.to_bytes()), Ok(last));
        }
        assert!(checked_keys().len() <= CHECKED_KEYS_MAX);
        assert_eq!(PublicKey::from_bytes(&last.to_bytes()), Ok(last));
        assert_eq!(PublicKey::from_bytes(&torsion), Err(KeyError::Torsion));
    }

    #[test]
    fn sign_and_verify() {
        let sk = SigningKey::from_seed(&[1; 32]);
        let sig = sk.sign(b"hello");
        assert!(sk.public().verify_strict(b"hello", &sig));
        assert!(!sk.public().verify_strict(b"hellp", &sig));
        assert_eq!(Signature::from_multibase(&sig.to_multibase()).unwrap(), sig);
    }
}
