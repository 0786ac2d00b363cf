//! A hub whose blobs live in an S3-compatible bucket (`TONGBAN_TEST_S3`),
//! on every database backend: attachments are stored there and read back
//! for online verification and export.

use tongban_service::AttachmentInput;
use tongban_store::{BlobConfig, BlobStore, S3Config, S3Credentials, sha256_hex};

use crate::{COMPANY, MARKET, business_licence, hub_config, hub_with, query};

fn s3_config(bucket: &tongban_tests::TestBucket) -> S3Config {
    let (id, secret) = tongban_tests::S3_TEST_ACCESS_KEY;
    S3Config {
        bucket: bucket.name.clone(),
        endpoint: Some(bucket.endpoint.clone()),
        region: "us-east-1".into(),
        credentials: S3Credentials {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            session_token: None,
        },
        allow_http: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_attachments_round_trip_through_s3() {
    let Some(endpoint) = tongban_tests::s3_endpoint() else {
        return;
    };
    for backend in tongban_tests::backends("s3_attachments").await {
        eprintln!("s3 attachments: {}", backend.name);
        let bucket = tongban_tests::s3_bucket(&endpoint, "service-attachments");
        let mut config = hub_config(&backend, backend.dir().join("keys"));
        config.store.blobs = BlobConfig::S3(s3_config(&bucket));
        let hub = hub_with(config).await;

        // A rendering of a few MiB, as scanned licences are.
        let rendering: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut input = business_licence();
        input.attachment = Some(AttachmentInput {
            bytes: rendering.clone(),
            media_type: "application/pdf".into(),
        });
        let issued = hub.issue(MARKET, input).await.unwrap();

        // Online verification fetches the attachment from the bucket.
        let found = hub
            .find_by_holder("001", COMPANY, None, false, &query("核验营业执照"))
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        let v = &found[0].verification;
        assert!(v.valid, "{:?}", v.problems);
        assert!(v.unchecked.is_empty(), "attachment checked online");
        // Export hands over the same bytes.
        let export = hub
            .export(&issued.identifier.to_string(), &query("出具证明材料"))
            .await
            .unwrap();
        let (_, bytes, media) = export.attachment.unwrap();
        assert_eq!(media, "application/pdf");
        assert_eq!(bytes, rendering);
        hub.close().await;

        // The bytes are in the bucket, none on the local disk.
        assert!(!backend.blob_dir().exists());
        let bucket_store = BlobStore::open(&BlobConfig::S3(s3_config(&bucket)))
            .await
            .unwrap();
        assert_eq!(bucket_store.list().await.unwrap(), [sha256_hex(&rendering)]);
        backend.cleanup().await;
    }
}
