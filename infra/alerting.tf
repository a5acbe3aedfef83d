# Where every alarm goes: an SNS topic this stack creates (unless alarm_sns_topic_arn names one
# of yours), optionally with an email subscription, so an alarm always reaches someone.
#
# The topic is encrypted with a key of its own: CloudWatch cannot publish to a topic encrypted
# with the AWS managed key (alias/aws/sns), whose policy cannot be changed to let
# cloudwatch.amazonaws.com use it; a customer managed key with that grant can (AWS: "Amazon SNS
# topic encryption" and CloudWatch alarm actions).

resource "aws_kms_key" "alarms" {
  count                   = var.alarm_sns_topic_arn == null ? 1 : 0
  description             = "${var.name}: encrypts the alarm topic; CloudWatch may use it to publish."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alarm_key[0].json
}

resource "aws_kms_alias" "alarms" {
  count         = var.alarm_sns_topic_arn == null ? 1 : 0
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms[0].key_id
}

data "aws_iam_policy_document" "alarm_key" {
  count = var.alarm_sns_topic_arn == null ? 1 : 0
  # Wildcard justified: in a key policy "*" means this key; the account keeps administering it.
  #checkov:skip=CKV_AWS_109:A key policy's resource is always "*" (the key itself); administration stays with the account, as KMS's default key policy does.
  #checkov:skip=CKV_AWS_111:A key policy's resource is always "*" (the key itself); the account's own IAM policies decide who may use it, as KMS's default key policy does.
  #checkov:skip=CKV_AWS_356:A key policy's resource is always "*" (the key itself), never other keys.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchPublishesAlarms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    # As AWS documents this grant (CloudWatch alarm actions with encrypted topics): no
    # condition, since CloudWatch's KMS calls for SNS are not guaranteed to carry
    # aws:SourceAccount; the topic policy below limits who may publish.
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_sns_topic" "alarms" {
  count             = var.alarm_sns_topic_arn == null ? 1 : 0
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms[0].arn
}

# Only this account's alarms of this stack may publish.
resource "aws_sns_topic_policy" "alarms" {
  count  = var.alarm_sns_topic_arn == null ? 1 : 0
  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarm_topic[0].json
}

data "aws_iam_policy_document" "alarm_topic" {
  count = var.alarm_sns_topic_arn == null ? 1 : 0
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*"]
    }
  }
}

# An email subscription stays "pending confirmation" until its recipient follows the link AWS
# sends; until then nothing is delivered to it.
resource "aws_sns_topic_subscription" "alarm_email" {
  for_each  = var.alarm_sns_topic_arn == null ? toset(var.alarm_emails) : toset([])
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}
