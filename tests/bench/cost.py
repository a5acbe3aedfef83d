"""Issue 20, item 2: dollars per million payloads, from the AWS requests claimcheck really makes.

Runs `claimcheck local` against the local endpoint with its call log on (tests/local_endpoint.py,
`CLAIMCHECK_CALL_LOG`), and for each payload size (1 KiB, 1 MiB, 64 MiB) a steady phase of
payloads uploaded the way a producer does (through the API: `POST /uploads` signed with SigV4,
then one PUT to the presigned URL, as `claimcheck upload` does for a file up to the multipart
threshold; no status polls). Each phase ends when every payload is `done` and the work queue is
empty. The phase's call-log lines (its file offsets) are then attributed to stages by who made
them and priced with tests/bench/prices.json (on-demand list prices, us-east-1, free tiers
ignored):

  upload API     API Gateway requests, presign-upload's invocations and its DynamoDB calls
  upload to S3   the PUT to the presigned URL (signed by presign-upload, sent by the client)
  producer       its invocations (S3 event), HEAD, DynamoDB, SQS send
  queue          the event source mapping's receives and deletes on the work queue (Lambda's
                 pollers call SQS on the function's behalf; billed to the queue's owner)
  consumer       its invocations, S3 GET, DynamoDB

Lambda GB-seconds are each invocation's measured handler time (local mode's `duration_ms`,
rounded up to 1 ms as Lambda bills) times the function's memory as Terraform configures it by
default (infra/defaults.json: `memory_mb`, and `consumer_memory_mb` as infra/consumer.tf derives it) at the
default architecture's price (`architecture`, arm64). Local mode runs the handlers in one
process on this machine, so durations are this machine's, not Lambda's.

Not per payload, reported apart: the reconcile schedule (the redriver's passes, per pass and per
hour at Terraform's `reconcile_schedule`), and empty receives of the pollers (a cost per hour
of idle polling, the same in both designs, and local mode polls differently from Lambda:
2 pollers, 2 s long polls). Not counted at all: the driver's own calls (signed `bench-driver`:
ledger reads to see payloads done, queue attributes, deleting finished objects to keep the disk
free — AWS's lifecycle rule expires them at no request charge) and local mode's plumbing that
AWS does not bill as SQS (the S3 events queue local mode reads in place of S3 invoking the
producer).

The minimal design of the pattern, priced from the same run and the same table: the producer
uploads with one PUT (a presigned URL or its own credentials; multipart only above S3's 5 GiB
single-PUT limit), the bucket's event notification sends one message per object to SQS (that
send billed to the queue, 64 KiB chunks as SQS bills them: an event is about 1.5 KB), Lambda's
event source mapping receives and deletes per batch at the batch size measured here (one
receive and one DeleteMessageBatch per batch, one invocation per batch), the consumer reads
the object with one GET and runs as long as the measured claimcheck consumer did (same memory;
that time includes claimcheck's ledger calls, so the minimal design's GB-s are, if anything,
overstated): no API, no producer function, no ledger.

What the log must hold, or nothing is priced: SQS and DynamoDB lines with their billing fields
(the endpoint's main() wraps its application with CallLog.measure), and each function's calls
signed with its own key (`fn-<function>`, which local mode does under CLAIMCHECK_CALL_LOG).
Lambda and API Gateway lines come from local mode too; without them the figures are printed
marked INCOMPLETE.

Usage (the endpoint must keep a call log, so it is started by this script unless already
running; a running one must have been started with CLAIMCHECK_CALL_LOG set):
    python tests/bench/cost.py PATH-TO-claimcheck
    CLAIMCHECK_CALL_LOG=FILE tests/with-endpoint.sh python tests/bench/cost.py PATH-TO-claimcheck
    python tests/bench/cost.py --analyze RUN.json   (re-price a recorded run)
Environment: CLAIMCHECK_COST_PAYLOADS (per size, default 200), CLAIMCHECK_COST_SIZES (default
1KiB,1MiB,64MiB), CLAIMCHECK_COST_CONCURRENCY (uploads in flight, default 4),
CLAIMCHECK_COST_MAX_OPEN (payloads uploaded but not yet done, at most; default 32),
CLAIMCHECK_COST_RECONCILE_SECONDS (local mode's reconcile period, default 60, so passes happen
during the run), CLAIMCHECK_COST_RUN (where the run's record, RUN.json, is written). Started by
this script, the endpoint's call log and the run's record are kept in the build directory
(target/endpoint-logs/cost-<time>-calls.jsonl and -run.json), for --analyze.
Figures, never assertions.
"""
import base64
import collections
import concurrent.futures
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRICES = os.path.join(ROOT, "tests", "bench", "prices.json")
DRIVER = "bench-driver"  # the access key id the driver's own AWS calls are signed with
STAGES = ["upload API", "upload to S3", "producer", "queue", "consumer"]
# S3 requests by IAM action (the call log's `action`): the PUT/COPY/POST/LIST tier, free, and
# everything else (GET, HEAD, tagging reads) in the GET tier.
S3_PUT_TIER = {"PutObject", "ListBucket", "ListMultipartUploadParts", "ListBucketMultipartUploads",
               "ListBucketVersions", "PutObjectTagging", "PutObjectAcl"}
S3_FREE = {"DeleteObject", "DeleteObjectVersion", "AbortMultipartUpload"}
S3_SINGLE_PUT_LIMIT = 5 * 1024 ** 3
# An S3 ObjectCreated notification as SQS receives it is about 1.5 KB: one 64 KiB chunk.
S3_EVENT_BYTES = 1536
UNITS = {"KIB": 1024, "MIB": 1024 ** 2, "GIB": 1024 ** 3}


def parse_size(text):
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]iB)?\s*", text, re.IGNORECASE)
    if not match:
        sys.exit(f"CLAIMCHECK_COST_SIZES: {text!r} is not a size like 1KiB, 1MiB or 64MiB")
    return int(match.group(1)) * UNITS.get((match.group(2) or "").upper(), 1)


def size_name(size):
    for name, unit in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


# --- What Terraform deploys (memory, architecture, schedule): infra/defaults.json -------------

def deployment():
    """Memory per function (MB), architecture, reconcile passes per hour, the ESM's batch size
    and window, and whether the queue is FIFO: Terraform's defaults, as infra/defaults.json
    holds them (the infra tests keep it equal to the variables' defaults and to the consumer's
    derived sizing in infra/consumer.tf)."""
    with open(os.path.join(ROOT, "infra", "defaults.json"), encoding="utf-8") as f:
        defaults = json.load(f)
    memory = dict(defaults["memory_mb"], consumer=defaults["consumer_memory_mb"])
    schedule = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", defaults["reconcile_schedule"])
    if not schedule:
        sys.exit(f"infra/defaults.json: reconcile_schedule {defaults['reconcile_schedule']!r} is not rate(N minutes)")
    period = int(schedule.group(1)) * (60 if schedule.group(2).startswith("hour") else 1)
    return {
        "memory_mb": memory,
        "architecture": defaults["architecture"],
        "reconcile_per_hour": 60 / period,
        "reconcile_schedule": defaults["reconcile_schedule"],
        "batch_size": defaults["batch_size"],
        "batching_window_seconds": defaults["maximum_batching_window_seconds"],
        "fifo": defaults["fifo"],
    }


# --- Attributing and pricing call-log lines --------------------------------------------------

def read_lines(path, start, end):
    with open(path, "rb") as f:
        f.seek(start)
        chunk = f.read(end - start)
    return [json.loads(line) for line in chunk.splitlines() if line.strip()]


def stage_of(line, stack):
    """The stage a line's cost belongs to, or None when it is not billed as claimcheck's
    (the driver, local mode's own plumbing). `stack` names local mode's key and queues."""
    who, service = line.get("principal"), line.get("service")
    if service == "lambda":
        return {"presign-upload": "upload API", "producer": "producer", "consumer": "consumer",
                "redriver": "redriver", "presign-download": "download API"}.get(line.get("resource"), "other")
    if service == "apigateway":
        return "download API" if (line.get("action") or "").startswith("GET /payloads") else "upload API"
    if who == DRIVER:
        return None
    if who == "fn-presign-upload":
        return "upload to S3" if line.get("presigned") else "upload API"
    if who and who.startswith("fn-"):
        return {"producer": "producer", "consumer": "consumer", "redriver": "redriver",
                "presign-download": "download API"}.get(who[3:], "other")
    if who == stack["local_key"] and service == "sqs":
        if line.get("resource") == stack["queue_url"]:
            return "queue"
        return None  # the S3 events queue: how local mode stands in for S3 invoking Lambda
    return None


class Bill:
    """Requests, units and dollars, by stage and by (service, what)."""

    def __init__(self, prices, setup):
        self.prices, self.setup = prices, setup
        self.quantity = collections.Counter()  # (stage, service, what) -> count or units
        self.dollars = collections.Counter()  # (stage, service, what) -> USD
        self.problems = collections.Counter()
        self.batches = collections.Counter()  # consumer invocations by records
        self.durations = collections.defaultdict(list)  # function -> billed ms per invocation
        self.empty_receives = 0
        self.receives = collections.Counter()  # messages per non-empty receive

    def add(self, stage, service, what, quantity, dollars=0.0):
        self.quantity[(stage, service, what)] += quantity
        self.dollars[(stage, service, what)] += dollars

    def line(self, line, stage):
        p, service = self.prices, line.get("service")
        if line.get("same_request"):
            return  # another IAM action of the request on the line before: not a request
        if line.get("billing_error"):
            self.problems[f"{service} {line.get('action')}: {line['billing_error']}"] += 1
        if service == "s3":
            action = line["action"]
            if action in S3_FREE:
                self.add(stage, "s3", f"{action} (free)", 1)
            elif action in S3_PUT_TIER:
                self.add(stage, "s3", action, 1, p["s3"]["put_copy_post_list_per_1000"] / 1000)
            else:
                # GetObject covers GET and HEAD (one IAM action, one price tier).
                label = f"{action} (GET/HEAD)" if action == "GetObject" else action
                self.add(stage, "s3", label, 1, p["s3"]["get_select_other_per_1000"] / 1000)
        elif service == "sqs":
            operation = line.get("operation") or line["action"]
            billed = line.get("billed_requests")
            if billed is None:
                self.problems["sqs lines without billed_requests (an endpoint without CallLog.measure)"] += 1
                billed = 1
            if operation == "ReceiveMessage" and line.get("messages") == 0:
                self.empty_receives += 1
                return  # idle polling: per hour, not per payload (see the docstring)
            if operation == "ReceiveMessage" and line.get("messages"):
                self.receives[line["messages"]] += 1
            fifo = (line.get("resource") or "").endswith(".fifo")
            price = p["sqs"]["fifo_per_million" if fifo else "standard_per_million"] / 1e6
            self.add(stage, "sqs", operation, billed, billed * price)
        elif service == "dynamodb":
            operation = line.get("operation") or line["action"]
            self.add(stage, "dynamodb", f"{operation} requests", 1)
            if "write_units" not in line and "read_units" not in line:
                self.problems["dynamodb lines without units (an endpoint without CallLog.measure)"] += 1
                return
            write, index, read = (line.get("write_units", 0), line.get("index_write_units", 0),
                                  line.get("read_units", 0))
            if line.get("status") not in (200, None):
                self.add(stage, "dynamodb", f"{operation} refused ({line.get('status')})", 1)
            wru = p["dynamodb"]["write_request_unit_per_million"] / 1e6
            rru = p["dynamodb"]["read_request_unit_per_million"] / 1e6
            if write:
                self.add(stage, "dynamodb", f"{operation} WRU (table)", write, write * wru)
            if index:
                self.add(stage, "dynamodb", f"{operation} WRU (indexes)", index, index * wru)
            if read:
                self.add(stage, "dynamodb", f"{operation} RRU", read, read * rru)
        elif service == "lambda":
            function = line.get("resource")
            memory = self.setup["memory_mb"].get(function)
            billed_ms = math.ceil(line.get("duration_ms", 0))
            self.durations[function].append(billed_ms)
            if function == "consumer":
                self.batches[line.get("records", 0)] += 1
            gb_seconds = billed_ms / 1000 * (memory or 0) / 1024
            rate = p["lambda"]["gb_second"][self.setup["architecture"]]
            self.add(stage, "lambda", "Invoke", 1, p["lambda"]["requests_per_million"] / 1e6)
            self.add(stage, "lambda", "GB-s", gb_seconds, gb_seconds * rate)
        elif service == "apigateway":
            self.add(stage, "apigateway", f"{line['action']} ({line.get('status')})", 1,
                     p["apigateway"]["http_api_per_million"] / 1e6)
        else:
            self.problems[f"unknown service {service}"] += 1


def minimal_design(prices, setup, size, batch, consumer_ms):
    """The minimal design's bill per payload (see the docstring): {(stage, service, what): qty}
    and {(stage, service): USD}."""
    p = prices
    parts = 1 if size <= S3_SINGLE_PUT_LIMIT else math.ceil(size / (100 * 1024 ** 2)) + 2
    sqs_price = p["sqs"]["fifo_per_million" if setup["fifo"] else "standard_per_million"] / 1e6
    memory = setup["memory_mb"]["consumer"]
    gb_seconds = consumer_ms / 1000 * memory / 1024 / batch
    rate = p["lambda"]["gb_second"][setup["architecture"]]
    event_chunks = math.ceil(S3_EVENT_BYTES / p["sqs"]["chunk_bytes"])
    quantity = {
        ("upload to S3", "s3", "PutObject"): parts,
        ("queue", "sqs", "SendMessage (S3 notification)"): event_chunks,
        ("queue", "sqs", "ReceiveMessage"): 1 / batch,
        ("queue", "sqs", "DeleteMessageBatch"): 1 / batch,
        ("consumer", "lambda", "Invoke"): 1 / batch,
        ("consumer", "lambda", "GB-s"): gb_seconds,
        ("consumer", "s3", "GetObject (GET/HEAD)"): 1,
    }
    dollars = {
        ("upload to S3", "s3", "PutObject"): parts * p["s3"]["put_copy_post_list_per_1000"] / 1000,
        ("queue", "sqs", "SendMessage (S3 notification)"): event_chunks * sqs_price,
        ("queue", "sqs", "ReceiveMessage"): sqs_price / batch,
        ("queue", "sqs", "DeleteMessageBatch"): sqs_price / batch,
        ("consumer", "lambda", "Invoke"): p["lambda"]["requests_per_million"] / 1e6 / batch,
        ("consumer", "lambda", "GB-s"): gb_seconds * rate,
        ("consumer", "s3", "GetObject (GET/HEAD)"): p["s3"]["get_select_other_per_1000"] / 1000,
    }
    return quantity, dollars


# --- Printing ---------------------------------------------------------------------------------

SERVICES = [("apigateway", "API req"), ("lambda", "Lambda inv"), ("lambda-gbs", "Lambda GB-s"),
            ("s3", "S3 req"), ("sqs", "SQS req"), ("dynamodb-wru", "DDB WRU"), ("dynamodb-rru", "DDB RRU")]


def _column(quantity, stage, column):
    total = 0.0
    for (s, service, what), value in quantity.items():
        if s != stage:
            continue
        if column == "lambda" and service == "lambda" and what == "Invoke":
            total += value
        elif column == "lambda-gbs" and service == "lambda" and what == "GB-s":
            total += value
        elif column == "dynamodb-wru" and service == "dynamodb" and "WRU" in what:
            total += value
        elif column == "dynamodb-rru" and service == "dynamodb" and what.endswith("RRU"):
            total += value
        elif column in ("apigateway", "s3", "sqs") and service == column:
            total += value
    return total


def _fmt(value):
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 0.01:
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.2e}"


def report(phase, bill, minimal, setup, missing):
    n = phase["payloads"]
    per = {k: v / n for k, v in bill.quantity.items()}
    usd = collections.Counter()
    for (stage, _, _), value in bill.dollars.items():
        usd[stage] += value / n * 1e6
    min_quantity, min_dollars = minimal
    min_usd = collections.Counter()
    for (stage, _, _), value in min_dollars.items():
        min_usd[stage] += value * 1e6
    out = [f"### {size_name(phase['size'])}: {n} payloads, {phase['seconds']:.0f} s "
           f"({n / phase['seconds']:.1f} payloads/s, {phase['concurrency']} uploads in flight)", ""]
    header = "| stage | " + " | ".join(name for _, name in SERVICES) + " | $ per million payloads |"
    out += [header, "|" + "---|" * (len(SERVICES) + 2)]
    for stage in STAGES:
        cells = [_fmt(_column(per, stage, column)) for column, _ in SERVICES]
        out.append(f"| {stage} | " + " | ".join(cells) + f" | {usd[stage]:.2f} |")
    total = sum(usd[s] for s in STAGES)
    totals = [_fmt(sum(_column(per, s, c) for s in STAGES)) for c, _ in SERVICES]
    out.append("| **claimcheck total** | " + " | ".join(totals) + f" | **{total:.2f}** |")
    for stage in STAGES:
        if any(s == stage for s, _, _ in min_quantity):
            cells = [_fmt(_column(min_quantity, stage, column)) for column, _ in SERVICES]
            out.append(f"| minimal: {stage} | " + " | ".join(cells) + f" | {min_usd[stage]:.2f} |")
    min_total = sum(min_usd.values())
    totals = [_fmt(sum(_column(min_quantity, s, c) for s in STAGES)) for c, _ in SERVICES]
    out.append("| **minimal design total** | " + " | ".join(totals) + f" | **{min_total:.2f}** |")
    ratio = total / min_total if min_total else float("nan")
    out += ["", f"claimcheck / minimal design: **{ratio:.2f}x** (goal at 1 MiB: <= 1.4x)"
            + (" — INCOMPLETE, not to be quoted" if missing else "")]
    by_service = collections.Counter()
    for (_, service, _), value in bill.dollars.items():
        by_service[("claimcheck", service)] += value / n * 1e6
    for (_, service, _), value in min_dollars.items():
        by_service[("minimal", service)] += value * 1e6
    services = sorted({service for _, service in by_service})
    out.append("$ per million payloads by service, claimcheck / minimal: " + ", ".join(
        f"{service} {by_service[('claimcheck', service)]:.2f} / {by_service[('minimal', service)]:.2f}"
        for service in services))
    if missing:
        out.append(f"MISSING from these figures: {missing}")
    out += ["", "Requests and units per payload, by stage, service and operation (claimcheck, then the minimal design):", ""]
    out += ["| design | stage | service | what | per payload | $ per million payloads |", "|---|---|---|---|---|---|"]
    order = lambda kv: (STAGES.index(kv[0][0]) if kv[0][0] in STAGES else 99, kv[0][1], kv[0][2])
    for (stage, service, what), value in sorted(per.items(), key=order):
        if stage in STAGES:
            dollars = bill.dollars[(stage, service, what)] / n * 1e6
            out.append(f"| claimcheck | {stage} | {service} | {what} | {_fmt(value)} | {dollars:.3f} |")
    for (stage, service, what), value in sorted(min_quantity.items(), key=order):
        out.append(f"| minimal | {stage} | {service} | {what} | {_fmt(value)} | "
                   f"{min_dollars[(stage, service, what)] * 1e6:.3f} |")
    batches = sorted(bill.batches.elements())
    if batches:
        mean = sum(batches) / len(batches)
        histogram = ", ".join(f"{k}: {v}" for k, v in sorted(bill.batches.items()))
        out.append(f"\nConsumer batches: {len(batches)} invocations, {mean:.2f} records each on average "
                   f"(records: invocations = {histogram}); Terraform's batch size {setup['batch_size']}, "
                   f"window {setup['batching_window_seconds']} s.")
    if bill.receives:
        got = sorted(bill.receives.elements())
        out.append(f"Non-empty receives on the work queue: {len(got)}, {sum(got) / len(got):.2f} messages each "
                   f"(messages: receives = {', '.join(f'{k}: {v}' for k, v in sorted(bill.receives.items()))}).")
    for function, values in sorted(bill.durations.items()):
        values = sorted(values)
        out.append(f"{function}: {len(values)} invocations, billed duration mean {sum(values) / len(values):.1f} ms, "
                   f"median {values[len(values) // 2]} ms, max {values[-1]} ms at {setup['memory_mb'].get(function)} MB")
    if bill.problems:
        out.append("\nProblems: " + "; ".join(f"{k} (x{v})" for k, v in bill.problems.items()))
    return "\n".join(out), total, min_total


def analyze(run):
    with open(PRICES, encoding="utf-8") as f:
        prices = json.load(f)
    setup = run["setup"]
    print(f"Prices: {prices['region']}, {prices['date']}, tests/bench/prices.json (free tiers ignored). "
          f"Lambda {setup['architecture']}, memory MB {setup['memory_mb']}.")
    binary = run.get("claimcheck", {})
    print(f"claimcheck: {binary.get('path')} (built {binary.get('built')}); handler durations are this "
          "machine's, in local mode" + (" — a DEBUG build: durations, and so GB-s, are overstated"
                                        if "/debug/" in (binary.get("path") or "") else "") + ".")
    summary = []
    for phase in run["phases"]:
        lines = read_lines(run["call_log"], phase["start"], phase["end"])
        bill = Bill(prices, setup)
        for line in lines:
            stage = stage_of(line, run["stack"])
            if stage in STAGES:
                bill.line(line, stage)
        principals = {l.get("principal") for l in lines}
        services = {l.get("service") for l in lines}
        if not {"s3", "sqs", "dynamodb"} <= services:
            sys.exit(f"the {size_name(phase['size'])} phase of {run['call_log']} holds no "
                     f"{', '.join(sorted({'s3', 'sqs', 'dynamodb'} - services))} requests: the endpoint "
                     "that served the run logged them elsewhere (start it with CLAIMCHECK_CALL_LOG set "
                     "to the same file as this script's), so the run cannot be priced")
        if not {"fn-producer", "fn-consumer"} <= principals:
            sys.exit("the functions' calls are not signed with their own keys (fn-<function>): this claimcheck "
                     "predates local mode's per-function keys under CLAIMCHECK_CALL_LOG, so its calls cannot be "
                     "told apart by stage; use a build that has them")
        unmeasured = [k for k in bill.problems if "CallLog.measure" in k]
        if unmeasured:
            sys.exit("the endpoint that served this run did not measure its responses, so DynamoDB units and "
                     "SQS receives cannot be priced: tests/local_endpoint.py's main() must wrap its application "
                     "with CallLog.measure when it keeps a call log (" + "; ".join(unmeasured) + ")")
        has_lambda = any(l.get("service") == "lambda" for l in lines)
        has_api = any(l.get("service") == "apigateway" for l in lines)
        missing = []
        if not has_lambda:
            missing.append("Lambda invocations and GB-s (this claimcheck's local mode writes no invocation lines)")
        if not has_api:
            missing.append("API Gateway requests (this claimcheck's local mode writes no API lines)")
        consumer_ms = bill.durations.get("consumer")
        batch = (sum(bill.batches.elements()) / sum(bill.batches.values()) if bill.batches else
                 (sum(bill.receives.elements()) / sum(bill.receives.values()) if bill.receives else 1))
        mean_ms = sum(consumer_ms) / len(consumer_ms) if consumer_ms else 0
        minimal = minimal_design(prices, setup, phase["size"], batch, mean_ms)
        text, total, min_total = report(phase, bill, minimal, setup, "; ".join(missing))
        print("\n" + text)
        summary.append((phase["size"], total, min_total, bool(missing)))
    # The schedule and idle polling, over the whole run.
    lines = read_lines(run["call_log"], run["start"], run["end"])
    bill = Bill(prices, setup)
    for line in lines:
        stage = stage_of(line, run["stack"])
        if stage == "redriver":
            bill.line(line, stage)
        elif stage == "queue" and line.get("operation") == "ReceiveMessage" and line.get("messages") == 0:
            bill.empty_receives += 1
    passes = sum(1 for l in lines if l.get("service") == "lambda" and l.get("resource") == "redriver")
    seconds = run["seconds"]
    print(f"\n### Not per payload (whole run, {seconds:.0f} s)\n")
    redriver_usd = sum(v for (s, _, _), v in bill.dollars.items() if s == "redriver")
    calls = {k: v for k, v in bill.quantity.items() if k[0] == "redriver"}
    if passes:
        print(f"Reconcile schedule: {passes} passes here; per pass: " + ", ".join(
            f"{service} {what} {_fmt(v / passes)}" for (_, service, what), v in sorted(calls.items())) +
              f"; ${redriver_usd / passes * 1e6:.2f} per million passes, "
              f"${redriver_usd / passes * setup['reconcile_per_hour']:.6f} per hour at {setup['reconcile_schedule']} "
              f"(a pass lists every payload open at the time, so it grows with the backlog it finds, not with throughput).")
    elif calls:
        print("Reconcile schedule: calls seen but no invocation lines to count passes by: " + ", ".join(
            f"{service} {what} {_fmt(v)}" for (_, service, what), v in sorted(calls.items())))
    else:
        print("Reconcile schedule: no pass ran during the run.")
    print(f"Empty receives by local mode's pollers: {bill.empty_receives} in {seconds:.0f} s "
          f"({bill.empty_receives / seconds * 3600:.0f} per hour, ${bill.empty_receives / seconds * 3600 * prices['sqs']['standard_per_million'] / 1e6:.6f} per hour here); "
          "Lambda's own pollers differ, and the minimal design pays the same.")
    print("\n| payload | claimcheck $/M | minimal $/M | ratio |\n|---|---|---|---|")
    for size, total, min_total, incomplete in summary:
        print(f"| {size_name(size)} | {total:.2f} | {min_total:.2f} | {total / min_total:.2f}x"
              + (" (INCOMPLETE: see MISSING above)" if incomplete else "") + " |")


# --- Driving local mode -------------------------------------------------------------------------

class Driver:
    """Uploads through the API as a producer does, and watches the ledger and the queue with its
    own key (`bench-driver`), so none of its calls count."""

    def __init__(self, outputs):
        import boto3
        from botocore.credentials import Credentials

        value = lambda name: outputs[name]["value"]
        self.api_url, self.region = value("api_url"), value("region")
        self.table, self.queue_url, self.bucket = value("table"), value("queue_url"), value("bucket")
        # The API's caller: local mode's credentials (its default table accepts them).
        self.caller = Credentials(value("aws_access_key_id"), value("aws_secret_access_key"),
                                  outputs.get("aws_session_token", {}).get("value"))
        session = boto3.session.Session(aws_access_key_id=DRIVER, aws_secret_access_key="x",
                                        region_name=self.region)
        endpoint = value("aws_endpoint_url")
        self.ddb = session.client("dynamodb", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.local = threading.local()

    def http(self):
        import requests

        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def upload(self, body, sha256):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = json.dumps({"content_type": "application/octet-stream", "content_length": len(body),
                              "sha256": sha256})
        signed = AWSRequest(method="POST", url=self.api_url + "/uploads", data=request,
                            headers={"content-type": "application/json"})
        SigV4Auth(self.caller, "execute-api", self.region).add_auth(signed)
        asked = self.http().post(signed.url, data=request.encode(), headers=dict(signed.headers))
        if asked.status_code != 201:
            raise RuntimeError(f"POST /uploads answered {asked.status_code}: {asked.text[:200]}")
        ticket = asked.json()
        if ticket.get("multipart"):
            raise RuntimeError("the API answered with a multipart upload; this benchmark sends single PUTs")
        # The presigned URL is a credential: never printed, not even on failure.
        put = self.http().request(ticket["method"], ticket["url"], data=body, headers=ticket["headers"])
        if put.status_code != 200:
            code = re.search(r"<Code>([^<]+)</Code>", put.text or "")
            raise RuntimeError(f"PUT to the presigned URL answered {put.status_code} {code.group(1) if code else ''}")
        return ticket["id"]

    def statuses(self, ids):
        found = {}
        ids = list(ids)
        for i in range(0, len(ids), 100):
            keys = [{"id": {"S": id_}} for id_ in ids[i:i + 100]]
            while keys:
                answer = self.ddb.batch_get_item(RequestItems={self.table: {
                    "Keys": keys, "ProjectionExpression": "id, #s", "ExpressionAttributeNames": {"#s": "status"}}})
                for item in answer["Responses"].get(self.table, []):
                    found[item["id"]["S"]] = item["status"]["S"]
                keys = answer.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return found

    def queue_empty(self):
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return all(int(v) == 0 for v in attributes.values())

    def delete(self, id_):
        self.s3.delete_object(Bucket=self.bucket, Key=f"uploads/{id_}")


def run_phase(driver, size, count, concurrency, max_open, call_log):
    """One steady phase: `count` payloads of `size`, `concurrency` uploads in flight and at most
    `max_open` payloads uploaded but not yet done (so uploads keep pace with the consumer, as in
    a steady state, and the endpoint's disk holds a bounded backlog)."""
    body = os.urandom(size)
    sha256 = base64.b64encode(hashlib.sha256(body).digest()).decode()
    start = os.path.getsize(call_log)
    started = time.monotonic()
    ids, open_ids, errors = [], set(), []
    lock = threading.Lock()

    def one(_):
        while True:
            with lock:
                if len(open_ids) < max_open:
                    break
            time.sleep(0.05)
        id_ = driver.upload(body, sha256)
        with lock:
            ids.append(id_)
            open_ids.add(id_)
        return id_

    def settle():
        """Marks finished payloads; deletes their objects (the disk; see the docstring)."""
        with lock:
            pending = list(open_ids)
        if not pending:
            return
        for id_, status in driver.statuses(pending).items():
            if status in ("done", "failed", "dead", "quarantined", "expired"):
                if status != "done":
                    errors.append(f"{id_}: {status}")
                with lock:
                    open_ids.discard(id_)
                driver.delete(id_)

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        while not all(f.done() for f in futures):
            time.sleep(0.5)
            settle()
        for f in futures:
            f.result()
    uploaded = time.monotonic()
    deadline = uploaded + max(600, count * size / 20e6)
    while open_ids and time.monotonic() < deadline:
        time.sleep(0.5)
        settle()
    if open_ids:
        sys.exit(f"{len(open_ids)} payloads of {size_name(size)} not done after {deadline - uploaded:.0f} s")
    while not driver.queue_empty():
        time.sleep(0.5)
    # The event source mapping deletes a batch after its invocation returns; the queue is empty
    # once the last delete was answered, and its line is written before the answer goes out.
    time.sleep(1.0)
    end = os.path.getsize(call_log)
    if errors:
        print(f"warning: {len(errors)} payloads did not end done: {errors[:5]}", file=sys.stderr)
    return {"size": size, "payloads": count, "concurrency": concurrency, "start": start, "end": end,
            "seconds": time.monotonic() - started, "not_done": len(errors)}


def positive(name, default):
    """The environment's `name` as a whole number of at least 1 (exits naming it otherwise)."""
    text = os.environ.get(name, str(default))
    if not re.fullmatch(r"\s*\d+\s*", text) or int(text) < 1:
        sys.exit(f"{name}: {text!r} is not a whole number of at least 1")
    return int(text)


def knobs():
    """The run's settings from the environment, checked before anything is started."""
    sizes = [parse_size(s) for s in os.environ.get("CLAIMCHECK_COST_SIZES", "1KiB,1MiB,64MiB").split(",")]
    for size in sizes:
        if size < 1 or size > 64 * 1024 ** 2:
            sys.exit(f"CLAIMCHECK_COST_SIZES: {size} bytes: each size must be from 1 byte to 64 MiB "
                     "(the API's multipart threshold: larger uploads go in parts, which this driver "
                     "does not send)")
    return {"sizes": sizes, "count": positive("CLAIMCHECK_COST_PAYLOADS", 200),
            "concurrency": positive("CLAIMCHECK_COST_CONCURRENCY", 4),
            "reconcile": str(positive("CLAIMCHECK_COST_RECONCILE_SECONDS", 60)),
            "max_open": positive("CLAIMCHECK_COST_MAX_OPEN", 32)}


def drive(claimcheck, call_log, record_path):
    settings = knobs()
    sizes, count, concurrency = settings["sizes"], settings["count"], settings["concurrency"]
    reconcile, max_open = settings["reconcile"], settings["max_open"]
    setup = deployment()
    built = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(os.path.getmtime(claimcheck)))
    run_start = os.path.getsize(call_log)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="claimcheck-cost-") as work:
        outputs_path = os.path.join(work, "outputs.json")
        local_log = open(os.path.join(work, "local.log"), "wb")
        local = subprocess.Popen(
            [claimcheck, "local", "--name", f"cost-{os.getpid()}", "--write-outputs", outputs_path,
             "--reconcile-every", reconcile, "--max-upload-bytes", str(max(sizes))],
            stdout=subprocess.DEVNULL, stderr=local_log)
        try:
            for _ in range(600):
                if os.path.exists(outputs_path) and os.path.getsize(outputs_path) > 0:
                    break
                if local.poll() is not None:
                    local_log.flush()
                    with open(local_log.name, encoding="utf-8", errors="replace") as f:
                        tail = f.read()[-2000:]
                    sys.exit(f"claimcheck local exited ({local.returncode}); the end of its log:\n{tail}")
                time.sleep(0.1)
            else:
                sys.exit("claimcheck local did not start")
            with open(outputs_path, encoding="utf-8") as f:
                outputs = json.load(f)
            driver = Driver(outputs)
            stack = {"local_key": outputs["aws_access_key_id"]["value"],
                     "queue_url": outputs["queue_url"]["value"]}
            # Provisioning is over once the outputs are written; start after its lines.
            time.sleep(1.0)
            run_start = os.path.getsize(call_log)
            if run_start == 0:
                sys.exit(f"the call log {call_log} is empty: the endpoint does not write it "
                         "(start it with CLAIMCHECK_CALL_LOG set to this file)")
            phases = []
            for size in sizes:
                print(f"{size_name(size)}: {count} payloads...", file=sys.stderr, flush=True)
                phases.append(run_phase(driver, size, count, concurrency, max_open, call_log))
        finally:
            local.terminate()
            local.wait()
            local_log.close()
    run = {"call_log": os.path.abspath(call_log), "setup": setup, "stack": stack, "phases": phases,
           "claimcheck": {"path": claimcheck, "built": built},
           "start": run_start, "end": os.path.getsize(call_log), "seconds": time.monotonic() - began}
    with open(record_path, "w", encoding="utf-8") as f:
        json.dump(run, f, indent=1)
    print(f"run recorded in {record_path} (re-price: python tests/bench/cost.py --analyze {record_path})",
          file=sys.stderr)
    return run


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help") or (args[0] == "--analyze" and len(args) != 2) or len(args) > 2:
        sys.exit(__doc__)
    if args[0] == "--analyze":
        try:
            with open(args[1], encoding="utf-8") as f:
                run = json.load(f)
            analyze(run)
        except (OSError, ValueError, KeyError, TypeError) as error:
            sys.exit(f"--analyze {args[1]}: not a run this script recorded, or its call log is gone ({error!r})")
        return
    claimcheck = os.path.abspath(args[0])
    if not (os.path.isfile(claimcheck) and os.access(claimcheck, os.X_OK)):
        sys.exit(f"{args[0]}: not an executable claimcheck binary (build it with cargo build --release -p claimcheck-cli)")
    knobs()
    call_log = os.environ.get("CLAIMCHECK_CALL_LOG")
    if not os.environ.get("AWS_ENDPOINT_URL"):
        # Start the endpoint ourselves, with a call log: the endpoint reads CLAIMCHECK_CALL_LOG
        # once, when it starts. Both are kept in the build directory's endpoint-logs (beside the
        # endpoint's own log), so the run can be re-priced with --analyze afterwards.
        keep = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "endpoint-logs")
        os.makedirs(keep, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        env = dict(os.environ, CLAIMCHECK_CALL_LOG=call_log or os.path.join(keep, f"cost-{stamp}-calls.jsonl"))
        env.setdefault("CLAIMCHECK_COST_RUN", os.path.join(keep, f"cost-{stamp}-run.json"))
        status = subprocess.call([os.path.join(ROOT, "tests", "with-endpoint.sh"), sys.executable,
                                  os.path.abspath(__file__), claimcheck], env=env)
        sys.exit(status)
    if not call_log:
        sys.exit("the local endpoint at AWS_ENDPOINT_URL keeps no call log: start it with CLAIMCHECK_CALL_LOG "
                 "set (CLAIMCHECK_CALL_LOG=FILE tests/with-endpoint.sh ...), or run this script without "
                 "AWS_ENDPOINT_URL and it starts one")
    if not os.path.exists(call_log):
        open(call_log, "a").close()
    record = os.environ.get("CLAIMCHECK_COST_RUN") or os.path.splitext(call_log)[0] + "-run.json"
    run = drive(claimcheck, call_log, record)
    analyze(run)


if __name__ == "__main__":
    main()
