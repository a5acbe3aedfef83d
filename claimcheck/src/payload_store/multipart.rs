//! Multipart uploads driven by a server for clients without AWS credentials: the server
//! starts the upload, presigns each `UploadPart`, lists what S3 holds and completes or aborts
//! it; the client only sends part bytes to presigned URLs.

use std::time::Duration;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart as S3CompletedPart};

use super::presign::{presigned_request, presigning_config};
use super::{PayloadStore, PresignedRequest, StoreError};
use crate::multipart::{CompletedPart, StoredPart};
use crate::pointer::PayloadPointer;
use crate::sdk_error::SdkFailure;

impl PayloadStore {
    /// Starts a multipart upload of `object` with `content_type` (S3 `CreateMultipartUpload`);
    /// returns its upload id.
    ///
    /// # Errors
    /// [`StoreError`] from S3, or `Service` when S3 answers without an upload id.
    pub async fn create_multipart_upload(
        &self,
        object: &PayloadPointer,
        content_type: &str,
    ) -> Result<String, StoreError> {
        let out = self
            .s3
            .create_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("CreateMultipartUpload", object, e))?;
        out.upload_id.ok_or_else(|| StoreError::Service {
            operation: "CreateMultipartUpload",
            object: object.clone(),
            message: "S3 answered without an upload id".into(),
            transient: false,
            source: "no UploadId".into(),
        })
    }

    /// A presigned `UploadPart` of part `part_number` of `upload_id`, signing the part's exact
    /// length when known (S3 then refuses any other size). The client may add `Content-MD5`,
    /// which S3 checks against the bytes (a standard header, so it needs no signing).
    ///
    /// # Errors
    /// [`StoreError::Presign`] for a lifetime over 7 days; other [`StoreError`]s from the SDK.
    pub async fn presign_upload_part(
        &self,
        object: &PayloadPointer,
        upload_id: &str,
        part_number: u32,
        length: Option<u64>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        let config = presigning_config(expires_in)?;
        let length = length
            .map(|l| {
                i64::try_from(l)
                    .map_err(|_| StoreError::Presign(format!("part length {l} is too large")))
            })
            .transpose()?;
        let part_number = i32::try_from(part_number)
            .map_err(|_| StoreError::Presign(format!("part number {part_number} is too large")))?;
        let presigned = self
            .s3
            .upload_part()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .part_number(part_number)
            .set_content_length(length)
            .presigned(config.clone())
            .await
            .map_err(|e| StoreError::from_sdk("UploadPart (presign)", object, e))?;
        Ok(presigned_request(&presigned, &config))
    }

    /// Every part S3 holds for `upload_id`, in part-number order (`ListParts`, all pages).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] once the upload is completed or aborted (S3's `NoSuchUpload`);
    /// other [`StoreError`]s from S3.
    pub async fn list_parts(
        &self,
        object: &PayloadPointer,
        upload_id: &str,
    ) -> Result<Vec<StoredPart>, StoreError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .s3
                .list_parts()
                .bucket(&object.bucket)
                .key(&object.key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("ListParts", object, e))?;
            for part in out.parts() {
                parts.push(StoredPart {
                    part_number: part
                        .part_number
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or_default(),
                    size: part
                        .size
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or_default(),
                    etag: part.e_tag.clone().unwrap_or_default(),
                });
            }
            match (out.is_truncated, out.next_part_number_marker) {
                (Some(true), Some(next)) if Some(&next) != marker.as_ref() => marker = Some(next),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// Completes `upload_id` from `parts` (`CompleteMultipartUpload` with `If-None-Match: *`,
    /// so a completed payload is never replaced by another upload to its key).
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when an object has the key already (S3's 412),
    /// [`StoreError::NotFound`] when the upload is gone (completed or aborted),
    /// [`StoreError::InvalidParts`] when S3 refuses the parts (`InvalidPart`,
    /// `InvalidPartOrder`, `EntityTooSmall`), other [`StoreError`]s from S3.
    pub async fn complete_multipart_upload(
        &self,
        object: &PayloadPointer,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<(), StoreError> {
        let parts = parts
            .iter()
            .map(|p| {
                S3CompletedPart::builder()
                    .part_number(i32::try_from(p.part_number).unwrap_or(i32::MAX))
                    .e_tag(quoted(&p.etag))
                    .build()
            })
            .collect();
        let out = self
            .send_complete(object, upload_id, parts, Some("*"))
            .await;
        let Err(e) = out else {
            return Ok(());
        };
        let failure = SdkFailure::of(&e);
        match (failure.status, failure.code.as_deref()) {
            (Some(412), _) => Err(StoreError::AlreadyExists(object.clone())),
            (_, Some("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall")) => {
                Err(StoreError::InvalidParts(failure.message))
            }
            _ => Err(StoreError::from_sdk("CompleteMultipartUpload", object, e)),
        }
    }

    /// Aborts `upload_id`, freeing its parts (`AbortMultipartUpload`). An upload already gone
    /// counts as aborted.
    ///
    /// # Errors
    /// [`StoreError`] from S3 other than `NoSuchUpload`.
    pub async fn abort_multipart_upload(
        &self,
        object: &PayloadPointer,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let out = self
            .s3
            .abort_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .send()
            .await;
        match out.map_err(|e| StoreError::from_sdk("AbortMultipartUpload", object, e)) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl PayloadStore {
    /// `CompleteMultipartUpload` of `parts`, with `If-None-Match` when given: the one call
    /// behind both the store's own multipart puts and the API's completions.
    pub(super) async fn send_complete(
        &self,
        object: &PayloadPointer,
        upload_id: &str,
        parts: Vec<S3CompletedPart>,
        if_none_match: Option<&str>,
    ) -> Result<
        aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput,
        aws_sdk_s3::error::SdkError<
            aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError,
            aws_sdk_s3::config::http::HttpResponse,
        >,
    > {
        self.s3
            .complete_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .set_if_none_match(if_none_match.map(str::to_owned))
            .send()
            .await
    }
}

/// S3 takes ETags quoted, as it returns them; clients may have dropped the quotes.
fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim().trim_matches('"'))
}
