# The payload bucket. Versioning is off by default (var.payload_versioning = "Disabled"):
# payloads are write-once objects under unique server-generated keys (a presigned PUT pins the
# key, size and SHA-256), the ledger records each one's life, and the lifecycle rule deletes
# them; versions would only keep deleted payloads around. Enabling it is a variable away; the
# lifecycle rules below then also remove noncurrent versions and the delete markers left.
resource "aws_s3_bucket" "payloads" {
  #checkov:skip=CKV_AWS_21:Versioning off by default by design: write-once objects under unique server-generated keys, expired by lifecycle (see the comment above); var.payload_versioning enables it.
  #checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket the user owns; the ledger records every payload's life and CloudTrail data events can be enabled account-wide.
  #checkov:skip=CKV_AWS_144:Cross-region replication of transient payloads is not wanted; they live days, not years.
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
    status = var.payload_versioning
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
    # Only acts when versioning is on: an expired or deleted payload's old version goes a day later.
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # Payloads offloaded by extended-client senders (`claimcheck send`): no ledger tracks them,
  # so they expire like uploads, once no copy of their pointer can be alive.
  rule {
    id     = "expire-messages"
    status = "Enabled"
    filter {
      prefix = var.messages_prefix
    }
    expiration {
      days = var.payload_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # Only acts when versioning is on: removes the delete markers the expiration leaves behind.
  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"
    filter {
      prefix = var.uploads_prefix
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  # Objects the extended client marks instead of deleting (PayloadStore::expire_later: after a
  # DeleteMessage SQS may confirm for a message still alive as a redelivery or in the DLQ, or
  # after a send whose outcome is unknown) expire once no copy of their pointer can be alive,
  # wherever they are in the bucket. (S3 counts the days from the object's creation.)
  rule {
    id     = "expire-marked-payloads"
    status = "Enabled"
    filter {
      tag {
        key   = "claimcheck-expired"
        value = "true"
      }
    }
    expiration {
      days = var.payload_retention_days
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    # A backstop: reconcile aborts a multipart upload once multipart_upload_seconds are over;
    # S3 aborts what is left a day after that.
    abort_incomplete_multipart_upload {
      days_after_initiation = ceil(var.multipart_upload_seconds / 86400) + 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.payloads]

  # No message may outlive its payload: a pointer can wait queue_retention_seconds on the work
  # queue and then, parked by the consumer (a new message), dlq_retention_seconds in the DLQ.
  # A redrive sends yet another new message; should its object have expired meanwhile, the
  # redriver and the consumer report it and park it (never drop it).
  lifecycle {
    precondition {
      condition     = var.payload_retention_days * 86400 > var.queue_retention_seconds + var.dlq_retention_seconds
      error_message = "payload_retention_days must exceed the work queue's plus the DLQ's retention, or a redriven message could outlive its payload."
    }
    # The producer is triggered by the uploads prefix only: an offloaded message's object
    # inside it would be taken for an upload.
    precondition {
      condition     = !startswith(var.messages_prefix, var.uploads_prefix) && !startswith(var.uploads_prefix, var.messages_prefix)
      error_message = "messages_prefix and uploads_prefix must not overlap (neither may start with the other)."
    }
  }
}

resource "aws_s3_bucket_cors_configuration" "payloads" {
  count  = length(var.cors_allowed_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.payloads.id
  cors_rule {
    allowed_methods = ["PUT", "GET"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = local.defaults.bucket_cors_allowed_headers
    expose_headers  = ["etag"]
    max_age_seconds = 3600
  }
}

data "aws_iam_policy_document" "bucket" {
  # Upload URLs are single-use: presign-upload signs `If-None-Match: *` into them, and this Deny
  # makes S3 refuse any PutObject into the uploads prefix that does not carry it, so no caller
  # can leave the header out and replace a payload whose bytes were already checked. Scoped to
  # the PutObject operation itself (s3:ObjectCreationOperation), so CreateMultipartUpload and
  # UploadPart are not caught (a multipart upload is guarded at CompleteMultipartUpload). The
  # local endpoint does not evaluate bucket policies: the tests check the signed header and the
  # 412 S3 answers to a second PUT (functions/presign-upload/tests/handler.rs).
  statement {
    sid       = "DenyOverwritingUploads"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = [local.uploads_arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:ObjectCreationOperation"
      values   = ["PutObject"]
    }
  }

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
