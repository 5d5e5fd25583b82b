# plnfilter: `make demo` to see it work, `make test` to prove it, `make bench` to measure it.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DEMO_DB := .cache/demo.db

.PHONY: install demo test lint format bench bench-scale clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,parquet]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The samples were captured on one day: the digest is made as of the newest of them (--as-of newest),
# so it shows posts whatever the date today.
demo: install
	@mkdir -p .cache && rm -f $(DEMO_DB)*
	$(VENV)/bin/plnfilter check filters/demo.yaml
	$(VENV)/bin/plnfilter run filters/demo.yaml --db $(DEMO_DB)
	$(VENV)/bin/plnfilter query --db $(DEMO_DB) --limit 15 --format table
	$(VENV)/bin/plnfilter top filters/demo.yaml --db $(DEMO_DB) --as-of newest --since 3d --limit 10 --format table

lint: install
	$(VENV)/bin/ruff check plnfilter tests benchmarks
	$(VENV)/bin/ruff format --check plnfilter tests benchmarks

format: install
	$(VENV)/bin/ruff check --fix plnfilter tests benchmarks
	$(VENV)/bin/ruff format plnfilter tests benchmarks

# pytest exits 5 when it collected nothing: that must fail CI, never pass it.
test: lint
	bash tests/bluesky_net/install.sh
	bash tests/browser/install.sh
	$(VENV)/bin/pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: install
	$(PY) benchmarks/run.py

# The cost curve: archives of 10k, 100k and 1M posts (about an hour on 2 CPUs, ~4 GB in $TMPDIR);
# `$(PY) benchmarks/scale.py --sizes 10000,100000` for a quicker one.
bench-scale: install
	$(PY) benchmarks/scale.py

clean:
	rm -rf $(VENV) .cache build *.egg-info
