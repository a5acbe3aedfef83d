"""producer in Python: each S3 ObjectCreated record of an upload becomes one pointer message on
the work queue (the extended client's wire format), the ledger moving it `pending → queued`
after checking the object against what was announced."""
import json
import os
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from sqs_extended_client import SQSExtendedClientSession

from ledger import step

BUCKET = os.environ["CLAIMCHECK_BUCKET"]
TABLE = os.environ["CLAIMCHECK_TABLE"]
QUEUE_URL = os.environ["CLAIMCHECK_QUEUE_URL"]
PREFIX = os.environ.get("CLAIMCHECK_UPLOADS_PREFIX", "uploads/")
POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"

session = SQSExtendedClientSession()
s3 = session.client("s3")
ddb = session.client("dynamodb")
sqs = session.client("sqs")
sqs.large_payload_support = BUCKET


def log(**fields):
    print(json.dumps({"level": "INFO", "message": "record handled", **fields}))


def essence(content_type):
    return content_type.split(";", 1)[0].strip().lower()


def produce(record):
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])
    if not record["eventName"].startswith("ObjectCreated:") or bucket != BUCKET or not key.startswith(PREFIX):
        return "ignored"
    payload_id = key[len(PREFIX):]
    item = ddb.get_item(TableName=TABLE, Key={"id": {"S": payload_id}}, ConsistentRead=True).get("Item")
    if item is None:
        return "ignored: no ledger item"
    if item["status"]["S"] != "pending":
        return "duplicate"
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return "object gone"
        raise
    size = head["ContentLength"]
    announced_sha = item.get("sha256", {}).get("S")
    announced_type = item.get("content_type", {}).get("S")
    reason = None
    if size != int(item["size"]["N"]):
        reason = f"size mismatch: announced {item['size']['N']} bytes, stored {size}"
    elif announced_sha and head.get("ChecksumSHA256") and head["ChecksumSHA256"] != announced_sha:
        reason = f"checksum mismatch: announced SHA-256 {announced_sha}, stored {head['ChecksumSHA256']}"
    elif announced_type and head.get("ContentType") and essence(announced_type) != essence(head["ContentType"]):
        reason = f"content type mismatch: announced {announced_type}, stored {head['ContentType']}"
    if reason:
        step(ddb, TABLE, payload_id, ["pending"], "quarantined",
             sets={"last_error": {"S": reason}, "size": {"N": str(size)}})
        return "quarantined"
    if step(ddb, TABLE, payload_id, ["pending"], "queued",
            sets={"size": {"N": str(size)}, "e_tag": {"S": head["ETag"]}}) is None:
        return "duplicate"
    attributes = {
        "ExtendedPayloadSize": {"DataType": "Number", "StringValue": str(size)},
        "payload_id": {"DataType": "String", "StringValue": payload_id},
    }
    if announced_type:
        attributes["content_type"] = {"DataType": "String", "StringValue": announced_type}
    try:
        sent = sqs.send_message(
            QueueUrl=QUEUE_URL,
            MessageBody=json.dumps([POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}], separators=(",", ":")),
            MessageAttributes=attributes,
        )
    except Exception as error:
        step(ddb, TABLE, payload_id, ["queued"], "pending", sets={"last_error": {"S": f"send failed: {error}"}})
        raise
    # The consumer's claim records the message id, as claimcheck's does.
    print(json.dumps({"level": "INFO", "message": "pointer sent", "message_id": sent["MessageId"]}))
    return "queued"


def handler(event, context):
    for record in event["Records"]:
        log(outcome=produce(record))
    return None
