"""consumer in Python: for each SQS record, claim the payload in the ledger (a lease), fetch the
body through the official extended client, verify its size and SHA-256, record it `done`."""
import base64
import hashlib
import json
import os
import uuid

from sqs_extended_client import SQSExtendedClientSession

from ledger import now_ms, step

BUCKET = os.environ["CLAIMCHECK_BUCKET"]
TABLE = os.environ["CLAIMCHECK_TABLE"]
LEASE_MS = int(os.environ.get("CLAIMCHECK_LEASE_SECONDS", "900")) * 1000
OWNER = f"consumer-{uuid.uuid4()}"
CLAIMABLE = ["queued", "failed", "redriven", "dead"]

session = SQSExtendedClientSession()
ddb = session.client("dynamodb")
sqs = session.client("sqs")
sqs.large_payload_support = BUCKET


def consume(record):
    attributes = record.get("messageAttributes") or {}
    payload_id = attributes["payload_id"]["stringValue"]
    declared = int(attributes["ExtendedPayloadSize"]["stringValue"])
    pointer = json.loads(record["body"])[1]
    if pointer["s3BucketName"] != BUCKET:
        raise ValueError(f"untrusted bucket {pointer['s3BucketName']}")
    now = now_ms()
    claimed = step(
        ddb, TABLE, payload_id, CLAIMABLE, "processing",
        sets={"lease_owner": {"S": OWNER}, "lease_expires_at": {"N": str(now + LEASE_MS)},
              "message_id": {"S": record["messageId"]}}, add=["attempts"],
        condition="{allowed} OR (#status = :processing AND lease_expires_at < :now)",
        values={":processing": {"S": "processing"}, ":now": {"N": str(now)}},
    )
    if claimed is None:
        raise RuntimeError(f"payload {payload_id} cannot be claimed")
    body = sqs.retrieve_message_from_s3(record["body"]).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    expected = claimed.get("sha256", {}).get("S")
    if len(body) != declared or (expected and expected != digest):
        raise ValueError("payload does not match its announcement")
    step(ddb, TABLE, payload_id, ["processing"], "done", sets={"sha256": {"S": digest}},
         remove=["lease_owner", "lease_expires_at", "last_error"])
    print(json.dumps({"level": "INFO", "message": "record handled", "payload_id": payload_id, "outcome": "done"}))


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            consume(record)
        except Exception as error:
            print(json.dumps({"level": "ERROR", "message": "record failed", "error": str(error)}))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
