//! presign-download's handler in process, with API Gateway events, against the local endpoint.

use std::collections::HashMap;
use std::time::Duration;

use claimcheck::PayloadPointer;
use claimcheck::ledger::{Changes, NewPayload, Status};
use claimcheck::object_key::KeyPrefix;
use claimcheck::principal::AccessPolicy;
use presign_download::{PresignDownload, Settings, handle};
use testkit::{api_event, api_parts};

async fn deps() -> (testkit::Endpoint, PresignDownload) {
    let aws = testkit::endpoint().await;
    let bucket = aws.bucket().await;
    let ledger = aws.ledger().await;
    let settings = Settings {
        bucket,
        table: ledger.table().to_owned(),
        uploads_prefix: KeyPrefix::new("uploads/").expect("prefix"),
        url_lifetime: Duration::from_secs(300),
        access: AccessPolicy {
            operator_arns: vec!["arn:aws:iam::123456789012:role/operators".into()],
            operator_scope: None,
        },
    };
    let deps = PresignDownload::new(&aws.config_as("presign-download"), settings);
    (aws, deps)
}

/// Records a payload in the ledger, stored at `object`.
async fn recorded(deps: &PresignDownload, id: &str, object: PayloadPointer) {
    recorded_for(deps, id, object, None).await;
}

/// Records a payload uploaded by `owner`.
async fn recorded_for(
    deps: &PresignDownload,
    id: &str,
    object: PayloadPointer,
    owner: Option<&str>,
) {
    testkit::harness_ledger(deps.ledger.table())
        .await
        .create_pending(&NewPayload {
            id: id.to_owned(),
            object,
            size: 11,
            content_type: "text/plain".into(),
            sha256: None,
            metadata: HashMap::new(),
            url_expires_at: 0,
            owner: owner.map(str::to_owned),
            quota_key: None,
            multipart: None,
        })
        .await
        .expect("ledger");
}

/// Puts the payload's bytes, `hello world`, at `object`.
async fn store(aws: &testkit::Endpoint, object: &PayloadPointer) {
    aws.s3
        .put_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .body(b"hello world".to_vec().into())
        .send()
        .await
        .expect("put");
}

fn get(path: &str) -> lambda_http::Request {
    api_event("GET", path, None, None, false)
}

#[tokio::test]
async fn a_stored_payload_gets_its_status_and_a_download_url() {
    let (aws, deps) = deps().await;
    let id = uuid::Uuid::new_v4().to_string();
    let object = PayloadPointer::new(&deps.settings.bucket, format!("uploads/{id}"));
    recorded(&deps, &id, object.clone()).await;
    let changes = Changes::default();
    testkit::harness_ledger(deps.ledger.table())
        .await
        .transition(&id, &[Status::Pending], Status::Queued, &changes)
        .await
        .expect("queued");
    store(&aws, &object).await;

    let (status, body) = api_parts(
        "GET /payloads/{id}",
        &handle(&deps, get(&format!("/payloads/{id}"))).await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["id"].as_str(),
            body["status"].as_str(),
            body["size"].as_u64()
        ),
        (Some(id.as_str()), Some("queued"), Some(11))
    );
    assert_eq!(body["download"]["expires_in"], 300);
    let url = body["download"]["url"].as_str().expect("url");
    let response = reqwest::get(url).await.expect("download");
    assert_eq!(
        response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some(format!("attachment; filename=\"{id}\"").as_str())
    );
    assert_eq!(
        response.bytes().await.expect("body").as_ref(),
        b"hello world"
    );

    // A status check asks for no URL: none is minted.
    let (status, body) = api_parts(
        "GET /payloads/{id}",
        &handle(&deps, get(&format!("/payloads/{id}?download=false"))).await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "queued");
    assert!(body["download"].is_null(), "{body}");
    let (status, body) = api_parts(
        "GET /payloads/{id}",
        &handle(&deps, get(&format!("/payloads/{id}?download=maybe"))).await,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_query");
}

#[tokio::test]
async fn a_payload_without_its_object_gets_status_but_no_url() {
    let (_aws, deps) = deps().await;
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "presign-download");
    let deps = deps.with_metrics(std::sync::Arc::new(metrics));
    let id = uuid::Uuid::new_v4().to_string();
    recorded(
        &deps,
        &id,
        PayloadPointer::new(&deps.settings.bucket, format!("uploads/{id}")),
    )
    .await;
    let (status, body) = api_parts(
        "GET /payloads/{id}",
        &handle(&deps, get(&format!("/payloads/{id}"))).await,
    );
    assert_eq!((status, body["status"].as_str()), (200, Some("pending")));
    assert!(body["download"].is_null(), "{body}");
    let function = [("function", "presign-download")];
    assert_eq!(emitted.total("PayloadsDescribed", &function), 1.0);
    assert_eq!(emitted.total("DownloadsIssued", &function), 0.0);
}

fn get_as(path: &str, user_arn: &str) -> lambda_http::Request {
    testkit::api_event_with(
        "GET",
        path,
        None,
        None,
        false,
        Some(testkit::iam_authorizer(user_arn)),
    )
}

/// Only the owner and the operators see a payload; anyone else gets the 404 of an unknown id.
/// A quarantined object is never signed, and a failure's reason is claimcheck's own words.
#[tokio::test]
async fn a_payload_is_shown_to_its_owner_and_operators_only() {
    let (aws, deps) = deps().await;
    let alice = "arn:aws:iam::123456789012:user/alice";
    let id = uuid::Uuid::new_v4().to_string();
    let object = PayloadPointer::new(&deps.settings.bucket, format!("uploads/{id}"));
    recorded_for(&deps, &id, object.clone(), Some(alice)).await;
    store(&aws, &object).await;
    let ledger = testkit::harness_ledger(deps.ledger.table()).await;
    let changes = Changes {
        last_error: Some(
            "dispatch failure: arn:aws:sqs:us-east-1:123456789012:secret-queue".into(),
        ),
        ..Changes::default()
    };
    ledger
        .transition(&id, &[Status::Pending], Status::Failed, &changes)
        .await
        .expect("failed");
    let path = format!("/payloads/{id}");
    let route = "GET /payloads/{id}";

    let (status, body) = api_parts(route, &handle(&deps, get_as(&path, alice)).await);
    assert_eq!(status, 200, "{body}");
    assert!(body["download"]["url"].is_string());
    assert_eq!(body["last_error"], "processing failed; it will be retried");
    assert!(!body.to_string().contains("secret-queue"), "{body}");

    let operator = "arn:aws:sts::123456789012:assumed-role/operators/jane";
    let (status, _) = api_parts(route, &handle(&deps, get_as(&path, operator)).await);
    assert_eq!(status, 200, "an operator's session reads every payload");

    let unknown = api_parts(
        route,
        &handle(
            &deps,
            get_as(&format!("/payloads/{}", uuid::Uuid::new_v4()), alice),
        )
        .await,
    );
    for caller in [
        Some("arn:aws:iam::123456789012:user/bob"),
        Some("arn:aws:sts::123456789012:assumed-role/other/jane"),
        None,
    ] {
        let request = match caller {
            Some(arn) => get_as(&path, arn),
            None => get(&path),
        };
        let (status, body) = api_parts(route, &handle(&deps, request).await);
        assert_eq!(status, 404, "{caller:?}: {body}");
        assert_eq!(body["error"]["code"], unknown.1["error"]["code"]);
        assert!(!body.to_string().contains("hello"), "{body}");
    }

    // An authorizer context naming nobody: refused for every id alike (nothing leaks).
    for target in [path.clone(), format!("/payloads/{}", uuid::Uuid::new_v4())] {
        let (status, body) = api_parts(route, &handle(&deps, get_as(&target, "")).await);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("no_identity"))
        );
    }

    // Quarantined: the object failed the producer's checks, so it is never signed.
    let quarantined = Changes {
        last_error: Some("size 11 does not match the announced 12".into()),
        ..Changes::default()
    };
    ledger
        .transition(&id, &[Status::Failed], Status::Quarantined, &quarantined)
        .await
        .expect("quarantined");
    let (status, body) = api_parts(route, &handle(&deps, get_as(&path, alice)).await);
    assert_eq!(status, 200);
    assert!(body["download"].is_null(), "{body}");
    assert_eq!(
        body["last_error"],
        "size 11 does not match the announced 12"
    );
}

/// Crafted ids never get a URL: malformed ids are 400, unknown ids and ledger items that point
/// outside the uploads prefix or the bucket are 404.
#[tokio::test]
async fn crafted_ids_never_get_a_url() {
    let (aws, deps) = deps().await;
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "presign-download");
    let deps = deps.with_metrics(std::sync::Arc::new(metrics));
    let outside = uuid::Uuid::new_v4().to_string();
    recorded(
        &deps,
        &outside,
        PayloadPointer::new(&deps.settings.bucket, "secrets/config.json"),
    )
    .await;
    let foreign = uuid::Uuid::new_v4().to_string();
    recorded(
        &deps,
        &foreign,
        PayloadPointer::new("someone-elses-bucket", format!("uploads/{foreign}")),
    )
    .await;
    for key in [
        "secrets/config.json".to_owned(),
        format!("uploads/{outside}"),
    ] {
        aws.s3
            .put_object()
            .bucket(&deps.settings.bucket)
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .expect("put");
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let upper = unknown.to_uppercase();
    let simple = unknown.replace('-', "");
    let long = format!("{unknown}{}", "0".repeat(300));
    let with_param = |id: &str| {
        use lambda_http::RequestExt;
        get(&format!("/payloads/{id}")).with_path_parameters(std::collections::HashMap::from([(
            "id".to_owned(),
            id.to_owned(),
        )]))
    };
    let cases = [
        // lambda_http resolves the dot segments (`/uploads/secret`): not this route at all.
        (
            "dot-dot",
            get("/payloads/../uploads/secret"),
            404,
            "not_found",
        ),
        (
            "encoded slashes",
            with_param("..%2F..%2Fsecrets%2Fconfig.json"),
            400,
            "invalid_id",
        ),
        (
            "decoded slashes in the parameter",
            with_param("../../secrets/config.json"),
            400,
            "invalid_id",
        ),
        (
            "another bucket's key",
            with_param("someone-elses-bucket/uploads/x"),
            400,
            "invalid_id",
        ),
        ("not a uuid", get("/payloads/hello"), 400, "invalid_id"),
        (
            "upper-case uuid",
            get(&format!("/payloads/{upper}")),
            400,
            "invalid_id",
        ),
        (
            "uuid without hyphens",
            get(&format!("/payloads/{simple}")),
            400,
            "invalid_id",
        ),
        (
            "overlong",
            get(&format!("/payloads/{long}")),
            400,
            "invalid_id",
        ),
        ("empty id", get("/payloads/"), 400, "invalid_id"),
        (
            "unknown id",
            get(&format!("/payloads/{unknown}")),
            404,
            "not_found",
        ),
        (
            "ledger item outside the prefix",
            get(&format!("/payloads/{outside}")),
            404,
            "not_found",
        ),
        (
            "ledger item in another bucket",
            get(&format!("/payloads/{foreign}")),
            404,
            "not_found",
        ),
        (
            "wrong method",
            api_event("DELETE", &format!("/payloads/{unknown}"), None, None, false),
            405,
            "method_not_allowed",
        ),
        ("other route", get("/uploads"), 404, "not_found"),
    ];
    let mut refused: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for (_, _, _, code) in &cases {
        *refused.entry(code).or_default() += 1.0;
    }
    for (name, request, status, code) in cases {
        let (got, body) = api_parts("GET /payloads/{id}", &handle(&deps, request).await);
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{name}: {body}"
        );
        assert!(
            !body.to_string().contains("X-Amz-Signature"),
            "{name}: signed something"
        );
    }
    let function = ("function", "presign-download");
    for (code, count) in refused {
        assert_eq!(
            emitted.total("DownloadsRefused", &[function, ("code", code)]),
            count,
            "{code}"
        );
    }
    assert_eq!(emitted.total("DownloadsIssued", &[function]), 0.0);
}

#[test]
fn settings_default_to_a_short_url_lifetime() {
    let env = HashMap::from([("CLAIMCHECK_BUCKET", "b"), ("CLAIMCHECK_TABLE", "t")]);
    let settings = Settings::from_source(&env).expect("defaults");
    assert_eq!(settings.url_lifetime, Duration::from_secs(300));
    let bad = HashMap::from([
        ("CLAIMCHECK_BUCKET", "b"),
        ("CLAIMCHECK_TABLE", "t"),
        ("CLAIMCHECK_DOWNLOAD_URL_SECONDS", "0"),
    ]);
    assert!(Settings::from_source(&bad).is_err());
}
