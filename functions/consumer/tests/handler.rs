//! The consumer's handler in process, with SQS records built from messages really sent to the
//! local endpoint, against the endpoint's S3, SQS and DynamoDB.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::SqsEvent;
use claimcheck::extended_client::SendOptions;
use claimcheck::ledger::{Changes, NewPayload, Status};
use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor, VerifyingProcessor};
use claimcheck::{MessageAttribute, MessageAttributes, PayloadPointer};
use consumer::{Consumer, PARK_REASON_ATTRIBUTE, Settings, handle};

/// The verifying processor, with faults chosen by a `fault` attribute.
#[derive(Clone, Default)]
struct Faulty {
    calls: Arc<AtomicUsize>,
}

impl Processor for Faulty {
    async fn process(&self, meta: &PayloadMeta, body: Body) -> Outcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match meta
            .attributes
            .get("fault")
            .and_then(MessageAttribute::as_str)
        {
            Some("transient") => Outcome::Retry("injected transient fault".into()),
            Some("permanent") => Outcome::Permanent("injected permanent fault".into()),
            Some("panic") => panic!("injected panic"),
            _ => VerifyingProcessor.process(meta, body).await,
        }
    }
}

struct Fixture {
    aws: testkit::Endpoint,
    consumer: Consumer<Faulty>,
    /// The harness's view of the ledger: set-up and checks are not the function's calls.
    ledger: claimcheck::ledger::Ledger,
    queue: String,
    queue_arn: String,
    dlq: String,
    /// What the consumer's metrics emitted.
    emitted: testkit::emf::Captured,
}

async fn fixture() -> Fixture {
    let aws = testkit::endpoint().await;
    let bucket = aws.bucket().await;
    let queue = aws.queue_for("work").await;
    let dlq = aws.queue_for("dlq").await;
    let ledger = aws.ledger().await;
    let settings = Settings {
        bucket,
        trusted_buckets: vec![],
        table: ledger.table().to_owned(),
        dlq_url: dlq.clone(),
        max_receive_count: 5,
        lease: Duration::from_secs(60),
        delete_after_done: false,
        deadline_margin: Duration::from_secs(5),
        max_payload_bytes: None,
    };
    let mut consumer =
        Consumer::new(&aws.config_as("consumer"), settings, Faulty::default()).expect("consumer");
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "consumer");
    consumer.metrics = std::sync::Arc::new(metrics);
    let queue_arn = format!(
        "arn:aws:sqs:us-east-1:123456789012:{}",
        queue.rsplit('/').next().unwrap_or("")
    );
    Fixture {
        aws,
        consumer,
        ledger,
        queue,
        queue_arn,
        dlq,
        emitted,
    }
}

impl Fixture {
    fn bucket(&self) -> &str {
        &self.consumer.settings.bucket
    }

    /// A payload as the producer leaves it: stored, `queued` in the ledger, pointer sent.
    async fn queued_payload(&self, data: &[u8], fault: Option<&str>) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let object = PayloadPointer::new(self.bucket(), format!("uploads/{id}"));
        self.aws
            .s3
            .put_object()
            .bucket(self.bucket())
            .key(&object.key)
            .body(data.to_vec().into())
            .send()
            .await
            .expect("put");
        let sha = base64_sha(data);
        self.ledger
            .create_pending(&NewPayload {
                id: id.clone(),
                object: object.clone(),
                size: data.len() as u64,
                content_type: "text/plain".into(),
                sha256: Some(sha),
                metadata: HashMap::new(),
                url_expires_at: 0,
                owner: None,
                quota_key: None,
                multipart: None,
            })
            .await
            .expect("ledger");
        self.ledger
            .transition(&id, &[Status::Pending], Status::Queued, &Changes::default())
            .await
            .expect("queued");
        let mut attributes =
            MessageAttributes::from([("payload_id".to_owned(), MessageAttribute::string(&id))]);
        if let Some(fault) = fault {
            attributes.insert("fault".into(), MessageAttribute::string(fault));
        }
        // Sent as the producer would, by the harness (not a call of the consumer's code).
        self.aws
            .client(claimcheck::ExtendedClientConfig::new(self.bucket()))
            .send_pointer(
                &self.queue,
                &object,
                data.len() as u64,
                attributes,
                SendOptions::default(),
            )
            .await
            .expect("send");
        id
    }

    async fn raw_pointer(&self, body: String, payload_id: Option<&str>) {
        let size = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("Number")
            .string_value("5")
            .build()
            .expect("attr");
        let mut send = self
            .aws
            .sqs
            .send_message()
            .queue_url(&self.queue)
            .message_body(body)
            .message_attributes("ExtendedPayloadSize", size);
        if let Some(id) = payload_id {
            send = send.message_attributes(
                "payload_id",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(id)
                    .build()
                    .expect("attr"),
            );
        }
        send.send().await.expect("send");
    }

    /// Every message on the work queue as one Lambda event; `receive_counts` overrides the
    /// count for messages by payload id.
    async fn event(
        &self,
        receive_counts: &HashMap<String, u32>,
    ) -> (SqsEvent, HashMap<String, String>) {
        let messages = self.aws.peek(&self.queue).await;
        let mut by_message = HashMap::new();
        let records: Vec<_> = messages
            .iter()
            .map(|m| {
                let id = m
                    .message_attributes()
                    .and_then(|a| a.get("payload_id"))
                    .and_then(|v| v.string_value())
                    .unwrap_or("")
                    .to_owned();
                by_message.insert(m.message_id().unwrap_or("").to_owned(), id.clone());
                testkit::lambda_record(
                    m,
                    &self.queue_arn,
                    receive_counts.get(&id).copied().unwrap_or(1),
                )
            })
            .collect();
        let event =
            serde_json::from_value(serde_json::json!({ "Records": records })).expect("SQS event");
        (event, by_message)
    }

    async fn status(&self, id: &str) -> Status {
        self.ledger
            .get(id)
            .await
            .expect("ledger")
            .expect("item")
            .status
    }
}

fn base64_sha(data: &[u8]) -> String {
    testkit::sha256_base64(data)
}

fn far_deadline() -> SystemTime {
    SystemTime::now() + Duration::from_secs(600)
}

/// Ten records of every kind in one batch: exactly the transient, panicking and last-attempt
/// records are batch item failures; the permanent ones are in the DLQ with their reason and
/// acknowledged; the ledger says where each payload is.
#[tokio::test]
async fn a_mixed_batch_reports_exactly_the_right_failures() {
    let f = fixture().await;
    let good = f.queued_payload(b"good payload", None).await;
    let transient = f.queued_payload(b"transient", Some("transient")).await;
    let permanent = f.queued_payload(b"permanent", Some("permanent")).await;
    let panics = f.queued_payload(b"panics", Some("panic")).await;
    let last_try = f.queued_payload(b"last try", Some("transient")).await;
    let gone = f.queued_payload(b"gone", None).await;
    f.aws
        .s3
        .delete_object()
        .bucket(f.bucket())
        .key(format!("uploads/{gone}"))
        .send()
        .await
        .expect("delete");
    let done = f.queued_payload(b"already done", None).await;
    f.ledger
        .claim(&done, "earlier", Duration::from_secs(60), "")
        .await
        .expect("claim");
    let finished = Changes {
        release_lease: true,
        ..Changes::default()
    };
    f.ledger
        .transition(&done, &[Status::Processing], Status::Done, &finished)
        .await
        .expect("done");
    f.raw_pointer("not a pointer".into(), Some("malformed"))
        .await;
    f.raw_pointer(
        PayloadPointer::new("someone-elses-bucket", "k").to_body(),
        Some("foreign"),
    )
    .await;
    f.aws
        .sqs
        .send_message()
        .queue_url(&f.queue)
        .message_body("inline hello")
        .send()
        .await
        .expect("inline");

    let counts = HashMap::from([(last_try.clone(), 5)]);
    let (event, ids) = f.event(&counts).await;
    assert_eq!(event.records.len(), 10);
    let response = handle(&f.consumer, event, far_deadline())
        .await
        .expect("a well-formed batch");
    let mut failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|b| ids[&b.item_identifier].as_str())
        .collect();
    failed.sort();
    let mut expected = vec![transient.as_str(), panics.as_str(), last_try.as_str()];
    expected.sort();
    assert_eq!(failed, expected);

    assert_eq!(f.status(&good).await, Status::Done);
    let good_record = f
        .consumer
        .ledger
        .get(&good)
        .await
        .expect("ledger")
        .expect("item");
    assert_eq!(good_record.sha256, Some(base64_sha(b"good payload")));
    assert_eq!(good_record.lease_owner, None);
    assert_eq!(f.status(&transient).await, Status::Failed);
    assert_eq!(f.status(&panics).await, Status::Failed);
    assert!(
        f.ledger
            .get(&panics)
            .await
            .expect("l")
            .expect("i")
            .last_error
            .is_some_and(|e| e.contains("panicked"))
    );
    assert_eq!(
        f.status(&last_try).await,
        Status::Dead,
        "the last allowed receive marks it dead"
    );
    assert_eq!(f.status(&permanent).await, Status::Dead);
    assert_eq!(f.status(&gone).await, Status::Dead);
    assert_eq!(f.status(&done).await, Status::Done);
    assert_eq!(
        f.consumer.processor.calls.load(Ordering::SeqCst),
        6,
        "good, transient, permanent, panic, last try, inline"
    );

    let mut reasons: Vec<String> = f
        .aws
        .peek(&f.dlq)
        .await
        .iter()
        .map(|m| {
            m.message_attributes()
                .and_then(|a| a.get(PARK_REASON_ATTRIBUTE))
                .and_then(|v| v.string_value())
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("injected permanent fault"))
    );
    assert!(reasons.iter().any(|r| r.contains("does not exist")));
    assert!(reasons.iter().any(|r| r.contains("not a pointer")));
    assert!(reasons.iter().any(|r| r.contains("does not trust")));

    // The metrics tell the same story, every line valid EMF.
    let consumer = [("function", "consumer")];
    let parked = |reason: &str| {
        f.emitted.total(
            "PayloadsParked",
            &[("function", "consumer"), ("reason", reason)],
        )
    };
    assert_eq!(f.emitted.total("RecordsReceived", &consumer), 10.0);
    assert_eq!(
        f.emitted.total("PayloadsDone", &consumer),
        2.0,
        "good, inline"
    );
    assert_eq!(f.emitted.total("PayloadsAlreadyDone", &consumer), 1.0);
    assert_eq!(
        f.emitted.total("PayloadsRetried", &consumer),
        2.0,
        "transient, panics (the last try counts as parked)"
    );
    assert_eq!(parked("rejected"), 1.0);
    assert_eq!(parked("unresolvable"), 3.0, "gone, malformed, foreign");
    assert_eq!(parked("retries_exhausted"), 1.0);
    assert_eq!(f.emitted.observations("ProcessingSeconds"), 2);
    assert_eq!(
        f.emitted.total("BytesProcessed", &consumer),
        (b"good payload".len() + b"inline hello".len()) as f64
    );
    assert_eq!(f.emitted.observations("UploadToDoneSeconds"), 1, "good");
    assert_eq!(f.emitted.total("ColdStart", &consumer), 1.0);
}

/// FIFO (Powertools' semantics): a failed record holds back the later records of its own
/// message group only. Groups `A, B, B` with `A` failing: both `B`s are processed; with the
/// first `B` failing instead, the second `B` is held back and `A` is processed.
#[tokio::test]
async fn a_fifo_failure_holds_back_only_its_own_message_group() {
    for failing in ["A", "B"] {
        let mut f = fixture().await;
        f.queue_arn.push_str(".fifo");
        let fault = |group: &str| (group == failing).then_some("transient");
        let a = f.queued_payload(b"a", fault("A")).await;
        let b1 = f.queued_payload(b"b1", fault("B")).await;
        let b2 = f.queued_payload(b"b2", None).await;
        let (mut event, ids) = f.event(&HashMap::new()).await;
        let order = [(&a, "A"), (&b1, "B"), (&b2, "B")];
        event.records.sort_by_key(|r| {
            order
                .iter()
                .position(|(id, _)| **id == ids[r.message_id.as_deref().unwrap_or("")])
        });
        for (record, (_, group)) in event.records.iter_mut().zip(order) {
            record
                .attributes
                .insert("MessageGroupId".into(), group.into());
        }
        let response = handle(&f.consumer, event, far_deadline())
            .await
            .expect("a well-formed batch");
        let mut failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|b| ids[&b.item_identifier].as_str())
            .collect();
        failed.sort_unstable();
        let statuses = (f.status(&a).await, f.status(&b1).await, f.status(&b2).await);
        if failing == "A" {
            assert_eq!(failed, [a.as_str()]);
            assert_eq!(statuses, (Status::Failed, Status::Done, Status::Done));
        } else {
            let mut expected = [b1.as_str(), b2.as_str()];
            expected.sort_unstable();
            assert_eq!(failed, expected);
            assert_eq!(statuses, (Status::Done, Status::Failed, Status::Queued));
        }
    }
}

#[tokio::test]
async fn near_the_deadline_no_record_is_started() {
    let f = fixture().await;
    let id = f.queued_payload(b"later", None).await;
    let (event, _) = f.event(&HashMap::new()).await;
    let response = handle(
        &f.consumer,
        event,
        SystemTime::now() + Duration::from_secs(2),
    )
    .await
    .expect("a well-formed batch");
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(f.status(&id).await, Status::Queued, "untouched");
    assert_eq!(f.consumer.processor.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_payload_leased_by_a_live_invocation_is_retried_later() {
    let f = fixture().await;
    let id = f.queued_payload(b"busy", None).await;
    f.ledger
        .claim(&id, "another-invocation", Duration::from_secs(60), "")
        .await
        .expect("claim");
    let (event, _) = f.event(&HashMap::new()).await;
    let response = handle(&f.consumer, event, far_deadline())
        .await
        .expect("a well-formed batch");
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(f.status(&id).await, Status::Processing);
}

/// A redriven copy has a new message id but the same payload: recognised as done.
#[tokio::test]
async fn duplicates_are_recognised_by_payload_not_message_id() {
    let f = fixture().await;
    let id = f.queued_payload(b"once", None).await;
    let (event, _) = f.event(&HashMap::new()).await;
    let event_message_id = event.records[0].message_id.clone();
    assert!(
        handle(&f.consumer, event.clone(), far_deadline())
            .await
            .expect("a well-formed batch")
            .batch_item_failures
            .is_empty()
    );
    let mut copy = event;
    copy.records[0].message_id = Some("a-new-message-id".into());
    assert!(
        handle(&f.consumer, copy, far_deadline())
            .await
            .expect("a well-formed batch")
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(
        f.consumer.processor.calls.load(Ordering::SeqCst),
        1,
        "processed once"
    );
    assert_eq!(f.status(&id).await, Status::Done);
    // The claim recorded the message that delivered the payload.
    let record = f.ledger.get(&id).await.expect("get").expect("item");
    assert_eq!(record.message_id, event_message_id);
}

#[tokio::test]
async fn messages_from_the_official_python_client_are_consumed() {
    let f = fixture().await;
    let body = "python payload ✓ ".repeat(20_000);
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, body.as_bytes()).expect("write body");
    let path = file.path().to_str().expect("utf-8 path");
    testkit::python_client(&[
        "send",
        "--queue",
        &f.queue,
        "--bucket",
        f.bucket(),
        "--body-file",
        path,
    ]);
    let (event, _) = f.event(&HashMap::new()).await;
    let response = handle(&f.consumer, event, far_deadline())
        .await
        .expect("a well-formed batch");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(f.consumer.processor.calls.load(Ordering::SeqCst), 1);
    assert!(f.aws.peek(&f.dlq).await.is_empty());
}

/// A crashed invocation's lease is taken over once it expires, not before.
#[tokio::test]
async fn a_crashed_invocations_lease_is_taken_over_after_it_expires() {
    let mut f = fixture().await;
    let now = Arc::new(std::sync::atomic::AtomicI64::new(1_764_000_000_000));
    let clock = now.clone();
    let clocked = Arc::new(move || clock.load(Ordering::SeqCst));
    f.consumer.ledger = f.consumer.ledger.clone().with_clock(clocked.clone());
    f.ledger = f.ledger.clone().with_clock(clocked);
    let id = f.queued_payload(b"orphaned lease", None).await;
    f.ledger
        .claim(&id, "crashed-invocation", Duration::from_secs(60), "")
        .await
        .expect("claim");
    let (event, _) = f.event(&HashMap::new()).await;

    now.fetch_add(30_000, Ordering::SeqCst);
    let early = handle(&f.consumer, event.clone(), far_deadline())
        .await
        .expect("a well-formed batch");
    assert_eq!(
        early.batch_item_failures.len(),
        1,
        "the lease is still live"
    );
    assert_eq!(f.consumer.processor.calls.load(Ordering::SeqCst), 0);

    now.fetch_add(31_000, Ordering::SeqCst);
    let late = handle(&f.consumer, event, far_deadline())
        .await
        .expect("a well-formed batch");
    assert!(late.batch_item_failures.is_empty());
    let record = f
        .consumer
        .ledger
        .get(&id)
        .await
        .expect("ledger")
        .expect("item");
    assert_eq!((record.status, record.attempts), (Status::Done, 2));
}

#[tokio::test]
async fn done_payloads_are_kept_or_deleted_by_setting() {
    for delete_after_done in [false, true] {
        let mut f = fixture().await;
        f.consumer.settings.delete_after_done = delete_after_done;
        let id = f.queued_payload(b"cleanup", None).await;
        let (event, _) = f.event(&HashMap::new()).await;
        assert!(
            handle(&f.consumer, event.clone(), far_deadline())
                .await
                .expect("a well-formed batch")
                .batch_item_failures
                .is_empty()
        );
        let keys = f.aws.keys(f.bucket()).await;
        assert_eq!(keys.is_empty(), delete_after_done, "{keys:?} for id {id}");
        // A second copy of the pointer (a duplicate delivery, or reconcile re-sending): the
        // ledger says done, so it is acknowledged as done, whatever S3 says — never parked as
        // "payload object does not exist" (issue 15, case 2).
        assert!(
            handle(&f.consumer, event, far_deadline())
                .await
                .expect("a well-formed batch")
                .batch_item_failures
                .is_empty()
        );
        assert!(f.aws.peek(&f.dlq).await.is_empty(), "nothing dead-lettered");
        assert_eq!(f.status(&id).await, Status::Done);
        assert_eq!(f.consumer.processor.calls.load(Ordering::SeqCst), 1);
    }
}

/// A record without a message id could only be reported with an empty `itemIdentifier`, which
/// makes Lambda fail the whole batch: the consumer fails it itself, before processing anything.
#[tokio::test]
async fn a_record_without_a_message_id_fails_the_whole_batch_untouched() {
    let f = fixture().await;
    let first = f.queued_payload(b"first", None).await;
    f.queued_payload(b"second", None).await;
    let (mut event, _) = f.event(&HashMap::new()).await;
    assert_eq!(event.records.len(), 2);
    event.records[1].message_id = None;
    let refused = handle(&f.consumer, event.clone(), far_deadline()).await;
    assert!(
        matches!(
            refused,
            Err(consumer::BatchError::MissingMessageId { index: 1 })
        ),
        "{refused:?}"
    );
    event.records[1].message_id = Some(String::new());
    assert!(handle(&f.consumer, event, far_deadline()).await.is_err());
    assert_eq!(f.consumer.processor.calls.load(Ordering::SeqCst), 0);
    assert_eq!(f.status(&first).await, Status::Queued, "nothing claimed");
}

/// A send whose answer was lost: SQS queued the pointer, but the producer saw a failure and
/// returned the payload to `pending` (to admit it again). The pointer that arrives meanwhile is
/// retried, not dead-lettered; once the payload is admitted it is processed.
#[tokio::test]
async fn a_pointer_that_overtakes_its_admission_is_retried_not_parked() {
    let f = fixture().await;
    let id = f.queued_payload(b"early", None).await;
    f.ledger
        .transition(&id, &[Status::Queued], Status::Pending, &Changes::default())
        .await
        .expect("back to pending");
    let (event, _) = f.event(&HashMap::new()).await;
    let response = handle(&f.consumer, event.clone(), far_deadline())
        .await
        .expect("a well-formed batch");
    assert_eq!(response.batch_item_failures.len(), 1, "retried");
    assert!(f.aws.peek(&f.dlq).await.is_empty(), "not dead-lettered");
    assert_eq!(f.status(&id).await, Status::Pending);
    f.ledger
        .transition(&id, &[Status::Pending], Status::Queued, &Changes::default())
        .await
        .expect("admitted");
    let response = handle(&f.consumer, event, far_deadline())
        .await
        .expect("a well-formed batch");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(f.status(&id).await, Status::Done);
    assert_eq!(f.consumer.processor.calls.load(Ordering::SeqCst), 1);
}

/// A message moved out of the DLQ by a move the ledger does not know of (SQS's native redrive
/// before it marked the payload, or a redrive started in the SQS console) finds its payload
/// `dead`: it is processed, not parked again.
#[tokio::test]
async fn a_message_moved_out_of_the_dlq_behind_the_ledgers_back_is_processed() {
    let f = fixture().await;
    let id = f.queued_payload(b"moved back", None).await;
    let parked = Changes {
        last_error: Some("parked: upstream down".into()),
        ..Changes::default()
    };
    f.ledger
        .transition(&id, &[Status::Queued], Status::Dead, &parked)
        .await
        .expect("parked earlier");
    let (event, _) = f.event(&HashMap::new()).await;
    let response = handle(&f.consumer, event, far_deadline())
        .await
        .expect("a well-formed batch");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(f.status(&id).await, Status::Done);
    // Done: no error shown as current; the first cause stays as history.
    let record = f.ledger.get(&id).await.expect("ledger").expect("item");
    assert_eq!(record.last_error, None);
    assert_eq!(record.first_error.as_deref(), Some("parked: upstream down"));
    assert!(f.aws.peek(&f.dlq).await.is_empty(), "not parked again");
    assert_eq!(f.consumer.processor.calls.load(Ordering::SeqCst), 1);
}

/// A payload larger than the consumer can stream within its timeout is parked on its first
/// attempt with that reason (never processed, never retried into a timeout loop); one within
/// the limit goes through.
#[tokio::test]
async fn a_payload_over_the_consumers_limit_is_parked_on_its_first_attempt() {
    let mut f = fixture().await;
    f.consumer.settings.max_payload_bytes = Some(10);
    let small = f.queued_payload(b"ten bytes!", None).await;
    let large = f.queued_payload(b"eleven bytes", None).await;
    let (event, _) = f.event(&HashMap::new()).await;
    let response = handle(&f.consumer, event, far_deadline())
        .await
        .expect("a well-formed batch");
    assert!(
        response.batch_item_failures.is_empty(),
        "acknowledged, not retried"
    );
    assert_eq!(f.status(&small).await, Status::Done);
    let record = f.ledger.get(&large).await.expect("ledger").expect("item");
    assert_eq!(record.status, Status::Dead);
    assert!(
        record
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("over the 10 bytes this consumer can stream")),
        "{:?}",
        record.last_error
    );
    let parked = f.aws.peek(&f.dlq).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(
        f.consumer.processor.calls.load(Ordering::SeqCst),
        1,
        "only the small one"
    );
    assert_eq!(
        f.emitted.total(
            "PayloadsParked",
            &[("function", "consumer"), ("reason", "too_large")]
        ),
        1.0
    );
}
