# Switchboard: the two commands a newcomer needs are `make dev` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
# checkov pins boto3 apart from aws-sam-cli: it has a venv of its own, inside .venv.
CHECKOV_VENV := $(VENV)/checkov
PYTHON  ?= python3
RUNTIME ?= host
# Tools in .venv/bin (moto_server, cargo-lambda, sam, cfn-lint, zig) come first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

# The Lambda functions (every crate in functions/); the benchmark measures them and the floor.
FUNCTION_PACKAGES := $(addprefix -p ,$(notdir $(wildcard functions/*)))
BENCH_PACKAGES := $(FUNCTION_PACKAGES) -p bench-floor

.PHONY: help setup desktop-setup recorder-setup docs-setup dev test bench build clean mutants

help:
	@echo "make dev    set up, build, and run the local cloud with the fleet (Ctrl-C stops it)"
	@echo "make test   set up and run every check (what CI runs)"
	@echo "make bench  release binaries, then cold start / latency / memory figures into bench/"
	@echo "make build  sam build: deployable arm64 artifacts in .aws-sam/ (not part of CI)"
	@echo "make mutants  cargo-mutants over the invariant modules, summary in docs/mutants.md (hours; not in CI)"

# Python tools from the pinned requirements file; re-installed when it changes.
$(VENV)/.installed: tools/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: tools/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/checkov-requirements.txt
	touch $@

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	@if command -v rustup >/dev/null; then rustup component add rustfmt clippy >/dev/null 2>&1 || true; fi

dev: setup desktop/node_modules/.package-lock.json
	cargo build --workspace --all-targets
	target/debug/switchboard-local up --runtime $(RUNTIME)

# One package selection (--workspace --all-targets) everywhere, so the SDK crates compile once.
test: setup desktop-setup recorder-setup docs-setup
	cargo fmt --all --check
	sam validate --lint
	tools/scan-templates
	cargo build --workspace --all-targets
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/python tools/iam_check.py --self-test
	$(VENV)/bin/python tools/test_moto_server.py
	rm -rf target/iam/calls
	SWITCHBOARD_CALL_LOG=$(CURDIR)/target/iam/calls cargo test --workspace --all-targets
	$(VENV)/bin/python tools/iam_check.py --calls target/iam/calls --template template.yaml --report target/iam/report.json --strict-unused
	$(VENV)/bin/python tools/iam_check.py --calls target/iam/calls --template template.yaml --prove-removals
	cd desktop && npm test
	cd recorder && npm test
	$(PYTHON) tools/run-docs.py

# The desktop pages' tests: Debian's chromium (driven by puppeteer-core, which downloads no browser) and
# the npm packages pinned by desktop/package-lock.json. No install scripts: none of them needs one.
desktop-setup: desktop/node_modules/.package-lock.json
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The recording bot's tests: Debian's chromium, Xvfb and ffmpeg (ffprobe), the npm packages pinned
# by recorder/package-lock.json (no install scripts: esbuild's binary is an optional dependency), and
# moto from .venv (the capture test uploads to it).
recorder-setup: recorder/node_modules/.package-lock.json
	@command -v chromium >/dev/null && command -v Xvfb >/dev/null && command -v ffmpeg >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium xvfb ffmpeg)

recorder/node_modules/.package-lock.json: recorder/package-lock.json
	cd recorder && npm ci --ignore-scripts --no-audit --no-fund

# The pages' npm packages (the local cloud serves Streams' bundle from there too); again when the lockfile changes.
desktop/node_modules/.package-lock.json: desktop/package-lock.json
	cd desktop && npm ci --ignore-scripts --no-audit --no-fund

# The docs' shell blocks (tools/run-docs.py, in `make test`) call the local gateway with curl and read
# its address with jq.
docs-setup:
	@command -v curl >/dev/null && command -v jq >/dev/null || (apt-get update && apt-get install -y --no-install-recommends curl jq)

# Mutation testing of the modules that hold the invariants (tools/mutants; FILES=… for a subset).
mutants: setup
	cargo build --workspace --all-targets
	tools/mutants $(FILES)

# Release binaries with the profile sam build uses (reused when up to date), then the figures, taken by
# an optimised harness (its TLS fronts stand in for AWS's endpoints; the fleet serving set-ups stays debug).
bench: setup bench/reference/node_modules/.package-lock.json
	cargo build --release $(BENCH_PACKAGES)
	cargo build --workspace --all-targets
	cargo build --profile harness -p switchboard-local --bin switchboard-local
	rm -rf target/bench-calls
	SWITCHBOARD_CALL_LOG=$(CURDIR)/target/bench-calls target/harness/switchboard-local bench --binaries target/release --out bench --resume

# The Node.js references the bench runs beside ours (bench/reference/): the AWS SDK v3 pinned by its lockfile.
bench/reference/node_modules/.package-lock.json: bench/reference/package-lock.json
	cd bench/reference && npm ci --ignore-scripts --no-audit --no-fund

# Lambda's deployment zips must stay small (cold starts load them): fail above ZIP_BUDGET bytes, or
# ZIP_BUDGET_S3 for the functions that call S3 (on x86_64 the S3 client links crc-fast's CRC tables, 710 KiB
# that barely deflate; arm64 builds link none; tests/bench_budgets.rs says more and holds the same budgets).
ZIP_BUDGET := 4194304
ZIP_BUDGET_S3 := 4980736
S3_CALLING_FUNCTIONS := GetRecordingSummaryFunction ProvisionFlowsFunction PublishDesktopFunction

# One cargo invocation builds every function (the crates compile once, the links run side by side);
# sam build's own cargo-lambda call per function then finds its binary up to date and copies it.
# It needs the Python tools (sam, cargo-lambda, zig), not the checks' (checkov).
build: $(VENV)/.installed
	rustup target add aarch64-unknown-linux-gnu
	cargo lambda build --release --arm64 $(FUNCTION_PACKAGES)
	sam build --beta-features
	@over=0; for f in .aws-sam/build/*Function; do \
	  zip_file=/tmp/switchboard-$$(basename $$f).zip; rm -f $$zip_file; \
	  (cd $$f && zip -q -X -r $$zip_file .) || exit 1; \
	  size=$$(stat -c %s $$zip_file); budget=$(ZIP_BUDGET); \
	  case " $(S3_CALLING_FUNCTIONS) " in *" $$(basename $$f) "*) budget=$(ZIP_BUDGET_S3);; esac; \
	  if [ $$size -gt $$budget ]; then verdict="OVER the $$budget-byte budget"; over=1; else verdict=ok; fi; \
	  printf '%-28s zip %8d bytes  %s\n' "$$(basename $$f)" $$size "$$verdict"; \
	done; \
	if [ $$over -ne 0 ]; then echo "make build: a zip is over its budget" >&2; exit 1; fi

clean:
	cargo clean
	rm -rf .aws-sam .local
