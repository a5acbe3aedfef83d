//! Deleting messages and changing their visibility, with extended receipt handles restored.
//!
//! Order on delete: SQS first, then the payload object, as the [`CleanupPolicy`] says: by
//! default the object is only marked for the bucket's lifecycle rule to expire later, because
//! SQS confirms a delete even for a message that was redelivered or moved to the DLQ meanwhile
//! and a surviving copy of the pointer must still find its object. If the cleanup fails, the
//! message is already gone and the object is an orphan that the bucket's lifecycle rule
//! expires; the other order (Java sync, Python) can leave a live message whose payload is gone,
//! which is worse: that message then fails on every receive.

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
};
use futures::future::join_all;

use super::send::BatchEntryFailure;
use super::{CleanupPolicy, ClientError, ExtendedClient, MAX_BATCH_ENTRIES, clamp_visibility};
use crate::payload_store::StoreError;
use crate::pointer::PayloadPointer;
use crate::receipt_handle::ReceiptHandle;

/// What happened to a deleted message's payload object.
#[derive(Debug)]
pub enum PayloadCleanup {
    /// The message was not offloaded.
    NotOffloaded,
    /// Cleanup is off ([`CleanupPolicy::Keep`]).
    Kept(PayloadPointer),
    /// The object is marked for the bucket's lifecycle rule to expire later
    /// ([`CleanupPolicy::Deferred`]).
    Deferred(PayloadPointer),
    /// The message was deleted, then its payload object ([`CleanupPolicy::Immediate`]).
    Deleted(PayloadPointer),
    /// The message is deleted but its object could not be; the lifecycle rule removes it.
    Orphaned(PayloadPointer, StoreError),
}

/// The outcome of a batch delete, entry by entry.
#[derive(Debug, Default)]
pub struct BatchDeleted {
    /// `(entry id, what happened to its payload object)` for each message SQS deleted.
    pub successful: Vec<(String, PayloadCleanup)>,
    /// The entries SQS did not delete; their payload objects are left in place.
    pub failed: Vec<BatchEntryFailure>,
}

/// The outcome of a batch visibility change, entry by entry.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchChanged {
    /// The ids of the entries whose visibility timeout SQS changed.
    pub successful: Vec<String>,
    /// The entries SQS refused.
    pub failed: Vec<BatchEntryFailure>,
}

impl ExtendedClient {
    /// Deletes a message (plain or extended handle), then its payload object if configured.
    pub async fn delete(
        &self,
        queue_url: &str,
        receipt_handle: &str,
    ) -> Result<PayloadCleanup, ClientError> {
        let handle = ReceiptHandle::parse(receipt_handle)?;
        self.sqs
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(handle.original())
            .send()
            .await
            .map_err(|e| self.sqs_error("DeleteMessage", e))?;
        Ok(self.clean_up(handle.pointer()).await)
    }

    /// Deletes up to 10 messages in one call; only the payloads of entries SQS actually
    /// deleted are cleaned up. Entries are `(id, receipt handle)`.
    pub async fn delete_batch(
        &self,
        queue_url: &str,
        entries: &[(String, String)],
    ) -> Result<BatchDeleted, ClientError> {
        let handles = parse_batch(entries)?;
        let request = handles
            .iter()
            .map(|(id, handle)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(*id)
                    .receipt_handle(handle.original())
                    .build()
                    .map_err(|e| ClientError::InvalidRequest(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(request))
            .send()
            .await
            .map_err(|e| self.sqs_error("DeleteMessageBatch", e))?;
        let pointer_of = |id: &str| {
            handles
                .iter()
                .find(|(entry, _)| *entry == id)
                .and_then(|(_, handle)| handle.pointer())
        };
        let cleanups = join_all(
            output
                .successful
                .iter()
                .map(|ok| self.clean_up(pointer_of(&ok.id))),
        )
        .await;
        Ok(BatchDeleted {
            successful: output
                .successful
                .into_iter()
                .map(|ok| ok.id)
                .zip(cleanups)
                .collect(),
            failed: output.failed.into_iter().map(entry_failure).collect(),
        })
    }

    /// Changes a message's visibility timeout (clamped to 0–43200 s).
    pub async fn change_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        timeout_seconds: i32,
    ) -> Result<(), ClientError> {
        let handle = ReceiptHandle::parse(receipt_handle)?;
        self.sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(handle.original())
            .visibility_timeout(clamp_visibility(timeout_seconds))
            .send()
            .await
            .map_err(|e| self.sqs_error("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Changes the visibility of up to 10 messages; entries are `(id, receipt handle)`.
    pub async fn change_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[(String, String)],
        timeout_seconds: i32,
    ) -> Result<BatchChanged, ClientError> {
        let handles = parse_batch(entries)?;
        let request = handles
            .iter()
            .map(|(id, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(*id)
                    .receipt_handle(handle.original())
                    .visibility_timeout(clamp_visibility(timeout_seconds))
                    .build()
                    .map_err(|e| ClientError::InvalidRequest(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(request))
            .send()
            .await
            .map_err(|e| self.sqs_error("ChangeMessageVisibilityBatch", e))?;
        Ok(BatchChanged {
            successful: output.successful.into_iter().map(|ok| ok.id).collect(),
            failed: output.failed.into_iter().map(entry_failure).collect(),
        })
    }

    async fn clean_up(&self, pointer: Option<&PayloadPointer>) -> PayloadCleanup {
        let Some(pointer) = pointer else {
            return PayloadCleanup::NotOffloaded;
        };
        let (done, operation) = match self.config.payload_cleanup {
            CleanupPolicy::Keep => return PayloadCleanup::Kept(pointer.clone()),
            CleanupPolicy::Deferred => (self.store.expire_later(pointer).await, "PutObjectTagging"),
            CleanupPolicy::Immediate => (self.store.delete(pointer).await, "DeleteObject"),
        };
        match (done, self.config.payload_cleanup) {
            (Ok(()), CleanupPolicy::Deferred) => PayloadCleanup::Deferred(pointer.clone()),
            (Ok(()), _) => PayloadCleanup::Deleted(pointer.clone()),
            (Err(e), _) => {
                PayloadCleanup::Orphaned(pointer.clone(), self.store_error(operation, e))
            }
        }
    }
}

fn parse_batch(entries: &[(String, String)]) -> Result<Vec<(&str, ReceiptHandle)>, ClientError> {
    if entries.is_empty() || entries.len() > MAX_BATCH_ENTRIES {
        return Err(ClientError::BatchSize(entries.len()));
    }
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .map(|(id, handle)| {
            if !seen.insert(id.as_str()) {
                return Err(ClientError::DuplicateEntryId(id.clone()));
            }
            Ok((id.as_str(), ReceiptHandle::parse(handle)?))
        })
        .collect()
}

fn entry_failure(failed: aws_sdk_sqs::types::BatchResultErrorEntry) -> BatchEntryFailure {
    BatchEntryFailure {
        id: failed.id,
        code: failed.code,
        message: failed.message,
        sender_fault: failed.sender_fault,
    }
}
