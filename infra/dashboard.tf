# One CloudWatch dashboard for the stack: the functions' own metrics (Embedded Metric Format,
# namespace claimcheck, dimensions stack and function; see claimcheck::metrics), the queues, the
# API, the ledger and the functions as AWS reports them. The widgets are locals so the tests can
# check every metric against what the code emits (tests/infra/test_terraform.py).

locals {
  region = data.aws_region.current.region
  # SEARCH over a metric's classes (an error code, a park reason), one line each.
  by_class = {
    refused   = "SEARCH('{claimcheck,stack,function,code} stack=\"${var.name}\" MetricName=\"UploadsRefused\"', 'Sum', 300)"
    downloads = "SEARCH('{claimcheck,stack,function,code} stack=\"${var.name}\" MetricName=\"DownloadsRefused\"', 'Sum', 300)"
    parked    = "SEARCH('{claimcheck,stack,function,reason} stack=\"${var.name}\" MetricName=\"PayloadsParked\"', 'Sum', 300)"
    failed    = "SEARCH('{claimcheck,stack,function,code} stack=\"${var.name}\" MetricName=\"RequestsFailed\"', 'Sum', 300)"
  }

  dashboard_widgets = [
    {
      title = "Payloads through the pipeline (per 5 minutes)"
      stat  = "Sum"
      metrics = [
        ["claimcheck", "UploadsIssued", "stack", var.name, "function", "presign-upload"],
        ["claimcheck", "PayloadsQueued", "stack", var.name, "function", "producer"],
        ["claimcheck", "PayloadsDone", "stack", var.name, "function", "consumer"],
        ["claimcheck", "PayloadsRetried", "stack", var.name, "function", "consumer"],
        ["claimcheck", "PayloadsQuarantined", "stack", var.name, "function", "producer"],
        ["claimcheck", "RecordsFailed", "stack", var.name, "function", "producer"],
      ]
    },
    {
      title   = "Refused uploads and downloads by code, parked payloads by reason, API failures by code"
      stat    = "Sum"
      metrics = [for id, search in local.by_class : [{ expression = search, id = id }]]
    },
    {
      title = "Time: processing per payload, upload to done (seconds)"
      stat  = "p50"
      metrics = [
        ["claimcheck", "ProcessingSeconds", "stack", var.name, "function", "consumer", { stat = "p50" }],
        ["claimcheck", "ProcessingSeconds", "stack", var.name, "function", "consumer", { stat = "p99" }],
        ["claimcheck", "UploadToDoneSeconds", "stack", var.name, "function", "consumer", { stat = "p50" }],
        ["claimcheck", "UploadToDoneSeconds", "stack", var.name, "function", "consumer", { stat = "p99" }],
      ]
    },
    {
      title = "Bytes processed, and multipart uploads"
      stat  = "Sum"
      metrics = [
        ["claimcheck", "BytesProcessed", "stack", var.name, "function", "consumer"],
        ["claimcheck", "MultipartUploadsOpened", "stack", var.name, "function", "presign-upload", { yAxis = "right" }],
        ["claimcheck", "MultipartUploadsCompleted", "stack", var.name, "function", "presign-upload", { yAxis = "right" }],
        ["claimcheck", "MultipartUploadsAborted", "stack", var.name, "function", "presign-upload", { yAxis = "right" }],
      ]
    },
    {
      title = "Redrive and reconcile"
      stat  = "Sum"
      metrics = [
        ["claimcheck", "Redriven", "stack", var.name, "function", "redriver"],
        ["claimcheck", "RedriveKeptParked", "stack", var.name, "function", "redriver"],
        ["claimcheck", "RedriveFailed", "stack", var.name, "function", "redriver"],
        ["claimcheck", "ReconcileScanned", "stack", var.name, "function", "redriver"],
        ["claimcheck", "ReconcileStalled", "stack", var.name, "function", "redriver"],
        ["claimcheck", "Reconciled", "stack", var.name, "function", "redriver"],
        ["claimcheck", "ReconcileFailed", "stack", var.name, "function", "redriver"],
      ]
    },
    {
      title   = "Cold starts"
      stat    = "Sum"
      metrics = [for function in local.functions : ["claimcheck", "ColdStart", "stack", var.name, "function", function]]
    },
    {
      title = "Queues: depth and age of the oldest message"
      stat  = "Maximum"
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.work.name],
        ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", aws_sqs_queue.work.name],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.producer_failures.name],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.work.name, { yAxis = "right" }],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.dlq.name, { yAxis = "right" }],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.producer_failures.name, { yAxis = "right" }],
      ]
    },
    {
      title = "API: requests, 4xx, 5xx; latency p50 and p99 (ms)"
      stat  = "Sum"
      metrics = [
        ["AWS/ApiGateway", "Count", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name],
        ["AWS/ApiGateway", "4xx", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name],
        ["AWS/ApiGateway", "5xx", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name],
        ["AWS/ApiGateway", "Latency", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name, { stat = "p50", yAxis = "right" }],
        ["AWS/ApiGateway", "Latency", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name, { stat = "p99", yAxis = "right" }],
      ]
    },
    {
      title   = "Ledger: throttled reads and writes (table and indexes)"
      stat    = "Sum"
      metrics = [for key, m in local.ledger_throttle_metrics : concat(["AWS/DynamoDB", m.metric], flatten([for name, value in m.dimensions : [name, value]]))]
    },
    {
      title   = "Functions: errors and throttles"
      stat    = "Sum"
      metrics = flatten([for function in local.functions : [for metric in ["Errors", "Throttles"] : [["AWS/Lambda", metric, "FunctionName", aws_lambda_function.function[function].function_name]]]])
    },
  ]
}

resource "aws_cloudwatch_dashboard" "stack" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for i, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          stat    = widget.stat
          period  = 300
          view    = "timeSeries"
          metrics = widget.metrics
        }
      }
    ]
  })
}
