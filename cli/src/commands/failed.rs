//! `claimcheck failed`: List failed payloads with their reasons (default: dead and failed).

use claimcheck::ledger::{Ledger, Status};

use crate::{CliError, operations};

use super::Context;

/// The arguments of `claimcheck failed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these states; repeatable.
    #[arg(long = "status")]
    pub statuses: Vec<String>,
    /// At most this many payloads (1 to 100000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub limit: u64,
}

/// Runs `claimcheck failed`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args { statuses, limit } = args;
    let (endpoints, out) = (&cx.endpoints, &cx.out);
    let statuses = if statuses.is_empty() {
        vec![Status::Dead, Status::Failed]
    } else {
        statuses
            .iter()
            .map(|s| operations::status(s))
            .collect::<Result<Vec<_>, _>>()?
    };
    // Each state once, in the order given.
    let mut statuses = statuses;
    let mut seen = std::collections::HashSet::new();
    statuses.retain(|s| seen.insert(*s));
    if let Some(unlisted) = statuses
        .iter()
        .find(|s| !claimcheck::ledger::is_listed(**s))
    {
        return Err(CliError::Usage(format!(
            "{unlisted} payloads are not in the ledger's status index (only the states an \
             operator acts on are); `claimcheck stats` counts them and `claimcheck status ID` \
             shows one"
        )));
    }
    let sdk = endpoints.sdk_config().await;
    let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(&sdk), endpoints.table()?);
    let failed = operations::failed(&ledger, &statuses, limit as usize).await?;
    if failed.is_empty() && !out.json {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        eprintln!("no payloads in state {}", names.join(" or "));
    }
    out.emit(&failed, || {
        failed
            .iter()
            .map(|p| {
                let first = p
                    .first_error
                    .as_deref()
                    .map_or(String::new(), |first| format!(" (first: {first})"));
                format!(
                    "{} {:<8} attempts {} {}{first}",
                    p.id,
                    p.status,
                    p.attempts,
                    p.last_error.as_deref().unwrap_or("")
                )
            })
            .collect()
    });
    Ok(())
}
