//! producer: each S3 `ObjectCreated` record for the uploads prefix becomes exactly one pointer
//! message on the work queue, in the SQS extended-client wire format (so an official Java or
//! Python extended-client consumer can read the queue as is), and the ledger moves the payload
//! `pending → queued`.
//!
//! Queueing itself is the library's [`claimcheck::admission`] (the reconcile pass queues lost
//! uploads with the same code): the conditional ledger write `pending → queued` deduplicates
//! S3's at-least-once events, the object's real size, SHA-256 and content type are checked
//! against what was announced (a mismatch is `quarantined`, not queued), and a failed send
//! returns the payload to `pending` and fails the invocation, so S3/Lambda retry it; records
//! already queued are not redone on the retry.
//!
//! Objects with no ledger item (uploaded some other way) follow `CLAIMCHECK_UNKNOWN_OBJECTS`:
//! `ignore` (default: logged and skipped) or `enqueue` (recorded from the object itself and
//! queued).

use std::sync::Arc;

use aws_lambda_events::s3::{S3Event, S3EventRecord};
use claimcheck::admission::{Admission, AdmissionError, MessageGroup, ignored};
use claimcheck::extended_client::ClientError;
use claimcheck::ledger::Ledger;
use claimcheck::metrics::Metrics;
use claimcheck::object_key::KeyPrefix;
use claimcheck::settings::{self, SettingsError, Source};
use claimcheck::size_attribute::SizeAttributeName;
use claimcheck::{ExtendedClient, ExtendedClientConfig, PayloadPointer, PayloadStore};

pub use claimcheck::admission::{Outcome, UnknownObjects};

/// The producer's settings, read from its environment by [`Settings::from_source`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// `CLAIMCHECK_BUCKET`: the only bucket whose events are handled.
    pub bucket: String,
    /// `CLAIMCHECK_TABLE`: the ledger table.
    pub table: String,
    /// `CLAIMCHECK_QUEUE_URL`: the work queue.
    pub queue_url: String,
    /// `CLAIMCHECK_UPLOADS_PREFIX`, default `uploads/`
    pub uploads_prefix: KeyPrefix,
    /// `CLAIMCHECK_UNKNOWN_OBJECTS`: `ignore` (default) or `enqueue`
    pub unknown_objects: UnknownObjects,
    /// `CLAIMCHECK_SIZE_ATTRIBUTE`: `current` (default, `ExtendedPayloadSize`) or `legacy`
    pub size_attribute: SizeAttributeName,
    /// `CLAIMCHECK_MESSAGE_GROUP`: on a FIFO work queue, `payload` (default: a group per
    /// payload) or `metadata:KEY` (the upload's metadata value under KEY)
    pub message_group: MessageGroup,
}

impl Settings {
    /// Reads every setting, naming the variable in the error when one is missing or invalid.
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        Ok(Self {
            bucket: settings::required(source, "CLAIMCHECK_BUCKET")?,
            table: settings::required(source, "CLAIMCHECK_TABLE")?,
            queue_url: settings::required(source, "CLAIMCHECK_QUEUE_URL")?,
            uploads_prefix: settings::uploads_prefix(source)?,
            unknown_objects: settings::parsed_or(
                source,
                "CLAIMCHECK_UNKNOWN_OBJECTS",
                UnknownObjects::Ignore,
            )?,
            size_attribute: settings::parsed_or(
                source,
                "CLAIMCHECK_SIZE_ATTRIBUTE",
                SizeAttributeName::Current,
            )?,
            message_group: settings::parsed_or(
                source,
                "CLAIMCHECK_MESSAGE_GROUP",
                MessageGroup::PerPayload,
            )?,
        })
    }
}

/// The handler's dependencies.
#[derive(Debug, Clone)]
pub struct Producer {
    /// Queues each uploaded object.
    pub admission: Admission,
    /// What the handler was configured with.
    pub settings: Settings,
    /// Its CloudWatch metrics (function `producer`): `PayloadsQueued`, `PayloadsQuarantined`,
    /// `PayloadsDuplicate`, `UploadsIgnored`, `ObjectsGone`, `RecordsFailed`, `ColdStart`.
    pub metrics: Arc<Metrics>,
}

impl Producer {
    /// Builds the clients from the one SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings) -> Result<Self, ClientError> {
        let store = PayloadStore::new(aws_sdk_s3::Client::new(sdk));
        let mut config = ExtendedClientConfig::new(&settings.bucket);
        config.size_attribute = settings.size_attribute;
        let client = ExtendedClient::new(aws_sdk_sqs::Client::new(sdk), store.clone(), config)?;
        let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table);
        Ok(Self {
            admission: Admission::new(
                ledger,
                store,
                client,
                &settings.queue_url,
                settings.unknown_objects,
            )
            .with_message_group(settings.message_group.clone()),
            settings,
            metrics: Arc::new(Metrics::from_source("producer", &settings::Environment)),
        })
    }
}

/// Why a record could not be handled now (worth retrying).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record lacks a field every S3 event record has.
    #[error("S3 event record has no {0}")]
    Malformed(&'static str),
    /// S3, the ledger or SQS failed while queueing it.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
}

/// The invocation failed: at least one record must be retried.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} records failed; first: {first}")]
pub struct InvocationFailed {
    pub failed: usize,
    pub total: usize,
    pub first: String,
}

/// Handles every record; fails the invocation (so it is retried) if any record failed, after
/// handling the others. Records already queued are recognised on the retry.
pub async fn handle(deps: &Producer, event: S3Event) -> Result<Vec<Outcome>, InvocationFailed> {
    let total = event.records.len();
    let mut outcomes = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for record in &event.records {
        match produce(deps, record).await {
            Ok(outcome) => {
                deps.metrics.count(outcome_metric(&outcome), 1);
                let payload_id = outcome.payload_id().unwrap_or("");
                tracing::info!(payload_id, outcome = %outcome, "record handled");
                outcomes.push(outcome);
            }
            Err(e) => {
                deps.metrics.count("RecordsFailed", 1);
                tracing::error!(error = %e, "record failed; the invocation will be retried");
                errors.push(e.to_string());
            }
        }
    }
    deps.metrics.flush();
    match errors.first() {
        None => Ok(outcomes),
        Some(first) => Err(InvocationFailed {
            failed: errors.len(),
            total,
            first: first.clone(),
        }),
    }
}

/// The metric an outcome counts in.
fn outcome_metric(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Queued { .. } => "PayloadsQueued",
        Outcome::Duplicate { .. } => "PayloadsDuplicate",
        Outcome::Quarantined { .. } => "PayloadsQuarantined",
        Outcome::Ignored { .. } => "UploadsIgnored",
        Outcome::ObjectGone { .. } => "ObjectsGone",
        // An outcome added to the library later: still one record handled.
        _ => "RecordsHandled",
    }
}

/// Decodes a key as S3 event notifications encode it: form encoding, so `+` is a space and
/// `%XX` escapes a byte (`%2B` is a literal `+`).
pub fn decode_s3_key(encoded: &str) -> Option<String> {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

async fn produce(deps: &Producer, record: &S3EventRecord) -> Result<Outcome, RecordError> {
    let settings = &deps.settings;
    let encoded = record
        .s3
        .object
        .key
        .as_deref()
        .ok_or(RecordError::Malformed("object key"))?;
    let bucket = record
        .s3
        .bucket
        .name
        .as_deref()
        .ok_or(RecordError::Malformed("bucket name"))?;
    let Some(key) = decode_s3_key(encoded) else {
        return Ok(ignored(encoded, "the key is not valid UTF-8 once decoded"));
    };
    if !record
        .event_name
        .as_deref()
        .unwrap_or("")
        .starts_with("ObjectCreated:")
    {
        return Ok(ignored(&key, "not an ObjectCreated event"));
    }
    if bucket != settings.bucket {
        return Ok(ignored(&key, "event from another bucket"));
    }
    let Some(id) = settings.uploads_prefix.id_of(&key) else {
        return Ok(ignored(
            &key,
            "not an upload key (the uploads prefix and a payload id)",
        ));
    };
    Ok(deps
        .admission
        .admit(id, &PayloadPointer::new(bucket, &key))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::decode_s3_key;

    #[test]
    fn keys_decode_the_way_s3_encodes_them() {
        assert_eq!(
            decode_s3_key("uploads%2Fa+b%2Bc.txt").as_deref(),
            Some("uploads/a b+c.txt")
        );
        assert_eq!(
            decode_s3_key("uploads/plain").as_deref(),
            Some("uploads/plain")
        );
        assert_eq!(decode_s3_key("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(decode_s3_key("%FF%FE"), None);
        assert_eq!(decode_s3_key("100%").as_deref(), Some("100%"));
    }
}
