//! Sending: single messages, streamed payloads and batches.

use std::collections::HashSet;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use bytes::Bytes;
use futures::future::join_all;
use tokio::io::AsyncRead;

use super::{ClientError, ExtendedClient, MAX_BATCH_ENTRIES, clamp_delay};
use crate::message_attributes::{
    MessageAttribute, MessageAttributes, attributes_wire_size, to_sdk_map,
};
use crate::offload::Decision;
use crate::pointer::PayloadPointer;

/// Per-message SQS options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Clamped to 0–900 s.
    pub delay_seconds: Option<i32>,
    /// FIFO queues only.
    pub group_id: Option<String>,
    /// FIFO queues only. When a FIFO message is offloaded without one, the SHA-256 of the
    /// original body is used, so content-based deduplication keeps working although every
    /// pointer names a fresh key.
    pub deduplication_id: Option<String>,
}

impl SendOptions {
    /// Delays the message's delivery by `seconds` (clamped to SQS's 0–900).
    pub fn with_delay_seconds(self, seconds: i32) -> Self {
        Self {
            delay_seconds: Some(seconds),
            ..self
        }
    }

    /// Sends into message group `group_id` (FIFO queues).
    pub fn with_group_id(self, group_id: impl Into<String>) -> Self {
        Self {
            group_id: Some(group_id.into()),
            ..self
        }
    }

    /// Sets the message deduplication id (FIFO queues; SQS drops a repeat within 5 minutes).
    pub fn with_deduplication_id(self, deduplication_id: impl Into<String>) -> Self {
        Self {
            deduplication_id: Some(deduplication_id.into()),
            ..self
        }
    }
}

/// A message to send; its body goes to S3 when the offload policy says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The body; must not be empty. Goes to S3 when the offload policy says so, and the queue then
    /// carries a pointer in its place.
    pub body: String,
    /// The application's message attributes: at most 9 (SQS allows 10, and one is reserved for the
    /// size attribute), none with a reserved name.
    pub attributes: MessageAttributes,
    /// Delay, message group id and deduplication id.
    pub options: SendOptions,
}

impl OutgoingMessage {
    /// A message with this body, no attributes and default options.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    /// Adds the message attribute `name`, replacing one of the same name.
    pub fn attribute(mut self, name: impl Into<String>, value: MessageAttribute) -> Self {
        self.attributes.insert(name.into(), value);
        self
    }
}

/// A sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message id SQS assigned.
    pub message_id: String,
    /// The sequence number SQS assigned; FIFO queues only.
    pub sequence_number: Option<String>,
    /// Where the body went, when it was offloaded.
    pub pointer: Option<PayloadPointer>,
}

/// One entry of a batch send; `id` is unique within the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// The entry's id: unique within the batch (SQS allows up to 80 alphanumerics, `-` and `_`);
    /// results are reported under it.
    pub id: String,
    /// The message to send.
    pub message: OutgoingMessage,
}

/// An entry of a batch call (send, delete, change visibility) that SQS refused
/// (`BatchResultErrorEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntryFailure {
    /// The entry's id, as given in the batch.
    pub id: String,
    /// SQS's error code for the entry (`InvalidParameterValue`, `ReceiptHandleIsInvalid`, ...).
    pub code: String,
    /// SQS's message, when it gave one.
    pub message: Option<String>,
    /// Whether the entry itself was at fault (retrying it unchanged will fail again).
    pub sender_fault: bool,
}

/// The outcome of a batch send, entry by entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSent {
    /// `(entry id, sent message)` for each entry SQS accepted.
    pub successful: Vec<(String, Sent)>,
    /// The entries SQS refused; the payloads uploaded for them are deleted again (best effort).
    pub failed: Vec<BatchEntryFailure>,
}

/// What goes on the queue for one message once its body has a place.
struct Prepared {
    body: String,
    attributes: MessageAttributes,
    options: SendOptions,
    /// The object this send uploaded: deleted again if the message is never sent.
    pointer: Option<PayloadPointer>,
}

impl ExtendedClient {
    /// Sends one message, offloading its body when it is over the threshold.
    pub async fn send(
        &self,
        queue_url: &str,
        message: OutgoingMessage,
    ) -> Result<Sent, ClientError> {
        let decision = self
            .config
            .offload
            .decide(&message.body, &message.attributes)?;
        let prepared = match decision {
            Decision::Inline => inline(message),
            Decision::Offload => self.offload(message).await?,
        };
        self.send_prepared(queue_url, prepared).await
    }

    /// Streams a payload of any size to S3 and sends its pointer. The payload never sits
    /// whole in memory; its size attribute is the number of bytes actually uploaded.
    pub async fn send_stream<R>(
        &self,
        queue_url: &str,
        source: R,
        attributes: MessageAttributes,
        mut options: SendOptions,
    ) -> Result<Sent, ClientError>
    where
        R: AsyncRead + Send + Unpin,
    {
        self.config.offload.check_attributes(&attributes)?;
        let pointer = PayloadPointer::new(&self.config.bucket, self.config.key_prefix.generate());
        // Hashed on its way to S3: a FIFO message without a deduplication id gets the body's
        // SHA-256, as `send` gives an offloaded body (content-based deduplication keeps working).
        let mut body_hash = crate::checksum::Sha256::new();
        let source = tokio_util::io::InspectReader::new(source, |bytes: &[u8]| {
            body_hash.update(bytes);
        });
        let stored = self
            .store
            .put_stream(&pointer, source, &self.config.put_options)
            .await
            .map_err(|e| self.store_error("PutObject", e))?;
        if options.group_id.is_some() && options.deduplication_id.is_none() {
            options.deduplication_id = Some(body_hash.hex());
        }
        let prepared = self.pointer_message(pointer, stored.size, attributes, options);
        self.send_prepared(queue_url, prepared).await
    }

    /// Sends a pointer to a payload that is already in S3 (uploaded by someone else, e.g.
    /// through a presigned URL). The object is not this call's to delete: if the send fails,
    /// it stays where it is.
    pub async fn send_pointer(
        &self,
        queue_url: &str,
        pointer: &PayloadPointer,
        size: u64,
        attributes: MessageAttributes,
        options: SendOptions,
    ) -> Result<Sent, ClientError> {
        self.config.offload.check_attributes(&attributes)?;
        let mut prepared = self.pointer_message(pointer.clone(), size, attributes, options);
        prepared.pointer = None;
        let mut sent = self.send_prepared(queue_url, prepared).await?;
        sent.pointer = Some(pointer.clone());
        Ok(sent)
    }

    /// Sends up to 10 messages in one SQS call. Each entry over the threshold is offloaded;
    /// then, while the whole batch is over `batch_limit`, the largest inline entry is too.
    pub async fn send_batch(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry>,
    ) -> Result<BatchSent, ClientError> {
        if entries.is_empty() || entries.len() > MAX_BATCH_ENTRIES {
            return Err(ClientError::BatchSize(entries.len()));
        }
        let mut ids = HashSet::new();
        if let Some(dup) = entries.iter().find(|e| !ids.insert(e.id.as_str())) {
            return Err(ClientError::DuplicateEntryId(dup.id.clone()));
        }
        let mut decisions = entries
            .iter()
            .map(|e| {
                self.config
                    .offload
                    .decide(&e.message.body, &e.message.attributes)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.fit_batch(&entries, &mut decisions)?;

        let prepared = join_all(entries.into_iter().zip(decisions).map(
            |(entry, decision)| async move {
                let prepared = match decision {
                    Decision::Inline => Ok(inline(entry.message)),
                    Decision::Offload => self.offload(entry.message).await,
                };
                prepared.map(|p| (entry.id, p))
            },
        ))
        .await;
        let mut ready = Vec::with_capacity(prepared.len());
        let mut first_error = None;
        for result in prepared {
            match result {
                Ok(entry) => ready.push(entry),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        if let Some(error) = first_error {
            self.discard(ready.iter().filter_map(|(_, p)| p.pointer.as_ref()))
                .await;
            return Err(error);
        }
        self.send_prepared_batch(queue_url, ready).await
    }

    /// Marks the largest inline entries for offloading until the batch fits its limit.
    fn fit_batch(
        &self,
        entries: &[BatchEntry],
        decisions: &mut [Decision],
    ) -> Result<(), ClientError> {
        let limit = self.config.batch_limit;
        let sizes: Vec<(usize, usize)> = entries
            .iter()
            .map(|e| {
                let attributes = attributes_wire_size(&e.message.attributes);
                let inline = e.message.body.len() + attributes;
                (
                    inline,
                    self.offloaded_size(e.message.body.len(), attributes),
                )
            })
            .collect();
        let total = |decisions: &[Decision]| -> usize {
            sizes
                .iter()
                .zip(decisions)
                .map(|((inline, offloaded), d)| match d {
                    Decision::Inline => *inline,
                    Decision::Offload => *offloaded,
                })
                .sum()
        };
        while total(decisions) > limit {
            let largest = (0..entries.len())
                .filter(|&i| decisions[i] == Decision::Inline)
                .max_by_key(|&i| sizes[i].0);
            match largest {
                Some(i) => decisions[i] = Decision::Offload,
                None => {
                    return Err(ClientError::BatchTooLarge {
                        size: total(decisions),
                        limit,
                    });
                }
            }
        }
        Ok(())
    }

    /// Bytes an entry takes on the queue once offloaded: the pointer body (its length does
    /// not depend on which UUID the key gets), the user attributes and the size attribute.
    fn offloaded_size(&self, body_len: usize, attributes_size: usize) -> usize {
        let sample = PayloadPointer::new(&self.config.bucket, self.config.key_prefix.generate());
        let (name, size) = self.config.size_attribute.attribute(body_len as u64);
        sample.to_body().len() + attributes_size + size.wire_size(&name)
    }

    /// Uploads a message's body and returns the pointer message that replaces it.
    async fn offload(&self, message: OutgoingMessage) -> Result<Prepared, ClientError> {
        let OutgoingMessage {
            body,
            attributes,
            mut options,
        } = message;
        if options.group_id.is_some() && options.deduplication_id.is_none() {
            options.deduplication_id = Some(crate::checksum::sha256_hex(body.as_bytes()));
        }
        let pointer = PayloadPointer::new(&self.config.bucket, self.config.key_prefix.generate());
        let size = body.len() as u64;
        // A body sent as a message is text: stored as such unless the options say otherwise.
        let mut put = self.config.put_options.clone();
        put.content_type
            .get_or_insert_with(|| "text/plain; charset=UTF-8".into());
        self.store
            .put_bytes(&pointer, Bytes::from(body), &put)
            .await
            .map_err(|e| self.store_error("PutObject", e))?;
        Ok(self.pointer_message(pointer, size, attributes, options))
    }

    fn pointer_message(
        &self,
        pointer: PayloadPointer,
        size: u64,
        mut attributes: MessageAttributes,
        options: SendOptions,
    ) -> Prepared {
        let (name, value) = self.config.size_attribute.attribute(size);
        attributes.insert(name, value);
        Prepared {
            body: pointer.to_body(),
            attributes,
            options,
            pointer: Some(pointer),
        }
    }

    async fn send_prepared(
        &self,
        queue_url: &str,
        prepared: Prepared,
    ) -> Result<Sent, ClientError> {
        let attributes = match to_sdk_map(&prepared.attributes) {
            Ok(attributes) => attributes,
            Err(e) => {
                self.discard(prepared.pointer.iter()).await;
                return Err(ClientError::InvalidRequest(e.to_string()));
            }
        };
        let sent = self
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(prepared.body)
            .set_message_attributes((!attributes.is_empty()).then_some(attributes))
            .set_delay_seconds(prepared.options.delay_seconds.map(clamp_delay))
            .set_message_group_id(prepared.options.group_id)
            .set_message_deduplication_id(prepared.options.deduplication_id)
            .send()
            .await;
        match sent {
            Ok(output) => Ok(Sent {
                message_id: output.message_id.unwrap_or_default(),
                sequence_number: output.sequence_number,
                pointer: prepared.pointer,
            }),
            Err(e) => {
                let unsent = surely_unsent(&e);
                let error = self.sqs_error("SendMessage", e);
                self.dispose(prepared.pointer.iter(), unsent).await;
                Err(error)
            }
        }
    }

    async fn send_prepared_batch(
        &self,
        queue_url: &str,
        ready: Vec<(String, Prepared)>,
    ) -> Result<BatchSent, ClientError> {
        let mut request = Vec::with_capacity(ready.len());
        for (id, prepared) in &ready {
            let attributes = match to_sdk_map(&prepared.attributes) {
                Ok(a) => a,
                Err(e) => {
                    self.discard(ready.iter().filter_map(|(_, p)| p.pointer.as_ref()))
                        .await;
                    return Err(ClientError::InvalidRequest(e.to_string()));
                }
            };
            let entry = SendMessageBatchRequestEntry::builder()
                .id(id)
                .message_body(&prepared.body)
                .set_message_attributes((!attributes.is_empty()).then_some(attributes))
                .set_delay_seconds(prepared.options.delay_seconds.map(clamp_delay))
                .set_message_group_id(prepared.options.group_id.clone())
                .set_message_deduplication_id(prepared.options.deduplication_id.clone())
                .build()
                .map_err(|e| ClientError::InvalidRequest(e.to_string()));
            match entry {
                Ok(entry) => request.push(entry),
                Err(e) => {
                    self.discard(ready.iter().filter_map(|(_, p)| p.pointer.as_ref()))
                        .await;
                    return Err(e);
                }
            }
        }
        let output = match self
            .sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(request))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                let unsent = surely_unsent(&e);
                let error = self.sqs_error("SendMessageBatch", e);
                self.dispose(ready.iter().filter_map(|(_, p)| p.pointer.as_ref()), unsent)
                    .await;
                return Err(error);
            }
        };
        let mut by_id: std::collections::HashMap<String, Prepared> = ready.into_iter().collect();
        let mut result = BatchSent::default();
        for ok in output.successful {
            let pointer = by_id.remove(&ok.id).and_then(|p| p.pointer);
            result.successful.push((
                ok.id,
                Sent {
                    message_id: ok.message_id,
                    sequence_number: ok.sequence_number,
                    pointer,
                },
            ));
        }
        let mut orphans = Vec::new();
        for failed in output.failed {
            if let Some(pointer) = by_id.remove(&failed.id).and_then(|p| p.pointer) {
                orphans.push(pointer);
            }
            result.failed.push(BatchEntryFailure {
                id: failed.id,
                code: failed.code,
                message: failed.message,
                sender_fault: failed.sender_fault,
            });
        }
        self.discard(orphans.iter()).await;
        Ok(result)
    }

    /// Deletes objects whose messages were never sent. Best effort: what fails here is left
    /// to the bucket's lifecycle rule, and logged.
    async fn discard<'a>(&self, pointers: impl Iterator<Item = &'a PayloadPointer>) {
        self.dispose(pointers, true).await;
    }

    /// The objects of a failed send: deleted when the messages surely were not sent, else only
    /// marked for the lifecycle rule to expire later (`PayloadStore::expire_later`): a send
    /// whose answer was lost may have queued its pointer, which must still find its object.
    /// Best effort: what fails here is left to the bucket's lifecycle rule, and logged.
    async fn dispose<'a>(&self, pointers: impl Iterator<Item = &'a PayloadPointer>, unsent: bool) {
        join_all(pointers.map(|pointer| async move {
            let (done, operation) = if unsent {
                (self.store.delete(pointer).await, "DeleteObject")
            } else {
                (self.store.expire_later(pointer).await, "PutObjectTagging")
            };
            if let Err(e) = done {
                let e = self.store_error(operation, e);
                tracing::warn!(object = %pointer, error = %e, "could not clean up the payload of a failed send");
            }
        }))
        .await;
    }
}

/// Whether SQS surely did not accept a send that failed: it answered with a 4xx error (the
/// request was refused). A timeout, a dropped connection or a 5xx may hide a message that was
/// queued after all.
fn surely_unsent<E>(
    error: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> bool {
    matches!(error, aws_sdk_sqs::error::SdkError::ServiceError(e) if e.raw().status().is_client_error())
}

fn inline(message: OutgoingMessage) -> Prepared {
    Prepared {
        body: message.body,
        attributes: message.attributes,
        options: message.options,
        pointer: None,
    }
}
