//! `claimcheck local`: Run the whole pipeline on this machine against a local AWS endpoint (AWS_ENDPOINT_URL): the HTTP API, the S3 trigger, the consumer's SQS event source mapping and the reconcile schedule, over the resources Terraform would create. Runs until interrupted.

use std::path::PathBuf;
use std::time::Duration;

use crate::CliError;
use crate::local::poison::PoisonSwitch;
use crate::local::{self, LocalSettings};
use crate::output::Output;

use super::Context;

/// The arguments of `claimcheck local`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Resource names start with this.
    #[arg(long, default_value = "claimcheck-local")]
    pub name: String,
    /// The API's loopback port (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Write `terraform output -json`-shaped outputs here once running (for --outputs).
    #[arg(long, value_name = "FILE")]
    pub write_outputs: Option<PathBuf>,
    /// While this file exists, payloads of type application/x-claimcheck-poison fail.
    #[arg(long, value_name = "FILE")]
    pub poison_switch: Option<PathBuf>,
    /// Override Terraform's visibility timeout (seconds), e.g. for a quick demo.
    #[arg(long)]
    pub visibility_timeout: Option<u64>,
    /// Override Terraform's maxReceiveCount.
    #[arg(long)]
    pub max_receive_count: Option<u32>,
    /// Run the reconcile pass this often (seconds).
    #[arg(long)]
    pub reconcile_every: Option<u64>,
}

/// Runs `claimcheck local`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        name,
        port,
        write_outputs,
        poison_switch,
        visibility_timeout,
        max_receive_count,
        reconcile_every,
    } = args;
    let out = &cx.out;
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
    Ok(())
}

async fn run_local(
    settings: LocalSettings,
    write_outputs: Option<PathBuf>,
    processor: PoisonSwitch,
    out: &Output,
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

fn local_error(e: local::LocalError) -> CliError {
    match e {
        local::LocalError::NoEndpoint => CliError::Usage(e.to_string()),
        local::LocalError::Setup(_) => CliError::Remote(e.to_string()),
    }
}
