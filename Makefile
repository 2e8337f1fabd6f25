# Two entry points for a fresh machine (see README.md):
#   make demo   set up .venv and analyse the bundled real sample video
#   make test   set up .venv with the test extras and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SAMPLE ?= tests/fixtures/video/pose2sim_cam01.mp4

.PHONY: demo test bench schema clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/motionscript analyze $(SAMPLE) --out out/assessment.json

# The browser tests (tests/web) drive Debian's Chromium, never a browser Playwright downloads.
chromium:
	command -v chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

test: $(VENV)/.installed chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python -m bench

schema: $(VENV)/.installed
	$(BIN)/motionscript schema > service/schema/assessment.schema.json

clean:
	rm -rf $(VENV) out .pytest_cache
