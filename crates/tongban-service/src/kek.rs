//! Key-encryption keys (KEKs): what seals the secrets a hub keeps in its
//! database, so that every node can use them and the database alone gives
//! none of them away.
//!
//! A KEK file holds one KEK a line, `<id> <64 hex digits>`, `#` comments
//! and blank lines aside. The first KEK seals; every KEK listed opens. A
//! rotation adds a new first line on every node (`tongban kek new`),
//! reseals (`tongban secrets reseal`), then drops the old line. Sealing is
//! ChaCha20-Poly1305 (ring) with a random 96-bit nonce; the associated data
//! binds a ciphertext to its secret's name and KEK id.

use std::path::Path;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// Errors of key-encryption keys and of sealing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KekError {
    /// A KEK file cannot be read.
    #[error("key-encryption key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A KEK file or `TONGBAN_KEK` cannot be used.
    #[error("key-encryption key: {0}")]
    Invalid(String),
    /// A KEK file others than its owner may read or write.
    #[error("key-encryption key: {0}")]
    Insecure(String),
    /// A secret is sealed under a KEK this node does not hold.
    #[error(
        "secret {0} is sealed under KEK {1}, which this node does not hold (add it to the KEK file)"
    )]
    Unknown(String, String),
    /// A sealed secret does not open: damaged, moved to another name, or
    /// sealed under another key of the same KEK id.
    #[error("sealed secret {0} does not open under its KEK (damaged, or not sealed by this KEK)")]
    SealBroken(String),
    /// The system's random source failed.
    #[error("random source: {0}")]
    Rng(String),
}

impl KekError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KekError::Io { .. } => "KEY_STORE_IO",
            KekError::Invalid(_) => "KEK_INVALID",
            KekError::Insecure(_) => "KEK_FILE_INSECURE",
            KekError::Unknown(..) => "KEK_UNKNOWN",
            KekError::SealBroken(_) => "SEALED_SECRET_DAMAGED",
            KekError::Rng(_) => "RNG_FAILED",
        }
    }
}

/// Largest KEK file read (a few hundred KEKs).
const MAX_KEK_FILE_BYTES: u64 = 64 * 1024;
/// Longest KEK id.
const MAX_KEK_ID_CHARS: usize = 32;
/// Associated data prefix: the format's version.
const AAD_PREFIX: &[u8] = b"tongban-sealed-v1\0";

/// One key-encryption key.
struct Kek {
    id: String,
    key: LessSafeKey,
}

/// The KEKs a node holds: the first seals, all open.
pub struct Keks {
    keks: Vec<Kek>,
}

impl std::fmt::Debug for Keks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keks.iter().map(|k| &k.id))
            .finish()
    }
}

/// A secret sealed under a KEK.
pub(crate) struct Sealed {
    pub kek_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

fn invalid(m: impl Into<String>) -> KekError {
    KekError::Invalid(m.into())
}

impl Keks {
    /// Reads a KEK file; refuses one that others than its owner may read or
    /// write.
    pub fn load(path: &Path) -> Result<Self, KekError> {
        let io = |source| KekError::Io {
            path: path.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KekError::Insecure(format!(
                    "{} has mode {mode:03o}: a KEK file is for its owner only (chmod 600)",
                    path.display()
                )));
            }
        }
        if meta.len() > MAX_KEK_FILE_BYTES {
            return Err(invalid(format!(
                "{} is larger than {MAX_KEK_FILE_BYTES} bytes",
                path.display()
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        Keks::parse(&text).map_err(|e| match e {
            KekError::Invalid(m) => invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses a KEK file's text (also how `TONGBAN_KEK` gives it).
    pub fn parse(text: &str) -> Result<Self, KekError> {
        let mut keks: Vec<Kek> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, hex) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| invalid(format!("line {}: `<id> <64 hex digits>`", n + 1)))?;
            let hex = hex.trim();
            if id.is_empty()
                || id.len() > MAX_KEK_ID_CHARS
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(invalid(format!(
                    "line {}: a KEK id is 1 to {MAX_KEK_ID_CHARS} letters, digits, - or _",
                    n + 1
                )));
            }
            let bytes = Zeroizing::new(
                decode_hex(hex)
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| invalid(format!("line {}: the key is 64 hex digits", n + 1)))?,
            );
            if keks.iter().any(|k| k.id == id) {
                return Err(invalid(format!("line {}: KEK {id} is listed twice", n + 1)));
            }
            let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
                .map_err(|_| invalid(format!("line {}: unusable key", n + 1)))?;
            keks.push(Kek {
                id: id.to_owned(),
                key: LessSafeKey::new(key),
            });
        }
        if keks.is_empty() {
            return Err(invalid("no KEK in it"));
        }
        Ok(Keks { keks })
    }

    /// A new KEK's line, `<id> <hex>`; the id is derived from the key (the
    /// first 12 hex digits of its SHA-256, which give nothing away).
    pub fn generate_line() -> Result<(String, Zeroizing<String>), KekError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|e| KekError::Rng(e.to_string()))?;
        let id = format!(
            "kek-{}",
            &tongban_seal::hex(&tongban_seal::sha256(bytes.as_ref()))[..12]
        );
        let line = Zeroizing::new(format!("{id} {}", tongban_seal::hex(bytes.as_ref())));
        Ok((id, line))
    }

    /// The id of the KEK that seals.
    pub fn current(&self) -> &str {
        &self.keks[0].id
    }

    /// The ids of every KEK held, the sealing one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keks.iter().map(|k| k.id.as_str())
    }

    /// Whether the KEK `id` is held.
    pub fn holds(&self, id: &str) -> bool {
        self.keks.iter().any(|k| k.id == id)
    }

    /// Seals `plaintext` as the secret `name` under the current KEK.
    pub(crate) fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Sealed, KekError> {
        let kek = &self.keks[0];
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| KekError::Rng(e.to_string()))?;
        let mut buffer = plaintext.to_vec();
        let sealed = kek.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(name, &kek.id)),
            &mut buffer,
        );
        if sealed.is_err() {
            zeroize::Zeroize::zeroize(&mut buffer);
            return Err(KekError::SealBroken(name.to_owned()));
        }
        Ok(Sealed {
            kek_id: kek.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext: buffer,
        })
    }

    /// Opens the secret `name` sealed as `sealed`.
    pub(crate) fn open(&self, name: &str, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, KekError> {
        let kek = self
            .keks
            .iter()
            .find(|k| k.id == sealed.kek_id)
            .ok_or_else(|| KekError::Unknown(name.to_owned(), sealed.kek_id.clone()))?;
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce)
            .map_err(|_| KekError::SealBroken(name.to_owned()))?;
        let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
        let len = kek
            .key
            .open_in_place(nonce, Aad::from(aad(name, &kek.id)), &mut buffer)
            .map_err(|_| KekError::SealBroken(name.to_owned()))?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

fn aad(name: &str, kek_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + name.len() + 1 + kek_id.len());
    aad.extend_from_slice(AAD_PREFIX);
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(kek_id.as_bytes());
    aad
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keks(lines: &[&str]) -> Keks {
        Keks::parse(&lines.join("\n")).unwrap()
    }

    #[test]
    fn seals_and_opens_bound_to_name_and_kek() {
        let (id, line) = Keks::generate_line().unwrap();
        assert!(id.starts_with("kek-") && id.len() == 16, "{id}");
        let k = keks(&[&line]);
        assert_eq!(k.current(), id);
        let s = k.seal("key:z6Mk", b"secret").unwrap();
        assert_eq!(s.kek_id, id);
        assert_ne!(&s.ciphertext[..6], b"secret");
        assert_eq!(&*k.open("key:z6Mk", &s).unwrap(), b"secret");
        // Another name, a flipped bit, another nonce: refused.
        assert!(matches!(
            k.open("key:other", &s),
            Err(KekError::SealBroken(_))
        ));
        let mut t = Sealed {
            kek_id: s.kek_id.clone(),
            nonce: s.nonce.clone(),
            ciphertext: s.ciphertext.clone(),
        };
        t.ciphertext[0] ^= 1;
        assert!(matches!(
            k.open("key:z6Mk", &t),
            Err(KekError::SealBroken(_))
        ));
        t.ciphertext = s.ciphertext.clone();
        t.nonce = vec![0; 11];
        assert!(matches!(
            k.open("key:z6Mk", &t),
            Err(KekError::SealBroken(_))
        ));
        // Another KEK under the same id opens nothing.
        let (_, other) = Keks::generate_line().unwrap();
        let hex = other.split_once(' ').unwrap().1;
        let impostor = keks(&[&format!("{id} {hex}")]);
        assert!(matches!(
            impostor.open("key:z6Mk", &s),
            Err(KekError::SealBroken(_))
        ));
    }

    #[test]
    fn the_first_seals_and_every_one_opens() {
        let (old_id, old) = Keks::generate_line().unwrap();
        let (new_id, new) = Keks::generate_line().unwrap();
        let before = keks(&[&old]);
        let sealed = before.seal("n", b"x").unwrap();
        let during = keks(&["# rotation", "", &new, &old]);
        assert_eq!(during.current(), new_id);
        assert_eq!(&*during.open("n", &sealed).unwrap(), b"x");
        assert_eq!(during.seal("n", b"x").unwrap().kek_id, new_id);
        let after = keks(&[&new]);
        match after.open("n", &sealed) {
            Err(KekError::Unknown(name, kek)) => {
                assert_eq!((name.as_str(), kek.as_str()), ("n", old_id.as_str()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_files_are_refused_by_line() {
        let (_, line) = Keks::generate_line().unwrap();
        let hex = line.split_once(' ').unwrap().1.to_owned();
        for (text, says) in [
            ("", "no KEK"),
            ("# only a comment", "no KEK"),
            ("kek-1", "line 1"),
            (&format!("bad/id {hex}") as &str, "letters, digits"),
            (&format!("k {}", &hex[..62]), "64 hex"),
            (&format!("k {}zz", &hex[..62]), "64 hex"),
            (&format!("k {hex}\nk {hex}"), "twice"),
        ] {
            match Keks::parse(text) {
                Err(e @ KekError::Invalid(_)) => {
                    assert_eq!(e.code(), "KEK_INVALID");
                    assert!(e.to_string().contains(says), "{text:?}: {e}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let (_, line) = Keks::generate_line().unwrap();
        std::fs::write(&path, format!("{}\n", *line)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Keks::load(&path).unwrap_err();
        assert_eq!(e.code(), "KEK_FILE_INSECURE", "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Keks::load(&path).unwrap().ids().count(), 1);
    }
}
