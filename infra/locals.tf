data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  functions = ["presign-upload", "presign-download", "producer", "consumer", "redriver"]

  # The settings local mode shares with this stack (the CORS headers come from here, once).
  defaults = jsondecode(file("${path.module}/defaults.json"))

  # Lease: a little longer than the consumer may run. Visibility: six times its timeout.
  lease_seconds              = var.consumer_timeout_seconds + 30
  visibility_timeout_seconds = 6 * var.consumer_timeout_seconds

  uploads_arn   = "${aws_s3_bucket.payloads.arn}/${var.uploads_prefix}*"
  messages_arn  = "${aws_s3_bucket.payloads.arn}/${var.messages_prefix}*"
  queue_suffix  = var.fifo ? ".fifo" : ""
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  kms           = var.kms_key_arn == null ? [] : [var.kms_key_arn]

  timeouts = merge(var.timeout_seconds, { consumer = var.consumer_timeout_seconds })

  environment = {
    presign-upload = {
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
      CLAIMCHECK_BUCKET               = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE                = aws_dynamodb_table.ledger.name
      CLAIMCHECK_UPLOADS_PREFIX       = var.uploads_prefix
      CLAIMCHECK_DOWNLOAD_URL_SECONDS = tostring(var.download_url_seconds)
      CLAIMCHECK_OPERATOR_ARNS        = join(",", var.operator_arns)
      CLAIMCHECK_OPERATOR_SCOPE       = var.operator_scope == null ? "" : var.operator_scope
    }
    producer = {
      CLAIMCHECK_BUCKET          = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE           = aws_dynamodb_table.ledger.name
      CLAIMCHECK_QUEUE_URL       = aws_sqs_queue.work.url
      CLAIMCHECK_UPLOADS_PREFIX  = var.uploads_prefix
      CLAIMCHECK_UNKNOWN_OBJECTS = "ignore"
      CLAIMCHECK_SIZE_ATTRIBUTE  = "current"
      CLAIMCHECK_MESSAGE_GROUP   = var.message_group
    }
    consumer = {
      CLAIMCHECK_BUCKET            = aws_s3_bucket.payloads.bucket
      CLAIMCHECK_TABLE             = aws_dynamodb_table.ledger.name
      CLAIMCHECK_DLQ_URL           = aws_sqs_queue.dlq.url
      CLAIMCHECK_MAX_RECEIVE_COUNT = tostring(var.max_receive_count)
      CLAIMCHECK_LEASE_SECONDS     = tostring(local.lease_seconds)
      CLAIMCHECK_DELETE_AFTER_DONE = tostring(var.delete_after_done)
      CLAIMCHECK_MAX_PAYLOAD_BYTES = tostring(var.consumer_max_payload_bytes)
    }
    redriver = {
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
