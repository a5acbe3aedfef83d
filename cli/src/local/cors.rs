//! The HTTP API's CORS configuration as API Gateway applies it (`cors_configuration` in
//! `infra/api.tf`, from `cors_allowed_origins`): API Gateway answers preflights itself, before
//! any authorizer, and adds `Access-Control-Allow-Origin` to the responses of allowed origins.
//! Origins, methods and headers are the same lists Terraform configures (the headers from
//! `infra/defaults.json`). (Source: AWS, "Configuring CORS for an HTTP API".)
//!
//! A preflight from an origin, for a method or with headers the configuration does not allow is
//! answered `403 {"message":"Forbidden"}` with no `Access-Control-*` header, so the browser
//! refuses the call.

use axum::body::Body as AxumBody;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

/// The methods the two routes use.
pub const ALLOWED_METHODS: [&str; 3] = ["GET", "POST", "DELETE"];
/// How long a browser may cache a preflight's answer, seconds (Terraform's `max_age`).
pub const MAX_AGE_SECONDS: u32 = 3600;

/// Which browser origins may call the API, and with which request headers.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Exact origins (`https://app.example.com`) or `*`; empty disables CORS.
    pub allowed_origins: Vec<String>,
    /// Request headers a call may carry, lower-case.
    pub allowed_headers: Vec<String>,
}

/// What to do with an `OPTIONS` request.
pub enum Preflight {
    /// Not a preflight, or CORS is off: the request goes on like any other (no route matches).
    NotPreflight,
    /// The preflight's answer.
    Answer(Response),
}

impl Cors {
    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
    }

    fn origin_header(&self, origin: &str) -> HeaderValue {
        if self.allowed_origins.iter().any(|o| o == "*") {
            HeaderValue::from_static("*")
        } else {
            HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("null"))
        }
    }

    /// The answer to an `OPTIONS` request that carries `Origin` and
    /// `Access-Control-Request-Method`.
    pub fn preflight(&self, headers: &HeaderMap) -> Preflight {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(origin), Some(method)) = (
            text(header::ORIGIN.as_str()),
            text(header::ACCESS_CONTROL_REQUEST_METHOD.as_str()),
        ) else {
            return Preflight::NotPreflight;
        };
        if self.allowed_origins.is_empty() {
            return Preflight::NotPreflight;
        }
        // A header list that is not ASCII names no header the configuration allows.
        let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
        let Some(requested) = requested.map_or(Some(""), |v| v.to_str().ok()) else {
            tracing::info!(status = 403, "api: CORS preflight refused");
            return Preflight::Answer(forbidden());
        };
        let requested_headers = requested
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        let mut refused = !self.allows_origin(origin)
            || !ALLOWED_METHODS.contains(&method.to_ascii_uppercase().as_str());
        for name in requested_headers {
            refused |= !self.allowed_headers.iter().any(|h| *h == name || h == "*");
        }
        if refused {
            tracing::info!(status = 403, "api: CORS preflight refused");
            return Preflight::Answer(forbidden());
        }
        let mut response = Response::new(AxumBody::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.origin_header(origin),
        );
        let list = |items: &[&str]| HeaderValue::from_str(&items.join(",")).ok();
        if let Some(methods) = list(&ALLOWED_METHODS) {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        let allowed: Vec<&str> = self.allowed_headers.iter().map(String::as_str).collect();
        if let Some(value) = list(&allowed) {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(MAX_AGE_SECONDS),
        );
        out.insert(header::VARY, HeaderValue::from_static("origin"));
        Preflight::Answer(response)
    }

    /// Adds `Access-Control-Allow-Origin` to a response to an allowed origin.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut Response) {
        let Some(origin) = origin.and_then(|v| v.to_str().ok()) else {
            return;
        };
        if self.allows_origin(origin) {
            let value = self.origin_header(origin);
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            headers.insert(header::VARY, HeaderValue::from_static("origin"));
        }
    }
}

fn forbidden() -> Response {
    let mut response = Response::new(AxumBody::from(r#"{"message":"Forbidden"}"#));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
