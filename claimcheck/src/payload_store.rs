//! The payload store: payload bytes in S3, streamed both ways.
//!
//! Puts read the source in parts and switch to a multipart upload once the source is larger
//! than one part, so memory stays bounded by `part_size × (parts_in_flight + 1)` whatever the
//! payload's size (up to S3's 5 TiB object limit, 10 000 parts). A failed multipart upload is
//! aborted so no parts are left behind. Gets hand back the response body as a stream, never a
//! whole buffer. A missing object is its own error, distinct from access denied and from
//! transient faults, so callers can decide to park, skip or retry.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinSet;

use crate::pointer::PayloadPointer;
use crate::sdk_error::SdkFailure;

/// S3's smallest part (except the last) is 5 MiB; 8 MiB keeps the part count of a 5 GiB
/// payload at 640 while a few parts in flight stay well under 64 MiB.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's minimum size of a multipart upload part other than the last (5 MiB); smaller part
/// sizes given to [`PayloadStore::with_parts`] are raised to it.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// How many parts of a multipart upload are uploaded at once by default.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 3;
const MAX_PARTS: i32 = 10_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object (or its bucket) does not exist: S3 answered 404, `NoSuchKey`, `NotFound` or
    /// `NoSuchBucket`.
    #[error("payload object {0} does not exist")]
    NotFound(PayloadPointer),
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
            (Some(404), _) | (_, Some("NoSuchKey" | "NotFound" | "NoSuchBucket")) => {
                Self::NotFound(object)
            }
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

/// Options for a put: what S3 stores with the object besides its bytes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PutOptions {
    /// The `Content-Type` to store with the object; S3's default when `None`.
    pub content_type: Option<String>,
    /// User-defined object metadata (`x-amz-meta-*`) to store, keyed without the prefix.
    pub metadata: HashMap<String, String>,
    /// Encrypt with SSE-KMS under this KMS key (key id, alias or ARN); `None` leaves the
    /// bucket's default encryption (SSE-S3 unless the bucket says otherwise). The writer needs
    /// `kms:GenerateDataKey` on the key, every reader `kms:Decrypt`.
    pub sse_kms_key_id: Option<String>,
    /// Object tags (S3's `x-amz-tagging`), e.g. for lifecycle rules filtered by tag. S3 allows
    /// at most 10 per object, keys of 1–128 and values of 0–256 characters, made of letters,
    /// numbers, spaces and `_ . : / = + - @`; checked before the upload starts.
    pub tags: BTreeMap<String, String>,
}

/// S3's limits on object tags ("Categorizing your storage using tags", Amazon S3 User Guide).
pub const MAX_OBJECT_TAGS: usize = 10;
/// The longest tag key S3 accepts, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// The longest tag value S3 accepts, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// A character S3 accepts in a tag key or value.
fn tag_character(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

impl PutOptions {
    /// Options storing `content_type` with the object.
    pub fn with_content_type(content_type: impl Into<String>) -> Self {
        Self {
            content_type: Some(content_type.into()),
            ..Self::default()
        }
    }

    /// The `x-amz-tagging` header value (URL query encoding), or `None` without tags.
    ///
    /// # Errors
    /// [`StoreError::InvalidTags`] when the tags break S3's limits.
    fn tagging(&self) -> Result<Option<String>, StoreError> {
        if self.tags.is_empty() {
            return Ok(None);
        }
        if self.tags.len() > MAX_OBJECT_TAGS {
            return Err(StoreError::InvalidTags(format!(
                "{} tags, S3 allows at most {MAX_OBJECT_TAGS}",
                self.tags.len()
            )));
        }
        for (key, value) in &self.tags {
            let key_chars = key.chars().count();
            if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
                return Err(StoreError::InvalidTags(format!(
                    "tag key {key:?} must be 1 to {MAX_TAG_KEY_CHARS} characters"
                )));
            }
            if value.chars().count() > MAX_TAG_VALUE_CHARS {
                return Err(StoreError::InvalidTags(format!(
                    "the value of tag {key:?} is over {MAX_TAG_VALUE_CHARS} characters"
                )));
            }
            if let Some(c) = key
                .chars()
                .chain(value.chars())
                .find(|c| !tag_character(*c))
            {
                return Err(StoreError::InvalidTags(format!(
                    "tag {key:?} has {c:?}; S3 allows letters, numbers, spaces and _ . : / = + - @"
                )));
            }
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(&self.tags);
        Ok(Some(query.finish()))
    }

    /// `aws:kms` when a KMS key is set.
    fn server_side_encryption(&self) -> Option<ServerSideEncryption> {
        self.sse_kms_key_id
            .as_ref()
            .map(|_| ServerSideEncryption::AwsKms)
    }
}

/// A stored payload's body, streamed from S3.
pub struct PayloadStream {
    /// The object being read.
    pub object: PayloadPointer,
    /// What the GET response said about the object.
    pub info: ObjectInfo,
    body: ByteStream,
}

impl fmt::Debug for PayloadStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadStream")
            .field("object", &self.object)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl PayloadStream {
    /// The next chunk of the body, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, StoreError>> {
        let chunk = self.body.next().await?;
        Some(chunk.map_err(|e| StoreError::Body {
            object: self.object.clone(),
            source: Box::new(e),
        }))
    }

    /// The body as an `AsyncBufRead` (S3 read errors surface as `std::io::Error`).
    pub fn into_async_read(self) -> impl tokio::io::AsyncBufRead + Send + Unpin {
        self.body.into_async_read()
    }

    /// The body as an SDK byte stream, to hand on to another SDK call.
    pub fn into_byte_stream(self) -> ByteStream {
        self.body
    }

    /// Reads a body known to be small into a string, refusing bodies over `limit` bytes.
    pub async fn read_to_string(mut self, limit: usize) -> Result<String, StoreError> {
        if self.info.size > limit as u64 {
            return Err(StoreError::TooLargeToBuffer {
                size: self.info.size,
                limit,
            });
        }
        let mut buf = Vec::with_capacity(self.info.size as usize);
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                return Err(StoreError::TooLargeToBuffer {
                    size: (buf.len() + chunk.len()) as u64,
                    limit,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf).map_err(|_| StoreError::NotUtf8)
    }
}

/// A presigned request: what a client without AWS credentials sends to S3. The URL is a bearer
/// credential until it expires, so `Debug` never prints it; log the object, not the request.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    /// The HTTP method the URL is signed for, `PUT` or `GET`.
    pub method: String,
    /// The presigned URL, signature in the query string. Secret until it expires.
    pub url: String,
    /// Headers the client must send exactly as given (they are signed).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: SystemTime,
}

impl PresignedRequest {
    /// When the URL stops working, in seconds since the epoch (what API responses carry).
    pub fn expires_at_epoch_secs(&self) -> u64 {
        self.expires_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

impl fmt::Debug for PresignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedRequest")
            .field("method", &self.method)
            .field("url", &"<redacted>")
            .field("headers", &self.headers)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a presigned PUT pins: S3 refuses an upload whose signed headers differ.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PresignPut {
    /// How long the URL stays valid; S3 allows at most 7 days.
    pub expires_in: Duration,
    /// The `Content-Type` the client must send.
    pub content_type: String,
    /// The exact body length in bytes the client must send.
    pub content_length: u64,
    /// Base64 SHA-256 of the body the client will send.
    pub checksum_sha256: Option<String>,
}

impl PresignPut {
    /// A PUT of exactly `content_length` bytes of `content_type`, valid for `expires_in`.
    pub fn new(content_type: impl Into<String>, content_length: u64, expires_in: Duration) -> Self {
        Self {
            expires_in,
            content_type: content_type.into(),
            content_length,
            checksum_sha256: None,
        }
    }

    /// Also pins the body's base64 SHA-256 (`x-amz-checksum-sha256`), so S3 checks it.
    pub fn with_checksum_sha256(self, checksum: Option<String>) -> Self {
        Self {
            checksum_sha256: checksum,
            ..self
        }
    }
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

    /// Uploads everything `source` yields to `object` and returns its stored size.
    pub async fn put_stream<R>(
        &self,
        object: &PayloadPointer,
        mut source: R,
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError>
    where
        R: AsyncRead + Send + Unpin,
    {
        let first = read_part(&mut source, self.part_size).await?;
        if first.len() < self.part_size {
            return self.put_bytes(object, first, options).await;
        }
        self.put_multipart(object, first, source, options).await
    }

    /// Uploads a body already in memory with a single PUT.
    pub async fn put_bytes(
        &self,
        object: &PayloadPointer,
        body: Bytes,
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        let size = body.len() as u64;
        let output = self
            .s3
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .content_length(size as i64)
            .set_content_type(options.content_type.clone())
            .set_metadata(non_empty(&options.metadata))
            .set_tagging(options.tagging()?)
            .set_server_side_encryption(options.server_side_encryption())
            .set_ssekms_key_id(options.sse_kms_key_id.clone())
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutObject", object, e))?;
        Ok(ObjectInfo {
            size,
            e_tag: output.e_tag,
            content_type: options.content_type.clone(),
            checksum_sha256: output.checksum_sha256,
            metadata: options.metadata.clone(),
        })
    }

    async fn put_multipart<R>(
        &self,
        object: &PayloadPointer,
        first: Bytes,
        source: R,
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError>
    where
        R: AsyncRead + Send + Unpin,
    {
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_content_type(options.content_type.clone())
            .set_metadata(non_empty(&options.metadata))
            .set_tagging(options.tagging()?)
            .set_server_side_encryption(options.server_side_encryption())
            .set_ssekms_key_id(options.sse_kms_key_id.clone())
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("CreateMultipartUpload", object, e))?;
        let Some(upload_id) = created.upload_id else {
            return Err(StoreError::Service {
                operation: "CreateMultipartUpload",
                object: object.clone(),
                message: "response has no upload id".into(),
                transient: true,
                source: "missing UploadId".into(),
            });
        };
        let uploaded = match self.upload_parts(object, &upload_id, first, source).await {
            Ok((parts, size)) => self
                .complete(object, &upload_id, parts)
                .await
                .map(|e_tag| (size, e_tag)),
            Err(e) => Err(e),
        };
        match uploaded {
            Ok((size, e_tag)) => Ok(ObjectInfo {
                size,
                e_tag,
                content_type: options.content_type.clone(),
                checksum_sha256: None,
                metadata: options.metadata.clone(),
            }),
            Err(e) => {
                self.abort(object, &upload_id).await;
                Err(e)
            }
        }
    }

    /// Uploads parts with at most `parts_in_flight` running while the next one is read.
    async fn upload_parts<R>(
        &self,
        object: &PayloadPointer,
        upload_id: &str,
        first: Bytes,
        mut source: R,
    ) -> Result<(Vec<CompletedPart>, u64), StoreError>
    where
        R: AsyncRead + Send + Unpin,
    {
        let mut running = JoinSet::new();
        let mut done = Vec::new();
        let mut size = 0u64;
        let mut next = Some(first);
        let mut number = 0i32;
        while let Some(part) = next.take() {
            number += 1;
            if number > MAX_PARTS {
                return Err(StoreError::TooLarge {
                    part_size: self.part_size,
                });
            }
            size += part.len() as u64;
            running.spawn(upload_part(
                self.s3.clone(),
                object.clone(),
                upload_id.to_owned(),
                number,
                part,
            ));
            while running.len() >= self.parts_in_flight {
                done.push(joined(running.join_next().await)?);
            }
            let part = read_part(&mut source, self.part_size).await?;
            if !part.is_empty() {
                next = Some(part);
            }
        }
        while let Some(result) = running.join_next().await {
            done.push(joined(Some(result))?);
        }
        done.sort_by_key(|p| p.part_number);
        Ok((done, size))
    }

    async fn complete(
        &self,
        object: &PayloadPointer,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<Option<String>, StoreError> {
        let output = self
            .s3
            .complete_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("CompleteMultipartUpload", object, e))?;
        Ok(output.e_tag)
    }

    /// Best effort: a failed abort is logged; the bucket's lifecycle rule for incomplete
    /// multipart uploads is the backstop.
    async fn abort(&self, object: &PayloadPointer, upload_id: &str) {
        let aborted = self
            .s3
            .abort_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            let e = StoreError::from_sdk("AbortMultipartUpload", object, e);
            tracing::warn!(%object, error = %e, "could not abort a failed multipart upload");
        }
    }

    /// Opens a payload for streaming.
    pub async fn get(&self, object: &PayloadPointer) -> Result<PayloadStream, StoreError> {
        let output = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetObject", object, e))?;
        let info = ObjectInfo {
            size: output.content_length.unwrap_or_default().max(0) as u64,
            e_tag: output.e_tag,
            content_type: output.content_type,
            checksum_sha256: output.checksum_sha256,
            metadata: output.metadata.unwrap_or_default(),
        };
        Ok(PayloadStream {
            object: object.clone(),
            info,
            body: output.body,
        })
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

    /// A presigned PUT whose signature covers the content type, the content length and, when
    /// given, the SHA-256 checksum, so S3 refuses a different body.
    pub async fn presign_put(
        &self,
        object: &PayloadPointer,
        put: &PresignPut,
    ) -> Result<PresignedRequest, StoreError> {
        let config = presigning_config(put.expires_in)?;
        let presigned = self
            .s3
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .content_type(&put.content_type)
            .content_length(i64::try_from(put.content_length).map_err(|_| {
                StoreError::Presign(format!(
                    "content length {} is too large",
                    put.content_length
                ))
            })?)
            .set_checksum_sha256(put.checksum_sha256.clone())
            .presigned(config.clone())
            .await
            .map_err(|e| StoreError::from_sdk("PutObject (presign)", object, e))?;
        Ok(presigned_request(&presigned, &config))
    }

    /// A presigned GET, optionally telling the browser how to save the file.
    pub async fn presign_get(
        &self,
        object: &PayloadPointer,
        expires_in: Duration,
        content_disposition: Option<String>,
    ) -> Result<PresignedRequest, StoreError> {
        let config = presigning_config(expires_in)?;
        let presigned = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_response_content_disposition(content_disposition)
            .presigned(config.clone())
            .await
            .map_err(|e| StoreError::from_sdk("GetObject (presign)", object, e))?;
        Ok(presigned_request(&presigned, &config))
    }
}

fn presigning_config(expires_in: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::expires_in(expires_in).map_err(|e| StoreError::Presign(e.to_string()))
}

fn presigned_request(
    presigned: &aws_sdk_s3::presigning::PresignedRequest,
    config: &PresigningConfig,
) -> PresignedRequest {
    PresignedRequest {
        method: presigned.method().to_owned(),
        url: presigned.uri().to_owned(),
        headers: presigned
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        expires_at: config.start_time() + config.expires(),
    }
}

fn non_empty(metadata: &HashMap<String, String>) -> Option<HashMap<String, String>> {
    (!metadata.is_empty()).then(|| metadata.clone())
}

/// Reads up to `size` bytes: a full part, or what is left before the end of the source.
async fn read_part<R: AsyncRead + Unpin>(source: &mut R, size: usize) -> Result<Bytes, StoreError> {
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        let mut limited = (&mut *source).take((size - buf.len()) as u64);
        if limited
            .read_buf(&mut buf)
            .await
            .map_err(StoreError::Source)?
            == 0
        {
            break;
        }
    }
    Ok(buf.freeze())
}

async fn upload_part(
    s3: aws_sdk_s3::Client,
    object: PayloadPointer,
    upload_id: String,
    number: i32,
    part: Bytes,
) -> Result<CompletedPart, StoreError> {
    let output = s3
        .upload_part()
        .bucket(&object.bucket)
        .key(&object.key)
        .upload_id(upload_id)
        .part_number(number)
        .content_length(part.len() as i64)
        .body(ByteStream::from(part))
        .send()
        .await
        .map_err(|e| StoreError::from_sdk("UploadPart", &object, e))?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(output.e_tag)
        .set_checksum_crc32(output.checksum_crc32)
        .build())
}

fn joined(
    result: Option<Result<Result<CompletedPart, StoreError>, tokio::task::JoinError>>,
) -> Result<CompletedPart, StoreError> {
    match result {
        Some(Ok(part)) => part,
        Some(Err(e)) => Err(StoreError::Source(std::io::Error::other(e))),
        None => Err(StoreError::Source(std::io::Error::other(
            "no part upload was running",
        ))),
    }
}
