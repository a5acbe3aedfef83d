//! `claimcheck local`: Run the whole pipeline on this machine against a local AWS endpoint (AWS_ENDPOINT_URL): the HTTP API, the S3 trigger, the consumer's SQS event source mapping and the reconcile schedule, over the resources Terraform would create. Runs until interrupted.

use std::path::PathBuf;
use std::time::Duration;

use crate::CliError;
use crate::api_auth::AuthMode;
use crate::local::poison::PoisonSwitch;
use crate::local::{self, AuthSettings, LocalSettings};
use crate::output::Output;

use super::Context;

/// The arguments of `claimcheck local`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Resource names start with this.
    #[arg(long, default_value = "claimcheck-local")]
    pub name: String,
    /// The API's loopback port (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Write `terraform output -json`-shaped outputs here once running (for --outputs).
    #[arg(long, value_name = "FILE")]
    pub write_outputs: Option<PathBuf>,
    /// While this file exists, payloads of type application/x-claimcheck-poison fail.
    #[arg(long, value_name = "FILE")]
    pub poison_switch: Option<PathBuf>,
    /// Append each processed payload's id to FILE (its side effect, for fault tests).
    #[arg(long, value_name = "FILE")]
    pub effects_log: Option<PathBuf>,
    /// Override Terraform's visibility timeout (seconds, at least 2), e.g. for a quick demo;
    /// the consumer's lease is as long and its timeout half as long.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(2..=43_200))]
    pub visibility_timeout: Option<u64>,
    /// Override Terraform's maxReceiveCount (1-1000, SQS's range for a redrive policy).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_receive_count: Option<u32>,
    /// Reconcile re-sends the pointer of a payload `queued` this long without a message
    /// (seconds; Terraform's `queued_stall_seconds`, at most a day).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub queued_stall_seconds: Option<u64>,
    /// Run the reconcile pass this often (seconds, at least 1).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub reconcile_every: Option<u64>,
    /// The API's authorization, as Terraform's `api_authorization` (default: Terraform's
    /// default, AWS_IAM).
    #[arg(long, value_enum)]
    pub api_authorization: Option<AuthMode>,
    /// Under AWS_IAM: the credentials the API accepts, a JSON list of
    /// `{"access_key_id", "secret_access_key", "session_token", "user_arn"}` (`session_token`
    /// for temporary credentials only; default: the local endpoint's standard test
    /// credentials, `testing`/`testing` with session token `testing`, as
    /// arn:aws:iam::123456789012:user/claimcheck-local).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Under JWT: print an access token from the local issuer for this subject
    /// (`CLAIMCHECK_TOKEN=...`), with every route's scopes.
    #[arg(long, value_name = "SUBJECT", default_value = "local-user")]
    pub token_subject: String,
    /// Under JWT: scopes of which `POST /uploads` needs one; repeatable.
    #[arg(long = "upload-scope", value_name = "SCOPE")]
    pub upload_scopes: Vec<String>,
    /// Under JWT: scopes of which `GET /payloads/{id}` needs one; repeatable.
    #[arg(long = "read-scope", value_name = "SCOPE")]
    pub read_scopes: Vec<String>,
    /// Unused upload URLs one caller may hold (Terraform's `max_pending_uploads`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(presign_upload::MAX_PENDING_LIMIT)))]
    pub max_pending_uploads: Option<u32>,
    /// An IAM user or role ARN that may read every payload (Terraform's `operator_arns`);
    /// repeatable.
    #[arg(long = "operator-arn", value_name = "ARN")]
    pub operator_arns: Vec<String>,
    /// Under JWT: a scope that may read every payload (Terraform's `operator_scope`).
    #[arg(long, value_name = "SCOPE")]
    pub operator_scope: Option<String>,
    /// Accept uploads that do not announce their SHA-256 (Terraform's `require_sha256 =
    /// false`).
    #[arg(long)]
    pub allow_missing_sha256: bool,
    /// FIFO work queue and DLQ (Terraform's `fifo`).
    #[arg(long)]
    pub fifo: bool,
    /// With --fifo: each pointer's message group, `payload` or `metadata:KEY` (Terraform's
    /// `message_group`).
    #[arg(long, value_name = "payload|metadata:KEY")]
    pub message_group: Option<claimcheck::admission::MessageGroup>,
    /// The largest payload the API accepts (Terraform's `max_upload_bytes`; up to S3's 5 TiB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..=presign_upload::MAX_UPLOAD_LIMIT))]
    pub max_upload_bytes: Option<u64>,
    /// Bodies above this many bytes are uploaded in parts (Terraform's
    /// `multipart_threshold_bytes`; 5 MiB to 5 GiB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(presign_upload::multipart::MIN_PART_SIZE..=presign_upload::multipart::MAX_PART_SIZE))]
    pub multipart_threshold: Option<u64>,
    /// The part size of multipart uploads, raised for bodies over 10 000 parts (Terraform's
    /// `part_size_bytes`; 5 MiB to 5 GiB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(presign_upload::multipart::MIN_PART_SIZE..=presign_upload::multipart::MAX_PART_SIZE))]
    pub part_size: Option<u64>,
    /// A browser origin the API allows (CORS); repeatable.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Where the handlers' CloudWatch metrics (EMF lines) are appended, for `claimcheck stats`
    /// (default: a new `claimcheck-NAME-PID-metrics.jsonl` in the temporary directory; named
    /// in the outputs as `metrics_log`, and printed).
    #[arg(long, value_name = "FILE")]
    pub metrics_log: Option<PathBuf>,
}

/// Runs `claimcheck local`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args {
        name,
        port,
        write_outputs,
        poison_switch,
        effects_log,
        visibility_timeout,
        max_receive_count,
        queued_stall_seconds,
        reconcile_every,
        api_authorization,
        credentials,
        token_subject,
        upload_scopes,
        read_scopes,
        cors_origins,
        max_pending_uploads,
        operator_arns,
        operator_scope,
        allow_missing_sha256,
        fifo,
        message_group,
        multipart_threshold,
        part_size,
        max_upload_bytes,
        metrics_log,
    } = args;
    for scope in upload_scopes
        .iter()
        .chain(&read_scopes)
        .chain(operator_scope.as_ref())
    {
        check_scope(scope)?;
    }
    if token_subject.trim().is_empty() {
        return Err(CliError::Usage("--token-subject must not be empty".into()));
    }
    // Files local mode writes while it runs: their directories are checked before anything
    // is provisioned, not found missing by the first payload.
    for (flag, path) in [
        ("--write-outputs", &write_outputs),
        ("--effects-log", &effects_log),
        ("--metrics-log", &metrics_log),
    ] {
        if let Some(path) = path {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if path.is_dir() || parent.is_some_and(|p| !p.is_dir()) {
                return Err(CliError::Usage(format!(
                    "{flag} {}: not a file in an existing directory",
                    path.display()
                )));
            }
        }
    }
    let out = &cx.out;
    let mut settings = LocalSettings::from_defaults(&name).map_err(local_error)?;
    settings.api_port = port;
    if let Some(path) = metrics_log {
        settings.metrics = claimcheck::metrics::Sink::File(path);
    }
    if let Some(seconds) = visibility_timeout {
        settings.set_visibility_timeout(seconds);
    }
    if let Some(count) = max_receive_count {
        settings.stack.max_receive_count = count;
    }
    if let Some(seconds) = queued_stall_seconds {
        settings.queued_stall = Duration::from_secs(seconds);
    }
    if let Some(seconds) = reconcile_every {
        settings.reconcile_every = Some(Duration::from_secs(seconds.max(1)));
    }
    if let Some(n) = max_pending_uploads {
        settings.max_pending_uploads = n;
    }
    // Terraform's validation of operator_arns (infra/variables.tf), so local mode accepts what
    // a deployment accepts and nothing else.
    for arn in &operator_arns {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && !parts[1].is_empty()
            && matches!(parts[2], "iam" | "sts")
            && parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && !arn.contains(',');
        if !valid {
            return Err(CliError::Usage(format!(
                "--operator-arn {arn:?}: expected an IAM user, role or assumed-role ARN (arn:aws:iam::123456789012:role/name)"
            )));
        }
    }
    if !operator_arns.is_empty() {
        settings.access.operator_arns = operator_arns;
    }
    if operator_scope.is_some() {
        settings.access.operator_scope = operator_scope;
    }
    if allow_missing_sha256 {
        settings.require_sha256 = false;
    }
    settings.page_subject = token_subject.clone();
    if let Some(bytes) = max_upload_bytes {
        settings.max_upload_bytes = bytes;
    }
    if let Some(bytes) = multipart_threshold {
        settings.multipart_threshold = bytes;
    }
    if let Some(bytes) = part_size {
        settings.part_size = bytes;
    }
    settings.stack.fifo |= fifo;
    if let Some(group) = message_group {
        // Terraform's message_group applies to FIFO queues only: a flag that would do nothing
        // is refused, not ignored.
        if !settings.stack.fifo {
            return Err(CliError::Usage(
                "--message-group applies to a FIFO stack only (add --fifo)".into(),
            ));
        }
        settings.message_group = group;
    }
    for origin in &cors_origins {
        let valid = origin == "*"
            || reqwest::Url::parse(origin).is_ok_and(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some()
                    && url.path() == "/"
                    && !origin.ends_with('/')
            });
        if !valid {
            return Err(CliError::Usage(format!(
                "--cors-origin {origin:?}: expected an origin such as https://app.example.com (or *)"
            )));
        }
    }
    if !cors_origins.is_empty() {
        settings.stack.cors_allowed_origins = cors_origins;
    }
    if let Some(mode) = api_authorization {
        let name = match mode {
            AuthMode::AwsIam => "AWS_IAM",
            AuthMode::Jwt => "JWT",
            AuthMode::None => "NONE",
        };
        settings.authorization = AuthSettings::named(name, &upload_scopes, &read_scopes)
            .ok_or_else(|| CliError::Usage(format!("unknown authorization {name}")))?;
    }
    if let AuthSettings::Jwt {
        upload_scopes: upload,
        read_scopes: read,
        ..
    } = &mut settings.authorization
    {
        if !upload_scopes.is_empty() {
            *upload = upload_scopes;
        }
        if !read_scopes.is_empty() {
            *read = read_scopes;
        }
    } else if !upload_scopes.is_empty() || !read_scopes.is_empty() {
        return Err(CliError::Usage(
            "--upload-scope and --read-scope apply to JWT authorization only".into(),
        ));
    }
    if let Some(path) = credentials {
        let AuthSettings::AwsIam { credentials } = &mut settings.authorization else {
            return Err(CliError::Usage(
                "--credentials applies to AWS_IAM authorization only".into(),
            ));
        };
        let text = std::fs::read_to_string(&path).map_err(|e| CliError::input(&path, &e))?;
        *credentials = serde_json::from_str(&text).map_err(|e| CliError::Input {
            path: path.display().to_string(),
            reason: format!("not a JSON list of credentials: {e}"),
        })?;
        local::auth::sigv4::LocalCredential::check_table(credentials).map_err(|reason| {
            CliError::Input {
                path: path.display().to_string(),
                reason,
            }
        })?;
    }
    run_local(
        settings,
        cx.endpoints.sdk_config().await,
        &token_subject,
        write_outputs,
        PoisonSwitch {
            switch: poison_switch,
            effects: effects_log,
        },
        out,
    )
    .await?;
    Ok(())
}

async fn run_local(
    settings: LocalSettings,
    sdk: aws_config::SdkConfig,
    token_subject: &str,
    write_outputs: Option<PathBuf>,
    processor: PoisonSwitch,
    out: &Output,
) -> Result<(), CliError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .with_writer(std::io::stderr)
        .init();
    let running = local::start(&sdk, &settings, processor, local::Faults::default())
        .await
        .map_err(local_error)?;
    let mut outputs = running.outputs_json();
    let scopes: Vec<String> = match &settings.authorization {
        AuthSettings::Jwt {
            upload_scopes,
            read_scopes,
            ..
        } => upload_scopes.iter().chain(read_scopes).cloned().collect(),
        _ => vec![],
    };
    let token = running
        .token_for(token_subject, &scopes)
        .transpose()
        .map_err(CliError::Remote)?;
    if let Some(path) = &write_outputs {
        let text = serde_json::to_string_pretty(&with_local_aws(outputs.clone(), &sdk).await?)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        // Written whole then renamed, so a reader never sees half a file.
        let partial = path.with_extension("partial");
        // Readable by its owner only: it carries local mode's (test) credentials.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&partial)
            .map_err(|e| CliError::output(&partial, &e))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| CliError::output(&partial, &e))?;
        std::fs::rename(&partial, path).map_err(|e| CliError::output(path, &e))?;
    }
    if let Some(token) = &token {
        // Printed (and in --json), never written to the outputs file.
        outputs["token"] = serde_json::json!({ "value": token, "subject": token_subject });
    }
    out.emit(&outputs, || {
        let mut lines = vec![
            format!("CLAIMCHECK_API_URL={}", running.api_url),
            format!("CLAIMCHECK_API_AUTH={}", running.authorization.name()),
            format!("AWS_REGION={}", running.region),
            format!("CLAIMCHECK_BUCKET={}", running.stack.bucket),
            format!("CLAIMCHECK_QUEUE_URL={}", running.stack.queue_url),
            format!("CLAIMCHECK_DLQ_URL={}", running.stack.dlq_url),
            format!("CLAIMCHECK_TABLE={}", running.stack.table),
            format!("CLAIMCHECK_STACK_NAME={}", running.stack_name),
        ];
        if let Some(path) = &running.metrics_log {
            lines.push(format!("CLAIMCHECK_METRICS_LOG={}", path.display()));
        }
        if let Some(token) = &token {
            lines.push(format!("CLAIMCHECK_TOKEN={token}"));
        }
        lines
    });
    wait_for_shutdown().await;
    tracing::info!("local mode stopping");
    running.stop();
    Ok(())
}

async fn wait_for_shutdown() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// A scope as OAuth defines one (RFC 6749 §3.3): printable ASCII without spaces, quotes or
/// backslashes.
fn check_scope(scope: &str) -> Result<(), CliError> {
    let valid = !scope.is_empty()
        && scope
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
    if valid {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "bad scope {scope:?}: printable ASCII without spaces, quotes or backslashes"
        )))
    }
}

fn local_error(e: local::LocalError) -> CliError {
    match e {
        local::LocalError::NoEndpoint => CliError::Usage(e.to_string()),
        local::LocalError::Setup(_) => CliError::Remote(e.to_string()),
    }
}

/// `outputs` with the local endpoint and the credentials local mode runs with, so every command
/// (send and receive included) works against it with `--outputs FILE` alone. For the file
/// only, never printed; local test credentials only: Terraform's outputs never carry any.
async fn with_local_aws(
    mut outputs: serde_json::Value,
    sdk: &aws_config::SdkConfig,
) -> Result<serde_json::Value, CliError> {
    use aws_credential_types::provider::ProvideCredentials;
    let Some(endpoint) = sdk.endpoint_url() else {
        return Ok(outputs);
    };
    outputs["aws_endpoint_url"] = serde_json::json!({ "value": endpoint });
    if let Some(provider) = sdk.credentials_provider() {
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| CliError::Usage(format!("no AWS credentials for local mode: {e}")))?;
        outputs["aws_access_key_id"] = serde_json::json!({ "value": credentials.access_key_id() });
        outputs["aws_secret_access_key"] =
            serde_json::json!({ "value": credentials.secret_access_key() });
        if let Some(token) = credentials.session_token() {
            outputs["aws_session_token"] = serde_json::json!({ "value": token });
        }
    }
    Ok(outputs)
}
