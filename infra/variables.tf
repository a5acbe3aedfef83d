# Defaults equal infra/defaults.json, which local mode provisions with (tests/infra keeps the
# two in step).

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "claimcheck"
}

variable "architecture" {
  description = "Lambda architecture: arm64 (Graviton: cheaper, faster start) or x86_64. Must match the zips (`make package ARCH=arm64`)."
  type        = string
  default     = "arm64"
  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "lambda_zip_dir" {
  description = "Where `cargo lambda build --output-format zip` put <function>/bootstrap.zip."
  type        = string
  default     = "../target/lambda"
}

variable "uploads_prefix" {
  description = "Key prefix of uploaded payloads (the code's CLAIMCHECK_UPLOADS_PREFIX)."
  type        = string
  default     = "uploads/"
  validation {
    condition     = can(regex("^[A-Za-z0-9_-][A-Za-z0-9._/-]*/$", var.uploads_prefix)) && !strcontains(var.uploads_prefix, "..") && length(var.uploads_prefix) <= 988
    error_message = "uploads_prefix must end in /, use only a-z A-Z 0-9 . / _ -, not start with . or /, not contain .. and be at most 988 characters (the code's rules)."
  }
}

variable "messages_prefix" {
  description = "Key prefix of payloads offloaded by extended-client senders (`claimcheck send`, and the Java or Python extended client configured with this s3KeyPrefix / s3_key_prefix): the consumer and redriver may read it and a lifecycle rule expires it. Must not overlap uploads_prefix."
  type        = string
  default     = "messages/"
  validation {
    condition     = can(regex("^[A-Za-z0-9_-][A-Za-z0-9._/-]*/$", var.messages_prefix)) && !strcontains(var.messages_prefix, "..") && length(var.messages_prefix) <= 988
    error_message = "messages_prefix must end in /, use only a-z A-Z 0-9 . / _ -, not start with . or /, not contain .. and be at most 988 characters (the code's rules)."
  }
}

variable "fifo" {
  description = "FIFO work queue and DLQ: payloads of one message group (message_group) are processed in order, and a failed one holds back only its own group."
  type        = bool
  default     = false
}

variable "message_group" {
  description = "With fifo: each pointer's message group, \"payload\" (every payload its own group) or \"metadata:KEY\" (the upload's metadata value under KEY; a payload without it gets its own group)."
  type        = string
  default     = "payload"
  validation {
    condition     = can(regex("^(payload|metadata:[A-Za-z0-9_-]{1,64})$", var.message_group))
    error_message = "message_group must be payload or metadata:KEY (KEY 1-64 of A-Z a-z 0-9 _ -), as the producer parses it."
  }
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ."
  type        = number
  default     = 5
  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000 (SQS's limits)."
  }
}

variable "queue_retention_seconds" {
  description = "Work queue message retention (4 days, SQS's default; shorter than the DLQ's: a message moved to the DLQ keeps its original enqueue time)."
  type        = number
  default     = 345600
  validation {
    condition     = var.queue_retention_seconds >= 60 && var.queue_retention_seconds <= 1209600
    error_message = "queue_retention_seconds must be from 60 to 1209600 (SQS's limits)."
  }
}

variable "dlq_retention_seconds" {
  description = "DLQ message retention (14 days, SQS's longest); must exceed queue_retention_seconds."
  type        = number
  default     = 1209600
  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be from 60 to 1209600 (SQS's limits)."
  }
}

variable "consumer_timeout_seconds" {
  description = "The consumer's Lambda timeout; the work queue's visibility timeout is six times this (AWS guidance). Null (default): derived from the largest payload it must stream (consumer.tf): room for a batch of them, 60 to 900 s."
  type        = number
  default     = null
  validation {
    condition     = var.consumer_timeout_seconds == null || (coalesce(var.consumer_timeout_seconds, 0) >= 30 && coalesce(var.consumer_timeout_seconds, 0) <= 900)
    error_message = "consumer_timeout_seconds must be from 30 to 900 (Lambda's limit; 10 s of it go to claims, ledger writes and the consumer's 5 s margin)."
  }
}

variable "consumer_memory_mb" {
  description = "The consumer's memory, which sets its share of a vCPU (1769 MB is one). Null (default): derived (consumer.tf): the smallest of 256, 512, 1024 and 1769 MB whose CPU share hashes as fast as one S3 GET stream delivers."
  type        = number
  default     = null
  validation {
    condition     = var.consumer_memory_mb == null || (coalesce(var.consumer_memory_mb, 0) >= 128 && coalesce(var.consumer_memory_mb, 0) <= 10240)
    error_message = "consumer_memory_mb must be from 128 to 10240 (Lambda's limits)."
  }
}

variable "payload_versioning" {
  description = "The payload bucket's versioning: Disabled (default: payloads are write-once objects under server-generated keys, expired by the lifecycle rule), Enabled, or Suspended (the only way back once Enabled)."
  type        = string
  default     = "Disabled"
  validation {
    condition     = contains(["Disabled", "Enabled", "Suspended"], var.payload_versioning)
    error_message = "payload_versioning must be Disabled, Enabled or Suspended."
  }
}

variable "payload_retention_days" {
  description = "Days before the lifecycle rule deletes a payload object. Must exceed the work queue's plus the DLQ's retention, so no message outlives its payload."
  type        = number
  default     = 30
  validation {
    condition     = var.payload_retention_days >= 1 && floor(var.payload_retention_days) == var.payload_retention_days
    error_message = "payload_retention_days must be a whole number of days, at least 1."
  }
}

variable "upload_url_seconds" {
  description = "Lifetime of presigned upload URLs."
  type        = number
  default     = 900
  validation {
    condition     = var.upload_url_seconds >= 1 && var.upload_url_seconds <= 3600 && floor(var.upload_url_seconds) == var.upload_url_seconds
    error_message = "upload_url_seconds must be a whole number from 1 to 3600: a URL signed with the function's role session dies with the session (presign-upload refuses more)."
  }
}

variable "download_url_seconds" {
  description = "Lifetime of presigned download URLs."
  type        = number
  default     = 300
  validation {
    condition     = var.download_url_seconds >= 1 && var.download_url_seconds <= 43200 && floor(var.download_url_seconds) == var.download_url_seconds
    error_message = "download_url_seconds must be a whole number from 1 to 43200 (presign-download refuses more than 12 h)."
  }
}

variable "max_upload_bytes" {
  description = "Largest payload presign-upload accepts, in bytes: up to S3's 5 TiB object limit (above multipart_threshold_bytes a payload is uploaded in parts)."
  type        = number
  default     = 5368709120
  validation {
    condition     = var.max_upload_bytes >= 1 && var.max_upload_bytes <= 5497558138880 && floor(var.max_upload_bytes) == var.max_upload_bytes
    error_message = "max_upload_bytes must be a whole number from 1 to 5497558138880 (S3's 5 TiB object limit)."
  }
}

variable "multipart_threshold_bytes" {
  description = "Payloads above this size (and streams of unknown length) are uploaded through the API as multipart uploads of parallel, resumable parts; at most this size, as one presigned PUT."
  type        = number
  default     = 67108864
  validation {
    condition     = var.multipart_threshold_bytes >= 5242880 && var.multipart_threshold_bytes <= 5368709120 && floor(var.multipart_threshold_bytes) == var.multipart_threshold_bytes
    error_message = "multipart_threshold_bytes must be a whole number from 5242880 to 5368709120 (S3's part limits, 5 MiB to 5 GiB)."
  }
}

variable "part_size_bytes" {
  description = "Part size of multipart uploads, raised per upload (to a whole MiB) for payloads that would need more than S3's 10 000 parts."
  type        = number
  default     = 16777216
  validation {
    condition     = var.part_size_bytes >= 5242880 && var.part_size_bytes <= 5368709120 && floor(var.part_size_bytes) == var.part_size_bytes
    error_message = "part_size_bytes must be a whole number from 5242880 to 5368709120 (S3's part limits, 5 MiB to 5 GiB)."
  }
}

variable "multipart_upload_seconds" {
  description = "How long a multipart upload may take from POST /uploads to completion before reconcile aborts it; the bucket's abort-incomplete rule follows a day later as a backstop."
  type        = number
  default     = 86400
  validation {
    condition     = var.multipart_upload_seconds >= 3600 && var.multipart_upload_seconds <= 604800 && floor(var.multipart_upload_seconds) == var.multipart_upload_seconds
    error_message = "multipart_upload_seconds must be a whole number from 3600 to 604800 (1 hour to 7 days; presign-upload refuses others)."
  }
}

variable "allowed_content_types" {
  description = "Comma-separated content types presign-upload accepts (for example text/csv,application/json); the default, empty, accepts any valid media type."
  type        = string
  default     = ""
}

variable "max_redrives" {
  description = "A DLQ message redriven this often stays parked."
  type        = number
  default     = 3
  validation {
    condition     = var.max_redrives >= 0 && var.max_redrives <= 4294967295 && floor(var.max_redrives) == var.max_redrives
    error_message = "max_redrives must be a whole number from 0 to 4294967295 (the redriver reads it as a u32)."
  }
}

variable "queued_stall_seconds" {
  description = "A payload queued this long without being picked up is sent again by reconcile."
  type        = number
  default     = 3600
  validation {
    condition     = var.queued_stall_seconds >= 1 && var.queued_stall_seconds <= 86400 && floor(var.queued_stall_seconds) == var.queued_stall_seconds
    error_message = "queued_stall_seconds must be a whole number from 1 to 86400 (the redriver refuses more than a day)."
  }
}

variable "reconcile_schedule" {
  description = "EventBridge Scheduler expression for the reconcile pass."
  type        = string
  default     = "rate(15 minutes)"
  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.reconcile_schedule))
    error_message = "reconcile_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "batch_size" {
  description = "Records per consumer invocation (handled one after another). Null (default): derived (consumer.tf): as many of the largest payloads as fit in the consumer's timeout, 1 to 10."
  type        = number
  default     = null
  validation {
    condition     = var.batch_size == null || (coalesce(var.batch_size, 0) >= 1 && coalesce(var.batch_size, 0) <= 10000)
    error_message = "batch_size must be from 1 to 10000 (above 10 needs maximum_batching_window_seconds >= 1)."
  }
}

variable "maximum_batching_window_seconds" {
  description = "How long the event source mapping gathers a batch."
  type        = number
  default     = 0
  validation {
    condition     = var.maximum_batching_window_seconds >= 0 && var.maximum_batching_window_seconds <= 300
    error_message = "maximum_batching_window_seconds must be from 0 to 300."
  }
}

variable "consumer_max_concurrency" {
  description = "The event source mapping's maximum concurrency (2-1000)."
  type        = number
  default     = 10
  validation {
    condition     = var.consumer_max_concurrency >= 2 && var.consumer_max_concurrency <= 1000
    error_message = "consumer_max_concurrency must be from 2 to 1000 (the event source mapping's limits)."
  }
}

variable "delete_after_done" {
  description = "Delete a payload object once processed (default: the lifecycle rule expires it, and downloads keep working)."
  type        = bool
  default     = false
}

variable "consumer_max_payload_bytes" {
  nullable    = false
  description = "The largest payload the consumer processes; a larger one is parked on its first attempt with that reason instead of timing out on every receive. 0 (default): what the configured consumer can stream within its timeout (consumer.tf), which must cover max_upload_bytes. Set it below max_upload_bytes to accept larger uploads than the consumer handles (they are parked)."
  type        = number
  default     = 0
  validation {
    condition     = var.consumer_max_payload_bytes >= 0 && var.consumer_max_payload_bytes <= 5497558138880 && floor(var.consumer_max_payload_bytes) == var.consumer_max_payload_bytes
    error_message = "consumer_max_payload_bytes must be a whole number from 0 (no limit) to 5497558138880."
  }
}

variable "ledger_deletion_protection" {
  description = "DynamoDB deletion protection on the ledger table (on: a `terraform destroy` or a console click cannot delete the record of every payload; turn it off first to tear the stack down)."
  type        = bool
  default     = true
}

variable "memory_mb" {
  description = "Memory per function (the consumer's is consumer_memory_mb)."
  type        = map(number)
  default = {
    presign-upload   = 128
    presign-download = 128
    producer         = 128
    redriver         = 128
  }
  validation {
    condition     = length(setsubtract(["presign-upload", "presign-download", "producer", "redriver"], keys(var.memory_mb))) == 0 && !contains(keys(var.memory_mb), "consumer")
    error_message = "memory_mb needs an entry for presign-upload, presign-download, producer and redriver, and none for the consumer (its memory is consumer_memory_mb)."
  }
}

variable "timeout_seconds" {
  description = "Timeout per function (the consumer's is consumer_timeout_seconds)."
  type        = map(number)
  default = {
    presign-upload   = 10
    presign-download = 10
    producer         = 30
    redriver         = 300
  }
  validation {
    condition     = length(setsubtract(["presign-upload", "presign-download", "producer", "redriver"], keys(var.timeout_seconds))) == 0
    error_message = "timeout_seconds needs an entry for presign-upload, presign-download, producer and redriver (the consumer's is consumer_timeout_seconds)."
  }
}

variable "tracing_mode" {
  description = "Lambda X-Ray tracing for every function: PassThrough (default: no traces of its own) or Active (adds the X-Ray write permission to each role)."
  type        = string
  default     = "PassThrough"
  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "log_retention_days" {
  description = "CloudWatch log retention for the functions and the API."
  type        = number
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "kms_key_arn" {
  description = "A customer-managed KMS key for the bucket, queues, table and logs; null uses AWS-managed encryption (SSE-S3, SSE-SQS, DynamoDB's own key)."
  type        = string
  default     = null
  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (not an alias or key id: IAM policies are scoped to it)."
  }
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to call the API and to PUT/GET payloads with presigned URLs (exact origins such as https://app.example.com, or *); empty disables CORS."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for origin in var.cors_allowed_origins : origin == "*" || can(regex("^https?://[^/?#*\\s]+$", origin))])
    error_message = "cors_allowed_origins must be exact origins such as https://app.example.com (scheme, host and optional port; no path), or *."
  }
}

variable "api_authorization" {
  description = "Who may call the API: AWS_IAM (default: SigV4-signed callers with execute-api:Invoke), JWT (an OIDC issuer), or NONE (anyone with the URL can mint upload URLs)."
  type        = string
  default     = "AWS_IAM"
  validation {
    condition     = contains(["AWS_IAM", "JWT", "NONE"], var.api_authorization)
    error_message = "api_authorization must be AWS_IAM, JWT or NONE."
  }
}

variable "jwt_issuer" {
  description = "OIDC issuer URL when api_authorization is JWT."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Accepted audiences when api_authorization is JWT."
  type        = list(string)
  default     = []
}

variable "upload_scopes" {
  description = "With JWT: POST /uploads needs a token with one of these scopes (empty: any valid token)."
  type        = list(string)
  default     = []
}

variable "read_scopes" {
  description = "With JWT: GET /payloads/{id} needs a token with one of these scopes (empty: any valid token)."
  type        = list(string)
  default     = []
}

variable "operator_arns" {
  description = "IAM users or roles (a role matches all of its sessions) that may read every payload through the API; everyone else sees only the payloads they uploaded."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for arn in var.operator_arns : can(regex("^arn:[a-z-]+:(iam|sts)::[0-9]{12}:", arn)) && !strcontains(arn, ",")])
    error_message = "operator_arns must be IAM user, role or assumed-role ARNs."
  }
}

variable "operator_scope" {
  description = "With JWT: a token with this scope may read every payload through the API (null: none)."
  type        = string
  default     = null
  validation {
    condition     = var.operator_scope == null || can(regex("^[!#-\\[\\]-~]+$", var.operator_scope))
    error_message = "operator_scope must be one scope (printable characters, no spaces, quotes or backslashes)."
  }
}

variable "require_sha256" {
  description = "POST /uploads must announce the body's SHA-256 (signed into the URL, so S3 checks it); false lets callers leave it out, and then only the size is checked."
  type        = bool
  default     = true
}

variable "max_pending_uploads" {
  description = "How many unused, unexpired upload URLs one caller may hold; more requests get 429 too_many_pending."
  type        = number
  default     = 100
  validation {
    condition     = var.max_pending_uploads >= 1 && var.max_pending_uploads <= 10000 && floor(var.max_pending_uploads) == var.max_pending_uploads
    error_message = "max_pending_uploads must be a whole number from 1 to 10000 (presign-upload refuses more)."
  }
}

variable "api_throttling_burst" {
  description = "API stage burst limit."
  type        = number
  default     = 100
  validation {
    condition     = var.api_throttling_burst >= 0
    error_message = "api_throttling_burst must not be negative."
  }
}

variable "api_throttling_rate" {
  description = "API stage steady request rate per second."
  type        = number
  default     = 50
  validation {
    condition     = var.api_throttling_rate >= 0
    error_message = "api_throttling_rate must not be negative."
  }
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest work-queue message is older than this."
  type        = number
  default     = 900
  validation {
    condition     = var.oldest_message_alarm_seconds > 0
    error_message = "oldest_message_alarm_seconds must be positive."
  }
}

variable "alarm_sns_topic_arn" {
  description = "An SNS topic of yours for alarm notifications (a standard topic; if encrypted, its KMS key must let cloudwatch.amazonaws.com use it). Null (default): the stack creates NAME-alarms, encrypted with a key of its own, and subscribes alarm_emails."
  type        = string
  default     = null
  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be a standard SNS topic's ARN (CloudWatch alarms cannot publish to FIFO topics)."
  }
}

variable "alarm_emails" {
  nullable    = false
  description = "Email addresses subscribed to the stack's alarm topic (each confirms once, by the link AWS sends). Ignored when alarm_sns_topic_arn names your own topic."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for email in var.alarm_emails : can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", email))])
    error_message = "alarm_emails must be email addresses."
  }
}

variable "dlq_age_alarm_seconds" {
  description = "Alarm when the oldest DLQ message is older than this (default a day): parked payloads wait for an operator, and the DLQ drops them after dlq_retention_seconds."
  type        = number
  default     = 86400
  validation {
    condition     = var.dlq_age_alarm_seconds >= 60 && var.dlq_age_alarm_seconds < 1209600
    error_message = "dlq_age_alarm_seconds must be at least 60 and below 1209600 (and below dlq_retention_seconds, checked on the alarm)."
  }
}

variable "api_5xx_alarm_percent" {
  description = "Alarm when more than this percentage of API requests fail with a 5xx over 5 minutes (default 1)."
  type        = number
  default     = 1
  validation {
    condition     = var.api_5xx_alarm_percent > 0 && var.api_5xx_alarm_percent <= 100
    error_message = "api_5xx_alarm_percent must be above 0 and at most 100."
  }
}

variable "api_p99_latency_alarm_ms" {
  description = "Alarm when the API's p99 latency over 5 minutes exceeds this many milliseconds (default 1000; presigning takes a few)."
  type        = number
  default     = 1000
  validation {
    condition     = var.api_p99_latency_alarm_ms >= 10 && var.api_p99_latency_alarm_ms <= 30000
    error_message = "api_p99_latency_alarm_ms must be from 10 to 30000 (API Gateway's integration timeout)."
  }
}

variable "retried_alarm_percent" {
  description = "Alarm when more than this percentage of the consumer's records are retried over 15 minutes (default 10): retries are not Lambda errors, so trouble would otherwise show only once the DLQ fills."
  type        = number
  default     = 10
  validation {
    condition     = var.retried_alarm_percent > 0 && var.retried_alarm_percent <= 100
    error_message = "retried_alarm_percent must be above 0 and at most 100."
  }
}

variable "tags" {
  nullable    = false
  description = "Tags for every resource that takes tags, applied through the AWS provider's default_tags."
  type        = map(string)
  default     = {}
  validation {
    condition = length(var.tags) <= 45 && alltrue([
      for key, value in var.tags :
      length(key) >= 1 && length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")
    ])
    error_message = "tags: at most 45 (AWS allows 50 per resource; some are the resources' own), keys of 1-128 characters not starting with aws:, values up to 256 characters."
  }
}
