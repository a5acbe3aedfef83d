//! The extended SQS client against the local AWS endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use claimcheck::extended_client::CleanupPolicy;
use claimcheck::extended_client::{
    BatchEntry, MessageBody, OutgoingMessage, PayloadCleanup, ReceivedMessage, ResolveError,
    SendOptions, UnresolvedMessage,
};
use claimcheck::object_key::KeyPrefix;
use claimcheck::payload_store::{EXPIRED_TAG_KEY, EXPIRED_TAG_VALUE};
use claimcheck::pointer::PayloadPointer;
use claimcheck::size_attribute::SizeAttributeName;
use claimcheck::{ClientError, ExtendedClientConfig, MessageAttribute, StoreError};
use testkit::{endpoint, pseudo_random, receive_all, sha256_hex};
use tokio::io::AsyncReadExt;

const MIB: usize = 1024 * 1024;

fn ok(message: Result<ReceivedMessage, UnresolvedMessage>) -> ReceivedMessage {
    message.unwrap_or_else(|u| panic!("unresolved: {}", u.error))
}

#[tokio::test]
async fn small_message_stays_inline() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    let sent = client
        .send(
            &queue,
            OutgoingMessage::new("hello").attribute("trace", MessageAttribute::string("abc")),
        )
        .await
        .expect("send");
    assert_eq!(sent.pointer, None);
    assert!(aws.keys(&bucket).await.is_empty());
    let mut received = receive_all(&client, &queue).await;
    assert_eq!(received.len(), 1);
    let message = ok(received.remove(0));
    assert_eq!(
        message.attributes.get("trace"),
        Some(&MessageAttribute::string("abc"))
    );
    assert_eq!(message.receive_count(), Some(1));
    let handle = message.receipt_handle.clone();
    assert_eq!(message.body.into_string(1024).await.expect("body"), "hello");
    assert!(matches!(
        client.delete(&queue, &handle).await,
        Ok(PayloadCleanup::NotOffloaded)
    ));
    assert_eq!(aws.approximate_count(&queue).await, 0);
}

#[tokio::test]
async fn large_message_is_offloaded_in_the_wire_format_and_cleaned_up_on_delete() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let mut config = ExtendedClientConfig::new(&bucket);
    config.key_prefix = KeyPrefix::new("queue-a/").expect("prefix");
    let client = aws.client(config);
    let body = "a".repeat(262_145);
    let sent = client
        .send(&queue, OutgoingMessage::new(body.clone()))
        .await
        .expect("send");
    let pointer = sent.pointer.clone().expect("offloaded");
    assert!(pointer.key.starts_with("queue-a/"));
    assert_eq!(aws.keys(&bucket).await, vec![pointer.key.clone()]);

    // On the queue: exactly what the official clients write.
    let raw = aws.peek(&queue).await;
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].body(), Some(pointer.to_body().as_str()));
    let attrs = raw[0].message_attributes().expect("attributes");
    let size = &attrs["ExtendedPayloadSize"];
    assert_eq!(
        (size.data_type(), size.string_value()),
        ("Number", Some("262145"))
    );
    assert_eq!(attrs.len(), 1);

    // Received: resolved to a stream, handle embeds the pointer, reserved name stripped.
    let mut received = receive_all(&client, &queue).await;
    let message = ok(received.remove(0));
    assert!(message.attributes.is_empty());
    assert!(
        message
            .receipt_handle
            .starts_with(&format!("-..s3BucketName..-{bucket}-..s3BucketName..-"))
    );
    let handle = message.receipt_handle.clone();
    let MessageBody::Offloaded {
        declared_size,
        payload,
        ..
    } = message.body
    else {
        panic!("not offloaded")
    };
    assert_eq!(declared_size, 262_145);
    let mut text = String::new();
    payload
        .into_async_read()
        .read_to_string(&mut text)
        .await
        .expect("stream");
    assert_eq!(text, body);

    // By default the object is not deleted with the message but marked for the bucket's
    // lifecycle rule: a copy of the pointer SQS may still hold must find it.
    let cleanup = client.delete(&queue, &handle).await.expect("delete");
    assert!(matches!(cleanup, PayloadCleanup::Deferred(p) if p == pointer));
    assert_eq!(aws.keys(&bucket).await, vec![pointer.key.clone()]);
    assert_eq!(
        aws.tags(&pointer.bucket, &pointer.key).await,
        vec![(EXPIRED_TAG_KEY.to_owned(), EXPIRED_TAG_VALUE.to_owned())]
    );
    assert_eq!(aws.approximate_count(&queue).await, 0);
}

#[tokio::test]
async fn legacy_size_attribute_is_a_setting_and_cleanup_can_be_off() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let mut config = ExtendedClientConfig::new(&bucket);
    config.size_attribute = SizeAttributeName::Legacy;
    config.payload_cleanup = CleanupPolicy::Keep;
    config.offload = config.offload.always_through_s3(true);
    let client = aws.client(config);
    client
        .send(&queue, OutgoingMessage::new("tiny"))
        .await
        .expect("send");
    let raw = aws.peek(&queue).await;
    let attrs = raw[0].message_attributes().expect("attributes");
    assert_eq!(attrs["SQSLargePayloadSize"].string_value(), Some("4"));
    assert!(!attrs.contains_key("ExtendedPayloadSize"));
    let message = ok(receive_all(&client, &queue).await.remove(0));
    let handle = message.receipt_handle.clone();
    assert_eq!(message.body.into_string(100).await.expect("body"), "tiny");
    assert!(matches!(
        client.delete(&queue, &handle).await,
        Ok(PayloadCleanup::Kept(_))
    ));
    assert_eq!(aws.keys(&bucket).await.len(), 1);
}

#[tokio::test]
async fn send_rules_are_typed_errors_and_upload_nothing() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    let empty = client.send(&queue, OutgoingMessage::new("")).await;
    assert!(matches!(empty, Err(ClientError::Rule(_))), "{empty:?}");
    let reserved = client
        .send(
            &queue,
            OutgoingMessage::new("x".repeat(300_000))
                .attribute("SQSLargePayloadSize", MessageAttribute::number(1)),
        )
        .await;
    assert!(
        matches!(reserved, Err(ClientError::Rule(_))),
        "{reserved:?}"
    );
    let mut ten = OutgoingMessage::new("x".repeat(300_000));
    for i in 0..10 {
        ten = ten.attribute(format!("a{i}"), MessageAttribute::string("v"));
    }
    assert!(matches!(
        client.send(&queue, ten).await,
        Err(ClientError::Rule(_))
    ));
    assert!(aws.keys(&bucket).await.is_empty());
    assert_eq!(aws.approximate_count(&queue).await, 0);
}

#[tokio::test]
async fn failed_send_deletes_the_uploaded_payload_and_calls_the_hook_once() {
    let aws = endpoint().await;
    let bucket = aws.bucket().await;
    let failures = Arc::new(AtomicUsize::new(0));
    let seen = failures.clone();
    let client = aws
        .client(ExtendedClientConfig::new(&bucket))
        .with_failure_hook(Arc::new(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        }));
    let missing_queue = format!(
        "{}/123456789012/no-such-queue",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default()
    );
    let err = client
        .send(&missing_queue, OutgoingMessage::new("x".repeat(300_000)))
        .await
        .expect_err("queue does not exist");
    assert!(
        matches!(
            err,
            ClientError::Sqs {
                operation: "SendMessage",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(failures.load(Ordering::SeqCst), 1);
    assert!(
        aws.keys(&bucket).await.is_empty(),
        "the orphan payload was not deleted"
    );
}

#[tokio::test]
async fn batch_offloads_largest_entries_until_the_batch_fits() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    // Every entry is under the 256 KiB threshold, but together they are ~1 MiB: the official
    // clients send this batch as is and SQS refuses it.
    let entries: Vec<BatchEntry> = (0..10)
        .map(|i| BatchEntry {
            id: format!("e{i}"),
            message: OutgoingMessage::new(format!("{i}").repeat(100_000 + i * 1000)),
        })
        .collect();
    let sent = client
        .send_batch(&queue, entries.clone())
        .await
        .expect("batch");
    assert_eq!(sent.successful.len(), 10, "{:?}", sent.failed);
    let offloaded: Vec<&str> = sent
        .successful
        .iter()
        .filter(|(_, s)| s.pointer.is_some())
        .map(|(id, _)| id.as_str())
        .collect();
    // The largest go first: e9, e8, ... until the rest fit in 262144 bytes (two stay inline).
    assert_eq!(offloaded, ["e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"]);
    assert_eq!(aws.keys(&bucket).await.len(), 8);

    let mut bodies: Vec<String> = Vec::new();
    for message in receive_all(&client, &queue).await {
        bodies.push(ok(message).body.into_string(MIB).await.expect("body"));
    }
    bodies.sort_by_key(|b| b.len());
    let expected: Vec<String> = entries.into_iter().map(|e| e.message.body).collect();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn batch_limits_are_typed_errors() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    let entry = |id: &str| BatchEntry {
        id: id.into(),
        message: OutgoingMessage::new("x"),
    };
    let eleven: Vec<_> = (0..11).map(|i| entry(&i.to_string())).collect();
    assert!(matches!(
        client.send_batch(&queue, eleven).await,
        Err(ClientError::BatchSize(11))
    ));
    assert!(matches!(
        client.send_batch(&queue, vec![]).await,
        Err(ClientError::BatchSize(0))
    ));
    let dup = vec![entry("a"), entry("a")];
    assert!(matches!(
        client.send_batch(&queue, dup).await,
        Err(ClientError::DuplicateEntryId(_))
    ));
    assert_eq!(aws.approximate_count(&queue).await, 0);
}

#[tokio::test]
async fn streamed_payload_is_offloaded_without_buffering() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    let data = pseudo_random(12 * MIB, 9);
    let attrs = [("kind".to_owned(), MessageAttribute::string("blob"))].into();
    let sent = client
        .send_stream(&queue, &data[..], attrs, SendOptions::default())
        .await
        .expect("send stream");
    assert!(sent.pointer.is_some());
    let message = ok(receive_all(&client, &queue).await.remove(0));
    assert_eq!(
        message.attributes.get("kind"),
        Some(&MessageAttribute::string("blob"))
    );
    let MessageBody::Offloaded {
        payload,
        declared_size,
        ..
    } = message.body
    else {
        panic!("not offloaded")
    };
    assert_eq!(declared_size, data.len() as u64);
    let mut back = Vec::new();
    payload
        .into_async_read()
        .read_to_end(&mut back)
        .await
        .expect("stream");
    assert_eq!(sha256_hex(&back), sha256_hex(&data));
}

/// One receive holds a good message, a malformed pointer, a pointer into an untrusted bucket,
/// a missing object and a size mismatch: each is resolved or reported on its own.
#[tokio::test]
async fn each_message_is_resolved_on_its_own() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    client
        .send(&queue, OutgoingMessage::new("y".repeat(300_000)))
        .await
        .expect("good");
    let gone = client
        .send(&queue, OutgoingMessage::new("z".repeat(300_000)))
        .await
        .expect("gone");
    client
        .store()
        .delete(gone.pointer.as_ref().expect("pointer"))
        .await
        .expect("delete object");
    let raw = |body: String, size: &str| {
        aws.sqs
            .send_message()
            .queue_url(&queue)
            .message_body(body)
            .message_attributes(
                "SQSLargePayloadSize",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(size)
                    .build()
                    .expect("attr"),
            )
            .send()
    };
    raw("not a pointer".into(), "5").await.expect("malformed");
    raw(
        PayloadPointer::new("someone-elses-bucket", "k").to_body(),
        "5",
    )
    .await
    .expect("foreign");
    let small = client
        .send(&queue, OutgoingMessage::new("w".repeat(300_000)))
        .await
        .expect("mismatch");
    raw(small.pointer.expect("pointer").to_body(), "12")
        .await
        .expect("mismatch");

    let mut errors = Vec::new();
    let mut good = 0;
    for message in receive_all(&client, &queue).await {
        match message {
            Ok(m) if m.body.pointer().is_some() => good += 1,
            Ok(m) => panic!("unexpected inline message {:?}", m.message_id),
            Err(u) => {
                assert!(!u.error.is_transient());
                errors.push(match u.error {
                    ResolveError::MalformedPointer(_) => "malformed",
                    ResolveError::UntrustedBucket(_) => "untrusted",
                    ResolveError::Store(StoreError::NotFound(_)) => "not found",
                    ResolveError::SizeMismatch {
                        declared: 12,
                        stored: 300_000,
                        ..
                    } => "size mismatch",
                    other => panic!("unexpected error {other}"),
                });
            }
        }
    }
    errors.sort();
    assert_eq!(
        good, 2,
        "the good message and the real copy of the mismatched one"
    );
    assert_eq!(
        errors,
        ["malformed", "not found", "size mismatch", "untrusted"]
    );
}

#[tokio::test]
async fn ignore_payload_not_found_deletes_and_skips() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let mut config = ExtendedClientConfig::new(&bucket);
    config.ignore_payload_not_found = true;
    let client = aws.client(config);
    let sent = client
        .send(&queue, OutgoingMessage::new("q".repeat(300_000)))
        .await
        .expect("send");
    client
        .send(&queue, OutgoingMessage::new("kept"))
        .await
        .expect("send");
    client
        .store()
        .delete(sent.pointer.as_ref().expect("pointer"))
        .await
        .expect("delete");
    let received = receive_all(&client, &queue).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        ok(received.into_iter().next().expect("one"))
            .body
            .into_string(10)
            .await
            .expect("b"),
        "kept"
    );
    // The skipped message was deleted, not left to loop.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        aws.approximate_count(&queue).await,
        1,
        "only the kept message, still in flight"
    );
}

#[tokio::test]
async fn batch_delete_cleans_up_only_what_sqs_deleted_and_visibility_uses_the_original_handle() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    // Java's and Python's behaviour: the object goes with the message.
    let mut config = ExtendedClientConfig::new(&bucket);
    config.payload_cleanup = CleanupPolicy::Immediate;
    let client = aws.client(config);
    for c in ["a", "b"] {
        client
            .send(&queue, OutgoingMessage::new(c.repeat(300_000)))
            .await
            .expect("send");
    }
    let received: Vec<ReceivedMessage> = receive_all(&client, &queue)
        .await
        .into_iter()
        .map(ok)
        .collect();
    assert_eq!(received.len(), 2);
    let first = &received[0];
    let second = &received[1];
    let second_pointer = second.body.pointer().cloned().expect("pointer");

    client
        .change_visibility(&queue, &first.receipt_handle, 0)
        .await
        .expect("visibility");
    let changed = client
        .change_visibility_batch(&queue, &[("x".into(), second.receipt_handle.clone())], 600)
        .await
        .expect("batch visibility");
    assert_eq!(changed.successful, ["x"]);

    // The first message's handle is made stale by receiving it again.
    let again: Vec<ReceivedMessage> = receive_all(&client, &queue)
        .await
        .into_iter()
        .map(ok)
        .collect();
    assert_eq!(again.len(), 1);
    // An extended handle whose SQS part is not a real handle is refused for that entry only.
    let tampered = format!(
        "-..s3BucketName..-{}-..s3BucketName..--..s3Key..-{}-..s3Key..-{}",
        bucket,
        first.body.pointer().expect("pointer").key,
        "not-a-real-handle"
    );
    let deleted = client
        .delete_batch(
            &queue,
            &[
                ("ok".into(), second.receipt_handle.clone()),
                ("bad".into(), tampered),
            ],
        )
        .await
        .expect("batch delete");
    assert_eq!(
        deleted
            .failed
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>(),
        ["bad"]
    );
    assert!(
        matches!(&deleted.successful[..], [(id, PayloadCleanup::Deleted(p))] if id == "ok" && *p == second_pointer)
    );
    let keys = aws.keys(&bucket).await;
    assert_eq!(
        keys,
        vec![first.body.pointer().expect("pointer").key.clone()],
        "only the deleted entry's payload is gone"
    );
}

#[tokio::test]
async fn fifo_offloaded_messages_get_a_content_deduplication_id() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.fifo_queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    let fifo = |body: &str| OutgoingMessage {
        body: body.into(),
        attributes: Default::default(),
        options: SendOptions::default().with_group_id("g"),
    };
    let body = "f".repeat(300_000);
    client.send(&queue, fifo(&body)).await.expect("first");
    client.send(&queue, fifo(&body)).await.expect("duplicate");
    let received = receive_all(&client, &queue).await;
    assert_eq!(
        received.len(),
        1,
        "the duplicate was deduplicated on the original body"
    );
}

/// A client from the builder: its settings reach every offloaded payload (key prefix, object
/// tags, SSE-KMS), and it reads back what it wrote; settings S3 or SQS cannot take are refused
/// at `build`.
#[tokio::test]
async fn builder_settings_reach_every_offloaded_payload() {
    use claimcheck::ExtendedClient;
    use claimcheck::extended_client::BuildError;
    use claimcheck::payload_store::PutOptions;

    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let mut put = PutOptions::default();
    put.tags.insert("source".into(), "claimcheck".into());
    put.sse_kms_key_id = Some("alias/payloads".into());
    let client = ExtendedClient::builder(&aws.config)
        .bucket(&bucket)
        .key_prefix("offloaded/")
        .threshold(1024)
        .wait_time_seconds(0)
        .put_options(put)
        .build()
        .expect("client");
    let sent = client
        .send(&queue, OutgoingMessage::new("b".repeat(2048)))
        .await
        .expect("send");
    let pointer = sent.pointer.expect("offloaded above the 1 KiB threshold");
    assert!(pointer.key.starts_with("offloaded/"), "{}", pointer.key);
    let tags = aws
        .s3
        .get_object_tagging()
        .bucket(&bucket)
        .key(&pointer.key)
        .send()
        .await
        .expect("tagging");
    assert_eq!(tags.tag_set().len(), 1);
    assert_eq!(tags.tag_set()[0].value(), "claimcheck");
    let head = aws
        .s3
        .head_object()
        .bucket(&bucket)
        .key(&pointer.key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.ssekms_key_id(), Some("alias/payloads"));
    assert_eq!(head.content_type(), Some("text/plain; charset=UTF-8"));
    let received = ok(receive_all(&client, &queue).await.remove(0));
    assert_eq!(
        received.body.into_string(4096).await.expect("body"),
        "b".repeat(2048)
    );

    let no_bucket = ExtendedClient::builder(&aws.config).build();
    assert!(matches!(no_bucket, Err(BuildError::NoBucket)));
    let too_large = ExtendedClient::builder(&aws.config)
        .bucket(&bucket)
        .threshold(2 * MIB)
        .build();
    assert!(matches!(too_large, Err(BuildError::Threshold(_))));
    let bad_prefix = ExtendedClient::builder(&aws.config)
        .bucket(&bucket)
        .key_prefix("../x")
        .build();
    assert!(matches!(bad_prefix, Err(BuildError::KeyPrefix(_))));
}

/// A pointer into a trusted bucket that does not exist is a configuration fault, not a payload
/// that is gone: even with `ignore_payload_not_found` the message is reported and kept, never
/// deleted and skipped.
#[tokio::test]
async fn a_missing_bucket_is_never_skipped_as_a_missing_payload() {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let missing = format!("{bucket}-deleted");
    let mut config = ExtendedClientConfig::new(&bucket);
    config.ignore_payload_not_found = true;
    config.trusted_buckets.insert(missing.clone());
    let client = aws.client(config);
    let pointer = PayloadPointer::new(&missing, "offloaded/x");
    aws.sqs
        .send_message()
        .queue_url(&queue)
        .message_body(pointer.to_body())
        .message_attributes(
            "ExtendedPayloadSize",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("5")
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("send");
    let received = receive_all(&client, &queue).await;
    assert_eq!(received.len(), 1);
    match &received[0] {
        Err(unresolved) => assert!(
            matches!(
                &unresolved.error,
                ResolveError::Store(StoreError::NoSuchBucket(p)) if p.bucket == missing
            ),
            "{}",
            unresolved.error
        ),
        Ok(_) => panic!("resolved a pointer into a missing bucket"),
    }
    assert_eq!(aws.approximate_count(&queue).await, 1, "kept, not deleted");
}
