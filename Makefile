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
SCENARIOS ?= containerd crio
HOST_PACKAGES := qemu-system-x86 qemu-utils mmdebstrap debvm socat e2fsprogs openssh-client \
  gcc libc6-dev make pkg-config libseccomp-dev containerd runc \
  skopeo apache2-utils openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian suites of the test bed's base images (`make image` builds each; CI uses both).
SUITES ?= trixie bookworm
# `MITOGEN=1 make site` (also bench, critest) runs the plays with the test bed's opt-in
# Mitogen strategy; by default they run Ansible's stock linear strategy, as on real nodes.
MITOGEN ?=
MITOGEN_ENV := $(if $(MITOGEN),ANSIBLE_STRATEGY_PLUGINS=$(CURDIR)/tools/testbed/strategy_plugins ANSIBLE_STRATEGY=mitogen_linear)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- the two README commands
.PHONY: site
site: host-deps venv artifacts up ## Provision the local test-bed VM with site.yml and print the chain report
	$(MITOGEN_ENV) ansible-playbook -i inventories/local playbooks/site.yml

# Each stage runs as its own make, and says how long it took (CI keeps the per-stage times).
TEST_STAGES := host-deps venv builds lint unit vm-tests

.PHONY: test
test: ## Everything CI runs: lint, unit and integration tests, Molecule on fresh VMs (per-stage times printed)
	@total=$$(date +%s); for stage in $(TEST_STAGES); do \
	  start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$stage || { echo "make test: stage $$stage FAILED after $$(( $$(date +%s) - start )) s" >&2; exit 1; }; \
	  echo "make test: stage $$stage took $$(( $$(date +%s) - start )) s"; \
	done; echo "make test: all green in $$(( $$(date +%s) - total )) s"

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

# The Go builds (CPU) and the image builds (mostly the package mirror and the disk) side by side.
.PHONY: builds
builds: host-deps venv
	@$(MAKE) --no-print-directory -j2 --output-sync=target artifacts image

.PHONY: image
image: host-deps ## Build (once) the cached Debian base images for VMs ($(SUITES))
	for suite in $(SUITES); do $(PYTHON) -m tools.testbed image --suite $$suite; done

.PHONY: artifacts
artifacts: host-deps venv ## Build (once) the upstream binaries (versions: the roles' defaults) and the local OCI images, with checksum files
	$(BIN)/python -m tools.artifacts build

.PHONY: cluster-artifacts
cluster-artifacts: host-deps venv ## Build (once) what only the cluster scenario needs: kubeadm, the control plane and etcd, and their images
	$(BIN)/python -m tools.artifacts build --cluster

.PHONY: up
up: host-deps artifacts ## Start the local test-bed VM (inventories/local; Debian 13, its image built on first use) unless it runs already
	@$(PYTHON) -m tools.testbed inventory local node >/dev/null 2>&1 || $(PYTHON) -m tools.testbed up local node

.PHONY: down
down: ## Stop and delete the local test-bed VM
	$(PYTHON) -m tools.testbed down local node

.PHONY: ssh
ssh: ## Log in to the local test-bed VM
	$(PYTHON) -m tools.testbed ssh local node

# ---------------------------------------------------------------- test steps
.PHONY: lint
lint: venv ## yamllint --strict, ansible-lint (production profile), ansible-test sanity (Python 3.11; compile and import also on Debian 13's 3.13)
	yamllint --strict .
	ansible-lint
	.ci/ansible-test sanity --python 3.11
	.ci/ansible-test --debian trixie sanity --test compile --test import --python 3.13

.PHONY: unit
unit: venv ## Unit tests of the collection and of the test-bed tools (no VM); ansible-test units on Python 3.11 and Debian 13's 3.13
	pytest -q tests/unit tools/tests
	.ci/ansible-test units --venv --python 3.11
	.ci/ansible-test --debian trixie units --python 3.13 --requirements

.PHONY: integration
# INTEGRATION_TESTS: the test paths (pytest arguments); INTEGRATION_VMS: the VM groups the run
# owns, removed when it ends (two runs side by side each remove only their own).
INTEGRATION_TESTS ?= tests/integration
INTEGRATION_VMS ?= itest-
integration: venv artifacts image ## Real daemons on this machine, and fresh VMs for bad input, the built collection and VM cleanup
	@start=$$(date +%s); trap '$(PYTHON) -m tools.testbed reap $(INTEGRATION_VMS) >/dev/null 2>&1 || true; echo "integration ($(INTEGRATION_TESTS)): took $$(( $$(date +%s) - start )) s"' EXIT; \
	pytest -q --durations=15 $(INTEGRATION_TESTS)

.PHONY: molecule
molecule: venv artifacts image $(if $(filter cluster,$(SCENARIOS)),cluster-artifacts) ## Molecule scenarios on fresh VMs, one after another ($(SCENARIOS); SCENARIOS=cluster: the kubeadm cluster)
	@failed=""; for s in $(SCENARIOS); do \
	  start=$$(date +%s); \
	  ( trap '$(PYTHON) -m tools.testbed reap molecule-'"$$s"' >/dev/null 2>&1 || true' EXIT; molecule test -s $$s ) || failed="$$failed $$s"; \
	  echo "molecule: scenario $$s took $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "molecule: failed scenarios:$$failed" >&2; exit 1; fi

# The VM tests as jobs on two slots: a busy TCG guest costs about one host core, so two jobs
# at a time use both cores of a 2-core machine. make starts the jobs in the order of VM_JOBS
# as slots free up, so the list goes longest first (measured times in the notes of
# results/ci-times.md); each job's output is printed when it ends, -k runs every job.
VM_JOBS ?= molecule-crio itest-bad-input molecule-containerd itest-rest

.PHONY: vm-tests
vm-tests: venv artifacts image ## Integration tests and the Molecule scenarios, as jobs two at a time ($(VM_JOBS))
	@start=$$(date +%s); status=0; \
	$(MAKE) --no-print-directory -k -j2 --output-sync=target $(addprefix vm-job-,$(VM_JOBS)) || status=1; \
	echo "vm-tests: took $$(( $$(date +%s) - start )) s"; exit $$status

.PHONY: test-full
test-full: ## `make test` plus the proofs CI leaves out for its time (tests marked `full`)
	KUBENODE_FULL_TESTS=1 $(MAKE) --no-print-directory test

.PHONY: $(addprefix vm-job-,$(VM_JOBS))
# A static pattern rule: make searches no implicit rule for a phony target.
$(filter vm-job-molecule-%,$(addprefix vm-job-,$(VM_JOBS))): vm-job-molecule-%:
	@$(MAKE) --no-print-directory molecule SCENARIOS="$*"
# The bad-input VM (with the built collection and the stale package lists on the same VM).
vm-job-itest-bad-input:
	@$(MAKE) --no-print-directory integration INTEGRATION_TESTS=tests/integration/test_vm_bad_input.py INTEGRATION_VMS=itest-bad-input
# Everything else: the real daemons on this machine, and the VM lifecycle.
vm-job-itest-rest:
	@$(MAKE) --no-print-directory integration INTEGRATION_TESTS="tests/integration --ignore=tests/integration/test_vm_bad_input.py" \
	  INTEGRATION_VMS=itest-killed

.PHONY: bench
bench: venv artifacts image ## Benchmark converge vs a hand-written shell floor on fresh VMs; writes results/
	$(BIN)/python -m tools.bench

.PHONY: critest
critest: venv artifacts image ## Run critest against each runtime on fresh VMs; writes results/critest.md
	@trap '$(PYTHON) -m tools.testbed reap critest >/dev/null 2>&1 || true' EXIT; \
	$(MITOGEN_ENV) $(BIN)/python -m tools.critest

.PHONY: clean-vms
clean-vms: ## Remove every test-bed VM (also orphans of killed runs)
	$(PYTHON) -m tools.testbed reap
