//! How the CLI authenticates to the HTTP API, the way the deployment's `api_authorization`
//! asks: `AWS_IAM` signs every request with SigV4 for `execute-api` (credentials from the
//! standard chain of the one `SdkConfig`: environment, profiles, SSO, session tokens, container
//! and instance roles), `JWT` sends a bearer token, `NONE` sends neither. Signing is the
//! `aws-sigv4` crate's.

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use crate::CliError;

/// The service name API Gateway's SigV4 signatures are scoped to.
pub const EXECUTE_API: &str = "execute-api";

/// Terraform's `api_authorization` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// SigV4-signed requests (Terraform's default).
    #[value(name = "AWS_IAM")]
    AwsIam,
    /// A bearer token (`--token` / `CLAIMCHECK_TOKEN`).
    #[value(name = "JWT")]
    Jwt,
    /// No authentication.
    #[value(name = "NONE")]
    None,
}

impl AuthMode {
    /// The mode named as Terraform names it (`AWS_IAM`, `JWT`, `NONE`).
    pub fn from_terraform(name: &str) -> Option<Self> {
        match name {
            "AWS_IAM" => Some(Self::AwsIam),
            "JWT" => Some(Self::Jwt),
            "NONE" => Some(Self::None),
            _ => None,
        }
    }
}

/// A bearer token: kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl std::str::FromStr for Token {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let token = s.trim();
        if token.is_empty() {
            return Err("the token is empty".into());
        }
        Ok(Self(token.to_owned()))
    }
}

/// What each API request carries.
#[derive(Debug, Clone)]
pub enum ApiAuth {
    /// SigV4 for `execute-api` in `region`.
    SigV4 {
        credentials: SharedCredentialsProvider,
        region: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(Token),
    /// Nothing.
    None,
}

impl ApiAuth {
    /// Adds the authentication to a request whose method, URL, headers and body are final.
    ///
    /// # Errors
    /// [`CliError::Usage`] when no credentials can be found or the request cannot be signed.
    pub async fn apply(&self, request: &mut reqwest::Request) -> Result<(), CliError> {
        match self {
            Self::None => Ok(()),
            Self::Bearer(token) => {
                let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.0))
                    .map_err(|_| {
                        CliError::Usage("the token has characters a header cannot carry".into())
                    })?;
                request
                    .headers_mut()
                    .insert(reqwest::header::AUTHORIZATION, value);
                Ok(())
            }
            Self::SigV4 {
                credentials,
                region,
            } => sign_request(request, credentials, region).await,
        }
    }
}

async fn sign_request(
    request: &mut reqwest::Request,
    provider: &SharedCredentialsProvider,
    region: &str,
) -> Result<(), CliError> {
    let credentials = provider.provide_credentials().await.map_err(|e| {
        // The provider's error and its causes on one line (a cause names the profile).
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !reason.contains(&cause_text) {
                reason = format!("{reason}: {cause_text}");
            }
            source = cause.source();
        }
        let reason = reason.replace('\n', " ");
        CliError::Usage(format!(
            "no AWS credentials to sign the API request with ({reason}); configure them (aws configure, AWS_PROFILE, --profile) or pass --api-auth NONE/JWT as the deployment requires"
        ))
    })?;
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(EXECUTE_API)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| CliError::Usage(format!("cannot sign the API request: {e}")))?
        .into();
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .unwrap_or_default();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.url().as_str(),
        headers,
        SignableBody::Bytes(body),
    )
    .map_err(|e| CliError::Usage(format!("cannot sign the API request: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| CliError::Usage(format!("cannot sign the API request: {e}")))?
        .into_parts();
    let mut signed = Vec::new();
    for (name, value) in instructions.headers() {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes());
        let value = reqwest::header::HeaderValue::from_str(value);
        if let (Ok(name), Ok(value)) = (name, value) {
            signed.push((name, value));
        }
    }
    for (name, value) in signed {
        request.headers_mut().insert(name, value);
    }
    Ok(())
}
