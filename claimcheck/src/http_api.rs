//! The HTTP API's plumbing for API Gateway (HTTP API, payload format 2.0): JSON responses,
//! JSON error bodies, and reading a request body whatever its encoding.
//!
//! Every error a client can cause is a 4xx with `{"error": {"code": "...", "message": "..."}}`;
//! unexpected failures are a 500 with the same shape and no internals.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
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

    /// An unexpected failure: the details go to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(
            500,
            "internal",
            "internal error; the request can be retried",
        )
    }

    /// The API Gateway response: this status and a JSON body
    /// `{"error": {"code": "...", "message": "..."}}`.
    pub fn into_response(self) -> ApiGatewayV2httpResponse {
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

/// A JSON response with the given status.
pub fn json_response(status: u16, body: &impl Serialize) -> ApiGatewayV2httpResponse {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(_) => (
            500,
            r#"{"error":{"code":"internal","message":"internal error"}}"#.to_owned(),
        ),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(text));
    response
}

/// The method and path of a request, as API Gateway routed it.
pub fn method_and_path(request: &ApiGatewayV2httpRequest) -> (String, String) {
    let method = request.request_context.http.method.as_str().to_owned();
    let path = request
        .request_context
        .http
        .path
        .clone()
        .or_else(|| request.raw_path.clone())
        .unwrap_or_default();
    (method, path)
}

/// The request body as bytes (base64-decoded when API Gateway encoded it), refusing bodies
/// over `limit` bytes and requests that do not declare JSON.
pub fn json_body(request: &ApiGatewayV2httpRequest, limit: usize) -> Result<Vec<u8>, ApiError> {
    let content_type = request
        .headers
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
    let Some(body) = request.body.as_deref().filter(|b| !b.is_empty()) else {
        return Err(ApiError::bad_request(
            "missing_body",
            "the request has no body",
        ));
    };
    // Base64 is a third longer than the bytes it carries; refuse before decoding.
    if body.len() > limit.saturating_mul(4) / 3 + 4 {
        return Err(too_large(limit));
    }
    let bytes = if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| ApiError::bad_request("invalid_body", "the body is not valid base64"))?
    } else {
        body.as_bytes().to_vec()
    };
    if bytes.len() > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        413,
        "body_too_large",
        format!("the request body is over {limit} bytes"),
    )
}

/// Parses a JSON object body into `T`, naming the problem: bad JSON, not an object, a missing
/// or unknown field, a wrong type.
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
