"""The local AWS endpoint for tests and local mode: moto's server (what `moto_server` runs),
with three corrections.

DynamoDB applies a conditional write atomically: of two concurrent writes to one item whose
condition only one can satisfy, exactly one succeeds. moto's server is threaded and its
DynamoDB backend takes no lock, so two concurrent UpdateItem calls can both pass the same
condition. That would make the tests of racing writers (duplicate S3 events, competing
consumers) test moto's race instead of our code, so DynamoDB requests are served one at a
time here, as DynamoDB's per-item serialization guarantees. S3 and SQS stay concurrent (SQS
long polls must not block other requests).

S3's ListParts answers `<ListPartsResult>` (the S3 API Reference's response syntax); moto
5.2.5 names the root `<ListPartsResponse>`, which the AWS SDKs that check the root element
(the Rust SDK does) refuse as unparseable. The root is renamed here, nothing else.

CompleteMultipartUpload in moto 5.2.5 builds the object in memory three times over (the parts
joined, a checksum builder's own copy even without a checksum, and the joined bytes copied), so
a 6 GiB upload needs some 18 GiB of RAM; S3 needs none. Without a checksum algorithm (claimcheck
sets none), the parts are written here one at a time into the new object's own spooled file,
with moto's checks kept (each part present with its ETag, every part but the last at least
5 MiB, at least one part) and the same multipart ETag.

With `CLAIMCHECK_CALL_LOG` naming a file, every request is also logged there, one JSON line
per IAM action it needs (one, except CopyObject/UploadPartCopy, which also read their source,
and DynamoDB transactions, which need each item's action):

    {"principal": "fn-producer", "service": "sqs", "action": "SendMessage",
     "resource": "http://127.0.0.1:PORT/123456789012/work", "presigned": false}

`principal` is the access key id that signed it (the `Authorization` header's `Credential=`,
or a presigned URL's `X-Amz-Credential`; SigV2's `AWSAccessKeyId` too), null when unsigned; `action` is the IAM action
without its prefix (S3 by AWS's documented REST mapping; the SQS batch operations by the
action they are authorized with); `resource` is the bucket/key, queue URL (or name) or table
(`table/index/name` for an index query), when the request names one. Tests run each
function's code with its own key (`fn-<function>`), so the log shows which AWS actions each
function's code really uses; tests/infra/test_iam_matches_code.py compares that with its IAM
policy. Without `CLAIMCHECK_CALL_LOG` nothing is read or written beyond what moto does.

Usage: python tests/local_endpoint.py HOST PORT
"""
import io
import ipaddress
import json
import os
import re
import sys
import threading
from urllib.parse import parse_qs, unquote

# `Credential=AKID/20261125/us-east-1/sqs/aws4_request`: the key id and the signing service.
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]*/[^/]*/([^/,\s]+)/")

# SDK operations authorized by an IAM action of another name.
SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
DYNAMODB_TRANSACT_ITEMS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}

# A JSON or form body larger than this is not parsed for its resource (and not buffered).
BODY_LIMIT = 16 * 1024 * 1024

# S3 bucket subresources: the IAM action for GET (and HEAD), PUT, DELETE.
S3_BUCKET_SUBRESOURCES = {
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "location": ("GetBucketLocation", None, None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls"),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None),
    "replication": ("GetReplicationConfiguration", "PutReplicationConfiguration", "PutReplicationConfiguration"),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "versions": ("ListBucketVersions", None, None),
}
# S3 object subresources: the IAM action for GET (and HEAD), PUT, DELETE.
S3_OBJECT_SUBRESOURCES = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None),
    "attributes": ("GetObjectAttributes", None, None),
    "torrent": ("GetObjectTorrent", None, None),
}


def _decoded_path(environ):
    # WSGI carries the (percent-decoded) path as latin-1; S3 keys are UTF-8.
    path = environ.get("PATH_INFO", "/")
    try:
        return path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path


def _query(environ):
    return parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def signer(environ):
    """(access key id, signing service) of a request, from its signature header or a presigned
    URL's query (SigV4; SigV2, which boto3 still presigns S3 URLs with by default, names no
    service); (None, None) when unsigned."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    match = CREDENTIAL.search(authorization)
    if match:
        return match.group(1), match.group(2)
    if authorization.startswith("AWS ") and ":" in authorization:
        return authorization[4:].split(":", 1)[0].strip(), None
    query = _query(environ)
    credential = query.get("X-Amz-Credential")
    if credential:
        parts = unquote(credential[0]).split("/")
        return parts[0], (parts[3] if len(parts) > 3 else None)
    if query.get("AWSAccessKeyId"):
        return query["AWSAccessKeyId"][0], None
    return None, None


def presigned(environ):
    query = _query(environ)
    return "X-Amz-Credential" in query or ("AWSAccessKeyId" in query and "Signature" in query)


def principal(environ):
    return signer(environ)[0]


def s3_bucket_and_key(environ):
    """Path-style (`/bucket/key`, what the SDKs use against an IP or localhost endpoint) or
    virtual-hosted (`bucket.localhost`, `bucket.s3.amazonaws.com`) addressing."""
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0].strip("[]").lower()
    path = _decoded_path(environ).lstrip("/")
    try:
        ipaddress.ip_address(host)
        virtual = False
    except ValueError:
        virtual = bool(re.match(r"^.+?\.(localhost|s3[.-].*)$", host))
    if virtual:
        return re.match(r"^(.+?)\.(localhost|s3[.-].*)$", host).group(1), path
    bucket, _, key = path.partition("/")
    return bucket, key


def _pick(actions, method):
    get, put, delete = actions
    return {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete}.get(method)


def s3_actions(environ):
    """[(IAM action, resource)] S3 authorizes a REST request with (AWS's documented mapping:
    HEAD needs the same as GET, every multipart step but listing and aborting is PutObject,
    CopyObject is PutObject on the target and GetObject on the source)."""
    method = environ["REQUEST_METHOD"]
    query = _query(environ)
    bucket, key = s3_bucket_and_key(environ)
    if not bucket:
        return [("ListAllMyBuckets", None)]
    if key:
        resource = f"{bucket}/{key}"
        for sub, actions in S3_OBJECT_SUBRESOURCES.items():
            if sub in query and _pick(actions, method):
                return [(_pick(actions, method), resource)]
        versioned = "versionId" in query
        if method in ("GET", "HEAD"):
            if "uploadId" in query:
                return [("ListMultipartUploadParts", resource)]
            return [("GetObjectVersion" if versioned else "GetObject", resource)]
        if method == "PUT":
            out = [("PutObject", resource)]
            copy_source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
            if copy_source:
                source = unquote(copy_source.split("?", 1)[0]).lstrip("/")
                out.append(("GetObjectVersion" if "versionId=" in copy_source else "GetObject", source))
            headers = {k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_")}
            headers |= {k.lower() for k in query}
            if "x-amz-tagging" in headers:
                out.append(("PutObjectTagging", resource))
            if headers & {"x-amz-acl", "x-amz-grant-read", "x-amz-grant-full-control",
                          "x-amz-grant-read-acp", "x-amz-grant-write-acp"}:
                out.append(("PutObjectAcl", resource))
            return out
        if method == "POST":
            if "restore" in query:
                return [("RestoreObject", resource)]
            if "select" in query:
                return [("GetObject", resource)]
            return [("PutObject", resource)]  # CreateMultipartUpload (?uploads), Complete (?uploadId)
        if method == "DELETE":
            if "uploadId" in query:
                return [("AbortMultipartUpload", resource)]
            return [("DeleteObjectVersion" if versioned else "DeleteObject", resource)]
        return [(method, resource)]
    for sub, actions in S3_BUCKET_SUBRESOURCES.items():
        if sub in query and _pick(actions, method):
            return [(_pick(actions, method), bucket)]
    if method == "POST":
        # DeleteObjects is authorized per key with DeleteObject; a POST form upload is PutObject.
        return [("DeleteObject" if "delete" in query else "PutObject", bucket)]
    return [({"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket",
              "DELETE": "DeleteBucket"}.get(method, method), bucket)]


def read_body(environ):
    """The request body, for the JSON and form protocols (SQS, DynamoDB), with `wsgi.input`
    replaced by a buffer holding the same bytes so that moto reads exactly what was sent.
    None (and nothing consumed) when the length is unknown or large."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if length < 0 or length > BODY_LIMIT:
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _json(body):
    try:
        parsed = json.loads(body or b"{}")
        return parsed if isinstance(parsed, dict) else {}
    except ValueError:
        return {}


def dynamodb_actions(operation, body):
    request = _json(body)
    if operation in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for item in request.get("TransactItems", []):
            for kind, detail in item.items():
                action = DYNAMODB_TRANSACT_ITEMS.get(kind, kind)
                entry = (action, (detail or {}).get("TableName"))
                if entry not in out:
                    out.append(entry)
        return out or [(operation, None)]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        tables = ",".join(sorted(request.get("RequestItems", {})))
        return [(operation, tables or None)]
    table = request.get("TableName")
    if table and request.get("IndexName"):
        table = f"{table}/index/{request['IndexName']}"
    return [(operation, table)]


def sqs_resource(params):
    return params.get("QueueUrl") or params.get("QueueName")


def describe(environ):
    """(service, [(action, resource)]) of one request."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("AmazonSQS."):
        operation = target.split(".", 1)[1]
        resource = sqs_resource(_json(read_body(environ)))
        return "sqs", [(SQS_ACTIONS.get(operation, operation), resource)]
    if target.startswith("DynamoDB_"):
        return "dynamodb", dynamodb_actions(target.split(".", 1)[1], read_body(environ))
    _, service = signer(environ)
    if service == "sqs":
        # The query protocol (form-encoded `Action=...`): older SDKs; the Rust SDK uses JSON.
        content_type = environ.get("CONTENT_TYPE", "")
        params = {k: v[0] for k, v in _query(environ).items()}
        if environ["REQUEST_METHOD"] == "POST" and "x-www-form-urlencoded" in content_type:
            body = read_body(environ)
            if body:
                params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
        operation = params.get("Action", environ["REQUEST_METHOD"])
        return "sqs", [(SQS_ACTIONS.get(operation, operation), sqs_resource(params) or environ.get("PATH_INFO"))]
    return "s3", s3_actions(environ)


class CallLog:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def record(self, environ):
        try:
            service, actions = describe(environ)
        except Exception as error:  # never fail the request because the log could not read it
            service, actions = "unknown", [(f"unparsed: {error!r}", None)]
        who = principal(environ)
        by_url = presigned(environ)
        lines = "".join(json.dumps({
            "principal": who,
            "service": service,
            "action": action,
            "resource": resource,
            "presigned": by_url,
        }) + "\n" for action, resource in actions)
        with self.lock:
            self.file.write(lines)
            self.file.flush()


def correct_list_parts():
    """Renames moto's ListParts root element to S3's `ListPartsResult` (see the docstring)."""
    from moto.s3.responses import S3Response

    original = S3Response.list_parts

    def list_parts(self):
        status, headers, body = original(self)
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        body = body.replace("<ListPartsResponse", "<ListPartsResult", 1).replace(
            "</ListPartsResponse>", "</ListPartsResult>", 1
        )
        for name in list(headers):
            if name.lower() == "content-length":
                headers[name] = str(len(body.encode("utf-8")))
        return status, headers, body

    S3Response.list_parts = list_parts


def stream_completed_uploads():
    """Completes multipart uploads part by part on disk (see the docstring)."""
    import hashlib
    import tempfile

    from moto.s3 import models
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML

    class JoinedParts:
        """The parts of a completed upload, standing in for its bytes until written: their
        files, taken from the parts (moto disposes of the parts as soon as it completes)."""

        def __init__(self, parts):
            self.size = sum(part.contentsize for part in parts)
            self.files = []
            for part in parts:
                with part.lock:
                    self.files.append(part._value_buffer)
                    part._value_buffer = tempfile.SpooledTemporaryFile(part._max_buffer_size)

        def __len__(self):
            return self.size

    original_complete = models.FakeMultipart.complete

    def complete(self, body):
        if self.metadata.get("x-amz-checksum-algorithm"):
            return original_complete(self, body)
        parts, md5s, last = [], bytearray(), None
        for number, etag in body:
            part = self.parts.get(number)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise InvalidPart()
            if last is not None and last.contentsize < models.S3_UPLOAD_PART_MIN_SIZE:
                raise EntityTooSmall()
            md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
            parts.append(part)
            last = part
        if not parts:
            raise MalformedXML
        return JoinedParts(parts), f"{hashlib.md5(bytes(md5s)).hexdigest()}-{len(parts)}", None

    value_property = models.FakeKey.value

    def set_value(self, new_value):
        if not isinstance(new_value, JoinedParts):
            return value_property.fset(self, new_value)
        self._value_buffer.seek(0)
        self._value_buffer.truncate()
        size = 0
        for part in new_value.files:
            part.seek(0)
            while chunk := part.read(1 << 20):
                self._value_buffer.write(chunk)
                size += len(chunk)
            part.close()
        self.contentsize = size

    models.FakeMultipart.complete = complete
    models.FakeKey.value = value_property.setter(set_value)


def main():
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    host, port = sys.argv[1], int(sys.argv[2])
    correct_list_parts()
    stream_completed_uploads()
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
