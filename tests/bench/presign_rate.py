"""boto3's presigned PUT URLs per second on one core (the peer of presign_rate.rs)."""
import time
import uuid

import boto3

s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                  aws_secret_access_key="secret", endpoint_url=None)
params = {"Bucket": "payloads", "ContentType": "text/csv", "ContentLength": 1048576,
          "ChecksumSHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}
started = time.monotonic()
signed = 0
while time.monotonic() - started < 3:
    s3.generate_presigned_url("put_object", Params={**params, "Key": f"uploads/{uuid.uuid4()}"},
                              ExpiresIn=900)
    signed += 1
print(f"boto3 generate_presigned_url: {signed / (time.monotonic() - started):.0f} URLs/s on one core")
