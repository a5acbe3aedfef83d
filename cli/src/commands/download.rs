//! `claimcheck download`: Download a payload through the API, checking its size and SHA-256.

use std::path::PathBuf;

use crate::{CliError, transfer};

use super::Context;

/// The arguments of `claimcheck download`.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Where to write it: a file, a directory (then DIR/<id>), or `-` for stdout (default: a
    /// file named after the id here). A file is written under a temporary name and renamed
    /// into place only once its size and SHA-256 match; on stdout the bytes go out as they
    /// arrive and are verified only at the end (a mismatch exits 4 after they were written).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Replace the target file if it exists (otherwise an existing file is refused before
    /// anything is downloaded).
    #[arg(long)]
    pub force: bool,
}

/// Runs `claimcheck download`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args { id, output, force } = args;
    let (endpoints, out, http) = (&cx.endpoints, &cx.out, &cx.http);
    if out.json && output.as_deref().is_some_and(|o| o.as_os_str() == "-") {
        return Err(CliError::Usage(
            "--json needs -o FILE or DIR: with -o - the payload's bytes take stdout".into(),
        ));
    }
    let target = transfer::download_target(&id, output, force)?;
    let api = endpoints.api_client(http).await?;
    let downloaded = transfer::download(&api, http, &id, target, force, out.quiet).await?;
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
