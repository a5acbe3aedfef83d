//! redriver: brings failed work back, invoked on a schedule (reconcile) or by an operator
//! (redrive, native). The operations themselves are the library's [`claimcheck::repair`], which
//! the `claimcheck` command runs too; this crate reads the function's settings from its
//! environment and hands each invocation's request and deadline to [`claimcheck::repair::run`].

use std::time::{Duration, SystemTime};

use claimcheck::admission::MessageGroup;
use claimcheck::extended_client::ClientError;
use claimcheck::metrics::Metrics;

use claimcheck::repair::{DEFAULT_MAX_REDRIVES, Deployment, RepairSettings};
use claimcheck::settings::{self, SettingsError, Source};
use claimcheck::size_attribute::SizeAttributeName;

pub use claimcheck::repair::{Filter, Mode, RepairError, Repairer as Redriver, Report, Request};

/// The longest `CLAIMCHECK_QUEUED_STALL_SECONDS`: a day (`infra/variables.tf` validates
/// `queued_stall_seconds` against the same limit).
pub const MAX_QUEUED_STALL: Duration = Duration::from_secs(86_400);

/// SQS's longest visibility timeout: the most a DLQ message can be hidden while examined.
const MAX_VISIBILITY: Duration = claimcheck::sqs_limits::MAX_VISIBILITY_TIMEOUT;

/// The redriver's settings, read from its environment by [`Settings::from_source`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// `CLAIMCHECK_BUCKET`, `CLAIMCHECK_TABLE`, `CLAIMCHECK_QUEUE_URL`,
    /// `CLAIMCHECK_TRUSTED_BUCKETS` (comma-separated) and `CLAIMCHECK_SIZE_ATTRIBUTE`
    /// (`current`, the default, or `legacy`, as the producer writes it).
    pub deployment: Deployment,
    /// `CLAIMCHECK_DLQ_URL`, `CLAIMCHECK_MAX_REDRIVES` (default 3),
    /// `CLAIMCHECK_QUEUED_STALL_SECONDS` (default 3600, at most a day),
    /// `CLAIMCHECK_PENDING_GRACE_SECONDS` (default 3600),
    /// `CLAIMCHECK_REDRIVE_VISIBILITY_SECONDS` (default 120, at most 12 h).
    pub repair: RepairSettings,
}

impl Settings {
    /// Reads every setting, naming the variable in the error when one is missing or invalid.
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        let mut repair = RepairSettings::new(settings::required(source, "CLAIMCHECK_DLQ_URL")?);
        repair.max_redrives =
            settings::parsed_or(source, "CLAIMCHECK_MAX_REDRIVES", DEFAULT_MAX_REDRIVES)?;
        repair.queued_stall = settings::seconds(
            source,
            "CLAIMCHECK_QUEUED_STALL_SECONDS",
            3600,
            MAX_QUEUED_STALL,
        )?;
        repair.pending_grace = Duration::from_secs(settings::parsed_or(
            source,
            "CLAIMCHECK_PENDING_GRACE_SECONDS",
            3600u64,
        )?);
        repair.visibility = settings::seconds(
            source,
            "CLAIMCHECK_REDRIVE_VISIBILITY_SECONDS",
            120,
            MAX_VISIBILITY,
        )?;
        let mut deployment = Deployment::new(
            settings::required(source, "CLAIMCHECK_BUCKET")?,
            settings::required(source, "CLAIMCHECK_TABLE")?,
            settings::required(source, "CLAIMCHECK_QUEUE_URL")?,
        );
        deployment.trusted_buckets = settings::list(source, "CLAIMCHECK_TRUSTED_BUCKETS");
        deployment.size_attribute = settings::parsed_or(
            source,
            "CLAIMCHECK_SIZE_ATTRIBUTE",
            SizeAttributeName::Current,
        )?;
        deployment.message_group =
            settings::parsed_or(source, "CLAIMCHECK_MESSAGE_GROUP", MessageGroup::PerPayload)?;
        Ok(Self { deployment, repair })
    }

    /// The operations' dependencies, built from the one SDK configuration.
    pub fn redriver(&self, sdk: &aws_config::SdkConfig) -> Result<Redriver, ClientError> {
        Redriver::for_deployment(sdk, &self.deployment, self.repair.clone())
    }
}

/// Runs one invocation's request until done or until `deadline` (the invocation's) is near,
/// and reports what it did in `metrics` (see [`count_report`]).
///
/// # Errors
/// [`RepairError`] when the request cannot be carried out at all (see [`claimcheck::repair::run`]).
pub async fn handle(
    deps: &Redriver,
    metrics: &Metrics,
    request: Request,
    deadline: SystemTime,
) -> Result<Report, RepairError> {
    let report = claimcheck::repair::run(deps, request, deadline).await;
    match &report {
        Ok(report) => count_report(metrics, report),
        Err(_) => metrics.count("RunsRefused", 1),
    }
    metrics.flush();
    report
}

/// The redriver's CloudWatch metrics (function `redriver`), from its settings' environment
/// (see [`Metrics::from_source`]).
pub fn metrics() -> Metrics {
    Metrics::from_source("redriver", &settings::Environment)
}

/// Counts a run's report: redrive `RedriveScanned`, `Redriven`, `RedriveKeptParked`,
/// `RedriveSkipped`, `RedriveFailed`; native `NativeRedrivesStarted`,
/// `NativeRedriveMarked`; reconcile `ReconcileScanned`, `ReconcileStalled`, `Reconciled`,
/// `ReconcileFailed`; and `RunsIncomplete` for a run that stopped short. A dry run counts
/// nothing but `DryRuns`: it changed nothing.
pub fn count_report(metrics: &Metrics, report: &Report) {
    if report.shortfall().is_some() {
        metrics.count("RunsIncomplete", 1);
    }
    match report {
        Report::Redrive(r) if r.dry_run => metrics.count("DryRuns", 1),
        Report::Native(r) if r.dry_run => metrics.count("DryRuns", 1),
        Report::Reconcile(r) if r.dry_run => metrics.count("DryRuns", 1),
        Report::Redrive(r) => {
            let s = r.stats;
            for (name, n) in [
                ("RedriveScanned", s.scanned),
                ("Redriven", s.redriven),
                ("RedriveKeptParked", s.parked),
                ("RedriveSkipped", s.skipped),
                ("RedriveFailed", s.failed),
            ] {
                metrics.count(name, n.into());
            }
        }
        Report::Native(r) => {
            metrics.count("NativeRedrivesStarted", u64::from(r.task_handle.is_some()));
            metrics.count("NativeRedriveMarked", r.payloads_marked_redriven.into());
        }
        Report::Reconcile(r) => {
            let s = r.stats;
            for (name, n) in [
                ("ReconcileScanned", s.scanned),
                ("ReconcileStalled", s.stalled),
                ("Reconciled", s.reconciled),
                ("ReconcileFailed", s.failed),
            ] {
                metrics.count(name, n.into());
            }
        }
    }
}
