//! The payload store against the local AWS endpoint.

use std::time::Duration;

use claimcheck::payload_store::{MIN_PART_SIZE, PresignPut, PutOptions};
use claimcheck::{PayloadPointer, PayloadStore, StoreError};
use testkit::{endpoint, pseudo_random, sha256_hex};
use tokio::io::AsyncReadExt;

async fn read_all(store: &PayloadStore, object: &PayloadPointer) -> Vec<u8> {
    let stream = store.get(object).await.expect("get");
    let mut out = Vec::new();
    stream
        .into_async_read()
        .read_to_end(&mut out)
        .await
        .expect("read body");
    out
}

#[tokio::test]
async fn small_payload_is_one_put_and_streams_back() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone());
    let object = PayloadPointer::new(&bucket, "small");
    let data = pseudo_random(100_000, 1);
    let options = PutOptions::with_content_type("application/octet-stream");
    let info = store
        .put_stream(&object, &data[..], &options)
        .await
        .expect("put");
    assert_eq!(info.size, 100_000);
    let head = store.head(&object).await.expect("head");
    assert_eq!(head.size, 100_000);
    assert_eq!(
        head.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(read_all(&store, &object).await, data);
}

#[tokio::test]
async fn large_payload_goes_multipart_in_parts() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone()).with_parts(MIN_PART_SIZE, 2);
    let object = PayloadPointer::new(&bucket, "large");
    // Three full parts and a short last one.
    let data = pseudo_random(3 * MIN_PART_SIZE + 12_345, 2);
    let info = store
        .put_stream(&object, &data[..], &PutOptions::default())
        .await
        .expect("put");
    assert_eq!(info.size, data.len() as u64);
    // A multipart ETag ends with the part count.
    let head = store.head(&object).await.expect("head");
    assert!(
        head.e_tag
            .as_deref()
            .is_some_and(|e| e.trim_matches('"').ends_with("-4")),
        "{head:?}"
    );
    let back = read_all(&store, &object).await;
    assert_eq!(sha256_hex(&back), sha256_hex(&data));
}

/// A source that yields `good` bytes and then fails, like a client that disconnects.
struct FailingSource {
    good: usize,
}

impl tokio::io::AsyncRead for FailingSource {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.good == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("source broke")));
        }
        let n = self.good.min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&vec![7u8; n]);
        self.good -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn failed_multipart_upload_is_aborted_and_leaves_nothing() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone()).with_parts(MIN_PART_SIZE, 2);
    let object = PayloadPointer::new(&bucket, "broken");
    let source = FailingSource {
        good: 2 * MIN_PART_SIZE + 10,
    };
    let err = store
        .put_stream(&object, source, &PutOptions::default())
        .await
        .expect_err("source fails");
    assert!(matches!(err, StoreError::Source(_)), "{err}");
    let uploads = aws
        .s3
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .expect("list uploads");
    assert!(
        uploads.uploads().is_empty(),
        "parts left behind: {uploads:?}"
    );
    assert!(aws.keys(&bucket).await.is_empty());
}

#[tokio::test]
async fn missing_object_is_not_found_for_get_and_head() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone());
    let object = PayloadPointer::new(&bucket, "nothing-here");
    let get = store.get(&object).await.expect_err("missing");
    assert!(get.is_not_found(), "{get}");
    assert!(!get.is_transient());
    let head = store.head(&object).await.expect_err("missing");
    assert!(head.is_not_found(), "{head}");
    let no_bucket = store
        .get(&PayloadPointer::new("no-such-bucket-cc", "k"))
        .await
        .expect_err("missing");
    // A missing bucket is its own error: a configuration fault, not one payload that is gone.
    assert!(
        matches!(no_bucket, StoreError::NoSuchBucket(ref p) if p.bucket == "no-such-bucket-cc"),
        "{no_bucket}"
    );
    assert!(!no_bucket.is_not_found());
}

#[tokio::test]
async fn delete_removes_and_is_idempotent() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone());
    let object = PayloadPointer::new(&bucket, "gone-soon");
    store
        .put_stream(&object, &b"bytes"[..], &PutOptions::default())
        .await
        .expect("put");
    store.delete(&object).await.expect("delete");
    assert!(
        store
            .head(&object)
            .await
            .expect_err("deleted")
            .is_not_found()
    );
    store
        .delete(&object)
        .await
        .expect("deleting again succeeds, as in S3");
}

#[tokio::test]
async fn reading_a_large_payload_into_a_string_is_refused() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone());
    let object = PayloadPointer::new(&bucket, "big-text");
    store
        .put_stream(&object, &[b'a'; 2048][..], &PutOptions::default())
        .await
        .expect("put");
    let err = store
        .get(&object)
        .await
        .expect("get")
        .read_to_string(1024)
        .await
        .expect_err("limit");
    assert!(
        matches!(
            err,
            StoreError::TooLargeToBuffer {
                size: 2048,
                limit: 1024
            }
        ),
        "{err}"
    );
    let text = store
        .get(&object)
        .await
        .expect("get")
        .read_to_string(4096)
        .await
        .expect("fits");
    assert_eq!(text.len(), 2048);
}

/// The local endpoint does not verify signatures (a corrupted X-Amz-Signature is accepted), so
/// it cannot show that S3 refuses a mismatching body. What the URL pins is checked instead by
/// reading what it signs: content type, content length and the SHA-256 checksum must be
/// signed headers. The upload itself then goes through the endpoint with a plain HTTP client.
#[tokio::test]
async fn presigned_put_signs_type_length_and_checksum_and_uploads() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone());
    let object = PayloadPointer::new(&bucket, "uploads/presigned");
    let data = pseudo_random(4096, 3);
    let checksum = testkit::sha256_base64(&data);
    let put = PresignPut::new(
        "application/json",
        data.len() as u64,
        Duration::from_secs(900),
    )
    .with_checksum_sha256(Some(checksum.clone()));
    let presigned = store.presign_put(&object, &put).await.expect("presign");
    assert_eq!(presigned.method, "PUT");
    let url = reqwest::Url::parse(&presigned.url).expect("url");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let signed: Vec<&str> = query["X-Amz-SignedHeaders"].split(';').collect();
    for header in [
        "content-length",
        "content-type",
        "host",
        "if-none-match",
        "x-amz-checksum-sha256",
    ] {
        assert!(signed.contains(&header), "{header} not signed: {signed:?}");
    }
    assert_eq!(query["X-Amz-Expires"], "900");
    assert!(
        !format!("{presigned:?}").contains("X-Amz-Signature"),
        "Debug must not print the URL"
    );
    let headers: std::collections::HashMap<_, _> = presigned.headers.iter().cloned().collect();
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(headers.get("x-amz-checksum-sha256"), Some(&checksum));

    let http = reqwest::Client::new();
    let mut request = http.put(url).body(data.clone());
    for (name, value) in &presigned.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("upload");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(read_all(&store, &object).await, data);
    assert_eq!(headers.get("if-none-match").map(String::as_str), Some("*"));

    // Single use: the same URL with the same headers again is refused (S3's conditional write,
    // 412 PreconditionFailed), and the stored bytes stay the first upload's.
    let mut again = http.put(&presigned.url).body(data.clone());
    for (name, value) in &presigned.headers {
        again = again.header(name, value);
    }
    let refused = again.send().await.expect("second upload");
    assert_eq!(refused.status().as_u16(), 412);
    assert_eq!(read_all(&store, &object).await, data);

    let get = store
        .presign_get(
            &object,
            Duration::from_secs(60),
            Some("attachment; filename=\"p.json\"".into()),
        )
        .await
        .expect("presign get");
    let url = reqwest::Url::parse(&get.url).expect("url");
    assert!(
        url.query_pairs()
            .any(|(k, _)| k == "response-content-disposition")
    );
    let response = http.get(url).send().await.expect("download");
    assert_eq!(
        response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"p.json\"")
    );
    assert_eq!(response.bytes().await.expect("body").to_vec(), data);
}

/// Guard against the SDK baking a default checksum into presigned PUTs (aws-sdk-rust did so
/// twice; uploads then fail with BadDigest): a URL without a declared SHA-256 signs exactly the
/// headers the store declares and returns, carries no checksum parameter of its own, and an
/// upload with only those headers succeeds.
#[tokio::test]
async fn presigned_put_without_a_checksum_signs_only_the_declared_headers() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone());
    let object = PayloadPointer::new(&bucket, "uploads/no-checksum");
    let data = pseudo_random(1000, 9);
    let put = PresignPut::new("text/plain", data.len() as u64, Duration::from_secs(60));
    let presigned = store.presign_put(&object, &put).await.expect("presign");
    let url = reqwest::Url::parse(&presigned.url).expect("url");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let mut signed: Vec<&str> = query["X-Amz-SignedHeaders"].split(';').collect();
    signed.sort_unstable();
    assert_eq!(
        signed,
        ["content-length", "content-type", "host", "if-none-match"]
    );
    let mut declared: Vec<&str> = presigned.headers.iter().map(|(n, _)| n.as_str()).collect();
    declared.push("host");
    declared.sort_unstable();
    assert_eq!(
        signed, declared,
        "every signed header is one the caller is told to send"
    );
    let checksum_parameters: Vec<&String> = query
        .keys()
        .filter(|k| k.to_ascii_lowercase().contains("checksum"))
        .collect();
    assert!(checksum_parameters.is_empty(), "{checksum_parameters:?}");

    let mut request = reqwest::Client::new().put(url).body(data.clone());
    for (name, value) in &presigned.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("upload");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(read_all(&store, &object).await, data);
}

/// Object tags and SSE-KMS reach S3 on both paths (one PUT, multipart); the endpoint stores
/// both and reports them back, as S3 does.
#[tokio::test]
async fn tags_and_sse_kms_are_stored_with_single_and_multipart_puts() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone()).with_parts(MIN_PART_SIZE, 2);
    let mut options = PutOptions::with_content_type("text/csv");
    options
        .tags
        .insert("team".into(), "data science/2026".into());
    options.tags.insert("retention".into(), "short".into());
    options.sse_kms_key_id = Some("alias/claimcheck-payloads".into());
    for (key, size) in [("one-put", 1000), ("multipart", MIN_PART_SIZE + 1)] {
        let object = PayloadPointer::new(&bucket, key);
        store
            .put_stream(&object, &pseudo_random(size, 7)[..], &options)
            .await
            .expect("put");
        let tagging = aws
            .s3
            .get_object_tagging()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .expect("tagging");
        let mut tags: Vec<(String, String)> = tagging
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        tags.sort();
        assert_eq!(
            tags,
            [
                ("retention".to_owned(), "short".to_owned()),
                ("team".to_owned(), "data science/2026".to_owned())
            ],
            "{key}"
        );
        let head = aws
            .s3
            .head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .expect("head");
        assert_eq!(
            head.server_side_encryption().map(|e| e.as_str()),
            Some("aws:kms"),
            "{key}"
        );
        assert_eq!(
            head.ssekms_key_id(),
            Some("alias/claimcheck-payloads"),
            "{key}"
        );
    }
}

#[tokio::test]
async fn tags_over_s3s_limits_are_refused_before_anything_is_uploaded() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let store = PayloadStore::new(aws.s3.clone());
    let object = PayloadPointer::new(&bucket, "tagged");
    let mut too_many = PutOptions::default();
    for i in 0..11 {
        too_many.tags.insert(format!("k{i}"), "v".into());
    }
    let mut long_key = PutOptions::default();
    long_key.tags.insert("k".repeat(129), "v".into());
    let mut ampersand = PutOptions::default();
    ampersand
        .tags
        .insert("team".into(), "data & science".into());
    for options in [too_many, long_key, ampersand] {
        let refused = store
            .put_stream(&object, &b"body"[..], &options)
            .await
            .expect_err("refused");
        assert!(matches!(refused, StoreError::InvalidTags(_)), "{refused:?}");
    }
    assert!(aws.keys(&bucket).await.is_empty());
}

/// Over HTTPS (every AWS endpoint) bodies go out as `UNSIGNED-PAYLOAD` with their CRC32
/// checksum; over plain HTTP the signature covers the body's SHA-256. The local endpoint serves
/// plain HTTP in `make test` (and checks no signature), so the HTTPS side is seen on the request
/// the SDK would send, captured before it leaves; the plain side is captured alike for contrast.
#[tokio::test]
async fn bodies_are_unsigned_over_https_and_signed_over_plain_http() {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let sha256_of_hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    for (endpoint, signed) in [
        (Some("https://s3.us-east-1.amazonaws.com"), false),
        (None, false),
        (Some("http://127.0.0.1:9"), true),
    ] {
        let (http, captured) = aws_smithy_http_client::test_util::capture_request(None);
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .force_path_style(true)
            .http_client(http);
        config.set_endpoint_url(endpoint.map(str::to_owned));
        let config = config.build();
        let store = PayloadStore::new(aws_sdk_s3::Client::from_conf(config));
        // The captured answer is an empty 200; only the request matters here.
        let _ = store
            .put_bytes(
                &PayloadPointer::new("bucket", "key"),
                bytes::Bytes::from_static(b"hello"),
                &PutOptions::default(),
            )
            .await;
        let request = captured.expect_request();
        let content_sha256 = request.headers().get("x-amz-content-sha256");
        let expected = if signed {
            sha256_of_hello
        } else {
            "UNSIGNED-PAYLOAD"
        };
        assert_eq!(content_sha256, Some(expected), "{endpoint:?}");
        assert!(
            request.headers().get("x-amz-checksum-crc32").is_some(),
            "the body's CRC32 goes with it either way ({endpoint:?})"
        );
    }
}
