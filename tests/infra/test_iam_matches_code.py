"""Every function's IAM actions equal the AWS actions its code calls, every S3 object it
touched lies under a key prefix its role grants that action on, and every queue it called is
the queue of the stack its role grants that action on (the tests name each queue after the
role it plays, `-work` or `-dlq`, as Terraform and local mode do).

The calls are not a hand-kept list: `make test` runs the integration tests and the packaged
zips with each function's code signing as `fn-<function>`, and the local endpoint logs every
request it serves with its signer and the IAM action it needs (tests/local_endpoint.py,
`CLAIMCHECK_CALL_LOG`; a presigned URL's request counts for the function that signed it, since
AWS authorizes it with that function's role). This compares that log with the role policies
in infra/iam.tf.

CLAIMCHECK_IAM_FUNCTIONS (comma-separated) restricts the comparison to some functions, for a
run of only their tests."""
import collections
import json
import os
import tempfile
import unittest

from hcl import FUNCTIONS, defaults_declared, function_statements

# Statements whose actions are not called by the function's code.
NOT_CODE = {
    "Logs": "written by the Lambda runtime's log agent",
    "EventSourceMapping": "called by Lambda's SQS poller for the consumer",
    "AsyncFailureDestination": "sent by Lambda when an asynchronous invocation fails its retries",
    "Kms": "used by S3, SQS and DynamoDB on the caller's behalf when a key is configured",
}

# Actions the code calls that the local endpoint cannot serve, so the log cannot show them;
# each is exercised with aws-smithy-mocks instead (functions/redriver/tests).
NOT_RECORDABLE = {
    ("redriver", "sqs:GetQueueAttributes"): "native mode only (reads the DLQ's ARN), tested with SDK mocks with the two calls below",
    ("redriver", "sqs:StartMessageMoveTask"): "moto does not implement it; covered by the aws-smithy-mocks test",
    ("redriver", "sqs:ListMessageMoveTasks"): "moto does not implement it; covered by the aws-smithy-mocks test",
}

# Granted only under a setting the default deployment leaves off, by a `dynamic` statement; the
# code path is still tested, so the log must show it.
CONDITIONAL = {("consumer", "s3:DeleteObject"): "DeleteAfterDone (var.delete_after_done)"}


# S3 object keys a function's code touched in the tests under no prefix its role grants, each
# with why a deployment never sees it.
KEYS_NOT_DEPLOYED = {
    ("consumer", "s3:GetObject", ""): "the official Python extended client cannot set a key prefix "
    "(it writes at the bucket's root); the interop test checks the wire format, and the README "
    "says a deployment reads only uploads_prefix and messages_prefix",
}


def _lines(path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                raise AssertionError(f"{path}:{number}: not a JSON line: {line[:80]!r}")


def recorded_keys(path):
    """{function: {("s3:Action", key)}} of every S3 object request signed by `fn-<function>`
    (the log's resource is `bucket/key`; bucket-level requests have no key)."""
    keys = collections.defaultdict(set)
    for call in _lines(path):
        principal = call.get("principal") or ""
        resource = call.get("resource") or ""
        if principal.startswith("fn-") and call["service"] == "s3" and "/" in resource:
            keys[principal[3:]].add((f"s3:{call['action']}", resource.split("/", 1)[1]))
    return dict(keys)


def granted_prefixes(function, statements=None, declared=None):
    """{"s3:Action": {key prefix}} of a function's S3 statements, with the prefixes' Terraform
    defaults: `local.uploads_arn` is the uploads prefix, `local.messages_arn` the messages
    prefix (a dynamic statement's `statement.value` is what its for_each names)."""
    declared = declared if declared is not None else defaults_declared()
    by_local = {"local.uploads_arn": declared["uploads_prefix"],
                "local.messages_arn": declared["messages_prefix"]}
    prefixes = collections.defaultdict(set)
    for s in statements if statements is not None else function_statements(function):
        if s.sid in NOT_CODE:
            continue
        for resource in s.resources:
            source = str(s.for_each) if resource == "${statement.value}" else resource
            named = [prefix for name, prefix in by_local.items() if name in source]
            for action in s.actions:
                if action.startswith("s3:"):
                    if len(named) != 1:
                        raise AssertionError(f"{function}: {s.sid}: S3 resource {resource!r} is not one known prefix")
                    prefixes[action].add(named[0])
    return dict(prefixes)


def key_differences(function, keys, prefixes, not_deployed=KEYS_NOT_DEPLOYED):
    """Messages for each object key the function touched outside what its role grants."""
    problems = []
    for action, key in sorted(keys):
        if any(key.startswith(p) for p in prefixes.get(action, ())):
            continue
        top = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        if (function, action, top) in not_deployed:
            continue
        granted_to = sorted(prefixes.get(action, ())) or "no prefix"
        problems.append(f"{function}: its code called {action} on {key!r}, outside {granted_to} "
                        f"that its role in infra/iam.tf grants it on")
    return problems


# The queues of the stack, by the suffix their names end with (Terraform's and local mode's
# `<name>-work`, `<name>-dlq`; testkit's queue_for), and the resource Terraform grants them by.
QUEUE_ROLES = {"work": "${aws_sqs_queue.work.arn}", "dlq": "${aws_sqs_queue.dlq.arn}"}


def queue_role(resource):
    """The role (`work`, `dlq`) of the queue a logged SQS resource (URL or name) names, or None."""
    name = (resource or "").rstrip("/").rsplit("/", 1)[-1].removesuffix(".fifo")
    return next((role for role in QUEUE_ROLES if name.endswith(f"-{role}")), None)


def recorded_queues(path):
    """{function: {("sqs:Action", role or None, queue)}} of every SQS request signed by
    `fn-<function>`."""
    queues = collections.defaultdict(set)
    for call in _lines(path):
        principal = call.get("principal") or ""
        if principal.startswith("fn-") and call["service"] == "sqs":
            resource = call.get("resource") or ""
            queues[principal[3:]].add((f"sqs:{call['action']}", queue_role(resource), resource))
    return dict(queues)


def granted_queues(function, statements=None):
    """{"sqs:Action": {role}} of a function's SQS statements its code is meant to call."""
    by_resource = {resource: role for role, resource in QUEUE_ROLES.items()}
    granted = collections.defaultdict(set)
    for s in statements if statements is not None else function_statements(function):
        if s.sid in NOT_CODE:
            continue
        for action in s.actions:
            if action.startswith("sqs:"):
                granted[action] |= {by_resource[r] for r in s.resources if r in by_resource}
    return dict(granted)


def queue_differences(function, calls, granted):
    """Messages for each queue call the function's role does not grant on that queue."""
    problems = []
    for action, role, queue in sorted(calls, key=lambda c: (c[0], c[1] or "", c[2])):
        if role is None:
            problems.append(f"{function}: its code called {action} on {queue!r}, which plays no role of "
                            f"the stack (name a test's queues with testkit's queue_for: -work, -dlq)")
        elif role not in granted.get(action, set()):
            problems.append(f"{function}: its code called {action} on the {role} queue, which its role in "
                            f"infra/iam.tf grants on {sorted(granted.get(action, set())) or 'no queue'}")
    return problems


# Lines local mode adds to the call log for what AWS runs around the functions (their
# invocations, API Gateway's requests: cli/src/local/call_log.rs): not calls a role makes.
INVOCATION_SERVICES = {"lambda", "apigateway"}


def recorded_calls(path):
    """{function: {"service:Action"}} of every request signed by `fn-<function>`."""
    calls = collections.defaultdict(set)
    for call in _lines(path):
        principal = call.get("principal") or ""
        if principal.startswith("fn-") and call["service"] not in INVOCATION_SERVICES:
            calls[principal[3:]].add(f"{call['service']}:{call['action']}")
    return dict(calls)


def granted(function, statements=None):
    """The actions of a function's role that its code is meant to call: every statement but
    the NOT_CODE ones, conditional ones included."""
    actions = set()
    for s in statements if statements is not None else function_statements(function):
        if s.sid not in NOT_CODE:
            actions |= set(s.actions)
    return actions


def differences(function, called, allowed, not_recordable=NOT_RECORDABLE):
    """Messages for each way the role and the recorded calls disagree (empty: they match)."""
    if not called:
        return [f"{function}: no calls recorded as fn-{function}; did its tests run with its own "
                f"principal (or set CLAIMCHECK_IAM_FUNCTIONS to check only some functions)?"]
    unrecordable = {action for (f, action) in not_recordable if f == function}
    problems = []
    missing = called - allowed
    if missing:
        problems.append(f"{function}: its code calls {sorted(missing)}, which its role in infra/iam.tf lacks")
    unused = allowed - called - unrecordable
    if unused:
        problems.append(f"{function}: its role in infra/iam.tf grants {sorted(unused)}, which its code never called in the tests")
    absent = unrecordable - allowed
    if absent:
        problems.append(f"{function}: {sorted(absent)} are listed as called but not recordable, yet its role lacks them")
    recorded_anyway = unrecordable & called
    if recorded_anyway:
        problems.append(f"{function}: {sorted(recorded_anyway)} were recorded after all; drop them from NOT_RECORDABLE")
    return problems


def selected_functions():
    chosen = [f.strip() for f in os.environ.get("CLAIMCHECK_IAM_FUNCTIONS", "").split(",") if f.strip()]
    unknown = set(chosen) - set(FUNCTIONS)
    if unknown:
        raise AssertionError(f"CLAIMCHECK_IAM_FUNCTIONS names unknown functions {sorted(unknown)}")
    return chosen or FUNCTIONS


CALL_LOG = os.environ.get("CLAIMCHECK_CALL_LOG", "")


@unittest.skipUnless(CALL_LOG and os.path.isfile(CALL_LOG),
                     "needs the call log `make test` records (CLAIMCHECK_CALL_LOG)")
class IamMatchesCode(unittest.TestCase):
    def test_each_function_is_granted_exactly_what_its_code_calls(self):
        calls = recorded_calls(CALL_LOG)
        problems = []
        for function in selected_functions():
            problems += differences(function, calls.get(function, set()), granted(function))
        if problems:
            self.fail("\n" + "\n".join(problems))

    def test_each_function_touches_only_objects_under_the_prefixes_its_role_grants(self):
        keys = recorded_keys(CALL_LOG)
        problems = []
        for function in selected_functions():
            problems += key_differences(function, keys.get(function, set()), granted_prefixes(function))
        if problems:
            self.fail("\n" + "\n".join(problems))

    def test_each_function_calls_only_the_queues_its_role_grants(self):
        queues = recorded_queues(CALL_LOG)
        problems = []
        for function in selected_functions():
            problems += queue_differences(function, queues.get(function, set()), granted_queues(function))
        if problems:
            self.fail("\n" + "\n".join(problems))

    def test_conditional_grants_come_from_their_conditional_statement(self):
        calls = recorded_calls(CALL_LOG)
        for (function, action), statement in CONDITIONAL.items():
            if function not in selected_functions():
                continue
            self.assertIn(action, calls.get(function, set()),
                          f"{function}: {action} ({statement}) was never called in the tests")
            sources = [s for s in function_statements(function) if action in s.actions]
            self.assertTrue(sources and all(s.for_each is not None for s in sources),
                            f"{function}: {action} must come only from the conditional {statement}")


class Comparison(unittest.TestCase):
    """The comparison itself, on a made-up log and made-up roles."""

    def write_log(self, entries):
        f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
        with f:
            for principal, service, action in entries:
                f.write(json.dumps({"principal": principal, "service": service, "action": action,
                                    "resource": None, "presigned": False}) + "\n")
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_reads_the_functions_principals_and_ignores_everyone_else(self):
        log = self.write_log([("fn-producer", "sqs", "SendMessage"), ("testing", "s3", "CreateBucket"),
                              (None, "s3", "GetObject"), ("fn-producer", "s3", "GetObject"),
                              ("fn-producer", "sqs", "SendMessage"), ("fn-presign-upload", "s3", "PutObject"),
                              ("fn-producer", "lambda", "Invoke"), (None, "apigateway", "POST /uploads")])
        self.assertEqual(recorded_calls(log), {"producer": {"sqs:SendMessage", "s3:GetObject"},
                                               "presign-upload": {"s3:PutObject"}})

    def test_a_broken_line_is_reported_with_its_place(self):
        log = self.write_log([("fn-producer", "sqs", "SendMessage")])
        with open(log, "a", encoding="utf-8") as f:
            f.write("{not json\n")
        with self.assertRaisesRegex(AssertionError, r":2: not a JSON line"):
            recorded_calls(log)

    def test_keys_are_read_from_object_requests_of_functions_only(self):
        f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
        with f:
            for principal, action, resource in [("fn-consumer", "GetObject", "b/uploads/1"),
                                                ("fn-consumer", "ListBucket", "b"),
                                                ("testing", "GetObject", "b/elsewhere/2")]:
                f.write(json.dumps({"principal": principal, "service": "s3", "action": action,
                                    "resource": resource, "presigned": False}) + "\n")
        self.addCleanup(os.unlink, f.name)
        self.assertEqual(recorded_keys(f.name), {"consumer": {("s3:GetObject", "uploads/1")}})

    def test_a_key_outside_the_granted_prefixes_fails_naming_it(self):
        prefixes = {"s3:GetObject": {"uploads/", "messages/"}}
        self.assertEqual(key_differences("consumer", {("s3:GetObject", "messages/a")}, prefixes, {}), [])
        problems = key_differences("consumer", {("s3:GetObject", "d1b6")}, prefixes, {})
        self.assertIn("consumer: its code called s3:GetObject on 'd1b6', outside", problems[0])
        problems = key_differences("producer", {("s3:DeleteObject", "uploads/a")}, prefixes, {})
        self.assertIn("outside no prefix", problems[0])
        excused = {("consumer", "s3:GetObject", ""): "why"}
        self.assertEqual(key_differences("consumer", {("s3:GetObject", "d1b6")}, prefixes, excused), [])

    def test_queue_calls_are_matched_by_the_role_their_queue_plays(self):
        self.assertEqual(queue_role("http://127.0.0.1:1/123456789012/cc-test-ab-dlq"), "dlq")
        self.assertEqual(queue_role("stack-work.fifo"), "work")
        self.assertIsNone(queue_role("http://127.0.0.1:1/123456789012/cc-test-ab"))
        granted = {"sqs:SendMessage": {"dlq"}}
        self.assertEqual(queue_differences("consumer", {("sqs:SendMessage", "dlq", "q-dlq")}, granted), [])
        problems = queue_differences("consumer", {("sqs:SendMessage", "work", "q-work")}, granted)
        self.assertIn("consumer: its code called sqs:SendMessage on the work queue", problems[0])
        problems = queue_differences("consumer", {("sqs:SendMessage", None, "q")}, granted)
        self.assertIn("plays no role of the stack", problems[0])
        self.assertEqual(granted_queues("consumer"), {"sqs:SendMessage": {"dlq"}})
        self.assertEqual(granted_queues("producer"), {"sqs:SendMessage": {"work"}})
        self.assertEqual(granted_queues("redriver")["sqs:SendMessage"], {"work"})
        self.assertEqual(granted_queues("redriver")["sqs:ReceiveMessage"], {"dlq"})

    def test_granted_prefixes_follow_the_roles(self):
        declared = {"uploads_prefix": "uploads/", "messages_prefix": "messages/"}
        self.assertEqual(granted_prefixes("consumer", declared=declared),
                         {"s3:GetObject": {"uploads/", "messages/"}, "s3:DeleteObject": {"uploads/"}})
        self.assertEqual(granted_prefixes("presign-upload", declared=declared),
                         {"s3:PutObject": {"uploads/"}, "s3:ListMultipartUploadParts": {"uploads/"},
                          "s3:AbortMultipartUpload": {"uploads/"}})
        self.assertEqual(granted_prefixes("redriver", declared=declared),
                         {"s3:GetObject": {"uploads/", "messages/"}, "s3:AbortMultipartUpload": {"uploads/"}})

    def test_matching_sets_pass(self):
        self.assertEqual(differences("producer", {"sqs:SendMessage"}, {"sqs:SendMessage"}), [])

    def test_a_call_the_role_lacks_fails_naming_the_function(self):
        problems = differences("producer", {"sqs:SendMessage", "s3:DeleteObject"}, {"sqs:SendMessage"})
        self.assertEqual(len(problems), 1)
        self.assertIn("producer: its code calls ['s3:DeleteObject'], which its role", problems[0])

    def test_a_grant_the_code_never_uses_fails_naming_the_function(self):
        problems = differences("consumer", {"sqs:SendMessage"}, {"sqs:SendMessage", "dynamodb:Scan"})
        self.assertEqual(len(problems), 1)
        self.assertIn("consumer: its role in infra/iam.tf grants ['dynamodb:Scan']", problems[0])

    def test_no_calls_at_all_says_the_tests_did_not_run_as_the_function(self):
        problems = differences("redriver", set(), {"sqs:SendMessage"})
        self.assertIn("no calls recorded as fn-redriver", problems[0])

    def test_not_recordable_actions_are_excused_but_must_be_granted(self):
        excused = {("redriver", "sqs:StartMessageMoveTask"): "mocked"}
        self.assertEqual(differences("redriver", {"sqs:SendMessage"},
                                     {"sqs:SendMessage", "sqs:StartMessageMoveTask"}, excused), [])
        problems = differences("redriver", {"sqs:SendMessage"}, {"sqs:SendMessage"}, excused)
        self.assertIn("listed as called but not recordable, yet its role lacks them", problems[0])
        problems = differences("redriver", {"sqs:SendMessage", "sqs:StartMessageMoveTask"},
                               {"sqs:SendMessage", "sqs:StartMessageMoveTask"}, excused)
        self.assertIn("recorded after all", problems[0])

    def test_granted_leaves_out_what_lambda_and_kms_use(self):
        self.assertEqual(granted("presign-upload"), {
            "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
            "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"})
        self.assertEqual(granted("presign-download"), {"s3:GetObject", "dynamodb:GetItem"})
        self.assertEqual(granted("producer"), {"s3:GetObject", "sqs:SendMessage", "dynamodb:GetItem",
                                               "dynamodb:UpdateItem", "dynamodb:PutItem"})
        self.assertEqual(granted("consumer"), {"sqs:SendMessage", "s3:GetObject", "s3:DeleteObject",
                                               "dynamodb:GetItem", "dynamodb:UpdateItem"})
        self.assertEqual(granted("redriver"), {
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes", "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks",
            "sqs:SendMessage", "s3:GetObject", "s3:AbortMultipartUpload", "dynamodb:Query",
            "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"})

    def test_every_excused_statement_exists_and_every_not_recordable_action_is_granted(self):
        sids = {s.sid for f in FUNCTIONS for s in function_statements(f)}
        self.assertLessEqual({"Logs", "EventSourceMapping", "AsyncFailureDestination", "Kms"}, sids)
        for (function, action), reason in NOT_RECORDABLE.items():
            self.assertIn(action, granted(function), f"{function}: {action} ({reason})")

    def test_the_function_list_can_be_restricted(self):
        saved = os.environ.get("CLAIMCHECK_IAM_FUNCTIONS")
        try:
            os.environ["CLAIMCHECK_IAM_FUNCTIONS"] = "producer, consumer"
            self.assertEqual(selected_functions(), ["producer", "consumer"])
            os.environ["CLAIMCHECK_IAM_FUNCTIONS"] = "producer,nope"
            with self.assertRaisesRegex(AssertionError, "unknown functions"):
                selected_functions()
            del os.environ["CLAIMCHECK_IAM_FUNCTIONS"]
            self.assertEqual(selected_functions(), FUNCTIONS)
        finally:
            if saved is not None:
                os.environ["CLAIMCHECK_IAM_FUNCTIONS"] = saved


if __name__ == "__main__":
    unittest.main()
