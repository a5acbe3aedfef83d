"""Runs the packaged Lambda zips the way Lambda does: each `bootstrap` is unpacked and started
with Lambda's environment against a Lambda Runtime API stub (the 2018-06-01 interface:
`invocation/next`, `/response`, `/error`, `init/error`), given one real event of its kind, and
its answer is checked. This proves each function's `main.rs` wiring (settings from the
environment, SDK clients, the runtime loop, JSON logging), not only its handler.

    python tests/package/run_zips.py check ZIP_DIR   # in `make test`, against the local endpoint
    python tests/package/run_zips.py bench ZIP_DIR   # `make bench`: cold starts vs Python peers

Both run under tests/with-endpoint.sh (bench over TLS with CLAIMCHECK_ENDPOINT_TLS=1, as in
production). `bench` starts each zip cold 20 times (CLAIMCHECK_BENCH_STARTS), each start
serving one representative event of the function's normal path with fresh ids, and measures
init (exec to the first `next`), first event handled (exec to its `/response`) and the event
alone (`next` to `/response`), beside the same function in Python (boto3 and the official
extended client, tests/package/python_functions/) serving the same event, started alternately.

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
        self.answered_at = None
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
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.kind = self.path.rsplit("/", 1)[-1]
                api.answer = body.decode(errors="replace")
                api.answered_at = arrived
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
    # The local endpoint, and over TLS its throwaway CA: SSL_CERT_FILE for the Rust SDK
    # (rustls-native-certs reads it), AWS_CA_BUNDLE for boto3.
    for name in ("AWS_ENDPOINT_URL", "SSL_CERT_FILE", "AWS_CA_BUNDLE"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    # For profiling: CLAIMCHECK_ZIP_LOG_LEVEL=trace (a tracing filter) reaches the functions as
    # RUST_LOG; cold_start() answers each log line with when it arrived.
    if os.environ.get("CLAIMCHECK_ZIP_LOG_LEVEL"):
        env["RUST_LOG"] = os.environ["CLAIMCHECK_ZIP_LOG_LEVEL"]
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
    start = cold_start(command, function, event, settings, timeout)
    return start["kind"], start["answer"], start["logs"]


def cold_start(command, function, event, settings, timeout=60):
    """Starts `command` as a Lambda function, serves it `event`; answers its `kind` (`response`,
    `error`), `answer`, `logs` and, in seconds: `init` (exec to the first `next`), `handled`
    (exec to the answer) and `event` (the first `next` to the answer)."""
    api = RuntimeApi(event)
    try:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            env=lambda_environment(function, api, settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        # Read as it comes (a verbose log must not fill the pipe and stall the function), each
        # line with when it arrived, in seconds since exec.
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(
            (time.monotonic() - started, line) for line in process.stdout), daemon=True)
        reader.start()
        answered = api.answered.wait(timeout)
        process.kill()
        process.wait()
        reader.join(10)
        logs = b"".join(line for _, line in lines).decode(errors="replace")
        if not answered:
            raise AssertionError(f"{function}: no answer within {timeout}s; output:\n{logs}")
        return {
            "kind": api.kind, "answer": api.answer, "logs": logs,
            "lines": [(at, line.decode(errors="replace").rstrip("\n")) for at, line in lines],
            "init": (api.first_next_at or api.answered_at) - started,
            "handled": api.answered_at - started,
            "event": api.answered_at - (api.first_next_at or api.answered_at),
        }
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


def api_event(method, path, body=None, user_arn="arn:aws:iam::123456789012:user/run-zips"):
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
                "userArn": user_arn, "userId": "AIDAEXAMPLE"}},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def object_created(bucket, payload_id):
    """S3's ObjectCreated:Put event for the 5-byte upload `uploads/<payload_id>` in `bucket`, as
    S3 invokes the producer with it (the key URL-encoded, as S3 sends keys)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "local"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "local"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": f"uploads%2F{payload_id}", "size": 5, "eTag": "e", "sequencer": "1"}},
    }]}


def events(settings):
    """One real event per function, and a check of its answer."""
    bucket = settings["CLAIMCHECK_BUCKET"]
    unknown = str(uuid.uuid4())
    s3_event = object_created(bucket, unknown)
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


PYTHON_FUNCTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python_functions")
sys.path.insert(0, PYTHON_FUNCTIONS)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree, as for the peers (-B)


def python_command(function):
    """The function's Python peer (tests/package/python_functions/), under its runtime loop."""
    # -B: no __pycache__ left in the source tree (compiling the two small modules is well under
    # a millisecond).
    return [sys.executable, "-B", os.path.join(PYTHON_FUNCTIONS, "runtime.py"), function.replace("-", "_")]


class Scenarios:
    """Per cold start, the function's representative first event with fresh ids, its world
    seeded first (objects, ledger items), and a check of the answer and of what it changed."""

    OWNER_PREFIX = "arn:aws:iam::123456789012:user/bench-"

    def __init__(self, settings):
        import boto3

        self.settings = settings
        self.bucket = settings["CLAIMCHECK_BUCKET"]
        self.table = settings["CLAIMCHECK_TABLE"]
        self.s3 = boto3.client("s3")
        self.ddb = boto3.client("dynamodb")
        self.sqs = boto3.client("sqs")
        self.seeded = []

    def item(self, payload_id):
        return self.ddb.get_item(TableName=self.table, Key={"id": {"S": payload_id}}, ConsistentRead=True).get("Item")

    def queued(self, payload_id):
        """Whether the work queue holds a pointer message to `payload_id` (taken off the queue,
        with any other, so each start's check sees only its own)."""
        found = False
        for _ in range(3):
            out = self.sqs.receive_message(QueueUrl=self.settings["CLAIMCHECK_QUEUE_URL"],
                                           MaxNumberOfMessages=10, MessageAttributeNames=["All"])
            messages = out.get("Messages", [])
            for message in messages:
                named = message.get("MessageAttributes", {}).get("payload_id", {}).get("StringValue")
                found = found or named == payload_id
                self.sqs.delete_message(QueueUrl=self.settings["CLAIMCHECK_QUEUE_URL"],
                                        ReceiptHandle=message["ReceiptHandle"])
            if found or not messages:
                return found
        return found

    def put_object(self, key):
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"hello", ContentType="text/csv",
                           ChecksumSHA256=SHA256_OF_HELLO)

    def put_item(self, payload_id, status, owner, at, **extra):
        """A ledger item as claimcheck writes it (claimcheck/src/ledger/record.rs)."""
        item = {
            "id": {"S": payload_id}, "bucket": {"S": self.bucket}, "key": {"S": f"uploads/{payload_id}"},
            "status": {"S": status}, "size": {"N": "5"}, "content_type": {"S": "text/csv"},
            "sha256": {"S": SHA256_OF_HELLO}, "attempts": {"N": "0"}, "redrives": {"N": "0"},
            "owner": {"S": owner}, "created_at": {"N": str(at)}, "updated_at": {"N": str(at)},
            "expires_at": {"N": str(at // 1000 + 30 * 86400)},
        }
        # The peers' ledger module: one Python copy of claimcheck::ledger::status_shard.
        from ledger import status_shard

        shard = status_shard(status, payload_id)
        if shard is not None:
            item["status_shard"] = {"S": shard}
        if status == "pending":
            item["pending_owner"] = {"S": owner}
        item.update({name: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for name, v in extra.items()})
        self.ddb.put_item(TableName=self.table, Item=item)

    def __call__(self, function):
        """(event, verify(answer, logs)) for one start of `function`."""
        payload_id = str(uuid.uuid4())
        owner = self.OWNER_PREFIX + uuid.uuid4().hex[:12]
        key = f"uploads/{payload_id}"
        now = int(time.time() * 1000)
        status_of = lambda pid: (self.item(pid) or {}).get("status", {}).get("S")

        if function == "presign-upload":
            # A new caller asks for an upload URL: the pending cap's count, then the ledger write.
            body = json.dumps({"content_type": "text/csv", "content_length": 5, "sha256": SHA256_OF_HELLO})

            def verify(answer, logs):
                response = json.loads(answer)
                ticket = json.loads(response["body"])
                assert response["statusCode"] == 201 and ticket["url"], answer
                assert status_of(ticket["id"]) == "pending", f"ledger: {self.item(ticket['id'])}"
            return api_event("POST", "/uploads", body, user_arn=owner), verify

        if function == "presign-download":
            # The owner of an admitted, processed payload asks for it: ledger read, HEAD, presign.
            self.put_object(key)
            self.put_item(payload_id, "done", owner, now - 1000)

            def verify(answer, logs):
                response = json.loads(answer)
                view = json.loads(response["body"])
                assert response["statusCode"] == 200 and view["download"]["url"], answer
            return api_event("GET", f"/payloads/{payload_id}", user_arn=owner), verify

        if function == "producer":
            # S3's event for an upload presign-upload announced: ledger read, HEAD, pending →
            # queued, the pointer sent.
            self.put_item(payload_id, "pending", owner, now - 1000, url_expires_at=now + 900_000)
            self.put_object(key)
            event = object_created(self.bucket, payload_id)

            def verify(answer, logs):
                assert json.loads(answer) is None, answer
                item = self.item(payload_id)
                # Queued, and the pointer on the work queue (its message id is recorded later, by
                # the consumer's claim).
                assert item["status"]["S"] == "queued", f"ledger: {item}\n{logs}"
                assert self.queued(payload_id), f"no pointer to {payload_id} on the work queue\n{logs}"
            return event, verify

        if function == "consumer":
            # A pointer message as the producer sends it, for a queued payload: the lease, the
            # object streamed and verified, done.
            self.put_object(key)
            self.put_item(payload_id, "queued", owner, now - 1000, e_tag='"5d41402abc4b2a76b9719d911017c592"',
                          message_id=str(uuid.uuid4()))
            pointer = json.dumps(["software.amazon.payloadoffloading.PayloadS3Pointer",
                                  {"s3BucketName": self.bucket, "s3Key": key}], separators=(",", ":"))
            string = lambda value, kind="String": {"stringValue": value, "stringListValues": [],
                                                   "binaryListValues": [], "dataType": kind}
            event = {"Records": [{
                "messageId": str(uuid.uuid4()), "receiptHandle": "handle", "body": pointer,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(now)},
                "messageAttributes": {"ExtendedPayloadSize": string("5", "Number"),
                                      "payload_id": string(payload_id), "content_type": string("text/csv")},
                "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work", "awsRegion": "us-east-1",
            }]}

            def verify(answer, logs):
                assert json.loads(answer) == {"batchItemFailures": []}, answer
                assert status_of(payload_id) == "done", f"ledger: {self.item(payload_id)}\n{logs}"
            return event, verify

        if function == "redriver":
            # The scheduled reconcile: every shard of the stalled states listed; one upload URL
            # expired unused two hours ago (HEAD finds no object) is marked expired. The previous
            # start's item is removed first, whatever became of it, so every start finds one.
            for stale in self.seeded:
                self.ddb.delete_item(TableName=self.table, Key={"id": {"S": stale}})
            self.seeded = [payload_id]
            two_hours_ago = now - 2 * 3600 * 1000
            self.put_item(payload_id, "pending", owner, two_hours_ago, url_expires_at=two_hours_ago + 900_000)

            def verify(answer, logs):
                report = json.loads(answer)
                assert report["complete"] and report["stats"]["reconciled"] >= 1, answer
                assert status_of(payload_id) == "expired", f"ledger: {self.item(payload_id)}\n{logs}"
            return {"mode": "reconcile"}, verify

        raise ValueError(function)


def bench(zip_dir):
    if not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit("bench runs against the local endpoint: tests/with-endpoint.sh python run_zips.py bench ZIP_DIR")
    starts = os.environ.get("CLAIMCHECK_BENCH_STARTS", "20")
    if not starts.isdigit() or int(starts) < 1:
        sys.exit(f"CLAIMCHECK_BENCH_STARTS: {starts!r} is not a whole number of at least 1")
    starts = int(starts)
    tls = os.environ["AWS_ENDPOINT_URL"].startswith("https://")
    rows, failures = [], []
    with tempfile.TemporaryDirectory() as into:
        for function in FUNCTIONS:
            settings = stack()  # a stack per function: each function's starts see the same world
            scenario = Scenarios(settings)
            directory = os.path.join(into, function)
            os.makedirs(directory)
            sides = {"rust": unpack(zip_dir, function, directory), "python": python_command(function)}
            runs = {"rust": [], "python": []}
            for i in range(starts):
                for side, command in sides.items():  # alternately, so drift hits both alike
                    event, verify = scenario(function)
                    start = cold_start(command, function, event, settings)
                    try:
                        assert start["kind"] == "response", f"/{start['kind']}: {start['answer']}"
                        verify(start["answer"], start["logs"])
                        runs[side].append(start)
                    except (AssertionError, ValueError, KeyError, TypeError) as e:
                        failures.append((function, side, i, e, start["logs"]))
            median = {side: {part: statistics.median(r[part] for r in done) if done else float("nan")
                             for part in ("init", "handled", "event")}
                      for side, done in runs.items()}
            size = os.path.getsize(os.path.join(zip_dir, function, "bootstrap.zip"))
            rows.append((function, median, {side: len(done) for side, done in runs.items()}, size))

    for function, side, i, error, logs in failures[:5]:
        print(f"\n{function} ({side}, start {i + 1}) FAILED: {error}\n{logs[-3000:]}")
    failed = {(f, side) for f, side, *_ in failures}
    ms = lambda seconds: "—" if seconds != seconds else f"{seconds * 1000:.1f}"  # NaN: no start passed
    ratio = lambda slow, fast: "—" if slow != slow or fast != fast else f"{slow / fast:.0f}x"
    mark = lambda function, side, text: text + (" (FAILED)" if (function, side) in failed else "")
    print(f"\nCold starts, median of {starts} (endpoint over {'TLS' if tls else 'plain HTTP'}); "
          "first event handled = exec to the function's answer, including the event's AWS calls")
    print("| function | init (ms) | first event handled (ms) | Python first event handled (ms) | ratio | zip (MB) |")
    print("|---|---|---|---|---|---|")
    for function, median, count, size in rows:
        rust, python = median["rust"], median["python"]
        print(f"| {function} | {ms(rust['init'])} | {mark(function, 'rust', ms(rust['handled']))} "
              f"| {mark(function, 'python', ms(python['handled']))} | {ratio(python['handled'], rust['handled'])} "
              f"| {size / 1e6:.2f} |")
    print("\nThe parts (medians, ms): init = exec to first `next`; event = `next` to the answer")
    print("| function | init | event | Python init | Python event |")
    print("|---|---|---|---|---|")
    for function, median, count, size in rows:
        rust, python = median["rust"], median["python"]
        print(f"| {function} | {ms(rust['init'])} | {ms(rust['event'])} | {ms(python['init'])} | {ms(python['event'])} |")
    if failures:
        print(f"\n{len(failures)} of {2 * starts * len(FUNCTIONS)} starts failed: {sorted(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    modes = {"check": check, "bench": bench}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    if not all(os.path.isfile(os.path.join(sys.argv[2], f, "bootstrap.zip")) for f in FUNCTIONS):
        sys.exit(f"{sys.argv[2]}: not a directory of the functions' zips (<function>/bootstrap.zip; "
                 "`make package` builds them)")
    modes[sys.argv[1]](sys.argv[2])
