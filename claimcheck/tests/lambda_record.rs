//! Resolving the records of a Lambda SQS event (the JSON Lambda hands the function), with the
//! payload stored in the local endpoint.

use aws_lambda_events::sqs::SqsEvent;
use claimcheck::extended_client::{MessageBody, OutgoingMessage, ResolveError};
use claimcheck::{ExtendedClientConfig, MessageAttribute};
use serde_json::json;

fn record(id: &str, body: &str, attributes: serde_json::Value) -> serde_json::Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("AQEB{id}=="),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1764000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764000000001"
        },
        "messageAttributes": attributes,
        "md5OfBody": "00000000000000000000000000000000",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
        "awsRegion": "us-east-1"
    })
}

#[tokio::test]
async fn records_resolve_like_received_messages() {
    let aws = testkit::endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    let payload = "L".repeat(300_000);
    let sent = client
        .send(
            &queue,
            OutgoingMessage::new(payload.clone())
                .attribute("kind", MessageAttribute::string("doc")),
        )
        .await
        .expect("send");
    let pointer = sent.pointer.expect("offloaded");
    let size_attr = |name: &str, value: &str| {
        json!({ name: { "stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "Number" },
                "kind": { "stringValue": "doc", "stringListValues": [], "binaryListValues": [], "dataType": "String" } })
    };
    let event = json!({ "Records": [
        record("offloaded", &pointer.to_body(), size_attr("SQSLargePayloadSize", "300000")),
        record("inline", "just text", json!({})),
        record("malformed", "[\"software.amazon.payloadoffloading.PayloadS3Pointer\"]", size_attr("ExtendedPayloadSize", "1")),
    ]});
    let event: SqsEvent = serde_json::from_value(event).expect("an SQS event as Lambda sends it");

    let offloaded = client
        .resolve_lambda_record(&event.records[0])
        .await
        .expect("resolves");
    assert_eq!(offloaded.receive_count(), Some(2));
    assert_eq!(offloaded.attributes.keys().collect::<Vec<_>>(), ["kind"]);
    assert!(
        offloaded
            .receipt_handle
            .ends_with("-..s3Key..-AQEBoffloaded==")
    );
    assert!(matches!(
        offloaded.body,
        MessageBody::Offloaded {
            declared_size: 300_000,
            ..
        }
    ));
    assert_eq!(
        offloaded.body.into_string(1 << 20).await.expect("payload"),
        payload
    );

    let inline = client
        .resolve_lambda_record(&event.records[1])
        .await
        .expect("inline");
    assert_eq!(
        inline.body.into_string(100).await.expect("body"),
        "just text"
    );

    let malformed = client
        .resolve_lambda_record(&event.records[2])
        .await
        .expect_err("malformed");
    assert!(matches!(malformed.error, ResolveError::MalformedPointer(_)));
    assert_eq!(malformed.message_id, "malformed");
    assert_eq!(malformed.receipt_handle, "AQEBmalformed==");
    assert!(
        malformed.raw_attributes.contains_key("ExtendedPayloadSize"),
        "kept whole for parking"
    );
}
