//! Local mode's API authorization, enforced as API Gateway enforces the deployment's
//! `api_authorization` before a request reaches a function: `AWS_IAM` (SigV4, [`sigv4`]),
//! `JWT` (a local OIDC issuer, [`jwt`]) or `NONE`. A request that passes reaches the handler
//! with payload format 2.0's `requestContext.authorizer` filled in as API Gateway fills it; one
//! that fails gets API Gateway's own answer (`{"message": "..."}`) and never reaches a handler.

pub mod jwt;
pub mod sigv4;

use std::time::SystemTime;

use aws_lambda_events::apigw::ApiGatewayRequestAuthorizer;
use axum::body::Body as AxumBody;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// Which of API Gateway's authorization types the API runs with (Terraform's
/// `api_authorization`).
#[derive(Debug, Clone)]
pub enum Authorization {
    /// `NONE`: every request passes, anonymous.
    None,
    /// `AWS_IAM`: SigV4-signed requests from known credentials.
    AwsIam(sigv4::IamAuth),
    /// `JWT`: bearer tokens from the local issuer, with each route's scopes.
    Jwt(jwt::JwtAuth),
}

/// The two routes, for their scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /uploads` (Terraform's `upload_scopes`).
    Upload,
    /// `GET /payloads/{id}` (Terraform's `read_scopes`).
    Read,
}

impl Authorization {
    /// The name Terraform's `api_authorization` gives this type.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::AwsIam(_) => "AWS_IAM",
            Self::Jwt(_) => "JWT",
        }
    }

    /// The authorizer context for an accepted request (`None` under `NONE`), or the refusal.
    pub fn check(
        &self,
        parts: &Parts,
        body: &[u8],
        route: Route,
    ) -> Result<Option<ApiGatewayRequestAuthorizer>, Refusal> {
        let now = SystemTime::now();
        match self {
            Self::None => Ok(None),
            Self::AwsIam(iam) => iam.verify(parts, body, now).map(Some),
            Self::Jwt(jwt) => jwt.verify(parts, route).map(Some),
        }
    }
}

/// API Gateway's answer to a request it does not let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// The body's `message`.
    pub message: String,
    /// The `www-authenticate` header (JWT refusals, RFC 6750).
    pub www_authenticate: Option<String>,
}

impl Refusal {
    /// `403 {"message": message}`: IAM authorization's refusals.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
            www_authenticate: None,
        }
    }

    /// The HTTP response.
    pub fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message }).to_string();
        let mut response = Response::new(AxumBody::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(value) = self
            .www_authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
