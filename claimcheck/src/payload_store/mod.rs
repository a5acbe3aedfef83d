//! The payload store: payload bytes in S3, streamed both ways.
//!
//! Puts read the source in parts and switch to a multipart upload once the source is larger
//! than one part, so memory stays bounded by `part_size × (parts_in_flight + 1)` whatever the
//! payload's size (up to S3's 5 TiB object limit, 10 000 parts). A failed multipart upload is
//! aborted so no parts are left behind. Gets hand back the response body as a stream, never a
//! whole buffer. A missing object is its own error, distinct from access denied and from
//! transient faults, so callers can decide to park, skip or retry.

use std::collections::HashMap;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::pointer::PayloadPointer;
use crate::sdk_error::SdkFailure;

mod get;
mod multipart;
mod presign;
mod put;
mod signing;

pub use get::PayloadStream;
pub use presign::{PresignPut, PresignedRequest};
pub use put::{MAX_OBJECT_TAGS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, PutOptions};

/// The tag [`PayloadStore::expire_later`] marks an object with, for a bucket lifecycle rule
/// (`infra/storage.tf`: rule `expire-marked-payloads`) to expire it later.
pub const EXPIRED_TAG_KEY: &str = "claimcheck-expired";
/// The value of [`EXPIRED_TAG_KEY`].
pub const EXPIRED_TAG_VALUE: &str = "true";

/// S3's smallest part (except the last) is 5 MiB; 8 MiB keeps the part count of a 5 GiB
/// payload at 640 while a few parts in flight stay well under 64 MiB.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's minimum size of a multipart upload part other than the last (5 MiB); smaller part
/// sizes given to [`PayloadStore::with_parts`] are raised to it.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// How many parts of a multipart upload are uploaded at once by default: four, the fastest put
/// whose memory stays about a third of boto3's transfer manager's (`make bench` section 2,
/// 2026-12-01: 1 GiB in 5.1 s at 49 MiB peak RSS with four, 6.6 s at 41 MiB with three, 6.0 s
/// at 65 MiB with six; boto3 8.0 s at 179 MiB).
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 4;
const MAX_PARTS: i32 = 10_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object does not exist: S3 answered 404, `NoSuchKey` or `NotFound` (a HEAD's 404 has
    /// no body to tell a missing key from a missing bucket).
    #[error("payload object {0} does not exist")]
    NotFound(PayloadPointer),
    /// The payload's bucket does not exist (S3's `NoSuchBucket`): a configuration fault, kept
    /// apart from [`StoreError::NotFound`] so nothing treats it as one missing payload.
    #[error("the bucket of payload object {0} does not exist")]
    NoSuchBucket(PayloadPointer),
    /// S3 answered 403 or `AccessDenied`. Not transient: retrying will not help until the
    /// permissions change.
    #[error("access denied to payload object {object} during {operation}")]
    AccessDenied {
        /// The S3 operation that was refused, such as `GetObject`.
        operation: &'static str,
        /// The object the operation was on.
        object: PayloadPointer,
    },
    /// Any other S3 failure, after the SDK's own retries.
    #[error("S3 {operation} on {object} failed: {message}")]
    Service {
        /// The S3 operation that failed, such as `PutObject` or `UploadPart`.
        operation: &'static str,
        /// The object the operation was on.
        object: PayloadPointer,
        /// S3's error message, or a description of the failure.
        message: String,
        /// Whether trying again later may succeed (throttling, timeouts, 5xx).
        transient: bool,
        /// The underlying SDK error.
        #[source]
        source: BoxError,
    },
    /// Reading the caller's source for a put failed, or a part upload task could not be joined.
    #[error("reading the payload source failed: {0}")]
    Source(#[source] std::io::Error),
    /// Reading a streamed object body from S3 failed part-way. Always transient.
    #[error("reading the payload body of {object} failed: {source}")]
    Body {
        /// The object whose body was being read.
        object: PayloadPointer,
        /// The underlying read error.
        #[source]
        source: BoxError,
    },
    /// An object has the key already: S3 refused a conditional write (`If-None-Match: *`,
    /// HTTP 412 `PreconditionFailed`).
    #[error("payload object {0} exists already")]
    AlreadyExists(PayloadPointer),
    /// S3 refused the parts named to complete a multipart upload (`InvalidPart`,
    /// `InvalidPartOrder` or `EntityTooSmall`): a part missing, sent again with other bytes,
    /// or too small. Not transient: the list must change.
    #[error("S3 refused the parts of the multipart upload: {0}")]
    InvalidParts(String),
    /// The source needs more than S3's limit of 10 000 parts of the configured part size.
    #[error("payload is larger than {MAX_PARTS} parts of {part_size} bytes")]
    TooLarge {
        /// The part size in use, in bytes.
        part_size: usize,
    },
    /// [`PayloadStream::read_to_string`] was given a body over its limit.
    #[error("payload of {size} bytes is over the {limit}-byte limit for reading into memory")]
    TooLargeToBuffer {
        /// The body's size in bytes (as declared, or as read so far).
        size: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// [`PayloadStream::read_to_string`] read a body that is not valid UTF-8.
    #[error("payload body is not UTF-8 text")]
    NotUtf8,
    /// The put's object tags break S3's limits (count, key or value length); nothing was
    /// uploaded.
    #[error("invalid object tags: {0}")]
    InvalidTags(String),
    /// The request cannot be presigned: a lifetime over S3's 7-day maximum, or a content
    /// length too large to sign.
    #[error("cannot presign a request: {0}")]
    Presign(String),
}

impl StoreError {
    /// Whether trying the same operation again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Service { transient, .. } => *transient,
            Self::Body { .. } => true,
            _ => false,
        }
    }

    /// Whether the object does not exist ([`StoreError::NotFound`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }

    /// Maps an SDK failure: 404/NoSuchKey is `NotFound`, 403/AccessDenied is `AccessDenied`,
    /// everything else keeps its source and says whether it is worth retrying.
    fn from_sdk<E>(
        operation: &'static str,
        object: &PayloadPointer,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let failure = SdkFailure::of(&err);
        let object = object.clone();
        match (failure.status, failure.code.as_deref()) {
            // A missing bucket is a configuration fault, not a payload that is gone: it must
            // never let `ignore_payload_not_found` skip (and delete) messages.
            (_, Some("NoSuchBucket")) => Self::NoSuchBucket(object),
            (Some(404), _) | (_, Some("NoSuchKey" | "NotFound")) => Self::NotFound(object),
            (Some(403), _) | (_, Some("AccessDenied")) => Self::AccessDenied { operation, object },
            _ => Self::Service {
                operation,
                object,
                message: failure.message,
                transient: failure.transient,
                source: Box::new(err),
            },
        }
    }
}

/// What S3 reports about a stored payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's size in bytes.
    pub size: u64,
    /// The object's ETag as S3 returns it (quoted; for a multipart upload, not an MD5 of the
    /// body).
    pub e_tag: Option<String>,
    /// The object's `Content-Type`, when one was set.
    pub content_type: Option<String>,
    /// Base64 SHA-256, when the object was uploaded with one.
    pub checksum_sha256: Option<String>,
    /// User-defined object metadata (`x-amz-meta-*`), keyed without the prefix.
    pub metadata: HashMap<String, String>,
}

/// Payload bytes in S3.
#[derive(Debug, Clone)]
pub struct PayloadStore {
    s3: aws_sdk_s3::Client,
    part_size: usize,
    parts_in_flight: usize,
}

impl PayloadStore {
    /// A store using `s3`, with [`DEFAULT_PART_SIZE`] parts and [`DEFAULT_PARTS_IN_FLIGHT`]
    /// parts uploading at once.
    pub fn new(s3: aws_sdk_s3::Client) -> Self {
        Self {
            s3,
            part_size: DEFAULT_PART_SIZE,
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
        }
    }

    /// Sets the multipart part size (at least S3's 5 MiB minimum) and how many parts upload at
    /// once. Memory held by a put is about `part_size × (parts_in_flight + 1)`.
    pub fn with_parts(self, part_size: usize, parts_in_flight: usize) -> Self {
        Self {
            part_size: part_size.max(MIN_PART_SIZE),
            parts_in_flight: parts_in_flight.max(1),
            ..self
        }
    }

    /// The multipart part size in bytes; sources of at least this size use a multipart upload.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// How many parts of a multipart upload are uploaded at once.
    pub fn parts_in_flight(&self) -> usize {
        self.parts_in_flight
    }

    /// What S3 knows about a payload, without its body.
    pub async fn head(&self, object: &PayloadPointer) -> Result<ObjectInfo, StoreError> {
        let output = self
            .s3
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("HeadObject", object, e))?;
        Ok(ObjectInfo {
            size: output.content_length.unwrap_or_default().max(0) as u64,
            e_tag: output.e_tag,
            content_type: output.content_type,
            checksum_sha256: output.checksum_sha256,
            metadata: output.metadata.unwrap_or_default(),
        })
    }

    /// Marks a payload for deletion later instead of now: adds the tag
    /// [`EXPIRED_TAG_KEY`]`=`[`EXPIRED_TAG_VALUE`] to its tags (kept), for a bucket lifecycle
    /// rule on that tag to expire it once no copy of its pointer can be alive (after the queues'
    /// retention). Used where deleting now could strand a live pointer: after a `DeleteMessage`
    /// SQS may confirm for a message already redelivered or moved to the DLQ, and after a send
    /// whose outcome is unknown.
    ///
    /// # Errors
    /// The store error of `GetObjectTagging` or `PutObjectTagging` (S3 allows 10 tags: an object
    /// with 10 of its own cannot take the mark, and S3 answers `InvalidTag`).
    pub async fn expire_later(&self, object: &PayloadPointer) -> Result<(), StoreError> {
        let current = self
            .s3
            .get_object_tagging()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetObjectTagging", object, e))?;
        let mut tags: Vec<aws_sdk_s3::types::Tag> = current
            .tag_set
            .into_iter()
            .filter(|t| t.key != EXPIRED_TAG_KEY)
            .collect();
        let mark = aws_sdk_s3::types::Tag::builder()
            .key(EXPIRED_TAG_KEY)
            .value(EXPIRED_TAG_VALUE)
            .build()
            .map_err(|e| StoreError::InvalidTags(e.to_string()))?;
        if tags.len() >= MAX_OBJECT_TAGS {
            return Err(StoreError::InvalidTags(format!(
                "{object} has {MAX_OBJECT_TAGS} tags already: no room for {EXPIRED_TAG_KEY}"
            )));
        }
        tags.push(mark);
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .map_err(|e| StoreError::InvalidTags(e.to_string()))?;
        self.s3
            .put_object_tagging()
            .bucket(&object.bucket)
            .key(&object.key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutObjectTagging", object, e))?;
        Ok(())
    }

    /// Deletes a payload. Deleting an object that is already gone succeeds, as in S3.
    pub async fn delete(&self, object: &PayloadPointer) -> Result<(), StoreError> {
        self.s3
            .delete_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("DeleteObject", object, e))?;
        Ok(())
    }
}
