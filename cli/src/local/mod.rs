//! Local mode: the five handlers on one machine against the local AWS endpoint, driven by the
//! triggers AWS would give them — the HTTP API on a loopback port, the S3 ObjectCreated
//! trigger for the producer, the SQS event source mapping for the consumer, and the schedule
//! for the redriver's reconcile pass — over the resources Terraform would create.

pub mod api;
pub mod auth;
pub mod call_log;
pub mod cors;
pub mod defaults;
pub mod event_source;
pub mod page;
pub mod poison;
pub mod s3_trigger;
pub mod schedule;
pub mod stack;

use std::sync::Arc;
use std::time::Duration;

use claimcheck::object_key::KeyPrefix;
use claimcheck::processor::Processor;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use stack::{Stack, StackSpec};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("local mode needs a local AWS endpoint: set AWS_ENDPOINT_URL (make demo starts one)")]
    NoEndpoint,
    #[error("setting up the local stack failed: {0}")]
    Setup(String),
}

impl LocalError {
    fn aws<E>(
        operation: &str,
        error: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let failure = claimcheck::sdk_error::SdkFailure::of(error);
        Self::Setup(format!("{operation}: {}", failure.message))
    }
}

/// The API's authorization (Terraform's `api_authorization` and its settings).
#[derive(Debug, Clone)]
pub enum AuthSettings {
    /// `NONE`.
    None,
    /// `AWS_IAM`, with the credentials local mode knows.
    AwsIam {
        credentials: Vec<auth::sigv4::LocalCredential>,
    },
    /// `JWT`, with local mode as the issuer.
    Jwt {
        /// Accepted audiences (`jwt_audience`).
        audience: Vec<String>,
        /// `upload_scopes`.
        upload_scopes: Vec<String>,
        /// `read_scopes`.
        read_scopes: Vec<String>,
    },
}

/// The audience of the tokens local mode's issuer mints.
pub const LOCAL_AUDIENCE: &str = "claimcheck-local";

impl AuthSettings {
    /// The settings of Terraform's `api_authorization` value, with local mode's credentials
    /// table (the standard test credentials) or audience.
    pub fn named(name: &str, upload_scopes: &[String], read_scopes: &[String]) -> Option<Self> {
        match name {
            "NONE" => Some(Self::None),
            "AWS_IAM" => Some(Self::AwsIam {
                credentials: vec![auth::sigv4::LocalCredential::standard_test()],
            }),
            "JWT" => Some(Self::Jwt {
                audience: vec![LOCAL_AUDIENCE.to_owned()],
                upload_scopes: upload_scopes.to_vec(),
                read_scopes: read_scopes.to_vec(),
            }),
            _ => None,
        }
    }
}

/// Everything local mode runs with; `from_defaults` takes Terraform's values.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub stack: StackSpec,
    pub api_port: u16,
    pub lease: Duration,
    pub consumer_timeout: Duration,
    pub batch_size: i32,
    pub batching_window: Duration,
    /// Pollers of the work queue (the mapping's maximum concurrency).
    pub consumer_concurrency: usize,
    pub upload_url_lifetime: Duration,
    pub download_url_lifetime: Duration,
    pub max_upload_bytes: u64,
    /// Bodies above this go in parts (`multipart_threshold_bytes`).
    pub multipart_threshold: u64,
    /// The part size multipart uploads start from (`part_size_bytes`).
    pub part_size: u64,
    /// How long a multipart upload may take (`multipart_upload_seconds`).
    pub multipart_window: Duration,
    pub max_redrives: u32,
    pub queued_stall: Duration,
    /// How long after its URL expired a pending payload is left alone.
    pub pending_grace: Duration,
    /// How often the reconcile pass runs (`None`: never, only on demand).
    pub reconcile_every: Option<Duration>,
    /// The API's authorization.
    pub authorization: AuthSettings,
    /// Request headers the API's CORS configuration allows.
    pub cors_allowed_headers: Vec<String>,
    /// Uploads must announce their SHA-256 (`require_sha256`).
    pub require_sha256: bool,
    /// Unused upload URLs per caller (`max_pending_uploads`).
    pub max_pending_uploads: u32,
    /// Who may read every payload (`operator_arns`, `operator_scope`).
    pub access: claimcheck::principal::AccessPolicy,
    /// The FIFO message group of each pointer (`message_group`).
    pub message_group: claimcheck::admission::MessageGroup,
    /// How long redrive hides a DLQ message while it moves it.
    pub redrive_visibility: Duration,
    /// Where extended-client senders offload (`messages_prefix`).
    pub messages_prefix: String,
    /// Whom the upload page's token names under `JWT`.
    pub page_subject: String,
    /// The largest payload the consumer takes (`consumer_max_payload_bytes`; `None`: any).
    pub consumer_max_payload_bytes: Option<u64>,
    /// Where the handlers' CloudWatch metrics (EMF lines) go: by default a file that
    /// `claimcheck stats` reads (see [`default_metrics_log`]); never stdout, which carries
    /// local mode's outputs.
    pub metrics: claimcheck::metrics::Sink,
    /// The local endpoint's call log (`CLAIMCHECK_CALL_LOG`), where local mode adds its Lambda
    /// invocations and API requests ([`call_log`]); `None`: no log.
    pub call_log: Option<std::path::PathBuf>,
}

/// Where local mode collects the handlers' metrics unless told otherwise:
/// `CLAIMCHECK_METRICS_LOG` when set (the tests' shared log), else a new file of this process's
/// in the temporary directory, `claimcheck-<stack>-<pid>-metrics.jsonl`. Lines carry the
/// stack's name as a dimension and local mode names when it started (`metrics_since`), so
/// stacks and runs sharing a file stay apart.
pub fn default_metrics_log(stack: &str) -> std::path::PathBuf {
    use claimcheck::settings::Source;
    claimcheck::settings::Environment
        .get("CLAIMCHECK_METRICS_LOG")
        .map_or_else(
            || {
                std::env::temp_dir().join(format!(
                    "claimcheck-{stack}-{}-metrics.jsonl",
                    std::process::id()
                ))
            },
            Into::into,
        )
}

impl LocalSettings {
    /// `function`'s metrics as local mode runs it: stack dimension the stack's name, lines to
    /// [`LocalSettings::metrics`].
    /// The SDK configuration `function`'s code runs with: `sdk`, signing as `fn-<function>`
    /// while a call log is kept, so the log attributes each request to its function (see
    /// [`claimcheck::local_endpoint::config_signing_as`]).
    pub fn config_of(&self, sdk: &aws_config::SdkConfig, function: &str) -> aws_config::SdkConfig {
        match self.call_log {
            Some(_) => claimcheck::local_endpoint::config_signing_as(sdk, function),
            None => sdk.clone(),
        }
    }

    pub fn metrics_of(&self, function: &'static str) -> Arc<claimcheck::metrics::Metrics> {
        Arc::new(claimcheck::metrics::Metrics::new(
            &self.stack.name,
            function,
            self.metrics.clone(),
        ))
    }
}

impl LocalSettings {
    pub fn from_defaults(name: &str) -> Result<Self, LocalError> {
        let d = defaults::StackDefaults::load()
            .map_err(|e| LocalError::Setup(format!("infra/defaults.json: {e}")))?;
        Ok(Self {
            stack: StackSpec {
                name: name.to_owned(),
                uploads_prefix: d.uploads_prefix,
                max_receive_count: d.max_receive_count,
                visibility_timeout_seconds: d.visibility_timeout_seconds,
                queue_retention_seconds: d.queue_retention_seconds,
                dlq_retention_seconds: d.dlq_retention_seconds,
                cors_allowed_origins: d.cors_allowed_origins,
                bucket_cors_allowed_headers: d.bucket_cors_allowed_headers,
                fifo: d.fifo,
            },
            api_port: 0,
            lease: Duration::from_secs(d.lease_seconds),
            consumer_timeout: Duration::from_secs(d.consumer_timeout_seconds),
            batch_size: d.batch_size as i32,
            batching_window: Duration::from_secs(d.maximum_batching_window_seconds),
            consumer_concurrency: 2,
            upload_url_lifetime: Duration::from_secs(d.upload_url_seconds),
            download_url_lifetime: Duration::from_secs(d.download_url_seconds),
            max_upload_bytes: d.max_upload_bytes,
            multipart_threshold: d.multipart_threshold_bytes,
            part_size: d.part_size_bytes,
            multipart_window: Duration::from_secs(d.multipart_upload_seconds),
            max_redrives: d.max_redrives,
            queued_stall: Duration::from_secs(d.queued_stall_seconds),
            pending_grace: Duration::from_secs(3600),
            reconcile_every: Some(Duration::from_secs(15 * 60)),
            authorization: AuthSettings::named(
                &d.api_authorization,
                &d.upload_scopes,
                &d.read_scopes,
            )
            .ok_or_else(|| {
                LocalError::Setup(format!(
                    "infra/defaults.json: unknown api_authorization {:?}",
                    d.api_authorization
                ))
            })?,
            cors_allowed_headers: d.api_cors_allowed_headers,
            require_sha256: d.require_sha256,
            max_pending_uploads: d.max_pending_uploads,
            access: claimcheck::principal::AccessPolicy {
                operator_arns: d.operator_arns,
                operator_scope: d.operator_scope,
            },
            message_group: d.message_group.parse().map_err(|e| {
                LocalError::Setup(format!("infra/defaults.json: message_group: {e}"))
            })?,
            redrive_visibility: Duration::from_secs(60),
            messages_prefix: d.messages_prefix,
            page_subject: "local-user".into(),
            consumer_max_payload_bytes: (d.consumer_max_payload_bytes > 0)
                .then_some(d.consumer_max_payload_bytes),
            metrics: claimcheck::metrics::Sink::File(default_metrics_log(name)),
            call_log: {
                use claimcheck::settings::Source;
                claimcheck::settings::Environment
                    .get("CLAIMCHECK_CALL_LOG")
                    .map(Into::into)
            },
        })
    }
}

impl LocalSettings {
    /// Sets the work queue's visibility timeout (seconds, at least 2) and derives the consumer's
    /// timeout (half of it) and lease (all of it) so that the order Terraform keeps holds:
    /// consumer timeout < lease ≤ visibility timeout (see [`LocalSettings::check`]).
    pub fn set_visibility_timeout(&mut self, seconds: u64) {
        let seconds = seconds.max(2);
        self.stack.visibility_timeout_seconds = seconds;
        self.lease = Duration::from_secs(seconds);
        self.consumer_timeout = Duration::from_secs(seconds / 2);
    }

    /// Checks the timing order Terraform derives (`lease_seconds = consumer_timeout_seconds +
    /// 30`, visibility timeout six times the consumer's timeout): an invocation must end before
    /// its lease does, or a second delivery takes the lease over while the first still runs and
    /// the payload is processed twice; and a lease must end before its message is received again.
    ///
    /// # Errors
    /// [`LocalError::Setup`] naming the order that does not hold.
    pub fn check(&self) -> Result<(), LocalError> {
        let visibility = Duration::from_secs(self.stack.visibility_timeout_seconds);
        if self.consumer_timeout.is_zero() || self.consumer_timeout >= self.lease {
            return Err(LocalError::Setup(format!(
                "the consumer's timeout ({:?}) must be above zero and shorter than its lease ({:?}): \
                 an invocation outliving its lease lets a second delivery process the payload again",
                self.consumer_timeout, self.lease
            )));
        }
        if self.lease > visibility {
            return Err(LocalError::Setup(format!(
                "the lease ({:?}) must not outlast the visibility timeout ({visibility:?})",
                self.lease
            )));
        }
        Ok(())
    }
}

/// Fault injection for the end-to-end tests. (A consumer invocation is killed mid-batch the
/// way Lambda kills one: by its timeout.)
#[derive(Clone)]
pub struct Faults {
    pub s3_delivery: s3_trigger::DeliveryPlan,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            s3_delivery: s3_trigger::always_once(),
        }
    }
}

/// A running local mode.
pub struct Running {
    pub stack: Stack,
    /// Where extended-client senders offload in the bucket (the outputs' `messages_prefix`).
    pub messages_prefix: String,
    pub api_url: String,
    /// The region requests are signed for.
    pub region: String,
    /// The API's authorization (under `JWT`, its issuer mints tokens).
    pub authorization: auth::Authorization,
    /// The redriver, for on-demand redrive and reconcile (as `claimcheck redrive` would).
    pub redriver: Arc<redriver::Redriver>,
    /// The redriver function's metrics.
    pub redriver_metrics: Arc<claimcheck::metrics::Metrics>,
    /// The stack's name (its resources' prefix, the metrics' `stack` dimension).
    pub stack_name: String,
    /// The file the handlers' metrics go to, when they go to one.
    pub metrics_log: Option<std::path::PathBuf>,
    /// When this run started, epoch ms: `claimcheck stats` counts the log's lines from then.
    pub started_at: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops every trigger (the stack's resources stay).
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }

    /// `terraform output -json`'s shape, so `claimcheck --outputs FILE` works against it.
    pub fn outputs_json(&self) -> serde_json::Value {
        let value = |v: &str| serde_json::json!({ "value": v });
        let mut outputs = serde_json::json!({
            "api_url": value(&self.api_url),
            "api_authorization": value(self.authorization.name()),
            "region": value(&self.region),
            "bucket": value(&self.stack.bucket),
            "queue_url": value(&self.stack.queue_url),
            "dlq_url": value(&self.stack.dlq_url),
            "table": value(&self.stack.table),
            "messages_prefix": value(&self.messages_prefix),
            "stack_name": value(&self.stack_name),
        });
        if let Some(path) = &self.metrics_log {
            outputs["metrics_log"] = value(&path.display().to_string());
            outputs["metrics_since"] = serde_json::json!({ "value": self.started_at });
        }
        if let auth::Authorization::Jwt(jwt) = &self.authorization {
            outputs["jwt_issuer"] = value(&jwt.issuer.issuer);
        }
        outputs
    }

    /// Under `JWT`: an access token from the local issuer for `subject` with `scopes`, valid
    /// for an hour. `None` under the other authorizations.
    pub fn token_for(&self, subject: &str, scopes: &[String]) -> Option<Result<String, String>> {
        match &self.authorization {
            auth::Authorization::Jwt(jwt) => Some(jwt.issuer.token_for(
                subject,
                LOCAL_AUDIENCE,
                scopes,
                Duration::from_secs(3600),
            )),
            _ => None,
        }
    }
}

/// Provisions the stack and starts the triggers.
pub async fn start<P: Processor + 'static>(
    sdk: &aws_config::SdkConfig,
    settings: &LocalSettings,
    processor: P,
    faults: Faults,
) -> Result<Running, LocalError> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Err(LocalError::NoEndpoint);
    }
    settings.check()?;
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let stack = stack::provision(sdk, &settings.stack).await?;
    let region = sdk
        .region()
        .map_or("us-east-1".to_owned(), |r| r.to_string());
    let prefix = KeyPrefix::new(&settings.stack.uploads_prefix)
        .map_err(|e| LocalError::Setup(e.to_string()))?;
    let setup = |e: &dyn std::fmt::Display| LocalError::Setup(e.to_string());

    let listener = TcpListener::bind(("127.0.0.1", settings.api_port))
        .await
        .map_err(|e| setup(&e))?;
    let api_url = format!("http://{}", listener.local_addr().map_err(|e| setup(&e))?);
    let authorization = match &settings.authorization {
        AuthSettings::None => auth::Authorization::None,
        AuthSettings::AwsIam { credentials } => {
            auth::sigv4::LocalCredential::check_table(credentials)
                .map_err(|e| LocalError::Setup(format!("credentials: {e}")))?;
            auth::Authorization::AwsIam(auth::sigv4::IamAuth {
                region: region.clone(),
                credentials: credentials.clone(),
            })
        }
        AuthSettings::Jwt {
            audience,
            upload_scopes,
            read_scopes,
        } => auth::Authorization::Jwt(auth::jwt::JwtAuth {
            issuer: Arc::new(auth::jwt::LocalIssuer::generate(&api_url).map_err(|e| setup(&e))?),
            audience: audience.clone(),
            upload_scopes: upload_scopes.clone(),
            read_scopes: read_scopes.clone(),
        }),
    };
    // The upload page is served from the API's origin: the bucket's CORS allows it beside the
    // configured origins, so the page can send parts to S3.
    let mut bucket_origins = settings.stack.clone();
    bucket_origins.cors_allowed_origins.push(api_url.clone());
    stack::bucket_cors(
        &aws_sdk_s3::Client::new(sdk),
        &stack.bucket,
        &bucket_origins,
    )
    .await?;
    let call_log = Arc::new(
        call_log::CallLog::open(settings.call_log.as_deref()).map_err(|e| {
            let path = settings
                .call_log
                .as_deref()
                .unwrap_or(std::path::Path::new(""));
            LocalError::Setup(format!(
                "the call log {} (CLAIMCHECK_CALL_LOG): {e}",
                path.display()
            ))
        })?,
    );
    let handlers = api::ApiHandlers {
        call_log: call_log.clone(),
        api_url: api_url.clone(),
        page_subject: settings.page_subject.clone(),
        authorization: authorization.clone(),
        cors: cors::Cors {
            allowed_origins: settings.stack.cors_allowed_origins.clone(),
            allowed_headers: settings.cors_allowed_headers.clone(),
        },
        upload: presign_upload::PresignUpload::new(
            &settings.config_of(sdk, "presign-upload"),
            presign_upload::Settings {
                bucket: stack.bucket.clone(),
                table: stack.table.clone(),
                uploads_prefix: prefix.clone(),
                max_size: settings.max_upload_bytes,
                multipart_threshold: settings.multipart_threshold,
                part_size: settings.part_size,
                multipart_window: settings.multipart_window,
                allowed_content_types: vec![],
                url_lifetime: settings.upload_url_lifetime,
                require_sha256: settings.require_sha256,
                max_pending: settings.max_pending_uploads,
            },
        )
        .with_metrics(settings.metrics_of("presign-upload")),
        download: presign_download::PresignDownload::new(
            &settings.config_of(sdk, "presign-download"),
            presign_download::Settings {
                bucket: stack.bucket.clone(),
                table: stack.table.clone(),
                uploads_prefix: prefix.clone(),
                url_lifetime: settings.download_url_lifetime,
                access: settings.access.clone(),
            },
        )
        .with_metrics(settings.metrics_of("presign-download")),
    };

    let Functions {
        producer,
        consumer,
        redriver,
        redriver_metrics,
        mapping,
    } = functions(sdk, settings, &stack, processor)?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut tasks = vec![
        tokio::spawn(api::serve(listener, Arc::new(handlers))),
        tokio::spawn(s3_trigger::run(
            producer,
            sqs.clone(),
            stack.events_url.clone(),
            faults.s3_delivery.clone(),
            call_log.clone(),
        )),
    ];
    for _ in 0..settings.consumer_concurrency.max(1) {
        tasks.push(tokio::spawn(event_source::run(
            consumer.clone(),
            sqs.clone(),
            mapping.clone(),
            call_log.clone(),
        )));
    }
    if let Some(every) = settings.reconcile_every {
        tasks.push(tokio::spawn(schedule::run(
            redriver.clone(),
            redriver_metrics.clone(),
            every,
            call_log.clone(),
        )));
    }
    tracing::info!(api = %api_url, bucket = %stack.bucket, "local mode running");
    Ok(Running {
        stack,
        messages_prefix: settings.messages_prefix.clone(),
        api_url,
        region,
        authorization,
        redriver,
        redriver_metrics,
        stack_name: settings.stack.name.clone(),
        started_at,
        metrics_log: match &settings.metrics {
            claimcheck::metrics::Sink::File(path) => Some(path.clone()),
            _ => None,
        },
        tasks,
    })
}

/// The three event-driven functions local mode runs, built as Terraform configures them over
/// `stack`, and the consumer's event source mapping.
pub struct Functions<P> {
    pub producer: Arc<producer::Producer>,
    pub consumer: Arc<consumer::Consumer<P>>,
    pub redriver: Arc<redriver::Redriver>,
    /// The redriver's metrics (its scheduled reconcile passes report there).
    pub redriver_metrics: Arc<claimcheck::metrics::Metrics>,
    pub mapping: event_source::Mapping,
}

/// Builds the producer, consumer and redriver over `stack` with `settings` (what [`start`] runs;
/// tests drive them one invocation at a time).
///
/// # Errors
/// [`LocalError::Setup`] when a function cannot be configured.
pub fn functions<P: Processor>(
    sdk: &aws_config::SdkConfig,
    settings: &LocalSettings,
    stack: &Stack,
    processor: P,
) -> Result<Functions<P>, LocalError> {
    let setup = |e: &dyn std::fmt::Display| LocalError::Setup(e.to_string());
    let prefix = KeyPrefix::new(&settings.stack.uploads_prefix).map_err(|e| setup(&e))?;
    let region = sdk
        .region()
        .map_or("us-east-1".to_owned(), |r| r.to_string());
    let producer_settings = producer::Settings {
        bucket: stack.bucket.clone(),
        table: stack.table.clone(),
        queue_url: stack.queue_url.clone(),
        uploads_prefix: prefix,
        unknown_objects: producer::UnknownObjects::Ignore,
        size_attribute: claimcheck::size_attribute::SizeAttributeName::Current,
        message_group: settings.message_group.clone(),
    };
    let mut producer =
        producer::Producer::new(&settings.config_of(sdk, "producer"), producer_settings)
            .map_err(|e| setup(&e))?;
    producer.metrics = settings.metrics_of("producer");
    let producer = Arc::new(producer);
    let consumer_settings = consumer::Settings {
        bucket: stack.bucket.clone(),
        trusted_buckets: vec![],
        table: stack.table.clone(),
        dlq_url: stack.dlq_url.clone(),
        max_receive_count: settings.stack.max_receive_count,
        lease: settings.lease,
        delete_after_done: false,
        // Records start only in an invocation's first half (at most 5 s before its end, Lambda's
        // default): one started later could be cut off by the timeout after its side effect.
        deadline_margin: Duration::from_secs(5).min(settings.consumer_timeout / 2),
        max_payload_bytes: settings.consumer_max_payload_bytes,
    };
    let mut consumer = consumer::Consumer::new(
        &settings.config_of(sdk, "consumer"),
        consumer_settings,
        processor,
    )
    .map_err(|e| setup(&e))?;
    consumer.metrics = settings.metrics_of("consumer");
    let consumer = Arc::new(consumer);
    let mut repair = claimcheck::repair::RepairSettings::new(&stack.dlq_url);
    repair.max_redrives = settings.max_redrives;
    repair.queued_stall = settings.queued_stall;
    repair.pending_grace = settings.pending_grace;
    repair.visibility = settings.redrive_visibility;
    let mut deployment =
        claimcheck::repair::Deployment::new(&stack.bucket, &stack.table, &stack.queue_url);
    deployment.message_group = settings.message_group.clone();
    let redriver_settings = redriver::Settings { deployment, repair };
    let redriver = Arc::new(
        redriver_settings
            .redriver(&settings.config_of(sdk, "redriver"))
            .map_err(|e| setup(&e))?,
    );
    let mapping = event_source::Mapping {
        queue_url: stack.queue_url.clone(),
        queue_arn: stack.queue_arn.clone(),
        region,
        batch_size: settings.batch_size,
        batching_window: settings.batching_window,
        timeout: settings.consumer_timeout,
    };
    Ok(Functions {
        producer,
        consumer,
        redriver,
        redriver_metrics: settings.metrics_of("redriver"),
        mapping,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terraform's timings, and every visibility timeout the CLI accepts, keep the order
    /// consumer timeout < lease ≤ visibility timeout; a lease shorter than an invocation is
    /// refused.
    #[test]
    fn local_mode_keeps_the_timing_order_terraform_keeps() {
        let mut settings = LocalSettings::from_defaults("order").expect("defaults");
        settings.check().expect("Terraform's defaults");
        for seconds in [2, 3, 8, 360, 43_200] {
            settings.set_visibility_timeout(seconds);
            settings
                .check()
                .expect("a visibility timeout the CLI accepts");
        }
        settings.lease = Duration::from_secs(2);
        settings.consumer_timeout = Duration::from_secs(8);
        let refused = settings
            .check()
            .expect_err("a lease shorter than an invocation");
        assert!(
            refused.to_string().contains("shorter than its lease"),
            "{refused}"
        );
        settings.set_visibility_timeout(8);
        settings.stack.visibility_timeout_seconds = 4;
        let refused = settings
            .check()
            .expect_err("a lease outlasting the visibility timeout");
        assert!(
            refused.to_string().contains("must not outlast"),
            "{refused}"
        );
    }
}
