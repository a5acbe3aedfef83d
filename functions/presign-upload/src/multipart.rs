//! Multipart uploads through the API, for bodies above the multipart threshold or of unknown
//! length: the caller never holds AWS credentials, only presigned `UploadPart` URLs, and every
//! step but the part uploads themselves goes through here, checked against the ledger.
//!
//! - `POST /uploads` ([`open`]): S3 `CreateMultipartUpload`, the payload recorded `pending`
//!   with its upload id and part plan, URLs for the first parts.
//! - `GET /uploads/{id}/parts?from=N` ([`parts`]): what S3 holds (`ListParts`) and URLs from
//!   part `N` (default 1) on: for a resumed upload, or when URLs expired.
//! - `POST /uploads/{id}/complete` ([`complete`]): the client's parts checked against S3's
//!   (numbers 1..n in order, ETags, sizes, the declared length) before anything changes; the
//!   size and SHA-256 recorded in the ledger (the consumer verifies the SHA-256 while
//!   streaming); then `CompleteMultipartUpload` with `If-None-Match: *`, so a completed payload
//!   is never replaced. The producer admits the object like any upload.
//! - `DELETE /uploads/{id}` ([`abort`]): `AbortMultipartUpload`, the payload `expired`.
//!
//! Only the payload's owner may use these routes (operators may read payloads, not upload
//! them); anyone else gets the `404 not_found` of an unknown id. Errors: 400
//! (`invalid_part_number`, `invalid_parts`, `etag_mismatch`, `part_size_mismatch`,
//! `content_length_mismatch`, `content_length_too_large`, `missing_sha256`, `sha256_mismatch`,
//! `invalid_sha256`, bad JSON), 404 (`not_found`), 409 (`not_multipart`: a single-PUT payload;
//! `upload_closed`: completed — or being completed —, aborted or expired; `parts_changed`: a
//! part was sent again while completing), 500.

use std::collections::BTreeMap;

use claimcheck::api::{
    CompleteRequest, MultipartTicket, PART_URLS_PER_ANSWER, PartUrl, PartsView, UploadState,
    UploadTicket,
};
use claimcheck::http_api::{ApiError, json_body, parse_json};
use claimcheck::ledger::{
    Changes, MultipartUpload, NewPayload, PayloadRecord, Status, Step, Transition,
};
use claimcheck::multipart::{CompletionError, PartPlan, check_completion};
pub use claimcheck::multipart::{MAX_OBJECT_SIZE, MAX_PART_SIZE, MIN_PART_SIZE};
use claimcheck::principal::is_owner;
use lambda_http::{Request, RequestExt};

use super::{PresignUpload, caller, record_pending, validate_length, validate_sha256};

/// The largest `POST /uploads/{id}/complete` body: 10 000 parts of part number and ETag.
pub const MAX_COMPLETE_BYTES: usize = 1024 * 1024;

/// Opens a multipart upload for `payload` (its size 0 when the length is unknown): S3 first,
/// then the ledger (a failed ledger write aborts the S3 upload again).
pub(crate) async fn open(
    deps: &PresignUpload,
    mut payload: NewPayload,
) -> Result<UploadTicket, ApiError> {
    let settings = &deps.settings;
    let length = (payload.size > 0).then_some(payload.size);
    let plan = PartPlan::new(length, settings.part_size, settings.max_size)
        .map_err(|e| ApiError::bad_request("content_length_too_large", e.to_string()))?;
    let id = payload.id.clone();
    let upload_id = deps
        .store
        .create_multipart_upload(&payload.object, &payload.content_type)
        .await
        .map_err(|e| {
            tracing::error!(payload_id = %id, error = %e, "could not start the multipart upload");
            ApiError::internal()
        })?;
    let now = deps.ledger.now();
    payload.url_expires_at = now + settings.multipart_window.as_millis() as i64;
    payload.multipart = Some(MultipartUpload {
        upload_id: upload_id.clone(),
        part_size: plan.part_size,
        part_count: plan.part_count(),
        completing_at: None,
    });
    let urls = part_urls(deps, &id, &payload.object, &upload_id, &plan, 1).await;
    let recorded = match urls {
        Ok(urls) => record_pending(deps, &payload).await.map(|()| urls),
        Err(e) => Err(e),
    };
    let (parts, expires_at) = match recorded {
        Ok(urls) => urls,
        Err(e) => {
            if let Err(abort) = deps
                .store
                .abort_multipart_upload(&payload.object, &upload_id)
                .await
            {
                tracing::warn!(payload_id = %id, error = %abort, "could not abort the multipart upload; the bucket's abort-incomplete rule will");
            }
            return Err(e);
        }
    };
    tracing::info!(payload_id = %id, size = payload.size, part_size = plan.part_size, "multipart upload opened");
    let ticket = MultipartTicket::new(
        upload_id,
        plan.part_size,
        plan.part_count(),
        parts,
        claimcheck::api::epoch_seconds(payload.url_expires_at),
    );
    Ok(UploadTicket::multipart(
        id,
        ticket,
        expires_at,
        settings.url_lifetime.as_secs(),
    ))
}

/// `GET /uploads/{id}/parts?from=N`.
pub(crate) async fn parts(
    deps: &PresignUpload,
    request: &Request,
    id: &str,
) -> Result<PartsView, ApiError> {
    let (record, upload) = open_upload(deps, request, id).await?;
    let plan = upload.plan(record.size);
    let from = first_part(request, &plan)?;
    let uploaded = deps
        .store
        .list_parts(&record.object, &upload.upload_id)
        .await
        .map_err(|e| store_failure(id, e))?;
    let (parts, expires_at) =
        part_urls(deps, id, &record.object, &upload.upload_id, &plan, from).await?;
    Ok(PartsView {
        id: id.to_owned(),
        upload_id: upload.upload_id,
        part_size: plan.part_size,
        part_count: plan.part_count(),
        uploaded,
        parts,
        expires_at,
        expires_in: deps.settings.url_lifetime.as_secs(),
    })
}

/// `POST /uploads/{id}/complete`.
pub(crate) async fn complete(
    deps: &PresignUpload,
    request: &Request,
    id: &str,
) -> Result<UploadState, ApiError> {
    let (record, upload) = open_upload(deps, request, id).await?;
    let body: CompleteRequest = parse_json(json_body(request, MAX_COMPLETE_BYTES)?)?;
    let given = body.sha256.as_deref().map(validate_sha256).transpose()?;
    let sha256 = match (&record.sha256, given) {
        (Some(announced), Some(given)) if *announced != given => {
            return Err(ApiError::bad_request(
                "sha256_mismatch",
                "sha256 differs from the one announced at POST /uploads",
            ));
        }
        (announced, given) => given.or_else(|| announced.clone()),
    };
    if sha256.is_none() && deps.settings.require_sha256 {
        return Err(ApiError::bad_request(
            "missing_sha256",
            "sha256 (the base64 SHA-256 of the whole body) is required, here or at POST /uploads",
        ));
    }
    let plan = upload.plan(record.size);
    let stored = deps
        .store
        .list_parts(&record.object, &upload.upload_id)
        .await
        .map_err(|e| store_failure(id, e))?;
    let size = check_completion(&plan, &body.parts, &stored).map_err(completion_error)?;
    validate_length(size, deps.settings.max_size)?;
    // The ledger first: once S3 completes, the producer compares the object with it. The
    // write also claims the completion (conditional on the item as read): of two completes,
    // even overlapping ones, exactly one goes on; the other finds the upload closed.
    let changes = Changes {
        size: Some(size),
        sha256: sha256.clone(),
        completing_at: Some(deps.ledger.now()),
        ..Changes::default()
    };
    let recorded = deps
        .ledger
        .update_if_unchanged(id, Status::Pending, record.updated_at, &changes)
        .await
        .map_err(|e| {
            tracing::error!(payload_id = %id, error = %e, "could not record the completed size");
            ApiError::internal()
        })?;
    let Transition::Applied(claimed) = recorded else {
        return Err(closed(id));
    };
    let completed = deps
        .store
        .complete_multipart_upload(&record.object, &upload.upload_id, &body.parts)
        .await;
    if let Err(e) = completed {
        // S3 did not complete it: the claim is released, so the client may try again.
        let release = Changes {
            clear_completing: true,
            ..Changes::default()
        };
        if let Err(release) = deps
            .ledger
            .update_if_unchanged(id, Status::Pending, claimed.updated_at, &release)
            .await
        {
            tracing::warn!(payload_id = %id, error = %release, "could not release the completion claim; the upload's window will close it");
        }
        return Err(store_failure(id, e));
    }
    tracing::info!(payload_id = %id, size, parts = body.parts.len(), "multipart upload completed");
    Ok(UploadState::new(id, Status::Pending, size, sha256))
}

/// `DELETE /uploads/{id}`.
pub(crate) async fn abort(
    deps: &PresignUpload,
    request: &Request,
    id: &str,
) -> Result<UploadState, ApiError> {
    let (record, upload) = open_upload(deps, request, id).await?;
    // Still open in S3? (A completed upload is gone from ListParts: its object stays.)
    deps.store
        .list_parts(&record.object, &upload.upload_id)
        .await
        .map_err(|e| store_failure(id, e))?;
    deps.store
        .abort_multipart_upload(&record.object, &upload.upload_id)
        .await
        .map_err(|e| store_failure(id, e))?;
    let changes = Changes {
        last_error: Some("the multipart upload was aborted by its owner".into()),
        ..Changes::default()
    };
    let expired = deps
        .ledger
        .step(id, Step::Expire, &changes)
        .await
        .map_err(|e| {
            tracing::error!(payload_id = %id, error = %e, "could not mark the aborted payload expired");
            ApiError::internal()
        })?;
    if !expired.is_applied() {
        return Err(closed(id));
    }
    tracing::info!(payload_id = %id, "multipart upload aborted");
    Ok(UploadState::new(
        id,
        Status::Expired,
        record.size,
        record.sha256,
    ))
}

/// The caller's own payload, uploaded in parts and still open.
///
/// # Errors
/// `403 no_identity`, `404 not_found` (unknown, or another caller's), `409 not_multipart`,
/// `409 upload_closed` (no longer pending, or past its window).
async fn open_upload(
    deps: &PresignUpload,
    request: &Request,
    id: &str,
) -> Result<(PayloadRecord, MultipartUpload), ApiError> {
    let principal = caller(request);
    if !principal.is_identified() {
        return Err(ApiError::no_identity());
    }
    let record = deps.ledger.get(id).await.map_err(|e| {
        tracing::error!(payload_id = %id, error = %e, "could not read the ledger");
        ApiError::internal()
    })?;
    let record = match record {
        Some(record) if is_owner(&principal, record.owner.as_deref()) => record,
        Some(_) => {
            tracing::info!(payload_id = %id, "upload route refused: the caller is not the payload's owner");
            return Err(unknown(id));
        }
        None => return Err(unknown(id)),
    };
    let Some(upload) = record.multipart.clone() else {
        return Err(ApiError::new(
            409,
            "not_multipart",
            format!("payload {id} is a single PUT, not a multipart upload"),
        ));
    };
    let open =
        record.status == Status::Pending && record.url_expires_at.unwrap_or(0) > deps.ledger.now();
    if !open {
        return Err(closed(id));
    }
    Ok((record, upload))
}

/// Presigned URLs for parts `from`.. (at most [`PART_URLS_PER_ANSWER`]), and when they expire
/// (epoch seconds).
async fn part_urls(
    deps: &PresignUpload,
    id: &str,
    object: &claimcheck::PayloadPointer,
    upload_id: &str,
    plan: &PartPlan,
    from: u32,
) -> Result<(Vec<PartUrl>, u64), ApiError> {
    let last = plan
        .last_part_number()
        .min(from.saturating_add(PART_URLS_PER_ANSWER - 1));
    let mut urls = Vec::new();
    let mut expires_at = 0;
    for number in from..=last {
        let size = plan.part_len(number);
        let presigned = deps
            .store
            .presign_upload_part(object, upload_id, number, size, deps.settings.url_lifetime)
            .await
            .map_err(|e| {
                tracing::error!(payload_id = %id, error = %e, "could not presign a part");
                ApiError::internal()
            })?;
        expires_at = presigned.expires_at_epoch_secs();
        let headers: BTreeMap<String, String> = presigned.headers.into_iter().collect();
        urls.push(PartUrl::new(number, presigned.url, headers, size));
    }
    Ok((urls, expires_at))
}

/// The `from` query parameter: 1 (the default) to the plan's last part number.
fn first_part(request: &Request, plan: &PartPlan) -> Result<u32, ApiError> {
    let last = plan.last_part_number();
    let query = request.query_string_parameters_ref();
    let Some(raw) = query.and_then(|q| q.first("from")) else {
        return Ok(1);
    };
    // Digits only: `+1` and the like are refused, as the API document's pattern says.
    let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<u32>() {
        Ok(from) if digits && (1..=last).contains(&from) => Ok(from),
        _ => Err(ApiError::bad_request(
            "invalid_part_number",
            format!("from must be a part number from 1 to {last}, not {raw:?}"),
        )),
    }
}

fn completion_error(error: CompletionError) -> ApiError {
    let code = match &error {
        CompletionError::EtagMismatch { .. } => "etag_mismatch",
        CompletionError::PartSize { .. } => "part_size_mismatch",
        CompletionError::Length(_) => "content_length_mismatch",
        _ => "invalid_parts",
    };
    ApiError::bad_request(code, error.to_string())
}

/// An S3 failure: the upload gone (completed or aborted) or the key taken is the client's
/// `409 upload_closed`; parts that changed since they were checked (S3's `InvalidPart`: a part
/// sent again meanwhile) a `409 parts_changed`; anything else a logged `500`.
fn store_failure(id: &str, error: claimcheck::StoreError) -> ApiError {
    match error {
        claimcheck::StoreError::NotFound(_) | claimcheck::StoreError::AlreadyExists(_) => {
            closed(id)
        }
        claimcheck::StoreError::InvalidParts(_) => ApiError::new(
            409,
            "parts_changed",
            "a part changed while the upload was being completed: ask GET /uploads/{id}/parts for the parts S3 holds and complete again",
        ),
        other => {
            tracing::error!(payload_id = %id, error = %other, "S3 failed during a multipart upload");
            ApiError::internal()
        }
    }
}

fn closed(id: &str) -> ApiError {
    ApiError::new(
        409,
        "upload_closed",
        format!("the upload of payload {id} is completed, aborted or expired"),
    )
}

fn unknown(id: &str) -> ApiError {
    ApiError::new(404, "not_found", format!("no payload {id}"))
}

#[cfg(test)]
mod tests {
    /// The limits written out for Terraform's checks are S3's, as the library names them.
    #[test]
    fn written_out_limits_are_s3s() {
        assert_eq!(super::super::MAX_UPLOAD_LIMIT, super::MAX_OBJECT_SIZE);
        assert_eq!(super::super::MIN_PART_BYTES, super::MIN_PART_SIZE);
        assert_eq!(super::super::MAX_PART_BYTES, super::MAX_PART_SIZE);
    }
}
