"""The local endpoint's call log (tests/local_endpoint.py): who signed each request and the
IAM action AWS would authorize it with. The IAM-versus-code test is only as good as this
mapping, so it is checked here on hand-made WSGI requests (no server, no moto)."""
import importlib.util
import io
import json
import os
import tempfile
import threading
import unittest

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


if __name__ == "__main__":
    unittest.main()
