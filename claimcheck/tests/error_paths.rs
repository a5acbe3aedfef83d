//! Error paths the local endpoint cannot produce (it never answers 403, throttles or fails
//! with 5xx on demand), driven with `aws-smithy-mocks` and the responses AWS documents.
//! Everything else is tested against the endpoint itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::SdkBody;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
use aws_sdk_sqs::types::{DeleteMessageBatchResultEntry, Message, MessageAttributeValue};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use claimcheck::extended_client::{OutgoingMessage, PayloadCleanup, ReceiveOptions, ResolveError};
use claimcheck::{
    ClientError, ExtendedClient, ExtendedClientConfig, PayloadPointer, PayloadStore, StoreError,
};

fn status(code: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(code.try_into().expect("status"), SdkBody::from(body))
}

fn client(
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    config: ExtendedClientConfig,
) -> ExtendedClient {
    ExtendedClient::new(sqs, PayloadStore::new(s3), config).expect("client")
}

fn pointer_message(bucket: &str, key: &str) -> Message {
    Message::builder()
        .message_id("m1")
        .receipt_handle("AQEB-handle")
        .body(PayloadPointer::new(bucket, key).to_body())
        .message_attributes(
            "ExtendedPayloadSize",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("10")
                .build()
                .expect("attribute"),
        )
        .build()
}

#[tokio::test]
async fn access_denied_is_its_own_error_and_never_skipped_as_not_found() {
    let get = mock!(aws_sdk_s3::Client::get_object).then_http_response(|| {
        status(
            403,
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        )
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get]);
    let receive = mock!(aws_sdk_sqs::Client::receive_message).then_output(|| {
        ReceiveMessageOutput::builder()
            .messages(pointer_message("payloads", "k"))
            .build()
    });
    let delete =
        mock!(aws_sdk_sqs::Client::delete_message).then_http_response(|| status(200, "{}"));
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&receive, &delete]);
    let mut config = ExtendedClientConfig::new("payloads");
    config.ignore_payload_not_found = true;
    let client = client(s3, sqs, config);
    let mut received = client
        .receive("q", &ReceiveOptions::default())
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
    let unresolved = received.remove(0).expect_err("denied");
    assert!(
        matches!(
            &unresolved.error,
            ResolveError::Store(StoreError::AccessDenied {
                operation: "GetObject",
                ..
            })
        ),
        "{}",
        unresolved.error
    );
    assert!(!unresolved.error.is_transient());
    assert_eq!(
        delete.num_calls(),
        0,
        "AccessDenied must not delete the message"
    );
}

#[tokio::test]
async fn server_errors_are_retried_by_the_sdk_and_then_reported_as_transient() {
    let get = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_response(|| status(503, "<Error><Code>SlowDown</Code></Error>"))
        .repeatedly()
        .build();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get], |c| c.retry_config(
        aws_sdk_s3::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(std::time::Duration::from_millis(1))
    ));
    let store = PayloadStore::new(s3);
    let err = store
        .get(&PayloadPointer::new("b", "k"))
        .await
        .expect_err("503");
    assert!(err.is_transient(), "{err}");
    assert!(!err.is_not_found());
    assert_eq!(get.num_calls(), 3, "the SDK retried");
}

#[tokio::test]
async fn throttled_send_deletes_the_upload_and_reports_once() {
    let put =
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let delete = mock!(aws_sdk_s3::Client::delete_object)
        .then_output(|| DeleteObjectOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put, &delete]);
    let send = mock!(aws_sdk_sqs::Client::send_message)
        .sequence()
        .http_response(|| {
            status(
                400,
                r#"{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}"#,
            )
        })
        .repeatedly()
        .build();
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&send], |c| c
        .retry_config(
            aws_sdk_sqs::config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(std::time::Duration::from_millis(1))
        ));
    let failures = Arc::new(AtomicUsize::new(0));
    let seen = failures.clone();
    let client = client(s3, sqs, ExtendedClientConfig::new("payloads")).with_failure_hook(
        Arc::new(move |f| {
            assert_eq!(f.operation, "SendMessage");
            seen.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let err = client
        .send("q", OutgoingMessage::new("x".repeat(300_000)))
        .await
        .expect_err("throttled");
    assert!(err.is_transient(), "{err}");
    assert!(matches!(
        err,
        ClientError::Sqs {
            operation: "SendMessage",
            ..
        }
    ));
    assert_eq!(send.num_calls(), 2, "throttling was retried");
    assert_eq!(
        failures.load(Ordering::SeqCst),
        1,
        "the hook runs once, after the retries"
    );
    assert_eq!(
        (put.num_calls(), delete.num_calls()),
        (1, 1),
        "the uploaded payload was deleted"
    );
}

#[tokio::test]
async fn an_object_that_cannot_be_deleted_after_the_message_is_an_orphan_not_an_error() {
    let delete = mock!(aws_sdk_s3::Client::delete_object)
        .then_http_response(|| status(403, "<Error><Code>AccessDenied</Code></Error>"));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&delete]);
    let batch = mock!(aws_sdk_sqs::Client::delete_message_batch).then_output(|| {
        DeleteMessageBatchOutput::builder()
            .successful(
                DeleteMessageBatchResultEntry::builder()
                    .id("a")
                    .build()
                    .expect("entry"),
            )
            .set_failed(Some(vec![]))
            .build()
            .expect("output")
    });
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&batch]);
    let client = client(s3, sqs, ExtendedClientConfig::new("payloads"));
    let handle = claimcheck::receipt_handle::embed(&PayloadPointer::new("payloads", "k"), "AQEB");
    let deleted = client
        .delete_batch("q", &[("a".into(), handle)])
        .await
        .expect("batch delete");
    assert!(matches!(
        &deleted.successful[..],
        [(id, PayloadCleanup::Orphaned(p, StoreError::AccessDenied { .. }))] if id == "a" && p.key == "k"
    ));
}
