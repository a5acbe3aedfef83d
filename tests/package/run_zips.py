"""Runs the packaged Lambda zips the way Lambda does: each `bootstrap` is unpacked and started
with Lambda's environment against a Lambda Runtime API stub (the 2018-06-01 interface:
`invocation/next`, `/response`, `/error`, `init/error`), given one real event of its kind, and
its answer is checked. This proves each function's `main.rs` wiring (settings from the
environment, SDK clients, the runtime loop, JSON logging), not only its handler.

    python tests/package/run_zips.py check ZIP_DIR   # in `make test`, against the local endpoint
    python tests/package/run_zips.py bench ZIP_DIR   # `make bench`: init time vs a Python function

Each function runs with its own access key id (`fn-<function>`), so the local endpoint's call
log attributes its calls to it, as in the integration tests.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FUNCTIONS = ["presign-upload", "presign-download", "producer", "consumer", "redriver"]


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a function killed mid-request (as intended) is not an error


class RuntimeApi:
    """A Lambda Runtime API stub serving one event, then holding the next `next` call."""

    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.request_id = str(uuid.uuid4())
        self.first_next = threading.Event()
        self.first_next_at = None
        self.answered = threading.Event()
        self.answer = None
        self.kind = None
        self.served = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                if api.first_next_at is None:
                    api.first_next_at = time.monotonic()
                    api.first_next.set()
                if api.served or api.event is None:
                    # Lambda freezes the process here until the next event; so do we.
                    api.answered.wait(30)
                    time.sleep(30)
                    return
                api.served = True
                deadline = int(time.time() * 1000) + 60_000
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", api.request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:test",
                )
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(api.event)))
                self.end_headers()
                self.wfile.write(api.event)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.kind = self.path.rsplit("/", 1)[-1]
                api.answer = body.decode(errors="replace")
                api.answered.set()

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def address(self):
        host, port = self.server.server_address
        return f"{host}:{port}"

    def close(self):
        self.server.shutdown()


def lambda_environment(function, api, settings):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": f"fn-{function}",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    if os.environ.get("AWS_ENDPOINT_URL"):
        env["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    env.update(settings)
    return env


# ELF e_machine values (the ELF specification): the architectures Lambda runs.
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64"}


def elf_machine(path):
    """The architecture an ELF executable was built for (`x86_64`, `aarch64`)."""
    with open(path, "rb") as f:
        header = f.read(20)
    if header[:4] != b"\x7fELF":
        raise AssertionError(f"{path}: not an ELF executable")
    machine = int.from_bytes(header[18:20], "little")
    if machine not in ELF_MACHINES:
        raise AssertionError(f"{path}: built for ELF machine {machine:#x}, which Lambda does not run")
    return ELF_MACHINES[machine]


def unpack(zip_dir, function, into):
    """Unpacks the function's zip; answers the command that starts its `bootstrap` here:
    itself on its own architecture, under qemu-aarch64 (Debian's qemu-user, with the arm64 C
    library of libc6-arm64-cross) for an arm64 zip on an x86_64 machine."""
    path = os.path.join(zip_dir, function, "bootstrap.zip")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(into)
    bootstrap = os.path.join(into, "bootstrap")
    os.chmod(bootstrap, 0o755)
    machine = elf_machine(bootstrap)
    if machine == os.uname().machine:
        return [bootstrap]
    if machine == "aarch64":
        return ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", bootstrap]
    raise AssertionError(f"{function}: an {machine} zip cannot be started on {os.uname().machine}")


def invoke(command, function, event, settings, timeout=60):
    """Starts `command` as a Lambda function, serves it `event`; returns (kind, answer, logs)."""
    api = RuntimeApi(event)
    try:
        process = subprocess.Popen(
            command,
            env=lambda_environment(function, api, settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        answered = api.answered.wait(timeout)
        process.kill()
        logs, _ = process.communicate()
        if not answered:
            raise AssertionError(f"{function}: no answer within {timeout}s; output:\n{logs.decode()}")
        return api.kind, api.answer, logs.decode(errors="replace")
    finally:
        api.close()


def stack():
    """The resources the functions are configured with, created on the local endpoint."""
    import boto3

    name = "zips-" + uuid.uuid4().hex[:8]
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    ddb = boto3.client("dynamodb")
    s3.create_bucket(Bucket=f"{name}-payloads")
    queue = sqs.create_queue(QueueName=f"{name}-work")["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    ddb.create_table(
        TableName=f"{name}-ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "status_shard", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "N"},
            {"AttributeName": "pending_owner", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "status_shard-updated_at-index",
                "KeySchema": [
                    {"AttributeName": "status_shard", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            # presign-upload counts the caller's unused upload URLs here (infra/ledger.tf).
            {
                "IndexName": "pending_owner-created_at-index",
                "KeySchema": [
                    {"AttributeName": "pending_owner", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["url_expires_at"]},
            },
        ],
    )
    return {
        "CLAIMCHECK_BUCKET": f"{name}-payloads",
        "CLAIMCHECK_TABLE": f"{name}-ledger",
        "CLAIMCHECK_QUEUE_URL": queue,
        "CLAIMCHECK_DLQ_URL": dlq,
        "CLAIMCHECK_STACK_NAME": name,
    }


SHA256_OF_HELLO = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="


def api_event(method, path, body=None):
    """An API Gateway (payload format 2.0) event of a request signed by an IAM user, as the
    default AWS_IAM authorization passes it on."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "run_zips"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": str(uuid.uuid4()), "routeKey": f"{method} {path}",
            "stage": "$default", "time": "25/Nov/2026:00:00:00 +0000", "timeEpoch": 1764028800000,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "run_zips"},
            "authorizer": {"iam": {
                "accessKey": "AKIDEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
                "cognitoIdentity": None, "principalOrgId": None,
                "userArn": "arn:aws:iam::123456789012:user/run-zips", "userId": "AIDAEXAMPLE"}},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def events(settings):
    """One real event per function, and a check of its answer."""
    bucket = settings["CLAIMCHECK_BUCKET"]
    unknown = str(uuid.uuid4())
    s3_event = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "local"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "local"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": f"uploads%2F{unknown}", "size": 5, "eTag": "e", "sequencer": "1"}},
    }]}
    sqs_event = {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "handle", "body": "an inline message",
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764028800000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work", "awsRegion": "us-east-1",
    }]}

    def upload_ok(answer, logs):
        response = json.loads(answer)
        body = json.loads(response["body"])
        assert response["statusCode"] == 201 and body["id"] and body["url"], answer

    def download_unknown(answer, logs):
        response = json.loads(answer)
        assert response["statusCode"] == 404, answer
        assert json.loads(response["body"])["error"]["code"] == "not_found", answer

    def producer_ignored(answer, logs):
        # The producer answers nothing (S3 invokes it asynchronously); its log says what it did.
        assert json.loads(answer) is None, answer
        assert "ignored uploads/" in logs and "no ledger item" in logs, logs

    def consumer_done(answer, logs):
        assert json.loads(answer) == {"batchItemFailures": []}, answer
        # Outcomes in words, not Debug text.
        handled = [json.loads(l) for l in logs.splitlines() if '"record handled"' in l]
        assert handled and handled[0]["fields"]["outcome"] == "done", logs

    def reconcile_nothing(answer, logs):
        report = json.loads(answer)
        assert report["mode"] == "reconcile" and report["complete"], answer
        assert report["stats"]["stalled"] == 0, answer

    return {
        "presign-upload": (api_event("POST", "/uploads", json.dumps({"content_type": "text/csv", "content_length": 5, "sha256": SHA256_OF_HELLO})), upload_ok),
        "presign-download": (api_event("GET", f"/payloads/{unknown}"), download_unknown),
        "producer": (s3_event, producer_ignored),
        "consumer": (sqs_event, consumer_done),
        "redriver": ({"mode": "reconcile"}, reconcile_nothing),
    }


def check(zip_dir):
    settings = stack()
    failures = 0
    for function, (event, verify) in events(settings).items():
        with tempfile.TemporaryDirectory() as into:
            command = unpack(zip_dir, function, into)
            kind, answer, logs = invoke(command, function, event, settings)
            try:
                assert kind == "response", f"{kind}: {answer}"
                verify(answer, logs)
                lines = [l for l in logs.splitlines() if l.strip()]
                for line in lines:
                    json.loads(line)  # AWS_LAMBDA_LOG_FORMAT=JSON: every log line is JSON
                # Its metrics reach stdout as EMF lines (CloudWatch Logs extracts them): the
                # first invocation reports a cold start under the function's own dimension.
                emf = [json.loads(l) for l in lines if l.startswith('{"') and '"_aws"' in l]
                assert any(d.get("ColdStart") == 1 and d.get("function") == function
                           and d.get("stack") == settings["CLAIMCHECK_STACK_NAME"]
                           and d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "claimcheck"
                           for d in emf), f"no EMF cold start line: {emf}"
                how = "under qemu-aarch64" if command[0] == "qemu-aarch64" else "natively"
                print(f"zip {function} ({elf_machine(command[-1])}, {how}): started, handled its event, answered as expected ({len(lines)} JSON log lines)")
            except (AssertionError, ValueError, KeyError) as e:
                failures += 1
                print(f"zip {function}: FAILED: {e}\n{logs}")
    sys.exit(1 if failures else 0)


PYTHON_FUNCTION = r'''
import json, os, urllib.request
import boto3
from sqs_extended_client import SQSExtendedClientSession
session = SQSExtendedClientSession()
s3 = session.client("s3")
sqs = session.client("sqs")
sqs.large_payload_support = os.environ.get("CLAIMCHECK_BUCKET", "bucket")
ddb = session.client("dynamodb")
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.load(r)
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=b"{}", method="POST"))
'''


def init_time(command, function, settings):
    """Wall time from exec to the runtime's first request for an event."""
    api = RuntimeApi(None)
    try:
        started = time.monotonic()
        process = subprocess.Popen(command, env=lambda_environment(function, api, settings),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not api.first_next.wait(30):
            raise AssertionError(f"{function} never asked for an event")
        elapsed = api.first_next_at - started
        process.kill()
        process.wait()
        return elapsed
    finally:
        api.close()


def bench(zip_dir, starts=20):
    settings = {"CLAIMCHECK_BUCKET": "b", "CLAIMCHECK_TABLE": "t",
                "CLAIMCHECK_QUEUE_URL": "http://127.0.0.1:1/q", "CLAIMCHECK_DLQ_URL": "http://127.0.0.1:1/d"}
    rows = []
    with tempfile.TemporaryDirectory() as into:
        script = os.path.join(into, "function.py")
        with open(script, "w") as f:
            f.write(PYTHON_FUNCTION)
        python = [sys.executable, script]
        python_median = statistics.median(init_time(python, "python", settings) for _ in range(starts))
        for function in FUNCTIONS:
            directory = os.path.join(into, function)
            os.makedirs(directory)
            command = unpack(zip_dir, function, directory)
            median = statistics.median(init_time(command, function, settings) for _ in range(starts))
            size = os.path.getsize(os.path.join(zip_dir, function, "bootstrap.zip"))
            rows.append((function, median, python_median / median, size))
    print(f"\nfunction init (exec to first `next`, median of {starts} starts) and zip size")
    print(f"| function | init (ms) | Python boto3 + extended client (ms) | ratio | zip (MB) |")
    print("|---|---|---|---|---|")
    for function, median, ratio, size in rows:
        print(f"| {function} | {median * 1000:.1f} | {python_median * 1000:.1f} | {ratio:.0f}x | {size / 1e6:.2f} |")


if __name__ == "__main__":
    mode, zip_dir = sys.argv[1], sys.argv[2]
    {"check": check, "bench": bench}[mode](zip_dir)
