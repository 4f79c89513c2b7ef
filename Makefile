# Two commands do all the set-up on a fresh machine:
#   make check   the pull-request gate over this repository (embedded engine)
#   make test    everything the tests need, then the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages the tests need (system services the integration tests start themselves).
APT_PACKAGES := swtpm swtpm-tools libtss2-dev pkg-config runsc
# npm packages the tests need (Azurite, the Blob Storage emulator), from package.json.
NPM_PACKAGES := $(wildcard package.json)

.PHONY: check test run-tests typecheck lint bench deps-python deps-test deps-system deps-node deps-go clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The gate needs the embedded engine (gate extra) and plans this repository's Pulumi stacks
# offline (infra extra).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[gate,infra]'
	touch $@

# The OPA Go engine, in-process, for the engine parity tests only. The package declares
# Python >= 3.14 but its ctypes wrapper and Go library run unchanged on 3.11.
OPA_PARITY_ENGINE := opa-golib-python-bindings==0.4.4

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python $(OPA_PARITY_ENGINE)
	touch $(VENV)/.installed $@

deps-python: $(VENV)/.installed
deps-test: $(VENV)/.installed-test

deps-system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# OPA's own command (the server, `opa test`, `opa check`), Regal (the Rego linter) and
# Gatekeeper's `gator` (the template test runner), each built from its pinned Go module in
# tests/tools/<name> (go.mod + go.sum; a tools.go imports the command's package) into $(BIN).
# Each is rebuilt only when its pins change. Without a Go toolchain the tests that need them
# skip, naming the missing binary.
GO ?= go
GO_BUILD := GOFLAGS="-mod=readonly -buildvcs=false" $(GO) build -trimpath
OPA_TOOL := tests/tools/opa
REGAL_TOOL := tests/tools/regal
GATOR_TOOL := tests/tools/gator
HAVE_GO := $(shell command -v $(GO) 2>/dev/null)

$(BIN)/opa: $(OPA_TOOL)/go.mod $(OPA_TOOL)/go.sum $(OPA_TOOL)/main.go
	cd $(OPA_TOOL) && $(GO_BUILD) -o $(abspath $(BIN))/opa .

$(BIN)/regal: $(REGAL_TOOL)/go.mod $(REGAL_TOOL)/go.sum
	cd $(REGAL_TOOL) && $(GO_BUILD) -o $(abspath $(BIN))/regal github.com/open-policy-agent/regal

$(BIN)/gator: $(GATOR_TOOL)/go.mod $(GATOR_TOOL)/go.sum
	cd $(GATOR_TOOL) && $(GO_BUILD) -o $(abspath $(BIN))/gator github.com/open-policy-agent/gatekeeper/v3/cmd/gator

deps-go:
ifeq ($(HAVE_GO),)
	@echo "no Go toolchain ($(GO)): the OPA, Regal and gator tests will skip"
else
	@mkdir -p $(BIN)
	$(MAKE) $(BIN)/opa $(BIN)/regal $(BIN)/gator
endif

deps-node:
	@if [ -n "$(NPM_PACKAGES)" ] && [ ! -d node_modules ]; then npm ci --no-audit --no-fund --silent; fi

check: deps-python
	$(BIN)/sealgate policy test policies/
	$(BIN)/sealgate check

test: deps-system deps-node
	$(MAKE) deps-test
	$(MAKE) deps-go
	$(MAKE) run-tests

run-tests:
	$(BIN)/ruff check pipeline infra tests benchmarks
	$(BIN)/ruff format --check --quiet pipeline infra tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Strict type checking of the package (configuration in pyproject.toml, [tool.mypy]).
typecheck: deps-test
	$(BIN)/mypy

bench: deps-test
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .mypy_cache .hypothesis
