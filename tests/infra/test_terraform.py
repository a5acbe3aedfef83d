"""The Terraform under infra/, parsed: the settings local runs use are the ones it declares,
every function has its own least-privilege role, and the pieces AWS needs are there. (The
AWS provider cannot be downloaded here, so `terraform validate`/`plan` cannot run; checkov
and these tests check the HCL itself.)"""
import json
import math
import os
import re
import unittest

from hcl import (FUNCTIONS, ROOT, blocks, load, code_environment_names, code_required_names, comments,
                 data_sources, defaults, defaults_declared, evaluate, evaluate_or_text, function_statements,
                 locals_, outputs, policy_documents, resource_kinds, resources, statements,
                 text, variables)

# The settings each function's code reads, as the code's README and the brief name them.
ENVIRONMENT = {
    "presign-upload": {"CLAIMCHECK_STACK_NAME", "CLAIMCHECK_BUCKET", "CLAIMCHECK_TABLE", "CLAIMCHECK_UPLOADS_PREFIX",
                       "CLAIMCHECK_MAX_UPLOAD_BYTES", "CLAIMCHECK_ALLOWED_CONTENT_TYPES",
                       "CLAIMCHECK_UPLOAD_URL_SECONDS", "CLAIMCHECK_REQUIRE_SHA256",
                       "CLAIMCHECK_MAX_PENDING_UPLOADS", "CLAIMCHECK_MULTIPART_THRESHOLD_BYTES",
                       "CLAIMCHECK_PART_SIZE_BYTES", "CLAIMCHECK_MULTIPART_UPLOAD_SECONDS"},
    "presign-download": {"CLAIMCHECK_STACK_NAME", "CLAIMCHECK_BUCKET", "CLAIMCHECK_TABLE", "CLAIMCHECK_UPLOADS_PREFIX",
                         "CLAIMCHECK_DOWNLOAD_URL_SECONDS", "CLAIMCHECK_OPERATOR_ARNS",
                         "CLAIMCHECK_OPERATOR_SCOPE"},
    "producer": {"CLAIMCHECK_STACK_NAME", "CLAIMCHECK_BUCKET", "CLAIMCHECK_TABLE", "CLAIMCHECK_QUEUE_URL",
                 "CLAIMCHECK_UPLOADS_PREFIX", "CLAIMCHECK_UNKNOWN_OBJECTS",
                 "CLAIMCHECK_SIZE_ATTRIBUTE", "CLAIMCHECK_MESSAGE_GROUP"},
    "consumer": {"CLAIMCHECK_STACK_NAME", "CLAIMCHECK_BUCKET", "CLAIMCHECK_TABLE", "CLAIMCHECK_DLQ_URL",
                 "CLAIMCHECK_MAX_RECEIVE_COUNT", "CLAIMCHECK_LEASE_SECONDS",
                 "CLAIMCHECK_DELETE_AFTER_DONE", "CLAIMCHECK_MAX_PAYLOAD_BYTES"},
    "redriver": {"CLAIMCHECK_STACK_NAME", "CLAIMCHECK_BUCKET", "CLAIMCHECK_TABLE", "CLAIMCHECK_QUEUE_URL",
                 "CLAIMCHECK_DLQ_URL", "CLAIMCHECK_MAX_REDRIVES",
                 "CLAIMCHECK_QUEUED_STALL_SECONDS", "CLAIMCHECK_MESSAGE_GROUP"},
}

OUTPUTS = {"api_url", "api_authorization", "api_execution_arn", "upload_endpoint", "bucket",
           "messages_prefix", "queue_url", "dlq_url", "table", "region", "function_names", "arns",
           "stack_name", "dashboard_url", "alarm_topic_arn"}

# Every "*" in an action, resource or principal of any policy document, with its reason; the
# statement's document must also carry a "Wildcard justified:" comment.
JUSTIFIED_WILDCARDS = {
    ("bucket", "DenyInsecureTransport"): "a Deny of every S3 action by anyone over plain HTTP",
    ("bucket", "DenyOverwritingUploads"): "a Deny, for anyone, of uploads without If-None-Match: *",
    ("xray", "XRay"): "X-Ray's write actions support no resource-level permissions",
    ("alarm_key", "AccountAdministers"): "a key policy's resource is the key itself; the account administers it",
    ("alarm_key", "CloudWatchPublishesAlarms"): "a key policy's resource is the key itself; GenerateDataKey* is SNS's encryption for CloudWatch",
}

# S3 actions on objects (their resources must be under the uploads prefix).
S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                     "s3:ListMultipartUploadParts", "s3:GetObjectVersion"}


def rust_constant(name, path="claimcheck/src/ledger/mod.rs"):
    """A string constant's value in the Rust source (`pub const NAME: &str = "...";`)."""
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    match = re.search(r'pub const %s: &str = "([^"]+)";' % name, text)
    assert match, f"{name} not found in {path}"
    return match.group(1)


def code_constant_str(name):
    """A `pub const NAME: &str = "...";` of the payload store (claimcheck/src/payload_store)."""
    path = os.path.join(ROOT, "claimcheck", "src", "payload_store", "mod.rs")
    with open(path, encoding="utf-8") as f:
        match = re.search(rf'pub const {name}: &str = "([^"]*)";', f.read())
    assert match, f"{path} has no `pub const {name}: &str`"
    return match.group(1)


def env_of(function):
    return locals_()["environment"][function]


METRICS_LOG = os.environ.get("CLAIMCHECK_METRICS_LOG", "")


def code_metric_names():
    """{function: metric names in its sources}: string literals of its crate, of the library's
    metrics module (ColdStart) and of the API plumbing (RequestsFailed, for the API functions)."""
    shared = ["claimcheck/src/metrics.rs"]
    out = {}
    for function in FUNCTIONS:
        paths = [os.path.join("functions", function, "src", f)
                 for f in os.listdir(os.path.join(ROOT, "functions", function, "src")) if f.endswith(".rs")]
        paths += shared + (["claimcheck/src/http_api.rs"] if function.startswith("presign") else [])
        names = set()
        for path in paths:
            with open(os.path.join(ROOT, path)) as f:
                names |= set(re.findall(r'"([A-Z][A-Za-z]+)"', f.read()))
        out[function] = names
    return out


def dashboard_and_alarm_metrics():
    """{(function, metric, extra dimension)} of every claimcheck metric the dashboard and the
    alarms name (SEARCH expressions: every function that could emit the metric)."""
    named = set()
    for widget in locals_()["dashboard_widgets"]:
        if not isinstance(widget["metrics"], list):
            continue
        for entry in widget["metrics"]:
            if entry[0] == "claimcheck":
                pairs = dict(zip(entry[2::2], entry[3::2]))
                named.add((pairs["function"], entry[1], None))
    for search in locals_()["by_class"].values():
        match = re.search(r"\{claimcheck,stack,function,(\w+)\}.*MetricName=\\?\"(\w+)", search)
        assert match, search
        function = {"UploadsRefused": "presign-upload", "PayloadsParked": "consumer",
                    "RequestsFailed": "presign-upload", "DownloadsRefused": "presign-download"}[match.group(2)]
        named.add((function, match.group(2), match.group(1)))
    for alarm in resources("aws_cloudwatch_metric_alarm").values():
        queries = [q["metric"][0] for q in alarm.get("metric_query", []) if "metric" in q]
        if "namespace" in alarm:
            queries.append(alarm)
        for q in queries:
            if q["namespace"] == "claimcheck":
                named.add((q["dimensions"]["function"], q["metric_name"], None))
    return named


def consumer_sizing(max_upload, consumer_max=0, memory=None, timeout=None, batch=None):
    """infra/consumer.tf's derivation in Python: the consumer's memory, timeout, batch size and
    the bytes it can stream, for the given settings (None: derived), and whether it can finish
    the largest payload it accepts (the precondition)."""
    written = locals_()
    cpu, s3 = written["consumer_cpu_bytes_per_second"], written["s3_stream_bytes_per_second"]
    vcpu, overhead = written["one_vcpu_memory_mb"], written["consumer_overhead_seconds"]
    largest = min(consumer_max, max_upload) if consumer_max > 0 else max_upload
    if memory is None:
        memory = next((m for m in (256, 512, 1024, 1769) if cpu * m / vcpu >= s3), 1769)
    rate = min(s3, math.floor(cpu * min(memory, vcpu) / vcpu))
    seconds = math.ceil(largest / rate)
    if timeout is None:
        timeout = min(900, max(60, 10 * seconds + overhead))
    if batch is None:
        batch = max(1, min(10, math.floor((timeout - overhead) / max(seconds, 1))))
    streamable = math.floor(rate * max(timeout - overhead, 0))
    return {"memory": memory, "rate": rate, "timeout": timeout, "batch": batch,
            "streamable": streamable, "ok": largest <= streamable}


class SettingsMatchLocalRuns(unittest.TestCase):
    """infra/defaults.json is what local mode and the tests provision with; each key is
    checked against what the Terraform declares (a new key without a check fails here)."""

    def test_every_key_of_defaults_json_is_checked(self):
        checked = {
            "uploads_prefix", "messages_prefix", "max_receive_count", "queue_retention_seconds",
            "dlq_retention_seconds", "consumer_timeout_seconds", "payload_retention_days",
            "upload_url_seconds", "download_url_seconds", "max_upload_bytes", "max_redrives",
            "queued_stall_seconds", "batch_size", "maximum_batching_window_seconds",
            "reconcile_schedule",  # test_variable_defaults_equal_defaults_json
            "visibility_timeout_seconds", "lease_seconds",  # test_derived_values
            # consumer_timeout_seconds, consumer_memory_mb and batch_size: test_consumer_sizing
            "consumer_memory_mb", "memory_mb", "architecture",  # (memory_mb, architecture:
            # test_variable_defaults_equal_defaults_json; tests/bench/cost.py prices with them)
            "status_index", "ttl_attribute", "pending_index",  # test_ledger_names
            "api_authorization", "upload_scopes", "read_scopes", "cors_allowed_origins",
            "require_sha256", "max_pending_uploads", "operator_arns", "operator_scope",
            # test_variable_defaults_equal_defaults_json
            "api_cors_allowed_headers", "bucket_cors_allowed_headers",  # test_api_authorization_and_cors
            "fifo", "message_group",  # test_variable_defaults_equal_defaults_json
            "multipart_threshold_bytes", "part_size_bytes", "multipart_upload_seconds",
            "consumer_max_payload_bytes",  # test_variable_defaults_equal_defaults_json
        }
        self.assertEqual(set(defaults()), checked)

    def test_variable_defaults_equal_defaults_json(self):
        declared, local = defaults_declared(), defaults()
        for name in ["uploads_prefix", "messages_prefix", "max_receive_count", "queue_retention_seconds",
                     "dlq_retention_seconds", "payload_retention_days",
                     "upload_url_seconds", "download_url_seconds", "max_upload_bytes",
                     "max_redrives", "queued_stall_seconds",
                     "maximum_batching_window_seconds", "reconcile_schedule",
                     "api_authorization", "upload_scopes", "read_scopes", "cors_allowed_origins",
                     "require_sha256", "max_pending_uploads", "operator_arns", "operator_scope",
                     "fifo", "message_group", "multipart_threshold_bytes", "part_size_bytes",
                     "multipart_upload_seconds", "consumer_max_payload_bytes", "memory_mb",
                     "architecture"]:
            self.assertIn(name, declared, f"variable {name} is missing")
            self.assertEqual(declared[name], local[name], f"variable {name}'s default")

    def test_derived_values(self):
        local = defaults()
        self.assertEqual(local["visibility_timeout_seconds"], 6 * local["consumer_timeout_seconds"])
        self.assertEqual(local["lease_seconds"], local["consumer_timeout_seconds"] + 30)
        self.assertEqual(locals_()["visibility_timeout_seconds"], "${6 * local.consumer_timeout_seconds}")
        self.assertEqual(locals_()["lease_seconds"], "${local.consumer_timeout_seconds + 30}")

    def test_consumer_sizing(self):
        """The consumer's memory, timeout and batch size derive from the largest payload it
        accepts (infra/consumer.tf, modelled by consumer_sizing); local mode runs with the
        defaults' outcome (infra/defaults.json), and Terraform refuses a consumer that cannot
        finish that payload."""
        local, declared = defaults(), defaults_declared()
        for name in ("consumer_timeout_seconds", "consumer_memory_mb", "batch_size"):
            self.assertIsNone(declared[name], f"{name} is derived unless set")
        derived = consumer_sizing(declared["max_upload_bytes"])
        self.assertTrue(derived["ok"], derived)
        self.assertEqual((local["consumer_timeout_seconds"], local["batch_size"], local["consumer_memory_mb"]),
                         (derived["timeout"], derived["batch"], derived["memory"]), derived)
        # The model is the HCL: each derivation as written in consumer.tf.
        written = locals_()
        self.assertIn("10 * local.largest_payload_seconds + local.consumer_overhead_seconds",
                      written["consumer_timeout_seconds"])
        self.assertIn("min(900, max(60,", written["consumer_timeout_seconds"])
        self.assertIn("max(1, min(10, floor((local.consumer_timeout_seconds - local.consumer_overhead_seconds) / max(local.largest_payload_seconds, 1))))",
                      written["batch_size"])
        self.assertIn("for memory in [256, 512, 1024, 1769]", written["consumer_memory_mb"])
        self.assertEqual(written["consumer_streamable_bytes"],
                         "${floor(local.consumer_bytes_per_second * max(local.consumer_timeout_seconds - local.consumer_overhead_seconds, 0))}")
        self.assertEqual(written["s3_stream_bytes_per_second"], 85000000)
        self.assertEqual(written["one_vcpu_memory_mb"], 1769)
        # 5 TiB uploads: no consumer finishes one in 15 minutes, so Terraform refuses the
        # combination unless larger payloads are parked.
        self.assertFalse(consumer_sizing(5 * 1024**4)["ok"])
        limit = consumer_sizing(5 * 1024**4)["streamable"]
        self.assertTrue(consumer_sizing(5 * 1024**4, consumer_max=limit)["ok"])
        self.assertFalse(consumer_sizing(5 * 1024**4, consumer_max=limit + 1)["ok"])
        # A set timeout or memory too small for the default maximum is refused too.
        self.assertFalse(consumer_sizing(declared["max_upload_bytes"], timeout=60)["ok"])
        self.assertTrue(consumer_sizing(64 * 1024**2, timeout=60)["ok"])
        # Small uploads: a minute, batches of ten.
        small = consumer_sizing(64 * 1024**2)
        self.assertEqual((small["timeout"], small["batch"]), (60, 10))
        precondition = blocks(blocks(resources("aws_lambda_function")["function"], "lifecycle")[0],
                              "precondition")[0]
        self.assertEqual(precondition["condition"],
                         '${each.key != "consumer" || local.largest_payload_bytes <= local.consumer_streamable_bytes}')
        self.assertEqual(env_of("consumer")["CLAIMCHECK_MAX_PAYLOAD_BYTES"],
                         "${tostring(local.consumer_max_payload_bytes)}")
        self.assertEqual(written["consumer_max_payload_bytes"],
                         "${var.consumer_max_payload_bytes > 0 ? var.consumer_max_payload_bytes : local.consumer_streamable_bytes}")

    def test_ledger_names(self):
        table = resources("aws_dynamodb_table")["ledger"]
        index = blocks(table, "global_secondary_index")[0]
        self.assertEqual(index["name"], defaults()["status_index"])
        pending = blocks(table, "global_secondary_index")[1]
        self.assertEqual(pending["name"], defaults()["pending_index"])
        query = [s for s in function_statements("presign-upload") if "dynamodb:Query" in s.actions]
        self.assertEqual([s.resources for s in query],
                         [["${aws_dynamodb_table.ledger.arn}/index/" + defaults()["pending_index"]]])
        self.assertEqual(blocks(table, "ttl")[0]["attribute_name"], defaults()["ttl_attribute"])
        query = [s for s in function_statements("redriver") if "dynamodb:Query" in s.actions]
        self.assertEqual([s.resources for s in query],
                         [["${aws_dynamodb_table.ledger.arn}/index/" + defaults()["status_index"]]])

    def test_api_authorization_and_cors(self):
        api = resources("aws_apigatewayv2_api")["http"]
        cors = blocks(api, "dynamic")[0]["cors_configuration"]
        self.assertEqual(cors["for_each"], "${length(var.cors_allowed_origins) > 0 ? [1] : []}")
        content = cors["content"][0]
        self.assertEqual(content["allow_origins"], "${var.cors_allowed_origins}")
        self.assertEqual(content["allow_headers"], "${local.defaults.api_cors_allowed_headers}")
        self.assertEqual(locals_()["defaults"], '${jsondecode(file("${path.module}/defaults.json"))}')
        self.assertEqual(content["allow_methods"], ["GET", "POST", "DELETE"])
        bucket_rule = blocks(resources("aws_s3_bucket_cors_configuration")["payloads"], "cors_rule")[0]
        self.assertEqual(bucket_rule["allowed_headers"], "${local.defaults.bucket_cors_allowed_headers}")
        self.assertLessEqual({"content-type", "content-length", "if-none-match", "x-amz-checksum-sha256"},
                             set(defaults()["bucket_cors_allowed_headers"]))
        # The headers a signed or token-bearing browser call carries.
        self.assertLessEqual({"authorization", "content-type", "x-amz-date", "x-amz-security-token"},
                             set(defaults()["api_cors_allowed_headers"]))
        route = resources("aws_apigatewayv2_route")["route"]
        self.assertIn("local.route_scopes", route["authorization_scopes"])
        scopes = locals_()["route_scopes"]
        for route_key in ["POST /uploads", "GET /uploads/{id}/parts", "POST /uploads/{id}/complete",
                          "DELETE /uploads/{id}"]:
            self.assertEqual(scopes[route_key], "${local.upload_route_scopes}", route_key)
        self.assertIn("var.upload_scopes", locals_()["upload_route_scopes"])
        self.assertIn("var.read_scopes", scopes["GET /payloads/{id}"])
        environment = {f: {k: evaluate_or_text(v) for k, v in env_of(f).items()} for f in FUNCTIONS}
        self.assertEqual(environment["presign-upload"]["CLAIMCHECK_REQUIRE_SHA256"], "true")
        self.assertEqual(environment["presign-upload"]["CLAIMCHECK_MAX_PENDING_UPLOADS"],
                         str(defaults()["max_pending_uploads"]))

    def test_resources_use_the_settings(self):
        queues = resources("aws_sqs_queue")
        local = defaults()
        self.assertEqual(evaluate(queues["work"]["message_retention_seconds"]), local["queue_retention_seconds"])
        self.assertEqual(evaluate(queues["dlq"]["message_retention_seconds"]), local["dlq_retention_seconds"])
        self.assertEqual(queues["work"]["visibility_timeout_seconds"], "${local.visibility_timeout_seconds}")
        self.assertRegex(queues["work"]["redrive_policy"], r"maxReceiveCount\s*=\s*var\.max_receive_count\b")
        self.assertRegex(queues["work"]["redrive_policy"], r"deadLetterTargetArn\s*=\s*aws_sqs_queue\.dlq\.arn\b")
        mapping = resources("aws_lambda_event_source_mapping")["consumer"]
        self.assertEqual(mapping["batch_size"], "${local.batch_size}")
        self.assertEqual(evaluate(mapping["maximum_batching_window_in_seconds"]), local["maximum_batching_window_seconds"])
        schedule = resources("aws_scheduler_schedule")["reconcile"]
        self.assertEqual(evaluate(schedule["schedule_expression"]), local["reconcile_schedule"])
        rules = {r["id"]: r for r in blocks(resources("aws_s3_bucket_lifecycle_configuration")["payloads"], "rule")}
        expire = rules["expire-payloads"]
        self.assertEqual(evaluate(blocks(expire, "expiration")[0]["days"]), local["payload_retention_days"])
        self.assertEqual(evaluate(blocks(expire, "filter")[0]["prefix"]), local["uploads_prefix"])
        messages = rules["expire-messages"]
        self.assertEqual(evaluate(blocks(messages, "expiration")[0]["days"]), local["payload_retention_days"])
        self.assertEqual(evaluate(blocks(messages, "filter")[0]["prefix"]), local["messages_prefix"])
        environment = {f: {k: evaluate_or_text(v) for k, v in env_of(f).items()} for f in FUNCTIONS}
        self.assertEqual(environment["consumer"]["CLAIMCHECK_MAX_RECEIVE_COUNT"], str(local["max_receive_count"]))
        self.assertEqual(environment["consumer"]["CLAIMCHECK_LEASE_SECONDS"], "${tostring(local.lease_seconds)}")
        self.assertEqual(environment["consumer"]["CLAIMCHECK_DELETE_AFTER_DONE"], "false")
        self.assertEqual(environment["presign-upload"]["CLAIMCHECK_UPLOAD_URL_SECONDS"], str(local["upload_url_seconds"]))
        self.assertEqual(environment["presign-upload"]["CLAIMCHECK_MAX_UPLOAD_BYTES"], str(local["max_upload_bytes"]))
        for variable, name in [("multipart_threshold_bytes", "CLAIMCHECK_MULTIPART_THRESHOLD_BYTES"),
                               ("part_size_bytes", "CLAIMCHECK_PART_SIZE_BYTES"),
                               ("multipart_upload_seconds", "CLAIMCHECK_MULTIPART_UPLOAD_SECONDS")]:
            self.assertEqual(environment["presign-upload"][name], str(local[variable]))
        self.assertEqual(environment["presign-upload"]["CLAIMCHECK_ALLOWED_CONTENT_TYPES"], "")
        self.assertEqual(environment["presign-download"]["CLAIMCHECK_DOWNLOAD_URL_SECONDS"], str(local["download_url_seconds"]))
        self.assertEqual(environment["redriver"]["CLAIMCHECK_MAX_REDRIVES"], str(local["max_redrives"]))
        self.assertEqual(environment["redriver"]["CLAIMCHECK_QUEUED_STALL_SECONDS"], str(local["queued_stall_seconds"]))
        self.assertEqual(environment["producer"]["CLAIMCHECK_UNKNOWN_OBJECTS"], "ignore")
        self.assertEqual(environment["producer"]["CLAIMCHECK_SIZE_ATTRIBUTE"], "current")
        for function in FUNCTIONS:
            if "CLAIMCHECK_UPLOADS_PREFIX" in environment[function]:
                self.assertEqual(environment[function]["CLAIMCHECK_UPLOADS_PREFIX"], local["uploads_prefix"], function)

    def test_visibility_is_at_least_six_consumer_timeouts(self):
        queue = resources("aws_sqs_queue")["work"]
        function = resources("aws_lambda_function")["function"]
        self.assertEqual(function["timeout"], "${local.timeouts[each.key]}")
        self.assertEqual(locals_()["timeouts"], "${merge(var.timeout_seconds, {consumer = local.consumer_timeout_seconds})}")
        self.assertEqual(locals_()["memories"], "${merge(var.memory_mb, {consumer = local.consumer_memory_mb})}")
        self.assertEqual(queue["visibility_timeout_seconds"], "${local.visibility_timeout_seconds}")

    def test_the_dlq_keeps_messages_longer_than_the_work_queue(self):
        """A message moved to the DLQ keeps its original enqueue time (AWS's guidance)."""
        declared = defaults_declared()
        self.assertGreater(declared["dlq_retention_seconds"], declared["queue_retention_seconds"])
        dlq = resources("aws_sqs_queue")["dlq"]
        conditions = [p["condition"] for p in blocks(blocks(dlq, "lifecycle")[0], "precondition")]
        self.assertIn("${var.dlq_retention_seconds > var.queue_retention_seconds}", conditions)

    def test_the_ledger_is_protected_from_deletion_and_arns_are_outputs(self):
        table = resources("aws_dynamodb_table")["ledger"]
        self.assertEqual(table["deletion_protection_enabled"], "${var.ledger_deletion_protection}")
        self.assertIs(defaults_declared()["ledger_deletion_protection"], True)
        arns = outputs()["arns"]["value"]
        for name, reference in [("bucket", "aws_s3_bucket.payloads.arn"), ("queue", "aws_sqs_queue.work.arn"),
                                ("dlq", "aws_sqs_queue.dlq.arn"), ("table", "aws_dynamodb_table.ledger.arn"),
                                ("api", "aws_apigatewayv2_api.http.arn")]:
            self.assertIn(reference, str(arns[name]), name)

    def test_payloads_outlive_every_message(self):
        declared = defaults_declared()
        self.assertGreater(declared["payload_retention_days"] * 86400,
                           declared["queue_retention_seconds"] + declared["dlq_retention_seconds"])
        lifecycle = resources("aws_s3_bucket_lifecycle_configuration")["payloads"]
        conditions = [p["condition"] for p in blocks(blocks(lifecycle, "lifecycle")[0], "precondition")]
        self.assertIn("${var.payload_retention_days * 86400 > var.queue_retention_seconds + var.dlq_retention_seconds}",
                      conditions)


class Resources(unittest.TestCase):
    def test_bucket_is_private_encrypted_tls_only_and_expires_payloads(self):
        block = resources("aws_s3_bucket_public_access_block")["payloads"]
        for flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]:
            self.assertIs(block[flag], True, flag)
        ownership = resources("aws_s3_bucket_ownership_controls")["payloads"]
        self.assertEqual(blocks(ownership, "rule")[0]["object_ownership"], "BucketOwnerEnforced")
        sse = blocks(blocks(resources("aws_s3_bucket_server_side_encryption_configuration")["payloads"], "rule")[0],
                     "apply_server_side_encryption_by_default")[0]
        self.assertEqual(sse["sse_algorithm"], '${var.kms_key_arn == null ? "AES256" : "aws:kms"}')
        deny = statements(data_sources("aws_iam_policy_document")["bucket"], "bucket")
        self.assertEqual([(s.sid, s.effect) for s in deny],
                         [("DenyOverwritingUploads", "Deny"), ("DenyInsecureTransport", "Deny")])
        bucket_statements = {s["sid"]: s for s in data_sources("aws_iam_policy_document")["bucket"]["statement"]}
        condition = blocks(bucket_statements["DenyInsecureTransport"], "condition")[0]
        self.assertEqual((condition["test"], condition["variable"], condition["values"]),
                         ("Bool", "aws:SecureTransport", ["false"]))
        # Single-use upload URLs: a PutObject into the uploads prefix without If-None-Match is
        # refused for everyone (the URL signs it; no caller can leave it out).
        overwriting = bucket_statements["DenyOverwritingUploads"]
        self.assertEqual((overwriting["actions"], overwriting["resources"]),
                         (["s3:PutObject"], ["${local.uploads_arn}"]))
        conditions = {(c["test"], c["variable"]): c["values"] for c in blocks(overwriting, "condition")}
        self.assertEqual(conditions, {("Null", "s3:if-none-match"): ["true"],
                                      ("StringEquals", "s3:ObjectCreationOperation"): ["PutObject"]})
        self.assertEqual(resources("aws_s3_bucket_policy")["payloads"]["policy"],
                         "${data.aws_iam_policy_document.bucket.json}")
        versioning = resources("aws_s3_bucket_versioning")["payloads"]
        self.assertEqual(evaluate(blocks(versioning, "versioning_configuration")[0]["status"]), "Disabled")
        rules = {r["id"]: r for r in blocks(resources("aws_s3_bucket_lifecycle_configuration")["payloads"], "rule")}
        # A day after reconcile's own abort at the end of multipart_upload_seconds (24 h by default).
        abort_days = blocks(rules["abort-incomplete-multipart-uploads"], "abort_incomplete_multipart_upload")[0]
        self.assertEqual(abort_days["days_after_initiation"], "${ceil(var.multipart_upload_seconds / 86400) + 1}")
        self.assertEqual(defaults()["multipart_upload_seconds"], 86400)
        self.assertEqual({r["status"] for r in rules.values()}, {"Enabled"})
        # What the extended client marks instead of deleting (PayloadStore::expire_later) expires,
        # wherever it is, no sooner than the payloads themselves.
        marked = rules["expire-marked-payloads"]
        tag = blocks(blocks(marked, "filter")[0], "tag")[0]
        self.assertEqual((tag["key"], tag["value"]), (code_constant_str("EXPIRED_TAG_KEY"),
                                                      code_constant_str("EXPIRED_TAG_VALUE")))
        self.assertEqual(blocks(marked, "expiration")[0]["days"], "${var.payload_retention_days}")

    def test_cors_only_when_origins_are_given(self):
        cors = resources("aws_s3_bucket_cors_configuration")["payloads"]
        self.assertEqual(cors["count"], "${length(var.cors_allowed_origins) > 0 ? 1 : 0}")
        self.assertEqual(defaults_declared()["cors_allowed_origins"], [])
        rule = blocks(cors, "cors_rule")[0]
        self.assertIn("PUT", rule["allowed_methods"])
        self.assertEqual(rule["allowed_origins"], "${var.cors_allowed_origins}")

    def test_uploads_invoke_the_producer_from_this_bucket_and_account_only(self):
        notification = resources("aws_s3_bucket_notification")["uploads"]
        target = blocks(notification, "lambda_function")[0]
        self.assertEqual(target["lambda_function_arn"], '${aws_lambda_function.function["producer"].arn}')
        self.assertEqual(target["events"], ["s3:ObjectCreated:*"])
        self.assertEqual(evaluate(target["filter_prefix"]), defaults()["uploads_prefix"])
        permission = resources("aws_lambda_permission")["s3_invokes_producer"]
        self.assertEqual(permission["principal"], "s3.amazonaws.com")
        self.assertEqual(permission["source_arn"], "${aws_s3_bucket.payloads.arn}")
        self.assertEqual(permission["source_account"], "${data.aws_caller_identity.current.account_id}")
        self.assertIn("${aws_lambda_permission.s3_invokes_producer}", notification["depends_on"])

    def test_queues_redrive_and_encryption(self):
        queues = resources("aws_sqs_queue")
        self.assertEqual(set(queues), {"work", "dlq", "producer_failures"})
        for name, queue in queues.items():
            self.assertEqual(queue["sqs_managed_sse_enabled"], "${var.kms_key_arn == null}", name)
            self.assertEqual(queue["kms_master_key_id"], "${var.kms_key_arn}", name)
        self.assertEqual(evaluate(queues["producer_failures"]["message_retention_seconds"]), 1209600)
        allow = resources("aws_sqs_queue_redrive_allow_policy")["dlq"]
        self.assertEqual(allow["queue_url"], "${aws_sqs_queue.dlq.id}")
        self.assertRegex(allow["redrive_allow_policy"], r'redrivePermission\s*=\s*"byQueue"')
        self.assertRegex(allow["redrive_allow_policy"], r"sourceQueueArns\s*=\s*\[aws_sqs_queue\.work\.arn\]")

    def test_ledger(self):
        table = resources("aws_dynamodb_table")["ledger"]
        self.assertEqual(table["billing_mode"], "PAY_PER_REQUEST")
        self.assertEqual(table["hash_key"], "id")
        attributes = {a["name"]: a["type"] for a in blocks(table, "attribute")}
        self.assertEqual(attributes, {"id": "S", "status_shard": "S", "updated_at": "N",
                                      "pending_owner": "S", "created_at": "N"})
        # Sparse, sharded and keys only, named as the code queries it.
        index = blocks(table, "global_secondary_index")[0]
        self.assertEqual((index["name"], index["hash_key"], index["range_key"],
                          index["projection_type"]),
                         (rust_constant("STATUS_INDEX"), "status_shard", "updated_at", "KEYS_ONLY"))
        # Sparse and narrow: keys and the URL's expiry, for the per-caller pending count.
        pending = blocks(table, "global_secondary_index")[1]
        self.assertEqual(pending["name"], rust_constant("PENDING_INDEX"))
        self.assertEqual((pending["hash_key"], pending["range_key"], pending["projection_type"],
                          pending["non_key_attributes"]),
                         ("pending_owner", "created_at", "INCLUDE", ["url_expires_at"]))
        self.assertIs(blocks(table, "ttl")[0]["enabled"], True)
        self.assertIs(blocks(table, "point_in_time_recovery")[0]["enabled"], True)
        self.assertIs(blocks(table, "server_side_encryption")[0]["enabled"], True)

    def test_functions_run_the_zips_with_json_logs_in_their_own_log_groups(self):
        self.assertEqual(locals_()["functions"], FUNCTIONS)
        function = resources("aws_lambda_function")["function"]
        self.assertEqual(function["for_each"], "${toset(local.functions)}")
        self.assertEqual(function["function_name"], "${var.name}-${each.key}")
        self.assertEqual(function["runtime"], "provided.al2023")
        self.assertEqual(function["handler"], "bootstrap")
        self.assertEqual(function["architectures"], ["${var.architecture}"])
        self.assertEqual(defaults_declared()["architecture"], "arm64")
        self.assertIn('contains(["arm64", "x86_64"], var.architecture)',
                      blocks(variables()["architecture"], "validation")[0]["condition"])
        self.assertEqual(function["filename"], "${var.lambda_zip_dir}/${each.key}/bootstrap.zip")
        self.assertEqual(function["source_code_hash"], '${filebase64sha256("${var.lambda_zip_dir}/${each.key}/bootstrap.zip")}')
        self.assertEqual(defaults_declared()["lambda_zip_dir"], "../target/lambda")
        self.assertEqual(function["role"], "${aws_iam_role.function[each.key].arn}")
        logging = blocks(function, "logging_config")[0]
        self.assertEqual(logging["log_format"], "JSON")
        self.assertEqual(logging["log_group"], "${aws_cloudwatch_log_group.function[each.key].name}")
        self.assertIn("${aws_cloudwatch_log_group.function}", function["depends_on"])
        groups = resources("aws_cloudwatch_log_group")["function"]
        self.assertEqual(groups["name"], "/aws/lambda/${var.name}-${each.key}")
        self.assertEqual(groups["retention_in_days"], "${var.log_retention_days}")
        self.assertEqual(defaults_declared()["log_retention_days"], 30)
        self.assertEqual(set(defaults_declared()["memory_mb"]) | {"consumer"}, set(FUNCTIONS))
        self.assertEqual(set(defaults_declared()["timeout_seconds"]) | {"consumer"}, set(FUNCTIONS))

    def test_environment_is_exactly_what_each_function_reads(self):
        for function in FUNCTIONS:
            names = set(env_of(function))
            self.assertEqual(names, ENVIRONMENT[function], function)
            # And against the code itself: nothing it never reads, nothing it requires missing.
            self.assertLessEqual(names, code_environment_names(function), f"{function}: Terraform sets names its code never reads")
            self.assertLessEqual(code_required_names(function), names, f"{function}: a required setting is missing")

    def test_consumer_mapping_reports_batch_item_failures(self):
        mapping = resources("aws_lambda_event_source_mapping")["consumer"]
        self.assertEqual(mapping["event_source_arn"], "${aws_sqs_queue.work.arn}")
        self.assertEqual(mapping["function_name"], '${aws_lambda_function.function["consumer"].arn}')
        self.assertEqual(mapping["function_response_types"], ["ReportBatchItemFailures"])
        self.assertEqual(blocks(mapping, "scaling_config")[0]["maximum_concurrency"], "${var.consumer_max_concurrency}")
        self.assertEqual(defaults_declared()["consumer_max_concurrency"], 10)
        self.assertIn("var.consumer_max_concurrency >= 2",
                      blocks(variables()["consumer_max_concurrency"], "validation")[0]["condition"])
        self.assertIn("${aws_iam_role_policy.function}", mapping["depends_on"])

    def test_producer_failures_go_to_a_queue_after_two_retries(self):
        config = resources("aws_lambda_function_event_invoke_config")["producer"]
        self.assertEqual(config["function_name"], '${aws_lambda_function.function["producer"].function_name}')
        self.assertEqual(config["maximum_retry_attempts"], 2)
        on_failure = blocks(blocks(config, "destination_config")[0], "on_failure")[0]
        self.assertEqual(on_failure["destination"], "${aws_sqs_queue.producer_failures.arn}")
        destination = [s for s in function_statements("producer") if s.sid == "AsyncFailureDestination"]
        self.assertEqual([(s.actions, s.resources) for s in destination],
                         [(["sqs:SendMessage"], ["${aws_sqs_queue.producer_failures.arn}"])])

    def test_reconcile_schedule_invokes_only_the_redriver(self):
        schedule = resources("aws_scheduler_schedule")["reconcile"]
        target = blocks(schedule, "target")[0]
        self.assertEqual(target["arn"], '${aws_lambda_function.function["redriver"].arn}')
        self.assertEqual(target["input"], '${jsonencode({mode = "reconcile"})}')
        self.assertEqual(target["role_arn"], "${aws_iam_role.scheduler.arn}")
        policy = statements(data_sources("aws_iam_policy_document")["scheduler"], "scheduler")
        literal = [(s.actions, s.resources) for s in policy if s.for_each is None]
        self.assertEqual(literal, [(["lambda:InvokeFunction"], ['${aws_lambda_function.function["redriver"].arn}'])])

    def test_api_routes_authorization_and_stage(self):
        api = resources("aws_apigatewayv2_api")["http"]
        self.assertEqual(api["protocol_type"], "HTTP")
        self.assertEqual(locals_()["routes"], {
            "POST /uploads": "presign-upload",
            "GET /uploads/{id}/parts": "presign-upload",
            "POST /uploads/{id}/complete": "presign-upload",
            "DELETE /uploads/{id}": "presign-upload",
            "GET /payloads/{id}": "presign-download",
        })
        integration = resources("aws_apigatewayv2_integration")["route"]
        self.assertEqual((integration["integration_type"], integration["payload_format_version"]), ("AWS_PROXY", "2.0"))
        self.assertEqual(integration["integration_uri"], "${aws_lambda_function.function[each.value].invoke_arn}")
        route = resources("aws_apigatewayv2_route")["route"]
        self.assertEqual(route["authorization_type"], "${var.api_authorization}")
        self.assertEqual(route["authorizer_id"], '${var.api_authorization == "JWT" ? aws_apigatewayv2_authorizer.jwt[0].id : null}')
        self.assertEqual(defaults_declared()["api_authorization"], "AWS_IAM")
        self.assertIn('contains(["AWS_IAM", "JWT", "NONE"], var.api_authorization)',
                      blocks(variables()["api_authorization"], "validation")[0]["condition"])
        jwt = resources("aws_apigatewayv2_authorizer")["jwt"]
        self.assertEqual(jwt["count"], '${var.api_authorization == "JWT" ? 1 : 0}')
        self.assertEqual(blocks(jwt, "jwt_configuration")[0], {"issuer": "${var.jwt_issuer}", "audience": "${var.jwt_audience}"})
        stage = resources("aws_apigatewayv2_stage")["default"]
        self.assertEqual((stage["name"], stage["auto_deploy"]), ("$default", True))
        throttling = blocks(stage, "default_route_settings")[0]
        self.assertEqual(throttling, {"throttling_burst_limit": "${var.api_throttling_burst}",
                                      "throttling_rate_limit": "${var.api_throttling_rate}"})
        access = blocks(stage, "access_log_settings")[0]
        self.assertEqual(access["destination_arn"], "${aws_cloudwatch_log_group.api.arn}")
        self.assertTrue(access["format"].startswith("${jsonencode({"))
        for field in ["$context.identity.userArn", "$context.authorizer.claims.sub"]:
            self.assertIn(field, access["format"], "the access log records the caller")
        permission = resources("aws_lambda_permission")["api_invokes"]
        self.assertEqual(permission["principal"], "apigateway.amazonaws.com")
        # Each route's statement id, as Terraform computes it: distinct on every function (Lambda
        # refuses a statement id twice) and within Lambda's 100 characters of [A-Za-z0-9_-].
        self.assertEqual(permission["statement_id"],
                         'AllowApiGateway-${trim(replace(each.key, "/[^A-Za-z0-9]+/", "-"), "-")}')
        import re
        ids = ["AllowApiGateway-" + re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-") for key in locals_()["routes"]]
        self.assertEqual(len(set(ids)), len(ids), ids)
        self.assertTrue(all(re.fullmatch(r"[A-Za-z0-9_-]{1,100}", i) for i in ids), ids)
        self.assertTrue(permission["source_arn"].startswith("${aws_apigatewayv2_api.http.execution_arn}/*/"))

    def test_alarms(self):
        alarms = resources("aws_cloudwatch_metric_alarm")
        self.assertEqual(set(alarms), {"queue", "function", "api_5xx", "api_latency", "ledger_throttles",
                                       "consumer_retries", "quarantined"})
        queue = alarms["queue"]
        self.assertEqual(queue["for_each"], "${local.queue_alarms}")
        self.assertEqual((queue["namespace"], queue["metric_name"], queue["dimensions"], queue["threshold"],
                          queue["comparison_operator"], queue["statistic"]),
                         ("AWS/SQS", "${each.value.metric}", {"QueueName": "${each.value.queue}"},
                          "${each.value.threshold}", "GreaterThanThreshold", "Maximum"))
        expected = {
            "dlq-not-empty": ("${aws_sqs_queue.dlq.name}", "ApproximateNumberOfMessagesVisible", 0),
            "dlq-oldest-message": ("${aws_sqs_queue.dlq.name}", "ApproximateAgeOfOldestMessage",
                                   "${var.dlq_age_alarm_seconds}"),
            "work-queue-oldest-message": ("${aws_sqs_queue.work.name}", "ApproximateAgeOfOldestMessage",
                                          "${var.oldest_message_alarm_seconds}"),
            "producer-failures": ("${aws_sqs_queue.producer_failures.name}",
                                  "ApproximateNumberOfMessagesVisible", 0),
        }
        self.assertEqual({k: (v["queue"], v["metric"], v["threshold"]) for k, v in locals_()["queue_alarms"].items()},
                         expected)
        self.assertEqual(blocks(blocks(queue, "lifecycle")[0], "precondition")[0]["condition"],
                         "${var.dlq_age_alarm_seconds < var.dlq_retention_seconds}")
        self.assertIn('setproduct(local.functions, ["Errors", "Throttles"])', alarms["function"]["for_each"])
        self.assertEqual((alarms["function"]["threshold"], alarms["function"]["comparison_operator"]),
                         (0, "GreaterThanThreshold"))
        # The API's 5xx share and p99 latency, on the HTTP API's own dimensions.
        self.assertEqual(locals_()["api_dimensions"],
                         {"ApiId": "${aws_apigatewayv2_api.http.id}", "Stage": "${aws_apigatewayv2_stage.default.name}"})
        rate = {q["id"]: q for q in alarms["api_5xx"]["metric_query"]}
        self.assertEqual(rate["rate"]["expression"], "100 * errors / MAX([requests, 1])")
        self.assertEqual([(rate[i]["metric"][0]["metric_name"], rate[i]["metric"][0]["dimensions"])
                          for i in ("errors", "requests")],
                         [("5xx", "${local.api_dimensions}"), ("Count", "${local.api_dimensions}")])
        self.assertEqual(alarms["api_5xx"]["threshold"], "${var.api_5xx_alarm_percent}")
        latency = alarms["api_latency"]
        self.assertEqual((latency["metric_name"], latency["extended_statistic"], latency["threshold"]),
                         ("Latency", "p99", "${var.api_p99_latency_alarm_ms}"))
        # Throttles of the table and of every index (each index named in the table).
        throttles = alarms["ledger_throttles"]
        self.assertEqual(throttles["metric_query"][0]["expression"], "SUM(METRICS())")
        self.assertEqual(blocks(throttles, "dynamic")[0]["metric_query"]["for_each"],
                         "${local.ledger_throttle_metrics}")
        self.assertIn("for index in aws_dynamodb_table.ledger.global_secondary_index",
                      str(locals_()["ledger_throttle_metrics"]))
        self.assertIn('["Read", "Write"]', str(locals_()["ledger_throttle_metrics"]))
        retries = {q["id"]: q for q in alarms["consumer_retries"]["metric_query"]}
        self.assertEqual(retries["ratio"]["expression"], "100 * retried / MAX([received, 1])")
        self.assertEqual(alarms["consumer_retries"]["threshold"], "${var.retried_alarm_percent}")
        for name, alarm in alarms.items():
            self.assertEqual(alarm["alarm_actions"], "${local.alarm_actions}", name)
            self.assertEqual(alarm["ok_actions"], "${local.alarm_actions}", name)
            self.assertEqual(alarm.get("treat_missing_data"), "notBreaching", name)

    def test_every_alarm_reaches_someone(self):
        # The stack's own topic unless one is given: never no action at all.
        self.assertEqual(locals_()["alarm_actions"],
                         "${var.alarm_sns_topic_arn == null ? [aws_sns_topic.alarms[0].arn] : [var.alarm_sns_topic_arn]}")
        self.assertIsNone(defaults_declared()["alarm_sns_topic_arn"])
        topic = resources("aws_sns_topic")["alarms"]
        self.assertEqual(topic["count"], "${var.alarm_sns_topic_arn == null ? 1 : 0}")
        # Encrypted with a key CloudWatch may use: never the AWS managed alias/aws/sns.
        self.assertEqual(topic["kms_master_key_id"], "${aws_kms_key.alarms[0].arn}")
        key = resources("aws_kms_key")["alarms"]
        self.assertIs(key["enable_key_rotation"], True)
        statements_ = {s.sid: s for s in statements(policy_documents()["alarm_key"], "alarm_key")}
        self.assertEqual(statements_["CloudWatchPublishesAlarms"].principals, ["cloudwatch.amazonaws.com"])
        self.assertEqual(set(statements_["CloudWatchPublishesAlarms"].actions), {"kms:Decrypt", "kms:GenerateDataKey*"})
        publish = statements(policy_documents()["alarm_topic"], "alarm_topic")[0]
        self.assertEqual((publish.actions, publish.principals), (["sns:Publish"], ["cloudwatch.amazonaws.com"]))
        email = resources("aws_sns_topic_subscription")["alarm_email"]
        self.assertEqual((email["protocol"], email["topic_arn"]), ("email", "${aws_sns_topic.alarms[0].arn}"))
        self.assertEqual(defaults_declared()["alarm_emails"], [])
        for name in ("alarm_sns_topic_arn", "alarm_emails", "dlq_age_alarm_seconds", "api_5xx_alarm_percent",
                     "api_p99_latency_alarm_ms", "retried_alarm_percent", "tags"):
            self.assertTrue(blocks(variables()[name], "validation"), f"{name} is validated")
        self.assertEqual(outputs()["alarm_topic_arn"]["value"], "${local.alarm_actions[0]}")

    def test_tags_apply_to_every_resource_through_the_provider(self):
        providers = [p for name in ("versions.tf",) for p in load(name).get("provider", [])]
        aws = [p["aws"] for p in providers if "aws" in p]
        self.assertEqual(len(aws), 1)
        self.assertEqual(blocks(aws[0], "default_tags")[0]["tags"], "${var.tags}")
        self.assertEqual(defaults_declared()["tags"], {})

    def test_dashboard_and_alarms_name_metrics_the_code_emits(self):
        emitted = code_metric_names()
        named = dashboard_and_alarm_metrics()
        self.assertGreaterEqual(len(named), 20)
        for function, metric, dimension in named:
            self.assertIn(metric, emitted[function], f"{function} never emits {metric}")
        widgets = locals_()["dashboard_widgets"]
        self.assertEqual(resources("aws_cloudwatch_dashboard")["stack"]["dashboard_name"], "${var.name}")
        self.assertIn("local.dashboard_widgets", resources("aws_cloudwatch_dashboard")["stack"]["dashboard_body"])
        titles = " ".join(w["title"] for w in widgets)
        for topic in ("Queues", "API", "Ledger", "Functions", "Cold starts", "Redrive"):
            self.assertIn(topic, titles)

    @unittest.skipUnless(METRICS_LOG and os.path.isfile(METRICS_LOG),
                         "needs the metrics log `make test` records (CLAIMCHECK_METRICS_LOG)")
    def test_every_metric_named_was_emitted_in_the_tests_with_its_dimensions(self):
        seen = set()
        with open(METRICS_LOG) as f:
            for line in f:
                document = json.loads(line)
                for directive in document["_aws"]["CloudWatchMetrics"]:
                    for dimensions in directive["Dimensions"]:
                        extra = next((d for d in dimensions if d not in ("stack", "function")), None)
                        for metric in directive["Metrics"]:
                            seen.add((document["function"], metric["Name"], extra))
        for named in dashboard_and_alarm_metrics():
            self.assertIn(named, seen, f"{named}: no test saw it emitted")

    def test_outputs(self):
        self.assertEqual(set(outputs()), OUTPUTS)

    def test_every_resource_kind_is_in_its_file(self):
        expected = {
            "aws_s3_bucket": "storage.tf", "aws_sqs_queue": "queues.tf",
            "aws_dynamodb_table": "ledger.tf", "aws_lambda_function": "functions.tf",
            "aws_apigatewayv2_route": "api.tf", "aws_s3_bucket_notification": "notifications.tf",
            "aws_iam_role": "iam.tf", "aws_cloudwatch_metric_alarm": "alarms.tf",
            "aws_cloudwatch_dashboard": "dashboard.tf", "aws_sns_topic": "alerting.tf",
            "aws_kms_key": "alerting.tf",
        }
        for (kind, label), file in resource_kinds().items():
            if kind in expected:
                self.assertEqual(file, expected[kind], f"{kind}.{label}")


class LeastPrivilege(unittest.TestCase):
    def test_one_role_and_policy_per_function(self):
        role = resources("aws_iam_role")["function"]
        self.assertEqual(role["for_each"], "${toset(local.functions)}")
        self.assertEqual(role["name"], "${var.name}-${each.key}")
        assume = statements(data_sources("aws_iam_policy_document")["assume_lambda"])
        self.assertEqual([(s.actions, s.principals) for s in assume], [(["sts:AssumeRole"], ["lambda.amazonaws.com"])])
        policy = resources("aws_iam_role_policy")["function"]
        self.assertEqual(policy["role"], "${aws_iam_role.function[each.key].id}")
        self.assertEqual(policy["policy"], "${local.function_policies[each.key]}")
        self.assertEqual(locals_()["function_policies"],
                         {f: f"${{data.aws_iam_policy_document.{f.replace('-', '_')}.json}}" for f in FUNCTIONS})
        for function in FUNCTIONS:
            sids = [s.sid for s in function_statements(function)]
            self.assertTrue(sids, function)
            self.assertEqual(len(sids), len(set(sids)), f"{function}: repeated sid")
            self.assertTrue(all(sids), f"{function}: a statement without a sid")

    def test_no_wildcard_unless_justified(self):
        found = set()
        for label, document in policy_documents().items():
            for s in statements(document, label):
                wild = [v for v in s.actions if "*" in v] + [v for v in s.resources + s.principals if v == "*"]
                if not wild:
                    continue
                found.add((label, s.sid))
                self.assertIn((label, s.sid), JUSTIFIED_WILDCARDS, f"{label}/{s.sid}: {wild} is not justified")
                if s.effect == "Allow":
                    self.assertTrue(any(c.startswith("Wildcard justified:") for c in s.comments),
                                    f"{label}/{s.sid}: needs a '# Wildcard justified: ...' comment")
        self.assertEqual(found, set(JUSTIFIED_WILDCARDS), "a justified wildcard is no longer there; drop it from the list")

    def test_function_roles_are_scoped(self):
        for function in FUNCTIONS:
            for s in function_statements(function):
                where = f"{function}/{s.sid}"
                self.assertEqual(s.effect, "Allow", where)
                self.assertTrue(s.actions and s.resources, where)
                services = {a.split(":", 1)[0] for a in s.actions}
                self.assertEqual(len(services), 1, f"{where}: one service per statement")
                for action in s.actions:
                    self.assertNotIn("*", action, where)
                    self.assertRegex(action, r"^[a-z0-9-]+:[A-Za-z]+$", where)
                for resource in s.resources:
                    self.assertNotEqual(resource, "*", where)
                service = services.pop()
                if service == "s3":
                    self.assertLessEqual(set(s.actions), S3_OBJECT_ACTIONS, f"{where}: only object actions")
                    scoped = all(r in ("${local.uploads_arn}", "${local.messages_arn}")
                                 or (r == "${statement.value}" and "local.uploads_arn" in str(s.for_each))
                                 for r in s.resources)
                    self.assertTrue(scoped, f"{where}: S3 objects must be under the uploads or messages prefix: {s.resources}")
                elif service == "logs":
                    self.assertEqual(set(s.actions), {"logs:CreateLogStream", "logs:PutLogEvents"}, where)
                    self.assertEqual(s.resources, [f'${{aws_cloudwatch_log_group.function["{function}"].arn}}:*'], where)
                elif service == "dynamodb":
                    self.assertTrue(all(r.startswith("${aws_dynamodb_table.ledger.arn}") for r in s.resources), where)
                elif service == "sqs":
                    self.assertTrue(all(re.fullmatch(r"\$\{aws_sqs_queue\.[a-z_]+\.arn\}", r) for r in s.resources), where)
                elif service == "kms":
                    self.assertEqual((s.resources, s.for_each), (["${statement.value}"], "${local.kms}"), where)
                else:
                    self.fail(f"{where}: unexpected service {service}")
        self.assertEqual(locals_()["uploads_arn"], "${aws_s3_bucket.payloads.arn}/${var.uploads_prefix}*")
        self.assertEqual(locals_()["messages_arn"], "${aws_s3_bucket.payloads.arn}/${var.messages_prefix}*")
        self.assertEqual(locals_()["kms"], "${var.kms_key_arn == null ? [] : [var.kms_key_arn]}")

    def test_each_role_has_only_its_logs_and_the_consumer_mapping_its_queue(self):
        for function in FUNCTIONS:
            logs = [s for s in function_statements(function) if s.sid == "Logs"]
            self.assertEqual(len(logs), 1, function)
        mapping = [s for s in function_statements("consumer") if s.sid == "EventSourceMapping"]
        self.assertEqual([(sorted(s.actions), s.resources) for s in mapping],
                         [(["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                           ["${aws_sqs_queue.work.arn}"])])
        delete = [s for s in function_statements("consumer") if "s3:DeleteObject" in s.actions]
        self.assertEqual([s.for_each for s in delete], ["${var.delete_after_done ? [local.uploads_arn] : []}"])
        self.assertIs(defaults_declared()["delete_after_done"], False)

    def test_xray_permission_only_with_active_tracing(self):
        policy = resources("aws_iam_role_policy")["xray"]
        self.assertEqual(policy["for_each"], '${var.tracing_mode == "Active" ? toset(local.functions) : toset([])}')
        self.assertEqual(defaults_declared()["tracing_mode"], "PassThrough")
        self.assertEqual(blocks(resources("aws_lambda_function")["function"], "tracing_config")[0]["mode"],
                         "${var.tracing_mode}")


if __name__ == "__main__":
    unittest.main()
