//! Secret keys of a hub: signing keys, the CA's private key, the peer-link
//! keys, and the audit pin kept beside them.
//!
//! Two places, one interface. The embedded default keeps one owner-only file
//! a secret in the key store directory (mode 0600 in a 0700 directory),
//! for this node only. Several nodes share the database instead: each
//! secret is sealed under a key-encryption key that every node reads from a
//! file ([`crate::kek`]) and the database never holds, so that a key made,
//! rotated or revoked on one node is in force on all. Secrets are never
//! logged.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tongban_seal::SigningKey;
use tongban_store::{AuditRecord, SealedRow, Store, StoreError};
use zeroize::Zeroizing;

use crate::kek::{KekError, Keks, Sealed};

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
    /// Key-encryption keys or sealing failed.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// The database of sealed secrets failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl KeyStoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyStoreError::Missing(..) => "SIGNING_KEY_NOT_ON_NODE",
            KeyStoreError::Damaged(_) => "SIGNING_KEY_DAMAGED",
            KeyStoreError::Io { .. } => "KEY_STORE_IO",
            KeyStoreError::Kek(e) => e.code(),
            KeyStoreError::Store(e) => e.code(),
        }
    }
}

/// Where a secret of a given name is: its name in the sealed store.
fn key_name(key_id: &str) -> String {
    format!("key:{key_id}")
}

fn named_name(name: &str) -> String {
    format!("named:{name}")
}

/// The sealed name of the audit pin.
const PIN_NAME: &str = "audit-pin";
/// Most secrets kept opened in memory (a region has a few thousand keys).
const MAX_CACHED: usize = 10_000;

/// The secret keys of a hub.
#[derive(Debug, Clone)]
pub struct KeyStore {
    place: Place,
}

#[derive(Clone)]
enum Place {
    /// One file a secret in this directory.
    Files(PathBuf),
    /// Sealed in the database.
    Sealed {
        store: Store,
        keks: Arc<Keks>,
        /// Opened secrets by sealed name: a name's secret never changes.
        opened: Arc<Mutex<HashMap<String, Zeroizing<Vec<u8>>>>>,
    },
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Files(dir) => write!(f, "Files({})", dir.display()),
            Place::Sealed { keks, .. } => write!(f, "Sealed(keks: {keks:?})"),
        }
    }
}

/// How many secrets each KEK seals (`tongban secrets status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedStatus {
    /// The KEK that seals new secrets.
    pub current: String,
    /// Every KEK this node holds, the sealing one first.
    pub held: Vec<String>,
    /// Secrets by the KEK they are sealed under.
    pub by_kek: std::collections::BTreeMap<String, u64>,
}

impl KeyStore {
    /// Opens (creating, owner-only) a key store directory: this node's own.
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
            place: Place::Files(dir.to_path_buf()),
        })
    }

    /// Secrets sealed in `store` under `keks`: shared by every node.
    pub fn sealed(store: Store, keks: Keks) -> Self {
        KeyStore {
            place: Place::Sealed {
                store,
                keks: Arc::new(keks),
                opened: Arc::default(),
            },
        }
    }

    /// The id of the KEK that seals, when secrets are sealed.
    pub fn current_kek(&self) -> Option<&str> {
        match &self.place {
            Place::Files(_) => None,
            Place::Sealed { keks, .. } => Some(keks.current()),
        }
    }

    /// Whether secrets are sealed in the database.
    pub fn is_sealed(&self) -> bool {
        matches!(self.place, Place::Sealed { .. })
    }

    /// Where the secrets are, in words.
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Files(dir) => dir.display().to_string(),
            Place::Sealed { keks, .. } => {
                format!("the database, sealed under KEK {}", keks.current())
            }
        }
    }

    fn path(dir: &Path, key_id: &str) -> PathBuf {
        // Key ids are Multikeys: base58 characters only, safe as file names.
        let safe: String = key_id.chars().filter(char::is_ascii_alphanumeric).collect();
        dir.join(format!("{safe}.key"))
    }

    fn named_path(dir: &Path, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        dir.join(format!("{safe}.pem"))
    }

    /// Writes a secret key (refuses to overwrite an existing one).
    pub async fn save(&self, key: &SigningKey) -> Result<String, KeyStoreError> {
        let key_id = key.public().to_multikey();
        let secret = key.to_secret_multikey();
        match &self.place {
            Place::Files(dir) => {
                let mut text = Zeroizing::new(String::with_capacity(secret.len() + 1));
                text.push_str(&secret);
                text.push('\n');
                write_owner_only(&Self::path(dir, &key_id), text.as_bytes())?;
            }
            Place::Sealed { .. } => {
                self.put_sealed(&key_name(&key_id), secret.as_bytes(), &[])
                    .await?;
            }
        }
        Ok(key_id)
    }

    /// Loads the secret of `key_id`.
    pub async fn load(&self, key_id: &str) -> Result<SigningKey, KeyStoreError> {
        let text = match &self.place {
            Place::Files(dir) => {
                let path = Self::path(dir, key_id);
                match read_secret(&path)? {
                    Some(t) => t,
                    None => return Err(self.missing(key_id)),
                }
            }
            Place::Sealed { .. } => match self.get_sealed(&key_name(key_id)).await? {
                Some(t) => t,
                None => return Err(self.missing(key_id)),
            },
        };
        let key = SigningKey::from_secret_multikey(text.trim())
            .map_err(|_| KeyStoreError::Damaged(key_id.to_owned()))?;
        if key.public().to_multikey() != key_id {
            return Err(KeyStoreError::Damaged(key_id.to_owned()));
        }
        Ok(key)
    }

    /// Whether the secret of `key_id` is held.
    pub async fn has(&self, key_id: &str) -> Result<bool, KeyStoreError> {
        match &self.place {
            Place::Files(dir) => Ok(Self::path(dir, key_id).exists()),
            Place::Sealed { store, opened, .. } => {
                let name = key_name(key_id);
                if lock(opened).contains_key(&name) {
                    return Ok(true);
                }
                Ok(store.has_sealed(&name).await?)
            }
        }
    }

    /// Writes a named secret (e.g. the CA's private key, PEM); refuses to
    /// overwrite.
    pub async fn save_named(&self, name: &str, secret: &str) -> Result<(), KeyStoreError> {
        match &self.place {
            Place::Files(dir) => write_owner_only(&Self::named_path(dir, name), secret.as_bytes()),
            Place::Sealed { .. } => {
                self.put_sealed(&named_name(name), secret.as_bytes(), &[])
                    .await
            }
        }
    }

    /// Reads a named secret.
    pub async fn load_named(&self, name: &str) -> Result<Zeroizing<String>, KeyStoreError> {
        let found = match &self.place {
            Place::Files(dir) => read_secret(&Self::named_path(dir, name))?,
            Place::Sealed { .. } => self.get_sealed(&named_name(name)).await?,
        };
        found.ok_or_else(|| self.missing(name))
    }

    /// The audit pin's text, if there is one.
    pub async fn load_pin(&self) -> Result<Option<Zeroizing<String>>, KeyStoreError> {
        match &self.place {
            Place::Files(dir) => read_small_secret(&dir.join(PIN_FILE), MAX_PIN_BYTES),
            Place::Sealed { .. } => self.get_sealed(PIN_NAME).await,
        }
    }

    /// Writes the audit pin; `false` (nothing written) if there is one.
    pub async fn save_pin(&self, text: &str) -> Result<bool, KeyStoreError> {
        match &self.place {
            Place::Files(dir) => match write_owner_only(&dir.join(PIN_FILE), text.as_bytes()) {
                Ok(()) => Ok(true),
                Err(KeyStoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            },
            Place::Sealed { store, keks, .. } => {
                let sealed = keks.seal(PIN_NAME, text.as_bytes())?;
                Ok(store.add_sealed(&row(PIN_NAME, sealed), &[]).await?)
            }
        }
    }

    /// Where the audit pin is kept, in words.
    pub fn pin_place(&self) -> String {
        match &self.place {
            Place::Files(dir) => dir.join(PIN_FILE).display().to_string(),
            Place::Sealed { .. } => format!("the sealed secret {PIN_NAME} in the database"),
        }
    }

    fn missing(&self, what: &str) -> KeyStoreError {
        KeyStoreError::Missing(what.to_owned(), self.describe())
    }

    async fn put_sealed(
        &self,
        name: &str,
        plaintext: &[u8],
        audit: &[AuditRecord],
    ) -> Result<(), KeyStoreError> {
        let Place::Sealed { store, keks, .. } = &self.place else {
            return Ok(());
        };
        let sealed = keks.seal(name, plaintext)?;
        if !store.add_sealed(&row(name, sealed), audit).await? {
            return Err(KeyStoreError::Io {
                path: format!("sealed secret {name}"),
                source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            });
        }
        Ok(())
    }

    async fn get_sealed(&self, name: &str) -> Result<Option<Zeroizing<String>>, KeyStoreError> {
        let Place::Sealed {
            store,
            keks,
            opened,
        } = &self.place
        else {
            return Ok(None);
        };
        if let Some(bytes) = lock(opened).get(name) {
            return Ok(Some(text_of(name, bytes)?));
        }
        let Some(row) = store.sealed(name).await? else {
            return Ok(None);
        };
        let bytes = keks.open(name, &sealed_of(&row))?;
        let text = text_of(name, &bytes)?;
        let mut opened = lock(opened);
        if opened.len() >= MAX_CACHED {
            opened.clear();
        }
        opened.insert(name.to_owned(), bytes);
        Ok(Some(text))
    }

    /// How many secrets each KEK seals (sealed store only).
    pub async fn sealed_status(&self) -> Result<Option<SealedStatus>, KeyStoreError> {
        let Place::Sealed { store, keks, .. } = &self.place else {
            return Ok(None);
        };
        let mut by_kek = std::collections::BTreeMap::new();
        for row in store.all_sealed().await? {
            *by_kek.entry(row.kek_id).or_insert(0) += 1;
        }
        Ok(Some(SealedStatus {
            current: keks.current().to_owned(),
            held: keks.ids().map(str::to_owned).collect(),
            by_kek,
        }))
    }

    /// Reseals every secret not sealed under the current KEK (a KEK
    /// rotation), recording `audit` with them. Returns how many were
    /// resealed; refuses, changing nothing, when one is sealed under a KEK
    /// this node does not hold or does not open.
    pub async fn reseal(&self, audit: &[AuditRecord]) -> Result<u64, KeyStoreError> {
        let Place::Sealed { store, keks, .. } = &self.place else {
            return Ok(0);
        };
        let mut rows = Vec::new();
        for old in store.all_sealed().await? {
            if old.kek_id == keks.current() {
                continue;
            }
            let plain = keks.open(&old.name, &sealed_of(&old))?;
            let mut new = row(&old.name, keks.seal(&old.name, &plain)?);
            new.created_at = old.created_at;
            rows.push((old.kek_id, new));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        Ok(store.reseal(&rows, audit).await?)
    }

    /// Seals the secrets of a key store directory (a node's files, before
    /// its hub moved to sealed secrets), skipping those already sealed.
    /// Returns how many were sealed and how many were there already.
    pub async fn import_files(
        &self,
        dir: &Path,
        audit: &[AuditRecord],
    ) -> Result<(u64, u64), KeyStoreError> {
        let Place::Sealed { store, keks, .. } = &self.place else {
            return Ok((0, 0));
        };
        let mut found = Vec::new();
        let io = |source| KeyStoreError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for path in entries {
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let name = if file == PIN_FILE {
                PIN_NAME.to_owned()
            } else if let Some(stem) = file.strip_suffix(".pem") {
                named_name(stem)
            } else if file.ends_with(".key") {
                let Some(text) = read_secret(&path)? else {
                    continue;
                };
                let key = SigningKey::from_secret_multikey(text.trim())
                    .map_err(|_| KeyStoreError::Damaged(path.display().to_string()))?;
                key_name(&key.public().to_multikey())
            } else {
                continue;
            };
            let Some(text) = read_small_secret(&path, MAX_IMPORTED_BYTES)? else {
                continue;
            };
            found.push((name, text));
        }
        let (mut sealed, mut there) = (0, 0);
        for (name, text) in &found {
            let row = row(name, keks.seal(name, text.as_bytes())?);
            // The audit entry goes with the first secret sealed.
            let audit = if sealed == 0 { audit } else { &[] };
            if store.add_sealed(&row, audit).await? {
                sealed += 1;
            } else {
                there += 1;
            }
        }
        Ok((sealed, there))
    }
}

/// The audit pin's file in a key store directory.
const PIN_FILE: &str = "audit-pin.json";
/// Largest audit pin read.
const MAX_PIN_BYTES: u64 = 64 * 1024;
/// Largest secret file imported.
const MAX_IMPORTED_BYTES: u64 = 64 * 1024;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn row(name: &str, sealed: Sealed) -> SealedRow {
    SealedRow {
        name: name.to_owned(),
        kek_id: sealed.kek_id,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        created_at: time::OffsetDateTime::now_utc(),
    }
}

fn sealed_of(row: &SealedRow) -> Sealed {
    Sealed {
        kek_id: row.kek_id.clone(),
        nonce: row.nonce.clone(),
        ciphertext: row.ciphertext.clone(),
    }
}

fn text_of(name: &str, bytes: &[u8]) -> Result<Zeroizing<String>, KeyStoreError> {
    std::str::from_utf8(bytes)
        .map(|t| Zeroizing::new(t.to_owned()))
        .map_err(|_| KeyStoreError::Damaged(name.to_owned()))
}

/// A secret file's text; `None` if absent.
fn read_secret(path: &Path) -> Result<Option<Zeroizing<String>>, KeyStoreError> {
    read_small_secret(path, MAX_IMPORTED_BYTES)
}

/// A file's text, at most `max` bytes; `None` if absent.
fn read_small_secret(path: &Path, max: u64) -> Result<Option<Zeroizing<String>>, KeyStoreError> {
    use std::io::Read;
    let io = |source| KeyStoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut text = Zeroizing::new(String::new());
    file.take(max + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > max {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        )));
    }
    Ok(Some(text))
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

    #[tokio::test]
    async fn save_load_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("keys")).unwrap();
        let key = SigningKey::generate().unwrap();
        let id = store.save(&key).await.unwrap();
        assert!(store.has(&id).await.unwrap());
        assert_eq!(store.load(&id).await.unwrap().public(), key.public());
        assert!(store.save(&key).await.is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(KeyStore::path(&dir.path().join("keys"), &id))
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
            store.load(&other).await,
            Err(KeyStoreError::Missing(..))
        ));
        std::fs::write(KeyStore::path(&dir.path().join("keys"), &id), "z3u2garbage").unwrap();
        assert!(matches!(
            store.load(&id).await,
            Err(KeyStoreError::Damaged(_))
        ));
    }
}
