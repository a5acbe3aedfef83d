"""The local AWS endpoint for tests and local mode: moto's server (what `moto_server` runs),
with one correction.

DynamoDB applies a conditional write atomically: of two concurrent writes to one item whose
condition only one can satisfy, exactly one succeeds. moto's server is threaded and its
DynamoDB backend takes no lock, so two concurrent UpdateItem calls can both pass the same
condition. That would make the tests of racing writers (duplicate S3 events, competing
consumers) test moto's race instead of our code, so DynamoDB requests are served one at a
time here, as DynamoDB's per-item serialization guarantees. S3 and SQS stay concurrent (SQS
long polls must not block other requests).

With `CLAIMCHECK_CALL_LOG` naming a file, every request is also logged there as one JSON
line: who made it (the access key id, from the signature header or a presigned URL's
`X-Amz-Credential`), the service, and the IAM action it needs. Tests run each function's code
with its own key (`fn-<function>`), so the log shows which AWS actions each function's code
really uses; tests/infra/test_iam_matches_code.py compares that with its IAM policy.

Usage: python tests/local_endpoint.py HOST PORT
"""
import json
import os
import re
import sys
import threading
from urllib.parse import parse_qs, unquote

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")

# SDK operations whose IAM action has another name.
SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def principal(environ):
    match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1)
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential")
    if credential:
        return unquote(credential[0]).split("/", 1)[0]
    return None


def s3_action(environ):
    """The IAM action S3 authorizes a REST request with (AWS's documented mapping)."""
    method = environ["REQUEST_METHOD"]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    path = environ.get("PATH_INFO", "/").lstrip("/")
    host = environ.get("HTTP_HOST", "").split(":")[0]
    path_style = host in ("127.0.0.1", "localhost")
    has_key = ("/" in path and path.split("/", 1)[1] != "") if path_style else path != ""
    if has_key:
        if method in ("GET", "HEAD"):
            return "ListMultipartUploadParts" if "uploadId" in query else "GetObject"
        if method in ("PUT", "POST"):
            return "PutObject"
        if method == "DELETE":
            return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    else:
        for sub, actions in (("notification", ("GetBucketNotification", "PutBucketNotification")),
                             ("cors", ("GetBucketCORS", "PutBucketCORS"))):
            if sub in query:
                return actions[0] if method == "GET" else actions[1]
        if method == "PUT":
            return "CreateBucket"
        if method == "DELETE":
            return "DeleteBucket"
        if method == "POST" and "delete" in query:
            return "DeleteObject"
        if method in ("GET", "HEAD"):
            return "ListBucket"
    return method


def describe(environ):
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("AmazonSQS."):
        operation = target.split(".", 1)[1]
        return "sqs", SQS_ACTIONS.get(operation, operation)
    if target.startswith("DynamoDB_"):
        return "dynamodb", target.split(".", 1)[1]
    return "s3", s3_action(environ)


class CallLog:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def record(self, environ):
        service, action = describe(environ)
        line = json.dumps({
            "principal": principal(environ),
            "service": service,
            "action": action,
            "path": environ.get("PATH_INFO", ""),
            "presigned": "X-Amz-Credential" in environ.get("QUERY_STRING", ""),
        })
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    dynamodb = threading.Lock()

    log_path = os.environ.get("CLAIMCHECK_CALL_LOG")
    calls = CallLog(log_path) if log_path else None

    def serve(environ, start_response):
        if calls is not None and not environ.get("PATH_INFO", "").startswith("/moto-api"):
            calls.record(environ)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # The whole response is produced inside the lock.
                return list(app(environ, start_response))
        return app(environ, start_response)

    run_simple(host, port, serve, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
