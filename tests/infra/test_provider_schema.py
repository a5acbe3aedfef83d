"""infra/*.tf against the hashicorp/aws provider's schema (schema_check.py), and the checker
itself: each kind of mistake `terraform validate` would report is planted in a copy of infra/
and must be reported, naming the file, the block and the argument."""
import os
import re
import shutil
import tempfile
import unittest

import provider_schema
import schema_check
from hcl import INFRA, text

_SCHEMA = None


def schema():
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = provider_schema.load()
    return _SCHEMA


class InfraMatchesProviderSchema(unittest.TestCase):
    def test_every_block_argument_and_reference_is_in_the_schema(self):
        findings, stats = schema_check.check_directory(INFRA, schema())
        self.assertEqual(findings, [])
        self.assertGreater(stats.blocks, 40)
        self.assertGreater(stats.arguments, 250)
        self.assertGreater(stats.references, 50)

    def test_provider_pin_matches_the_schema(self):
        """versions.tf pins the provider release whose schema is checked (~> major.minor)."""
        pinned = re.search(r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*"~> ([0-9]+\.[0-9]+)"',
                           text("versions.tf"))
        self.assertIsNotNone(pinned, "versions.tf must pin hashicorp/aws as \"~> MAJOR.MINOR\"")
        self.assertEqual(pinned.group(1), ".".join(schema()["version"].split(".")[:2]))


class CheckerCatchesMistakes(unittest.TestCase):
    """Each case edits one resource in a copy of infra/ and expects a finding naming it."""

    def findings_with(self, file, content):
        """Findings for a copy of infra/ with one more file."""
        with tempfile.TemporaryDirectory() as scratch:
            copy = os.path.join(scratch, "infra")
            shutil.copytree(INFRA, copy)
            with open(os.path.join(copy, file), "w", encoding="utf-8") as f:
                f.write(content)
            findings, _ = schema_check.check_directory(copy, schema())
        return [f.replace(scratch + os.sep, "") for f in findings]

    def findings_after(self, file, old, new, first_only=False):
        with tempfile.TemporaryDirectory() as scratch:
            copy = os.path.join(scratch, "infra")
            shutil.copytree(INFRA, copy)
            path = os.path.join(copy, file)
            with open(path, encoding="utf-8") as f:
                source = f.read()
            if not first_only:
                self.assertEqual(source.count(old), 1, f"{old!r} must occur once in {file}")
            self.assertIn(old, source)
            with open(path, "w", encoding="utf-8") as f:
                f.write(source.replace(old, new, 1))
            findings, _ = schema_check.check_directory(copy, schema())
        return [f.replace(scratch + os.sep, "") for f in findings]

    def assert_one_finding(self, findings, *parts):
        self.assertEqual(len(findings), 1, findings)
        for part in parts:
            self.assertIn(part, findings[0])

    def test_misspelt_argument(self):
        findings = self.findings_after("queues.tf", "  receive_wait_time_seconds  = 20",
                                       "  recieve_wait_time_seconds   = 20")
        self.assert_one_finding(findings, "infra/queues.tf", "resource aws_sqs_queue.work",
                                "recieve_wait_time_seconds is not in the schema",
                                "did you mean receive_wait_time_seconds")

    def test_missing_required_argument(self):
        findings = self.findings_after(
            "storage.tf",
            "resource \"aws_s3_bucket_public_access_block\" \"payloads\" {\n  bucket                  = aws_s3_bucket.payloads.id\n",
            "resource \"aws_s3_bucket_public_access_block\" \"payloads\" {\n")
        self.assert_one_finding(findings, "infra/storage.tf",
                                "resource aws_s3_bucket_public_access_block.payloads",
                                "required argument bucket is missing")

    def test_missing_required_block(self):
        findings = self.findings_after("storage.tf", "  versioning_configuration {\n    status = var.payload_versioning\n  }\n", "")
        self.assert_one_finding(findings, "infra/storage.tf", "resource aws_s3_bucket_versioning.payloads",
                                "required block versioning_configuration is missing")

    def test_wrong_literal_type(self):
        findings = self.findings_after("queues.tf", "  receive_wait_time_seconds  = 20",
                                       "  receive_wait_time_seconds  = \"twenty\"")
        self.assert_one_finding(findings, "infra/queues.tf", "resource aws_sqs_queue.work",
                                "argument receive_wait_time_seconds", "where a number is expected")

    def test_a_list_where_a_bool_is_expected(self):
        findings = self.findings_after("storage.tf", "  block_public_acls       = true",
                                       "  block_public_acls       = [true]")
        self.assert_one_finding(findings, "resource aws_s3_bucket_public_access_block.payloads",
                                "argument block_public_acls", "where a bool is expected")

    def test_terraform_conversions_are_accepted(self):
        """A quoted number is a number and "true" a bool to Terraform: no finding."""
        findings = self.findings_after("queues.tf", "  receive_wait_time_seconds  = 20",
                                       "  receive_wait_time_seconds  = \"20\"")
        self.assertEqual(findings, [])

    def test_unknown_nested_block(self):
        findings = self.findings_after("storage.tf", "    }\n    expiration {\n      days = var.payload_retention_days\n    }\n    # Only acts",
                                       "    }\n    expiry {\n      days = var.payload_retention_days\n    }\n    # Only acts")
        self.assert_one_finding(findings, "infra/storage.tf",
                                "resource aws_s3_bucket_lifecycle_configuration.payloads rule",
                                "block expiry is not in the schema")

    def test_unknown_argument_in_a_nested_block(self):
        findings = self.findings_after("storage.tf", "      days_after_initiation = ceil(",
                                       "      days_after_initiated = ceil(")
        self.assert_one_finding(findings, "rule abort_incomplete_multipart_upload",
                                "days_after_initiated is not in the schema")

    def test_block_written_as_an_argument(self):
        findings = self.findings_after("storage.tf", "  rule {\n    object_ownership = \"BucketOwnerEnforced\"\n  }",
                                       "  rule = { object_ownership = \"BucketOwnerEnforced\" }")
        self.assert_one_finding(findings, "resource aws_s3_bucket_ownership_controls.payloads",
                                "rule is a block")

    def test_unknown_resource_type(self):
        findings = self.findings_after("queues.tf", "resource \"aws_sqs_queue_redrive_allow_policy\" \"dlq\"",
                                       "resource \"aws_sqs_queue_redrive_allowance\" \"dlq\"")
        self.assertTrue(any("resource type aws_sqs_queue_redrive_allowance does not exist" in f
                            for f in findings), findings)

    def test_unknown_attribute_reference(self):
        findings = self.findings_after("queues.tf", "    deadLetterTargetArn = aws_sqs_queue.dlq.arn",
                                       "    deadLetterTargetArn = aws_sqs_queue.dlq.queue_arn")
        self.assert_one_finding(findings, "infra/queues.tf", "aws_sqs_queue.dlq.queue_arn",
                                "aws_sqs_queue has no attribute queue_arn")

    def test_reference_to_an_undeclared_resource(self):
        findings = self.findings_after("queues.tf", "    deadLetterTargetArn = aws_sqs_queue.dlq.arn",
                                       "    deadLetterTargetArn = aws_sqs_queue.deadletter.arn")
        self.assert_one_finding(findings, "aws_sqs_queue.deadletter.arn", "is not declared")

    def test_unknown_argument_in_dynamic_content(self):
        old, new = _first_dynamic_content_edit(text("iam.tf"))
        findings = self.findings_after("iam.tf", old, new, first_only=True)
        self.assert_one_finding(findings, "infra/iam.tf", "data.aws_iam_policy_document",
                                "dynamic statement content", "sidd is not in the schema")

    def test_unknown_lifecycle_argument(self):
        findings = self.findings_after("storage.tf", "  lifecycle {\n    precondition {",
                                       "  lifecycle {\n    prevent_destroyed = true\n    precondition {")
        self.assert_one_finding(findings, "aws_s3_bucket_lifecycle_configuration.payloads lifecycle",
                                "no argument prevent_destroyed")

    def test_terraform_constructs(self):
        """Meta-arguments, instance keys, provisioners, the provider block, check blocks and
        duplicate addresses: one finding each, naming the block."""
        findings = self.findings_with("zz.tf", _CONSTRUCTS)
        expected = [
            ("resource aws_sqs_queue.both", "count and for_each cannot both be set"),
            ("resource aws_sqs_queue.listed", "for_each needs a map or a set, not a list"),
            ("resource aws_sqs_queue.quoted_dependency", "depends_on holds"),
            ("resource aws_sqs_queue.two_lifecycles", "lifecycle may appear once"),
            ("resource aws_sqs_queue.ignored lifecycle", "ignore_changes names nmae"),
            ("aws_lambda_function.function.arn", "has for_each: name one instance"),
            ("aws_sqs_queue.work[0].arn", "takes no index [0]"),
            ("aws_sqs_queue.work.*.arnn", "aws_sqs_queue has no attribute arnn"),
            ("resource aws_sqs_queue.provisioned", "provisioner type local-exek does not exist"),
            ("provider aws", "argument regoin is not in the schema", "did you mean region"),
            ("data.aws_s3_bucket.checked", "argument regoin is not in the schema"),
            ("resource aws_sqs_queue.work", "declared twice (first at infra/queues.tf:"),
            ("resource aws_sqs_queue.spaced", "argument delay_seconds", "where a number is expected"),
        ]
        for parts in expected:
            matching = [f for f in findings if all(p in f for p in parts)]
            self.assertEqual(len(matching), 1, f"{parts}: {findings}")
        self.assertEqual(len(findings), len(expected), findings)

    def test_valid_terraform_is_not_flagged(self):
        """References in comments, plain strings, escapes, heredoc text, string literals inside
        interpolations, loop variables and moved blocks are no references; "1" is a bool."""
        self.assertEqual(self.findings_with("zz.tf", _VALID), [])

    def test_unparsable_and_malformed_files_are_findings(self):
        self.assert_one_finding(self.findings_with("zz.tf", 'locals {\n  x =\n}\n'),
                                "infra/zz.tf", "cannot parse")
        self.assert_one_finding(self.findings_with("zz.tf", 'resource "aws_sqs_queue" {\n  name = "x"\n}\n'),
                                "infra/zz.tf", "needs two labels")

    def test_a_directory_without_terraform_is_an_error(self):
        with tempfile.TemporaryDirectory() as empty:
            with self.assertRaises(FileNotFoundError):
                schema_check.check_directory(empty, schema())


_CONSTRUCTS = """
resource "aws_sqs_queue" "both" {
  count    = 1
  for_each = toset(["a"])
}
resource "aws_sqs_queue" "listed" {
  for_each = ["a"]
}
resource "aws_sqs_queue" "quoted_dependency" {
  depends_on = ["aws_sqs_queue.work"]
}
resource "aws_sqs_queue" "two_lifecycles" {
  lifecycle {
    prevent_destroy = true
  }
  lifecycle {
    create_before_destroy = true
  }
}
resource "aws_sqs_queue" "ignored" {
  lifecycle {
    ignore_changes = [nmae]
  }
}
resource "aws_sqs_queue" "provisioned" {
  provisioner "local-exek" {
    command = "true"
  }
}
resource "aws_sqs_queue" "spaced" {
  delay_seconds = " 5 "
}
resource "aws_sqs_queue" "work" {
}
provider "aws" {
  regoin = "eu-west-1"
}
check "bucket" {
  data "aws_s3_bucket" "checked" {
    bucket = "x"
    regoin = "y"
  }
  assert {
    condition     = true
    error_message = "never"
  }
}
locals {
  unkeyed     = aws_lambda_function.function.arn
  indexed     = aws_sqs_queue.work[0].arn
  legacy      = aws_sqs_queue.work.*.arnn
}
"""

_VALID = """
# aws_sqs_queue.nope.arn in a comment
// aws_sqs_queue.nope.arn
/* aws_sqs_queue.nope.arn */
locals {
  plain     = "aws_sqs_queue.nope.arn"
  escaped   = "$${aws_sqs_queue.nope.arn}"
  inner     = "${replace("aws_sqs_queue.x.y", "a", "b")}"
  looped    = [for aws_q in [aws_sqs_queue.work] : aws_q.arn]
  all_arns  = values(aws_lambda_function.function)[*].arn
  one_arn   = aws_lambda_function.function["consumer"].arn
  splat     = aws_sqs_queue.work[*].arn
  heredoc   = <<EOT
see aws_sqs_queue.nope.arn, then ${aws_sqs_queue.work.url}
EOT
}
resource "aws_sqs_queue" "converted" {
  fifo_queue    = "1"
  delay_seconds = "5"
  name          = 5
}
moved {
  from = aws_sqs_queue.old
  to   = aws_sqs_queue.converted
}
"""


def _first_dynamic_content_edit(source):
    """(old, new) renaming `sid` inside the first dynamic block's content in iam.tf."""
    match = re.search(r'dynamic "statement" \{.*?content \{\s*\n(\s*)sid(\s*)=', source, re.S)
    if not match:
        raise AssertionError("iam.tf has no dynamic statement with a sid in its content")
    old = match.group(0)
    return old, old[:-len("sid" + match.group(2) + "=")] + "sidd" + match.group(2) + "="


if __name__ == "__main__":
    unittest.main()
