//! Puts: a source read in parts, one PUT below one part and a multipart upload above it
//! (parts uploaded `parts_in_flight` at a time, the upload aborted on any failure), with the
//! per-object options (content type, metadata, SSE-KMS, tags).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedPart, ServerSideEncryption};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinSet;

use super::signing::UnsignedPayloadOverHttps;
use super::{MAX_PARTS, ObjectInfo, PayloadStore, StoreError};
use crate::pointer::PayloadPointer;

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

impl PayloadStore {
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
        let put = self
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
            .customize();
        let output = put
            .interceptor(UnsignedPayloadOverHttps)
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
                (number, part),
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
            .send_complete(object, upload_id, parts, None)
            .await
            .map_err(|e| StoreError::from_sdk("CompleteMultipartUpload", object, e))?;
        Ok(output.e_tag)
    }

    /// Best effort: a failed abort is logged; the bucket's lifecycle rule for incomplete
    /// multipart uploads is the backstop.
    async fn abort(&self, object: &PayloadPointer, upload_id: &str) {
        let aborted = self.abort_multipart_upload(object, upload_id).await;
        if let Err(e) = aborted {
            tracing::warn!(%object, error = %e, "could not abort a failed multipart upload");
        }
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
    (number, part): (i32, Bytes),
) -> Result<CompletedPart, StoreError> {
    let upload = s3
        .upload_part()
        .bucket(&object.bucket)
        .key(&object.key)
        .upload_id(upload_id)
        .part_number(number)
        .content_length(part.len() as i64)
        .body(ByteStream::from(part))
        .customize();
    let output = upload
        .interceptor(UnsignedPayloadOverHttps)
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
