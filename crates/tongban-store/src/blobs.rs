//! Content-addressed blobs (licence attachments, large payloads).
//!
//! A blob's name is the hex SHA-256 of its bytes, so writing the same bytes
//! twice is harmless and a reader can always check what it got.
//!
//! A local directory's writes go to a staging file beside the blob
//! (`sha256/xx/<digest>#<n>`), renamed into place once synced; a process
//! killed meanwhile leaves the staging file behind. Opening the store
//! removes those no write has touched for a while ([`BlobStore::sweep_staging`]).
//!
//! An S3-compatible bucket ([`S3Config`]) keeps the same names
//! (`sha256/xx/<digest>` as object keys); a PUT is atomic there, so it
//! needs no staging. Several hub nodes share one bucket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::client::HttpError;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::{Result, StoreError};

/// Largest blob accepted (64 MiB): attachments are renderings, not archives.
pub const MAX_BLOB_BYTES: usize = 64 * 1024 * 1024;

/// An S3-compatible bucket for blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket (it must exist: the hub does not create it).
    pub bucket: String,
    /// The server's URL (`https://…`, or `http://…` with
    /// [`allow_http`](S3Config::allow_http)); `None` for AWS's own
    /// endpoint of the region. A named endpoint is addressed path-style
    /// (`<endpoint>/<bucket>/<key>`), as S3-compatible servers expect.
    pub endpoint: Option<String>,
    /// The region (`us-east-1` for most S3-compatible servers).
    pub region: String,
    /// The access key.
    pub credentials: S3Credentials,
    /// Whether a plain `http://` endpoint is accepted (a test server on
    /// the loopback); otherwise only `https://`.
    pub allow_http: bool,
}

impl S3Config {
    /// Where the bucket is, for messages: `s3 bucket B at ENDPOINT`.
    pub fn describe(&self) -> String {
        format!("s3 bucket {} at {}", self.bucket, self.endpoint_name())
    }

    fn endpoint_name(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("https://s3.{}.amazonaws.com", self.region),
        }
    }
}

/// An S3 access key. Its `Debug` shows the key id only: the secret and
/// the session token are never printed or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// How requests to an S3 endpoint are bounded: a refused or unreachable
/// endpoint is reported within seconds, not after object_store's default
/// three minutes of retries; a 64 MiB blob has minutes to travel.
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
const S3_MAX_RETRIES: usize = 3;
const S3_RETRY_TIMEOUT: Duration = Duration::from_secs(20);

/// The blob store.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    description: String,
    /// The directory of a local blob store.
    local: Option<PathBuf>,
    /// `s3 bucket B at ENDPOINT`, for an S3 store's errors.
    remote: Option<Arc<str>>,
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
            remote: None,
        })
    }

    /// The blob store a configuration names: see [`BlobStore::local`] and
    /// [`BlobStore::s3`].
    pub async fn open(config: &crate::BlobConfig) -> Result<Self> {
        match config {
            crate::BlobConfig::Local(dir) => BlobStore::local(dir),
            crate::BlobConfig::S3(s3) => BlobStore::s3(s3).await,
        }
    }

    /// An S3-compatible bucket, checked once by listing a key prefix that
    /// holds nothing: an unreachable endpoint, a missing bucket or refused
    /// credentials are [`StoreError::Unavailable`] naming the bucket and
    /// the endpoint, a malformed endpoint is [`StoreError::Config`].
    /// Requests sign with ring and travel over rustls with ring, which this
    /// installs as the process's default TLS provider if none is.
    pub async fn s3(config: &S3Config) -> Result<Self> {
        let store = BlobStore::s3_unchecked(config)?;
        let probe = ObjectPath::from("tongban-probe");
        if let Some(Err(e)) = store.inner.list(Some(&probe)).next().await {
            return Err(store.blob_error(e));
        }
        Ok(store)
    }

    fn s3_unchecked(config: &S3Config) -> Result<Self> {
        let describe = config.describe();
        if config.bucket.is_empty() {
            return Err(StoreError::Config("the S3 bucket name is empty".into()));
        }
        if let Some(endpoint) = &config.endpoint {
            let plain = endpoint.starts_with("http://");
            if !plain && !endpoint.starts_with("https://") {
                return Err(StoreError::Config(format!(
                    "S3 endpoint {endpoint:?} is not an http(s) URL"
                )));
            }
            if plain && !config.allow_http {
                return Err(StoreError::Config(format!(
                    "S3 endpoint {endpoint} is plain http: allow it explicitly \
                     (--s3-allow-http, TONGBAN_S3_ALLOW_HTTP) or use https"
                )));
            }
        }
        // Err when a provider is installed already: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let credentials = &config.credentials;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(&credentials.secret_access_key)
            .with_allow_http(config.allow_http)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    .with_connect_timeout(S3_CONNECT_TIMEOUT)
                    .with_timeout(S3_REQUEST_TIMEOUT),
            )
            .with_retry(RetryConfig {
                max_retries: S3_MAX_RETRIES,
                retry_timeout: S3_RETRY_TIMEOUT,
                ..RetryConfig::default()
            });
        if let Some(token) = &credentials.session_token {
            builder = builder.with_token(token);
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
        }
        let s3 = builder
            .build()
            .map_err(|e| StoreError::Config(format!("{describe}: {e}")))?;
        Ok(BlobStore {
            inner: Arc::new(s3),
            description: describe.clone(),
            local: None,
            remote: Some(describe.into()),
        })
    }

    /// What and where the store is: `local DIR` or `s3 bucket B at
    /// ENDPOINT` (never a credential).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether the blobs are in an S3-compatible bucket.
    pub fn is_s3(&self) -> bool {
        self.remote.is_some()
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
            .map_err(|e| self.blob_error(e))?;
        Ok(())
    }

    /// Reads a blob and checks its digest; `None` if absent.
    pub async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let path = Self::path(sha256)?;
        let bytes = match self.inner.get(&path).await {
            Ok(result) => result.bytes().await.map_err(|e| self.blob_error(e))?,
            Err(e @ object_store::Error::NotFound { .. }) if !missing_bucket(&e) => {
                return Ok(None);
            }
            Err(e) => return Err(self.blob_error(e)),
        };
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(StoreError::Corrupt(format!(
                "blob {sha256} holds bytes hashing to {actual}"
            )));
        }
        Ok(Some(bytes.to_vec()))
    }

    /// Whether a blob is stored (its bytes are not read).
    pub async fn contains(&self, sha256: &str) -> Result<bool> {
        let path = Self::path(sha256)?;
        match self.inner.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.blob_error(e)),
        }
    }

    /// The digest of every blob stored, in no particular order: the keys
    /// named like a blob where a blob's are (`sha256/xx/<digest>`, `xx`
    /// its first two digits). Staging files and anything else are passed
    /// over. About 100 bytes of memory a blob.
    pub async fn list(&self) -> Result<Vec<String>> {
        let prefix = ObjectPath::from("sha256");
        let mut keys = self.inner.list(Some(&prefix));
        let mut digests = Vec::new();
        while let Some(meta) = keys.next().await {
            let meta = meta.map_err(|e| self.blob_error(e))?;
            if let Some(digest) = digest_of_key(meta.location.as_ref()) {
                digests.push(digest.to_owned());
            }
        }
        Ok(digests)
    }

    /// An object store's failure as the store's. Local: an I/O error
    /// underneath (a full or read-only disk, a file that cannot be
    /// written) makes the blob store unavailable. S3: an endpoint that
    /// does not answer, answers with a server error, has no such bucket or
    /// refuses the credentials makes it unavailable, naming bucket and
    /// endpoint. Anything else is reported as it is.
    fn blob_error(&self, e: object_store::Error) -> StoreError {
        if let Some(remote) = &self.remote {
            if let Some(why) = s3_unavailable(&e) {
                return StoreError::Unavailable(format!("{remote}: {why}: {e}").into());
            }
            return StoreError::Blob(format!("{remote}: {e}"));
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<std::io::Error>() {
                return StoreError::Unavailable(Box::new(e));
            }
            source = s.source();
        }
        StoreError::Blob(e.to_string())
    }
}

/// Why an S3 request's failure makes the store unavailable, if it does.
/// object_store keeps the HTTP status of a failed request to itself (its
/// `RetryError` is private) except for a few statuses it names; the rest
/// is read from the error's text, which quotes the status and S3's body.
fn s3_unavailable(e: &object_store::Error) -> Option<&'static str> {
    if matches!(
        e,
        object_store::Error::Unauthenticated { .. } | object_store::Error::PermissionDenied { .. }
    ) {
        return Some(
            "the server refused the credentials (check AWS_ACCESS_KEY_ID, \
             AWS_SECRET_ACCESS_KEY and the bucket's policy)",
        );
    }
    if missing_bucket(e) {
        return Some("no such bucket");
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<HttpError>() {
            return Some("the endpoint cannot be reached");
        }
        source = s.source();
    }
    let text = e.to_string();
    (text.contains("status code: 5")
        || text.contains("status code: 429")
        || text.contains("Server returned error response"))
    .then_some("the server failed")
}

/// Whether S3 answered that the bucket does not exist (its error body's
/// code, quoted in the error's text).
fn missing_bucket(e: &object_store::Error) -> bool {
    e.to_string().contains("NoSuchBucket")
}

/// `sha256/xx/<digest>` → the digest, when `xx` are its first two digits.
fn digest_of_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("sha256/")?;
    let (shard, digest) = rest.split_once('/')?;
    (digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && digest.starts_with(shard)
        && shard.len() == 2)
        .then_some(digest)
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
    use super::*;

    fn s3() -> S3Config {
        S3Config {
            bucket: "hub-blobs".into(),
            endpoint: Some("https://s3.example.gov.cn".into()),
            region: "cn-south-1".into(),
            credentials: S3Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG".into(),
                session_token: Some("FQoGZXIvYXdzEJr".into()),
            },
            allow_http: false,
        }
    }

    #[test]
    fn secrets_are_never_shown() {
        let config = s3();
        let store = BlobStore::s3_unchecked(&config).unwrap_or_else(|e| panic!("{e}"));
        for text in [
            format!("{config:?}"),
            format!("{:?}", crate::BlobConfig::S3(config.clone())),
            format!("{store:?}"),
            store.description().to_owned(),
        ] {
            assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
            assert!(!text.contains("FQoGZXIvYXdzEJr"), "{text}");
        }
        assert_eq!(
            store.description(),
            "s3 bucket hub-blobs at https://s3.example.gov.cn"
        );
        let aws = S3Config {
            endpoint: None,
            ..config
        };
        assert_eq!(
            aws.describe(),
            "s3 bucket hub-blobs at https://s3.cn-south-1.amazonaws.com"
        );
    }

    #[test]
    fn refused_credentials_make_the_store_unavailable() {
        let store = BlobStore::s3_unchecked(&s3()).unwrap_or_else(|e| panic!("{e}"));
        let source = || -> Box<dyn std::error::Error + Send + Sync> { "403 Forbidden".into() };
        for e in [
            object_store::Error::PermissionDenied {
                path: "sha256/ab/ab".into(),
                source: source(),
            },
            object_store::Error::Unauthenticated {
                path: "sha256/ab/ab".into(),
                source: source(),
            },
        ] {
            let err = store.blob_error(e);
            assert_eq!(err.code(), "STORE_UNAVAILABLE");
            let text = err.to_string();
            assert!(
                text.contains("refused the credentials")
                    && text.contains("AWS_ACCESS_KEY_ID")
                    && text.contains("https://s3.example.gov.cn"),
                "{text}"
            );
        }
        // A refusal of the value itself is not the store's fault.
        let other = store.blob_error(object_store::Error::NotImplemented {
            operation: "copy".into(),
            implementer: "test".into(),
        });
        assert_eq!(other.code(), "STORE_BLOB");
    }

    #[test]
    fn blob_keys_are_recognised() {
        let digest = "ab".repeat(32);
        assert_eq!(
            digest_of_key(&format!("sha256/ab/{digest}")),
            Some(digest.as_str())
        );
        for key in [
            format!("sha256/cd/{digest}"),
            format!("sha256/ab/{digest}#1"),
            format!("sha256/ab/{}", &digest[1..]),
            format!("sha256/{digest}"),
            format!("other/ab/{digest}"),
            format!("sha256/ab/{}", "AB".repeat(32)),
        ] {
            assert_eq!(digest_of_key(&key), None, "{key}");
        }
    }

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
