//! Presigned requests: what a client without AWS credentials sends to S3, signed by the SDK's
//! presigner (aws-sdk-s3 `presigning`) with exactly the headers the request pins.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;

use super::{PayloadStore, StoreError};
use crate::pointer::PayloadPointer;

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
    /// Signs `If-None-Match: *` (S3 conditional writes): the upload is refused with 412
    /// `PreconditionFailed` once an object has the key, so the URL works once. On by default.
    pub single_use: bool,
}

impl PresignPut {
    /// A PUT of exactly `content_length` bytes of `content_type`, valid for `expires_in`.
    pub fn new(content_type: impl Into<String>, content_length: u64, expires_in: Duration) -> Self {
        Self {
            expires_in,
            content_type: content_type.into(),
            content_length,
            checksum_sha256: None,
            single_use: true,
        }
    }

    /// Lets the URL overwrite an existing object (no `If-None-Match: *`).
    pub fn allow_overwrite(self) -> Self {
        Self {
            single_use: false,
            ..self
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

impl PayloadStore {
    /// A presigned PUT whose signature covers the content type, the content length, when given
    /// the SHA-256 checksum (so S3 refuses a different body) and, unless the request allows
    /// overwriting, `If-None-Match: *` (so S3 refuses a second upload to the key).
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
            // S3 conditional write: the PUT succeeds only if no object has the key yet, so a
            // URL works once and uploaded (and checked) bytes cannot be replaced through it.
            .set_if_none_match(put.single_use.then(|| "*".to_owned()))
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

pub(super) fn presigning_config(expires_in: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::expires_in(expires_in).map_err(|e| StoreError::Presign(e.to_string()))
}

pub(super) fn presigned_request(
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
