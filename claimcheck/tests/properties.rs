//! Property tests of the protocol's pure parts.

use claimcheck::message_attributes::attributes_wire_size;
use claimcheck::offload::{Decision, OffloadPolicy};
use claimcheck::pointer::PayloadPointer;
use claimcheck::receipt_handle::{self, ReceiptHandle};
use claimcheck::size_attribute::take_declared_size;
use claimcheck::{MessageAttribute, MessageAttributes};
use proptest::prelude::*;

/// S3 bucket names: 3–63 lowercase letters, digits, dots and hyphens.
fn bucket() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]".prop_filter("no adjacent dots", |b| !b.contains(".."))
}

/// Any non-empty key that does not itself contain a receipt-handle marker.
fn key() -> impl Strategy<Value = String> {
    "\\PC{1,200}".prop_filter("no markers", |k| {
        !k.contains("-..s3Key..-") && !k.contains("-..s3BucketName..-")
    })
}

/// Attributes SQS takes (its naming rules: no leading, trailing or doubled period, not the
/// reserved AWS./Amazon. prefixes; values not empty); the send rules refuse any other.
fn attributes() -> impl Strategy<Value = MessageAttributes> {
    let name =
        "[A-Za-z0-9_-]{1,10}(\\.[A-Za-z0-9_-]{1,9})?".prop_filter("not a reserved prefix", |n| {
            let n = n.to_ascii_lowercase();
            !n.starts_with("aws.") && !n.starts_with("amazon.")
        });
    proptest::collection::btree_map(name, "\\PC{1,40}", 0..9).prop_map(|m| {
        m.into_iter()
            .map(|(name, value)| (name, MessageAttribute::string(value)))
            .collect()
    })
}

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = PayloadPointer::parse(&text);
        let _ = ReceiptHandle::parse(&text);
    }

    #[test]
    fn parsing_json_shaped_text_never_panics(text in "[\\[\\]{}\",: a-zA-Z0-9.]{0,200}") {
        let _ = PayloadPointer::parse(&text);
        let prefixed = format!("[\"software.amazon.payloadoffloading.PayloadS3Pointer\",{text}");
        let _ = PayloadPointer::parse(&prefixed);
    }

    #[test]
    fn pointers_round_trip(bucket in bucket(), key in key()) {
        let pointer = PayloadPointer::new(bucket, key);
        prop_assert_eq!(PayloadPointer::parse(&pointer.to_body()), Ok(pointer));
    }

    #[test]
    fn restore_of_embed_is_the_original(bucket in bucket(), key in key(), original in "[A-Za-z0-9+/=-]{1,400}") {
        let pointer = PayloadPointer::new(bucket, key);
        let handle = receipt_handle::embed(&pointer, &original);
        let parsed = ReceiptHandle::parse(&handle);
        prop_assert_eq!(parsed, Ok(ReceiptHandle::Extended { pointer, original }));
    }

    #[test]
    fn plain_handles_are_left_alone(original in "[A-Za-z0-9+/=-]{1,400}") {
        prop_assume!(!original.contains("-..s3BucketName..-"));
        let parsed = ReceiptHandle::parse(&original).map(|h| h.original().to_owned());
        prop_assert_eq!(parsed, Ok(original));
    }

    #[test]
    fn attributes_round_trip_through_the_size_attribute(attrs in attributes(), size in any::<u64>()) {
        let mut with_size = attrs.clone();
        let (name, value) = claimcheck::size_attribute::SizeAttributeName::Legacy.attribute(size);
        with_size.insert(name, value);
        let declared = take_declared_size(&mut with_size);
        prop_assert_eq!(declared, claimcheck::size_attribute::DeclaredSize::Offloaded(size));
        prop_assert_eq!(with_size, attrs);
    }

    #[test]
    fn offload_iff_total_bytes_over_threshold(body in "\\PC{1,300}", attrs in attributes(), threshold in 0usize..2000) {
        let policy = OffloadPolicy::with_threshold(threshold).expect("threshold");
        let total = body.len() + attributes_wire_size(&attrs);
        match policy.decide(&body, &attrs) {
            Ok(Decision::Offload) => prop_assert!(total > threshold),
            Ok(Decision::Inline) => prop_assert!(total <= threshold),
            Err(_) => prop_assert!(attributes_wire_size(&attrs) > threshold),
        }
    }
}
