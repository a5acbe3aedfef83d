//! Interop with AWS's official Python extended client, both ways, over the local endpoint.
//! The Python side runs `tests/interop/python_client.py` from the project venv
//! (`CLAIMCHECK_PYTHON`, set by tests/with-endpoint.sh).

use claimcheck::extended_client::{CleanupPolicy, MessageBody, OutgoingMessage, PayloadCleanup};
use claimcheck::size_attribute::SizeAttributeName;
use claimcheck::{ExtendedClientConfig, MessageAttribute};
use serde_json::Value;
use testkit::{endpoint, receive_all, sha256_hex};

/// A large body with multi-byte characters, so byte and character counts differ.
fn large_body() -> String {
    let mut body = "claim-check ✓ ".repeat(25_000);
    body.push_str("é end");
    body
}

fn write_body(body: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, body.as_bytes()).expect("write body file");
    file
}

fn path(file: &tempfile::NamedTempFile) -> &str {
    file.path().to_str().expect("utf-8 temp path")
}

async fn python_sends_rust_receives(legacy: bool) {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let large = large_body();
    assert!(large.len() > 262_144 && large.chars().count() < large.len());
    let mut args = vec!["send", "--queue", &queue, "--bucket", &bucket];
    if legacy {
        args.push("--legacy");
    }
    let large_file = write_body(&large);
    let small_file = write_body("small ✓");
    testkit::python_client(
        &[
            &args[..],
            &["--body-file", path(&large_file), "--attr", "trace=abc"],
        ]
        .concat(),
    );
    testkit::python_client(&[&args[..], &["--body-file", path(&small_file)]].concat());

    // The raw message carries the size attribute of the mode Python was in.
    let raw = aws.peek(&queue).await;
    let expected_attr = if legacy {
        "SQSLargePayloadSize"
    } else {
        "ExtendedPayloadSize"
    };
    assert!(raw.iter().any(|m| {
        m.message_attributes()
            .is_some_and(|a| a.contains_key(expected_attr))
    }));

    // Cleanup as the official clients do it: the object goes with the message.
    let mut config = ExtendedClientConfig::new(&bucket);
    config.payload_cleanup = CleanupPolicy::Immediate;
    let client = aws.client(config);
    let mut bodies = Vec::new();
    for message in receive_all(&client, &queue).await {
        let message = message.unwrap_or_else(|u| panic!("unresolved: {}", u.error));
        let offloaded = matches!(message.body, MessageBody::Offloaded { .. });
        if offloaded {
            assert_eq!(
                message.attributes.get("trace"),
                Some(&MessageAttribute::string("abc"))
            );
            assert_eq!(message.attributes.len(), 1, "reserved attribute stripped");
        }
        let handle = message.receipt_handle.clone();
        bodies.push((
            offloaded,
            message.body.into_string(1 << 20).await.expect("body"),
        ));
        let cleanup = client.delete(&queue, &handle).await.expect("delete");
        assert_eq!(matches!(cleanup, PayloadCleanup::Deleted(_)), offloaded);
    }
    bodies.sort_by_key(|(_, b)| b.len());
    assert_eq!(bodies, vec![(false, "small ✓".to_owned()), (true, large)]);
    assert!(
        aws.keys(&bucket).await.is_empty(),
        "Rust's delete removed Python's payload"
    );
}

#[tokio::test]
async fn python_default_producer_to_rust_consumer() {
    python_sends_rust_receives(false).await;
}

#[tokio::test]
async fn python_legacy_producer_to_rust_consumer() {
    python_sends_rust_receives(true).await;
}

async fn rust_sends_python_receives(size_attribute: SizeAttributeName) {
    let aws = endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let mut config = ExtendedClientConfig::new(&bucket);
    config.size_attribute = size_attribute;
    let client = aws.client(config);
    let large = large_body();
    let sent = client
        .send(
            &queue,
            OutgoingMessage::new(large.clone()).attribute("trace", MessageAttribute::string("abc")),
        )
        .await
        .expect("send large");
    assert!(sent.pointer.is_some());
    client
        .send(&queue, OutgoingMessage::new("small ✓"))
        .await
        .expect("send small");

    let mut args = vec![
        "receive",
        "--queue",
        &queue,
        "--bucket",
        &bucket,
        "--delete",
        "--delete-payload",
    ];
    if size_attribute == SizeAttributeName::Legacy {
        args.push("--legacy");
    }
    let received = testkit::python_client(&args);
    let mut got: Vec<(u64, String, bool, Value)> = received
        .as_array()
        .expect("list")
        .iter()
        .map(|m| {
            (
                m["body_len"].as_u64().expect("len"),
                m["body_sha256"].as_str().expect("sha").to_owned(),
                m["extended_handle"].as_bool().expect("bool"),
                m["attributes"].clone(),
            )
        })
        .collect();
    got.sort_by_key(|g| g.0);
    assert_eq!(got.len(), 2, "{received}");
    assert_eq!(
        (got[0].0, &got[0].1, got[0].2),
        (
            "small ✓".len() as u64,
            &sha256_hex("small ✓".as_bytes()),
            false
        )
    );
    assert_eq!(
        (got[1].0, &got[1].1, got[1].2),
        (large.len() as u64, &sha256_hex(large.as_bytes()), true)
    );
    assert_eq!(
        got[1].3,
        serde_json::json!({"trace": "abc"}),
        "Python strips the reserved attribute"
    );
    assert!(
        aws.keys(&bucket).await.is_empty(),
        "Python's delete removed Rust's payload"
    );
    assert_eq!(aws.approximate_count(&queue).await, 0);
}

#[tokio::test]
async fn rust_producer_to_python_default_consumer() {
    rust_sends_python_receives(SizeAttributeName::Current).await;
}

#[tokio::test]
async fn rust_legacy_producer_to_python_legacy_consumer() {
    rust_sends_python_receives(SizeAttributeName::Legacy).await;
}
