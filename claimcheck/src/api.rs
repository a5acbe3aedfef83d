//! The HTTP API's request and response bodies, defined once for the handlers, the `claimcheck`
//! command and local mode; the OpenAPI document (`api/openapi.yaml`) describes the same shapes.
//!
//! Convention: every time is whole **seconds** — instants as epoch seconds (`*_at`), durations
//! as seconds (`*_in`). Sizes are bytes. (The ledger keeps epoch milliseconds; the handlers
//! convert with [`epoch_seconds`].)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::Status;

/// `POST /uploads`'s body: what the upload will be. Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UploadRequest {
    /// The body's media type (`type/subtype`, parameters allowed), signed into the URL.
    pub content_type: String,
    /// The body's exact size in bytes, signed into the URL (or, for a multipart upload, into
    /// each part's URL). `null` or absent: unknown (a stream), always a multipart upload.
    #[serde(default)]
    pub content_length: Option<u64>,
    /// Base64 SHA-256 of the body, signed into the URL so S3 checks it (a single PUT) or
    /// recorded for the consumer to verify (a multipart upload, where it may also be given at
    /// `POST /uploads/{id}/complete`); `null` or absent when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Kept in the ledger beside the payload (at most 16 entries, 2048 bytes in all).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl UploadRequest {
    /// An upload of `content_length` bytes of `content_type`.
    pub fn new(content_type: impl Into<String>, content_length: u64) -> Self {
        Self {
            content_type: content_type.into(),
            content_length: Some(content_length),
            ..Self::default()
        }
    }

    /// An upload of `content_type` whose length is not known in advance (a stream): always a
    /// multipart upload.
    pub fn of_unknown_length(content_type: impl Into<String>) -> Self {
        Self {
            content_type: content_type.into(),
            ..Self::default()
        }
    }

    /// Also announces the body's base64 SHA-256.
    pub fn with_sha256(self, sha256: impl Into<String>) -> Self {
        Self {
            sha256: Some(sha256.into()),
            ..self
        }
    }

    /// Also keeps `metadata` in the ledger.
    pub fn with_metadata(self, metadata: BTreeMap<String, String>) -> Self {
        Self { metadata, ..self }
    }
}

/// `POST /uploads`'s `201` body: where and how to PUT the bytes — one presigned PUT (`url`
/// and `headers`), or a multipart upload (`multipart`) for a body above the deployment's
/// multipart threshold or of unknown length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadTicket {
    /// The payload's id (a lower-case hyphenated UUID), for `GET /payloads/{id}`.
    pub id: String,
    /// `PUT`.
    pub method: String,
    /// The presigned URL of a single PUT: a credential until it expires; never log it.
    /// Absent for a multipart upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Headers to send exactly as given with a single PUT (they are signed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// When the URL (or the first part URLs) stops working, epoch seconds.
    pub expires_at: u64,
    /// The URL's lifetime, seconds.
    pub expires_in: u64,
    /// The multipart upload, when the body goes in parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartTicket>,
}

/// A multipart upload as `POST /uploads` opens it: the server-chosen part size and count, and
/// presigned URLs for the first parts (`GET /uploads/{id}/parts?from=N` gives more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MultipartTicket {
    /// S3's upload id.
    pub upload_id: String,
    /// Bytes in every part but the last (5 MiB to 5 GiB).
    pub part_size: u64,
    /// How many parts (at most 10 000); `null` when the length is unknown.
    pub part_count: Option<u32>,
    /// Presigned URLs for the first parts (at most [`PART_URLS_PER_ANSWER`]).
    pub parts: Vec<PartUrl>,
    /// When the multipart upload must be completed by, epoch seconds; after that it is
    /// aborted.
    pub expires_at: u64,
}

/// The most part URLs one answer carries.
pub const PART_URLS_PER_ANSWER: u32 = 100;

/// A presigned `UploadPart`: PUT the part's bytes to `url` with `headers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartUrl {
    /// 1 to 10 000: bytes `[(n-1)·part_size, n·part_size)` of the body.
    pub part_number: u32,
    /// The presigned URL: a credential until it expires; never log it.
    pub url: String,
    /// Headers to send as given (a `content-length` is the part's signed size).
    pub headers: BTreeMap<String, String>,
    /// The part's exact size in bytes; `null` when the length is unknown.
    pub size: Option<u64>,
}

/// `GET /uploads/{id}/parts`'s `200` body: what S3 holds of a multipart upload, and part URLs
/// from the requested part on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartsView {
    /// The payload's id.
    pub id: String,
    /// S3's upload id.
    pub upload_id: String,
    /// Bytes in every part but the last.
    pub part_size: u64,
    /// How many parts; `null` when the length is unknown.
    pub part_count: Option<u32>,
    /// Parts S3 already holds (`ListParts`), by part number.
    pub uploaded: Vec<crate::multipart::StoredPart>,
    /// Presigned URLs from part `from` on (at most [`PART_URLS_PER_ANSWER`]).
    pub parts: Vec<PartUrl>,
    /// When these URLs stop working, epoch seconds.
    pub expires_at: u64,
    /// Their lifetime, seconds.
    pub expires_in: u64,
}

/// `POST /uploads/{id}/complete`'s body. Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CompleteRequest {
    /// Every part, numbered 1..n in order, with the ETag S3 answered to its upload.
    pub parts: Vec<crate::multipart::CompletedPart>,
    /// Base64 SHA-256 of the whole body, when not given at `POST /uploads` (it must agree
    /// when given at both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl CompleteRequest {
    /// Completes with `parts` (and the body's SHA-256, when not announced before).
    pub fn new(parts: Vec<crate::multipart::CompletedPart>, sha256: Option<String>) -> Self {
        Self { parts, sha256 }
    }
}

/// The `200` body of `POST /uploads/{id}/complete` and `DELETE /uploads/{id}`: the payload's
/// state afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadState {
    /// The payload's id.
    pub id: String,
    /// `pending` (completed: the pipeline takes it from here) or `expired` (aborted).
    pub status: Status,
    /// The payload's size in bytes.
    pub size: u64,
    /// Base64 SHA-256 the consumer will verify, when known.
    pub sha256: Option<String>,
}

impl UploadState {
    /// Payload `id` in `status`, `size` bytes, with its SHA-256 when known.
    pub fn new(id: impl Into<String>, status: Status, size: u64, sha256: Option<String>) -> Self {
        Self {
            id: id.into(),
            status,
            size,
            sha256,
        }
    }
}

impl PartUrl {
    /// Part `part_number`'s presigned PUT to `url` with `headers`, `size` bytes when known.
    pub fn new(
        part_number: u32,
        url: impl Into<String>,
        headers: BTreeMap<String, String>,
        size: Option<u64>,
    ) -> Self {
        Self {
            part_number,
            url: url.into(),
            headers,
            size,
        }
    }
}

impl UploadTicket {
    /// A ticket for payload `id`: `method` and `url` to send the bytes to with `headers`, valid
    /// until `expires_at` (epoch seconds) for `expires_in` seconds from now.
    pub fn new(
        id: impl Into<String>,
        method: impl Into<String>,
        url: impl Into<String>,
        headers: BTreeMap<String, String>,
        expires_at: u64,
        expires_in: u64,
    ) -> Self {
        Self {
            id: id.into(),
            method: method.into(),
            url: Some(url.into()),
            headers,
            expires_at,
            expires_in,
            multipart: None,
        }
    }

    /// A ticket for payload `id` uploaded in parts (`multipart`), its first part URLs valid
    /// until `expires_at` (epoch seconds) for `expires_in` seconds.
    pub fn multipart(
        id: impl Into<String>,
        multipart: MultipartTicket,
        expires_at: u64,
        expires_in: u64,
    ) -> Self {
        Self {
            id: id.into(),
            method: "PUT".into(),
            url: None,
            headers: BTreeMap::new(),
            expires_at,
            expires_in,
            multipart: Some(multipart),
        }
    }
}

impl MultipartTicket {
    /// Upload `upload_id` in parts of `part_size` bytes (`part_count` of them when known),
    /// starting with `parts`, to be completed by `expires_at` (epoch seconds).
    pub fn new(
        upload_id: impl Into<String>,
        part_size: u64,
        part_count: Option<u32>,
        parts: Vec<PartUrl>,
        expires_at: u64,
    ) -> Self {
        Self {
            upload_id: upload_id.into(),
            part_size,
            part_count,
            parts,
            expires_at,
        }
    }
}

/// `GET /payloads/{id}`'s `200` body: a payload's ledger state and, while its object exists, a
/// presigned GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PayloadView {
    /// The payload's id.
    pub id: String,
    /// Where it is in the pipeline.
    pub status: Status,
    /// Announced (while pending) or stored size in bytes.
    pub size: u64,
    /// The announced content type.
    pub content_type: Option<String>,
    /// Base64 SHA-256, announced or computed while processing.
    pub sha256: Option<String>,
    /// When the upload URL was issued, epoch seconds.
    pub created_at: u64,
    /// The payload's last change, epoch seconds.
    pub updated_at: u64,
    /// Why its last attempt failed, if it did.
    pub last_error: Option<String>,
    /// A presigned GET while the object exists, else `None` (`null`).
    pub download: Option<DownloadLink>,
}

impl PayloadView {
    /// A view of payload `id` in `status` with its `size` in bytes; the rest empty, times 0.
    pub fn new(id: impl Into<String>, status: Status, size: u64) -> Self {
        Self {
            id: id.into(),
            status,
            size,
            content_type: None,
            sha256: None,
            created_at: 0,
            updated_at: 0,
            last_error: None,
            download: None,
        }
    }
}

/// A presigned GET of a payload's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DownloadLink {
    /// `GET`.
    pub method: String,
    /// The presigned URL: a credential until it expires; never log it.
    pub url: String,
    /// When the URL stops working, epoch seconds.
    pub expires_at: u64,
    /// The URL's lifetime, seconds.
    pub expires_in: u64,
}

impl DownloadLink {
    /// A link to GET `url` until `expires_at` (epoch seconds), `expires_in` seconds from now.
    pub fn new(
        method: impl Into<String>,
        url: impl Into<String>,
        expires_at: u64,
        expires_in: u64,
    ) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            expires_at,
            expires_in,
        }
    }
}

/// Every error the API's handlers answer: `{"error": {"code", "message"}}` with a 4xx or 5xx.
/// (API Gateway's own refusals carry `{"message"}` instead.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable and machine-readable (`invalid_json`, `not_found`, ...): branch on this.
    pub code: String,
    /// For people; may change.
    pub message: String,
}

/// Epoch milliseconds (the ledger's unit) as whole epoch seconds (the API's), rounding down;
/// negative times become 0.
pub fn epoch_seconds(epoch_millis: i64) -> u64 {
    u64::try_from(epoch_millis.div_euclid(1000)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_documented_shapes() {
        let request: UploadRequest =
            serde_json::from_str(r#"{"content_type":"text/csv","content_length":3,"sha256":null}"#)
                .expect("null sha256 is absent");
        assert_eq!(request, UploadRequest::new("text/csv", 3));
        assert!(
            serde_json::from_str::<UploadRequest>(
                r#"{"content_type":"text/csv","content_length":3,"size":3}"#
            )
            .is_err(),
            "unknown fields are refused"
        );
        let view = PayloadView::new("id", Status::Done, 3);
        let json = serde_json::to_value(&view).expect("json");
        assert_eq!(json["status"], "done");
        assert_eq!(json["download"], serde_json::Value::Null);
        assert_eq!(epoch_seconds(1_764_028_800_999), 1_764_028_800);
        assert_eq!(epoch_seconds(-5), 0);
    }
}
