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
policy. SQS and DynamoDB lines also carry what their bill counts (tests/bench/cost.py prices
a run from them): SQS's billed 64 KiB chunks, DynamoDB's read and write units from the items'
sizes, table and indexes (see "The billing fields" below). Without `CLAIMCHECK_CALL_LOG`
nothing is read or written beyond what moto does.

With a certificate and its key (PEM files, tests/tls_certificate.py makes them), it serves HTTPS
with kept-alive connections instead, as AWS does (`CLAIMCHECK_ENDPOINT_TLS=1` in
tests/with-endpoint.sh; see serve_tls).

Usage: python tests/local_endpoint.py HOST PORT [CERT KEY]
"""
import base64
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
    service, actions, _, _ = request_of(environ)
    return service, actions


def request_of(environ):
    """describe()'s answer, with the API operation and its parsed parameters (the JSON body, or
    the query protocol's form) for SQS and DynamoDB, which the billing fields need; (None, None)
    for S3, whose bodies are never read here."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("AmazonSQS."):
        operation = target.split(".", 1)[1]
        params = _json(read_body(environ))
        return "sqs", [(SQS_ACTIONS.get(operation, operation), sqs_resource(params))], operation, params
    if target.startswith("DynamoDB_"):
        operation = target.split(".", 1)[1]
        body = read_body(environ)
        return "dynamodb", dynamodb_actions(operation, body), operation, _json(body)
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
        actions = [(SQS_ACTIONS.get(operation, operation), sqs_resource(params) or environ.get("PATH_INFO"))]
        return "sqs", actions, operation, params
    return "s3", s3_actions(environ), None, None


# The billing fields (for tests/bench/cost.py, which prices a run from this log). They go on a
# request's first line; its further lines (the other IAM actions one request needs, e.g. a
# CopyObject's source read) say `"same_request": true`, so a request is counted once.
#
# SQS: `operation` (the API's: a SendMessageBatch is one request, not one per entry),
# `messages` (sent, received or named by the request), `request_bytes` / `response_bytes` (the
# message payload sent or received: bodies plus message attributes' names, types and values,
# what SQS counts as a message's size) and `billed_requests`: SQS bills each 64 KB chunk of an
# API call's payload as one request, a 256 KB payload as four (AWS's Amazon SQS features page,
# read in its Japanese edition https://aws.amazon.com/jp/sqs/features/), at least one.
#
# DynamoDB: `operation`, `status` (a failed condition answers 400 and still costs), and the
# request units it consumes (on-demand WRU/RRU, the same arithmetic as provisioned WCU/RCU),
# computed from the items' sizes as the Amazon DynamoDB Developer Guide meters them:
# - item size ("DynamoDB item sizes and formats", CapacityUnitCalculations.html): each
#   attribute's UTF-8 name plus its value: strings their UTF-8 bytes, binaries their raw bytes,
#   numbers 1 byte per two significant digits plus 1, null and boolean 1, a list or map 3 bytes
#   plus 1 per element plus the elements (a map's with their names), a set its elements;
# - `write_units` ("DynamoDB read and write operations", read-write-operations.html): per item,
#   the larger of its sizes before and after the write in 1 KB steps, at least 1, also when the
#   condition fails (then the larger of the item there and, for a put, the item it would have
#   written: "an existing item is 300 KB, the new item 310 KB: 310 KB"); twice that inside
#   TransactWriteItems;
# - `read_units`: GetItem and each BatchGetItem key the item's size in 4 KB steps, at least 1
#   (a missing item costs too), half for an eventually consistent read, twice in a transaction;
#   Query and Scan the summed size of every item they read (before any filter, whatever the
#   projection or Select=COUNT; an index's entries, not the table's items) in 4 KB steps, at
#   least 1, half unless strongly consistent (index reads never are);
# - `index_write_units` (Global Secondary Indexes, GSI.html#GSI.Writes): per index, for a write
#   that succeeded: an entry appearing or disappearing 1 write of its size, an index key
#   changing 2 (the old entry deleted, the new put), only projected attributes changing 1,
#   nothing when the item is not in the index before or after or its entry is unchanged; each
#   in 1 KB steps of the entry's size (the index keys, the table's key, the projection);
# - `item_bytes`: the sizes those units came from (written: the larger of before and after;
#   read: the total read), for checking.
# They are computed from moto's tables before and after the request, inside main()'s DynamoDB
# lock, and need the response: only with CallLog.measure around the application (below).
SQS_BILLING_CHUNK = 64 * 1024
DYNAMODB_WRITE_UNIT = 1024
DYNAMODB_READ_UNIT = 4096
# A request waiting for its response before its lines are written (CallLog.measure).
PENDING_LINES = "claimcheck.call_log_lines"


def _sqs_message_bytes(body, attributes):
    """A message's size as SQS counts it: the body and each message attribute's name, data type
    and value (JSON protocol shapes; binary values base64 on the wire, counted raw)."""
    size = len((body or "").encode("utf-8"))
    for name, value in (attributes or {}).items():
        value = value or {}
        size += len(name.encode("utf-8")) + len((value.get("DataType") or "").encode("utf-8"))
        if value.get("StringValue") is not None:
            size += len(value["StringValue"].encode("utf-8"))
        elif value.get("BinaryValue") is not None:
            size += len(base64.b64decode(value["BinaryValue"]))
    return size


def _sqs_form_message_bytes(params):
    """The same for the query protocol's form (`MessageBody`, `MessageAttribute.N.Name`, ...,
    each under `SendMessageBatchRequestEntry.M.` in a batch)."""
    size = 0
    for name, value in params.items():
        if re.search(r"(^|\.)MessageBody$", name) or re.search(
                r"(^|\.)MessageAttribute\.\d+\.(Name|Value\.DataType|Value\.StringValue)$", name):
            size += len(value.encode("utf-8"))
        elif re.search(r"(^|\.)MessageAttribute\.\d+\.Value\.BinaryValue$", name):
            size += len(base64.b64decode(value))
    return size


def _chunks(size):
    return max(1, -(-size // SQS_BILLING_CHUNK))


def sqs_request_fields(operation, params):
    """The billing fields a request shows by itself: its operation, and for a send its payload."""
    fields = {"operation": operation}
    params = params or {}
    if operation in ("SendMessage", "SendMessageBatch"):
        if "Action" in params:
            size = _sqs_form_message_bytes(params)
            count = len({m.group(1) for m in (re.match(r"SendMessageBatchRequestEntry\.(\d+)\.", k)
                                              for k in params) if m}) or 1
        elif operation == "SendMessage":
            size, count = _sqs_message_bytes(params.get("MessageBody"), params.get("MessageAttributes")), 1
        else:
            entries = params.get("Entries") or []
            size = sum(_sqs_message_bytes(e.get("MessageBody"), e.get("MessageAttributes")) for e in entries)
            count = len(entries)
        fields.update(messages=count, request_bytes=size, billed_requests=_chunks(size))
    elif operation != "ReceiveMessage":
        entries = params.get("Entries")
        if isinstance(entries, list):
            fields["messages"] = len(entries)
        fields["billed_requests"] = 1
    return fields


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def sqs_received(body):
    """(messages, payload bytes) of a ReceiveMessage answer, JSON or the query protocol's XML."""
    text = body.decode("utf-8", "replace").lstrip()
    if text.startswith("<"):
        import xml.etree.ElementTree as ElementTree

        count = size = 0
        for element in ElementTree.fromstring(text).iter():
            if _local(element.tag) != "Message":
                continue
            count += 1
            for child in element:
                if _local(child.tag) == "Body":
                    size += len((child.text or "").encode("utf-8"))
                elif _local(child.tag) == "MessageAttribute":
                    for part in child.iter():
                        if _local(part.tag) in ("Name", "DataType", "StringValue"):
                            size += len((part.text or "").encode("utf-8"))
                        elif _local(part.tag) == "BinaryValue":
                            size += len(base64.b64decode(part.text or ""))
        return count, size
    messages = _json(body).get("Messages") or []
    return len(messages), sum(_sqs_message_bytes(m.get("Body"), m.get("MessageAttributes")) for m in messages)


def _number_size(text):
    digits = text.lstrip("+-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return -(-max(len(digits), 1) // 2) + 1


def _binary_size(value):
    return len(value) if isinstance(value, (bytes, bytearray)) else len(base64.b64decode(value))


def attribute_value_size(value):
    """A DynamoDB JSON value's size (see the rules above), without its name."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    if kind == "L":
        return 3 + sum(attribute_value_size(e) + 1 for e in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + attribute_value_size(e) + 1 for k, e in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(attributes):
    """An item's size (DynamoDB JSON attributes); 0 for no item."""
    return sum(len(name.encode("utf-8")) + attribute_value_size(value)
               for name, value in (attributes or {}).items())


def _steps(size, unit):
    return max(1, -(-size // unit))


_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]*/([^/]+)/")


class DynamoDBMeter:
    """The request units of one DynamoDB request (see the rules above), from moto's tables: the
    items it writes as they are before it is served (`before`) and after (`units`)."""

    WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
    READS = ("GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan")

    def __init__(self, environ, operation, params):
        from moto.dynamodb.models import dynamodb_backends
        from moto.iam.models import get_account_id_from

        self.environ, self.operation, self.params = environ, operation, params
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = scope.group(1) if scope else "us-east-1"
        # The account moto serves this caller from, as moto decides it.
        account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(principal(environ) or "")
        self.backend = dynamodb_backends[account][region]
        self.writes = self._writes()
        self.before = [self._stored(table, key) for table, key, *_ in self.writes]

    def _key(self, table, item):
        table = self.backend.get_table(table)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: item[name] for name in names if name in (item or {})}

    def _writes(self):
        """[(table, key, kind, transactional, item)] of the items the request writes or checks
        (`item`: what a put writes, else None)."""
        p = self.params
        if self.operation == "PutItem":
            return [(p["TableName"], self._key(p["TableName"], p.get("Item")), "Put", False, p.get("Item"))]
        if self.operation in ("UpdateItem", "DeleteItem"):
            return [(p["TableName"], p.get("Key") or {}, self.operation[:-4], False, None)]
        if self.operation == "BatchWriteItem":
            out = []
            for table, requests in (p.get("RequestItems") or {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"].get("Item")
                        out.append((table, self._key(table, item), "Put", False, item))
                    elif "DeleteRequest" in request:
                        out.append((table, request["DeleteRequest"].get("Key") or {}, "Delete", False, None))
            return out
        if self.operation == "TransactWriteItems":
            out = []
            for entry in p.get("TransactItems") or []:
                for kind, detail in entry.items():
                    table = detail["TableName"]
                    key = self._key(table, detail["Item"]) if kind == "Put" else detail.get("Key") or {}
                    out.append((table, key, kind, True, detail.get("Item") if kind == "Put" else None))
            return out
        return []

    def _stored(self, table_name, key):
        """The item under `key` as DynamoDB JSON attributes, or None."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.backend.get_table(table_name)
        hash_value = key.get(table.hash_key_attr)
        range_value = key.get(table.range_key_attr) if table.range_key_attr else None
        if hash_value is None or (table.range_key_attr and range_value is None):
            return None
        item = table.get_item(DynamoType(hash_value), DynamoType(range_value) if range_value else None)
        return item.to_json()["Attributes"] if item is not None else None

    def _index_entry(self, table, index, attributes):
        """The item's entry in a secondary index (index keys, table keys, projection), or None
        when the item lacks an index key (a sparse index leaves it out)."""
        if attributes is None:
            return None
        keys = [k["AttributeName"] for k in index.schema]
        if any(name not in attributes for name in keys):
            return None
        projection = index.projection or {}
        kind = projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return dict(attributes)
        names = set(keys) | {table.hash_key_attr} | ({table.range_key_attr} if table.range_key_attr else set())
        if kind == "INCLUDE":
            names |= set(projection.get("NonKeyAttributes") or [])
        return {name: attributes[name] for name in names if name in attributes}

    def _index_writes(self, table_name, old, new):
        table = self.backend.get_table(table_name)
        units = 0
        for index in table.global_indexes:
            before = self._index_entry(table, index, old)
            after = self._index_entry(table, index, new)
            keys = [k["AttributeName"] for k in index.schema]
            if before is None and after is None:
                continue
            if before is None:
                units += _steps(item_size(after), DYNAMODB_WRITE_UNIT)
            elif after is None:
                units += _steps(item_size(before), DYNAMODB_WRITE_UNIT)
            elif [before[k] for k in keys] != [after[k] for k in keys]:
                units += _steps(item_size(before), DYNAMODB_WRITE_UNIT) + _steps(item_size(after), DYNAMODB_WRITE_UNIT)
            elif before != after:
                units += _steps(item_size(after), DYNAMODB_WRITE_UNIT)
        return units

    def _reread(self, app, request):
        """The items a Query or Scan reads: the same request without its filter or projection,
        answered by moto (under the same lock, so from the same table state)."""
        environ = {k: v for k, v in self.environ.items() if k != "werkzeug.request"}
        body = json.dumps(request).encode("utf-8")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        statuses = []
        response = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
        try:
            answer = b"".join(response)
        finally:
            if hasattr(response, "close"):
                response.close()
        if not statuses or not statuses[0].startswith("200"):
            raise RuntimeError(f"re-reading the {self.operation} failed: {statuses}")
        return _json(answer).get("Items") or []

    def units(self, app, status, body):
        """The billing fields, once the request was served with `status` and `body`."""
        p, fields = self.params, {}
        if self.operation in self.WRITES:
            succeeded = status == 200
            write = index = size = 0
            for (table, key, kind, transactional, item), old in zip(self.writes, self.before):
                new = self._stored(table, key)
                largest = max(item_size(old), item_size(new))
                if not succeeded and item is not None:
                    largest = max(largest, item_size(item))  # the put refused
                size += largest
                write += _steps(largest, DYNAMODB_WRITE_UNIT) * (2 if transactional else 1)
                if succeeded and kind != "ConditionCheck":
                    index += self._index_writes(table, old, new)
            fields.update(write_units=write, index_write_units=index, item_bytes=size)
        elif self.operation in ("GetItem", "BatchGetItem", "TransactGetItems"):
            if self.operation == "GetItem":
                reads = [(p["TableName"], p.get("Key") or {}, bool(p.get("ConsistentRead")), 1)]
            elif self.operation == "BatchGetItem":
                reads = [(table, key, bool(spec.get("ConsistentRead")), 1)
                         for table, spec in (p.get("RequestItems") or {}).items() for key in spec.get("Keys") or []]
            else:
                reads = [(d["TableName"], d.get("Key") or {}, True, 2)
                         for entry in p.get("TransactItems") or [] for d in entry.values()]
            units = size = 0
            for table, key, consistent, factor in reads:
                read = item_size(self._stored(table, key))
                size += read
                units += _steps(read, DYNAMODB_READ_UNIT) * (1 if consistent else 0.5) * factor
            fields.update(read_units=units, item_bytes=size)
        elif self.operation in ("Query", "Scan"):
            plain = not any(k in p for k in ("FilterExpression", "QueryFilter", "ScanFilter",
                                             "ProjectionExpression", "AttributesToGet"))
            if plain and p.get("Select") in (None, "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"):
                items = _json(body).get("Items") or []
            else:
                request = {k: v for k, v in p.items() if k not in (
                    "FilterExpression", "QueryFilter", "ScanFilter", "ConditionalOperator",
                    "ProjectionExpression", "AttributesToGet", "Select", "ReturnConsumedCapacity")}
                request["Select"] = "ALL_PROJECTED_ATTRIBUTES" if p.get("IndexName") else "ALL_ATTRIBUTES"
                # Only the placeholders the key condition still uses (unused ones are refused).
                used = set(re.findall(r"[#:][A-Za-z0-9_]+", request.get("KeyConditionExpression") or ""))
                for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
                    kept = {k: v for k, v in (p.get(name) or {}).items() if k in used}
                    if kept:
                        request[name] = kept
                    else:
                        request.pop(name, None)
                items = self._reread(app, request) if status == 200 else []
            size = sum(item_size(item) for item in items)
            consistent = bool(p.get("ConsistentRead")) and not p.get("IndexName")
            fields.update(read_units=_steps(size, DYNAMODB_READ_UNIT) * (1 if consistent else 0.5),
                          item_bytes=size)
        return fields


class CallLog:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        # Set by measure(): SQS and DynamoDB lines then wait for their response (and carry
        # the billing fields it decides); without it each line is written as its request
        # arrives, with what the request alone shows.
        self.measuring = False

    def record(self, environ):
        try:
            service, actions, operation, params = request_of(environ)
        except Exception as error:  # never fail the request because the log could not read it
            service, actions, operation, params = "unknown", [(f"unparsed: {error!r}", None)], None, None
        who = principal(environ)
        by_url = presigned(environ)
        lines = [{
            "principal": who,
            "service": service,
            "action": action,
            "resource": resource,
            "presigned": by_url,
        } for action, resource in actions]
        for line in lines[1:]:
            line["same_request"] = True
        if service == "sqs":
            try:
                lines[0].update(sqs_request_fields(operation, params))
            except Exception as error:
                lines[0]["billing_error"] = repr(error)
        elif service == "dynamodb":
            lines[0]["operation"] = operation
        if self.measuring and service in ("sqs", "dynamodb"):
            environ[PENDING_LINES] = (lines, service, operation, params)
            return
        self.write(lines)

    def write(self, lines):
        text = "".join(json.dumps(line) + "\n" for line in lines)
        with self.lock:
            self.file.write(text)
            self.file.flush()

    def measure(self, app):
        """`app` with the billing fields of SQS and DynamoDB requests added to their lines once
        they are served (what the response, or the table after it, decides): their lines are
        written then. S3 requests pass through untouched (their bodies, up to many GiB, are
        never read or buffered here); SQS and DynamoDB answers are small and are buffered.
        main() wraps its application with this when the log is kept, inside its DynamoDB lock,
        so a DynamoDB request's before and after are read with no other request in between."""
        self.measuring = True

        def measured(environ, start_response):
            pending = environ.pop(PENDING_LINES, None)
            if pending is None:
                return app(environ, start_response)
            lines, service, operation, params = pending
            first = lines[0]
            statuses = []

            def started(status, headers, exc_info=None):
                statuses.append(int(status.split(None, 1)[0]))
                return start_response(status, headers, exc_info)

            meter = None
            if service == "dynamodb" and "billing_error" not in first:
                try:
                    if operation in DynamoDBMeter.WRITES + DynamoDBMeter.READS:
                        meter = DynamoDBMeter(environ, operation, params)
                except Exception as error:  # the request is served all the same
                    first["billing_error"] = repr(error)
            body = b""
            try:
                response = app(environ, started)
                try:
                    body = b"".join(response)
                finally:
                    if hasattr(response, "close"):
                        response.close()
            finally:
                status = statuses[0] if statuses else None
                first["status"] = status
                try:
                    if service == "sqs" and operation == "ReceiveMessage" and status == 200:
                        count, size = sqs_received(body)
                        first.update(messages=count, response_bytes=size, billed_requests=_chunks(size))
                    elif service == "sqs" and operation == "ReceiveMessage":
                        first.update(messages=0, response_bytes=0, billed_requests=1)
                    elif meter is not None:
                        first.update(meter.units(app, status, body))
                    elif service == "dynamodb" and "billing_error" not in first:
                        # Control-plane calls (CreateTable, DescribeTable, ...) use no units.
                        first.update(read_units=0, write_units=0, index_write_units=0)
                except Exception as error:
                    first["billing_error"] = repr(error)
                self.write(lines)
            return [body]

        return measured


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


# HTTPS (`python tests/local_endpoint.py HOST PORT CERT KEY`, which
# `CLAIMCHECK_ENDPOINT_TLS=1 tests/with-endpoint.sh` runs with a throwaway certificate from
# tests/tls_certificate.py): benchmarks then pay for TLS as they do against AWS. Production's
# clients also keep their connections to AWS open, which werkzeug's development server (3.1)
# never allows: it answers every request with `Connection: close` (it cannot tell where an
# unread request body ends), so each request would pay a full TLS handshake that AWS would
# not charge. In this mode the connections are kept alive (below). The plain HTTP mode is left
# exactly as it was.

# Set in the WSGI environ of a request whose application raised: its response may be cut short,
# so its connection is closed rather than reused.
RESPONSE_FAILED = "claimcheck.response_failed"


def tls_context(cert, key):
    """The server's TLS context: the certificate chain and key from the files named."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    # The Rust SDK offers h2 and http/1.1 in ALPN; this server speaks HTTP/1.1 only, and says so.
    context.set_alpn_protocols(["http/1.1"])
    return context


class RequestBody(io.RawIOBase):
    """A request's body as the application reads it on a kept-alive connection: at most its
    Content-Length bytes of the connection, counted, so that what it leaves unread can be
    skipped before the next request is read."""

    def __init__(self, stream, length):
        self.stream = stream
        self.remaining = length

    def readable(self):
        return True

    def readinto(self, buffer):
        size = min(len(buffer), self.remaining)
        if size <= 0:
            return 0
        read = self.stream.readinto(memoryview(buffer)[:size]) or 0
        self.remaining -= read
        return read


class NoMoreInput:
    """Stands in for the connection after the application has run: werkzeug's handler then
    reads whatever the socket holds (up to 10 MB, blocking) to discard an unread body, which on
    a kept-alive connection would swallow, or wait for, the client's next request."""

    @staticmethod
    def read(size=-1):
        return b""


def drained(body):
    """Reads and discards what the application left of a request body; False when the body
    could not be read to its end (the connection then cannot be reused)."""
    try:
        while body.read(1 << 20):
            pass
    except Exception:  # a malformed chunk (OSError) or a connection dropped mid-body
        return False
    return getattr(body, "remaining", 0) == 0


class WatchedResponse:
    """An application's response iterable, marking the environ when producing it raises."""

    def __init__(self, response, environ):
        self.response = response
        self.environ = environ

    def __iter__(self):
        try:
            yield from self.response
        except BaseException:
            self.environ[RESPONSE_FAILED] = True
            raise

    def close(self):
        close = getattr(self.response, "close", None)
        if close is not None:
            close()


def watch_failures(app):
    """`app`, marking the environ of a request whose handling raised (see RESPONSE_FAILED)."""

    def watched(environ, start_response):
        try:
            response = app(environ, start_response)
        except BaseException:
            environ[RESPONSE_FAILED] = True
            raise
        return WatchedResponse(response, environ)

    return watched


def keep_alive_handler(base):
    """`base` (moto's request handler) keeping HTTP/1.1 connections open between requests.

    What werkzeug cannot do, this does: the application reads the body through a stream that
    ends at Content-Length (a chunked body already ends at its last chunk), and whatever it left
    unread is skipped before the next request line is read. The connection is closed as
    werkzeug would whenever reuse is not safe: the client asked for it (or speaks HTTP/1.0),
    the Content-Length is invalid, the body could not be read to its end, or the application
    raised."""

    class KeepAliveHandler(base):
        protocol_version = "HTTP/1.1"
        # Responses go out as separate writes (headers, then the body); with Nagle's algorithm
        # the second waits for the client's delayed ACK of the first (some 40 ms) on a
        # kept-alive connection.
        disable_nagle_algorithm = True
        in_wsgi = False

        def make_environ(self):
            environ = super().make_environ()
            if environ.get("wsgi.input_terminated"):
                self.body = environ["wsgi.input"]  # werkzeug's DechunkedInput
            else:
                try:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    self.close_connection = True
                    length = 0
                self.body = environ["wsgi.input"] = RequestBody(self.rfile, length)
            self.rfile = NoMoreInput
            return environ

        def run_wsgi(self):
            rfile, self.body = self.rfile, None
            self.in_wsgi = True
            try:
                super().run_wsgi()
            finally:
                self.in_wsgi = False
                self.rfile = rfile
            if not self.close_connection and (
                self.environ.get(RESPONSE_FAILED) or self.body is None or not drained(self.body)
            ):
                self.close_connection = True

        def send_header(self, keyword, value):
            # werkzeug's `Connection: close`, sent with every response; still sent when this
            # connection is closing anyway, and by http.server's own error responses.
            if (self.in_wsgi and not self.close_connection and keyword.lower() == "connection"
                    and value.lower() == "close"):
                return
            super().send_header(keyword, value)

    return KeepAliveHandler


def serve_tls(host, port, app, handler, cert, key):
    """Serves `app` over HTTPS with kept-alive connections, one thread per connection."""
    from werkzeug.serving import make_server

    server = make_server(
        host, port, watch_failures(app), threaded=True,
        request_handler=keep_alive_handler(handler), ssl_context=tls_context(cert, key),
    )
    # werkzeug wraps the listening socket, so each handshake would run in accept(), on the one
    # thread that accepts every connection: concurrent connections would wait for each other's
    # handshakes, and a client that connects without speaking would stop the server. Deferred,
    # the handshake happens on the connection's own thread when its first request is read (a
    # failed one is logged there, by werkzeug's handler, as an SSL error).
    server.socket.do_handshake_on_connect = False
    server.log_startup()
    server.serve_forever()


def main():
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    if len(sys.argv) not in (3, 5):
        sys.exit("usage: python tests/local_endpoint.py HOST PORT [CERT KEY]")
    host, port = sys.argv[1], int(sys.argv[2])
    # With a certificate and its key (PEM files), HTTPS with kept-alive connections (see
    # serve_tls); without, plain HTTP exactly as before.
    tls = sys.argv[3:5]
    correct_list_parts()
    stream_completed_uploads()
    app = DomainDispatcherApplication(create_backend_app)
    dynamodb = threading.Lock()

    log_path = os.environ.get("CLAIMCHECK_CALL_LOG")
    try:
        calls = CallLog(log_path) if log_path else None
    except OSError as error:
        sys.exit(f"the call log {log_path} (CLAIMCHECK_CALL_LOG) cannot be opened: {error.strerror}")
    # The billing fields (sizes, capacity units) need the response and the items around it.
    app = calls.measure(app) if calls is not None else app

    def serve(environ, start_response):
        if calls is not None and not environ.get("PATH_INFO", "").startswith("/moto-api"):
            calls.record(environ)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # The whole response is produced inside the lock.
                return list(app(environ, start_response))
        return app(environ, start_response)

    if tls:
        serve_tls(host, port, serve, MotoRequestHandler, *tls)
    else:
        run_simple(host, port, serve, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
