//! Content-addressed blobs (licence attachments, large payloads).
//!
//! A blob's name is the hex SHA-256 of its bytes, so writing the same bytes
//! twice is harmless and a reader can always check what it got.
//!
//! A local directory's writes go to a staging file beside the blob
//! (`sha256/xx/<digest>#<n>`), renamed into place once synced; a process
//! killed meanwhile leaves the staging file behind. Opening the store
//! removes those no write has touched for a while ([`BlobStore::sweep_staging`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::{Result, StoreError};

/// Largest blob accepted (64 MiB): attachments are renderings, not archives.
pub const MAX_BLOB_BYTES: usize = 64 * 1024 * 1024;

/// The blob store.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    description: String,
    /// The directory of a local blob store.
    local: Option<PathBuf>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobStore({})", self.description)
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    tongban_seal::hex(&tongban_seal::sha256(bytes))
}

impl BlobStore {
    /// A local directory; files and their directories are fsynced on write.
    pub fn local(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("blob directory {}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StoreError::Config(format!("blob directory {}: {e}", dir.display())))?
            .with_fsync(true);
        Ok(BlobStore {
            inner: Arc::new(fs),
            description: format!("local {}", dir.display()),
            local: Some(dir.to_owned()),
        })
    }

    /// Removes the staging files of writes that ended without finishing (a
    /// killed process) and that nothing has written to for `grace`, so that
    /// a write still going on in another process on the same directory is
    /// left alone. Only files named like ours, where ours are, go: a digest,
    /// `#` and digits, in `sha256/xx/`. Returns how many were removed.
    pub fn sweep_staging(&self, grace: Duration) -> Result<usize> {
        let Some(dir) = &self.local else {
            return Ok(0);
        };
        let io = |p: &Path, e: std::io::Error| {
            StoreError::Unavailable(format!("blob directory {}: {e}", p.display()).into())
        };
        let root = dir.join("sha256");
        let shards = match std::fs::read_dir(&root) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&root, e)),
        };
        let cutoff = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        for shard in shards {
            let shard = shard.map_err(|e| io(&root, e))?.path();
            if !shard.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&shard).map_err(|e| io(&shard, e))? {
                let file = file.map_err(|e| io(&shard, e))?;
                let abandoned = is_staging_name(&file.file_name().to_string_lossy())
                    && file
                        .metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t < cutoff);
                if abandoned {
                    match std::fs::remove_file(file.path()) {
                        Ok(()) => removed += 1,
                        // Finished or removed meanwhile.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io(&file.path(), e)),
                    }
                }
            }
        }
        if removed > 0 {
            tracing::info!(
                removed,
                dir = %dir.display(),
                "removed staging files of blob writes that never finished"
            );
        }
        Ok(removed)
    }

    fn path(sha256: &str) -> Result<ObjectPath> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Blob(format!(
                "not a SHA-256 hex digest: {sha256:?}"
            )));
        }
        Ok(ObjectPath::from(format!(
            "sha256/{}/{}",
            &sha256[..2],
            sha256
        )))
    }

    /// Stores `bytes` durably and returns their hex SHA-256.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<String> {
        let digest = sha256_hex(&bytes);
        self.write(&digest, bytes).await?;
        Ok(digest)
    }

    /// Stores `bytes` durably if they hash to `expected` (hashed on a
    /// blocking thread: blobs run to megabytes); otherwise writes nothing
    /// and returns the digest they do have.
    pub async fn put_expecting(
        &self,
        bytes: Vec<u8>,
        expected: &str,
    ) -> Result<std::result::Result<(), String>> {
        let (digest, bytes) = tokio::task::spawn_blocking(move || (sha256_hex(&bytes), bytes))
            .await
            .map_err(|e| StoreError::Blob(e.to_string()))?;
        if digest != expected {
            return Ok(Err(digest));
        }
        self.write(&digest, bytes).await?;
        Ok(Ok(()))
    }

    async fn write(&self, digest: &str, bytes: Vec<u8>) -> Result<()> {
        if bytes.len() > MAX_BLOB_BYTES {
            return Err(StoreError::Blob(format!(
                "blob of {} bytes exceeds the {MAX_BLOB_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let path = Self::path(digest)?;
        self.inner
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(blob_error)?;
        Ok(())
    }

    /// Reads a blob and checks its digest; `None` if absent.
    pub async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let path = Self::path(sha256)?;
        let bytes = match self.inner.get(&path).await {
            Ok(result) => result.bytes().await.map_err(blob_error)?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(blob_error(e)),
        };
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(StoreError::Corrupt(format!(
                "blob {sha256} holds bytes hashing to {actual}"
            )));
        }
        Ok(Some(bytes.to_vec()))
    }
}

/// An object store's failure as the store's: an I/O error underneath (a
/// full or read-only disk, a file that cannot be written) makes the blob
/// store unavailable; anything else is reported as it is.
fn blob_error(e: object_store::Error) -> StoreError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return StoreError::Unavailable(Box::new(e));
        }
        source = s.source();
    }
    StoreError::Blob(e.to_string())
}

/// `<64 hex>#<digits>`: the name of a staging file of a local write.
fn is_staging_name(name: &str) -> bool {
    name.split_once('#').is_some_and(|(digest, n)| {
        digest.len() == 64
            && digest.bytes().all(|b| b.is_ascii_hexdigit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_staging_name;

    #[test]
    fn staging_names_are_recognised() {
        let digest = "ab".repeat(32);
        assert!(is_staging_name(&format!("{digest}#1")));
        assert!(is_staging_name(&format!("{digest}#12")));
        for name in [
            digest.clone(),
            format!("{digest}#"),
            format!("{digest}#x"),
            format!("{}#1", &digest[1..]),
            format!("{}#1", "zz".repeat(32)),
            "notes#1".to_owned(),
        ] {
            assert!(!is_staging_name(&name), "{name}");
        }
    }
}
