resource "aws_dynamodb_table" "ledger" {
  name         = "${var.name}-ledger"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  # The record of every payload: not deleted by a stray destroy (ledger_deletion_protection).
  deletion_protection_enabled = var.ledger_deletion_protection

  attribute {
    name = "id"
    type = "S"
  }
  attribute {
    name = "status_shard"
    type = "S"
  }
  attribute {
    name = "updated_at"
    type = "N"
  }
  attribute {
    name = "pending_owner"
    type = "S"
  }
  attribute {
    name = "created_at"
    type = "N"
  }

  # Lists payloads by state (failed, dead and stalled ones for the redriver and operators),
  # oldest change first within a shard. Sparse: done and expired items carry no status_shard,
  # so they leave the index. Sharded: status_shard = "<status>#<00-15>" (from the id's
  # SHA-256), so no single state's partition takes every write. Keys only: listings read the
  # items from the table (BatchGetItem).
  global_secondary_index {
    name            = "status_shard-updated_at-index"
    hash_key        = "status_shard"
    range_key       = "updated_at"
    projection_type = "KEYS_ONLY"
  }

  # Sparse: only pending payloads carry pending_owner (every transition removes it), so the
  # index holds the unused upload URLs per caller, for presign-upload's cap. Keys only, plus
  # the URL's expiry.
  global_secondary_index {
    name               = "pending_owner-created_at-index"
    hash_key           = "pending_owner"
    range_key          = "created_at"
    projection_type    = "INCLUDE"
    non_key_attributes = ["url_expires_at"]
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}
