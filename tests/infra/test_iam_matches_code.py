"""Every function's IAM actions equal the AWS actions its code calls.

The calls are not a hand-kept list: `make test` runs the integration tests and the packaged
zips with each function's code signing as `fn-<function>`, and the local endpoint logs every
request it serves with its signer and the IAM action it needs (tests/local_endpoint.py,
`CLAIMCHECK_CALL_LOG`). This compares that log with the role policies in infra/iam.tf."""
import collections
import json
import os
import unittest

from hcl import FUNCTIONS, policy_document_of, statements

# Statements that are not the code's own calls.
NOT_CODE = {
    "Logs": "written by the Lambda runtime's log agent",
    "EventSourceMapping": "called by Lambda's SQS poller for the consumer",
    "Kms": "used by S3, SQS and DynamoDB on the caller's behalf when a key is configured",
}

# Actions the code calls that the local endpoint cannot serve, so the log cannot show them;
# each is exercised with aws-smithy-mocks instead.
NOT_RECORDABLE = {
    ("redriver", "sqs:GetQueueAttributes"): "native mode; tested with SDK mocks (functions/redriver/tests)",
    ("redriver", "sqs:StartMessageMoveTask"): "moto does not implement it; tested with SDK mocks",
    ("redriver", "sqs:ListMessageMoveTasks"): "moto does not implement it; tested with SDK mocks",
}

# Granted only under a setting the default deployment leaves off; its code path is tested.
CONDITIONAL = {("consumer", "s3:DeleteObject"): "DeleteAfterDone (var.delete_after_done)"}


def recorded_calls(path):
    calls = collections.defaultdict(set)
    with open(path, encoding="utf-8") as f:
        for line in f:
            call = json.loads(line)
            principal = call.get("principal") or ""
            if principal.startswith("fn-"):
                calls[principal[3:]].add(f"{call['service']}:{call['action']}")
    return calls


def granted(function):
    actions = set()
    for sid, statement_actions, _, _, _ in statements(policy_document_of(function)):
        if sid not in NOT_CODE:
            actions |= set(statement_actions)
    return actions


@unittest.skipUnless(os.environ.get("CLAIMCHECK_CALL_LOG") and os.path.exists(os.environ.get("CLAIMCHECK_CALL_LOG", "")),
                     "needs the call log `make test` records (CLAIMCHECK_CALL_LOG)")
class IamMatchesCode(unittest.TestCase):
    def test_each_function_is_granted_exactly_what_its_code_calls(self):
        calls = recorded_calls(os.environ["CLAIMCHECK_CALL_LOG"])
        for function in FUNCTIONS:
            with self.subTest(function=function):
                called = calls.get(function, set())
                self.assertTrue(called, f"{function}: no calls recorded; did its tests run as fn-{function}?")
                allowed = granted(function)
                unrecordable = {a for (f, a) in NOT_RECORDABLE if f == function}
                missing = called - allowed
                unused = allowed - called - unrecordable
                self.assertFalse(missing, f"{function}: its code calls {sorted(missing)}, which its role lacks")
                self.assertFalse(unused, f"{function}: its role grants {sorted(unused)}, which its code never calls")

    def test_conditional_grants_cover_what_the_code_calls(self):
        calls = recorded_calls(os.environ["CLAIMCHECK_CALL_LOG"])
        for (function, action), statement in CONDITIONAL.items():
            self.assertIn(action, calls.get(function, set()), f"{function} {action}")
            sids = {sid for sid, actions, _, _, for_each in statements(policy_document_of(function))
                    if action in actions and for_each is not None}
            self.assertTrue(sids, f"{function}: {action} must come from the conditional {statement}")


class Comparison(unittest.TestCase):
    """The comparison itself, on a made-up log."""

    def test_reads_principals_and_ignores_everyone_else(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for principal, service, action in [("fn-producer", "sqs", "SendMessage"),
                                               ("testing", "s3", "CreateBucket"),
                                               (None, "s3", "GetObject"),
                                               ("fn-producer", "s3", "GetObject")]:
                f.write(json.dumps({"principal": principal, "service": service, "action": action}) + "\n")
        try:
            self.assertEqual(recorded_calls(f.name), {"producer": {"sqs:SendMessage", "s3:GetObject"}})
        finally:
            os.unlink(f.name)

    def test_granted_leaves_out_statements_the_code_does_not_use(self):
        self.assertEqual(granted("presign-upload"), {"s3:PutObject", "dynamodb:PutItem"})
        self.assertNotIn("sqs:ReceiveMessage", granted("consumer"))


if __name__ == "__main__":
    unittest.main()
