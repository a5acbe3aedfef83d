//! `native`: SQS's own DLQ redrive (`StartMessageMoveTask`) back to the source queue.
//!
//! Fast for a large DLQ, but blind: no message is checked. Once SQS has started the task,
//! the ledger's `dead` payloads are marked `redriven` (never before: a refused or failed start
//! changes nothing). The consumer claims a moved message whether or not its payload was marked
//! yet (`dead` is claimable); a payload whose object is gone is parked again by the consumer,
//! with the reason.

use crate::ledger::{Changes, PAGE_SIZE, Status, Step, Transition};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;

use super::{RepairError, Repairer};

/// What a native redrive run did; serialized to JSON for operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NativeReport {
    /// Whether this was a dry run: no payload was marked and no task started.
    pub dry_run: bool,
    /// The DLQ's ARN, the task's source.
    pub source_arn: String,
    /// SQS's approximate count of visible DLQ messages when the run began.
    pub messages_in_dlq: Option<u64>,
    /// `dead` payloads marked `redriven` (in a dry run: that would be).
    pub payloads_marked_redriven: u32,
    /// The move task's handle (to cancel it with `CancelMessageMoveTask`), not in a dry run.
    pub task_handle: Option<String>,
    /// The task's status as SQS reports it right after the start (`RUNNING`, ...).
    pub status: Option<String>,
    /// SQS's approximate number of messages the task has to move, as reported right after the
    /// start; not in a dry run.
    pub approximate_messages_to_move: Option<i64>,
}

/// Runs the native mode.
pub async fn native(deps: &Repairer, dry_run: bool) -> Result<NativeReport, RepairError> {
    let attributes = deps
        .sqs
        .get_queue_attributes()
        .queue_url(&deps.settings.dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| RepairError::sqs("GetQueueAttributes", &e))?;
    let attribute = |name| attributes.attributes().and_then(|a| a.get(&name)).cloned();
    let source_arn = attribute(QueueAttributeName::QueueArn).ok_or(RepairError::NoQueueArn)?;
    let mut report = NativeReport {
        dry_run,
        source_arn,
        messages_in_dlq: attribute(QueueAttributeName::ApproximateNumberOfMessages)
            .and_then(|n| n.parse().ok()),
        payloads_marked_redriven: 0,
        task_handle: None,
        status: None,
        approximate_messages_to_move: None,
    };
    if dry_run {
        report.payloads_marked_redriven = mark_dead_redriven(deps, true).await?;
        return Ok(report);
    }
    let started = deps
        .sqs
        .start_message_move_task()
        .source_arn(&report.source_arn)
        .send()
        .await
        .map_err(|e| RepairError::sqs("StartMessageMoveTask", &e))?;
    report.task_handle = started.task_handle;
    // The ledger follows what SQS confirmed: only a started move marks the dead payloads
    // `redriven`. (A moved message that reaches the consumer first finds its payload `dead`,
    // which is claimable: see `Status::CLAIMABLE`.)
    report.payloads_marked_redriven = mark_dead_redriven(deps, false).await?;
    let tasks = deps
        .sqs
        .list_message_move_tasks()
        .source_arn(&report.source_arn)
        .max_results(1)
        .send()
        .await
        .map_err(|e| RepairError::sqs("ListMessageMoveTasks", &e))?;
    if let Some(task) = tasks.results().first() {
        report.status = task.status.clone();
        report.approximate_messages_to_move = task.approximate_number_of_messages_to_move;
    }
    tracing::info!(task_handle = ?report.task_handle, status = ?report.status, "message move task started");
    Ok(report)
}

async fn mark_dead_redriven(deps: &Repairer, dry_run: bool) -> Result<u32, RepairError> {
    let now = deps.ledger.now();
    let mut marked = 0;
    let mut start = None;
    loop {
        let page = deps
            .ledger
            .list_by_status(Status::Dead, now, PAGE_SIZE, start)
            .await?;
        for record in &page.records {
            if dry_run {
                marked += 1;
                continue;
            }
            let changed = deps
                .ledger
                .step(&record.id, Step::NativeRedrive, &Changes::default())
                .await?;
            if matches!(changed, Transition::Applied(_)) {
                marked += 1;
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(marked),
        }
    }
}
