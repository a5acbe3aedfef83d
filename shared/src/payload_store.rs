//! The payload store: payload bytes in S3, streamed both ways.
//!
//! Puts read the source in parts and switch to a multipart upload once the source is larger
//! than one part, so memory stays bounded by `part_size × (parts_in_flight + 1)` whatever the
//! payload's size (up to S3's 5 TiB object limit, 10 000 parts). A failed multipart upload is
//! aborted so no parts are left behind. Gets hand back the response body as a stream, never a
//! whole buffer. A missing object is its own error, distinct from access denied and from
//! transient faults, so callers can decide to park, skip or retry.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinSet;

use crate::pointer::PayloadPointer;
use crate::sdk_error::SdkFailure;

/// S3's smallest part (except the last) is 5 MiB; 8 MiB keeps the part count of a 5 GiB
/// payload at 640 while a few parts in flight stay well under 64 MiB.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 3;
const MAX_PARTS: i32 = 10_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("payload object {0} does not exist")]
    NotFound(PayloadPointer),
    #[error("access denied to payload object {object} during {operation}")]
    AccessDenied {
        operation: &'static str,
        object: PayloadPointer,
    },
    #[error("S3 {operation} on {object} failed: {message}")]
    Service {
        operation: &'static str,
        object: PayloadPointer,
        message: String,
        transient: bool,
        #[source]
        source: BoxError,
    },
    #[error("reading the payload source failed: {0}")]
    Source(#[source] std::io::Error),
    #[error("reading the payload body of {object} failed: {source}")]
    Body {
        object: PayloadPointer,
        #[source]
        source: BoxError,
    },
    #[error("payload is larger than {MAX_PARTS} parts of {part_size} bytes")]
    TooLarge { part_size: usize },
    #[error("payload of {size} bytes is over the {limit}-byte limit for reading into memory")]
    TooLargeToBuffer { size: u64, limit: usize },
    #[error("payload body is not UTF-8 text")]
    NotUtf8,
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
    pub size: u64,
    pub e_tag: Option<String>,
    pub content_type: Option<String>,
    /// Base64 SHA-256, when the object was uploaded with one.
    pub checksum_sha256: Option<String>,
    pub metadata: HashMap<String, String>,
}

/// Options for a put.
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    pub content_type: Option<String>,
    pub metadata: HashMap<String, String>,
}

/// A stored payload's body, streamed from S3.
pub struct PayloadStream {
    pub object: PayloadPointer,
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
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given (they are signed).
    pub headers: Vec<(String, String)>,
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
pub struct PresignPut {
    pub expires_in: Duration,
    pub content_type: String,
    pub content_length: u64,
    /// Base64 SHA-256 of the body the client will send.
    pub checksum_sha256: Option<String>,
}

/// Payload bytes in S3.
#[derive(Debug, Clone)]
pub struct PayloadStore {
    s3: aws_sdk_s3::Client,
    part_size: usize,
    parts_in_flight: usize,
}

impl PayloadStore {
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
