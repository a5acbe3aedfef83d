//! `claimcheck send`: Send a message of any size (a file, or stdin) in the SQS extended-client format.

use std::path::PathBuf;

use claimcheck::extended_client::SendOptions;

use crate::{CliError, queue};

use super::{Context, extended_client};

/// The arguments of `claimcheck send`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The body's source; stdin when absent or `-`.
    pub file: Option<PathBuf>,
    /// Message attribute `name=value`; repeatable.
    #[arg(long = "attribute", value_name = "NAME=VALUE")]
    pub attributes: Vec<String>,
    /// FIFO queues: the message group.
    #[arg(long)]
    pub group_id: Option<String>,
    /// FIFO queues: the deduplication id (SQS drops a repeat within 5 minutes). Default: the
    /// body's SHA-256, so sending the same content twice delivers it once, offloaded or not.
    #[arg(long, requires = "group_id")]
    pub deduplication_id: Option<String>,
}

/// Runs `claimcheck send`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        file,
        attributes,
        group_id,
        deduplication_id,
    } = args;
    let (endpoints, out) = (&cx.endpoints, &cx.out);
    let client = extended_client(endpoints).await?;
    let mut options = SendOptions::default();
    if let Some(group_id) = group_id {
        options = options.with_group_id(group_id);
    }
    if let Some(id) = deduplication_id {
        options = options.with_deduplication_id(id);
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
    Ok(())
}
