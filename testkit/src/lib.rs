//! Test plumbing for claimcheck's integration tests, benchmarks and examples (a dev-only crate,
//! never published): clients for the local AWS endpoint that `make test` starts (selected by the
//! SDK's standard `AWS_ENDPOINT_URL`), fresh buckets, queues and ledger tables per test so tests
//! run in parallel without seeing each other, events as AWS delivers them, and memory probes.

pub mod cpu;
pub mod emf;

use aws_config::SdkConfig;
use claimcheck::extended_client::{ReceiveOptions, ReceivedMessage, UnresolvedMessage};
use claimcheck::{ExtendedClient, ExtendedClientConfig, PayloadStore};

pub struct Endpoint {
    pub config: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
}

pub async fn endpoint() -> Endpoint {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "integration tests need the local AWS endpoint: run them with `make test` \
         (or tests/with-endpoint.sh cargo test)"
    );
    let config = claimcheck::sdk_config::load().await;
    let (s3, sqs) = claimcheck::sdk_config::clients(&config);
    Endpoint { config, s3, sqs }
}

impl Endpoint {
    /// The SDK configuration a function's code gets in tests: the function's own access key
    /// id (`fn-<function>`), so the local endpoint's call log attributes every request it
    /// makes, and every presigned URL it signs, to that function. The infra check compares
    /// those calls with the function's IAM policy in Terraform.
    pub fn config_as(&self, function: &str) -> SdkConfig {
        claimcheck::local_endpoint::config_signing_as(&self.config, function)
    }
}

/// The harness's view of a function's ledger table: set-up and checks go through it, so the
/// endpoint's call log attributes to the function only what its own code does.
pub async fn harness_ledger(table: &str) -> claimcheck::ledger::Ledger {
    let sdk = claimcheck::sdk_config::load().await;
    claimcheck::ledger::Ledger::new(aws_sdk_dynamodb::Client::new(&sdk), table)
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl Endpoint {
    pub async fn bucket(&self) -> String {
        let name = unique("cc-test");
        self.s3
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket");
        name
    }

    pub async fn queue(&self) -> String {
        self.queue_named(&unique("cc-test")).await
    }

    /// A queue playing the deployment's `role` (`work` or `dlq`): its name ends `-<role>`,
    /// as Terraform's and local mode's do, so the IAM test can tell which queue of the stack a
    /// function's call went to (tests/infra/test_iam_matches_code.py).
    pub async fn queue_for(&self, role: &str) -> String {
        self.queue_named(&format!("{}-{role}", unique("cc-test")))
            .await
    }

    async fn queue_named(&self, name: &str) -> String {
        let out = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create queue");
        out.queue_url.expect("queue url")
    }

    pub async fn fifo_queue(&self) -> String {
        let name = format!("{}.fifo", unique("cc-test"));
        let out = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .expect("create fifo queue");
        out.queue_url.expect("queue url")
    }

    pub fn client(&self, config: ExtendedClientConfig) -> ExtendedClient {
        let mut config = config;
        config.wait_time_seconds = 0;
        ExtendedClient::new(self.sqs.clone(), PayloadStore::new(self.s3.clone()), config)
            .expect("client")
    }

    /// Keys in a bucket.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list objects");
        out.contents()
            .iter()
            .filter_map(|o| o.key.clone())
            .collect()
    }

    /// An object's tags, as `(key, value)` pairs sorted by key.
    pub async fn tags(&self, bucket: &str, key: &str) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self
            .s3
            .get_object_tagging()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("object tags")
            .tag_set
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        tags.sort();
        tags
    }

    /// Up to 10 messages as SQS holds them (bodies and attributes untouched), left visible.
    pub async fn peek(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive");
        out.messages.unwrap_or_default()
    }

    pub async fn approximate_count(&self, queue_url: &str) -> usize {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes.unwrap_or_default();
        [
            A::ApproximateNumberOfMessages,
            A::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|a| {
            attrs
                .get(a)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum()
    }
}

/// Receives until the queue answers with no messages.
pub async fn receive_all(
    client: &ExtendedClient,
    queue: &str,
) -> Vec<Result<ReceivedMessage, UnresolvedMessage>> {
    let mut all = Vec::new();
    loop {
        let batch = client
            .receive(queue, &ReceiveOptions::default())
            .await
            .expect("receive");
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// Lowercase hex SHA-256 (the library's one helper, re-exported for tests).
pub use claimcheck::checksum::{sha256_base64, sha256_hex};

/// Deterministic pseudo-random bytes (xorshift), so large payloads need no fixture files.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

impl Endpoint {
    /// A fresh ledger table, created as local runs create it.
    pub async fn ledger(&self) -> claimcheck::ledger::Ledger {
        let ledger = claimcheck::ledger::Ledger::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            unique("cc-ledger"),
        );
        ledger.create_table().await.expect("create ledger table");
        ledger
    }
}

impl Endpoint {
    /// Points the bucket's ObjectCreated notifications for `prefix` at a new queue, as local
    /// mode does, and returns the queue. The endpoint sends an `s3:TestEvent` first.
    pub async fn notify_queue(&self, bucket: &str, prefix: &str) -> String {
        use aws_sdk_s3::types::{
            Event, FilterRule, FilterRuleName, NotificationConfiguration,
            NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
        };
        let queue = self.queue().await;
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue arn")
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("arn");
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::Prefix)
                            .value(prefix)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let config = QueueConfiguration::builder()
            .queue_arn(arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(filter)
            .build()
            .expect("queue configuration");
        self.s3
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(config)
                    .build(),
            )
            .send()
            .await
            .expect("notification configuration");
        queue
    }

    /// The next S3 event JSON delivered to a notification queue, skipping test events.
    pub async fn next_s3_event(&self, queue: &str) -> String {
        for _ in 0..50 {
            for message in self.peek_and_delete(queue).await {
                if !message.contains("s3:TestEvent") {
                    return message;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no S3 event arrived on {queue}");
    }

    async fn peek_and_delete(&self, queue: &str) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let mut bodies = Vec::new();
        for message in out.messages.unwrap_or_default() {
            if let Some(handle) = message.receipt_handle() {
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            }
            bodies.extend(message.body);
        }
        bodies
    }
}

/// An S3 ObjectCreated event as S3 sends it, for a key already URL-encoded.
pub fn s3_event_json(bucket: &str, encoded_key: &str, size: u64) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "uploads",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": encoded_key, "size": size, "eTag": "0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"}
        }
    }]})
    .to_string()
}

/// The local endpoint's S3 event completed as S3 sends it
/// (`claimcheck::local_endpoint::complete_s3_event`).
pub fn complete_endpoint_s3_event(json: &str) -> String {
    claimcheck::local_endpoint::complete_s3_event(json).expect("an S3 event with Records")
}

/// An API Gateway HTTP API (payload format 2.0) event as Lambda receives it, turned into the
/// `http` request the handler gets by `lambda_http`'s own conversion.
pub fn api_event(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
    base64: bool,
) -> lambda_http::Request {
    api_event_with(method, path, content_type, body, base64, None)
}

/// `requestContext.authorizer` of an IAM-authorized request from `user_arn`, as API Gateway
/// fills it (payload format 2.0).
pub fn iam_authorizer(user_arn: &str) -> serde_json::Value {
    serde_json::json!({"iam": {
        "accessKey": "AKIDEXAMPLE", "accountId": user_arn.split(':').nth(4),
        "callerId": "AIDAEXAMPLE", "cognitoIdentity": null, "principalOrgId": null,
        "userArn": user_arn, "userId": "AIDAEXAMPLE"
    }})
}

/// `requestContext.authorizer` of a JWT-authorized request: every claim a string, as API
/// Gateway passes them.
pub fn jwt_authorizer(issuer: &str, subject: &str, scopes: &[&str]) -> serde_json::Value {
    serde_json::json!({"jwt": {
        "claims": {"iss": issuer, "sub": subject, "scope": scopes.join(" ")},
        "scopes": scopes,
    }})
}

/// [`api_event`] with `requestContext.authorizer` set to `authorizer`.
pub fn api_event_with(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
    base64: bool,
    authorizer: Option<serde_json::Value>,
) -> lambda_http::Request {
    let mut headers = serde_json::json!({"user-agent": "test"});
    if let Some(ct) = content_type {
        headers["content-type"] = serde_json::json!(ct);
    }
    // `path?query`: API Gateway passes the query apart, as rawQueryString.
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let value = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "req", "routeKey": "$default", "stage": "$default",
            "time": "25/Nov/2026:00:00:00 +0000", "timeEpoch": 1764028800000_i64,
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": base64
    });
    lambda_http::request::from_str(&value.to_string()).expect("an API Gateway v2 event")
}

/// Status and JSON body of an API response to `route` (`POST /uploads`, `GET /payloads/{id}`).
///
/// When `CLAIMCHECK_API_RESPONSES` names a file (`make test` sets it), the response is also
/// appended to it as one JSON line — route, status, body (presigned URLs replaced by a
/// placeholder) and the test's name — for `tests/api/test_contract.py`, which checks every one
/// against `api/openapi.yaml`.
pub fn api_parts(
    route: &str,
    response: &lambda_http::Response<lambda_http::Body>,
) -> (i64, serde_json::Value) {
    let body: serde_json::Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("unexpected body {other:?}"),
    };
    let status = i64::from(response.status().as_u16());
    if let Some(path) = std::env::var_os("CLAIMCHECK_API_RESPONSES") {
        record_api_response(&path, route, status, &body);
    }
    (status, body)
}

fn record_api_response(path: &std::ffi::OsStr, route: &str, status: i64, body: &serde_json::Value) {
    use std::io::Write;
    fn redact(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if key == "url" && inner.is_string() {
                        *inner = "https://presigned.invalid/redacted".into();
                    } else {
                        redact(inner);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
            _ => {}
        }
    }
    let mut body = body.clone();
    redact(&mut body);
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = serde_json::json!({"route": route, "status": status, "body": body, "test": test});
    // One write per line with O_APPEND: lines from parallel tests do not interleave.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the API response log");
    file.write_all(format!("{line}\n").as_bytes())
        .expect("append to the API response log");
}

/// A received SQS message as a Lambda SQS event record (what the event source mapping hands
/// the function), with `receive_count` as its ApproximateReceiveCount.
pub fn lambda_record(
    message: &aws_sdk_sqs::types::Message,
    queue_arn: &str,
    receive_count: u32,
) -> serde_json::Value {
    let attributes: serde_json::Map<String, serde_json::Value> = message
        .message_attributes()
        .map(|attrs| {
            attrs
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        serde_json::json!({
                            "stringValue": value.string_value(),
                            "stringListValues": [], "binaryListValues": [],
                            "dataType": value.data_type()
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": {"ApproximateReceiveCount": receive_count.to_string(), "SentTimestamp": "1764000000000"},
        "messageAttributes": attributes,
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"
    })
}

/// Pseudo-random bytes (xorshift), hashed as they are produced.
pub struct Generated {
    remaining: u64,
    state: u64,
    /// The SHA-256 of every byte produced so far.
    pub hash: claimcheck::checksum::Sha256,
}

impl Generated {
    pub fn new(size: u64) -> Self {
        Self {
            remaining: size,
            state: 0x9E37_79B9_7F4A_7C15,
            hash: claimcheck::checksum::Sha256::new(),
        }
    }
}

impl tokio::io::AsyncRead for Generated {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.remaining).min(256 * 1024) as usize;
        let mut chunk = vec![0u8; n];
        for byte in chunk.iter_mut() {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *byte = (self.state >> 24) as u8;
        }
        self.hash.update(&chunk);
        buf.put_slice(&chunk);
        self.remaining -= n as u64;
        std::task::Poll::Ready(Ok(()))
    }
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets this process's peak RSS (Linux `clear_refs`), so a later `peak_rss_mib` measures
/// only what follows.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs AWS's official Python extended client (`tests/interop/python_client.py`, in the venv
/// that tests/with-endpoint.sh names) and returns the JSON it prints.
pub fn python_client(args: &[&str]) -> serde_json::Value {
    let python = std::env::var("CLAIMCHECK_PYTHON")
        .expect("CLAIMCHECK_PYTHON names the venv's python: run the tests with `make test`");
    let script = std::env::var("CLAIMCHECK_INTEROP_SCRIPT").expect("set by tests/with-endpoint.sh");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python prints JSON")
}
