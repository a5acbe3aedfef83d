"""The peer of the payload store's 1 GiB put and get (claimcheck/examples/stream_payload.rs):
boto3's transfer manager (s3transfer, default configuration: 8 MiB parts, 10 threads) uploads a
generated payload with `upload_fileobj` and downloads it with `download_fileobj` against
AWS_ENDPOINT_URL, and prints wall time, CPU (user + sys of this process) and peak RSS for each
direction. It is given what it handles best: a file to read (seekable: a stream would be
buffered part by part ahead of the uploads) and a file to write (ranges written in place, where
a stream makes it hold them until they are in order); the copy is checked against the original
after the clock stops. `CLAIMCHECK_BENCH_MIB` changes the size (default 1024)."""
import hashlib
import os
import resource
import tempfile
import time
import uuid

import boto3

MIB = 1 << 20


def generate(path, size):
    """`size` pseudo-random bytes written to `path` (one random MiB, rotated: cheap to
    produce, never compressible); their SHA-256."""
    block, digest, offset = os.urandom(MIB), hashlib.sha256(), 0
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            start = offset % MIB
            chunk = (block[start:] + block[:start])[:min(MIB, remaining)]
            f.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
            offset += 7919
    return digest.digest()


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            digest.update(chunk)
    return digest.digest()


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main():
    mib = int(os.environ.get("CLAIMCHECK_BENCH_MIB", "1024"))
    s3 = boto3.client("s3")
    bucket = "cc-bench-py-" + uuid.uuid4().hex[:10]
    s3.create_bucket(Bucket=bucket)
    print(f"boto3 transfer manager (default configuration): {mib} MiB, from and to a file")
    with tempfile.TemporaryDirectory() as work:
        source, target = os.path.join(work, "payload"), os.path.join(work, "copy")
        sent = generate(source, mib * MIB)
        reset_peak_rss()
        started, cpu_before = time.monotonic(), cpu()
        with open(source, "rb") as f:
            s3.upload_fileobj(f, bucket, "bench/payload")
        put = (time.monotonic() - started, cpu() - cpu_before, peak_rss_mib())
        reset_peak_rss()
        started, cpu_before = time.monotonic(), cpu()
        with open(target, "wb") as f:
            s3.download_fileobj(bucket, "bench/payload", f)
        get = (time.monotonic() - started, cpu() - cpu_before, peak_rss_mib())
        intact = sha256_of(target) == sent and os.path.getsize(target) == mib * MIB
    for direction, (wall, used, rss) in (("put", put), ("get", get)):
        print(f"{direction}: {wall:.1f} s ({mib / wall:.0f} MiB/s), CPU {used:.1f} s, peak RSS {rss:.1f} MiB")
    print(f"round trip intact (SHA-256 and length): {intact}")
    s3.delete_object(Bucket=bucket, Key="bench/payload")
    s3.delete_bucket(Bucket=bucket)
    if not intact:
        raise SystemExit("the payload read back differs from the one written")


if __name__ == "__main__":
    main()
