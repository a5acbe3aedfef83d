//! producer: each S3 `ObjectCreated` record for the uploads prefix becomes exactly one pointer
//! message on the work queue, in the SQS extended-client wire format (so an official Java or
//! Python extended-client consumer can read the queue as is), and the ledger moves the payload
//! `pending → queued`.
//!
//! Deduplication: S3 delivers events at least once, so the conditional ledger write
//! `pending → queued` is the deduplication point; the message is sent only by the writer that
//! won it. A duplicate event (or a racing duplicate invocation) finds the payload already
//! `queued` and does nothing. A crash between the ledger write and the send leaves the payload
//! `queued` with no `message_id`; a retried event then counts as a duplicate, and the
//! reconcile pass re-sends payloads that stay `queued` without a `message_id` (a crash after
//! the send but before recording the id can thus duplicate a message, which the consumer's
//! ledger claim absorbs). A send that fails returns the payload to `pending` and fails the
//! invocation, so S3/Lambda retry it; records already queued are not redone on the retry.
//!
//! Checks before queueing: the object's real size (a presigned PUT cannot carry a size
//! range), its SHA-256 when one was announced and S3 reports one, and its content type must
//! match the ledger; otherwise the payload is `quarantined` with the reason and not queued.
//!
//! Objects with no ledger item (uploaded some other way) follow `CLAIMCHECK_UNKNOWN_OBJECTS`:
//! `ignore` (default: logged and skipped) or `enqueue` (recorded from the object itself and
//! queued).

use aws_lambda_events::s3::{S3Event, S3EventRecord};
use claimcheck::extended_client::{ClientError, SendOptions};
use claimcheck::ledger::{
    Changes, Created, Ledger, LedgerError, NewPayload, PayloadRecord, Status, Transition,
};
use claimcheck::object_key::KeyPrefix;
use claimcheck::payload_store::ObjectInfo;
use claimcheck::settings::{self, SettingsError, Source};
use claimcheck::size_attribute::SizeAttributeName;
use claimcheck::{
    ExtendedClient, ExtendedClientConfig, MessageAttribute, MessageAttributes, PayloadPointer,
    PayloadStore, StoreError,
};

/// Message attributes the producer adds beside the reserved size attribute.
pub use claimcheck::message_attributes::{
    CONTENT_TYPE as CONTENT_TYPE_ATTRIBUTE, PAYLOAD_ID as PAYLOAD_ID_ATTRIBUTE,
};

/// What to do with an object under the uploads prefix that the ledger does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownObjects {
    Ignore,
    Enqueue,
}

impl std::str::FromStr for UnknownObjects {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ignore" => Ok(Self::Ignore),
            "enqueue" => Ok(Self::Enqueue),
            other => Err(format!("expected ignore or enqueue, got {other:?}")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `CLAIMCHECK_BUCKET`: the only bucket whose events are handled.
    pub bucket: String,
    /// `CLAIMCHECK_TABLE`
    pub table: String,
    /// `CLAIMCHECK_QUEUE_URL`: the work queue.
    pub queue_url: String,
    /// `CLAIMCHECK_UPLOADS_PREFIX`, default `uploads/`
    pub uploads_prefix: KeyPrefix,
    /// `CLAIMCHECK_UNKNOWN_OBJECTS`: `ignore` (default) or `enqueue`
    pub unknown_objects: UnknownObjects,
    /// `CLAIMCHECK_SIZE_ATTRIBUTE`: `current` (default, `ExtendedPayloadSize`) or `legacy`
    pub size_attribute: SizeAttributeName,
}

impl Settings {
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        let uploads_prefix = settings::uploads_prefix(source)?;
        let size_attribute =
            match settings::parsed_or(source, "CLAIMCHECK_SIZE_ATTRIBUTE", "current".to_owned())?
                .as_str()
            {
                "current" => SizeAttributeName::Current,
                "legacy" => SizeAttributeName::Legacy,
                other => {
                    return Err(SettingsError::Invalid {
                        name: "CLAIMCHECK_SIZE_ATTRIBUTE",
                        value: other.to_owned(),
                        problem: "expected current or legacy".into(),
                    });
                }
            };
        Ok(Self {
            bucket: settings::required(source, "CLAIMCHECK_BUCKET")?,
            table: settings::required(source, "CLAIMCHECK_TABLE")?,
            queue_url: settings::required(source, "CLAIMCHECK_QUEUE_URL")?,
            uploads_prefix,
            unknown_objects: settings::parsed_or(
                source,
                "CLAIMCHECK_UNKNOWN_OBJECTS",
                UnknownObjects::Ignore,
            )?,
            size_attribute,
        })
    }
}

/// The handler's dependencies.
#[derive(Debug, Clone)]
pub struct Producer {
    pub store: PayloadStore,
    pub ledger: Ledger,
    pub client: ExtendedClient,
    pub settings: Settings,
}

impl Producer {
    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings) -> Result<Self, ClientError> {
        let store = PayloadStore::new(aws_sdk_s3::Client::new(sdk));
        let mut config = ExtendedClientConfig::new(&settings.bucket);
        config.size_attribute = settings.size_attribute;
        let client = ExtendedClient::new(aws_sdk_sqs::Client::new(sdk), store.clone(), config)?;
        Ok(Self {
            store,
            ledger: Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table),
            client,
            settings,
        })
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Queued {
        id: String,
        message_id: String,
    },
    /// Already handled: the payload is past `pending`.
    Duplicate {
        id: String,
        status: Status,
    },
    /// The object does not match what was announced.
    Quarantined {
        id: String,
        reason: String,
    },
    /// Not ours to queue (another bucket or prefix, a non-create event, an unknown object).
    Ignored {
        key: String,
        reason: String,
    },
    /// Deleted before it could be queued; reconcile expires its ledger item.
    ObjectGone {
        id: String,
    },
}

/// Why a record could not be handled now (worth retrying).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("S3 event record has no {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Send(#[from] ClientError),
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
                tracing::info!(?outcome, "record handled");
                outcomes.push(outcome);
            }
            Err(e) => {
                tracing::error!(error = %e, "record failed; the invocation will be retried");
                errors.push(e.to_string());
            }
        }
    }
    match errors.first() {
        None => Ok(outcomes),
        Some(first) => Err(InvocationFailed {
            failed: errors.len(),
            total,
            first: first.clone(),
        }),
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
        return Ok(ignored(&key, "outside the uploads prefix"));
    };
    admit(deps, id, &PayloadPointer::new(bucket, &key)).await
}

/// Queues an uploaded object: checks it against the ledger, moves the payload
/// `pending → queued` and sends its pointer. Used for S3 events and by the reconcile pass for
/// uploads whose event was lost.
pub async fn admit(
    deps: &Producer,
    id: &str,
    object: &PayloadPointer,
) -> Result<Outcome, RecordError> {
    let settings = &deps.settings;
    let key = object.key.as_str();
    // The ledger first: a duplicate event or an ignored object needs no call to S3.
    let known = deps.ledger.get(id).await?;
    match &known {
        None if settings.unknown_objects == UnknownObjects::Ignore => {
            return Ok(ignored(
                key,
                "no ledger item (not uploaded through the API)",
            ));
        }
        Some(record) if record.status != Status::Pending => {
            return Ok(Outcome::Duplicate {
                id: id.to_owned(),
                status: record.status,
            });
        }
        _ => {}
    }
    let info = match deps.store.head(object).await {
        Ok(info) => info,
        Err(e) if e.is_not_found() => return Ok(Outcome::ObjectGone { id: id.to_owned() }),
        Err(e) => return Err(e.into()),
    };
    let expected = match known {
        Some(expected) => expected,
        None => adopt(deps, id, object, &info).await?,
    };
    if let Some(reason) = mismatch(&expected, &info) {
        let changes = Changes {
            last_error: Some(reason.clone()),
            size: Some(info.size),
            ..Changes::default()
        };
        return Ok(
            match deps
                .ledger
                .transition(id, &[Status::Pending], Status::Quarantined, &changes)
                .await?
            {
                Transition::Applied(_) => {
                    tracing::warn!(payload_id = id, %reason, "upload quarantined");
                    Outcome::Quarantined {
                        id: id.to_owned(),
                        reason,
                    }
                }
                Transition::Rejected(current) => duplicate(id, current),
            },
        );
    }
    let queued = Changes {
        size: Some(info.size),
        e_tag: info.e_tag.clone(),
        ..Changes::default()
    };
    if let Transition::Rejected(current) = deps
        .ledger
        .transition(id, &[Status::Pending], Status::Queued, &queued)
        .await?
    {
        return Ok(duplicate(id, current));
    }
    let sent = deps
        .client
        .send_pointer(
            &settings.queue_url,
            object,
            info.size,
            attributes(id, &expected),
            SendOptions::default(),
        )
        .await;
    let sent = match sent {
        Ok(sent) => sent,
        Err(e) => {
            let back = Changes {
                last_error: Some(format!("send failed: {e}")),
                ..Changes::default()
            };
            if let Err(revert) = deps
                .ledger
                .transition(id, &[Status::Queued], Status::Pending, &back)
                .await
            {
                tracing::error!(payload_id = id, error = %revert, "could not return the payload to pending");
            }
            return Err(e.into());
        }
    };
    record_message_id(deps, id, &sent.message_id).await?;
    Ok(Outcome::Queued {
        id: id.to_owned(),
        message_id: sent.message_id,
    })
}

/// Sends the pointer of a payload that is `queued` again (its message was never sent, or
/// never delivered), and records the new message id. The payload's stall clock is restarted
/// by a conditional write first, so of two racing callers only one sends; `None` when the
/// payload is no longer `queued`. A copy that turns out to be a duplicate is absorbed by the
/// consumer's ledger claim.
pub async fn resend(
    deps: &Producer,
    record: &PayloadRecord,
) -> Result<Option<String>, RecordError> {
    let restart = Changes::default();
    let claimed = deps
        .ledger
        .update_if_unchanged(&record.id, Status::Queued, record.updated_at, &restart)
        .await?;
    if let Transition::Rejected(_) = claimed {
        return Ok(None);
    }
    let sent = deps
        .client
        .send_pointer(
            &deps.settings.queue_url,
            &record.object,
            record.size,
            attributes(&record.id, record),
            SendOptions::default(),
        )
        .await?;
    record_message_id(deps, &record.id, &sent.message_id).await?;
    Ok(Some(sent.message_id))
}

async fn record_message_id(deps: &Producer, id: &str, message_id: &str) -> Result<(), RecordError> {
    let recorded = Changes {
        message_id: Some(message_id.to_owned()),
        ..Changes::default()
    };
    // The consumer may have moved it on already; then there is nothing left to record.
    deps.ledger
        .transition(id, &[Status::Queued], Status::Queued, &recorded)
        .await?;
    Ok(())
}

/// Records an object nobody announced, from what S3 says about it.
async fn adopt(
    deps: &Producer,
    id: &str,
    object: &PayloadPointer,
    info: &ObjectInfo,
) -> Result<PayloadRecord, RecordError> {
    let payload = NewPayload {
        id: id.to_owned(),
        object: object.clone(),
        size: info.size,
        content_type: info
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into()),
        sha256: info.checksum_sha256.clone(),
        metadata: Default::default(),
        url_expires_at: deps.ledger.now(),
    };
    if deps.ledger.create_pending(&payload).await? == Created::Created {
        tracing::info!(
            payload_id = id,
            "object without a ledger item recorded and queued"
        );
    }
    deps.ledger
        .get(id)
        .await?
        .ok_or(RecordError::Malformed("ledger item after recording it"))
}

/// Why the stored object is not the announced one, if it is not.
fn mismatch(expected: &PayloadRecord, info: &ObjectInfo) -> Option<String> {
    if info.size != expected.size {
        return Some(format!(
            "size mismatch: announced {} bytes, stored {}",
            expected.size, info.size
        ));
    }
    // A presigned PUT signs the checksum header, so S3 verified the body against it and
    // stores it; it is compared when S3 reports one. An object without one (uploaded some
    // other way) is verified by the consumer, which hashes every payload while streaming it.
    if let (Some(announced), Some(stored)) = (&expected.sha256, &info.checksum_sha256)
        && announced != stored
    {
        return Some(format!(
            "checksum mismatch: announced SHA-256 {announced}, stored {stored}"
        ));
    }
    let essence = |t: &str| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    match (&expected.content_type, &info.content_type) {
        (Some(want), Some(got)) if essence(want) != essence(got) => Some(format!(
            "content type mismatch: announced {want}, stored {got}"
        )),
        _ => None,
    }
}

fn attributes(id: &str, record: &PayloadRecord) -> MessageAttributes {
    let mut attributes = MessageAttributes::from([(
        PAYLOAD_ID_ATTRIBUTE.to_owned(),
        MessageAttribute::string(id),
    )]);
    if let Some(content_type) = &record.content_type {
        attributes.insert(
            CONTENT_TYPE_ATTRIBUTE.to_owned(),
            MessageAttribute::string(content_type),
        );
    }
    attributes
}

fn ignored(key: &str, reason: &str) -> Outcome {
    Outcome::Ignored {
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

fn duplicate(id: &str, current: Option<Box<PayloadRecord>>) -> Outcome {
    Outcome::Duplicate {
        id: id.to_owned(),
        status: current.map_or(Status::Pending, |r| r.status),
    }
}

#[cfg(test)]
mod tests {
    use super::{decode_s3_key, mismatch};
    use claimcheck::PayloadPointer;
    use claimcheck::ledger::{PayloadRecord, Status};
    use claimcheck::payload_store::ObjectInfo;

    fn announced(sha256: Option<&str>) -> PayloadRecord {
        PayloadRecord {
            id: "id".into(),
            object: PayloadPointer::new("b", "uploads/id"),
            status: Status::Pending,
            size: 5,
            content_type: Some("text/csv".into()),
            sha256: sha256.map(str::to_owned),
            metadata: Default::default(),
            attempts: 0,
            last_error: None,
            lease_owner: None,
            lease_expires_at: None,
            url_expires_at: None,
            e_tag: None,
            message_id: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn stored(size: u64, content_type: &str, sha256: Option<&str>) -> ObjectInfo {
        ObjectInfo {
            size,
            content_type: Some(content_type.into()),
            checksum_sha256: sha256.map(str::to_owned),
            ..ObjectInfo::default()
        }
    }

    /// The local endpoint never reports a stored checksum (HEAD with checksum mode returns
    /// none, even for a presigned PUT that carried one), so the checksum comparison is
    /// checked here on what S3 would report.
    #[test]
    fn uploads_must_match_what_was_announced() {
        let a = announced(Some("AAA="));
        assert_eq!(
            mismatch(&a, &stored(5, "text/csv; charset=utf-8", Some("AAA="))),
            None
        );
        assert_eq!(
            mismatch(&a, &stored(5, "text/csv", None)),
            None,
            "left to the consumer"
        );
        assert!(
            mismatch(&a, &stored(5, "text/csv", Some("BBB=")))
                .is_some_and(|r| r.starts_with("checksum mismatch"))
        );
        assert!(
            mismatch(&a, &stored(6, "text/csv", Some("AAA=")))
                .is_some_and(|r| r.starts_with("size mismatch"))
        );
        assert!(
            mismatch(&a, &stored(5, "image/png", Some("AAA=")))
                .is_some_and(|r| r.starts_with("content type mismatch"))
        );
        assert_eq!(
            mismatch(&announced(None), &stored(5, "TEXT/CSV", Some("x"))),
            None
        );
    }

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
