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
    /// The body's exact size in bytes, signed into the URL.
    pub content_length: u64,
    /// Base64 SHA-256 of the body, signed into the URL so S3 checks it; `null` or absent when
    /// not given.
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
            content_length,
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

/// `POST /uploads`'s `201` body: where and how to PUT the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadTicket {
    /// The payload's id (a lower-case hyphenated UUID), for `GET /payloads/{id}`.
    pub id: String,
    /// `PUT`.
    pub method: String,
    /// The presigned URL: a credential until it expires; never log it.
    pub url: String,
    /// Headers to send exactly as given (they are signed).
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working, epoch seconds.
    pub expires_at: u64,
    /// The URL's lifetime, seconds.
    pub expires_in: u64,
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
            url: url.into(),
            headers,
            expires_at,
            expires_in,
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
