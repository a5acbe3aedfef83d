//! The producer's handler in process, with real S3 events, against the local AWS endpoint.

use std::collections::HashMap;

use aws_lambda_events::s3::S3Event;
use claimcheck::PayloadPointer;
use claimcheck::ledger::{NewPayload, Status};
use claimcheck::object_key::KeyPrefix;
use claimcheck::payload_store::PresignPut;
use claimcheck::size_attribute::SizeAttributeName;
use producer::{Outcome, Producer, Settings, UnknownObjects, handle};

struct Fixture {
    aws: testkit::Endpoint,
    producer: Producer,
    queue: String,
    /// The harness's view of the ledger: set-up and checks are not the function's calls.
    ledger: claimcheck::ledger::Ledger,
    /// What the producer's metrics emitted.
    emitted: testkit::emf::Captured,
}

async fn fixture(unknown_objects: UnknownObjects) -> Fixture {
    let aws = testkit::endpoint().await;
    let bucket = aws.bucket().await;
    let queue = aws.queue_for("work").await;
    let ledger = aws.ledger().await;
    let settings = Settings {
        bucket,
        table: ledger.table().to_owned(),
        queue_url: queue.clone(),
        uploads_prefix: KeyPrefix::new("uploads/").expect("prefix"),
        unknown_objects,
        size_attribute: SizeAttributeName::Current,
        message_group: Default::default(),
    };
    let mut producer = Producer::new(&aws.config_as("producer"), settings).expect("producer");
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "producer");
    producer.metrics = std::sync::Arc::new(metrics);
    Fixture {
        aws,
        producer,
        queue,
        ledger,
        emitted,
    }
}

fn event(json: &str) -> S3Event {
    serde_json::from_str(json).expect("an S3 event")
}

impl Fixture {
    fn bucket(&self) -> &str {
        &self.producer.settings.bucket
    }

    /// A payload announced in the ledger and uploaded directly, with its event.
    async fn announced(
        &self,
        data: &[u8],
        announced_size: u64,
        sha256: Option<String>,
    ) -> (String, S3Event) {
        let id = uuid::Uuid::new_v4().to_string();
        let key = format!("uploads/{id}");
        self.ledger
            .create_pending(&NewPayload {
                id: id.clone(),
                object: PayloadPointer::new(self.bucket(), &key),
                size: announced_size,
                content_type: "text/plain".into(),
                sha256,
                metadata: HashMap::new(),
                url_expires_at: 0,
                owner: None,
                quota_key: None,
                multipart: None,
            })
            .await
            .expect("ledger");
        self.put(&key, data).await;
        (
            id,
            event(&testkit::s3_event_json(
                self.bucket(),
                &key.replace('/', "%2F"),
                data.len() as u64,
            )),
        )
    }

    async fn put(&self, key: &str, data: &[u8]) {
        self.aws
            .s3
            .put_object()
            .bucket(self.bucket())
            .key(key)
            .content_type("text/plain")
            .body(data.to_vec().into())
            .send()
            .await
            .expect("put");
    }

    async fn record(&self, id: &str) -> claimcheck::ledger::PayloadRecord {
        self.ledger.get(id).await.expect("ledger").expect("item")
    }

    async fn status(&self, id: &str) -> Status {
        self.record(id).await.status
    }
}

fn python_receive(queue: &str, bucket: &str) -> serde_json::Value {
    testkit::python_client(&["receive", "--queue", queue, "--bucket", bucket, "--delete"])
}

/// The whole ingest path: a payload announced in the ledger and a presigned PUT (what
/// presign-upload does, through the same library calls), a plain HTTP PUT, the S3 event the
/// local endpoint really delivers (URL-encoded key), the producer, and the official Python
/// extended client reading the one pointer message back to the same bytes. (The API handler
/// itself in front of this is part of the end-to-end test in `cli/tests/pipeline.rs`.)
#[tokio::test]
async fn presigned_upload_becomes_one_message_the_python_client_resolves() {
    let f = fixture(UnknownObjects::Ignore).await;
    let events = f.aws.notify_queue(f.bucket(), "uploads/").await;
    let data = "id,name\n".to_owned() + &"1,ada lovelace ✓\n".repeat(20_000);
    let sha = testkit::sha256_base64(data.as_bytes());
    let id = uuid::Uuid::new_v4().to_string();
    let object = PayloadPointer::new(f.bucket(), format!("uploads/{id}"));
    f.ledger
        .create_pending(&NewPayload {
            id: id.clone(),
            object: object.clone(),
            size: data.len() as u64,
            content_type: "text/csv".into(),
            sha256: Some(sha.clone()),
            metadata: HashMap::new(),
            url_expires_at: f.ledger.now() + 900_000,
            owner: None,
            quota_key: None,
            multipart: None,
        })
        .await
        .expect("ledger");
    let store = claimcheck::PayloadStore::new(f.aws.s3.clone());
    let presigned = store
        .presign_put(
            &object,
            &PresignPut::new(
                "text/csv",
                data.len() as u64,
                std::time::Duration::from_secs(900),
            )
            .with_checksum_sha256(Some(sha)),
        )
        .await
        .expect("presigned PUT");
    let mut put = reqwest::Client::new()
        .put(&presigned.url)
        .body(data.clone());
    for (name, value) in &presigned.headers {
        put = put.header(name, value);
    }
    assert!(put.send().await.expect("upload").status().is_success());

    let delivered = testkit::complete_endpoint_s3_event(&f.aws.next_s3_event(&events).await);
    assert!(
        delivered.contains("uploads%2F"),
        "the endpoint URL-encodes keys: {delivered}"
    );
    let outcomes = handle(&f.producer, event(&delivered))
        .await
        .expect("handled");
    assert!(
        matches!(&outcomes[..], [Outcome::Queued { id: queued, .. }] if *queued == id),
        "{outcomes:?}"
    );
    let record = f.record(&id).await;
    assert_eq!(record.status, Status::Queued);
    // Recorded by the consumer's claim, not by a write of the producer's own.
    assert_eq!(record.message_id, None);

    // S3 delivers at least once: the same event again sends nothing.
    let again = handle(&f.producer, event(&delivered))
        .await
        .expect("handled");
    assert_eq!(
        again,
        [Outcome::Duplicate {
            id: id.clone(),
            status: Status::Queued
        }]
    );

    let raw = f.aws.peek(&f.queue).await;
    assert_eq!(raw.len(), 1, "exactly one pointer message");
    let attrs = raw[0].message_attributes().expect("attributes");
    assert_eq!(attrs["payload_id"].string_value(), Some(id.as_str()));
    assert_eq!(
        attrs["ExtendedPayloadSize"].string_value(),
        Some(data.len().to_string().as_str())
    );

    let received = python_receive(&f.queue, f.bucket());
    let received = received.as_array().expect("list");
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0]["body_sha256"],
        testkit::sha256_hex(data.as_bytes())
    );
    assert_eq!(received[0]["attributes"]["payload_id"], id.as_str());
}

#[tokio::test]
async fn racing_duplicate_events_send_one_message() {
    let f = fixture(UnknownObjects::Ignore).await;
    let (id, event) = f.announced(b"hello", 5, None).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let producer = f.producer.clone();
            let event = event.clone();
            tokio::spawn(async move { handle(&producer, event).await })
        })
        .collect();
    let mut queued = 0;
    for task in tasks {
        let outcomes = task.await.expect("join").expect("handled");
        match &outcomes[..] {
            [Outcome::Queued { .. }] => queued += 1,
            [Outcome::Duplicate { .. }] => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(queued, 1);
    assert_eq!(f.aws.approximate_count(&f.queue).await, 1);
    assert_eq!(f.status(&id).await, Status::Queued);
}

/// Size and content type are checked against the endpoint; the checksum comparison is a unit
/// test, because the local endpoint never reports stored checksums.
#[tokio::test]
async fn mismatched_uploads_are_quarantined_not_queued() {
    let f = fixture(UnknownObjects::Ignore).await;
    let (short, short_event) = f.announced(b"12345", 10, None).await;
    let (typed, typed_event) = f.announced(b"{}", 2, None).await;
    f.aws
        .s3
        .put_object()
        .bucket(f.bucket())
        .key(format!("uploads/{typed}"))
        .content_type("application/json")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .expect("re-upload with another type");
    for (id, event, reason) in [
        (short, short_event, "size mismatch"),
        (typed, typed_event, "content type mismatch"),
    ] {
        let outcomes = handle(&f.producer, event).await.expect("handled");
        assert!(
            matches!(&outcomes[..], [Outcome::Quarantined { reason: r, .. }] if r.starts_with(reason)),
            "{outcomes:?}"
        );
        let record = f.record(&id).await;
        assert_eq!(record.status, Status::Quarantined);
        assert!(
            record
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with(reason))
        );
    }
    assert_eq!(f.aws.approximate_count(&f.queue).await, 0);
    let producer = [("function", "producer")];
    assert_eq!(f.emitted.total("PayloadsQuarantined", &producer), 2.0);
    assert_eq!(f.emitted.total("PayloadsQueued", &producer), 0.0);
}

#[tokio::test]
async fn keys_outside_the_prefix_foreign_buckets_and_unknown_objects_are_ignored() {
    let f = fixture(UnknownObjects::Ignore).await;
    let unknown_key = format!("uploads/{}", uuid::Uuid::new_v4());
    f.put(&unknown_key, b"stray").await;
    f.put("elsewhere/a b+c.txt", b"x").await;
    let cases = [
        (
            testkit::s3_event_json(f.bucket(), "elsewhere%2Fa+b%2Bc.txt", 1),
            "not an upload key (the uploads prefix and a payload id)",
        ),
        (
            testkit::s3_event_json(f.bucket(), "uploads%2F..%2Fsecret", 1),
            "not an upload key (the uploads prefix and a payload id)",
        ),
        (
            testkit::s3_event_json(f.bucket(), "uploads%2Fnot-a-uuid", 1),
            "not an upload key (the uploads prefix and a payload id)",
        ),
        (
            testkit::s3_event_json("someone-else", &unknown_key, 5),
            "event from another bucket",
        ),
        (
            testkit::s3_event_json(f.bucket(), &unknown_key.replace('/', "%2F"), 5),
            "no ledger item",
        ),
    ];
    for (json, reason) in cases {
        let outcomes = handle(&f.producer, event(&json)).await.expect("handled");
        assert!(
            matches!(&outcomes[..], [Outcome::Ignored { reason: r, .. }] if r.starts_with(reason)),
            "{reason}: {outcomes:?}"
        );
    }
    let decoded = handle(
        &f.producer,
        event(&testkit::s3_event_json(
            f.bucket(),
            "elsewhere%2Fa+b%2Bc.txt",
            1,
        )),
    )
    .await
    .expect("handled");
    assert!(matches!(&decoded[..], [Outcome::Ignored { key, .. }] if key == "elsewhere/a b+c.txt"));
    assert_eq!(f.aws.approximate_count(&f.queue).await, 0);
}

#[tokio::test]
async fn unknown_objects_can_be_enqueued_by_policy() {
    let f = fixture(UnknownObjects::Enqueue).await;
    let id = uuid::Uuid::new_v4().to_string();
    f.put(&format!("uploads/{id}"), b"adopted").await;
    let outcomes = handle(
        &f.producer,
        event(&testkit::s3_event_json(
            f.bucket(),
            &format!("uploads%2F{id}"),
            7,
        )),
    )
    .await
    .expect("handled");
    assert!(
        matches!(&outcomes[..], [Outcome::Queued { id: q, .. }] if *q == id),
        "{outcomes:?}"
    );
    let record = f.record(&id).await;
    assert_eq!((record.status, record.size), (Status::Queued, 7));
}

#[tokio::test]
async fn a_failed_send_fails_the_invocation_and_the_retry_queues_it() {
    let f = fixture(UnknownObjects::Ignore).await;
    let (id, event) = f.announced(b"retry me", 8, None).await;
    let mut broken = Producer::new(
        &f.aws.config_as("producer"),
        Settings {
            // Named as the work queue, for the IAM test.
            queue_url: format!(
                "{}/123456789012/missing-queue-work",
                std::env::var("AWS_ENDPOINT_URL").unwrap_or_default()
            ),
            ..f.producer.settings.clone()
        },
    )
    .expect("producer");
    broken.metrics = f.producer.metrics.clone();
    let failed = handle(&broken, event.clone())
        .await
        .expect_err("send fails");
    assert_eq!((failed.failed, failed.total), (1, 1));
    assert_eq!(
        f.emitted
            .total("RecordsFailed", &[("function", "producer")]),
        1.0
    );
    let record = f.record(&id).await;
    assert_eq!(
        record.status,
        Status::Pending,
        "returned to pending for the retry"
    );
    assert!(
        record
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("send failed"))
    );
    assert_eq!(
        f.aws.keys(f.bucket()).await.len(),
        1,
        "the upload is not deleted"
    );

    let retried = handle(&f.producer, event).await.expect("retry");
    assert!(matches!(&retried[..], [Outcome::Queued { .. }]));
    assert_eq!(f.aws.approximate_count(&f.queue).await, 1);
}

#[tokio::test]
async fn an_object_deleted_before_its_event_is_reported_not_failed() {
    let f = fixture(UnknownObjects::Ignore).await;
    let (id, event) = f.announced(b"gone", 4, None).await;
    claimcheck::PayloadStore::new(f.aws.s3.clone())
        .delete(&PayloadPointer::new(f.bucket(), format!("uploads/{id}")))
        .await
        .expect("delete");
    let outcomes = handle(&f.producer, event).await.expect("handled");
    assert_eq!(outcomes, [Outcome::ObjectGone { id: id.clone() }]);
    assert_eq!(f.status(&id).await, Status::Pending);
    assert_eq!(
        f.emitted.total("ObjectsGone", &[("function", "producer")]),
        1.0
    );
}

#[tokio::test]
async fn multi_record_events_handle_every_record() {
    let f = fixture(UnknownObjects::Ignore).await;
    let (a, event_a) = f.announced(b"first", 5, None).await;
    let (b, event_b) = f.announced(b"second", 6, None).await;
    let mut event = event_a;
    event.records.extend(event_b.records);
    let outcomes = handle(&f.producer, event).await.expect("handled");
    assert_eq!(outcomes.len(), 2);
    assert_eq!(
        (f.status(&a).await, f.status(&b).await),
        (Status::Queued, Status::Queued)
    );
    assert_eq!(f.aws.approximate_count(&f.queue).await, 2);
    assert_eq!(
        f.emitted
            .total("PayloadsQueued", &[("function", "producer")]),
        2.0
    );
}

#[test]
fn settings_come_from_the_environment() {
    let env = HashMap::from([
        ("CLAIMCHECK_BUCKET", "b"),
        ("CLAIMCHECK_TABLE", "t"),
        ("CLAIMCHECK_QUEUE_URL", "q"),
    ]);
    let settings = Settings::from_source(&env).expect("defaults");
    assert_eq!(
        (settings.unknown_objects, settings.size_attribute),
        (UnknownObjects::Ignore, SizeAttributeName::Current)
    );
    let bad = HashMap::from([
        ("CLAIMCHECK_BUCKET", "b"),
        ("CLAIMCHECK_TABLE", "t"),
        ("CLAIMCHECK_QUEUE_URL", "q"),
        ("CLAIMCHECK_UNKNOWN_OBJECTS", "drop"),
    ]);
    assert!(Settings::from_source(&bad).is_err());
}
