//! redriver: brings failed work back, invoked on a schedule or by an operator.
//!
//! Three modes, chosen by the request:
//! - `redrive` (default): reads the DLQ ten messages at a time and checks each one before it
//!   moves anything — its payload object must still exist and its payload must not be `done`
//!   already. A message that passes is sent back to the work queue with its body and
//!   attributes intact plus a redrive count, and deleted from the DLQ only after that send
//!   succeeded: a crash at any point can duplicate a message (the consumer's ledger claim
//!   absorbs it), never lose one. A message whose payload is gone, or that was redriven too
//!   often, stays parked in the DLQ and is reported.
//! - `native`: SQS's own `StartMessageMoveTask` back to the source queue — no checks, but
//!   fast for a large DLQ. The ledger's `dead` payloads are marked `redriven` first, so the
//!   consumer accepts the messages when they come back.
//! - `reconcile`: repairs what no event will: uploads whose S3 event was lost, uploads that
//!   never happened, leases of crashed consumers, and queued payloads whose message never came.
//!
//! Every mode pages through its source, stops before the invocation's deadline, and reports
//! statistics and how far it got. A dry run reports what it would do and changes nothing.

use std::time::{Duration, SystemTime};

use claimcheck::ledger::Ledger;
use claimcheck::settings::{self, SettingsError, Source};
use claimcheck::{ClientError, ExtendedClientConfig, PayloadStore};
use serde::{Deserialize, Serialize};

mod budget;
mod native;
mod reconcile;
mod redrive;

pub use budget::Budget;
pub use native::{NativeReport, native};
pub use reconcile::{ReconcileAction, ReconcileReport, ReconcileStats, Stall, reconcile};
pub use redrive::{MessageAction, RedriveReport, RedriveStats, Verdict, redrive};

#[derive(Debug, Clone)]
pub struct Settings {
    /// The producer's settings (`CLAIMCHECK_BUCKET`, `_TABLE`, `_QUEUE_URL`,
    /// `_UPLOADS_PREFIX`, `_SIZE_ATTRIBUTE`): reconcile queues lost uploads exactly as the
    /// producer would.
    pub producer: producer::Settings,
    /// `CLAIMCHECK_DLQ_URL`
    pub dlq_url: String,
    /// `CLAIMCHECK_TRUSTED_BUCKETS`: more buckets whose pointers may be followed.
    pub trusted_buckets: Vec<String>,
    /// `CLAIMCHECK_MAX_REDRIVES`: a message redriven this often stays parked (default 3).
    pub max_redrives: u32,
    /// `CLAIMCHECK_QUEUED_STALL_SECONDS`: a payload `queued` this long without being picked
    /// up is sent again (default 3600).
    pub queued_stall: Duration,
    /// `CLAIMCHECK_PENDING_GRACE_SECONDS`: how long after its upload URL expired a `pending`
    /// payload is left alone, for an upload that started in time to finish (default 3600).
    pub pending_grace: Duration,
    /// `CLAIMCHECK_REDRIVE_VISIBILITY_SECONDS`: how long a DLQ message being examined stays
    /// hidden from other readers (default 120).
    pub visibility: Duration,
    /// No new item is started with less than this left before the deadline (5 s).
    pub deadline_margin: Duration,
}

impl Settings {
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        let day = Duration::from_secs(86_400);
        Ok(Self {
            producer: producer::Settings::from_source(source)?,
            dlq_url: settings::required(source, "CLAIMCHECK_DLQ_URL")?,
            trusted_buckets: settings::list(source, "CLAIMCHECK_TRUSTED_BUCKETS"),
            max_redrives: settings::parsed_or(source, "CLAIMCHECK_MAX_REDRIVES", 3u32)?,
            queued_stall: settings::seconds(source, "CLAIMCHECK_QUEUED_STALL_SECONDS", 3600, day)?,
            pending_grace: Duration::from_secs(settings::parsed_or(
                source,
                "CLAIMCHECK_PENDING_GRACE_SECONDS",
                3600u64,
            )?),
            visibility: settings::seconds(
                source,
                "CLAIMCHECK_REDRIVE_VISIBILITY_SECONDS",
                120,
                Duration::from_secs(43_200),
            )?,
            deadline_margin: Duration::from_secs(5),
        })
    }
}

/// The handler's dependencies.
pub struct Redriver {
    pub sqs: aws_sdk_sqs::Client,
    pub store: PayloadStore,
    pub ledger: Ledger,
    /// The producer, for the payloads reconcile queues or re-sends.
    pub producer: producer::Producer,
    pub settings: Settings,
    /// Which buckets pointers may lead to.
    pub trust: ExtendedClientConfig,
}

impl Redriver {
    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings) -> Result<Self, ClientError> {
        let mut trust = ExtendedClientConfig::new(&settings.producer.bucket);
        trust.trusted_buckets = settings.trusted_buckets.iter().cloned().collect();
        Ok(Self {
            sqs: aws_sdk_sqs::Client::new(sdk),
            store: PayloadStore::new(aws_sdk_s3::Client::new(sdk)),
            ledger: Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &settings.producer.table),
            producer: producer::Producer::new(sdk, settings.producer.clone())?,
            settings,
            trust,
        })
    }
}

/// What to do. Every field is optional: `{}` redrives the whole DLQ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Request {
    pub mode: Mode,
    /// Report what would be done; change nothing.
    pub dry_run: bool,
    /// Stop after examining this many messages (redrive) or payloads (reconcile).
    pub max_messages: Option<u32>,
    pub filter: Filter,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Redrive,
    Native,
    Reconcile,
}

/// Which DLQ messages `redrive` moves; the others are skipped and stay parked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Only messages whose park reason or ledger `last_error` contains this text
    /// (case-insensitive).
    pub reason: Option<String>,
    /// Only messages first sent at least this many seconds ago.
    pub min_age_seconds: Option<u64>,
    /// Only messages of these payloads.
    pub payload_ids: Vec<String>,
}

/// The result of one invocation, tagged with its mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Report {
    Redrive(RedriveReport),
    Native(NativeReport),
    Reconcile(ReconcileReport),
}

/// Why a request could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum RedriverError {
    #[error("the filter applies to redrive only, not to {0:?}")]
    FilterNotSupported(Mode),
    #[error("{0}")]
    Aws(String),
}

/// Runs the requested mode.
pub async fn handle(
    deps: &Redriver,
    request: Request,
    deadline: SystemTime,
) -> Result<Report, RedriverError> {
    let budget = Budget::new(
        deadline,
        deps.settings.deadline_margin,
        request.max_messages,
    );
    if request.mode != Mode::Redrive && request.filter != Filter::default() {
        return Err(RedriverError::FilterNotSupported(request.mode));
    }
    let report = match request.mode {
        Mode::Redrive => Report::Redrive(redrive(deps, &request, &budget).await),
        Mode::Native => Report::Native(native(deps, request.dry_run).await?),
        Mode::Reconcile => Report::Reconcile(reconcile(deps, request.dry_run, &budget).await),
    };
    tracing::info!(report = %serde_json::to_string(&summary(&report)).unwrap_or_default(), "finished");
    Ok(report)
}

/// The report without its per-item list, for the log line.
fn summary(report: &Report) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("actions");
    }
    value
}
