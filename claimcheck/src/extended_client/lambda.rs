//! The Lambda side: an SQS event source hands the function records whose body is still the
//! pointer. This resolves such a record exactly as `receive` resolves a message (Lambda
//! delivers every message attribute, so both reserved names are present when sent).

use aws_lambda_events::sqs::SqsMessage;

use super::ExtendedClient;
use super::receive::{RawMessage, ReceivedMessage, UnresolvedMessage};
use crate::message_attributes::{AttributeValue, MessageAttribute, MessageAttributes};

impl From<&SqsMessage> for RawMessage {
    fn from(record: &SqsMessage) -> Self {
        Self {
            message_id: record.message_id.clone().unwrap_or_default(),
            receipt_handle: record.receipt_handle.clone(),
            body: record.body.clone(),
            attributes: record_attributes(record),
            system_attributes: record.attributes.clone().into_iter().collect(),
        }
    }
}

/// A Lambda record's message attributes, as they were sent (reserved ones included).
pub fn record_attributes(record: &SqsMessage) -> MessageAttributes {
    record
        .message_attributes
        .iter()
        .map(|(name, value)| {
            let attribute = MessageAttribute {
                data_type: value.data_type.clone().unwrap_or_else(|| "String".into()),
                value: match (&value.string_value, &value.binary_value) {
                    (Some(s), _) => AttributeValue::String(s.clone()),
                    (None, Some(b)) => AttributeValue::Binary(b.0.clone().into()),
                    (None, None) => AttributeValue::String(String::new()),
                },
            };
            (name.clone(), attribute)
        })
        .collect()
}

impl ExtendedClient {
    /// Resolves one record of a Lambda `SqsEvent`: inline bodies pass through, pointers become
    /// payload streams from trusted buckets, anything else is an `UnresolvedMessage` to report
    /// as a batch item failure or park.
    pub async fn resolve_lambda_record(
        &self,
        record: &SqsMessage,
    ) -> Result<ReceivedMessage, UnresolvedMessage> {
        self.resolve(RawMessage::from(record)).await
    }
}
