//! presign-upload: `POST /uploads` hands a producer a presigned S3 PUT for a new payload — or,
//! above the multipart threshold or for a body of unknown length, a multipart upload with
//! presigned part URLs — and records the payload as `pending` in the ledger with what the
//! upload must match. The multipart routes (`GET /uploads/{id}/parts`, `POST
//! /uploads/{id}/complete`, `DELETE /uploads/{id}`) are in [`multipart`].
//!
//! Request (JSON, `Content-Type: application/json`, at most 16 KiB):
//! `{"content_type": "text/csv", "content_length": 1234, "sha256": "<base64>", "metadata": {"k": "v"}}`
//! (`metadata` optional, `content_length` `null` or absent for a body of unknown length,
//! `sha256` required unless `CLAIMCHECK_REQUIRE_SHA256=false` — for a multipart upload it may
//! come at completion instead —, unknown fields refused).
//!
//! The caller (API Gateway's authorizer context, [`claimcheck::principal`]) becomes the
//! payload's owner in the ledger: only it and the operators may read the payload. Each caller
//! may hold at most `CLAIMCHECK_MAX_PENDING_UPLOADS` upload URLs that are still valid and not
//! yet used (`429 too_many_pending` past that).
//!
//! Response `201`: `{"id", "method": "PUT", "url", "headers": {..}, "expires_at", "expires_in"}`,
//! or for a multipart upload `{"id", "method", "expires_at", "expires_in", "multipart":
//! {"upload_id", "part_size", "part_count", "parts": [{"part_number", "url", "headers",
//! "size"}], "expires_at"}}` ([`claimcheck::api::UploadTicket`]).
//! The client sends exactly `headers` with the body. The key (`<uploads prefix><id>`) is made
//! here, never taken from the client. Content type, content length and, when given, the
//! SHA-256 checksum are signed headers, so S3 refuses a different body. S3's presigned PUT
//! cannot carry a size range, so the producer also checks the object's real size against
//! the ledger. Metadata is kept in the ledger, not on the object.
//!
//! Errors: `{"error": {"code", "message"}}` with 400 (bad JSON, wrong or missing fields, bad
//! values, `missing_sha256`), 403 (`no_identity`: authorized but nameless), 404 (unknown route), 405 (wrong method), 413 (body too large),
//! 415 (body not JSON), 429 (`too_many_pending`), 500 (AWS failure; no internals). The URL is
//! never logged.

pub mod multipart;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use claimcheck::api::{UploadRequest, UploadTicket};
use claimcheck::http_api::{ApiError, count_answer, json_body, json_response, parse_json};
use claimcheck::ledger::{Created, Ledger, NewPayload};
use claimcheck::metrics::Metrics;
use claimcheck::object_key::KeyPrefix;
use claimcheck::payload_store::PresignPut;
use claimcheck::principal::Principal;
use claimcheck::settings::{self, SettingsError, Source};
use claimcheck::{PayloadPointer, PayloadStore};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// S3's single-PUT limit.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;
/// The default multipart threshold (64 MiB): above it a body goes in parts, where a dropped
/// connection costs one part instead of the whole body and parts travel in parallel.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// The default part size (16 MiB), raised for bodies that would need over 10 000 parts.
pub const DEFAULT_PART_SIZE: u64 = 16 * 1024 * 1024;
/// How long a multipart upload may take by default (24 h), and at most (7 days): after that
/// reconcile aborts it. `infra/variables.tf` validates `multipart_upload_seconds` against the
/// same limit and sets the bucket's abort-incomplete rule a day later, as a backstop.
pub const DEFAULT_MULTIPART_WINDOW: Duration = Duration::from_secs(86_400);
/// See [`DEFAULT_MULTIPART_WINDOW`].
pub const MAX_MULTIPART_WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// The shortest window a deployment may give multipart uploads (1 h, the longest URL lifetime:
/// a window never ends before the URLs it hands out).
pub const MIN_MULTIPART_WINDOW: Duration = Duration::from_secs(3600);
/// The largest `CLAIMCHECK_MAX_UPLOAD_BYTES`: S3's 5 TiB object limit
/// ([`claimcheck::multipart::MAX_OBJECT_SIZE`]), written out for `infra/variables.tf`'s check.
pub const MAX_UPLOAD_LIMIT: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// S3's smallest part (5 MiB), the least multipart threshold and part size.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's largest part (5 GiB), the most multipart threshold and part size.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// S3's limit for user metadata, applied to what the ledger keeps.
pub const MAX_METADATA_BYTES: usize = 2048;
pub const MAX_METADATA_ENTRIES: usize = 16;
/// Upload URLs live at most 1 h (SigV4 allows 7 days, but a URL signed with a role's session
/// credentials dies with the session, whatever it says; Lambda's sessions are renewed hourly or
/// sooner). `infra/variables.tf` validates `upload_url_seconds` against the same limit.
pub const MAX_URL_LIFETIME: Duration = Duration::from_secs(3600);
/// The most pending uploads a caller may be allowed (`CLAIMCHECK_MAX_PENDING_UPLOADS`);
/// `infra/variables.tf` validates `max_pending_uploads` against the same limit.
pub const MAX_PENDING_LIMIT: u32 = 10_000;

/// What the function is configured with (environment variables in Lambda).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `CLAIMCHECK_BUCKET`
    pub bucket: String,
    /// `CLAIMCHECK_TABLE`
    pub table: String,
    /// `CLAIMCHECK_UPLOADS_PREFIX`, default `uploads/`
    pub uploads_prefix: KeyPrefix,
    /// `CLAIMCHECK_MAX_UPLOAD_BYTES`, default 5 GiB, at most S3's 5 TiB object limit
    pub max_size: u64,
    /// `CLAIMCHECK_MULTIPART_THRESHOLD_BYTES`, default [`DEFAULT_MULTIPART_THRESHOLD`], 5 MiB
    /// to 5 GiB: bodies above it (and of unknown length) are uploaded in parts.
    pub multipart_threshold: u64,
    /// `CLAIMCHECK_PART_SIZE_BYTES`, default [`DEFAULT_PART_SIZE`], 5 MiB to 5 GiB (S3's part
    /// limits); raised per upload so the body fits in 10 000 parts.
    pub part_size: u64,
    /// `CLAIMCHECK_MULTIPART_UPLOAD_SECONDS`, default 24 h, 1 h to 7 days: how long a
    /// multipart upload may take before reconcile aborts it.
    pub multipart_window: Duration,
    /// `CLAIMCHECK_ALLOWED_CONTENT_TYPES`, comma-separated; empty allows any valid type
    pub allowed_content_types: Vec<String>,
    /// `CLAIMCHECK_UPLOAD_URL_SECONDS`, default 900, at most [`MAX_URL_LIFETIME`] (1 h)
    pub url_lifetime: Duration,
    /// `CLAIMCHECK_REQUIRE_SHA256`, default `true`: refuse uploads that do not announce their
    /// SHA-256 (without it S3 checks only the size, and the producer cannot tell a corrupted
    /// upload from a good one).
    pub require_sha256: bool,
    /// `CLAIMCHECK_MAX_PENDING_UPLOADS`, default 100, 1 to [`MAX_PENDING_LIMIT`]: how many
    /// upload URLs, issued and still valid but not yet used, one caller may hold.
    pub max_pending: u32,
}

impl Settings {
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        let uploads_prefix = settings::uploads_prefix(source)?;
        let max_size = bytes_in(
            source,
            "CLAIMCHECK_MAX_UPLOAD_BYTES",
            MAX_SINGLE_PUT,
            1..=MAX_UPLOAD_LIMIT,
        )?;
        let part_limits = MIN_PART_BYTES..=MAX_PART_BYTES;
        let multipart_threshold = bytes_in(
            source,
            "CLAIMCHECK_MULTIPART_THRESHOLD_BYTES",
            DEFAULT_MULTIPART_THRESHOLD,
            part_limits.clone(),
        )?;
        let part_size = bytes_in(
            source,
            "CLAIMCHECK_PART_SIZE_BYTES",
            DEFAULT_PART_SIZE,
            part_limits,
        )?;
        let url_lifetime = settings::seconds(
            source,
            "CLAIMCHECK_UPLOAD_URL_SECONDS",
            900,
            MAX_URL_LIFETIME,
        )?;
        let multipart_window = settings::seconds(
            source,
            "CLAIMCHECK_MULTIPART_UPLOAD_SECONDS",
            DEFAULT_MULTIPART_WINDOW.as_secs(),
            MAX_MULTIPART_WINDOW,
        )?;
        if multipart_window < MIN_MULTIPART_WINDOW {
            return Err(SettingsError::Invalid {
                name: "CLAIMCHECK_MULTIPART_UPLOAD_SECONDS",
                value: multipart_window.as_secs().to_string(),
                problem: format!("must be at least {} s", MIN_MULTIPART_WINDOW.as_secs()),
            });
        }
        let max_pending = settings::parsed_or(source, "CLAIMCHECK_MAX_PENDING_UPLOADS", 100u32)?;
        if !(1..=MAX_PENDING_LIMIT).contains(&max_pending) {
            return Err(SettingsError::Invalid {
                name: "CLAIMCHECK_MAX_PENDING_UPLOADS",
                value: max_pending.to_string(),
                problem: format!("must be 1 to {MAX_PENDING_LIMIT}"),
            });
        }
        Ok(Self {
            bucket: settings::required(source, "CLAIMCHECK_BUCKET")?,
            table: settings::required(source, "CLAIMCHECK_TABLE")?,
            uploads_prefix,
            max_size,
            multipart_threshold,
            part_size,
            multipart_window,
            allowed_content_types: settings::list(source, "CLAIMCHECK_ALLOWED_CONTENT_TYPES")
                .into_iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            url_lifetime,
            require_sha256: settings::parsed_or(source, "CLAIMCHECK_REQUIRE_SHA256", true)?,
            max_pending,
        })
    }
}

/// A byte count setting within `range`.
fn bytes_in(
    source: &dyn Source,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, SettingsError> {
    let value = settings::parsed_or(source, name, default)?;
    if !range.contains(&value) {
        return Err(SettingsError::Invalid {
            name,
            value: value.to_string(),
            problem: format!("must be {} to {}", range.start(), range.end()),
        });
    }
    Ok(value)
}

/// The handler's dependencies.
#[derive(Debug, Clone)]
pub struct PresignUpload {
    pub store: PayloadStore,
    pub ledger: Ledger,
    pub settings: Settings,
    /// Its CloudWatch metrics (function `presign-upload`): `UploadsIssued` (of which
    /// `MultipartUploadsOpened`), `PartUrlsIssued`, `MultipartUploadsCompleted`,
    /// `MultipartUploadsAborted`, `UploadsRefused` by `code`, `RequestsFailed` by `code`,
    /// `ColdStart`.
    pub metrics: Arc<Metrics>,
}

impl PresignUpload {
    /// The same handler reporting its metrics to `metrics` (local mode's collection, tests).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings) -> Self {
        Self {
            store: PayloadStore::new(aws_sdk_s3::Client::new(sdk)),
            ledger: Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table),
            settings,
            metrics: Arc::new(Metrics::from_source(
                "presign-upload",
                &claimcheck::settings::Environment,
            )),
        }
    }
}

/// Serves one API Gateway request, as `lambda_http` hands it: `POST /uploads` and the
/// multipart routes. Never fails: every outcome is an HTTP response.
pub async fn handle(deps: &PresignUpload, request: Request) -> Response<Body> {
    let (served, answer) = match route(&request) {
        Ok(Route::Issue) => {
            let ticket = issue(deps, &request).await;
            if let Ok(UploadTicket {
                multipart: Some(_), ..
            }) = &ticket
            {
                deps.metrics.count("MultipartUploadsOpened", 1);
            }
            ("UploadsIssued", ticket.map(|t| json_response(201, &t)))
        }
        Ok(Route::Parts(id)) => (
            "PartUrlsIssued",
            multipart::parts(deps, &request, &id)
                .await
                .map(|v| json_response(200, &v)),
        ),
        Ok(Route::Complete(id)) => (
            "MultipartUploadsCompleted",
            multipart::complete(deps, &request, &id)
                .await
                .map(|v| json_response(200, &v)),
        ),
        Ok(Route::Abort(id)) => (
            "MultipartUploadsAborted",
            multipart::abort(deps, &request, &id)
                .await
                .map(|v| json_response(200, &v)),
        ),
        Err(error) => ("UploadsIssued", Err(error)),
    };
    count_answer(&deps.metrics, served, "UploadsRefused", &answer);
    deps.metrics.flush();
    answer.unwrap_or_else(ApiError::into_response)
}

/// The function's routes.
enum Route {
    /// `POST /uploads`
    Issue,
    /// `GET /uploads/{id}/parts`
    Parts(String),
    /// `POST /uploads/{id}/complete`
    Complete(String),
    /// `DELETE /uploads/{id}`
    Abort(String),
}

/// The route of `request` (its method and path; the id as API Gateway's path parameter, or
/// from the path), the id validated.
fn route(request: &Request) -> Result<Route, ApiError> {
    let (method, path) = (request.method().as_str(), request.uri().path());
    let rest = path.trim_end_matches('/').strip_prefix("/uploads");
    let not_found = || ApiError::new(404, "not_found", format!("no route for {path}"));
    let wrong_method =
        |allowed: &str| ApiError::new(405, "method_not_allowed", format!("use {allowed}"));
    let Some(rest) = rest else {
        return Err(not_found());
    };
    if rest.is_empty() {
        return match method {
            "POST" => Ok(Route::Issue),
            _ => Err(wrong_method("POST /uploads")),
        };
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Err(not_found());
    };
    let (raw_id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let parameters = request.path_parameters();
    let id = || claimcheck::http_api::payload_id(parameters.first("id").unwrap_or(raw_id));
    match (action, method) {
        ("parts", "GET") => Ok(Route::Parts(id()?)),
        ("complete", "POST") => Ok(Route::Complete(id()?)),
        ("", "DELETE") => Ok(Route::Abort(id()?)),
        ("parts", _) => Err(wrong_method("GET /uploads/{id}/parts")),
        ("complete", _) => Err(wrong_method("POST /uploads/{id}/complete")),
        ("", _) => Err(wrong_method("DELETE /uploads/{id}")),
        _ => Err(not_found()),
    }
}

async fn issue(deps: &PresignUpload, request: &Request) -> Result<UploadTicket, ApiError> {
    let principal = caller(request);
    if !principal.is_identified() {
        return Err(ApiError::no_identity());
    }
    let body = json_body(request, MAX_REQUEST_BYTES)?;
    let upload: UploadRequest = parse_json(body)?;
    let settings = &deps.settings;
    let content_type =
        validate_content_type(&upload.content_type, &settings.allowed_content_types)?;
    let single = upload
        .content_length
        .filter(|&length| length <= settings.multipart_threshold);
    if let Some(length) = upload.content_length {
        validate_length(length, settings.max_size)?;
    }
    let sha256 = upload.sha256.as_deref().map(validate_sha256).transpose()?;
    if single.is_some() && sha256.is_none() && settings.require_sha256 {
        return Err(ApiError::bad_request(
            "missing_sha256",
            "sha256 (the base64 SHA-256 of the body) is required",
        ));
    }
    validate_metadata(&upload.metadata)?;
    let quota_key = principal.quota_key();
    check_pending_cap(deps, &quota_key).await?;

    let id = uuid::Uuid::new_v4().to_string();
    let object = PayloadPointer::new(
        &settings.bucket,
        format!("{}{id}", settings.uploads_prefix.as_str()),
    );
    let mut payload = NewPayload {
        id: id.clone(),
        object,
        size: upload.content_length.unwrap_or(0),
        content_type: content_type.clone(),
        sha256,
        metadata: upload.metadata.into_iter().collect::<HashMap<_, _>>(),
        url_expires_at: 0,
        owner: principal.owner(),
        quota_key: Some(quota_key),
        multipart: None,
    };
    let Some(length) = single else {
        return multipart::open(deps, payload).await;
    };
    let put = PresignPut::new(&content_type, length, settings.url_lifetime)
        .with_checksum_sha256(payload.sha256.clone());
    let presigned = deps
        .store
        .presign_put(&payload.object, &put)
        .await
        .map_err(|e| {
            tracing::error!(payload_id = %id, error = %e, "could not presign the upload");
            ApiError::internal()
        })?;
    let expires_at = presigned.expires_at_epoch_secs();
    payload.url_expires_at = expires_at as i64 * 1000;
    record_pending(deps, &payload).await?;
    tracing::info!(payload_id = %id, size = payload.size, content_type = %content_type, "upload URL issued");
    Ok(UploadTicket::new(
        id,
        presigned.method,
        presigned.url,
        presigned.headers.into_iter().collect(),
        expires_at,
        settings.url_lifetime.as_secs(),
    ))
}

/// Records `payload` as `pending`.
///
/// # Errors
/// `500` when the ledger fails or (never expected) the fresh id exists already.
async fn record_pending(deps: &PresignUpload, payload: &NewPayload) -> Result<(), ApiError> {
    let id = &payload.id;
    match deps.ledger.create_pending(payload).await {
        Ok(Created::Created) => Ok(()),
        Ok(Created::AlreadyExists) => {
            tracing::error!(payload_id = %id, "a freshly generated payload id exists already");
            Err(ApiError::internal())
        }
        Err(e) => {
            tracing::error!(payload_id = %id, error = %e, "could not record the pending payload");
            Err(ApiError::internal())
        }
    }
}

/// The caller, from API Gateway's authorizer context.
pub(crate) fn caller(request: &Request) -> Principal {
    let context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => Some(context),
        _ => None,
    };
    Principal::from_context(context)
}

/// `429 too_many_pending` when the caller holds its maximum of unused upload URLs.
async fn check_pending_cap(deps: &PresignUpload, quota_key: &str) -> Result<(), ApiError> {
    let cap = deps.settings.max_pending;
    let pending = deps
        .ledger
        .count_pending(quota_key, deps.ledger.now(), cap)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not count the caller's pending uploads");
            ApiError::internal()
        })?;
    if pending >= cap {
        tracing::warn!(pending, cap, "upload refused: too many pending uploads");
        return Err(ApiError::new(
            429,
            "too_many_pending",
            format!(
                "{pending} upload URLs issued to this caller are unused and still valid (at most {cap}); upload to them or let them expire"
            ),
        ));
    }
    Ok(())
}

/// A media type `type/subtype` (optionally with parameters), lower-cased, and allowed.
fn validate_content_type(value: &str, allowed: &[String]) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_content_type",
            format!("{value:?} is not a media type like text/csv"),
        )
    };
    let value = value.trim();
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid());
    }
    // Printable ASCII only: the value becomes a signed header of the presigned PUT.
    let essence = claimcheck::content_type::essence(value).ok_or_else(invalid)?;
    if !allowed.is_empty() && !allowed.contains(&essence) {
        return Err(ApiError::bad_request(
            "content_type_not_allowed",
            format!(
                "content type {essence} is not allowed; allowed: {}",
                allowed.join(", ")
            ),
        ));
    }
    Ok(value.to_owned())
}

pub(crate) fn validate_length(length: u64, max: u64) -> Result<(), ApiError> {
    if length == 0 {
        return Err(ApiError::bad_request(
            "invalid_content_length",
            "content_length must be at least 1",
        ));
    }
    if length > max {
        return Err(ApiError::bad_request(
            "content_length_too_large",
            format!("content_length {length} is over the maximum of {max} bytes"),
        ));
    }
    Ok(())
}

/// A base64 SHA-256 digest (32 bytes).
pub(crate) fn validate_sha256(value: &str) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_sha256",
                "sha256 must be the base64 of a SHA-256 digest",
            )
        })?;
    if bytes.len() != 32 {
        return Err(ApiError::bad_request(
            "invalid_sha256",
            format!("sha256 must decode to 32 bytes, got {}", bytes.len()),
        ));
    }
    Ok(value.to_owned())
}

fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(ApiError::bad_request(
            "invalid_metadata",
            format!("at most {MAX_METADATA_ENTRIES} metadata entries"),
        ));
    }
    for (key, value) in metadata {
        let key_ok = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !key_ok {
            return Err(ApiError::bad_request(
                "invalid_metadata",
                format!("metadata key {key:?} must be 1-64 of a-z A-Z 0-9 - _"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "invalid_metadata",
                format!("metadata value of {key:?} has control characters"),
            ));
        }
    }
    let size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_METADATA_BYTES {
        return Err(ApiError::bad_request(
            "invalid_metadata",
            format!("metadata is {size} bytes, over the maximum of {MAX_METADATA_BYTES}"),
        ));
    }
    Ok(())
}
