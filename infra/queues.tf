# With var.fifo both are FIFO queues (SQS: a FIFO queue's DLQ must be FIFO too), named `.fifo`.
# Pointers carry their own deduplication ids (the payload id) and message groups
# (var.message_group), so content-based deduplication stays off.
resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq${local.queue_suffix}"
  fifo_queue                = var.fifo
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = var.kms_key_arn == null
  kms_master_key_id         = var.kms_key_arn

  # A message moved to a standard queue's DLQ keeps its original enqueue timestamp, and
  # retention counts from it (Amazon SQS Developer Guide, "Using dead-letter queues"): with
  # equal retentions a message parked late in its life would expire from the DLQ at once.
  lifecycle {
    precondition {
      condition     = var.dlq_retention_seconds > var.queue_retention_seconds
      error_message = "dlq_retention_seconds must exceed queue_retention_seconds: a message moved to the DLQ keeps its original enqueue time, so the DLQ must keep messages longer than the work queue."
    }
  }
}

resource "aws_sqs_queue" "work" {
  name                       = "${var.name}-work${local.queue_suffix}"
  fifo_queue                 = var.fifo
  message_retention_seconds  = var.queue_retention_seconds
  visibility_timeout_seconds = local.visibility_timeout_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = var.kms_key_arn == null
  kms_master_key_id          = var.kms_key_arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the work queue may use the DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.work.arn]
  })
}

# Where the producer's failed asynchronous invocations (after Lambda's retries) are kept.
resource "aws_sqs_queue" "producer_failures" {
  name                      = "${var.name}-producer-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = var.kms_key_arn == null
  kms_master_key_id         = var.kms_key_arn
}
