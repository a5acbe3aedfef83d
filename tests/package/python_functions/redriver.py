"""redriver's reconcile in Python: list the stalled states (pending, processing, queued past its
stall) shard by shard from the status index, read the items (consistent BatchGetItem), and
repair what stalled; here a pending payload whose URL expired unused is marked `expired`."""
import json
import os

from botocore.exceptions import ClientError
from sqs_extended_client import SQSExtendedClientSession

from ledger import SHARDS, STATUS_INDEX, now_ms, step

BUCKET = os.environ["CLAIMCHECK_BUCKET"]
TABLE = os.environ["CLAIMCHECK_TABLE"]
QUEUE_URL = os.environ["CLAIMCHECK_QUEUE_URL"]
QUEUED_STALL_MS = int(os.environ.get("CLAIMCHECK_QUEUED_STALL_SECONDS", "3600")) * 1000
PENDING_GRACE_MS = int(os.environ.get("CLAIMCHECK_PENDING_GRACE_SECONDS", "3600")) * 1000

session = SQSExtendedClientSession()
s3 = session.client("s3")
ddb = session.client("dynamodb")
sqs = session.client("sqs")
sqs.large_payload_support = BUCKET


def listed(status, before):
    """Every live item in `status` changed at or before `before`."""
    for shard in range(SHARDS):
        start = {}
        while True:
            page = ddb.query(
                TableName=TABLE, IndexName=STATUS_INDEX, Limit=100,
                KeyConditionExpression="status_shard = :shard AND updated_at <= :before",
                ExpressionAttributeValues={":shard": {"S": f"{status}#{shard:02d}"}, ":before": {"N": str(before)}},
                **start)
            keys = [{"id": item["id"]} for item in page["Items"]]
            if keys:
                items = ddb.batch_get_item(
                    RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})["Responses"][TABLE]
                yield from (i for i in items if i["status"]["S"] == status and int(i["updated_at"]["N"]) <= before)
            if "LastEvaluatedKey" not in page:
                break
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def repair(item, now):
    """(stalled, reconciled)."""
    payload_id, status = item["id"]["S"], item["status"]["S"]
    if status == "pending":
        expires = int(item.get("url_expires_at", item["created_at"])["N"])
        if expires + PENDING_GRACE_MS >= now:
            return False, False
        try:
            s3.head_object(Bucket=item["bucket"]["S"], Key=item["key"]["S"], ChecksumMode="ENABLED")
            return True, False  # a lost S3 event: admission (as the producer does) would queue it
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
        done = step(ddb, TABLE, payload_id, ["pending"], "expired",
                    sets={"last_error": {"S": "the upload URL expired and no object was uploaded"}})
        return True, done is not None
    if status == "processing":
        lease = int(item.get("lease_expires_at", {"N": "0"})["N"])
        if lease >= now:
            return False, False
        done = step(ddb, TABLE, payload_id, ["processing"], "failed",
                    sets={"last_error": {"S": "the lease expired: the consumer crashed or timed out"}},
                    remove=["lease_owner", "lease_expires_at"],
                    condition="{allowed} AND lease_expires_at < :now", values={":now": {"N": str(now)}})
        return True, done is not None
    return True, False  # queued past its stall: resend its pointer (not exercised here)


def handler(event, context):
    if event.get("mode") != "reconcile":
        raise ValueError("this peer runs reconcile only")
    now = now_ms()
    stats = {"scanned": 0, "stalled": 0, "reconciled": 0, "failed": 0}
    for status, before in (("pending", now), ("processing", now), ("queued", now - QUEUED_STALL_MS)):
        for item in listed(status, before):
            stats["scanned"] += 1
            stalled, reconciled = repair(item, now)
            stats["stalled"] += stalled
            stats["reconciled"] += reconciled
    report = {"mode": "reconcile", "dry_run": False, "complete": True, "stats": stats}
    print(json.dumps({"level": "INFO", "message": "finished", "report": report}))
    return report
