//! `claimcheck reconcile`: Find and repair stalled payloads (lost S3 events, expired URLs, expired leases, undelivered messages).

use std::time::Duration;

use claimcheck::repair;

use crate::CliError;

use super::{Context, repairer, run_repair};

/// The arguments of `claimcheck reconcile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub dry_run: bool,
    /// Examine at most this many payloads (1 or more).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max: Option<u32>,
    /// A payload queued this long without being picked up is sent again.
    #[arg(long, default_value_t = 3600)]
    pub queued_stall_seconds: u64,
}

/// Runs `claimcheck reconcile`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        dry_run,
        max,
        queued_stall_seconds,
    } = args;
    let endpoints = &cx.endpoints;
    let deps = repairer(endpoints, |settings| {
        settings.queued_stall = Duration::from_secs(queued_stall_seconds);
    })
    .await?;
    let request = repair::Request {
        mode: repair::Mode::Reconcile,
        dry_run,
        max_messages: max,
        filter: repair::Filter::default(),
    };
    run_repair(cx, &deps, request).await
}
