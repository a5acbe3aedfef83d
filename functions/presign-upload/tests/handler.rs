//! presign-upload's handler in process, with API Gateway's payload-format-2.0 events, against
//! the local AWS endpoint.

use std::time::Duration;

use base64::Engine;
use claimcheck::ledger::Status;
use claimcheck::object_key::KeyPrefix;
use lambda_http::Request;
use presign_upload::{PresignUpload, Settings, handle};
use serde_json::{Value, json};

fn event(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
    base64: bool,
) -> Request {
    testkit::api_event(method, path, content_type, body, base64)
}

fn post(body: &str) -> Request {
    event(
        "POST",
        "/uploads",
        Some("application/json"),
        Some(body),
        false,
    )
}

async fn deps(max_size: u64, allowed: &str) -> (testkit::Endpoint, PresignUpload) {
    let aws = testkit::endpoint().await;
    let bucket = aws.bucket().await;
    let ledger = aws.ledger().await;
    let settings = Settings {
        bucket,
        table: ledger.table().to_owned(),
        uploads_prefix: KeyPrefix::new("uploads/").expect("prefix"),
        max_size,
        multipart_threshold: presign_upload::DEFAULT_MULTIPART_THRESHOLD,
        part_size: presign_upload::DEFAULT_PART_SIZE,
        multipart_window: presign_upload::DEFAULT_MULTIPART_WINDOW,
        allowed_content_types: allowed
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        url_lifetime: Duration::from_secs(900),
        // Off here so each bad-input case meets its own check; on by default (tested below).
        require_sha256: false,
        max_pending: 100,
    };
    let deps = PresignUpload::new(&aws.config_as("presign-upload"), settings);
    (aws, deps)
}

/// A `POST /uploads` from the IAM principal `user_arn`.
fn post_as(user_arn: &str, body: &str) -> Request {
    testkit::api_event_with(
        "POST",
        "/uploads",
        Some("application/json"),
        Some(body),
        false,
        Some(testkit::iam_authorizer(user_arn)),
    )
}

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";

#[tokio::test]
async fn the_sha256_is_required_by_default() {
    use std::collections::HashMap;
    let env = HashMap::from([("CLAIMCHECK_BUCKET", "b"), ("CLAIMCHECK_TABLE", "t")]);
    assert!(
        Settings::from_source(&env)
            .expect("defaults")
            .require_sha256
    );
    let (aws, mut deps) = deps(1 << 20, "").await;
    deps.settings.require_sha256 = true;
    let body = json!({"content_type": "text/plain", "content_length": 5});
    let (status, response) = testkit::api_parts(
        "POST /uploads",
        &handle(&deps, post(&body.to_string())).await,
    );
    assert_eq!(
        (status, response["error"]["code"].as_str()),
        (400, Some("missing_sha256"))
    );
    assert!(aws.keys(&deps.settings.bucket).await.is_empty());
    let items = testkit::harness_ledger(deps.ledger.table())
        .await
        .count_by_status()
        .await
        .expect("count");
    assert!(items.is_empty(), "nothing recorded: {items:?}");
}

/// The caller becomes the payload's owner; each caller may hold `max_pending` unused upload
/// URLs, and a payload that leaves `pending` frees its place.
#[tokio::test]
async fn callers_own_their_uploads_and_their_pending_uploads_are_capped() {
    let (_aws, mut deps) = deps(1 << 20, "").await;
    deps.settings.max_pending = 2;
    let body = json!({"content_type": "text/plain", "content_length": 5}).to_string();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, response) =
            testkit::api_parts("POST /uploads", &handle(&deps, post_as(ALICE, &body)).await);
        assert_eq!(status, 201, "{response}");
        ids.push(response["id"].as_str().expect("id").to_owned());
    }
    let (status, response) =
        testkit::api_parts("POST /uploads", &handle(&deps, post_as(ALICE, &body)).await);
    assert_eq!(
        (status, response["error"]["code"].as_str()),
        (429, Some("too_many_pending")),
        "{response}"
    );
    // An authorizer context that names nobody (an IAM context without userArn, a token
    // without sub) owns nothing: refused, nothing recorded.
    for authorizer in [
        testkit::iam_authorizer(""),
        testkit::jwt_authorizer("https://issuer.example.com", "", &[]),
    ] {
        let request = testkit::api_event_with(
            "POST",
            "/uploads",
            Some("application/json"),
            Some(&body),
            false,
            Some(authorizer),
        );
        let (status, response) = testkit::api_parts("POST /uploads", &handle(&deps, request).await);
        assert_eq!(
            (status, response["error"]["code"].as_str()),
            (403, Some("no_identity")),
            "{response}"
        );
    }
    // Another caller has its own allowance.
    let (status, _) =
        testkit::api_parts("POST /uploads", &handle(&deps, post_as(BOB, &body)).await);
    assert_eq!(status, 201);

    let ledger = testkit::harness_ledger(deps.ledger.table()).await;
    let record = ledger.get(&ids[0]).await.expect("get").expect("recorded");
    assert_eq!(record.owner.as_deref(), Some(ALICE));
    ledger
        .transition(
            &ids[0],
            &[Status::Pending],
            Status::Queued,
            &claimcheck::ledger::Changes::default(),
        )
        .await
        .expect("queued");
    let (status, response) =
        testkit::api_parts("POST /uploads", &handle(&deps, post_as(ALICE, &body)).await);
    assert_eq!(status, 201, "a queued payload no longer counts: {response}");
}

#[tokio::test]
async fn issues_a_url_that_uploads_and_records_pending() {
    let (aws, deps) = deps(1 << 20, "").await;
    let data = b"id,name\n1,ada\n".to_vec();
    let sha = testkit::sha256_base64(&data);
    let body = json!({"content_type": "text/csv", "content_length": data.len(), "sha256": sha, "metadata": {"team": "data"}});
    let (status, response) = testkit::api_parts(
        "POST /uploads",
        &handle(&deps, post(&body.to_string())).await,
    );
    assert_eq!(status, 201, "{response}");
    let id = response["id"].as_str().expect("id");
    assert!(uuid::Uuid::try_parse(id).is_ok());
    assert_eq!(response["method"], "PUT");
    assert_eq!(response["expires_in"], 900);
    assert_eq!(response["headers"]["content-type"], "text/csv");
    assert_eq!(response["headers"]["x-amz-checksum-sha256"], sha.as_str());
    let url = reqwest::Url::parse(response["url"].as_str().expect("url")).expect("url parses");
    assert_eq!(
        url.path(),
        format!("/{}/uploads/{id}", deps.settings.bucket)
    );
    let signed: String = url
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| v.into_owned())
        .expect("signed");
    for header in ["content-length", "content-type", "x-amz-checksum-sha256"] {
        assert!(
            signed.split(';').any(|h| h == header),
            "{header} not signed: {signed}"
        );
    }

    let record = testkit::harness_ledger(deps.ledger.table())
        .await
        .get(id)
        .await
        .expect("ledger")
        .expect("recorded");
    assert_eq!(record.status, Status::Pending);
    assert_eq!(
        (record.size, record.sha256.as_deref()),
        (data.len() as u64, Some(sha.as_str()))
    );
    assert_eq!(
        record.metadata.get("team").map(String::as_str),
        Some("data")
    );
    assert_eq!(
        record.url_expires_at,
        Some(response["expires_at"].as_i64().expect("expiry") * 1000)
    );

    let mut request = reqwest::Client::new().put(url).body(data.clone());
    for (name, value) in response["headers"].as_object().expect("headers") {
        request = request.header(name, value.as_str().expect("header value"));
    }
    let uploaded = request.send().await.expect("upload");
    assert!(uploaded.status().is_success(), "{}", uploaded.status());
    assert_eq!(
        aws.keys(&deps.settings.bucket).await,
        vec![format!("uploads/{id}")]
    );
}

#[tokio::test]
async fn base64_encoded_bodies_are_accepted() {
    let (_aws, deps) = deps(1 << 20, "").await;
    let body = base64::engine::general_purpose::STANDARD
        .encode(r#"{"content_type":"application/octet-stream","content_length":5}"#);
    let request = event(
        "POST",
        "/uploads",
        Some("application/json; charset=utf-8"),
        Some(&body),
        true,
    );
    let (status, response) = testkit::api_parts("POST /uploads", &handle(&deps, request).await);
    assert_eq!(status, 201, "{response}");
}

/// Every way a client can get a request wrong gets a 4xx JSON error naming the problem, and
/// nothing is recorded.
#[tokio::test]
async fn bad_requests_get_a_clear_4xx_and_record_nothing() {
    let (aws, deps) = deps(1 << 20, "text/csv,application/json").await;
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "presign-upload");
    let deps = deps.with_metrics(std::sync::Arc::new(metrics));
    let valid_sha = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    let short_sha = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let long_value = "v".repeat(2100);
    let many: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases: Vec<(&str, Request, i64, &str)> = vec![
        (
            "not JSON",
            post("content_type=text/csv"),
            400,
            "invalid_json",
        ),
        (
            "truncated JSON",
            post(r#"{"content_type":"text/csv""#),
            400,
            "invalid_json",
        ),
        (
            "JSON array",
            post(r#"["text/csv", 5]"#),
            400,
            "invalid_request",
        ),
        (
            "missing content_type",
            post(r#"{"content_length":5}"#),
            400,
            "invalid_request",
        ),
        (
            "content_length not a number",
            post(r#"{"content_type":"text/csv","content_length":"5"}"#),
            400,
            "invalid_request",
        ),
        (
            "length as string",
            post(r#"{"content_type":"text/csv","content_length":"5"}"#),
            400,
            "invalid_request",
        ),
        (
            "type as number",
            post(r#"{"content_type":7,"content_length":5}"#),
            400,
            "invalid_request",
        ),
        (
            "negative length",
            post(r#"{"content_type":"text/csv","content_length":-1}"#),
            400,
            "invalid_request",
        ),
        (
            "fractional length",
            post(r#"{"content_type":"text/csv","content_length":1.5}"#),
            400,
            "invalid_request",
        ),
        (
            "zero length",
            post(r#"{"content_type":"text/csv","content_length":0}"#),
            400,
            "invalid_content_length",
        ),
        (
            "too large",
            post(r#"{"content_type":"text/csv","content_length":1048577}"#),
            400,
            "content_length_too_large",
        ),
        (
            "unknown field",
            post(r#"{"content_type":"text/csv","content_length":5,"key":"../etc/passwd"}"#),
            400,
            "invalid_request",
        ),
        (
            "bad base64 checksum",
            post(r#"{"content_type":"text/csv","content_length":5,"sha256":"not base64!"}"#),
            400,
            "invalid_sha256",
        ),
        (
            "short checksum",
            post(
                &json!({"content_type":"text/csv","content_length":5,"sha256":short_sha})
                    .to_string(),
            ),
            400,
            "invalid_sha256",
        ),
        (
            "not a media type",
            post(r#"{"content_type":"csv","content_length":5}"#),
            400,
            "invalid_content_type",
        ),
        (
            "header injection",
            post(r#"{"content_type":"text/csv\r\nx-amz-acl: public-read","content_length":5}"#),
            400,
            "invalid_content_type",
        ),
        (
            "type not allowed",
            post(r#"{"content_type":"image/png","content_length":5}"#),
            400,
            "content_type_not_allowed",
        ),
        (
            "bad metadata key",
            post(r#"{"content_type":"text/csv","content_length":5,"metadata":{"a b":"v"}}"#),
            400,
            "invalid_metadata",
        ),
        (
            "metadata too large",
            post(
                &json!({"content_type":"text/csv","content_length":5,"metadata":{"k":long_value}})
                    .to_string(),
            ),
            400,
            "invalid_metadata",
        ),
        (
            "too many metadata entries",
            post(
                &json!({"content_type":"text/csv","content_length":5,"metadata":many}).to_string(),
            ),
            400,
            "invalid_metadata",
        ),
        (
            "metadata value not a string",
            post(r#"{"content_type":"text/csv","content_length":5,"metadata":{"k":1}}"#),
            400,
            "invalid_request",
        ),
        ("empty body", post(""), 400, "missing_body"),
        (
            "no body",
            event("POST", "/uploads", Some("application/json"), None, false),
            400,
            "missing_body",
        ),
        // (A body API Gateway marks as base64 is always valid base64: it encodes binary bodies
        // itself, and lambda_http decodes them before the handler runs.)
        (
            "not declared JSON",
            event("POST", "/uploads", Some("text/plain"), Some("{}"), false),
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            event("POST", "/uploads", None, Some("{}"), false),
            415,
            "unsupported_media_type",
        ),
        (
            "body too large",
            post(&format!(
                r#"{{"content_type":"text/csv","content_length":5,"pad":"{}"}}"#,
                "x".repeat(20_000)
            )),
            413,
            "body_too_large",
        ),
        (
            "wrong method",
            event("GET", "/uploads", Some("application/json"), None, false),
            405,
            "method_not_allowed",
        ),
        (
            "unknown route",
            event(
                "POST",
                "/uploads/abc/other",
                Some("application/json"),
                Some("{}"),
                false,
            ),
            404,
            "not_found",
        ),
        (
            "root route",
            event("POST", "/", Some("application/json"), Some("{}"), false),
            404,
            "not_found",
        ),
    ];
    assert!(cases.len() >= 20);
    let mut refused: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for (_, _, _, code) in &cases {
        *refused.entry(code).or_default() += 1.0;
    }
    for (name, request, status, code) in cases {
        let (got_status, body) = testkit::api_parts("POST /uploads", &handle(&deps, request).await);
        assert_eq!(
            (got_status, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{name}: {body}"
        );
        assert!(
            !body["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{name}: no message"
        );
    }
    let ok =
        post(&json!({"content_type":"text/csv","content_length":5,"sha256":valid_sha}).to_string());
    assert_eq!(
        testkit::api_parts("POST /uploads", &handle(&deps, ok).await).0,
        201
    );
    let recorded = testkit::harness_ledger(deps.ledger.table())
        .await
        .list_every(Status::Pending, deps.ledger.now(), 100)
        .await
        .expect("list");
    assert_eq!(recorded.len(), 1, "only the valid request was recorded");
    assert!(aws.keys(&deps.settings.bucket).await.is_empty());
    // Each refusal counted under its code; the one valid request issued.
    let function = ("function", "presign-upload");
    for (code, count) in refused {
        assert_eq!(
            emitted.total("UploadsRefused", &[function, ("code", code)]),
            count,
            "{code}"
        );
    }
    assert_eq!(emitted.total("UploadsIssued", &[function]), 1.0);
}

#[tokio::test]
async fn aws_failures_are_500_without_internals() {
    let (aws, deps) = deps(1 << 20, "").await;
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "presign-upload");
    let mut deps = deps.with_metrics(std::sync::Arc::new(metrics));
    deps.ledger = claimcheck::ledger::Ledger::new(
        aws_sdk_dynamodb::Client::new(&aws.config),
        "no-such-table",
    );
    let (status, body) = testkit::api_parts(
        "POST /uploads",
        &handle(
            &deps,
            post(r#"{"content_type":"text/csv","content_length":5}"#),
        )
        .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("internal"))
    );
    assert!(!body.to_string().contains("no-such-table"), "{body}");
    assert_eq!(
        emitted.total(
            "RequestsFailed",
            &[("function", "presign-upload"), ("code", "internal")]
        ),
        1.0
    );
    assert!(!body.to_string().contains("X-Amz"), "{body}");
}

#[test]
fn settings_come_from_the_environment_with_clear_errors() {
    use std::collections::HashMap;
    let env = HashMap::from([("CLAIMCHECK_BUCKET", "b"), ("CLAIMCHECK_TABLE", "t")]);
    let settings = Settings::from_source(&env).expect("defaults");
    assert_eq!(settings.uploads_prefix.as_str(), "uploads/");
    assert_eq!(settings.max_size, 5 * 1024 * 1024 * 1024);
    assert_eq!(settings.url_lifetime, Duration::from_secs(900));
    let missing = HashMap::from([("CLAIMCHECK_BUCKET", "b")]);
    assert_eq!(
        Settings::from_source(&missing)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err("environment variable CLAIMCHECK_TABLE must be set".to_owned())
    );
    let bad = HashMap::from([
        ("CLAIMCHECK_BUCKET", "b"),
        ("CLAIMCHECK_TABLE", "t"),
        // Over S3's 5 TiB object limit.
        ("CLAIMCHECK_MAX_UPLOAD_BYTES", "5497558138881"),
    ]);
    assert!(Settings::from_source(&bad).is_err());
    let bad_prefix = HashMap::from([
        ("CLAIMCHECK_BUCKET", "b"),
        ("CLAIMCHECK_TABLE", "t"),
        ("CLAIMCHECK_UPLOADS_PREFIX", "../x"),
    ]);
    assert!(Settings::from_source(&bad_prefix).is_err());
    // At most an hour (the Terraform validation says the same: tests/infra/test_limits.py).
    for (lifetime, accepted) in [("3600", true), ("3601", false)] {
        let env = HashMap::from([
            ("CLAIMCHECK_BUCKET", "b"),
            ("CLAIMCHECK_TABLE", "t"),
            ("CLAIMCHECK_UPLOAD_URL_SECONDS", lifetime),
        ]);
        assert_eq!(Settings::from_source(&env).is_ok(), accepted, "{lifetime}");
    }
}

/// The reproduction in issue 14: an upload URL issued without a SHA-256, used once (`AAAAA`)
/// and then again with the same headers (`BBBBB`). The URL signs `If-None-Match: *`, so S3
/// refuses the second PUT (412) and the object keeps the first upload's bytes.
#[tokio::test]
async fn an_upload_url_works_once() {
    let (aws, deps) = deps(1 << 20, "").await;
    let body = json!({"content_type": "text/plain", "content_length": 5});
    let (status, response) = testkit::api_parts(
        "POST /uploads",
        &handle(&deps, post(&body.to_string())).await,
    );
    assert_eq!(status, 201, "{response}");
    assert_eq!(response["headers"]["if-none-match"], "*");
    let id = response["id"].as_str().expect("id");
    let put = |bytes: &'static [u8]| {
        let mut request = reqwest::Client::new()
            .put(response["url"].as_str().expect("url"))
            .body(bytes);
        for (name, value) in response["headers"].as_object().expect("headers") {
            request = request.header(name, value.as_str().expect("header value"));
        }
        request.send()
    };
    assert!(put(b"AAAAA").await.expect("first").status().is_success());
    let second = put(b"BBBBB").await.expect("second");
    assert_eq!(second.status().as_u16(), 412, "the URL is single-use");
    let stored = aws
        .s3
        .get_object()
        .bucket(&deps.settings.bucket)
        .key(format!("uploads/{id}"))
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert_eq!(&stored[..], b"AAAAA");
}

/// An IAM-signed request from `user_arn` to the multipart routes.
fn as_user(user_arn: &str, method: &str, path: &str, body: Option<&str>) -> Request {
    testkit::api_event_with(
        method,
        path,
        body.map(|_| "application/json"),
        body,
        false,
        Some(testkit::iam_authorizer(user_arn)),
    )
}

/// A multipart upload through the handler, as its owner drives it: opened, parts sent to their
/// presigned URLs, resumed (`GET .../parts`), completed into one object; another opened and
/// aborted. Another caller reaches neither.
#[tokio::test]
async fn multipart_uploads_are_opened_resumed_completed_and_aborted_by_their_owner() {
    let (aws, deps) = deps(1 << 30, "").await;
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "presign-upload");
    let mut deps = deps.with_metrics(std::sync::Arc::new(metrics));
    deps.settings.multipart_threshold = presign_upload::MIN_PART_BYTES;
    deps.settings.part_size = presign_upload::MIN_PART_BYTES;
    let part = presign_upload::MIN_PART_BYTES as usize;
    let body = testkit::pseudo_random(2 * part + 100, 3);
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2_of(&body));
    let request = json!({"content_type": "application/octet-stream",
                         "content_length": body.len(), "sha256": sha});
    let (status, ticket) = testkit::api_parts(
        "POST /uploads",
        &handle(
            &deps,
            as_user(ALICE, "POST", "/uploads", Some(&request.to_string())),
        )
        .await,
    );
    assert_eq!(status, 201, "{ticket}");
    let id = ticket["id"].as_str().expect("id").to_owned();
    let multipart = &ticket["multipart"];
    assert_eq!(
        (
            multipart["part_size"].as_u64(),
            multipart["part_count"].as_u64()
        ),
        (Some(part as u64), Some(3))
    );
    assert!(ticket["url"].is_null(), "no single PUT URL");
    let http = reqwest::Client::new();
    let mut etags = Vec::new();
    for (index, url) in multipart["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .enumerate()
    {
        let bytes = body[index * part..((index + 1) * part).min(body.len())].to_vec();
        assert_eq!(url["size"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(
            url["headers"]["content-length"].as_str(),
            Some(bytes.len().to_string().as_str())
        );
        let sent = http
            .put(url["url"].as_str().expect("url"))
            .body(bytes)
            .send()
            .await
            .expect("sent");
        assert!(sent.status().is_success());
        etags.push(sent.headers()["etag"].to_str().expect("ETag").to_owned());
    }

    let parts_path = format!("/uploads/{id}/parts?from=2");
    let (status, view) = testkit::api_parts(
        "GET /uploads/{id}/parts",
        &handle(&deps, as_user(ALICE, "GET", &parts_path, None)).await,
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["uploaded"].as_array().expect("uploaded").len(), 3);
    assert_eq!(
        view["parts"][0]["part_number"], 2,
        "URLs from the part asked for"
    );
    let (status, hidden) = testkit::api_parts(
        "GET /uploads/{id}/parts",
        &handle(&deps, as_user(BOB, "GET", &parts_path, None)).await,
    );
    assert_eq!(
        (status, hidden["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let complete = json!({"parts": etags.iter().enumerate()
        .map(|(i, etag)| json!({"part_number": i + 1, "etag": etag})).collect::<Vec<_>>()});
    let complete_path = format!("/uploads/{id}/complete");
    let (status, state) = testkit::api_parts(
        "POST /uploads/{id}/complete",
        &handle(
            &deps,
            as_user(ALICE, "POST", &complete_path, Some(&complete.to_string())),
        )
        .await,
    );
    assert_eq!(status, 200, "{state}");
    assert_eq!(
        (state["status"].as_str(), state["size"].as_u64()),
        (Some("pending"), Some(body.len() as u64))
    );
    // Checked by the harness (the function's own calls are what its role must grant).
    let stored = aws
        .s3
        .head_object()
        .bucket(&deps.settings.bucket)
        .key(format!("uploads/{id}"))
        .send()
        .await
        .expect("completed");
    assert_eq!(stored.content_length(), Some(body.len() as i64));
    let (status, again) = testkit::api_parts(
        "POST /uploads/{id}/complete",
        &handle(
            &deps,
            as_user(ALICE, "POST", &complete_path, Some(&complete.to_string())),
        )
        .await,
    );
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("upload_closed"))
    );

    // Another upload, aborted by its owner (not by anyone else).
    let (_, second) = testkit::api_parts(
        "POST /uploads",
        &handle(
            &deps,
            as_user(ALICE, "POST", "/uploads", Some(&request.to_string())),
        )
        .await,
    );
    let second = second["id"].as_str().expect("id").to_owned();
    let abort_path = format!("/uploads/{second}");
    let (status, refused) = testkit::api_parts(
        "DELETE /uploads/{id}",
        &handle(&deps, as_user(BOB, "DELETE", &abort_path, None)).await,
    );
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, aborted) = testkit::api_parts(
        "DELETE /uploads/{id}",
        &handle(&deps, as_user(ALICE, "DELETE", &abort_path, None)).await,
    );
    assert_eq!((status, aborted["status"].as_str()), (200, Some("expired")));
    let record = deps
        .ledger
        .get(&second)
        .await
        .expect("ledger")
        .expect("known");
    assert_eq!(record.status, Status::Expired);
    assert_eq!(
        aws.keys(&deps.settings.bucket).await,
        vec![format!("uploads/{id}")]
    );
    let function = [("function", "presign-upload")];
    assert_eq!(emitted.total("MultipartUploadsOpened", &function), 2.0);
    assert_eq!(emitted.total("MultipartUploadsCompleted", &function), 1.0);
    assert_eq!(emitted.total("MultipartUploadsAborted", &function), 1.0);
    assert!(emitted.total("PartUrlsIssued", &function) >= 1.0);
}

fn sha2_of(bytes: &[u8]) -> Vec<u8> {
    let mut hash = claimcheck::checksum::Sha256::new();
    hash.update(bytes);
    base64::engine::general_purpose::STANDARD
        .decode(hash.base64())
        .expect("base64")
}
