"""`make bench`, any size: a payload larger than S3's single-PUT ceiling (6 GiB by default)
uploaded through local mode's API by the `claimcheck` command (a multipart upload of parallel
parts), then processed by local mode's verifying consumer (streamed from S3 and its SHA-256
checked). Prints the upload's wall time, MB/s and the command's peak RSS (goal: at most
128 MiB), and the time from completion to `done`. Figures, never assertions.

Usage (under tests/with-endpoint.sh): python tests/bench/large_upload.py PATH-TO-claimcheck
Environment: CLAIMCHECK_BENCH_UPLOAD_GIB (default 6).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

MIB = 1024 * 1024


def generate(path, size):
    """`size` bytes of a pseudo-random stream (incompressible, cheap to make)."""
    block = os.urandom(4 * MIB)
    with open(path, "wb") as f:
        written = 0
        counter = 0
        while written < size:
            # A fresh block now and then, so no two parts are alike.
            if counter % 16 == 0:
                block = os.urandom(4 * MIB)
            chunk = block[: min(len(block), size - written)]
            f.write(chunk)
            written += len(chunk)
            counter += 1


def run(claimcheck, args, outputs):
    """Runs `claimcheck --outputs FILE ARGS --json`; its answer, wall seconds, peak RSS MiB."""
    started = time.monotonic()
    process = subprocess.Popen(
        [claimcheck, "--outputs", outputs, *args, "--json", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        sys.exit(f"claimcheck {' '.join(args)} failed: {stderr.decode(errors='replace')}")
    return json.loads(stdout), wall, usage.ru_maxrss / 1024


def main():
    claimcheck = sys.argv[1]
    size = int(float(os.environ.get("CLAIMCHECK_BENCH_UPLOAD_GIB", "6")) * 1024 * MIB)
    with tempfile.TemporaryDirectory(dir=os.environ.get("CLAIMCHECK_BENCH_DIR")) as work:
        outputs = os.path.join(work, "outputs.json")
        local = subprocess.Popen(
            [
                claimcheck, "local", "--name", f"bench-{os.getpid()}",
                "--write-outputs", outputs,
                "--max-upload-bytes", str(size),
                # The consumer's lease and timeout long enough to stream the whole payload.
                "--visibility-timeout", "3600",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "local.log"), "wb"),
        )
        try:
            for _ in range(300):
                if os.path.exists(outputs) and os.path.getsize(outputs) > 0:
                    break
                time.sleep(0.1)
            else:
                sys.exit("claimcheck local did not start")
            path = os.path.join(work, "payload.bin")
            generate(path, size)
            uploaded, wall, rss = run(claimcheck, ["upload", path], outputs)
            os.remove(path)
            completed = time.monotonic()
            status = None
            while time.monotonic() - completed < 3600:
                status, _, _ = run(claimcheck, ["status", uploaded["id"]], outputs)
                if status["status"] in ("done", "dead", "quarantined", "failed"):
                    break
                time.sleep(1)
            to_done = time.monotonic() - completed
        finally:
            local.terminate()
            local.wait()
    gib = size / (1024 * MIB)
    print(f"{'upload through the API':<34} {'size':>9} {'wall s':>8} {'MB/s':>8} {'peak RSS MiB':>13}")
    print(f"{'claimcheck upload (multipart)':<34} {gib:>7.1f} G {wall:>8.1f} {size / 1e6 / wall:>8.1f} {rss:>13.1f}")
    print(f"consumer: completed -> {status and status['status']} in {to_done:.1f} s "
          f"({size / 1e6 / to_done:.1f} MB/s, streamed from S3 and SHA-256 verified)")
    print(f"goal: CLI peak RSS <= 128 MiB: {'met' if rss <= 128 else 'MISSED'}")


if __name__ == "__main__":
    main()
