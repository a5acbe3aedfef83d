//! Creates what Terraform creates, on the local endpoint: the bucket with its ObjectCreated
//! notification (to an events queue, which the S3 trigger reads), the work queue with its
//! redrive policy to the DLQ, and the ledger table with its status index and TTL. Creating
//! an existing resource is not an error, so a restarted local mode picks up where it was.

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use claimcheck::ledger::Ledger;

use super::LocalError;

/// Names and timings of the local stack.
#[derive(Debug, Clone)]
pub struct StackSpec {
    pub name: String,
    pub uploads_prefix: String,
    pub max_receive_count: u32,
    pub visibility_timeout_seconds: u64,
    pub queue_retention_seconds: u64,
    pub dlq_retention_seconds: u64,
    /// Browser origins allowed: the API's CORS configuration and the bucket's CORS rule.
    pub cors_allowed_origins: Vec<String>,
    /// Request headers the bucket's CORS rule allows (`infra/defaults.json`).
    pub bucket_cors_allowed_headers: Vec<String>,
    /// A FIFO work queue and DLQ (Terraform's `fifo`): names ending in `.fifo`.
    pub fifo: bool,
}

/// What was provisioned.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stack {
    pub bucket: String,
    pub table: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub events_url: String,
}

pub async fn provision(sdk: &aws_config::SdkConfig, spec: &StackSpec) -> Result<Stack, LocalError> {
    let s3 = aws_sdk_s3::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let bucket = format!("{}-payloads", spec.name);
    if let Err(e) = s3.create_bucket().bucket(&bucket).send().await {
        let owned = e
            .as_service_error()
            .is_some_and(|e| e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists());
        if !owned {
            return Err(LocalError::aws("CreateBucket", &e));
        }
    }
    if !spec.cors_allowed_origins.is_empty() {
        bucket_cors(&s3, &bucket, spec).await?;
    }
    // A FIFO work queue needs a FIFO DLQ (SQS's rule), both named `.fifo`; pointers carry
    // their own deduplication ids.
    let suffix = if spec.fifo { ".fifo" } else { "" };
    // The same name started before with the other FIFO setting would share its bucket and
    // ledger with queues of the other kind: refused, as SQS refuses other queue attributes.
    let other = format!("{}-work{}", spec.name, if spec.fifo { "" } else { ".fifo" });
    if sqs.get_queue_url().queue_name(&other).send().await.is_ok() {
        return Err(LocalError::Setup(format!(
            "a stack named {} exists {} FIFO queues: start it with the same --fifo setting, or use another --name",
            spec.name,
            if spec.fifo { "without" } else { "with" }
        )));
    }
    let fifo: Vec<(QueueAttributeName, String)> = if spec.fifo {
        vec![(QueueAttributeName::FifoQueue, "true".into())]
    } else {
        vec![]
    };
    let mut dlq_attributes = vec![(
        QueueAttributeName::MessageRetentionPeriod,
        spec.dlq_retention_seconds.to_string(),
    )];
    dlq_attributes.extend(fifo.iter().cloned());
    let (dlq_url, dlq_arn) =
        queue(&sqs, &format!("{}-dlq{suffix}", spec.name), &dlq_attributes).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": spec.max_receive_count,
    });
    let mut work_attributes = vec![
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        (
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout_seconds.to_string(),
        ),
        (
            QueueAttributeName::MessageRetentionPeriod,
            spec.queue_retention_seconds.to_string(),
        ),
    ];
    work_attributes.extend(fifo);
    let (queue_url, queue_arn) = queue(
        &sqs,
        &format!("{}-work{suffix}", spec.name),
        &work_attributes,
    )
    .await?;
    // A failed producer run is retried when the event reappears, as Lambda retries an
    // asynchronous S3 invocation.
    let (events_url, events_arn) = queue(
        &sqs,
        &format!("{}-s3-events", spec.name),
        &[(QueueAttributeName::VisibilityTimeout, "5".into())],
    )
    .await?;
    let notification = NotificationConfiguration::builder()
        .queue_configurations(
            QueueConfiguration::builder()
                .queue_arn(events_arn)
                .events(Event::from("s3:ObjectCreated:*"))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(
                            S3KeyFilter::builder()
                                .filter_rules(
                                    FilterRule::builder()
                                        .name(FilterRuleName::Prefix)
                                        .value(&spec.uploads_prefix)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
                .map_err(|e| LocalError::Setup(e.to_string()))?,
        )
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(notification)
        .send()
        .await
        .map_err(|e| LocalError::aws("PutBucketNotificationConfiguration", &e))?;
    let table = format!("{}-ledger", spec.name);
    Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &table)
        .create_table()
        .await
        .map_err(|e| LocalError::Setup(e.to_string()))?;
    Ok(Stack {
        bucket,
        table,
        queue_url,
        queue_arn,
        dlq_url,
        events_url,
    })
}

/// Creates (or finds) a queue; returns its URL and ARN.
async fn queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<(String, String), LocalError> {
    let mut create = sqs.create_queue().queue_name(name);
    for (attribute, value) in attributes {
        create = create.attributes(attribute.clone(), value);
    }
    let url = create.send().await.map_err(|e| {
        // SQS refuses to re-create a queue with other attributes: a stack of this name was
        // started before with other settings.
        if e.as_service_error()
            .is_some_and(|s| s.is_queue_name_exists())
        {
            LocalError::Setup(format!(
                "queue {name} exists with other settings (a stack of this --name was started with other timings or FIFO setting): start with the same settings, or use another --name"
            ))
        } else {
            LocalError::aws("CreateQueue", &e)
        }
    })?
        .queue_url
        .ok_or_else(|| LocalError::Setup(format!("no URL for queue {name}")))?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| LocalError::aws("GetQueueAttributes", &e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| LocalError::Setup(format!("no ARN for queue {name}")))?;
    Ok((url, arn))
}

/// The bucket's CORS rule, as `infra/storage.tf` writes it: browsers from the allowed origins
/// may PUT and GET with presigned URLs, sending the signed headers.
pub(super) async fn bucket_cors(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    spec: &StackSpec,
) -> Result<(), LocalError> {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let setup = |e: &dyn std::fmt::Display| LocalError::Setup(format!("bucket CORS: {e}"));
    let rule = CorsRule::builder()
        .set_allowed_methods(Some(vec!["PUT".into(), "GET".into()]))
        .set_allowed_origins(Some(spec.cors_allowed_origins.clone()))
        .set_allowed_headers(Some(spec.bucket_cors_allowed_headers.clone()))
        .expose_headers("etag")
        .max_age_seconds(3600)
        .build()
        .map_err(|e| setup(&e))?;
    let configuration = CorsConfiguration::builder()
        .cors_rules(rule)
        .build()
        .map_err(|e| setup(&e))?;
    s3.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(configuration)
        .send()
        .await
        .map_err(|e| LocalError::aws("PutBucketCors", &e))?;
    Ok(())
}
