//! One module per subcommand: each has its clap `Args` and an async `run` over a [`Context`],
//! so the binary stays an argument parser and the tests can drive the same code.

use claimcheck::repair;
use claimcheck::{ExtendedClient, ExtendedClientConfig, PayloadStore};

use crate::config::Endpoints;
use crate::output::Output;
use crate::{CliError, operations};

pub mod download;
pub mod failed;
#[cfg(feature = "local")]
pub mod local;
pub mod receive;
pub mod reconcile;
pub mod redrive;
pub mod send;
pub mod stats;
pub mod status;
pub mod upload;

/// What every subcommand gets: where the deployment is, how to print, one HTTP client.
#[derive(Debug)]
pub struct Context {
    /// The API, bucket, queues and table, resolved from flags, environment and outputs file.
    pub endpoints: Endpoints,
    /// Text or JSON, progress bars or quiet.
    pub out: Output,
    /// The HTTP client for the API and presigned URLs.
    pub http: reqwest::Client,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Upload files (`-`: standard input) through the API: one presigned PUT, or above the
    /// multipart threshold parallel, resumable parts; prints each payload id.
    Upload(upload::Args),
    /// Download a payload through the API, checking its size and SHA-256.
    Download(download::Args),
    /// Show a payload's state in the ledger.
    Status(status::Args),
    /// Count payloads by ledger state and sum the functions' metrics (local mode's metrics
    /// log: totals, the last minutes and rates).
    Stats(stats::Args),
    /// Send a message of any size (a file, or stdin) in the SQS extended-client format.
    Send(send::Args),
    /// Receive messages (resolving pointers to their payloads).
    Receive(receive::Args),
    /// List failed payloads with their reasons (default: dead and failed).
    Failed(failed::Args),
    /// Send checked DLQ messages back to the work queue (or start SQS's native redrive).
    Redrive(redrive::Args),
    /// Run the whole pipeline on this machine against a local AWS endpoint (AWS_ENDPOINT_URL):
    /// the HTTP API, the S3 trigger, the consumer's SQS event source mapping and the
    /// reconcile schedule, over the resources Terraform would create. Runs until interrupted.
    #[cfg(feature = "local")]
    Local(Box<local::Args>),
    /// Find and repair stalled payloads (lost S3 events, expired URLs, expired leases,
    /// undelivered messages).
    Reconcile(reconcile::Args),
}

/// Runs a subcommand.
///
/// # Errors
/// The subcommand's [`CliError`], which the binary prints as one line with its exit code.
pub async fn run(command: Command, cx: &Context) -> Result<(), CliError> {
    match command {
        Command::Upload(args) => upload::run(args, cx).await,
        Command::Download(args) => download::run(args, cx).await,
        Command::Status(args) => status::run(args, cx).await,
        Command::Stats(args) => stats::run(args, cx).await,
        Command::Send(args) => send::run(args, cx).await,
        Command::Receive(args) => receive::run(args, cx).await,
        Command::Failed(args) => failed::run(args, cx).await,
        Command::Redrive(args) => redrive::run(args, cx).await,
        #[cfg(feature = "local")]
        Command::Local(args) => local::run(*args, cx).await,
        Command::Reconcile(args) => reconcile::run(args, cx).await,
    }
}

/// The extended client for `send` and `receive`, offloading to the deployment's bucket under
/// its messages prefix (which the consumer's role may read and a lifecycle rule expires).
pub(crate) async fn extended_client(endpoints: &Endpoints) -> Result<ExtendedClient, CliError> {
    let mut config = ExtendedClientConfig::new(endpoints.bucket()?);
    config.key_prefix = endpoints.messages_prefix()?;
    let sdk = endpoints.sdk_config().await;
    let (s3, sqs) = claimcheck::sdk_config::clients(&sdk);
    ExtendedClient::new(sqs, PayloadStore::new(s3), config)
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// The redriver's operations over the deployment `endpoints` name, with the defaults of
/// [`repair::RepairSettings`] changed by `adjust`.
pub(crate) async fn repairer(
    endpoints: &Endpoints,
    adjust: impl FnOnce(&mut repair::RepairSettings),
) -> Result<repair::Repairer, CliError> {
    let deployment = repair::Deployment::new(
        endpoints.bucket()?,
        endpoints.table()?,
        endpoints.queue_url()?,
    );
    let mut settings = repair::RepairSettings::new(endpoints.dlq_url()?);
    adjust(&mut settings);
    let sdk = endpoints.sdk_config().await;
    repair::Repairer::for_deployment(&sdk, &deployment, settings)
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// How long `redrive` and `reconcile` may run: the Lambda deadline's part when the CLI runs the
/// operations itself.
const REPAIR_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs a repair request (within [`REPAIR_TIME_LIMIT`]) and prints its report.
pub(crate) async fn run_repair(
    cx: &Context,
    deps: &repair::Repairer,
    request: repair::Request,
) -> Result<(), CliError> {
    let report = operations::run_redriver(deps, request, REPAIR_TIME_LIMIT).await?;
    cx.out.emit(&report, || operations::describe(&report));
    // A run that did not do all it was asked is not a success, for a person or a cron job.
    match report.shortfall() {
        Some(why) => Err(CliError::Incomplete(format!(
            "not everything was done ({why}); run it again once the cause is fixed"
        ))),
        None => Ok(()),
    }
}
