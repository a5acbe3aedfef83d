# One role per function, with only the actions its code calls, on only the resources it
# touches, one statement per purpose. tests/infra/test_iam_matches_code.py checks each action
# list against the AWS calls the function's code makes in the integration tests (recorded by
# the local endpoint); the statements Lambda itself uses with the role (sids Logs,
# EventSourceMapping, AsyncFailureDestination) and the optional Kms ones are left out of that
# comparison. No statement here allows "*" except the X-Ray one, where AWS requires it.

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = toset(local.functions)
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy" "function" {
  for_each = toset(local.functions)
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.function[each.key].id
  policy   = local.function_policies[each.key]
}

# Active tracing: Lambda sends each function's trace segments with its role.
resource "aws_iam_role_policy" "xray" {
  for_each = var.tracing_mode == "Active" ? toset(local.functions) : toset([])
  name     = "${var.name}-${each.key}-xray"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.xray.json
}

data "aws_iam_policy_document" "xray" {
  # Wildcard justified: X-Ray's PutTraceSegments and PutTelemetryRecords support no
  # resource-level permissions, so AWS requires Resource "*" (the same as the managed
  # AWSXRayDaemonWriteAccess policy, less its sampling-rule reads).
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

locals {
  function_policies = {
    presign-upload   = data.aws_iam_policy_document.presign_upload.json
    presign-download = data.aws_iam_policy_document.presign_download.json
    producer         = data.aws_iam_policy_document.producer.json
    consumer         = data.aws_iam_policy_document.consumer.json
    redriver         = data.aws_iam_policy_document.redriver.json
  }
}

data "aws_iam_policy_document" "presign_upload" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["presign-upload"].arn}:*"]
  }
  # The presigned PUT and UploadPart it signs are authorized with this role's permission, as
  # are CreateMultipartUpload and CompleteMultipartUpload.
  statement {
    sid       = "SignUploads"
    actions   = ["s3:PutObject"]
    resources = [local.uploads_arn]
  }
  # Multipart uploads: what S3 holds (for a resumed upload and the checks before completing),
  # and aborting one.
  statement {
    sid       = "MultipartUploads"
    actions   = ["s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
    resources = [local.uploads_arn]
  }
  # Recording a payload; reading and updating it as its multipart upload goes on.
  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.ledger.arn]
  }
  # Counting the caller's unused upload URLs (the sparse pending index only).
  statement {
    sid       = "PendingIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.ledger.arn}/index/pending_owner-created_at-index"]
  }
  dynamic "statement" {
    for_each = local.kms
    content {
      sid       = "Kms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "presign_download" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["presign-download"].arn}:*"]
  }
  # HeadObject, and the presigned GET it signs.
  statement {
    sid       = "ReadPayloads"
    actions   = ["s3:GetObject"]
    resources = [local.uploads_arn]
  }
  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.ledger.arn]
  }
  dynamic "statement" {
    for_each = local.kms
    content {
      sid       = "Kms"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "producer" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["producer"].arn}:*"]
  }
  # HeadObject needs s3:GetObject.
  statement {
    sid       = "ReadPayloads"
    actions   = ["s3:GetObject"]
    resources = [local.uploads_arn]
  }
  statement {
    sid       = "Enqueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.work.arn]
  }
  # PutItem records objects uploaded without the API when CLAIMCHECK_UNKNOWN_OBJECTS=enqueue.
  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.ledger.arn]
  }
  # Used by Lambda, not the code: an invocation that failed its retries goes to this queue
  # (aws_lambda_function_event_invoke_config.producer), sent with the function's role.
  statement {
    sid       = "AsyncFailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.producer_failures.arn]
  }
  dynamic "statement" {
    for_each = local.kms
    content {
      sid       = "Kms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "consumer" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["consumer"].arn}:*"]
  }
  # Called by Lambda's event source mapping on the consumer's behalf, not by its code
  # (instead of the managed AWSLambdaSQSQueueExecutionRole, which allows every queue).
  statement {
    sid       = "EventSourceMapping"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.work.arn]
  }
  statement {
    sid       = "Park"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
  # Uploaded payloads, and payloads extended-client senders offloaded (`claimcheck send`).
  statement {
    sid       = "ReadPayloads"
    actions   = ["s3:GetObject"]
    resources = [local.uploads_arn, local.messages_arn]
  }
  dynamic "statement" {
    for_each = var.delete_after_done ? [local.uploads_arn] : []
    content {
      sid       = "DeleteAfterDone"
      actions   = ["s3:DeleteObject"]
      resources = [statement.value]
    }
  }
  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.ledger.arn]
  }
  dynamic "statement" {
    for_each = local.kms
    content {
      sid       = "Kms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "redriver" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["redriver"].arn}:*"]
  }
  # Redrive reads, hides and deletes DLQ messages; native mode reads the DLQ's ARN and starts
  # SQS's move task (which itself needs receive/delete here and send on the work queue).
  statement {
    sid = "DeadLetterQueue"
    actions = [
      "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes", "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks",
    ]
    resources = [aws_sqs_queue.dlq.arn]
  }
  statement {
    sid       = "Requeue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.work.arn]
  }
  # HeadObject on a parked pointer's object: an upload, or an extended-client sender's.
  statement {
    sid       = "ReadPayloads"
    actions   = ["s3:GetObject"]
    resources = [local.uploads_arn, local.messages_arn]
  }
  # Reconcile aborts a multipart upload whose window is over.
  statement {
    sid       = "AbortExpiredUploads"
    actions   = ["s3:AbortMultipartUpload"]
    resources = [local.uploads_arn]
  }
  # Listings read the status index (keys only), then the items with BatchGetItem.
  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.ledger.arn]
  }
  statement {
    sid       = "LedgerStatusIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.ledger.arn}/index/status_shard-updated_at-index"]
  }
  dynamic "statement" {
    for_each = local.kms
    content {
      sid       = "Kms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# EventBridge Scheduler may invoke the redriver, and nothing else.
data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeRedriver"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.function["redriver"].arn]
  }
  # With a customer-managed key the schedule's input is encrypted with it (kms_key_arn on the
  # schedule), and Scheduler decrypts it with this role when it invokes the target.
  dynamic "statement" {
    for_each = local.kms
    content {
      sid       = "Kms"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
