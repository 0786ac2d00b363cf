//! `did:key` issuers (W3C did:key method, Ed25519 only).
//!
//! A `did:key` names its key in the identifier itself: `did:key:{multikey}`,
//! whose one verification method is `did:key:{multikey}#{multikey}`. A
//! credential from such an issuer is verified with that key and nothing
//! else; what it proves is that whoever holds the key signed it, which is
//! all a `did:key` ever claims. A verifier accepts them only when asked
//! ([`crate::Trust::accept_did_key`]): the region's licences are verified
//! with the keys the region registered, never with a key a credential
//! brings along.

use time::OffsetDateTime;
use tongban_seal::{KeyPurpose, KeyRecord, PublicKey, Validity};

/// The method's prefix.
pub const DID_KEY_PREFIX: &str = "did:key:";

/// The key record a `did:key` verification method names, or `None` when it
/// is not one: not `did:key:{multikey}#{multikey}` with the same Ed25519
/// Multikey on both sides of `#`, or a key that is not a usable Ed25519 key.
pub fn record(verification_method: &str) -> Option<KeyRecord> {
    let (did, fragment) = verification_method.split_once('#')?;
    let multikey = did.strip_prefix(DID_KEY_PREFIX)?;
    if fragment != multikey {
        return None;
    }
    let public = PublicKey::from_multikey(multikey).ok()?;
    Some(KeyRecord {
        controller: did.to_owned(),
        public,
        // A did:key has no window: the key is the identifier.
        validity: Validity::from(OffsetDateTime::UNIX_EPOCH),
        purpose: KeyPurpose::Issue,
    })
}

/// The `did:key` of a public key.
pub fn did_of(public: &PublicKey) -> String {
    format!("{DID_KEY_PREFIX}{}", public.to_multikey())
}

/// The verification method of a public key's `did:key`.
pub fn verification_method_of(public: &PublicKey) -> String {
    let multikey = public.to_multikey();
    format!("{DID_KEY_PREFIX}{multikey}#{multikey}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tongban_seal::SigningKey;

    #[test]
    fn a_did_key_method_names_its_own_key() {
        let public = SigningKey::from_seed(&[7; 32]).public();
        let vm = verification_method_of(&public);
        let record = record(&vm).expect("a did:key method");
        assert_eq!(record.public, public);
        assert_eq!(record.controller, did_of(&public));
        assert_eq!(record.verification_method(), vm);
    }

    #[test]
    fn anything_else_names_no_key() {
        let a = SigningKey::from_seed(&[7; 32]).public().to_multikey();
        let b = SigningKey::from_seed(&[8; 32]).public().to_multikey();
        for vm in [
            format!("did:key:{a}#{b}"),
            format!("did:key:{a}"),
            format!("did:web:example.org#{a}"),
            format!("https://vc.example/issuers/5678#{a}"),
            "did:key:zNotAKey#zNotAKey".to_owned(),
            String::new(),
        ] {
            assert!(record(&vm).is_none(), "{vm}");
        }
    }
}
