//! The processor: what a consumer does with each payload. Users build their own consumer
//! around their own `Processor`; the shipped consumer uses [`VerifyingProcessor`].
//!
//! A processor gets the payload's metadata and its body as a stream, and says how it went:
//! done, worth retrying, or never going to work (which parks the message instead of burning
//! its retries).

use std::future::Future;

use crate::checksum::Sha256;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::message_attributes::MessageAttributes;
use crate::pointer::PayloadPointer;

/// A payload body, streamed (from S3, or from an inline message).
pub type Body = Box<dyn AsyncBufRead + Send + Unpin>;

/// What is known about a payload before its body is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadMeta {
    /// The ledger id, when the payload is tracked.
    pub id: Option<String>,
    /// Where the body lives, when it was offloaded.
    pub object: Option<PayloadPointer>,
    /// The size the message declares, in bytes.
    pub size: u64,
    /// The payload's MIME content type, when known.
    pub content_type: Option<String>,
    /// Base64 SHA-256 announced for the payload, when there is one.
    pub sha256: Option<String>,
    /// The message's application attributes.
    pub attributes: MessageAttributes,
    /// How many times this message has been received, this time included.
    pub receive_count: u32,
}

/// How processing a payload went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Processed; the body's SHA-256 (base64) when the processor computed it.
    Done {
        /// The body's base64 SHA-256, when computed (recorded in the ledger for tracked
        /// payloads).
        sha256: Option<String>,
    },
    /// Failed in a way that may pass on a later attempt.
    Retry(String),
    /// Will fail on every attempt: park the message with this reason.
    Permanent(String),
}

/// Processes one payload.
pub trait Processor: Send + Sync {
    /// Processes the payload described by `meta`, reading its `body`, and says how it went.
    fn process(&self, meta: &PayloadMeta, body: Body) -> impl Future<Output = Outcome> + Send;
}

/// A shared processor processes as the one it shares (so its owner keeps a handle on it, e.g.
/// to read what it counted).
impl<P: Processor> Processor for std::sync::Arc<P> {
    fn process(&self, meta: &PayloadMeta, body: Body) -> impl Future<Output = Outcome> + Send {
        P::process(self, meta, body)
    }
}

/// The default processor: streams the body once, checks its length against the declared size
/// and its SHA-256 against the announced one, and reports the digest for the ledger. Memory
/// stays at one read buffer whatever the payload's size.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyingProcessor;

impl Processor for VerifyingProcessor {
    async fn process(&self, meta: &PayloadMeta, mut body: Body) -> Outcome {
        let mut hash = Sha256::new();
        let mut length = 0u64;
        loop {
            let chunk = match body.fill_buf().await {
                Ok(chunk) => chunk,
                Err(e) => return Outcome::Retry(format!("reading the payload failed: {e}")),
            };
            if chunk.is_empty() {
                break;
            }
            hash.update(chunk);
            length += chunk.len() as u64;
            let n = chunk.len();
            body.consume(n);
        }
        if length != meta.size {
            return Outcome::Permanent(format!(
                "payload is {length} bytes but {} were declared",
                meta.size
            ));
        }
        let digest = hash.base64();
        match &meta.sha256 {
            Some(expected) if *expected != digest => Outcome::Permanent(format!(
                "payload SHA-256 is {digest} but {expected} was announced"
            )),
            _ => Outcome::Done {
                sha256: Some(digest),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: &'static [u8]) -> Body {
        Box::new(tokio::io::BufReader::new(bytes))
    }

    fn meta(size: u64, sha256: Option<&str>) -> PayloadMeta {
        PayloadMeta {
            size,
            sha256: sha256.map(str::to_owned),
            ..PayloadMeta::default()
        }
    }

    const HELLO_SHA: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    #[tokio::test]
    async fn matching_payloads_are_done_with_their_digest() {
        let outcome = VerifyingProcessor
            .process(&meta(5, Some(HELLO_SHA)), body(b"hello"))
            .await;
        assert_eq!(
            outcome,
            Outcome::Done {
                sha256: Some(HELLO_SHA.into())
            }
        );
        let unannounced = VerifyingProcessor
            .process(&meta(5, None), body(b"hello"))
            .await;
        assert_eq!(
            unannounced,
            Outcome::Done {
                sha256: Some(HELLO_SHA.into())
            }
        );
    }

    #[tokio::test]
    async fn wrong_size_or_digest_is_permanent() {
        let short = VerifyingProcessor
            .process(&meta(6, None), body(b"hello"))
            .await;
        assert!(matches!(short, Outcome::Permanent(r) if r.contains("6 were declared")));
        let other = VerifyingProcessor
            .process(&meta(5, Some(HELLO_SHA)), body(b"jello"))
            .await;
        assert!(matches!(other, Outcome::Permanent(r) if r.contains("was announced")));
    }

    /// A body that yields some bytes and then a read error, like a dropped S3 connection.
    struct Broken(bool);

    impl tokio::io::AsyncRead for Broken {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.0 {
                return std::task::Poll::Ready(Err(std::io::Error::other("connection reset")));
            }
            self.0 = true;
            buf.put_slice(b"partial");
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn read_errors_are_retryable() {
        let broken: Body = Box::new(tokio::io::BufReader::new(Broken(false)));
        let outcome = VerifyingProcessor.process(&meta(100, None), broken).await;
        assert!(matches!(outcome, Outcome::Retry(r) if r.contains("connection reset")));
    }
}
