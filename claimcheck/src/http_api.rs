//! The HTTP API's plumbing for API Gateway (HTTP API, payload format 2.0), on the `http` types
//! `lambda_http` hands a function (`http::Request<Body>`, `http::Response<Body>`; `lambda_http`
//! has decoded a base64 body already): JSON responses, JSON error bodies, JSON request bodies.
//!
//! Every error a client can cause is a 4xx with `{"error": {"code": "...", "message": "..."}}`
//! ([`crate::api::ErrorBody`]); unexpected failures are a 500 with the same shape and no
//! internals.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderValue, Request, Response, StatusCode, header};
use serde::Serialize;

use crate::api::{ErrorBody, ErrorDetail};

/// A request the API refuses, with the status and a machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status code, such as 400, 413, 415 or 500.
    pub status: u16,
    /// The machine-readable error code, such as `invalid_json` (`error.code` in the body).
    pub code: &'static str,
    /// The human-readable explanation (`error.message` in the body).
    pub message: String,
}

impl ApiError {
    /// An error with the given HTTP status, code and message.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// A 400 Bad Request with the given code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// `403 no_identity`: API Gateway's authorizer let the caller in without naming it (an IAM
    /// context without `userArn`, a token without `iss` or `sub`), so it could own nothing
    /// (see `crate::principal`).
    pub fn no_identity() -> Self {
        Self::new(
            403,
            "no_identity",
            "the caller has no identity (an IAM userArn, or a token with iss and sub)",
        )
    }

    /// An unexpected failure: the details go to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(
            500,
            "internal",
            "internal error; the request can be retried",
        )
    }

    /// The response: this status and a JSON body `{"error": {"code": "...", "message": "..."}}`.
    pub fn into_response(self) -> Response<Body> {
        json_response(
            self.status,
            &ErrorBody {
                error: ErrorDetail {
                    code: self.code.to_owned(),
                    message: self.message,
                },
            },
        )
    }
}

/// A JSON response with the given status (`Content-Type: application/json`,
/// `Cache-Control: no-store`: answers carry presigned URLs).
pub fn json_response(status: u16, body: &impl Serialize) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(_) => (
            500,
            r#"{"error":{"code":"internal","message":"internal error"}}"#.to_owned(),
        ),
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The request body's bytes, refusing bodies over `limit` bytes (413), requests that do not
/// declare JSON (415) and empty bodies (400).
///
/// # Errors
/// An [`ApiError`] with the status and code above.
pub fn json_body(request: &Request<Body>, limit: usize) -> Result<&[u8], ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if crate::content_type::essence(content_type).as_deref() != Some("application/json") {
        return Err(ApiError::new(
            415,
            "unsupported_media_type",
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    let bytes: &[u8] = request.body();
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "missing_body",
            "the request has no body",
        ));
    }
    if bytes.len() > limit {
        return Err(ApiError::new(
            413,
            "body_too_large",
            format!("the request body is over {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// Parses a JSON object body into `T`, naming the problem: bad JSON, not an object, a missing
/// or unknown field, a wrong type.
///
/// # Errors
/// A 400 [`ApiError`]: `invalid_json` or `invalid_request`.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))
}

/// A payload id exactly as the server generates it: a lower-case hyphenated UUID (anything
/// else, `../`, encoded slashes, another form of the same UUID, overlong input, is refused, so
/// only ids the ledger can hold reach it).
///
/// # Errors
/// `400 invalid_id`.
pub fn payload_id(raw: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_id",
            "the payload id must be a UUID as returned by POST /uploads",
        )
    };
    if raw.len() != 36 {
        return Err(invalid());
    }
    let id = uuid::Uuid::try_parse(raw)
        .map_err(|_| invalid())?
        .hyphenated()
        .to_string();
    if id != raw {
        return Err(invalid());
    }
    Ok(id)
}

/// Counts one API answer in `metrics`: `served` once on success; on an error, `refused` under
/// dimension `code` (the error's code) for a 4xx, `RequestsFailed` under `code` for a 5xx (the
/// API's own failures, which API Gateway's `5xx` metric also shows).
pub fn count_answer<T>(
    metrics: &crate::metrics::Metrics,
    served: &'static str,
    refused: &'static str,
    answer: &Result<T, ApiError>,
) {
    match answer {
        Ok(_) => metrics.count(served, 1),
        Err(error) if error.status >= 500 => {
            metrics.count_by("RequestsFailed", "code", error.code, 1)
        }
        Err(error) => metrics.count_by(refused, "code", error.code, 1),
    }
}
