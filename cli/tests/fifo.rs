//! A FIFO deployment end to end in local mode (Terraform's `fifo = true`, `message_group =
//! "metadata:group"`): pointers go to a FIFO work queue in their upload's group, a payload that
//! fails for good is parked into the FIFO DLQ (which SQS refuses without a message group), and
//! the other groups' payloads are processed meanwhile.

use std::time::{Duration, Instant};

use claimcheck::api::UploadRequest;
use claimcheck::ledger::{Ledger, Status};
use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor, VerifyingProcessor};
use claimcheck_cli::api::Api;
use claimcheck_cli::api_auth::ApiAuth;
use claimcheck_cli::local::{self, Faults, LocalSettings};

/// Fails for good every payload of type `application/x-fail`; verifies the rest.
struct FailsOnType;

impl Processor for FailsOnType {
    async fn process(&self, meta: &PayloadMeta, body: Body) -> Outcome {
        if meta.content_type.as_deref() == Some("application/x-fail") {
            return Outcome::Permanent("this payload always fails".into());
        }
        VerifyingProcessor.process(meta, body).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_deployment_parks_one_group_and_processes_the_others() {
    let aws = testkit::endpoint().await;
    let mut settings = LocalSettings::from_defaults(&testkit::unique("fifo")).expect("defaults");
    settings.stack.fifo = true;
    settings.message_group = "metadata:group".parse().expect("group setting");
    settings.reconcile_every = None;
    let running = local::start(&aws.config, &settings, FailsOnType, Faults::default())
        .await
        .expect("local mode");
    assert!(running.stack.queue_url.ends_with(".fifo"));
    assert!(running.stack.dlq_url.ends_with(".fifo"));
    let api = Api::new(
        reqwest::Client::new(),
        reqwest::Url::parse(&running.api_url).expect("url"),
        ApiAuth::SigV4 {
            credentials: aws.config.credentials_provider().expect("credentials"),
            region: running.region.clone(),
        },
    );
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for (group, content_type, body) in [
        ("A", "application/x-fail", "a"),
        ("B", "text/plain", "b1"),
        ("B", "text/plain", "b2"),
    ] {
        let request = UploadRequest::new(content_type, body.len() as u64)
            .with_sha256(testkit::sha256_base64(body.as_bytes()))
            .with_metadata([("group".to_owned(), group.to_owned())].into());
        let ticket = api.request_upload(&request).await.expect("upload URL");
        let mut put = http
            .put(ticket.url.as_deref().expect("a single PUT"))
            .body(body);
        for (name, value) in &ticket.headers {
            put = put.header(name, value);
        }
        assert!(put.send().await.expect("PUT").status().is_success());
        ids.push(ticket.id);
    }

    let ledger = Ledger::new(
        aws_sdk_dynamodb::Client::new(&aws.config),
        &running.stack.table,
    );
    let expected = [Status::Dead, Status::Done, Status::Done];
    let started = Instant::now();
    let statuses = loop {
        let mut statuses = Vec::new();
        for id in &ids {
            let record = ledger.get(id).await.expect("ledger").expect("recorded");
            statuses.push(record.status);
        }
        if statuses == expected || started.elapsed() > Duration::from_secs(60) {
            break statuses;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(statuses, expected);

    // Parked into the FIFO DLQ in its own group, with its reason.
    let parked = aws
        .sqs
        .receive_message()
        .queue_url(&running.stack.dlq_url)
        .message_attribute_names("All")
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    assert_eq!(parked.len(), 1);
    let group = parked[0]
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId))
        .map(String::as_str);
    assert_eq!(group, Some("A"));
    let payload_id = parked[0]
        .message_attributes()
        .and_then(|a| a.get("payload_id"))
        .and_then(|v| v.string_value());
    assert_eq!(payload_id, Some(ids[0].as_str()));
    running.stop();
}
