//! What the local AWS endpoint (moto's server, which `make test` and local mode run) leaves out
//! of what AWS sends, filled in the one way local mode and the tests both use. For local runs
//! and tests only (the `provision` feature).

/// An S3 event notification from the local endpoint, completed as S3 sends it: the endpoint
/// leaves out `userIdentity`, `requestParameters` and `responseElements`, which Lambda's event
/// type (`aws_lambda_events::s3::S3Event`) requires; they get neutral values, and everything
/// the endpoint did send (the URL-encoded key) stays untouched. `None` when `json` is not an
/// event with `Records` (such as the `s3:TestEvent` S3 sends when a notification is set up).
pub fn complete_s3_event(json: &str) -> Option<String> {
    let mut event: serde_json::Value = serde_json::from_str(json).ok()?;
    let records = event.get_mut("Records")?.as_array_mut()?;
    for record in records {
        let defaults = [
            ("userIdentity", serde_json::json!({"principalId": "local"})),
            (
                "requestParameters",
                serde_json::json!({"sourceIPAddress": "127.0.0.1"}),
            ),
            ("responseElements", serde_json::json!({})),
        ];
        for (field, value) in defaults {
            if record.get(field).is_none() {
                record[field] = value;
            }
        }
    }
    Some(event.to_string())
}

/// `config` signing as `function`: the same configuration with the access key id
/// `fn-<function>` (secret `testing`). The local endpoint does not check signatures; its call
/// log (`CLAIMCHECK_CALL_LOG`, tests/local_endpoint.py) names each request's access key id, so
/// every request a function's code makes, and every presigned URL it signs, is attributed to
/// that function: the infra check compares them with its IAM policy, and the cost benchmark
/// counts them per stage. Never for a real AWS account.
pub fn config_signing_as(config: &aws_config::SdkConfig, function: &str) -> aws_config::SdkConfig {
    use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
    let credentials = Credentials::new(
        format!("fn-{function}"),
        "testing",
        None,
        None,
        "claimcheck-local-endpoint",
    );
    config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

#[cfg(test)]
mod tests {
    use super::complete_s3_event;

    #[test]
    fn missing_fields_are_filled_and_sent_ones_kept() {
        let json = r#"{"Records":[{"s3":{"object":{"key":"uploads%2Fa+b"}},"userIdentity":{"principalId":"AWS:X"}}]}"#;
        let completed: serde_json::Value =
            serde_json::from_str(&complete_s3_event(json).expect("an event")).expect("json");
        let record = &completed["Records"][0];
        assert_eq!(record["userIdentity"]["principalId"], "AWS:X");
        assert_eq!(record["requestParameters"]["sourceIPAddress"], "127.0.0.1");
        assert_eq!(record["s3"]["object"]["key"], "uploads%2Fa+b");
        assert_eq!(complete_s3_event(r#"{"Event":"s3:TestEvent"}"#), None);
    }
}
