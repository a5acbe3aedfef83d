//! The extended SQS client: a superset of what AWS's Java and Python extended clients do,
//! speaking their wire format (see `pointer`, `size_attribute`, `receipt_handle`).
//!
//! Where it differs from them, on purpose:
//! - payloads stream (`send_stream`, `MessageBody::Offloaded`), never a whole String;
//! - a batch send offloads its largest entries until the batch fits SQS's batch limit;
//! - receive resolves each message on its own: one bad pointer or missing object is reported
//!   for that message, the others are delivered;
//! - delete removes the SQS message first and the object after, so a failure leaves at most an
//!   orphan object (which the bucket's lifecycle rule expires), never a message whose payload
//!   is gone; a batch delete cleans up only the entries SQS actually deleted;
//! - an upload whose SendMessage then fails is deleted again, instead of being orphaned;
//! - pointers are followed only into trusted buckets.

mod builder;
mod delete;
#[cfg(feature = "lambda")]
mod lambda;
mod receive;
mod send;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

pub use builder::{BuildError, ExtendedClientBuilder};
pub use delete::{BatchChanged, BatchDeleted, PayloadCleanup};
#[cfg(feature = "lambda")]
pub use lambda::record_attributes;
pub use receive::{MessageBody, ReceiveOptions, ReceivedMessage, ResolveError, UnresolvedMessage};
pub use send::{BatchEntry, BatchEntryFailure, BatchSent, OutgoingMessage, SendOptions, Sent};

use crate::object_key::KeyPrefix;
use crate::offload::{DEFAULT_THRESHOLD, MAX_THRESHOLD, OffloadPolicy, SendRuleError};
use crate::payload_store::{PayloadStore, PutOptions, StoreError};
use crate::receipt_handle::MalformedReceiptHandle;
use crate::sdk_error::SdkFailure;
use crate::size_attribute::SizeAttributeName;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// SQS limits the client enforces before calling SQS.
pub use crate::sqs_limits::{
    MAX_BATCH_ENTRIES, MAX_DELAY_SECONDS, MAX_VISIBILITY_TIMEOUT_SECONDS, MAX_WAIT_TIME_SECONDS,
};

/// How the client offloads, names and cleans up payloads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExtendedClientConfig {
    /// The bucket offloaded payloads are written to. Always trusted for reads.
    pub bucket: String,
    /// Prefix of generated object keys: each key is this prefix followed by a random UUID, with no
    /// separator added (as the Java library does). Empty by default.
    pub key_prefix: KeyPrefix,
    /// When bodies go to S3: when the body plus its attributes is over the threshold (default
    /// 262144 bytes), or always.
    pub offload: OffloadPolicy,
    /// Which reserved attribute name is written (both are read).
    pub size_attribute: SizeAttributeName,
    /// SQS caps a whole SendMessageBatch at the queue's maximum message size; entries are
    /// offloaded, largest first, until the batch fits this many bytes.
    pub batch_limit: usize,
    /// What becomes of a payload object once its message is deleted (default
    /// [`CleanupPolicy::Deferred`]).
    pub payload_cleanup: CleanupPolicy,
    /// When a pointer's object is gone (S3 `NoSuchKey`: never a missing bucket, access denied
    /// or a transient fault), delete the message and skip it instead of reporting it.
    pub ignore_payload_not_found: bool,
    /// Long-poll wait for receives, 0–20 s.
    pub wait_time_seconds: i32,
    /// Other buckets whose pointers may be followed, beside `bucket`.
    pub trusted_buckets: BTreeSet<String>,
    /// What every offloaded payload is stored with: SSE-KMS key, object tags, content type
    /// (default: the bucket's encryption, no tags, `text/plain; charset=UTF-8` for bodies sent
    /// as messages, S3's default for streamed payloads).
    pub put_options: PutOptions,
}

/// What becomes of a payload object once its message is deleted.
///
/// SQS confirms a `DeleteMessage` even for a receipt handle whose message was redelivered or
/// moved to the DLQ meanwhile (documented behaviour), so a copy of the pointer may outlive the
/// delete. Java's and Python's extended clients delete the object at once ([`Self::Immediate`]);
/// that surviving copy then points at nothing. claimcheck's default defers: the object is
/// tagged for a lifecycle rule that expires it after the queues' retention, when no copy can be
/// alive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CleanupPolicy {
    /// Tag the object ([`crate::payload_store::EXPIRED_TAG_KEY`]) for the bucket's lifecycle
    /// rule to expire it later (`PayloadStore::expire_later`). Needs `s3:GetObjectTagging` and
    /// `s3:PutObjectTagging`, and the lifecycle rule (`infra/storage.tf`).
    #[default]
    Deferred,
    /// Delete the object right after the message (Java's and Python's behaviour): a pointer
    /// copy still in a queue then fails on every receive.
    Immediate,
    /// Leave the object (another process or the bucket's own lifecycle rule removes it).
    Keep,
}

impl ExtendedClientConfig {
    /// The defaults for `bucket`: no key prefix, offload over 262144 bytes, the current size
    /// attribute name (`ExtendedPayloadSize`), a batch limit of 262144 bytes, payloads marked for
    /// deferred deletion with their messages, missing payloads reported (not skipped), 20 s long polls and no other
    /// trusted bucket.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key_prefix: KeyPrefix::default(),
            offload: OffloadPolicy::default(),
            size_attribute: SizeAttributeName::default(),
            batch_limit: DEFAULT_THRESHOLD,
            payload_cleanup: CleanupPolicy::Deferred,
            ignore_payload_not_found: false,
            wait_time_seconds: MAX_WAIT_TIME_SECONDS,
            trusted_buckets: BTreeSet::new(),
            put_options: PutOptions::default(),
        }
    }

    /// Whether pointers into `bucket` may be followed: it is `bucket` or one of `trusted_buckets`.
    pub fn trusts(&self, bucket: &str) -> bool {
        bucket == self.bucket || self.trusted_buckets.contains(bucket)
    }
}

/// A call that failed for good, after the SDK's retries; given to the failure hook.
#[derive(Debug)]
pub struct CallFailure<'a> {
    /// The AWS operation that failed (`SendMessage`, `GetObject`, `DeleteObject`, ...).
    pub operation: &'static str,
    /// The error it returned: the SDK error for an SQS call, a [`StoreError`] for an S3 call.
    pub error: &'a (dyn std::error::Error + 'static),
}

/// Called once for every AWS call that finally fails (metrics, alerts).
pub type FailureHook = Arc<dyn Fn(&CallFailure<'_>) + Send + Sync>;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The message breaks one of the Java library's send rules (empty body, too many or reserved
    /// attributes, ...).
    #[error(transparent)]
    Rule(#[from] SendRuleError),
    /// A batch had no entries or more than 10 (SQS's limit); holds the number given.
    #[error("a batch holds 1 to {MAX_BATCH_ENTRIES} entries, got {0}")]
    BatchSize(usize),
    /// Two entries of one batch share this id; SQS requires ids unique within a batch.
    #[error("batch entry id {0:?} is used twice")]
    DuplicateEntryId(String),
    /// A batch send is over `batch_limit` even with every body offloaded: the pointers and
    /// attributes alone are too large.
    #[error("batch needs {size} bytes even with every body offloaded, over the {limit}-byte limit")]
    BatchTooLarge {
        /// Bytes the batch takes with every body offloaded.
        size: usize,
        /// The configured `batch_limit`, in bytes.
        limit: usize,
    },
    /// The configured `batch_limit` is over SQS's maximum message size (1 MiB); holds the
    /// configured value, in bytes.
    #[error("batch limit {0} is over SQS's maximum of {MAX_THRESHOLD} bytes")]
    BatchLimitTooLarge(usize),
    /// An S3 call on a payload object failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A receipt handle carries the extended clients' pointer markers, but not in the form they
    /// write.
    #[error(transparent)]
    ReceiptHandle(#[from] MalformedReceiptHandle),
    /// An SQS call failed after the SDK's retries.
    #[error("SQS {operation} failed: {message}")]
    Sqs {
        /// The SQS operation (`SendMessage`, `DeleteMessageBatch`, ...).
        operation: &'static str,
        /// The error message SQS returned (its error code, or the SDK's description, when there is
        /// none).
        message: String,
        /// SQS's error code, when the response carried one.
        code: Option<String>,
        /// Whether the same call may succeed later (timeouts, network failures, throttling, 5xx
        /// responses).
        transient: bool,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// The SDK could not build the request (an invalid message attribute or batch entry); holds its
    /// reason.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl ClientError {
    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Sqs { transient, .. } => *transient,
            Self::Store(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// The extended client. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct ExtendedClient {
    sqs: aws_sdk_sqs::Client,
    store: PayloadStore,
    config: Arc<ExtendedClientConfig>,
    on_failure: Option<FailureHook>,
}

impl std::fmt::Debug for ExtendedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtendedClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ExtendedClient {
    /// A client over `sqs` that stores payloads with `store`, configured by `config`.
    ///
    /// # Errors
    /// [`ClientError::BatchLimitTooLarge`] when `config.batch_limit` is over SQS's 1 MiB maximum
    /// message size.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        store: PayloadStore,
        config: ExtendedClientConfig,
    ) -> Result<Self, ClientError> {
        if config.batch_limit > MAX_THRESHOLD {
            return Err(ClientError::BatchLimitTooLarge(config.batch_limit));
        }
        Ok(Self {
            sqs,
            store,
            config: Arc::new(config),
            on_failure: None,
        })
    }

    /// Installs a hook called once for each AWS call that fails after the SDK's retries.
    pub fn with_failure_hook(self, hook: FailureHook) -> Self {
        Self {
            on_failure: Some(hook),
            ..self
        }
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &ExtendedClientConfig {
        &self.config
    }

    /// The payload store offloaded bodies are written to and read from.
    pub fn store(&self) -> &PayloadStore {
        &self.store
    }

    /// The underlying SQS client, for calls the extended client does not wrap.
    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// Maps a failed SQS call and reports it to the hook.
    fn sqs_error<E>(&self, operation: &'static str, err: SdkError<E, HttpResponse>) -> ClientError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let failure = SdkFailure::of(&err);
        self.report(operation, &err);
        ClientError::Sqs {
            operation,
            message: failure.message,
            code: failure.code,
            transient: failure.transient,
            source: Box::new(err),
        }
    }

    /// Reports a failed S3 call to the hook and passes the error on.
    fn store_error(&self, operation: &'static str, err: StoreError) -> StoreError {
        self.report(operation, &err);
        err
    }

    fn report(&self, operation: &'static str, error: &(dyn std::error::Error + 'static)) {
        tracing::warn!(operation, error = %error, "AWS call failed after retries");
        if let Some(hook) = &self.on_failure {
            hook(&CallFailure { operation, error });
        }
    }
}

/// Clamps a delay to SQS's 0–900 s.
pub fn clamp_delay(seconds: i32) -> i32 {
    seconds.clamp(0, MAX_DELAY_SECONDS)
}

/// Clamps a visibility timeout to SQS's 0–43200 s.
pub fn clamp_visibility(seconds: i32) -> i32 {
    seconds.clamp(0, MAX_VISIBILITY_TIMEOUT_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_to_sqs_ranges() {
        assert_eq!(clamp_delay(-5), 0);
        assert_eq!(clamp_delay(901), 900);
        assert_eq!(clamp_delay(30), 30);
        assert_eq!(clamp_visibility(-1), 0);
        assert_eq!(clamp_visibility(50_000), 43_200);
    }

    #[test]
    fn own_bucket_is_always_trusted() {
        let mut config = ExtendedClientConfig::new("mine");
        assert!(config.trusts("mine"));
        assert!(!config.trusts("theirs"));
        config.trusted_buckets.insert("theirs".into());
        assert!(config.trusts("theirs"));
    }
}
