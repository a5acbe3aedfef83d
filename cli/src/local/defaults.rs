//! The pipeline settings Terraform declares (`infra/defaults.json`, which the infra tests keep
//! equal to the Terraform variables' defaults): local mode provisions with the same values.

use serde::Deserialize;

/// `infra/defaults.json`, compiled in.
pub const DEFAULTS_JSON: &str = include_str!("../../../infra/defaults.json");

#[derive(Debug, Clone, Deserialize)]
pub struct StackDefaults {
    pub uploads_prefix: String,
    pub messages_prefix: String,
    pub max_receive_count: u32,
    pub queue_retention_seconds: u64,
    pub dlq_retention_seconds: u64,
    pub consumer_timeout_seconds: u64,
    pub visibility_timeout_seconds: u64,
    pub lease_seconds: u64,
    pub upload_url_seconds: u64,
    pub download_url_seconds: u64,
    pub max_upload_bytes: u64,
    pub multipart_threshold_bytes: u64,
    pub part_size_bytes: u64,
    pub multipart_upload_seconds: u64,
    pub consumer_max_payload_bytes: u64,
    pub max_redrives: u32,
    pub queued_stall_seconds: u64,
    pub batch_size: u32,
    pub maximum_batching_window_seconds: u64,
    pub status_index: String,
    pub pending_index: String,
    pub ttl_attribute: String,
    pub api_authorization: String,
    pub upload_scopes: Vec<String>,
    pub read_scopes: Vec<String>,
    pub cors_allowed_origins: Vec<String>,
    pub api_cors_allowed_headers: Vec<String>,
    pub bucket_cors_allowed_headers: Vec<String>,
    pub require_sha256: bool,
    pub max_pending_uploads: u32,
    pub operator_arns: Vec<String>,
    pub operator_scope: Option<String>,
    pub fifo: bool,
    pub message_group: String,
}

impl StackDefaults {
    pub fn load() -> Result<Self, serde_json::Error> {
        serde_json::from_str(DEFAULTS_JSON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code's own names must be the ones Terraform provisions.
    #[test]
    fn the_code_uses_the_names_terraform_provisions() {
        let defaults = StackDefaults::load().expect("infra/defaults.json parses");
        assert_eq!(defaults.status_index, claimcheck::ledger::STATUS_INDEX);
        assert_eq!(defaults.pending_index, claimcheck::ledger::PENDING_INDEX);
        assert_eq!(defaults.ttl_attribute, claimcheck::ledger::TTL_ATTRIBUTE);
        assert_eq!(defaults.uploads_prefix, "uploads/");
        assert_eq!(
            defaults.messages_prefix,
            crate::config::DEFAULT_MESSAGES_PREFIX
        );
        assert!(defaults.visibility_timeout_seconds >= 6 * defaults.consumer_timeout_seconds);
        assert!(defaults.lease_seconds > defaults.consumer_timeout_seconds);
        assert!(defaults.lease_seconds <= defaults.visibility_timeout_seconds);
    }
}
