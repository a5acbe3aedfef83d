//! `send` and `receive`: claimcheck as an SQS extended client from the shell. Bodies of any
//! size stream between files (or stdin/stdout) and S3; the messages are in the extended-client
//! wire format, so Java and Python extended clients read and write the same queues.

use std::path::{Path, PathBuf};

use claimcheck::extended_client::{MessageBody, ReceiveOptions, SendOptions};
use claimcheck::{ExtendedClient, MessageAttribute, MessageAttributes};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::CliError;

#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    pub message_id: String,
    /// Where the body went, when it was offloaded (`s3://bucket/key`).
    pub offloaded_to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceivedSummary {
    pub message_id: String,
    pub size: u64,
    pub offloaded: bool,
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The file the body was written to (with `--output-dir`).
    pub file: Option<String>,
    pub deleted: bool,
}

/// Parses `name=value` attribute flags into String attributes. (SQS's rules for names and
/// values are the library's send rules: a broken one is refused as a usage error, exit 2.)
pub fn attributes(pairs: &[String]) -> Result<MessageAttributes, CliError> {
    Ok(crate::config::name_value_pairs(pairs, "attribute")?
        .into_iter()
        .map(|(name, value)| (name, MessageAttribute::string(value)))
        .collect())
}

/// Sends a file's (or stdin's) content as one message. Small text bodies go inline when the
/// extended client's rule allows; anything else streams to S3 behind a pointer.
pub async fn send(
    client: &ExtendedClient,
    queue_url: &str,
    source: Option<&Path>,
    attributes: MessageAttributes,
    options: SendOptions,
) -> Result<SentMessage, CliError> {
    let input: Box<dyn AsyncRead + Send + Unpin> = match source {
        None => Box::new(tokio::io::stdin()),
        Some(path) if path.as_os_str() == "-" => Box::new(tokio::io::stdin()),
        Some(path) => Box::new(
            tokio::fs::File::open(path)
                .await
                .map_err(|e| CliError::input(path, &e))?,
        ),
    };
    let name = source.map_or("stdin".into(), |p| p.display().to_string());
    // Read one byte past the threshold: that settles inline or offloaded without buffering
    // more than the threshold.
    let threshold = client.config().offload.threshold();
    let mut head = Vec::with_capacity(threshold + 1);
    let mut input = input;
    (&mut input)
        .take(threshold as u64 + 1)
        .read_to_end(&mut head)
        .await
        .map_err(|e| CliError::Input {
            path: name.clone(),
            reason: e.to_string(),
        })?;
    // A message the send rules refuse (empty, a reserved attribute name, too many
    // attributes) is the caller's mistake: a usage error, exit 2.
    let failed = |e: claimcheck::ClientError| match e {
        claimcheck::ClientError::Rule(rule) => CliError::Usage(format!("cannot send: {rule}")),
        e => CliError::Remote(format!("send failed: {e}")),
    };
    let sent = if head.len() <= threshold
        && let Ok(text) = String::from_utf8(head.clone())
    {
        // As for an offloaded body: the content's SHA-256 deduplicates a FIFO message.
        let mut options = options;
        if options.group_id.is_some() && options.deduplication_id.is_none() {
            options = options.with_deduplication_id(claimcheck::checksum::sha256_hex(&head));
        }
        let message = claimcheck::extended_client::OutgoingMessage {
            body: text,
            attributes,
            options,
        };
        client.send(queue_url, message).await.map_err(failed)?
    } else {
        let whole = std::io::Cursor::new(head).chain(input);
        client
            .send_stream(queue_url, whole, attributes, options)
            .await
            .map_err(failed)?
    };
    Ok(SentMessage {
        message_id: sent.message_id,
        offloaded_to: sent.pointer.map(|p| format!("s3://{}/{}", p.bucket, p.key)),
    })
}

/// Receives up to `max` messages; writes each body to `output_dir/<message id>` or, without
/// one, to stdout exactly as sent (nothing added); deletes each (and its payload) after it was written when `delete` is set.
/// Messages that cannot be resolved are reported on stderr and counted as failures.
pub async fn receive(
    client: &ExtendedClient,
    queue_url: &str,
    options: ReceiveOptions,
    output_dir: Option<&PathBuf>,
    delete: bool,
) -> Result<(Vec<ReceivedSummary>, usize), CliError> {
    let received = client
        .receive(queue_url, &options)
        .await
        .map_err(|e| CliError::Remote(format!("receive failed: {e}")))?;
    let mut summaries = Vec::new();
    let mut failures = 0;
    for message in received {
        let message = match message {
            Ok(message) => message,
            Err(unresolved) => {
                eprintln!(
                    "claimcheck: message {} cannot be read: {}",
                    unresolved.message_id, unresolved.error
                );
                failures += 1;
                continue;
            }
        };
        let offloaded = message.body.pointer().is_some();
        let file = output_dir.map(|dir| dir.join(&message.message_id));
        let size = write_body(message.body, file.as_deref()).await?;
        let deleted = if delete {
            client
                .delete(queue_url, &message.receipt_handle)
                .await
                .map_err(|e| CliError::Remote(format!("delete failed: {e}")))?;
            true
        } else {
            false
        };
        summaries.push(ReceivedSummary {
            message_id: message.message_id,
            size,
            offloaded,
            attributes: message
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("(binary)").to_owned()))
                .collect(),
            file: file.map(|f| f.display().to_string()),
            deleted,
        });
    }
    Ok((summaries, failures))
}

async fn write_body(body: MessageBody, file: Option<&Path>) -> Result<u64, CliError> {
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match file {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .map_err(|e| CliError::output(path, &e))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let where_to = file.map_or(PathBuf::from("stdout"), Path::to_path_buf);
    let written = match body {
        MessageBody::Inline(text) => {
            sink.write_all(text.as_bytes())
                .await
                .map_err(|e| CliError::output(&where_to, &e))?;
            text.len() as u64
        }
        MessageBody::Offloaded { payload, .. } => {
            let mut reader = payload.into_async_read();
            tokio::io::copy_buf(&mut reader, &mut sink)
                .await
                .map_err(|e| CliError::Remote(format!("reading the payload failed: {e}")))?
        }
    };
    sink.flush()
        .await
        .map_err(|e| CliError::output(&where_to, &e))?;
    Ok(written)
}
