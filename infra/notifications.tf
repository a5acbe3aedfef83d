# Uploads become producer invocations.
resource "aws_lambda_permission" "s3_invokes_producer" {
  statement_id   = "AllowS3Invoke"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.function["producer"].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.payloads.arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "uploads" {
  bucket = aws_s3_bucket.payloads.id
  lambda_function {
    lambda_function_arn = aws_lambda_function.function["producer"].arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.uploads_prefix
  }
  depends_on = [aws_lambda_permission.s3_invokes_producer]
}
