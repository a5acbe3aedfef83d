//! `claimcheck redrive`: Send checked DLQ messages back to the work queue (or start SQS's native redrive).

use claimcheck::repair;

use crate::CliError;

use super::{Context, repairer, run_repair};

/// The arguments of `claimcheck redrive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub dry_run: bool,
    /// Examine at most this many messages (1 or more).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max: Option<u32>,
    /// SQS's StartMessageMoveTask: fast, no checks (takes no filter).
    #[arg(long, conflicts_with_all = ["reason", "payload_ids", "min_age"])]
    pub native: bool,
    /// Only messages whose park reason mentions this text.
    #[arg(long)]
    pub reason: Option<String>,
    /// Only messages of this payload (its id, a UUID); repeatable.
    #[arg(long = "payload-id", value_parser = payload_id)]
    pub payload_ids: Vec<String>,
    /// Only messages at least this many seconds old.
    #[arg(long)]
    pub min_age: Option<u64>,
    /// Leave a message parked once it was redriven this often (the redriver function's
    /// setting of the same name).
    #[arg(long, env = "CLAIMCHECK_MAX_REDRIVES", default_value_t = 3)]
    pub max_redrives: u32,
}

/// Runs `claimcheck redrive`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        dry_run,
        max,
        native,
        reason,
        payload_ids,
        min_age,
        max_redrives,
    } = args;
    let endpoints = &cx.endpoints;
    let deps = repairer(endpoints, |settings| settings.max_redrives = max_redrives).await?;
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
    match run_repair(cx, &deps, request).await {
        // The local endpoint answers SQS's move-task calls with a page, not an error: say so.
        // (Nothing was changed: the ledger is marked only after SQS starts the task.)
        Err(CliError::Remote(message)) if native && message.contains("StartMessageMoveTask") => {
            match endpoints.endpoint_override() {
                Some(_) => Err(CliError::Remote(
                    "the AWS endpoint this command uses (AWS_ENDPOINT_URL or local mode's) cannot run SQS's StartMessageMoveTask (the local endpoint does not implement it); nothing was changed: run `claimcheck redrive` without --native".into(),
                )),
                None => Err(CliError::Remote(message)),
            }
        }
        other => other,
    }
}

/// A payload id as the API issues them: a UUID, written lower-case.
fn payload_id(value: &str) -> Result<String, String> {
    uuid::Uuid::try_parse(value)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| format!("{value:?} is not a payload id (a UUID)"))
}
