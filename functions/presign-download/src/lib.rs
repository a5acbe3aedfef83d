//! presign-download: `GET /payloads/{id}` tells any consumer off AWS where a payload is and,
//! when its object exists, hands out a short-lived presigned GET.
//!
//! Response `200`: [`claimcheck::api::PayloadView`] — `{"id", "status", "size",
//! "content_type", "sha256", "created_at", "updated_at", "last_error", "download": {"method":
//! "GET", "url", "expires_at", "expires_in"} | null}`, times in epoch seconds. `download` is
//! `null` while the object is not (or no longer) there.
//!
//! A payload is shown only to its owner (the principal that asked for its upload URL, see
//! [`claimcheck::principal`]) and to the operators (`CLAIMCHECK_OPERATOR_ARNS`,
//! `CLAIMCHECK_OPERATOR_SCOPE`); anyone else gets the same `404 not_found` as for an unknown id,
//! so a payload's existence does not leak. A download is signed only for an object the
//! producer admitted (never for `pending`, `quarantined` or `expired` payloads), and
//! `last_error` is a public reason, never the raw text of an AWS error.
//!
//! Only what the ledger knows is ever signed: the id must be a canonical UUID (anything else,
//! `../`, encoded slashes, another bucket's key, overlong input, is a 400), an unknown id is a
//! 404, and a ledger item whose object is outside this bucket's uploads prefix is treated as
//! unknown. The URL is never logged. Errors are JSON as in presign-upload.

use std::sync::Arc;
use std::time::Duration;

use claimcheck::PayloadStore;
use claimcheck::api::{DownloadLink, PayloadView, epoch_seconds};
use claimcheck::http_api::{ApiError, count_answer, json_response, payload_id};
use claimcheck::ledger::Status;
use claimcheck::ledger::{Ledger, PayloadRecord};
use claimcheck::metrics::Metrics;
use claimcheck::object_key::KeyPrefix;
use claimcheck::principal::{AccessPolicy, Principal};
use claimcheck::settings::{self, SettingsError, Source};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// Presigned GETs live at most this long (12 h); `infra/variables.tf` validates
/// `download_url_seconds` against the same limit.
pub const MAX_URL_LIFETIME: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Clone)]
pub struct Settings {
    /// `CLAIMCHECK_BUCKET`
    pub bucket: String,
    /// `CLAIMCHECK_TABLE`
    pub table: String,
    /// `CLAIMCHECK_UPLOADS_PREFIX`, default `uploads/`
    pub uploads_prefix: KeyPrefix,
    /// `CLAIMCHECK_DOWNLOAD_URL_SECONDS`, default 300
    pub url_lifetime: Duration,
    /// `CLAIMCHECK_OPERATOR_ARNS` (comma-separated IAM user or role ARNs) and
    /// `CLAIMCHECK_OPERATOR_SCOPE` (a JWT scope): who may read every payload.
    pub access: AccessPolicy,
}

impl Settings {
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        let url_lifetime = settings::seconds(
            source,
            "CLAIMCHECK_DOWNLOAD_URL_SECONDS",
            300,
            MAX_URL_LIFETIME,
        )?;
        Ok(Self {
            bucket: settings::required(source, "CLAIMCHECK_BUCKET")?,
            table: settings::required(source, "CLAIMCHECK_TABLE")?,
            uploads_prefix: settings::uploads_prefix(source)?,
            url_lifetime,
            access: AccessPolicy {
                operator_arns: settings::list(source, "CLAIMCHECK_OPERATOR_ARNS"),
                operator_scope: source
                    .get("CLAIMCHECK_OPERATOR_SCOPE")
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().to_owned()),
            },
        })
    }
}

#[derive(Debug, Clone)]
pub struct PresignDownload {
    pub store: PayloadStore,
    pub ledger: Ledger,
    pub settings: Settings,
    /// Its CloudWatch metrics (function `presign-download`): `PayloadsDescribed`, of which
    /// `DownloadsIssued` (with a download URL), `DownloadsRefused` by `code`, `RequestsFailed`
    /// by `code`, `ColdStart`.
    pub metrics: Arc<Metrics>,
}

impl PresignDownload {
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
                "presign-download",
                &claimcheck::settings::Environment,
            )),
        }
    }
}

/// Serves one API Gateway request, as `lambda_http` hands it. Never fails: every outcome is an
/// HTTP response.
pub async fn handle(deps: &PresignDownload, request: Request) -> Response<Body> {
    let answer = describe(deps, &request).await;
    count_answer(
        &deps.metrics,
        "PayloadsDescribed",
        "DownloadsRefused",
        &answer,
    );
    if let Ok(PayloadView {
        download: Some(_), ..
    }) = &answer
    {
        deps.metrics.count("DownloadsIssued", 1);
    }
    deps.metrics.flush();
    match answer {
        Ok(view) => json_response(200, &view),
        Err(error) => error.into_response(),
    }
}

async fn describe(deps: &PresignDownload, request: &Request) -> Result<PayloadView, ApiError> {
    let (method, path) = (request.method().as_str(), request.uri().path());
    let parameters = request.path_parameters();
    let Some(raw_id) = parameters
        .first("id")
        .or_else(|| path.strip_prefix("/payloads/"))
    else {
        return Err(ApiError::new(
            404,
            "not_found",
            format!("no route for {path}"),
        ));
    };
    if method != "GET" {
        return Err(ApiError::new(
            405,
            "method_not_allowed",
            "use GET /payloads/{id}",
        ));
    }
    let principal = caller(request);
    if !principal.is_identified() {
        return Err(ApiError::no_identity());
    }
    let id = payload_id(raw_id)?;
    let wants_download = wants_download(request)?;
    let unknown = || ApiError::new(404, "not_found", format!("no payload {id}"));
    let record = deps.ledger.get(&id).await.map_err(|e| {
        tracing::error!(payload_id = %id, error = %e, "could not read the ledger");
        ApiError::internal()
    })?;
    let Some(record) = record else {
        return Err(unknown());
    };
    if !deps
        .settings
        .access
        .may_read(&principal, record.owner.as_deref())
    {
        tracing::info!(payload_id = %id, "payload not shown: the caller is neither its owner nor an operator");
        return Err(unknown());
    }
    let settings = &deps.settings;
    let expected_key = format!("{}{id}", settings.uploads_prefix.as_str());
    if record.object.bucket != settings.bucket || record.object.key != expected_key {
        tracing::warn!(payload_id = %id, "ledger item points outside the uploads prefix; not signed");
        return Err(unknown());
    }
    let mut view = PayloadView::new(id, record.status, record.size);
    view.download = if wants_download {
        presign(deps, &record).await?
    } else {
        None
    };
    view.content_type = record.content_type;
    view.sha256 = record.sha256;
    view.created_at = epoch_seconds(record.created_at);
    view.updated_at = epoch_seconds(record.updated_at);
    view.last_error = public_reason(record.status, record.last_error.as_deref());
    Ok(view)
}

/// The `download` query parameter: `true` (the default) signs a GET for an admitted object,
/// `false` answers the state alone (no S3 call, no URL minted: for callers that poll).
///
/// # Errors
/// `400 invalid_query` for any other value.
fn wants_download(request: &Request) -> Result<bool, ApiError> {
    let query = request.query_string_parameters_ref();
    match query.and_then(|q| q.first("download")) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::new(
            400,
            "invalid_query",
            format!("download must be true or false, not {other:?}"),
        )),
    }
}

/// The caller, from API Gateway's authorizer context.
fn caller(request: &Request) -> Principal {
    let context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => Some(context),
        _ => None,
    };
    Principal::from_context(context)
}

/// What a caller is told about a failure: claimcheck's own words for each state. The ledger's
/// `last_error` may hold an AWS error's or the processor's raw text (bucket names, ARNs, request
/// ids), so it is shown only where claimcheck wrote it itself: the producer's quarantine reason
/// (what differed from the announcement) and reconcile's expiry.
fn public_reason(status: Status, last_error: Option<&str>) -> Option<String> {
    let reason = match status {
        Status::Quarantined | Status::Expired => return last_error.map(str::to_owned),
        Status::Failed => "processing failed; it will be retried",
        Status::Dead => {
            "processing failed and the payload was parked: it waits in the dead-letter queue for an operator"
        }
        Status::Pending | Status::Queued | Status::Processing | Status::Done | Status::Redriven => {
            return None;
        }
    };
    last_error.map(|_| reason.to_owned())
}

/// A presigned GET when the object exists.
async fn presign(
    deps: &PresignDownload,
    record: &PayloadRecord,
) -> Result<Option<DownloadLink>, ApiError> {
    let internal = |e: claimcheck::StoreError| {
        tracing::error!(payload_id = %record.id, error = %e, "could not presign the download");
        ApiError::internal()
    };
    // Only what the producer admitted (its size and checksum checked): a pending object is
    // unchecked, a quarantined one failed the checks.
    let admitted = !matches!(
        record.status,
        Status::Pending | Status::Quarantined | Status::Expired
    );
    if !admitted {
        return Ok(None);
    }
    match deps.store.head(&record.object).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(internal(e)),
    }
    let disposition = format!("attachment; filename=\"{}\"", record.id);
    let lifetime = deps.settings.url_lifetime;
    let presigned = deps
        .store
        .presign_get(&record.object, lifetime, Some(disposition))
        .await
        .map_err(internal)?;
    tracing::info!(payload_id = %record.id, "download URL issued");
    let expires_at = presigned.expires_at_epoch_secs();
    Ok(Some(DownloadLink::new(
        presigned.method,
        presigned.url,
        expires_at,
        lifetime.as_secs(),
    )))
}
