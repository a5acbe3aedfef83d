//! `JWT` authorization as API Gateway's JWT authorizer applies it, with local mode as the OIDC
//! issuer: an RSA key pair generated at start, its JWKS at `/.well-known/jwks.json` and the
//! discovery document at `/.well-known/openid-configuration` on the API's own listener, and
//! tokens minted for a subject ([`LocalIssuer::token_for`]).
//!
//! A request passes when its `Authorization` header (with or without `Bearer `) holds a token
//! signed with RS256 by a key of the issuer's JWKS (`kid`), whose `iss` is the issuer, whose
//! `aud` (or `client_id` when there is no `aud`) is one of the audiences, that has not expired
//! (`exp`) and is already valid (`nbf`), and whose scopes (`scope`, space-separated, or `scp`)
//! include at least one of the route's scopes when the route has any. Otherwise: `401
//! {"message":"Unauthorized"}` with `www-authenticate: Bearer … error="invalid_token"`, or
//! `403 {"message":"Forbidden"}` for a missing scope. (Source: AWS, "Controlling access to
//! HTTP APIs with JWT authorizers" and "Troubleshooting JWT authorizers".) Token checks are the
//! `jsonwebtoken` crate's.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use super::{Refusal, Route};

/// An OIDC issuer of local mode's own: one RSA key, its JWKS, and tokens signed with it.
pub struct LocalIssuer {
    /// The issuer URL (`iss`), the API's base URL.
    pub issuer: String,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: Value,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl LocalIssuer {
    /// A new issuer at `issuer` with a freshly generated 2048-bit RSA key.
    pub fn generate(issuer: &str) -> Result<Self, String> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| "cannot generate an RSA key".to_owned())?;
        let pkcs8 = key
            .as_der()
            .map_err(|_| "cannot encode the RSA key".to_owned())?;
        // jsonwebtoken signs with a PKCS#1 key; its PEM reader unwraps PKCS#8 into one.
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let public = key.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let jwks = json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
        }]});
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            kid,
            encoding,
            decoding,
            jwks,
        })
    }

    /// The JWKS document (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The OpenID discovery document (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", self.issuer),
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        })
    }

    /// A token with exactly these claims, signed with this issuer's key (RS256, its `kid`).
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// An access token for `subject`: this issuer, `audience`, `scopes`, valid from now for
    /// `lifetime`.
    pub fn token_for(
        &self,
        subject: &str,
        audience: &str,
        scopes: &[String],
        lifetime: Duration,
    ) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.sign(&json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "scope": scopes.join(" "),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime.as_secs(),
        }))
    }
}

/// The JWT authorizer of the API: the issuer, the audiences, each route's scopes.
#[derive(Debug, Clone)]
pub struct JwtAuth {
    pub issuer: Arc<LocalIssuer>,
    /// Accepted `aud` (or `client_id`) values (Terraform's `jwt_audience`).
    pub audience: Vec<String>,
    /// Scopes of which `POST /uploads` needs one (Terraform's `upload_scopes`; empty: none).
    pub upload_scopes: Vec<String>,
    /// Scopes of which `GET /payloads/{id}` needs one (Terraform's `read_scopes`).
    pub read_scopes: Vec<String>,
}

impl JwtAuth {
    /// The authorizer context of a request with a valid token, or API Gateway's refusal.
    pub fn verify(
        &self,
        parts: &Parts,
        route: Route,
    ) -> Result<ApiGatewayRequestAuthorizer, Refusal> {
        let Some(raw) = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        else {
            return Err(unauthorized(None));
        };
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(raw)
            .trim();
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("token contains an invalid number of segments"))?;
        if !matches!(header.alg, Algorithm::RS256) {
            return Err(invalid("the token's signing algorithm is not supported"));
        }
        if header.kid.as_deref() != Some(self.issuer.kid.as_str()) {
            return Err(invalid(
                "the token's signing key is not in the issuer's JWKS",
            ));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(
            token,
            &self.issuer.decoding,
            &validation,
        )
        .map_err(|e| invalid(describe(e.kind())))?;
        let claims = data.claims;
        // `client_id` counts only when there is no `aud`.
        let audiences: Vec<&str> = match claims.get("aud").or_else(|| claims.get("client_id")) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !audiences
            .iter()
            .any(|a| self.audience.iter().any(|allowed| allowed == a))
        {
            return Err(invalid("the token does not have a valid audience"));
        }
        let scopes = token_scopes(&claims);
        let needed = match route {
            Route::Upload => &self.upload_scopes,
            Route::Read => &self.read_scopes,
        };
        if !needed.is_empty() && !needed.iter().any(|s| scopes.contains(s)) {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: "Forbidden".into(),
                www_authenticate: Some(format!(
                    "Bearer scope=\"{}\" error=\"insufficient_scope\" error_description=\"the token does not have the required scopes\"",
                    needed.join(" ")
                )),
            });
        }
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims
            .iter()
            .map(|(name, value)| (name.clone(), claim_string(value)))
            .collect();
        jwt.scopes = (!scopes.is_empty()).then(|| scopes.into_iter().collect());
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        Ok(authorizer)
    }
}

/// The token's scopes: `scope` (space-separated, RFC 6749) or `scp` (a string or a list).
fn token_scopes(claims: &HashMap<String, Value>) -> HashSet<String> {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let mut scopes = HashSet::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => scopes.extend(words(s)),
            Some(Value::Array(list)) => {
                scopes.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes
}

/// A claim as API Gateway passes it to the function: every value a string (lists as
/// `[a b]`, as its Go runtime prints them).
fn claim_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_string).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidIssuer => "the token does not have a valid issuer",
        ErrorKind::InvalidSignature => "the token's signature is invalid",
        ErrorKind::MissingRequiredClaim(_) => "the token is missing a required claim",
        ErrorKind::InvalidAlgorithm => "the token's signing algorithm is not supported",
        _ => "the token is malformed",
    }
}

fn unauthorized(description: Option<&str>) -> Refusal {
    Refusal {
        status: StatusCode::UNAUTHORIZED,
        message: "Unauthorized".into(),
        www_authenticate: Some(match description {
            None => "Bearer".into(),
            Some(d) => {
                format!("Bearer scope=\"\" error=\"invalid_token\" error_description=\"{d}\"")
            }
        }),
    }
}

fn invalid(description: &str) -> Refusal {
    unauthorized(Some(description))
}
