"""boto3's presigned PUT URLs per second on one core (the peer of presign_rate.rs)."""
import time
import uuid

import boto3

s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                  aws_secret_access_key="secret", endpoint_url=None)
params = {"Bucket": "payloads", "ContentType": "text/csv", "ContentLength": 1048576,
          "ChecksumSHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}


def per_second(sign):
    """Calls `sign` one after another for three seconds and returns the calls per second."""
    started = time.monotonic()
    signed = 0
    while time.monotonic() - started < 3:
        sign()
        signed += 1
    return signed / (time.monotonic() - started)


rate = per_second(lambda: s3.generate_presigned_url(
    "put_object", Params={**params, "Key": f"uploads/{uuid.uuid4()}"}, ExpiresIn=900))
print(f"boto3 generate_presigned_url: {rate:.0f} URLs/s on one core")
rate = per_second(lambda: s3.generate_presigned_url(
    "put_object", Params={"Bucket": "payloads", "Key": "uploads/fixed"}, ExpiresIn=900))
print(f"  boto3 alone, bare PUT: {rate:.0f} URLs/s on one core")
