"""presign-upload's `POST /uploads` in Python: count the caller's pending uploads (the pending
index), presign the PUT, record the payload `pending`."""
import base64
import json
import os
import time
import uuid

import boto3
from botocore.config import Config

from ledger import PENDING_INDEX, RETENTION_SECONDS, now_ms, status_shard

BUCKET = os.environ["CLAIMCHECK_BUCKET"]
TABLE = os.environ["CLAIMCHECK_TABLE"]
PREFIX = os.environ.get("CLAIMCHECK_UPLOADS_PREFIX", "uploads/")
URL_SECONDS = int(os.environ.get("CLAIMCHECK_UPLOAD_URL_SECONDS", "900"))
MAX_PENDING = int(os.environ.get("CLAIMCHECK_MAX_PENDING_UPLOADS", "100"))

s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
ddb = boto3.client("dynamodb")


def answer(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def refuse(status, code, message):
    return answer(status, {"error": {"code": code, "message": message}})


def handler(event, context):
    if event["rawPath"].rstrip("/") != "/uploads":
        return refuse(404, "not_found", f"no route for {event['rawPath']}")
    if event["requestContext"]["http"]["method"] != "POST":
        return refuse(405, "method_not_allowed", "use POST /uploads")
    try:
        request = json.loads(event.get("body") or "")
        content_type, length, sha256 = request["content_type"], int(request["content_length"]), request["sha256"]
        if len(base64.b64decode(sha256, validate=True)) != 32 or not 0 < length <= 5 * 1024**3:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return refuse(400, "invalid_request", "content_type, content_length and sha256 are required")
    owner = event["requestContext"]["authorizer"]["iam"]["userArn"]
    now = now_ms()
    pending, start = 0, {}
    while True:
        page = ddb.query(
            TableName=TABLE, IndexName=PENDING_INDEX, Select="COUNT",
            KeyConditionExpression="pending_owner = :owner", FilterExpression="url_expires_at > :now",
            ExpressionAttributeValues={":owner": {"S": owner}, ":now": {"N": str(now)}}, **start)
        pending += page["Count"]
        if pending >= MAX_PENDING or "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    if pending >= MAX_PENDING:
        return refuse(429, "too_many_pending", f"{pending} upload URLs are unused and still valid")
    payload_id = str(uuid.uuid4())
    key = PREFIX + payload_id
    url = s3.generate_presigned_url(
        "put_object", ExpiresIn=URL_SECONDS,
        Params={"Bucket": BUCKET, "Key": key, "ContentType": content_type, "ContentLength": length,
                "ChecksumSHA256": sha256})
    expires_at = int(time.time()) + URL_SECONDS
    ddb.put_item(
        TableName=TABLE,
        Item={
            "id": {"S": payload_id}, "bucket": {"S": BUCKET}, "key": {"S": key}, "status": {"S": "pending"},
            "size": {"N": str(length)}, "content_type": {"S": content_type}, "sha256": {"S": sha256},
            "attempts": {"N": "0"}, "redrives": {"N": "0"}, "owner": {"S": owner}, "pending_owner": {"S": owner},
            "status_shard": {"S": status_shard("pending", payload_id)},
            "url_expires_at": {"N": str(expires_at * 1000)}, "created_at": {"N": str(now)},
            "updated_at": {"N": str(now)}, "expires_at": {"N": str(now // 1000 + RETENTION_SECONDS)},
        },
        ConditionExpression="attribute_not_exists(id)",
    )
    print(json.dumps({"level": "INFO", "message": "upload URL issued", "payload_id": payload_id}))
    return answer(201, {
        "id": payload_id, "method": "PUT", "url": url,
        "headers": {"content-type": content_type, "content-length": str(length), "x-amz-checksum-sha256": sha256},
        "expires_at": expires_at, "expires_in": URL_SECONDS,
    })
