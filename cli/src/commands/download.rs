//! `claimcheck download`: Download a payload through the API, checking its size and SHA-256.

use std::path::PathBuf;

use crate::{CliError, transfer};

use super::Context;

/// The arguments of `claimcheck download`.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Where to write it (default: a file named after the id; `-` for stdout).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs `claimcheck download`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args { id, output } = args;
    let (endpoints, out, http) = (&cx.endpoints, &cx.out, &cx.http);
    let api = endpoints.api_client(http).await?;
    let downloaded = transfer::download(&api, http, &id, output, out.quiet).await?;
    if downloaded.path != "-" {
        out.emit(&downloaded, || {
            vec![format!(
                "downloaded payload {} to {} ({} bytes, SHA-256 verified)",
                downloaded.id, downloaded.path, downloaded.size
            )]
        });
    }
    Ok(())
}
