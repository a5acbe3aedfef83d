//! `AWS_IAM` authorization as API Gateway applies it: the request must carry a SigV4 signature
//! (the `Authorization` header) for service `execute-api` in the deployment's region, from
//! credentials local mode knows, made within 5 minutes of now. The signature is recomputed with
//! the `aws-sigv4` crate over exactly the headers the caller signed, the path, the query and the
//! body as received, and compared in constant time; any difference is a 403.
//! (Rules: AWS, "Signature Version 4 signing process" and "Troubleshoot signature mismatch
//! errors"; API Gateway answers each failure with `403 {"message": ...}`.)

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription,
};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::Refusal;

/// The service name API Gateway's signatures are scoped to.
pub const SERVICE: &str = "execute-api";
/// How far a request's signing time may be from the server's clock (SigV4's rule).
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// API Gateway's answer to a signature that is not the one the request should carry.
const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Credentials local mode accepts, and the IAM principal each stands for (the table a real
/// account keeps in IAM).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCredential {
    /// The access key id (`AKIA…`, or the test endpoints' `testing`).
    pub access_key_id: String,
    /// Its secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials: a request must carry exactly this one
    /// (`x-amz-security-token`); `None` for long-term keys, whose requests must carry none.
    #[serde(default)]
    pub session_token: Option<String>,
    /// The principal API Gateway would name: `authorizer.iam.userArn`.
    pub user_arn: String,
}

impl LocalCredential {
    /// The credentials of the local AWS endpoint's environment (`testing`/`testing` with
    /// session token `testing`, as `tests/with-endpoint.sh` sets them), standing for one local
    /// developer.
    pub fn standard_test() -> Self {
        Self {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: Some("testing".into()),
            user_arn: "arn:aws:iam::123456789012:user/claimcheck-local".into(),
        }
    }

    /// Checks a table of credentials: at least one, each access key once, each with a secret
    /// and an IAM or STS ARN (`arn:PARTITION:iam|sts::ACCOUNT:…`) to stand for.
    ///
    /// # Errors
    /// What is wrong, naming the access key.
    pub fn check_table(table: &[Self]) -> Result<(), String> {
        if table.is_empty() {
            return Err("the credentials table is empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        for credential in table {
            let key = &credential.access_key_id;
            if key.is_empty() || credential.secret_access_key.is_empty() {
                return Err(format!(
                    "access key {key:?}: the key and its secret must not be empty"
                ));
            }
            if !seen.insert(key) {
                return Err(format!("access key {key:?} is listed twice"));
            }
            let parts: Vec<&str> = credential.user_arn.splitn(6, ':').collect();
            let arn_ok = matches!(parts[..], ["arn", partition, "iam" | "sts", "", account, resource]
                if !partition.is_empty() && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit()) && !resource.is_empty());
            if !arn_ok {
                return Err(format!(
                    "access key {key:?}: user_arn {:?} is not an IAM or STS ARN",
                    credential.user_arn
                ));
            }
        }
        Ok(())
    }

    /// The account in the principal's ARN (`arn:aws:iam::ACCOUNT:...`).
    fn account_id(&self) -> Option<String> {
        self.user_arn.split(':').nth(4).map(str::to_owned)
    }
}

/// The SigV4 checker for one region and credentials table.
#[derive(Debug, Clone)]
pub struct IamAuth {
    pub region: String,
    pub credentials: Vec<LocalCredential>,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct AuthorizationHeader<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl IamAuth {
    /// The authorizer context of a correctly signed request, or API Gateway's 403.
    pub fn verify(
        &self,
        parts: &Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<ApiGatewayRequestAuthorizer, Refusal> {
        let mut authorizations = parts
            .headers
            .get_all(axum::http::header::AUTHORIZATION)
            .iter();
        let Some(raw) = authorizations.next() else {
            // An HTTP API answers an unsigned request with a bare "Forbidden" (a REST API
            // says "Missing Authentication Token").
            return Err(Refusal::forbidden("Forbidden"));
        };
        if authorizations.next().is_some() {
            return Err(Refusal::forbidden("Forbidden"));
        }
        if parts.headers.get_all("x-amz-date").iter().count() > 1
            || parts.headers.get_all("x-amz-security-token").iter().count() > 1
        {
            return Err(Refusal::forbidden("Forbidden"));
        }
        let raw = raw
            .to_str()
            .map_err(|_| Refusal::forbidden("Invalid key=value pair in Authorization header"))?;
        let header = parse(raw)?;
        let date = parts
            .headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Refusal::forbidden(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                )
            })?;
        let signed_at = parse_amz_date(date).ok_or_else(|| {
            Refusal::forbidden(format!(
                "Date must be in ISO-8601 'basic format'. Got '{date}'."
            ))
        })?;
        if header.terminator != "aws4_request" {
            return Err(Refusal::forbidden(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                header.terminator
            )));
        }
        if header.date != &date[..8] {
            return Err(Refusal::forbidden(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{date}'.",
                header.date,
                &date[..8]
            )));
        }
        if header.service != SERVICE {
            return Err(Refusal::forbidden(format!(
                "Credential should be scoped to correct service: '{SERVICE}'. "
            )));
        }
        if header.region != self.region {
            return Err(Refusal::forbidden(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                header.region
            )));
        }
        check_skew(date, signed_at, now)?;
        if !header.signed_headers.contains(&"host") {
            return Err(Refusal::forbidden(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        let Some(known) = self
            .credentials
            .iter()
            .find(|c| c.access_key_id == header.access_key_id)
        else {
            return Err(Refusal::forbidden(
                "The security token included in the request is invalid.",
            ));
        };
        let token = parts
            .headers
            .get("x-amz-security-token")
            .map(|v| v.as_bytes());
        let token_ok = match (&known.session_token, token) {
            (Some(expected), Some(sent)) => bool::from(expected.as_bytes().ct_eq(sent)),
            (None, None) => true,
            _ => false,
        };
        if !token_ok {
            return Err(Refusal::forbidden(
                "The security token included in the request is invalid.",
            ));
        }
        let expected = recompute(parts, body, &header, known, &self.region, signed_at)?;
        if !bool::from(expected.as_bytes().ct_eq(header.signature.as_bytes())) {
            return Err(Refusal::forbidden(SIGNATURE_MISMATCH));
        }
        let mut iam = ApiGatewayRequestAuthorizerIamDescription::default();
        iam.access_key = Some(known.access_key_id.clone());
        iam.account_id = known.account_id();
        iam.caller_id = Some(known.access_key_id.clone());
        iam.user_arn = Some(known.user_arn.clone());
        iam.user_id = Some(known.access_key_id.clone());
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.iam = Some(iam);
        Ok(authorizer)
    }
}

/// The signature the caller should have sent: the request as received, reduced to the headers
/// it signed, signed again with the known secret at the time it claims.
fn recompute(
    parts: &Parts,
    body: &[u8],
    header: &AuthorizationHeader<'_>,
    known: &LocalCredential,
    region: &str,
    signed_at: SystemTime,
) -> Result<String, Refusal> {
    let mismatch = || Refusal::forbidden(SIGNATURE_MISMATCH);
    let token = parts
        .headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let identity = Credentials::new(
        &known.access_key_id,
        &known.secret_access_key,
        token,
        None,
        "claimcheck-local",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Exactly what the caller listed is signed, nothing excluded (the default excludes
    // user-agent, which a caller may sign); the signer adds x-amz-date and the token itself.
    settings.excluded_headers = Some(Vec::new());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|_| mismatch())?
        .into();
    let mut headers = Vec::new();
    for name in &header.signed_headers {
        if matches!(*name, "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        let values: Vec<&str> = parts
            .headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Err(mismatch());
        }
        for value in values {
            headers.push((*name, value));
        }
    }
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(mismatch)?;
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://{host}{path_and_query}");
    let request = SignableRequest::new(
        parts.method.as_str(),
        url,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|_| mismatch())?;
    let output = sign(request, &params).map_err(|_| mismatch())?;
    Ok(output.signature().to_owned())
}

fn parse(raw: &str) -> Result<AuthorizationHeader<'_>, Refusal> {
    let Some(rest) = raw.strip_prefix(ALGORITHM).filter(|r| r.starts_with(' ')) else {
        return Err(Refusal::forbidden(format!(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=\"{}\"",
            raw.split_whitespace().next().unwrap_or_default()
        )));
    };
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for pair in rest.split(',') {
        let Some((name, value)) = pair.trim().split_once('=') else {
            return Err(Refusal::forbidden(
                "Invalid key=value pair (missing equal-sign) in Authorization header",
            ));
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(Refusal::forbidden(format!(
                "Authorization header has the '{name}' parameter twice."
            )));
        }
    }
    let missing: Vec<&str> = [
        ("Credential", credential.is_none()),
        ("Signature", signature.is_none()),
        ("SignedHeaders", signed_headers.is_none()),
    ]
    .into_iter()
    .filter(|(_, absent)| *absent)
    .map(|(name, _)| name)
    .collect();
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(Refusal::forbidden(
            missing
                .iter()
                .map(|name| format!("Authorization header requires '{name}' parameter."))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope[..] else {
        return Err(Refusal::forbidden(format!(
            "Credential should be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request, not '{credential}'."
        )));
    };
    Ok(AuthorizationHeader {
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers: signed_headers.split(';').collect(),
        signature,
    })
}

/// `20261130T140500Z` (SigV4's basic ISO-8601 form) as a time.
fn parse_amz_date(date: &str) -> Option<SystemTime> {
    let b = date.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !shape_ok {
        return None;
    }
    let extended = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[..4],
        &date[4..6],
        &date[6..8],
        &date[9..11],
        &date[11..13],
        &date[13..15]
    );
    DateTime::from_str(&extended, Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
}

fn amz_date(time: SystemTime) -> String {
    DateTime::from(time)
        .fmt(Format::DateTime)
        .map(|s| s.replace(['-', ':'], ""))
        .map(|s| {
            s.split('.')
                .next()
                .unwrap_or_default()
                .trim_end_matches('Z')
                .to_owned()
                + "Z"
        })
        .unwrap_or_default()
}

/// SigV4's rule: the signing time within [`MAX_SKEW`] of now, with API Gateway's messages.
fn check_skew(date: &str, signed_at: SystemTime, now: SystemTime) -> Result<(), Refusal> {
    if signed_at + MAX_SKEW < now {
        return Err(Refusal::forbidden(format!(
            "Signature expired: {date} is now earlier than {} ({} - 5 min.)",
            amz_date(now - MAX_SKEW),
            amz_date(now)
        )));
    }
    if signed_at > now + MAX_SKEW {
        return Err(Refusal::forbidden(format!(
            "Signature not yet current: {date} is still later than {} ({} + 5 min.)",
            amz_date(now + MAX_SKEW),
            amz_date(now)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20261130T140500Z").expect("parses");
        assert_eq!(amz_date(t), "20261130T140500Z");
        for bad in [
            "",
            "20261130T140500",
            "2026-11-30T14:05:00Z",
            "20261330T140500Z",
            "2026113xT140500Z",
            "20261130T140500Zé",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
    }
}
