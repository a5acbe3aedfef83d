//! `failed`, `redrive` and `reconcile`: the operator's commands. They run the redriver's own
//! library code here, with the caller's AWS credentials, rather than invoking the deployed
//! function: the same checks and statistics, no `lambda:InvokeFunction` permission needed,
//! no 15-minute cap, and they work against local mode too.

use std::time::{Duration, SystemTime};

use claimcheck::ledger::{Ledger, PayloadRecord, Status};
use serde::Serialize;

use crate::CliError;

#[derive(Debug, Clone, Serialize)]
pub struct FailedPayload {
    pub id: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The first cause, when a later one replaced it.
    pub first_error: Option<String>,
    /// When its ledger item last changed, epoch seconds (as the API's `updated_at`).
    pub updated_at: u64,
}

impl From<PayloadRecord> for FailedPayload {
    fn from(record: PayloadRecord) -> Self {
        Self {
            id: record.id,
            status: record.status.to_string(),
            attempts: record.attempts,
            first_error: record
                .first_error
                .filter(|first| Some(first) != record.last_error.as_ref()),
            last_error: record.last_error,
            updated_at: claimcheck::api::epoch_seconds(record.updated_at),
        }
    }
}

/// Payloads in the given states (default `dead` and `failed`), at most `limit`, each state's
/// oldest change first, read through the ledger's status index shard by shard (when a state
/// holds more than `limit`, which are shown follows the shards, not age).
pub async fn failed(
    ledger: &Ledger,
    statuses: &[Status],
    limit: usize,
) -> Result<Vec<FailedPayload>, CliError> {
    let mut found = Vec::new();
    let now = ledger.now();
    for status in statuses {
        let mut listed = ledger
            .list_every(*status, now, limit - found.len())
            .await
            .map_err(|e| CliError::Remote(e.to_string()))?;
        listed.sort_by_key(|r| r.updated_at);
        found.extend(listed.into_iter().map(FailedPayload::from));
        if found.len() >= limit {
            break;
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// Runs a redriver mode locally; `time_limit` plays the Lambda deadline's part.
pub async fn run_redriver(
    deps: &claimcheck::repair::Repairer,
    request: claimcheck::repair::Request,
    time_limit: Duration,
) -> Result<claimcheck::repair::Report, CliError> {
    claimcheck::repair::run(deps, request, SystemTime::now() + time_limit)
        .await
        .map_err(|e| match e {
            claimcheck::repair::RepairError::FilterNotSupported(_) => {
                CliError::Usage(e.to_string())
            }
            e => CliError::Remote(e.to_string()),
        })
}

/// The human lines for a redriver report.
pub fn describe(report: &claimcheck::repair::Report) -> Vec<String> {
    use claimcheck::repair::Report;
    let mut lines = Vec::new();
    let progress = |complete: bool, stopped: &Option<String>| match (complete, stopped) {
        (true, _) => "complete".to_owned(),
        (false, Some(why)) => format!("stopped early: {why}"),
        (false, None) => "stopped early".to_owned(),
    };
    match report {
        Report::Redrive(r) => {
            let s = r.stats;
            // A dry run says what it would do; a real run what it did.
            let would = if r.dry_run { "would be " } else { "" };
            lines.push(format!(
                "redrive{}: scanned {}, {would}redriven {}, {would}parked {}, skipped {}, failed {} ({})",
                if r.dry_run { " (dry run)" } else { "" },
                s.scanned,
                s.redriven,
                s.parked,
                s.skipped,
                s.failed,
                progress(r.complete, &r.stopped_because)
            ));
            if r.actions.is_empty() && r.complete {
                // Messages another (or a killed) redrive holds stay invisible until their
                // visibility timeout passes: not counted here.
                lines.push(
                    "  no visible messages in the DLQ (one a redrive holds returns within its visibility timeout)"
                        .into(),
                );
            }
            for a in &r.actions {
                let verdict = match a.verdict {
                    claimcheck::repair::Verdict::Redrive => "redrive",
                    claimcheck::repair::Verdict::Park => "park",
                    claimcheck::repair::Verdict::Skip => "skip",
                    claimcheck::repair::Verdict::RemoveDone => "remove-done",
                    claimcheck::repair::Verdict::Fail => "fail",
                };
                let verdict = if r.dry_run {
                    format!("would {verdict}")
                } else {
                    verdict.to_owned()
                };
                lines.push(format!(
                    "  {verdict:<17} {} payload {}: {}",
                    a.message_id,
                    a.payload_id.as_deref().unwrap_or("-"),
                    a.reason
                ));
            }
        }
        Report::Reconcile(r) => {
            let s = r.stats;
            lines.push(format!(
                "reconcile{}: scanned {}, stalled {}, reconciled {}, failed {} ({})",
                if r.dry_run { " (dry run)" } else { "" },
                s.scanned,
                s.stalled,
                s.reconciled,
                s.failed,
                progress(r.complete, &r.stopped_because)
            ));
            for a in &r.actions {
                lines.push(format!("  {} {:?}: {}", a.payload_id, a.stall, a.action));
            }
        }
        Report::Native(r) => {
            lines.push(format!(
                "native redrive{} from {}: {} message(s) in the DLQ, {} payload(s) marked redriven",
                if r.dry_run { " (dry run)" } else { "" },
                r.source_arn,
                r.messages_in_dlq.map_or("?".into(), |n| n.to_string()),
                r.payloads_marked_redriven
            ));
            if let Some(handle) = &r.task_handle {
                lines.push(format!(
                    "  task {handle}: {}",
                    r.status.as_deref().unwrap_or("status unknown")
                ));
            }
        }
    }
    lines
}

/// Parses a `--status` value.
pub fn status(name: &str) -> Result<Status, CliError> {
    Status::parse(&name.trim().to_ascii_lowercase()).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown status {name:?}; one of {}",
            Status::ALL.map(|s| s.as_str()).join(", ")
        ))
    })
}
