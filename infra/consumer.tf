# The consumer sized for the largest payload it accepts. It streams each payload once, hashing
# it as it goes (the verifying processor), one record after another; so its time per payload
# is the payload's size over the slower of two rates:
# - its CPU: make bench (section 8) measures the verifying consumer on one core; Lambda gives a
#   function a share of a vCPU proportional to its memory, a whole one at 1769 MB (AWS Lambda
#   Developer Guide, "Configure Lambda function memory"); one stream uses one core at most;
# - S3: one GET stream delivers about 85-90 MB/s (AWS, "Performance guidelines for Amazon S3":
#   one concurrent request per 85-90 MB/s of desired throughput).
# Unless set, memory, timeout and batch size are derived from those rates and the largest
# payload; and whatever is set, the combination must finish that payload (checked on the
# consumer function).

locals {
  # Bytes per CPU-second the verifying consumer streams on one core: make bench (section 8)
  # measured 949 MB per CPU-second for a 5 GiB payload (x86_64, 2026-11-30); half of that here,
  # for Lambda's arm64 cores and headroom.
  consumer_cpu_bytes_per_second = 450000000
  # One S3 GET stream, the low end of AWS's 85-90 MB/s.
  s3_stream_bytes_per_second = 85000000
  # Lambda's memory for one whole vCPU.
  one_vcpu_memory_mb = 1769
  # Seconds an invocation keeps for everything but streaming (claims, ledger writes, the
  # consumer's 5 s deadline margin).
  consumer_overhead_seconds = 10

  # The largest payload the consumer must finish: every accepted upload, unless
  # consumer_max_payload_bytes parks larger ones.
  largest_payload_bytes = var.consumer_max_payload_bytes > 0 ? min(var.consumer_max_payload_bytes, var.max_upload_bytes) : var.max_upload_bytes

  # The smallest memory whose CPU share keeps up with one S3 stream (more buys nothing for one
  # stream), unless set.
  consumer_memory_mb = var.consumer_memory_mb != null ? var.consumer_memory_mb : concat([
    for memory in [256, 512, 1024, 1769] : memory
    if local.consumer_cpu_bytes_per_second * memory / local.one_vcpu_memory_mb >= local.s3_stream_bytes_per_second
  ], [1769])[0]
  consumer_bytes_per_second = min(
    local.s3_stream_bytes_per_second,
    floor(local.consumer_cpu_bytes_per_second * min(local.consumer_memory_mb, local.one_vcpu_memory_mb) / local.one_vcpu_memory_mb)
  )
  largest_payload_seconds = ceil(local.largest_payload_bytes / local.consumer_bytes_per_second)

  # Room for a batch of ten largest payloads when that fits in Lambda's 900 s, else the most
  # that does; never under a minute.
  consumer_timeout_seconds = var.consumer_timeout_seconds != null ? var.consumer_timeout_seconds : min(900, max(60, 10 * local.largest_payload_seconds + local.consumer_overhead_seconds))
  # As many largest payloads as the timeout holds, one after another (1-10).
  batch_size = var.batch_size != null ? var.batch_size : max(1, min(10, floor((local.consumer_timeout_seconds - local.consumer_overhead_seconds) / max(local.largest_payload_seconds, 1))))

  # What the consumer can stream within its timeout: its CLAIMCHECK_MAX_PAYLOAD_BYTES unless
  # consumer_max_payload_bytes says otherwise, so a larger payload (possible only if
  # max_upload_bytes grows without a redeploy of the consumer) is parked on its first attempt.
  consumer_streamable_bytes  = floor(local.consumer_bytes_per_second * max(local.consumer_timeout_seconds - local.consumer_overhead_seconds, 0))
  consumer_max_payload_bytes = var.consumer_max_payload_bytes > 0 ? var.consumer_max_payload_bytes : local.consumer_streamable_bytes
}
