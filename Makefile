# Entry points for people and CI. Every tool runs from the project's virtualenv (.venv).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APP := TA-openai-audit
# The one version string lives in globalConfig.json (meta.version).
VERSION := $(shell $(PYTHON) -c 'import json; print(json.load(open("globalConfig.json"))["meta"]["version"])')
SPL := dist/$(APP)-$(VERSION).spl
PYENV_ROOT ?= $(HOME)/.pyenv
# Splunk 9.x ships Python 3.9, Splunk 10 ships 3.13: the engine's tests run under both.
PY39 := $(firstword $(wildcard $(PYENV_ROOT)/versions/3.9*/bin/python3.9))
PY313 := $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13))

.PHONY: help venv contentctl-venv contentctl build package inspect test test-engine-versions demo bench clean

help:
	@echo "make demo      the add-on end to end on loopback stand-ins (no Splunk, no OpenAI account)"
	@echo "make package   build the add-on (output/) and dist/$(APP)-$(VERSION).spl"
	@echo "make inspect   AppInspect (precert; cloud, private_victoria, private_classic, future) on the .spl; reports in dist/"
	@echo "make test      everything CI runs"
	@echo "make contentctl   detections/ through Splunk's contentctl 5.6.2 (validate, build, compare)"
	@echo "make bench     benchmarks (figures printed with their goals, nothing asserted)"

$(VENV)/.installed: requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==25.2
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# contentctl 5.6.2 pins versions that clash with the project's (pydantic, requests, setuptools...):
# it gets its own virtualenv, from requirements-contentctl.txt (every package pinned). Offline after this.
CONTENTCTL_VENV := .venv-contentctl
$(CONTENTCTL_VENV)/.installed: requirements-contentctl.txt
	test -x $(CONTENTCTL_VENV)/bin/python || $(PYTHON) -m venv $(CONTENTCTL_VENV)
	$(CONTENTCTL_VENV)/bin/python -m pip install -q --upgrade pip==25.2
	$(CONTENTCTL_VENV)/bin/python -m pip install -q -r requirements-contentctl.txt
	touch $@

contentctl-venv: $(CONTENTCTL_VENV)/.installed

# contentctl validate and build on detections/ (project under build/contentctl), then our
# savedsearches.conf compared with its, setting by setting (docs/detections.md).
contentctl: $(VENV)/.installed $(CONTENTCTL_VENV)/.installed
	$(PY) tools/contentctl_check.py

# ucc-gen 6.6 upgrades pip inside the build to the latest release unless told otherwise, and
# pip 26.3 then fails to find splunktaucclib: hold it at 25.2. charset-normalizer is built from its
# sdist, which is pure Python, so no compiled extension reaches the package.
build: venv
	rm -rf output
	$(VENV)/bin/ucc-gen build --ta-version $(VERSION) --pip-version 25.2 \
		--pip-custom-flag="--no-binary=charset-normalizer"

# The built app is rebuilt when anything it is made from changed.
BUILT := output/$(APP)/default/app.conf
BUILD_INPUTS := globalConfig.json additional_packaging.py CHANGELOG.md $(shell find package -type f -not -name '*.pyc' 2>/dev/null)

$(BUILT): $(BUILD_INPUTS)
	$(MAKE) build

demo: $(VENV)/.installed $(BUILT)
	$(PY) -m tools.demo

# Figures printed with their goals ("met" or "MISSED"), nothing asserted (see docs/benchmarks.md).
bench: $(VENV)/.installed $(BUILT)
	$(PY) benchmarks/bench_collector.py
	$(PY) benchmarks/bench_steady_state.py
	$(PY) benchmarks/bench_api_sim.py
	$(PY) benchmarks/bench_spl.py
	$(PY) benchmarks/bench_first_seen_noise.py

package: build
	mkdir -p dist
	rm -f dist/$(APP)-*.tar.gz dist/$(APP)-*.spl
	$(VENV)/bin/ucc-gen package --path output/$(APP) -o dist
	mv dist/$(APP)-$(VERSION).tar.gz $(SPL)
	@echo "built $(SPL) ($$(du -k $(SPL) | cut -f1) KiB)"

# One AppInspect run per Splunk Cloud tag (cloud, private_victoria, private_classic, future).
inspect: $(SPL)
	$(PY) tools/appinspect_gate.py $(SPL) dist

$(SPL):
	$(MAKE) package

# tests/contentctl runs tools/contentctl_check.py with the contentctl virtualenv made here.
test: package contentctl-venv
	$(PY) -m pytest
	$(MAKE) inspect
	$(MAKE) test-engine-versions

# The engine under the Pythons Splunk ships, with the vendored lib/ of the built add-on.
test-engine-versions:
	@for py in "$(PY39)" "$(PY313)"; do \
		test -n "$$py" || { echo "pyenv Python 3.9/3.13 not found under $(PYENV_ROOT)"; exit 1; }; \
		v=$$($$py -c 'import sys; print("%d%d" % sys.version_info[:2])'); \
		env=$(VENV)-py$$v; \
		test -x $$env/bin/python || $$py -m venv $$env; \
		$$env/bin/python -m pip install -q pytest==8.3.5 pytest-timeout==2.4.0; \
		echo "== engine tests on $$($$env/bin/python --version)"; \
		PYTHONPATH=output/$(APP)/lib $$env/bin/python -m pytest -p no:cacheprovider tests/engine || exit 1; \
	done

clean:
	rm -rf output dist build .pytest_cache
