//! `redrive`: DLQ → work queue, one checked message at a time.
//!
//! Order of writes for a message that goes back: ledger `→ redriven` (so the consumer will
//! claim it), send to the work queue, delete from the DLQ. A crash or failure after the send
//! leaves a copy in the DLQ (a duplicate the ledger absorbs); before it, nothing has moved.
//! Messages that stay (parked, skipped, failed, or everything in a dry run) are hidden while
//! the run reads on, so each is examined once, and made visible again when it ends.

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::PayloadPointer;
use crate::ledger::{Changes, PayloadRecord, Status, Step, Transition};
use crate::message_attributes::{PARK_REASON, PAYLOAD_ID, REDRIVE_COUNT};
use crate::sdk_error::SdkFailure;
use crate::size_attribute::is_reserved;
use crate::sqs_limits::{
    MAX_BATCH_ENTRIES, MAX_MESSAGE_ATTRIBUTES as MAX_ATTRIBUTES, MAX_MESSAGE_BYTES,
};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageAttributeValue,
    MessageSystemAttributeName,
};
use serde::Serialize;

use super::{Budget, RepairError, Repairer, Request};

/// Counts of a redrive run, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RedriveStats {
    /// DLQ messages examined.
    pub scanned: u32,
    /// Messages sent back to the work queue (in a dry run: that would be).
    pub redriven: u32,
    /// Messages left parked in the DLQ: payload object gone, pointer unreadable or into an
    /// untrusted bucket, redriven too often, or a payload the consumer would refuse.
    pub parked: u32,
    /// Messages left alone (not selected by the filter, payload being processed or moved on
    /// meanwhile), plus stale copies of `done` payloads deleted from the DLQ.
    pub skipped: u32,
    /// Messages whose check or move failed (ledger, S3 or SQS error); left in the DLQ for the next
    /// run.
    pub failed: u32,
}

/// What a redrive run did; serialized to JSON for operators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedriveReport {
    /// Whether this was a dry run: nothing was changed, and each verdict is what would have been
    /// done.
    pub dry_run: bool,
    /// False when the run stopped before the DLQ was exhausted.
    pub complete: bool,
    /// Why the run stopped early (`max_messages` reached, the deadline near, the DLQ unreadable);
    /// `None` when it read the DLQ to the end.
    pub stopped_because: Option<String>,
    /// Counts by outcome.
    pub stats: RedriveStats,
    /// One entry per message examined: what was done (or, in a dry run, would be).
    pub actions: Vec<MessageAction>,
}

/// What was done with one DLQ message (or, in a dry run, would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageAction {
    /// The DLQ message's SQS message id.
    pub message_id: String,
    /// Its payload's ledger id, from the `payload_id` message attribute; `None` when the message
    /// has none.
    pub payload_id: Option<String>,
    /// The outcome.
    pub verdict: Verdict,
    /// Why, in words (`its payload object is gone`, `redriven 3 times already (limit 3)`, ...).
    pub reason: String,
}

/// The outcome for one DLQ message; `redrive`, `park`, `skip`, `remove_done` or `fail` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Sent back to the work queue.
    Redrive,
    /// Left in the DLQ: its payload is gone, it was redriven too often, or it cannot succeed.
    Park,
    /// Left in the DLQ: not selected by the filter, or its payload is being processed.
    Skip,
    /// Its payload is `done` already: the stale copy is deleted from the DLQ.
    RemoveDone,
    /// Something failed (ledger, S3, SQS); left in the DLQ for the next run.
    Fail,
}

/// One DLQ message and what we know about it.
struct Parked {
    message: Message,
    payload_id: Option<String>,
    record: Option<PayloadRecord>,
    /// The ledger could not be read: nothing is decided about this message.
    ledger_error: Option<String>,
    redrive_count: u32,
}

/// Runs the redrive mode.
pub async fn redrive(deps: &Repairer, request: &Request, budget: &Budget) -> RedriveReport {
    let mut report = RedriveReport {
        dry_run: request.dry_run,
        complete: false,
        stopped_because: None,
        stats: RedriveStats::default(),
        actions: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    loop {
        if let Some(why) = budget.exhausted(report.stats.scanned) {
            report.stopped_because = Some(why.into());
            break;
        }
        let want = budget.remaining(report.stats.scanned, MAX_BATCH_ENTRIES as u32);
        let messages = match receive(deps, want as i32).await {
            Ok(messages) => messages,
            Err(e) => {
                report.stopped_because = Some(format!("cannot read the DLQ: {e}"));
                break;
            }
        };
        let fresh: Vec<Message> = messages
            .into_iter()
            .filter(|m| seen.insert(m.message_id.clone().unwrap_or_default()))
            .collect();
        if fresh.is_empty() {
            report.complete = true;
            break;
        }
        for message in fresh {
            report.stats.scanned += 1;
            let parked = Box::pin(inspect(deps, message)).await;
            let (verdict, reason) = match examine(deps, request, &parked).await {
                (verdict, reason) if request.dry_run => (verdict, reason),
                (verdict, reason) => Box::pin(apply(deps, &parked, verdict, reason)).await,
            };
            let left_in_dlq =
                request.dry_run || !matches!(verdict, Verdict::Redrive | Verdict::RemoveDone);
            tally(&mut report.stats, verdict);
            tracing::info!(message_id = ?parked.message.message_id, payload_id = ?parked.payload_id, ?verdict, %reason, dry_run = request.dry_run, "DLQ message examined");
            report.actions.push(MessageAction {
                message_id: parked.message.message_id.clone().unwrap_or_default(),
                payload_id: parked.payload_id.clone(),
                verdict,
                reason,
            });
            if left_in_dlq && let Some(handle) = parked.message.receipt_handle {
                kept.push(handle);
            }
        }
    }
    release(deps, &kept).await;
    report
}

fn tally(stats: &mut RedriveStats, verdict: Verdict) {
    match verdict {
        Verdict::Redrive => stats.redriven += 1,
        Verdict::Park => stats.parked += 1,
        Verdict::Skip | Verdict::RemoveDone => stats.skipped += 1,
        Verdict::Fail => stats.failed += 1,
    }
}

async fn receive(deps: &Repairer, max: i32) -> Result<Vec<Message>, RepairError> {
    deps.sqs
        .receive_message()
        .queue_url(&deps.settings.dlq_url)
        .max_number_of_messages(max.clamp(1, MAX_BATCH_ENTRIES as i32))
        .visibility_timeout(deps.settings.visibility.as_secs() as i32)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map(|out| out.messages.unwrap_or_default())
        .map_err(|e| RepairError::sqs("ReceiveMessage", &e))
}

/// Reads the message's attributes and its payload's ledger item.
async fn inspect(deps: &Repairer, message: Message) -> Parked {
    let attribute = |name: &str| {
        message
            .message_attributes
            .as_ref()
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value.clone())
    };
    let payload_id = attribute(PAYLOAD_ID);
    let counted: u32 = attribute(REDRIVE_COUNT)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let (record, ledger_error) = match &payload_id {
        Some(id) => match deps.ledger.get(id).await {
            Ok(record) => (record, None),
            Err(e) => (None, Some(e.to_string())),
        },
        None => (None, None),
    };
    // The ledger's count holds where the message had no room for the attribute.
    let redrive_count = counted.max(record.as_ref().map_or(0, |r| r.redrives));
    Parked {
        message,
        payload_id,
        record,
        ledger_error,
        redrive_count,
    }
}

/// Decides what to do with a message, reading but changing nothing.
async fn examine(deps: &Repairer, request: &Request, parked: &Parked) -> (Verdict, String) {
    let filter = &request.filter;
    let selected = |id: &String| filter.payload_ids.contains(id);
    if !filter.payload_ids.is_empty() && !parked.payload_id.as_ref().is_some_and(selected) {
        return (Verdict::Skip, "not among the filter's payload ids".into());
    }
    if let Some(e) = &parked.ledger_error {
        return (Verdict::Fail, format!("ledger: {e}"));
    }
    if let Some(min_age) = filter.min_age_seconds
        && age_seconds(&parked.message).is_none_or(|age| age < min_age)
    {
        return (Verdict::Skip, format!("younger than {min_age} s"));
    }
    if let Some(wanted) = &filter.reason {
        let reason = park_reason(parked).unwrap_or_default().to_lowercase();
        if !reason.contains(&wanted.to_lowercase()) {
            return (
                Verdict::Skip,
                format!("its reason does not mention {wanted:?}"),
            );
        }
    }
    if let Some(record) = &parked.record {
        match record.status {
            Status::Done => return (Verdict::RemoveDone, "its payload is done already".into()),
            Status::Pending | Status::Expired | Status::Quarantined => {
                return (
                    Verdict::Park,
                    format!(
                        "its payload is {}: the consumer would refuse it",
                        record.status
                    ),
                );
            }
            Status::Processing
                if record
                    .lease_expires_at
                    .is_some_and(|until| until > deps.ledger.now()) =>
            {
                return (Verdict::Skip, "its payload is being processed".into());
            }
            _ => {}
        }
    }
    if parked.redrive_count >= deps.settings.max_redrives {
        // The cause stays in the reason (the ledger keeps the first one apart), with the way
        // past the limit once that cause is fixed.
        let cause = parked
            .record
            .as_ref()
            .and_then(last_cause)
            .map_or(String::new(), |e| format!("{LAST_CAUSE}{e}"));
        return (
            Verdict::Park,
            format!(
                "redriven {} times already (limit {}; raise it with `claimcheck redrive \
                 --max-redrives N` or CLAIMCHECK_MAX_REDRIVES){cause}",
                parked.redrive_count, deps.settings.max_redrives
            ),
        );
    }
    match payload_check(deps, &parked.message).await {
        Ok(()) => (Verdict::Redrive, "its payload is in place".into()),
        Err(verdict_and_reason) => verdict_and_reason,
    }
}

/// How the redrive limit's reason names the cause it keeps.
const LAST_CAUSE: &str = "; last cause: ";

/// The payload's last cause of failure, not a redrive limit's note about it (a second run at
/// the limit keeps the cause the first one named).
fn last_cause(record: &PayloadRecord) -> Option<&str> {
    let last = record.last_error.as_deref()?;
    let last = last.strip_prefix("parked: ").unwrap_or(last);
    if !last.starts_with("redriven ") {
        return Some(last);
    }
    match last.split_once(LAST_CAUSE) {
        Some((_, cause)) => Some(cause),
        None => record.first_error.as_deref(),
    }
}

/// For an offloaded message: is its object still there (and in a trusted bucket)?
async fn payload_check(deps: &Repairer, message: &Message) -> Result<(), (Verdict, String)> {
    let offloaded = message
        .message_attributes
        .as_ref()
        .is_some_and(|a| a.keys().any(|name| is_reserved(name)));
    if !offloaded {
        return Ok(());
    }
    let pointer = PayloadPointer::parse(message.body().unwrap_or_default())
        .map_err(|e| (Verdict::Park, format!("unreadable pointer: {e}")))?;
    if !deps.trust.trusts(&pointer.bucket) {
        return Err((
            Verdict::Park,
            format!(
                "its pointer leads to the untrusted bucket {:?}",
                pointer.bucket
            ),
        ));
    }
    match deps.store.head(&pointer).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Err((Verdict::Park, "its payload object is gone".into())),
        Err(e) => Err((Verdict::Fail, e.to_string())),
    }
}

/// Carries out a verdict; returns what actually happened.
async fn apply(
    deps: &Repairer,
    parked: &Parked,
    verdict: Verdict,
    reason: String,
) -> (Verdict, String) {
    match verdict {
        Verdict::Redrive => send_back(deps, parked).await,
        Verdict::RemoveDone => match delete(deps, &parked.message).await {
            Ok(()) => (verdict, reason),
            Err(e) => (
                Verdict::Fail,
                format!("{reason}, but the DLQ delete failed: {e}"),
            ),
        },
        Verdict::Park => {
            note_in_ledger(deps, parked, &reason).await;
            (verdict, reason)
        }
        Verdict::Skip | Verdict::Fail => (verdict, reason),
    }
}

/// Records why a payload stays parked (its status stays or becomes `dead`).
async fn note_in_ledger(deps: &Repairer, parked: &Parked, reason: &str) {
    let Some(id) = &parked.payload_id else { return };
    let changes = Changes {
        last_error: Some(format!("parked: {reason}")),
        ..Changes::default()
    };
    if let Err(e) = deps.ledger.step(id, Step::KeepParked, &changes).await {
        tracing::warn!(payload_id = id, error = %e, "could not record the park reason");
    }
}

async fn send_back(deps: &Repairer, parked: &Parked) -> (Verdict, String) {
    let message = &parked.message;
    if let Some(id) = &parked.payload_id {
        let counted = Changes {
            count_redrive: true,
            ..Changes::default()
        };
        match deps.ledger.step(id, Step::Redrive, &counted).await {
            Ok(Transition::Applied(_)) | Ok(Transition::Rejected(None)) => {}
            Ok(Transition::Rejected(Some(current))) => {
                return (
                    Verdict::Skip,
                    format!("its payload became {} meanwhile", current.status),
                );
            }
            Err(e) => return (Verdict::Fail, format!("ledger: {e}")),
        }
    }
    if let Err(e) = send(deps, parked).await {
        if let Some(id) = &parked.payload_id {
            let back = Changes {
                last_error: Some(format!("redrive failed: {e}")),
                uncount_redrive: true,
                ..Changes::default()
            };
            if let Err(e) = deps.ledger.step(id, Step::RedriveFailed, &back).await {
                tracing::error!(payload_id = id, error = %e, "could not return the payload to dead");
            }
        }
        return (
            Verdict::Fail,
            format!("sending to the work queue failed: {e}"),
        );
    }
    match delete(deps, message).await {
        Ok(()) => (
            Verdict::Redrive,
            format!("sent back (redrive {})", parked.redrive_count + 1),
        ),
        Err(e) => (
            Verdict::Redrive,
            format!(
                "sent back, but its DLQ copy could not be deleted ({e}); it will be seen again"
            ),
        ),
    }
}

/// Sends the message to the work queue: same body, the application's attributes, and the
/// redrive count as an attribute when it fits. Our park reason stays behind (the message is no
/// longer parked; the ledger keeps the reason). The count never takes an 11th attribute or
/// grows the message past SQS's size limit: a payload's count is kept by the ledger, and a
/// message without a ledger item and without room goes back uncounted (logged).
async fn send(deps: &Repairer, parked: &Parked) -> Result<(), RepairError> {
    let message = &parked.message;
    let mut attributes: HashMap<String, MessageAttributeValue> =
        message.message_attributes.clone().unwrap_or_default();
    attributes.remove(PARK_REASON);
    attributes.remove(REDRIVE_COUNT);
    let count = (parked.redrive_count + 1).to_string();
    let body = message.body().unwrap_or_default();
    let room = attributes.len() < MAX_ATTRIBUTES
        && message_size(body, &attributes) + REDRIVE_COUNT.len() + "Number".len() + count.len()
            <= MAX_MESSAGE_BYTES;
    if room {
        let count = MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(count)
            .build()
            .map_err(|e| RepairError::Attribute(e.to_string()))?;
        attributes.insert(REDRIVE_COUNT.into(), count);
    } else if parked.payload_id.is_none() {
        tracing::warn!(
            message_id = message.message_id().unwrap_or_default(),
            "no room on the message for the redrive count and no ledger item to keep it: redriven uncounted"
        );
    }
    let queue_url = deps.queue_url();
    let fifo = queue_url.ends_with(".fifo");
    let system = |name: MessageSystemAttributeName| {
        message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&name))
            .cloned()
    };
    deps.sqs
        .send_message()
        .queue_url(queue_url)
        .message_body(message.body().unwrap_or_default())
        .set_message_attributes((!attributes.is_empty()).then_some(attributes))
        .set_message_group_id(
            fifo.then(|| system(MessageSystemAttributeName::MessageGroupId))
                .flatten(),
        )
        .set_message_deduplication_id(fifo.then(|| {
            format!(
                "{}-redrive-{}",
                message.message_id().unwrap_or_default(),
                parked.redrive_count + 1
            )
        }))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| RepairError::sqs("SendMessage", &e))
}

/// A message's size as SQS counts it against its limit: the body plus each attribute's name,
/// data type and value. (Source: Amazon SQS Developer Guide, "Amazon SQS message attributes".)
fn message_size(body: &str, attributes: &HashMap<String, MessageAttributeValue>) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + value.data_type().len()
                    + value.string_value().map_or(0, str::len)
                    + value.binary_value().map_or(0, |b| b.as_ref().len())
            })
            .sum::<usize>()
}

async fn delete(deps: &Repairer, message: &Message) -> Result<(), RepairError> {
    deps.sqs
        .delete_message()
        .queue_url(&deps.settings.dlq_url)
        .receipt_handle(message.receipt_handle().unwrap_or_default())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| RepairError::sqs("DeleteMessage", &e))
}

/// Makes the messages left in the DLQ visible again at once.
async fn release(deps: &Repairer, handles: &[String]) {
    for chunk in handles.chunks(MAX_BATCH_ENTRIES) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        let released = deps
            .sqs
            .change_message_visibility_batch()
            .queue_url(&deps.settings.dlq_url)
            .set_entries(Some(entries))
            .send()
            .await;
        if let Err(e) = released {
            // Harmless: they reappear when the visibility timeout passes.
            tracing::warn!(error = %SdkFailure::of(&e).message, "could not release DLQ messages early");
        }
    }
}

fn park_reason(parked: &Parked) -> Option<String> {
    parked
        .message
        .message_attributes
        .as_ref()
        .and_then(|a| a.get(PARK_REASON))
        .and_then(|v| v.string_value.clone())
        .or_else(|| parked.record.as_ref().and_then(|r| r.last_error.clone()))
}

fn age_seconds(message: &Message) -> Option<u64> {
    let sent_ms: u64 = message
        .attributes
        .as_ref()?
        .get(&MessageSystemAttributeName::SentTimestamp)?
        .parse()
        .ok()?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    Some(now_ms.saturating_sub(sent_ms) / 1000)
}
