# The queues: work piling up or growing old, parked payloads waiting, upload events the
# producer gave up on.
resource "aws_cloudwatch_metric_alarm" "queue" {
  for_each            = local.queue_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = each.value.metric
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  lifecycle {
    precondition {
      condition     = var.dlq_age_alarm_seconds < var.dlq_retention_seconds
      error_message = "dlq_age_alarm_seconds must be below dlq_retention_seconds: the alarm has to fire before SQS deletes the message."
    }
  }
}

# Errors and throttles of every function.
resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = {
    for pair in setproduct(local.functions, ["Errors", "Throttles"]) :
    "${pair[0]}-${lower(pair[1])}" => { function = pair[0], metric = pair[1] }
  }
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "The ${each.value.function} function reported ${lower(each.value.metric)}: see its log group and the dashboard."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.function[each.value.function].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# The share of API requests answered with a 5xx (HTTP API metrics: Count and 5xx per ApiId and
# Stage).
resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx-rate"
  alarm_description   = "More than api_5xx_alarm_percent of API requests failed with a 5xx: see the API's access log and the presign functions' logs."
  evaluation_periods  = 1
  threshold           = var.api_5xx_alarm_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "100 * errors / MAX([requests, 1])"
    label       = "5xx (% of requests)"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      dimensions  = local.api_dimensions
      stat        = "Sum"
      period      = 300
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = local.api_dimensions
      stat        = "Sum"
      period      = 300
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "${var.name}-api-p99-latency"
  alarm_description   = "The API's p99 latency is above api_p99_latency_alarm_ms: look at the presign functions' duration and throttles, and DynamoDB's."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = local.api_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.api_p99_latency_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Throttled reads and writes of the ledger and of each index: a GSI that cannot keep up throttles
# writes to the table itself.
resource "aws_cloudwatch_metric_alarm" "ledger_throttles" {
  alarm_name          = "${var.name}-ledger-throttles"
  alarm_description   = "DynamoDB throttled the ledger (the table or an index): requests slow down and retry; sustained, payloads stall."
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "throttled"
    expression  = "SUM(METRICS())"
    label       = "throttled requests"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = local.ledger_throttle_metrics
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/DynamoDB"
        metric_name = metric_query.value.metric
        dimensions  = metric_query.value.dimensions
        stat        = "Sum"
        period      = 300
      }
    }
  }
}

# Retried records are not Lambda errors: the consumer reports them as batch item failures.
resource "aws_cloudwatch_metric_alarm" "consumer_retries" {
  alarm_name          = "${var.name}-consumer-retried-ratio"
  alarm_description   = "More than retried_alarm_percent of the consumer's records were retried in 15 minutes: `claimcheck failed --status failed` shows why."
  evaluation_periods  = 1
  threshold           = var.retried_alarm_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "ratio"
    expression  = "100 * retried / MAX([received, 1])"
    label       = "retried (% of records)"
    return_data = true
  }
  metric_query {
    id = "retried"
    metric {
      namespace   = "claimcheck"
      metric_name = "PayloadsRetried"
      dimensions  = { stack = var.name, function = "consumer" }
      stat        = "Sum"
      period      = 900
    }
  }
  metric_query {
    id = "received"
    metric {
      namespace   = "claimcheck"
      metric_name = "RecordsReceived"
      dimensions  = { stack = var.name, function = "consumer" }
      stat        = "Sum"
      period      = 900
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "quarantined" {
  alarm_name          = "${var.name}-payloads-quarantined"
  alarm_description   = "An upload did not match what was announced (size, checksum or content type) and was quarantined: `claimcheck failed --status quarantined` lists them."
  namespace           = "claimcheck"
  metric_name         = "PayloadsQuarantined"
  dimensions          = { stack = var.name, function = "producer" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
