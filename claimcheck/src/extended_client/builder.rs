//! [`ExtendedClientBuilder`]: an extended client from the one SDK configuration, setting by
//! setting, with every rule checked once at [`ExtendedClientBuilder::build`].

use std::collections::BTreeSet;

use super::{ClientError, ExtendedClient, ExtendedClientConfig, FailureHook};
use crate::PayloadStore;
use crate::object_key::{KeyPrefix, KeyPrefixError};
use crate::offload::{OffloadPolicy, SendRuleError};
use crate::payload_store::PutOptions;
use crate::size_attribute::SizeAttributeName;

/// Why [`ExtendedClientBuilder::build`] refused its settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No bucket was given: offloaded payloads need one.
    #[error("the extended client needs a bucket for offloaded payloads")]
    NoBucket,
    /// The key prefix is not a valid S3 key prefix.
    #[error(transparent)]
    KeyPrefix(#[from] KeyPrefixError),
    /// The offload threshold is over SQS's 1 MiB message size.
    #[error(transparent)]
    Threshold(#[from] SendRuleError),
    /// The batch limit is over SQS's 1 MiB.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Builds an [`ExtendedClient`]; start with [`ExtendedClient::builder`]. Defaults are those of
/// [`ExtendedClientConfig::new`]: offload above 262 144 bytes (SQS's classic limit, as the Java
/// and Python clients do), write `ExtendedPayloadSize`, delete payloads with their messages,
/// long-poll 20 s, keys at the bucket's root.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let sdk = claimcheck::sdk_config::load().await;
/// let client = claimcheck::ExtendedClient::builder(&sdk)
///     .bucket("my-payloads")
///     .key_prefix("offloaded/")
///     .threshold(64 * 1024)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ExtendedClientBuilder {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    bucket: Option<String>,
    key_prefix: Option<String>,
    threshold: Option<usize>,
    always_through_s3: bool,
    size_attribute: SizeAttributeName,
    batch_limit: Option<usize>,
    payload_cleanup: super::CleanupPolicy,
    ignore_payload_not_found: bool,
    wait_time_seconds: Option<i32>,
    trusted_buckets: BTreeSet<String>,
    put_options: PutOptions,
    on_failure: Option<FailureHookDebug>,
}

/// The failure hook, printable in the builder's `Debug` output.
#[derive(Clone)]
struct FailureHookDebug(FailureHook);

impl std::fmt::Debug for FailureHookDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailureHook")
    }
}

impl ExtendedClient {
    /// A builder whose SQS and S3 clients come from `sdk` (one configuration for both, as
    /// [`crate::sdk_config::load`] makes it).
    pub fn builder(sdk: &aws_config::SdkConfig) -> ExtendedClientBuilder {
        ExtendedClientBuilder {
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            bucket: None,
            key_prefix: None,
            threshold: None,
            always_through_s3: false,
            size_attribute: SizeAttributeName::default(),
            batch_limit: None,
            payload_cleanup: super::CleanupPolicy::Deferred,
            ignore_payload_not_found: false,
            wait_time_seconds: None,
            trusted_buckets: BTreeSet::new(),
            put_options: PutOptions::default(),
            on_failure: None,
        }
    }
}

impl ExtendedClientBuilder {
    /// The bucket offloaded payloads are written to (required); pointers into it are trusted.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// The prefix of every offloaded payload's key (default: none, the bucket's root). Give it
    /// a prefix the readers' IAM policy and the bucket's lifecycle rule cover.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = Some(prefix.into());
        self
    }

    /// Offload when body plus attributes exceed this many bytes (default 262 144, at most
    /// 1 048 576: SQS's maximum message size).
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = Some(bytes);
        self
    }

    /// Offload every message, whatever its size (Java's `alwaysThroughS3`).
    pub fn always_through_s3(mut self, always: bool) -> Self {
        self.always_through_s3 = always;
        self
    }

    /// Which reserved size attribute offloaded messages carry (both are always read):
    /// `Current` (`ExtendedPayloadSize`, Python's default) or `Legacy` (`SQSLargePayloadSize`,
    /// Java's).
    pub fn size_attribute(mut self, name: SizeAttributeName) -> Self {
        self.size_attribute = name;
        self
    }

    /// The most bytes a whole `SendMessageBatch` may carry before its largest entries are
    /// offloaded (default 262 144, at most 1 048 576).
    pub fn batch_limit(mut self, bytes: usize) -> Self {
        self.batch_limit = Some(bytes);
        self
    }

    /// What becomes of a message's payload object when the message is deleted (default
    /// [`super::CleanupPolicy::Deferred`]).
    pub fn payload_cleanup(mut self, policy: super::CleanupPolicy) -> Self {
        self.payload_cleanup = policy;
        self
    }

    /// Delete and skip a message whose payload object is gone (S3 `NoSuchKey`: never a missing bucket, access denied or a transient fault) instead of
    /// reporting it (default off).
    pub fn ignore_payload_not_found(mut self, ignore: bool) -> Self {
        self.ignore_payload_not_found = ignore;
        self
    }

    /// The long-poll wait of receives in seconds (default 20; clamped to SQS's 0–20).
    pub fn wait_time_seconds(mut self, seconds: i32) -> Self {
        self.wait_time_seconds = Some(seconds);
        self
    }

    /// Another bucket whose pointers may be followed (repeatable); pointers into any other
    /// bucket are refused.
    pub fn trust_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.trusted_buckets.insert(bucket.into());
        self
    }

    /// Per-object options of every offloaded payload: SSE-KMS key, object tags, part size.
    pub fn put_options(mut self, options: PutOptions) -> Self {
        self.put_options = options;
        self
    }

    /// A hook called once for every AWS call that still fails after the SDK's retries.
    pub fn on_failure(mut self, hook: FailureHook) -> Self {
        self.on_failure = Some(FailureHookDebug(hook));
        self
    }

    /// The client.
    ///
    /// # Errors
    /// [`BuildError::NoBucket`] without a bucket; [`BuildError::KeyPrefix`] for a prefix S3
    /// cannot take; [`BuildError::Threshold`] or [`BuildError::Client`] for a threshold or batch
    /// limit over 1 MiB.
    pub fn build(self) -> Result<ExtendedClient, BuildError> {
        let bucket = self.bucket.ok_or(BuildError::NoBucket)?;
        let mut config = ExtendedClientConfig::new(bucket);
        if let Some(prefix) = self.key_prefix {
            config.key_prefix = KeyPrefix::new(prefix)?;
        }
        let offload = match self.threshold {
            Some(threshold) => OffloadPolicy::with_threshold(threshold)?,
            None => OffloadPolicy::default(),
        };
        config.offload = offload.always_through_s3(self.always_through_s3);
        config.size_attribute = self.size_attribute;
        if let Some(limit) = self.batch_limit {
            config.batch_limit = limit;
        }
        config.payload_cleanup = self.payload_cleanup;
        config.ignore_payload_not_found = self.ignore_payload_not_found;
        if let Some(seconds) = self.wait_time_seconds {
            config.wait_time_seconds = seconds;
        }
        config.trusted_buckets = self.trusted_buckets;
        config.put_options = self.put_options;
        let client = ExtendedClient::new(self.sqs, PayloadStore::new(self.s3), config)?;
        Ok(match self.on_failure {
            Some(FailureHookDebug(hook)) => client.with_failure_hook(hook),
            None => client,
        })
    }
}
