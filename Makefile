# claimcheck: the commands the README names.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

VENV := .venv
PYTHON := $(VENV)/bin/python
WITH_ENDPOINT := tests/with-endpoint.sh
PACKAGE_VENV := .venv-package
# Every AWS request the tests make, with who signed it: the IAM check compares each
# function's calls with its role (tests/infra/test_iam_matches_code.py).
CALL_LOG := $(CURDIR)/.calls.jsonl
# Every HTTP API response the handler tests checked: api/openapi.yaml must allow each one
# (tests/api/test_contract.py).
API_LOG := $(CURDIR)/.api-responses.jsonl
# Every CloudWatch metric (EMF line) the handlers emitted in the tests: the dashboard and alarms
# may name only metrics seen there (tests/infra/test_terraform.py).
METRICS_LOG := $(CURDIR)/.metrics.jsonl
FUNCTIONS := presign-upload presign-download producer consumer redriver
# cargo-lambda's architecture flag: arm64, Terraform's default architecture (cargo-lambda adds
# the aarch64 standard library with rustup itself); `make package ARCH=x86-64` for
# `architecture = "x86_64"`.
ARCH ?= arm64
# Debian's user-mode emulator and the arm64 C library, to start the arm64 zips on an x86_64
# machine (pinned to Debian 12's qemu 7.2 and glibc 2.36, whose security updates are
# taken; installed by `make test` when missing).
QEMU_PACKAGES := 'qemu-user=1:7.2+dfsg-7+deb12u*' 'libc6-arm64-cross=2.36-*'
TARGET_DIR = $(shell cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
CARGO_LAMBDA = PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH" cargo lambda build --locked --output-format zip $(FUNCTIONS:%=-p %)

.PHONY: test fmt-check clippy library-check unit-and-integration api-contract browser-check package-check qemu-arm64 infra-check package plan deploy bench bench-transfer-manager demo local venv clean

## The project virtualenv: the local AWS endpoint (moto), boto3 and the official Python
## extended client, every version pinned in tests/requirements.txt.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

## cargo-lambda and the zig linker it uses, pinned (tests/package/requirements.txt).
$(PACKAGE_VENV)/.installed: tests/package/requirements.txt
	python3 -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/package/requirements.txt
	touch $@

## Everything: formatting, lints, unit, property, integration and interop tests against a
## local AWS endpoint that is started and stopped here, then the packaged functions started
## the way Lambda starts them.
test: venv fmt-check clippy library-check unit-and-integration api-contract browser-check package-check infra-check

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings
	@# The client alone (no `local` feature) compiles no function crate and no Lambda runtime.
	cargo clippy -p claimcheck-cli --no-default-features --all-targets --locked -- -D warnings
	@if cargo tree -p claimcheck-cli --no-default-features -e normal --locked | grep -q lambda_runtime; then \
	  echo "claimcheck-cli without the local feature depends on lambda_runtime" >&2; exit 1; fi

## The library as published (crate `claimcheck`): every public item documented and every doc
## link resolving (warnings are errors), the crate without optional features clean, and the
## package's file list built. (`cargo package -p claimcheck` without --no-verify also compiles
## the packaged crate alone: about two minutes more, run by hand before a release.)
library-check:
	RUSTDOCFLAGS="-D warnings" cargo doc -p claimcheck --no-deps --all-features --locked
	cargo clippy -p claimcheck --no-default-features --lib --locked -- -D warnings
	cargo package -p claimcheck --locked --no-verify --allow-dirty

unit-and-integration: venv
	rm -f $(CALL_LOG) $(API_LOG) $(METRICS_LOG)
	CLAIMCHECK_CALL_LOG=$(CALL_LOG) CLAIMCHECK_API_RESPONSES=$(API_LOG) CLAIMCHECK_METRICS_LOG=$(METRICS_LOG) $(WITH_ENDPOINT) cargo test --workspace --locked 2>&1 | $(PYTHON) tests/test-summary.py

## The HTTP API against its OpenAPI document (api/openapi.yaml): every response the handler
## tests recorded, then schemathesis fuzzing local mode's real listener (a bounded number of
## examples; the claimcheck binary is the one the tests above built), then the README's
## signing examples (curl, Python, JavaScript) run as written against local mode.
api-contract: venv
	$(PYTHON) tests/api/test_contract.py $(API_LOG)
	$(WITH_ENDPOINT) tests/api/fuzz.sh "$(TARGET_DIR)/debug/claimcheck"
	$(WITH_ENDPOINT) tests/api/readme_examples.sh "$(TARGET_DIR)/debug/claimcheck" AWS_IAM
	$(WITH_ENDPOINT) tests/api/readme_examples.sh "$(TARGET_DIR)/debug/claimcheck" JWT

## The upload page (web/) in headless Chromium (Debian's, driven by the pinned playwright-core)
## against local mode: a 20 MiB multipart upload and small ones downloaded back byte for byte,
## errors shown in their rows, the page served from another origin. Installs chromium and
## playwright-core when missing (tests/browser/install.sh); the screenshot is left in
## $(TARGET_DIR)/browser-test.
browser-check: venv
	tests/browser/install.sh
	node tests/browser/unit.mjs
	$(WITH_ENDPOINT) node tests/browser/upload_page.mjs "$(TARGET_DIR)/debug/claimcheck" "$(TARGET_DIR)/browser-test"

## Each function packaged by cargo-lambda for arm64, as Terraform deploys it (unoptimised
## profile `lambda-check`, for build time), unpacked, started under qemu-aarch64 with Lambda's
## environment against a Runtime API stub and given one real event of its kind: proves each
## main.rs, not only the handlers, on the architecture that runs it.
package-check: venv $(PACKAGE_VENV)/.installed qemu-arm64
	$(CARGO_LAMBDA) --profile lambda-check --arm64 --lambda-dir "$(TARGET_DIR)/lambda-check"
	CLAIMCHECK_CALL_LOG=$(CALL_LOG) $(WITH_ENDPOINT) $(PYTHON) tests/package/run_zips.py check "$(TARGET_DIR)/lambda-check"

## Terraform: fmt, checkov (zero failed checks) and the tests that parse the HCL, including
## each role's actions against the calls recorded above.
infra-check:
	CLAIMCHECK_CALL_LOG=$(CALL_LOG) CLAIMCHECK_METRICS_LOG=$(METRICS_LOG) tests/infra/check.sh

qemu-arm64:
	@if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu/lib ]; then \
	  echo "installing $(QEMU_PACKAGES) (Debian) to start the arm64 zips"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(QEMU_PACKAGES); \
	fi

## The five deployable zips (release: LTO, stripped) for $(ARCH), with where they are and
## their sizes.
package: $(PACKAGE_VENV)/.installed
	$(CARGO_LAMBDA) --release --$(ARCH)
	@echo "$(ARCH) zips in $(TARGET_DIR)/lambda/<function>/bootstrap.zip (Terraform's lambda_zip_dir):"
	@for f in $(FUNCTIONS); do ls -l "$(TARGET_DIR)/lambda/$$f/bootstrap.zip" | awk -v f=$$f '{ printf "  %-17s %6.2f MB\n", f, $$5 / 1e6 }'; done

## Terraform against a real AWS account: needs AWS credentials and the hashicorp/aws provider
## download, neither of which these machines have (see infra/README.md). TFVARS names a
## variables file (`make deploy TFVARS=prod.tfvars`; see infra/README.md for every variable).
TFVARS ?=
TF_ARCH = $(if $(filter x86-64,$(ARCH)),x86_64,arm64)
TF_VARS = -var lambda_zip_dir="$(TARGET_DIR)/lambda" -var architecture=$(TF_ARCH) $(if $(TFVARS),-var-file="$(abspath $(TFVARS))")
plan:
	$(MAKE) package ARCH=$(ARCH)
	terraform -chdir=infra init
	terraform -chdir=infra plan $(TF_VARS)

deploy:
	$(MAKE) package ARCH=$(ARCH)
	terraform -chdir=infra init
	terraform -chdir=infra apply $(TF_VARS)

## The whole pipeline on this machine: local mode against the local endpoint, sample
## uploads followed through the ledger, a poison payload dead-lettered and redriven, a
## download checked against its SHA-256. Builds the claimcheck command first.
demo: venv
	cargo build --locked -p claimcheck-cli
	$(WITH_ENDPOINT) scripts/demo.sh "$$(cargo metadata --format-version 1 --no-deps | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/claimcheck"

## Local mode on its own, to try every command by hand: the local AWS endpoint and
## `claimcheck local` over it, in the foreground until Ctrl-C. Its outputs file carries the API,
## bucket, queues, table, region, and the local endpoint with its credentials, so from another
## shell `claimcheck --outputs local-outputs.json <command>` works for every command.
LOCAL_FLAGS ?=
local: venv
	cargo build --locked -p claimcheck-cli
	$(WITH_ENDPOINT) "$(TARGET_DIR)/debug/claimcheck" local --write-outputs "$(CURDIR)/local-outputs.json" $(LOCAL_FLAGS)

## Benchmarks: printed figures, never assertions.
## Each runs with its own package selected (their feature sets differ), built before the
## endpoint starts. Sections 1, 3 and 9 talk to the endpoint over TLS (CLAIMCHECK_ENDPOINT_TLS=1:
## kept-alive HTTPS with a throwaway CA, tests/with-endpoint.sh), as production talks to AWS.
WITH_TLS_ENDPOINT = CLAIMCHECK_ENDPOINT_TLS=1 $(WITH_ENDPOINT)
bench: venv $(PACKAGE_VENV)/.installed
	cargo build --release --locked --example stream_payload --example client_cpu --example transfer_floor --example presign_rate -p claimcheck
	cargo build --release --locked --example consumer_rss -p consumer
	cargo build --release --locked -p claimcheck-cli
	$(MAKE) package ARCH=x86-64
	@echo "== 1. cold start: exec to first event handled over TLS, beside the same Python function; 5. zip sizes"
	$(WITH_TLS_ENDPOINT) $(PYTHON) tests/package/run_zips.py bench "$(TARGET_DIR)/lambda"
	@echo "== 2. payload store: 1 GiB put and get beside boto3's transfer manager; consumer peak RSS"
	$(WITH_ENDPOINT) cargo run --release --locked --quiet --example stream_payload -p claimcheck
	$(WITH_ENDPOINT) $(PYTHON) tests/bench/transfer_boto3.py
	$(WITH_ENDPOINT) cargo run --release --locked --quiet --example consumer_rss -p consumer
	@echo "== 8. the consumer on one core: a 5 GiB payload (the rate Terraform's consumer sizing assumes)"
	CLAIMCHECK_BENCH_SIZES_MIB=5120 $(WITH_ENDPOINT) taskset -c 0 "$(TARGET_DIR)/release/examples/consumer_rss"
	@echo "== 3. client CPU over TLS: 200 x 1 MiB send+receive+delete, beside Python and the raw TLS floor"
	$(WITH_TLS_ENDPOINT) "$(TARGET_DIR)/release/examples/client_cpu"
	$(WITH_TLS_ENDPOINT) $(PYTHON) tests/bench/client_cpu.py
	$(WITH_TLS_ENDPOINT) "$(TARGET_DIR)/release/examples/transfer_floor"
	@echo "== 4. presigned URLs per second on one core"
	taskset -c 0 cargo run --release --locked --quiet --example presign_rate -p claimcheck
	taskset -c 0 $(PYTHON) tests/bench/presign_rate.py
	@echo "== 9. cost per million payloads: 200 payloads each of 1 KiB, 1 MiB, 64 MiB through local mode, priced from the call log"
	CLAIMCHECK_ENDPOINT_TLS=1 $(PYTHON) tests/bench/cost.py "$(TARGET_DIR)/release/claimcheck"
	@echo "== 6. whole-process crashes: 500 payloads, local mode killed (SIGKILL) and restarted"
	CLAIMCHECK_CRASH_PAYLOADS=500 $(WITH_ENDPOINT) cargo test --locked -p claimcheck-cli --test crash -- --nocapture
	@echo "== 7. any size: a 6 GiB payload through the API (multipart) by the claimcheck command, then the consumer"
	$(WITH_ENDPOINT) $(PYTHON) tests/bench/large_upload.py "$(TARGET_DIR)/release/claimcheck"

## An evaluation outside `make bench`: AWS's Rust transfer manager (aws-sdk-s3-transfer-manager,
## a developer preview, bench/transfer-manager: its own crate and lock, which builds the AWS SDK
## a second time with its features) beside the payload store, 1 GiB each way at the same part
## size, parts in flight and memory budget.
bench-transfer-manager: venv
	cargo build --release --locked --example stream_payload -p claimcheck
	cd bench/transfer-manager && CARGO_TARGET_DIR="$(TARGET_DIR)/transfer-manager" cargo build --release --locked
	CLAIMCHECK_BENCH_PART_MIB=8 CLAIMCHECK_BENCH_PARTS_IN_FLIGHT=4 $(WITH_ENDPOINT) "$(TARGET_DIR)/release/examples/stream_payload"
	CLAIMCHECK_BENCH_PART_MIB=8 CLAIMCHECK_BENCH_PARTS_IN_FLIGHT=4 $(WITH_ENDPOINT) "$(TARGET_DIR)/transfer-manager/release/transfer-manager-eval"

clean:
	cargo clean
	rm -rf $(VENV)
