# dnncost: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv and install pinned dependencies (constraints.txt) by themselves.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
DNNCOST := $(VENV)/bin/dnncost
STAMP   := $(VENV)/.installed
STORE   ?= data/dnncost.sqlite
IISWC_DIR ?= ../shared/datasets/iiswc2020

.PHONY: install test clean

install: $(STAMP)

# Reinstall whenever the dependency files are newer than the last install.
$(STAMP): setup.cfg constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[all,test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
