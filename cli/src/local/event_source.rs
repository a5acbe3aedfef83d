//! The consumer's SQS event source mapping, as AWS runs it: long polls the work queue,
//! gathers a batch (up to the batch size, or whatever arrived within the batching window),
//! invokes the handler with a deadline, deletes the records the handler did not report as
//! failed, and leaves the failed ones to reappear after the visibility timeout — so receive
//! counts grow and the queue's redrive policy moves poison messages to the DLQ, as in AWS.
//! An invocation that dies (killed, crashed) deletes nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use claimcheck::processor::Processor;
use consumer::Consumer;

#[derive(Debug, Clone)]
pub struct Mapping {
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: i32,
    pub batching_window: Duration,
    /// The function's timeout: each invocation's deadline.
    pub timeout: Duration,
}

/// Polls and invokes until the task is aborted.
pub async fn run<P: Processor + 'static>(
    consumer: Arc<Consumer<P>>,
    sqs: aws_sdk_sqs::Client,
    mapping: Mapping,
) {
    loop {
        let batch = gather(&sqs, &mapping).await;
        if batch.is_empty() {
            continue;
        }
        let event = sqs_event(&batch, &mapping);
        let deadline = SystemTime::now() + mapping.timeout;
        let invocation = consumer::handle(&consumer, event, deadline);
        // Lambda ends an invocation at its timeout, wherever it is.
        let Ok(response) = tokio::time::timeout(mapping.timeout, invocation).await else {
            tracing::warn!(
                records = batch.len(),
                "event source: invocation timed out and was killed mid-batch; nothing deleted"
            );
            continue;
        };
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        let done: Vec<&Message> = batch
            .iter()
            .filter(|m| !failed.contains(m.message_id().unwrap_or_default()))
            .collect();
        tracing::info!(
            records = batch.len(),
            failed = failed.len(),
            "event source: batch invoked"
        );
        delete(&sqs, &mapping.queue_url, &done).await;
    }
}

/// One batch: up to the batch size, waiting at most the batching window once something came.
async fn gather(sqs: &aws_sdk_sqs::Client, mapping: &Mapping) -> Vec<Message> {
    let mut batch = Vec::new();
    let started = Instant::now();
    loop {
        let want = (mapping.batch_size - batch.len() as i32).clamp(1, 10);
        let wait = if batch.is_empty() {
            2
        } else {
            mapping
                .batching_window
                .saturating_sub(started.elapsed())
                .as_secs()
                .min(20) as i32
        };
        let received = sqs
            .receive_message()
            .queue_url(&mapping.queue_url)
            .max_number_of_messages(want)
            .wait_time_seconds(wait)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        match received {
            Ok(out) => batch.extend(out.messages.unwrap_or_default()),
            Err(e) => {
                tracing::warn!(error = %claimcheck::sdk_error::SdkFailure::of(&e).message, "event source: receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return batch;
            }
        }
        let full = batch.len() as i32 >= mapping.batch_size;
        if full || (!batch.is_empty() && started.elapsed() >= mapping.batching_window) {
            return batch;
        }
        if batch.is_empty() {
            return batch;
        }
    }
}

/// The batch as Lambda hands it to the function: each message as an `SqsMessage` record.
fn sqs_event(batch: &[Message], mapping: &Mapping) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = batch.iter().map(|m| sqs_record(m, mapping)).collect();
    event
}

fn sqs_record(message: &Message, mapping: &Mapping) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id.clone();
    record.receipt_handle = message.receipt_handle.clone();
    record.body = message.body.clone();
    record.md5_of_body = message.md5_of_body.clone();
    record.md5_of_message_attributes = message.md5_of_message_attributes.clone();
    record.attributes = message
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    record.message_attributes = message
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(name, value)| {
                    let mut attribute = SqsMessageAttribute::default();
                    attribute.string_value = value.string_value.clone();
                    attribute.binary_value = value.binary_value.as_ref().map(|b| {
                        let mut data = Base64Data::default();
                        *data = b.clone().into_inner();
                        data
                    });
                    attribute.data_type = Some(value.data_type.clone());
                    (name.clone(), attribute)
                })
                .collect()
        })
        .unwrap_or_default();
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = Some(mapping.queue_arn.clone());
    record.aws_region = Some(mapping.region.clone());
    record
}

async fn delete(sqs: &aws_sdk_sqs::Client, queue_url: &str, done: &[&Message]) {
    for chunk in done.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        let deleted = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match deleted {
            Ok(out) if !out.failed().is_empty() => {
                tracing::warn!(
                    failed = out.failed().len(),
                    "event source: some deletes failed; those records will be delivered again"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %claimcheck::sdk_error::SdkFailure::of(&e).message, "event source: delete failed; the batch will be delivered again");
            }
        }
    }
}
