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
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ."
  type        = number
  default     = 5
}

variable "queue_retention_seconds" {
  description = "Work queue message retention."
  type        = number
  default     = 1209600
}

variable "dlq_retention_seconds" {
  description = "DLQ message retention."
  type        = number
  default     = 1209600
}

variable "consumer_timeout_seconds" {
  description = "The consumer's Lambda timeout; the work queue's visibility timeout is six times this (AWS guidance)."
  type        = number
  default     = 60
}

variable "payload_retention_days" {
  description = "Days before the lifecycle rule deletes a payload object. Must exceed the work queue's plus the DLQ's retention, so no message outlives its payload."
  type        = number
  default     = 30
}

variable "upload_url_seconds" {
  description = "Lifetime of presigned upload URLs."
  type        = number
  default     = 900
}

variable "download_url_seconds" {
  description = "Lifetime of presigned download URLs."
  type        = number
  default     = 300
}

variable "max_upload_bytes" {
  description = "Largest upload presign-upload signs (a single PUT: at most 5 GiB)."
  type        = number
  default     = 5368709120
}

variable "allowed_content_types" {
  description = "Comma-separated content types presign-upload accepts; empty accepts any valid type."
  type        = string
  default     = ""
}

variable "max_redrives" {
  description = "A DLQ message redriven this often stays parked."
  type        = number
  default     = 3
}

variable "queued_stall_seconds" {
  description = "A payload queued this long without being picked up is sent again by reconcile."
  type        = number
  default     = 3600
}

variable "reconcile_schedule" {
  description = "EventBridge Scheduler expression for the reconcile pass."
  type        = string
  default     = "rate(15 minutes)"
}

variable "batch_size" {
  description = "Records per consumer invocation."
  type        = number
  default     = 10
}

variable "maximum_batching_window_seconds" {
  description = "How long the event source mapping gathers a batch."
  type        = number
  default     = 0
}

variable "consumer_max_concurrency" {
  description = "The event source mapping's maximum concurrency (2-1000)."
  type        = number
  default     = 10
}

variable "delete_after_done" {
  description = "Delete a payload object once processed (default: the lifecycle rule expires it, and downloads keep working)."
  type        = bool
  default     = false
}

variable "memory_mb" {
  description = "Memory per function."
  type        = map(number)
  default = {
    presign-upload   = 128
    presign-download = 128
    producer         = 128
    consumer         = 256
    redriver         = 128
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
}

variable "log_retention_days" {
  description = "CloudWatch log retention for the functions and the API."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "A customer-managed KMS key for the bucket, queues, table and logs; null uses AWS-managed encryption (SSE-S3, SSE-SQS, DynamoDB's own key)."
  type        = string
  default     = null
}

variable "cors_allowed_origins" {
  description = "Origins allowed to PUT/GET payloads from a browser with presigned URLs; empty disables CORS."
  type        = list(string)
  default     = []
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

variable "api_throttling_burst" {
  description = "API stage burst limit."
  type        = number
  default     = 100
}

variable "api_throttling_rate" {
  description = "API stage steady request rate per second."
  type        = number
  default     = 50
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest work-queue message is older than this."
  type        = number
  default     = 900
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for alarm notifications; null sends none."
  type        = string
  default     = null
}
