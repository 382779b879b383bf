# Switchboard: the two commands a newcomer needs are `make dev` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PYTHON  ?= python3
RUNTIME ?= host
# Tools in .venv/bin (moto_server, cargo-lambda, sam, cfn-lint, zig) come first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

# The functions the benchmark measures: every crate in functions/ plus the floor.
BENCH_PACKAGES := $(addprefix -p ,$(notdir $(wildcard functions/*))) -p bench-floor

.PHONY: help setup dev test bench build clean

help:
	@echo "make dev    set up, build, and run the local cloud with the fleet (Ctrl-C stops it)"
	@echo "make test   set up and run every check (what CI runs)"
	@echo "make bench  release binaries, then cold start / latency / memory figures into bench/"
	@echo "make build  sam build: deployable arm64 artifacts in .aws-sam/ (not part of CI)"

# Python tools from the pinned requirements file; re-installed when it changes.
$(VENV)/.installed: tools/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

setup: $(VENV)/.installed
	@if command -v rustup >/dev/null; then rustup component add rustfmt clippy >/dev/null 2>&1 || true; fi

dev: setup
	cargo build --workspace --all-targets
	target/debug/switchboard-local up --runtime $(RUNTIME)

# One package selection (--workspace --all-targets) everywhere, so the SDK crates compile once.
test: setup
	cargo fmt --all --check
	sam validate --lint
	cargo build --workspace --all-targets
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace --all-targets

# Release binaries with the profile sam build uses (reused when up to date), then the figures.
bench: setup
	cargo build --release $(BENCH_PACKAGES)
	cargo build --workspace --all-targets
	target/debug/switchboard-local bench --binaries target/release --out bench

build: setup
	rustup target add aarch64-unknown-linux-gnu
	sam build --beta-features
	@for f in .aws-sam/build/*Function; do \
	  (cd $$f && zip -q -X -r /tmp/switchboard-$$(basename $$f).zip . && \
	   printf '%-28s zip %8d bytes\n' "$$(basename $$f)" "$$(stat -c %s /tmp/switchboard-$$(basename $$f).zip)"); \
	done

clean:
	cargo clean
	rm -rf .aws-sam .local
