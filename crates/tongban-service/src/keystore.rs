//! Secret signing keys on this node: one owner-only file per key.
//!
//! The database holds only public records. A key file holds the secret
//! Multikey and nothing else; it is created with mode 0600 in a 0700
//! directory and never logged.

use std::io::Write;
use std::path::{Path, PathBuf};

use tongban_seal::SigningKey;
use zeroize::Zeroizing;

/// Errors of the key store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// A file operation failed.
    #[error("key store {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The secret for a key id is not on this node.
    #[error("no secret for key {0} on this node (key store {1})")]
    Missing(String, String),
    /// A key file does not hold a valid secret, or holds another key.
    #[error("key file for {0} is damaged")]
    Damaged(String),
}

impl KeyStoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyStoreError::Missing(..) => "SIGNING_KEY_NOT_ON_NODE",
            KeyStoreError::Damaged(_) => "SIGNING_KEY_DAMAGED",
            KeyStoreError::Io { .. } => "KEY_STORE_IO",
        }
    }
}

/// The key store directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// Opens (creating, owner-only) the directory.
    pub fn open(dir: &Path) -> Result<Self, KeyStoreError> {
        std::fs::create_dir_all(dir).map_err(|source| KeyStoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| KeyStoreError::Io {
                    path: dir.display().to_string(),
                    source,
                },
            )?;
        }
        Ok(KeyStore {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, key_id: &str) -> PathBuf {
        // Key ids are Multikeys: base58 characters only, safe as file names.
        let safe: String = key_id.chars().filter(char::is_ascii_alphanumeric).collect();
        self.dir.join(format!("{safe}.key"))
    }

    /// Writes a secret key (refuses to overwrite an existing file).
    pub fn save(&self, key: &SigningKey) -> Result<String, KeyStoreError> {
        let key_id = key.public().to_multikey();
        let path = self.path(&key_id);
        let io = |source| KeyStoreError::Io {
            path: path.display().to_string(),
            source,
        };
        let secret = key.to_secret_multikey();
        let mut text = Zeroizing::new(String::with_capacity(secret.len() + 1));
        text.push_str(&secret);
        text.push('\n');
        write_owner_only(&path, text.as_bytes())?;
        let _ = io;
        Ok(key_id)
    }

    /// Loads the secret of `key_id`.
    pub fn load(&self, key_id: &str) -> Result<SigningKey, KeyStoreError> {
        let path = self.path(key_id);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyStoreError::Missing(
                    key_id.to_owned(),
                    self.dir.display().to_string(),
                ));
            }
            Err(source) => {
                return Err(KeyStoreError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let key = SigningKey::from_secret_multikey(text.trim())
            .map_err(|_| KeyStoreError::Damaged(key_id.to_owned()))?;
        if key.public().to_multikey() != key_id {
            return Err(KeyStoreError::Damaged(key_id.to_owned()));
        }
        Ok(key)
    }

    /// Writes a named secret (e.g. the CA's private key, PEM) owner-only;
    /// refuses to overwrite.
    pub fn save_named(&self, name: &str, secret: &str) -> Result<(), KeyStoreError> {
        let path = self.named_path(name);
        write_owner_only(&path, secret.as_bytes())
    }

    /// Reads a named secret.
    pub fn load_named(&self, name: &str) -> Result<Zeroizing<String>, KeyStoreError> {
        let path = self.named_path(name);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Zeroizing::new(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KeyStoreError::Missing(
                name.to_owned(),
                self.dir.display().to_string(),
            )),
            Err(source) => Err(KeyStoreError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    fn named_path(&self, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        self.dir.join(format!("{safe}.pem"))
    }

    /// The file that pins the audit log's anchor (public, but kept with the
    /// secrets: whoever can replace it could take the keys as well).
    pub fn audit_pin_path(&self) -> PathBuf {
        self.dir.join("audit-pin.json")
    }

    /// Whether the secret of `key_id` is on this node.
    pub fn has(&self, key_id: &str) -> bool {
        self.path(key_id).exists()
    }
}

/// Creates `path` (never overwriting) with mode 0600 and syncs it and its directory.
pub fn write_owner_only(path: &Path, bytes: &[u8]) -> Result<(), KeyStoreError> {
    let io = |source| KeyStoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    if let Some(dir) = path.parent() {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("keys")).unwrap();
        let key = SigningKey::generate().unwrap();
        let id = store.save(&key).unwrap();
        assert!(store.has(&id));
        assert_eq!(store.load(&id).unwrap().public(), key.public());
        assert!(store.save(&key).is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path(&id))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(dir.path().join("keys"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let other = SigningKey::generate().unwrap().public().to_multikey();
        assert!(matches!(
            store.load(&other),
            Err(KeyStoreError::Missing(..))
        ));
        std::fs::write(store.path(&id), "z3u2garbage").unwrap();
        assert!(matches!(store.load(&id), Err(KeyStoreError::Damaged(_))));
    }
}
