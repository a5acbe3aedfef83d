"""The Terraform under infra/, parsed: the settings local runs use are the ones it declares,
every function has its own least-privilege role, and the pieces AWS needs are there. (The
AWS provider cannot be downloaded here, so `terraform validate`/`plan` cannot run; checkov
and these tests check the HCL itself.)"""
import unittest

from hcl import (FUNCTIONS, blocks, code_environment_names, code_required_names, data_sources,
                 defaults, load, locals_, policy_document_of, resources, statements, text, value,
                 variables)


class SettingsMatchLocalRuns(unittest.TestCase):
    """infra/defaults.json is what local mode and the tests provision with."""

    def test_variable_defaults_equal_defaults_json(self):
        declared, local = variables(), defaults()
        same = ["uploads_prefix", "max_receive_count", "queue_retention_seconds",
                "dlq_retention_seconds", "consumer_timeout_seconds", "payload_retention_days",
                "upload_url_seconds", "download_url_seconds", "max_upload_bytes", "max_redrives",
                "queued_stall_seconds", "batch_size", "maximum_batching_window_seconds",
                "reconcile_schedule"]
        for name in same:
            self.assertEqual(declared[name], local[name], name)

    def test_derived_values_follow_the_same_rules(self):
        local = defaults()
        self.assertEqual(local["visibility_timeout_seconds"], 6 * local["consumer_timeout_seconds"])
        self.assertEqual(local["lease_seconds"], local["consumer_timeout_seconds"] + 30)
        source = text("locals.tf")
        self.assertIn("visibility_timeout_seconds = 6 * var.consumer_timeout_seconds", source)
        self.assertIn("lease_seconds              = var.consumer_timeout_seconds + 30", source)

    def test_retention_outlives_every_message(self):
        declared = variables()
        self.assertGreater(declared["payload_retention_days"] * 86400,
                           declared["queue_retention_seconds"] + declared["dlq_retention_seconds"])
        lifecycle = resources("storage.tf", "aws_s3_bucket_lifecycle_configuration")["payloads"]
        condition = value(blocks(blocks(lifecycle, "lifecycle")[0], "precondition")[0], "condition")
        self.assertIn("var.payload_retention_days * 86400 > var.queue_retention_seconds + var.dlq_retention_seconds", condition)

    def test_ledger_names_match_the_code(self):
        table = resources("ledger.tf", "aws_dynamodb_table")["ledger"]
        local = defaults()
        index = blocks(table, "global_secondary_index")[0]
        self.assertEqual(value(index, "name"), local["status_index"])
        self.assertEqual(value(blocks(table, "ttl")[0], "attribute_name"), local["ttl_attribute"])
        self.assertEqual(value(table, "billing_mode"), "PAY_PER_REQUEST")
        self.assertTrue(value(blocks(table, "point_in_time_recovery")[0], "enabled"))
        self.assertTrue(value(blocks(table, "server_side_encryption")[0], "enabled"))


class Resources(unittest.TestCase):
    def test_bucket_is_private_encrypted_tls_only_and_expires_payloads(self):
        block = resources("storage.tf", "aws_s3_bucket_public_access_block")["payloads"]
        for flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]:
            self.assertIs(value(block, flag), True, flag)
        ownership = resources("storage.tf", "aws_s3_bucket_ownership_controls")["payloads"]
        self.assertEqual(value(blocks(ownership, "rule")[0], "object_ownership"), "BucketOwnerEnforced")
        self.assertIn("aws_s3_bucket_server_side_encryption_configuration", text("storage.tf"))
        deny = statements(data_sources("storage.tf", "aws_iam_policy_document")["bucket"])[0]
        self.assertEqual(deny[3], "Deny")
        self.assertIn("aws:SecureTransport", text("storage.tf"))
        rules = blocks(resources("storage.tf", "aws_s3_bucket_lifecycle_configuration")["payloads"], "rule")
        self.assertEqual({value(r, "id") for r in rules}, {"expire-payloads", "abort-incomplete-multipart-uploads"})

    def test_queues_redrive_and_encryption(self):
        queues = resources("queues.tf", "aws_sqs_queue")
        work = queues["work"]
        self.assertEqual(value(work, "visibility_timeout_seconds"), "${local.visibility_timeout_seconds}")
        self.assertIn("maxReceiveCount     = var.max_receive_count", text("queues.tf"))
        for name, queue in queues.items():
            self.assertIsNotNone(value(queue, "sqs_managed_sse_enabled"), name)
        self.assertIn("dlq", resources("queues.tf", "aws_sqs_queue_redrive_allow_policy"))

    def test_consumer_mapping_reports_batch_item_failures(self):
        mapping = resources("functions.tf", "aws_lambda_event_source_mapping")["consumer"]
        self.assertEqual(value(mapping, "function_response_types"), ["ReportBatchItemFailures"])
        self.assertEqual(value(mapping, "event_source_arn"), "${aws_sqs_queue.work.arn}")

    def test_functions_run_the_zips_with_json_logs(self):
        function = resources("functions.tf", "aws_lambda_function")["function"]
        self.assertEqual(value(function, "runtime"), "provided.al2023")
        self.assertEqual(value(function, "handler"), "bootstrap")
        self.assertEqual(value(function, "architectures"), ["${var.architecture}"])
        self.assertEqual(value(blocks(function, "logging_config")[0], "log_format"), "JSON")
        self.assertEqual(variables()["architecture"], "arm64")
        self.assertEqual(locals_()["functions"], FUNCTIONS)

    def test_environment_is_what_each_function_reads(self):
        environment = locals_()["environment"]
        for function in FUNCTIONS:
            names = set(environment[function].keys())
            reads = code_environment_names(function)
            self.assertLessEqual(names, reads, f"{function}: Terraform sets names its code never reads")
            self.assertLessEqual(code_required_names(function), names, f"{function}: a required setting is missing")

    def test_api_routes_schedule_alarms_and_outputs(self):
        self.assertIn('"POST /uploads"', text("api.tf"))
        self.assertIn('"GET /payloads/{id}"', text("api.tf"))
        self.assertEqual(variables()["api_authorization"], "AWS_IAM")
        schedule = resources("functions.tf", "aws_scheduler_schedule")["reconcile"]
        self.assertIn("reconcile", value(blocks(schedule, "target")[0], "input"))
        alarms = resources("alarms.tf", "aws_cloudwatch_metric_alarm")
        self.assertEqual(set(alarms), {"dlq_not_empty", "work_queue_age", "function"})
        self.assertIn('setproduct(local.functions, ["Errors", "Throttles"])', text("alarms.tf"))
        outputs = {name for entry in load("outputs.tf")["output"] for name in entry}
        self.assertLessEqual({"api_url", "bucket", "queue_url", "dlq_url", "table", "function_names"}, outputs)


class LeastPrivilege(unittest.TestCase):
    def test_one_role_and_policy_per_function(self):
        roles = resources("iam.tf", "aws_iam_role")
        self.assertEqual(value(roles["function"], "for_each"), "${toset(local.functions)}")
        for function in FUNCTIONS:
            self.assertTrue(statements(policy_document_of(function)), function)

    def test_no_wildcards_and_objects_scoped_to_the_uploads_prefix(self):
        self.assertIn('uploads_arn   = "${aws_s3_bucket.payloads.arn}/${var.uploads_prefix}*"', text("locals.tf"))
        for function in FUNCTIONS:
            for sid, actions, resources_, effect, for_each in statements(policy_document_of(function)):
                self.assertEqual(effect, "Allow")
                for action in actions:
                    self.assertNotIn("*", action, f"{function}/{sid}")
                for resource in resources_:
                    self.assertNotEqual(resource, "*", f"{function}/{sid}")
                    if any(a.startswith("s3:") for a in actions):
                        scoped = resource == "${local.uploads_arn}" or (
                            resource == "${statement.value}" and "local.uploads_arn" in str(for_each))
                        self.assertTrue(scoped, f"{function}/{sid}: {resource}")
                    if any(a.startswith("logs:") for a in actions):
                        self.assertIn(f'aws_cloudwatch_log_group.function["{function}"].arn', resource)
        redriver = {s[0]: s[2] for s in statements(policy_document_of("redriver"))}
        self.assertEqual(redriver["LedgerStatusIndex"],
                         ["${aws_dynamodb_table.ledger.arn}/index/status-updated_at-index"])


if __name__ == "__main__":
    unittest.main()
