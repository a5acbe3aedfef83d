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
    /// Parts of a multipart upload in flight at once, 1 to 32 (memory: about part size × N).
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
        // What was announced when the upload started stays: a flag that would do nothing is
        // refused, not ignored.
        if content_type.is_some() || !metadata.is_empty() {
            return Err(CliError::Usage(
                "--resume keeps the content type and metadata announced when the upload started: leave out --content-type and --metadata".into(),
            ));
        }
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
    crate::interrupt::install();
    let bars = progress::Bars::new(out.quiet);
    let several = files.len() > 1;
    let mut answers: Vec<FileAnswer> = Vec::new();
    let mut first_failure: Option<CliError> = None;
    for file in &files {
        let name = file.display().to_string();
        match transfer::upload(&api, http, file, &options, &bars).await {
            Ok(done) => {
                // Each id as soon as its file is done (an interrupted command has printed the
                // ids of the files it finished); `--json` prints one document at the end.
                if !out.json {
                    eprintln!("uploaded {name} ({} bytes)", done.size);
                    out.emit(&done, || vec![done.id.clone()]);
                }
                answers.push(FileAnswer::Uploaded { file: name, done });
            }
            // With several files, one failure does not stop the others: each is reported as
            // it happens, and the command fails with the first one's exit code.
            Err(e) if several => {
                eprintln!("claimcheck: {name}: {e}");
                answers.push(FileAnswer::Failed {
                    file: name,
                    error: e.to_string(),
                    exit_code: e.exit_code(),
                });
                first_failure.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if out.json {
        match answers.as_slice() {
            [FileAnswer::Uploaded { done, .. }] if !several => out.emit(done, Vec::new),
            _ => out.emit(&answers, Vec::new),
        }
    }
    match first_failure {
        None => Ok(()),
        Some(first) => Err(CliError::SomeFiles {
            failed: answers
                .iter()
                .filter(|a| matches!(a, FileAnswer::Failed { .. }))
                .count(),
            total: files.len(),
            exit_code: first.exit_code(),
        }),
    }
}

/// One file's outcome in `--json` output of a several-file command.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum FileAnswer {
    /// `{"file", "id", "size", "sha256"}`.
    Uploaded {
        file: String,
        #[serde(flatten)]
        done: Uploaded,
    },
    /// `{"file", "error", "exit_code"}`.
    Failed {
        file: String,
        error: String,
        exit_code: u8,
    },
}
