# Two commands do all set-up on a fresh machine (Python 3.11+, pip, make, git):
#   make demo   - build .venv with the package only and run hermes-top on a
#                 simulated leaky dashboard
#   make test   - build .venv with the test and lint tools and run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The package alone (what `make demo` needs) ...
BASE   := $(VENV)/.base
# ... and the package with the test and dev extras (`make test`, `make lint`, CI).
STAMP  := $(VENV)/.installed

.PHONY: demo test test-real lint check bench soak man completions screenshots \
	snapshots-update clean

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

$(STAMP): $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

demo: $(BASE)
	$(BIN)/hermes-top demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The real hermes-agent 0.13.0 and 0.19.0 from the package index, on loopback
# (venvs cached in ~/.cache/hermes-top/real-hermes; see tests/real/README.md).
test-real: $(STAMP)
	HERMES_TOP_REAL=1 $(BIN)/python -m pytest tests/real tests/test_no_survivors.py

lint: $(STAMP)
	$(BIN)/ruff check hermes_top tests benchmarks scripts
	$(BIN)/ruff format --check hermes_top tests benchmarks scripts
	$(BIN)/mypy hermes_top

check: lint test

# Byte-compile first, as a wheel install would: with PYTHONDONTWRITEBYTECODE set
# every start-up would otherwise recompile the package from source.
# htop is the TUI's baseline: installed when missing where apt-get can (as root).
bench: $(STAMP)
	@command -v htop >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get install -y -qq htop >/dev/null; } \
		|| echo "note: htop is not installed: the TUI row has no baseline"
	$(BIN)/python -m compileall -q hermes_top
	$(BIN)/python benchmarks/run_all.py
	$(BIN)/python benchmarks/bench_guard.py

# The guard under churn on the simulator (10 min; SOAK_ARGS="--minutes 2" for less).
soak: $(BASE)
	$(BIN)/python scripts/soak.py $(SOAK_ARGS)

# The man page and completion scripts, generated from the parser, into build/.
man completions: $(BASE)
	mkdir -p build/man/man1 build/completions
	$(BIN)/hermes-top completion man > build/man/man1/hermes-top.1
	$(BIN)/hermes-top completion bash > build/completions/hermes-top.bash
	$(BIN)/hermes-top completion zsh > build/completions/_hermes-top
	$(BIN)/hermes-top completion fish > build/completions/hermes-top.fish

screenshots: $(STAMP)
	$(BIN)/python scripts/make_screenshots.py

# Rewrites tests/__snapshots__: open snapshot_report.html and look before committing.
snapshots-update: $(STAMP)
	$(BIN)/python -m pytest tests/tui --snapshot-update

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache snapshot_report.html
