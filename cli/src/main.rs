//! `claimcheck`: parses the command line and runs the subcommand; every failure becomes one
//! line on stderr and an exit code (see `CliError::exit_code`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use claimcheck::extended_client::{ReceiveOptions, SendOptions};
use claimcheck::ledger::{Ledger, Status};
use claimcheck::repair;
use claimcheck::{ExtendedClient, ExtendedClientConfig, PayloadStore};
use claimcheck_cli::api::Api;
use claimcheck_cli::config::{self, Endpoints};
#[cfg(feature = "local")]
use claimcheck_cli::local::poison::PoisonSwitch;
#[cfg(feature = "local")]
use claimcheck_cli::local::{self, LocalSettings};
use claimcheck_cli::output::Output;
use claimcheck_cli::{CliError, operations, queue, transfer};
use clap::{Parser, Subcommand};

/// Payloads of any size through SQS: upload and download through the claimcheck API, send and
/// receive large messages in the SQS extended-client format, and operate the pipeline.
#[derive(Debug, Parser)]
#[command(name = "claimcheck", version)]
struct Cli {
    #[command(flatten)]
    endpoints: Endpoints,
    /// Print JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upload a file through the API (presigned PUT, SHA-256 pinned); prints the payload id.
    Upload {
        file: PathBuf,
        /// Default: from the file name's extension.
        #[arg(long)]
        content_type: Option<String>,
        /// Metadata kept in the ledger, `name=value`; repeatable.
        #[arg(long = "metadata", value_name = "NAME=VALUE")]
        metadata: Vec<String>,
    },
    /// Download a payload through the API, checking its size and SHA-256.
    Download {
        id: String,
        /// Where to write it (default: a file named after the id; `-` for stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Show a payload's state in the ledger.
    Status { id: String },
    /// Send a message of any size (a file, or stdin) in the SQS extended-client format.
    Send {
        /// The body's source; stdin when absent or `-`.
        file: Option<PathBuf>,
        /// Message attribute `name=value`; repeatable.
        #[arg(long = "attribute", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
        /// FIFO queues: the message group.
        #[arg(long)]
        group_id: Option<String>,
    },
    /// Receive messages (resolving pointers to their payloads).
    Receive {
        /// At most this many messages (1-10).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=10))]
        max: i32,
        /// Long-poll this many seconds (0-20).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(0..=20))]
        wait: i32,
        /// Write each body to DIR/<message id> instead of stdout.
        #[arg(long, short = 'o', value_name = "DIR")]
        output_dir: Option<PathBuf>,
        /// Delete each message (and its payload) once written.
        #[arg(long)]
        delete: bool,
    },
    /// List failed payloads with their reasons (default: dead and failed).
    Failed {
        /// Only these states; repeatable.
        #[arg(long = "status")]
        statuses: Vec<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Send checked DLQ messages back to the work queue (or start SQS's native redrive).
    Redrive {
        #[arg(long)]
        dry_run: bool,
        /// Examine at most this many messages.
        #[arg(long)]
        max: Option<u32>,
        /// SQS's StartMessageMoveTask: fast, no checks.
        #[arg(long)]
        native: bool,
        /// Only messages whose park reason mentions this text.
        #[arg(long)]
        reason: Option<String>,
        /// Only messages of this payload; repeatable.
        #[arg(long = "payload-id")]
        payload_ids: Vec<String>,
        /// Only messages at least this many seconds old.
        #[arg(long)]
        min_age: Option<u64>,
        /// Leave a message parked once it was redriven this often.
        #[arg(long, default_value_t = 3)]
        max_redrives: u32,
    },
    #[cfg(feature = "local")]
    /// Run the whole pipeline on this machine against a local AWS endpoint (AWS_ENDPOINT_URL):
    /// the HTTP API, the S3 trigger, the consumer's SQS event source mapping and the
    /// reconcile schedule, over the resources Terraform would create. Runs until interrupted.
    Local {
        /// Resource names start with this.
        #[arg(long, default_value = "claimcheck-local")]
        name: String,
        /// The API's loopback port (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Write `terraform output -json`-shaped outputs here once running (for --outputs).
        #[arg(long, value_name = "FILE")]
        write_outputs: Option<PathBuf>,
        /// While this file exists, payloads of type application/x-claimcheck-poison fail.
        #[arg(long, value_name = "FILE")]
        poison_switch: Option<PathBuf>,
        /// Override Terraform's visibility timeout (seconds), e.g. for a quick demo.
        #[arg(long)]
        visibility_timeout: Option<u64>,
        /// Override Terraform's maxReceiveCount.
        #[arg(long)]
        max_receive_count: Option<u32>,
        /// Run the reconcile pass this often (seconds).
        #[arg(long)]
        reconcile_every: Option<u64>,
    },
    /// Find and repair stalled payloads (lost S3 events, expired URLs, expired leases,
    /// undelivered messages).
    Reconcile {
        #[arg(long)]
        dry_run: bool,
        /// Examine at most this many payloads.
        #[arg(long)]
        max: Option<u32>,
        /// A payload queued this long without being picked up is sent again.
        #[arg(long, default_value_t = 3600)]
        queued_stall_seconds: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("claimcheck: error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("claimcheck: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let endpoints = cli.endpoints.resolve()?;
    let out = Output {
        json: cli.json,
        quiet: cli.quiet,
    };
    let http = reqwest::Client::new();
    match cli.command {
        Command::Upload {
            file,
            content_type,
            metadata,
        } => {
            let api = Api::new(http.clone(), endpoints.api()?);
            let metadata = config::name_value_pairs(&metadata, "metadata")?
                .into_iter()
                .collect();
            let uploaded =
                transfer::upload(&api, &http, &file, content_type, metadata, out.quiet).await?;
            if !out.json {
                eprintln!("uploaded {} ({} bytes)", file.display(), uploaded.size);
            }
            out.emit(&uploaded, || vec![uploaded.id.clone()]);
        }
        Command::Download { id, output } => {
            let api = Api::new(http.clone(), endpoints.api()?);
            let downloaded = transfer::download(&api, &http, &id, output, out.quiet).await?;
            if downloaded.path != "-" {
                out.emit(&downloaded, || {
                    vec![format!(
                        "downloaded payload {} to {} ({} bytes, SHA-256 verified)",
                        downloaded.id, downloaded.path, downloaded.size
                    )]
                });
            }
        }
        Command::Status { id } => {
            let api = Api::new(http, endpoints.api()?);
            let view = api.payload(&id).await?;
            out.emit(&without_download_url(&view), || {
                vec![
                    format!("payload     {}", view.id),
                    format!("status      {}", view.status),
                    format!("size        {}", view.size),
                    format!(
                        "type        {}",
                        view.content_type.as_deref().unwrap_or("-")
                    ),
                    format!("sha256      {}", view.sha256.as_deref().unwrap_or("-")),
                    format!("last error  {}", view.last_error.as_deref().unwrap_or("-")),
                ]
            });
        }
        Command::Send {
            file,
            attributes,
            group_id,
        } => {
            let client = extended_client(&endpoints).await?;
            let mut options = SendOptions::default();
            if let Some(group_id) = group_id {
                options = options.with_group_id(group_id);
            }
            let sent = queue::send(
                &client,
                endpoints.queue_url()?,
                file.as_deref(),
                queue::attributes(&attributes)?,
                options,
            )
            .await?;
            out.emit(&sent, || vec![sent.message_id.clone()]);
        }
        Command::Receive {
            max,
            wait,
            output_dir,
            delete,
        } => {
            let client = extended_client(&endpoints).await?;
            let options = ReceiveOptions::default()
                .with_max_messages(max)
                .with_wait_time_seconds(wait);
            let (received, failures) = queue::receive(
                &client,
                endpoints.queue_url()?,
                options,
                output_dir.as_ref(),
                delete,
            )
            .await?;
            if out.json || output_dir.is_some() {
                out.emit(&received, || {
                    received
                        .iter()
                        .map(|m| {
                            format!(
                                "{} {} bytes -> {}",
                                m.message_id,
                                m.size,
                                m.file.as_deref().unwrap_or("stdout")
                            )
                        })
                        .collect()
                });
            }
            if failures > 0 {
                return Err(CliError::Remote(format!(
                    "{failures} message(s) could not be read"
                )));
            }
        }
        Command::Failed { statuses, limit } => {
            let statuses = if statuses.is_empty() {
                vec![Status::Dead, Status::Failed]
            } else {
                statuses
                    .iter()
                    .map(|s| operations::status(s))
                    .collect::<Result<_, _>>()?
            };
            let sdk = claimcheck::sdk_config::load().await;
            let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(&sdk), endpoints.table()?);
            let failed = operations::failed(&ledger, &statuses, limit).await?;
            out.emit(&failed, || {
                failed
                    .iter()
                    .map(|p| {
                        format!(
                            "{} {:<8} attempts {} {}",
                            p.id,
                            p.status,
                            p.attempts,
                            p.last_error.as_deref().unwrap_or("")
                        )
                    })
                    .collect()
            });
        }
        Command::Redrive {
            dry_run,
            max,
            native,
            reason,
            payload_ids,
            min_age,
            max_redrives,
        } => {
            let deps =
                repairer(&endpoints, |settings| settings.max_redrives = max_redrives).await?;
            let request = repair::Request {
                mode: if native {
                    repair::Mode::Native
                } else {
                    repair::Mode::Redrive
                },
                dry_run,
                max_messages: max,
                filter: repair::Filter {
                    reason,
                    min_age_seconds: min_age,
                    payload_ids,
                },
            };
            let report =
                operations::run_redriver(&deps, request, Duration::from_secs(3600)).await?;
            out.emit(&report, || operations::describe(&report));
        }
        #[cfg(feature = "local")]
        Command::Local {
            name,
            port,
            write_outputs,
            poison_switch,
            visibility_timeout,
            max_receive_count,
            reconcile_every,
        } => {
            let mut settings = LocalSettings::from_defaults(&name).map_err(local_error)?;
            settings.api_port = port;
            if let Some(seconds) = visibility_timeout {
                settings.stack.visibility_timeout_seconds = seconds;
                settings.lease = Duration::from_secs(seconds);
                settings.consumer_timeout = Duration::from_secs(seconds.max(2));
            }
            if let Some(count) = max_receive_count {
                settings.stack.max_receive_count = count;
            }
            if let Some(seconds) = reconcile_every {
                settings.reconcile_every = Some(Duration::from_secs(seconds.max(1)));
            }
            run_local(
                settings,
                write_outputs,
                PoisonSwitch {
                    switch: poison_switch,
                },
                out,
            )
            .await?;
        }
        Command::Reconcile {
            dry_run,
            max,
            queued_stall_seconds,
        } => {
            let deps = repairer(&endpoints, |settings| {
                settings.queued_stall = Duration::from_secs(queued_stall_seconds);
            })
            .await?;
            let request = repair::Request {
                mode: repair::Mode::Reconcile,
                dry_run,
                max_messages: max,
                filter: repair::Filter::default(),
            };
            let report =
                operations::run_redriver(&deps, request, Duration::from_secs(3600)).await?;
            out.emit(&report, || operations::describe(&report));
        }
    }
    Ok(())
}

#[cfg(feature = "local")]
async fn run_local(
    settings: LocalSettings,
    write_outputs: Option<PathBuf>,
    processor: PoisonSwitch,
    out: Output,
) -> Result<(), CliError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .with_writer(std::io::stderr)
        .init();
    let sdk = claimcheck::sdk_config::load().await;
    let running = local::start(&sdk, &settings, processor, local::Faults::default())
        .await
        .map_err(local_error)?;
    let outputs = running.outputs_json();
    if let Some(path) = &write_outputs {
        let text =
            serde_json::to_string_pretty(&outputs).map_err(|e| CliError::Usage(e.to_string()))?;
        // Written whole then renamed, so a reader never sees half a file.
        let partial = path.with_extension("partial");
        std::fs::write(&partial, text).map_err(|e| CliError::output(&partial, &e))?;
        std::fs::rename(&partial, path).map_err(|e| CliError::output(path, &e))?;
    }
    out.emit(&outputs, || {
        vec![
            format!("CLAIMCHECK_API_URL={}", running.api_url),
            format!("CLAIMCHECK_BUCKET={}", running.stack.bucket),
            format!("CLAIMCHECK_QUEUE_URL={}", running.stack.queue_url),
            format!("CLAIMCHECK_DLQ_URL={}", running.stack.dlq_url),
            format!("CLAIMCHECK_TABLE={}", running.stack.table),
        ]
    });
    wait_for_shutdown().await;
    tracing::info!("local mode stopping");
    running.stop();
    Ok(())
}

#[cfg(feature = "local")]
async fn wait_for_shutdown() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

#[cfg(feature = "local")]
fn local_error(e: local::LocalError) -> CliError {
    match e {
        local::LocalError::NoEndpoint => CliError::Usage(e.to_string()),
        local::LocalError::Setup(_) => CliError::Remote(e.to_string()),
    }
}

async fn extended_client(endpoints: &Endpoints) -> Result<ExtendedClient, CliError> {
    let sdk = claimcheck::sdk_config::load().await;
    let (s3, sqs) = claimcheck::sdk_config::clients(&sdk);
    ExtendedClient::new(
        sqs,
        PayloadStore::new(s3),
        ExtendedClientConfig::new(endpoints.bucket()?),
    )
    .map_err(|e| CliError::Usage(e.to_string()))
}

/// A payload view for printing: its download link (a credential) left out.
fn without_download_url(view: &claimcheck::api::PayloadView) -> serde_json::Value {
    let mut value = serde_json::to_value(view).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("download");
    }
    value
}

/// The redriver's operations over the deployment `endpoints` name, with the defaults of
/// [`repair::RepairSettings`] changed by `adjust`.
async fn repairer(
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
    let sdk = claimcheck::sdk_config::load().await;
    repair::Repairer::for_deployment(&sdk, &deployment, settings)
        .map_err(|e| CliError::Usage(e.to_string()))
}
