"""The official Python extended client's CPU time (user + sys of this process) to send,
receive and delete 200 messages of 1 MiB against AWS_ENDPOINT_URL (the peer of
client_cpu.rs)."""
import resource
import uuid

import boto3
from sqs_extended_client import SQSExtendedClientSession

MESSAGES, SIZE = 200, 1 << 20


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


name = "cc-cpu-py-" + uuid.uuid4().hex[:10]
boto3.client("s3").create_bucket(Bucket=name)
sqs = SQSExtendedClientSession().client("sqs")
sqs.large_payload_support = name
sqs.use_legacy_attribute = False
queue = sqs.create_queue(QueueName=name)["QueueUrl"]
body = "x" * SIZE
before = cpu()
for _ in range(MESSAGES):
    sqs.send_message(QueueUrl=queue, MessageBody=body)
received = 0
while received < MESSAGES:
    out = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                              MessageAttributeNames=["All"])
    for message in out.get("Messages", []):
        assert len(message["Body"]) == SIZE
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        received += 1
after = cpu()
user, system = after[0] - before[0], after[1] - before[1]
print(f"python extended client: {MESSAGES} x 1 MiB send+receive+delete: {user + system:.2f} s CPU"
      f" (user {user:.2f} s, sys {system:.2f} s)")
