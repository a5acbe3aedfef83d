//! Admission: an uploaded object becomes a queued payload. Its S3 object is checked against
//! what the ledger says was announced, the payload moves `pending → queued` by a conditional
//! write, and its pointer goes to the work queue in the extended-client wire format.
//!
//! Used by the producer for each S3 `ObjectCreated` event and by the reconcile pass
//! ([`crate::repair`]) for uploads whose event was lost or whose message never came, so both
//! queue a payload in exactly the same way.
//!
//! Deduplication: S3 delivers events at least once, so the conditional ledger write
//! `pending → queued` is the deduplication point; the message is sent only by the writer that
//! won it. A duplicate finds the payload past `pending` and does nothing
//! ([`Outcome::Duplicate`]). A crash between the ledger write and the send leaves the payload
//! `queued` without a `message_id`; [`Admission::resend`] (reconcile) sends it then. A send that
//! fails returns the payload to `pending`, so the caller's retry admits it again.

use crate::content_type::same_media_type;
use crate::extended_client::{ClientError, SendOptions};
use crate::ledger::{
    Changes, Created, Ledger, LedgerError, NewPayload, PayloadRecord, Status, Step, Transition,
};
use crate::message_attributes::{CONTENT_TYPE, PAYLOAD_ID};
use crate::payload_store::ObjectInfo;
use crate::{
    ExtendedClient, MessageAttribute, MessageAttributes, PayloadPointer, PayloadStore, StoreError,
};

/// What to do with an object under the uploads prefix that the ledger does not know (uploaded
/// some other way than through the API). Parsed from `ignore` / `enqueue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownObjects {
    /// Logged and skipped (the default): only announced uploads are queued.
    #[default]
    Ignore,
    /// Recorded from what S3 says about the object, then queued.
    Enqueue,
}

/// A value of `CLAIMCHECK_UNKNOWN_OBJECTS` other than `ignore` or `enqueue`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected ignore or enqueue, got {0:?}")]
pub struct UnknownObjectsError(pub String);

impl std::str::FromStr for UnknownObjects {
    type Err = UnknownObjectsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ignore" => Ok(Self::Ignore),
            "enqueue" => Ok(Self::Enqueue),
            other => Err(UnknownObjectsError(other.to_owned())),
        }
    }
}

/// Which FIFO message group a payload's pointer is sent in (ignored by standard queues).
/// Parsed from `payload` (the default: every payload its own group, so one payload's failure
/// holds back nothing else) or `metadata:KEY` (the upload's metadata value under `KEY`, for
/// payloads that must be processed in order; a payload without it gets its own group).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MessageGroup {
    /// One group per payload.
    #[default]
    PerPayload,
    /// The group named by the upload's metadata under this key.
    FromMetadata(String),
}

impl MessageGroup {
    /// The group of `record`'s pointer: see [`MessageGroup`].
    pub fn of(&self, record: &PayloadRecord) -> String {
        match self {
            Self::FromMetadata(key) => record
                .metadata
                .get(key)
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| record.id.clone()),
            Self::PerPayload => record.id.clone(),
        }
    }
}

/// A value of `CLAIMCHECK_MESSAGE_GROUP` other than `payload` or `metadata:KEY`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected payload or metadata:KEY (KEY 1-64 of a-z A-Z 0-9 - _), got {0:?}")]
pub struct MessageGroupError(pub String);

impl std::str::FromStr for MessageGroup {
    type Err = MessageGroupError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "payload" {
            return Ok(Self::PerPayload);
        }
        // The same rule as upload metadata keys (presign-upload).
        match s.strip_prefix("metadata:") {
            Some(key)
                if !key.is_empty()
                    && key.len() <= 64
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Ok(Self::FromMetadata(key.to_owned()))
            }
            _ => Err(MessageGroupError(s.to_owned())),
        }
    }
}

/// What became of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Its pointer is on the work queue as message `message_id`.
    Queued {
        /// The payload id.
        id: String,
        /// SQS's id of the pointer message.
        message_id: String,
    },
    /// Already handled: the payload is past `pending`.
    Duplicate {
        /// The payload id.
        id: String,
        /// Where the payload is now.
        status: Status,
    },
    /// The object does not match what was announced; the payload is `quarantined`.
    Quarantined {
        /// The payload id.
        id: String,
        /// What differed (size, checksum or content type), as recorded in `last_error`.
        reason: String,
    },
    /// Not ours to queue (another bucket or prefix, a non-create event, an unknown object).
    Ignored {
        /// The object key.
        key: String,
        /// Why it was not queued.
        reason: String,
    },
    /// Deleted before it could be queued; reconcile expires its ledger item.
    ObjectGone {
        /// The payload id.
        id: String,
    },
}

impl Outcome {
    /// The payload the outcome is about (`None` for an ignored object).
    pub fn payload_id(&self) -> Option<&str> {
        match self {
            Outcome::Queued { id, .. }
            | Outcome::Duplicate { id, .. }
            | Outcome::Quarantined { id, .. }
            | Outcome::ObjectGone { id } => Some(id),
            Outcome::Ignored { .. } => None,
        }
    }
}

/// In words, for log lines: `queued as message M`, `already STATUS`, `quarantined: REASON`,
/// `ignored KEY: REASON`, `object gone before it was queued`.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Queued { message_id, .. } => write!(f, "queued as message {message_id}"),
            Outcome::Duplicate { status, .. } => write!(f, "already {status}"),
            Outcome::Quarantined { reason, .. } => write!(f, "quarantined: {reason}"),
            Outcome::Ignored { key, reason } => write!(f, "ignored {key}: {reason}"),
            Outcome::ObjectGone { .. } => f.write_str("object gone before it was queued"),
        }
    }
}

/// Why an object could not be admitted now (each is worth retrying, see `is_transient`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmissionError {
    /// S3 `HeadObject` failed (not a missing object: that is [`Outcome::ObjectGone`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A ledger read or write failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The pointer message could not be sent; the payload was returned to `pending`.
    #[error(transparent)]
    Send(#[from] ClientError),
    /// The ledger item just recorded for an unknown object could not be read back.
    #[error("ledger item {0:?} vanished right after it was recorded")]
    Vanished(String),
}

impl AdmissionError {
    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(e) => e.is_transient(),
            Self::Ledger(e) => e.is_transient(),
            Self::Send(e) => e.is_transient(),
            Self::Vanished(_) => true,
        }
    }
}

/// Admits uploaded objects: the ledger, the payload store and the extended client, and the work
/// queue the pointers go to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admission {
    ledger: Ledger,
    store: PayloadStore,
    client: ExtendedClient,
    queue_url: String,
    unknown_objects: UnknownObjects,
    message_group: MessageGroup,
}

impl Admission {
    /// `client` sends the pointers (its size-attribute setting decides which reserved name they
    /// carry); `queue_url` is the work queue.
    pub fn new(
        ledger: Ledger,
        store: PayloadStore,
        client: ExtendedClient,
        queue_url: impl Into<String>,
        unknown_objects: UnknownObjects,
    ) -> Self {
        Self {
            ledger,
            store,
            client,
            queue_url: queue_url.into(),
            unknown_objects,
            message_group: MessageGroup::default(),
        }
    }

    /// Sends pointers to a FIFO work queue in the groups `message_group` says.
    pub fn with_message_group(self, message_group: MessageGroup) -> Self {
        Self {
            message_group,
            ..self
        }
    }

    /// Writes to `ledger` instead (the same table with another clock or retention, e.g. a
    /// test's clock shared by every function).
    pub fn with_ledger(self, ledger: Ledger) -> Self {
        Self { ledger, ..self }
    }

    /// A pointer's send options: on a FIFO queue its message group and, as deduplication id,
    /// the payload id (a duplicate S3 event within SQS's 5-minute window is dropped by SQS
    /// too); nothing on a standard queue.
    fn send_options(&self, record: &PayloadRecord) -> SendOptions {
        if !self.queue_url.ends_with(".fifo") {
            return SendOptions::default();
        }
        SendOptions::default()
            .with_group_id(self.message_group.of(record))
            .with_deduplication_id(record.id.clone())
    }

    /// The work queue pointers are sent to.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The ledger admission writes to.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Queues the uploaded object of payload `id`: checks it against the ledger, moves the
    /// payload `pending → queued` and sends its pointer.
    ///
    /// # Errors
    /// [`AdmissionError`] when S3, the ledger or SQS failed; a failed send returns the payload
    /// to `pending` first, so retrying the call is safe.
    pub async fn admit(
        &self,
        id: &str,
        object: &PayloadPointer,
    ) -> Result<Outcome, AdmissionError> {
        let key = object.key.as_str();
        // The ledger first: a duplicate event or an ignored object needs no call to S3.
        let known = self.ledger.get(id).await?;
        match &known {
            None if self.unknown_objects == UnknownObjects::Ignore => {
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
        let info = match self.store.head(object).await {
            Ok(info) => info,
            Err(e) if e.is_not_found() => return Ok(Outcome::ObjectGone { id: id.to_owned() }),
            Err(e) => return Err(e.into()),
        };
        let expected = match known {
            Some(expected) => expected,
            None => self.adopt(id, object, &info).await?,
        };
        if let Some(reason) = mismatch(&expected, &info) {
            return self.quarantine(id, reason, info.size).await;
        }
        let queued = Changes {
            size: Some(info.size),
            e_tag: info.e_tag.clone(),
            ..Changes::default()
        };
        if let Transition::Rejected(current) = self.ledger.step(id, Step::Admit, &queued).await? {
            return Ok(duplicate(id, current));
        }
        let sent = self
            .client
            .send_pointer(
                &self.queue_url,
                object,
                info.size,
                attributes(id, &expected),
                self.send_options(&expected),
            )
            .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(e) => {
                let back = Changes {
                    last_error: Some(format!("send failed: {e}")),
                    ..Changes::default()
                };
                if let Err(revert) = self.ledger.step(id, Step::Unadmit, &back).await {
                    tracing::error!(payload_id = id, error = %revert, "could not return the payload to pending");
                }
                return Err(e.into());
            }
        };
        // The message id is recorded by the consumer's claim, from the record it receives: a
        // write of its own here would cost a third of the producer's ledger capacity (one table
        // and two index write units per payload) for a field nothing reads before then.
        Ok(Outcome::Queued {
            id: id.to_owned(),
            message_id: sent.message_id,
        })
    }

    /// Sends the pointer of a payload that is `queued` again (its message was never sent, or
    /// never delivered), and records the new message id. The payload's stall clock is restarted
    /// by a conditional write first, so of two racing callers only one sends; `None` when the
    /// payload is no longer `queued` as `record` saw it. A copy that turns out to be a duplicate
    /// is absorbed by the consumer's ledger claim.
    ///
    /// # Errors
    /// [`AdmissionError::Ledger`] or [`AdmissionError::Send`].
    pub async fn resend(&self, record: &PayloadRecord) -> Result<Option<String>, AdmissionError> {
        let claimed = self
            .ledger
            .update_if_unchanged(
                &record.id,
                Status::Queued,
                record.updated_at,
                &Changes::default(),
            )
            .await?;
        if let Transition::Rejected(_) = claimed {
            return Ok(None);
        }
        let sent = self
            .client
            .send_pointer(
                &self.queue_url,
                &record.object,
                record.size,
                attributes(&record.id, record),
                self.send_options(record),
            )
            .await?;
        Ok(Some(sent.message_id))
    }

    async fn quarantine(
        &self,
        id: &str,
        reason: String,
        size: u64,
    ) -> Result<Outcome, AdmissionError> {
        let changes = Changes {
            last_error: Some(reason.clone()),
            size: Some(size),
            ..Changes::default()
        };
        Ok(
            match self.ledger.step(id, Step::Quarantine, &changes).await? {
                Transition::Applied(_) => {
                    tracing::warn!(payload_id = id, %reason, "upload quarantined");
                    Outcome::Quarantined {
                        id: id.to_owned(),
                        reason,
                    }
                }
                Transition::Rejected(current) => duplicate(id, current),
            },
        )
    }

    /// Records an object nobody announced, from what S3 says about it.
    async fn adopt(
        &self,
        id: &str,
        object: &PayloadPointer,
        info: &ObjectInfo,
    ) -> Result<PayloadRecord, AdmissionError> {
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
            url_expires_at: self.ledger.now(),
            owner: None,
            quota_key: None,
            multipart: None,
        };
        if self.ledger.create_pending(&payload).await? == Created::Created {
            tracing::info!(
                payload_id = id,
                "object without a ledger item recorded and queued"
            );
        }
        self.ledger
            .get(id)
            .await?
            .ok_or_else(|| AdmissionError::Vanished(id.to_owned()))
    }
}

/// Why the stored object is not the announced one, if it is not: its size, its SHA-256 (when
/// one was announced and S3 reports one) or its content type (compared by essence, without
/// parameters, case-insensitively).
pub fn mismatch(expected: &PayloadRecord, info: &ObjectInfo) -> Option<String> {
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
    match (&expected.content_type, &info.content_type) {
        (Some(want), Some(got)) if !same_media_type(want, got) => Some(format!(
            "content type mismatch: announced {want}, stored {got}"
        )),
        _ => None,
    }
}

/// The message attributes a pointer carries beside the reserved size attribute.
fn attributes(id: &str, record: &PayloadRecord) -> MessageAttributes {
    let mut attributes =
        MessageAttributes::from([(PAYLOAD_ID.to_owned(), MessageAttribute::string(id))]);
    if let Some(content_type) = &record.content_type {
        attributes.insert(
            CONTENT_TYPE.to_owned(),
            MessageAttribute::string(content_type),
        );
    }
    attributes
}

/// An object not queued, and why.
pub fn ignored(key: &str, reason: &str) -> Outcome {
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
    use super::mismatch;
    use crate::PayloadPointer;
    use crate::ledger::{PayloadRecord, Status};
    use crate::payload_store::ObjectInfo;

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
            redrives: 0,
            last_error: None,
            first_error: None,
            owner: None,
            lease_owner: None,
            lease_expires_at: None,
            url_expires_at: None,
            e_tag: None,
            message_id: None,
            created_at: 0,
            updated_at: 0,
            multipart: None,
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
}
