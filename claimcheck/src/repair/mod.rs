//! Bringing failed and stalled work back: the operations behind the redriver function and the
//! `claimcheck failed / redrive / reconcile` commands, so both run the same code.
//!
//! Three modes, chosen by the [`Request`]:
//! - `redrive` (default, [`redrive()`]): reads the DLQ ten messages at a time and checks each one
//!   before it moves anything — its payload object must still exist and its payload must not be
//!   `done` already. A message that passes is sent back to the work queue with its body and
//!   attributes intact plus a redrive count, and deleted from the DLQ only after that send
//!   succeeded: a crash at any point can duplicate a message (the consumer's ledger claim
//!   absorbs it), never lose one. A message whose payload is gone, or that was redriven too
//!   often, stays parked in the DLQ and is reported.
//! - `native` ([`native()`]): SQS's own `StartMessageMoveTask` back to the source queue — no
//!   checks, but fast for a large DLQ. The ledger's `dead` payloads are marked `redriven` first,
//!   so the consumer accepts the messages when they come back.
//! - `reconcile` ([`reconcile()`]): repairs what no event will: uploads whose S3 event was lost,
//!   uploads that never happened, leases of crashed consumers, and queued payloads whose message
//!   never came.
//!
//! Every mode pages through its source, stops before the deadline, and reports statistics and
//! how far it got. A dry run reports what it would do and changes nothing.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::admission::{Admission, AdmissionError, UnknownObjects};
use crate::extended_client::{ClientError, ExtendedClient, ExtendedClientConfig};
use crate::ledger::{Ledger, LedgerError};
use crate::sdk_error::SdkFailure;
use crate::size_attribute::SizeAttributeName;
use crate::{PayloadStore, StoreError};

mod budget;
mod native;
mod reconcile;
mod redrive;

pub use budget::{Budget, MAX_MESSAGES_REACHED};
pub use native::{NativeReport, native};
pub use reconcile::{ReconcileAction, ReconcileReport, ReconcileStats, Stall, reconcile};
pub use redrive::{MessageAction, RedriveReport, RedriveStats, Verdict, redrive};

/// The limits and queues the operations work with. Times are whole durations; the redriver
/// function reads them from its environment (`CLAIMCHECK_*`, see its crate).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepairSettings {
    /// The DLQ redrive reads from.
    pub dlq_url: String,
    /// A message redriven this often stays parked (default 3).
    pub max_redrives: u32,
    /// A payload `queued` this long without being picked up is sent again (default 1 h).
    pub queued_stall: Duration,
    /// How long after its upload URL expired a `pending` payload is left alone, for an upload
    /// that started in time to finish (default 1 h).
    pub pending_grace: Duration,
    /// How long a DLQ message being examined stays hidden from other readers (default 120 s).
    pub visibility: Duration,
    /// No new item is started with less than this left before the deadline (default 5 s).
    pub deadline_margin: Duration,
}

impl RepairSettings {
    /// The defaults above, for the DLQ at `dlq_url`.
    pub fn new(dlq_url: impl Into<String>) -> Self {
        Self {
            dlq_url: dlq_url.into(),
            max_redrives: DEFAULT_MAX_REDRIVES,
            queued_stall: Duration::from_secs(3600),
            pending_grace: Duration::from_secs(3600),
            visibility: Duration::from_secs(120),
            deadline_margin: Duration::from_secs(5),
        }
    }
}

/// The names of the deployment the operations work on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deployment {
    /// The payload bucket (pointers into it are trusted).
    pub bucket: String,
    /// The ledger table.
    pub table: String,
    /// The work queue: messages are redriven and lost uploads queued to it.
    pub queue_url: String,
    /// More buckets whose pointers may be followed.
    pub trusted_buckets: Vec<String>,
    /// Which reserved size attribute re-sent pointers carry (as the producer writes them).
    pub size_attribute: SizeAttributeName,
    /// The FIFO message group re-sent pointers go in (as the producer sends them).
    pub message_group: crate::admission::MessageGroup,
}

impl Deployment {
    /// A deployment with no extra trusted buckets and the current size attribute.
    pub fn new(
        bucket: impl Into<String>,
        table: impl Into<String>,
        queue_url: impl Into<String>,
    ) -> Self {
        Self {
            bucket: bucket.into(),
            table: table.into(),
            queue_url: queue_url.into(),
            trusted_buckets: Vec::new(),
            size_attribute: SizeAttributeName::Current,
            message_group: crate::admission::MessageGroup::default(),
        }
    }
}

/// How often a message may be redriven before it stays parked, unless configured otherwise.
pub const DEFAULT_MAX_REDRIVES: u32 = 3;

/// What the operations need: SQS for the queues, the payload store, the ledger, admission (to
/// queue lost uploads as the producer would) and which buckets pointers may lead to.
#[derive(Debug, Clone)]
pub struct Repairer {
    sqs: aws_sdk_sqs::Client,
    store: PayloadStore,
    ledger: Ledger,
    admission: Admission,
    trust: ExtendedClientConfig,
    settings: RepairSettings,
}

impl Repairer {
    /// `admission` queues lost uploads and re-sends undelivered ones (its ledger is the one the
    /// operations read); `trust` says which buckets a DLQ message's pointer may lead to.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        store: PayloadStore,
        admission: Admission,
        trust: ExtendedClientConfig,
        settings: RepairSettings,
    ) -> Self {
        Self {
            sqs,
            store,
            ledger: admission.ledger().clone(),
            admission,
            trust,
            settings,
        }
    }

    /// Builds every client from the one SDK configuration. Lost uploads are queued only if the
    /// ledger knows them ([`UnknownObjects::Ignore`]): an object the API never announced has no
    /// ledger item for reconcile to find.
    ///
    /// # Errors
    /// [`ClientError`] when the deployment's bucket is not a valid trusted-bucket configuration.
    pub fn for_deployment(
        sdk: &aws_config::SdkConfig,
        deployment: &Deployment,
        settings: RepairSettings,
    ) -> Result<Self, ClientError> {
        let store = PayloadStore::new(aws_sdk_s3::Client::new(sdk));
        let mut trust = ExtendedClientConfig::new(&deployment.bucket);
        trust.trusted_buckets = deployment.trusted_buckets.iter().cloned().collect();
        trust.size_attribute = deployment.size_attribute;
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let client = ExtendedClient::new(sqs.clone(), store.clone(), trust.clone())?;
        let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &deployment.table);
        let admission = Admission::new(
            ledger,
            store.clone(),
            client,
            &deployment.queue_url,
            UnknownObjects::Ignore,
        )
        .with_message_group(deployment.message_group.clone());
        Ok(Self::new(sqs, store, admission, trust, settings))
    }

    /// The same operations over another SQS client (tests substitute an SDK mock for calls
    /// the local endpoint cannot answer, such as `StartMessageMoveTask`).
    pub fn with_sqs(self, sqs: aws_sdk_sqs::Client) -> Self {
        Self { sqs, ..self }
    }

    /// Reads and writes `ledger` instead, for its own operations and for the uploads it
    /// queues (the same table with another clock or retention, e.g. a test's clock shared by
    /// every function).
    pub fn with_ledger(self, ledger: Ledger) -> Self {
        Self {
            admission: self.admission.with_ledger(ledger.clone()),
            ledger,
            ..self
        }
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &RepairSettings {
        &self.settings
    }

    /// The work queue messages are redriven to.
    pub fn queue_url(&self) -> &str {
        self.admission.queue_url()
    }

    /// The ledger the operations read and write.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

/// What to do. Every field is optional: `{}` redrives the whole DLQ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Request {
    /// Which operation.
    pub mode: Mode,
    /// Report what would be done; change nothing.
    pub dry_run: bool,
    /// Stop after examining this many messages (redrive) or payloads (reconcile).
    pub max_messages: Option<u32>,
    /// Which DLQ messages `redrive` moves (redrive only).
    pub filter: Filter,
}

/// The operation a [`Request`] asks for; `redrive`, `native` or `reconcile` in JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Checked DLQ redrive.
    #[default]
    Redrive,
    /// SQS's `StartMessageMoveTask`.
    Native,
    /// The reconcile pass over the ledger.
    Reconcile,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Redrive => "redrive",
            Self::Native => "native",
            Self::Reconcile => "reconcile",
        })
    }
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

/// The result of one run, tagged with its mode (`{"mode": "redrive", ...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Report {
    /// What `redrive` did.
    Redrive(RedriveReport),
    /// What `native` started.
    Native(NativeReport),
    /// What `reconcile` did.
    Reconcile(ReconcileReport),
}

impl Report {
    /// Why the run did not do all it was asked, if it did not: it stopped early for any reason
    /// but the requested `max_messages` (the DLQ or ledger unreadable, the deadline near), or
    /// an action failed. `None` for a complete run (and for a native run, whose start either
    /// succeeded or was an error). Schedulers and the CLI turn it into a failure.
    pub fn shortfall(&self) -> Option<String> {
        let (complete, stopped, failed) = match self {
            Report::Redrive(r) => (r.complete, r.stopped_because.as_deref(), r.stats.failed),
            Report::Reconcile(r) => (r.complete, r.stopped_because.as_deref(), r.stats.failed),
            Report::Native(_) => return None,
        };
        match stopped {
            Some(why) if !complete && why != budget::MAX_MESSAGES_REACHED => {
                Some(format!("stopped early: {why}"))
            }
            _ if failed > 0 => Some(format!("{failed} action(s) failed")),
            _ => None,
        }
    }
}

/// Why an operation, or one step of it, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    /// A filter was given to a mode other than `redrive`.
    #[error("the filter applies to redrive only, not to {0}")]
    FilterNotSupported(Mode),
    /// An SQS call failed after the SDK's retries.
    #[error("SQS {operation} failed: {}", failure.message)]
    Sqs {
        /// The SQS operation (`ReceiveMessage`, ...).
        operation: &'static str,
        /// What the failure said.
        failure: SdkFailure,
    },
    /// The DLQ's attributes lack its ARN (needed for a message move task).
    #[error("the DLQ has no QueueArn attribute")]
    NoQueueArn,
    /// A message attribute could not be built.
    #[error("invalid message attribute: {0}")]
    Attribute(String),
    /// A ledger read or write failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// An S3 call failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Queueing a lost upload or re-sending a pointer failed.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
}

impl RepairError {
    fn sqs<E>(
        operation: &'static str,
        err: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self::Sqs {
            operation,
            failure: SdkFailure::of(err),
        }
    }
}

/// Runs the requested mode until it is done, `max_messages` is reached or `deadline` is near.
///
/// # Errors
/// [`RepairError::FilterNotSupported`] for a filter outside `redrive`; for `native`, any failed
/// call (a redrive or reconcile run reports its failures per item instead, and how far it got).
pub async fn run(
    deps: &Repairer,
    request: Request,
    deadline: SystemTime,
) -> Result<Report, RepairError> {
    let budget = Budget::new(
        deadline,
        deps.settings.deadline_margin,
        request.max_messages,
    );
    if request.mode != Mode::Redrive && request.filter != Filter::default() {
        return Err(RepairError::FilterNotSupported(request.mode));
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
