//! `claimcheck upload`: Upload a file through the API (presigned PUT, SHA-256 pinned); prints the payload id.

use std::path::PathBuf;

use crate::{CliError, config, transfer};

use super::Context;

/// The arguments of `claimcheck upload`.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub file: PathBuf,
    /// Default: from the file name's extension.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Metadata kept in the ledger, `name=value`; repeatable.
    #[arg(long = "metadata", value_name = "NAME=VALUE")]
    pub metadata: Vec<String>,
}

/// Runs `claimcheck upload`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        file,
        content_type,
        metadata,
    } = args;
    let (endpoints, out, http) = (&cx.endpoints, &cx.out, &cx.http);
    let api = endpoints.api_client(http).await?;
    let metadata = config::name_value_pairs(&metadata, "metadata")?
        .into_iter()
        .collect();
    let uploaded = transfer::upload(&api, http, &file, content_type, metadata, out.quiet).await?;
    if !out.json {
        eprintln!("uploaded {} ({} bytes)", file.display(), uploaded.size);
    }
    out.emit(&uploaded, || vec![uploaded.id.clone()]);
    Ok(())
}
