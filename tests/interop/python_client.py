"""Drives AWS's official Python SQS extended client (amazon-sqs-extended-client) for the
interop tests: `send` puts messages on a queue the way a Python producer would, `receive`
reads them the way a Python consumer would and prints what it got as JSON.

The endpoint, credentials and region come from the standard AWS environment variables
(AWS_ENDPOINT_URL and friends), exactly as for the Rust side.
"""
import argparse
import hashlib
import json
import sys

from sqs_extended_client import SQSExtendedClientSession


def client(args):
    sqs = SQSExtendedClientSession().client("sqs")
    sqs.large_payload_support = args.bucket
    sqs.use_legacy_attribute = args.legacy
    sqs.delete_payload_from_s3 = args.delete_payload
    return sqs


def send(args):
    sqs = client(args)
    with open(args.body_file, encoding="utf-8") as f:
        body = f.read()
    attributes = {}
    for pair in args.attr or []:
        name, value = pair.split("=", 1)
        attributes[name] = {"DataType": "String", "StringValue": value}
    response = sqs.send_message(QueueUrl=args.queue, MessageBody=body, MessageAttributes=attributes)
    json.dump({"message_id": response["MessageId"]}, sys.stdout)


def receive(args):
    sqs = client(args)
    out = []
    while True:
        response = sqs.receive_message(
            QueueUrl=args.queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        for m in messages:
            body = m["Body"].encode("utf-8")
            out.append(
                {
                    "body_len": len(body),
                    "body_sha256": hashlib.sha256(body).hexdigest(),
                    "attributes": {k: v.get("StringValue") for k, v in m.get("MessageAttributes", {}).items()},
                    "extended_handle": m["ReceiptHandle"].startswith("-..s3BucketName..-"),
                }
            )
            if args.delete:
                sqs.delete_message(QueueUrl=args.queue, ReceiptHandle=m["ReceiptHandle"])
    json.dump(out, sys.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["send", "receive"])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--legacy", action="store_true", help="legacy class name and SQSLargePayloadSize")
    parser.add_argument("--delete-payload", action="store_true", help="delete the S3 object on delete")
    parser.add_argument("--body-file")
    parser.add_argument("--attr", action="append", help="name=value string attribute")
    parser.add_argument("--delete", action="store_true", help="delete each message after receiving it")
    args = parser.parse_args()
    {"send": send, "receive": receive}[args.command](args)


if __name__ == "__main__":
    main()
