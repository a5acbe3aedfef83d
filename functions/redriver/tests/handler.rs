//! The redriver against the local AWS endpoint: a DLQ with every kind of parked message, the
//! reconcile pass over each kind of stalled payload, and (with SDK mocks, because the
//! endpoint does not implement `StartMessageMoveTask`) the native mode.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::{Message, MessageAttributeValue};
use claimcheck::PayloadPointer;
use claimcheck::ledger::{Changes, Ledger, NewPayload, Status};
use claimcheck::message_attributes::{PARK_REASON, PAYLOAD_ID, REDRIVE_COUNT};
use claimcheck::repair::{Deployment, RepairSettings};
use claimcheck::repair::{ReconcileStats, RedriveStats, Stall, Verdict};
use redriver::{Filter, Mode, Redriver, Report, Request, Settings, handle};

struct Fixture {
    aws: testkit::Endpoint,
    settings: Settings,
    deps: Redriver,
    /// The harness's own view of the ledger (set-up and checks are not the function's calls).
    ledger: Ledger,
    /// The function's metrics, and what they emitted.
    metrics: claimcheck::metrics::Metrics,
    emitted: testkit::emf::Captured,
}

impl Fixture {
    fn bucket(&self) -> &str {
        &self.settings.deployment.bucket
    }
    fn queue(&self) -> &str {
        &self.settings.deployment.queue_url
    }
    fn dlq(&self) -> &str {
        &self.settings.repair.dlq_url
    }
}

async fn fixture() -> Fixture {
    let aws = testkit::endpoint().await;
    let ledger = aws.ledger().await;
    let mut repair = RepairSettings::new(aws.queue_for("dlq").await);
    repair.max_redrives = 2;
    repair.queued_stall = Duration::from_secs(3600);
    repair.pending_grace = Duration::ZERO;
    repair.visibility = Duration::from_secs(60);
    let settings = Settings {
        deployment: Deployment::new(
            aws.bucket().await,
            ledger.table(),
            aws.queue_for("work").await,
        ),
        repair,
    };
    let deps = settings
        .redriver(&aws.config_as("redriver"))
        .expect("redriver");
    let (emitted, metrics) = testkit::emf::Captured::metrics("tests", "redriver");
    Fixture {
        aws,
        settings,
        deps,
        ledger,
        metrics,
        emitted,
    }
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

/// A ledger clock `ago` in the past, to make items that look old.
fn ledger_at(ledger: &Ledger, ago: Duration) -> Ledger {
    let then = ledger.now() - ago.as_millis() as i64;
    ledger.clone().with_clock(Arc::new(move || then))
}

/// A payload announced through the API (its URL expiring at `url_expires_at`), optionally
/// uploaded, moved to `status`.
async fn payload(f: &Fixture, status: Status, uploaded: bool, url_expires_at: i64) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let object = PayloadPointer::new(f.bucket(), format!("uploads/{id}"));
    let body = format!("payload {id}");
    f.ledger
        .create_pending(&NewPayload {
            id: id.clone(),
            object: object.clone(),
            size: body.len() as u64,
            content_type: "text/plain".into(),
            sha256: None,
            metadata: HashMap::new(),
            url_expires_at,
            owner: None,
            quota_key: None,
            multipart: None,
        })
        .await
        .expect("create");
    if uploaded {
        f.aws
            .s3
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .content_type("text/plain")
            .body(body.into_bytes().into())
            .send()
            .await
            .expect("put");
    }
    if status != Status::Pending {
        f.ledger
            .transition(&id, &[], status, &Changes::default())
            .await
            .expect("move");
    }
    id
}

fn string(value: &str, data_type: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .expect("attribute")
}

/// Parks a pointer message for the payload in the DLQ, as the consumer does.
async fn park(f: &Fixture, id: &str, reason: &str, redrives: u32) {
    let pointer = PayloadPointer::new(f.bucket(), format!("uploads/{id}"));
    let mut send = f
        .aws
        .sqs
        .send_message()
        .queue_url(f.dlq())
        .message_body(pointer.to_body())
        .message_attributes("ExtendedPayloadSize", string("44", "Number"))
        .message_attributes(PAYLOAD_ID, string(id, "String"))
        .message_attributes(PARK_REASON, string(reason, "String"));
    if redrives > 0 {
        send = send.message_attributes(REDRIVE_COUNT, string(&redrives.to_string(), "Number"));
    }
    send.send().await.expect("park");
}

async fn delete_object(f: &Fixture, id: &str) {
    f.aws
        .s3
        .delete_object()
        .bucket(f.bucket())
        .key(format!("uploads/{id}"))
        .send()
        .await
        .expect("delete");
}

async fn status_of(f: &Fixture, id: &str) -> Status {
    f.ledger.get(id).await.expect("get").expect("item").status
}

async fn run(f: &Fixture, request: Request) -> Report {
    handle(&f.deps, &f.metrics, request, in_a_minute())
        .await
        .expect("handled")
}

fn redrive_stats(report: &Report) -> RedriveStats {
    match report {
        Report::Redrive(r) => r.stats,
        other => panic!("not a redrive report: {other:?}"),
    }
}

/// Every message in a queue, taken off it (so the count is exact, not approximate).
async fn drain(f: &Fixture, queue: &str) -> Vec<Message> {
    let mut all = Vec::new();
    loop {
        let out = f
            .aws
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(300)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive");
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// Messages a reader would get now (SQS's ApproximateNumberOfMessages; exact on the endpoint).
async fn visible(f: &Fixture, queue: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = f
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(A::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("attributes");
    out.attributes()
        .and_then(|a| a.get(&A::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

fn attribute<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .message_attributes
        .as_ref()?
        .get(name)?
        .string_value
        .as_deref()
}

#[tokio::test]
async fn redrive_moves_what_can_succeed_and_keeps_the_rest_parked() {
    let f = fixture().await;
    let far = f.ledger.now() + 3_600_000;
    let mut redrivable = Vec::new();
    for _ in 0..3 {
        let id = payload(&f, Status::Dead, true, far).await;
        park(&f, &id, "processor: transient failure", 0).await;
        redrivable.push(id);
    }
    let mut vanished = Vec::new();
    for _ in 0..2 {
        let id = payload(&f, Status::Dead, true, far).await;
        park(&f, &id, "processor: transient failure", 0).await;
        delete_object(&f, &id).await;
        vanished.push(id);
    }
    let mut done = Vec::new();
    for _ in 0..2 {
        let id = payload(&f, Status::Done, true, far).await;
        park(&f, &id, "duplicate delivery", 0).await;
        done.push(id);
    }
    let mut too_often = Vec::new();
    for _ in 0..2 {
        let id = payload(&f, Status::Dead, true, far).await;
        park(&f, &id, "processor: transient failure", 2).await;
        too_often.push(id);
    }
    // A plain extended-client message with no payload behind it: nothing to check.
    f.aws
        .sqs
        .send_message()
        .queue_url(f.dlq())
        .message_body("small inline message")
        .send()
        .await
        .expect("inline");
    let expected = RedriveStats {
        scanned: 10,
        redriven: 4,
        parked: 4,
        skipped: 2,
        failed: 0,
    };

    // A dry run reports the same decisions and changes nothing.
    let dry = run(
        &f,
        Request {
            dry_run: true,
            ..Request::default()
        },
    )
    .await;
    assert_eq!(redrive_stats(&dry), expected);
    let Report::Redrive(dry) = dry else {
        unreachable!()
    };
    assert!(dry.complete);
    assert_eq!(dry.actions.len(), 10);
    for id in redrivable.iter().chain(&vanished).chain(&too_often) {
        assert_eq!(status_of(&f, id).await, Status::Dead);
    }
    assert_eq!(f.aws.approximate_count(f.queue()).await, 0);
    // Released at the end of the run: all ten are visible again at once.
    assert_eq!(visible(&f, f.dlq()).await, 10);

    let report = run(&f, Request::default()).await;
    assert_eq!(redrive_stats(&report), expected, "{report:#?}");
    // The metrics count the real run, not the dry one.
    let redriver = [("function", "redriver")];
    assert_eq!(f.emitted.total("DryRuns", &redriver), 1.0);
    assert_eq!(
        f.emitted.total("Redriven", &redriver),
        f64::from(expected.redriven)
    );
    assert_eq!(
        f.emitted.total("RedriveKeptParked", &redriver),
        f64::from(expected.parked)
    );
    assert_eq!(f.emitted.total("ColdStart", &redriver), 1.0);
    let Report::Redrive(report) = report else {
        unreachable!()
    };
    let verdict_of = |id: &String| {
        report
            .actions
            .iter()
            .find(|a| a.payload_id.as_ref() == Some(id))
            .map(|a| (a.verdict, a.reason.clone()))
            .expect("an action per payload")
    };
    for id in &vanished {
        assert_eq!(verdict_of(id).0, Verdict::Park);
        let record = f.ledger.get(id).await.expect("get").expect("item");
        assert_eq!(record.status, Status::Dead);
        assert!(record.last_error.unwrap_or_default().contains("gone"));
    }
    for id in &too_often {
        assert_eq!(verdict_of(id).0, Verdict::Park);
        assert!(verdict_of(id).1.contains("redriven 2 times"));
    }
    for id in &done {
        assert_eq!(verdict_of(id).0, Verdict::RemoveDone);
        assert_eq!(status_of(&f, id).await, Status::Done);
    }
    for id in &redrivable {
        assert_eq!(status_of(&f, id).await, Status::Redriven);
    }

    // Nothing lost: 10 = 4 back on the work queue + 4 still parked + 2 whose payload is done.
    let back = drain(&f, f.queue()).await;
    let parked = drain(&f, f.dlq()).await;
    assert_eq!(back.len(), 4);
    assert_eq!(parked.len(), 4);
    let mut back_ids: Vec<_> = back
        .iter()
        .filter_map(|m| attribute(m, PAYLOAD_ID).map(str::to_owned))
        .collect();
    back_ids.sort();
    let mut want = redrivable.clone();
    want.sort();
    assert_eq!(back_ids, want);
    for message in &back {
        assert_eq!(attribute(message, REDRIVE_COUNT), Some("1"));
        if let Some(id) = attribute(message, PAYLOAD_ID) {
            // Body and attributes intact: the same pointer, the same size attribute.
            let pointer = PayloadPointer::parse(message.body().unwrap_or_default()).expect("ptr");
            assert_eq!(pointer.key, format!("uploads/{id}"));
            assert_eq!(attribute(message, "ExtendedPayloadSize"), Some("44"));
        } else {
            assert_eq!(message.body(), Some("small inline message"));
        }
    }
    let mut parked_ids: Vec<_> = parked
        .iter()
        .filter_map(|m| attribute(m, PAYLOAD_ID).map(str::to_owned))
        .collect();
    parked_ids.sort();
    let mut want: Vec<_> = vanished.iter().chain(&too_often).cloned().collect();
    want.sort();
    assert_eq!(parked_ids, want);
}

#[tokio::test]
async fn filters_limits_and_the_deadline_leave_the_rest_parked() {
    let f = fixture().await;
    let far = f.ledger.now() + 3_600_000;
    let checksum = payload(&f, Status::Dead, true, far).await;
    park(&f, &checksum, "checksum mismatch", 0).await;
    let mut others = Vec::new();
    for _ in 0..4 {
        let id = payload(&f, Status::Dead, true, far).await;
        park(&f, &id, "processor: timeout", 0).await;
        others.push(id);
    }

    let by_reason = run(
        &f,
        Request {
            filter: Filter {
                reason: Some("CHECKSUM".into()),
                ..Filter::default()
            },
            ..Request::default()
        },
    )
    .await;
    assert_eq!(
        redrive_stats(&by_reason),
        RedriveStats {
            scanned: 5,
            redriven: 1,
            parked: 0,
            skipped: 4,
            failed: 0
        }
    );
    assert_eq!(status_of(&f, &checksum).await, Status::Redriven);

    let by_id = run(
        &f,
        Request {
            filter: Filter {
                payload_ids: vec![others[0].clone()],
                ..Filter::default()
            },
            ..Request::default()
        },
    )
    .await;
    assert_eq!(redrive_stats(&by_id).redriven, 1);
    assert_eq!(status_of(&f, &others[0]).await, Status::Redriven);

    let too_young = run(
        &f,
        Request {
            filter: Filter {
                min_age_seconds: Some(3600),
                ..Filter::default()
            },
            ..Request::default()
        },
    )
    .await;
    assert_eq!(redrive_stats(&too_young).skipped, 3);

    let limited = run(
        &f,
        Request {
            max_messages: Some(2),
            ..Request::default()
        },
    )
    .await;
    let Report::Redrive(limited) = limited else {
        unreachable!()
    };
    assert_eq!(limited.stats.scanned, 2);
    assert_eq!(limited.stats.redriven, 2);
    assert!(!limited.complete);
    assert_eq!(
        limited.stopped_because.as_deref(),
        Some("max_messages reached")
    );

    // With the deadline already too close, nothing is started and the run says so.
    let late = handle(&f.deps, &f.metrics, Request::default(), SystemTime::now())
        .await
        .expect("handled");
    let Report::Redrive(late) = late else {
        unreachable!()
    };
    assert_eq!(late.stats.scanned, 0);
    assert!(!late.complete);
    assert_eq!(f.aws.approximate_count(f.dlq()).await, 1);
    assert_eq!(drain(&f, f.queue()).await.len(), 4);
}

#[tokio::test]
async fn a_filter_outside_redrive_is_refused() {
    let f = fixture().await;
    let refused = handle(
        &f.deps,
        &f.metrics,
        Request {
            mode: Mode::Reconcile,
            filter: Filter {
                reason: Some("x".into()),
                ..Filter::default()
            },
            ..Request::default()
        },
        in_a_minute(),
    )
    .await;
    assert!(refused.is_err());
    let unknown = serde_json::from_str::<Request>(r#"{"mode":"redrive","dryrun":true}"#);
    assert!(unknown.is_err(), "unknown fields are refused, not ignored");
    let empty: Request = serde_json::from_str("{}").expect("all optional");
    assert_eq!(empty.mode, Mode::Redrive);
}

#[tokio::test]
async fn reconcile_repairs_each_stalled_case_once() {
    let f = fixture().await;
    let now = f.ledger.now();
    let two_hours = Duration::from_secs(7200);
    let past = ledger_at(&f.ledger, two_hours);
    // (a) uploaded, its S3 event lost; (b) never uploaded; both with expired URLs.
    let lost_event = payload(&f, Status::Pending, true, now - 60_000).await;
    let never_uploaded = payload(&f, Status::Pending, false, now - 60_000).await;
    // (c) a consumer took a lease two hours ago and crashed.
    let crashed = payload(&f, Status::Queued, true, now - 60_000).await;
    past.claim(&crashed, "consumer-crashed", Duration::from_secs(900), "")
        .await
        .expect("claim");
    // (d) queued two hours ago, never picked up (the producer crashed before sending).
    let undelivered = payload(&f, Status::Pending, true, now - 60_000).await;
    past.transition(
        &undelivered,
        &[Status::Pending],
        Status::Queued,
        &Changes::default(),
    )
    .await
    .expect("queue");
    // Healthy: a URL still valid, a live lease, a recent queueing.
    let _uploading = payload(&f, Status::Pending, false, now + 600_000).await;
    let live = payload(&f, Status::Queued, true, now - 60_000).await;
    f.ledger
        .claim(&live, "consumer-alive", Duration::from_secs(900), "")
        .await
        .expect("claim");
    let _recent = payload(&f, Status::Queued, true, now - 60_000).await;

    let request = |dry_run| Request {
        mode: Mode::Reconcile,
        dry_run,
        ..Request::default()
    };
    let stats = |report: &Report| match report {
        Report::Reconcile(r) => r.stats,
        other => panic!("not a reconcile report: {other:?}"),
    };

    let dry = run(&f, request(true)).await;
    assert_eq!(
        stats(&dry),
        ReconcileStats {
            scanned: 6,
            stalled: 4,
            reconciled: 0,
            failed: 0
        }
    );
    assert_eq!(status_of(&f, &lost_event).await, Status::Pending);
    assert_eq!(f.aws.approximate_count(f.queue()).await, 0);

    let report = run(&f, request(false)).await;
    assert_eq!(
        stats(&report),
        ReconcileStats {
            scanned: 6,
            stalled: 4,
            reconciled: 4,
            failed: 0
        },
        "{report:#?}"
    );
    let redriver = [("function", "redriver")];
    for (metric, expected) in [
        ("ReconcileScanned", 6.0),
        ("ReconcileStalled", 4.0),
        ("Reconciled", 4.0),
        ("ReconcileFailed", 0.0),
    ] {
        assert_eq!(f.emitted.total(metric, &redriver), expected, "{metric}");
    }
    let Report::Reconcile(report) = report else {
        unreachable!()
    };
    let stall_of = |id: &String| {
        report
            .actions
            .iter()
            .find(|a| &a.payload_id == id)
            .map(|a| a.stall)
    };
    assert_eq!(stall_of(&lost_event), Some(Stall::LostEvent));
    assert_eq!(stall_of(&never_uploaded), Some(Stall::NeverUploaded));
    assert_eq!(stall_of(&crashed), Some(Stall::LeaseExpired));
    assert_eq!(stall_of(&undelivered), Some(Stall::NotDelivered));
    assert_eq!(status_of(&f, &lost_event).await, Status::Queued);
    assert_eq!(status_of(&f, &never_uploaded).await, Status::Expired);
    let crashed_now = f.ledger.get(&crashed).await.expect("get").expect("item");
    assert_eq!(crashed_now.status, Status::Failed);
    assert_eq!(crashed_now.lease_owner, None);
    assert_eq!(status_of(&f, &live).await, Status::Processing);
    let undelivered_now = f
        .ledger
        .get(&undelivered)
        .await
        .expect("get")
        .expect("item");
    assert_eq!(undelivered_now.status, Status::Queued);

    // The two queued payloads' pointers are on the work queue, in the extended-client format.
    let sent = drain(&f, f.queue()).await;
    let mut sent_ids: Vec<_> = sent
        .iter()
        .filter_map(|m| attribute(m, PAYLOAD_ID).map(str::to_owned))
        .collect();
    sent_ids.sort();
    let mut want = vec![lost_event.clone(), undelivered.clone()];
    want.sort();
    assert_eq!(sent_ids, want);
    assert!(
        sent.iter()
            .all(|m| attribute(m, "ExtendedPayloadSize").is_some())
    );

    // Idempotent: a second run finds nothing stalled.
    let again = run(&f, request(false)).await;
    assert_eq!(
        stats(&again),
        ReconcileStats {
            scanned: 2,
            stalled: 0,
            reconciled: 0,
            failed: 0
        }
    );
    assert_eq!(visible(&f, f.queue()).await, 0);
}

/// A multipart upload its client left unfinished past its window: reconcile aborts it in S3
/// (its parts stop costing storage) and marks the payload expired, saying why.
#[tokio::test]
async fn reconcile_aborts_an_abandoned_multipart_upload() {
    let f = fixture().await;
    let id = uuid::Uuid::new_v4().to_string();
    let object = PayloadPointer::new(f.bucket(), format!("uploads/{id}"));
    let upload_id = f
        .aws
        .s3
        .create_multipart_upload()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .expect("opened")
        .upload_id
        .expect("upload id");
    f.aws
        .s3
        .upload_part()
        .bucket(&object.bucket)
        .key(&object.key)
        .upload_id(&upload_id)
        .part_number(1)
        .body(b"a part".to_vec().into())
        .send()
        .await
        .expect("part");
    f.ledger
        .create_pending(&NewPayload {
            id: id.clone(),
            object: object.clone(),
            size: 0,
            content_type: "text/plain".into(),
            sha256: None,
            metadata: HashMap::new(),
            url_expires_at: f.ledger.now() - 60_000,
            owner: None,
            quota_key: None,
            multipart: Some(claimcheck::ledger::MultipartUpload {
                upload_id: upload_id.clone(),
                part_size: 5 << 20,
                part_count: None,
                completing_at: None,
            }),
        })
        .await
        .expect("create");
    let report = run(
        &f,
        Request {
            mode: Mode::Reconcile,
            ..Request::default()
        },
    )
    .await;
    let Report::Reconcile(report) = report else {
        panic!("not a reconcile report: {report:?}")
    };
    assert_eq!(report.stats.reconciled, 1, "{report:#?}");
    let record = f.ledger.get(&id).await.expect("get").expect("item");
    assert_eq!(record.status, Status::Expired);
    assert!(
        record
            .last_error
            .is_some_and(|e| e.contains("not completed in time"))
    );
    let open = f
        .aws
        .s3
        .list_multipart_uploads()
        .bucket(&object.bucket)
        .send()
        .await
        .expect("uploads");
    assert!(open.uploads().is_empty(), "aborted: {:?}", open.uploads());
}

/// The endpoint answers `StartMessageMoveTask` with HTTP 500 (not implemented), so the native
/// mode's SQS calls are mocked with the responses AWS documents; its ledger work is real.
#[tokio::test]
async fn native_marks_dead_payloads_and_starts_a_move_task() {
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::list_message_move_tasks::ListMessageMoveTasksOutput;
    use aws_sdk_sqs::operation::start_message_move_task::StartMessageMoveTaskOutput;
    use aws_sdk_sqs::types::{ListMessageMoveTasksResultEntry, QueueAttributeName};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let mut f = fixture().await;
    let far = f.ledger.now() + 3_600_000;
    let dead = [
        payload(&f, Status::Dead, true, far).await,
        payload(&f, Status::Dead, true, far).await,
    ];
    let done = payload(&f, Status::Done, true, far).await;
    let arn = "arn:aws:sqs:us-east-1:123456789012:work-dlq";
    let attributes = mock!(aws_sdk_sqs::Client::get_queue_attributes).then_output(move || {
        GetQueueAttributesOutput::builder()
            .attributes(QueueAttributeName::QueueArn, arn)
            .attributes(QueueAttributeName::ApproximateNumberOfMessages, "2")
            .build()
    });
    let start = mock!(aws_sdk_sqs::Client::start_message_move_task)
        .match_requests(move |r| r.source_arn() == Some(arn) && r.destination_arn().is_none())
        .then_output(|| {
            StartMessageMoveTaskOutput::builder()
                .task_handle("eyJ0YXNrSWQiOiJ0YXNrLTEifQ==")
                .build()
        });
    let list = mock!(aws_sdk_sqs::Client::list_message_move_tasks).then_output(|| {
        ListMessageMoveTasksOutput::builder()
            .results(
                ListMessageMoveTasksResultEntry::builder()
                    .status("RUNNING")
                    .approximate_number_of_messages_to_move(2)
                    .build(),
            )
            .build()
    });
    f.deps = f.deps.with_sqs(mock_client!(
        aws_sdk_sqs,
        RuleMode::MatchAny,
        [&attributes, &start, &list]
    ));

    let dry = run(
        &f,
        Request {
            mode: Mode::Native,
            dry_run: true,
            ..Request::default()
        },
    )
    .await;
    let Report::Native(dry) = dry else {
        unreachable!()
    };
    assert_eq!(dry.payloads_marked_redriven, 2);
    assert_eq!(dry.task_handle, None);
    assert_eq!(start.num_calls(), 0);
    assert_eq!(status_of(&f, &dead[0]).await, Status::Dead);

    let report = run(
        &f,
        Request {
            mode: Mode::Native,
            ..Request::default()
        },
    )
    .await;
    let Report::Native(report) = report else {
        unreachable!()
    };
    assert_eq!(report.source_arn, arn);
    assert_eq!(report.messages_in_dlq, Some(2));
    assert_eq!(report.payloads_marked_redriven, 2);
    assert_eq!(
        report.task_handle.as_deref(),
        Some("eyJ0YXNrSWQiOiJ0YXNrLTEifQ==")
    );
    assert_eq!(report.status.as_deref(), Some("RUNNING"));
    assert_eq!(start.num_calls(), 1);
    for id in &dead {
        assert_eq!(status_of(&f, id).await, Status::Redriven);
    }
    assert_eq!(status_of(&f, &done).await, Status::Done);

    // A task already running (AWS refuses a second one) is reported, not hidden, and the
    // ledger follows what SQS confirmed: a payload dead meanwhile stays `dead`.
    let still_dead = payload(&f, Status::Dead, true, far).await;
    let refused = mock!(aws_sdk_sqs::Client::start_message_move_task).then_http_response(|| {
        aws_sdk_sqs::config::http::HttpResponse::new(
            400.try_into().expect("status"),
            aws_sdk_s3::primitives::SdkBody::from(
                r#"{"__type":"com.amazonaws.sqs#UnsupportedOperation","message":"There is already a task running"}"#,
            ),
        )
    });
    f.deps = f.deps.with_sqs(mock_client!(
        aws_sdk_sqs,
        RuleMode::MatchAny,
        [&attributes, &refused]
    ));
    let failed = handle(
        &f.deps,
        &f.metrics,
        Request {
            mode: Mode::Native,
            ..Request::default()
        },
        in_a_minute(),
    )
    .await;
    let message = failed.expect_err("refused").to_string();
    assert!(message.contains("StartMessageMoveTask"), "{message}");
    assert_eq!(status_of(&f, &still_dead).await, Status::Dead);
}

/// Issue 15, case 4: DLQ messages that already carry SQS's maximum of 10 attributes (`hello`
/// with `a0`…`a9`; a pointer of ours with its size attribute, its payload id and 8 of the
/// application's) are redriven and parked like any other. No 11th attribute is ever added;
/// a payload's redrive count lives in the ledger, so the limit still holds.
#[tokio::test]
async fn messages_with_ten_attributes_are_redriven_and_parked_like_any_other() {
    let f = fixture().await; // max_redrives = 2
    let id = payload(&f, Status::Dead, true, 0).await;
    let pointer = PayloadPointer::new(f.bucket(), format!("uploads/{id}")).to_body();
    let mut ours: HashMap<String, MessageAttributeValue> = HashMap::from([
        ("ExtendedPayloadSize".to_owned(), string("44", "Number")),
        (PAYLOAD_ID.to_owned(), string(&id, "String")),
    ]);
    for i in 0..8 {
        ours.insert(format!("b{i}"), string("x", "String"));
    }
    let plain: HashMap<String, MessageAttributeValue> = (0..10)
        .map(|i| (format!("a{i}"), string("v", "String")))
        .collect();
    let to_dlq = |body: String, attributes: HashMap<String, MessageAttributeValue>| {
        f.aws
            .sqs
            .send_message()
            .queue_url(f.dlq())
            .message_body(body)
            .set_message_attributes(Some(attributes))
            .send()
    };
    to_dlq("hello".into(), plain.clone()).await.expect("plain");
    to_dlq(pointer.clone(), ours.clone()).await.expect("ours");

    for round in 1..=2u32 {
        let stats = redrive_stats(&run(&f, Request::default()).await);
        assert_eq!(
            (stats.redriven, stats.failed),
            (2, 0),
            "round {round}: {stats:?}"
        );
        let back = drain(&f, f.queue()).await;
        assert_eq!(back.len(), 2);
        for message in &back {
            let attributes = message.message_attributes.as_ref().expect("attributes");
            assert_eq!(attributes.len(), 10, "never an 11th attribute");
            assert!(!attributes.contains_key(REDRIVE_COUNT));
        }
        let record = f.ledger.get(&id).await.expect("get").expect("item");
        assert_eq!((record.status, record.redrives), (Status::Redriven, round));
        // Both fail again: the work queue's redrive policy moves them back, unchanged.
        let failed = Changes {
            last_error: Some(format!("processor: timeout {round}")),
            ..Changes::default()
        };
        f.ledger
            .transition(&id, &[Status::Redriven], Status::Dead, &failed)
            .await
            .expect("dead again");
        to_dlq("hello".into(), plain.clone()).await.expect("plain");
        to_dlq(pointer.clone(), ours.clone()).await.expect("ours");
    }

    // Redriven twice (the limit): ours stays parked, its count and reason in the ledger. The
    // plain message has neither room nor a ledger item for a count: it goes back (logged).
    let stats = redrive_stats(&run(&f, Request::default()).await);
    assert_eq!(
        (stats.redriven, stats.parked, stats.failed),
        (1, 1, 0),
        "{stats:?}"
    );
    let parked = drain(&f, f.dlq()).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(attribute(&parked[0], PAYLOAD_ID), Some(id.as_str()));
    assert_eq!(
        parked[0].message_attributes.as_ref().map(HashMap::len),
        Some(10)
    );
    // The reason names the limit, the way past it and the last cause; the first cause stays.
    let record = f.ledger.get(&id).await.expect("get").expect("item");
    assert_eq!(record.status, Status::Dead);
    let reason = record.last_error.as_deref().unwrap_or_default();
    for part in [
        "redriven 2 times",
        "--max-redrives",
        "last cause: processor: timeout 2",
    ] {
        assert!(reason.contains(part), "{part:?} in {reason:?}");
    }
    assert_eq!(record.first_error.as_deref(), Some("processor: timeout 1"));
}

/// A redrive whose send to the work queue fails never moved the message: the payload goes
/// back to `dead` with the cause, and the attempt does not count towards the redrive limit
/// (else a few failed runs would park a message that never left the DLQ).
#[tokio::test]
async fn a_failed_send_back_does_not_count_towards_the_limit() {
    let mut f = fixture().await; // max_redrives = 2
    let id = payload(&f, Status::Dead, true, 0).await;
    park(&f, &id, "processor: timeout", 0).await;
    let mut broken = f.settings.clone();
    // A work queue that does not exist (still named as the work queue, for the IAM test).
    broken.deployment.queue_url = f.queue().replace("-work", "-gone-work");
    broken.repair.visibility = Duration::from_secs(1);
    f.deps = broken
        .redriver(&f.aws.config_as("redriver"))
        .expect("redriver");
    for _ in 0..3 {
        let stats = redrive_stats(&run(&f, Request::default()).await);
        assert_eq!((stats.redriven, stats.failed), (0, 1), "{stats:?}");
        let record = f.ledger.get(&id).await.expect("get").expect("item");
        assert_eq!((record.status, record.redrives), (Status::Dead, 0));
        assert!(
            record
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("redrive failed")),
            "{record:?}"
        );
        // The message stays in the DLQ: visible again after the redrive's visibility timeout.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
    // Once the queue is right again, the first real redrive goes through.
    f.deps = f
        .settings
        .redriver(&f.aws.config_as("redriver"))
        .expect("redriver");
    let stats = redrive_stats(&run(&f, Request::default()).await);
    assert_eq!(stats.redriven, 1, "{stats:?}");
    let record = f.ledger.get(&id).await.expect("get").expect("item");
    assert_eq!((record.status, record.redrives), (Status::Redriven, 1));
}
