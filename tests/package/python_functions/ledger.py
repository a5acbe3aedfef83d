"""The ledger as the Rust functions write it (claimcheck/src/ledger): one item per payload, every
state change a conditional UpdateItem that also keeps the sparse indexes' keys and the TTL."""
import hashlib
import time

from botocore.exceptions import ClientError

STATUS_INDEX = "status_shard-updated_at-index"
PENDING_INDEX = "pending_owner-created_at-index"
SHARDS = 16
RETENTION_SECONDS = 30 * 24 * 3600


def now_ms():
    return int(time.time() * 1000)


def status_shard(status, payload_id):
    """The status index's key: `<status>#<shard>`; None for the states it leaves out."""
    if status in ("done", "expired"):
        return None
    return f"{status}#{hashlib.sha256(payload_id.encode()).digest()[0] % SHARDS:02d}"


def step(ddb, table, payload_id, sources, to, sets=None, add=(), remove=(), condition=None, values=None):
    """Moves the payload from one of `sources` to `to`, setting `sets` ({name: AttributeValue});
    the new item, or None when another writer got there first (the condition failed).
    `condition` may widen or narrow the state check, written around `{allowed}`."""
    now = now_ms()
    names = {"#status": "status"}
    expression_values = {":to": {"S": to}, ":now_set": {"N": str(now)},
                         ":ttl": {"N": str(now // 1000 + RETENTION_SECONDS)}}
    assignments = ["#status = :to", "updated_at = :now_set", "expires_at = :ttl"]
    shard = status_shard(to, payload_id)
    if shard:
        assignments.append("status_shard = :status_shard")
        expression_values[":status_shard"] = {"S": shard}
    for name, value in (sets or {}).items():
        assignments.append(f"#{name} = :{name}")
        names[f"#{name}"] = name
        expression_values[f":{name}"] = value
    for i, status in enumerate(sources):
        expression_values[f":from{i}"] = {"S": status}
    expression = "SET " + ", ".join(assignments)
    if add:
        expression += " ADD " + ", ".join(f"{name} :one" for name in add)
        expression_values[":one"] = {"N": "1"}
    remove = list(remove) + ([] if to == "pending" else ["pending_owner"]) + ([] if shard else ["status_shard"])
    if remove:
        expression += " REMOVE " + ", ".join(remove)
    allowed = "#status IN (" + ", ".join(f":from{i}" for i in range(len(sources))) + ")"
    expression_values.update(values or {})
    try:
        return ddb.update_item(
            TableName=table,
            Key={"id": {"S": payload_id}},
            UpdateExpression=expression,
            ConditionExpression=f"attribute_exists(id) AND ({(condition or '{allowed}').format(allowed=allowed)})",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=expression_values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
