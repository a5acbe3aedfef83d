//! Where claimcheck lives: the API URL and how to authenticate to it, bucket, queues, table and
//! region. Each comes from its flag, else its environment variable, else the Terraform outputs
//! file (`terraform output -json`, whose keys are `api_url`, `api_authorization`, `region`,
//! `bucket`, `queue_url`, `dlq_url`, `table`). AWS credentials come from the standard AWS
//! chain (environment, `--profile`/`AWS_PROFILE`, SSO, roles), as for any AWS tool.

use std::path::PathBuf;

use aws_config::SdkConfig;
use serde_json::Value;

use crate::CliError;
use crate::api::Api;
use crate::api_auth::{ApiAuth, AuthMode, Token};

/// Terraform's default `messages_prefix` (infra/variables.tf).
pub const DEFAULT_MESSAGES_PREFIX: &str = "messages/";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Endpoints {
    /// The HTTP API's base URL.
    #[arg(
        long = "api",
        env = "CLAIMCHECK_API_URL",
        global = true,
        value_name = "URL"
    )]
    pub api_url: Option<String>,
    /// The payload bucket.
    #[arg(long, env = "CLAIMCHECK_BUCKET", global = true)]
    pub bucket: Option<String>,
    /// The work queue's URL.
    #[arg(
        long = "queue-url",
        env = "CLAIMCHECK_QUEUE_URL",
        global = true,
        value_name = "URL"
    )]
    pub queue_url: Option<String>,
    /// The dead-letter queue's URL.
    #[arg(
        long = "dlq-url",
        env = "CLAIMCHECK_DLQ_URL",
        global = true,
        value_name = "URL"
    )]
    pub dlq_url: Option<String>,
    /// The ledger table.
    #[arg(long, env = "CLAIMCHECK_TABLE", global = true)]
    pub table: Option<String>,
    /// Where `send` offloads large bodies in the bucket (default: the outputs file's
    /// `messages_prefix`, else Terraform's default `messages/`): a prefix the deployment's
    /// consumer may read and its lifecycle rule expires.
    #[arg(
        long,
        env = "CLAIMCHECK_MESSAGES_PREFIX",
        global = true,
        value_name = "PREFIX"
    )]
    pub messages_prefix: Option<String>,
    /// `terraform output -json` saved to a file: fills in whatever is not given otherwise.
    #[arg(long, env = "CLAIMCHECK_OUTPUTS", global = true, value_name = "FILE")]
    pub outputs: Option<PathBuf>,
    /// How the API authenticates callers (default: the outputs file's `api_authorization`,
    /// else JWT when a token is given, else AWS_IAM).
    #[arg(long, env = "CLAIMCHECK_API_AUTH", global = true, value_enum)]
    pub api_auth: Option<AuthMode>,
    /// The bearer token for a JWT-authorized API.
    #[arg(
        long,
        env = "CLAIMCHECK_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<Token>,
    /// The AWS profile to take credentials (and a default region) from.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region (default: the outputs file's `region`, else the AWS configuration's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Local mode's AWS endpoint and credentials, from an outputs file `claimcheck local`
    /// wrote (never from Terraform's): used unless `AWS_ENDPOINT_URL` names another endpoint.
    #[arg(skip)]
    pub local_aws: Option<LocalAws>,
    /// The stack's name (the metrics' `stack` dimension), from the outputs file's `stack_name`.
    #[arg(skip)]
    pub stack_name: Option<String>,
    /// Where local mode writes its handlers' metrics (the outputs file's `metrics_log`).
    #[arg(skip)]
    pub metrics_log: Option<PathBuf>,
    /// When that local mode run started, epoch ms (the outputs file's `metrics_since`).
    #[arg(skip)]
    pub metrics_since: Option<u64>,
    /// The deployed stack's CloudWatch dashboard (the outputs file's `dashboard_url`).
    #[arg(skip)]
    pub dashboard_url: Option<String>,
}

/// The local AWS endpoint and its credentials, as `claimcheck local` writes them into its
/// outputs file (`aws_endpoint_url`, `aws_access_key_id`, `aws_secret_access_key`,
/// `aws_session_token`), so every command works against local mode with `--outputs` alone.
#[derive(Clone)]
pub struct LocalAws {
    pub endpoint_url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for LocalAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalAws")
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Endpoints {
    /// Fills the gaps from the outputs file, if one is named.
    pub fn resolve(mut self) -> Result<Self, CliError> {
        let Some(path) = self.outputs.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path).map_err(|e| CliError::input(&path, &e))?;
        let outputs: Value = serde_json::from_str(&text).map_err(|e| CliError::Input {
            path: path.display().to_string(),
            reason: format!("not `terraform output -json` output: {e}"),
        })?;
        let output = |name: &str| {
            outputs
                .get(name)
                .and_then(|o| o.get("value"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        self.api_url = self.api_url.or_else(|| output("api_url"));
        self.bucket = self.bucket.or_else(|| output("bucket"));
        self.queue_url = self.queue_url.or_else(|| output("queue_url"));
        self.dlq_url = self.dlq_url.or_else(|| output("dlq_url"));
        self.table = self.table.or_else(|| output("table"));
        self.messages_prefix = self.messages_prefix.or_else(|| output("messages_prefix"));
        self.stack_name = self.stack_name.or_else(|| output("stack_name"));
        self.metrics_log = self
            .metrics_log
            .or_else(|| output("metrics_log").map(PathBuf::from));
        self.dashboard_url = self.dashboard_url.or_else(|| output("dashboard_url"));
        self.metrics_since = self.metrics_since.or_else(|| {
            outputs
                .get("metrics_since")
                .and_then(|o| o.get("value"))
                .and_then(Value::as_u64)
        });
        if let (Some(endpoint_url), Some(access_key_id), Some(secret_access_key)) = (
            output("aws_endpoint_url"),
            output("aws_access_key_id"),
            output("aws_secret_access_key"),
        ) {
            self.local_aws = Some(LocalAws {
                endpoint_url,
                access_key_id,
                secret_access_key,
                session_token: output("aws_session_token"),
            });
        }
        self.region = self.region.or_else(|| output("region"));
        if self.api_auth.is_none()
            && let Some(name) = output("api_authorization")
        {
            self.api_auth =
                Some(
                    AuthMode::from_terraform(&name).ok_or_else(|| CliError::Input {
                        path: path.display().to_string(),
                        reason: format!(
                            "unknown api_authorization {name:?} (expected AWS_IAM, JWT or NONE)"
                        ),
                    })?,
                );
        }
        Ok(self)
    }

    /// The one AWS configuration every client is built from, with `--profile` and the region
    /// (and local mode's endpoint and credentials from its outputs file, unless the
    /// environment's `AWS_ENDPOINT_URL` names an endpoint).
    pub async fn sdk_config(&self) -> SdkConfig {
        let sdk =
            claimcheck::sdk_config::load_with(self.profile.as_deref(), self.region.clone()).await;
        match &self.local_aws {
            Some(local) if std::env::var_os("AWS_ENDPOINT_URL").is_none() => {
                let mut builder = sdk.to_builder();
                builder.set_endpoint_url(Some(local.endpoint_url.clone()));
                // An explicit --profile keeps its own credentials.
                if self.profile.is_none() {
                    let credentials = aws_credential_types::Credentials::new(
                        &local.access_key_id,
                        &local.secret_access_key,
                        local.session_token.clone(),
                        None,
                        "claimcheck-local-outputs",
                    );
                    builder.set_credentials_provider(Some(
                        aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
                    ));
                }
                builder.build()
            }
            _ => sdk,
        }
    }

    /// The API client, authenticating as the deployment asks.
    ///
    /// # Errors
    /// [`CliError::Usage`] when the API URL is missing or bad, a JWT API has no token, or an
    /// IAM-authorized API has no region to sign for.
    pub async fn api_client(&self, http: &reqwest::Client) -> Result<Api, CliError> {
        let base = self.api()?;
        let mode = self.api_auth.unwrap_or(if self.token.is_some() {
            AuthMode::Jwt
        } else {
            AuthMode::AwsIam
        });
        let auth = match mode {
            AuthMode::None => ApiAuth::None,
            AuthMode::Jwt => ApiAuth::Bearer(self.token.clone().ok_or_else(|| {
                CliError::Usage(
                    "the API uses JWT authorization: pass --token or set CLAIMCHECK_TOKEN".into(),
                )
            })?),
            AuthMode::AwsIam => {
                let sdk = self.sdk_config().await;
                let region = sdk.region().map(ToString::to_string).ok_or_else(|| {
                    CliError::Usage(
                        "no AWS region to sign API requests for: pass --region, set AWS_REGION, or name the outputs file".into(),
                    )
                })?;
                let credentials = sdk.credentials_provider().ok_or_else(|| {
                    CliError::Usage("no AWS credentials provider is configured".into())
                })?;
                ApiAuth::SigV4 {
                    credentials,
                    region,
                }
            }
        };
        Ok(Api::new(http.clone(), base, auth))
    }

    /// The API's base URL, checked.
    pub fn api(&self) -> Result<reqwest::Url, CliError> {
        let raw = need(
            &self.api_url,
            self.outputs.as_deref(),
            ("the API URL", "--api", "CLAIMCHECK_API_URL", "api_url"),
        )?;
        let url = reqwest::Url::parse(raw)
            .map_err(|e| CliError::Usage(format!("bad API URL {raw:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(CliError::Usage(format!(
                "bad API URL {raw:?}: expected http(s)://host/..."
            )));
        }
        Ok(url)
    }

    pub fn bucket(&self) -> Result<&str, CliError> {
        need(
            &self.bucket,
            self.outputs.as_deref(),
            ("the bucket", "--bucket", "CLAIMCHECK_BUCKET", "bucket"),
        )
    }

    pub fn queue_url(&self) -> Result<&str, CliError> {
        need(
            &self.queue_url,
            self.outputs.as_deref(),
            (
                "the work queue URL",
                "--queue-url",
                "CLAIMCHECK_QUEUE_URL",
                "queue_url",
            ),
        )
    }

    pub fn dlq_url(&self) -> Result<&str, CliError> {
        need(
            &self.dlq_url,
            self.outputs.as_deref(),
            ("the DLQ URL", "--dlq-url", "CLAIMCHECK_DLQ_URL", "dlq_url"),
        )
    }

    /// The AWS endpoint every client is pointed at instead of AWS's own, if any
    /// (`AWS_ENDPOINT_URL`, else local mode's from the outputs file).
    pub fn endpoint_override(&self) -> Option<String> {
        std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .or_else(|| self.local_aws.as_ref().map(|l| l.endpoint_url.clone()))
    }

    /// The key prefix `send` offloads under, checked by S3's and the code's key rules.
    pub fn messages_prefix(&self) -> Result<claimcheck::object_key::KeyPrefix, CliError> {
        let prefix = self
            .messages_prefix
            .as_deref()
            .unwrap_or(DEFAULT_MESSAGES_PREFIX);
        claimcheck::object_key::KeyPrefix::new(prefix)
            .map_err(|e| CliError::Usage(format!("bad messages prefix {prefix:?}: {e}")))
    }

    pub fn table(&self) -> Result<&str, CliError> {
        need(
            &self.table,
            self.outputs.as_deref(),
            ("the ledger table", "--table", "CLAIMCHECK_TABLE", "table"),
        )
    }
}

/// A setting, or what to do about its absence (naming the outputs file when one was given).
fn need<'a>(
    value: &'a Option<String>,
    outputs: Option<&std::path::Path>,
    (what, flag, env, key): (&str, &str, &str, &str),
) -> Result<&'a str, CliError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        CliError::Usage(match outputs {
            Some(path) => format!(
                "{what} is not configured: {} has no `{key}` output (`terraform output -json` writes `{{\"{key}\": {{\"value\": ...}}}}`); or pass {flag}, or set {env}",
                path.display()
            ),
            None => format!(
                "{what} is not configured: pass {flag}, set {env}, or name a Terraform outputs file with --outputs"
            ),
        })
    })
}

/// `name=value` flags (metadata, message attributes) as pairs.
pub fn name_value_pairs(values: &[String], what: &str) -> Result<Vec<(String, String)>, CliError> {
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if !seen.insert(name.to_owned()) => {
                Err(CliError::Usage(format!("{what} {name:?} is given twice")))
            }
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => Err(CliError::Usage(format!(
                "bad {what} {pair:?}: expected name=value"
            ))),
        })
        .collect()
}
