//! `claimcheck upload`: Upload files (or `-`, standard input) through the API: one presigned
//! PUT with the SHA-256 pinned, or above the deployment's multipart threshold a multipart
//! upload of parallel, individually retried parts; `--resume ID` finishes an interrupted one.
//! Prints each payload id.

use std::path::PathBuf;

use crate::transfer::{UploadOptions, Uploaded};
use crate::{CliError, config, progress, transfer};

use super::Context;

/// The arguments of `claimcheck upload`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to upload, one payload each; `-` reads standard input (any length, uploaded in
    /// parts as it is read).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Default: from the file name's extension (`application/octet-stream` for `-`).
    #[arg(long)]
    pub content_type: Option<String>,
    /// Metadata kept in the ledger, `name=value`; repeatable.
    #[arg(long = "metadata", value_name = "NAME=VALUE")]
    pub metadata: Vec<String>,
    /// Finish the interrupted multipart upload of payload ID from FILE (one file): parts S3
    /// already holds are checked against the file and not sent again.
    #[arg(long, value_name = "ID")]
    pub resume: Option<String>,
    /// Parts of a multipart upload in flight at once (memory: about part size × N).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
}

/// Runs `claimcheck upload`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        files,
        content_type,
        metadata,
        resume,
        parallel,
    } = args;
    if resume.is_some() && files.len() != 1 {
        return Err(CliError::Usage(
            "--resume finishes one upload: name exactly one file".into(),
        ));
    }
    if let Some(id) = &resume {
        uuid::Uuid::try_parse(id)
            .map_err(|_| CliError::Usage(format!("--resume {id:?}: not a payload id")))?;
    }
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(CliError::Usage(
            "standard input (-) can be uploaded once per command".into(),
        ));
    }
    let (endpoints, out, http) = (&cx.endpoints, &cx.out, &cx.http);
    let api = endpoints.api_client(http).await?;
    let options = UploadOptions {
        content_type,
        metadata: config::name_value_pairs(&metadata, "metadata")?
            .into_iter()
            .collect(),
        resume,
        parallel: usize::from(parallel),
    };
    let bars = progress::Bars::new(out.quiet);
    let mut uploaded: Vec<Uploaded> = Vec::new();
    let mut first_error = None;
    for file in &files {
        match transfer::upload(&api, http, file, &options, &bars).await {
            Ok(done) => {
                if !out.json {
                    eprintln!("uploaded {} ({} bytes)", file.display(), done.size);
                }
                uploaded.push(done);
            }
            // With several files, one failure does not stop the others: each is reported,
            // and the command fails with the first.
            Err(e) if files.len() > 1 => {
                eprintln!("claimcheck: {}: {e}", file.display());
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    let ids = || uploaded.iter().map(|u| u.id.clone()).collect();
    match uploaded.as_slice() {
        [one] if files.len() == 1 => out.emit(one, ids),
        _ => out.emit(&uploaded, ids),
    }
    first_error.map_or(Ok(()), Err)
}
