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

use super::call_log::CallLog;

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
    call_log: Arc<CallLog>,
) {
    loop {
        let batch = gather(&sqs, &mapping).await;
        if batch.is_empty() {
            continue;
        }
        invoke(&consumer, &sqs, &mapping, &batch, &call_log).await;
    }
}

/// One invocation of the consumer over `batch`, as Lambda runs it: the handler gets the batch
/// as an SQS event with the function's deadline, is killed at its timeout, and the records it
/// did not report as failed are deleted. The invocation's duration goes to `call_log`.
pub async fn invoke<P: Processor>(
    consumer: &Consumer<P>,
    sqs: &aws_sdk_sqs::Client,
    mapping: &Mapping,
    batch: &[Message],
    call_log: &CallLog,
) {
    let event = sqs_event(batch, mapping);
    let deadline = SystemTime::now() + mapping.timeout;
    let invocation = consumer::handle(consumer, event, deadline);
    let started = Instant::now();
    // Lambda ends an invocation at its timeout, wherever it is.
    let invoked = tokio::time::timeout(mapping.timeout, invocation).await;
    call_log.invocation("consumer", started.elapsed(), batch.len());
    let Ok(response) = invoked else {
        tracing::warn!(
            records = batch.len(),
            "event source: invocation timed out and was killed mid-batch; nothing deleted"
        );
        return;
    };
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(records = batch.len(), error = %e, "event source: invocation failed; nothing deleted");
            return;
        }
    };
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    let Some(done) = succeeded(batch, &failed) else {
        tracing::warn!(
            records = batch.len(),
            "event source: a batch item failure names no record of the batch; the whole batch failed, nothing deleted"
        );
        return;
    };
    tracing::info!(
        records = batch.len(),
        failed = batch.len() - done.len(),
        "event source: batch invoked"
    );
    delete(sqs, &mapping.queue_url, &done).await;
}

/// The records to delete after an invocation that reported `failed` (batch item failures'
/// `itemIdentifier`s), or `None` when the whole batch failed: Lambda fails the whole batch when a
/// failure names no record of it (an empty or unknown identifier), and then nothing is deleted
/// and every record comes back. (Source: AWS, "Handling errors for an SQS event source in
/// Lambda", partial batch responses.)
fn succeeded<'a>(batch: &'a [Message], failed: &[String]) -> Option<Vec<&'a Message>> {
    let ids: HashSet<&str> = batch.iter().filter_map(Message::message_id).collect();
    if failed.iter().any(|id| !ids.contains(id.as_str())) {
        return None;
    }
    Some(
        batch
            .iter()
            .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .collect(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> Message {
        Message::builder().message_id(id).build()
    }

    #[test]
    fn a_failure_naming_no_record_fails_the_whole_batch() {
        let batch = [message("m1"), message("m2"), message("m3")];
        fn ids(done: Option<Vec<&Message>>) -> Option<Vec<String>> {
            done.map(|d| {
                d.iter()
                    .filter_map(|m| m.message_id())
                    .map(str::to_owned)
                    .collect()
            })
        }
        assert_eq!(
            ids(succeeded(&batch, &[])),
            Some(vec!["m1".to_owned(), "m2".into(), "m3".into()])
        );
        assert_eq!(
            ids(succeeded(&batch, &["m2".into()])),
            Some(vec!["m1".to_owned(), "m3".into()])
        );
        assert_eq!(
            ids(succeeded(&batch, &["".into()])),
            None,
            "an empty identifier"
        );
        assert_eq!(
            ids(succeeded(&batch, &["m2".into(), "m9".into()])),
            None,
            "an identifier of no record"
        );
    }
}
