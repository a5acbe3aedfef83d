resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days); a year of debug logs for transient payloads is not wanted by default.
  for_each          = toset(local.functions)
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_117:No VPC: the functions reach only S3, SQS and DynamoDB over AWS endpoints; a VPC would add NAT or endpoints and cold-start cost for no isolation gain.
  #checkov:skip=CKV_AWS_116:Failures are handled by design: the consumer's by its queue's redrive policy, the producer's by its async failure destination, the API functions answer synchronously, the redriver is re-run by its schedule.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names and settings, no secrets; KMS for it would add cost for nothing.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the user owns; the zips are built from source by cargo-lambda.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded where it matters (the event source mapping's maximum concurrency, the API's throttling); reserving it per function would take from the account pool.
  for_each         = toset(local.functions)
  function_name    = "${var.name}-${each.key}"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = "${var.lambda_zip_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_zip_dir}/${each.key}/bootstrap.zip")
  memory_size      = local.memories[each.key]
  timeout          = local.timeouts[each.key]

  environment {
    variables = local.environment[each.key]
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tracing_config {
    mode = var.tracing_mode
  }

  # The log group exists (with its retention) before the first invocation could create it.
  depends_on = [aws_cloudwatch_log_group.function]

  lifecycle {
    # The consumer must be able to finish the largest payload it accepts (consumer.tf).
    precondition {
      condition     = each.key != "consumer" || local.largest_payload_bytes <= local.consumer_streamable_bytes
      error_message = "The consumer cannot stream the largest payload it accepts (${local.largest_payload_bytes} bytes) within its timeout: at ${local.consumer_memory_mb} MB it streams about ${local.consumer_bytes_per_second} bytes/s, so ${local.consumer_timeout_seconds} s holds ${local.consumer_streamable_bytes} bytes. Raise consumer_timeout_seconds (at most 900) or consumer_memory_mb, lower max_upload_bytes, or set consumer_max_payload_bytes to at most ${local.consumer_streamable_bytes} so larger payloads are parked."
    }
  }
}

resource "aws_lambda_event_source_mapping" "consumer" {
  event_source_arn                   = aws_sqs_queue.work.arn
  function_name                      = aws_lambda_function.function["consumer"].arn
  batch_size                         = local.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.consumer_max_concurrency
  }

  # Lambda checks the consumer's role can receive from the queue when the mapping is created.
  depends_on = [aws_iam_role_policy.function]

  lifecycle {
    precondition {
      condition     = local.batch_size <= 10 || var.maximum_batching_window_seconds >= 1
      error_message = "A batch_size over 10 needs maximum_batching_window_seconds of at least 1."
    }
    precondition {
      condition     = !var.fifo || (local.batch_size <= 10 && var.maximum_batching_window_seconds == 0)
      error_message = "A FIFO queue's event source mapping takes at most 10 records and no batching window."
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "producer" {
  function_name          = aws_lambda_function.function["producer"].function_name
  maximum_retry_attempts = 2
  destination_config {
    on_failure {
      destination = aws_sqs_queue.producer_failures.arn
    }
  }

  # Lambda checks the producer's role may send to the destination when this is configured.
  depends_on = [aws_iam_role_policy.function]
}

# The reconcile pass on a schedule.
resource "aws_scheduler_schedule" "reconcile" {
  name                = "${var.name}-reconcile"
  schedule_expression = var.reconcile_schedule
  kms_key_arn         = var.kms_key_arn
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.function["redriver"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ mode = "reconcile" })
  }
}
