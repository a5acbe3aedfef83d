data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  functions = ["presign-upload", "presign-download", "producer", "consumer", "redriver"]

  # The settings local mode shares with this stack (the CORS headers come from here, once).
  defaults = jsondecode(file("${path.module}/defaults.json"))

  # Lease: a little longer than the consumer may run. Visibility: six times its timeout.
  lease_seconds              = local.consumer_timeout_seconds + 30
  visibility_timeout_seconds = 6 * local.consumer_timeout_seconds

  uploads_arn   = "${aws_s3_bucket.payloads.arn}/${var.uploads_prefix}*"
  messages_arn  = "${aws_s3_bucket.payloads.arn}/${var.messages_prefix}*"
  queue_suffix  = var.fifo ? ".fifo" : ""
  alarm_actions = var.alarm_sns_topic_arn == null ? [aws_sns_topic.alarms[0].arn] : [var.alarm_sns_topic_arn]
  kms           = var.kms_key_arn == null ? [] : [var.kms_key_arn]

  # One alarm each (alarms.tf): the queue, the SQS metric (its Maximum over 5 minutes) and the
  # threshold it must not exceed.
  queue_alarms = {
    dlq-not-empty = {
      queue       = aws_sqs_queue.dlq.name
      metric      = "ApproximateNumberOfMessagesVisible"
      threshold   = 0
      description = "Messages are parked in the DLQ: inspect with `claimcheck failed`, fix, then `claimcheck redrive`."
    }
    dlq-oldest-message = {
      queue       = aws_sqs_queue.dlq.name
      metric      = "ApproximateAgeOfOldestMessage"
      threshold   = var.dlq_age_alarm_seconds
      description = "A payload has been parked in the DLQ for longer than dlq_age_alarm_seconds: redrive or discard it before the DLQ's retention deletes it."
    }
    work-queue-oldest-message = {
      queue       = aws_sqs_queue.work.name
      metric      = "ApproximateAgeOfOldestMessage"
      threshold   = var.oldest_message_alarm_seconds
      description = "The consumer is not keeping up (or is failing): the oldest work-queue message is too old."
    }
    producer-failures = {
      queue       = aws_sqs_queue.producer_failures.name
      metric      = "ApproximateNumberOfMessagesVisible"
      threshold   = 0
      description = "Upload events the producer failed on three times are waiting in the producer-failures queue: fix the cause, then run `claimcheck reconcile` (it queues every uploaded payload still pending)."
    }
  }

  # The HTTP API's metrics are per ApiId and Stage.
  api_dimensions = { ApiId = aws_apigatewayv2_api.http.id, Stage = aws_apigatewayv2_stage.default.name }

  # Every throttle metric of the ledger: the table's and each index's reads and writes (a GSI
  # that falls behind on writes throttles the table's writes).
  ledger_throttle_metrics = merge(
    {
      table_reads  = { metric = "ReadThrottleEvents", dimensions = { TableName = aws_dynamodb_table.ledger.name } }
      table_writes = { metric = "WriteThrottleEvents", dimensions = { TableName = aws_dynamodb_table.ledger.name } }
    },
    {
      for pair in setproduct([for index in aws_dynamodb_table.ledger.global_secondary_index : index.name], ["Read", "Write"]) :
      "index_${lower(pair[1])}s_${replace(pair[0], "/[^a-z0-9]/", "_")}" => {
        metric     = "${pair[1]}ThrottleEvents"
        dimensions = { TableName = aws_dynamodb_table.ledger.name, GlobalSecondaryIndexName = pair[0] }
      }
    }
  )

  timeouts = merge(var.timeout_seconds, { consumer = local.consumer_timeout_seconds })
  memories = merge(var.memory_mb, { consumer = local.consumer_memory_mb })

  environment = {
    presign-upload = {
      CLAIMCHECK_STACK_NAME                = var.name # the metrics' stack dimension
      CLAIMCHECK_BUCKET                    = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE                     = aws_dynamodb_table.ledger.name
      CLAIMCHECK_UPLOADS_PREFIX            = var.uploads_prefix
      CLAIMCHECK_MAX_UPLOAD_BYTES          = tostring(var.max_upload_bytes)
      CLAIMCHECK_ALLOWED_CONTENT_TYPES     = var.allowed_content_types
      CLAIMCHECK_UPLOAD_URL_SECONDS        = tostring(var.upload_url_seconds)
      CLAIMCHECK_REQUIRE_SHA256            = tostring(var.require_sha256)
      CLAIMCHECK_MAX_PENDING_UPLOADS       = tostring(var.max_pending_uploads)
      CLAIMCHECK_MULTIPART_THRESHOLD_BYTES = tostring(var.multipart_threshold_bytes)
      CLAIMCHECK_PART_SIZE_BYTES           = tostring(var.part_size_bytes)
      CLAIMCHECK_MULTIPART_UPLOAD_SECONDS  = tostring(var.multipart_upload_seconds)
    }
    presign-download = {
      CLAIMCHECK_STACK_NAME           = var.name # the metrics' stack dimension
      CLAIMCHECK_BUCKET               = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE                = aws_dynamodb_table.ledger.name
      CLAIMCHECK_UPLOADS_PREFIX       = var.uploads_prefix
      CLAIMCHECK_DOWNLOAD_URL_SECONDS = tostring(var.download_url_seconds)
      CLAIMCHECK_OPERATOR_ARNS        = join(",", var.operator_arns)
      CLAIMCHECK_OPERATOR_SCOPE       = var.operator_scope == null ? "" : var.operator_scope
    }
    producer = {
      CLAIMCHECK_STACK_NAME      = var.name # the metrics' stack dimension
      CLAIMCHECK_BUCKET          = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE           = aws_dynamodb_table.ledger.name
      CLAIMCHECK_QUEUE_URL       = aws_sqs_queue.work.url
      CLAIMCHECK_UPLOADS_PREFIX  = var.uploads_prefix
      CLAIMCHECK_UNKNOWN_OBJECTS = "ignore"
      CLAIMCHECK_SIZE_ATTRIBUTE  = "current"
      CLAIMCHECK_MESSAGE_GROUP   = var.message_group
    }
    consumer = {
      CLAIMCHECK_STACK_NAME        = var.name # the metrics' stack dimension
      CLAIMCHECK_BUCKET            = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE             = aws_dynamodb_table.ledger.name
      CLAIMCHECK_DLQ_URL           = aws_sqs_queue.dlq.url
      CLAIMCHECK_MAX_RECEIVE_COUNT = tostring(var.max_receive_count)
      CLAIMCHECK_LEASE_SECONDS     = tostring(local.lease_seconds)
      CLAIMCHECK_DELETE_AFTER_DONE = tostring(var.delete_after_done)
      CLAIMCHECK_MAX_PAYLOAD_BYTES = tostring(local.consumer_max_payload_bytes)
    }
    redriver = {
      CLAIMCHECK_STACK_NAME           = var.name # the metrics' stack dimension
      CLAIMCHECK_BUCKET               = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE                = aws_dynamodb_table.ledger.name
      CLAIMCHECK_QUEUE_URL            = aws_sqs_queue.work.url
      CLAIMCHECK_DLQ_URL              = aws_sqs_queue.dlq.url
      CLAIMCHECK_MAX_REDRIVES         = tostring(var.max_redrives)
      CLAIMCHECK_MESSAGE_GROUP        = var.message_group
      CLAIMCHECK_QUEUED_STALL_SECONDS = tostring(var.queued_stall_seconds)
    }
  }
}
