//! Message attributes as the extended-client protocol sees them: typed values whose byte size
//! counts towards the offload threshold, convertible to and from the SQS SDK's and the Lambda
//! event's representations.

use std::collections::BTreeMap;

use aws_sdk_sqs::error::BuildError;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::MessageAttributeValue;
use bytes::Bytes;

/// One message attribute. `data_type` is SQS's (`String`, `Number`, `Binary`, or one of those
/// with a custom `.suffix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// The SQS data type, such as `String`, `Number` or `Binary.gzip`.
    pub data_type: String,
    /// The attribute's value.
    pub value: AttributeValue,
}

/// A message attribute's value, as SQS carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// A `StringValue`: the value of a `String` or `Number` attribute.
    String(String),
    /// A `BinaryValue`: the raw bytes of a `Binary` attribute.
    Binary(Bytes),
}

/// The attribute naming the payload a pointer message carries (set by the producer, read by
/// the consumer and the redriver to find the payload's ledger item).
pub const PAYLOAD_ID: &str = "payload_id";
/// The payload's content type as announced at upload (set by the producer).
pub const CONTENT_TYPE: &str = "content_type";
/// Why a message was parked in the DLQ (set by the consumer when it parks a message).
pub const PARK_REASON: &str = "claimcheck_park_reason";
/// How many times the redriver has sent this message back from the DLQ.
pub const REDRIVE_COUNT: &str = "claimcheck_redrive_count";

/// What is wrong with a message attribute name by SQS's rules (Amazon SQS Developer Guide,
/// "Amazon SQS message attributes"): at most 256 characters of A-Z a-z 0-9 `-` `_` `.`, not
/// starting or ending with a period, no two periods in a row, not starting with the reserved
/// `AWS.` or `Amazon.` (any case). `None` for a valid name.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > 256 {
        Some("is longer than 256 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Some("may use only A-Z a-z 0-9 - _ .")
    } else if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        Some("may not start or end with a period, nor have two in a row")
    } else if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        Some("uses a prefix AWS reserves (AWS. or Amazon.)")
    } else {
        None
    }
}

/// Attributes by name. Ordered, so that requests and tests are deterministic.
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

impl MessageAttribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            data_type: "String".into(),
            value: AttributeValue::String(value.into()),
        }
    }

    /// A `Number` attribute holding `value`'s decimal text, such as a byte count.
    pub fn number(value: impl std::fmt::Display) -> Self {
        Self {
            data_type: "Number".into(),
            value: AttributeValue::String(value.to_string()),
        }
    }

    /// A `Binary` attribute.
    pub fn binary(value: impl Into<Bytes>) -> Self {
        Self {
            data_type: "Binary".into(),
            value: AttributeValue::Binary(value.into()),
        }
    }

    /// Whether the value is empty (SQS refuses an attribute without a value).
    pub fn is_empty(&self) -> bool {
        match &self.value {
            AttributeValue::String(s) => s.is_empty(),
            AttributeValue::Binary(b) => b.is_empty(),
        }
    }

    /// The value as text, when it is a string or number attribute.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            AttributeValue::String(s) => Some(s),
            AttributeValue::Binary(_) => None,
        }
    }

    /// Bytes this attribute counts against the threshold, given its name: the libraries add
    /// the UTF-8 lengths of the name, the DataType and the value.
    pub fn wire_size(&self, name: &str) -> usize {
        let value = match &self.value {
            AttributeValue::String(s) => s.len(),
            AttributeValue::Binary(b) => b.len(),
        };
        name.len() + self.data_type.len() + value
    }

    pub(crate) fn to_sdk(&self) -> Result<MessageAttributeValue, BuildError> {
        let builder = MessageAttributeValue::builder().data_type(&self.data_type);
        let builder = match &self.value {
            AttributeValue::String(s) => builder.string_value(s),
            AttributeValue::Binary(b) => builder.binary_value(Blob::new(b.to_vec())),
        };
        builder.build()
    }

    pub(crate) fn from_sdk(value: MessageAttributeValue) -> Self {
        let data_type = value.data_type().to_owned();
        let value = match (value.string_value, value.binary_value) {
            (Some(s), _) => AttributeValue::String(s),
            (None, Some(b)) => AttributeValue::Binary(Bytes::from(b.into_inner())),
            (None, None) => AttributeValue::String(String::new()),
        };
        Self { data_type, value }
    }
}

/// Total bytes of all attributes, as the offload rule counts them.
pub fn attributes_wire_size(attributes: &MessageAttributes) -> usize {
    attributes
        .iter()
        .map(|(name, attribute)| attribute.wire_size(name))
        .sum()
}

/// The attributes as the SQS SDK takes them.
pub fn to_sdk_map(
    attributes: &MessageAttributes,
) -> Result<std::collections::HashMap<String, MessageAttributeValue>, BuildError> {
    attributes
        .iter()
        .map(|(name, attribute)| Ok((name.clone(), attribute.to_sdk()?)))
        .collect()
}
