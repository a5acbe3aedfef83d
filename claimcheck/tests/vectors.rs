//! The captured wire vectors of the official clients (claimcheck/tests/vectors, copied from the
//! team's capture run: Python 1.0.1 over the local endpoint, Jackson as Java 2.1.2 uses it).

use claimcheck::extended_client::{MessageBody, ResolveError};
use claimcheck::offload::{Decision, OffloadPolicy};
use claimcheck::pointer::{PayloadPointer, PointerError};
use claimcheck::size_attribute::is_reserved;
use claimcheck::{ExtendedClientConfig, MessageAttribute, MessageAttributes};
use serde_json::Value;

fn vector(name: &str) -> Value {
    // Read at run time: cargo sets it for every test process. The compile-time `env!` value
    // goes stale when one target directory serves several checkouts (CI's clean clones), since
    // cargo reuses the test binary built in another checkout whose sources were identical.
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let path = format!("{root}/tests/vectors/{name}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("vector is JSON")
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

#[test]
fn pointers_serialize_exactly_as_jackson_does() {
    let g = vector("g_java_jackson_pointer");
    let cases = g["serialize"].as_array().expect("serialize cases");
    assert_eq!(cases.len(), 4);
    for case in cases {
        let pointer = PayloadPointer::new(str_of(case, "bucket"), str_of(case, "key"));
        assert_eq!(pointer.to_body(), str_of(case, "json"), "{case}");
    }
}

/// Where we differ from Jackson, on purpose: the legacy class name is accepted (the spec asks
/// readers to), and a pointer without a key is an error instead of a null key.
#[test]
fn pointers_parse_like_jackson_except_where_the_spec_is_stricter() {
    let g = vector("g_java_jackson_pointer");
    for case in g["deserialize"].as_array().expect("deserialize cases") {
        let name = str_of(case, "case");
        let parsed = PayloadPointer::parse(str_of(case, "input"));
        match name {
            "legacy_class_name_raw (no string replace)" => {
                assert_eq!(parsed, Ok(PayloadPointer::new("my-bucket", "k1")))
            }
            "missing_key_field" => assert_eq!(parsed, Err(PointerError::MissingField("s3Key"))),
            _ if case["result"]["ok"] == Value::Bool(true) => {
                let result = &case["result"];
                let expected = PayloadPointer::new(str_of(result, "bucket"), str_of(result, "key"));
                assert_eq!(parsed, Ok(expected), "{name}");
            }
            _ => assert!(parsed.is_err(), "{name} must be rejected"),
        }
    }
}

#[test]
fn boundary_cases_decide_as_the_python_client_did() {
    let c = vector("c_boundary");
    let policy = OffloadPolicy::default();
    let cases = c["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 6);
    for case in cases {
        let bytes = case["body_utf8_bytes"].as_u64().expect("bytes") as usize;
        let body = "a".repeat(bytes);
        let attributes: MessageAttributes = case["raw_sqs_attributes"]
            .as_object()
            .expect("attributes")
            .iter()
            .filter(|(name, _)| !is_reserved(name))
            .map(|(name, a)| {
                (
                    name.clone(),
                    MessageAttribute::string(str_of(a, "StringValue")),
                )
            })
            .collect();
        let offloaded = case["offloaded"].as_bool().expect("offloaded");
        let decision = policy.decide(&body, &attributes).expect("allowed");
        assert_eq!(decision == Decision::Offload, offloaded, "{}", case["case"]);
        if offloaded {
            let size = &case["raw_sqs_attributes"]["ExtendedPayloadSize"];
            assert_eq!(str_of(size, "StringValue"), bytes.to_string());
        }
    }
}

#[test]
fn python_bodies_of_both_modes_parse() {
    for (name, class) in [
        (
            "a_default_300000",
            "software.amazon.payloadoffloading.PayloadS3Pointer",
        ),
        (
            "b_legacy_300000",
            "com.amazon.sqs.javamessaging.MessageS3Pointer",
        ),
    ] {
        let v = vector(name);
        let body = str_of(&v, "raw_sqs_body_exact");
        assert!(body.starts_with(&format!("[\"{class}\", {{")), "{body}");
        let pointer = PayloadPointer::parse(body).expect("python pointer");
        assert_eq!(pointer.bucket, "my-bucket");
        assert_eq!(pointer.key.len(), 36);
    }
}

#[test]
fn handle_restore_follows_java_not_python() {
    let f = vector("f_handles_and_delete");
    let case = &f["restore_rule_synthetic_handle_with_dashes"];
    let handle = claimcheck::receipt_handle::ReceiptHandle::parse(str_of(case, "extended_handle"))
        .expect("parse");
    assert_eq!(
        handle.original(),
        str_of(case, "java_rule_everything_after_second_key_marker")
    );
    assert_ne!(
        handle.original(),
        str_of(case, "python_get_original_receipt_handle")
    );
    let pointer = handle.pointer().expect("extended");
    assert_eq!(
        (pointer.bucket.as_str(), pointer.key.as_str()),
        (str_of(case, "python_bucket"), str_of(case, "python_key"))
    );
}

/// Every producer shape of the receive-interop capture, replayed onto a real queue with real
/// objects: the Java, Python and Java 1.0.x shapes resolve (with either attribute name); the
/// .NET plain object and an unknown class are typed errors, and the other messages of the same
/// receive are still delivered.
#[tokio::test]
async fn every_captured_producer_shape_is_resolved_or_rejected() {
    let aws = testkit::endpoint().await;
    let (bucket, queue) = (aws.bucket().await, aws.queue().await);
    let d = vector("d_receive_interop");
    let payload = d["payload"].as_str().expect("payload").to_owned();
    let mut shapes = std::collections::BTreeMap::new();
    for result in d["results"].as_array().expect("results") {
        shapes.insert(str_of(result, "shape").to_owned(), result.clone());
    }
    assert_eq!(shapes.len(), 5);
    for (shape, result) in &shapes {
        let body = str_of(result, "sqs_body").replace("my-bucket", &bucket);
        let key = format!("interop/{shape}");
        aws.s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(payload.clone().into_bytes().into())
            .send()
            .await
            .expect("put");
        let size = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(payload.len().to_string())
            .build()
            .expect("attribute");
        aws.sqs
            .send_message()
            .queue_url(&queue)
            .message_body(body)
            .message_attributes(str_of(result, "size_attribute"), size)
            .message_attributes(
                "shape",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(shape)
                    .build()
                    .expect("attr"),
            )
            .send()
            .await
            .expect("send");
    }
    let client = aws.client(ExtendedClientConfig::new(&bucket));
    let mut outcomes = std::collections::BTreeMap::new();
    for message in testkit::receive_all(&client, &queue).await {
        match message {
            Ok(m) => {
                let shape = m.attributes["shape"].as_str().expect("shape").to_owned();
                assert!(matches!(m.body, MessageBody::Offloaded { .. }));
                let text = m.body.into_string(1024).await.expect("payload");
                assert_eq!(text, payload);
                outcomes.insert(shape, "resolved".to_owned());
            }
            Err(u) => {
                let shape = u.raw_attributes["shape"]
                    .as_str()
                    .expect("shape")
                    .to_owned();
                let kind = match u.error {
                    ResolveError::MalformedPointer(PointerError::NotAnArray) => "not an array",
                    ResolveError::MalformedPointer(PointerError::UnknownClass(_)) => {
                        "unknown class"
                    }
                    other => panic!("{shape}: unexpected {other}"),
                };
                outcomes.insert(shape, kind.to_owned());
            }
        }
    }
    let expected = [
        ("dotnet_plain_object", "not an array"),
        ("java_1_0_x_legacy_class", "resolved"),
        ("java_current_attr", "resolved"),
        ("java_default_compact_legacy_attr", "resolved"),
        ("unknown_class_name", "unknown class"),
    ]
    .map(|(s, o)| (s.to_owned(), o.to_owned()));
    assert_eq!(outcomes, std::collections::BTreeMap::from(expected));
}
