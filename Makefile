# claimcheck: the commands the README names.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

VENV := .venv
PYTHON := $(VENV)/bin/python
WITH_ENDPOINT := tests/with-endpoint.sh

.PHONY: test fmt-check clippy unit-and-integration bench demo venv clean

## The project virtualenv: the local AWS endpoint (moto), boto3 and the official Python
## extended client, every version pinned in tests/requirements.txt.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

## Everything: formatting, lints, unit, property, integration and interop tests against a
## local AWS endpoint that is started and stopped here.
test: venv fmt-check clippy unit-and-integration

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit-and-integration: venv
	$(WITH_ENDPOINT) cargo test --workspace --locked 2>&1 | $(PYTHON) tests/test-summary.py

## The whole pipeline on this machine: local mode against the local endpoint, sample
## uploads followed through the ledger, a poison payload dead-lettered and redriven, a
## download checked against its SHA-256. Builds the claimcheck command first.
demo: venv
	cargo build --locked -p claimcheck-cli
	$(WITH_ENDPOINT) scripts/demo.sh "$$(cargo metadata --format-version 1 --no-deps | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/claimcheck"

## Benchmarks: printed figures, never assertions.
## Each runs with its own package selected (their feature sets differ), built before the
## endpoint starts.
bench: venv
	cargo build --release --locked --example stream_payload -p claimcheck-shared
	$(WITH_ENDPOINT) cargo run --release --locked --quiet --example stream_payload -p claimcheck-shared
	cargo build --release --locked --example consumer_rss -p consumer
	$(WITH_ENDPOINT) cargo run --release --locked --quiet --example consumer_rss -p consumer

clean:
	cargo clean
	rm -rf $(VENV)
