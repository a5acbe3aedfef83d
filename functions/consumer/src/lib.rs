//! consumer: handles a batch of SQS records from the work queue (event source mapping with
//! `ReportBatchItemFailures`) and returns the records to retry.
//!
//! For each record: resolve the pointer (both attribute names, legacy class name, inline bodies
//! pass through; only trusted buckets), claim the payload in the ledger (a lease; a payload
//! already `done` is acknowledged and skipped; one leased by a live invocation is retried
//! later), stream the body through the `Processor`, and record the outcome:
//! - done → ledger `done` (digest recorded), object kept or deleted per setting;
//! - retryable → a batch item failure, ledger `failed`, or `dead` on the last allowed receive
//!   (SQS then moves the message to the DLQ);
//! - permanent (malformed pointer, untrusted bucket, object gone, processor says so) → the
//!   message is sent to the DLQ with a `claimcheck_park_reason` attribute, ledger `dead` with
//!   the reason, and acknowledged: nothing is lost and nothing loops.
//!
//! A panic inside the processor is contained and reported for that record. Near the
//! invocation deadline no new record is started; the untouched ones are reported as failures.
//! On a FIFO queue the first failure fails every later record of the batch too (ordering).
//! Deduplication is keyed on the payload id, never on the SQS message id, so a redriven copy
//! is recognised.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use claimcheck::extended_client::{
    MessageBody, ReceivedMessage, UnresolvedMessage, record_attributes,
};
use claimcheck::ledger::{Changes, Ledger, PayloadRecord, Status, Step, Transition};
use claimcheck::message_attributes::to_sdk_map;
use claimcheck::metrics::{Metrics, ParkClass};
use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor};
use claimcheck::settings::{self, SettingsError, Source};
use claimcheck::sqs_limits;
use claimcheck::{
    ClientError, ExtendedClient, ExtendedClientConfig, MessageAttribute, PayloadStore,
};
use futures::FutureExt;

/// The longest lease (SQS's longest visibility timeout).
pub const MAX_LEASE: Duration = claimcheck::sqs_limits::MAX_VISIBILITY_TIMEOUT;

pub use claimcheck::message_attributes::{
    PARK_REASON as PARK_REASON_ATTRIBUTE, PAYLOAD_ID as PAYLOAD_ID_ATTRIBUTE,
};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `CLAIMCHECK_BUCKET`: the payload bucket, trusted.
    pub bucket: String,
    /// `CLAIMCHECK_TRUSTED_BUCKETS`: more buckets whose pointers may be followed.
    pub trusted_buckets: Vec<String>,
    /// `CLAIMCHECK_TABLE`
    pub table: String,
    /// `CLAIMCHECK_DLQ_URL`: where permanent failures are parked.
    pub dlq_url: String,
    /// `CLAIMCHECK_MAX_RECEIVE_COUNT`: the work queue's redrive maxReceiveCount (default 5).
    pub max_receive_count: u32,
    /// `CLAIMCHECK_LEASE_SECONDS`: how long a claim holds (default 900, Lambda's maximum run).
    pub lease: Duration,
    /// `CLAIMCHECK_DELETE_AFTER_DONE`: delete the object once done (default false: the
    /// bucket's lifecycle rule expires it, and presign-download can still serve it).
    pub delete_after_done: bool,
    /// Records are not started with less than this left before the deadline (5 s).
    pub deadline_margin: Duration,
    /// `CLAIMCHECK_MAX_PAYLOAD_BYTES`: the largest payload this consumer can stream within its
    /// timeout (its measured rate × its timeout; `None`, the default: no limit). A larger
    /// payload is parked on its first attempt with that reason, instead of running out of time
    /// on every receive until the redrive policy moves it.
    pub max_payload_bytes: Option<u64>,
}

impl Settings {
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        Ok(Self {
            bucket: settings::required(source, "CLAIMCHECK_BUCKET")?,
            trusted_buckets: settings::list(source, "CLAIMCHECK_TRUSTED_BUCKETS"),
            table: settings::required(source, "CLAIMCHECK_TABLE")?,
            dlq_url: settings::required(source, "CLAIMCHECK_DLQ_URL")?,
            max_receive_count: settings::parsed_or(source, "CLAIMCHECK_MAX_RECEIVE_COUNT", 5u32)?,
            lease: settings::seconds(source, "CLAIMCHECK_LEASE_SECONDS", 900, MAX_LEASE)?,
            delete_after_done: settings::parsed_or(source, "CLAIMCHECK_DELETE_AFTER_DONE", false)?,
            deadline_margin: Duration::from_secs(5),
            max_payload_bytes: settings::parsed_or(source, "CLAIMCHECK_MAX_PAYLOAD_BYTES", 0u64)
                .map(|limit| (limit > 0).then_some(limit))?,
        })
    }
}

/// The handler's dependencies.
pub struct Consumer<P> {
    pub client: ExtendedClient,
    pub ledger: Ledger,
    pub settings: Settings,
    pub processor: P,
    /// Who holds leases taken by this process.
    pub owner: String,
    /// Its CloudWatch metrics (function `consumer`): `RecordsReceived`, `PayloadsDone`,
    /// `PayloadsAlreadyDone`, `PayloadsRetried`, `PayloadsParked` by `reason`
    /// ([`ParkClass`]), `ProcessingSeconds` and `BytesProcessed` per payload processed,
    /// `UploadToDoneSeconds` (ledger creation to `done`), `ColdStart`.
    pub metrics: Arc<Metrics>,
}

impl<P: Processor> Consumer<P> {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        settings: Settings,
        processor: P,
    ) -> Result<Self, ClientError> {
        let mut config = ExtendedClientConfig::new(&settings.bucket);
        config.trusted_buckets = settings.trusted_buckets.iter().cloned().collect();
        let client = ExtendedClient::new(
            aws_sdk_sqs::Client::new(sdk),
            PayloadStore::new(aws_sdk_s3::Client::new(sdk)),
            config,
        )?;
        Ok(Self {
            client,
            ledger: Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table),
            settings,
            processor,
            owner: format!("consumer-{}", uuid::Uuid::new_v4()),
            metrics: Arc::new(Metrics::from_source("consumer", &settings::Environment)),
        })
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Done,
    /// Already done: acknowledged without processing.
    AlreadyDone,
    /// Sent to the DLQ with a reason and acknowledged.
    Parked(String),
    /// To be received again (a batch item failure).
    Retry(String),
    /// Failed on its last allowed receive: a batch item failure, after which SQS's redrive
    /// policy moves the message to the DLQ (the ledger says `dead`).
    DeadLettered(String),
}

impl Handled {
    fn is_failure(&self) -> bool {
        matches!(self, Self::Retry(_) | Self::DeadLettered(_))
    }
}

/// In words, for log lines: `done`, `already done`, `parked: REASON`, `retried: REASON`,
/// `dead-lettered: REASON`.
impl std::fmt::Display for Handled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Done => f.write_str("done"),
            Self::AlreadyDone => f.write_str("already done"),
            Self::Parked(reason) => write!(f, "parked: {reason}"),
            Self::Retry(reason) => write!(f, "retried: {reason}"),
            Self::DeadLettered(reason) => write!(f, "dead-lettered: {reason}"),
        }
    }
}

/// A batch the consumer refuses whole: Lambda then retries every record of it.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A record has no message id, so no batch item failure could name it: reporting an empty
    /// `itemIdentifier` makes Lambda fail the whole batch anyway, so the consumer says so
    /// itself, before processing anything.
    #[error("record {index} of the batch has no message id; the whole batch is retried")]
    MissingMessageId {
        /// The record's position in the batch.
        index: usize,
    },
}

/// Handles a batch; the response lists the records to retry (by message id, never empty).
///
/// # Errors
/// [`BatchError`] when the batch cannot be answered record by record; nothing was processed.
pub async fn handle<P: Processor>(
    deps: &Consumer<P>,
    event: SqsEvent,
    deadline: SystemTime,
) -> Result<SqsBatchResponse, BatchError> {
    if let Some(index) = event
        .records
        .iter()
        .position(|r| r.message_id.as_deref().is_none_or(str::is_empty))
    {
        return Err(BatchError::MissingMessageId { index });
    }
    let mut response = SqsBatchResponse::default();
    let fifo = event
        .records
        .first()
        .and_then(|r| r.event_source_arn.as_deref())
        .is_some_and(|arn| arn.ends_with(".fifo"));
    // FIFO: a failed record holds back the later records of its own message group only (they
    // must not overtake it); other groups go on. (Powertools' semantics for partial batch
    // responses on FIFO queues.)
    let mut failed_groups: HashSet<&str> = HashSet::new();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let group = record
            .attributes
            .get("MessageGroupId")
            .map_or("", String::as_str);
        let remaining = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let (payload_id, handled) = if fifo && failed_groups.contains(group) {
            let why = format!("an earlier record of message group {group:?} failed in this batch");
            (None, Handled::Retry(why))
        } else if remaining < deps.settings.deadline_margin {
            let why = "not started: the invocation is near its deadline".to_owned();
            (None, Handled::Retry(why))
        } else {
            // Boxed: the nested SDK futures are too deep for the compiler to lay out inline.
            Box::pin(consume(deps, record)).await
        };
        let payload_id = payload_id.as_deref().unwrap_or("");
        deps.metrics.count("RecordsReceived", 1);
        match &handled {
            Handled::Done => deps.metrics.count("PayloadsDone", 1),
            Handled::AlreadyDone => deps.metrics.count("PayloadsAlreadyDone", 1),
            Handled::Retry(_) => deps.metrics.count("PayloadsRetried", 1),
            Handled::DeadLettered(_) => deps.metrics.count_by(
                "PayloadsParked",
                "reason",
                ParkClass::RetriesExhausted.as_str(),
                1,
            ),
            // Counted by reason where it is parked.
            Handled::Parked(_) => {}
        }
        // (A park, and a last failed receive, are logged at WARN where they happen.)
        tracing::info!(message_id = %id, payload_id, outcome = %handled, "record handled");
        if handled.is_failure() {
            failed_groups.insert(group);
            response.add_failure(id);
        }
        // After each record, not once per batch: an invocation cut off by its timeout keeps
        // the metrics of the records it finished.
        deps.metrics.flush();
    }
    Ok(response)
}

/// Handles one record; answers with its payload id (when the message names one) for the log.
async fn consume<P: Processor>(
    deps: &Consumer<P>,
    record: &SqsMessage,
) -> (Option<String>, Handled) {
    let named = record
        .message_attributes
        .get(PAYLOAD_ID_ATTRIBUTE)
        .and_then(|a| a.string_value.clone());
    (named, consume_record(deps, record).await)
}

async fn consume_record<P: Processor>(deps: &Consumer<P>, record: &SqsMessage) -> Handled {
    let message = match deps.client.resolve_lambda_record(record).await {
        Ok(message) => message,
        Err(unresolved) => return unresolvable(deps, record, unresolved).await,
    };
    let payload_id = message
        .attributes
        .get(PAYLOAD_ID_ATTRIBUTE)
        .and_then(MessageAttribute::as_str)
        .map(str::to_owned);
    let Some(payload_id) = payload_id else {
        // Not one of ours (a plain extended-client message): processed without a ledger.
        return match process(deps, message, None).await {
            Outcome::Done { .. } => Handled::Done,
            Outcome::Retry(reason) => Handled::Retry(reason),
            Outcome::Permanent(reason) => {
                park(deps, record, None, ParkClass::Rejected, reason).await
            }
        };
    };
    let claimed = match deps
        .ledger
        .claim(
            &payload_id,
            &deps.owner,
            deps.settings.lease,
            record.message_id.as_deref().unwrap_or_default(),
        )
        .await
    {
        Ok(Transition::Applied(claimed)) => claimed,
        Ok(Transition::Rejected(Some(current))) if current.status == Status::Done => {
            return Handled::AlreadyDone;
        }
        Ok(Transition::Rejected(Some(current))) if current.status == Status::Processing => {
            return Handled::Retry(format!(
                "payload {payload_id} is leased by {:?}",
                current.lease_owner
            ));
        }
        // Still `pending`: this pointer overtook its admission (a send whose answer was lost,
        // after which the producer returned the payload to `pending` and will admit it again).
        // Not a casualty to dead-letter: received again later, it finds the payload claimable.
        Ok(Transition::Rejected(Some(current))) if current.status == Status::Pending => {
            return Handled::Retry(format!(
                "payload {payload_id} is still pending: its admission is not recorded yet"
            ));
        }
        Ok(Transition::Rejected(current)) => {
            let state = current.map_or("unknown".to_owned(), |c| c.status.to_string());
            let reason = format!("payload {payload_id} cannot be processed from state {state}");
            return park(deps, record, None, ParkClass::State, reason).await;
        }
        Err(e) => return Handled::Retry(format!("ledger: {e}")),
    };
    if let Some(limit) = deps.settings.max_payload_bytes
        && claimed.size > limit
    {
        let reason = format!(
            "payload of {} bytes is over the {limit} bytes this consumer can stream within its timeout (CLAIMCHECK_MAX_PAYLOAD_BYTES); give the consumer more time and memory and a higher limit, then redrive it",
            claimed.size
        );
        return park(deps, record, Some(&payload_id), ParkClass::TooLarge, reason).await;
    }
    let receive_count = receive_count(record);
    match process(deps, message, Some(&claimed)).await {
        Outcome::Done { sha256 } => {
            let object = claimed.object.clone();
            let done = Changes {
                sha256,
                release_lease: true,
                clear_last_error: true,
                ..Changes::default()
            };
            match deps.ledger.step(&payload_id, Step::Finish, &done).await {
                Ok(Transition::Applied(finished)) => deps.metrics.seconds(
                    "UploadToDoneSeconds",
                    Duration::from_millis(
                        u64::try_from(finished.updated_at - finished.created_at).unwrap_or(0),
                    ),
                ),
                Ok(Transition::Rejected(_)) => {}
                Err(e) => return Handled::Retry(format!("ledger: {e}")),
            }
            if deps.settings.delete_after_done
                && let Err(e) = deps.client.store().delete(&object).await
            {
                tracing::warn!(payload_id, error = %e, "done, but the object could not be deleted; the lifecycle rule will");
            }
            Handled::Done
        }
        Outcome::Retry(reason) => {
            let last = receive_count >= deps.settings.max_receive_count;
            let step = if last { Step::FailLast } else { Step::Fail };
            let changes = Changes {
                last_error: Some(reason.clone()),
                release_lease: true,
                ..Changes::default()
            };
            if let Err(e) = deps.ledger.step(&payload_id, step, &changes).await {
                tracing::error!(payload_id, error = %e, "could not record the failure");
            }
            if last {
                // SQS's redrive policy moves the message to the DLQ after this receive.
                tracing::warn!(
                    payload_id,
                    receive_count,
                    %reason,
                    "the last receive failed: the message is dead-lettered"
                );
                return Handled::DeadLettered(reason);
            }
            Handled::Retry(reason)
        }
        Outcome::Permanent(reason) => {
            park(deps, record, Some(&payload_id), ParkClass::Rejected, reason).await
        }
    }
}

/// Runs the processor on a resolved message, containing panics.
async fn process<P: Processor>(
    deps: &Consumer<P>,
    message: ReceivedMessage,
    record: Option<&PayloadRecord>,
) -> Outcome {
    let receive_count = message.receive_count().unwrap_or(1);
    let (size, object, body): (u64, _, Body) = match message.body {
        MessageBody::Inline(text) => (
            text.len() as u64,
            None,
            Box::new(std::io::Cursor::new(text.into_bytes())),
        ),
        MessageBody::Offloaded {
            pointer,
            declared_size,
            payload,
        } => (
            declared_size,
            Some(pointer),
            Box::new(payload.into_async_read()),
        ),
    };
    let meta = PayloadMeta {
        id: record.map(|r| r.id.clone()),
        object,
        size,
        content_type: record.and_then(|r| r.content_type.clone()),
        sha256: record.and_then(|r| r.sha256.clone()),
        attributes: message.attributes,
        receive_count,
    };
    let started = std::time::Instant::now();
    match AssertUnwindSafe(deps.processor.process(&meta, body))
        .catch_unwind()
        .await
    {
        Ok(outcome) => {
            if let Outcome::Done { .. } = &outcome {
                deps.metrics.seconds("ProcessingSeconds", started.elapsed());
                deps.metrics.bytes("BytesProcessed", size);
            }
            outcome
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Retry(format!("the processor panicked: {what}"))
        }
    }
}

/// A record that cannot be resolved: retried if the cause may pass, parked otherwise.
async fn unresolvable<P: Processor>(
    deps: &Consumer<P>,
    record: &SqsMessage,
    unresolved: UnresolvedMessage,
) -> Handled {
    if unresolved.error.is_transient() {
        return Handled::Retry(unresolved.error.to_string());
    }
    let payload_id = unresolved
        .raw_attributes
        .get(PAYLOAD_ID_ATTRIBUTE)
        .and_then(MessageAttribute::as_str)
        .map(str::to_owned);
    // The ledger before S3: a payload the ledger knows is done is acknowledged as done, whatever
    // became of its object (deleted after done, or expired) — a duplicate copy of its pointer
    // is not a failure.
    if let Some(id) = &payload_id {
        match deps.ledger.get(id).await {
            Ok(Some(record)) if record.status == Status::Done => return Handled::AlreadyDone,
            Ok(_) => {}
            Err(e) if e.is_transient() => return Handled::Retry(e.to_string()),
            Err(e) => {
                tracing::warn!(payload_id = %id, error = %e, "cannot read the ledger item of an unresolvable message");
            }
        }
    }
    park(
        deps,
        record,
        payload_id.as_deref(),
        ParkClass::Unresolvable,
        unresolved.error.to_string(),
    )
    .await
}

/// The message group a parked message keeps in a FIFO DLQ (SQS refuses a FIFO send without
/// one): its own, else its payload's id.
fn park_group(record: &SqsMessage, payload_id: Option<&str>) -> String {
    record
        .attributes
        .get("MessageGroupId")
        .cloned()
        .or_else(|| payload_id.map(str::to_owned))
        .unwrap_or_else(|| "claimcheck-parked".to_owned())
}

/// Sends the message, unchanged, to the DLQ with the reason, and marks its payload `dead`.
/// If the DLQ send fails the record is retried instead, so nothing is lost. A FIFO DLQ gets
/// the message's group and its message id as the deduplication id (a retried park within
/// SQS's 5-minute window is not a second copy).
async fn park<P: Processor>(
    deps: &Consumer<P>,
    record: &SqsMessage,
    payload_id: Option<&str>,
    class: ParkClass,
    reason: String,
) -> Handled {
    let fifo_dlq = deps.settings.dlq_url.ends_with(".fifo");
    let mut attributes = record_attributes(record);
    // The reason rides along only where it fits: never an 11th attribute, never past SQS's
    // size limit (the message must stay sendable). Otherwise the ledger (for our payloads) and
    // this log keep it.
    let noted = MessageAttribute::string(truncate(&reason, 1024));
    let body_len = record.body.as_deref().map_or(0, str::len);
    let size = body_len
        + claimcheck::message_attributes::attributes_wire_size(&attributes)
        + noted.wire_size(PARK_REASON_ATTRIBUTE);
    if attributes.len() < sqs_limits::MAX_MESSAGE_ATTRIBUTES
        && size <= sqs_limits::MAX_MESSAGE_BYTES
    {
        attributes.insert(PARK_REASON_ATTRIBUTE.to_owned(), noted);
    } else {
        tracing::warn!(
            message_id = record.message_id.as_deref().unwrap_or(""),
            %reason,
            "no room on the message for the park reason: parked without it"
        );
    }
    let attributes = match to_sdk_map(&attributes) {
        Ok(attributes) => attributes,
        Err(e) => return Handled::Retry(format!("cannot park: {e}")),
    };
    let sent = deps
        .client
        .sqs()
        .send_message()
        .queue_url(&deps.settings.dlq_url)
        .message_body(record.body.clone().unwrap_or_default())
        .set_message_attributes((!attributes.is_empty()).then_some(attributes))
        .set_message_group_id(fifo_dlq.then(|| park_group(record, payload_id)))
        .set_message_deduplication_id(fifo_dlq.then(|| record.message_id.clone()).flatten())
        .send()
        .await;
    if let Err(e) = sent {
        return Handled::Retry(format!(
            "cannot park ({reason}): {}",
            claimcheck::sdk_error::SdkFailure::of(&e).message
        ));
    }
    if let Some(id) = payload_id {
        let changes = Changes {
            last_error: Some(reason.clone()),
            release_lease: true,
            ..Changes::default()
        };
        if let Err(e) = deps.ledger.step(id, Step::Park, &changes).await {
            tracing::error!(payload_id = id, error = %e, "parked, but the ledger could not record it");
        }
    }
    tracing::warn!(
        message_id = record.message_id.as_deref().unwrap_or(""),
        payload_id = payload_id.unwrap_or(""),
        %reason,
        "message parked in the DLQ"
    );
    deps.metrics
        .count_by("PayloadsParked", "reason", class.as_str(), 1);
    Handled::Parked(reason)
}

fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
