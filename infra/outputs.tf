# Read by the claimcheck command: `terraform output -json > outputs.json`, then
# `claimcheck --outputs outputs.json ...` (or CLAIMCHECK_OUTPUTS=outputs.json).

output "api_url" {
  value = aws_apigatewayv2_stage.default.invoke_url
}

output "bucket" {
  value = aws_s3_bucket.payloads.bucket
}

output "queue_url" {
  value = aws_sqs_queue.work.url
}

output "dlq_url" {
  value = aws_sqs_queue.dlq.url
}

output "table" {
  value = aws_dynamodb_table.ledger.name
}

output "region" {
  value = data.aws_region.current.region
}

output "function_names" {
  value = { for name, function in aws_lambda_function.function : name => function.function_name }
}
