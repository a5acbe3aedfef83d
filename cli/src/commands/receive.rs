//! `claimcheck receive`: Receive messages (resolving pointers to their payloads).

use std::path::PathBuf;

use claimcheck::extended_client::ReceiveOptions;

use crate::{CliError, queue};

use super::{Context, extended_client};

/// The arguments of `claimcheck receive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// At most this many messages (1-10; more than 1 needs -o DIR: bodies on stdout are
    /// written exactly as sent, with nothing between them to tell them apart).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=10))]
    pub max: i32,
    /// Long-poll this many seconds (0-20).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(0..=20))]
    pub wait: i32,
    /// Write each body to DIR/<message id> instead of stdout (needed for --max above 1 and for
    /// --json, whose report takes stdout).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Delete each message once written (its payload object is marked for the bucket's
    /// lifecycle rule: a copy SQS may still hold must find it).
    #[arg(long)]
    pub delete: bool,
}

/// Runs `claimcheck receive`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        max,
        wait,
        output_dir,
        delete,
    } = args;
    let (endpoints, out) = (&cx.endpoints, &cx.out);
    // Stdout carries one body's bytes exactly, or the JSON report: never a mixture, never two
    // bodies run together.
    if output_dir.is_none() && max > 1 {
        return Err(CliError::Usage(
            "--max above 1 needs -o DIR: bodies on stdout are written exactly, so several could not be told apart".into(),
        ));
    }
    if output_dir.is_none() && out.json {
        return Err(CliError::Usage(
            "--json needs -o DIR: the JSON report takes stdout, the bodies go to files".into(),
        ));
    }
    if let Some(dir) = &output_dir
        && !dir.is_dir()
    {
        return Err(CliError::Usage(format!(
            "-o {}: not a directory",
            dir.display()
        )));
    }
    let client = extended_client(endpoints).await?;
    let options = ReceiveOptions::default()
        .with_max_messages(max)
        .with_wait_time_seconds(wait);
    let (received, failures) = queue::receive(
        &client,
        endpoints.queue_url()?,
        options,
        output_dir.as_ref(),
        delete,
    )
    .await?;
    if received.is_empty() && failures == 0 && !out.json {
        eprintln!("no messages (waited {wait} s)");
    }
    if out.json || output_dir.is_some() {
        out.emit(&received, || {
            received
                .iter()
                .map(|m| {
                    format!(
                        "{} {} bytes -> {}",
                        m.message_id,
                        m.size,
                        m.file.as_deref().unwrap_or("stdout")
                    )
                })
                .collect()
        });
    }
    if failures > 0 {
        return Err(CliError::Remote(format!(
            "{failures} message(s) could not be read"
        )));
    }
    Ok(())
}
