# The two commands a newcomer needs:  make run   and   make test
# Everything else here is what those two are made of.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STACK := bash deploy/local/stack.sh
SERVICES := bash deploy/local/services.sh
STAMP := $(VENV)/.installed

.PHONY: run stop test test-slow test-unit bench install infra topics schemas clean-local

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP) ## a virtual environment with the pinned dependencies

infra: ## Kafka (KRaft) and PostgreSQL on 127.0.0.1, started if not running, topics created
	$(STACK) start
	eval "$$($(STACK) env)" && $(PY) -m libs.runtime.kafka

run: install infra ## the whole system with demo data; prints the URLs to open
	eval "$$($(STACK) env)" && $(SERVICES) start
	eval "$$($(STACK) env)" && $(PY) deploy/local/demo_data.py
	@echo
	@echo "Open:  http://127.0.0.1:8104/aging              aging of all open items"
	@echo "       http://127.0.0.1:8104/docs               aging API (balances, open items, invoices)"
	@echo "       http://127.0.0.1:8104/kpis?currency=USD  DSO, CEI, days late"
	@echo "       http://127.0.0.1:8105/worklist           the collectors' worklist (dunning)"
	@echo "       http://127.0.0.1:8101/docs ... 8106/docs  each service's API: invoicing, payments,"
	@echo "                                                 matching, aging, dunning, credit"
	@echo "       http://127.0.0.1:810[1-6]/metrics         Prometheus metrics of each service"
	@echo "Stop:  make stop"

stop: ## stop the services, Kafka and PostgreSQL
	$(SERVICES) stop
	$(STACK) stop

# Starts what the tests need and stops again what it started (a running `make run` stays up).
test: install ## every test, on real Kafka and PostgreSQL
	@already_up=no; $(STACK) status >/dev/null 2>&1 && already_up=yes; \
	$(STACK) start || exit 1; \
	eval "$$($(STACK) env)"; \
	$(PY) -m pytest; status=$$?; \
	if [ $$already_up = no ]; then $(STACK) stop; fi; \
	exit $$status

# The tests too slow for every run (the 10,000-invoice ledger backfill, minutes long).
test-slow: install ## the slow tests, on real Kafka and PostgreSQL
	@already_up=no; $(STACK) status >/dev/null 2>&1 && already_up=yes; \
	$(STACK) start || exit 1; \
	eval "$$($(STACK) env)"; \
	$(PY) -m pytest -m slow; status=$$?; \
	if [ $$already_up = no ]; then $(STACK) stop; fi; \
	exit $$status

test-unit: install ## the fast tests that need no server
	$(PY) -m pytest -m "not integration" libs services

# Speed and memory figures, each beside a baseline measured in the same run.
bench: install infra ## benchmarks: prints a table per benchmark
	eval "$$($(STACK) env)" && for bench in benchmarks/*_bench.py; do \
	  $(PY) -m benchmarks.$$(basename $$bench .py) || exit 1; done

topics: install
	eval "$$($(STACK) env)" && $(PY) -m libs.runtime.kafka

schemas: install ## regenerate the committed JSON Schemas of the events
	$(PY) -m libs.events.schemas

clean-local: stop ## forget all local data (Kafka log, database)
	$(STACK) reset
