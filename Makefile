# Entry points. The README's two commands are `make site` and `make test`; every other
# target is a step of those two. State lives outside the checkout (~/.cache/kubenode-runtime-chain
# or $KUBENODE_CACHE), except .venv and the .ansible collection link.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR ?= 1
export PY_COLORS ?= 1
# Scenarios live in molecule/ (not extensions/molecule/): say so, and Molecule stops warning.
export MOLECULE_GLOB := molecule/*/molecule.yml
# Scenarios run by `make molecule` (one fresh VM each, one after another).
SCENARIOS ?= containerd crio containerd-upstream switch
HOST_PACKAGES := qemu-system-x86 qemu-utils mmdebstrap debvm socat e2fsprogs openssh-client \
  busybox-static gcc libc6-dev make pkg-config libseccomp-dev containerd runc
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- the two README commands
.PHONY: site
site: host-deps venv artifacts up ## Provision the local test-bed VM with site.yml and print the chain report
	ansible-playbook playbooks/site.yml

.PHONY: test
test: host-deps venv artifacts image lint unit integration molecule ## Everything CI runs: lint, unit and integration tests, Molecule on fresh VMs
	@echo "make test: all green"

# ---------------------------------------------------------------- set-up steps
.PHONY: host-deps
host-deps: ## Install the host packages the test bed needs (QEMU, mmdebstrap, ...), once
	@missing=$$(for p in $(HOST_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "host-deps: installing $$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v go >/dev/null || { echo "host-deps: the Go toolchain (>= 1.24) is needed to build crictl: install it first" >&2; exit 1; }

$(VENV)/.stamp: requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

.ansible/collections/ansible_collections/kubenode/runtime_chain:
	@mkdir -p $(@D)
	ln -sfn ../../../.. $@

.PHONY: venv
venv: $(VENV)/.stamp .ansible/collections/ansible_collections/kubenode/runtime_chain ## Python venv with the pinned requirements, and the collection link

.PHONY: image
image: host-deps ## Build (once) the cached Debian base image for VMs
	$(PYTHON) -m tests.testbed image

.PHONY: artifacts
artifacts: host-deps ## Build (once) crictl and the local OCI images into the artifact cache
	$(PYTHON) -m tests.artifacts build

.PHONY: up
up: image artifacts ## Start the local test-bed VM (inventories/local) unless it runs already
	@$(PYTHON) -m tests.testbed inventory local node >/dev/null 2>&1 || $(PYTHON) -m tests.testbed up local node

.PHONY: down
down: ## Stop and delete the local test-bed VM
	$(PYTHON) -m tests.testbed down local node

.PHONY: ssh
ssh: ## Log in to the local test-bed VM
	$(PYTHON) -m tests.testbed ssh local node

# ---------------------------------------------------------------- test steps
.PHONY: lint
lint: venv ## yamllint --strict and ansible-lint (production profile)
	yamllint --strict .
	ansible-lint

.PHONY: unit
unit: venv ## Unit tests (tables over pure functions; no VM)
	pytest -q tests/unit

.PHONY: integration
integration: venv artifacts image ## Real daemons on this machine, and fresh VMs for bad input and VM cleanup
	@trap '$(PYTHON) -m tests.testbed reap itest- >/dev/null 2>&1 || true' EXIT; \
	pytest -q tests/integration

.PHONY: molecule
molecule: venv artifacts image ## Molecule scenarios on fresh VMs ($(SCENARIOS))
	@trap '$(PYTHON) -m tests.testbed reap molecule- >/dev/null 2>&1 || true' EXIT; \
	failed=""; for s in $(SCENARIOS); do \
	  start=$$(date +%s); molecule test -s $$s || failed="$$failed $$s"; \
	  echo "molecule: scenario $$s took $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "molecule: failed scenarios:$$failed" >&2; exit 1; fi

.PHONY: bench
bench: venv artifacts image ## Benchmark converge vs a hand-written shell floor on fresh VMs; writes results/
	$(BIN)/python -m tests.bench

.PHONY: critest
critest: venv artifacts image ## Run critest against each runtime on fresh VMs; writes results/critest.md
	@trap '$(PYTHON) -m tests.testbed reap critest >/dev/null 2>&1 || true' EXIT; \
	$(BIN)/python -m tests.critest

.PHONY: clean-vms
clean-vms: ## Remove every test-bed VM (also orphans of killed runs)
	$(PYTHON) -m tests.testbed reap
