//! `claimcheck stats`: how many payloads are in each ledger state, and what the functions
//! reported in their CloudWatch metrics — read from local mode's metrics log (the outputs
//! file's `metrics_log`), or, for a deployed stack, pointed to on its CloudWatch dashboard.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use claimcheck::ledger::Ledger;
use serde::Serialize;

use crate::CliError;
use crate::stats::{self, Summary};

use super::Context;

/// The arguments of `claimcheck stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recent window the rates cover, in seconds (1–86400).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub window: u64,
    /// The metrics log to read (EMF lines; default: the outputs file's `metrics_log`, which
    /// `claimcheck local` writes, counted from when that run started).
    #[arg(long, env = "CLAIMCHECK_METRICS_LOG", value_name = "FILE")]
    pub metrics_log: Option<PathBuf>,
    /// The stack whose metrics to count (default: the outputs file's `stack_name`).
    #[arg(long, env = "CLAIMCHECK_STACK_NAME", value_name = "NAME")]
    pub stack: Option<String>,
}

/// What `claimcheck stats --json` prints.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// The ledger table counted.
    pub table: String,
    /// Live payloads per state (states with none left out).
    pub ledger: std::collections::BTreeMap<&'static str, u64>,
    /// All of them.
    pub payloads: u64,
    /// The metrics, when a metrics log was read.
    pub metrics: Option<Summary>,
    /// The log they came from.
    pub metrics_log: Option<PathBuf>,
    /// Where a deployed stack's metrics are instead.
    pub dashboard_url: Option<String>,
}

/// Runs `claimcheck stats`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let (endpoints, out) = (&cx.endpoints, &cx.out);
    let sdk = endpoints.sdk_config().await;
    let table = endpoints.table()?.to_owned();
    let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    let counts = ledger
        .count_by_status()
        .await
        .map_err(|e| CliError::Remote(e.to_string()))?;
    // A log named on the command line must exist; local mode's, from its outputs, may not yet
    // (no handler has reported), and counts from when that run started.
    let (log, since, explicit) = match args.metrics_log {
        Some(path) => (Some(path), None, true),
        None => (
            endpoints.metrics_log.clone(),
            endpoints.metrics_since,
            false,
        ),
    };
    let metrics = match &log {
        Some(path) => {
            let stack = args
                .stack
                .or_else(|| endpoints.stack_name.clone())
                .ok_or_else(|| {
                    CliError::Usage(
                        "whose metrics: give --stack NAME (or an outputs file with stack_name)"
                            .into(),
                    )
                })?;
            if stack.trim().is_empty() {
                return Err(CliError::Usage("--stack must not be empty".into()));
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            match stats::summarize(path, &stack, since, now, args.window) {
                Ok(summary) => Some(summary),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Some(Summary {
                    window_seconds: args.window,
                    since,
                    ..Summary::default()
                }),
                Err(e) => return Err(CliError::input(path, &e)),
            }
        }
        None => None,
    };
    let report = Stats {
        table,
        payloads: counts.values().sum(),
        ledger: counts,
        metrics,
        metrics_log: log,
        dashboard_url: endpoints.dashboard_url.clone(),
    };
    out.emit(&report, || describe(&report));
    Ok(())
}

fn describe(report: &Stats) -> Vec<String> {
    let states: Vec<String> = report
        .ledger
        .iter()
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    let mut lines = vec![
        format!(
            "ledger {}: {} payload{}",
            report.table,
            report.payloads,
            if report.payloads == 1 { "" } else { "s" }
        ),
        format!(
            "  {}",
            if states.is_empty() {
                "(empty)".to_owned()
            } else {
                states.join(" · ")
            }
        ),
    ];
    match (&report.metrics, &report.metrics_log) {
        (Some(summary), Some(path)) => {
            lines.push(format!("metrics ({}):", path.display()));
            lines.extend(stats::describe(summary));
        }
        _ => lines.push(match &report.dashboard_url {
            Some(url) => format!("metrics: CloudWatch namespace claimcheck, dashboard {url}"),
            None => "metrics: CloudWatch namespace claimcheck (no metrics log to read here)".into(),
        }),
    }
    lines
}
