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
        return [re.sub(r"^.*?infra/", "infra/", f) for f in findings]

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
        findings = self.findings_after("storage.tf", "    expiration {\n      days = var.payload_retention_days\n",
                                       "    expiry {\n      days = var.payload_retention_days\n")
        self.assert_one_finding(findings, "infra/storage.tf",
                                "resource aws_s3_bucket_lifecycle_configuration.payloads rule",
                                "block expiry is not in the schema")

    def test_unknown_argument_in_a_nested_block(self):
        findings = self.findings_after("storage.tf", "      days_after_initiation = 1",
                                       "      days_after_initiated = 1")
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
        self.assert_one_finding(findings, "aws_sqs_queue.deadletter.arn", "does not declare")

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


def _first_dynamic_content_edit(source):
    """(old, new) renaming `sid` inside the first dynamic block's content in iam.tf."""
    match = re.search(r'dynamic "statement" \{.*?content \{\s*\n(\s*)sid(\s*)=', source, re.S)
    if not match:
        raise AssertionError("iam.tf has no dynamic statement with a sid in its content")
    old = match.group(0)
    return old, old[:-len("sid" + match.group(2) + "=")] + "sidd" + match.group(2) + "="


if __name__ == "__main__":
    unittest.main()
