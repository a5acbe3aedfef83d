//! Receiving: every message is resolved on its own, so one bad pointer or missing object is
//! reported for that message while the rest of the batch is delivered.

use std::collections::HashMap;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use futures::future::join_all;

use super::{
    ClientError, ExtendedClient, MAX_BATCH_ENTRIES, MAX_WAIT_TIME_SECONDS, clamp_visibility,
};
use crate::message_attributes::{MessageAttribute, MessageAttributes};
use crate::payload_store::{PayloadStream, StoreError};
use crate::pointer::{PayloadPointer, PointerError};
use crate::receipt_handle::embed;
use crate::size_attribute::{DeclaredSize, take_declared_size};

/// Options for one ReceiveMessage call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiveOptions {
    /// 1–10; 0 means 10.
    pub max_messages: i32,
    /// Overrides the client's long-poll setting (0–20 s).
    pub wait_time_seconds: Option<i32>,
    /// Clamped to 0–43200 s.
    pub visibility_timeout: Option<i32>,
}

impl ReceiveOptions {
    /// At most `count` messages (SQS's 1–10; 0 means 10).
    pub fn with_max_messages(self, count: i32) -> Self {
        Self {
            max_messages: count,
            ..self
        }
    }

    /// Long-polls `seconds` instead of the client's setting (clamped to SQS's 0–20).
    pub fn with_wait_time_seconds(self, seconds: i32) -> Self {
        Self {
            wait_time_seconds: Some(seconds),
            ..self
        }
    }

    /// Hides received messages for `seconds` instead of the queue's visibility timeout
    /// (clamped to SQS's 0–43200).
    pub fn with_visibility_timeout(self, seconds: i32) -> Self {
        Self {
            visibility_timeout: Some(seconds),
            ..self
        }
    }
}

/// A message's body: inline, or a payload streamed from S3.
#[derive(Debug)]
pub enum MessageBody {
    /// The message was not offloaded: its body as SQS delivered it.
    Inline(String),
    /// The body was a pointer: the payload it names, streamed from S3.
    Offloaded {
        /// Where the payload lives.
        pointer: PayloadPointer,
        /// The size the sender declared in the reserved attribute.
        declared_size: u64,
        /// The payload's body, streamed from S3; its size has been checked against `declared_size`.
        payload: Box<PayloadStream>,
    },
}

impl MessageBody {
    /// The payload's pointer, if the body was offloaded.
    pub fn pointer(&self) -> Option<&PayloadPointer> {
        match self {
            Self::Inline(_) => None,
            Self::Offloaded { pointer, .. } => Some(pointer),
        }
    }

    /// The body as text, reading an offloaded payload of at most `limit` bytes into memory.
    /// For large payloads stream `payload` instead.
    pub async fn into_string(self, limit: usize) -> Result<String, StoreError> {
        match self {
            Self::Inline(body) => Ok(body),
            Self::Offloaded { payload, .. } => payload.read_to_string(limit).await,
        }
    }
}

/// A resolved message.
#[derive(Debug)]
pub struct ReceivedMessage {
    /// The message id SQS assigned.
    pub message_id: String,
    /// For an offloaded message, the SQS handle with the pointer embedded, so `delete` can
    /// clean the payload up; pass it back as is.
    pub receipt_handle: String,
    /// The application's attributes; the reserved size attributes are removed.
    pub attributes: MessageAttributes,
    /// SQS's system attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    pub system_attributes: HashMap<String, String>,
    /// The body: inline, or the payload streamed from S3.
    pub body: MessageBody,
}

impl ReceivedMessage {
    /// How often SQS has delivered the message (`ApproximateReceiveCount`), when reported.
    pub fn receive_count(&self) -> Option<u32> {
        receive_count(&self.system_attributes)
    }
}

/// Why a message could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The message arrived without a body.
    #[error("message has no body")]
    MissingBody,
    /// The message arrived without a receipt handle, so it cannot be deleted.
    #[error("message has no receipt handle")]
    MissingReceiptHandle,
    /// The message carries the reserved size attribute, but its body is not a pointer in the
    /// Java/Python wire format.
    #[error("message is marked as offloaded but its body is not a pointer: {0}")]
    MalformedPointer(#[from] PointerError),
    /// The reserved size attribute (`ExtendedPayloadSize` or `SQSLargePayloadSize`) is not a byte
    /// count; holds the value received.
    #[error("reserved size attribute is not a byte count: {0}")]
    InvalidSizeAttribute(String),
    /// The pointer names a bucket that is neither the client's own nor one of its
    /// `trusted_buckets`; holds the bucket's name. The object is not read.
    #[error("pointer names bucket {0:?}, which this client does not trust")]
    UntrustedBucket(String),
    /// The stored object's size differs from the size declared in the reserved attribute.
    #[error("payload {object} has {stored} bytes but the message declares {declared}")]
    SizeMismatch {
        /// The payload object.
        object: PayloadPointer,
        /// Bytes declared in the sender's size attribute.
        declared: u64,
        /// Bytes S3 reports for the object.
        stored: u64,
    },
    /// Reading the payload from S3 failed (object missing, access denied, a service fault).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ResolveError {
    /// Whether receiving the message again may succeed. Everything but a transient S3 fault
    /// will fail the same way every time: such messages belong in a dead-letter queue.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_transient())
    }
}

/// A message that could not be resolved, with what is needed to park or delete it.
#[derive(Debug)]
pub struct UnresolvedMessage {
    /// The message id SQS assigned.
    pub message_id: String,
    /// The handle SQS issued (not extended).
    pub receipt_handle: String,
    /// The body as received (the pointer JSON, for an offloaded message), if it had one.
    pub raw_body: Option<String>,
    /// All attributes as received, reserved ones included, so the message can be moved
    /// elsewhere unchanged.
    pub raw_attributes: MessageAttributes,
    /// SQS's system attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    pub system_attributes: HashMap<String, String>,
    /// The pointer, when the body was one.
    pub pointer: Option<PayloadPointer>,
    /// Why the message could not be resolved.
    pub error: ResolveError,
}

impl UnresolvedMessage {
    /// How often SQS has delivered the message (`ApproximateReceiveCount`), when reported.
    pub fn receive_count(&self) -> Option<u32> {
        receive_count(&self.system_attributes)
    }
}

/// A received message before resolution, from the SDK or from a Lambda event.
pub(super) struct RawMessage {
    pub message_id: String,
    pub receipt_handle: Option<String>,
    pub body: Option<String>,
    pub attributes: MessageAttributes,
    pub system_attributes: HashMap<String, String>,
}

impl From<Message> for RawMessage {
    fn from(message: Message) -> Self {
        Self {
            message_id: message.message_id.unwrap_or_default(),
            receipt_handle: message.receipt_handle,
            body: message.body,
            attributes: message
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name, MessageAttribute::from_sdk(value)))
                .collect(),
            system_attributes: message
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect(),
        }
    }
}

impl ExtendedClient {
    /// Receives up to 10 messages, asking for every attribute (so both reserved size names
    /// arrive) and resolving pointers into payload streams.
    pub async fn receive(
        &self,
        queue_url: &str,
        options: &ReceiveOptions,
    ) -> Result<Vec<Result<ReceivedMessage, UnresolvedMessage>>, ClientError> {
        let max = match options.max_messages {
            n if n <= 0 => MAX_BATCH_ENTRIES as i32,
            n => n.min(MAX_BATCH_ENTRIES as i32),
        };
        let wait = options
            .wait_time_seconds
            .unwrap_or(self.config.wait_time_seconds)
            .clamp(0, MAX_WAIT_TIME_SECONDS);
        let output = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .set_visibility_timeout(options.visibility_timeout.map(clamp_visibility))
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| self.sqs_error("ReceiveMessage", e))?;
        let resolved = join_all(
            output
                .messages
                .unwrap_or_default()
                .into_iter()
                .map(|m| self.resolve_or_skip(queue_url, RawMessage::from(m))),
        )
        .await;
        Ok(resolved.into_iter().flatten().collect())
    }

    /// Resolves a message; with `ignore_payload_not_found`, a message whose object is gone is
    /// deleted and skipped (`None`).
    async fn resolve_or_skip(
        &self,
        queue_url: &str,
        raw: RawMessage,
    ) -> Option<Result<ReceivedMessage, UnresolvedMessage>> {
        let resolved = self.resolve(raw).await;
        match resolved {
            Err(unresolved)
                if self.config.ignore_payload_not_found
                    && matches!(&unresolved.error, ResolveError::Store(e) if e.is_not_found()) =>
            {
                let deleted = self
                    .sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(&unresolved.receipt_handle)
                    .send()
                    .await;
                match deleted {
                    Ok(_) => {
                        tracing::warn!(
                            message_id = %unresolved.message_id,
                            error = %unresolved.error,
                            "payload object is gone; message deleted and skipped"
                        );
                        None
                    }
                    Err(e) => {
                        self.sqs_error("DeleteMessage", e);
                        Some(Err(unresolved))
                    }
                }
            }
            other => Some(other),
        }
    }

    /// Turns a raw message into the message the application sees.
    pub(super) async fn resolve(
        &self,
        raw: RawMessage,
    ) -> Result<ReceivedMessage, UnresolvedMessage> {
        let mut attributes = raw.attributes.clone();
        match self.resolve_body(&raw, &mut attributes).await {
            Ok((receipt_handle, body)) => Ok(ReceivedMessage {
                message_id: raw.message_id,
                receipt_handle,
                attributes,
                system_attributes: raw.system_attributes,
                body,
            }),
            Err((pointer, error)) => Err(raw.unresolved(pointer, error)),
        }
    }

    /// The receipt handle to give the application and the body, or the pointer (when the body
    /// was one) and why the message cannot be resolved. Strips the reserved attributes.
    async fn resolve_body(
        &self,
        raw: &RawMessage,
        attributes: &mut MessageAttributes,
    ) -> Result<(String, MessageBody), (Option<PayloadPointer>, ResolveError)> {
        let body = raw
            .body
            .as_deref()
            .ok_or((None, ResolveError::MissingBody))?;
        let handle = raw
            .receipt_handle
            .as_deref()
            .ok_or((None, ResolveError::MissingReceiptHandle))?;
        let declared_size = match take_declared_size(attributes) {
            DeclaredSize::NotOffloaded => {
                return Ok((handle.to_owned(), MessageBody::Inline(body.to_owned())));
            }
            DeclaredSize::Invalid(value) => {
                return Err((None, ResolveError::InvalidSizeAttribute(value)));
            }
            DeclaredSize::Offloaded(size) => size,
        };
        let pointer = PayloadPointer::parse(body).map_err(|e| (None, e.into()))?;
        let fail = |error: ResolveError| (Some(pointer.clone()), error);
        if !self.config.trusts(&pointer.bucket) {
            return Err(fail(ResolveError::UntrustedBucket(pointer.bucket.clone())));
        }
        let payload = self
            .store
            .get(&pointer)
            .await
            .map_err(|e| fail(self.store_error("GetObject", e).into()))?;
        if payload.info.size != declared_size {
            return Err(fail(ResolveError::SizeMismatch {
                object: pointer.clone(),
                declared: declared_size,
                stored: payload.info.size,
            }));
        }
        let body = MessageBody::Offloaded {
            pointer: pointer.clone(),
            declared_size,
            payload: Box::new(payload),
        };
        Ok((embed(&pointer, handle), body))
    }
}

impl RawMessage {
    fn unresolved(self, pointer: Option<PayloadPointer>, error: ResolveError) -> UnresolvedMessage {
        UnresolvedMessage {
            message_id: self.message_id,
            receipt_handle: self.receipt_handle.unwrap_or_default(),
            raw_body: self.body,
            raw_attributes: self.attributes,
            system_attributes: self.system_attributes,
            pointer,
            error,
        }
    }
}

fn receive_count(system_attributes: &HashMap<String, String>) -> Option<u32> {
    system_attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
}
