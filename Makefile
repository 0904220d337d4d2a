# The two public commands: `make run` serves the demo, `make test` runs the suite.
PORT ?= 8000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint format bench bench-load messages fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Compiled message catalogues are built here, not kept in git.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -d translations -l $*

install: $(STAMP) $(CATALOGUES)

# Links in e-mails point at the port we serve on unless PORTAL_BASE_URL says otherwise.
# localhost, not 127.0.0.1: passkeys are bound to a domain name, never to an IP address.
export PORTAL_BASE_URL ?= http://localhost:$(PORT)

run: install
	$(BIN)/portal db upgrade
	$(BIN)/portal demo
	@echo "Serving the demo on http://127.0.0.1:$(PORT)/b/demo/ (e-mails: instance/outbox)"
	@echo "Passkeys need a domain name: open http://localhost:$(PORT)/staff/login to try them"
	@# The worker (e-mail, reminders, purges) runs beside gunicorn; Ctrl-C stops both.
	@# gunicorn.conf.py: one process with threads, so the in-memory rate limits are exact.
	trap 'kill 0' EXIT INT TERM; \
	$(BIN)/portal worker & \
	$(BIN)/gunicorn --config gunicorn.conf.py --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

# The suite runs twice: on the embedded SQLite, then on a PostgreSQL server the
# tests start (and remove) themselves; Redis likewise. PYTEST_ARGS narrows a run.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python bench/view_lengths.py
	PORTAL_TEST_DATABASE=sqlite $(BIN)/pytest --durations=8 $(PYTEST_ARGS)
	PORTAL_TEST_DATABASE=postgresql $(BIN)/pytest --durations=8 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The route fuzz suite's long profile (random, 60 examples per rule in a visitor's own
# area) on both databases; `make test` runs it small and derandomised.
fuzz: install
	PORTAL_FUZZ_PROFILE=long PORTAL_TEST_DATABASE=sqlite $(BIN)/pytest -q tests/test_fuzz_routes.py
	PORTAL_FUZZ_PROFILE=long PORTAL_TEST_DATABASE=postgresql $(BIN)/pytest -q tests/test_fuzz_routes.py

bench: install
	$(BIN)/python bench/availability.py

bench-load: install
	$(BIN)/python bench/load.py

# After changing user-facing strings: collect them and update every catalogue.
messages: install
	$(BIN)/pybabel extract -k _l --no-location --sort-output -F babel.cfg -o translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i translations/messages.pot -d translations
