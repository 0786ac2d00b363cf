//! The blob store's contract, run on every blob backend available: a local
//! directory always, a fresh bucket on an S3-compatible server when
//! `TONGBAN_TEST_S3` is set (`.ci/s3.sh` starts one).

use object_store::ObjectStoreExt;
use tongban_store::{
    BlobConfig, BlobStore, DatabaseConfig, MAX_BLOB_BYTES, S3Config, S3Credentials, Store,
    StoreConfig, sha256_hex,
};
use tongban_tests::{TestBlobs, TestBucket};

fn credentials() -> S3Credentials {
    let (id, secret) = tongban_tests::S3_TEST_ACCESS_KEY;
    S3Credentials {
        access_key_id: id.into(),
        secret_access_key: secret.into(),
        session_token: None,
    }
}

fn s3_config(bucket: &TestBucket) -> S3Config {
    S3Config {
        bucket: bucket.name.clone(),
        endpoint: Some(bucket.endpoint.clone()),
        region: "us-east-1".into(),
        credentials: credentials(),
        allow_http: true,
    }
}

fn config(backend: &TestBlobs) -> BlobConfig {
    match backend {
        TestBlobs::Local(dir) => BlobConfig::Local(dir.path().join("blobs")),
        TestBlobs::S3(bucket) => BlobConfig::S3(s3_config(bucket)),
    }
}

async fn open(backend: &TestBlobs) -> BlobStore {
    eprintln!("blobs: {}", backend.name());
    BlobStore::open(&config(backend)).await.unwrap()
}

/// Writes `bytes` under `key` behind the blob store's back: a file in the
/// directory, an object through the S3 API.
async fn write_raw(backend: &TestBlobs, key: &str, bytes: &[u8]) {
    match backend {
        TestBlobs::Local(dir) => {
            let path = dir.path().join("blobs").join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
        TestBlobs::S3(bucket) => {
            let (id, secret) = tongban_tests::S3_TEST_ACCESS_KEY;
            let s3 = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(&bucket.name)
                .with_endpoint(&bucket.endpoint)
                .with_region("us-east-1")
                .with_access_key_id(id)
                .with_secret_access_key(secret)
                .with_allow_http(true)
                .build()
                .unwrap();
            s3.put(&key.into(), bytes.to_vec().into()).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_and_absent_blobs() {
    for backend in tongban_tests::blob_backends("put-get") {
        let blobs = open(&backend).await;
        let pdf = b"%PDF-1.7\n...".to_vec();
        let digest = blobs.put(pdf.clone()).await.unwrap();
        assert_eq!(digest, sha256_hex(&pdf));
        // The same bytes again: harmless.
        assert_eq!(blobs.put(pdf.clone()).await.unwrap(), digest);
        assert_eq!(blobs.get(&digest).await.unwrap().unwrap(), pdf);
        assert!(blobs.contains(&digest).await.unwrap());
        let absent = sha256_hex(b"absent");
        assert_eq!(blobs.get(&absent).await.unwrap(), None);
        assert!(!blobs.contains(&absent).await.unwrap());
        for bad in ["../../etc/passwd", "", &digest[..63], &"zz".repeat(32)] {
            let err = blobs.get(bad).await.unwrap_err();
            assert_eq!(err.code(), "STORE_BLOB", "{bad:?}: {err}");
        }
        // An empty blob is a blob.
        let empty = blobs.put(Vec::new()).await.unwrap();
        assert_eq!(blobs.get(&empty).await.unwrap().unwrap(), b"");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_mismatch_writes_nothing() {
    for backend in tongban_tests::blob_backends("mismatch") {
        let blobs = open(&backend).await;
        let bytes = b"the bytes sent".to_vec();
        let claimed = sha256_hex(b"the bytes announced");
        let refused = blobs.put_expecting(bytes.clone(), &claimed).await.unwrap();
        assert_eq!(refused, Err(sha256_hex(&bytes)));
        assert_eq!(blobs.get(&claimed).await.unwrap(), None);
        assert_eq!(blobs.get(&sha256_hex(&bytes)).await.unwrap(), None);
        assert!(blobs.list().await.unwrap().is_empty());
        // The right digest is stored.
        let digest = sha256_hex(&bytes);
        assert_eq!(
            blobs.put_expecting(bytes.clone(), &digest).await.unwrap(),
            Ok(())
        );
        assert_eq!(blobs.get(&digest).await.unwrap().unwrap(), bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_over_the_limit_are_refused() {
    for backend in tongban_tests::blob_backends("limit") {
        let blobs = open(&backend).await;
        let big = vec![7u8; MAX_BLOB_BYTES + 1];
        let digest = sha256_hex(&big);
        let err = blobs.put(big).await.unwrap_err();
        assert_eq!(err.code(), "STORE_BLOB", "{err}");
        assert!(err.to_string().contains("limit"), "{err}");
        assert_eq!(blobs.get(&digest).await.unwrap(), None);
        // At the limit exactly: stored.
        let most = vec![8u8; MAX_BLOB_BYTES];
        let digest = blobs.put(most).await.unwrap();
        assert_eq!(
            blobs.get(&digest).await.unwrap().unwrap().len(),
            MAX_BLOB_BYTES
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_blob_is_detected() {
    for backend in tongban_tests::blob_backends("corrupt") {
        let blobs = open(&backend).await;
        let digest = blobs.put(b"original".to_vec()).await.unwrap();
        write_raw(
            &backend,
            &format!("sha256/{}/{digest}", &digest[..2]),
            b"tampered",
        )
        .await;
        let err = blobs.get(&digest).await.unwrap_err();
        assert_eq!(err.code(), "STORE_CORRUPT", "{err}");
        assert!(err.to_string().contains(&digest), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_names_blobs_only() {
    for backend in tongban_tests::blob_backends("list") {
        let blobs = open(&backend).await;
        assert!(blobs.list().await.unwrap().is_empty());
        let mut stored = Vec::new();
        for i in 0..5u8 {
            stored.push(blobs.put(vec![i; 100]).await.unwrap());
        }
        // Keys that are not blobs where blobs are: a staging name, a
        // digest in the wrong shard, something else entirely.
        let digest = sha256_hex(b"elsewhere");
        write_raw(
            &backend,
            &format!("sha256/{}/{digest}#3", &digest[..2]),
            b"x",
        )
        .await;
        write_raw(&backend, &format!("sha256/00/{digest}"), b"x").await;
        write_raw(&backend, "notes/readme", b"x").await;
        let mut listed = blobs.list().await.unwrap();
        listed.sort();
        stored.sort();
        assert_eq!(listed, stored);
    }
}

/// The store opens with S3 blobs as with local ones, on every database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_keeps_its_blobs_in_s3() {
    let Some(endpoint) = tongban_tests::s3_endpoint() else {
        return;
    };
    for backend in tongban_tests::backends("store_s3").await {
        eprintln!("store with s3 blobs: {}", backend.name);
        store_keeps_its_blobs_in_s3(&endpoint, &backend).await;
        backend.cleanup().await;
    }
}

async fn store_keeps_its_blobs_in_s3(endpoint: &str, backend: &tongban_tests::TestBackend) {
    let bucket = tongban_tests::s3_bucket(endpoint, "store");
    let store = Store::open(&StoreConfig::new(
        DatabaseConfig::parse(&backend.database_url),
        BlobConfig::S3(s3_config(&bucket)),
    ))
    .await
    .unwrap();
    assert!(store.blobs().is_s3());
    let debug = format!("{:?}", store.blobs());
    assert!(
        debug.contains(&bucket.name) && debug.contains(endpoint),
        "{debug}"
    );
    assert!(
        !debug.contains(tongban_tests::S3_TEST_ACCESS_KEY.1),
        "{debug}"
    );
    let digest = store.blobs().put(b"in the bucket".to_vec()).await.unwrap();
    store.close().await;
    // Nothing on the local disk: the bytes are in the bucket.
    assert!(!backend.dir().join("blobs").exists());
    let again = BlobStore::open(&BlobConfig::S3(s3_config(&bucket)))
        .await
        .unwrap();
    assert_eq!(again.get(&digest).await.unwrap().unwrap(), b"in the bucket");
}

#[tokio::test]
async fn a_missing_bucket_is_named() {
    let Some(endpoint) = tongban_tests::s3_endpoint() else {
        return;
    };
    let bucket = tongban_tests::s3_bucket(&endpoint, "missing");
    let mut missing = s3_config(&bucket);
    missing.bucket = format!("{}-never-made", bucket.name);
    let err = BlobStore::open(&BlobConfig::S3(missing.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "STORE_UNAVAILABLE", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("no such bucket")
            && text.contains(&missing.bucket)
            && text.contains(&endpoint),
        "{text}"
    );
    assert!(
        !text.contains(tongban_tests::S3_TEST_ACCESS_KEY.1),
        "{text}"
    );
}

/// Needs no server: nothing listens where it points.
#[tokio::test]
async fn s3_faults_are_named() {
    let bucket = TestBucket {
        endpoint: "http://127.0.0.1:9".into(),
        name: "tongban-nowhere".into(),
    };
    // An endpoint where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut unreachable = s3_config(&bucket);
    unreachable.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    let err = BlobStore::open(&BlobConfig::S3(unreachable))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "STORE_UNAVAILABLE", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("cannot be reached") && text.contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    // Plain http only when asked; a URL that is not http(s); no bucket.
    let mut plain = s3_config(&bucket);
    plain.allow_http = false;
    let err = BlobStore::open(&BlobConfig::S3(plain)).await.unwrap_err();
    assert_eq!(err.code(), "STORE_CONFIG", "{err}");
    assert!(err.to_string().contains("--s3-allow-http"), "{err}");
    let mut not_url = s3_config(&bucket);
    not_url.endpoint = Some("127.0.0.1:9000".into());
    let err = BlobStore::open(&BlobConfig::S3(not_url)).await.unwrap_err();
    assert_eq!(err.code(), "STORE_CONFIG", "{err}");
    let mut unnamed = s3_config(&bucket);
    unnamed.bucket.clear();
    let err = BlobStore::open(&BlobConfig::S3(unnamed)).await.unwrap_err();
    assert_eq!(err.code(), "STORE_CONFIG", "{err}");
}
