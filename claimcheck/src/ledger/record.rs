//! What the ledger holds for a payload, and its DynamoDB item: the item's attributes are a
//! serde struct ([`LedgerItem`]) converted by `serde_dynamo`, so names and types are declared
//! once, here.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{Item, LedgerError, Status};
use crate::pointer::PayloadPointer;

/// One payload as the ledger knows it. Times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRecord {
    /// The payload id, the table's partition key.
    pub id: String,
    /// Where the payload's object lives in S3.
    pub object: PayloadPointer,
    /// Where the payload is in the pipeline.
    pub status: Status,
    /// Expected (when pending) or stored size in bytes.
    pub size: u64,
    /// The payload's MIME content type, when recorded.
    pub content_type: Option<String>,
    /// Base64 SHA-256 announced by the uploader or computed while processing.
    pub sha256: Option<String>,
    /// Name-value metadata announced with the upload (kept in the ledger, not on the S3
    /// object).
    pub metadata: HashMap<String, String>,
    /// How many times a consumer has claimed the payload.
    pub attempts: u32,
    /// How many times the payload's message was sent back from the DLQ: the redrive limit's
    /// count, kept here so a message needs no attribute (or byte) more for it.
    pub redrives: u32,
    /// Why the last attempt or step failed, when one did.
    pub last_error: Option<String>,
    /// Why the first failed attempt or step failed: kept when later failures (a redrive limit,
    /// a later cause) replace `last_error`.
    pub first_error: Option<String>,
    /// Who asked for the upload URL (`claimcheck::principal::Principal::owner`): the only
    /// caller besides operators who may read the payload. `None` when uploaded without
    /// authorization.
    pub owner: Option<String>,
    /// The consumer holding the processing lease, while one does.
    pub lease_owner: Option<String>,
    /// When the processing lease runs out; after that any consumer may claim the payload.
    pub lease_expires_at: Option<i64>,
    /// When the upload URL stops working (pending payloads).
    pub url_expires_at: Option<i64>,
    /// The S3 ETag of the uploaded object, once admitted.
    pub e_tag: Option<String>,
    /// The SQS message id of the pointer message, once sent.
    pub message_id: Option<String>,
    /// When the payload was first recorded.
    pub created_at: i64,
    /// When the item last changed: the status index's sort key, and what
    /// [`super::Ledger::update_if_unchanged`] compares.
    pub updated_at: i64,
    /// The S3 multipart upload the payload arrives by, when it is uploaded in parts through
    /// the API.
    pub multipart: Option<MultipartUpload>,
}

/// A payload's S3 multipart upload ([`crate::multipart`]): kept while it is uploaded, so only
/// its owner's requests reach it and reconcile can abort it once it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    /// S3's upload id.
    pub upload_id: String,
    /// Bytes in every part but the last.
    pub part_size: u64,
    /// How many parts, when the length was declared; `None` for a stream of unknown length.
    pub part_count: Option<u32>,
    /// When a `POST /uploads/{id}/complete` claimed the completion (epoch ms): a second one,
    /// even overlapping, finds the upload closed. Cleared again if S3 refuses to complete.
    pub completing_at: Option<i64>,
}

impl MultipartUpload {
    /// The upload's part plan; `size` is the payload's declared size (ignored when the length
    /// was not declared).
    pub fn plan(&self, size: u64) -> crate::multipart::PartPlan {
        crate::multipart::PartPlan {
            part_size: self.part_size,
            length: self.part_count.map(|_| size),
        }
    }
}

/// A payload announced by presign-upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayload {
    /// The payload id; recorded only if no item has it yet.
    pub id: String,
    /// Where the upload lands in S3.
    pub object: PayloadPointer,
    /// The announced size, in bytes.
    pub size: u64,
    /// The announced MIME content type.
    pub content_type: String,
    /// The announced base64 SHA-256, when given.
    pub sha256: Option<String>,
    /// Name-value metadata announced with the upload.
    pub metadata: HashMap<String, String>,
    /// When the presigned upload URL expires, epoch milliseconds.
    pub url_expires_at: i64,
    /// Who asked for the upload URL, when the caller was authenticated.
    pub owner: Option<String>,
    /// Whom the payload counts against while it is `pending` (see
    /// [`super::Ledger::count_pending`]): the owner, or an anonymous caller's source; `None`
    /// counts against nobody.
    pub quota_key: Option<String>,
    /// The multipart upload it arrives by, when uploaded in parts.
    pub multipart: Option<MultipartUpload>,
}

/// Fields a transition sets besides the status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The stored size, in bytes.
    pub size: Option<u64>,
    /// The body's base64 SHA-256.
    pub sha256: Option<String>,
    /// The S3 ETag of the object.
    pub e_tag: Option<String>,
    /// The SQS message id of the pointer message.
    pub message_id: Option<String>,
    /// Why the step failed.
    pub last_error: Option<String>,
    /// Takes a processing lease: its owner, and when it expires (epoch milliseconds).
    pub lease: Option<(String, i64)>,
    /// Removes the lease (the holder is done with the payload).
    pub release_lease: bool,
    /// Atomically adds one to `attempts`.
    pub count_attempt: bool,
    /// Atomically adds one to `redrives`.
    pub count_redrive: bool,
    /// Removes `last_error` (the step succeeded; `first_error` keeps the history).
    pub clear_last_error: bool,
    /// Atomically takes back one from `redrives` (a redrive whose send failed: the message
    /// never left the DLQ, so it does not count towards the limit).
    pub uncount_redrive: bool,
    /// Claims the completion of the payload's multipart upload at this instant (epoch ms);
    /// see [`MultipartUpload::completing_at`].
    pub completing_at: Option<i64>,
    /// Removes the completion claim (S3 refused to complete: the client may try again).
    pub clear_completing: bool,
}

/// The DynamoDB item of a payload: one attribute per field, absent ones omitted. Times are
/// epoch milliseconds, except the TTL attribute `expires_at` (epoch seconds, as DynamoDB's TTL
/// requires).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LedgerItem {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub status: Status,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub redrives: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Set only while `pending` (every transition removes it): the partition key of the sparse
    /// [`super::PENDING_INDEX`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_owner: Option<String>,
    /// The partition key of the sparse, sharded [`super::STATUS_INDEX`] (see
    /// [`super::status_shard`]); absent in the states the index leaves out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completing_at: Option<i64>,
    /// The TTL attribute ([`super::TTL_ATTRIBUTE`]), epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl LedgerItem {
    /// The item of a newly announced payload, `pending` since `now` (epoch ms), expiring at
    /// `expires_at` (epoch s).
    pub fn pending(payload: &NewPayload, now: i64, expires_at: i64) -> Self {
        Self {
            id: payload.id.clone(),
            bucket: payload.object.bucket.clone(),
            key: payload.object.key.clone(),
            status: Status::Pending,
            size: payload.size,
            content_type: Some(payload.content_type.clone()),
            sha256: payload.sha256.clone(),
            metadata: payload.metadata.clone(),
            attempts: 0,
            redrives: 0,
            last_error: None,
            first_error: None,
            owner: payload.owner.clone(),
            pending_owner: payload.quota_key.clone(),
            status_shard: super::status_shard(Status::Pending, &payload.id),
            lease_owner: None,
            lease_expires_at: None,
            url_expires_at: Some(payload.url_expires_at),
            e_tag: None,
            message_id: None,
            created_at: now,
            updated_at: now,
            upload_id: payload.multipart.as_ref().map(|m| m.upload_id.clone()),
            part_size: payload.multipart.as_ref().map(|m| m.part_size),
            part_count: payload.multipart.as_ref().and_then(|m| m.part_count),
            completing_at: None,
            expires_at: Some(expires_at),
        }
    }

    /// The DynamoDB attributes.
    pub fn to_item(&self) -> Result<Item, LedgerError> {
        serde_dynamo::to_item(self).map_err(|e| LedgerError::Corrupt {
            id: self.id.clone(),
            problem: format!("cannot encode the item: {e}"),
        })
    }
}

/// A stored item as a payload record.
///
/// # Errors
/// [`LedgerError::Corrupt`] naming the item's id (when it has one) and what is wrong: a missing
/// attribute, one of the wrong type, an unknown status.
pub(super) fn decode(item: Item) -> Result<PayloadRecord, LedgerError> {
    // The id is taken first: the item itself is consumed by the decoder (no copy per record).
    let id = match item.get("id") {
        Some(AttributeValue::S(id)) => id.clone(),
        _ => String::new(),
    };
    let stored: LedgerItem = serde_dynamo::from_item(item).map_err(|e| LedgerError::Corrupt {
        id,
        problem: e.to_string(),
    })?;
    Ok(PayloadRecord {
        object: PayloadPointer::new(stored.bucket, stored.key),
        status: stored.status,
        size: stored.size,
        content_type: stored.content_type,
        sha256: stored.sha256,
        metadata: stored.metadata,
        attempts: stored.attempts,
        redrives: stored.redrives,
        last_error: stored.last_error,
        first_error: stored.first_error,
        owner: stored.owner,
        lease_owner: stored.lease_owner,
        lease_expires_at: stored.lease_expires_at,
        url_expires_at: stored.url_expires_at,
        e_tag: stored.e_tag,
        message_id: stored.message_id,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        multipart: match (stored.upload_id, stored.part_size) {
            (Some(upload_id), Some(part_size)) => Some(MultipartUpload {
                upload_id,
                part_size,
                part_count: stored.part_count,
                completing_at: stored.completing_at,
            }),
            _ => None,
        },
        id: stored.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    #[test]
    fn items_round_trip_and_unreadable_ones_are_corrupt_naming_the_id() {
        let payload = NewPayload {
            id: "p1".into(),
            object: PayloadPointer::new("b", "uploads/p1"),
            size: 5,
            content_type: "text/csv".into(),
            sha256: None,
            metadata: HashMap::from([("team".into(), "data".into())]),
            url_expires_at: 9_000,
            owner: None,
            quota_key: None,
            multipart: Some(MultipartUpload {
                upload_id: "u1".into(),
                part_size: 5 << 20,
                part_count: None,
                completing_at: None,
            }),
        };
        let item = LedgerItem::pending(&payload, 1_000, 2)
            .to_item()
            .expect("item");
        assert_eq!(item["status"], s("pending"));
        assert_eq!(item["expires_at"], AttributeValue::N("2".into()));
        assert!(!item.contains_key("sha256"), "absent fields are omitted");
        let record = decode(item.clone()).expect("decoded");
        assert_eq!(
            (record.status, record.size, record.created_at),
            (Status::Pending, 5, 1_000)
        );
        assert_eq!(record.metadata["team"], "data");
        assert_eq!(record.multipart, payload.multipart);

        let mut unknown = item.clone();
        unknown.insert("status".into(), s("lost"));
        let mut missing = item.clone();
        missing.remove("bucket");
        let mut wrong_type = item;
        wrong_type.insert("size".into(), s("five"));
        for broken in [unknown, missing, wrong_type] {
            match decode(broken) {
                Err(LedgerError::Corrupt { id, .. }) => assert_eq!(id, "p1"),
                other => panic!("{other:?}"),
            }
        }
    }
}
