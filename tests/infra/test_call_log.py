"""The local endpoint's call log (tests/local_endpoint.py): who signed each request and the
IAM action AWS would authorize it with. The IAM-versus-code test is only as good as this
mapping, so it is checked here on hand-made WSGI requests (no server, no moto).

The billing fields (what tests/bench/cost.py prices a run from) depend on moto's tables before
and after each request, so they are checked against the endpoint itself: the Billing* tests
start tests/local_endpoint.py as `make test` does (its main(), with CLAIMCHECK_CALL_LOG, from
the project venv that has moto; this file runs in checkov's venv, which has none), send it
hand-made requests and read the lines each one added. Each expected number is worked out by
hand from the AWS rule cited beside it. Without the project venv (`make venv`) they are
skipped."""
import base64
import importlib.util
import io
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from hcl import ROOT

spec = importlib.util.spec_from_file_location("local_endpoint", os.path.join(ROOT, "tests", "local_endpoint.py"))
endpoint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(endpoint)

V4 = "AWS4-HMAC-SHA256 Credential={key}/20261125/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"


def request(method, path, query="", body=b"", host="127.0.0.1:4566", **headers):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "HTTP_HOST": host, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    for name, value in headers.items():
        environ["CONTENT_TYPE" if name == "CONTENT_TYPE" else "HTTP_" + name.upper()] = value
    return environ


def s3(method, path, query="", key="fn-producer", **headers):
    return request(method, path, query, authorization=V4.format(key=key, service="s3"), **headers)


def actions(environ):
    return endpoint.describe(environ)


class Principal(unittest.TestCase):
    def test_sigv4_header(self):
        self.assertEqual(endpoint.signer(s3("GET", "/b/k")), ("fn-producer", "s3"))

    def test_presigned_sigv4(self):
        environ = request("PUT", "/b/uploads/x", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
                          "fn-presign-upload%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00")
        self.assertEqual(endpoint.signer(environ), ("fn-presign-upload", "s3"))
        self.assertTrue(endpoint.presigned(environ))

    def test_sigv2_header_and_query(self):
        self.assertEqual(endpoint.principal(request("GET", "/b/k", authorization="AWS fn-x:c2ln")), "fn-x")
        environ = request("GET", "/b/k", "AWSAccessKeyId=fn-y&Signature=c2ln&Expires=1")
        self.assertEqual(endpoint.principal(environ), "fn-y")
        self.assertTrue(endpoint.presigned(environ))

    def test_unsigned(self):
        environ = request("GET", "/b/k")
        self.assertEqual(endpoint.signer(environ), (None, None))
        self.assertFalse(endpoint.presigned(environ))


class S3Actions(unittest.TestCase):
    def test_objects(self):
        cases = [
            (("GET", "/b/uploads/a"), [("GetObject", "b/uploads/a")]),
            (("HEAD", "/b/uploads/a"), [("GetObject", "b/uploads/a")]),
            (("GET", "/b/uploads/a", "versionId=3"), [("GetObjectVersion", "b/uploads/a")]),
            (("PUT", "/b/uploads/a"), [("PutObject", "b/uploads/a")]),
            (("POST", "/b/uploads/a", "uploads"), [("PutObject", "b/uploads/a")]),
            (("PUT", "/b/uploads/a", "partNumber=1&uploadId=u"), [("PutObject", "b/uploads/a")]),
            (("POST", "/b/uploads/a", "uploadId=u"), [("PutObject", "b/uploads/a")]),
            (("GET", "/b/uploads/a", "uploadId=u"), [("ListMultipartUploadParts", "b/uploads/a")]),
            (("DELETE", "/b/uploads/a", "uploadId=u"), [("AbortMultipartUpload", "b/uploads/a")]),
            (("DELETE", "/b/uploads/a"), [("DeleteObject", "b/uploads/a")]),
            (("GET", "/b/uploads/a", "tagging"), [("GetObjectTagging", "b/uploads/a")]),
            (("PUT", "/b/uploads/a", "tagging"), [("PutObjectTagging", "b/uploads/a")]),
            (("DELETE", "/b/uploads/a", "tagging"), [("DeleteObjectTagging", "b/uploads/a")]),
            (("GET", "/b/uploads/a", "attributes"), [("GetObjectAttributes", "b/uploads/a")]),
            (("POST", "/b/uploads/a", "restore"), [("RestoreObject", "b/uploads/a")]),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                self.assertEqual(actions(s3(*args)), ("s3", expected))

    def test_copy_reads_its_source(self):
        environ = s3("PUT", "/b/uploads/copy", x_amz_copy_source="/b/uploads/a%20b")
        self.assertEqual(actions(environ), ("s3", [("PutObject", "b/uploads/copy"), ("GetObject", "b/uploads/a b")]))

    def test_put_with_tags_or_acl_needs_those_actions_too(self):
        self.assertEqual(actions(s3("PUT", "/b/k", x_amz_tagging="a=b"))[1],
                         [("PutObject", "b/k"), ("PutObjectTagging", "b/k")])
        self.assertEqual(actions(s3("PUT", "/b/k", x_amz_acl="private"))[1],
                         [("PutObject", "b/k"), ("PutObjectAcl", "b/k")])

    def test_buckets(self):
        cases = [
            (("PUT", "/b"), "CreateBucket"), (("PUT", "/b/"), "CreateBucket"),
            (("DELETE", "/b"), "DeleteBucket"), (("HEAD", "/b"), "ListBucket"),
            (("GET", "/b", "list-type=2&prefix=uploads%2F"), "ListBucket"),
            (("GET", "/b", "uploads"), "ListBucketMultipartUploads"),
            (("GET", "/b", "versions"), "ListBucketVersions"),
            (("PUT", "/b", "notification"), "PutBucketNotification"),
            (("GET", "/b", "notification"), "GetBucketNotification"),
            (("PUT", "/b", "cors"), "PutBucketCORS"), (("DELETE", "/b", "cors"), "PutBucketCORS"),
            (("PUT", "/b", "lifecycle"), "PutLifecycleConfiguration"),
            (("PUT", "/b", "policy"), "PutBucketPolicy"), (("DELETE", "/b", "policy"), "DeleteBucketPolicy"),
            (("PUT", "/b", "versioning"), "PutBucketVersioning"),
            (("GET", "/b", "location"), "GetBucketLocation"),
            (("PUT", "/b", "publicAccessBlock"), "PutBucketPublicAccessBlock"),
            (("PUT", "/b", "ownershipControls"), "PutBucketOwnershipControls"),
            (("PUT", "/b", "encryption"), "PutEncryptionConfiguration"),
            (("POST", "/b", "delete"), "DeleteObject"),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                self.assertEqual(actions(s3(*args)), ("s3", [(expected, "b")]))
        self.assertEqual(actions(s3("GET", "/")), ("s3", [("ListAllMyBuckets", None)]))

    def test_virtual_hosted_addressing(self):
        environ = s3("GET", "/uploads/a", host="payloads.s3.us-east-1.amazonaws.com")
        self.assertEqual(actions(environ), ("s3", [("GetObject", "payloads/uploads/a")]))
        environ = s3("PUT", "/", host="payloads.localhost:4566")
        self.assertEqual(actions(environ), ("s3", [("CreateBucket", "payloads")]))
        environ = s3("GET", "/payloads/k", host="s3.amazonaws.com")
        self.assertEqual(actions(environ), ("s3", [("GetObject", "payloads/k")]))

    def test_utf8_keys(self):
        path = "/b/uploads/ü".encode("utf-8").decode("latin-1")  # as WSGI carries it
        self.assertEqual(actions(s3("GET", path))[1], [("GetObject", "b/uploads/ü")])


class JsonProtocols(unittest.TestCase):
    def json_request(self, target, body, key="fn-consumer", service="sqs"):
        raw = json.dumps(body).encode()
        environ = request("POST", "/", body=raw, authorization=V4.format(key=key, service=service),
                          x_amz_target=target, CONTENT_TYPE="application/x-amz-json-1.0")
        return environ, raw

    def test_sqs_operations_map_to_their_iam_action_and_the_body_is_left_for_moto(self):
        for operation, action in [("SendMessage", "SendMessage"), ("SendMessageBatch", "SendMessage"),
                                  ("DeleteMessageBatch", "DeleteMessage"),
                                  ("ChangeMessageVisibilityBatch", "ChangeMessageVisibility"),
                                  ("ReceiveMessage", "ReceiveMessage"),
                                  ("StartMessageMoveTask", "StartMessageMoveTask")]:
            with self.subTest(operation=operation):
                environ, raw = self.json_request("AmazonSQS." + operation, {"QueueUrl": "http://h/1/work", "x": "é" * 10})
                self.assertEqual(actions(environ), ("sqs", [(action, "http://h/1/work")]))
                self.assertEqual(environ["wsgi.input"].read(), raw)
                self.assertEqual(environ["CONTENT_LENGTH"], str(len(raw)))

    def test_dynamodb(self):
        environ, raw = self.json_request("DynamoDB_20120810.UpdateItem", {"TableName": "ledger"}, service="dynamodb")
        self.assertEqual(actions(environ), ("dynamodb", [("UpdateItem", "ledger")]))
        self.assertEqual(environ["wsgi.input"].read(), raw)
        environ, _ = self.json_request("DynamoDB_20120810.Query", {"TableName": "ledger", "IndexName": "status_shard-updated_at-index"})
        self.assertEqual(actions(environ), ("dynamodb", [("Query", "ledger/index/status_shard-updated_at-index")]))
        environ, _ = self.json_request("DynamoDB_20120810.TransactWriteItems", {"TransactItems": [
            {"Update": {"TableName": "ledger"}}, {"Put": {"TableName": "ledger"}},
            {"Update": {"TableName": "ledger"}}, {"ConditionCheck": {"TableName": "other"}}]})
        self.assertEqual(actions(environ), ("dynamodb", [("UpdateItem", "ledger"), ("PutItem", "ledger"),
                                                         ("ConditionCheckItem", "other")]))

    def test_sqs_query_protocol(self):
        body = b"Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fh%2F1%2Fwork&Version=2012-11-05"
        environ = request("POST", "/", body=body, authorization=V4.format(key="fn-redriver", service="sqs"),
                          CONTENT_TYPE="application/x-www-form-urlencoded")
        self.assertEqual(actions(environ), ("sqs", [("SendMessage", "http://h/1/work")]))
        self.assertEqual(environ["wsgi.input"].read(), body)

    def test_a_body_of_unknown_length_is_not_touched(self):
        environ, raw = self.json_request("AmazonSQS.SendMessage", {"QueueUrl": "q"})
        del environ["CONTENT_LENGTH"]
        self.assertEqual(actions(environ), ("sqs", [("SendMessage", None)]))
        self.assertEqual(environ["wsgi.input"].read(), raw)


class Log(unittest.TestCase):
    def test_lines_from_many_threads_stay_whole(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "calls.jsonl")
            log = endpoint.CallLog(path)

            def work(n):
                for _ in range(50):
                    log.record(s3("GET", f"/b/uploads/{n}", key=f"fn-{n}"))
            threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            log.file.close()
            with open(path, encoding="utf-8") as f:
                lines = [json.loads(line) for line in f]
        self.assertEqual(len(lines), 400)
        self.assertEqual(set(lines[0]), {"principal", "service", "action", "resource", "presigned"})
        self.assertEqual({line["principal"] for line in lines}, {f"fn-{n}" for n in range(8)})

    def test_a_request_it_cannot_read_is_still_served_and_logged(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "calls.jsonl")
            log = endpoint.CallLog(path)
            log.record({"QUERY_STRING": ""})  # no method, no path
            log.file.close()
            with open(path, encoding="utf-8") as f:
                line = json.loads(f.read())
        self.assertEqual(line["service"], "unknown")


# The billing fields, against the endpoint itself (see the module docstring).

ENDPOINT_PYTHON = os.path.join(os.environ.get("CLAIMCHECK_VENV") or os.path.join(ROOT, ".venv"), "bin", "python")
KIB = 1024
_server = None


class Endpoint:
    """tests/local_endpoint.py served on a free loopback port with its call log in a temporary
    directory, started once for every Billing* test (moto's state carries over: each test uses
    tables and queues of its own)."""

    def __init__(self):
        if not os.path.exists(ENDPOINT_PYTHON) or subprocess.call(
                [ENDPOINT_PYTHON, "-c", "import moto"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            raise unittest.SkipTest(f"no moto at {ENDPOINT_PYTHON} (make venv): the billing fields are not checked")
        self.directory = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.directory.name, "calls.jsonl")
        open(self.log, "w").close()
        self.server_log = open(os.path.join(self.directory.name, "server.log"), "w")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, CLAIMCHECK_CALL_LOG=self.log)
        self.process = subprocess.Popen(
            [ENDPOINT_PYTHON, os.path.join(ROOT, "tests", "local_endpoint.py"), "127.0.0.1", str(port)],
            env=env, stdout=self.server_log, stderr=subprocess.STDOUT)
        # Straight to loopback, whatever proxy the environment names.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 20
        while True:
            try:
                self.opener.open(self.url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.server_log.flush()
                    with open(self.server_log.name, encoding="utf-8", errors="replace") as f:
                        output = f.read()[-4000:]
                    self.stop()
                    raise RuntimeError(f"the local endpoint did not start; its output:\n{output}")
                time.sleep(0.05)
        self.offset = 0

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.server_log.close()
        self.directory.cleanup()

    def call(self, path, body, content_type, service, target=None):
        """(status, answer, [the log lines the request added])."""
        headers = {"Content-Type": content_type, "Authorization": V4.format(key="fn-billing", service=service)}
        if target:
            headers["X-Amz-Target"] = target
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()
        # measure() writes a request's lines before its response goes out.
        with open(self.log, encoding="utf-8") as f:
            f.seek(self.offset)
            text = f.read()
            self.offset = f.tell()
        return status, answer, [json.loads(line) for line in text.splitlines()]


def tearDownModule():
    if _server is not None:
        _server.stop()


class Billing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global _server
        if _server is None:
            _server = Endpoint()
        cls.server = _server

    def json_call(self, service, target, body):
        status, answer, lines = self.server.call("/", json.dumps(body).encode(), "application/x-amz-json-1.0",
                                                 service, target)
        self.assertTrue(lines, f"{target} left no line in the call log")
        self.assertNotIn("billing_error", lines[0])
        self.assertEqual(lines[0]["status"], status)
        for line in lines[1:]:
            self.assertTrue(line.get("same_request"), line)
        return status, (json.loads(answer) if answer else {}), lines

    def ddb(self, operation, body, expect=200):
        """The first line of a DynamoDB request (the one its billing fields are on)."""
        status, answer, lines = self.json_call("dynamodb", "DynamoDB_20120810." + operation, body)
        self.assertEqual(status, expect, answer)
        return lines[0]

    def sqs(self, operation, body):
        status, answer, lines = self.json_call("sqs", "AmazonSQS." + operation, body)
        self.assertEqual(status, 200, answer)
        return answer, lines[0]


def S(value):
    return {"S": value}


def N(value):
    return {"N": str(value)}


def strings(size, **attributes):
    """An item of string attributes, padded with a `pad_` string to exactly `size` bytes by the
    rule for strings (the UTF-8 bytes of the name plus those of the value; ASCII here)."""
    used = sum(len(name) + len(value) for name, value in attributes.items()) + len("pad_")
    assert size >= used, (size, used)
    return {**{name: S(value) for name, value in attributes.items()}, "pad_": S("x" * (size - used))}


def table(name, key, indexes=(), types=None):
    """CreateTable's body: `key` [(name, HASH|RANGE)], `indexes` [(name, key, projection)]."""
    names = [n for n, _ in key] + [n for _, index_key, _ in indexes for n, _ in index_key]
    body = {"TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in key],
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": (types or {}).get(n, "S")}
                                     for n in dict.fromkeys(names)]}
    if indexes:
        body["GlobalSecondaryIndexes"] = [
            {"IndexName": index, "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in index_key],
             "Projection": projection} for index, index_key, projection in indexes]
    return body


class BillingSqs(Billing):
    """SQS: "Each 64 KB chunk of a payload is billed as 1 request (for example, an API action
    with a 256 KB payload is billed as 4 requests)" (Amazon SQS pricing / features; 64 KB =
    65,536 bytes), a request of several messages (a batch, a receive) counting its total."""

    queues = 0

    def queue(self):
        type(self).queues += 1
        answer, line = self.sqs("CreateQueue", {"QueueName": f"billing-{self.queues}"})
        self.assertEqual(line["billed_requests"], 1)
        return answer["QueueUrl"]

    def test_a_64_kib_body_is_one_request_one_byte_more_two(self):
        queue = self.queue()
        for size, billed in [(1, 1), (64 * KIB, 1), (64 * KIB + 1, 2), (128 * KIB, 2), (128 * KIB + 1, 3)]:
            with self.subTest(size=size):
                _, line = self.sqs("SendMessage", {"QueueUrl": queue, "MessageBody": "a" * size})
                self.assertEqual((line["operation"], line["messages"], line["request_bytes"], line["billed_requests"]),
                                 ("SendMessage", 1, size, billed))

    def test_message_attributes_count_toward_the_payload(self):
        # "All components of a message attribute are included in the 256 KB message size
        # restriction": its name, data type and value (a binary value as its raw bytes).
        queue = self.queue()
        _, line = self.sqs("SendMessage", {"QueueUrl": queue, "MessageBody": "a" * (64 * KIB - 6),
                                           "MessageAttributes": {"n": {"DataType": "String", "StringValue": "x"}}})
        self.assertEqual(line["request_bytes"], 64 * KIB - 6 + len("n") + len("String") + len("x"))  # 65,538
        self.assertEqual(line["billed_requests"], 2)
        binary = {"b": {"DataType": "Binary", "BinaryValue": base64.b64encode(bytes(10)).decode()}}
        _, line = self.sqs("SendMessage", {"QueueUrl": queue, "MessageBody": "é", "MessageAttributes": binary})
        self.assertEqual(line["request_bytes"], 2 + len("b") + len("Binary") + 10)  # é: 2 UTF-8 bytes
        self.assertEqual(line["billed_requests"], 1)

    def test_a_batch_is_one_request_per_64_kib_of_all_its_messages(self):
        # SendMessageBatch: up to 10 messages in one request, billed on their total payload.
        queue = self.queue()
        entries = [{"Id": str(n), "MessageBody": "m" * 100} for n in range(10)]
        _, line = self.sqs("SendMessageBatch", {"QueueUrl": queue, "Entries": entries})
        self.assertEqual((line["operation"], line["messages"], line["request_bytes"], line["billed_requests"]),
                         ("SendMessageBatch", 10, 1000, 1))
        entries = [{"Id": str(n), "MessageBody": "m" * 7000} for n in range(10)]
        _, line = self.sqs("SendMessageBatch", {"QueueUrl": queue, "Entries": entries})
        self.assertEqual((line["request_bytes"], line["billed_requests"]), (70000, 2))  # not 10, not 1

    def test_receive_is_billed_on_what_it_returns_and_an_empty_receive_is_one_request(self):
        queue = self.queue()
        receive = {"QueueUrl": queue, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0,
                   "MessageAttributeNames": ["All"]}
        # Every API action is at least one request: a ReceiveMessage that returns nothing too
        # (SQS pricing bills empty receives; long polling exists to make fewer of them).
        _, line = self.sqs("ReceiveMessage", receive)
        self.assertEqual((line["messages"], line["response_bytes"], line["billed_requests"]), (0, 0, 1))
        self.sqs("SendMessage", {"QueueUrl": queue, "MessageBody": "r" * (64 * KIB)})
        self.sqs("SendMessage", {"QueueUrl": queue, "MessageBody": "s",
                                 "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}})
        answer, line = self.sqs("ReceiveMessage", receive)
        self.assertEqual(len(answer["Messages"]), 2)
        self.assertEqual((line["messages"], line["response_bytes"], line["billed_requests"]),
                         (2, 64 * KIB + 1 + len("k") + len("String") + len("v"), 2))
        # Deleting them: one request however many entries (no payload).
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(answer["Messages"])]
        _, line = self.sqs("DeleteMessageBatch", {"QueueUrl": queue, "Entries": entries})
        self.assertEqual((line["action"], line["operation"], line["messages"], line["billed_requests"]),
                         ("DeleteMessage", "DeleteMessageBatch", 2, 1))

    def test_the_query_protocol_is_billed_alike(self):
        # The same rule for the older form-encoded protocol, whose ReceiveMessage answers XML.
        queue = self.queue()

        def form(**params):
            from urllib.parse import urlencode
            status, answer, lines = self.server.call(
                "/", urlencode({"Version": "2012-11-05", "QueueUrl": queue, **params}).encode(),
                "application/x-www-form-urlencoded", "sqs")
            self.assertEqual(status, 200, answer)
            self.assertNotIn("billing_error", lines[0])
            return lines[0]

        line = form(Action="SendMessage", MessageBody="q" * (64 * KIB + 1))
        self.assertEqual((line["request_bytes"], line["billed_requests"]), (64 * KIB + 1, 2))
        line = form(Action="ReceiveMessage", MaxNumberOfMessages="10", WaitTimeSeconds="0")
        self.assertEqual((line["messages"], line["response_bytes"], line["billed_requests"]), (1, 64 * KIB + 1, 2))
        line = form(Action="ReceiveMessage", MaxNumberOfMessages="10", WaitTimeSeconds="0")
        self.assertEqual((line["messages"], line["billed_requests"]), (0, 1))


class ItemSize(unittest.TestCase):
    """"DynamoDB item sizes and formats" (Developer Guide, CapacityUnitCalculations.html): an
    item is the sum of its attributes' UTF-8 names and values, where a string is its UTF-8
    bytes, a number "(1 byte per two significant digits) + (1 byte)" after "leading and
    trailing zeroes are trimmed", a binary its raw (not base64) bytes, null and Boolean 1 byte,
    a list or map 3 bytes plus its elements plus "1 byte of overhead" per element (a map's
    elements with their names). Checked on item_size() here, and end to end below."""

    def test_each_type(self):
        cases = [
            ({"S": "héllo"}, 6),  # é is 2 bytes in UTF-8
            ({"S": ""}, 0),
            ({"N": "123"}, 3),  # 3 digits: 2 bytes + 1
            ({"N": "123456"}, 4),  # 6 digits: 3 + 1
            ({"N": "1000"}, 2),  # trailing zeroes trimmed: "1"
            ({"N": "-0.0500"}, 2),  # leading and trailing zeroes and the point: "5"
            ({"N": "12.34"}, 3),  # "1234"
            ({"B": base64.b64encode(bytes(10)).decode()}, 10),  # raw bytes, not the 16 of base64
            ({"BOOL": False}, 1),
            ({"NULL": True}, 1),
            ({"L": []}, 3),
            ({"M": {}}, 3),
            ({"L": [{"S": "ab"}, {"N": "7"}]}, 3 + (2 + 1) + (2 + 1)),
            ({"M": {"k": {"S": "v"}, "kk": {"BOOL": True}}}, 3 + (1 + 1 + 1) + (2 + 1 + 1)),
            ({"L": [{"M": {"a": {"L": []}}}]}, 3 + (3 + (1 + 3 + 1)) + 1),
        ]
        for value, size in cases:
            with self.subTest(value=value):
                self.assertEqual(endpoint.attribute_value_size(value), size)

    def test_an_item_adds_each_attribute_name(self):
        item = {"id": {"S": "a"}, "naïve": {"N": "12345"}}
        self.assertEqual(endpoint.item_size(item), (2 + 1) + (6 + 4))  # ï is 2 bytes
        self.assertEqual(endpoint.item_size(None), 0)


class BillingDynamoDBWrites(Billing):
    """Write units ("DynamoDB read and write operations", read-write-operations.html): an item's
    size "rounded up to the next 1 KB", for PutItem, UpdateItem and DeleteItem "the larger of"
    the item before and after, at least one unit; BatchWriteItem item by item; twice that in
    TransactWriteItems."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls().ddb("CreateTable", table("billing-writes", [("id", "HASH")]))

    def put(self, item, expect=200, **request):
        return self.ddb("PutItem", {"TableName": "billing-writes", "Item": item, **request}, expect)

    def update(self, id_, expression, expect=200, **request):
        return self.ddb("UpdateItem", {"TableName": "billing-writes", "Key": {"id": S(id_)},
                                       "UpdateExpression": expression, **request}, expect)

    def test_put_in_1_kb_steps(self):
        for id_, size, units in [("p", 3, 1), ("p2", 1024, 1), ("p3", 1025, 2), ("p4", 3 * KIB + 1, 4)]:
            with self.subTest(size=size):
                item = strings(size, id=id_) if size > 3 else {"id": S(id_)}  # "id" "p": 3 bytes
                line = self.put(item)
                self.assertEqual((line["operation"], line["write_units"], line["item_bytes"], line["index_write_units"]),
                                 ("PutItem", units, size, 0))

    def test_item_bytes_follow_the_size_rules_end_to_end(self):
        # The same rules as ItemSize, on what moto stored: 3 + 10 + 5 + 3 + 4 + 2 + 4 + 10 + 7 + 4.
        item = {"id": S("a"), "name": S("héllo"), "n": N("12345"), "z": N("-0.0500"),
                "b": {"B": base64.b64encode(b"\0\1\2").decode()}, "t": {"BOOL": True}, "nil": {"NULL": True},
                "l": {"L": [S("ab"), N(7)]}, "m": {"M": {"k": S("v")}}, "e": {"L": []}}
        self.assertEqual(self.put(item)["item_bytes"], 52)

    def test_a_put_over_an_item_is_charged_the_larger_of_the_two(self):
        self.put(strings(1500, id="r"))
        line = self.put(strings(200, id="r"))
        self.assertEqual((line["write_units"], line["item_bytes"]), (2, 1500))

    def test_update_is_charged_the_larger_of_before_and_after(self):
        self.put(strings(900, id="u"))
        line = self.update("u", "SET more = :v", ExpressionAttributeValues={":v": S("m" * 296)})  # + 4 + 296
        self.assertEqual((line["write_units"], line["item_bytes"]), (2, 1200))  # grown past 1 KB
        line = self.update("u", "REMOVE more")
        self.assertEqual((line["write_units"], line["item_bytes"]), (2, 1200))  # shrunk: before counts
        line = self.update("u", "SET pad_ = :v", ExpressionAttributeValues={":v": S("x")})
        self.assertEqual((line["write_units"], line["item_bytes"]), (1, 900))
        # An update that creates its item: only the after.
        line = self.update("u-new", "SET v = :v", ExpressionAttributeValues={":v": S("y")})
        self.assertEqual((line["write_units"], line["item_bytes"]), (1, len("id") + 5 + len("v") + 1))

    def test_a_failed_conditional_update_is_still_charged(self):
        # "If a ConditionExpression evaluates to false during a conditional write, DynamoDB
        # still consumes write capacity from the table": the item's size, one unit when there
        # is none ("Capacity units consumed by conditional writes").
        self.put(strings(1500, id="c"))
        line = self.update("c", "SET st = :to", ConditionExpression="st = :from",
                           ExpressionAttributeValues={":to": S("done"), ":from": S("pending")}, expect=400)
        self.assertEqual((line["status"], line["write_units"], line["item_bytes"]), (400, 2, 1500))
        line = self.update("c-missing", "SET st = :to", ConditionExpression="attribute_exists(id)",
                           ExpressionAttributeValues={":to": S("done")}, expect=400)
        self.assertEqual((line["write_units"], line["item_bytes"]), (1, 0))

    def test_a_failed_conditional_put_is_charged_the_larger_of_the_item_there_and_the_put(self):
        # "The amount of consumed write capacity units depends on the size of the item. This
        # item can be an existing item in the table or a new one you're attempting to create or
        # update. For example, say that an existing item is 300 KB. The new item you're trying
        # to create or update is 310 KB. The write capacity units consumed will be 310 KB."
        self.put(strings(500, id="cp"))
        line = self.put(strings(1500, id="cp"), ConditionExpression="attribute_not_exists(id)", expect=400)
        self.assertEqual((line["write_units"], line["item_bytes"]), (2, 1500))
        self.put(strings(2500, id="cp2"))
        line = self.put(strings(200, id="cp2"), ConditionExpression="attribute_not_exists(id)", expect=400)
        self.assertEqual((line["write_units"], line["item_bytes"]), (3, 2500))

    def test_delete_is_charged_the_deleted_item(self):
        self.put(strings(1500, id="d"))
        line = self.ddb("DeleteItem", {"TableName": "billing-writes", "Key": {"id": S("d")}})
        self.assertEqual((line["write_units"], line["item_bytes"]), (2, 1500))
        line = self.ddb("DeleteItem", {"TableName": "billing-writes", "Key": {"id": S("d")}})
        self.assertEqual((line["write_units"], line["item_bytes"]), (1, 0))

    def test_batch_write_rounds_each_item(self):
        # "If BatchWriteItem writes two items of sizes 500-byte and 3.5 KB, DynamoDB calculates
        # the size as 5 KB (1 KB + 4 KB)", not 4 KB.
        line = self.ddb("BatchWriteItem", {"RequestItems": {"billing-writes": [
            {"PutRequest": {"Item": strings(500, id="b1")}},
            {"PutRequest": {"Item": strings(3584, id="b2")}}]}})
        self.assertEqual((line["write_units"], line["item_bytes"]), (5, 4084))

    def test_transact_write_is_twice_and_charged_when_canceled(self):
        # "Transactional write requests require 2 write capacity units to perform one write per
        # second for items up to 1 KB" (a prepare and a commit), and the transactions page
        # (transaction-apis.html) has that capacity consumed also when the transaction is
        # canceled by a failed condition.
        line = self.ddb("TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": "billing-writes", "Item": strings(500, id="t1")}},
            {"Put": {"TableName": "billing-writes", "Item": strings(1500, id="t2")}}]})
        self.assertEqual((line["write_units"], line["item_bytes"]), (2 * (1 + 2), 2000))
        line = self.ddb("TransactWriteItems", {"TransactItems": [
            {"Update": {"TableName": "billing-writes", "Key": {"id": S("t1")}, "UpdateExpression": "SET a = :a",
                        "ConditionExpression": "attribute_not_exists(id)", "ExpressionAttributeValues": {":a": S("a")}}},
            {"Put": {"TableName": "billing-writes", "Item": strings(1500, id="t3")}}]}, expect=400)
        self.assertEqual((line["write_units"], line["index_write_units"]), (2 * (1 + 2), 0))


class BillingDynamoDBIndexes(Billing):
    """Global secondary index writes (Developer Guide, GSI.html, "Provisioned throughput
    considerations for Global Secondary Indexes"): a new item that defines the index keys, or
    an update that defines them, "one write operation ... to put the item into the index"; an
    update that "changes the value of an indexed key attribute (from A to B), two writes are
    required, one to delete the previous item from the index and another write to put the new
    item into the index"; an indexed attribute deleted, "one write ... to delete the old item
    projection"; not in the index before or after, "no additional write cost"; only projected
    attributes changing, one write. Each in 1 KB steps of the index entry (its keys, the
    table's key and the projected attributes), on top of the table's own units. The indexes
    are the ledger's (infra/ledger.tf): one KEYS_ONLY, one INCLUDE."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        self = cls()
        self.ddb("CreateTable", table("billing-ledger", [("id", "HASH")], [
            ("status", [("status_shard", "HASH"), ("updated_at", "RANGE")], {"ProjectionType": "KEYS_ONLY"}),
            ("owner", [("pending_owner", "HASH"), ("created_at", "RANGE")],
             {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["url_expires_at"]}),
        ], types={"updated_at": "N", "created_at": "N"}))
        self.ddb("CreateTable", table("billing-all", [("id", "HASH")], [
            ("all", [("g", "HASH")], {"ProjectionType": "ALL"})]))

    def update(self, id_, expression, **values):
        return self.ddb("UpdateItem", {"TableName": "billing-ledger", "Key": {"id": S(id_)},
                                       "UpdateExpression": expression,
                                       **({"ExpressionAttributeValues": values} if values else {})})

    def big(self, id_, **attributes):
        item = {"id": S(id_), "status_shard": S("failed#00"), "updated_at": N(1), "pad_": S("x" * 3000)}
        item.update(attributes)
        return self.ddb("PutItem", {"TableName": "billing-ledger", "Item": item})

    def test_a_keys_only_entry_is_written_at_its_own_size(self):
        # A 3 KB item: 3 units on the table, 1 in the KEYS_ONLY index (id, status_shard,
        # updated_at: a few bytes); the same item under an ALL projection: 3 there too.
        line = self.big("k")
        self.assertEqual((line["write_units"], line["index_write_units"]), (3, 1))
        line = self.ddb("PutItem", {"TableName": "billing-all", "Item": strings(3000, id="k", g="g")})
        self.assertEqual((line["write_units"], line["index_write_units"]), (3, 3))

    def test_changing_the_index_sort_key_is_a_delete_and_a_put(self):
        self.big("s")
        line = self.update("s", "SET updated_at = :t", **{":t": N(2)})
        self.assertEqual((line["write_units"], line["index_write_units"]), (3, 2))

    def test_removing_an_index_key_is_one_delete_and_adding_it_one_put(self):
        self.big("r")
        line = self.update("r", "REMOVE status_shard")
        self.assertEqual(line["index_write_units"], 1)
        line = self.update("r", "SET pad_ = :p", **{":p": S("y" * 3000)})  # in no index: nothing
        self.assertEqual((line["write_units"], line["index_write_units"]), (3, 0))
        line = self.update("r", "SET status_shard = :s", **{":s": S("dead#01")})
        self.assertEqual(line["index_write_units"], 1)

    def test_only_projected_attributes_count(self):
        # Both indexes hold the item: 2 puts.
        line = self.big("o", pending_owner=S("alice"), created_at=N(5), url_expires_at=N(9))
        self.assertEqual(line["index_write_units"], 2)
        # A change to an attribute neither projects: no index write.
        line = self.update("o", "SET pad_ = :p", **{":p": S("z" * 3000)})
        self.assertEqual(line["index_write_units"], 0)
        # url_expires_at is projected (INCLUDE) into the owner index only: one write.
        line = self.update("o", "SET url_expires_at = :e", **{":e": N(10)})
        self.assertEqual(line["index_write_units"], 1)

    def test_a_failed_write_writes_no_index(self):
        self.big("f")
        line = self.ddb("UpdateItem", {"TableName": "billing-ledger", "Key": {"id": S("f")},
                                       "UpdateExpression": "SET updated_at = :t", "ConditionExpression": "updated_at = :o",
                                       "ExpressionAttributeValues": {":t": N(3), ":o": N(99)}}, expect=400)
        self.assertEqual((line["write_units"], line["index_write_units"]), (3, 0))


class BillingDynamoDBReads(Billing):
    """Read units ("DynamoDB read and write operations"): an item's size "rounded up to the
    next 4 KB", an eventually consistent read half a strongly consistent one and a transactional
    read twice; "if you perform a read operation on an item that doesn't exist, DynamoDB will
    still consume read throughput"; GetItem and BatchGetItem round each item ("BatchGetItem
    ... processes each item in the batch as an individual GetItem request, so DynamoDB first
    rounds up the size of each item to the next 4 KB boundary, and then calculates the total
    size"); Query sums the items it read, then rounds ("all items returned are treated as a
    single read operation"), whatever a filter or projection leaves ("doing so has no impact
    on the item size calculations"). A global secondary index is read eventually consistently,
    at the size of its entries."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        self = cls()
        self.ddb("CreateTable", table("billing-reads", [("pk", "HASH"), ("sk", "RANGE")], [
            ("keys", [("g", "HASH")], {"ProjectionType": "KEYS_ONLY"})]))
        for sk in "123":
            self.ddb("PutItem", {"TableName": "billing-reads", "Item": strings(1500, pk="p", sk=sk, g="x")})
        self.ddb("PutItem", {"TableName": "billing-reads", "Item": strings(5000, pk="q", sk="big")})

    def get(self, sk, **request):
        return self.ddb("GetItem", {"TableName": "billing-reads", "Key": {"pk": S("q"), "sk": S(sk)}, **request})

    def query(self, **request):
        return self.ddb("Query", {"TableName": "billing-reads", "KeyConditionExpression": "pk = :p",
                                  "ExpressionAttributeValues": {":p": S("p")}, **request})

    def test_get_item_strongly_and_eventually_consistent(self):
        line = self.get("big", ConsistentRead=True)
        self.assertEqual((line["read_units"], line["item_bytes"]), (2, 5000))  # 5,000 B: 8 KB
        self.assertEqual(self.get("big")["read_units"], 1)
        self.assertEqual(self.get("big", ProjectionExpression="pk")["read_units"], 1)  # whole item
        self.assertEqual(self.get("missing", ConsistentRead=True)["read_units"], 1)
        self.assertEqual(self.get("missing")["read_units"], 0.5)

    def test_query_sums_its_items_then_rounds(self):
        # 3 x 1,500 B = 4,500 B: 8 KB, 2 units strongly consistent (3 if each were rounded).
        line = self.query(ConsistentRead=True)
        self.assertEqual((line["read_units"], line["item_bytes"]), (2, 4500))
        self.assertEqual(self.query()["read_units"], 1)
        # A filter that keeps nothing, a projection, a count: the same items were read.
        for request in [{"FilterExpression": "sk = :none", "ExpressionAttributeValues": {":p": S("p"), ":none": S("0")}},
                        {"ProjectionExpression": "sk"}, {"Select": "COUNT"}]:
            with self.subTest(request=request):
                line = self.query(ConsistentRead=True, **request)
                self.assertEqual((line["read_units"], line["item_bytes"]), (2, 4500))
        # An empty result still reads: one unit, halved.
        line = self.ddb("Query", {"TableName": "billing-reads", "KeyConditionExpression": "pk = :p",
                                  "ExpressionAttributeValues": {":p": S("nobody")}})
        self.assertEqual((line["read_units"], line["item_bytes"]), (0.5, 0))

    def test_query_of_a_keys_only_index_reads_its_entries(self):
        # Each entry: pk, sk and g ("pk" "p", "sk" "1", "g" "x"): 8 bytes.
        line = self.ddb("Query", {"TableName": "billing-reads", "IndexName": "keys", "KeyConditionExpression": "g = :g",
                                  "ExpressionAttributeValues": {":g": S("x")}})
        self.assertEqual((line["resource"], line["read_units"], line["item_bytes"]), ("billing-reads/index/keys", 0.5, 24))

    def test_batch_get_rounds_each_item(self):
        keys = [{"pk": S("p"), "sk": S(sk)} for sk in "123"]
        line = self.ddb("BatchGetItem", {"RequestItems": {"billing-reads": {"Keys": keys, "ConsistentRead": True}}})
        self.assertEqual((line["read_units"], line["item_bytes"]), (3, 4500))  # the Query of them: 2
        line = self.ddb("BatchGetItem", {"RequestItems": {"billing-reads": {"Keys": keys}}})
        self.assertEqual(line["read_units"], 1.5)

    def test_transact_get_is_twice_a_strong_read(self):
        line = self.ddb("TransactGetItems", {"TransactItems": [
            {"Get": {"TableName": "billing-reads", "Key": {"pk": S("q"), "sk": S("big")}}}]})
        self.assertEqual((line["read_units"], line["item_bytes"]), (4, 5000))


if __name__ == "__main__":
    unittest.main()
