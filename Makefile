# One entry point for developers and CI. `make test` runs everything CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
# galaxy-importer in a virtualenv of its own: its pins conflict with requirements-dev.txt.
VENV_GALAXY := $(CURDIR)/.venv-galaxy
# The collection seen where Ansible looks for it: build/collections/ansible_collections/webstack/circus.
COLLECTIONS := $(CURDIR)/build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/webstack/circus

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONPATH := $(COLLECTIONS)

# Debian packages the checks call: shellcheck for ansible-test's shellcheck sanity test,
# nginx and openssl for the integration tests that serve the nginx_proxy role's sites
# (each test runs its own nginx in the foreground on a temporary configuration).
HOST_PACKAGES := shellcheck nginx openssl
# Headless Chromium and its driver for molecule/apps's status-page test: the browser runs
# on this host and loads the page from the container (selenium, in requirements-dev.txt,
# drives Debian's chromedriver; no browser is downloaded).
MOLECULE_HOST_PACKAGES := chromium chromium-driver

.PHONY: help venv host-packages molecule-host-packages test checks-and-integration lint sanity unit integration docs galaxy release molecule demo demo-clean clean

help:
	@echo "make test         everything CI runs: lint, sanity, unit, integration, docs, galaxy, molecule"
	@echo "make lint         ruff, yamllint, ansible-lint (production profile), antsibull-changelog lint"
	@echo "make sanity       ansible-test sanity, no ignore files"
	@echo "make unit         unit tests (no daemon)"
	@echo "make integration  modules against a real circusd"
	@echo "make docs         build and install the collection, check ansible-doc and its playbooks"
	@echo "make galaxy       build the collection, import it with galaxy-importer: no warning, no error"
	@echo "make release      the tarball that would be published, once the changelog has its release"
	@echo "make molecule     the roles on Debian 12 and 13 systemd containers (starts Docker)"
	@echo "make demo         deploy the demo app into a local container, print its URL"
	@echo "make demo-clean   remove the demo container"

$(BIN)/.installed: requirements-dev.txt demo/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed $(COLLECTION_LINK)

$(VENV_GALAXY)/bin/.installed: requirements-galaxy.txt
	$(PYTHON) -m venv $(VENV_GALAXY)
	$(VENV_GALAXY)/bin/pip install --quiet -r requirements-galaxy.txt
	touch $@

# Installs those of $(1) that are missing.
define install-host-packages
@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi
endef

host-packages:
	$(call install-host-packages,$(HOST_PACKAGES))

molecule-host-packages:
	$(call install-host-packages,$(MOLECULE_HOST_PACKAGES))

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

# Two lines at once, after the Debian packages both need (two apt-get at once would fight
# over dpkg's lock): the Molecule scenarios (containers; the fleet, the longest, starts
# first), and on this host the checks then the integration tests (host daemons). The
# scenarios mostly wait on pip, systemd and the load they send, so the checks no longer
# hold them back. What failed is summed up last (scripts/failures.sh): the outputs
# interleave, thousands of lines. Each stage's wall time is printed last as a table
# (scripts/stage-times.sh), so that the next change to the suite starts from where its
# time goes.
test:
	mkdir -p build && : >build/stage-times.tsv && date +%s >build/test-started
	scripts/timed.sh host-packages $(MAKE) --no-print-directory host-packages molecule-host-packages
	$(MAKE) --no-print-directory -j2 molecule checks-and-integration \
		|| { scripts/failures.sh; scripts/stage-times.sh; exit 1; }
	scripts/stage-times.sh

# The host's line of `make test`: each stage stops the line when it fails.
checks-and-integration: venv
	scripts/timed.sh lint $(MAKE) --no-print-directory lint
	scripts/timed.sh sanity $(MAKE) --no-print-directory sanity
	scripts/timed.sh unit $(MAKE) --no-print-directory unit
	scripts/timed.sh docs $(MAKE) --no-print-directory docs
	scripts/timed.sh galaxy $(MAKE) --no-print-directory galaxy
	$(MAKE) --no-print-directory integration

lint: venv
	ruff check .
	ruff format --check .
	yamllint --strict .
	ansible-lint
	antsibull-changelog lint

sanity: venv host-packages
	VENV=$(VENV) scripts/sanity.sh

unit: venv
	pytest tests/unit
	cd demo && PYTHONDONTWRITEBYTECODE=1 DJANGO_SECRET_KEY=unit-tests DJANGO_DB_PATH=:memory: \
		python manage.py test

integration: venv host-packages
	mkdir -p build
	scripts/timed.sh integration pytest --durations=15 tests/integration 2>&1 | tee build/integration.log

docs: venv
	scripts/check-docs.sh

galaxy: $(VENV_GALAXY)/bin/.installed
	VENV_GALAXY=$(VENV_GALAXY) scripts/galaxy-import.sh

release: venv
	scripts/release.sh

molecule: venv molecule-host-packages
	scripts/timed.sh docker-engine scripts/docker-engine.sh
	scripts/timed.sh base-images scripts/base-images.sh bookworm trixie
	scripts/molecule-all.sh

demo: venv
	scripts/demo.sh

demo-clean:
	scripts/demo.sh clean

clean:
	rm -rf build .pytest_cache .ruff_cache
