//! Content-addressed blobs (licence attachments, large payloads).
//!
//! A blob's name is the hex SHA-256 of its bytes, so writing the same bytes
//! twice is harmless and a reader can always check what it got.

use std::path::Path;
use std::sync::Arc;

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
        })
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
