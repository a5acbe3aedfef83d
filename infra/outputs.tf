# Read by the claimcheck command: `terraform output -json > outputs.json`, then
# `claimcheck --outputs outputs.json ...` (or CLAIMCHECK_OUTPUTS=outputs.json). Each output is
# `{"value": ...}` in that file; keep the names.

output "api_url" {
  description = "Base URL of the HTTP API ($default stage)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "api_authorization" {
  description = "How the API authenticates callers (AWS_IAM, JWT or NONE): the claimcheck command signs or sends a token accordingly."
  value       = var.api_authorization
}

output "api_execution_arn" {
  description = "The API's execution ARN, for execute-api:Invoke policies: \"<this>/*/POST/uploads\" and \"<this>/*/GET/payloads/*\"."
  value       = aws_apigatewayv2_api.http.execution_arn
}

output "upload_endpoint" {
  description = "POST here (signed, under the default AWS_IAM authorization) for a presigned upload URL."
  value       = "${trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")}/uploads"
}

output "bucket" {
  description = "The payload bucket."
  value       = aws_s3_bucket.payloads.bucket
}

output "messages_prefix" {
  description = "Where `claimcheck send` (and any extended-client sender the consumer should read) offloads payloads in the bucket."
  value       = var.messages_prefix
}

output "queue_url" {
  description = "The work queue."
  value       = aws_sqs_queue.work.url
}

output "dlq_url" {
  description = "The dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "table" {
  description = "The ledger table."
  value       = aws_dynamodb_table.ledger.name
}

output "region" {
  description = "The region everything is in."
  value       = data.aws_region.current.region
}

output "function_names" {
  description = "Each function's Lambda name, by function."
  value       = { for name, function in aws_lambda_function.function : name => function.function_name }
}

output "arns" {
  description = "The stack's ARNs, for policies, dashboards and alarms elsewhere: bucket, work queue, DLQ, ledger table, API, and each function."
  value = {
    bucket    = aws_s3_bucket.payloads.arn
    queue     = aws_sqs_queue.work.arn
    dlq       = aws_sqs_queue.dlq.arn
    table     = aws_dynamodb_table.ledger.arn
    api       = aws_apigatewayv2_api.http.arn
    functions = { for name, function in aws_lambda_function.function : name => function.arn }
  }
}

output "stack_name" {
  description = "The stack's name: its resources' prefix and its metrics' stack dimension (`claimcheck stats` reads it)."
  value       = var.name
}

output "dashboard_url" {
  description = "The stack's CloudWatch dashboard."
  value       = "https://${data.aws_region.current.region}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.region}#dashboards:name=${aws_cloudwatch_dashboard.stack.dashboard_name}"
}

output "alarm_topic_arn" {
  description = "Where the alarms publish: the stack's own topic, or alarm_sns_topic_arn."
  value       = local.alarm_actions[0]
}
