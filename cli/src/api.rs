//! The routes of the HTTP API, as a client, with the library's request and response types
//! (`claimcheck::api`), each request authenticated as the deployment asks
//! ([`crate::api_auth`]).

use claimcheck::api::{
    CompleteRequest, PartsView, PayloadView, UploadRequest, UploadState, UploadTicket,
};

use crate::CliError;
use crate::api_auth::ApiAuth;

/// The HTTP API at a base URL (the deployment's stage URL, or local mode's listener).
pub struct Api {
    http: reqwest::Client,
    base: reqwest::Url,
    auth: ApiAuth,
}

impl Api {
    pub fn new(http: reqwest::Client, base: reqwest::Url, auth: ApiAuth) -> Self {
        Self { http, base, auth }
    }

    /// Authenticates and sends a request.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CliError> {
        let mut request = request
            .build()
            .map_err(|e| CliError::transfer("cannot build the API request", e))?;
        self.auth.apply(&mut request).await?;
        self.http
            .execute(request)
            .await
            .map_err(|e| CliError::transfer("cannot reach the API", e))
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let joined = format!("{}{path}", self.base.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    pub async fn request_upload(&self, request: &UploadRequest) -> Result<UploadTicket, CliError> {
        let body = serde_json::to_vec(request).map_err(|e| CliError::Usage(e.to_string()))?;
        let response = self
            .send(
                self.http
                    .post(self.url("/uploads"))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await?;
        parse(response).await
    }

    /// `GET /uploads/{id}/parts?from=N`: what S3 holds of a multipart upload, and part URLs
    /// from part `from` on.
    pub async fn parts(&self, id: &str, from: u32) -> Result<PartsView, CliError> {
        let mut url = self.url(&format!("/uploads/{}/parts", path_id(id)?));
        url.set_query(Some(&format!("from={from}")));
        let response = self.send(self.http.get(url)).await?;
        not_found_as(parse(response).await, id)
    }

    /// `POST /uploads/{id}/complete`.
    pub async fn complete(
        &self,
        id: &str,
        request: &CompleteRequest,
    ) -> Result<UploadState, CliError> {
        let body = serde_json::to_vec(request).map_err(|e| CliError::Usage(e.to_string()))?;
        let url = self.url(&format!("/uploads/{}/complete", path_id(id)?));
        let response = self
            .send(
                self.http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await?;
        not_found_as(parse(response).await, id)
    }

    /// `DELETE /uploads/{id}`: aborts a multipart upload.
    pub async fn abort(&self, id: &str) -> Result<UploadState, CliError> {
        let url = self.url(&format!("/uploads/{}", path_id(id)?));
        let response = self.send(self.http.delete(url)).await?;
        not_found_as(parse(response).await, id)
    }

    /// `GET /payloads/{id}`; with `download` false the API signs no download URL (for status
    /// checks, which never use one).
    pub async fn payload(&self, id: &str, download: bool) -> Result<PayloadView, CliError> {
        let mut url = self.url(&format!("/payloads/{}", path_id(id)?));
        if !download {
            url.set_query(Some("download=false"));
        }
        let response = self.send(self.http.get(url)).await?;
        not_found_as(parse(response).await, id)
    }
}

/// `id` as one path segment.
fn path_id(id: &str) -> Result<&str, CliError> {
    if id.is_empty() || id.contains('/') {
        return Err(CliError::Usage(format!("{id:?} is not a payload id")));
    }
    Ok(id)
}

/// Only the handler's own 404 means "no such payload"; API Gateway's (a wrong base URL or
/// stage) is a refused request.
fn not_found_as<T>(answer: Result<T, CliError>, id: &str) -> Result<T, CliError> {
    match answer {
        Err(CliError::Refused {
            status: 404, code, ..
        }) if code == "not_found" => Err(CliError::NotFound(format!("no payload {id}"))),
        other => other,
    }
}

/// A JSON answer, or the API's error (`{"error": {"code", "message"}}`, or API Gateway's own
/// `{"message"}`) as a typed error.
async fn parse<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, CliError> {
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_owned();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CliError::transfer("the API's answer was cut off", e))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| {
            CliError::Remote(format!(
                "the answer is not the API's ({content_type}: {e}); is --api the API's base URL?"
            ))
        });
    }
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    // Empty for API Gateway's own answers (and anything else that is not the handlers').
    let code = text(&body["error"]["code"]).unwrap_or_default();
    let mut message = text(&body["error"]["message"])
        .or_else(|| text(&body["message"]))
        // Not JSON (an HTML error page, a proxy's text): described, never printed.
        .unwrap_or_else(|| {
            format!(
                "an answer that is not the API's ({} bytes of {content_type})",
                bytes.len()
            )
        });
    // API Gateway's own answers (`{"message"}` only): say what to check.
    if code.is_empty() {
        match status.as_u16() {
            401 | 403 => message.push_str(
                " (not authorized: check the credentials, region and --api-auth; under JWT, --token)",
            ),
            404 => message.push_str(" (no such route: is --api the API's base URL?)"),
            _ => {}
        }
    }
    Err(CliError::Refused {
        status: status.as_u16(),
        code,
        message,
    })
}
