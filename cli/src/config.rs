//! Where claimcheck lives: the API URL, bucket, queues and table. Each comes from its flag,
//! else its environment variable, else the Terraform outputs file (`terraform output -json`,
//! whose keys are `api_url`, `bucket`, `queue_url`, `dlq_url`, `table`). AWS credentials and
//! region come from the standard AWS environment and profile, as for any AWS tool.

use std::path::PathBuf;

use serde_json::Value;

use crate::CliError;

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
    /// `terraform output -json` saved to a file: fills in whatever is not given otherwise.
    #[arg(long, env = "CLAIMCHECK_OUTPUTS", global = true, value_name = "FILE")]
    pub outputs: Option<PathBuf>,
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
        Ok(self)
    }

    /// The API's base URL, checked.
    pub fn api(&self) -> Result<reqwest::Url, CliError> {
        let raw = need(&self.api_url, "the API URL", "--api", "CLAIMCHECK_API_URL")?;
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
        need(&self.bucket, "the bucket", "--bucket", "CLAIMCHECK_BUCKET")
    }

    pub fn queue_url(&self) -> Result<&str, CliError> {
        need(
            &self.queue_url,
            "the work queue URL",
            "--queue-url",
            "CLAIMCHECK_QUEUE_URL",
        )
    }

    pub fn dlq_url(&self) -> Result<&str, CliError> {
        need(
            &self.dlq_url,
            "the DLQ URL",
            "--dlq-url",
            "CLAIMCHECK_DLQ_URL",
        )
    }

    pub fn table(&self) -> Result<&str, CliError> {
        need(
            &self.table,
            "the ledger table",
            "--table",
            "CLAIMCHECK_TABLE",
        )
    }
}

fn need<'a>(
    value: &'a Option<String>,
    what: &str,
    flag: &str,
    env: &str,
) -> Result<&'a str, CliError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        CliError::Usage(format!(
            "{what} is not configured: pass {flag}, set {env}, or name a Terraform outputs file with --outputs"
        ))
    })
}

/// `name=value` flags (metadata, message attributes) as pairs.
pub fn name_value_pairs(values: &[String], what: &str) -> Result<Vec<(String, String)>, CliError> {
    values
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => Err(CliError::Usage(format!(
                "bad {what} {pair:?}: expected name=value"
            ))),
        })
        .collect()
}
