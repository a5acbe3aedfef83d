"""presign-download's `GET /payloads/{id}` in Python: read the ledger item, check the caller
owns it, check the object is there and presign a GET."""
import json
import os
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BUCKET = os.environ["CLAIMCHECK_BUCKET"]
TABLE = os.environ["CLAIMCHECK_TABLE"]
PREFIX = os.environ.get("CLAIMCHECK_UPLOADS_PREFIX", "uploads/")
URL_SECONDS = int(os.environ.get("CLAIMCHECK_DOWNLOAD_URL_SECONDS", "300"))

s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
ddb = boto3.client("dynamodb")


def answer(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def handler(event, context):
    payload_id = event["rawPath"].removeprefix("/payloads/")
    not_found = answer(404, {"error": {"code": "not_found", "message": f"no payload {payload_id}"}})
    try:
        uuid.UUID(payload_id)
    except ValueError:
        return not_found
    owner = event["requestContext"]["authorizer"]["iam"]["userArn"]
    item = ddb.get_item(TableName=TABLE, Key={"id": {"S": payload_id}}, ConsistentRead=True).get("Item")
    if not item or item.get("owner", {}).get("S") != owner:
        return not_found
    key = PREFIX + payload_id
    if item["bucket"]["S"] != BUCKET or item["key"]["S"] != key:
        return not_found
    status = item["status"]["S"]
    view = {"id": payload_id, "status": status, "size": int(item["size"]["N"]),
            "content_type": item.get("content_type", {}).get("S"), "sha256": item.get("sha256", {}).get("S"),
            "created_at": int(item["created_at"]["N"]) // 1000, "updated_at": int(item["updated_at"]["N"]) // 1000}
    if status not in ("pending", "quarantined", "expired"):
        try:
            s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
        else:
            url = s3.generate_presigned_url(
                "get_object", ExpiresIn=URL_SECONDS,
                Params={"Bucket": BUCKET, "Key": key,
                        "ResponseContentDisposition": f'attachment; filename="{payload_id}"'})
            view["download"] = {"method": "GET", "url": url, "expires_in": URL_SECONDS}
            print(json.dumps({"level": "INFO", "message": "download URL issued", "payload_id": payload_id}))
    return answer(200, view)
