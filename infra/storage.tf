# The payload bucket. Payloads are write-once objects under server-generated keys, deleted by
# the lifecycle rule: versioning is left off (it would only keep deleted payloads around and
# make the lifecycle rule need a noncurrent-version rule too).
resource "aws_s3_bucket" "payloads" {
  #checkov:skip=CKV_AWS_21:Versioning off by design: write-once objects under unique server-generated keys, expired by lifecycle (see the comment above).
  #checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket the user owns; the ledger records every payload's life and CloudTrail data events can be enabled account-wide.
  #checkov:skip=CKV_AWS_144:Cross-region replication of transient payloads is not wanted; they live days, not years.
  #checkov:skip=CKV2_AWS_62:Event notifications are configured (aws_s3_bucket_notification.uploads); checkov does not link the separate resource.
  #checkov:skip=CKV_AWS_145:KMS is optional (var.kms_key_arn); the default is SSE-S3, which needs no key administration.
  bucket_prefix = "${var.name}-payloads-"
}

resource "aws_s3_bucket_public_access_block" "payloads" {
  bucket                  = aws_s3_bucket.payloads.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "payloads" {
  bucket = aws_s3_bucket.payloads.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "payloads" {
  bucket = aws_s3_bucket.payloads.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "payloads" {
  bucket = aws_s3_bucket.payloads.id
  versioning_configuration {
    status = "Disabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "payloads" {
  bucket = aws_s3_bucket.payloads.id

  rule {
    id     = "expire-payloads"
    status = "Enabled"
    filter {
      prefix = var.uploads_prefix
    }
    expiration {
      days = var.payload_retention_days
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  lifecycle {
    precondition {
      condition     = var.payload_retention_days * 86400 > var.queue_retention_seconds + var.dlq_retention_seconds
      error_message = "payload_retention_days must exceed the work queue's plus the DLQ's retention, or a redriven message could outlive its payload."
    }
  }
}

resource "aws_s3_bucket_cors_configuration" "payloads" {
  count  = length(var.cors_allowed_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.payloads.id
  cors_rule {
    allowed_methods = ["PUT", "GET"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["content-type", "content-length", "x-amz-checksum-sha256", "x-amz-sdk-checksum-algorithm"]
    expose_headers  = ["etag"]
    max_age_seconds = 3600
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.payloads.arn, "${aws_s3_bucket.payloads.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "payloads" {
  bucket     = aws_s3_bucket.payloads.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.payloads]
}
