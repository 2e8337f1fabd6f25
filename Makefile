# Two entry points for a fresh machine (see README.md):
#   make demo   set up .venv from the lock and analyse the bundled real sample video
#   make test   set up .venv from the lock (test extras), run the gates and the whole suite
#   make deploy the compose stack (API, Celery workers, PostgreSQL, Redis, Caddy for HTTPS) on Docker
#
# Every install comes from the hashed lock files in requirements/ (plain pip, --require-hashes),
# so a new machine gets exactly the versions the tests, the figures and the instrument
# fingerprint were made with. `make lock` refreshes them on purpose; `make test-latest` tries
# the newest releases the pyproject ranges allow, in a separate venv, without touching the lock.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip --disable-pip-version-check
SAMPLE ?= tests/fixtures/video/sports2d_walker.mp4
SAMPLE_EXERCISE ?= gait
UV_VERSION = 0.13.9
COMPILE = uv pip compile --universal --python-version 3.11 --generate-hashes --quiet

.PHONY: deploy demo test check bench bench-gait schema clean chromium lock test-latest fingerprint-update

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements/build.txt

# One stamp per lock: switching from `make demo` to `make test` installs the test lock on top.
$(VENV)/.installed-%: requirements/%.txt requirements/build.txt pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --require-hashes -r requirements/build.txt
	$(PIP) install --quiet --require-hashes --no-deps -r requirements/$*.txt
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) check
	touch $@

demo: $(VENV)/.installed-runtime
	$(BIN)/motionscript analyze $(SAMPLE) --exercise $(SAMPLE_EXERCISE) --out out/assessment.json

# One command for the scale-out stack (docs/deploy.md). .env is written once, mode 0600, with a
# database password and a storage key generated here; keep a copy of it apart from the backups.
deploy: .env
	docker compose up -d --build
	@echo "Motionscript: https://$$(sed -n 's/^MOTIONSCRIPT_SITE=//p' .env)/  (first key: docker compose exec api motionscript keys create --clinic NAME)"

.env:
	umask 077; { \
	  echo "MOTIONSCRIPT_SITE=$${MOTIONSCRIPT_SITE:-localhost}"; \
	  echo "POSTGRES_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(24))')"; \
	  echo "MOTIONSCRIPT_STORAGE_KEYS=$$($(PYTHON) -c 'import base64, secrets; print(secrets.token_hex(4) + ":" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')"; \
	} > $@.tmp && mv $@.tmp $@
	@echo "wrote .env (MOTIONSCRIPT_SITE, POSTGRES_PASSWORD, MOTIONSCRIPT_STORAGE_KEYS): keep a copy somewhere safe"

# The browser tests (tests/web) drive Debian's Chromium, never a browser Playwright downloads.
chromium:
	command -v chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

# Lint, format and type gates: the same commands .pre-commit-config.yaml runs.
check: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: check chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

# mobgap (Mobilise-D's own algorithms) for `python -m bench gait` only: its own venv and its own hashed
# lock, so that it never enters the runtime or test environment (it pulls pandas, numba, scikit-learn, ...).
.venv-mobgap/.installed: requirements/bench-mobgap.txt
	$(PYTHON) -m venv .venv-mobgap
	.venv-mobgap/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/bench-mobgap.txt
	.venv-mobgap/bin/python -m pip check
	touch $@

bench-gait: $(VENV)/.installed-test .venv-mobgap/.installed
	$(BIN)/python -m bench gait

schema: $(VENV)/.installed-runtime
	$(BIN)/motionscript schema > service/schema/assessment.schema.json
	$(BIN)/motionscript schema --landmarks-dir service/schema/landmarks

# Rewrite tests/fingerprint/*.json from the current code and environment; read the diff before committing.
fingerprint-update: $(VENV)/.installed-test
	$(BIN)/python -m tests.fingerprint --update

# Refresh the lock from pyproject.toml's ranges (newest allowed releases), then review the diff
# and run `make test`: the fingerprint test says whether any measured series moved.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet uv==$(UV_VERSION)
	.venv-lock/bin/$(COMPILE) pyproject.toml --extra test --extra dev -o requirements/test.txt
	.venv-lock/bin/$(COMPILE) pyproject.toml -c requirements/test.txt -o requirements/runtime.txt
	.venv-lock/bin/$(COMPILE) requirements/build.in -c requirements/test.txt -o requirements/build.txt
	.venv-lock/bin/$(COMPILE) requirements/bench-mobgap.in -o requirements/bench-mobgap.txt

# The suite against the newest releases pyproject.toml allows, in its own venv: upgrades are
# tried on purpose here, never picked up by accident by `make test`.
test-latest: chromium
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	.venv-latest/bin/python -m pip install --quiet --upgrade -e '.[test,dev]'
	.venv-latest/bin/python -m pip freeze --exclude-editable
	.venv-latest/bin/ruff check . && .venv-latest/bin/mypy
	.venv-latest/bin/python -m pytest

clean:
	rm -rf $(VENV) .venv-lock .venv-latest .venv-mobgap out .pytest_cache .mypy_cache
