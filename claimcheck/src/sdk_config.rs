//! The one `SdkConfig` every client is built from.
//!
//! The endpoint, region and credentials come only from the SDK's standard sources (so
//! `AWS_ENDPOINT_URL` points everything at a local endpoint); this module adds the retry and
//! timeout policy, so throttling and transient faults are absorbed by the SDK, not by hand.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Attempts per call, first included. Standard retry mode backs off exponentially with jitter
/// and retries throttling, 5xx and I/O errors.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long to wait for a connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Per attempt; long enough for a 20 s long poll and an 8 MiB part over a slow link.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Loads the shared configuration from the environment.
pub async fn load() -> SdkConfig {
    load_with(None, None).await
}

/// Loads the shared configuration from the environment, with credentials from the named
/// profile only (as `--profile` does for the AWS CLI: the environment's keys do not override
/// it) and the region, when given, overriding every other source.
pub async fn load_with(profile: Option<&str>, region: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(profile) = profile {
        // A named profile's credentials win over the environment's, as `--profile` does for the
        // AWS CLI (the default chain would take AWS_ACCESS_KEY_ID first), and a profile that does
        // not exist is an error rather than a silent fall-back.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

/// The S3 and SQS clients of one shared configuration.
pub fn clients(config: &SdkConfig) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    (
        aws_sdk_s3::Client::new(config),
        aws_sdk_sqs::Client::new(config),
    )
}
