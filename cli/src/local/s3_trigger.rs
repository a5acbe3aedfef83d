//! The S3 trigger: the local endpoint delivers the bucket's ObjectCreated events to a queue
//! (it cannot invoke Lambda code); this hands each event to the producer handler as Lambda's
//! S3 trigger would. An event whose handling fails stays on the queue and is retried when it
//! reappears, as Lambda retries a failed asynchronous invocation.

use std::sync::Arc;

use aws_lambda_events::s3::S3Event;

/// How one event is delivered; tests inject the faults real S3 has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Once,
    /// S3 delivers events at least once.
    Twice,
    /// A lost event: only the reconcile pass can find its upload.
    Lost,
}

/// Decides each event's delivery (by its object key).
pub type DeliveryPlan = Arc<dyn Fn(&str) -> Delivery + Send + Sync>;

pub fn always_once() -> DeliveryPlan {
    Arc::new(|_| Delivery::Once)
}

/// Reads the events queue until the task is aborted.
pub async fn run(
    producer: Arc<producer::Producer>,
    sqs: aws_sdk_sqs::Client,
    events_url: String,
    plan: DeliveryPlan,
    call_log: Arc<super::call_log::CallLog>,
) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&events_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %claimcheck::sdk_error::SdkFailure::of(&e).message, "s3 trigger: cannot read the events queue");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        for message in messages {
            let handled = match lambda_event(message.body().unwrap_or_default()) {
                None => true, // s3:TestEvent, or not an S3 event: nothing to hand over
                Some(event) => deliver(&producer, event, &plan, &call_log).await,
            };
            if handled {
                let deleted = sqs
                    .delete_message()
                    .queue_url(&events_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await;
                if let Err(e) = deleted {
                    tracing::warn!(error = %claimcheck::sdk_error::SdkFailure::of(&e).message, "s3 trigger: event handled but not deleted; it will be delivered again");
                }
            }
        }
    }
}

/// Invokes the producer with `event` as S3's asynchronous invocation would, `plan` deciding how
/// many times; each invocation's duration goes to `call_log`.
async fn deliver(
    producer: &producer::Producer,
    event: S3Event,
    plan: &DeliveryPlan,
    call_log: &super::call_log::CallLog,
) -> bool {
    let key = event
        .records
        .first()
        .and_then(|r| r.s3.object.key.clone())
        .unwrap_or_default();
    let times = match plan(&key) {
        Delivery::Once => 1,
        Delivery::Twice => 2,
        Delivery::Lost => {
            tracing::warn!(key, "s3 trigger: event lost (injected fault)");
            return true;
        }
    };
    for _ in 0..times {
        let started = std::time::Instant::now();
        let handled = producer::handle(producer, event.clone()).await;
        call_log.invocation("producer", started.elapsed(), event.records.len());
        if let Err(e) = handled {
            tracing::warn!(error = %e, "s3 trigger: producer failed; the event will be retried");
            return false;
        }
    }
    true
}

/// The event as Lambda would pass it, or `None` for the test event S3 sends when a
/// notification is configured (completed by `claimcheck::local_endpoint::complete_s3_event`).
pub fn lambda_event(body: &str) -> Option<S3Event> {
    let completed = claimcheck::local_endpoint::complete_s3_event(body)?;
    serde_json::from_str(&completed).ok()
}

#[cfg(test)]
mod tests {
    use super::lambda_event;

    #[test]
    fn the_endpoint_event_becomes_lambda_event_and_test_events_are_skipped() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2026-11-25T00:00:00.000Z","eventName":"ObjectCreated:Put",
            "s3":{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{"name":"b","arn":"arn:aws:s3:::b"},
            "object":{"key":"uploads%2Fa+b","size":5,"eTag":"e","sequencer":"1"}}}]}"#;
        let event = lambda_event(body).expect("an event");
        assert_eq!(
            event.records[0].s3.object.key.as_deref(),
            Some("uploads%2Fa+b")
        );
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;
        assert!(lambda_event(test_event).is_none());
    }
}
